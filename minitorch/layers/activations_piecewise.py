"""Piecewise-linear activations, as torch.nn: ReLU6, Hardsigmoid, Hardswish, Threshold, Softshrink and
Hardshrink.

Each caches its slope dy/dx (or a 0/1 mask) and returns dx = dy * slope; its y is the function of
the same name in ``minitorch.functional`` (functional_activations.py), the one copy of the
formula. At a kink each takes the slope torch's backward takes there (stated per class); a nan
input gives what torch's vectorized kernel gives (its scalar tail, the last few elements of an
array, differs for some).
"""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.functional_activations import hardshrink, hardsigmoid, hardswish, relu6, softshrink, threshold
from minitorch.module import Module


class _Slope(Module):
    """An element-wise activation whose forward caches its slope dy/dx: backward is dx = dy * slope.

    A class whose slope is a 0/1 mask and whose torch backward selects 0 where it is 0 (``_select``)
    returns dx = where(slope != 0, dy, 0) instead: the same numbers, except that there dx is +0.0
    for dy = -0.0 and 0 for dy = nan or inf, as torch's (dy * 0 would give -0.0 and nan).
    """

    _select = False

    def __init__(self) -> None:
        super().__init__()
        self._slope: np.ndarray | None = None

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        if self._select:
            return np.where(slope != 0, dy, slope.dtype.type(0))
        return dy * slope


class ReLU6(_Slope):
    """ReLU capped at 6, element-wise, as torch.nn.ReLU6 (torch's Hardtanh(0, 6)).

    Shapes:   x (*)   y (*)
    Forward:  y     = clip(x, 0, 6)                                   (nan stays nan)
              slope = (0 < x < 6) as 1.0/0.0 in x's dtype   (*)   cached
    Backward: dx = where(slope != 0, dy, 0)   (*)   the slope at x = 0 and x = 6 is 0, as PyTorch
    Example:
        act = ReLU6()
        y = act(np.array([-1.0, 0.0, 3.0, 6.0, 7.0]))   # [0, 0, 3, 6, 6]
        dx = act.backward(np.ones(5))                    # [0, 0, 1, 0, 0]
    """

    _select = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "ReLU6")
        self._slope = ((x > 0) & (x < 6)).astype(x.dtype)
        return relu6(x)


class Hardsigmoid(_Slope):
    """Piecewise-linear sigmoid, element-wise, as torch.nn.Hardsigmoid.

    Shapes:   x (*)   y (*)
    Forward:  y     = clip(x + 3, 0, 6) / 6                           (0 below -3, 1 above 3)
              slope = where(-3 < x < 3, float32(1/6), 0)   (*)   cached  (torch's backward takes 1.0f / 6.0f,
                                                                  a float32 constant, in float64 too)
    Backward: dx = dy * slope   (*)   the slope at x = -3 and x = 3 is 0, as PyTorch
    Example:
        act = Hardsigmoid()
        y = act(np.array([-4.0, 0.0, 3.0]))   # [0, 0.5, 1]
        dx = act.backward(np.ones(3))          # [0, 1/6, 0]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Hardsigmoid")
        one_sixth = x.dtype.type(np.float32(1) / np.float32(6))  # torch's 1.0f / 6.0f
        self._slope = np.where((x > -3) & (x < 3), one_sixth, 0).astype(x.dtype)
        return hardsigmoid(x)


class Hardswish(_Slope):
    """x times Hardsigmoid(x), element-wise, as torch.nn.Hardswish.

    Shapes:   x (*)   y (*)
    Forward:  y     = x * clip(x + 3, 0, 6) / 6                       (-inf gives nan: -inf * 0, as torch)
              slope = where(x <= -3, 0, where(x >= 3, 1, x / 3 + 0.5))   (*)   cached
    Backward: dx = dy * slope   (*)   torch's branches: the slope at x = -3 is 0 and at x = 3 is 1 (the
              outer branches', both ends included); a nan input has slope nan
    Example:
        act = Hardswish()
        y = act(np.array([-4.0, 0.0, 3.0]))   # [0, 0, 3]
        dx = act.backward(np.ones(3))          # [0, 0.5, 1]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Hardswish")
        self._slope = np.where(x <= -3, 0, np.where(x >= 3, 1, x / 3 + 0.5)).astype(x.dtype)
        return hardswish(x)


