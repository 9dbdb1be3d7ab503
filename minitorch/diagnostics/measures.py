"""The measures of one array that a diagnostics check takes: a ReLU's zero and dead fractions, a
Tanh/Sigmoid's saturated fraction, a strided sample for histograms, the sums of a large array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SATURATION = 0.97  # |tanh| or |2 sigmoid - 1| above this: the local derivative is below ~6 % of its peak
SAMPLE = 2000  # values kept per layer for histograms


def big_segment(i: int, a: np.ndarray, forward: bool) -> tuple[int, bool, Any, int, float, float, np.ndarray]:
    """An array too large for ``CheckStats``'s shared vector, in place of its segment there:
    (unit i, forward, shape, size, sum (forward only), sum of squares, strided sample).

    An output's (forward) squares are taken about its mean, sum((x - mean)**2): the std is
    sqrt(that / size), where E[x**2] - mean**2 cancels for a mean far from 0 (a float32 dot of
    values near 1000 with std 0.006 read 0.13). A gradient's are sum(x**2), for its rms."""
    flat = a.ravel()
    with np.errstate(all="ignore"):  # the dot product in the array's own dtype may overflow
        total = float(flat.sum(dtype=np.float64)) if forward else 0.0
        spread = flat - total / flat.size if forward else flat  # NaN/inf stay NaN/inf
        squares = float(np.dot(spread, spread))
    return i, forward, a.shape, a.size, total, squares, sample(flat)


def activation_fractions(role: str, y: np.ndarray, zeros: bool = True
                         ) -> tuple[float | None, float | None, float | None]:
    """(zero fraction, dead fraction) of a ReLU's output, (saturated fraction) of a Tanh/Sigmoid's.
    ``zeros=False``: the zero fraction is left None (counted later on a float64 copy of ``y``:
    the same count, as the copy keeps every zero a zero and every other value non-zero)."""
    n = y.size
    if role in ("relu", "relu_channels"):
        dead = dead_fraction(y, channels_first=role == "relu_channels")
        return (1.0 - int(np.count_nonzero(y)) / n) if zeros else None, dead, None
    if role == "tanh":
        return None, None, int(np.count_nonzero(np.abs(y) > SATURATION)) / n
    return None, None, int(np.count_nonzero(np.abs(y - 0.5) > SATURATION / 2)) / n


def dead_fraction(y: np.ndarray, channels_first: bool = False) -> float:
    """The fraction of units that are 0 everywhere: a feature (last axis) of (N, F) or (N, L, F)
    outputs, a channel (axis 1) of (N, C, H, W) feature maps, and of (N, C, L) ones when
    ``channels_first`` (after a 1-d layer such as Conv1d), over the whole batch."""
    any_ = np.logical_or.reduce  # what ndarray.any calls
    if channels_first and y.ndim == 3:
        alive = any_(y, axis=(0, 2))
    elif y.ndim == 2:
        alive = any_(y, axis=0)
    elif y.ndim == 4:
        alive = any_(y, axis=(0, 2, 3))
    elif y.ndim >= 2:
        alive = any_(y.reshape(-1, y.shape[-1]), axis=0)
    else:
        alive = y
    return 1.0 - int(np.count_nonzero(alive)) / max(alive.size, 1)


def sample(flat: np.ndarray) -> np.ndarray:
    """Up to SAMPLE evenly spaced values, copied (a view would keep the whole array alive)."""
    return flat[:: max(1, flat.size // SAMPLE)][:SAMPLE].copy()
