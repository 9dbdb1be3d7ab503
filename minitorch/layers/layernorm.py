"""Layer normalisation: standardise each sample over its last dims, then scale and shift."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.functional import standardize, standardize_backward
from minitorch.layers._redraw import check_writable
from minitorch.module import Module, Parameter


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims of each sample, as torch.nn.LayerNorm.

    Shapes:   x (*, *S)   weight, bias S = normalized_shape   y (*, *S)
              statistics run over the last len(S) axes: m = prod(S) values per sample
    Forward:  mean  = x.mean(axes);  var = ((x - mean)**2).mean(axes)     (biased: / m)
              x_hat = (x - mean) / sqrt(var + eps)     (``functional.standardize``: scaled so that
                                                        float32 rows of values ~1e19 do not overflow)
              y     = weight * x_hat + bias                 (y = x_hat if elementwise_affine=False)
    Backward: dweight = sum(dy * x_hat, leading axes)      S   accumulated into weight.grad
              dbias   = sum(dy, leading axes)              S   accumulated into bias.grad
              dx_hat  = dy * weight
              dx = inv_std * (dx_hat - mean(dx_hat, axes) - x_hat * mean(dx_hat * x_hat, axes))   (*, *S)
              backward_params computes dweight and dbias, backward_input dx; backward runs both.
    Init:     weight = 1, bias = 0   (same statistics in training and eval: there are no running stats);
              ``reset_parameters()`` sets them so again, in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        ln = LayerNorm(4)                       # or LayerNorm((3, 4)) for the last two dims
        y = ln(np.random.randn(2, 4))           # each row: mean 0, variance ~1
        dx = ln.backward(np.ones((2, 4)))
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = check_normalized_shape(normalized_shape, "LayerNorm")
        self.eps = check_number(eps, "LayerNorm", "eps", 0)
        self.elementwise_affine = check_bool(elementwise_affine, "LayerNorm", "elementwise_affine")
        bias = check_bool(bias, "LayerNorm", "bias")
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.empty(self.normalized_shape, dtype)) if elementwise_affine and bias else None
        self.reset_parameters()
        self._x_hat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._norm_axes: tuple[int, ...] | None = None  # from the normalized_shape the forward call read

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0, in place (as torch.nn.LayerNorm's; nothing drawn)."""
        check_writable(self)
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._norm_axes = axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        eps = check_number(self.eps, "LayerNorm", "eps")  # read at every call: a number (TypeError if not)
        x_hat, inv_std, _, _ = standardize(x, axes, eps)
        self._x_hat, self._inv_std = x_hat, inv_std
        y = x_hat.copy() if self.weight is None else x_hat * self.weight.data  # (the caller's own)
        return y if self.bias is None else y + self.bias.data

    def backward_params(self, dy: np.ndarray) -> None:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        leading = tuple(range(self._norm_axes[0]))
        # w.r.t. parameters
        if self.weight is not None:
            self.weight.accumulate_grad(np.sum(dy * x_hat, axis=leading))
        if self.bias is not None:
            self.bias.accumulate_grad(dy.sum(axis=leading))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        # w.r.t. input
        dx_hat = dy if self.weight is None else dy * self.weight.data
        return standardize_backward(dx_hat, x_hat, self._inv_std, self._norm_axes)

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "LayerNorm")
        shape = self.normalized_shape  # read at every forward, as torch's (an edit counts)
        if not isinstance(shape, (tuple, list)) or not shape or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a non-empty tuple of ints, got {shape!r}")
        shape = tuple(int(d) for d in shape)
        for p in (self.weight, self.bias):
            if p is not None and p.shape != shape:
                raise ValueError(  # torch's check: the Parameters' shape is normalized_shape
                    f"LayerNorm: expected weight and bias of the shape normalized_shape={shape}, got "
                    f"{p.shape}: set normalized_shape back to {p.shape}, or build a LayerNorm({shape})"
                )
        self.normalized_shape = shape
        k = len(shape)
        if x.ndim < k or x.shape[x.ndim - k :] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm(normalized_shape={self.normalized_shape}): expected input (*, "
                f"{', '.join(map(str, self.normalized_shape))}), got {x.shape}"
            )
        # compute in the parameters' dtype; without parameters, in the input's own floating dtype
        dtype = parameter_dtype(self)  # (TypeError if weight's and bias's differ, as torch)
        return x if dtype is None else x.astype(dtype, copy=False)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
            + ("" if self.bias is not None or not self.elementwise_affine else ", bias=False")
        )


def check_normalized_shape(normalized_shape: Any, who: str) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple of positive ints (an int means one axis), as torch's norms take
    it; anything else a ValueError from ``who`` naming what came."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(
            f"{who}: normalized_shape must be an integer or a non-empty tuple of integers, "
            f"got {normalized_shape!r}"
        )
    return tuple(check_positive_int(d, who, "each dim") for d in shape)
