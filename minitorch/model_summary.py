"""summary(model, input_shape): a table of layers, output shapes and parameter counts (as Keras)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minitorch.checks import check_positive_int
from minitorch.dtypes import get_default_dtype
from minitorch.grad_mode import no_grad
from minitorch.layers.rnn_base import RNNBase
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_model import Transformer
from minitorch.module import Module, switched_mode
from minitorch.rnn_utils import PackedSequence


@dataclass
class SummaryRow:
    """One module of the table: dotted name, class name, output shape (None if never called), counts."""

    name: str
    type: str
    depth: int
    output_shape: Any
    params: int


class ModelSummary:
    """The result of ``summary``: ``str()`` (and ``repr()``) is the table; the numbers are attributes.

    Attributes: ``rows`` (SummaryRow per module), ``total_params``, ``trainable_params``,
    ``non_trainable_params``, ``input_shape`` (the shape run: with the batch dimension of 1).
    """

    def __init__(self, model_name: str, input_shape: tuple[int, ...], rows: list[SummaryRow],
                 trainable: int, non_trainable: int) -> None:
        self.model_name, self.input_shape, self.rows = model_name, input_shape, rows
        self.trainable_params, self.non_trainable_params = trainable, non_trainable
        self.total_params = trainable + non_trainable

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #")
        cells = [
            ("  " * row.depth + f"{row.name} ({row.type})", _shape_text(row.output_shape), f"{row.params:,}")
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in [header, *cells]) for i in range(3)]
        rule = "-" * (sum(widths) + 6)

        def line(cell: tuple[str, str, str]) -> str:
            return f"{cell[0]:<{widths[0]}}   {cell[1]:<{widths[1]}}   {cell[2]:>{widths[2]}}"

        return "\n".join([
            f"Model: {self.model_name}, input shape {self.input_shape}",
            rule.replace("-", "="), line(header), rule.replace("-", "="),
            *(line(cell) for cell in cells),
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ])

    __repr__ = __str__


def summary(model: Module, input_shape: int | tuple[int, ...] | None = None, dtype: Any = None, *,
            input_size: tuple[int, ...] | None = None) -> ModelSummary:
    """Run ``model`` once on zeros of shape (1, *input_shape) and tabulate every layer.

    ``input_shape`` excludes the batch dimension (a batch of 1 is added where the model reads its
    batch: axis 0, or axis 1 for a sequence-first model, whose input is (seq_len, batch, features):
    an RNN/LSTM/GRU with batch_first=False, a TransformerEncoder(Layer) whose attention is not
    batch_first; so ``(seq_len, features)`` runs on (seq_len, 1, features)); torchinfo's
    ``input_size`` includes it (``summary(model, input_size=(1, 4))``, taken as given: the way for a
    model of your own whose forward takes sequence-first input): give one of the two. The forward pass runs in
    eval mode and every module's mode is restored after. Each row shows a module's dotted name
    (indented by nesting), its class, its output shape ("-" if forward never called it) and its own
    parameter count (weights and buffers of that module, not of its children). Trainable params are
    Parameters with ``requires_grad``; non-trainable ones are frozen Parameters and buffers (e.g.
    running statistics; not integer counters such as num_batches_tracked), as in Keras. The input
    takes the model's parameter dtype unless ``dtype`` is given (e.g. ``np.int64`` for index
    inputs). The forward runs under ``no_grad``. Returns a ``ModelSummary``: print it. A model of two
    inputs at its top, TransformerDecoder(Layer) (tgt, memory) or Transformer (src, tgt), is a
    TypeError naming it.
    Example:
        print(mt.summary(mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3)), (4,)))
        # 0 (Linear)   (1, 16)   80 ... Total params: 131
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an mt.Module, got {type(model).__name__}")
    if isinstance(model, (TransformerDecoderLayer, TransformerDecoder)):
        raise TypeError(
            f"summary: {type(model).__name__} takes two inputs (tgt, memory) and summary runs the model "
            "on one: summarize a model of yours whose forward makes memory and calls the decoder"
        )
    if isinstance(model, Transformer):
        raise TypeError(
            "summary: Transformer takes two inputs (src, tgt) and summary runs the model on one: "
            "summarize its encoder, summary(model.encoder, ...), or a model of yours with one input"
        )
    axis = _batch_axis(model)
    shape = _batch_shape(input_shape, input_size, axis)
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else get_default_dtype()
    x = np.zeros(shape, dtype=dtype)
    try:
        outputs = _record_outputs(model, x)
    except ValueError:
        given = shape[:axis] + shape[axis + 1:]  # input_shape as given
        if input_size is None and len(shape) > 2 and _runs_on(model, given, dtype):
            raise ValueError(
                f"summary: input_shape={given} seems to include the batch dimension "
                f"({type(model).__name__} fails on {shape} but runs on {given}); input_shape excludes "
                f"it: pass {given[:axis] + given[axis + 1:]}, "
                f"or torchinfo's input_size={given}"
            ) from None
        raise
    rows = [SummaryRow(name or type(module).__name__, type(module).__name__, name.count("."),
                       outputs.get(id(module)), _own_count(module))
            for name, module in model.named_modules() if name or _shows_root(module)]
    trainable = sum(p.size for p in params if p.requires_grad)
    frozen = sum(p.size for p in params if not p.requires_grad)
    buffers = sum(_statistics_size(buffer) for _, buffer in model.named_buffers())
    return ModelSummary(type(model).__name__, shape, rows, trainable, frozen + buffers)


