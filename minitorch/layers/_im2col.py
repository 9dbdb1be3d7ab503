"""Pure NumPy helpers shared by the convolutions and the pooling layers: argument pairs, input checks,
padding, im2col, col2im.

Notation (NCHW): x (N, C, H, W); padded input xp (N, C, Hp, Wp); kernel (kh, kw), stride (sh, sw),
dilation (dh, dw); output size OH = (Hp - dh*(kh-1) - 1) // sh + 1, likewise OW.
Kernel offset (i, j) of output pixel (oh, ow) reads xp[:, :, oh*sh + i*dh, ow*sw + j*dw].
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minitorch.dtypes import as_floating

Pair = tuple[int, int]


def _pair(value: int | tuple[int, int], name: str, who: str, minimum: int = 1) -> Pair:
    """``value`` as an (h, w) pair of ints >= minimum (an int means the same for both)."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in pair
    ):
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _settings(layer: object, names: tuple[str, ...]) -> tuple[object, ...]:
    """The values of ``names`` on ``layer`` now: what a forward call reads, kept for its backward."""
    return tuple(getattr(layer, name) for name in names)


def _check_settings_kept(layer: object, names: tuple[str, ...], read: tuple[object, ...]) -> None:
    """ValueError if an attribute in ``names`` was set, since the forward call that read ``read``, to
    another value: that call's backward would use the new one, where torch's uses the forward's.
    The same value in another form (an int for a pair) is put back in the forward's form."""
    def same(now: object, then: object) -> bool:  # an int for a pair (or a 1-tuple for an int) is a match
        if isinstance(then, tuple) and isinstance(now, int):
            now = (now,) * len(then)
        if isinstance(now, tuple) and len(now) == 1 and isinstance(then, int):
            now = now[0]
        return now == then

    changed = []
    for name, then, now in zip(names, read, _settings(layer, names), strict=True):
        if not same(now, then):
            changed.append(f"{name}={then!r} -> {now!r}")
        elif now != then:  # the same setting in another form (3 for (3, 3)): the form backward reads
            setattr(layer, name, then)
    if changed:
        raise ValueError(
            f"{type(layer).__name__}.backward: {', '.join(changed)} was set between forward and backward; "
            "the gradient of that forward needs the values it read (torch's autograd keeps them): set "
            "the attribute before the forward, or run forward again"
        )


def _check_torch_only(layer: object) -> None:
    """ValueError if ``groups`` or ``padding_mode`` (class attributes 1 and "zeros", as torch's
    defaults) was set to another value: torch's forward reads them, MiniTorch computes only these."""
    for name, supported in (("groups", 1), ("padding_mode", "zeros")):
        value = getattr(layer, name)
        if value != supported:
            raise ValueError(
                f"{type(layer).__name__}: {name}={value!r} was set, but MiniTorch's convolutions compute "
                f"{name}={supported!r} only (torch's forward reads it); set it back to {supported!r}"
            )


def _output_size(padded_hw: Pair, kernel: Pair, stride: Pair, dilation: Pair) -> Pair:
    """(OH, OW): how many windows fit along each axis of the padded input (floor, as torch)."""
    return tuple(  # type: ignore[return-value]
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(padded_hw, kernel, stride, dilation, strict=True)
    )


def _check_conv_input(
    x: object, who: str, in_channels: int, spatial: str, dtype: np.dtype
) -> tuple[np.ndarray, bool]:
    """(x as (N, C, *spatial) in the parameters' dtype, unbatched): a convolution's input check.

    ``spatial`` names the image axes in the error ("H, W", or "L" for Conv1d); an input without
    the batch axis is a batch of one, as torch.
    """
    x = as_floating(x, who)
    ndim = 2 + len(spatial.split(","))
    unbatched = x.ndim == ndim - 1
    x = x[None] if unbatched else x
    if x.ndim != ndim or x.shape[1] != in_channels:
        c = in_channels
        raise ValueError(
            f"{who}(in_channels={c}): expected input (N, {c}, {spatial}) or unbatched ({c}, {spatial}), "
            f"got {x.shape[1:] if unbatched else x.shape}"
        )
    # compute in the parameters' dtype: a float64 batch must not turn a float32 model float64
    return x.astype(dtype, copy=False), unbatched


