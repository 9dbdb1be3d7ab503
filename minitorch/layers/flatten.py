"""Flatten: merge a range of dimensions into one (a reshape, so backward is the inverse reshape)."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_int
from minitorch.dtypes import as_floating
from minitorch.module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim into one, as torch.nn.Flatten (defaults keep the batch dim).

    Shapes:   x (N, C, H, W)   y (N, C*H*W)   with start_dim=1, end_dim=-1
    Forward:  y  = x.reshape(x.shape[:start] + (prod(x.shape[start:end+1]),) + x.shape[end+1:])
              (a view when x's layout allows; an empty batch gives (0, features), as torch)
    Backward: dx = dy.reshape(x.shape)                                     (x's shape)
    Example:
        flat = Flatten()
        y = flat(np.zeros((2, 3, 4, 5)))     # (2, 60)
        dx = flat.backward(np.ones((2, 60))) # (2, 3, 4, 5)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = check_int(start_dim, "Flatten", "start_dim")
        self.end_dim = check_int(end_dim, "Flatten", "end_dim")
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None  # from the dims the forward call read

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Flatten")
        self._x_shape = x.shape
        self._y_shape = self._out_shape(x.shape)
        return x.reshape(self._y_shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_shape = self._cached(self._x_shape)
        dy = self._check_grad(dy, self._y_shape, np.asarray(dy).dtype)
        # w.r.t. input
        return dy.reshape(x_shape)

    def _out_shape(self, x_shape: tuple[int, ...]) -> tuple[int, ...]:
        start, end = self._dims(len(x_shape))
        return x_shape[:start] + (math.prod(x_shape[start : end + 1]),) + x_shape[end + 1 :]

    def _dims(self, ndim: int) -> tuple[int, int]:
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < ndim:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): "
                f"expected an input with more than {max(start, end)} dims, got {ndim} dims"
            )
        return start, end

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
