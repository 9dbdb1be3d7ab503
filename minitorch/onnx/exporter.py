"""Export a MiniTorch model to ONNX (opset 17), for onnxruntime and every other ONNX runtime.

The exported graph computes the model in eval mode: Dropout is the identity and BatchNorm uses its
running statistics (each batch's own without them: track_running_stats=False; where that is one value
per channel, a batch of one fails in the graph as the layer raises). The batch dimension is
symbolic ("N"), the others fixed by ``input_shape``. Layers are matched by class name; each has one
emitter below that writes the ONNX nodes computing it (GELU as its exact formula with Erf, or the tanh
form). A module of another class is exported as its children when its forward is a plain chain of them
(recorded by running it once on the sample input, and checked to give the forward's numbers); otherwise
export is a TypeError.
A model in training mode is exported with these eval semantics (its mode is left as it was).
Known difference: onnxruntime's MaxPool, ReduceMax and GlobalMaxPool skip a nan that MiniTorch's
MaxPool2d and AdaptiveMaxPool2d (as torch's) return. A float32 bilinear Upsample (ONNX Resize)
gives inf where MiniTorch (as torch) gives nan: torch reads a second tap of weight 0 (an axis kept at
its size, an output landing exactly on an input row), so an inf there becomes inf * 1 + inf * 0 = nan;
Resize reads it once. The non-finite positions agree; a float64 graph computes the taps as the layer.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.containers import Sequential
from minitorch.dtypes import get_default_dtype
from minitorch.grad_mode import no_grad
from minitorch.layers import (
    ELU,
    GELU,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from minitorch.layers.attention import MultiheadAttention
from minitorch.layers.conv import Conv2d
from minitorch.layers.embedding import Embedding
from minitorch.layers.max_unpool import MaxUnpool2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.rnn import GRU, LSTM, RNN
from minitorch.layers.rnn_cells import GRUCell, LSTMCell, RNNCell
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.model_files.format import atomic_write
from minitorch.module import Module, switched_mode

OPSET = 17
IR_VERSION = 8  # the IR of opset 17's ONNX release: read by every runtime since 2022


class _Graph:
    """Nodes and initializers under construction; every name made unique."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0
        # (id of an array given, dtype) -> (its initializer, the array, kept alive so its id is
        # not reused): a layer repeated in the model (model *= 2) stores its weights once
        self._arrays: dict[tuple[int, str], tuple[str, np.ndarray]] = {}

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        dtype = np.dtype(self.dtype if dtype is None else dtype)
        key = (id(value), dtype.str)
        if isinstance(value, np.ndarray) and key in self._arrays:
            return self._arrays[key][0]
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        if isinstance(value, np.ndarray):
            self._arrays[key] = (name, value)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, out: str | None = None, **attrs: Any) -> str:
        out = out or self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


Emitter = Callable[[_Graph, Module, str, tuple[int, ...]], str]
EMITTERS: dict[type[Module], Emitter] = {}  # keyed by class: a subclass may compute something else
# Exported layers with no ONNX form, with the reason (the registry test reads this).
NOT_EXPORTABLE: dict[type[Module], str] = {}
# sequences: the exporter takes one floating input and gives one output
NOT_EXPORTABLE.update({cls: "integer ids or several inputs / tuple outputs" for cls in (
    Embedding, RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, MaxUnpool2d)})
NOT_EXPORTABLE.update({cls: "attention's ONNX form is not written yet (issue 14 left it out)"
                       for cls in (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder)})


def emitter(*classes: type[Module]) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for cls in classes:
            EMITTERS[cls] = fn
        return fn

    return register


