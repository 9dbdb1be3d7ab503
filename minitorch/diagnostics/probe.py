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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch import random as mt_random
from minitorch.containers import Sequential
from minitorch.layers import ReLU, Sigmoid, Tanh
from minitorch.module import Module, Parameter

SATURATION = 0.97  # |tanh| or |2 sigmoid - 1| above this: the local derivative is below ~6 % of its peak
SAMPLE = 2000  # values kept per layer for histograms


@dataclass
class LayerStats:
    """What went through one layer: its output's statistics forward, the gradient entering it backward."""

    name: str  # dotted module name ("0", "encoder.1"), "" for the model itself
    kind: str  # class name
    shape: tuple[int, ...] | None = None  # output shape
    mean: float = float("nan")
    std: float = float("nan")
    zero_fraction: float | None = None  # ReLU: outputs exactly 0
    dead_fraction: float | None = None  # ReLU: units (features, conv channels) 0 for the whole batch
    saturated_fraction: float | None = None  # Tanh / Sigmoid: outputs in the flat tails
    finite: bool = True  # output free of NaN / inf
    grad_norm: float | None = None  # ||dL/d(output)||, the gradient entering this layer's backward
    grad_rms: float | None = None  # the same per element: sqrt(mean(dy**2))
    grad_finite: bool = True
    has_params: bool = False  # the layer owns Parameters (gradient flow is compared between these)
    values: np.ndarray | None = field(default=None, repr=False)  # a sample of outputs, for histograms
    grads: np.ndarray | None = field(default=None, repr=False)  # a sample of dy, for histograms


@dataclass
class ParamStats:
    """One Parameter: its size, its gradient, and (after a step) the update relative to the data."""

    name: str  # dotted name, e.g. "0.W"
    layer: str  # the module that owns it, e.g. "0"
    shape: tuple[int, ...]
    data_rms: float
    grad_norm: float | None = None
    grad_rms: float | None = None
    update_ratio: float | None = None  # rms(update) / rms(data), ~1e-3 when training is healthy
    finite: bool = True  # data and gradient free of NaN / inf
    update_finite: bool = True  # the step left the data free of NaN / inf


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
                self.buffers += [(m, name, b, np.array(b, copy=True)) for name, b in m._buffers.items()]
        self.rng = mt_random.generator().bit_generator.state

    def restore(self) -> None:
        for p, grad in self.grads:
            p.grad = grad
        for module, name, array, copy in self.buffers:
            if getattr(module, name) is not array:
                setattr(module, name, array)
            np.copyto(array, copy)
        mt_random.generator().bit_generator.state = self.rng


@dataclass
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

    def walk(module: Module, h: Any) -> Any:
        if _plain_sequential(module):
            for child in module._modules.values():
                h = walk(child, h)
            return h
        if id(module) in known:
            for child in known[id(module)]:
                h = walk(child, h)
            return h
        out = module(h)
        units.append(Unit(names.get(id(module), type(module).__name__), module, h, out))
        return out

    return units, walk(model, x)


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


def units_backward_params(units: list[Unit], dy: Any) -> None:
    """As ``model.backward_params(dy)`` after the units' forward: parameter gradients only.

    The gradient entering each unit is recorded from the last unit down to the first with
    parameters, which runs ``backward_params``; parameter-free units before it drop their call
    (their dx would only reach the data), as ``Sequential.backward_params`` does.
    """
    first = next((i for i, unit in enumerate(units) if unit.module.parameters()), len(units))
    dy = units_backward(units[first + 1 :], dy)
    if first < len(units):
        units[first].dy = dy
        units[first].module.backward_params(dy)
    for unit in reversed(units[:first]):
        call_frames.discard_newest(unit.module)


def frame_depths(*modules: Any) -> dict[int, tuple[Module, int]]:
    return {id(m): (m, len(m.__dict__["_stack"])) for module in modules if isinstance(module, Module)
            for m in module.modules()}


def drop_new_frames(depths: dict[int, tuple[Module, int]]) -> None:
    """Drop the frames pushed since ``depths`` was taken, so a failed probe leaves none behind."""
    for m, keep in depths.values():
        d = m.__dict__
        if len(d["_stack"]) > keep:
            del d["_stack"][keep:]
            if d["_shown"] is not None:
                call_frames._hide(d, d["_shown"])
                d["_shown"] = None


