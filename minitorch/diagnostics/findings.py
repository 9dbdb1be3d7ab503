"""Verdicts from one probe's statistics, each in the layer's own terms, and the report that holds them.

The rules (thresholds are module constants, so a reader can see and change them):

- ``non_finite``: the first layer (forward order) whose output holds NaN/inf; else the first whose
  incoming gradient does (backward order); else the first Parameter whose gradient does.
- ``dead_relu``: a ReLU where at least ``DEAD_FRACTION`` of the units (features; channels of
  feature maps) output exactly 0 for every sample of the batch (and every position).
  ReLU'(x) = 0 for x <= 0, so those units pass back no gradient at all.
- ``saturated``: a Tanh/Sigmoid with at least ``SATURATED_FRACTION`` of its outputs beyond 0.97
  (|tanh| or |2 sigmoid - 1|): there tanh' = 1 - y**2 < 0.06 and sigmoid' = y (1 - y) < 0.015.
- ``vanishing_gradients`` / ``exploding_gradients``: the gradient entering the first layer with
  parameters, per element, is below ``VANISHING`` (above ``EXPLODING``) times the one entering the
  last with a non-zero one: each layer's local derivative shrank (grew) it on the way down (no
  gradient at all, e.g. below zero-initialised weights, is the limit of vanishing).
- ``lr_too_high`` / ``lr_too_low``: the update:data ratio rms(update) / rms(data) of the weights
  (Parameters with 2+ dimensions) after one step: the median above ``LR_HIGH``, or the largest
  below ``LR_LOW`` (healthy training sits near 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from minitorch.diagnostics.stats import CheckStats, LayerStats, ParamStats

KINDS = ("dead_relu", "saturated", "vanishing_gradients", "exploding_gradients", "lr_too_high",
         "lr_too_low", "non_finite")
DEAD_FRACTION = 0.6
SATURATED_FRACTION = 0.3
VANISHING = 1e-3
EXPLODING = 1e3
LR_HIGH = 0.5
LR_LOW = 1e-5

REMEDIES = {
    "dead_relu": "lower the learning rate, initialise biases at 0 (or small positive), use He init, "
                 "or LeakyReLU/ELU, whose slope below 0 is not 0",
    "saturated": "scale the weights down (Xavier/He init), normalise the inputs, or add BatchNorm/"
                 "LayerNorm before the activation",
    "vanishing_gradients": "use ReLU-family activations, He/Xavier init, normalisation layers, "
                           "residual connections, or a shallower network",
    "exploding_gradients": "lower the learning rate, clip gradients (mt.clip_grad_norm_), scale the "
                           "initial weights down, add normalisation layers",
    "lr_too_high": "divide the learning rate by 10-100 (mt.lr_find suggests one)",
    "lr_too_low": "multiply the learning rate by 10-100 (mt.lr_find suggests one)",
    "non_finite": "check the data for NaN/inf, lower the learning rate, clip gradients",
}


@dataclass
class Finding:
    """One verdict: ``kind`` (one of KINDS), ``layer`` (dotted module name), ``evidence`` and ``remedy``."""

    kind: str
    layer: str
    evidence: dict[str, Any]
    message: str
    remedy: str = ""

    def __post_init__(self) -> None:
        self.remedy = self.remedy or REMEDIES[self.kind]

    def __str__(self) -> str:
        return f"{self.kind} at {self.layer or '<model>'}: {self.message}. Remedy: {self.remedy}"


@dataclass
class Report:
    """The statistics of one check and the findings drawn from them; ``print(report)`` shows the table."""

    layers: list[LayerStats]
    params: list[ParamStats]
    loss: float | None = None
    step: int | None = None  # the training step (batch count from 0) of a Diagnostics check
    findings: list[Finding] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def table(self) -> str:
        return format_table(self)

    def __str__(self) -> str:
        return self.table()


class CheckReport(Report):
    """The report of one ``Diagnostics`` check: its ``layers`` and ``params`` are built from the
    check's ``CheckStats`` when first read."""

    def __init__(self, stats: CheckStats, loss: float | None, step: int | None) -> None:
        self._stats, self.loss, self.step, self.findings = stats, loss, step, []

    @property
    def layers(self) -> list[LayerStats]:  # type: ignore[override]
        return self._stats.layers()

    @property
    def params(self) -> list[ParamStats]:  # type: ignore[override]
        return self._stats.params()


