"""How many threads NumPy's BLAS uses: ``mt.set_num_threads(n)``, ``mt.get_num_threads()``, and the default.

The kernels' own pool (``minitorch.kernels.parallel``: Conv2d's kernels run chunks of a large batch
on it) follows the same count: it uses as many threads as the BLAS has when it starts, so the one
setting and the policy below cover both, and 1 thread means no pool.

The default policy ("auto"): a model with fewer than ``SMALL_MODEL`` parameters trains with 1 BLAS
thread. A larger one is timed: its first steps run with 1 thread, the next ones with every thread the
BLAS started with, and the count whose ``PROBE_STEPS`` steps took less wall-clock time in all is kept
(more threads only when at least 10 % faster, ``MARGIN``; their timing stops as soon as they have
lost) until the next probe, ``REPROBE_S`` seconds later (the wait doubles, up to ``REPROBE_MAX_S``,
while the choice stays the same). The optimizer kernels
(``minitorch.kernels.optimizers``, which ``SGD.step``/``Adam.step`` run while kernels are on) apply it
at each step with ``apply_policy_for``, so it holds for ``mt.fit`` and for a hand-written loop alike;
the count then stays until the next step or ``set_num_threads``. Why: a small product gains next to
nothing from a second thread on an idle machine, and loses badly when another process keeps a core
busy, because the product waits for the worker thread that the busy core's scheduler is not running
(docs/benchmarks.md measures both). A large model gains from the second thread on an idle machine
and loses many times over on a busy one: only a measurement tells the two apart.
``set_num_threads(n)`` replaces the policy with n threads everywhere; ``set_num_threads(None)`` restores
it; the environment variable ``MINITORCH_NUM_THREADS`` (read at import) sets n for a process.

The thread pools are reached through threadpoolctl (the library scikit-learn uses for the same job);
without it, ``set_num_threads`` raises ImportError and the policy does nothing. A BLAS loaded later
(SciPy imported after training began, with its own OpenBLAS) comes under the setting in force: the
libraries are listed again when ``sys.modules`` has grown and the count of loaded shared libraries
(``dl_iterate_phdr``, where the C library has it) has changed, a check of one ``len`` per step;
``set_num_threads`` lists them again always. A library loaded without any
import (``ctypes.CDLL`` alone) is found at the next such listing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

SMALL_MODEL = 100_000  # parameters: below this, one BLAS thread (docs/benchmarks.md, "threads")
PROBE_STEPS = 5  # steps timed at each thread count in a probe (after one untimed step per switch)
REPROBE_S, REPROBE_MAX_S = 2.0, 60.0  # seconds from one probe to the next: first wait, longest wait
# more threads are kept only if their steps took under MARGIN x one thread's time: a wrong choice of
# more threads on a busy machine costs many times a step, a wrong choice of one thread less than 2x
MARGIN = 0.9
_clock = time.perf_counter  # wall clock: what contention for the cores costs is waiting, not CPU time

# apply_policy_for's kept decision: the last parameter list's ids, its count, its probe (None below
# SMALL_MODEL), the references that forget it when one of its parameters goes (``_watch``)
# "modules", "libraries": len(sys.modules) and the count of loaded shared libraries at the last listing
_state: dict[str, Any] = {"controllers": None, "explicit": None, "current": None, "max": None,
                          "last_key": None, "last_want": None, "last_probe": None, "last_refs": None,
                          "modules": -1, "libraries": -1}


def _controllers() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded now: listed at first use, and again
    when an import may have loaded another (``_maybe_new_libraries``)."""
    if _state["controllers"] is None or (len(sys.modules) != _state["modules"] and _maybe_new_libraries()):
        _scan()
    return _state["controllers"]


