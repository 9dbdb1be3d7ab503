"""More element-wise activations, as torch.nn: SiLU, Softplus, Mish, Hardtanh, and PReLU (learned slope).

Softplus and Hardtanh take y from the function of the same name in ``minitorch.functional``; SiLU
and Mish compute functional.silu's / functional.mish's formula from the sigmoid / tanh their slope
needs (tested equal to the functions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype
from minitorch.functional_activations import hardtanh
from minitorch.functional_smooth import sigmoid, softplus, softplus_of
from minitorch.layers._redraw import check_writable
from minitorch.module import Module, Parameter


class SiLU(Module):
    """Sigmoid-weighted linear unit (swish), element-wise, as torch.nn.SiLU.

    Shapes:   x (*)   y (*)
    Forward:  s  = sigmoid(x)          (stable: exp of -|x| only)
              y  = x * s
    Backward: dx = dy * s * (1 + x * (1 - s))     (*)
    Cache:    the slope dy/dx = s * (1 + x * (1 - s)).
    Example:
        act = SiLU()
        y = act(np.array([-1e4, 0.0, 1.0]))   # [-0, 0, 0.7311]
        dx = act.backward(np.ones(3))          # [0, 0.5, 0.9277]
    """

    def __init__(self) -> None:
        super().__init__()
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "SiLU")
        s = sigmoid(x)
        with np.errstate(invalid="ignore"):  # +-inf * 0: nan, as torch (no warning)
            self._slope = s * (1 + x * (1 - s))
            return x * s

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope


class Softplus(Module):
    """Smooth ReLU, element-wise, as torch.nn.Softplus (linear above the threshold).

    Shapes:   x (*)   y (*)
    Forward:  z  = beta * x
              y  = log(1 + exp(z)) / beta     where z <= threshold  (computed max(z, 0) + log1p(exp(-|z|)))
              y  = x                          where z >  threshold  (torch's switch to the identity)
    Backward: dx = dy * sigmoid(z)            where z <= threshold
              dx = dy                         where z >  threshold          (*)
    Example:
        act = Softplus()
        y = act(np.array([-1e4, 0.0, 1e4]))   # [0, log 2, 1e4], no overflow
        dx = act.backward(np.ones(3))          # [0, 0.5, 1]
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = check_number(beta, "Softplus", "beta", 0, low_open=True)
        self.threshold = check_number(threshold, "Softplus", "threshold")
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Softplus")
        # read at every call: a number (a value of another kind is a TypeError naming it); torch
        # computes with any beta set later, so only the constructor keeps it positive
        beta = check_number(self.beta, "Softplus", "beta")
        threshold = check_number(self.threshold, "Softplus", "threshold")
        with np.errstate(over="ignore", invalid="ignore"):  # a huge x * beta: +-inf, as torch (no warning)
            z = x * x.dtype.type(beta)
        self._slope = np.where(z > threshold, 1, sigmoid(z)).astype(x.dtype)
        return softplus(x, beta, threshold)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(Module):
    """Mish, element-wise, as torch.nn.Mish: x * tanh(softplus(x)).

    Shapes:   x (*)   y (*)
    Forward:  t  = tanh(softplus(x))       (softplus = max(x, 0) + log1p(exp(-|x|)): no overflow)
              y  = x * t
    Backward: dx = dy * (t + x * sigmoid(x) * (1 - t**2))     (*)   softplus' = sigmoid
    Example:
        act = Mish()
        y = act(np.array([-1e4, 0.0, 1e4]))   # [-0, 0, 1e4]
        dx = act.backward(np.ones(3))          # [0, 0.6, 1]
    """

    def __init__(self) -> None:
        super().__init__()
        self._slope: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Mish")
        t = np.tanh(softplus_of(x))
        with np.errstate(invalid="ignore"):  # +-inf * 0: nan, as torch (no warning)
            self._slope = t + x * sigmoid(x) * (1 - t * t)
            return x * t

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._cached(self._slope)
        dy = self._check_grad(dy, slope.shape, slope.dtype)
        # w.r.t. input
        return dy * slope


class Hardtanh(Module):
    """Clip to [min_val, max_val], element-wise, as torch.nn.Hardtanh.

    Shapes:   x (*)   y (*)
    Forward:  y    = clip(x, min_val, max_val)
              mask = (min_val < x < max_val) as 1.0/0.0 in x's dtype   (cached)
    Backward: dx = dy * mask     (*)   the slope at x = min_val or max_val is 0, as PyTorch
    Example:
        act = Hardtanh()
        y = act(np.array([-2.0, -1.0, 0.5, 3.0]))   # [-1, -1, 0.5, 1]
        dx = act.backward(np.ones(4))                # [0, 0, 1, 0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        self.min_val = check_number(min_val, "Hardtanh", "min_val")
        self.max_val = check_number(max_val, "Hardtanh", "max_val")
        if self.max_val <= self.min_val:
            raise ValueError(
                f"Hardtanh: max_val must be greater than min_val, got min_val={min_val}, max_val={max_val}"
            )
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Hardtanh")
        min_val = check_number(self.min_val, "Hardtanh", "min_val")  # read at every call, with torch's check
        max_val = check_number(self.max_val, "Hardtanh", "max_val")
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                             f"max_val={max_val}")
        self._mask = ((x > min_val) & (x < max_val)).astype(x.dtype)
        return hardtanh(x, min_val, max_val)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask = self._cached(self._mask)
        dy = self._check_grad(dy, mask.shape, mask.dtype)
        # w.r.t. input
        return dy * mask

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class PReLU(Module):
    """Leaky ReLU with a learned negative slope, as torch.nn.PReLU (one slope, or one per channel).

    Shapes:   x (N, C, *) or (*) (0-d too)   weight (num_parameters,)   y like x
              num_parameters = 1: one slope for every element; = C: weight[c] for channel dim 1
              (an input with fewer than 2 dims has no channel dim: num_parameters must be 1)
    Forward:  a  = weight broadcast over channel dim 1 (or a scalar)
              y  = where(x > 0, x, a * x)
    Backward: dweight = sum(dy * x * (x <= 0)) over every axis but the channel   accumulated into weight.grad
              dx      = dy * where(x > 0, 1, a)      (*)   slope at x = 0 is a, as PyTorch
    Init:     weight = init (0.25); ``reset_parameters()`` sets it so again, in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        act = PReLU()
        y = act(np.array([-2.0, 0.0, 3.0]))   # [-0.5, 0, 3]
        dx = act.backward(np.ones(3))          # [0.25, 0.25, 1]; act.weight.grad == [-2]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = check_positive_int(num_parameters, "PReLU", "num_parameters")
        self.init = check_number(init, "PReLU", "init")
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty(self.num_parameters, dtype))
        self.reset_parameters()
        self._x: np.ndarray | None = None

    def reset_parameters(self) -> None:
        """weight = init, in place (as torch.nn.PReLU's; nothing drawn)."""
        check_writable(self)
        self.weight.data[...] = self.init

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._x = x
        return np.where(x > 0, x, self._slope(x.ndim) * x)

    def backward_params(self, dy: np.ndarray) -> None:
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape, x.dtype)
        # w.r.t. parameters
        g = np.where(x > 0, 0, dy * x)
        if self.weight.data.size == 1:
            self.weight.accumulate_grad(np.reshape(g.sum(), (1,)))
        else:
            self.weight.accumulate_grad(g.sum(axis=tuple(i for i in range(x.ndim) if i != 1)))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape, x.dtype)
        # w.r.t. input
        return np.where(x > 0, dy, self._slope(x.ndim) * dy)

    def _slope(self, ndim: int) -> np.ndarray:
        """weight shaped to broadcast over the channel dim 1: (C, 1, ..., 1), or a 0-d view of the one
        slope (C is the weight's size, as torch's F.prelu reads it: ``num_parameters`` edited later
        changes nothing; 0-d, so that a 0-d x gives a 0-d y, as torch: the (1,) weight gave (1,))."""
        if self.weight.data.size == 1:
            return self.weight.data.reshape(())
        return self.weight.data.reshape((self.weight.data.size,) + (1,) * (ndim - 2))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "PReLU")
        channels = self.weight.data.size
        if channels > 1 and (x.ndim < 2 or x.shape[1] != channels):
            raise ValueError(
                f"PReLU(num_parameters={channels}): expected input (N, {channels}, *), got {x.shape} (the "
                "weight's slopes, one per channel)"
            )
        return x.astype(self.weight.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