def judge_check(stats: CheckStats, loss: float | None) -> list[Finding]:
    """``judge`` of one check's statistics; the per-layer objects are built only when a rule may fire."""
    if quiet(stats, loss):
        return []
    return judge(stats.layers(), stats.params(), loss)


def quiet(stats: CheckStats, loss: float | None) -> bool:
    """True when ``judge`` would find nothing in ``stats``, read from its numbers; False when a rule
    may fire (``judge`` then decides). Each rule's test is the one ``judge`` applies (``_dead``,
    ``_saturated``, ``_flow_breaks``, ``_rate_is_off``), on the same numbers."""
    if not stats.finite or (loss is not None and not math.isfinite(loss)):
        return False
    activations, flow, ratios = stats.rule_inputs()
    for _, (_, dead, saturated) in activations:
        if _dead(dead) or _saturated(saturated):
            return False
    if flow is not None and _flow_breaks(flow):
        return False
    return not ratios or not _rate_is_off(ratios)


# The rules' tests, on numbers: judge applies them to LayerStats / ParamStats, quiet to CheckStats.
def _dead(dead_fraction: float | None) -> bool:
    return dead_fraction is not None and dead_fraction >= DEAD_FRACTION


def _saturated(saturated_fraction: float | None) -> bool:
    return saturated_fraction is not None and saturated_fraction >= SATURATED_FRACTION


def _flow_breaks(ratio: float) -> bool:
    """The gradient entering the first layer with parameters / the one entering the last."""
    return not VANISHING <= ratio <= EXPLODING


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2  # statistics.median's


def _rate_is_off(ordered: list[float]) -> bool:
    """The weights' update:data ratios, sorted: the median too high or the largest too low."""
    return not (LR_LOW <= ordered[-1] and _median(ordered) <= LR_HIGH)


def judge(layers: list[LayerStats], params: list[ParamStats], loss: float | None = None) -> list[Finding]:
    """Every finding the statistics support, in the order of the rules."""
    found = _non_finite(layers, params, loss)
    if found:
        return found  # with NaN about, the other statistics mean nothing
    found += _activations(layers)
    found += _gradient_flow(layers)
    found += _learning_rate(params)
    return found


def _non_finite(layers: list[LayerStats], params: list[ParamStats], loss: float | None) -> list[Finding]:
    for s in layers:
        if not s.finite:
            return [Finding("non_finite", s.name, {"where": "output", "layer_kind": s.kind},
                            f"{s.kind} output holds NaN/inf")]
    if loss is not None and not math.isfinite(loss):
        return [Finding("non_finite", "", {"where": "loss", "loss": loss}, f"the loss is {loss}")]
    for s in reversed(layers):
        if not s.grad_finite:
            return [Finding("non_finite", s.name, {"where": "gradient", "layer_kind": s.kind},
                            f"the gradient entering {s.kind} holds NaN/inf")]
    for p in params:
        if not p.update_finite:
            return [Finding("non_finite", p.layer, {"where": "update", "parameter": p.name,
                                                    "update_ratio": p.update_ratio},
                            f"the optimizer step made {p.name} NaN/inf")]
    for p in params:
        if not p.finite:
            return [Finding("non_finite", p.layer, {"where": "parameter", "parameter": p.name},
                            f"{p.name} or its gradient holds NaN/inf")]
    return []


def _activations(layers: list[LayerStats]) -> list[Finding]:
    found = []
    for s in layers:
        if _dead(s.dead_fraction):
            found.append(Finding(
                "dead_relu", s.name,
                {"dead_fraction": s.dead_fraction, "zero_fraction": s.zero_fraction},
                f"{s.dead_fraction:.0%} of the units output 0 for every sample ({s.zero_fraction:.0%} of "
                "all outputs are 0); ReLU'(x) = 0 there, so no gradient reaches the weights before it"))
        if _saturated(s.saturated_fraction):
            slope = "1 - y**2 < 0.06" if s.kind == "Tanh" else "y (1 - y) < 0.015"
            found.append(Finding(
                "saturated", s.name, {"saturated_fraction": s.saturated_fraction, "std": s.std},
                f"{s.saturated_fraction:.0%} of the {s.kind} outputs are beyond 0.97, where its "
                f"derivative {slope} blocks the gradient"))
    return found


