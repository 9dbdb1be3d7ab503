"""Element-wise activations: y = f(x), dx = dy * f'(x)."""

from __future__ import annotations

import numpy as np

from minitorch import functional
from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.functional_activations import relu_maximum
from minitorch.kernels import kernels_enabled
from minitorch.kernels import layers as fast
from minitorch.module import Module


class Sigmoid(Module):
    """Logistic function, element-wise.

    Shapes:   x (*)   y (*)   (any shape)
    Forward:  e  = exp(-|x|)                          (<= 1: never overflows)
              y  = where(x >= 0, 1, e) / (1 + e)      = 1/(1+e) for x >= 0, e/(1+e) for x < 0
    Backward: dx = dy * y * (1 - y)      (*)   from the cached output (the caller gets a copy of y:
                                                its writes cannot reach the backward)
    Stability: exp never overflows, and tiny outputs keep full relative precision (e/(1+e));
               the formula is ``functional.sigmoid``.
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
        y = functional.sigmoid(x)
        self._out = y
        return y.copy()  # the caller's own array: its writes cannot reach the backward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return dy * y * (1 - y)


class ReLU(Module):
    """Rectified linear unit, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y    = max(0, x)
              mask = (y != 0) as 1.0/0.0 in x's dtype   (cached)
    Backward: dx = dy * mask   (*)   ReLU'(0) = 0, as PyTorch
    Signed zeros: y(-0.0) is -0.0, as torch's (0 first: np.maximum gives its second operand on a
    tie in float32 and float64; float16's and longdouble's loops give their first, so there x goes
    first). Where mask = 0, dx is dy * 0: -0.0 for a dy of -0.0 or below, nan for a nan or inf dy,
    where torch's backward selects +0.0 (a select costs the timed path several times the product).
    The mask is torch's threshold_backward, not (y <= 0): y is 0, > 0 or nan, so it is y != 0, and
    a nan input passes its gradient, as in torch (x > 0 would drop it).
    Example:
        act = ReLU()
        y = act(np.array([-1.0, 0.0, 2.0]))   # [0, 0, 2]
        dx = act.backward(np.ones(3))          # [0, 0, 1]
    """

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if kernels_enabled():  # fast room: the same y, and no mask when no backward can follow
            return fast.relu_forward(self, x)
        x = as_floating(x, "ReLU")
        y = relu_maximum(0, x)  # max(0, x), relu(-0.0) = -0.0 as torch's
        self._mask = (y != 0).astype(x.dtype)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self._cached(self._mask)
        dy = self._check_grad(dy, mask.shape, mask.dtype)
        # w.r.t. input
        return dy * mask


class Tanh(Module):
    """Hyperbolic tangent, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y  = tanh(x)
    Backward: dx = dy * (1 - y**2)     (*)   from the cached output (the caller gets a copy of y)
    Example:
        act = Tanh()
        y = act(np.array([-1e4, 0.0, 1e4]))   # [-1, 0, 1], no overflow
        dx = act.backward(np.ones(3))          # [0, 1, 0]
    """

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Tanh")
        self._out = np.tanh(x)
        return self._out.copy()  # the caller's own array: its writes cannot reach the backward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return dy * (1.0 - y * y)


class LeakyReLU(Module):
    """ReLU with a small slope for negative inputs, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  slope = where(x > 0, 1, negative_slope)   (*)   cached
              y     = x * slope
    Backward: dx = dy * slope   (*)   slope at 0 is negative_slope, as PyTorch
    Example:
        act = LeakyReLU(0.1)
        y = act(np.array([-2.0, 0.0, 3.0]))   # [-0.2, 0, 3]
        dx = act.backward(np.ones(3))          # [0.1, 0.1, 1]
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check_number(negative_slope, "LeakyReLU", "negative_slope")
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "LeakyReLU")
        # read at every call, checked as the constructor's
        negative_slope = check_number(self.negative_slope, "LeakyReLU", "negative_slope")
        self._slope = np.where(x > 0, 1, negative_slope).astype(x.dtype)
        return functional.leaky_relu(x, negative_slope)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """Exponential linear unit, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  neg   = min(x, 0)                                 exp of neg only: no overflow
              y     = where(x >= 0, x, alpha * expm1(neg))      y(-0.0) = -0.0, as torch
              slope = where(x > 0, 1, alpha * exp(neg))         (*)   cached
    Backward: dx = dy * slope   (*)   slope at 0 is alpha, as PyTorch (continuous when alpha = 1)
    Example:
        act = ELU()
        y = act(np.array([-1e4, 0.0, 2.0]))   # [-1, 0, 2]
        dx = act.backward(np.ones(3))          # [0, 1, 1]
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = check_number(alpha, "ELU", "alpha")
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "ELU")
        alpha = check_number(self.alpha, "ELU", "alpha")  # read at every call, checked as the constructor's
        self._slope = np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0)))
        return functional.elu(x, alpha)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """Gaussian error linear unit, element-wise: x times the standard normal CDF of x.

    Shapes:   x (*)   y (*)
    approximate="none" (exact):
      Forward:  cdf = 0.5 * (1 + erf(x / sqrt(2)));  y = x * cdf
      Backward: pdf = exp(-x**2 / 2) / sqrt(2 pi);   dx = dy * (cdf + x * pdf)          (*)
    approximate="tanh":
      Forward:  t = tanh(sqrt(2 / pi) * (x + 0.044715 * x**3));  y = 0.5 * x * (1 + t)
      Backward: dx = dy * (0.5 * (1 + t)
                           + 0.5 * x * (1 - t**2) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x**2))   (*)
    Both cache the slope dy/dx (``functional.gelu_and_slope`` / ``functional.gelu_tanh_and_slope``).
    erf is computed in NumPy (``functional.erf``): a series for |z| < 2.5, a continued fraction
    above, a few ulps off.
    Example:
        act = GELU()
        y = act(np.array([-1.0, 0.0, 1.0]))   # [-0.1587, 0, 0.8413]
        dx = act.backward(np.ones(3))
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "GELU")
        if self.approximate not in ("none", "tanh"):  # read at every call, with torch's check
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {self.approximate!r}")
        y, slope = (functional.gelu_tanh_and_slope(x) if self.approximate == "tanh"
                    else functional.gelu_and_slope(x))
        self._slope = slope
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
