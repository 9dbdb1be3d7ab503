"""explain: the chain rule of one network, printed from the loss back to the input with real numbers."""

from __future__ import annotations

import inspect
import sys
from typing import Any, TextIO

import numpy as np

from minitorch.diagnostics.probe import (
    SavedState,
    drop_new_frames,
    frame_depths,
    units_backward,
    units_forward,
)
from minitorch.module import Module
from minitorch.parameter import data_of


def backward_lines(cls: type) -> list[str]:
    """The formula lines of the first ``Backward:`` section in the docstrings of ``cls``'s MRO.

    The section is the ``Backward:`` line and every following line indented deeper than it; an
    empty list if no class in the MRO (up to Module) has one.
    """
    for klass in cls.__mro__:
        if klass is Module or klass is object:
            break
        doc = klass.__dict__.get("__doc__")
        if not doc or "Backward:" not in doc:
            continue
        lines = inspect.cleandoc(doc).splitlines()
        for i, line in enumerate(lines):
            if "Backward:" not in line:
                continue
            indent = len(line) - len(line.lstrip())
            found = [line.split("Backward:", 1)[1].strip()]
            for more in lines[i + 1 :]:
                if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                    break
                found.append(more.strip())
            return [text for text in found if text]
    return []


def explain(
    model: Module, x: np.ndarray, y: np.ndarray, loss_fn: Any, file: TextIO | None = None
) -> str:
    """Print the backward pass of ``model`` on (x, y) step by step, from the loss back to the input.

    For the loss and then each layer in reverse order of the forward (the walk of
    ``minitorch.diagnostics.probe``): its name and class, the formula its backward applies (its
    docstring's ``Backward:`` lines), the gradient that enters it (shape and norm), the gradient
    of each of its Parameters, and the gradient it passes down. Returns the text as well.
    Nothing is changed: gradients, buffers and the random generator are put back, no forward
    call is left waiting.
    Example:
        mt.explain(model, X[:8], y[:8], mt.CrossEntropyLoss())
    """
    saved = SavedState(model, loss_fn)
    depths = frame_depths(model, loss_fn)
    params = list(model.parameters())
    try:
        for p in params:
            p.grad = None
        units, out = units_forward(model, data_of(x))  # (a Parameter input: its data)
        loss = float(np.sum(loss_fn(out, y)))
        dout = loss_fn.backward()
        grads_by_unit = []
        dx = units_backward_recording(units, dout, grads_by_unit)
    finally:
        drop_new_frames(depths)
        saved.restore()
    lines = ["The chain rule of this network, from the loss back to the input.", ""]
    lines += [f"loss: {type(loss_fn).__name__} = {loss:.4g}"]
    lines += [f"    {text}" for text in backward_lines(type(loss_fn))]
    lines += [f"    gives dL/d(output) {_describe(dout)}", ""]
    for i, unit in reversed(list(enumerate(units))):
        module = unit.module
        lines.append(f"layer {unit.name or '<model>'}: {type(module).__name__}({module.extra_repr()})"
                     f"   forward {_shape(unit.x)} -> {_shape(unit.y)}")
        lines += [f"    {text}" for text in backward_lines(type(module))] or ["    (no Backward: lines)"]
        lines.append(f"    dy entering  {_describe(unit.dy)}")
        for name, grad in grads_by_unit[len(units) - 1 - i]:
            lines.append(f"    {name + '.grad':<12} {_describe(grad)}")
        below = units[i - 1].dy if i > 0 else dx
        lines.append(f"    dx leaving   {_describe(below)}")
        lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    print(text, end="", file=sys.stdout if file is None else file)
    return text


def units_backward_recording(units: list[Any], dy: Any, grads: list[Any]) -> Any:
    """units_backward, one unit at a time, keeping (name, grad copy) of each unit's own Parameters."""
    for unit in reversed(units):
        dy = units_backward([unit], dy)
        grads.append([(name, None if p.grad is None else p.grad.copy())
                      for name, p in unit.module.named_parameters()])
    return dy


def _shape(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return str(a.shape)
    if isinstance(a, tuple):
        return "(" + ", ".join(_shape(item) for item in a) + ")"
    return type(a).__name__


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            return f"{a.shape}  norm {float(np.linalg.norm(a.ravel())):.4g}"
    if a is None:
        return "None (nothing flows: an integer input)"
    return _shape(a)
