"""Gated linear unit: one half of the input gates the other, as torch.nn.GLU."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_int
from minitorch.dtypes import as_floating
from minitorch.functional_smooth import glu_axis, sigmoid
from minitorch.module import Module


class GLU(Module):
    """a * sigmoid(b), a and b the first and second halves of x along ``dim``, as torch.nn.GLU.

    Shapes:   x (*, 2H, *)   a, b, y (*, H, *)   (dim of x halved; its size must be even, as torch)
    Forward:  a, b = split(x, 2, dim)
              s    = sigmoid(b)                     (stable: exp of -|b| only; cached with a)
              y    = a * s
    Backward: da = dy * s                     (*, H, *)
              db = dy * a * s * (1 - s)       (*, H, *)
              dx = concatenate([da, db], dim)    (*, 2H, *)   returned
    ``dim`` (default -1) is read at every call; a 0-D input, a dim out of range or an odd size along
    it is a ValueError (torch refuses each).
    Example:
        act = GLU()
        y = act(np.array([[1.0, 2.0, 0.0, 1e4]]))   # [[0.5, 2.0]]
        dx = act.backward(np.ones((1, 2)))          # [[0.5, 1.0, 0.25, 0.0]]
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = check_int(dim, "GLU", "dim")
        self._a: np.ndarray | None = None
        self._s: np.ndarray | None = None
        self._dim_axis: int | None = None  # the axis the forward call halved: its backward's

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "GLU")
        self._dim_axis = axis = self._halved_axis(x.shape)
        a, b = np.split(x, 2, axis=axis)
        s = sigmoid(b).astype(x.dtype)
        self._a, self._s = a, s
        with np.errstate(invalid="ignore"):  # inf * 0: nan, as torch (no warning)
            return a * s  # functional.glu's formula, from the s the backward needs

    def backward(self, dy: np.ndarray) -> np.ndarray:
        a, s = self._cached(self._a), self._cached(self._s)
        dy = self._check_grad(dy, s.shape, s.dtype)
        # w.r.t. input
        with np.errstate(invalid="ignore"):  # inf * 0: nan, as torch (no warning)
            da = dy * s
            db = dy * a * s * (1 - s)
        return np.concatenate([da, db], axis=self._dim_axis)

    def _halved_axis(self, shape: tuple[int, ...]) -> int:
        return glu_axis(shape, self.dim, "GLU")  # dim read at every call, checked as functional.glu

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
