"""Dropout: zero random elements while training, scaling the rest so the expectation is unchanged."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.kernels import kernels_enabled
from minitorch.kernels import layers as fast
from minitorch.module import Module
from minitorch.random import generator


class Dropout(Module):
    """Inverted dropout, as torch.nn.Dropout: each element is kept with probability 1 - p.

    Shapes:   x (*)   y (*)
    Forward:  keep = U(0, 1) >= p                     (*)  drawn from mt.random.generator() (manual_seed)
              mask = keep / (1 - p)                   (*)  cached: the scaled mask
              y    = x * mask                         training;  y = x in eval() or when p = 0
    Backward: dx   = dy * mask                        (*)  the same mask as forward;  dx = dy in eval()
    "Inverted": the 1 / (1 - p) scaling happens while training, so E[y] = x and eval needs no rescaling.
    Example:
        drop = Dropout(p=0.5)
        y = drop(np.ones((2, 4)))        # entries 0 or 2
        dx = drop.backward(np.ones((2, 4)))   # the same 0/2 pattern; drop.eval() makes it the identity
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_number(p, "Dropout", "p", 0, 1, high_open=True)
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if kernels_enabled():  # fast room: the same draws and mask, pooled arrays
            return fast.dropout_forward(self, x)
        x = as_floating(x, "Dropout")
        self._shape, self._dtype = x.shape, x.dtype
        if not self.training or self.p == 0:
            self._mask = None  # identity: backward passes dy through
            return x
        keep = generator().random(x.shape) >= self.p
        self._mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._cached(self._shape)
        dy = self._check_grad(dy, shape, self._dtype)
        # w.r.t. input
        return dy if self._mask is None else dy * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
