"""The twin's side of ``kernels/inference.py``: the session loop, and the fork rule of moved weights.

``serve`` runs in the kernels' twin (``twin.run(serve, ...)``): it spins on a shared int64 control
block, takes each job the caller posts there (job numbers only grow), computes the twin's half of
every cut layer, h[:, c:] = relu?(h_prev @ W[:, c:] + b[c:]), and raises the layer's flag to the
job's number once its half is written; it returns after ``idle`` seconds without a job or when
the caller sets STOP. A job is abandoned as soon as the caller has moved on (a newer job, or the
caller's half of the previous layer not coming), so a twin that fell behind catches up at once.
The twin writes only its halves of h and its flags, never the weights.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

import numpy as np

# control block (int64): the job posted, the live session's id, a stop request, the job the twin
# has taken, then per cut layer the job whose half the twin wrote (TWIN + i) and the caller
# wrote (CALLER + i)
REQ, ALIVE, STOP, TAKEN, TWIN, CALLER, MAX_CUT = 0, 1, 2, 3, 8, 40, 32
POLITE_S = 2e-4  # a session this long without a job offers its core to other processes (sched_yield)
_yield = getattr(os, "sched_yield", lambda: None)


def serve(ctrl_array: np.ndarray, session: int, seen: int, parent: int, idle: float, cpu: int,
          x: np.ndarray, *layers: Any) -> None:
    """The twin's session: take each job posted in the control block, compute the twin's half of
    every cut layer, return after ``idle`` seconds without a job or when asked to stop. It runs on
    the CPUs allowed to it but ``cpu``, the caller's (two spinning processes on one CPU would wait
    for each other's time slices; the scheduler puts them there when another process holds the
    other CPU); its CPUs are given back when it returns. A no-op in the parent (``Job.wait`` runs
    a lost twin's task there: the caller has done the work already)."""
    if os.getpid() == parent:
        return
    allowed = allowed_cpus()
    if allowed is not None and cpu in allowed and len(allowed) > 1:
        os.sched_setaffinity(0, allowed - {cpu})
    try:
        _serve(memoryview(ctrl_array), session, idle, x, layers)
    finally:
        if allowed is not None:
            os.sched_setaffinity(0, allowed)


def _serve(ctrl: memoryview, session: int, idle: float, x: np.ndarray, layers: tuple) -> None:
    cut = [(W[:, c:], None if b is None else b[c:], out[:, c:], out, relu)
           for W, b, out, c, relu in (layers[i:i + 5] for i in range(0, len(layers), 5))]
    for Wb, *_ in cut:  # one pass over this half of the weights before the first job: its pages
        np.zeros((1, Wb.shape[0]), Wb.dtype) @ Wb  # mapped here, its values in this core's cache
    seen = ctrl[REQ]  # the jobs posted meanwhile ran in the caller (no session was alive for them)
    last = time.monotonic()
    ctrl[ALIVE] = session
    spins = 0
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # (see _job)
        while True:
            k = ctrl[REQ]
            if k != seen:
                seen = ctrl[TAKEN] = k
                _job(ctrl, k, x, cut, idle)
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


def _job(ctrl: memoryview, k: int, x: np.ndarray, cut: list, idle: float) -> None:
    """The twin's halves of job k, layer by layer; abandoned when the caller has moved on (a newer
    job, or its half of the previous layer not coming within ``idle`` seconds).
    A floating-point error (overflow, invalid, divide) in a half is not the twin's to report: the
    flag gets -k and the job is abandoned, and the caller computes that half itself, so that its
    NumPy raises or warns as the plain chain's would (under the caller's ``np.errstate`` and
    warning filters; a warning here would only reach the twin's stderr, or its filters)."""
    h, zero = x, np.zeros((), x.dtype)
    for i, (Wb, bb, ob, out, relu) in enumerate(cut):
        if i:
            start, spins = time.monotonic(), 0
            while ctrl[CALLER + i - 1] != k:
                spins += 1
                if spins & 63 == 0 and (ctrl[REQ] != k or ctrl[STOP] or time.monotonic() - start > idle):
                    return
        try:
            half_layer(h, Wb, bb, relu, ob, zero)
        except FloatingPointError:
            ctrl[TWIN + i] = -k
            return
        ctrl[TWIN + i] = k
        h = out


def half_layer(h: np.ndarray, W: np.ndarray, b: np.ndarray | None, relu: bool, out: np.ndarray,
               zero: np.ndarray) -> None:
    """out = relu?(h @ W + b): one side's columns of a cut layer (the caller's or the twin's), the
    plain layer's operations."""
    y = h @ W
    if b is not None:
        y += b
    if relu:
        np.maximum(y, zero, out=out)
    else:
        out[...] = y
