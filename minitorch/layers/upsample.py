"""Upsample: resize NCHW images by nearest-neighbour or bilinear interpolation, as torch.nn.Upsample."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_choice
from minitorch.dtypes import as_floating
from minitorch.module import Module


class Upsample(Module):
    """Resize each image to ``size`` or by ``scale_factor``, as torch.nn.Upsample (modes nearest, bilinear).

    Shapes:   x (N, C, H, W)   y (N, C, OH, OW)   OH = size[0], or floor(H * scale_factor[0]); likewise OW
    Forward:  each output row o reads input rows through an interpolation matrix Ph (OH, H), each
              output column through Pw (OW, W):   y = Ph @ x @ Pw.T
              nearest:  Ph[o, min(floor(o * s), H - 1)] = 1                     (torch's "nearest")
              bilinear: src = o * (H - 1) / (OH - 1)                            align_corners=True
                        src = max((o + 0.5) * s - 0.5, 0)                       align_corners=False
                        i0 = floor(src);  i1 = min(i0 + 1, H - 1);  l = src - i0
                        Ph[o, i0] += 1 - l;  Ph[o, i1] += l
              s = 1 / scale_factor when scale_factor is given, else H / OH (torch's rule; computed in x's
              dtype, float32 for nearest, as torch's kernels do, so indices agree at the boundaries)
              torch's special cases, whatever scale_factor gave the size: OH == H copies (Ph = I, both
              modes); nearest with OH == 2 * H reads row o // 2 (floor(3 * 2.2) = 6 reads 0 0 1 1 2 2,
              where 1 / 2.2 would read 0 0 0 1 1 2)
    Backward: dx = Ph.T @ dy @ Pw          (N, C, H, W)   each input pixel collects the weights it lent
    Example:
        up = Upsample(scale_factor=2, mode="bilinear")
        y = up(np.random.randn(1, 3, 4, 4))    # (1, 3, 8, 8)
        dx = up.backward(np.ones_like(y))      # (1, 3, 4, 4), 4.0 everywhere
    """

    def __init__(self, size: int | tuple[int, int] | None = None,
                 scale_factor: float | tuple[float, float] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor, "
                             f"got size={size!r}, scale_factor={scale_factor!r}")
        self.mode = check_choice(mode, "Upsample", "mode", ("nearest", "bilinear"))
        if mode == "nearest" and align_corners is not None:
            raise ValueError("Upsample: align_corners only applies to mode='bilinear' (as torch)")
        self.size = size
        self.scale_factor = scale_factor
        self.align_corners = align_corners
        self._sizes = None if size is None else _pair_of(size, "size", int)
        self._scales = None if scale_factor is None else _pair_of(scale_factor, "scale_factor", float)
        self._Ph: np.ndarray | None = None
        self._Pw: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Upsample")
        if x.ndim != 4:
            raise ValueError(f"Upsample: expected input (N, C, H, W), got {x.shape}")
        (H, W), scales = x.shape[2:], self._scales or (None, None)
        OH, OW = self._sizes or (math.floor(H * scales[0]), math.floor(W * scales[1]))
        if OH < 1 or OW < 1:
            raise ValueError(f"Upsample: the output size {(OH, OW)} of input {x.shape} is empty")
        self._Ph = self._matrix(OH, H, scales[0], x.dtype)
        self._Pw = self._matrix(OW, W, scales[1], x.dtype)
        self._x_shape = x.shape
        return self._Ph @ x @ self._Pw.T

    def backward(self, dy: np.ndarray) -> np.ndarray:
        N, C, _, _ = self._cached(self._x_shape)
        Ph, Pw = self._Ph, self._Pw
        dy = self._check_grad(dy, (N, C, Ph.shape[0], Pw.shape[0]), Ph.dtype)
        # w.r.t. input
        return Ph.T @ dy @ Pw

    def _matrix(self, out_size: int, in_size: int, scale: float | None, dtype: np.dtype) -> np.ndarray:
        """P (out_size, in_size): row o holds the weights output o gives the input positions."""
        o = np.arange(out_size)
        P = np.zeros((out_size, in_size), dtype=dtype)
        if out_size == in_size:  # torch copies such an axis, whatever the scale_factor
            return np.eye(in_size, dtype=dtype)
        if self.mode == "nearest" and out_size == 2 * in_size:  # torch: o >> 1, whatever the scale_factor
            P[o, o // 2] = 1
            return P
        if self.mode == "nearest":
            s = np.float32(1.0 / scale if scale else in_size / out_size)
            src = np.minimum(np.floor(o.astype(np.float32) * s).astype(np.int64), in_size - 1)
            P[o, src] = 1
            return P
        if self.align_corners:
            s = dtype.type((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype.type(0)
            src = o.astype(dtype) * s
        else:
            s = dtype.type(1.0 / scale if scale else in_size / out_size)
            src = np.maximum((o.astype(dtype) + dtype.type(0.5)) * s - dtype.type(0.5), 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        i1 = np.minimum(i0 + 1, in_size - 1)
        lam = src - i0
        np.add.at(P, (o, i0), 1 - lam)
        np.add.at(P, (o, i1), lam)
        return P

    def extra_repr(self) -> str:
        text = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        text += f", mode={self.mode!r}"
        return text + (f", align_corners={self.align_corners}" if self.align_corners is not None else "")


def _pair_of(value: object, name: str, kind: type) -> tuple:
    """(h, w) of ``kind`` (an int for size, a float > 0 for scale_factor); one number means both."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    def ok(v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            return False
        if kind is int:
            return float(v).is_integer() and v >= 1
        return math.isfinite(v) and v > 0

    if len(pair) != 2 or not all(ok(v) for v in pair):
        raise ValueError(
            f"Upsample: {name} must be a positive {kind.__name__} or a pair of them, got {value!r}"
        )
    return tuple(kind(v) for v in pair)