def _gradient_flow(layers: list[LayerStats]) -> list[Finding]:
    # the first layer the gradient reaches (rms 0 too: the limit of vanishing), the last where it is > 0
    flowing = [s for s in layers if s.grad_rms is not None and s.has_params]
    positive = [s for s in flowing if s.grad_rms > 0]
    if not positive or flowing[0] is positive[-1]:
        return []
    first, last = flowing[0], positive[-1]
    ratio = first.grad_rms / last.grad_rms
    if not _flow_breaks(ratio):
        return []
    evidence = {"first_layer": first.name, "last_layer": last.name, "first_grad_rms": first.grad_rms,
                "last_grad_rms": last.grad_rms, "ratio": ratio,
                "grad_rms_by_layer": {s.name: s.grad_rms for s in flowing}}
    if ratio < VANISHING:
        return [Finding("vanishing_gradients", first.name, evidence,
                        f"the gradient entering {first.name} is {ratio:.1e} times the one entering "
                        f"{last.name}: the layers' derivatives shrink it on the way down")]
    if ratio > EXPLODING:
        return [Finding("exploding_gradients", first.name, evidence,
                        f"the gradient entering {first.name} is {ratio:.1e} times the one entering "
                        f"{last.name}: the layers' derivatives grow it on the way down")]
    return []


def _learning_rate(params: list[ParamStats]) -> list[Finding]:
    weights = [p for p in params if len(p.shape) >= 2 and p.update_ratio is not None and p.data_rms > 0
               and p.grad_rms]  # a weight with no gradient (dead units) says nothing about the rate
    if not weights:
        return []
    ratios = sorted(p.update_ratio for p in weights)
    if not _rate_is_off(ratios):
        return []
    median = _median(ratios)
    evidence = {"update_ratio": {p.name: p.update_ratio for p in weights}, "median": median}
    if median > LR_HIGH:
        worst = max(weights, key=lambda p: p.update_ratio)
        return [Finding("lr_too_high", worst.layer, evidence,
                        f"one step changes the weights by {median:.1e} of their size (median; "
                        f"{worst.name}: {worst.update_ratio:.1e}), healthy is ~1e-3")]
    if ratios[-1] < LR_LOW:
        best = max(weights, key=lambda p: p.update_ratio)
        return [Finding("lr_too_low", best.layer, evidence,
                        f"one step changes the weights by at most {ratios[-1]:.1e} of their size "
                        f"({best.name}), healthy is ~1e-3")]
    return []


def format_table(report: Report) -> str:
    """The per-layer and per-Parameter statistics and the findings, as fixed-width text."""
    rows = [f"{'layer':<14}{'kind':<12}{'shape':<16}{'mean':>10}{'std':>10}{'zero':>7}{'dead':>7}"
            f"{'sat':>7}{'|dy|':>11}"]
    for s in report.layers:
        rows.append(f"{s.name or '<model>':<14}{s.kind:<12}{_shape(s.shape):<16}{s.mean:>10.3g}{s.std:>10.3g}"
                    f"{_pct(s.zero_fraction):>7}{_pct(s.dead_fraction):>7}{_pct(s.saturated_fraction):>7}"
                    f"{_num(s.grad_norm):>11}")
    rows.append("")
    rows.append(f"{'parameter':<18}{'shape':<16}{'rms':>10}{'|grad|':>11}{'update:data':>13}")
    for p in report.params:
        rows.append(f"{p.name:<18}{_shape(p.shape):<16}{p.data_rms:>10.3g}{_num(p.grad_norm):>11}"
                    f"{_num(p.update_ratio):>13}")
    rows.append("")
    if report.loss is not None:
        rows.append(f"loss {report.loss:.4g}")
    rows += [f"! {f}" for f in report.findings] or ["no findings"]
    return "\n".join(rows)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(str(n) for n in shape)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
