"""ONNX emitters of the normalisation layers: BatchNorm1d/2d (running statistics, or the batch's own
without them) and LayerNorm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minitorch.layers import BatchNorm1d, BatchNorm2d, LayerNorm
from minitorch.onnx.graph import _Graph, _is_float64
from minitorch.onnx.registry import emitter


@emitter(BatchNorm1d, BatchNorm2d)
def _batch_norm(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    c = shape[1]  # the input's channels, as the layer's forward reads them (not an edited num_features)
    scale = m.weight.data if m.weight is not None else np.ones(c)
    shift = m.bias.data if m.bias is not None else np.zeros(c)
    per_channel = (c,) + (1,) * (len(shape) - 2)
    if m.running_mean is None and m.running_var is None:  # (track_running_stats=False): as the layer's
        # eval, the batch's own statistics over every axis but 1
        if math.prod(shape[2:]) == 1:  # a batch of one is one value per channel: the layer raises, as torch
            why = f"{type(m).__name__}_with_no_running_statistics_needs_a_batch_of_2_or_more"
            x = _fail_on_a_batch_of_one(g, x, why)
        axes = [0, *range(2, len(shape))]
        centred = g.op("Sub", [x, g.op("ReduceMean", [x], "batch_norm", axes=axes)], "batch_norm")
        var = g.op("ReduceMean", [g.op("Mul", [centred, centred], "batch_norm")], "batch_norm", axes=axes)
        std = g.op("Sqrt", [g.op("Add", [var, g.const(m.eps, "eps")], "batch_norm")], "batch_norm")
        gamma = g.const(scale.reshape(per_channel), "gamma")
        y = g.op("Mul", [g.op("Div", [centred, std], "batch_norm"), gamma], "batch_norm")
        return g.op("Add", [y, g.const(shift.reshape(per_channel), "beta")], "batch_norm")
    if _is_float64(g):  # (x - running_mean) * inv_std * weight + bias, per channel, as the layer's eval
        inv_std = 1.0 / np.sqrt(m.running_var + m.eps)
        y = g.op("Sub", [x, g.const(m.running_mean.reshape(per_channel), "mean")], "batch_norm")
        y = g.op("Mul", [y, g.const(inv_std.reshape(per_channel), "inv_std")], "batch_norm")
        y = g.op("Mul", [y, g.const(scale.reshape(per_channel), "gamma")], "batch_norm")
        return g.op("Add", [y, g.const(shift.reshape(per_channel), "beta")], "batch_norm")
    inputs = [x, g.const(scale, "gamma"), g.const(shift, "beta"),
              g.const(m.running_mean, "mean"), g.const(m.running_var, "var")]
    return g.op("BatchNormalization", inputs, "batch_norm", epsilon=float(m.eps))


def _fail_on_a_batch_of_one(g: _Graph, x: str, why: str) -> str:
    """x, through a guard that makes the runtime fail on a batch of one, its error naming the node ``why``.

    ONNX has no assert: the guard is x * table[N == 1] with table = [1.0], so a batch of one indexes out
    of range (Gather's error, onnxruntime's message names the node) and any other batch gets x * 1.0 = x
    exactly.
    """
    batch = g.op("Shape", [x], "batch_size", start=0, end=1)
    single = g.op("Cast", [g.op("Equal", [batch, g.const([1], "one", np.int64)], "batch_size")], "batch_size",
                  to=g.onnx.TensorProto.INT64)
    return g.op("Mul", [x, g.op("Gather", [g.const([1.0], "ones"), single], why, axis=0)], "batch_norm")


@emitter(LayerNorm)
def _layer_norm(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    dims = tuple(m.normalized_shape)
    scale = m.weight.data if getattr(m, "weight", None) is not None else np.ones(dims)
    shift = m.bias.data if getattr(m, "bias", None) is not None else np.zeros(dims)
    if _is_float64(g):  # (x - mean) / sqrt(var + eps) * weight + bias over the last len(dims) axes
        axes = list(range(-len(dims), 0))
        centred = g.op("Sub", [x, g.op("ReduceMean", [x], "layer_norm", axes=axes)], "layer_norm")
        var = g.op("ReduceMean", [g.op("Mul", [centred, centred], "layer_norm")], "layer_norm", axes=axes)
        std = g.op("Sqrt", [g.op("Add", [var, g.const(m.eps, "eps")], "layer_norm")], "layer_norm")
        y = g.op("Mul", [g.op("Div", [centred, std], "layer_norm"), g.const(scale, "gamma")], "layer_norm")
        return g.op("Add", [y, g.const(shift, "beta")], "layer_norm")
    inputs = [x, g.const(scale, "gamma"), g.const(shift, "beta")]
    return g.op("LayerNormalization", inputs, "layer_norm", axis=-len(dims), epsilon=float(m.eps))
