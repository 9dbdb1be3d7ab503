"""Dropout2d: zero whole channels while training (spatial dropout), scaling the rest."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.layers.dropout import dropout_mask
from minitorch.module import Module


class Dropout2d(Module):
    """Channel-wise inverted dropout, as torch.nn.Dropout2d: keeps each (sample, channel) map w.p. 1 - p.

    Shapes:   x (N, C, H, W)   y (N, C, H, W)   (a 3-D input is read as (N, C, L), as torch does)
    Forward:  keep = U(0, 1) >= p                      (N, C, 1, 1)  one draw per channel map,
                                                                     from mt.random.generator() (manual_seed)
              mask = keep / (1 - p)                    (N, C, 1, 1)  cached: the scaled mask
              mask = 0                                 p = 1 (nothing drawn), as torch: not 0 / 0 = nan
              y    = x * mask                          training;  y = x in eval() or when p = 0
    Backward: dx   = dy * mask                         (N, C, H, W)  dx = dy in eval()
    Adjacent pixels of a feature map are strongly correlated, so dropping single pixels barely
    regularises a conv net; dropping the whole map does (Tompson et al., as torch's docs say).
    Example:
        drop = Dropout2d(p=0.5)
        y = drop(np.ones((2, 3, 4, 4)))      # each of the 6 maps is all 0 or all 2
        dx = drop.backward(np.ones_like(y))  # the same maps zeroed
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_number(p, "Dropout2d", "p", 0, 1)
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_number(self.p, "Dropout2d", "p", 0, 1)  # read at every call, with torch's check
        x = as_floating(x, "Dropout2d")
        if x.ndim not in (3, 4):
            raise ValueError(f"Dropout2d: expected input (N, C, H, W) or (N, C, L), got {x.shape}")
        self._shape, self._dtype = x.shape, x.dtype
        if not self.training or self.p == 0:
            self._mask = None  # identity: backward passes dy through
            return x
        self._mask = dropout_mask(x.shape[:2] + (1,) * (x.ndim - 2), self.p, x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._cached(self._shape)
        dy = self._check_grad(dy, shape, self._dtype)
        # w.r.t. input
        return dy if self._mask is None else dy * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
