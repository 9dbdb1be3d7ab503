"""2-D convolution as one matrix product: im2col, then weight @ cols; col2im for the input gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_positive_int
from minitorch.dtypes import factory_dtype, parameter_dtype
from minitorch.kernels import kernels_enabled
from minitorch.kernels import layers as fast
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

_READ = ("stride", "padding", "dilation")  # what backward reads again


class Conv2d(Module):
    """2-D cross-correlation over NCHW images, as torch.nn.Conv2d (groups=1, zero padding).

    Shapes:   x (N, C, H, W)   weight (O, C, kh, kw)   bias (O,)   y (N, O, OH, OW)
              OH = (H + pad_top + pad_bottom - dh*(kh-1) - 1) // sh + 1, likewise OW
              an unbatched image x (C, H, W) is a batch of one: y (O, OH, OW), dx (C, H, W), as torch
    Forward:  y[n, o, oh, ow] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xp[n, c, oh*sh+i*dh, ow*sw+j*dw]
              computed as one product over K = C*kh*kw and M = N*OH*OW:
              xp   = zero-pad(x)                                  (N, C, Hp, Wp)
              cols = im2col(xp)                                   (K, M)   column m = window m, flattened
              Y    = weight.reshape(O, K) @ cols + bias[:, None]  (O, M)
              y    = Y.reshape(O, N, OH, OW).transpose(1, 0, 2, 3)
    Backward: dY    = dy.transpose(1, 0, 2, 3).reshape(O, M)     (O, M)
              dW    = (dY @ cols.T).reshape(O, C, kh, kw)         accumulated into weight.grad
              db    = dY.sum(axis=1)                              (O,)     accumulated into bias.grad
              dcols = weight.reshape(O, K).T @ dY                 (K, M)   gradient of every window copy
              dxp   = col2im(dcols)                               (N, C, Hp, Wp)
              dx    = dxp without its padded border               (N, C, H, W)   returned
              col2im adds each column back onto the pixels its window read: tap (i, j) of output
              pixel (oh, ow) read xp[.., oh*sh + i*dh, ow*sw + j*dw] (windows sh apart, taps dh
              apart), so its gradient is added there. Overlapping windows sum their shares; pixels
              no window read (stepped over by a stride, or past the last window) get 0; what lands
              on the zero padding is cropped away. This is the transposed convolution of dy with
              weight (for stride 1, the "full" correlation with flipped kernels).
              backward_params computes dW and db, backward_input dcols and dx; backward runs both.
    Padding:  an int or (ph, pw) pads both sides; "valid" is 0; "same" (stride 1 only) pads
              dh*(kh-1) in total per axis, top = total // 2 and bottom the rest (as torch).
              stride, padding and dilation are read at every forward, as torch: a value set after
              construction counts (an int as a pair; "same" with a stride set later raises).
              Set between a forward and its backward, they make backward raise.
              The forward reads the weight's shape (O, C, kh, kw), as torch's, never in_channels,
              out_channels or kernel_size: an edit of those changes nothing, a new weight counts.
    Cache:    cols (K, M), which dW needs, the padded input's shape, which col2im needs, and the pads the
              forward derived from the settings (backward crops by them: derived once per call).
    Init:     weight, bias ~ U(-k, k), k = 1/sqrt(C*kh*kw)   (torch's kaiming_uniform(a=sqrt(5)));
              ``reset_parameters()`` redraws them in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        conv = Conv2d(1, 8, kernel_size=3, padding=1)
        y = conv(np.zeros((2, 1, 28, 28), np.float32))     # (2, 8, 28, 28)
        dx = conv.backward(np.ones_like(y))                 # (2, 1, 28, 28); conv.weight.grad (8, 1, 3, 3)
    """

    groups = 1  # torch's settings MiniTorch computes, for reading; another value set later raises at forward
    padding_mode = "zeros"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        *,  # (torch's groups comes next, which this Conv2d lacks: the rest by keyword only)
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "Conv2d", "in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2d", "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.dilation = _pair(dilation, "dilation", "Conv2d")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", "Conv2d", minimum=0)
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, *self.kernel_size), dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype)) if bias else None
        self._read_geometry()
        self.reset_parameters()
        self._cols: np.ndarray | None = None
        self._rows: np.ndarray | None = None  # the fast room's channels-last cols, when it ran forward
        self._xp_shape: tuple[int, ...] | None = None
        self._unbatched: bool | None = None
        self._read: tuple[object, ...] | None = None  # the forward's values of _READ
        self._pads: tuple[int, int, int, int] | None = None  # the forward's (top, bottom, left, right)

    def reset_parameters(self) -> None:
        """Redraw weight, then bias, ~ U(-k, k), k = 1/sqrt(C*kh*kw), in place (as torch.nn.Conv2d's)."""
        _, C, kh, kw = self.weight.shape
        redraw_uniform(self, ("weight", "bias"), 1.0 / np.sqrt(C * kh * kw))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, unbatched = self._check_input(x)
        if kernels_enabled():  # fast room: the same convolution, channels last inside
            self._unbatched = unbatched
            y = fast.conv2d_forward(self, x)
            return y[0] if unbatched else y
        xp = _pad(x, self._pads)
        cols = _im2col(xp, self.weight.shape[2:], self.stride, self.dilation)
        self._cols, self._xp_shape, self._unbatched = cols, xp.shape, unbatched
        out_c = len(self.weight.data)
        Y = self.weight.data.reshape(out_c, -1) @ cols
        if self.bias is not None:
            Y += self.bias.data[:, None]
        OH, OW = self._out_hw(xp.shape)
        y = np.ascontiguousarray(Y.reshape(out_c, len(x), OH, OW).transpose(1, 0, 2, 3))
        return y[0] if unbatched else y

    def backward_params(self, dy: np.ndarray) -> None:
        _check_settings_kept(self, _READ, self._cached(self._read))
        if self._rows is not None:  # forward ran in the fast room: its partner kernel
            return fast.conv2d_backward_params(self, dy[None] if self._unbatched else dy)
        cols = self._cached(self._cols)
        dY = self._dY(dy)
        # w.r.t. parameters
        self.weight.accumulate_grad((dY @ cols.T).reshape(self.weight.shape))
        if self.bias is not None:
            self.bias.accumulate_grad(dY.sum(axis=1))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        _check_settings_kept(self, _READ, self._cached(self._read))
        if self._rows is not None:  # forward ran in the fast room: its partner kernel
            dx = fast.conv2d_backward_input(self, dy[None] if self._unbatched else dy)
            return dx[0] if self._unbatched else dx
        self._cached(self._cols)
        dY = self._dY(dy)
        # w.r.t. input
        dcols = self.weight.data.reshape(len(dY), -1).T @ dY
        dxp = _col2im(dcols, self._xp_shape, self.weight.shape[2:], self.stride, self.dilation)
        dx = _unpad(dxp, self._pads)
        return dx[0] if self._unbatched else dx

    def _dY(self, dy: np.ndarray) -> np.ndarray:
        """dy checked against the output's shape ((O, OH, OW) if unbatched), as the (O, M) matrix dY."""
        out_c = len(self.weight.data)
        y_shape = (self._xp_shape[0], out_c, *self._out_hw(self._xp_shape))
        dy = self._check_grad(dy, y_shape[1:] if self._unbatched else y_shape, self.weight.dtype)
        dy = dy[None] if self._unbatched else dy
        return dy.transpose(1, 0, 2, 3).reshape(out_c, -1)

    def _out_hw(self, xp_shape: tuple[int, ...]) -> tuple[int, int]:
        return _output_size(xp_shape[2:], self.weight.shape[2:], self.stride, self.dilation)

    def _read_geometry(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pads from the stride, padding and dilation as they are now
        (and the weight's kernel, for "same").

        torch reads these attributes at every forward, so a value set after construction counts:
        an int becomes a pair here (as torch's constructor stores it), a bad one raises.
        """
        self.stride = _pair(self.stride, "stride", "Conv2d")
        self.dilation = _pair(self.dilation, "dilation", "Conv2d")
        padding = self.padding
        if isinstance(padding, str):
            if padding == "valid":
                return (0, 0, 0, 0)
            if padding != "same":
                raise ValueError(
                    f"Conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
                )
            if self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride={self.stride}")
            th, tw = (d * (k - 1) for k, d in zip(self.weight.shape[2:], self.dilation, strict=True))
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        self.padding = ph, pw = _pair(padding, "padding", "Conv2d", minimum=0)
        return (ph, ph, pw, pw)

    def _check_input(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """(x as (N, C, H, W) in the parameters' dtype, unbatched); keeps the call's ``_pads``.

        torch's forward reads the weight's shape, never in_channels, out_channels or kernel_size
        (an edit of those changes nothing; a new weight counts)."""
        _, C, kh, kw = self.weight.shape
        x, unbatched = _check_conv_input(x, "Conv2d", C, "H, W", parameter_dtype(self))
        _check_torch_only(self)
        self._pads = self._read_geometry()
        self._read = _settings(self, _READ)
        _check_fits(f"Conv2d(kernel_size={(kh, kw)})", x.shape, self._pads, (kh, kw), self.dilation)
        return x, unbatched

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text
