"""ONNX emitters of the torch.nn activations added with RMSNorm, registered by class on import (opset 17).

Each is written out from its layer's formula with constants of the graph's dtype (ONNX keeps a float
attribute as a float32, so Selu, Celu, HardSigmoid and Shrink would compute float64 graphs at 1e-8);
opset 17 has no RMSNormalization.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.layers import (
    CELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    LogSigmoid,
    ReLU6,
    RMSNorm,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from minitorch.layers.activations_smooth import SELU_ALPHA, SELU_SCALE
from minitorch.onnx.graph import _Graph, _is_float64
from minitorch.onnx.registry import emitter


def _clip(g: _Graph, x: str, low: float, high: float, hint: str) -> str:
    return g.op("Clip", [x, g.const(low, "min"), g.const(high, "max")], hint)


@emitter(ReLU6)
def _relu6(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return _clip(g, x, 0.0, 6.0, "relu6")


@emitter(Hardsigmoid)
def _hardsigmoid(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    clipped = _clip(g, g.op("Add", [x, g.const(3.0, "three")], "hardsigmoid"), 0.0, 6.0, "hardsigmoid")
    return g.op("Div", [clipped, g.const(6.0, "six")], "hardsigmoid")


@emitter(Hardswish)
def _hardswish(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    clipped = _clip(g, g.op("Add", [x, g.const(3.0, "three")], "hardswish"), 0.0, 6.0, "hardswish")
    return g.op("Div", [g.op("Mul", [x, clipped], "hardswish"), g.const(6.0, "six")], "hardswish")


@emitter(Threshold)
def _threshold(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    below = g.op("LessOrEqual", [x, g.const(m.threshold, "threshold")], "threshold")
    return g.op("Where", [below, g.const(m.value, "value"), x], "threshold")


@emitter(Softshrink)
def _softshrink(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Sub", [x, _clip(g, x, -m.lambd, m.lambd, "softshrink")], "softshrink")


@emitter(Hardshrink)
def _hardshrink(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    inside = g.op("And", [g.op("GreaterOrEqual", [x, g.const(-m.lambd, "low")], "hardshrink"),
                          g.op("LessOrEqual", [x, g.const(m.lambd, "high")], "hardshrink")], "hardshrink")
    return g.op("Where", [inside, g.const(0.0, "zero"), x], "hardshrink")


def _elu(g: _Graph, x: str, alpha: float, scale: float, input_scale: float, hint: str) -> str:
    """where(x <= 0, scale * alpha * (exp(min(x, 0) * input_scale) - 1), scale * x): the layers' kernel."""
    neg = g.op("Mul", [g.op("Min", [x, g.const(0.0, "zero")], hint), g.const(input_scale, "c")], hint)
    expm1 = g.op("Sub", [g.op("Exp", [neg], hint), g.const(1.0, "one")], hint)
    below = g.op("LessOrEqual", [x, g.const(0.0, "zero")], hint)
    return g.op("Where", [below, g.op("Mul", [expm1, g.const(scale * alpha, "c")], hint),
                          g.op("Mul", [x, g.const(scale, "c")], hint)], hint)


@emitter(SELU)
def _selu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return _elu(g, x, SELU_ALPHA, SELU_SCALE, 1.0, "selu")


@emitter(CELU)
def _celu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return _elu(g, x, m.alpha, 1.0, 1.0 / m.alpha, "celu")


@emitter(Softsign)
def _softsign(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    d = g.op("Add", [g.op("Abs", [x], "softsign"), g.const(1.0, "one")], "softsign")
    return g.op("Div", [x, d], "softsign")


@emitter(Tanhshrink)
def _tanhshrink(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Sub", [x, g.op("Tanh", [x], "tanhshrink")], "tanhshrink")


@emitter(LogSigmoid)
def _logsigmoid(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # min(x, 0) - log(1 + exp(-|x|)): exp of values <= 0 only; onnxruntime has no float64 Softplus, so a
    # float64 graph writes it out (ONNX has no log1p: a tail below 1e-16 reads 0, an absolute 1e-16)
    e = g.op("Neg", [g.op("Abs", [x], "logsigmoid")], "logsigmoid")
    tail = (g.op("Log", [g.op("Add", [g.op("Exp", [e], "logsigmoid"), g.const(1.0, "one")], "logsigmoid")],
                 "logsigmoid") if _is_float64(g) else g.op("Softplus", [e], "logsigmoid"))
    return g.op("Sub", [g.op("Min", [x, g.const(0.0, "zero")], "logsigmoid"), tail], "logsigmoid")


@emitter(Softmin)
def _softmin(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # dim None (not given) computes along the last axis: the forward refuses inputs of more than 2 dims
    axis = -1 if m.dim is None else int(m.dim)
    return g.op("Softmax", [g.op("Neg", [x], "softmin")], "softmin", axis=axis)


@emitter(GLU)
def _glu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    a, b = g.name("glu"), g.name("glu")
    g.nodes.append(g.onnx.helper.make_node("Split", [x], [a, b], name=a, axis=int(m.dim)))  # two halves
    return g.op("Mul", [a, g.op("Sigmoid", [b], "glu")], "glu")


@emitter(RMSNorm)
def _rms_norm(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    axes = list(range(-len(m.normalized_shape), 0))
    eps = np.finfo(g.dtype).eps if m.eps is None else m.eps  # None: the machine epsilon, as the layer's
    mean_square = g.op("ReduceMean", [g.op("Mul", [x, x], "rms_norm")], "rms_norm", axes=axes)
    rms = g.op("Sqrt", [g.op("Add", [mean_square, g.const(eps, "eps")], "rms_norm")], "rms_norm")
    y = g.op("Div", [x, rms], "rms_norm")
    return y if m.weight is None else g.op("Mul", [y, g.const(m.weight.data, "weight")], "rms_norm")