def _scan() -> None:
    """List the BLAS libraries, also one that no import announced (about a millisecond). A library
    not listed before gets the count in force (the explicit setting or the policy's current count);
    its own starting count joins ``max``."""
    from threadpoolctl import ThreadpoolController

    known = _state["controllers"]
    _state["modules"], _state["libraries"] = len(sys.modules), _library_count()
    found = ThreadpoolController().select(user_api="blas").lib_controllers
    _state["controllers"] = found
    if known is None:
        _state["max"] = max((c.get_num_threads() or 1 for c in found), default=1)
        _state["current"] = _state["max"]
        return
    paths = {c.filepath for c in known}
    for controller in found:
        if controller.filepath not in paths:
            _state["max"] = max(_state["max"], controller.get_num_threads() or 1)
            controller.set_num_threads(_state["current"])


def _maybe_new_libraries() -> bool:
    """After sys.modules changed: whether a shared library may have been loaded since the last listing
    (the count of loaded libraries changed, or it cannot be counted here)."""
    _state["modules"] = len(sys.modules)
    count = _library_count()
    return count is None or count != _state["libraries"]


@functools.cache
def _dl_iterate_phdr() -> Any:
    try:
        return ctypes.CDLL(None).dl_iterate_phdr
    except (OSError, AttributeError, TypeError):  # (Windows: no CDLL(None); macOS: no such function)
        return None


_PHDR_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


def _library_count() -> int | None:
    """How many shared objects the process has loaded (glibc/musl/BSD ``dl_iterate_phdr``: one
    callback per object, microseconds), or None where the C library has no such function."""
    iterate = _dl_iterate_phdr()
    if iterate is None:
        return None
    seen = [0]

    def count(info: int, size: int, data: int) -> int:
        seen[0] += 1
        return 0

    iterate(_PHDR_CALLBACK(count), None)
    return seen[0]


