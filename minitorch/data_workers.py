"""DataLoader's options about worker processes and pinned memory, read with torch.utils.data's rules.

MiniTorch loads every batch in the main process (``num_workers=0``) and has no accelerator, so
torch's options keep the meaning they have there in torch 2.13 on a CPU-only machine:
  - ``num_workers``: 0 (a negative one: torch's ValueError; more: refused, there are no workers);
  - ``timeout``: 0 (negative: torch's ValueError; more: refused here at construction, where torch's
    single-process loader fails when iterated, "requires timeout == 0");
  - ``prefetch_factor``: None, ``persistent_workers``: False, ``multiprocessing_context``: None
    (anything else: torch's ValueError, which needs num_workers > 0);
  - ``worker_init_fn`` (a function of the worker id, or None): kept, never called, as torch without
    workers; ``in_order`` (a bool): kept, without workers batches always come in order;
  - ``pin_memory`` (a bool) and ``pin_memory_device`` (a str): kept; with ``pin_memory=True`` each
    iteration warns as torch's does without an accelerator (nothing is pinned: the batches are
    NumPy arrays), and a ``pin_memory_device`` with it gets torch's deprecation warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch.checks import check_bool


def check_num_workers(value: Any) -> int:
    """0, the one number of worker processes here (torch's message for a negative one)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DataLoader: num_workers must be an int, got {value!r}")
    if value < 0:
        raise ValueError("DataLoader: num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if value > 0:
        raise ValueError(
            f"DataLoader: num_workers={value} is not supported: MiniTorch loads every batch in the main "
            "process (its data are in-memory NumPy arrays); pass num_workers=0 or leave it out"
        )
    return 0


def check_worker_options(timeout: Any, prefetch_factor: Any, persistent_workers: Any,
                         multiprocessing_context: Any, worker_init_fn: Any, in_order: Any) -> dict[str, Any]:
    """The worker options of a loader without workers, checked in torch's order with its messages;
    returns them as the loader keeps them."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)):
        raise TypeError(f"DataLoader: timeout must be a number of seconds, got {timeout!r}")
    if timeout < 0:
        raise ValueError("DataLoader: timeout option should be non-negative")
    if timeout > 0:
        raise ValueError(
            f"DataLoader: timeout={timeout} waits for worker processes, and MiniTorch has none "
            "(num_workers=0; torch's single-process loader fails on it too: 'requires timeout == 0'); "
            "leave timeout at 0"
        )
    if prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing. "
                         "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to "
                         "None.")
    if check_bool(persistent_workers, "DataLoader", "persistent_workers"):
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    if multiprocessing_context is not None:
        raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                         "(num_workers > 0), but got num_workers=0")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError(f"DataLoader: worker_init_fn must be a function of the worker id (or None), got "
                        f"{worker_init_fn!r}")
    return {"timeout": timeout, "prefetch_factor": None, "persistent_workers": False,
            "multiprocessing_context": None, "worker_init_fn": worker_init_fn,
            "in_order": check_bool(in_order, "DataLoader", "in_order")}


def check_pin_memory(pin_memory: Any, pin_memory_device: Any) -> tuple[bool, str]:
    """(pin_memory, pin_memory_device) as a loader keeps them: a bool and a str."""
    pin_memory = check_bool(pin_memory, "DataLoader", "pin_memory")
    if not isinstance(pin_memory_device, str):
        raise TypeError(f"DataLoader: pin_memory_device must be a str, got {pin_memory_device!r}")
    return pin_memory, pin_memory_device


def warn_pin_memory(pin_memory: bool, pin_memory_device: str, stacklevel: int = 3) -> None:
    """torch's warnings when an iteration starts with pin_memory=True and no accelerator."""
    if not pin_memory:
        return
    if pin_memory_device:
        warnings.warn("pin_memory_device is deprecated, the current accelerator will be used as the device,"
                      f"ignore pin_memory_device='{pin_memory_device}'.", UserWarning, stacklevel=stacklevel)
    warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                  "memory won't be used.", UserWarning, stacklevel=stacklevel)


WorkerInitFn = Callable[[int], None]
