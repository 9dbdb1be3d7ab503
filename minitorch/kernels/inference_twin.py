"""The twin's side of ``kernels/inference.py``: its session's jobs.

``serve`` runs in the kernels' twin (``twin.run(serve, ...)``): as a session
(``kernels/twin_session.py``) it spins on a shared int64 control block, takes each job the caller
posts there (job numbers only grow), computes the twin's half of every cut layer, h[:, c:] =
relu?(h_prev @ W[:, c:] + b[c:]), and raises the layer's flag to the job's number once its half is
written; it returns after ``idle`` seconds without a job or when the caller sets STOP. A job is
abandoned as soon as the caller has moved on (a newer job, or the caller's half of the previous
layer not coming), so a twin that fell behind catches up at once.
The twin writes only its halves of h and its flags, never the weights.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from minitorch.kernels import twin_session
from minitorch.kernels.twin_session import REQ, STOP

# control block (int64): the job posted, the live session's id, a stop request, the job the twin
# has taken, then per cut layer the job whose half the twin wrote (TWIN + i), the caller wrote
# (CALLER + i), and the split the layer's halves use (SPLIT + i: an index into its column counts;
# the caller changes it only while the twin has no job, after a call whose halves it all read)
TAKEN, TWIN, CALLER, SPLIT, MAX_CUT = 3, 8, 40, 72, 32


def serve(ctrl_array: np.ndarray, session: int, seen: int, parent: int, idle: float, cpu: int,
          x: np.ndarray, *layers: Any) -> None:
    """The twin's session (``twin_session.serve``): take each job posted in the control block,
    compute the twin's half of every cut layer, return after ``idle`` seconds without a job or when
    asked to stop. ``layers``: per cut layer W, b, h, per split the twin's columns (start, stop) (a
    list; the split in use is the control block's SPLIT word), relu. Before the first job, one pass over this
    half of the weights maps its pages here and brings its values into this core's cache."""
    ctrl = memoryview(ctrl_array)
    cut = [(tuple((W[:, i:j], None if b is None else b[i:j], out[:, i:j]) for i, j in spans), out, relu)
           for W, b, out, spans, relu in (layers[n:n + 5] for n in range(0, len(layers), 5))]

    def warm() -> None:
        for i, (halves, *_) in enumerate(cut):
            Wb = halves[ctrl[SPLIT + i]][0]
            np.zeros((1, Wb.shape[0]), Wb.dtype) @ Wb

    zero = np.zeros((), x.dtype)

    def take(k: int) -> None:
        ctrl[TAKEN] = k
        _job(ctrl, k, x, cut, idle, zero)

    with np.errstate(over="raise", divide="raise", invalid="raise"):  # (see _job)
        twin_session.serve(ctrl, session, parent, idle, cpu, take, warm)


def _job(ctrl: memoryview, k: int, x: np.ndarray, cut: list, idle: float, zero: np.ndarray) -> None:
    """The twin's halves of job k, layer by layer; abandoned when the caller has moved on (a newer
    job, or its half of the previous layer not coming within ``idle`` seconds).
    A floating-point error (overflow, invalid, divide) in a half is not the twin's to report: the
    flag gets -k and the job is abandoned, and the caller computes that half itself, so that its
    NumPy raises or warns as the plain chain's would (under the caller's ``np.errstate`` and
    warning filters; a warning here would only reach the twin's stderr, or its filters)."""
    h = x
    for i, (halves, out, relu) in enumerate(cut):
        Wb, bb, ob = halves[ctrl[SPLIT + i]]
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
        np.maximum(zero, y, out=out)
    else:
        out[...] = y