class Threshold(_Slope):
    """Replace what is not above a threshold, element-wise, as torch.nn.Threshold.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(x <= threshold, value, x)                  (nan stays nan, as torch)
              slope = (not x <= threshold) as 1.0/0.0 in x's dtype   (*)   cached
    Backward: dx = where(slope != 0, dy, 0)   (*)   the slope at x = threshold is 0, as PyTorch
    threshold and value are compared and written in x's dtype; both are read at every call.
    Example:
        act = Threshold(0.5, -2.0)
        y = act(np.array([0.4, 0.5, 0.6]))   # [-2, -2, 0.6]
        dx = act.backward(np.ones(3))         # [0, 0, 1]
    """

    _select = True

    def __init__(self, threshold: float, value: float) -> None:
        super().__init__()
        self.threshold = check_number(threshold, "Threshold", "threshold")
        self.value = check_number(value, "Threshold", "value")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Threshold")
        limit = check_number(self.threshold, "Threshold", "threshold")
        value = check_number(self.value, "Threshold", "value")
        self._slope = (~(x <= x.dtype.type(limit))).astype(x.dtype)
        return threshold(x, limit, value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class Softshrink(_Slope):
    """Shrink towards 0 by lambd, element-wise, as torch.nn.Softshrink.

    Shapes:   x (*)   y (*)
    Forward:  y     = x - clip(x, -lambd, lambd)       = x - lambd above lambd, x + lambd below -lambd, else 0
              slope = (|x| > lambd) as 1.0/0.0 in x's dtype   (*)   cached (nan: 0, as torch)
    Backward: dx = where(slope != 0, dy, 0)   (*)   the slope at x = +-lambd is 0, as PyTorch
    lambd >= 0 (torch's forward refuses a negative one); read at every call.
    Example:
        act = Softshrink()
        y = act(np.array([-1.0, 0.5, 0.7]))   # [-0.5, 0, 0.2]
        dx = act.backward(np.ones(3))          # [1, 0, 1]
    """

    _select = True

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = check_number(lambd, "Softshrink", "lambd", 0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Softshrink")
        lambd = x.dtype.type(check_number(self.lambd, "Softshrink", "lambd", 0, float(np.finfo(x.dtype).max)))
        self._slope = (np.abs(x) > lambd).astype(x.dtype)
        return softshrink(x, float(lambd))

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Slope):
    """Zero what lies in [-lambd, lambd], element-wise, as torch.nn.Hardshrink.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(-lambd <= x <= lambd, 0, x)                (nan stays nan, as torch)
              slope = (|x| > lambd) as 1.0/0.0 in x's dtype   (*)   cached (nan: 0, as torch)
    Backward: dx = where(slope != 0, dy, 0)   (*)   the slope at x = +-lambd is 0, as PyTorch
    lambd may be negative (then nothing is zeroed), as torch; read at every call.
    Example:
        act = Hardshrink()
        y = act(np.array([-1.0, 0.5, 0.7]))   # [-1, 0, 0.7]
        dx = act.backward(np.ones(3))          # [1, 0, 1]
    """

    _select = True

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = check_number(lambd, "Hardshrink", "lambd")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Hardshrink")
        lambd = x.dtype.type(check_number(self.lambd, "Hardshrink", "lambd"))
        self._slope = (np.abs(x) > lambd).astype(x.dtype)
        return hardshrink(x, float(lambd))

    def extra_repr(self) -> str:
        return f"{self.lambd}"
