"""ONNX emitters of the layers added for issue 15 (registered in ``EMITTERS`` by class on import, opset 17).

Opset 17 has no Mish and no GroupNormalization: both are written out from their formulas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.layers import (
    AdaptiveMaxPool2d,
    Conv1d,
    ConvTranspose2d,
    Dropout2d,
    GroupNorm,
    Hardtanh,
    Mish,
    PReLU,
    SiLU,
    Softplus,
    Unflatten,
    Upsample,
)
from minitorch.onnx.graph import _Graph
from minitorch.onnx.registry import emitter
from minitorch.onnx.validation import _BATCHED_RANK

_BATCHED_RANK.update({Conv1d: 3, ConvTranspose2d: 4, AdaptiveMaxPool2d: 4})  # (Upsample: always batched)


@emitter(SiLU)
def _silu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x], "silu")], "silu")


@emitter(Mish)
def _mish(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], "mish")], "mish")], "mish")


@emitter(Softplus)
def _softplus(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # where(beta*x > threshold, x, softplus(beta*x) / beta), as torch
    bx = g.op("Mul", [x, g.const(m.beta, "beta")], "softplus")
    smooth = g.op("Div", [g.op("Softplus", [bx], "softplus"), g.const(m.beta, "beta")], "softplus")
    linear = g.op("Greater", [bx, g.const(m.threshold, "threshold")], "softplus")
    return g.op("Where", [linear, x, smooth], "softplus")


@emitter(Hardtanh)
def _hardtanh(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Clip", [x, g.const(m.min_val, "min"), g.const(m.max_val, "max")], "hardtanh")


@emitter(PReLU)
def _prelu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    w = m.weight.data  # the slopes the forward reads (its size, not num_parameters)
    slope = w if w.size == 1 else w.reshape((-1,) + (1,) * (len(shape) - 2))
    return g.op("PRelu", [x, g.const(slope, "slope")], "prelu")


@emitter(Dropout2d)
def _dropout2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Identity", [x], "identity")  # the identity at inference


@emitter(GroupNorm)
def _group_norm(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    grouped = g.op("Reshape", [x, g.const([0, m.num_groups, -1], "shape", np.int64)], "group_norm")
    mean = g.op("ReduceMean", [grouped], "group_norm", axes=[2])
    centred = g.op("Sub", [grouped, mean], "group_norm")
    var = g.op("ReduceMean", [g.op("Mul", [centred, centred], "group_norm")], "group_norm", axes=[2])
    std = g.op("Sqrt", [g.op("Add", [var, g.const(m.eps, "eps")], "group_norm")], "group_norm")
    x_hat = g.op("Reshape", [g.op("Div", [centred, std], "group_norm"), g.op("Shape", [x], "group_norm")],
                 "group_norm")
    if m.weight is None:
        return x_hat
    per_channel = (-1,) + (1,) * (len(shape) - 2)
    scaled = g.op("Mul", [x_hat, g.const(m.weight.data.reshape(per_channel), "gamma")], "group_norm")
    return g.op("Add", [scaled, g.const(m.bias.data.reshape(per_channel), "beta")], "group_norm")


@emitter(Conv1d)
def _conv1d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    _, _, left, right = m._read_geometry()
    inputs = [x, g.const(m.weight.data, "weight")]
    inputs += [] if m.bias is None else [g.const(m.bias.data, "bias")]
    return g.op("Conv", inputs, "conv1d", kernel_shape=[m.weight.shape[2]], strides=[m.stride],
                dilations=[m.dilation], pads=[left, right])


@emitter(ConvTranspose2d)
def _conv_transpose2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    m._read_geometry()  # the settings as its forward reads them (an int set later as a pair), checked
    ph, pw = m.padding
    attrs = {"kernel_shape": list(m.weight.shape[2:]), "strides": list(m.stride),
             "dilations": list(m.dilation)}
    if all(op < s for op, s in zip(m.output_padding, m.stride, strict=True)):
        inputs = [x, g.const(m.weight.data, "weight")]
        inputs += [] if m.bias is None else [g.const(m.bias.data, "bias")]
        return g.op("ConvTranspose", inputs, "conv_transpose", pads=[ph, pw, ph, pw],
                    output_padding=list(m.output_padding), **attrs)
    # output_padding >= stride (torch allows it below the dilation; onnxruntime refuses it): the full
    # scatter, its output_padding zero rows/columns, the crop of the padding, then the bias
    (oph, opw), (_, _, hf, wf) = m.output_padding, m._full_shape(shape, m.output_padding)
    y = g.op("ConvTranspose", [x, g.const(m.weight.data, "weight")], "conv_transpose", pads=[0, 0, 0, 0],
             **attrs)
    y = g.op("Pad", [y, g.const([0, 0, 0, 0, 0, 0, oph, opw], "pads", np.int64)], "conv_transpose_pad")
    y = g.op("Slice", [y, g.const([ph, pw], "start", np.int64), g.const([hf - ph, wf - pw], "end", np.int64),
                       g.const([2, 3], "axes", np.int64)], "conv_transpose_crop")
    if m.bias is None:
        return y
    return g.op("Add", [y, g.const(m.bias.data.reshape(-1, 1, 1), "bias")], "conv_transpose_bias")


@emitter(Upsample)
def _upsample(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # Resize's scales are float32 (1 / 2.2 off by 1e-8): a float64 graph computes the layer's taps,
    # the last axis first, t = sum_k Gather(x, iw[k], axis=3) * lw[k], then axis 2 likewise (each
    # output reads only its taps, so an inf or nan stays where the layer and torch put it)
    spatial = shape[2:]
    scales = m._scales(len(spatial)) if m.scale_factor is not None else (None,) * len(spatial)
    sizes = m._sizes(len(spatial)) if m.size is not None else tuple(
        int(n * s) for n, s in zip(spatial, scales, strict=True))
    one_d_nearest = len(spatial) == 1 and m.mode == "nearest"  # torch's 1-D forward: floor(o * s) throughout
    # a 1-D resize too: onnxruntime's Resize of a 3-D input spreads an inf into the other channels' rows
    if np.dtype(g.dtype) == np.float64 or len(spatial) == 1:
        for axis in reversed(range(len(spatial))):
            taps = m._taps(sizes[axis], spatial[axis], scales[axis], np.dtype(g.dtype), not one_d_nearest)
            x = _tap_sum(g, x, taps, 2 + axis, len(shape))
        return x
    if m.mode == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:
        # half_pixel, not pytorch_half_pixel: the latter maps an output axis of length 1 to source 0,
        # where torch (and MiniTorch) take (0 + 0.5) * s - 0.5, the input's middle; both agree elsewhere
        transform = "align_corners" if m.align_corners else "half_pixel"
        attrs = {"mode": "linear", "coordinate_transformation_mode": transform}
    if m.scale_factor is not None:  # torch maps with 1 / scale_factor: give ONNX the same scales
        # except where the size lands on the input's (a copy) or, nearest, twice it (o // 2): scale 1 or 2
        special = (1, 2) if m.mode == "nearest" else (1,)
        exact = [out / size if out / size in special else s
                 for out, size, s in zip(sizes, spatial, scales, strict=True)]
        return g.op("Resize", [x, "", g.const([1.0, 1.0, *exact], "scales", np.float32)], "resize", **attrs)
    # sizes: the batch and channel dims are the input's, so the graph keeps a free batch dim
    nc = g.op("Slice", [g.op("Shape", [x], "resize"), g.const([0], "start", np.int64),
                        g.const([2], "end", np.int64)], "resize")
    sizes_node = g.op("Concat", [nc, g.const(list(sizes), "hw", np.int64)], "resize", axis=0)
    return g.op("Resize", [x, "", "", sizes_node], "resize", **attrs)


@emitter(AdaptiveMaxPool2d)
def _adaptive_max_pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    if m.return_indices:
        raise TypeError("onnx.export: AdaptiveMaxPool2d(return_indices=True) has no ONNX form here (its "
                        "output is a tuple); export the model with return_indices=False")
    h, w = shape[2:]
    oh = h if m._size[0] is None else m._size[0]
    ow = w if m._size[1] is None else m._size[1]
    if (oh, ow) == (1, 1):  # ReduceMax: onnxruntime's GlobalMaxPool gives float32's lowest for -inf alone
        return g.op("ReduceMax", [x], "global_max_pool", axes=[2, 3], keepdims=1)
    rows = []
    for i in range(oh):  # one ReduceMax per bin (bins may be uneven and overlap): oh*ow small nodes
        cells = []
        for j in range(ow):
            start = [(i * h) // oh, (j * w) // ow]
            end = [-((-(i + 1) * h) // oh), -((-(j + 1) * w) // ow)]
            window = g.op("Slice", [x, g.const(start, "start", np.int64), g.const(end, "end", np.int64),
                                    g.const([2, 3], "axes", np.int64)], "adaptive_max_pool")
            cells.append(g.op("ReduceMax", [window], "adaptive_max_pool", axes=[2, 3], keepdims=1))
        rows.append(g.op("Concat", cells, "adaptive_max_pool", axis=3))
    return g.op("Concat", rows, "adaptive_max_pool", axis=2)


@emitter(Unflatten)
def _unflatten(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    dim = m.dim % len(shape)
    if dim == 0:
        raise TypeError("onnx.export: Unflatten of the batch dim (dim=0) has no ONNX form with a free batch")
    size = list(m.unflattened_size)
    if -1 in size:
        size[size.index(-1)] = shape[dim] // int(np.prod([s for s in size if s != -1]))
    target = [0, *shape[1:dim], *size, *shape[dim + 1 :]]  # 0 copies the (free) batch dim
    return g.op("Reshape", [x, g.const(target, "shape", np.int64)], "unflatten")





def _tap_sum(g: _Graph, x: str, taps: list[tuple[np.ndarray, np.ndarray]], axis: int, ndim: int) -> str:
    """sum_k Gather(x, i[k], axis) * w[k]: Upsample's taps along one ``axis`` of an ``ndim``-D input."""
    terms = []
    for i, w in taps:
        read = g.op("Gather", [x, g.const(i, "taps", np.int64)], "upsample", axis=axis)
        along = w.reshape((-1,) + (1,) * (ndim - 1 - axis))
        terms.append(g.op("Mul", [read, g.const(along, "weights")], "upsample"))
    return terms[0] if len(terms) == 1 else g.op("Add", terms, "upsample")
