"""A check's statistics: what went through each layer and each Parameter, kept as numbers.

``CheckStats`` takes them in a fixed handful of NumPy calls, whatever the number of layers, and
keeps sums, sums of squares, counts and histogram samples; the per-layer ``LayerStats`` and the
per-Parameter ``ParamStats`` a report shows (``stats_records``) are built from those numbers the
first time they are read (a ``Diagnostics`` run keeps one check every ``every`` steps and reads few
of them). The measures of one array (activation fractions, samples) are in ``measures``.
"""

from __future__ import annotations

import math
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np

from minitorch.diagnostics.measures import SAMPLE, SATURATION, activation_fractions, big_segment
from minitorch.diagnostics.stats_records import LayerStats, ParamStats
from minitorch.layers import BatchNorm1d, Conv1d, ReLU, Sigmoid, Tanh
from minitorch.module import Module, Parameter

__all__ = ["SAMPLE", "SATURATION", "CheckStats", "LayerStats", "Layout", "ParamStats", "check_stats"]

_get_data, _ravel = attrgetter("data"), methodcaller("ravel")  # C-level steps of a map over Parameters


class Layout:
    """What a check reads of its units and Parameters besides their arrays: names, classes, which
    activation each unit is, which own Parameters. Listed once per run when the units are the same
    at every check. ``units``: (name, module) pairs; ``named``: ``list(model.named_parameters())``."""

    __slots__ = ("names", "kinds", "roles", "has_params", "params", "param_names", "param_layers",
                 "param_shapes", "is_weight", "kept", "kept_params", "weight_slots", "narrow")

    def __init__(self, units: list[tuple[str, Module]], named: list[tuple[str, Parameter]],
                 has_params: list[bool] | None = None) -> None:
        self.names = [name for name, _ in units]
        self.kinds = [type(module).__name__ for _, module in units]
        if has_params is None:
            has_params = [next(m.parameters(), None) is not None for _, m in units]
        self.has_params = has_params
        # "relu" / "relu_channels" (after a 1-d layer: (N, C, L)) / "tanh" / "sigmoid" / None
        self.roles = [_role(module) for _, module in units]
        for i, role in enumerate(self.roles):
            if role == "relu" and _channels_first(units[:i], self.has_params[:i]):
                self.roles[i] = "relu_channels"
        self.params = [p for _, p in named]
        self.param_names = [name for name, _ in named]
        self.param_layers = [name.rpartition(".")[0] for name, _ in named]
        self.param_shapes = [p.shape for _, p in named]
        self.is_weight = [len(shape) >= 2 for shape in self.param_shapes]  # the learning-rate rule's weights
        self.kept = [i for i, p in enumerate(self.params) if p.size]  # reduceat: non-empty segments only
        self.kept_params = [self.params[i] for i in self.kept]
        self.weight_slots = [(j, i) for j, i in enumerate(self.kept) if self.is_weight[i]]
        self.narrow = all(p.data.dtype.itemsize <= 4 for p in self.params)  # float32 or narrower


ONE_D = (Conv1d, BatchNorm1d)  # the library's layers whose 3-D output is (N, C, L)


def _channels_first(before: list[tuple[str, Module]], has_params: list[bool]) -> bool:
    """The nearest unit before that sets the layout is a 1-d layer (Conv1d, BatchNorm1d, a subclass of
    either under any name, or a class of the user's named as torch names them, ``...1d``):
    a 3-D output is then (N, C, L) with channels on axis 1, not (N, L, F) with features last.
    Parameter-free units of another kind (Dropout, activations) keep the layout and are passed over."""
    for (_, module), owns in zip(reversed(before), reversed(has_params), strict=True):
        if isinstance(module, ONE_D) or type(module).__name__.endswith("1d"):  # a user's Foo1d too
            return True
        if owns:
            return False
    return False


def _role(module: Module) -> str | None:
    if isinstance(module, ReLU):
        return "relu"
    if isinstance(module, Tanh):
        return "tanh"
    if isinstance(module, Sigmoid):
        return "sigmoid"
    return None


