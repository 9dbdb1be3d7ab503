"""Conv1d and ConvTranspose2d, built on the im2col / col2im helpers of ``_im2col.py``.

Conv1d is Conv2d on (N, C, 1, L) images with a (1, k) kernel. ConvTranspose2d is the adjoint of
Conv2d: its forward is Conv2d's input gradient (col2im of weight products), its input gradient is
Conv2d's forward (im2col, then a product).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_nonnegative_int, check_positive_int
from minitorch.dtypes import factory_dtype, parameter_dtype
from minitorch.layers._im2col import (
    _check_conv_input,
    _check_fits,
    _check_settings_kept,
    _check_torch_only,
    _col2im,
    _im2col,
    _output_size,
    _pad,
    _pair,
    _settings,
    _unpad,
)
from minitorch.layers._redraw import redraw_uniform
from minitorch.module import Module, Parameter

_READ_1D = ("stride", "padding", "dilation")  # what Conv1d's backward reads again
_READ_T = ("stride", "padding", "output_padding", "dilation")  # what ConvTranspose2d's backward reads


def _int(value: object, who: str, name: str, minimum: int) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]  # torch accepts (k,) for a 1-d size
    return (check_positive_int if minimum == 1 else check_nonnegative_int)(value, who, name)


class Conv1d(Module):
    """1-D cross-correlation over (N, C, L) sequences, as torch.nn.Conv1d (groups=1, zero padding).

    Shapes:   x (N, C, L)   weight (O, C, k)   bias (O,)   y (N, O, OL)
              OL = (L + pad_left + pad_right - d*(k-1) - 1) // s + 1
              an unbatched sequence x (C, L) is a batch of one: y (O, OL), dx (C, L), as torch
    Forward:  y[n, o, t] = bias[o] + sum_{c,i} weight[o, c, i] * xp[n, c, t*s + i*d]
              computed as one product over K = C*k and M = N*OL:
              xp   = zero-pad(x)                                  (N, C, Lp)
              cols = im2col(xp as (N, C, 1, Lp), kernel (1, k))   (K, M)   column m = window m
              Y    = weight.reshape(O, K) @ cols + bias[:, None]  (O, M)
              y    = Y.reshape(O, N, OL).transpose(1, 0, 2)
    Backward: dY    = dy.transpose(1, 0, 2).reshape(O, M)
              dW    = (dY @ cols.T).reshape(O, C, k)              accumulated into weight.grad
              db    = dY.sum(axis=1)                              (O,)   accumulated into bias.grad
              dcols = weight.reshape(O, K).T @ dY                 (K, M)
              dx    = col2im(dcols) without the padded border     (N, C, L)   returned
    Padding:  an int pads both ends; "valid" is 0; "same" (stride 1) pads d*(k-1) in total, left = total // 2.
              stride, padding and dilation are read at every forward, as torch: a value set after
              construction counts ((s,) as s; "same" with a stride set later raises).
              Set between a forward and its backward, they make backward raise.
              The forward reads the weight's shape (O, C, k), as torch's, never in_channels,
              out_channels or kernel_size: an edit of those changes nothing, a new weight counts.
    Init:     weight, bias ~ U(-b, b), b = 1/sqrt(C*k)   (torch's default); ``reset_parameters()`` redraws
              them in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        conv = Conv1d(4, 8, kernel_size=3, padding=1)
        y = conv(np.zeros((2, 4, 50), np.float32))       # (2, 8, 50)
        dx = conv.backward(np.ones_like(y))               # (2, 4, 50); conv.weight.grad (8, 4, 3)
    """

    groups = 1  # torch's settings MiniTorch computes, for reading; another value set later raises at forward
    padding_mode = "zeros"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, dilation: int = 1, *, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:  # (keyword-only from bias: torch's groups comes first)
        super().__init__()
        who = "Conv1d"
        self.in_channels = check_positive_int(in_channels, who, "in_channels")
        self.out_channels = check_positive_int(out_channels, who, "out_channels")
        self.kernel_size = _int(kernel_size, who, "kernel_size", 1)
        self.stride = _int(stride, who, "stride", 1)
        self.dilation = _int(dilation, who, "dilation", 1)
        self.padding = padding if isinstance(padding, str) else _int(padding, who, "padding", 0)
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, self.kernel_size), dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype)) if bias else None
        self._read_geometry()
        self.reset_parameters()
        self._cols: np.ndarray | None = None
        self._xp_shape: tuple[int, ...] | None = None
        self._unbatched: bool | None = None
        self._read: tuple[object, ...] | None = None  # the forward's values of _READ_1D
        self._pads: tuple[int, int, int, int] | None = None  # the forward's (0, 0, left, right)

    def reset_parameters(self) -> None:
        """Redraw weight, then bias, ~ U(-b, b), b = 1/sqrt(C*k), in place (as torch.nn.Conv1d's)."""
        _, C, k = self.weight.shape
        redraw_uniform(self, ("weight", "bias"), 1.0 / np.sqrt(C * k))

    @property
    def _geometry(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """kernel (the weight's), stride, dilation as the (1, k) pairs of the 2-D helpers."""
        return (1, self.weight.shape[2]), (1, self.stride), (1, self.dilation)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, unbatched = self._check_input(x)
        xp = _pad(x[:, :, None, :], self._pads)
        cols = _im2col(xp, *self._geometry)
        self._cols, self._xp_shape, self._unbatched = cols, xp.shape, unbatched
        out_c = len(self.weight.data)
        Y = self.weight.data.reshape(out_c, -1) @ cols
        if self.bias is not None:
            Y += self.bias.data[:, None]
        OL = _output_size(xp.shape[2:], *self._geometry)[1]  # by name: -1 cannot size an empty batch
        y = np.ascontiguousarray(Y.reshape(out_c, len(x), OL).transpose(1, 0, 2))
        return y[0] if unbatched else y

    def backward_params(self, dy: np.ndarray) -> None:
        _check_settings_kept(self, _READ_1D, self._cached(self._read))
        cols = self._cached(self._cols)
        dY = self._dY(dy)
        # w.r.t. parameters
        self.weight.accumulate_grad((dY @ cols.T).reshape(self.weight.shape))
        if self.bias is not None:
            self.bias.accumulate_grad(dY.sum(axis=1))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        _check_settings_kept(self, _READ_1D, self._cached(self._read))
        self._cached(self._cols)
        dY = self._dY(dy)
        # w.r.t. input
        dcols = self.weight.data.reshape(len(dY), -1).T @ dY
        dxp = _col2im(dcols, self._xp_shape, *self._geometry)
        dx = _unpad(dxp, self._pads)[:, :, 0, :]
        return dx[0] if self._unbatched else dx

    def _dY(self, dy: np.ndarray) -> np.ndarray:
        """dy checked against the output's shape ((O, OL) if unbatched), as (O, N*OL)."""
        OL = _output_size(self._xp_shape[2:], *self._geometry)[1]
        out_c = len(self.weight.data)
        y_shape = (self._xp_shape[0], out_c, OL)
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self.weight.dtype)
        dy = dy[None] if self._unbatched else dy
        return dy.transpose(1, 0, 2).reshape(out_c, -1)

    def _read_geometry(self) -> tuple[int, int, int, int]:
        """(0, 0, left, right) pads of the (N, C, 1, L) image from the stride, padding and dilation
        as they are now: torch reads them at every forward, so a value set after construction counts
        (a 1-tuple as its int, as torch's (s,) attributes; a bad one raises)."""
        self.stride = _int(self.stride, "Conv1d", "stride", 1)
        self.dilation = _int(self.dilation, "Conv1d", "dilation", 1)
        padding = self.padding
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv1d: padding must be an int, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != 1:
                raise ValueError(f"Conv1d: padding='same' needs stride 1, got stride={self.stride}")
            total = self.dilation * (self.weight.shape[2] - 1) if padding == "same" else 0
            return (0, 0, total // 2, total - total // 2)
        self.padding = p = _int(padding, "Conv1d", "padding", 0)
        return (0, 0, p, p)

    def _check_input(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """(x as (N, C, L) in the parameters' dtype, unbatched); keeps the call's ``_pads``. As torch's,
        it reads the weight's shape, never in_channels, out_channels or kernel_size."""
        x, unbatched = _check_conv_input(x, "Conv1d", self.weight.shape[1], "L", parameter_dtype(self))
        _check_torch_only(self)
        self._pads = self._read_geometry()
        self._read = _settings(self, _READ_1D)
        _check_fits(f"Conv1d(kernel_size={self.weight.shape[2]})", x[:, :, None, :].shape, self._pads,
                    self._geometry[0], self._geometry[2])
        return x, unbatched

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != 0:
            text += f", padding={self.padding!r}"
        if self.dilation != 1:
            text += f", dilation={self.dilation}"
        return text + (", bias=False" if self.bias is None else "")


class ConvTranspose2d(Module):
    """Transposed 2-D convolution ("deconvolution"), as torch.nn.ConvTranspose2d (groups=1).

    Shapes:   x (N, C, H, W)   weight (C, O, kh, kw)   bias (O,)   y (N, O, OH, OW)
              OH = (H - 1)*sh - 2*ph + dh*(kh - 1) + output_padding_h + 1, likewise OW
              an unbatched image x (C, H, W) is a batch of one: y (O, OH, OW), dx (C, H, W), as torch
    Forward:  every input pixel scatters weight[c] (scaled by x[n, c, h, w]) onto the output:
              y_full[n, o, h*sh + i*dh, w*sw + j*dw] += x[n, c, h, w] * weight[c, o, i, j]
              computed as Conv2d's input gradient, with K = O*kh*kw and M = N*H*W:
              X    = x.transpose(1, 0, 2, 3).reshape(C, M)                (C, M)
              cols = weight.reshape(C, K).T @ X                           (K, M)
              y_full = col2im(cols), then output_padding zero rows/columns  (N, O, OH + 2ph, OW + 2pw)
              y    = y_full without its border of ph rows, pw columns, + bias[o]
    Backward: dy_full = zero-pad(dy) by (ph, pw), less the output_padding rows/columns
              dcols   = im2col(dy_full)                                   (K, M)   Conv2d's forward
              dW      = (X @ dcols.T).reshape(C, O, kh, kw)               accumulated into weight.grad
              db      = dy.sum(axis=(0, 2, 3))                            (O,)  accumulated into bias.grad
              dx      = (weight.reshape(C, K) @ dcols).reshape(C, N, H, W).transpose(1, 0, 2, 3)   returned
    output_padding adds rows/columns at the bottom/right (it picks one of the stride's possible
    output sizes); it must be smaller than the stride or the dilation, as torch.
    forward(x, output_size=(OH, OW)) picks it instead, as torch: output_padding_h = OH - smallest_h,
    smallest_h = (H - 1)*sh - 2*ph + dh*(kh - 1) + 1, and OH must lie in [smallest_h, smallest_h + sh - 1]
    (a ValueError otherwise); output_size may be the whole output shape, whose (N, O) are not read.
    An empty image (H or W 0) is a ValueError, as torch's refusal (an empty batch of them too, where
    torch's output would be empty as well).
    The setting output_padding is then not read; backward uses the output padding its forward used.
    stride, padding, output_padding and dilation are read at every forward, as torch (a value set
    after construction counts, and is checked then); set between a forward and its backward, they
    make backward raise.
    The forward reads the weight's shape (C, O, kh, kw), as torch's, never in_channels, out_channels
    or kernel_size: an edit of those changes nothing, a new weight counts.
    Init:     weight, bias ~ U(-b, b), b = 1/sqrt(O*kh*kw)   (torch's default: fan_in of weight dim 1);
              ``reset_parameters()`` redraws them in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        up = ConvTranspose2d(8, 4, kernel_size=2, stride=2)
        y = up(np.zeros((1, 8, 7, 7), np.float32))     # (1, 4, 14, 14); output_size=(15, 15): (1, 4, 15, 15)
        dx = up.backward(np.ones_like(y))               # (1, 8, 7, 7); up.weight.grad (8, 4, 2, 2)
    """

    groups = 1  # torch's settings MiniTorch computes, for reading; another value set later raises at forward
    padding_mode = "zeros"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 output_padding: int | tuple[int, int] = 0, *, bias: bool = True,
                 dilation: int | tuple[int, int] = 1, device: Any = None, dtype: Any = None) -> None:
        # (keyword-only from bias: torch's groups comes first)
        super().__init__()
        who = "ConvTranspose2d"
        self.in_channels = check_positive_int(in_channels, who, "in_channels")
        self.out_channels = check_positive_int(out_channels, who, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size", who)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.output_padding = output_padding
        self._read_geometry()
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty((self.in_channels, self.out_channels, *self.kernel_size), dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype)) if bias else None
        self.reset_parameters()
        self._X: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None
        self._unbatched: bool | None = None
        self._read: tuple[object, ...] | None = None  # the forward's values of _READ_T
        self._op: tuple[int, int] | None = None  # the forward's output padding (set, or from output_size)
        self._pads: tuple[int, int, int, int] | None = None  # the forward's crop (ph, ph, pw, pw)
        self._full: tuple[int, int, int, int] | None = None  # the forward's output shape before the crop

    def _read_geometry(self, output_padding: bool = True) -> None:
        """stride, padding, output_padding and dilation as they are now, made (h, w) pairs: torch reads
        them at every forward, so a value set after construction counts (checked as torch checks it;
        ``output_padding=False``: a forward given output_size, which torch's ignores it for)."""
        who = "ConvTranspose2d"
        self.stride = _pair(self.stride, "stride", who)
        self.padding = _pair(self.padding, "padding", who, minimum=0)
        self.output_padding = _pair(self.output_padding, "output_padding", who, minimum=0)
        self.dilation = _pair(self.dilation, "dilation", who)
        if output_padding and any(op >= max(s, d) for op, s, d in zip(
                self.output_padding, self.stride, self.dilation, strict=True)):
            raise ValueError(
                f"{who}: output_padding must be smaller than stride or dilation (as torch), got "
                f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation}"
            )

    def _output_padding(self, x: np.ndarray, unbatched: bool, output_size: Any) -> tuple[int, int]:
        """The output padding a forward uses: the setting, or the one that makes ``output_size``.

        As torch's ``_output_padding``: output_size is (OH, OW), or the full output shape, whose
        leading (N, O) or (O,) are not read; each size must lie in [smallest, smallest + s - 1],
        smallest = (H - 1)*sh - 2*ph + dh*(kh - 1) + 1 (the output without output padding), and
        the output padding is size - smallest (so it is below the stride, and the setting is unused).
        kh, kw are the weight's: torch's reads kernel_size here, so after an edit of kernel_size its
        output misses the size asked for, where this one has it.
        """
        self._read_geometry(output_padding=output_size is None)
        if output_size is None:
            return self.output_padding
        who = "ConvTranspose2d"
        sizes = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size]
        lead = 1 if unbatched else 2
        if len(sizes) == lead + 2:
            sizes = sizes[lead:]
        if len(sizes) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in sizes):
            raise ValueError(
                f"{who}: for {x.ndim - unbatched}D input, output_size must have 2 or {lead + 2} ints "
                f"(as torch), got {output_size!r}"
            )
        kernel = self.weight.shape[2:]
        smallest = [(size - 1) * s - 2 * p + d * (k - 1) + 1 for size, s, p, d, k in zip(
            x.shape[2:], self.stride, self.padding, self.dilation, kernel, strict=True)]
        largest = [low + s - 1 for low, s in zip(smallest, self.stride, strict=True)]
        if any(not low <= int(v) <= high for v, low, high in zip(sizes, smallest, largest, strict=True)):
            raise ValueError(
                f"{who}: requested an output size of {[int(v) for v in sizes]}, but valid sizes range "
                f"from {smallest} to {largest} (for an input of {tuple(x.shape[2:])}; as torch)"
            )
        return int(sizes[0]) - smallest[0], int(sizes[1]) - smallest[1]

    def reset_parameters(self) -> None:
        """Redraw weight, then bias, ~ U(-b, b), b = 1/sqrt(O*kh*kw), in place (as torch's)."""
        _, out_c, kh, kw = self.weight.shape
        redraw_uniform(self, ("weight", "bias"), 1.0 / np.sqrt(out_c * kh * kw))

    def _full_shape(self, x_shape: tuple[int, ...], op: tuple[int, int]) -> tuple[int, int, int, int]:
        """(N, O, OH + 2ph, OW + 2pw): the output before the padding is cropped (op: output padding)."""
        N, _, H, W = x_shape
        _, out_c, kh, kw = self.weight.shape
        full = [(size - 1) * s + d * (k - 1) + 1 + p for size, s, d, k, p in zip(
            (H, W), self.stride, self.dilation, (kh, kw), op, strict=True)]
        return N, out_c, full[0], full[1]

    def forward(self, x: np.ndarray, output_size: Any = None) -> np.ndarray:
        x, unbatched = self._check_input(x, output_size)
        C, out_c, kh, kw = self.weight.shape
        X = x.transpose(1, 0, 2, 3).reshape(C, -1)
        self._X, self._x_shape, self._unbatched = X, x.shape, unbatched
        cols = self.weight.data.reshape(C, -1).T @ X
        N, _, Hf, Wf = self._full
        oph, opw = self._op  # rows no tap reaches: scattered without them, then zero-padded
        y_full = _col2im(cols, (N, out_c, Hf - oph, Wf - opw), (kh, kw), self.stride, self.dilation)
        y = _unpad(_pad(y_full, (0, oph, 0, opw)), self._pads)
        if self.bias is not None:
            y += self.bias.data[:, None, None]
        return y[0] if unbatched else y

    def backward_params(self, dy: np.ndarray) -> None:
        _check_settings_kept(self, _READ_T, self._cached(self._read))
        X = self._cached(self._X)
        dy, dcols = self._dcols(dy)
        # w.r.t. parameters
        self.weight.accumulate_grad((X @ dcols.T).reshape(self.weight.shape))
        if self.bias is not None:
            self.bias.accumulate_grad(dy.sum(axis=(0, 2, 3)))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        _check_settings_kept(self, _READ_T, self._cached(self._read))
        self._cached(self._X)
        _, dcols = self._dcols(dy)
        N, C, H, W = self._x_shape
        # w.r.t. input
        dX = self.weight.data.reshape(C, -1) @ dcols
        dx = np.ascontiguousarray(dX.reshape(C, N, H, W).transpose(1, 0, 2, 3))
        return dx[0] if self._unbatched else dx

    def _dcols(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dy checked against the output's shape, as (N, O, OH, OW); im2col of dy padded back to full)."""
        N, out_c, Hf, Wf = self._full
        top, bottom, left, right = self._pads
        y_shape = (N, out_c, Hf - top - bottom, Wf - left - right)
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self.weight.dtype)
        dy = dy[None] if self._unbatched else dy
        oph, opw = self._op  # rows no tap reaches: cropped, so the windows are x's H x W
        dy_full = _pad(dy, self._pads)[:, :, : Hf - oph, : Wf - opw]
        return dy, _im2col(dy_full, self.weight.shape[2:], self.stride, self.dilation)

    def _check_input(self, x: np.ndarray, output_size: Any = None) -> tuple[np.ndarray, bool]:
        """(x as (N, C, H, W) in the parameters' dtype, unbatched); keeps the call's geometry:
        ``_op`` (the output padding used), ``_pads`` and ``_full`` (the shape before the crop)."""
        # torch's forward reads the weight's shape, never in_channels, out_channels or kernel_size
        dtype = parameter_dtype(self)
        x, unbatched = _check_conv_input(x, "ConvTranspose2d", self.weight.shape[0], "H, W", dtype)
        if 0 in x.shape[2:]:  # (torch answers an empty batch of such images with an empty output)
            raise ValueError(
                f"ConvTranspose2d: expected a non-empty image (H, W >= 1), got input "
                f"{x.shape[1:] if unbatched else x.shape} (torch refuses it: only the batch may be empty)"
            )
        _check_torch_only(self)
        self._op = op = self._output_padding(x, unbatched, output_size)
        self._read = _settings(self, _READ_T)
        ph, pw = self.padding
        self._pads = (ph, ph, pw, pw)
        self._full = self._full_shape(x.shape, op)
        if self._full[2] - 2 * ph < 1 or self._full[3] - 2 * pw < 1:
            raise ValueError(
                f"ConvTranspose2d(padding={self.padding}): the output of input {x.shape} would be "
                f"{self._full[2] - 2 * ph}x{self._full[3] - 2 * pw}, empty"
            )
        return x, unbatched

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        return text + (", bias=False" if self.bias is None else "")