def set_num_threads(n: int | None) -> None:
    """Use n threads in NumPy's BLAS and the kernels' pool from now on (n >= 1); None goes back to
    the default policy.

    Example:
        mt.set_num_threads(1)       # small models, or a machine shared with other work
        mt.set_num_threads(None)    # the default: 1 thread below SMALL_MODEL parameters, else all
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"set_num_threads: expected a positive integer or None, got {n!r}")
    _scan()
    if n is None:
        _state["explicit"] = None
        _set(_state["max"])
    else:
        _state["explicit"] = int(n)
        _set(int(n))


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS, and so the kernels' pool, uses now (1 when no BLAS thread
    pool was found)."""
    found = _controllers()  # (the kernels read it per task: a new listing only after an import)
    return max((c.get_num_threads() or 1 for c in found), default=1)


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run a block with n BLAS threads, then give every BLAS library back the count it had, also when
    the block raises. The kernels' pool (``minitorch.kernels.parallel``) runs its chunks this way, one
    BLAS thread each. Nothing happens without threadpoolctl."""
    try:
        found = _controllers()
    except ImportError:
        found = []
    before = [c.get_num_threads() for c in found]
    if all(count == n for count in before):  # also when no BLAS pool was found
        yield
        return
    current = _state["current"]
    _set(n)
    try:
        yield
    finally:
        for controller, count in zip(found, before, strict=True):
            controller.set_num_threads(count)
        _state["current"] = current


def policy(n_params: int) -> int:
    """The thread count for training a model of ``n_params`` parameters: the explicit setting if any,
    else 1 below SMALL_MODEL, else every thread the BLAS started with (the count ``apply_policy_for``
    then times against 1 thread)."""
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


def one_thread_in_force() -> bool:
    """Whether no count was set explicitly and the BLAS runs 1 thread now: the policy's choice for
    a model under SMALL_MODEL parameters, so ``apply_policy_for`` of such a model sets nothing
    (the SGD kernel's flat update, always a small model, then skips it). False after an import, so
    that ``apply_policy_for`` runs and gives a BLAS the import loaded the 1 thread too."""
    return _state["explicit"] is None and _state["current"] == 1 and len(sys.modules) == _state["modules"]


def apply_policy_for(params: list[Any]) -> None:
    """``apply_policy`` for the model made of ``params`` (Parameters or arrays, each with ``.size``
    or ``.data.size``), called once per training step. Below SMALL_MODEL parameters: 1 thread. From
    SMALL_MODEL up, the ``_Probe`` of this parameter list picks the count from the measured step
    times. Decisions are kept per parameter list (by the parameters' ids; 8 lists at most), so a
    training loop pays one tuple comparison and one clock read per step, not a sum over the
    parameters; and one ``len(sys.modules)``: a BLAS an import loaded since the last step gets the
    count in force. A kept decision is forgotten as soon as one of its parameters is collected
    (``_watch``), so a new model whose parameters get the dead ones' ids starts afresh."""
    if len(sys.modules) != _state["modules"] and _state["controllers"] is not None:
        _controllers()
    if _state["explicit"] is not None:
        return
    key = tuple(map(id, params))
    if key != _state["last_key"]:
        try:
            want = policy(sum(getattr(p, "data", p).size for p in params))
        except ImportError:
            return
        probe, refs = _probes.pop(key, None) or (None, None)
        if refs is None:
            refs = _watch(key, params)
        if want == 1:
            probe = None
        else:
            probe = probe or _Probe(want)
            _probes[key] = (probe, refs)
            while len(_probes) > 8:
                del _probes[next(iter(_probes))]
        _state.update(last_key=key, last_want=want, last_probe=probe, last_refs=refs)
    probe = _state["last_probe"]
    want = _state["last_want"] if probe is None else probe.tick(_clock())
    if want != _state["current"]:
        _set(want)


def _watch(key: tuple[int, ...], params: list[Any]) -> list[Any]:
    """References to ``params`` that forget the decision and probe kept for ``key`` (their ids) when
    one of them is collected. CPython calls a weak reference's callback before the object's memory is
    freed, so before a new object can get its id: a new model never inherits a dead one's probe or
    count. An object that takes no weak reference is held instead (its id stays its own while the
    decision is kept). The references live as long as the kept decision (``_state``, ``_probes``)."""
    probes, state = _probes, _state  # (the tables themselves: at shutdown the module's globals may be None)

    def forget(ref: Any) -> None:  # (a dict's pop and a comparison: safe whenever GC runs it)
        probes.pop(key, None)
        if state["last_key"] == key:
            state["last_key"] = None

    refs: list[Any] = []
    for p in params:
        try:
            refs.append(weakref.ref(p, forget))
        except TypeError:
            refs.append(p)
    return refs


class _Probe:
    """The thread count for one large model, chosen by timing its steps at 1 thread and at ``most``.

    ``tick(now)`` is called at the start of each step's update, so the time since the previous tick is
    one whole step, run at the count the previous tick returned. The step right after a switch is not
    counted (the worker threads wake up in it). One thread is timed first: the probe stops timing ``most``
    threads as soon as their timed steps have taken longer than the one-thread steps allow, since on a
    busy machine one such step can cost what dozens of one-thread steps do.
    """

    def __init__(self, most: int) -> None:
        self.candidates = (1, most)
        self.chosen = most
        self.times: dict[int, list[float]] = {}
        self.probing = 0  # index into candidates while a probe runs; -1 between probes
        self.last: float | None = None
        self.next_probe = 0.0
        self.wait = REPROBE_S

    def tick(self, now: float) -> int:
        last, self.last = self.last, now
        if self.probing < 0:
            if now < self.next_probe:
                return self.chosen
            self.probing, self.times = 0, {}
            return self.candidates[0]
        count = self.candidates[self.probing]
        if last is not None:
            self.times.setdefault(count, []).append(now - last)
        spent = self.times.get(count, [])
        one = sum(self.times.get(1, [0.0])[1:])  # the first one is the untimed step
        lost = self.probing == 1 and sum(spent[1:]) >= one / MARGIN
        if len(spent) <= PROBE_STEPS and not lost:
            return count
        self.probing += 1
        if self.probing < len(self.candidates):
            return self.candidates[self.probing]
        most = self.candidates[1]
        best = most if not lost and sum(spent[1:]) < MARGIN * one else 1
        self.wait = min(2 * self.wait, REPROBE_MAX_S) if best == self.chosen else REPROBE_S
        self.chosen, self.probing, self.next_probe = best, -1, now + self.wait
        return best


# per parameter list (the parameters' ids): its probe and ``_watch``'s references, the most recently used last
_probes: dict[tuple[int, ...], tuple[_Probe, list[Any]]] = {}


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
