"""One forward and backward through a model, layer by layer, recording what flows through each layer.

``probe`` walks the model itself instead of changing the forward machinery: a ``Sequential`` is
walked child by child, a composite whose forward is a plain chain of its children (the ones that
get ``backward`` automatically) is walked along the chain its real forward recorded, anything else
is one unit. The units are called in order, then backpropagated in reverse with ``unit.backward``,
so every forward call is consumed by its backward and no frame is left waiting. ``SavedState``
puts back what such a pass may touch: gradients, buffers (running statistics) and the random
generator (dropout masks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from minitorch import call_frames, edit_marks
from minitorch import random as mt_random
from minitorch.containers import Sequential
from minitorch.diagnostics.stats import LayerStats, ParamStats, check_stats
from minitorch.module import Module, Parameter, _waits_with_leaves
from minitorch.parameter import data_of


class SavedState:
    """Gradients, buffers and the random generator's state, to be put back after a probe."""

    def __init__(self, *modules: Any) -> None:
        self.grads: list[tuple[Parameter, Any]] = []
        self.buffers: list[tuple[Module, str, np.ndarray, np.ndarray]] = []
        for module in modules:
            if not isinstance(module, Module):
                continue
            self.grads += [(p, p.grad) for p in module.parameters()]
            for m in module.modules():
                self.buffers += [(m, name, b, np.array(b, copy=True)) for name, b in m._buffers.items()
                                 if b is not None]
        self.rng = mt_random.generator().bit_generator.state

    def restore(self) -> None:
        for p, grad in self.grads:
            p._restore_grad(grad)
        for module, name, array, copy in self.buffers:
            if getattr(module, name) is not array:
                setattr(module, name, array)
            np.copyto(array, copy)
        mt_random.generator().bit_generator.state = self.rng


@dataclass(slots=True)
class Unit:
    """One module called as a step of the chain, with what came in and out."""

    name: str
    module: Module
    x: Any = None
    y: Any = None
    dy: Any = None


def named_index(model: Module) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name)
    return names


def _plain_sequential(module: Module) -> bool:
    cls = type(module)
    return (isinstance(module, Sequential) and cls.forward is Sequential.forward
            and cls.backward is Sequential.backward)


def _chain_composite(module: Module) -> bool:
    return bool(module._records_calls and module._modules and not module._is_container)


def chain_composite(module: Module) -> bool:
    """A composite walked along the chain its forward records (not a plain Sequential)."""
    return _chain_composite(module) and not _plain_sequential(module)


def chains(model: Module, x: Any) -> dict[int, list[Module]]:
    """The chain each plain-chain composite of ``model`` called in a real forward on ``x``."""
    composites = [m for m in model.modules() if _chain_composite(m) and not _plain_sequential(m)]
    if not composites:
        return {}
    found = {}
    depths = frame_depths(model)
    saved = SavedState(model)
    try:
        model(x)
        for module in composites:
            if module.__dict__.get("_calls") is None:
                continue
            try:
                found[id(module)] = call_frames.chain_of(module)
            except NotImplementedError:
                pass
    finally:
        drop_new_frames(depths)
        saved.restore()
    return found


def units_forward(
    model: Module, x: Any, known: dict[int, list[Module]] | None = None, names: dict[int, str] | None = None
) -> tuple[list[Unit], Any]:
    """Call ``model``'s units one by one on ``x``; the units and the model's output.

    ``known`` (the chains of ``chains(model, x)``) and ``names`` (``named_index(model)``) may be
    passed when they are already known (a callback checking the same model again and again)."""
    known = chains(model, x) if known is None else known
    names = named_index(model) if names is None else names
    units: list[Unit] = []

    def walk(module: Module, h: Any, name: str) -> Any:
        if _plain_sequential(module):
            for child_name, child in module._modules.items():
                h = walk(child, h, _joined(name, child_name))
            return h
        if id(module) in known:
            inside = _names_inside(module)
            for child in known[id(module)]:
                h = walk(child, h, _joined(name, inside[id(child)]))
            return h
        out = module(h)
        units.append(Unit(name, module, h, out))
        return out

    return units, walk(model, x, names.get(id(model), ""))


