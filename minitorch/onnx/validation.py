"""What export checks before and after emitting: the argument order, an unbatched input, a forward that
branches on its input, and which output dims follow the batch."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.layers.conv import Conv2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.module import Module
from minitorch.rnn_utils import PackedSequence


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
    if any(isinstance(a, PackedSequence) for a in (path, input_shape)):
        raise TypeError(
            "onnx.export: a PackedSequence input has no ONNX form (RNN, LSTM and GRU, the layers that "
            "take one, are in mt.onnx.NOT_EXPORTABLE); export a model of array inputs"
        )
    if isinstance(path, np.ndarray) and isinstance(input_shape, (str, os.PathLike)):
        return input_shape, path.shape  # torch.onnx.export(model, args, f)
    if isinstance(path, (tuple, list)) and isinstance(input_shape, (str, os.PathLike)):
        raise TypeError(
            "onnx.export: PyTorch's order export(model, example_input, path) takes one NumPy array as the "
            f"example (the graph has one input), got {_described(path)}; pass the array itself, e.g. "
            "export(model, x, path), or a shape: export(model, path, input_shape)"
        )
    if isinstance(path, np.ndarray) or input_shape is None:
        raise TypeError(
            "onnx.export: expected export(model, path, input_shape) or PyTorch's order "
            f"export(model, example_input, path), got path={type(path).__name__}, "
            f"input_shape={type(input_shape).__name__}"
        )
    if isinstance(input_shape, np.ndarray):
        return path, input_shape.shape
    if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in input_shape):
        raise TypeError(
            "onnx.export: expected input_shape a tuple of ints, the batch first (e.g. (1, 4)), or an example "
            f"NumPy array, got {_described(input_shape)}"
        )
    return path, input_shape


def _described(value: Any) -> str:
    """A tuple or list as its kind and its items' types, ``tuple (ndarray, ndarray)``; else its type
    and repr, cut short."""
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} ({', '.join(type(item).__name__ for item in value)})"
    return f"{type(value).__name__} {value!r:.60}"
