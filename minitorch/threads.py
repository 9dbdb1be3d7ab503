"""How many threads NumPy's BLAS uses: ``mt.set_num_threads(n)``, ``mt.get_num_threads()``, and the default.

The default policy ("auto"): a model with fewer than ``SMALL_MODEL`` parameters trains with 1 BLAS
thread, a larger one with every thread the BLAS started with. The optimizer kernels
(``minitorch.kernels.optimizers``, which ``SGD.step``/``Adam.step`` run while kernels are on) apply it
at each step with ``apply_policy_for``, so it holds for ``mt.fit`` and for a hand-written loop alike; the
count then stays until the next step or ``set_num_threads``. Why: a small product gains next to
nothing from a second thread on an idle machine, and loses badly when another process keeps a core
busy, because the product waits for the worker thread that the busy core's scheduler is not running
(docs/benchmarks.md measures both).
``set_num_threads(n)`` replaces the policy with n threads everywhere; ``set_num_threads(None)`` restores
it; the environment variable ``MINITORCH_NUM_THREADS`` (read at import) sets n for a process.

The thread pools are reached through threadpoolctl (the library scikit-learn uses for the same job);
without it, ``set_num_threads`` raises ImportError and the policy does nothing.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

SMALL_MODEL = 100_000  # parameters: below this, one BLAS thread (docs/benchmarks.md, "threads")

_state: dict[str, Any] = {"controllers": None, "explicit": None, "current": None, "max": None,
                          "last_key": None, "last_want": None}  # apply_policy_for's kept decision


def _controllers() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded now (found once, then kept)."""
    if _state["controllers"] is None:
        from threadpoolctl import ThreadpoolController

        found = ThreadpoolController().select(user_api="blas").lib_controllers
        _state["controllers"] = found
        _state["max"] = max((c.get_num_threads() or 1 for c in found), default=1)
        _state["current"] = _state["max"]
    return _state["controllers"]


def set_num_threads(n: int | None) -> None:
    """Use n threads in NumPy's BLAS from now on (n >= 1); None goes back to the default policy.

    Example:
        mt.set_num_threads(1)       # small models, or a machine shared with other work
        mt.set_num_threads(None)    # the default: 1 thread below SMALL_MODEL parameters, else all
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"set_num_threads: expected a positive integer or None, got {n!r}")
    _controllers()
    if n is None:
        _state["explicit"] = None
        _set(_state["max"])
    else:
        _state["explicit"] = int(n)
        _set(int(n))


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses now (1 when no BLAS thread pool was found)."""
    found = _controllers()
    return max((c.get_num_threads() or 1 for c in found), default=1)


def policy(n_params: int) -> int:
    """The thread count for training a model of ``n_params`` parameters: the explicit setting if any,
    else 1 below SMALL_MODEL, else every thread the BLAS started with."""
    if _state["explicit"] is not None:
        return _state["explicit"]
    if _state["max"] is None:
        _controllers()
    return 1 if n_params < SMALL_MODEL else _state["max"]


def apply_policy(n_params: int) -> None:
    """Set the BLAS threads to ``policy(n_params)``; one C call, and only when the count changes.
    A no-op without threadpoolctl."""
    if _state["explicit"] is not None:
        return  # set_num_threads already set it
    try:
        want = policy(n_params)
    except ImportError:
        return
    if want != _state["current"]:
        _set(want)


def apply_policy_for(params: list[Any]) -> None:
    """``apply_policy`` for the model made of ``params`` (Parameters or arrays, each with ``.size``
    or ``.data.size``). The decision is kept for the last parameter list seen (by identity), so a
    training loop pays one tuple comparison per step, not a sum over the parameters."""
    if _state["explicit"] is not None:
        return
    key = tuple(map(id, params))
    if key != _state["last_key"]:
        try:
            want = policy(sum(getattr(p, "data", p).size for p in params))
        except ImportError:
            return
        _state["last_key"], _state["last_want"] = key, want
    if _state["last_want"] != _state["current"]:
        _set(_state["last_want"])


def _set(n: int) -> None:
    for controller in _controllers():
        controller.set_num_threads(n)
    _state["current"] = n


def _from_environment() -> None:
    value = os.environ.get("MINITORCH_NUM_THREADS", "").strip()
    if value:
        try:
            set_num_threads(int(value))
        except ValueError as error:
            raise ValueError(f"MINITORCH_NUM_THREADS: expected a positive integer, got {value!r}") from error
        except ImportError:
            pass


_from_environment()
