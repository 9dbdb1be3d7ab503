"""ONNX emitters of the basic layers: Linear, Identity/Dropout, the activations, Softmax/LogSoftmax, Flatten.

Each writes its layer's eval-mode forward as ONNX nodes (registered in ``EMITTERS`` by class on import).
ONNX keeps a float attribute (alpha, epsilon) as a float32: a float64 graph takes such a number as a
constant of its own dtype and writes the op out from its formula (``_is_float64``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minitorch.layers import (
    ELU,
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from minitorch.onnx.graph import _Graph, _is_float64
from minitorch.onnx.registry import emitter


@emitter(Linear)
def _linear(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    y = g.op("MatMul", [x, g.const(m.W.data, "W")], "linear")  # W is (in, out): no transpose
    return y if m.b is None else g.op("Add", [y, g.const(m.b.data, "b")], "linear")


@emitter(Identity, Dropout)
def _identity(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    return g.op("Identity", [x], "identity")  # Dropout is the identity at inference


@emitter(ReLU, Sigmoid, Tanh)
def _pointwise(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    op = {"ReLU": "Relu"}.get(type(m).__name__, type(m).__name__)
    return g.op(op, [x], op.lower())


@emitter(LeakyReLU)
def _leaky_relu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    if not _is_float64(g):
        return g.op("LeakyRelu", [x], "leaky_relu", alpha=float(m.negative_slope))
    positive = g.op("Greater", [x, g.const(0.0, "zero")], "leaky_relu")  # where(x > 0, x, slope * x)
    return g.op("Where", [positive, x, g.op("Mul", [x, g.const(m.negative_slope, "slope")], "leaky_relu")],
                "leaky_relu")


@emitter(ELU)
def _elu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    if not _is_float64(g):
        return g.op("Elu", [x], "elu", alpha=float(m.alpha))
    # where(x > 0, x, alpha * (exp(min(x, 0)) - 1)): min keeps exp finite where x is picked
    expm1 = g.op("Sub", [g.op("Exp", [g.op("Min", [x, g.const(0.0, "zero")], "elu")], "elu"),
                         g.const(1.0, "one")], "elu")
    positive = g.op("Greater", [x, g.const(0.0, "zero")], "elu")
    return g.op("Where", [positive, x, g.op("Mul", [expm1, g.const(m.alpha, "alpha")], "elu")], "elu")


@emitter(GELU)
def _gelu(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    if m.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x, x], "gelu"), x], "gelu")
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715, "c")], "gelu")], "gelu")
        t = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2 / math.pi), "c")], "gelu")], "gelu")
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0), "c")], "gelu")], "gelu")
    half_x = g.op("Mul", [x, g.const(0.5, "c")], "gelu")
    return g.op("Mul", [half_x, g.op("Add", [t, g.const(1.0, "c")], "gelu")], "gelu")


@emitter(Softmax, LogSoftmax)
def _softmax(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # dim None (not given) computes along the last axis: the forward refuses inputs of more than 2 dims
    axis = -1 if m.dim is None else int(m.dim)
    return g.op(type(m).__name__, [x], type(m).__name__.lower(), axis=axis)


@emitter(Flatten)
def _flatten(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    start, end = m.start_dim % len(shape), m.end_dim % len(shape)
    if start == 1 and end == len(shape) - 1:
        return g.op("Flatten", [x], "flatten", axis=1)
    # the batch dim is symbolic: 0 copies it, -1 takes whatever the merged dims hold
    target = [0] * start + [-1] + list(shape[end + 1 :]) if start > 0 else [-1, *shape[end + 1 :]]
    return g.op("Reshape", [x, g.const(target, "shape", np.int64)], "flatten")
