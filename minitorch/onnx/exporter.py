"""Export a MiniTorch model to ONNX (opset 17), for onnxruntime and every other ONNX runtime.

The exported graph computes the model in eval mode: Dropout is the identity and BatchNorm uses its
running statistics (each batch's own without them: track_running_stats=False; where that is one value
per channel, a batch of one fails in the graph as the layer raises). The batch dimension is
symbolic ("N"), the others fixed by ``input_shape``. Layers are matched by class; each has one
emitter (``emitters*.py``, registered in ``EMITTERS``) that writes the ONNX nodes computing it (GELU
as its exact formula with Erf, or the tanh form). A module of another class is exported as its
children when its forward is a plain chain of them (recorded by running it once on the sample input,
and checked to give the forward's numbers); otherwise export is a TypeError. Each layer's forward runs
on the sample before its emitter: a setting edited after construction is exported as that forward
reads it (torch reads it at every call), and a value it refuses is refused with its own error.
A model in training mode is exported with these eval semantics (its mode is left as it was).
Known differences: onnxruntime's MaxPool and ReduceMax skip a nan that MiniTorch's max pools (1-D and
2-D, as torch's) return, and its float32 MaxPool can give float32's lowest (-3.4e38) for a window of
-inf inputs alone, where the layers give -inf (a window of padding alone, which a dilation allows, is
-inf in the graph: its place is known at export). A float32 bilinear Upsample (ONNX Resize)
gives inf where MiniTorch (as torch) gives nan: torch reads a second tap of weight 0 (an axis kept at
its size, an output landing exactly on an input row), so an inf there becomes inf * 1 + inf * 0 = nan;
Resize reads it once. The non-finite positions agree; a float64 graph computes the taps as the layer.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.containers import Sequential
from minitorch.dtypes import get_default_dtype
from minitorch.grad_mode import no_grad
from minitorch.model_files.format import atomic_write
from minitorch.module import Module, switched_mode
from minitorch.onnx.graph import IR_VERSION, OPSET, _Graph
from minitorch.onnx.registry import EMITTERS, NOT_EXPORTABLE
from minitorch.onnx.validation import _check_batched, _check_same_path, _output_dims, _path_and_shape

__all__ = ["EMITTERS", "IR_VERSION", "NOT_EXPORTABLE", "OPSET", "export"]


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

    The graph computes in ``dtype``; by default the model's: its Parameters' dtype, or its floating
    buffers'; a model with neither computes in its input's, so the example input's dtype (a float16
    example needs ``dtype=``), or with a shape alone or an integer example the default dtype.
    onnxruntime's CPU kernels cover float32 fully but float64 only partly (no Conv, for one):
    ``dtype=np.float32`` exports a float64 model for them. Needs the ``onnx`` package
    (``pip install 'minitorch-numpy[onnx]'``). The file is checked with ``onnx.checker`` and written
    atomically. PyTorch's order, with an example input in place
    of the shape, works too: ``export(model, x, "model.onnx")`` (x's shape is the input_shape); the graph
has one input, so a tuple of inputs (torch's args) is a TypeError, as is a shape of other than ints. Example:
        mt.onnx.export(model, "model.onnx", input_shape=(1, 4))
        onnxruntime.InferenceSession("model.onnx").run(None, {"input": x})[0]   # == model.eval()(x)
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: expected a Module, got {type(model).__name__}")
    example = next((a for a in (path, input_shape) if isinstance(a, np.ndarray)), None)
    path, input_shape = _path_and_shape(path, input_shape)
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"onnx.export: expected input_shape of positive sizes, got {input_shape!r}")
    model_dtype, from_example = _model_dtype(model, example)
    if dtype is None and from_example and model_dtype not in (np.float32, np.float64):
        raise ValueError(
            f"onnx.export: {type(model).__name__} has no Parameters or buffers, so it computes in its "
            f"input's dtype, and the example input is {model_dtype}; an exported graph computes in float32 "
            "or float64: give an example in one of them, or ask, e.g. dtype=np.float32"
        )
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
    # the forward first: its checks refuse what it refuses (with its own error), and the settings it
    # reads at every call (an int kernel_size set after construction made a pair) are what the emitter reads
    y = m(value)
    return EMITTERS[type(m)](graph, m, x, value.shape), y


def _model_dtype(model: Module, example: np.ndarray | None) -> tuple[np.dtype, bool]:
    """(the dtype ``model`` computes in, whether it is the example input's): its Parameters' (it casts
    its input to them), else its floating buffers' (BatchNorm(affine=False)'s running statistics), else
    its input's, the example's; an integer example or a shape alone: the default dtype (``as_floating``
    turns integers into it)."""
    arrays = [p.data for p in model.parameters()] + [b for b in model.buffers() if b.dtype.kind == "f"]
    if arrays:
        return arrays[0].dtype, False
    if example is None or example.dtype.kind in "biu":
        return np.dtype(get_default_dtype()), False
    return example.dtype, True


def _onnx() -> Any:
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise ImportError(
            "minitorch.onnx needs the onnx package, which is not installed: "
            "pip install 'minitorch-numpy[onnx]'"
        ) from None