def export(
    model: Module,
    path: str | os.PathLike[str],
    input_shape: tuple[int, ...] | np.ndarray | None = None,
    dtype: type | np.dtype | str | None = None,
) -> None:
    """Write ``model`` as an ONNX file for inputs of ``input_shape`` (its first dim is the batch).

    The graph computes the model in eval mode whatever its mode (Dropout the identity, BatchNorm its
    running statistics, or the batch's own with none), as torch.onnx.export's default; the model's
    mode is left as it was. A BatchNorm with no running statistics on one value per sample and channel
    ((N, C), (N, C, 1), (N, C, 1, 1)) raises on a batch of one, and so does the graph: onnxruntime's
    error names the node "<BatchNorm1d/2d>_with_no_running_statistics_needs_a_batch_of_2_or_more".

    The graph computes in ``dtype`` (default: the model's). onnxruntime's CPU kernels cover float32
    fully but float64 only partly (no Conv, for one): ``dtype=np.float32`` exports a float64 model
    for them. Needs the ``onnx`` package (``pip install 'minitorch-numpy[onnx]'``). The file is checked
    with ``onnx.checker`` and written atomically. PyTorch's order, with an example input in place
    of the shape, works too: ``export(model, x, "model.onnx")`` (x's shape is the input_shape). Example:
        mt.onnx.export(model, "model.onnx", input_shape=(1, 4))
        onnxruntime.InferenceSession("model.onnx").run(None, {"input": x})[0]   # == model.eval()(x)
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: expected a Module, got {type(model).__name__}")
    path, input_shape = _path_and_shape(path, input_shape)
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"onnx.export: expected input_shape of positive sizes, got {input_shape!r}")
    params = list(model.parameters())
    model_dtype = params[0].dtype if params else get_default_dtype()
    dtype = model_dtype if dtype is None else np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"onnx.export: expected dtype float32 or float64, got {dtype}")
    graph = _Graph(onnx, dtype)
    with switched_mode(model, False), no_grad():
        x = np.random.default_rng(0).standard_normal(shape).astype(model_dtype)
        out, y = _emit(graph, model, "input", x)
        out_dims = _output_dims(model, x, y)
    graph.op("Identity", [out], "output", out="output")
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, "minitorch",
            [onnx.helper.make_tensor_value_info("input", elem, ("N",) + shape[1:])],
            [onnx.helper.make_tensor_value_info("output", elem, out_dims)],
            graph.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="minitorch",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, lambda file: file.write(proto.SerializeToString()))


def _emit(graph: _Graph, m: Module, x: str, value: np.ndarray) -> tuple[str, np.ndarray]:
    """ONNX nodes for ``m`` on input ``x``; ``value`` is a sample input, run to learn shapes."""
    if type(m) is Sequential:
        for child in m:
            x, value = _emit(graph, child, x, value)
        return x, value
    if type(m) in NOT_EXPORTABLE:
        raise TypeError(f"onnx.export: no ONNX form for {type(m).__name__}: {NOT_EXPORTABLE[type(m)]}")
    if type(m) not in EMITTERS and m._modules:  # a custom module: its children, if called as a chain
        # copies: a forward that writes into its input must not change the sample the chain is run on
        chain = call_frames.recorded_chain(m, value.copy(), "onnx.export")
        other = call_frames.recorded_chain(m, np.concatenate([-value, -value]), "onnx.export")
        _check_same_path(m, chain, other)  # (recorded_chain refuses a chain changed in place)
        for _, child, _ in chain:
            x, value = _emit(graph, child, x, value)
        return x, value
    _check_batched(m, value.shape)
    if type(m) not in EMITTERS:
        names = ", ".join(sorted(cls.__name__ for cls in EMITTERS))
        raise TypeError(f"onnx.export: no ONNX form for {type(m).__name__}; exportable: Sequential, {names}")
    return EMITTERS[type(m)](graph, m, x, value.shape), m(value)


def _check_same_path(m: Module, chain: list[Any], other: list[Any]) -> None:
    """TypeError when ``m`` calls other children for another input (its sign flipped, its batch doubled):
    a forward branching on its input's values or shape, which one graph cannot follow."""
    names = call_frames.other_path(chain, other)
    if names is not None:
        raise TypeError(
            f"onnx.export: {type(m).__name__}'s forward calls other children for other inputs ({names[0]} "
            f"for the sample, {names[1]} for another): it branches on its input, and the graph would follow "
            "one path; export each path's modules as their own model"
        )


# layers that also take one unbatched sample: the rank of their batched input
_BATCHED_RANK = {Conv2d: 4, MaxPool2d: 4, AvgPool2d: 4, AdaptiveAvgPool2d: 4}


def _check_batched(m: Module, shape: tuple[int, ...]) -> None:
    """TypeError for an unbatched input: the graph's first axis is the (free) batch, which it lacks."""
    rank = _BATCHED_RANK.get(type(m))
    if rank is not None and len(shape) == rank - 1:
        raise TypeError(
            f"onnx.export: {type(m).__name__} gets an unbatched input {shape}, and an exported graph's first "
            f"axis is the batch: export with input_shape {(1, *shape)} and give the session x[None]"
        )


def _output_dims(model: Module, x: np.ndarray, y: np.ndarray) -> list[int | str | None]:
    """The output's dims: "N" where it follows the batch size, fixed sizes, None where it varies."""
    try:
        y_more = model(np.concatenate([x, x[:1]]))
    except ValueError as err:  # e.g. Linear given one unbatched (in,) sample: (in + 1,) is no batch
        raise TypeError(
            f"onnx.export: the model takes input_shape {x.shape} but not {(len(x) + 1, *x.shape[1:])}, and "
            f"an exported graph's first axis is the (free) batch: give input_shape batch first ({err})"
        ) from None
    if y_more.ndim != y.ndim:
        return [None] * y.ndim
    n = len(x)
    pairs = zip(y.shape, y_more.shape, strict=True)
    return ["N" if (a, b) == (n, n + 1) else (a if a == b else None) for a, b in pairs]


