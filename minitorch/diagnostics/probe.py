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
from itertools import accumulate
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch import random as mt_random
from minitorch.containers import Sequential
from minitorch.layers import ReLU, Sigmoid, Tanh
from minitorch.module import Module, Parameter

SATURATION = 0.97  # |tanh| or |2 sigmoid - 1| above this: the local derivative is below ~6 % of its peak
SAMPLE = 2000  # values kept per layer for histograms


@dataclass(slots=True)  # slots: a check builds one per layer, inside training
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


@dataclass(slots=True)
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


def unit_plan(model: Module, names: dict[int, str]) -> list[tuple[str, Module]]:
    """The units ``units_forward`` calls, in order, for a model without plain-chain composites
    (plain Sequentials flattened): a callback checking the same model again and again walks
    this list (``plan_forward``) instead of the module tree."""
    if _plain_sequential(model):
        return [unit for child in model._modules.values() for unit in unit_plan(child, names)]
    return [(names.get(id(model), type(model).__name__), model)]


def plan_forward(plan: list[tuple[str, Module]], x: Any) -> tuple[list[Unit], Any]:
    """As ``units_forward`` along a ``unit_plan``: the units and the model's output."""
    units = []
    for name, module in plan:
        out = module(x)
        units.append(Unit(name, module, x, out))
        x = out
    return units, x


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
        has_params = [bool(unit.module.parameters()) for unit in units]
    first = has_params.index(True) if True in has_params else len(units)
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


def check_stats(
    units: list[Unit],
    named: list[tuple[str, Parameter]],
    grads: list[np.ndarray | None],
    has_params: list[bool] | None = None,
) -> tuple[list[LayerStats], list[ParamStats], Before]:
    """The statistics of each unit's output and incoming gradient, and of each Parameter
    (``named``: ``list(model.named_parameters())``) with its gradient ``grads[i]``.

    A check runs inside training, so it takes a fixed handful of NumPy calls, whatever the
    number of layers: the outputs and incoming gradients of up to ``SAMPLE`` values are copied
    once, together, into one float64 vector (one ``np.concatenate``) whose segments are their
    histogram samples, and ``np.add.reduceat`` gives each one's sum and sum of squares; the
    Parameters' data and gradients likewise, in a second vector whose data segment is the copy
    of the weights the step is measured against (``Before``; a report keeps the samples, not
    this copy). Larger outputs and gradients get a sum and a dot product each and a strided
    sample. A ReLU adds a ``count_nonzero`` and an ``any``, a Tanh/Sigmoid one comparison.
    NaN/inf makes a sum non-finite, so the element-wise ``isfinite`` runs only then.
    ``has_params[i]``: unit i's module owns Parameters (computed when not given).
    """
    if has_params is None:
        has_params = [bool(unit.module.parameters()) for unit in units]
    with np.errstate(all="ignore"):
        layers = _unit_stats(units, has_params)
        stats, before = _parameter_stats(named, grads)
    return layers, stats, before


def _unit_stats(units: list[Unit], has_params: list[bool]) -> list[LayerStats]:
    ys, dys = [unit.y for unit in units], [unit.dy for unit in units]
    small_y, big_y = _split(ys)
    small_dy, big_dy = _split(dys)
    buf, starts, squares, totals = _reduce([ys[i] for i in small_y] + [dys[i] for i in small_dy],
                                           len(small_y))
    layers = [LayerStats(unit.name, type(unit.module).__name__, has_params=has) for unit, has in
              zip(units, has_params, strict=True)]
    for k, i in enumerate(small_y):
        sample = buf[starts[k] : starts[k + 1]]
        _forward_stats(layers[i], ys[i], units[i].module, totals[k], squares[k], sample)
    for i in big_y:
        flat = ys[i].ravel()
        _forward_stats(layers[i], ys[i], units[i].module, float(flat.sum(dtype=np.float64)),
                       float(np.dot(flat, flat)), _sample(flat))
    for k, i in enumerate(small_dy, len(small_y)):
        _backward_stats(layers[i], dys[i], squares[k], buf[starts[k] : starts[k + 1]])
    for i in big_dy:
        flat = dys[i].ravel()
        _backward_stats(layers[i], dys[i], float(np.dot(flat, flat)), _sample(flat))
    return layers


def _parameter_stats(
    named: list[tuple[str, Parameter]], grads: list[np.ndarray | None]
) -> tuple[list[ParamStats], Before]:
    params = [p for _, p in named]
    kept = [i for i, p in enumerate(params) if p.size]  # reduceat needs non-empty segments
    graded = [i for i, g in enumerate(grads) if g is not None and g.size]
    # a vector of its own: the reports keep the samples (views of the units' vector), not this copy
    buf, starts, squares, _ = _reduce([params[i].data for i in kept] + [grads[i] for i in graded], 0)
    before = Before(params, kept, buf[: starts[len(kept)]], starts[: len(kept)])
    stats = [ParamStats(name, name.rpartition(".")[0], p.shape, 0.0) for name, p in named]
    for k, i in enumerate(kept):
        stats[i].data_rms = math.sqrt(squares[k] / params[i].size)
        stats[i].finite = math.isfinite(squares[k]) or bool(np.isfinite(params[i].data).all())
    for k, i in enumerate(graded, len(kept)):
        p_stats, g = stats[i], grads[i]
        p_stats.grad_norm = math.sqrt(squares[k])
        p_stats.grad_rms = math.sqrt(squares[k] / g.size)
        p_stats.finite = p_stats.finite and (math.isfinite(squares[k]) or bool(np.isfinite(g).all()))
    for i, g in enumerate(grads):
        if g is not None and not g.size:
            stats[i].grad_norm = stats[i].grad_rms = 0.0
    return stats, before