def _record_outputs(model: Module, x: np.ndarray) -> dict[int, Any]:
    """id(module) -> output shape(s), by wrapping each module's forward for one call."""
    outputs: dict[int, Any] = {}
    wrapped = {id(module): module for module in model.modules()}
    for module in wrapped.values():
        object.__setattr__(module, "forward", _recording(module, module.forward, outputs))
    try:
        with switched_mode(model, False), no_grad():
            model(x)
    except (ValueError, TypeError) as err:
        name = type(model).__name__
        raise ValueError(f"summary: {name} failed on zeros of shape {x.shape}: {err}") from err
    finally:
        for module in wrapped.values():
            object.__delattr__(module, "forward")
    return outputs


def _recording(module: Module, forward: Any, outputs: dict[int, Any]) -> Any:
    def recording_forward(*inputs: Any, **keywords: Any) -> Any:
        output = forward(*inputs, **keywords)
        outputs[id(module)] = _shapes(output)
        return output

    return recording_forward


def _shapes(output: Any) -> Any:
    if output is None:  # an optional output not computed (attention weights with need_weights=False)
        return None
    if isinstance(output, (tuple, list)):
        return [_shapes(item) for item in output]
    return tuple(np.shape(output))


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(item) for item in shape) + "]"
    return str(shape)


def _own_count(module: Module) -> int:
    weights = sum(p.size for p in module.parameters(recurse=False))
    return weights + sum(_statistics_size(buffer) for buffer in module.buffers(recurse=False))


def _statistics_size(buffer: Any) -> int:
    """A floating buffer's size (running statistics); 0 for a counter such as num_batches_tracked (Keras)."""
    return int(np.size(buffer)) if np.asarray(buffer).dtype.kind in "fc" else 0


def _shows_root(module: Module) -> bool:
    """The model itself gets a row when it is a single layer or holds weights of its own."""
    return not module._modules or _own_count(module) > 0


def _runs_on(model: Module, shape: tuple[int, ...], dtype: Any) -> bool:
    try:
        _record_outputs(model, np.zeros(shape, dtype=dtype))
    except ValueError:
        return False
    return True


def _batch_axis(model: Module) -> int:
    """Where ``model`` reads its batch: 1 for a sequence-first model (an RNN/LSTM/GRU with
    batch_first=False, a TransformerEncoderLayer whose self_attn is not batch_first, a
    TransformerEncoder whose first layer is one), else 0. The flags as the forward reads them."""
    if isinstance(model, TransformerEncoder) and len(model.layers):
        model = model.layers[0]
    if isinstance(model, TransformerEncoderLayer):
        return 0 if model.self_attn.batch_first else 1
    if isinstance(model, RNNBase):
        return 0 if model.batch_first else 1
    return 0


def _batch_shape(input_shape: Any, input_size: Any, axis: int) -> tuple[int, ...]:
    """The shape of the zeros to run: input_shape with a batch of 1 inserted at ``axis`` (at most
    its length), or torchinfo's input_size as it is."""
    if (input_shape is None) == (input_size is None):
        raise TypeError(
            "summary: give input_shape without the batch dimension, e.g. summary(model, (4,)), or "
            "torchinfo's input_size with it, e.g. summary(model, input_size=(1, 4)); "
            f"got input_shape={input_shape!r}, input_size={input_size!r}"
        )
    for name, value in (("input_shape", input_shape), ("input_size", input_size)):
        if isinstance(value, PackedSequence):  # (a tuple: read as a shape, its arrays would be refused)
            raise TypeError(
                f"summary: {name} is a shape (a tuple of ints), not an example input; got a PackedSequence. "
                "summary runs the model on zeros of the shape: for an RNN/LSTM/GRU give the padded input's "
                "shape as input_size, e.g. input_size=(seq_len, 1, features) (batch_first=False) or "
                "(1, seq_len, features) (batch_first=True)"
            )
    if input_size is None:
        shape = _check_shape(input_shape)[1:]
        axis = min(axis, len(shape))
        return (*shape[:axis], 1, *shape[axis:])
    size = (input_size,) if isinstance(input_size, (int, np.integer)) else tuple(input_size)
    if len(size) < 2:
        raise ValueError(
            f"summary: input_size (torchinfo's) includes the batch dimension, e.g. (1, 4); got "
            f"{input_size!r} (without the batch dimension, pass it as input_shape)"
        )
    return _check_shape(size)[1:]  # the checks of input_shape; no batch of 1 added


def _check_shape(input_shape: int | tuple[int, ...]) -> tuple[int, ...]:
    shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    try:
        for i, d in enumerate(shape):
            check_positive_int(d, "summary", f"input_shape[{i}]")
    except ValueError as err:
        raise ValueError(f"{err} (input_shape is without the batch dimension, e.g. (4,))") from None
    return (1, *(int(d) for d in shape))
