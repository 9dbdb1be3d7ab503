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
    Forward:  each output row o reads only its taps, input rows ih[k][o] with weights lh[k][o] (k = 0 for
              nearest, 0 and 1 for bilinear); likewise each output column (iw, lw). Columns first, then
              rows, as torch nests them:
              t = sum_k x[:, :, :, iw[k]] * lw[k]                   (N, C, H, OW)
              y = sum_k t[:, :, ih[k], :] * lh[k][:, None]          (N, C, OH, OW)
              so an inf or nan reaches only the outputs that read it (as torch; never 0 * inf elsewhere)
              nearest:  ih[0][o] = min(floor(o * s), H - 1),  lh[0] = 1                 (torch's "nearest")
              bilinear: src = o * (H - 1) / (OH - 1)                            align_corners=True
                        src = max((o + 0.5) * s - 0.5, 0)                       align_corners=False
                        ih[0] = min(floor(src), H - 1);  ih[1] = min(ih[0] + 1, H - 1)
                        lh[1] = clip(src - ih[0], 0, 1);  lh[0] = 1 - lh[1]
              s = 1 / scale_factor when scale_factor is given, else H / OH (torch's rule; computed in x's
              dtype, float32 for nearest, as torch's kernels do, so indices agree at the boundaries)
              torch's special cases, whatever scale_factor gave the size: OH == H reads row o (bilinear:
              taps o and o with weights 1 and 0, so an inf there gives nan, as torch); nearest with
              OH == 2 * H reads row o // 2 (floor(3 * 2.2) = 6 reads 0 0 1 1 2 2, where 1 / 2.2 would
              read 0 0 0 1 1 2)
    Backward: the transpose, rows first, then columns; each input position collects the weights it lent
              (a position read by several outputs, or twice by one, sums them all):
              dt = zeros (N, C, H, OW);  dt[:, :, ih[k], :] += dy * lh[k][:, None]   for each k
              dx = zeros (N, C, H, W);   dx[:, :, :, iw[k]] += dt * lw[k]            (N, C, H, W)
              computed as taps too (_tap_sum_transpose): input row j reads back the outputs that read
              it, with their weights, so an inf or nan in dy reaches only the inputs it came from
    size, scale_factor, mode and align_corners are read at every forward, as torch (a value set
    after construction counts).
    Example:
        up = Upsample(scale_factor=2, mode="bilinear")
        y = up(np.random.randn(1, 3, 4, 4))    # (1, 3, 8, 8)
        dx = up.backward(np.ones_like(y))      # (1, 3, 4, 4), 4.0 everywhere
    """

    def __init__(self, size: int | tuple[int, int] | None = None,
                 scale_factor: float | tuple[float, float] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        self.mode, self.size, self.scale_factor, self.align_corners = mode, size, scale_factor, align_corners
        self._read_settings()
        self._rows: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._cols: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._x_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Upsample")
        if x.ndim != 4:
            raise ValueError(f"Upsample: expected input (N, C, H, W), got {x.shape}")
        self._read_settings()
        (H, W), scales = x.shape[2:], self._scales or (None, None)
        OH, OW = self._sizes or (math.floor(H * scales[0]), math.floor(W * scales[1]))
        if OH < 1 or OW < 1:
            raise ValueError(f"Upsample: the output size {(OH, OW)} of input {x.shape} is empty")
        self._rows = self._taps(OH, H, scales[0], x.dtype)
        self._cols = self._taps(OW, W, scales[1], x.dtype)
        self._x_shape = x.shape
        t = _tap_sum(x, self._cols, axis=3)       # sum_k x[:, :, :, iw[k]] * lw[k]
        return _tap_sum(t, self._rows, axis=2)    # sum_k t[:, :, ih[k], :] * lh[k][:, None]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        N, C, H, W = self._cached(self._x_shape)
        rows, cols = self._rows, self._cols
        dy = self._check_grad(dy, (N, C, len(rows[0][0]), len(cols[0][0])), rows[0][1].dtype)
        # w.r.t. input
        dt = _tap_sum_transpose(dy, rows, H, axis=2)   # dt[:, :, ih[k], :] += dy * lh[k][:, None]
        return _tap_sum_transpose(dt, cols, W, axis=3)  # dx[:, :, :, iw[k]] += dt * lw[k]

    @property
    def _sizes(self) -> tuple[int, int] | None:
        """size as it is now, as a pair (None if scale_factor is given)."""
        return None if self.size is None else _pair_of(self.size, "size", int)

    @property
    def _scales(self) -> tuple[float, float] | None:
        """scale_factor as it is now, as a pair (None if size is given)."""
        return None if self.scale_factor is None else _pair_of(self.scale_factor, "scale_factor", float)

    def _read_settings(self) -> None:
        """Check size, scale_factor, mode and align_corners as they are now: torch reads them at
        every forward, so a value set after construction counts."""
        size, scale_factor, mode = self.size, self.scale_factor, self.mode
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor, "
                             f"got size={size!r}, scale_factor={scale_factor!r}")
        check_choice(mode, "Upsample", "mode", ("nearest", "bilinear"))
        if mode == "nearest" and self.align_corners is not None:
            raise ValueError("Upsample: align_corners only applies to mode='bilinear' (as torch)")
        if size is not None:
            _pair_of(size, "size", int)
        else:
            _pair_of(scale_factor, "scale_factor", float)

    def _taps(self, out_size: int, in_size: int, scale: float | None,
              dtype: np.dtype) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(i, l), ...] along one axis: output o reads input position i[o] with weight l[o], per tap."""
        o = np.arange(out_size)
        one = np.ones(out_size, dtype=dtype)
        if self.mode == "nearest":
            if out_size == in_size:  # torch copies such an axis, whatever the scale_factor
                return [(o, one)]
            if out_size == 2 * in_size:  # torch: o >> 1, whatever the scale_factor
                return [(o // 2, one)]
            s = np.float32(1.0 / scale if scale else in_size / out_size)
            return [(np.minimum(np.floor(o.astype(np.float32) * s).astype(np.int64), in_size - 1), one)]
        if out_size == in_size:  # torch: taps o and o, weights 1 and 0, whatever the scale_factor
            return [(o, one), (o, np.zeros(out_size, dtype=dtype))]
        if self.align_corners:
            s = dtype.type((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype.type(0)
            src = o.astype(dtype) * s
        else:
            s = dtype.type(1.0 / scale if scale else in_size / out_size)
            src = np.maximum((o.astype(dtype) + dtype.type(0.5)) * s - dtype.type(0.5), 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        i1 = np.minimum(i0 + 1, in_size - 1)
        l1 = np.clip(src - i0, 0, 1).astype(dtype)
        return [(i0, (1 - l1).astype(dtype)), (i1, l1)]

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


def _along(w: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """Per-position weights w (n,) shaped to broadcast along ``axis`` of an ndim array."""
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


def _tap_sum(x: np.ndarray, taps: list[tuple[np.ndarray, np.ndarray]], axis: int) -> np.ndarray:
    """y = sum_k x.take(i[k], axis) * w[k]: each output along ``axis`` reads only its own taps."""
    y = None
    for i, w in taps:
        term = np.take(x, i, axis=axis)
        term *= _along(w, axis, x.ndim)
        y = term if y is None else np.add(y, term, out=y)
    return y


def _tap_sum_transpose(dy: np.ndarray, taps: list[tuple[np.ndarray, np.ndarray]], size: int,
                       axis: int) -> np.ndarray:
    """dx (``size`` along ``axis``) with dx[i[k][o]] += dy[o] * w[k][o]: the transpose of _tap_sum, itself
    a tap sum: input position j reads back, with their weights, the R outputs that read it (a position
    read fewer times reads a zero appended to dy, with weight 0: never a 0 * inf)."""
    n_out = dy.shape[axis]
    outputs = np.concatenate([np.arange(n_out) for _ in taps])
    positions = np.concatenate([i for i, _ in taps])
    weights = np.concatenate([w for _, w in taps])
    order = np.argsort(positions, kind="stable")
    counts = np.bincount(positions, minlength=size)
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)  # r of each reading
    readers = np.full((counts.max(), size), n_out)
    readers[rank, positions[order]] = outputs[order]
    lent = np.zeros((counts.max(), size), dtype=weights.dtype)
    lent[rank, positions[order]] = weights[order]
    zero = np.zeros(dy.shape[:axis] + (1,) + dy.shape[axis + 1:], dtype=dy.dtype)
    return _tap_sum(np.concatenate([dy, zero], axis=axis), list(zip(readers, lent, strict=True)), axis)
