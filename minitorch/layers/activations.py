"""Element-wise activations: y = f(x), dx = dy * f'(x)."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.module import Module


def _positive_mask(x: np.ndarray) -> np.ndarray:
    """(x > 0) as 1.0/0.0 in x's dtype.

    Speed: dy * mask with a float mask runs one same-dtype loop; a bool mask needs a casting loop
    (~1.5x slower), and np.where(mask, dy, 0) branches per element (~30x slower on random signs).
    """
    return (x > 0).astype(x.dtype)


def _max0(x: np.ndarray) -> np.ndarray:
    """max(x, 0), element-wise.

    Speed: NumPy's maximum against a scalar 0 takes a slow broadcast loop; against a zeros row
    broadcast over the rows it runs its vectorised loop (~2.5x faster on a (512, 512) array).
    """
    if x.ndim == 0:
        return np.maximum(x, 0)
    return np.maximum(x, np.zeros(x.shape[-1], x.dtype))


class Sigmoid(Module):
    """Logistic function, element-wise.

    Shapes:   x (*)   y (*)   (any shape)
    Forward:  e  = exp(-|x|)                      (<= 1: never overflows)
              y  = max(e, [x >= 0]) / (1 + e)     = 1/(1+e) for x >= 0, e/(1+e) for x < 0
    Backward: dx = dy * y * (1 - y)      (*)   from the cached output
    Stability: exp never overflows, and tiny outputs keep full relative precision (e/(1+e)).
               The numerator max(e, [x >= 0]) picks 1 or e exactly (e <= 1), without np.where,
               whose per-element branch costs ~30x more than this maximum on random signs.
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
        y = np.maximum(e, (x >= 0).astype(x.dtype))
        y /= 1 + e
        self._out = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return dy * y * (1 - y)


class ReLU(Module):
    """Rectified linear unit, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y    = max(x, 0)
              mask = (x > 0) as 1.0/0.0 in x's dtype   (cached)
    Backward: dx = dy * mask   (*)   ReLU'(0) = 0, as PyTorch
    Example:
        act = ReLU()
        y = act(np.array([-1.0, 0.0, 2.0]))   # [0, 0, 2]
        dx = act.backward(np.ones(3))          # [0, 0, 1]
    """

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "ReLU")
        self._mask = _positive_mask(x)
        return _max0(x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self._cached(self._mask)
        dy = self._check_grad(dy, mask.shape, mask.dtype)
        # w.r.t. input
        return dy * mask


class Tanh(Module):
    """Hyperbolic tangent, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y  = tanh(x)
    Backward: dx = dy * (1 - y**2)     (*)   from the cached output
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
        return self._out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return dy * (1.0 - y * y)


class LeakyReLU(Module):
    """ReLU with a small slope for negative inputs, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y  = where(x > 0, x, negative_slope * x)
    Backward: dx = where(x > 0, dy, negative_slope * dy)   (*)   slope at 0 is negative_slope, as PyTorch
    Example:
        act = LeakyReLU(0.1)
        y = act(np.array([-2.0, 0.0, 3.0]))   # [-0.2, 0, 3]
        dx = act.backward(np.ones(3))          # [0.1, 0.1, 1]
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = check_number(negative_slope, "LeakyReLU", "negative_slope")
        self._mask: np.ndarray | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "LeakyReLU")
        self._mask = x > 0
        self._dtype = x.dtype
        return np.where(self._mask, x, self.negative_slope * x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self._cached(self._mask)
        dy = self._check_grad(dy, mask.shape, self._dtype)
        # w.r.t. input
        return np.where(mask, dy, self.negative_slope * dy)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """Exponential linear unit, element-wise.

    Shapes:   x (*)   y (*)
    Forward:  y  = where(x > 0, x, alpha * (exp(x) - 1))           expm1 of min(x, 0): no overflow
    Backward: dx = dy * slope,  slope = where(x > 0, 1, alpha * exp(x))   (*)   slope at 0 is alpha,
              as PyTorch (continuous when alpha = 1)
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
        exp_neg = np.exp(np.minimum(x, 0))  # exp of the negative part only: never overflows
        positive = x > 0
        self._slope = np.where(positive, 1.0, self.alpha * exp_neg)
        return np.where(positive, x, self.alpha * np.expm1(np.minimum(x, 0)))

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
    Both cache the slope dy/dx. erf is computed in NumPy (see ``_erf``): a series for |z| < 2.5,
    a continued fraction above, both within a few float64 ulps.
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
        if self.approximate == "tanh":
            y, self._slope = _gelu_tanh(x)
            return y
        cdf = 0.5 * (1.0 + _erf(x * _SQRT_HALF))
        # |x| > 40 has pdf = 0 in float64; the clip keeps x**2 finite for any float
        pdf = np.exp(-0.5 * np.square(np.clip(x, -40.0, 40.0))) * _INV_SQRT_2PI
        self._slope = cdf + x * pdf
        return x * cdf

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_tanh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GELU's tanh approximation: (y, dy/dx), as torch.nn.GELU(approximate='tanh')."""
    t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
    y = 0.5 * x * (1.0 + t)
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return y, slope


def _erf(z: np.ndarray) -> np.ndarray:
    """The error function erf(z) = 2/sqrt(pi) * integral_0^z exp(-t**2) dt, element-wise, in z's dtype.

    NumPy has no erf. With a = |z| and erf(-a) = -erf(a):
      a <  2.5: erf(a)  = 2/sqrt(pi) * exp(-a**2) * sum_n a (2 a**2)**n / (1*3*...*(2n+1))   (35 terms)
                every term is positive, so the sum has no cancellation;
      a >= 2.5: erfc(a) = exp(-a**2)/sqrt(pi) / (a + (1/2)/(a + (2/2)/(a + (3/2)/(a + ...))))  (33 levels)
                a continued fraction, evaluated from the bottom; erf(a) = 1 - erfc(a).
    Both stay within ~1e-15 relative error of the true erf (tests/test_activations.py checks).
    """
    a = np.abs(z)
    out = np.empty_like(a)
    small = a < 2.5
    out[small] = _erf_series(a[small])
    # beyond a = 6, 1 - erfc(a) rounds to 1 anyway: clipping at 27 keeps a**2 finite for any input
    out[~small] = 1.0 - _erfc_continued_fraction(np.minimum(a[~small], 27.0))
    return np.copysign(out, z)


def _erf_series(a: np.ndarray) -> np.ndarray:
    two_a2 = 2.0 * a * a
    term = a.copy()
    total = a.copy()
    for n in range(1, 35):
        term *= two_a2 / (2 * n + 1)
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-a * a) * total


def _erfc_continued_fraction(a: np.ndarray) -> np.ndarray:
    f = a.copy()
    for k in range(33, 0, -1):
        f = a + (0.5 * k) / f
    return np.exp(-a * a) * _INV_SQRT_PI / f


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)

