"""Fresh zero arrays made ahead on another core, for kernels whose result starts as zeros.

A gradient that starts as ``np.zeros`` (Embedding's scatter-add, ``kernels/embedding.py``) costs a
pass of writes over a large array on the caller's core (for Embedding(10000, 64) a third of its
backward). ``zeros`` returns a fresh zero array made earlier by a background thread, which runs on
the other core, and asks the thread for the next ones. Nothing else ever saw the array: it is as
fresh as np.zeros's.
The thread keeps up to ``DEPTH`` arrays per shape and the newest one is never handed out: the
arrays made after one have pushed its lines out of the thread's core cache, so the caller's writes
into it do not wait on the other core (handing out the newest one kept less than half of the gain).
The thread is woken when fewer than two are left (every other call) and runs at idle priority.

A cross-core hand-over is not free (waking the thread costs the caller microseconds), so only arrays
of ``MIN_BYTES`` to ``MAX_BYTES`` are made ahead, and only with 2+ CPUs and ``mt.get_num_threads()``
above 1 (read every ``CHECK_EVERY`` calls); otherwise, and whenever the thread is behind, ``zeros``
is ``np.zeros``. At most ``SHAPES`` shapes are kept (the least recently asked-for dropped first):
the memory held ahead is at most SHAPES * DEPTH * MAX_BYTES (24 MB).
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from minitorch import threads

MIN_BYTES, MAX_BYTES = 1 << 20, 4 << 20  # below, the fill costs about the hand-over; above, memory
DEPTH, SHAPES = 3, 2  # arrays kept per shape (a wake-up every other call), shapes kept
CHECK_EVERY = 64  # calls between two readings of the thread count
_CPUS = os.cpu_count() or 1

_Key = tuple[tuple[int, ...], np.dtype]
_ready: dict[_Key, list[np.ndarray]] = {}  # the oldest array first; the least recently asked-for key first
_lock = threading.Lock()  # an array is handed out once, also to callers in several threads
_wake = threading.Lock()  # held while no request is pending; released to wake the maker
_wake.acquire()
_thread: list[threading.Thread] = []  # the running maker, once started
_check: list[int | bool] = [0, False]  # calls since the thread count was read (mod CHECK_EVERY), its verdict


def zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.zeros(shape, dtype): a fresh C-contiguous array of zeros that nothing else references,
    made ahead on another core when the size and thread count allow (see the module docstring)."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if not MIN_BYTES <= nbytes <= MAX_BYTES or not _allowed():
        return np.zeros(shape, dtype)
    key = (shape, dtype)
    with _lock:
        arrays = _ready.pop(key, [])
        _ready[key] = arrays
        if len(_ready) > SHAPES:
            del _ready[next(iter(_ready))]
        out = arrays.pop(0) if len(arrays) > 1 else None  # never the newest one (docstring)
        wake = len(arrays) < 2  # the next call would find none to hand out
        if not _thread:
            _start()
    if wake:
        _request()
    return np.zeros(shape, dtype) if out is None else out


def _request() -> None:
    """Wake the maker (one futex wake; a Lock, as an Event's condition would wake it twice)."""
    try:
        _wake.release()
    except RuntimeError:  # already released: a request is pending
        pass


def _allowed() -> bool:
    """Whether a second core may make arrays: 2+ CPUs and ``mt.get_num_threads()`` above 1, the
    count read on the first call and then every CHECK_EVERY calls (reading it releases the GIL,
    which the maker may then hold just when the caller wants it back)."""
    _check[0] = (_check[0] + 1) % CHECK_EVERY
    if _check[0] == 1 or CHECK_EVERY == 1:
        try:
            _check[1] = _CPUS > 1 and threads.get_num_threads() > 1
        except ImportError:  # no threadpoolctl: the thread count is unknown, so no second thread
            _check[1] = False
    return _check[1]


def _start() -> None:
    thread = threading.Thread(target=_make, name="minitorch-zeros", daemon=True)
    _thread.append(thread)
    thread.start()


def _make() -> None:
    """The background thread: after each wake-up, top every asked-for shape up to DEPTH arrays."""
    _idle_priority()
    while True:
        _wake.acquire()  # a request made from here on wakes the next round; _top_up sees it
        _top_up()


def _top_up() -> None:
    """Append fresh zero arrays until every asked-for shape has DEPTH. Only appending here, and the
    callers only taking (under the lock, never the newest), no array is handed out twice; a list
    whose shape was dropped meanwhile is garbage."""
    for key, arrays in list(_ready.items()):
        while len(arrays) < DEPTH:
            try:
                made = np.zeros(*key)  # calloc: the GIL is released while the pages are zeroed
            except MemoryError:
                return  # the callers make their own
            arrays.append(made)


def _idle_priority() -> None:
    """Run this thread only on an otherwise idle CPU (Linux's SCHED_IDLE, else the lowest priority):
    on a busy machine it then never takes the caller's core, it just falls behind and the caller
    makes its own zeros."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass


def _reset_after_fork() -> None:
    """A forked child has no maker thread, and the parent's may have held the lock: start afresh."""
    global _lock, _wake
    _ready.clear()
    _thread.clear()
    _lock, _wake = threading.Lock(), threading.Lock()
    _wake.acquire()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)
