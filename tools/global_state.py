"""MiniTorch's global settings, set to the defaults for one test or one doc page and put back after.

Shared by the autouse fixture of tests/conftest.py (each test) and tools/docblocks.py (each page of
README.md and docs/), so that neither a test nor a page leaks a setting into the next one
(tests/test_global_state.py and tests/test_docs_blocks.py prove it on purpose-made leaks).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

import minitorch as mt
from minitorch import grad_mode, threads


@contextmanager
def fresh_defaults() -> Iterator[None]:
    """float32, seed 0 and the run's kernels switch (MINITORCH_KERNELS=0 runs the plain path
    throughout); afterwards the default dtype, the kernels switch, the explicit thread count, the
    gradient mode and torch's default dtype are put back, whatever the block set or left entered
    (also when it raised)."""
    kernels, grad = mt.kernels.kernels_enabled(), mt.is_grad_enabled()
    explicit_threads = threads._state["explicit"]
    torch = sys.modules.get("torch")
    torch_dtype = torch.get_default_dtype() if torch is not None else None
    mt.set_default_dtype(np.float32)
    mt.manual_seed(0)
    try:
        yield
    finally:
        mt.set_default_dtype(np.float32)
        mt.kernels.use_kernels(kernels)
        grad_mode._state.enabled = grad  # a `with no_grad()` left open must not turn off the next caches
        if threads._state["explicit"] != explicit_threads:
            mt.set_num_threads(explicit_threads)
        torch = sys.modules.get("torch")  # also when the block imported it first
        if torch is not None:
            torch.set_default_dtype(torch_dtype if torch_dtype is not None else torch.float32)
