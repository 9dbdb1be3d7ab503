"""The fast room: accelerated versions of plain formulas, and the one switch that selects them.

The plain code of a layer, loss or optimizer is the reference: it reads as its docstring's math. A
kernel here computes the same thing faster (fewer passes over memory, fewer allocations) and has
the SAME signature as the plain function it replaces; its docstring names that function, the
formula, and what it saves. A test asserts fast == plain for every kernel.

    minitorch/kernels/layers.py      layer kernels
    minitorch/kernels/gemm.py        x @ W for a short x, cut along K: each core on its own rows of W
    minitorch/kernels/losses.py      loss kernels
    minitorch/kernels/optimizers.py  optimizer kernels (functional optimizer forms)
    minitorch/kernels/openblas.py    the OpenBLAS NumPy uses: its routines by name, its release
    minitorch/kernels/containers.py  a small Linear/ReLU Sequential run in one loop
    minitorch/kernels/step.py        mt.fit's whole step for such a chain, cross-entropy and plain SGD
    minitorch/kernels/step_large.py  mt.fit's forward, loss and backward_params for a large such chain
    minitorch/kernels/step_update.py  plain SGD's step (SGD.step tries it first) without its helpers
    minitorch/kernels/gemm_update.py  W -= lr * (x.T @ dy) as one BLAS gemm (a deferred weight gradient)
    minitorch/kernels/parallel.py    the pool that runs chunks of a large batch on every core
    minitorch/kernels/sequences.py   the LSTM's time loops and input projection
    minitorch/kernels/embedding.py   Embedding's lookup and scatter-add (grouping.py: ids grouped by rank)
    minitorch/kernels/zeros.py       fresh zero arrays made ahead on another core (Embedding's gradient)
    minitorch/kernels/allocator.py   glibc's malloc told to keep freed memory (no page faults every step)
    minitorch/kernels/twin.py        a forked twin process: half of a time loop on the second core
    minitorch/kernels/twin_session.py  the twin spinning on a shared control block for a stream of jobs
    minitorch/kernels/inference.py   one row through a large Linear/ReLU chain, half of it in the twin
    minitorch/kernels/inference_plan.py  its plans: a chain's shared arrays, checked at every call
    minitorch/kernels/inference_alone.py  one row through any Linear/ReLU chain in one loop (no twin)
    minitorch/kernels/relu.py        a ReLU's maximum, vectorized on large inputs (rows of a zero row)
    minitorch/kernels/inference_twin.py  the twin's side of it (its session's jobs)
    minitorch/kernels/embedding_ahead.py  Embedding training: ids grouped, gradients zeroed in the twin
    minitorch/kernels/embedding_twin.py  the twin's side of it

The plain code picks a kernel at one marked line, ``if kernels_enabled(): return fast(...)``, or
through a dispatcher (as torch.optim picks ``_multi_tensor_sgd`` over ``_single_tensor_sgd``).
Kernels are on by default; ``use_kernels(False)`` (or MINITORCH_KERNELS=0 in the environment at
import) runs the plain formulas everywhere.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

_enabled = os.environ.get("MINITORCH_KERNELS", "1").strip() not in ("0", "false", "False", "no", "off")


def use_kernels(enabled: bool = True) -> None:
    """Select the kernels (True, the default) or the plain formulas (False) from now on."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"use_kernels: enabled must be True or False, got {enabled!r}")
    _enabled = enabled


def kernels_enabled() -> bool:
    """Whether the plain code hands its work to a kernel where one exists."""
    return _enabled


def fast_or_plain(family: str, plain: Callable[..., Any]) -> Callable[..., Any]:
    """The dispatcher: kernel ``minitorch.kernels.<family>.<plain's name>`` if kernels are on and it
    exists, else ``plain`` itself (torch.optim's choice between ``_single_tensor_*`` and the rest).

    A missing kernel file is not an error: the plain function runs.
    """
    if not _enabled:
        return plain
    if family not in _families:
        name = f"minitorch.kernels.{family}"
        try:
            _families[family] = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            _families[family] = None
    return getattr(_families[family], plain.__name__, plain)


_families: dict[str, ModuleType | None] = {}  # family -> its kernel module, None if there is none

if _enabled:  # (kernels off at import: the process's allocator is left as it was)
    from minitorch.kernels.allocator import keep_freed_memory

    keep_freed_memory()
