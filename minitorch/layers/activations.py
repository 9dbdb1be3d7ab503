"""Element-wise activations: y = f(x), dx = dy * f'(x)."""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.module import Module


class Sigmoid(Module):
    """Logistic function, element-wise.

    Shapes:   x (*)   y (*)   (any shape)
    Forward:  y  = 1 / (1 + exp(-x))
    Backward: dx = dy * y * (1 - y)      (*)   from the cached output
    Stability: with e = exp(-|x|) <= 1, y = 1/(1+e) for x >= 0 and e/(1+e) for x < 0, so exp never
               overflows and tiny outputs keep full relative precision.
    Example:
        act = Sigmoid()
        y = act(np.array([-1e4, 0.0, 1e4]))   # [0, 0.5, 1], no overflow warning
        dx = act.backward(np.ones(3))
    """

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Sigmoid")
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1.0, e)
        y /= 1.0 + e
        self._out = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return dy * y * (1.0 - y)


class ReLU(Module):
    """Rectified linear unit, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y  = max(x, 0)
    Backward: dx = dy * (x > 0)   (*)   ReLU'(0) = 0, as PyTorch
    Example:
        act = ReLU()
        y = act(np.array([-1.0, 0.0, 2.0]))   # [0, 0, 2]
        dx = act.backward(np.ones(3))          # [0, 0, 1]
    """

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "ReLU")
        self._mask = x > 0
        self._dtype = x.dtype
        return np.maximum(x, 0)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self._cached(self._mask)
        dy = self._check_grad(dy, mask.shape, self._dtype)
        # w.r.t. input
        return np.where(mask, dy, 0)
