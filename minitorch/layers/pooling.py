"""Pooling over NCHW images: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (no parameters).

Max and average pooling loop over the kh*kw kernel offsets only: tap (i, j) of every window at
once is the strided slice xp[:, :, rows, cols] (see ``_offsets``), never a loop over pixels.
Every pooling layer also takes one unbatched image (C, H, W) and returns (C, OH, OW), as torch.

Window span (MaxPool2d's dilation dh; 1 for the others): span_h = dh*(kh - 1) + 1, likewise span_w.
ceil_mode (torch's rule): OH = ceil((H + 2*ph - span_h) / sh) + 1, minus 1 if that last window would
start in the bottom padding ((OH - 1)*sh >= H + ph), so every window starts inside the input or
the top padding; likewise OW. The last window may then reach past the padding: the input is padded
by eh = max((OH - 1)*sh + span_h - (H + 2*ph), 0) more rows at the bottom (and ew columns on the
right), which no maximum picks and no average counts.

MaxPool2d and AvgPool2d read kernel_size, stride, padding (and dilation, divisor_override) at every
forward, as torch: a value set after construction counts. kernel_size, stride or dilation set
between a forward and its backward makes backward raise (its taps need the forward's).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from minitorch.checks import check_bool, check_output_size, check_positive_int
from minitorch.dtypes import as_floating
from minitorch.layers._im2col import (
    _check_fits,
    _check_settings_kept,
    _offsets,
    _output_size,
    _pad,
    _pair,
    _settings,
    _unpad,
)
from minitorch.module import Module


class _Pool2d(Module):
    """Shared argument handling of MaxPool2d and AvgPool2d (kernel, stride, padding, ceil_mode)."""

    _dilation = (1, 1)  # MaxPool2d's own dilation replaces it
    _reread = ("kernel_size", "stride")  # what backward reads again (MaxPool2d: and dilation)

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode = check_bool(ceil_mode, type(self).__name__, "ceil_mode")
        self._xp_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._xpads: tuple[int, int, int, int] | None = None
        self._unbatched: bool | None = None
        self._read: tuple[object, ...] | None = None  # the forward's values of _reread

    def _read_geometry(self) -> None:
        """kernel_size, stride, padding (and MaxPool2d's dilation) as they are now, made (h, w) pairs.

        torch reads these attributes at every forward, so a value set after construction counts:
        an int becomes a pair (as torch's functional takes it), stride None the kernel size, and a
        bad value, or padding over half the kernel, raises (torch's rule, checked at its forward).
        """
        who = type(self).__name__
        self.kernel_size = _pair(self.kernel_size, "kernel_size", who)
        self.stride = self.kernel_size if self.stride is None else _pair(self.stride, "stride", who)
        self.padding = _pair(self.padding, "padding", who, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{who}: padding must be at most half the kernel size (as torch), got "
                f"padding={self.padding}, kernel_size={self.kernel_size}"
            )

    def _check_input(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """(x as (N, C, H, W), unbatched): an unbatched (C, H, W) image becomes a batch of one."""
        who = type(self).__name__
        x, unbatched = _batched(x, who)
        self._read_geometry()
        self._read = _settings(self, self._reread)
        self._xpads = self.pads_for(x.shape[2:])  # derived once per call; its backward crops by them
        # with ceil_mode's overhang, as torch: a window may hang past an input smaller than the kernel
        _check_fits(f"{who}(kernel_size={self.kernel_size})", x.shape, self._xpads, self.kernel_size,
                    self._dilation)
        return x, unbatched

    def pads_for(self, hw: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding of an H x W image, ceil_mode's overhang included."""
        (H, W), (ph, pw), (sh, sw) = hw, self.padding, self.stride
        (kh, kw), (dh, dw) = self.kernel_size, self._dilation
        if not self.ceil_mode:
            return ph, ph, pw, pw
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        return ph, ph + _ceil_overhang(H, span_h, sh, ph), pw, pw + _ceil_overhang(W, span_w, sw, pw)

    def _taps(self, xp_hw: tuple[int, ...]) -> Iterator[tuple[int, int, slice, slice]]:
        """(i, j, rows, cols) for every kernel offset, over a padded image of size xp_hw = (Hp, Wp)."""
        out_hw = _output_size(xp_hw, self.kernel_size, self.stride, self._dilation)
        return _offsets(self.kernel_size, self.stride, self._dilation, out_hw)

    def _check_dy(self, dy: np.ndarray, y_shape: tuple[int, ...]) -> np.ndarray:
        """dy checked against the output's shape ((C, OH, OW) for an unbatched input), as (N, C, OH, OW)."""
        _check_settings_kept(self, self._reread, self._cached(self._read))
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self._dtype)
        return dy[None] if self._unbatched else dy

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        text += "" if self._dilation == (1, 1) else f", dilation={self._dilation}"
        text += ", return_indices=True" if getattr(self, "return_indices", False) else ""
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool2d):
    """Maximum over each kh x kw window (taps dh, dw apart: dilation), as torch.nn.MaxPool2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y, indices (N, C, OH, OW) or (C, OH, OW)
              OH = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1, likewise OW; ceil_mode: see the module
              docstring (padding at most kh // 2, kw // 2, as torch)
    Forward:  xp = pad x with -inf (ceil_mode: and the overhang)  (N, C, Hp, Wp)
              y[n, c, oh, ow] = max_{i,j} xp[n, c, oh*sh + i*dh, ow*sw + j*dw]
              t = argmax: the window offset t = i*kw + j of the first maximum in row-major order
              return_indices=True: returns (y, indices), indices int64 = the maximum's place in the
              unpadded H x W plane, (oh*sh + i*dh - ph) * W + (ow*sw + j*dw - pw), as torch
              (MaxUnpool2d's input)
    Backward: dxp[n, c, oh*sh + i*dh, ow*sw + j*dw] += dy[n, c, oh, ow] where t == i*kw + j
              dx = dxp without its padded border                  (N, C, H, W)
              The gradient goes to exactly one position per window, the first maximum, as torch
              (ties: an all-equal window sends it to its top-left element, never split). A padded
              position is never chosen; a window holding NaN sends it to its last NaN (torch's rule).
              With return_indices=True, backward takes dy for y alone: dy, or (dy, None) (the
              indices are integers: no gradient); a module after it in a Sequential gets the tuple,
              as in torch, so it goes last or in a hand-written forward.
              A window of padding only (possible with dilation) gives y = -inf, as torch's forward,
              and its index is torch's (the first tap moved inside, which may lie past the row's end).
              It read no pixel, so it sends no gradient; torch's backward writes its dy at that
              index (onto another row's pixel, or past the input's end), so no result can match
              torch's: backward raises a ValueError if dy there is not 0 (a ReLU after the pool
              gives 0 there, and then dx is torch's).
    Cache:    t as the smallest unsigned int dtype (uint8 up to 256 taps), not x.
    Example:
        pool = MaxPool2d(2)
        y = pool(np.arange(16.0).reshape(1, 1, 4, 4))    # [[[[5, 7], [13, 15]]]]
        dx = pool.backward(np.ones_like(y))              # 1 at each maximum, 0 elsewhere
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self._read_geometry()
        self.return_indices = check_bool(return_indices, "MaxPool2d", "return_indices")
        self._argmax: np.ndarray | None = None
        self._alone: np.ndarray | None = None  # (OH, OW) windows of padding only, None if there are none

    _reread = ("kernel_size", "stride", "dilation")

    @property
    def _dilation(self) -> tuple[int, int]:  # type: ignore[override]
        return _pair(self.dilation, "dilation", "MaxPool2d")

    def _read_geometry(self) -> None:
        self.dilation = self._dilation
        super()._read_geometry()

    def forward(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        x, unbatched = self._check_input(x)
        xp = _pad(x, self._xpads, value=-np.inf)
        self._xp_shape, self._dtype, self._unbatched = xp.shape, x.dtype, unbatched
        taps = [xp[:, :, rows, cols] for _, _, rows, cols in self._taps(xp.shape[2:])]
        y = taps[0].copy()
        for tap in taps[1:]:
            np.maximum(y, tap, out=y)
        self._argmax = t = self._first_argmax(taps, y, x.shape)
        self._alone = self._padding_only(x.shape)
        self._with_indices = self.return_indices  # read at every forward: its backward takes that output's dy
        if not self._with_indices:
            return y[0] if unbatched else y
        indices = self._flat_indices(t, x.shape)
        return (y[0], indices[0]) if unbatched else (y, indices)

    def backward(self, dy: np.ndarray | tuple[np.ndarray | None, None]) -> np.ndarray:
        t = self._cached(self._argmax)
        y_shape = t.shape[1:] if self._unbatched else t.shape
        dy = self._check_dy(grad_of_y(dy, self._with_indices, "MaxPool2d", y_shape, self._dtype), t.shape)
        self._check_no_gradient_on_padding_only_windows(dy)
        # w.r.t. input
        dxp = np.zeros(self._xp_shape, dtype=dy.dtype)
        for i, j, rows, cols in self._taps(self._xp_shape[2:]):
            dxp[:, :, rows, cols] += np.where(t == i * self.kernel_size[1] + j, dy, 0)
        dx = _unpad(dxp, self._xpads)
        return dx[0] if self._unbatched else dx

    def _flat_indices(self, t: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
        """indices (N, C, OH, OW) int64: tap t's place in the unpadded H x W plane (see the docstring)."""
        W, kw, (sh, sw), (dh, dw) = x_shape[3], self.kernel_size[1], self.stride, self.dilation
        top, left = self._xpads[0], self._xpads[2]
        OH, OW = t.shape[2:]
        i, j = np.divmod(t.astype(np.int64), kw)
        rows = np.arange(OH).reshape(OH, 1) * sh - top + i * dh
        cols = np.arange(OW) * sw - left + j * dw
        indices = rows * W + cols
        alone = self._alone
        if alone is not None:  # a window of padding only: torch's index, its first tap moved inside
            r0 = _first_inside(np.arange(OH) * sh - top, dh)
            c0 = _first_inside(np.arange(OW) * sw - left, dw)
            indices[..., alone] = (r0.reshape(OH, 1) * W + c0)[alone]
        return indices

    def _padding_only(self, x_shape: tuple[int, ...]) -> np.ndarray | None:
        """(OH, OW) True where a window reads padding only (possible with dilation); None if none does."""
        real = self._real_taps(x_shape)
        if real is None:
            return None
        alone = ~np.logical_or.reduce(real)
        return alone if alone.any() else None

    def _check_no_gradient_on_padding_only_windows(self, dy: np.ndarray) -> None:
        """ValueError if dy is not 0 at a window of padding only: torch's backward has no defined result."""
        alone = self._alone
        if alone is None or not (dy[..., alone] != 0).any():
            return
        H, W = (p - a - b for p, a, b in zip(self._xp_shape[2:], self._xpads[::2], self._xpads[1::2],
                                              strict=True))
        raise ValueError(
            f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}): {int(alone.sum())} of its windows over the {H}x{W} input read "
            "padding only (their output is -inf, as torch's) and got a nonzero gradient, which no input "
            "can take; torch's backward writes it outside the window (onto another row's pixel or past "
            "the input's end), so no result matches torch's. Use less padding or dilation (or a larger "
            "input) so that every window reads a pixel"
        )

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
        if not any(self._xpads):
            return None
        real = _pad(np.ones((1, 1) + x_shape[2:], dtype=bool), self._xpads, value=False)
        return [real[0, 0, rows, cols] for _, _, rows, cols in self._taps(real.shape[2:])]


