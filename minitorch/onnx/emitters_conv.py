"""ONNX emitters of the image layers: Conv2d, MaxPool2d/AvgPool2d (torch's padding and divisors),
AdaptiveAvgPool2d."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.layers.conv import Conv2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.onnx.graph import _Graph
from minitorch.onnx.registry import emitter


@emitter(Conv2d)
def _conv2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    top, bottom, left, right = m._read_geometry()  # the pads forward uses ("same": the odd pixel after)
    (kh, kw), (dh, dw) = m.weight.shape[2:], m.dilation  # the weight's kernel, as torch's forward reads it
    pads = [top, left, bottom, right]
    inputs = [x, g.const(m.weight.data, "weight")]
    if m.bias is not None:
        inputs.append(g.const(m.bias.data, "bias"))
    return g.op("Conv", inputs, "conv", kernel_shape=[kh, kw], strides=list(m.stride),
                dilations=[dh, dw], pads=pads)


def _window_attrs(m: Any, pads: tuple[int, int, int, int]) -> dict[str, list[int]]:
    """kernel_shape, strides and pads of a 2-D pool: explicit pads (top, bottom, left, right),
    ceil_mode's overhang included (ONNX's own ceil_mode rule is not torch's)."""
    top, bottom, left, right = pads
    return {"kernel_shape": list(m.kernel_size), "strides": list(m.stride),  # (h, w) pairs of ints
            "pads": [top, left, bottom, right]}


@emitter(MaxPool2d)
def _max_pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    if m.return_indices:  # ONNX's Indices count across N and C too, and a graph output is one array
        raise TypeError("onnx.export: MaxPool2d(return_indices=True) has no ONNX form here (its output "
                        "is a tuple); export the model with return_indices=False")
    m._read_geometry()  # the settings as its forward reads them (an int set later as a pair), checked
    top, bottom, left, right = m.pads_for(shape[2:])
    attrs = _window_attrs(m, (top, bottom, left, right))
    (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
    if max(top, bottom) >= kh or max(left, right) >= kw:  # ONNX Runtime wants pads < kernel: a
        # dilated window's ceil_mode overhang can be wider, so the padding is a Pad node of -inf
        pads = g.const([0, 0, top, left, 0, 0, bottom, right], "max_pool_pads", np.int64)
        x = g.op("Pad", [x, pads, g.const(-np.inf, "max_pool_pad_value")], "max_pool_pad")
        attrs["pads"] = [0, 0, 0, 0]
    y = g.op("MaxPool", [x], "max_pool", dilations=[dh, dw], **attrs)
    alone = (_padding_only(shape[2], top, bottom, kh, sh, dh)[:, None]
             | _padding_only(shape[3], left, right, kw, sw, dw)[None, :])
    if not alone.any():
        return y
    # a (dilated) window of padding only is -inf, as the layer's; onnxruntime's MaxPool gives float's lowest
    return g.op("Where", [g.const(alone, "padding_only", np.bool_), g.const(-np.inf, "minus_inf"), y],
                "max_pool_padding_only")


@emitter(AvgPool2d)
def _avg_pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    m._read_geometry()  # the settings as its forward reads them (an int set later as a pair), checked
    top, bottom, left, right = m.pads_for(shape[2:])
    attrs = _window_attrs(m, (top, bottom, left, right))
    if not m.count_include_pad and m.divisor_override is None:  # the overhang is padding: not counted
        return g.op("AveragePool", [x], "avg_pool", count_include_pad=0, **attrs)
    mean = g.op("AveragePool", [x], "avg_pool", count_include_pad=1, **attrs)  # sum / (kh*kw)
    if m.divisor_override is None and (bottom, right) == (top, left):
        return mean  # no overhang: torch divides every window by kh*kw too
    # torch divides each window's sum by div[oh, ow] (overhang not counted, or divisor_override)
    kh, kw = m.kernel_size
    scale = g.const(kh * kw / m.divisor(shape[2:], np.float64), "avg_pool_scale")
    return g.op("Mul", [mean, scale], "avg_pool_divisor")


def _padding_only(size: int, before: int, after: int, k: int, s: int, d: int) -> np.ndarray:
    """(O,) True where window o along one axis (padded by ``before`` and ``after``, ceil_mode's overhang
    included) reads padding only: each tap o*s + j*d - before outside [0, size)."""
    out = (before + size + after - d * (k - 1) - 1) // s + 1
    taps = np.arange(out)[:, None] * s + np.arange(k) * d - before
    return ~((taps >= 0) & (taps < size)).any(axis=1)


@emitter(AdaptiveAvgPool2d)
def _adaptive_avg_pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    h, w = shape[2:]
    oh, ow = m._out_hw(shape)  # output_size as its forward reads it (None: that input size)
    if (oh, ow) == (1, 1):
        return g.op("GlobalAveragePool", [x], "global_avg_pool")
    # the mean of each row bin, then of each column bin (bins may be uneven and overlap): a bin's
    # mean reads only its own pixels, so an inf or nan elsewhere stays out (a bin-averaging MatMul
    # would spread it: 0 * inf = nan)
    return _bin_means(g, _bin_means(g, x, h, oh, axis=2), w, ow, axis=3)


def _bin_means(g: _Graph, x: str, n: int, out: int, axis: int) -> str:
    """Along ``axis`` (n long): ``out`` means, bin i over [floor(i*n/out), ceil((i+1)*n/out)), as torch's."""
    if out == n:
        return x
    means = []
    for i in range(out):
        start, stop = (i * n) // out, -((-(i + 1) * n) // out)
        window = g.op("Slice", [x, g.const([start], "start", np.int64), g.const([stop], "end", np.int64),
                                g.const([axis], "axes", np.int64)], "adaptive_avg_pool")
        means.append(g.op("ReduceMean", [window], "adaptive_avg_pool", axes=[axis], keepdims=1))
    return g.op("Concat", means, "adaptive_avg_pool", axis=axis)
