"""Embedding training on both cores: the twin groups each forward's ids and zero-fills gradients ahead.

In a training step the Embedding's backward (``embedding.scatter_rows``) spends most of its time in
three parts on the caller's core: grouping the ids by rank (``grouping.runs``, about 20 NumPy
calls), summing the rows, and writing the sums into a fresh zero gradient. The grouping depends only
on the ids, which the forward already has, and the zero fill on nothing. So, while a stream of
training steps runs, the kernels' twin (``kernels/twin.py``, a forked process on the other core)
runs a *session* (``embedding_twin.serve``): each forward posts its ids in shared memory (one copy,
``post``; not under ``no_grad``, where no backward follows); the twin groups them while the caller
gathers the forward's rows and runs the rest of the model, then zero-fills one of a few shared
gradient arrays for a later step. The backward takes
the grouping (``grouping``) and a zero array filled earlier (``zeros``) instead of making them.
Saves, per step, the index work and the zero fill on the caller's core.

How the two processes meet without a system call per step (as ``kernels/inference.py``): the twin
spins on a shared int64 control block; a job costs a few memory writes and reads each way. A
session starts on the ``STREAK``-th backward in a row that comes within ``IDLE_S`` of the previous
one (starting one costs a socket message) and ends after ``IDLE_S`` without a job; after
``POLITE_S`` without a job the twin offers its core to other processes. Another task sent to the
twin stops the session first; a session stopped so is not started again for ``BACKOFF_S`` (an
Embedding before an LSTM would otherwise start one every step).

Never a silent wrong answer:
- The backward uses the twin's grouping only if it belongs to the last job posted (no other forward
  posted since), the twin has raised GROUPED to that job's number (x86-64 keeps stores in order, so
  the results are written by then; other machines never take this path), and the ids given to the
  backward equal, element by element, the copy the twin grouped (ids changed in place after the
  forward, or padding rows left out, are grouped here). The grouping is ``grouping.runs`` in both
  processes, so the gradient is bitwise the one-process kernel's.
- A new job is posted only once the twin has finished reading the last one's ids and writing its
  results (GROUPED reached), and the backward copies the results out under the module's lock;
  the tables of the arrays (filling, ready) and the session's start and end change under it too
  (a thread that finds it held runs as without a session).
- A gradient array is handed out only after the twin raised its READY flag for the job that named
  it, and is named for a fill only while nothing but this module references it (its buffer's
  reference count): an array given to the user is never written by the twin. One that a user keeps
  is simply not filled again.
- A twin that has not grouped a job within ``WAIT_S`` of the backward's start is not waited for:
  the backward groups the ids itself. No backward waits for a session's reply either: a session
  asked to stop is collected by a later backward once it has replied, and only while this module
  holds the twin (``twin.acquire``: another caller holding it reads the replies, this one among
  them). A forked child starts without a session (its shared arrays are made private by
  ``twin._reset_after_fork``); a session whose shared arrays cannot be made is not started.
"""

from __future__ import annotations

import functools
import os
import platform
import select
import sys
import threading
import time
import weakref
from typing import Any

import numpy as np

from minitorch.grad_mode import is_grad_enabled
from minitorch.kernels import twin
from minitorch.kernels.embedding_twin import COUNT, FILL, GROUPED, RANKS, READY, ROWS, UNIQ, WIDTH, serve
from minitorch.kernels.twin_session import ALIVE, REQ, STOP, allowed_cpus, current_cpu

IDLE_S = 0.002  # a session returns to the twin's idle loop after this long without a job
STREAK = 8  # backwards in a row, each within IDLE_S of the last, before a session starts
WAIT_S = 4e-5  # the backward waits this long for the twin's grouping before grouping itself
BACKOFF_S = 1.0  # a session stopped by another task is not started again for this long
# a session that ended having served fewer than SHORT backwards (its twin descheduled past IDLE_S on
# a busy machine, or replaced for another Embedding's shape) is followed by a spell without one:
# SPELL_S, doubled at each such end up to the last, short again after a session that served SHORT
SHORT, SPELL_S = 64, (0.01, 1.0)
MISSES = 3  # jobs in a row not grouped in time before the session is stopped (and a spell follows)
ARRAYS, FILLED_AHEAD = 4, 2  # gradient arrays per session; kept filled (or filling) ahead
MAX_BYTES = 1 << 23  # a larger gradient gets no session (its ARRAYS arrays would hold too much memory)
_X86 = platform.machine().lower() in ("x86_64", "amd64")
_lock = threading.Lock()  # one caller at a time posts, takes, starts or collects a session (others
# run as without one)
_getrefcount = sys.getrefcount

