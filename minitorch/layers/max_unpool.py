"""MaxUnpool2d: MaxPool2d's maxima put back in place, zeros elsewhere (no parameters)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.layers._im2col import _pair
from minitorch.layers.pooling import check_image_not_empty
from minitorch.module import Module


class MaxUnpool2d(Module):
    """The partial inverse of MaxPool2d(return_indices=True), as torch.nn.MaxUnpool2d.

    Shapes:   x, indices (N, C, H, W) or (C, H, W); indices int64 places in the output's OH x OW plane
              y (N, C, OH, OW) or (C, OH, OW):  OH = (H - 1)*sh - 2*ph + kh, likewise OW, or the last
              two entries of output_size (each within stride of that default, strictly, as torch);
              an empty default output is a ValueError (torch would drop the values silently)
    Forward:  y = zeros;  y[n, c].flat[indices[n, c, h, w]] = x[n, c, h, w]
              (an index outside [0, OH*OW) is a ValueError; a repeated index keeps the last value
              written; torch keeps one of them, unspecified (its CPU build may keep a middle one),
              so the two agree where MaxPool2d's indices repeat: with equal values)
    Backward: dx[n, c, h, w] = dy[n, c].flat[indices[n, c, h, w]]      (N, C, H, W)
              returns (dx, None): the indices are integers (no gradient). As torch, every element
              gets dy at its index, also one whose value a repeated index overwrote.
    Example:
        pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
        y, indices = pool(np.arange(16.0).reshape(1, 1, 4, 4))
        z = unpool(y, indices)                            # 5, 7, 13, 15 in place, zeros elsewhere
        dy_pooled, _ = unpool.backward(np.ones_like(z))   # (1, 1, 2, 2) ones
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxUnpool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "MaxUnpool2d")
        self.padding = _pair(padding, "padding", "MaxUnpool2d", minimum=0)
        self._indices: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._unbatched: bool | None = None

    def forward(self, x: np.ndarray, indices: np.ndarray,
                output_size: Sequence[int] | None = None) -> np.ndarray:
        x, unbatched = self._check_input(x)
        idx = self._check_indices(indices, x.shape, unbatched)
        N, C = x.shape[:2]
        out_hw = self.output_hw(x.shape[2:], output_size)
        plane = out_hw[0] * out_hw[1]
        window_count = x.shape[2] * x.shape[3]  # by name: -1 cannot size an empty batch
        flat = idx.reshape(N, C, window_count)
        if flat.size and (flat.min() < 0 or flat.max() >= plane):
            bad = flat[(flat < 0) | (flat >= plane)][0]
            raise ValueError(f"MaxUnpool2d: index {bad} is outside the output plane {out_hw[0]}x{out_hw[1]}")
        y = np.zeros((N, C, plane), dtype=x.dtype)
        np.put_along_axis(y, flat, x.reshape(N, C, window_count), axis=2)
        self._indices, self._x_shape, self._unbatched = flat, x.shape, unbatched
        self._y_shape, self._dtype = (N, C, *out_hw), x.dtype
        y = y.reshape(N, C, *out_hw)
        return y[0] if unbatched else y

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, None]:
        flat = self._cached(self._indices)
        y_shape = self._y_shape
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self._dtype)
        dy = dy[None] if self._unbatched else dy
        # w.r.t. input
        plane = y_shape[2] * y_shape[3]
        dx = np.take_along_axis(dy.reshape(*y_shape[:2], plane), flat, axis=2).reshape(self._x_shape)
        return (dx[0] if self._unbatched else dx), None

    def output_hw(self, hw: tuple[int, ...], output_size: Sequence[int] | None) -> tuple[int, int]:
        """(OH, OW): torch's default (H - 1)*sh - 2*ph + kh, or output_size checked against it."""
        # read at every call, as torch's F.max_unpool2d (an edit counts; an int means both axes)
        kernel = _pair(self.kernel_size, "kernel_size", "MaxUnpool2d")
        stride = kernel if self.stride is None else _pair(self.stride, "stride", "MaxUnpool2d")
        padding = _pair(self.padding, "padding", "MaxUnpool2d", minimum=0)
        default = [(size - 1) * s - 2 * p + k
                   for size, k, s, p in zip(hw, kernel, stride, padding, strict=True)]
        if output_size is None:
            if min(default) < 1:
                raise ValueError(f"MaxUnpool2d: the output would be {default[0]}x{default[1]} for input {hw} "
                                 "(empty): give output_size")
            return default[0], default[1]
        size = [int(v) for v in output_size]
        size = size[-2:] if len(size) == 4 else size
        if len(size) != 2:
            raise ValueError(f"MaxUnpool2d: output_size has 2 or 4 entries, got {tuple(output_size)}")
        for d, s in enumerate(stride):
            if not default[d] - s < size[d] < default[d] + s:
                raise ValueError(f"MaxUnpool2d: invalid output_size {tuple(output_size)} (dim {d} must be "
                                 f"between {default[d] - s} and {default[d] + s}, exclusive, as torch)")
        return size[0], size[1]

    def _check_input(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        x = as_floating(x, "MaxUnpool2d")
        if x.ndim not in (3, 4):
            raise ValueError(
                f"MaxUnpool2d: expected input (N, C, H, W) or unbatched (C, H, W), got {x.shape}"
            )
        check_image_not_empty(x.shape, "MaxUnpool2d")
        return (x[None], True) if x.ndim == 3 else (x, False)

    def _check_indices(self, indices: np.ndarray, x_shape: tuple[int, ...], unbatched: bool) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(
                f"MaxUnpool2d: indices must be integers (MaxPool2d's int64), got dtype {idx.dtype}"
            )
        idx = idx[None] if unbatched else idx
        if idx.shape != x_shape:
            shape = x_shape[1:] if unbatched else x_shape
            raise ValueError(
                f"MaxUnpool2d: indices must have the input's shape {shape}, got {np.shape(indices)}"
            )
        return idx.astype(np.int64, copy=False)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