def _check_fits(who: str, x_shape: tuple[int, ...], pads: tuple[int, int, int, int], kernel: Pair,
                dilation: Pair) -> None:
    """ValueError if the (padded) image is smaller than the (dilated) kernel: no window fits; or if the
    image is empty (H or W 0), which torch refuses even where padding would give a window to read."""
    if 0 in x_shape[2:]:
        raise ValueError(f"{who}: expected a non-empty image or sequence (every spatial size >= 1), got "
                         f"input {x_shape} (torch refuses it: only the batch or the channels may be empty)")
    top, bottom, left, right = pads
    padded = (x_shape[2] + top + bottom, x_shape[3] + left + right)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if padded[0] < span[0] or padded[1] < span[1]:
        raise ValueError(
            f"{who}: padded input is {padded[0]}x{padded[1]} (input {x_shape}, padding "
            f"top/bottom/left/right {pads}) but the dilated kernel spans {span[0]}x{span[1]}: "
            "no window fits"
        )


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) -> xp (N, C, top+H+bottom, left+W+right), the border filled with ``value``."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    N, C, H, W = x.shape
    xp = np.full((N, C, top + H + bottom, left + W + right), value, dtype=x.dtype)
    xp[:, :, top : top + H, left : left + W] = x
    return xp


def _unpad(dxp: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """The inverse crop of ``_pad`` for gradients: the border's gradient is dropped. Contiguous."""
    top, bottom, left, right = pads
    Hp, Wp = dxp.shape[2:]
    return np.ascontiguousarray(dxp[:, :, top : Hp - bottom, left : Wp - right])


def _windows(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """Read-only view (N, C, OH, OW, kh, kw): windows[n, c, oh, ow, i, j] = xp[n, c, oh*sh+i*dh, ow*sw+j*dw].

    No copy: ``sliding_window_view`` gives every dense window of the dilated span as a strided view,
    and slicing with steps keeps every sh-th window and every dh-th tap.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    dense = sliding_window_view(xp, span, axis=(2, 3))
    return dense[:, :, ::sh, ::sw, ::dh, ::dw]


def _offsets(
    kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair
) -> Iterator[tuple[int, int, slice, slice]]:
    """(i, j, rows, cols) per kernel offset: xp[:, :, rows, cols] is what tap (i, j) reads, (N, C, OH, OW).

    Looping over the kh*kw offsets (never over samples, pixels or channels) is how col2im and
    pooling's backward add each tap's gradient back where it was read.
    """
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (OH - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (OW - 1) + 1, sw)
            yield i, j, rows, cols


def _im2col(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """xp (N, C, Hp, Wp) -> cols (C*kh*kw, N*OH*OW): column (n, oh, ow) is that window, flattened.

    Row (c, i, j) of cols holds tap (i, j) of channel c for every window, so a convolution is the
    single product weight.reshape(O, C*kh*kw) @ cols. One copy, made by reshaping the strided view.
    """
    windows = _windows(xp, kernel, stride, dilation)  # (N, C, OH, OW, kh, kw)
    N, C, OH, OW, kh, kw = windows.shape
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * OH * OW)


def _col2im(dcols: np.ndarray, xp_shape: tuple[int, ...], kernel: Pair, stride: Pair,
            dilation: Pair) -> np.ndarray:
    """The adjoint of ``_im2col``: dcols (C*kh*kw, N*OH*OW) -> dxp (N, C, Hp, Wp).

    Every entry of cols is a copy of one pixel of xp, so that pixel's gradient is the sum of the
    gradients of all its copies: dxp[n, c, oh*sh+i*dh, ow*sw+j*dw] += dcols[(c, i, j), (n, oh, ow)].
    Overlapping windows add up; pixels no window reads (strides that skip them) get 0.
    Accumulates in (C, N, Hp, Wp) order, the order dcols' rows come in, and returns a view in NCHW.
    """
    N, C, Hp, Wp = xp_shape
    out_hw = _output_size((Hp, Wp), kernel, stride, dilation)
    dcols = dcols.reshape(C, kernel[0], kernel[1], N, *out_hw)
    dxp = np.zeros((C, N, Hp, Wp), dtype=dcols.dtype)
    for i, j, rows, cols in _offsets(kernel, stride, dilation, out_hw):
        dxp[:, :, rows, cols] += dcols[:, i, j]
    return dxp.transpose(1, 0, 2, 3)
