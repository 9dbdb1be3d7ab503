"""Dropout: zero random elements while training, scaling the rest so the expectation is unchanged."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.kernels import kernels_enabled
from minitorch.kernels import layers as fast
from minitorch.module import Module
from minitorch.random import generator


def dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """The scaled dropout mask: keep = U(0, 1) >= p;  mask = keep / (1 - p);  all zeros for p = 1.

    p = 1 draws nothing and gives zeros, as torch's p = 1 branch (input * 0): keep / (1 - p) would be
    0 / 0 = nan. Shared by Dropout, Dropout2d and the attention weights' dropout.
    """
    dtype = np.dtype(dtype)
    if p == 1:
        return np.zeros(shape, dtype)
    keep = generator().random(shape) >= p
    return keep.astype(dtype) / dtype.type(1.0 - p)


class Dropout(Module):
    """Inverted dropout, as torch.nn.Dropout: each element is kept with probability 1 - p.

    Shapes:   x (*)   y (*)
    Forward:  keep = U(0, 1) >= p                     (*)  drawn from mt.random.generator() (manual_seed)
              mask = keep / (1 - p)                   (*)  cached: the scaled mask
              mask = 0                                p = 1 (nothing drawn), as torch: not 0 / 0 = nan
              y    = x * mask                         training;  y = x in eval() or when p = 0
    Backward: dx   = dy * mask                        (*)  the same mask as forward;  dx = dy in eval()
    "Inverted": the 1 / (1 - p) scaling happens while training, so E[y] = x and eval needs no rescaling.
    p = 1 gives torch's x * 0: zeros, except nan where x is nan or +-inf (and likewise in dx).
    Example:
        drop = Dropout(p=0.5)
        y = drop(np.ones((2, 4)))        # entries 0 or 2
        dx = drop.backward(np.ones((2, 4)))   # the same 0/2 pattern; drop.eval() makes it the identity
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_number(p, "Dropout", "p", 0, 1)
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_number(self.p, "Dropout", "p", 0, 1)  # read at every call, with torch's check
        if kernels_enabled():  # fast room: the same draws and mask, pooled arrays
            return fast.dropout_forward(self, x)
        x = as_floating(x, "Dropout")
        self._shape, self._dtype = x.shape, x.dtype
        if not self.training or self.p == 0:
            self._mask = None  # identity: backward passes dy through
            return x
        self._mask = dropout_mask(x.shape, self.p, x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._cached(self._shape)
        dy = self._check_grad(dy, shape, self._dtype)
        # w.r.t. input
        return dy if self._mask is None else dy * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
