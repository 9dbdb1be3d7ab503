"""The zero a kernel's ReLU takes its maximum against: ``np.maximum(zero, x)``, the plain layer's
``np.maximum(0, x)`` in every bit.

NumPy (2.4) runs ``np.maximum`` against a 0-d operand in its scalar-operand loop, which is not
vectorized; against a zero row of x's width, broadcast over x's rows, it runs the vectorized
two-array loop once per row: on a (512, 512) float32 array about half the time. Below
``ROW_ZERO_FROM`` elements the broadcast's set-up costs more than it saves, and the 0-d zero is
taken. Zero first: NumPy gives the second operand on a tie, so -0.0 stays -0.0 (torch's relu);
a NaN stays NaN either way.
"""

from __future__ import annotations

import numpy as np

_ZEROS: dict[np.dtype, np.ndarray] = {}


def zero_of(dtype: np.dtype) -> np.ndarray:
    """A read-only 0-d zero of ``dtype`` (the ReLUs' other operand; the chain kernel's too)."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = np.zeros((), dtype)
        zero.flags.writeable = False
    return zero


# From this many elements on, ``np.maximum(row, x)`` against a zero row of x's width runs NumPy's
# vectorized two-array loop once per row, where against a 0-d zero it runs the scalar-operand loop,
# which is not vectorized (about twice as long per element); below it, setting up the row's
# broadcast costs more than it saves.
ROW_ZERO_FROM = 2048
_ROWS: dict[tuple[np.dtype, int], np.ndarray] = {}


def relu_zero(x: np.ndarray) -> np.ndarray:
    """The zero for ``np.maximum(zero, x)`` (a ReLU, 0 first as the plain layer's: a tie gives x, so
    -0.0 stays -0.0): a read-only zero row of x's width from ``ROW_ZERO_FROM`` elements on, else
    ``zero_of(x.dtype)``. Either gives ``np.maximum(0, x)`` bitwise (NaN kept), in x's shape and dtype."""
    if x.size < ROW_ZERO_FROM or not x.ndim:
        return zero_of(x.dtype)
    key = (x.dtype, x.shape[-1])
    row = _ROWS.get(key)
    if row is None:
        if len(_ROWS) >= 64:
            _ROWS.clear()
        row = _ROWS[key] = np.zeros(x.shape[-1], x.dtype)
        row.flags.writeable = False
    return row
