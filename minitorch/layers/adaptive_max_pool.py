"""AdaptiveMaxPool2d: the maximum over adaptive bins that give a fixed output size (no parameters)."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_bool, check_output_size
from minitorch.dtypes import as_floating
from minitorch.layers.pooling import check_image_not_empty, grad_of_y
from minitorch.module import Module


class AdaptiveMaxPool2d(Module):
    """Maximum over adaptive bins giving a fixed output size, as torch.nn.AdaptiveMaxPool2d.

    Shapes:   x (N, C, H, W) or unbatched (C, H, W)   y (N, C, OH, OW) or (C, OH, OW)
              output_size = (OH, OW); None keeps that input size (read at every forward, as torch)
    Forward:  bin i of an axis of length H covers [floor(i*H/OH), ceil((i+1)*H/OH)) (torch's bins,
              the same as AdaptiveAvgPool2d's; neighbouring bins may overlap by one pixel)
              y[n, c, i, j] = max of x[n, c] over bin (i, j)
              t[n, c, i, j] = position of the first maximum in the bin, row-major (cached); a bin
              holding NaN: its last NaN (torch's scan, val > max or isnan(val))
              return_indices=True: returns (y, indices), indices int64 (N, C, OH, OW) = the maximum's
              place in the H x W plane, (h0 + t // bin_w) * W + (w0 + t % bin_w), as torch
    Backward: dx[n, c, position t[n, c, i, j] of bin (i, j)] += dy[n, c, i, j]      (N, C, H, W)
              one element per bin gets the gradient, as torch; overlapping bins add up.
              With return_indices=True it takes dy for y alone: dy, or (dy, None).
    Loops over the OH*OW bins (never over samples or channels).
    Example:
        pool = AdaptiveMaxPool2d(1)
        y = pool(np.arange(12.0).reshape(1, 1, 3, 4))   # [[[[11]]]]
        dx = pool.backward(np.ones_like(y))             # 1 at the last pixel, 0 elsewhere
    """

    def __init__(self, output_size: int | tuple[int | None, int | None] | None,
                 return_indices: bool = False) -> None:
        super().__init__()
        check_output_size(output_size, "AdaptiveMaxPool2d")
        self.output_size = output_size
        self.return_indices = check_bool(return_indices, "AdaptiveMaxPool2d", "return_indices")
        self._x_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._argmax: np.ndarray | None = None
        self._unbatched: bool | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "AdaptiveMaxPool2d")
        if x.ndim not in (3, 4):
            raise ValueError(
                f"AdaptiveMaxPool2d: expected input (N, C, H, W) or unbatched (C, H, W), got {x.shape}"
            )
        check_image_not_empty(x.shape, "AdaptiveMaxPool2d")
        unbatched = x.ndim == 3
        x = x[None] if unbatched else x  # one image: a batch of one, as torch
        N, C, H, W = x.shape
        OH = H if self._size[0] is None else self._size[0]
        OW = W if self._size[1] is None else self._size[1]
        y = np.empty((N, C, OH, OW), dtype=x.dtype)
        t = np.empty((N, C, OH, OW), dtype=np.int64)
        for i, j, rows, cols in _bins(OH, OW, H, W):
            window = x[:, :, rows, cols].reshape(N, C, (rows.stop - rows.start) * (cols.stop - cols.start))
            t[:, :, i, j] = _first_max_last_nan(window)
            y[:, :, i, j] = np.take_along_axis(window, t[:, :, i, j, None], axis=2)[..., 0]
        self._x_shape, self._dtype, self._argmax, self._unbatched = x.shape, x.dtype, t, unbatched
        self._with_indices = self.return_indices  # read at every forward: its backward takes that output's dy
        if not self._with_indices:
            return y[0] if unbatched else y
        indices = _flat_indices(t, H, W)
        return (y[0], indices[0]) if unbatched else (y, indices)

    def backward(self, dy: np.ndarray | tuple[np.ndarray | None, None]) -> np.ndarray:
        t = self._cached(self._argmax)
        y_shape = t.shape[1:] if self._unbatched else t.shape
        dy = grad_of_y(dy, self._with_indices, "AdaptiveMaxPool2d", y_shape, self._dtype)
        dy = self._check_grad(dy, y_shape, self._dtype)
        dy = dy[None] if self._unbatched else dy
        N, C, H, W = self._x_shape
        OH, OW = t.shape[2:]
        # w.r.t. input
        dx = np.zeros(self._x_shape, dtype=dy.dtype)
        for i, j, rows, cols in _bins(OH, OW, H, W):
            h, w = rows.stop - rows.start, cols.stop - cols.start
            chosen = np.arange(h * w) == t[:, :, i, j, None]           # (N, C, h*w) one-hot
            dx[:, :, rows, cols] += (chosen * dy[:, :, i, j, None]).reshape(N, C, h, w)
        return dx[0] if self._unbatched else dx

    @property
    def _size(self) -> tuple[int | None, int | None]:
        """output_size as it is now, a pair (torch reads it at every forward)."""
        return check_output_size(self.output_size, "AdaptiveMaxPool2d")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}" + (", return_indices=True" if self.return_indices else "")


def _first_max_last_nan(window: np.ndarray) -> np.ndarray:
    """(N, C) position along the last axis of the first maximum, or of the last NaN where there is
    one (np.argmax alone would give the first NaN)."""
    t = np.argmax(window, axis=-1)
    nan = np.isnan(window)
    if nan.any():  # rare
        last = window.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
        t = np.where(nan.any(axis=-1), last, t)
    return t


def _flat_indices(t: np.ndarray, H: int, W: int) -> np.ndarray:
    """indices (N, C, OH, OW) int64: position t within bin (i, j), as a place in the H x W plane."""
    indices = np.empty(t.shape, dtype=np.int64)
    for i, j, rows, cols in _bins(*t.shape[2:], H, W):
        r, c = np.divmod(t[:, :, i, j], cols.stop - cols.start)
        indices[:, :, i, j] = (rows.start + r) * W + cols.start + c
    return indices


def _bins(OH: int, OW: int, H: int, W: int):
    """(i, j, rows, cols) for every output bin: rows = [floor(i*H/OH), ceil((i+1)*H/OH)), likewise cols."""
    for i in range(OH):
        rows = slice((i * H) // OH, -((-(i + 1) * H) // OH))
        for j in range(OW):
            yield i, j, rows, slice((j * W) // OW, -((-(j + 1) * W) // OW))
