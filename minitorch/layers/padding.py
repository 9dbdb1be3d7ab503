"""Padding layers, as torch's: ConstantPad1d/2d, ZeroPad1d/2d, ReflectionPad1d/2d,
ReplicationPad1d/2d, CircularPad1d/2d (no parameters).

``padding`` is (left, right) for a 1-D layer, (left, right, top, bottom) for a 2-D one (torch's
order: the last axis first); an int pads every side by it. A negative amount crops that side.

Every mode is one index map per padded axis (``functional_pad.pad_source``, shared with
``functional.pad``): output position o of an axis of length L + left + right reads input position
src[o], with i = o - left:
  constant     src = i where 0 <= i < L, else the fill value (no source)
  reflection   src = |i|, then 2*(L - 1) - src where src >= L   (the edge not repeated)
  replication  src = clip(i, 0, L - 1)
  circular     the crops first, then wrap: src = c0 + (o - max(left, 0)) mod n over the n = c1 - c0
               elements [c0, c1) left after cropping (torch crops before it wraps)
A 2-D layer applies the map of W, then the map of H (each mode is separable; the forward is
``functional_pad.apply_pad_maps``). An empty axis (size 0) is padded with the fill in the constant
modes and passed through by circular padding when it is not padded, as torch; the other modes have no
edge element to read there: a ValueError (torch refuses too). Where x or y has no elements, circular
padding takes the crops and wraps torch takes (``functional_pad.circular_of_nothing``): y is empty,
dx zeros of x's shape. The backward sends dy back through the
same maps: dx[src[o]] += dy[o] (np.add.at: a border element read by several outputs collects all
their gradients).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minitorch.checks import SettingTypeError
from minitorch.dtypes import as_floating
from minitorch.functional_pad import apply_pad_maps, pad_maps
from minitorch.module import Module


class _Pad(Module):
    """Shared by the padding layers: ``dims`` padded axes (1 or 2), ``mode``, the checks as torch's."""

    dims = 1
    mode = "constant"
    value = 0.0

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        self.padding = self._pads(padding)
        self._maps: list[tuple[int, np.ndarray, np.ndarray]] | None = None  # (axis, src, valid) per axis

    def _pads(self, padding: object) -> tuple[int, ...]:
        """padding as a tuple of ints: an int for every side, or a sequence of 2*dims ints (constant
        modes: any even count, pairs from the last axis back, as torch's F.pad)."""
        who = type(self).__name__
        pads = (padding,) * (2 * self.dims) if isinstance(padding, (int, np.integer)) else padding
        ok = isinstance(pads, (tuple, list)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pads)
        counts = range(2, 2 * self.dims + 1, 2) if self.mode == "constant" else (2 * self.dims,)
        if not ok or len(pads) not in counts:
            sides = "(left, right)" if self.dims == 1 else "(left, right, top, bottom)"
            raise ValueError(f"{who}: padding must be an int or a tuple {sides} of ints, got {padding!r}")
        return tuple(int(v) for v in pads)

    def _read_padding(self) -> tuple[int, ...]:
        """padding as it is now (torch reads it at each forward, as F.pad's sequence: an int set after
        construction is refused, as torch's forward refuses it)."""
        if not isinstance(self.padding, (tuple, list)):
            raise ValueError(f"{type(self).__name__}: padding set after construction must be a tuple, as "
                             f"torch's forward reads it (F.pad), got {self.padding!r}")
        return self._pads(self.padding)

    def _check_input(self, x: np.ndarray, pads: tuple[int, ...]) -> np.ndarray:
        who = type(self).__name__
        x = as_floating(x, who)
        low = len(pads) // 2 if self.mode == "constant" else self.dims + 1
        high = None if self.mode == "constant" else self.dims + 2
        if x.ndim < low or (high is not None and x.ndim > high):
            shapes = "(N, C, L) or unbatched (C, L)" if self.dims == 1 else "(N, C, H, W) or (C, H, W)"
            expected = f"at least {low} axes" if high is None else shapes
            raise ValueError(f"{who}: expected input {expected}, got {x.shape}")
        return x

    def _axis_maps(self, shape: tuple[int, ...], pads: tuple[int, ...]) -> list[tuple[int, np.ndarray, ...]]:
        """(axis, src, valid) for each padded axis, last axis first, after torch's checks
        (``functional_pad.pad_maps``, F.pad's)."""
        return pad_maps(shape, pads, self.mode, type(self).__name__)

    def forward(self, x: np.ndarray) -> np.ndarray:
        pads = self._read_padding()
        x = self._check_input(x, pads)
        self._maps = maps = self._axis_maps(x.shape, pads)
        self._x_shape, self._dtype = x.shape, x.dtype
        return apply_pad_maps(x, maps, self.value, type(self).__name__)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        maps = self._cached(self._maps)
        shape = list(self._x_shape)
        for axis, src, _ in maps:
            shape[axis] = src.size
        dy = self._check_grad(dy, tuple(shape), self._dtype)
        # w.r.t. input
        for axis, src, valid in reversed(maps):
            shape[axis] = self._x_shape[axis]
            dx = np.zeros(shape, dtype=self._dtype)
            dy_last = np.moveaxis(dy, axis, -1)[..., valid]
            np.add.at(np.moveaxis(dx, axis, -1), (Ellipsis, src[valid]), dy_last)
            dy = dx
        return dy

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_Pad):
    """Pads the last axis with a constant, as torch.nn.ConstantPad1d.

    Shapes:   x (..., L) (at least 1 axis)   y (..., L + left + right)   padding (left, right)
    Forward:  y[..., o] = x[..., o - left] where 0 <= o - left < L, else value   (negative: crops)
    Backward: dx[..., l] = dy[..., l + left] for every l kept                  (..., L)
    Example:
        pad = ConstantPad1d((1, 2), 3.5)
        y = pad(np.zeros((1, 2, 4)))                  # (1, 2, 7)
        dx = pad.backward(np.ones_like(y))            # (1, 2, 4) ones
    """

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise SettingTypeError(f"{type(self).__name__}: value must be a real number, got {value!r}")
        self.value = float(value)  # inf and NaN too, as torch (-inf before a max pool)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pads the last two axes with a constant, as torch.nn.ConstantPad2d.

    Shapes:   x (..., H, W) (at least 2 axes)   y (..., H + top + bottom, W + left + right)
              padding (left, right, top, bottom)   ((left, right): only W, as torch)
    Forward:  y[..., oh, ow] = x[..., oh - top, ow - left] inside x, else value  (negative: crops)
    Backward: dx[..., h, w] = dy[..., h + top, w + left] for every (h, w) kept  (..., H, W)
    Example:
        pad = ConstantPad2d((1, 1, 2, 0), -1.0)
        y = pad(np.zeros((1, 2, 3, 4)))               # (1, 2, 5, 6)
        dx = pad.backward(np.ones_like(y))            # (1, 2, 3, 4) ones
    """

    dims = 2


class ZeroPad1d(ConstantPad1d):
    """ConstantPad1d with value 0, as torch.nn.ZeroPad1d (formulas: ConstantPad1d's).

    Shapes:   x (..., L)   y (..., L + left + right)
    Forward:  y[..., o] = x[..., o - left] where 0 <= o - left < L, else 0
    Backward: dx[..., l] = dy[..., l + left]                                  (..., L)
    Example:
        pad = ZeroPad1d(2)
        y = pad(np.ones((1, 2, 4)))                   # (1, 2, 8), zeros at both ends
        dx = pad.backward(np.ones_like(y))            # (1, 2, 4) ones
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """ConstantPad2d with value 0, as torch.nn.ZeroPad2d (formulas: ConstantPad2d's).

    Shapes:   x (..., H, W)   y (..., H + top + bottom, W + left + right)
    Forward:  y[..., oh, ow] = x[..., oh - top, ow - left] inside x, else 0
    Backward: dx[..., h, w] = dy[..., h + top, w + left]                      (..., H, W)
    Example:
        pad = ZeroPad2d((1, 1, 2, 0))
        y = pad(np.ones((1, 2, 3, 4)))                # (1, 2, 5, 6)
        dx = pad.backward(np.ones_like(y))            # (1, 2, 3, 4) ones
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_Pad):
    """Pads L by its mirror image, the edge not repeated, as torch.nn.ReflectionPad1d.

    Shapes:   x (N, C, L) or (C, L)   y (N, C, L + left + right)   left, right < L (as torch)
    Forward:  y[..., o] = x[..., src[o]],  src = |o - left|, then 2*(L - 1) - src where src >= L
    Backward: dx[..., src[o]] += dy[..., o]   for every o                     (N, C, L)
    Example:
        pad = ReflectionPad1d(2)
        y = pad(np.arange(4.0).reshape(1, 1, 4))      # [[[2, 1, 0, 1, 2, 3, 2, 1]]]
        dx = pad.backward(np.ones_like(y))            # [[[1, 3, 3, 1]]]
    """

    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """ReflectionPad1d's map on W, then on H, as torch.nn.ReflectionPad2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y (.., H + top + bottom, W + left + right)
              left, right < W and top, bottom < H (as torch)
    Forward:  y[..., oh, ow] = x[..., src_h[oh], src_w[ow]]   (src: ReflectionPad1d's, per axis)
    Backward: dx[..., src_h[oh], src_w[ow]] += dy[..., oh, ow]   for every (oh, ow)   (.., H, W)
    Example:
        pad = ReflectionPad2d(1)
        y = pad(np.zeros((1, 2, 3, 4)))               # (1, 2, 5, 6)
        dx = pad.backward(np.ones_like(y))            # each map [[1, 2, 2, 1], [3, 6, 6, 3], [1, 2, 2, 1]]
    """

    dims = 2


class ReplicationPad1d(_Pad):
    """Pads L by repeating its edge elements, as torch.nn.ReplicationPad1d.

    Shapes:   x (N, C, L) or (C, L)   y (N, C, L + left + right)
    Forward:  y[..., o] = x[..., clip(o - left, 0, L - 1)]
    Backward: dx[..., clip(o - left, 0, L - 1)] += dy[..., o]   for every o    (N, C, L)
    Example:
        pad = ReplicationPad1d((2, 1))
        y = pad(np.arange(3.0).reshape(1, 1, 3))      # [[[0, 0, 0, 1, 2, 2]]]
        dx = pad.backward(np.ones_like(y))            # [[[3, 1, 2]]]
    """

    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """ReplicationPad1d's map on W, then on H, as torch.nn.ReplicationPad2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y (.., H + top + bottom, W + left + right)
    Forward:  y[..., oh, ow] = x[..., clip(oh - top, 0, H - 1), clip(ow - left, 0, W - 1)]
    Backward: dx[..., clip(oh - top, ..), clip(ow - left, ..)] += dy[..., oh, ow]   (.., H, W)
    Example:
        pad = ReplicationPad2d(1)
        y = pad(np.zeros((1, 2, 3, 4)))               # (1, 2, 5, 6)
        dx = pad.backward(np.ones_like(y))            # (1, 2, 3, 4): corners take 4
    """

    dims = 2


class CircularPad1d(_Pad):
    """Pads L by wrapping around, as torch.nn.CircularPad1d.

    Shapes:   x (N, C, L) or (C, L)   y (N, C, L + left + right)
              each positive side at most the n elements the crops leave (torch: wrapping once;
              where x or y has no elements, what torch takes: y empty)
    Forward:  y[..., o] = x[..., c0 + (o - max(left, 0)) mod n]   ([c0, c1): the elements kept, n = c1 - c0)
    Backward: dx[..., c0 + (o - max(left, 0)) mod n] += dy[..., o]   for every o   (N, C, L)
    Example:
        pad = CircularPad1d(1)
        y = pad(np.arange(3.0).reshape(1, 1, 3))      # [[[2, 0, 1, 2, 0]]]
        dx = pad.backward(np.ones_like(y))            # [[[2, 1, 2]]]
    """

    mode = "circular"


class CircularPad2d(CircularPad1d):
    """CircularPad1d's map on W, then on H, as torch.nn.CircularPad2d.

    Shapes:   x (N, C, H, W) or (C, H, W)   y (.., H + top + bottom, W + left + right)
    Forward:  y[..., oh, ow] = x[..., src_h[oh], src_w[ow]]   (src: CircularPad1d's, per axis)
    Backward: dx[..., src_h[oh], src_w[ow]] += dy[..., oh, ow]   for every (oh, ow)   (.., H, W)
    Example:
        pad = CircularPad2d(1)
        y = pad(np.zeros((1, 2, 3, 4)))               # (1, 2, 5, 6)
        dx = pad.backward(np.ones_like(y))            # (1, 2, 3, 4): corners take 4
    """

    dims = 2
