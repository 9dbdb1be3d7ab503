"""One row through a Linear/ReLU chain in one loop in this process (``kernels/inference.py``'s path
without the twin), and what each child's forward wrapper leaves under no_grad.

``_alone`` replaces the children's calls by their forward kernels' operations (``y = x @ W;
y += b``, ``np.maximum(0, y)``): the plain chain's numbers bitwise, minus a call per child.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.edit_marks import Dropped


def _alone(model: Any, x: np.ndarray, linear: type, relu: type) -> Any:
    """The chain in one loop in this process, with the operations of the children's forward
    kernels (``y = x @ W; y += b``, ``np.maximum(0, y)``): the plain chain's numbers bitwise, without
    a call per child. ``NotImplemented`` unless every child is a Linear or ReLU (exact types) not
    patched on the instance nor inside a call, each Linear's W (and b) of x's dtype and width."""
    children = tuple(model.__dict__["_modules"].values())
    width, dtype = x.shape[1], x.dtype
    for m in children:
        d = m.__dict__
        if "forward" in d or d["_frame"] is not None:
            return NotImplemented
        if type(m) is linear:
            W, b = d["W"].data, d["b"]
            if (type(W) is not np.ndarray or W.dtype != dtype or W.ndim != 2 or W.shape[0] != width
                    or d["in_features"] != width  # (the plain Linear checks in_features,
                    or (b is not None and b.data.dtype != dtype)):  # and refuses a b of another dtype)
                return NotImplemented
            width = W.shape[1]
        elif type(m) is not relu:
            return NotImplemented
    if not children or dtype.kind != "f":
        return NotImplemented
    _leave_frames(children, relu)
    zero = zero_of(dtype)
    h = x
    for m in children:
        if type(m) is linear:
            b = m.b
            h = h @ m.W.data
            if b is not None:
                h += b.data
        else:
            h = np.maximum(zero, h)
    return h


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


def _leave_frames(children: tuple, relu: type) -> None:
    """What each child's forward wrapper leaves under no_grad: no frame shown (an edit's mark, a
    ``Dropped`` frame, stays: no_grad answers no dropped call), no cache."""
    for m in children:
        d = m.__dict__
        shown = d["_shown"]
        if shown is not None and type(shown) is not Dropped:
            for name in shown:
                d[name] = None
            d["_shown"] = None
        if type(m) is not relu:
            d["_x"] = None


def _layer(h: np.ndarray, W: np.ndarray, b: np.ndarray | None, relu: bool, zero: np.ndarray) -> np.ndarray:
    """relu?(h @ W + b) into a fresh array, the plain layers' operations."""
    y = h @ W
    if b is not None:
        y += b
    return np.maximum(zero, y, out=y) if relu else y
