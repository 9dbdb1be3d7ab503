"""ONNX emitters of the padding layers: Constant/Zero/Reflection/Replication/CircularPad1d and 2d.

Each padded axis (a side of amount a: a > 0 pads, a < 0 crops) becomes, as the layer's index maps
(padding.py) read it:
  constant, reflect, replicate   Pad (mode constant with the value, reflect, edge) by the positive
                                 sides, then Slice off the negative ones: the layer reads position
                                 o - left of x extended by its mode, the same as padding first
  circular                       Slice off the negative sides first (torch crops before it wraps),
                                 then Concat [last left, all, first right] of what is left: opset 17's
                                 Pad has no wrap mode (opset 19 adds it); where y has no elements (a
                                 padded axis of x or of y empty: the layer reads nothing), one Pad of
                                 the sides as they are (negative ones crop), which gives y's shape
Slices count the right crop from the end, so the graph takes any size along the free first axis
(a ConstantPad1d of a 1-D input pads that axis; an unbatched input's channels become the batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.layers.padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from minitorch.onnx.graph import _Graph
from minitorch.onnx.registry import emitter

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}  # layer mode: Pad mode
_END = np.iinfo(np.int64).max  # a Slice end past the axis: no crop on that side


@emitter(ConstantPad1d, ConstantPad2d, ZeroPad1d, ZeroPad2d, ReflectionPad1d, ReflectionPad2d,
         ReplicationPad1d, ReplicationPad2d, CircularPad1d, CircularPad2d)
def _pad(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    pads = m._read_padding()  # the layer's checks (torch's) first: what it refuses is refused here
    m._check_input(np.broadcast_to(np.zeros((), g.dtype), shape), pads)
    m._axis_maps(shape, pads)
    # (axis, left, right) per padded axis: pads are torch's pairs, the last axis first
    sides = [(len(shape) - 1 - a, pads[2 * a], pads[2 * a + 1]) for a in range(len(pads) // 2)]
    if m.mode == "circular" and any(shape[axis] == 0 or shape[axis] + left + right == 0
                                    for axis, left, right in sides):
        return _empty(g, x, sides, len(shape))
    if m.mode == "circular":
        return _wrap(g, _crop(g, x, sides), sides)
    return _crop(g, _extend(g, m, x, sides, len(shape)), sides)


def _extend(g: _Graph, m: Any, x: str, sides: list[tuple[int, int, int]], rank: int) -> str:
    """x padded by the positive sides in the layer's mode (one Pad node; none if no side is positive)."""
    begins, ends = [0] * rank, [0] * rank
    for axis, left, right in sides:
        begins[axis], ends[axis] = max(left, 0), max(right, 0)
    if not any(begins + ends):
        return x
    inputs = [x, g.const(begins + ends, "pads", np.int64)]
    if m.mode == "constant":
        inputs.append(g.const(m.value, "pad_value"))  # in the graph's dtype, as the layer fills its output
    return g.op("Pad", inputs, "pad", mode=_PAD_MODES[m.mode])


def _empty(g: _Graph, x: str, sides: list[tuple[int, int, int]], rank: int) -> str:
    """The circular layer's y where it has no elements: one Pad node by the sides as they are, so its
    shape is y's (each padded axis L + left + right) and no value is read. (Crop-then-wrap would wrap
    an axis the crops left empty, giving that axis 0 where y has left + right.)"""
    begins, ends = [0] * rank, [0] * rank
    for axis, left, right in sides:
        begins[axis], ends[axis] = left, right
    return g.op("Pad", [x, g.const(begins + ends, "pads", np.int64)], "pad_nothing", mode="constant")


def _crop(g: _Graph, x: str, sides: list[tuple[int, int, int]]) -> str:
    """x without the negative sides (one Slice node; none if no side is negative)."""
    cropped = [(axis, max(-left, 0), right if right < 0 else _END)
               for axis, left, right in sides if left < 0 or right < 0]
    if not cropped:
        return x
    axes, starts, ends = zip(*cropped, strict=True)
    return g.op("Slice", [x, g.const(starts, "starts", np.int64), g.const(ends, "ends", np.int64),
                          g.const(axes, "axes", np.int64)], "pad_crop")


def _wrap(g: _Graph, x: str, sides: list[tuple[int, int, int]]) -> str:
    """x wrapped around by the positive sides, axis by axis (each at most the axis's length, checked)."""
    for axis, left, right in sides:
        parts = []
        if left > 0:  # its last ``left`` elements
            parts.append(_slice(g, x, -left, _END, axis))
        parts.append(x)
        if right > 0:  # its first ``right`` elements
            parts.append(_slice(g, x, 0, right, axis))
        x = x if len(parts) == 1 else g.op("Concat", parts, "pad_wrap", axis=axis)
    return x


def _slice(g: _Graph, x: str, start: int, end: int, axis: int) -> str:
    return g.op("Slice", [x, g.const([start], "start", np.int64), g.const([end], "end", np.int64),
                          g.const([axis], "axes", np.int64)], "pad_wrap")