def _joined(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _names_inside(module: Module) -> dict[int, str]:
    """Each callable child of a chain composite -> its (first) name there."""
    inside: dict[int, str] = {}
    for name, child in call_frames._callable_children(module):
        inside.setdefault(id(child), name)
    return inside


def unit_plan(model: Module, names: dict[int, str], name: str | None = None) -> list[tuple[str, Module]]:
    """The units ``units_forward`` calls, in order, for a model without plain-chain composites
    (plain Sequentials flattened): a callback checking the same model again and again walks
    this list (``plan_forward``) instead of the module tree. Each unit is named by its path, so a
    layer repeated in a Sequential (model *= 2) is named at each place ("0", then "2")."""
    name = names.get(id(model), "") if name is None else name
    if _plain_sequential(model):
        return [unit for child_name, child in model._modules.items()
                for unit in unit_plan(child, names, _joined(name, child_name))]
    return [(name, model)]


def plan_forward(modules: list[Module], x: Any) -> list[Any]:
    """As ``units_forward`` along a ``unit_plan``'s modules: each one's output, in order (the
    last is the model's output). ``module.forward(x)`` is what ``Module.__call__`` calls; a class
    with a ``__call__`` of its own is called."""
    ys = []
    for module in modules:
        x = module.forward(x) if type(module).__call__ is _MODULE_CALL else module(x)
        ys.append(x)
    return ys


_MODULE_CALL = Module.__call__


def plan_backward_params(modules: list[Module], first: int, dy: Any) -> list[Any]:
    """As ``units_backward_params`` along a ``unit_plan``'s modules, whose first with Parameters
    is ``first`` (``len(modules)``: none): the gradient entering each module (None below ``first``).
    A first module whose waiting call took a Parameter input (a leaf, ``minitorch.leaf_inputs``)
    makes ``first`` 0: every module runs, so the leaf gets its gradient (``Sequential.backward_params``
    does the same)."""
    if first and _waits_with_leaves(modules[0]):
        first = 0
    dys: list[Any] = [None] * len(modules)
    for i in range(len(modules) - 1, first, -1):
        dys[i] = dy
        if dy is None:  # an integer input below (token ids): nothing flows further down
            call_frames.discard_newest(modules[i])
            continue
        dy = modules[i].backward(dy)
        if isinstance(dy, tuple):
            dy = dy[0]
    if first < len(modules):
        dys[first] = dy
        modules[first].backward_params(dy)
    for i in range(first - 1, -1, -1):
        call_frames.discard_newest(modules[i])
    return dys


def units_backward(units: list[Unit], dy: Any) -> Any:
    """Backpropagate dy through the units in reverse, recording the gradient entering each one."""
    for unit in reversed(units):
        unit.dy = dy
        if dy is None:  # an integer input below (token ids): nothing flows further down
            call_frames.discard_newest(unit.module)
            continue
        dy = unit.module.backward(dy)
        if isinstance(dy, tuple):
            dy = dy[0]
    return dy


def units_backward_params(units: list[Unit], dy: Any, has_params: list[bool] | None = None) -> None:
    """As ``model.backward_params(dy)`` after the units' forward: parameter gradients only.

    The gradient entering each unit is recorded from the last unit down to the first with
    parameters, which runs ``backward_params``; parameter-free units before it drop their call
    (their dx would only reach the data), as ``Sequential.backward_params`` does.
    ``has_params[i]``: unit i's module owns Parameters (looked up when not given).
    """
    if has_params is None:
        has_params = [next(unit.module.parameters(), None) is not None for unit in units]
    first = has_params.index(True) if True in has_params else len(units)
    dys = plan_backward_params([unit.module for unit in units], first, dy)
    for unit, unit_dy in zip(units, dys, strict=True):
        unit.dy = unit_dy


class FrameDepths(NamedTuple):
    """Each module's count of waiting calls when a probe starts, and the edits' marks then."""

    depths: dict[int, tuple[Module, int]]
    marks: list[Any]


def frame_depths(*modules: Any) -> FrameDepths:
    depths = {id(m): (m, len(m.__dict__["_stack"])) for module in modules if isinstance(module, Module)
              for m in module.modules()}
    return FrameDepths(depths, edit_marks.saved_marks(m for m, _ in depths.values()))


def drop_new_frames(taken: FrameDepths) -> None:
    """Drop the frames pushed since ``taken``, so a failed probe leaves none behind; an edit's
    marks are put back (the probe's forward answered none of the calls the edit dropped)."""
    for m, keep in taken.depths.values():
        d = m.__dict__
        if len(d["_stack"]) > keep:
            del d["_stack"][keep:]
            if d["_shown"] is not None:
                call_frames._hide(d, d["_shown"])
                d["_shown"] = None
    edit_marks.restore_marks(taken.marks)


def layers_stats(units: list[Unit]) -> list[LayerStats]:
    """``check_stats`` of the units alone."""
    return check_stats(units, [], [])[0]


def param_stats(named: list[tuple[str, Parameter]], grads: list[np.ndarray | None]) -> list[ParamStats]:
    """``check_stats`` of the Parameters alone."""
    return check_stats([], named, grads)[1]


def finite(a: Any) -> bool:
    """No NaN/inf in ``a`` (a float array; anything else counts as finite)."""
    return not isinstance(a, np.ndarray) or a.dtype.kind != "f" or bool(np.isfinite(a).all())


def run_probe(
    model: Module, x: Any, backward_from: Callable[[Any], Any], others: tuple[Any, ...] = ()
) -> tuple[list[LayerStats], list[ParamStats], list[np.ndarray | None]]:
    """Walk ``model`` on ``x``; ``backward_from(output)`` gives dL/d(output) (and may record the loss).

    Returns the layer statistics, the parameter statistics and this pass's gradient of every
    Parameter (``model.parameters()``'s order). Gradients, buffers and the random generator are
    put back, for ``model`` and ``others`` (the loss); no frame is left waiting.
    """
    saved = SavedState(model, *others)
    depths = frame_depths(model, *others)
    params = list(model.parameters())
    try:
        for p in params:
            p.grad = None
        units, out = units_forward(model, data_of(x))  # (a Parameter input: its data, never a leaf)
        if finite(out):  # else no loss to differentiate: the forward statistics say where it broke
            units_backward(units, backward_from(out))
        grads = [p.grad for p in params]
        layers, stats = check_stats(units, list(model.named_parameters()), grads)
        return layers, stats, grads
    finally:
        drop_new_frames(depths)
        saved.restore()
