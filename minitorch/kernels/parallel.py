"""The kernels' worker pool: a large task cut into chunks of samples, the chunks run on the cores.

NumPy releases the GIL inside large copies, ufuncs and BLAS calls, so Python threads that each run a
whole pipeline of such calls on their own samples (a convolution's im2col, products and col2im on a
part of the batch) use every core, where one call after another uses one core for every element-wise
pass. Waking a waiting thread on another core is not free (tens of microseconds, more on a VM), so
only a task of at least ``MIN_WORK`` is cut into chunks (``chunks``).

``split(task, n, count, *args)`` runs ``task(lo, hi, *args)`` for ``count`` contiguous ranges that
cover ``range(n)`` and returns the results in range order. The ranges depend on ``n`` and ``count``
only, never on the thread count or on timing, and every chunk's BLAS calls run on 1 thread, so a
result is the same whichever thread ran which chunk, and the same at 1 thread as at several.
The threads: the caller and, when
``mt.get_num_threads()`` (what ``mt.set_num_threads`` / the default policy give NumPy's BLAS, so one
setting covers both) is above 1, persistent daemon workers (started on first use), each taking the
next unclaimed chunk until none is left. A worker the OS does not run soon (another process on its
core) thus costs nothing: the caller takes its chunks. While chunks run on several threads the BLAS
runs 1 thread per call, and its count is restored afterwards, also when a chunk raises. After an
exception no new chunk starts; the caller waits for the running ones, then re-raises the first
exception in range order. One caller at a time: a call made while the pool is busy (from another
thread, or from inside a chunk) runs its chunks inline, in order.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from minitorch import threads

# the least work (multiply-adds, each element copied counting as COPY_COST of them) that is cut into
# chunks, and how many: below it the Python between a chunk's NumPy calls and the handovers between
# the threads cost more than a second core saves; fewer, larger chunks lost more often than they won
# (a woken worker can start on the caller's CPU and pre-empt it) (docs/benchmarks-conv.md)
MIN_WORK, MAX_CHUNKS, COPY_COST = 240_000_000, 4, 32


class _Job:
    """One ``split`` call: chunks claimed one at a time by whichever thread asks first."""

    def __init__(self, task: Callable[..., Any], bounds: list[int], args: tuple[Any, ...]) -> None:
        self.task, self.bounds, self.args = task, bounds, args
        count = len(bounds) - 1
        self.results: list[Any] = [None] * count
        self.errors: list[BaseException | None] = [None] * count
        self._lock = threading.Lock()
        self._claimed, self._unfinished = 0, count
        self.done = threading.Lock()  # released by whoever finishes the last chunk
        self.done.acquire()

    def work(self) -> None:
        """Run unclaimed chunks until none is left."""
        while (k := self._claim()) is not None:
            try:
                self.results[k] = self.task(self.bounds[k], self.bounds[k + 1], *self.args)
            except BaseException as error:  # re-raised by the caller once every chunk has stopped
                self.errors[k] = error
                self._finish(0, cancel=True)
            self._finish(1)

    def _claim(self) -> int | None:
        with self._lock:
            if self._claimed == len(self.results):
                return None
            self._claimed += 1
            return self._claimed - 1

    def _finish(self, count: int, cancel: bool = False) -> None:
        with self._lock:
            if cancel:  # the unclaimed chunks will never run: they count as finished
                count += len(self.results) - self._claimed
                self._claimed = len(self.results)
            self._unfinished -= count
            last = self._unfinished == 0
        if last:
            self.done.release()


def _serve(jobs: queue.SimpleQueue) -> None:
    while True:
        jobs.get().work()


_queues: list[queue.SimpleQueue] = []  # one per worker thread
_busy = threading.Lock()  # held by the one caller using the pool


def _reset_after_fork() -> None:
    """A forked child has none of the parent's threads: start from an empty pool."""
    global _busy
    _queues.clear()
    _busy = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def chunks(work: int, n: int) -> int:
    """Into how many chunks of samples to cut a task of ``work`` (see MIN_WORK) over ``n`` samples:
    1 below MIN_WORK, else MAX_CHUNKS (at most n). It depends on the task's size only."""
    return 1 if work < MIN_WORK else max(1, min(MAX_CHUNKS, n))


def _threads(count: int) -> int:
    """Threads for ``count`` chunks: the BLAS thread count now, at most the CPUs and the chunks."""
    if count < 2:
        return 1
    try:
        return max(1, min(threads.get_num_threads(), os.cpu_count() or 1, count))
    except ImportError:  # no threadpoolctl: the BLAS count can be neither read nor set, so no pool
        return 1


def split(task: Callable[..., Any], n: int, count: int, *args: Any) -> list[Any]:
    """[task(lo, hi, *args) for ``count`` contiguous ranges (lo, hi) covering range(n)], in range
    order, run by the caller and the pool's workers (see the module docstring)."""
    if count <= 1:
        return [task(0, n, *args)]
    bounds = [n * k // count for k in range(count + 1)]
    job = _Job(task, bounds, args)
    helpers = _threads(count) - 1
    if helpers < 1 or not _busy.acquire(blocking=False):
        job.work()
    else:
        try:
            while len(_queues) < helpers:
                _queues.append(queue.SimpleQueue())
                threading.Thread(target=_serve, args=(_queues[-1],), name="minitorch-kernels",
                                 daemon=True).start()
            with threads.blas_threads(1):
                for jobs in _queues[:helpers]:
                    jobs.put(job)
                job.work()
                _wait(job)
        finally:
            _busy.release()
    for error in job.errors:
        if error is not None:
            raise error
    return job.results


def _wait(job: _Job) -> None:
    """Until every chunk has stopped; an interrupt (Ctrl-C) waits once more for the chunks still
    running (milliseconds) so that none outlives the call, then propagates."""
    try:
        job.done.acquire()
    except BaseException:
        job.done.acquire()
        raise
