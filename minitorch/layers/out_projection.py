"""The output projection of attention, with PyTorch's (out, in) weight layout and names."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minitorch.checks import check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.layers._redraw import redraw_uniform
from minitorch.module import Module, Parameter


class OutProjection(Module):
    """The output projection of attention: y = x @ weight.T + bias, with PyTorch's (out, in) layout.

    (torch's out_proj is a ``NonDynamicallyQuantizableLinear``: a Linear whose weight is (out, in);
    MiniTorch's ``Linear`` stores W (in, out), so attention keeps this small twin with torch's names.)
    Shapes:   x (*, in)   weight (out, in)   bias (out,)   y (*, out)
    Forward:  y = x @ weight.T + bias
    Backward: dweight = dy.T @ x          (out, in)  accumulated into weight.grad   (dy, x as 2-D)
              dbias   = dy.sum(axis=0)    (out,)     accumulated into bias.grad
              dx      = dy @ weight       (*, in)    returned
    Init:     weight ~ U(-k, k), k = 1/sqrt(in); bias = 0 (MultiheadAttention zeroes it, as torch);
              ``reset_parameters()`` redraws weight and bias ~ U(-k, k), as torch's (a Linear's)
    Example:
        proj = OutProjection(4, 4)
        y = proj(np.ones((2, 4)));  dx = proj.backward(np.ones((2, 4)))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = check_positive_int(in_features, "OutProjection", "in_features")
        self.out_features = check_positive_int(out_features, "OutProjection", "out_features")
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        redraw_uniform(self, ("weight",), self._bound())
        self.bias = Parameter(np.zeros(self.out_features, dtype)) if bias else None
        self._x: np.ndarray | None = None

    def reset_parameters(self) -> None:
        """Redraw weight, then bias, ~ U(-k, k), k = 1/sqrt(in), in place: torch's out_proj is a Linear,
        and this is Linear.reset_parameters (the bias drawn too, not zeroed: only MultiheadAttention's
        constructor and ``_reset_parameters`` zero it)."""
        redraw_uniform(self, ("weight", "bias"), self._bound())

    def _bound(self) -> float:
        return 1.0 / math.sqrt(self.in_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "OutProjection")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"OutProjection(in_features={self.in_features}): expected input (*, {self.in_features}), "
                f"got {x.shape}"
            )
        x = x.astype(parameter_dtype(self), copy=False)  # (TypeError if weight's and bias's differ)
        self._x = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward_params(self, dy: np.ndarray) -> None:
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape[:-1] + (self.out_features,), self.weight.dtype)
        dy2d, x2d = dy.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        self.weight.accumulate_grad(dy2d.T @ x2d)
        if self.bias is not None:
            self.bias.accumulate_grad(dy2d.sum(axis=0))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape[:-1] + (self.out_features,), self.weight.dtype)
        return dy @ self.weight.data

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"
