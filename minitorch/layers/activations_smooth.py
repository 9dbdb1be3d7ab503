"""Smooth element-wise activations, as torch.nn: SELU, CELU, Softsign, Tanhshrink, LogSigmoid.

Each caches its slope dy/dx and returns dx = dy * slope (``_Slope``); its y is the function of the
same name in ``minitorch.functional`` (functional_smooth.py), the one copy of the formula, except
where the slope holds the transcendental y needs (Tanhshrink's tanh, LogSigmoid's exp(-|x|)): y
is then the same formula from it, tested equal to the function. exp is
only taken of values <= 0 (CELU: for alpha > 0), so no forward overflows for large |x|.
"""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.functional_smooth import (
    SELU_ALPHA,
    SELU_SCALE,
    check_celu_alpha,
    elu_core,
)
from minitorch.layers.activations_piecewise import _Slope


def _elu_slope(x: np.ndarray, alpha: float, scale: float, k: float) -> np.ndarray:
    """dy/dx of torch's elu kernels (y: ``functional_smooth.elu_core``): scale above 0, scale * alpha *
    k * exp(k * x) at or below (nan for nan, as torch's vectorized kernel: its scalar tail gives
    scale), k = the input scale torch's backward takes (CELU's: 1 / float32(alpha))."""
    t = x.dtype.type
    neg = np.minimum(x, 0)  # exp of values <= 0 only (k > 0): no overflow; k < 0 gives inf, as torch
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x > 0, t(scale), t(scale * alpha * k) * np.exp(neg * t(k))).astype(x.dtype)


class SELU(_Slope):
    """Scaled exponential linear unit, element-wise, as torch.nn.SELU.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(x < 0, scale * alpha * expm1(min(x, 0)), scale * x)   exp of x <= 0 only
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
        self._slope = _elu_slope(x, SELU_ALPHA, SELU_SCALE, 1.0)
        return elu_core(x, SELU_ALPHA, SELU_SCALE, 1.0)


class CELU(_Slope):
    """Continuously differentiable ELU, element-wise, as torch.nn.CELU.

    Shapes:   x (*)   y (*)
    Forward:  y     = where(x < 0, alpha * expm1(min(x, 0) * (1 / alpha)), x)   (exp of x <= 0 for alpha > 0)
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
        self.alpha = check_celu_alpha(alpha, "CELU")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "CELU")
        alpha = check_celu_alpha(self.alpha, "CELU")
        # torch's backward (derivatives.yaml: 1.0 / alpha.toFloat()) divides by alpha rounded to float32
        self._slope = _elu_slope(x, alpha, 1.0, 1.0 / float(np.float32(alpha)))
        return elu_core(x, alpha, 1.0, 1.0 / alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


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
        with np.errstate(invalid="ignore", over="ignore"):  # inf / inf: nan; d * d past the max: inf;
            self._slope = 1 / d - a / (d * d)                # as torch (no warning)
            return x / d  # functional.softsign's formula, from the d the slope needs


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
        return x - t  # functional.tanhshrink's formula, from the t the slope needs


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
        # functional.logsigmoid's formula, from the z the slope needs
        return (np.minimum(x, 0) - np.log1p(z)).astype(x.dtype)