def layer_stats(unit: Unit) -> LayerStats:
    """The statistics of one unit's output and incoming gradient.

    Sums of squares are dot products and counts are ``count_nonzero``: a check runs inside
    training, so it takes few passes over each array. NaN/inf anywhere makes a sum non-finite,
    so the element-wise ``isfinite`` runs only when a sum is not finite (a huge sum may overflow).
    """
    module, y = unit.module, unit.y
    stats = LayerStats(unit.name, type(module).__name__, has_params=bool(module.parameters()))
    with np.errstate(all="ignore"):
        if isinstance(y, np.ndarray) and y.dtype.kind == "f" and y.size:
            n = y.size
            flat = y.ravel()
            total, squares = float(flat.sum(dtype=np.float64)), float(np.dot(flat, flat))
            stats.mean = total / n
            stats.std = float(np.sqrt(max(squares / n - stats.mean * stats.mean, 0.0)))
            stats.shape = y.shape
            stats.finite = (math.isfinite(total) and math.isfinite(squares)) or bool(np.isfinite(y).all())
            if isinstance(module, ReLU):
                zero = y == 0
                stats.zero_fraction = np.count_nonzero(zero) / n
                stats.dead_fraction = _dead_fraction(zero)
            elif isinstance(module, Tanh):
                stats.saturated_fraction = np.count_nonzero(np.abs(y) > SATURATION) / n
            elif isinstance(module, Sigmoid):
                stats.saturated_fraction = np.count_nonzero(np.abs(y - 0.5) > SATURATION / 2) / n
            stats.values = _sample(flat)
        dy = unit.dy
        if isinstance(dy, np.ndarray) and dy.dtype.kind == "f" and dy.size:
            flat = dy.ravel()
            squares = float(np.dot(flat, flat))
            stats.grad_norm = _sqrt(squares)
            stats.grad_rms = stats.grad_norm / math.sqrt(dy.size)
            stats.grad_finite = math.isfinite(stats.grad_norm) or bool(np.isfinite(dy).all())
            stats.grads = _sample(flat)
    return stats


def _dead_fraction(zero: np.ndarray) -> float:
    """The fraction of units that are 0 everywhere: a feature (last axis) of (N, F) or (N, L, F)
    outputs, a channel (axis 1) of (N, C, H, W) feature maps, over the whole batch."""
    if zero.ndim == 4:
        dead = zero.all(axis=(0, 2, 3))
    elif zero.ndim >= 2:
        dead = zero.reshape(-1, zero.shape[-1]).all(axis=0)
    else:
        dead = zero
    return np.count_nonzero(dead) / max(dead.size, 1)


def _sample(flat: np.ndarray) -> np.ndarray:
    """Up to SAMPLE evenly spaced values, copied (a view would keep the whole array alive)."""
    return flat[:: max(1, flat.size // SAMPLE)][:SAMPLE].copy()


def param_stats(
    model: Module, grads: list[np.ndarray | None], named: list[tuple[str, Parameter]] | None = None
) -> list[ParamStats]:
    """One ParamStats per Parameter of ``model`` (``model.parameters()``'s order), with its gradient.
    ``named``: ``list(model.named_parameters())`` when already known."""
    out = []
    named = model.named_parameters() if named is None else named
    with np.errstate(all="ignore"):
        for (name, p), g in zip(named, grads, strict=True):
            squares = _squares(p.data)
            stats = ParamStats(name, name.rpartition(".")[0], p.shape, _sqrt(squares / max(p.size, 1)))
            stats.finite = math.isfinite(squares) or bool(np.isfinite(p.data).all())
            if g is not None:
                g_squares = _squares(g)
                stats.grad_norm = _sqrt(g_squares)
                stats.grad_rms = _sqrt(g_squares / max(g.size, 1))
                stats.finite = stats.finite and (math.isfinite(g_squares) or bool(np.isfinite(g).all()))
            out.append(stats)
    return out


def _squares(a: np.ndarray) -> float:
    """The sum of squares (callers silence overflow warnings: a huge sum is reported as inf)."""
    flat = a.ravel()
    return float(np.dot(flat, flat))


def _sqrt(value: float) -> float:
    """math.sqrt for a sum of squares that may be inf or NaN."""
    return math.sqrt(value) if value == value else value


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
    params = model.parameters()
    try:
        for p in params:
            p.grad = None
        units, out = units_forward(model, x)
        if finite(out):  # else no loss to differentiate: the forward statistics say where it broke
            units_backward(units, backward_from(out))
        grads = [p.grad for p in params]
        layers = [layer_stats(unit) for unit in units]
        return layers, param_stats(model, grads), grads
    finally:
        drop_new_frames(depths)
        saved.restore()
