"""Upsample: resize (N, C, L) sequences or NCHW images by nearest-neighbour or (bi)linear interpolation,
as torch.nn.Upsample."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_choice
from minitorch.dtypes import as_floating
from minitorch.module import Module


class Upsample(Module):
    """Resize each image to ``size`` or by ``scale_factor``, as torch.nn.Upsample (modes nearest, linear,
    bilinear).

    Shapes:   x (N, C, H, W)   y (N, C, OH, OW)   OH = size[0], or floor(H * scale_factor[0]); likewise OW
              x (N, C, L)      y (N, C, OL)       a 1-D resize: the column formulas alone, W = L (as torch;
              modes nearest and linear: linear is bilinear's column step, bilinear needs 4-D input)
              size and scale_factor: one number, or one per spatial axis (torch's ValueError otherwise)
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
              1-D nearest (x (N, C, L)), as torch 2.13: the forward reads floor(o * s) for every size, without
              those two cases, while torch's backward sends dy by them (copy, o // 2): where a
              scale_factor's size lands on L or 2L and the two read differently, torch's dx is not the
              gradient of its forward, and backward raises, naming the fix (size= instead: then both
              agree). 1-D linear keeps the OL == L case in both, as torch.
    Backward: the transpose, rows first, then columns; each input position collects the weights it lent
              (a position read by several outputs, or twice by one, sums them all):
              dt = zeros (N, C, H, OW);  dt[:, :, ih[k], :] += dy * lh[k][:, None]   for each k
              dx = zeros (N, C, H, W);   dx[:, :, :, iw[k]] += dt * lw[k]            (N, C, H, W)
              computed as taps too (_tap_sum_transpose): input row j reads back the outputs that read
              it, with their weights, so an inf or nan in dy reaches only the inputs it came from
    Empty channels or an empty image (C, H, W or L 0) is a ValueError, as torch's refusal; an empty
    batch runs (an empty output).
    size, scale_factor, mode and align_corners are read at every forward, as torch (a value set
    after construction counts). Cache: the taps of each spatial axis and the input's shape.
    Example:
        up = Upsample(scale_factor=2, mode="bilinear")
        y = up(np.random.randn(1, 3, 4, 4))    # (1, 3, 8, 8)
        dx = up.backward(np.ones_like(y))      # (1, 3, 4, 4), 4.0 everywhere
    """

    def __init__(self, size: int | tuple[int, ...] | None = None,
                 scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        self.mode, self.size, self.scale_factor, self.align_corners = mode, size, scale_factor, align_corners
        self._read_settings()
        self._axes: list[list[tuple[np.ndarray, np.ndarray]]] | None = None  # the taps of each spatial axis
        self._grad_axes: list[list[tuple[np.ndarray, np.ndarray]]] | None = None  # the taps backward sends by
        self._x_shape: tuple[int, ...] | None = None
        # (scale_factor, L, OL) where the 1-D nearest forward and torch's backward read differently
        self._disagree: tuple[object, int, int] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Upsample")
        if x.ndim not in (3, 4):
            raise ValueError(f"Upsample: expected input (N, C, L) or (N, C, H, W), got {x.shape}")
        if 0 in x.shape[1:]:
            raise ValueError(f"Upsample: expected non-empty channels and image (C, H, W >= 1 or C, L >= 1), "
                             f"got input {x.shape} (torch refuses it: only the batch may be empty)")
        self._read_settings(x.ndim - 2)
        spatial = x.shape[2:]
        if self.size is not None:
            out = self._sizes(len(spatial))
        else:
            out = tuple(math.floor(n * s) for n, s in zip(spatial, self._scales(len(spatial)), strict=True))
        if min(out) < 1:
            raise ValueError(f"Upsample: the output size {out} of input {x.shape} is empty")
        scales = self._scales(len(spatial)) if self.scale_factor is not None else (None,) * len(spatial)
        self._grad_axes = [self._taps(o, n, s, x.dtype) for o, n, s in zip(out, spatial, scales, strict=True)]
        self._axes = self._grad_axes
        self._disagree = None
        if len(spatial) == 1 and self.mode == "nearest":  # torch's 1-D forward: floor(o * s) throughout
            self._axes = [self._taps(out[0], spatial[0], scales[0], x.dtype, special=False)]
            if not np.array_equal(self._axes[0][0][0], self._grad_axes[0][0][0]):
                self._disagree = (self.scale_factor, spatial[0], out[0])  # (backward refuses)
        self._x_shape = x.shape
        y = x
        for axis in reversed(range(len(spatial))):  # columns first, then rows, as torch nests them
            y = _tap_sum(y, self._axes[axis], axis=2 + axis)  # sum_k y.take(i[k], axis) * l[k]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_shape, axes = self._cached(self._x_shape), self._grad_axes
        if self._disagree is not None:
            scale, length, out = self._disagree
            raise ValueError(
                f"Upsample.backward: mode='nearest' on length {length} with scale_factor={scale} gives "
                f"length {out}, where torch 2.13's forward reads input floor(o / scale_factor) but its "
                "backward sends the gradient as for a size of L or 2L (a copy, o // 2): no gradient is "
                f"both torch's and this forward's. Give size=({out},) instead of scale_factor (then the "
                "two agree)"
            )
        dy = self._check_grad(dy, x_shape[:2] + tuple(len(taps[0][0]) for taps in axes), axes[0][0][1].dtype)
        # w.r.t. input: rows first, then columns
        for axis, taps in enumerate(axes):  # d[..., i[k][o], ...] += dy[..., o, ...] * l[k][o]
            dy = _tap_sum_transpose(dy, taps, x_shape[2 + axis], axis=2 + axis)
        return dy

    def _sizes(self, dims: int) -> tuple[int, ...]:
        """size as it is now, one int per spatial axis (``dims`` of them)."""
        return _tuple_of(self.size, "size", int, dims)

    def _scales(self, dims: int) -> tuple[float, ...]:
        """scale_factor as it is now, one float per spatial axis (``dims`` of them)."""
        return _tuple_of(self.scale_factor, "scale_factor", float, dims)

    def _read_settings(self, dims: int | None = None) -> None:
        """Check size, scale_factor, mode and align_corners as they are now (for an input of ``dims``
        spatial axes; None: at construction, any count torch takes): torch reads them at every
        forward, so a value set after construction counts."""
        size, scale_factor, mode = self.size, self.scale_factor, self.mode
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor, "
                             f"got size={size!r}, scale_factor={scale_factor!r}")
        check_choice(mode, "Upsample", "mode", ("nearest", "linear", "bilinear"))
        if mode == "nearest" and self.align_corners is not None:
            raise ValueError("Upsample: align_corners only applies to the interpolating modes 'linear' and "
                             "'bilinear' (as torch)")
        if dims is not None and mode != "nearest" and dims != {"linear": 1, "bilinear": 2}[mode]:
            wanted = {"linear": "3-D (N, C, L)", "bilinear": "4-D (N, C, H, W)"}[mode]
            other = {"linear": "bilinear", "bilinear": "linear"}[mode]
            raise ValueError(f"Upsample: mode={mode!r} needs {wanted} input, got {dims + 2}-D (as torch); "
                             f"mode={other!r} resizes {dims + 2}-D input")
        if size is not None:
            _tuple_of(size, "size", int, dims)
        else:
            _tuple_of(scale_factor, "scale_factor", float, dims)

    def _taps(self, out_size: int, in_size: int, scale: float | None, dtype: np.dtype,
              special: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(i, l), ...] along one axis: output o reads input position i[o] with weight l[o], per tap.
        ``special=False``: nearest without torch's copy and o // 2 cases (its 1-D forward's reading)."""
        o = np.arange(out_size)
        one = np.ones(out_size, dtype=dtype)
        if self.mode == "nearest":
            if special and out_size == in_size:  # torch copies such an axis, whatever the scale_factor
                return [(o, one)]
            if special and out_size == 2 * in_size:  # torch: o >> 1, whatever the scale_factor
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


def _tuple_of(value: object, name: str, kind: type, dims: int | None) -> tuple:
    """One ``kind`` per spatial axis (an int >= 1 for size, a float > 0 for scale_factor); one number
    means the same for every axis. ``dims``: the input's spatial axes (None: 1 or 2, at construction)."""
    many = isinstance(value, (tuple, list))
    values = tuple(value) if many else (value,) * (dims or 1)

    def ok(v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            return False
        if kind is int:
            return float(v).is_integer() and v >= 1
        return math.isfinite(v) and v > 0

    if not values or len(values) > 2 or not all(ok(v) for v in values):
        raise ValueError(
            f"Upsample: {name} must be a positive {kind.__name__} or a tuple of one per spatial axis "
            f"(1 or 2), got {value!r}"
        )
    if dims is not None and len(values) != dims:
        raise ValueError(
            f"Upsample: {name}={value!r} has {len(values)} values but the input has {dims} spatial "
            f"axes: give one per axis, or one number (as torch)"
        )
    return tuple(kind(v) for v in values)


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