def _path_and_shape(path: Any, input_shape: Any) -> tuple[Any, Any]:
    """(path, input_shape) from MiniTorch's order (path, shape) or PyTorch's (example input, path)."""
    if isinstance(path, np.ndarray) and isinstance(input_shape, (str, os.PathLike)):
        return input_shape, path.shape  # torch.onnx.export(model, args, f)
    if isinstance(path, np.ndarray) or input_shape is None:
        raise TypeError(
            "onnx.export: expected export(model, path, input_shape) or PyTorch's order "
            f"export(model, example_input, path), got path={type(path).__name__}, "
            f"input_shape={type(input_shape).__name__}"
        )
    return path, (input_shape.shape if isinstance(input_shape, np.ndarray) else input_shape)


def _onnx() -> Any:
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise ImportError(
            "minitorch.onnx needs the onnx package, which is not installed: "
            "pip install 'minitorch-numpy[onnx]'"
        ) from None


# ------------------------------------------------------------------------------ emitters
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


# ONNX keeps a float attribute (alpha, epsilon) as a float32: a float64 graph takes such a number as
# a constant of its own dtype and writes the op out from its formula, else it computes at float32's 1e-8
def _is_float64(g: _Graph) -> bool:
    return np.dtype(g.dtype) == np.float64


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
    return g.op(type(m).__name__, [x], type(m).__name__.lower(), axis=int(m.dim))


@emitter(Flatten)
def _flatten(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    start, end = m.start_dim % len(shape), m.end_dim % len(shape)
    if start == 1 and end == len(shape) - 1:
        return g.op("Flatten", [x], "flatten", axis=1)
    # the batch dim is symbolic: 0 copies it, -1 takes whatever the merged dims hold
    target = [0] * start + [-1] + list(shape[end + 1 :]) if start > 0 else [-1, *shape[end + 1 :]]
    return g.op("Reshape", [x, g.const(target, "shape", np.int64)], "flatten")


@emitter(BatchNorm1d, BatchNorm2d)
def _batch_norm(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    c = m.num_features
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


@emitter(Conv2d)
def _conv2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    (kh, kw), (dh, dw) = m.kernel_size, m.dilation  # (h, w) pairs of ints: the layer's constructor made them
    top, bottom, left, right = m._pads  # the pads forward uses ("same": the odd pixel after, as torch)
    pads = [top, left, bottom, right]
    inputs = [x, g.const(m.weight.data, "weight")]
    if m.bias is not None:
        inputs.append(g.const(m.bias.data, "bias"))
    return g.op("Conv", inputs, "conv", kernel_shape=[kh, kw], strides=list(m.stride),
                dilations=[dh, dw], pads=pads)


@emitter(MaxPool2d, AvgPool2d)
def _pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    # explicit pads, ceil_mode's overhang included: ONNX's own ceil_mode rule is not torch's
    top, bottom, left, right = m.pads_for(shape[2:])
    attrs = {"kernel_shape": list(m.kernel_size), "strides": list(m.stride),  # (h, w) pairs of ints
             "pads": [top, left, bottom, right]}
    if type(m).__name__ == "MaxPool2d":
        if m.return_indices:  # ONNX's Indices count across N and C too, and a graph output is one array
            raise TypeError("onnx.export: MaxPool2d(return_indices=True) has no ONNX form here (its output "
                            "is a tuple); export the model with return_indices=False")
        kh, kw = m.kernel_size
        if max(top, bottom) >= kh or max(left, right) >= kw:  # ONNX Runtime wants pads < kernel: a
            # dilated window's ceil_mode overhang can be wider, so the padding is a Pad node of -inf
            pads = g.const([0, 0, top, left, 0, 0, bottom, right], "max_pool_pads", np.int64)
            x = g.op("Pad", [x, pads, g.const(-np.inf, "max_pool_pad_value")], "max_pool_pad")
            attrs["pads"] = [0, 0, 0, 0]
        return g.op("MaxPool", [x], "max_pool", dilations=list(m.dilation), **attrs)
    if not m.count_include_pad and m.divisor_override is None:  # the overhang is padding: not counted
        return g.op("AveragePool", [x], "avg_pool", count_include_pad=0, **attrs)
    mean = g.op("AveragePool", [x], "avg_pool", count_include_pad=1, **attrs)  # sum / (kh*kw)
    if m.divisor_override is None and (bottom, right) == (top, left):
        return mean  # no overhang: torch divides every window by kh*kw too
    # torch divides each window's sum by div[oh, ow] (overhang not counted, or divisor_override)
    kh, kw = m.kernel_size
    scale = g.const(kh * kw / m.divisor(shape[2:], np.float64), "avg_pool_scale")
    return g.op("Mul", [mean, scale], "avg_pool_divisor")


@emitter(AdaptiveAvgPool2d)
def _adaptive_avg_pool2d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    h, w = shape[2:]
    oh, ow = (h if out[0] is None else out[0]), (w if out[1] is None else out[1])
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
