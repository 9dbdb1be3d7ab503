"""The kernels' small array pool: large temporaries and caches reused from call to call.

A layer's per-call cache is freed when its backward consumes it, and the C allocator may hand such
large blocks back to the system, so the next call's arrays would be faulted in page by page again
(thousands of page faults per step of an LSTM or a transformer layer). ``empty`` hands out an array
of a previous call instead, but only once nothing else references it.

"Nothing else references it" is read from the array's reference count, an interpreter detail:
CPython 3.14 skips the increment for a local passed as an argument (its counts read one lower than
3.10-3.13's), free-threaded builds defer increments. The count an array held by the pool alone
reads is measured once, on probe arrays through the same code (``_sole_count``); where no count
tells such an array from one held elsewhere, nothing is reused (every call makes its arrays).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

import numpy as np

_POOL: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}  # most recently used shape last
_POOL_SHAPES, _POOL_PER_SHAPE = 16, 6
_POOL_LOCK = threading.Lock()  # one caller at a time in ``reuse_or_make``, whichever pool it serves
_getrefcount = sys.getrefcount
_sole: list[int] = []  # the count ``_free`` reads for an array held by its list alone (0: reuse nothing)


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.empty(shape, dtype), reusing an array of a previous call that nothing references any more.

    Saves page faults (see the module docstring). A pooled array is reused only when the pool holds
    the sole reference (no cache, output or view of it is alive); at most 6 arrays per shape and 16
    shapes are kept, the least recently asked-for shape dropped first.
    """
    key = (tuple(shape), np.dtype(dtype))
    return reuse_or_make(_POOL, key, lambda: np.empty(key[0], key[1]))


Key = tuple[tuple[int, ...], np.dtype]


def reuse_or_make(pool: dict[Key, list[np.ndarray]], key: Key, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The pool's rule, for any pool of arrays by (shape, dtype): an array of ``pool[key]`` that
    nothing but the pool references, else ``make()`` (kept if the key holds fewer than 6); at most
    16 keys, the least recently asked-for dropped first. Locked: callers in several threads (the
    twin's shared arrays are made from any thread) never share an array or break the pool's order.
    ``make()`` runs outside the lock (a shared buffer's system calls hold up no other caller)."""
    with _POOL_LOCK:
        if not _sole:
            _sole.append(_sole_count())
        arrays = pool.pop(key, [])
        pool[key] = arrays
        while len(pool) > _POOL_SHAPES:
            del pool[next(iter(pool))]
        array = _free(arrays, _sole[0])
        if array is not None:
            return array
    array = make()
    with _POOL_LOCK:
        if len(arrays) < _POOL_PER_SHAPE:
            arrays.append(array)
    return array


def _free(arrays: list[np.ndarray], sole: int) -> np.ndarray | None:
    """The first of ``arrays`` whose reference count reads at most ``sole`` (held by the list alone)."""
    for array in arrays:
        if _getrefcount(array) <= sole:
            return array
    return None


def _sole_count() -> int:
    """The count ``_free`` reads for an array held by its list alone (3 on CPython 3.10-3.13: the
    list, the loop's name, getrefcount's argument), found on probe arrays through ``_free`` itself;
    0 if at that count an array held once more is taken too (then nothing is ever reused)."""
    alone, held = [np.empty(0)], [np.empty(0)]
    holder = held[0]  # the one reference more that must keep held[0] out of reuse
    for _ in range(64):  # read as in use: after the interpreter has specialised _free's bytecode
        _free(held, 0)
    for sole in range(1, 8):
        if _free(alone, sole) is not None:
            return sole if _free(held, sole) is None and holder is held[0] else 0
    return 0


def _reset_after_fork() -> None:
    """A forked child has only the forking thread: another thread of the parent may have held the
    lock (the child would wait for it forever) or been midway through a pool's lists."""
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _POOL.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)
