"""The kernels' small array pool: large temporaries and caches reused from call to call.

A layer's per-call cache is freed when its backward consumes it, and the C allocator may hand such
large blocks back to the system, so the next call's arrays would be faulted in page by page again
(thousands of page faults per step of an LSTM or a transformer layer). ``empty`` hands out an array
of a previous call instead, but only once nothing else references it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import numpy as np

_POOL: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}  # most recently used shape last
_POOL_SHAPES, _POOL_PER_SHAPE = 16, 6
_POOL_LOCK = threading.Lock()


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.empty(shape, dtype), reusing an array of a previous call that nothing references any more.

    Saves page faults (see the module docstring). A pooled array is reused only when the pool holds
    the sole reference (no cache, output or view of it is alive); at most 6 arrays per shape and 16
    shapes are kept, the least recently asked-for shape dropped first.
    """
    key = (tuple(shape), np.dtype(dtype))
    with _POOL_LOCK:
        return reuse_or_make(_POOL, key, lambda: np.empty(key[0], key[1]))


Key = tuple[tuple[int, ...], np.dtype]


def reuse_or_make(pool: dict[Key, list[np.ndarray]], key: Key, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The pool's rule, for any pool of arrays by (shape, dtype): an array of ``pool[key]`` that
    nothing but the pool references, else ``make()`` (kept if the key holds fewer than 6); at most
    16 keys, the least recently asked-for dropped first. Not locked here: ``empty`` holds a lock around it."""
    arrays = pool.pop(key, [])
    pool[key] = arrays
    while len(pool) > _POOL_SHAPES:
        del pool[next(iter(pool))]
    for array in arrays:
        if sys.getrefcount(array) <= 3:  # the list, this loop's name, getrefcount's argument
            return array
    array = make()
    if len(arrays) < _POOL_PER_SHAPE:
        arrays.append(array)
    return array