def layers_stats(units: list[Unit]) -> list[LayerStats]:
    """``check_stats`` of the units alone."""
    return check_stats(units, [], [])[0]


def param_stats(named: list[tuple[str, Parameter]], grads: list[np.ndarray | None]) -> list[ParamStats]:
    """``check_stats`` of the Parameters alone."""
    return check_stats([], named, grads)[1]


def _reduce(arrays: list[np.ndarray], n_sums: int) -> tuple[np.ndarray, list[int], list[float], list[float]]:
    """The non-empty ``arrays`` copied into one float64 vector (one call), the start of each,
    each one's sum of squares, and the sums of the first ``n_sums`` (one ``reduceat`` each)."""
    starts = list(accumulate([a.size for a in arrays], initial=0))
    if not arrays:
        return np.zeros(0), starts, [], []
    buf = np.concatenate(arrays, axis=None, dtype=np.float64)
    squares = np.add.reduceat(buf * buf, starts[:-1]).tolist()
    totals = np.add.reduceat(buf, starts[:n_sums]).tolist() if n_sums else []
    return buf, starts, squares, totals


def _split(arrays: list[Any]) -> tuple[list[int], list[int]]:
    """Indices of the non-empty float arrays of up to SAMPLE values, and of the larger ones."""
    small, big = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size:
            (small if a.size <= SAMPLE else big).append(i)
    return small, big


def _forward_stats(
    stats: LayerStats, y: np.ndarray, module: Module, total: float, squares: float, sample: np.ndarray
) -> None:
    n = y.size
    stats.shape, stats.values = y.shape, sample
    stats.mean = total / n
    stats.std = math.sqrt(max(squares / n - stats.mean * stats.mean, 0.0))  # NaN stays NaN
    stats.finite = (math.isfinite(total) and math.isfinite(squares)) or bool(np.isfinite(y).all())
    if isinstance(module, ReLU):
        stats.zero_fraction = 1.0 - np.count_nonzero(y) / n
        stats.dead_fraction = _dead_fraction(y)
    elif isinstance(module, Tanh):
        stats.saturated_fraction = np.count_nonzero(np.abs(y) > SATURATION) / n
    elif isinstance(module, Sigmoid):
        stats.saturated_fraction = np.count_nonzero(np.abs(y - 0.5) > SATURATION / 2) / n


def _backward_stats(stats: LayerStats, dy: np.ndarray, squares: float, sample: np.ndarray) -> None:
    stats.grads = sample
    stats.grad_norm = math.sqrt(squares)
    stats.grad_rms = stats.grad_norm / math.sqrt(dy.size)
    stats.grad_finite = math.isfinite(squares) or bool(np.isfinite(dy).all())


def _dead_fraction(y: np.ndarray) -> float:
    """The fraction of units that are 0 everywhere: a feature (last axis) of (N, F) or (N, L, F)
    outputs, a channel (axis 1) of (N, C, H, W) feature maps, over the whole batch."""
    if y.ndim == 2:
        alive = y.any(axis=0)
    elif y.ndim == 4:
        alive = y.any(axis=(0, 2, 3))
    elif y.ndim >= 2:
        alive = y.reshape(-1, y.shape[-1]).any(axis=0)
    else:
        alive = y
    return 1.0 - np.count_nonzero(alive) / max(alive.size, 1)


def _sample(flat: np.ndarray) -> np.ndarray:
    """Up to SAMPLE evenly spaced values, copied (a view would keep the whole array alive)."""
    return flat[:: max(1, flat.size // SAMPLE)][:SAMPLE].copy()


class Before:
    """The non-empty Parameters' data as one float64 vector, copied before a step (a segment of
    ``check_stats``'s buffer), so that the step can be measured against it."""

    def __init__(self, params: list[Parameter], kept: list[int], data: np.ndarray, starts: list[int]) -> None:
        self.params, self.kept, self.data, self.starts = params, kept, data, starts

    def set_update_ratios(self, stats: list[ParamStats]) -> None:
        """update:data = rms(update) / rms(data) per Parameter (``stats`` in the Parameters'
        order), the update being the change since the copy; a non-finite update is flagged."""
        if not self.kept:
            return
        params = self.params
        with np.errstate(all="ignore"):
            now = np.concatenate([params[i].data for i in self.kept], axis=None, dtype=np.float64)
            np.subtract(now, self.data, out=now)
            np.multiply(now, now, out=now)
            for i, squares in zip(self.kept, np.add.reduceat(now, self.starts).tolist(), strict=True):
                p_stats = stats[i]
                p_stats.update_finite = math.isfinite(squares) or bool(np.isfinite(params[i].data).all())
                if p_stats.data_rms > 0:
                    p_stats.update_ratio = math.sqrt(squares / params[i].size) / p_stats.data_rms


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
        layers, stats, _ = check_stats(units, list(model.named_parameters()), grads)
        return layers, stats, grads
    finally:
        drop_new_frames(depths)
        saved.restore()