# "plan": the live session's arrays; "job": its twin.run job; "k": the last job number; "streak",
# "last": the backward stream; "backoff": no session before this time; "served": backwards that
# used the twin's grouping (tests); "late": the session was asked to stop after MISSES late jobs
_state: dict[str, Any] = {"plan": None, "job": None, "session": 0, "k": 0, "streak": 0, "last": 0.0,
                          "backoff": 0.0, "spell": SPELL_S[0], "served": 0, "served_at_start": 0,
                          "misses": 0, "late": False}


class _Plan:
    """One session's shared arrays: the control block, the posted ids, the grouping's results and
    the gradient arrays (flat buffers, handed out reshaped), with each array's state here."""

    __slots__ = ("rows", "width", "dtype", "capacity", "ctrl", "flags", "ids", "uniq", "positions",
                 "lengths", "buffers", "filling", "ready", "posted", "count", "baseline")

    def __init__(self, rows: int, width: int, dtype: np.dtype, capacity: int) -> None:
        self.rows, self.width, self.dtype, self.capacity = rows, width, dtype, capacity
        self.ctrl = twin.empty((READY + ARRAYS,), np.int64)
        self.ctrl[:] = 0
        self.ctrl[ROWS], self.ctrl[WIDTH] = rows, width  # (every job's: the plan's gradient shape)
        self.flags = memoryview(self.ctrl)
        self.ids = twin.empty((capacity,), np.int64)
        self.uniq = twin.empty((capacity,), np.int64)
        self.positions = twin.empty((capacity,), np.intp)
        self.lengths = twin.empty((capacity,), np.int64)
        self.buffers = [twin._new_buffer((rows * width,), dtype) for _ in range(ARRAYS)]
        self.filling: dict[int, int] = {}  # array -> the job that fills it
        self.ready: list[int] = []  # arrays filled with zeros, the oldest first
        self.posted = self.count = 0  # the last job posted here, its ids' count
        self.baseline = 0  # a buffer's reference count when only the plan and the session hold it


def post(weight: np.ndarray, ids: np.ndarray) -> None:
    """The forward's part: post ids (any shape) for grouping when a session for weight's gradient
    is live and the twin has finished the last job's grouping; else nothing (also under no_grad:
    no backward will take the grouping)."""
    plan = _state["plan"]
    if plan is None or not is_grad_enabled() or not _lock.acquire(blocking=False):
        return
    try:
        ctrl = plan.flags
        job = _state["job"]
        n = ids.size
        if (job is None or job.done or ctrl[ALIVE] != _state["session"] or ctrl[STOP]
                or ctrl[GROUPED] != ctrl[REQ] or not 0 < n <= plan.capacity or ids.dtype.kind not in "iu"
                or weight.dtype != plan.dtype or weight.shape != (plan.rows, plan.width)):
            plan.posted = 0
            return
        np.copyto(plan.ids[:n], ids.reshape(-1), casting="unsafe")
        _update_ready(plan, ctrl)
        fill = -1
        if len(plan.ready) + len(plan.filling) < FILLED_AHEAD:
            for j in range(ARRAYS):
                if j not in plan.filling and j not in plan.ready and _unreferenced(plan, j):
                    fill = j
                    break
        k = _state["k"] = _state["k"] + 1
        ctrl[COUNT], ctrl[FILL] = n, fill
        if fill >= 0:
            plan.filling[fill] = k
        ctrl[REQ] = k  # the last write: the twin reads the job's fields after it sees this
        plan.posted, plan.count = k, n
    finally:
        _lock.release()


