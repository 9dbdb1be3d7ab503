"""One row through a Linear/ReLU chain in one loop in this process (``kernels/inference.py``'s path
without the twin), and what each child's forward wrapper leaves under no_grad.

``_alone`` replaces the children's calls by their forward kernels' operations (``y = x @ W;
y += b``, ``np.maximum(0, y)``): the plain chain's numbers bitwise, minus a call per child.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.edit_marks import Dropped
from minitorch.kernels.relu import zero_of


def _alone(model: Any, x: np.ndarray, linear: type, relu: type) -> Any:
    """The chain in one loop in this process, with the operations of the children's forward
    kernels (``y = x @ W; y += b``, ``np.maximum(0, y)``): the plain chain's numbers bitwise, without
    a call per child. ``NotImplemented`` unless every child is a Linear or ReLU (exact types) not
    patched on the instance nor inside a call, each Linear's W (and b) of x's dtype and width, x
    float32 or float64 (the ReLU's 0-first order gives -0.0 in their loops only: ReLU.forward)."""
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
    if not children or dtype.char not in "fd":
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
