"""Unflatten: split one dimension into several (a reshape, so backward is the inverse reshape)."""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.module import Module


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``, as torch.nn.Unflatten (the inverse of Flatten).

    Shapes:   x (N, C*H*W)   y (N, C, H, W)   with dim=1, unflattened_size=(C, H, W); one entry may be -1
    Forward:  y  = x.reshape(x.shape[:dim] + unflattened_size + x.shape[dim+1:])   (a view, no copy)
    Backward: dx = dy.reshape(x.shape)                                             (x's shape)
    Example:
        unflat = Unflatten(1, (2, 5))
        y = unflat(np.zeros((3, 10)))          # (3, 2, 5)
        dx = unflat.backward(np.ones_like(y))  # (3, 10)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        size = tuple(unflattened_size) if isinstance(unflattened_size, (tuple, list)) else None
        if (not size or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in size)
                or any(s < 1 and s != -1 for s in size) or sum(s == -1 for s in size) > 1):
            raise ValueError(
                "Unflatten: unflattened_size must be a non-empty tuple of positive ints (at most one -1), "
                f"got {unflattened_size!r}"
            )
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ValueError(f"Unflatten: dim must be an int, got {dim!r}")
        self.dim = int(dim)
        self.unflattened_size = tuple(int(s) for s in size)
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None  # from the dim and sizes the forward call read

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Unflatten")
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        known = int(np.prod([s for s in self.unflattened_size if s != -1]))
        fits = 0 <= dim < x.ndim and (
            x.shape[dim] == known or (-1 in self.unflattened_size and x.shape[dim] % known == 0)
        )
        if not fits:
            raise ValueError(
                f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size}): expected an input "
                f"whose dim {self.dim} has size {known}{' times k' if -1 in self.unflattened_size else ''}, "
                f"got {x.shape}"
            )
        self._x_shape = x.shape
        self._y_shape = x.shape[:dim] + self._sizes(x.shape[dim]) + x.shape[dim + 1 :]
        return x.reshape(self._y_shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_shape = self._cached(self._x_shape)
        dy = self._check_grad(dy, self._y_shape, np.asarray(dy).dtype)
        # w.r.t. input
        return dy.reshape(x_shape)

    def _sizes(self, length: int) -> tuple[int, ...]:
        """unflattened_size with its -1 worked out for a dim of ``length`` (reshape's -1 cannot size 0)."""
        size = list(self.unflattened_size)
        if -1 in size:
            size[size.index(-1)] = length // int(np.prod([s for s in size if s != -1]))
        return tuple(size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