def grouping(num_rows: int, ids: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """The backward's part: ``grouping.runs`` of these 1-D ids (for rows (len(ids), width)) as the
    twin computed it for the last job posted, copied out (uniq, positions), or None (no session,
    another job since, the ids not those grouped, not grouped in time, or a case the twin leaves to
    the caller). Counts the stream of backwards and starts a session when one is due."""
    if rows.ndim != 2:
        return None
    width, dtype = rows.shape[1], rows.dtype
    plan = _state["plan"]
    if plan is None or plan.posted == 0:
        if _lock.acquire(blocking=False):  # (a session's tables change under the lock only)
            try:
                _stream(num_rows, len(ids), width, dtype)
            finally:
                _lock.release()
        return None
    if not _lock.acquire(blocking=False):
        return None
    try:
        _stream(num_rows, len(ids), width, dtype)
        ctrl, k, n = plan.flags, plan.posted, plan.count
        plan.posted = 0  # one backward per job
        if ctrl[REQ] != k or len(ids) != n or num_rows != plan.rows or width != plan.width:
            return None
        if not _grouped(ctrl, k):
            _missed()
            return None
        if ctrl[RANKS] <= 0 or not np.array_equal(plan.ids[:n], ids):
            return None
        lengths = plan.lengths[:ctrl[RANKS]].tolist()
        uniq = plan.uniq[:ctrl[UNIQ]].copy()
        flat = plan.positions[:n].copy()
        positions, start = [], 0
        for length in lengths:
            positions.append(flat[start:start + length])
            start += length
        _state["served"] += 1
        _state["misses"] = 0
        return uniq, positions
    finally:
        _lock.release()


def zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """A gradient array of the live session that the twin has filled with zeros (the oldest one), as
    fresh as np.zeros's (nothing else ever referenced it since), or None."""
    plan = _state["plan"]
    if plan is None or shape != (plan.rows, plan.width) or dtype != plan.dtype:
        return None
    if not _lock.acquire(blocking=False):
        return None
    try:
        _update_ready(plan, plan.flags)
        if not plan.ready:
            return None
        return plan.buffers[plan.ready.pop(0)].reshape(shape)
    finally:
        _lock.release()


def _unreferenced(plan: _Plan, j: int) -> bool:
    """Whether nothing but this module (the plan's list, the session job's arguments) references
    gradient buffer j: no array handed out over it is alive."""
    return _getrefcount(plan.buffers[j]) <= plan.baseline


def _update_ready(plan: _Plan, ctrl: memoryview) -> None:
    for j, k in list(plan.filling.items()):
        if ctrl[READY + j] == k:
            del plan.filling[j]
            plan.ready.append(j)


def _grouped(ctrl: memoryview, k: int) -> bool:
    """Whether the twin's grouping of job k is written, waiting up to WAIT_S (spinning)."""
    if ctrl[GROUPED] == k:
        return True
    deadline = time.perf_counter() + WAIT_S
    while True:
        for _ in range(32):
            if ctrl[GROUPED] == k:
                return True
        if time.perf_counter() > deadline:
            return False


def _missed() -> None:
    """A job the twin did not group in time. A session that has replied (it left) or a twin that is
    gone (its socket closed) is collected now, so that no more jobs are posted to it; after
    MISSES misses in a row (a twin kept off its core on a busy machine) the session is asked to
    stop and a spell without one follows (see SPELL_S); misses before the session's first served
    job (the twin waking) are not counted. Never waits: a session asked to stop is collected by a
    later backward once it has replied (``_stream``)."""
    job = _state["job"]
    if job is None or job.done:
        return
    if _collect(job):
        _state["job"], _state["late"] = None, False
    elif _state["served"] == _state["served_at_start"]:
        return  # (no job served yet: the twin may still be waking)
    elif (misses := _state["misses"] + 1) < MISSES:
        _state["misses"] = misses
        return
    else:
        _state["plan"].ctrl[STOP] = 1
        _state["late"] = True
        _state["backoff"] = max(_state["backoff"], time.monotonic() + _state["spell"])
        _state["spell"] = min(2 * _state["spell"], SPELL_S[1])
    _state["misses"] = 0


def _stream(num_rows: int, n: int, width: int, dtype: np.dtype) -> None:
    """Count a backward in the stream; start a session on the STREAK-th in a row (or a new one when
    the live session's arrays do not fit this gradient), collect one that has ended."""
    now = time.monotonic()
    streak = _state["streak"] = _state["streak"] + 1 if now - _state["last"] <= IDLE_S else 1
    _state["last"] = now
    job, plan = _state["job"], _state["plan"]
    if (job is not None and not job.done and plan.flags[ALIVE] == _state["session"]
            and not plan.flags[STOP]):
        if _fits(plan, num_rows, n, width, dtype):
            return  # the live session serves this gradient
    if streak < STREAK or now < _state["backoff"] or not _X86 or not twin.available():
        return
    if job is not None:  # it has left (idle), was asked to stop, or serves another gradient
        if not job.done and plan.flags[ALIVE] == _state["session"] and not plan.flags[STOP]:
            plan.ctrl[STOP] = 1  # ours, replaced for a gradient of another shape
        if not _collect(job):
            return  # (not replied yet, or another caller holds the twin: a later backward takes it)
        _state["job"] = None
        if _state["late"]:
            _state["late"] = False
            return  # (stopped after MISSES late jobs: its spell is set)
        if _state["served"] - _state["served_at_start"] < SHORT:  # (also two shapes taking turns)
            _state["backoff"] = max(_state["backoff"], now + _state["spell"])
            _state["spell"] = min(2 * _state["spell"], SPELL_S[1])
            return
        _state["spell"] = SPELL_S[0]
    _start(num_rows, n, width, dtype)


def _fits(plan: _Plan, num_rows: int, n: int, width: int, dtype: np.dtype) -> bool:
    return (plan.rows, plan.width, plan.dtype) == (num_rows, width, dtype) and n <= plan.capacity


def _start(num_rows: int, n: int, width: int, dtype: np.dtype) -> None:
    allowed = allowed_cpus()
    if allowed is not None and len(allowed) < 2:
        return
    if num_rows * width * dtype.itemsize > MAX_BYTES or not twin.acquire():
        return
    try:
        plan = _state["plan"]
        if plan is None or not _fits(plan, num_rows, n, width, dtype):
            try:
                plan = _state["plan"] = _Plan(num_rows, width, dtype, 1 << (n - 1).bit_length())
            except OSError:  # no shared memory now (file descriptors, memory): no session for a while
                _state["backoff"] = time.monotonic() + BACKOFF_S
                return
        session = _state["session"] = _state["session"] + 1
        plan.ctrl[STOP] = 0  # (no session reads the block now)
        plan.ctrl[GROUPED] = plan.ctrl[REQ]  # a job the last session left untaken blocks no post
        plan.posted = 0
        job = twin.run(serve, plan.ctrl, session, os.getpid(), IDLE_S, current_cpu(), plan.ids, plan.uniq,
                       plan.positions, plan.lengths, *plan.buffers)
    finally:
        twin.release()
    if not job.sent:
        _collect(job)
        return
    job.stop = functools.partial(_stopped, plan.ctrl, weakref.ref(job))  # (no cycle: a Job ended is
    # freed at once, and with its arguments the buffers' references, which ``_unreferenced`` counts)
    _state["job"], _state["served_at_start"] = job, _state["served"]
    plan.baseline = _sole_count()


def _sole_count() -> int:
    """The count ``_unreferenced`` reads for a buffer held by the plan's list and the session job's
    arguments alone, read on a probe held the same two ways (read on a buffer at the session's
    start, it counted whatever held that buffer then: the previous session's job, a user's gradient);
    0 where a count does not rise with one reference more (an interpreter that defers or skips
    increments: ``kernels/pool.py``), so that no array a user holds is ever filled."""
    probe = [np.empty(0)]
    args = (probe[0],)
    count = _getrefcount(probe[0])
    held = probe[0]  # one reference more, which must read higher
    more = _getrefcount(probe[0])
    del args, held
    return count if more > count else 0  # 0: the counts tell nothing (no array is ever filled again)


def _stopped(ctrl: np.ndarray, job: weakref.ref) -> None:
    """The session's ``stop``, called by ``twin.run`` before another task: it returns at its next
    look at the control block (the job's patience counts from now), and no session starts again
    for BACKOFF_S."""
    ctrl[STOP] = 1
    if job() is not None:
        job().started = time.monotonic()
    _state["backoff"] = time.monotonic() + BACKOFF_S


def _collect(job: Any, wait: bool = False) -> bool:
    """Take a session's reply once it has come (or its twin is gone), holding the twin; False, and
    nothing done, if it has not come yet (unless ``wait``: tests) or another caller holds the twin:
    that caller reads the twin's replies (its ``run`` takes this one as its pending job), and a
    second reader would take the reply it waits for. An error raised in the twin would be a bug
    of ``serve``: no session is started again (the backwards run as without one). A fill the twin
    has not finished by now it never will (it left without taking the job): its array is free
    again."""
    held = job.sent and not job.done
    if held:
        if not twin.acquire():
            return False
        sock = twin._state["sock"]
        if not (wait or job.done or sock is None or select.select([sock], [], [], 0)[0]):
            twin.release()
            return False
    try:
        job.wait()
    except Exception:
        _state["backoff"] = float("inf")
    finally:
        if held:
            twin.release()
    plan = _state["plan"]
    if plan is not None:
        _update_ready(plan, plan.flags)
        plan.filling.clear()
    return True


def _forget_after_fork() -> None:
    """A forked child has no twin and no session, and none of the parent's other threads: one may
    have held the lock (the child would never post nor start a session)."""
    global _lock
    _state.update(plan=None, job=None, streak=0, backoff=0.0, late=False)
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