class AvgPool2d(_Pool2d):
    """Mean over each kh x kw window, as torch.nn.AvgPool2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y (N, C, OH, OW) or (C, OH, OW)
              OH = (H + 2*ph - kh) // sh + 1, likewise OW; ceil_mode: see the module docstring
    Forward:  xp = pad x with 0 (ceil_mode: and the overhang)    (N, C, Hp, Wp)
              counted = 1 on the padded image (H + 2*ph, W + 2*pw) if count_include_pad (the
                        default), else 1 on the input pixels only; 0 on the ceil_mode overhang
              div[oh, ow] = sum_{i,j} counted[oh*sh + i, ow*sw + j]       (OH, OW)
                          = divisor_override if it is given             (kh*kw in the plain case)
              y[n, c, oh, ow] = sum_{i,j} xp[n, c, oh*sh + i, ow*sw + j] / div[oh, ow]
    Backward: dxp[n, c, oh*sh + i, ow*sw + j] += dy[n, c, oh, ow] / div[oh, ow]   for every tap (i, j)
              dx = dxp without its padding and overhang           (N, C, H, W)
    Cache:    div (OH, OW) and the input's shape and dtype.
    Example:
        pool = AvgPool2d(2)
        y = pool(np.arange(16.0).reshape(1, 1, 4, 4))    # [[[[2.5, 4.5], [10.5, 12.5]]]]
        dx = pool.backward(np.ones_like(y))              # 0.25 everywhere
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = check_bool(count_include_pad, "AvgPool2d", "count_include_pad")
        self.divisor_override = divisor_override
        self._read_geometry()
        self._div: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, unbatched = self._check_input(x)
        xp = _pad(x, self._xpads)
        self._xp_shape, self._dtype, self._unbatched = xp.shape, x.dtype, unbatched
        self._div = div = self.divisor(x.shape[2:], x.dtype, self._xpads)
        taps = (xp[:, :, rows, cols] for _, _, rows, cols in self._taps(xp.shape[2:]))
        y = next(taps).copy()
        for tap in taps:
            y += tap
        y /= div
        return y[0] if unbatched else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        div = self._cached(self._div)
        N, C, _, _ = self._xp_shape
        dy = self._check_dy(dy, (N, C, *div.shape))
        # w.r.t. input
        share = dy / div
        dxp = np.zeros(self._xp_shape, dtype=self._dtype)
        for _, _, rows, cols in self._taps(self._xp_shape[2:]):
            dxp[:, :, rows, cols] += share
        dx = _unpad(dxp, self._xpads)
        return dx[0] if self._unbatched else dx

    def _read_geometry(self) -> None:
        super()._read_geometry()
        if self.divisor_override is not None:  # torch refuses 0 at its forward
            self.divisor_override = check_positive_int(self.divisor_override, "AvgPool2d", "divisor_override")

    def divisor(self, hw: tuple[int, ...], dtype: np.dtype,
                pads: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """div (OH, OW) for an H x W image: divisor_override, else each window's count of counted places
        (``pads``: ``pads_for(hw)``, when the caller has them)."""
        (H, W), (ph, pw) = hw, self.padding
        top, bottom, left, right = self.pads_for(hw) if pads is None else pads
        counted = np.zeros((top + H + bottom, left + W + right), dtype=dtype)
        if self.count_include_pad:
            counted[: H + 2 * ph, : W + 2 * pw] = 1  # the padding counts, the ceil_mode overhang never
        else:
            counted[top : top + H, left : left + W] = 1
        div = sum(counted[rows, cols] for _, _, rows, cols in self._taps(counted.shape))
        return div if self.divisor_override is None else np.full_like(div, self.divisor_override)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        text += "" if self.count_include_pad else ", count_include_pad=False"
        return text + ("" if self.divisor_override is None else f", divisor_override={self.divisor_override}")


class AdaptiveAvgPool2d(Module):
    """Mean over adaptive bins giving a fixed output size, as torch.nn.AdaptiveAvgPool2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y (N, C, OH, OW) or (C, OH, OW)
              output_size = (OH, OW); None keeps that input size (read at every forward, as torch)
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
        check_output_size(output_size, "AdaptiveAvgPool2d")
        self.output_size = output_size
        self._x_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._unbatched: bool | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, unbatched = _batched(x, "AdaptiveAvgPool2d")
        self._x_shape, self._dtype, self._unbatched = x.shape, x.dtype, unbatched
        self._y_hw = out_hw = self._out_hw(x.shape)  # output_size as this call read it: its backward's
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        for i, j, (h0, h1), (w0, w1) in self._bins(x.shape, out_hw):
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
        return y[0] if unbatched else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_shape = self._cached(self._x_shape)
        y_shape = x_shape[:2] + self._y_hw
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self._dtype)
        dy = dy[None] if self._unbatched else dy
        # w.r.t. input
        dx = np.zeros(x_shape, dtype=self._dtype)
        for i, j, (h0, h1), (w0, w1) in self._bins(x_shape, self._y_hw):
            dx[:, :, h0:h1, w0:w1] += dy[:, :, i, j, None, None] / ((h1 - h0) * (w1 - w0))
        return dx[0] if self._unbatched else dx

    @property
    def _size(self) -> tuple[int | None, int | None]:
        """output_size as it is now, a pair (torch reads it at every forward)."""
        return check_output_size(self.output_size, "AdaptiveAvgPool2d")

    def _out_hw(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        H, W = x_shape[2:]
        return (H if self._size[0] is None else self._size[0], W if self._size[1] is None else self._size[1])

    @staticmethod
    def _bins(x_shape: tuple[int, ...], out_hw: tuple[int, int],
              ) -> Iterator[tuple[int, int, tuple[int, int], tuple[int, int]]]:
        """(i, j, (h0, h1), (w0, w1)) per output pixel (i, j): the input rows and columns it averages."""
        (H, W), (OH, OW) = x_shape[2:], out_hw
        for i in range(OH):
            for j in range(OW):
                yield i, j, _bin(i, H, OH), _bin(j, W, OW)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _bin(i: int, in_size: int, out_size: int) -> tuple[int, int]:
    """Bin i of ``out_size`` bins over ``in_size``: [floor(i*in/out), ceil((i+1)*in/out))."""
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)


