"""Smooth element-wise activations, as torch.nn: SELU, CELU, Softsign, Tanhshrink, LogSigmoid.

Each caches its slope dy/dx and returns dx = dy * slope (``_Slope``); exp is only taken of values
<= 0 (CELU: for alpha > 0), so no forward overflows for large |x|.
"""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.dtypes import as_floating
from minitorch.functional import softplus_of_neg_abs
from minitorch.layers.activations_piecewise import _Slope

SELU_ALPHA = 1.6732632423543772848170429916717  # torch's (Klambauer et al., 2017)
SELU_SCALE = 1.0507009873554804934193349852946


def _elu_and_slope(x: np.ndarray, alpha: float, scale: float, input_scale: float,
                   slope_input_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """torch's elu kernels: y = scale * x above 0, scale * alpha * (exp(input_scale * x) - 1) at or below;
    slope = scale above 0, scale * alpha * k * exp(k * x) at or below (nan for nan, as torch's vectorized
    kernel: its scalar tail gives scale), k = slope_input_scale (input_scale, except where torch's
    backward takes another: CELU's)."""
    t = x.dtype.type
    below = x <= 0
    neg = np.minimum(x, 0)  # exp of values <= 0 only (input_scale > 0): no overflow
    y = np.where(below, t(scale * alpha) * np.expm1(neg * t(input_scale)), t(scale) * x)
    k = slope_input_scale
    slope = np.where(x > 0, t(scale), t(scale * alpha * k) * np.exp(neg * t(k)))
    return y.astype(x.dtype), slope.astype(x.dtype)


class SELU(_Slope):
    """Scaled exponential linear unit, element-wise, as torch.nn.SELU.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(x <= 0, scale * alpha * expm1(min(x, 0)), scale * x)     exp of x <= 0 only
              slope = where(x > 0, scale, scale * alpha * exp(min(x, 0)))   (*)   cached (nan: nan)
    Backward: dx = dy * slope   (*)   the slope at 0 is scale * alpha (~1.7581), as PyTorch
    alpha = 1.6732632423543772, scale = 1.0507009873554805 (torch's constants)
    Example:
        act = SELU()
        y = act(np.array([-1e4, 0.0, 1.0]))   # [-1.7581, 0, 1.0507]
        dx = act.backward(np.ones(3))          # [0, 1.7581, 1.0507]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "SELU")
        y, self._slope = _elu_and_slope(x, SELU_ALPHA, SELU_SCALE, 1.0, 1.0)
        return y


class CELU(_Slope):
    """Continuously differentiable ELU, element-wise, as torch.nn.CELU.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(x <= 0, alpha * expm1(min(x, 0) * (1 / alpha)), x)   (exp of x <= 0 for alpha > 0)
              k     = 1 / float32(alpha)                      (torch's backward rounds alpha to float32)
              slope = where(x > 0, 1, alpha * k * exp(min(x, 0) * k))   (*)   cached (nan: nan)
    Backward: dx = dy * slope   (*)   the slope at 0 is alpha * k (1 when alpha is a float32), as PyTorch;
              as torch's, a relative ~1e-8 from the forward's exact derivative for other alphas
    alpha != 0 (torch's forward refuses 0); read at every call.
    Example:
        act = CELU(alpha=0.5)
        y = act(np.array([-1e4, 0.0, 1.0]))   # [-0.5, 0, 1]
        dx = act.backward(np.ones(3))          # [0, 1, 1]
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _check_alpha(alpha)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "CELU")
        alpha = _check_alpha(self.alpha)
        # torch's backward (derivatives.yaml: 1.0 / alpha.toFloat()) divides by alpha rounded to float32
        y, self._slope = _elu_and_slope(x, alpha, 1.0, 1.0 / alpha, 1.0 / float(np.float32(alpha)))
        return y

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


def _check_alpha(alpha: object) -> float:
    alpha = check_number(alpha, "CELU", "alpha")
    if alpha == 0:
        raise ValueError("CELU: alpha cannot be 0 (it divides x), got 0")
    return alpha


class Softsign(_Slope):
    """x / (1 + |x|), element-wise, as torch.nn.Softsign.

    Shapes:   x (*)   y (*)
    Forward:  d     = 1 + |x|
              y     = x / d                                  (+-inf gives nan: inf / inf, as torch)
              slope = 1 / d - |x| / d**2   (*)   cached: torch's quotient rule, term for term
                      (= 1 / d**2; nan at +-inf, as torch's)
    Backward: dx = dy * slope   (*)   the slope at 0 is 1
    Example:
        act = Softsign()
        y = act(np.array([-1.0, 0.0, 3.0]))   # [-0.5, 0, 0.75]
        dx = act.backward(np.ones(3))          # [0.25, 1, 0.0625]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Softsign")
        a = np.abs(x)
        d = 1 + a
        self._slope = 1 / d - a / (d * d)
        return x / d


class Tanhshrink(_Slope):
    """x - tanh(x), element-wise, as torch.nn.Tanhshrink.

    Shapes:   x (*)   y (*)
    Forward:  t     = tanh(x);  y = x - t
              slope = t**2   (*)   cached  (= 1 - (1 - t**2): 0 at x = 0, 1 at +-inf)
    Backward: dx = dy * slope   (*)
    Example:
        act = Tanhshrink()
        y = act(np.array([-1e4, 0.0, 1.0]))   # [-9999, 0, 0.2384]
        dx = act.backward(np.ones(3))          # [1, 0, 0.5800]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Tanhshrink")
        t = np.tanh(x)
        self._slope = t * t
        return x - t


class LogSigmoid(_Slope):
    """log(sigmoid(x)), element-wise, computed stably, as torch.nn.LogSigmoid.

    Shapes:   x (*)   y (*)
    Forward:  z     = exp(-|x|)                                   (<= 1: never overflows)
              y     = min(x, 0) - log1p(z)                        (= -softplus(-x); never log(sigmoid))
              slope = where(x < 0, 1 - z / (1 + z), z / (1 + z))   (*)   cached  (= sigmoid(-x), torch's form)
    Backward: dx = dy * slope   (*)   the slope at 0 is 0.5
    Stability: y is finite and exact for x = -1e4 (-1e4) and x = 1e4 (0) in float32 and float64; tiny
               values (x = 100 in float32: ~-3.7e-44) keep their relative precision (log1p).
    Example:
        act = LogSigmoid()
        y = act(np.array([-1e4, 0.0, 1e4]))   # [-1e4, -0.6931, 0]
        dx = act.backward(np.ones(3))          # [1, 0.5, 0]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "LogSigmoid")
        z = np.exp(-np.abs(x))
        p = z / (1 + z)
        self._slope = np.where(x < 0, 1 - p, p).astype(x.dtype)
        return (np.minimum(x, 0) - softplus_of_neg_abs(x)).astype(x.dtype)
