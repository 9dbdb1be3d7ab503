"""Kernels of Upsample's tap sums (the plain forms are ``tap_sum`` and ``tap_sum_transpose`` in
``minitorch/layers/upsample.py``); same signatures, bitwise the same results.

The same products of the same numbers, added in the same order (so an inf, a nan or a -0.0 lands
where the plain form puts it, and the same floating-point flags are raised). What they save:
each weight vector is spread once over its axis and the axes after it (a few KB), so a multiply
runs one long inner loop instead of one short loop per image row; the taps after the first are
gathered into one reused array (``out=``) instead of a fresh one each; and the transpose reads dy
itself instead of a copy of it with a zero appended (a reading of the zero is a gathered value
set to 0 before its multiply: the plain form's 0 * 0).
"""

from __future__ import annotations

import numpy as np

from minitorch.kernels.pool import empty
from minitorch.layers.upsample import tap_readers


def tap_sum(x: np.ndarray, taps: list[tuple[np.ndarray, np.ndarray]], axis: int) -> np.ndarray:
    """Kernel of ``upsample.tap_sum``: y = sum_k x.take(i[k], axis) * w[k], taps in order.

    Saves: one fresh array per tap after the first (gathered into a pooled one), and the short
    inner loops of a weight broadcast along one axis (``_spread``)."""
    y = buf = None
    for i, w in taps:
        if y is None:
            term = y = np.take(x, i, axis=axis)
        else:
            buf = empty(y.shape, y.dtype) if buf is None else buf
            term = np.take(x, i, axis=axis, out=buf, mode="clip")  # (clip: no check copy; i is in range)
        np.multiply(term, _spread(w, axis, term.shape), out=term)
        if term is not y:
            np.add(y, term, out=y)
    return y


def tap_sum_transpose(dy: np.ndarray, taps: list[tuple[np.ndarray, np.ndarray]], size: int,
                      axis: int) -> np.ndarray:
    """Kernel of ``upsample.tap_sum_transpose``: dx[j] = sum_r dy[readers[r][j]] * lent[r][j], r in
    order, a reading of the appended zero (readers n_out) giving 0 * 0 = +0.0.

    Saves: the copy of dy with a zero appended (a full pass and an array of dy's size), one fresh
    array per reading rank after the first, and the short inner loops (``_spread``)."""
    n_out = dy.shape[axis]
    readers, lent = tap_readers(taps, n_out, size)
    dx = buf = None
    for i, w in zip(readers, lent, strict=True):
        if dx is None:
            term = dx = np.take(dy, i, axis=axis, mode="clip")  # (clip: n_out reads row n_out - 1 ...)
        else:
            buf = empty(dx.shape, dx.dtype) if buf is None else buf
            term = np.take(dy, i, axis=axis, out=buf, mode="clip")
        zeros = np.flatnonzero(i == n_out)
        if zeros.size:  # (... which is set to the appended zero's 0 before its multiply)
            term[(slice(None),) * axis + (zeros,)] = 0
        np.multiply(term, _spread(w, axis, term.shape), out=term)
        if term is not dx:
            np.add(dx, term, out=dx)
    return dx


def _spread(w: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """w (n,), one weight per position along ``axis``, as a contiguous array over ``axis`` and the
    axes after it (the last axis: over the axis before it too), broadcasting against ``shape``."""
    if axis == len(shape) - 1 and axis > 0:
        return np.ascontiguousarray(np.broadcast_to(w, shape[-2:]))
    along = w.reshape((-1,) + (1,) * (len(shape) - 1 - axis))
    return np.ascontiguousarray(np.broadcast_to(along, shape[axis:]))
