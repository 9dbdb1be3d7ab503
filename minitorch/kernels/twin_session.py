"""A session of the kernels' twin: it spins on a shared control block and takes each job posted there.

A system call that wakes a process on the other core costs tens of microseconds on a virtual
machine, as much as the work handed over. So a caller that hands the twin a stream of small jobs
(``kernels/inference.py``: one-row chains; ``kernels/embedding_ahead.py``: Embedding training)
starts a session once (``twin.run`` of its serving task, which calls ``serve`` here), and then
posts each job by writing the job's number into a shared int64 control block: a few memory writes
and reads each way. Every control block starts with the same three words:

    REQ    the job posted last (numbers only grow)
    ALIVE  the live session's id (0 once it has left)
    STOP   set by the caller: the session returns at its next look

The session spins between jobs, keeping its core busy as an OpenMP pool's threads do; after
``POLITE_S`` without a job it offers the core to other processes at each look (``sched_yield``),
and after ``idle`` seconds without one it returns (back to the twin's idle loop, which sleeps).
It runs on the CPUs allowed to it but the caller's: two spinning processes on one CPU would wait
for each other's time slices (the scheduler puts them there when another process holds the other
CPU); its CPUs are given back when it returns.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable
from typing import Any

REQ, ALIVE, STOP = 0, 1, 2
POLITE_S = 2e-4  # a session this long without a job offers its core to other processes (sched_yield)
_yield = getattr(os, "sched_yield", lambda: None)


def serve(ctrl: memoryview, session: int, parent: int, idle: float, cpu: int, take: Callable[[int], Any],
          start: Callable[[], Any] | None = None) -> None:
    """The session: ``start()`` once (e.g. a first pass over the data the jobs will read), then
    ``take(k)`` for each job k posted, until ``idle`` seconds pass without one or STOP is set.
    Jobs posted before the session was alive are not taken (their callers did the work). A no-op
    in the parent (``Job.wait`` runs a lost twin's task there: the caller has done the work)."""
    if os.getpid() == parent:
        return
    allowed = allowed_cpus()
    if allowed is not None and cpu in allowed and len(allowed) > 1:
        os.sched_setaffinity(0, allowed - {cpu})
    try:
        if start is not None:
            start()
        _spin(ctrl, session, idle, take)
    finally:
        if allowed is not None:
            os.sched_setaffinity(0, allowed)


def _spin(ctrl: memoryview, session: int, idle: float, take: Callable[[int], Any]) -> None:
    seen = ctrl[REQ]
    last = time.monotonic()
    ctrl[ALIVE] = session
    spins = 0
    while True:
        k = ctrl[REQ]
        if k != seen:
            seen = k
            take(k)
            last = time.monotonic()
            continue
        spins += 1
        if spins & 63 == 0:
            quiet = time.monotonic() - last
            if quiet > POLITE_S:  # no call for a while: another process waiting for this core runs
                _yield()
            if ctrl[STOP] or quiet > idle:
                ctrl[ALIVE] = 0
                if ctrl[REQ] == seen or ctrl[STOP]:
                    return
                ctrl[ALIVE] = session  # a job came as the session was leaving: take it


def allowed_cpus() -> set[int] | None:
    """The CPUs this process may run on (None where the system does not say)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def current_cpu() -> int:
    """The CPU this thread runs on now (glibc's sched_getcpu, a vDSO call), or -1."""
    if not _getcpu:
        try:
            f = ctypes.CDLL(None).sched_getcpu
            f.restype, f.argtypes = ctypes.c_int, []
        except (OSError, AttributeError):
            f = None
        _getcpu.append(f)
    f = _getcpu[0]
    return f() if f is not None else -1


_getcpu: list[Any] = []
