"""Pooling over NCHW images: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (no parameters).

Max and average pooling loop over the kh*kw kernel offsets only: tap (i, j) of every window at
once is the strided slice xp[:, :, rows, cols] (see ``_offsets``), never a loop over pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.layers._im2col import _check_fits, _offsets, _output_size, _pad, _pair, _unpad
from minitorch.module import Module


class _Pool2d(Module):
    """Shared argument handling of MaxPool2d and AvgPool2d (square-or-pair kernel, stride, padding)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        who = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", who)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", who)
        self.padding = _pair(padding, "padding", who, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{who}: padding must be at most half the kernel size (as torch), got "
                f"padding={self.padding}, kernel_size={self.kernel_size}"
            )
        ph, pw = self.padding
        self._pads = (ph, ph, pw, pw)
        self._xp_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        who = type(self).__name__
        x = as_floating(x, who)
        if x.ndim != 4:
            raise ValueError(f"{who}: expected input (N, C, H, W), got {x.shape}")
        _check_fits(f"{who}(kernel_size={self.kernel_size})", x.shape, self._pads, self.kernel_size, (1, 1))
        return x

    def _out_hw(self) -> tuple[int, int]:
        return _output_size(self._xp_shape[2:], self.kernel_size, self.stride, (1, 1))

    def _taps(self) -> Iterator[tuple[int, int, slice, slice]]:
        """(i, j, rows, cols) for every kernel offset, for the cached input's geometry."""
        return _offsets(self.kernel_size, self.stride, (1, 1), self._out_hw())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kh x kw window, as torch.nn.MaxPool2d (dilation 1, floor mode).

    Shapes:   x (N, C, H, W)   y (N, C, OH, OW)   OH = (H + 2*ph - kh) // sh + 1, likewise OW
    Forward:  xp = pad x with -inf                               (N, C, Hp, Wp)
              y[n, c, oh, ow] = max_{i,j} xp[n, c, oh*sh + i, ow*sw + j]
              t = argmax: the window offset t = i*kw + j of the first maximum in row-major order
    Backward: dxp[n, c, oh*sh + i, ow*sw + j] += dy[n, c, oh, ow] where t == i*kw + j
              dx = dxp without its padded border                  (N, C, H, W)
              The gradient goes to exactly one position per window, the first maximum, as torch
              (ties: an all-equal window sends it to its top-left element, never split). A padded
              position is never chosen; a window holding NaN sends it to its last NaN (torch's rule).
    Cache:    t as the smallest unsigned int dtype (uint8 up to 256 taps), not x.
    Example:
        pool = MaxPool2d(2)
        y = pool(np.arange(16.0).reshape(1, 1, 4, 4))    # [[[[5, 7], [13, 15]]]]
        dx = pool.backward(np.ones_like(y))              # 1 at each maximum, 0 elsewhere
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__(kernel_size, stride, padding)
        self._argmax: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        xp = _pad(x, self._pads, value=-np.inf)
        self._xp_shape, self._dtype = xp.shape, x.dtype
        taps = [xp[:, :, rows, cols] for _, _, rows, cols in self._taps()]
        y = taps[0].copy()
        for tap in taps[1:]:
            np.maximum(y, tap, out=y)
        self._argmax = self._first_argmax(taps, y, x.shape)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        t = self._cached(self._argmax)
        dy = self._check_grad(dy, t.shape, self._dtype)
        # w.r.t. input
        dxp = np.zeros(self._xp_shape, dtype=dy.dtype)
        for i, j, rows, cols in self._taps():
            dxp[:, :, rows, cols] += np.where(t == i * self.kernel_size[1] + j, dy, 0)
        return _unpad(dxp, self._pads)

    def _first_argmax(self, taps: list[np.ndarray], y: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
        """t = index of the first tap equal to the window max: t = sum_k prod_{k' <= k} [tap_k' != y].

        The running product counts the taps before the first match (bool and uint8 passes only,
        far cheaper than argmax over a copied windows array). Padded taps never match.
        """
        real = self._real_taps(x_shape)
        t = np.zeros(y.shape, dtype=np.min_scalar_type(len(taps) - 1))
        before = np.ones(y.shape, dtype=bool)
        for k, tap in enumerate(taps[:-1]):
            match = tap == y if real is None else (tap == y) & real[k]
            before &= ~match
            t += before
        nan = np.isnan(y)
        if nan.any():  # rare: torch's scan keeps the last NaN of the window
            for k, tap in enumerate(taps):
                t[nan & np.isnan(tap)] = k
        return t

    def _real_taps(self, x_shape: tuple[int, ...]) -> list[np.ndarray] | None:
        """Per tap, (OH, OW) True where it reads a real pixel; None without padding."""
        if not any(self._pads):
            return None
        real = _pad(np.ones((1, 1) + x_shape[2:], dtype=bool), self._pads, value=False)
        return [real[0, 0, rows, cols] for _, _, rows, cols in self._taps()]


class AvgPool2d(_Pool2d):
    """Mean over each kh x kw window, as torch.nn.AvgPool2d (count_include_pad=True, floor mode).

    Shapes:   x (N, C, H, W)   y (N, C, OH, OW)   OH = (H + 2*ph - kh) // sh + 1, likewise OW
    Forward:  xp = pad x with 0                                  (N, C, Hp, Wp)
              y[n, c, oh, ow] = sum_{i,j} xp[n, c, oh*sh + i, ow*sw + j] / (kh*kw)
              padded zeros count in the divisor (torch's default count_include_pad=True)
    Backward: dxp[n, c, oh*sh + i, ow*sw + j] += dy[n, c, oh, ow] / (kh*kw)   for every tap (i, j)
              dx = dxp without its padded border                  (N, C, H, W)
    Cache:    only the input's shape and dtype.
    Example:
        pool = AvgPool2d(2)
        y = pool(np.arange(16.0).reshape(1, 1, 4, 4))    # [[[[2.5, 4.5], [10.5, 12.5]]]]
        dx = pool.backward(np.ones_like(y))              # 0.25 everywhere
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        xp = _pad(x, self._pads)
        self._xp_shape, self._dtype = xp.shape, x.dtype
        taps = (xp[:, :, rows, cols] for _, _, rows, cols in self._taps())
        y = next(taps).copy()
        for tap in taps:
            y += tap
        y /= self.kernel_size[0] * self.kernel_size[1]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dtype = self._cached(self._dtype)
        N, C, _, _ = self._xp_shape
        dy = self._check_grad(dy, (N, C, *self._out_hw()), dtype)
        # w.r.t. input
        share = dy / (self.kernel_size[0] * self.kernel_size[1])
        dxp = np.zeros(self._xp_shape, dtype=dtype)
        for _, _, rows, cols in self._taps():
            dxp[:, :, rows, cols] += share
        return _unpad(dxp, self._pads)


class AdaptiveAvgPool2d(Module):
    """Mean over adaptive bins giving a fixed output size, as torch.nn.AdaptiveAvgPool2d.

    Shapes:   x (N, C, H, W)   y (N, C, OH, OW)   output_size = (OH, OW); None keeps that input size
    Forward:  bin i of an axis of length H covers rows [h0, h1) = [floor(i*H/OH), ceil((i+1)*H/OH))
              (torch's bins; neighbouring bins may overlap by one row), likewise bin j of W: [w0, w1)
              y[n, c, i, j] = x[n, c, h0:h1, w0:w1].mean()
    Backward: dx[n, c, h0:h1, w0:w1] += dy[n, c, i, j] / ((h1 - h0) * (w1 - w0))   for every bin (i, j)
              (N, C, H, W): each pixel gets the shares of the bins that read it
    A NaN or inf pixel stays in the bins that read it, as torch (one loop over the OH*OW bins, each
    a plain mean of its own pixels). output_size=1 is global average pooling.
    Example:
        gap = AdaptiveAvgPool2d(1)
        y = gap(np.ones((2, 3, 5, 7)))           # (2, 3, 1, 1), all ones
        dx = gap.backward(np.ones_like(y))       # (2, 3, 5, 7), 1/35 each
    """

    def __init__(self, output_size: int | tuple[int | None, int | None] | None) -> None:
        super().__init__()
        pair = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        if len(pair) != 2 or any(
            s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1)
            for s in pair
        ):
            raise ValueError(
                f"AdaptiveAvgPool2d: output_size must be a positive int, None or a pair of them, "
                f"got {output_size!r}"
            )
        self.output_size = output_size
        self._size = tuple(None if s is None else int(s) for s in pair)
        self._x_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "AdaptiveAvgPool2d")
        if x.ndim != 4:
            raise ValueError(f"AdaptiveAvgPool2d: expected input (N, C, H, W), got {x.shape}")
        self._x_shape, self._dtype = x.shape, x.dtype
        y = np.empty(x.shape[:2] + self._out_hw(x.shape), dtype=x.dtype)
        for i, j, (h0, h1), (w0, w1) in self._bins(x.shape):
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_shape = self._cached(self._x_shape)
        dy = self._check_grad(dy, x_shape[:2] + self._out_hw(x_shape), self._dtype)
        # w.r.t. input
        dx = np.zeros(x_shape, dtype=self._dtype)
        for i, j, (h0, h1), (w0, w1) in self._bins(x_shape):
            dx[:, :, h0:h1, w0:w1] += dy[:, :, i, j, None, None] / ((h1 - h0) * (w1 - w0))
        return dx

    def _out_hw(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        H, W = x_shape[2:]
        return (H if self._size[0] is None else self._size[0], W if self._size[1] is None else self._size[1])

    def _bins(self, x_shape: tuple[int, ...]) -> Iterator[tuple[int, int, tuple[int, int], tuple[int, int]]]:
        """(i, j, (h0, h1), (w0, w1)) per output pixel (i, j): the input rows and columns it averages."""
        (H, W), (OH, OW) = x_shape[2:], self._out_hw(x_shape)
        for i in range(OH):
            for j in range(OW):
                yield i, j, _bin(i, H, OH), _bin(j, W, OW)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _bin(i: int, in_size: int, out_size: int) -> tuple[int, int]:
    """Bin i of ``out_size`` bins over ``in_size``: [floor(i*in/out), ceil((i+1)*in/out))."""
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
