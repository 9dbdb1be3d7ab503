"""Root-mean-square normalisation: each sample times the inverse RMS of its last dims, as torch.nn.RMSNorm."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.dtypes import as_floating, factory_dtype
from minitorch.functional import rms_norm_core
from minitorch.layers._redraw import check_writable
from minitorch.layers.layernorm import check_normalized_shape
from minitorch.module import Module, Parameter


class RMSNorm(Module):
    """Divide by the root mean square over the trailing ``normalized_shape`` dims, as torch.nn.RMSNorm.

    Shapes:   x (*, *S)   weight S = normalized_shape   y (*, *S)
              statistics run over the last len(S) axes: m = prod(S) values per sample
    Forward:  r     = 1 / sqrt(mean(x**2, axes) + eps)       (*, 1...)   cached
              x_hat = x * r                                              cached
              y     = x_hat * weight                          (y = x_hat if elementwise_affine=False)
    Backward: dweight = sum(dy * x_hat, leading axes)       S   accumulated into weight.grad
              dx_hat  = dy * weight
              dx = r * (dx_hat - x_hat * mean(dx_hat * x_hat, axes))      (*, *S)
              backward_params computes dweight, backward_input dx; backward runs both.
    eps=None (the default, as torch's): the machine epsilon of the dtype computed in
              (np.finfo(dtype).eps: 1.19e-7 for float32, 2.2e-16 for float64), read at every call.
    As torch, no rescaling guards x**2: in float32 |x| above ~1.8e19 overflows it (y = 0 there, as torch).
    dtypes as torch's (functional.rms_norm): r and x_hat in x's dtype, whatever the weight's; y =
              x_hat * weight in the wider of the two, cast to x's dtype (y, dx: x's dtype);
              dweight summed in the wider dtype, then cast to the weight's. A float64 input to a
              float32 RMSNorm gives a float64 y, as torch (not the weight's dtype, as Linear's).
    Init:     weight = 1 (no bias, as torch); ``reset_parameters()`` sets it so again, in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        norm = RMSNorm(4)
        y = norm(np.random.randn(2, 4))           # each row: mean of squares ~1
        dx = norm.backward(np.ones((2, 4)))
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = check_normalized_shape(normalized_shape, "RMSNorm")
        self.eps = None if eps is None else check_number(eps, "RMSNorm", "eps", 0)
        self.elementwise_affine = check_bool(elementwise_affine, "RMSNorm", "elementwise_affine")
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty(self.normalized_shape, dtype)) if elementwise_affine else None
        self.reset_parameters()
        self._x_hat: np.ndarray | None = None
        self._r: np.ndarray | None = None
        self._norm_axes: tuple[int, ...] | None = None  # from the normalized_shape the forward call read

    def reset_parameters(self) -> None:
        """weight = 1, in place (as torch.nn.RMSNorm's; nothing drawn)."""
        check_writable(self)
        if self.weight is not None:
            self.weight.data[...] = 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._norm_axes = axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        eps = np.finfo(x.dtype).eps if self.eps is None else check_number(self.eps, "RMSNorm", "eps")
        x_hat, r = rms_norm_core(x, axes, eps)
        self._x_hat, self._r = x_hat, r
        if self.weight is None:
            return x_hat.copy()  # the caller's own: its writes cannot reach the backward
        return (x_hat * self.weight.data).astype(x.dtype, copy=False)

    def backward_params(self, dy: np.ndarray) -> None:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        # w.r.t. parameters
        if self.weight is not None:
            w = self.weight.data
            wide = dy.astype(np.promote_types(dy.dtype, w.dtype), copy=False)
            dweight = np.sum(wide * x_hat, axis=tuple(range(self._norm_axes[0])))
            self.weight.accumulate_grad(dweight.astype(w.dtype, copy=False))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        # w.r.t. input
        dx_hat = dy if self.weight is None else (dy * self.weight.data).astype(dy.dtype, copy=False)
        axes = self._norm_axes
        return self._r * (dx_hat - x_hat * np.mean(dx_hat * x_hat, axis=axes, keepdims=True))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "RMSNorm")
        shape = self.normalized_shape  # read at every forward, as torch's (an edit counts)
        if not isinstance(shape, (tuple, list)) or not shape or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in shape):
            raise ValueError(f"RMSNorm: normalized_shape must be a non-empty tuple of ints, got {shape!r}")
        shape = tuple(int(d) for d in shape)
        if self.weight is not None and self.weight.shape != shape:
            raise ValueError(  # torch's check: the weight's shape is normalized_shape
                f"RMSNorm: expected weight of the shape normalized_shape={shape}, got {self.weight.shape}: "
                f"set normalized_shape back to {self.weight.shape}, or build a RMSNorm({shape})"
            )
        self.normalized_shape = shape
        k = len(shape)
        if x.ndim < k or x.shape[x.ndim - k :] != shape:
            raise ValueError(
                f"RMSNorm(normalized_shape={shape}): expected input (*, {', '.join(map(str, shape))}), "
                f"got {x.shape}"
            )
        return x  # computed in x's own dtype, as torch's (not the weight's): see the class docstring

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