def _batched(x: np.ndarray, who: str) -> tuple[np.ndarray, bool]:
    """(x as (N, C, H, W), unbatched): one unbatched image (C, H, W) becomes a batch of one, as torch.
    An empty image (H or W 0) is a ValueError (``check_image_not_empty``)."""
    x = as_floating(x, who)
    if x.ndim not in (3, 4):
        raise ValueError(f"{who}: expected input (N, C, H, W) or unbatched (C, H, W), got {x.shape}")
    check_image_not_empty(x.shape, who)
    return (x[None], True) if x.ndim == 3 else (x, False)


def check_image_not_empty(shape: tuple[int, ...], who: str) -> None:
    """A ValueError naming ``who`` for an image of height or width 0, which torch's pools and unpools
    refuse (a window would read padding only, a bin nothing; an empty batch or C = 0 is fine)."""
    if 0 in shape[-2:]:
        raise ValueError(f"{who}: expected a non-empty image (H, W >= 1), got input {shape} (torch "
                         "refuses an empty image)")


def grad_of_y(grad: object, return_indices: bool, who: str, y_shape: tuple[int, ...],
              dtype: np.dtype) -> object:
    """The gradient of y from a max pool's backward argument: dy, or (dy, None) with return_indices
    (the indices are integers: no gradient; dy None: zeros of y's shape)."""
    if not isinstance(grad, (tuple, list)):
        return grad  # a bare array is the gradient of the first output (CONTRACT 4)
    if not return_indices or len(grad) != 2 or grad[1] is not None:
        expected = "dy, or (dy, None) (the indices get no gradient)" if return_indices else "dy"
        got = f"a {type(grad).__name__} of {len(grad)} items"
        raise ValueError(f"{who}.backward: expected {expected}, got {got}")
    return np.zeros(y_shape, dtype=dtype) if grad[0] is None else grad[0]


def _first_inside(starts: np.ndarray, step: int) -> np.ndarray:
    """Each window start moved up by ``step`` until it is >= 0 (torch's first tap inside the input)."""
    return np.where(starts < 0, starts + -(starts // step) * step, starts)


def _ceil_overhang(size: int, k: int, s: int, p: int) -> int:
    """Rows past the padding that ceil_mode's last window, of span k, reaches (see the module docstring)."""
    out = -(-(size + 2 * p - k) // s) + 1
    if (out - 1) * s >= size + p:  # torch: the last window must start inside the input or the top padding
        out -= 1
    return max((out - 1) * s + k - (size + 2 * p), 0)