class CheckStats:
    """The statistics of each unit's output ``ys[i]`` and incoming gradient ``dys[i]``, and of each
    Parameter with its gradient ``grads[i]``, as numbers; ``layers()`` and ``params()`` build the
    ``LayerStats`` and ``ParamStats`` from them (once).

    A check runs inside training, so it takes a fixed handful of NumPy calls, whatever the number
    of layers: the outputs and incoming gradients of up to ``SAMPLE`` values, the Parameters' data
    and their gradients are copied once, together, into one float64 vector (one
    ``np.concatenate``), and one ``np.add.reduceat`` gives every segment's sum of squares. The
    output and gradient segments are the histogram samples (and give the outputs' sums, which only
    the table needs, when the stats objects are built); the data segment is the copy of the
    weights that ``after_step`` measures the step against. Larger outputs and gradients get a sum
    and a dot product each and a strided sample. A ReLU adds an ``any`` and a ``count_nonzero``
    (its zero fraction is counted on the copy when the report is read), a Tanh/Sigmoid one
    comparison. The square of a NaN/inf is NaN/inf, so ``finite`` (every sum of squares is
    finite) says the values are; otherwise the element-wise ``isfinite`` and the stats objects
    are needed at once, while the arrays are at hand. Float32 arrays squared in float64 cannot
    overflow and inf * inf raises no flag, so only a float64 array needs ``np.errstate``.
    """

    __slots__ = ("layout", "finite", "_buf", "_starts", "_small_y", "_small_dy", "_shapes", "_squares",
                 "_big", "_extras", "_kept", "_graded", "_empty_grads", "_updates", "_layers", "_params",
                 "_narrow", "_data_at")

    def __init__(self, layout: Layout, ys: list[Any], dys: list[Any], grads: list[np.ndarray | None]) -> None:
        self.layout = layout
        self._layers: list[LayerStats] | None = None
        self._params: list[ParamStats] | None = None
        self._updates: list[float] | None = None
        arrays, starts = self._segments(ys, dys, grads)
        self._starts = starts
        if not arrays:
            self._buf, self._squares = np.zeros(0), []
        elif self._narrow:  # float32 or narrower, squared in float64: no overflow, and inf*inf warns not
            self._buf = buf = np.concatenate(arrays, dtype=np.float64)
            self._squares = np.add.reduceat(np.multiply(buf, buf), starts[:-1]).tolist()
        else:
            with np.errstate(all="ignore"):
                self._buf = buf = np.concatenate(arrays, dtype=np.float64)
                self._squares = np.add.reduceat(np.multiply(buf, buf), starts[:-1]).tolist()
        total = sum(self._squares)
        for segment in self._big:
            total += segment[5]
        self.finite = math.isfinite(total)
        if not self.finite:  # NaN/inf somewhere: which arrays hold it needs them, now
            self._layers = self._build_layers(ys, dys)
            self._params = self._build_params(grads)

    def _segments(self, ys: list[Any], dys: list[Any], grads: list[np.ndarray | None]
                  ) -> tuple[list[np.ndarray], list[int]]:
        """The arrays that go in the vector, flattened, in its order: outputs, incoming gradients
        (those of up to SAMPLE values; the larger ones are summed on their own), Parameters' data,
        gradients; and where each starts (with the end). The activations' fractions on the way.
        ``_narrow``: every array is float32 or narrower (the arithmetic then needs no ``errstate``).
        Plain loops: a check runs with its code out of the CPU caches, where each comprehension
        is one more function to fetch and call (Python 3.11)."""
        layout = self.layout
        arrays: list[np.ndarray] = []
        starts = [0]
        end = 0
        narrow = layout.narrow
        small_y, small_dy, shapes, big, extras = [], [], [], [], []
        roles = layout.roles
        for i, y in enumerate(ys):
            if not isinstance(y, np.ndarray):
                continue
            dtype, size = y.dtype, y.size
            if dtype.kind != "f" or not size:
                continue  # an integer input has no statistics
            if roles[i] is not None:  # a small output's zero fraction is counted on its copy, when read
                extras.append((i, activation_fractions(roles[i], y, size > SAMPLE)))
            if size <= SAMPLE:
                small_y.append(i)
                shapes.append(y.shape)
                arrays.append(y.ravel())
                end += size
                starts.append(end)
                if dtype.itemsize > 4:
                    narrow = False
            else:  # (unit, forward, shape, size, sum, sum of squares, sample)
                big.append(big_segment(i, y, True))
        for i, dy in enumerate(dys):
            if not isinstance(dy, np.ndarray):
                continue
            dtype, size = dy.dtype, dy.size
            if dtype.kind != "f" or not size:
                continue  # no gradient reached this unit
            if size <= SAMPLE:
                small_dy.append(i)
                arrays.append(dy.ravel())
                end += size
                starts.append(end)
                if dtype.itemsize > 4:
                    narrow = False
            else:
                big.append(big_segment(i, dy, False))
        data_from = len(arrays)
        arrays.extend(map(_ravel, map(_get_data, layout.kept_params)))
        for data in arrays[data_from:]:  # the sizes of today's arrays
            end += data.size
            starts.append(end)
        graded, empty = [], []
        for i, g in enumerate(grads):
            if g is None:
                continue
            size = g.size
            if size:
                graded.append(i)
                arrays.append(g.ravel())
                end += size
                starts.append(end)
                if g.dtype.itemsize > 4:
                    narrow = False
            else:
                empty.append(i)
        self._small_y, self._small_dy, self._shapes = small_y, small_dy, shapes
        self._big, self._extras = big, extras
        self._kept, self._graded, self._empty_grads = layout.kept, graded, empty
        self._narrow = narrow
        first = len(small_y) + len(small_dy)
        self._data_at = (first, first + len(layout.kept))  # the data's first and last + 1 segment
        return arrays, starts

    def after_step(self) -> None:
        """The step the optimizer took: each Parameter's sum of squared changes since the copy
        (one ``concatenate``, one ``reduceat``); a non-finite one flags its Parameter at once.
        The Parameters' part of the vector is let go (kept only when it is the smaller part)."""
        params, starts = self.layout.params, self._starts
        first, last = self._data_at
        units_end, data_end = starts[first], starts[last]
        if self._kept and self._narrow and self.finite:  # the copy is finite and float32: nothing warns
            self._updates = self._update_squares(first, units_end, data_end)
        elif self._kept:
            with np.errstate(all="ignore"):
                self._updates = self._update_squares(first, units_end, data_end)
        else:
            self._updates = []
        if self._buf.size - units_end > units_end:
            self._buf = self._buf[:units_end].copy()  # a report keeps the samples, not the weights
        if self._params is not None:  # built already (a NaN/inf at the check)
            self._set_update_ratios(self._params)
        if not math.isfinite(sum(self._updates)):  # a NaN/inf update: which Parameter, at once
            self.finite = False
            stats = self.params()
            for i, squares in zip(self._kept, self._updates, strict=True):
                stats[i].update_finite = math.isfinite(squares) or bool(np.isfinite(params[i].data).all())

    def _update_squares(self, first: int, units_end: int, data_end: int) -> list[float]:
        """Each kept Parameter's sum of squared changes since the copy in the vector (whose
        segment ``first`` is the first Parameter's data, from ``units_end`` to ``data_end``)."""
        now = np.concatenate(list(map(_ravel, map(_get_data, self.layout.kept_params))), dtype=np.float64)
        np.subtract(now, self._buf[units_end:data_end], out=now)
        np.multiply(now, now, out=now)
        kept_starts = []
        for start in self._starts[first: first + len(self._kept)]:
            kept_starts.append(start - units_end)
        return np.add.reduceat(now, kept_starts).tolist()

    # ------------------------------------------------------------------ reading them
    def rule_inputs(self) -> tuple[list[tuple[int, tuple[float | None, ...]]], float | None, list[float]]:
        """What the verdict rules read, from the numbers alone (``findings.quiet``):
        - per ReLU/Tanh/Sigmoid unit (unit, (zero fraction or None, dead fraction, saturated fraction));
        - the rms of the gradient entering the first unit with Parameters it reaches (0 too) over
          that of the last with rms > 0 (``LayerStats.grad_rms``), None unless the two differ;
        - the update:data ratios of the weights (2+ dimensions) that have a gradient, sorted."""
        layout, squares, starts, sqrt = self.layout, self._squares, self._starts, math.sqrt
        has_params = layout.has_params
        flowing = []
        for k, i in enumerate(self._small_dy, len(self._small_y)):
            if has_params[i]:
                flowing.append((i, sqrt(squares[k]) / sqrt(starts[k + 1] - starts[k])))
        if self._big:  # the larger gradients were summed apart: back in unit order
            for i, forward, _, size, _, sq, _ in self._big:
                if not forward and has_params[i]:
                    flowing.append((i, sqrt(sq) / sqrt(size)))
            flowing.sort(key=_first)
        # the first unit reached (rms 0 too: the limit of vanishing) over the last with rms > 0
        last_at, last_rms = -1, 0.0
        for k, (_, rms) in enumerate(flowing):
            if rms > 0:
                last_at, last_rms = k, rms
        flow = flowing[0][1] / last_rms if last_at > 0 else None
        first, last = self._data_at
        graded = self._graded
        # the gradient's segment of each Parameter: right after the data's when every kept one has one
        grad_at = None if graded == self._kept else {i: k for k, i in enumerate(graded, last)}
        updates, ratios = self._updates, []
        for j, i in layout.weight_slots:  # (place among the kept, Parameter) of each weight
            k = first + j
            g = last + j if grad_at is None else grad_at.get(i)
            if updates is None or g is None or not squares[g] / (starts[g + 1] - starts[g]):
                continue  # no step measured, or no gradient (dead units): says nothing about the rate
            size = starts[k + 1] - starts[k]
            data_rms = sqrt(squares[k] / size)
            if data_rms > 0:
                ratios.append(sqrt(updates[j] / size) / data_rms)
        ratios.sort()
        return self._extras, flow, ratios

    def layers(self) -> list[LayerStats]:
        if self._layers is None:
            self._layers = self._build_layers(None, None)
        return self._layers

    def params(self) -> list[ParamStats]:
        if self._params is None:
            self._params = self._build_params(None)
        return self._params

    def _build_layers(self, ys: list[Any] | None, dys: list[Any] | None) -> list[LayerStats]:
        layout, buf, starts, squares = self.layout, self._buf, self._starts, self._squares
        layers = [LayerStats(name, kind, has_params=has) for name, kind, has in
                  zip(layout.names, layout.kinds, layout.has_params, strict=True)]
        n = len(self._small_y)
        with np.errstate(all="ignore"):  # the outputs' sums: only the report's table needs them
            totals = np.add.reduceat(buf[: starts[n]], starts[:n]).tolist() if n else []
        # (unit, shape, size, sum, sum of squares, sample, sum of squares about the mean)
        forward = [(i, self._shapes[k], starts[k + 1] - starts[k], totals[k], squares[k],
                    buf[starts[k]: starts[k + 1]], None) for k, i in enumerate(self._small_y)]
        backward = [(i, starts[k + 1] - starts[k], squares[k], buf[starts[k]: starts[k + 1]])
                    for k, i in enumerate(self._small_dy, n)]
        for i, fw, shape, size, total, sq, sample in self._big:
            if fw:  # its squares are taken about the mean already (``big_segment``)
                forward.append((i, shape, size, total, sq, sample, sq))
            else:
                backward.append((i, size, sq, sample))
        for i, shape, size, total, sq, sample, spread in forward:
            stats = layers[i]
            stats.shape, stats.values = shape, sample
            stats.mean = total / size
            if spread is None:  # the whole output is its float64 sample: about the mean, as np.std
                with np.errstate(all="ignore"):
                    spread = float(np.dot(sample - stats.mean, sample - stats.mean))
            stats.std = math.sqrt(spread / size)  # NaN stays NaN; E[x**2] - mean**2 would cancel
            stats.finite = (math.isfinite(total) and math.isfinite(sq)) or bool(np.isfinite(ys[i]).all())
        copies = {i: k for k, i in enumerate(self._small_y)}
        for i, (zero, dead, saturated) in self._extras:
            stats = layers[i]
            if zero is None and dead is not None:  # a ReLU's small output: counted on its copy
                copy = buf[starts[copies[i]]: starts[copies[i] + 1]]
                zero = 1.0 - int(np.count_nonzero(copy)) / copy.size
            stats.zero_fraction, stats.dead_fraction, stats.saturated_fraction = zero, dead, saturated
        for i, size, sq, sample in backward:
            stats = layers[i]
            stats.grads = sample
            stats.grad_norm = math.sqrt(sq)
            stats.grad_rms = stats.grad_norm / math.sqrt(size)
            stats.grad_finite = math.isfinite(sq) or bool(np.isfinite(dys[i]).all())
        return layers

    def _build_params(self, grads: list[np.ndarray | None] | None) -> list[ParamStats]:
        layout, squares, starts = self.layout, self._squares, self._starts
        params = layout.params
        first, last = self._data_at
        stats = [ParamStats(name, layer, shape, 0.0) for name, layer, shape in
                 zip(layout.param_names, layout.param_layers, layout.param_shapes, strict=True)]
        for k, i in enumerate(self._kept, first):
            stats[i].data_rms = math.sqrt(squares[k] / (starts[k + 1] - starts[k]))
            stats[i].finite = math.isfinite(squares[k]) or bool(np.isfinite(params[i].data).all())
        for k, i in enumerate(self._graded, last):
            p_stats = stats[i]
            p_stats.grad_norm = math.sqrt(squares[k])
            p_stats.grad_rms = math.sqrt(squares[k] / (starts[k + 1] - starts[k]))
            finite = math.isfinite(squares[k]) or bool(np.isfinite(grads[i]).all())
            p_stats.finite = p_stats.finite and finite
        for i in self._empty_grads:
            stats[i].grad_norm = stats[i].grad_rms = 0.0
        self._set_update_ratios(stats)
        return stats

    def _set_update_ratios(self, stats: list[ParamStats]) -> None:
        starts, first = self._starts, self._data_at[0]
        for k, i, squares in zip(range(first, first + len(self._kept)), self._kept, self._updates or [],
                                 strict=False):
            if stats[i].data_rms > 0:
                stats[i].update_ratio = math.sqrt(squares / (starts[k + 1] - starts[k])) / stats[i].data_rms


def check_stats(
    units: list[Any], named: list[tuple[str, Parameter]], grads: list[np.ndarray | None],
    has_params: list[bool] | None = None,
) -> tuple[list[LayerStats], list[ParamStats]]:
    """``CheckStats`` of the units (``probe.Unit``: name, module, y, dy) and Parameters, built."""
    layout = Layout([(unit.name, unit.module) for unit in units], named, has_params)
    stats = CheckStats(layout, [unit.y for unit in units], [unit.dy for unit in units], grads)
    return stats.layers(), stats.params()


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]
