"""Diagnostics: the callback that runs diagnose's checks inside ``mt.fit`` every ``every`` steps."""

from __future__ import annotations

import math
import sys
from math import isfinite
from operator import attrgetter
from typing import Any

import numpy as np

from minitorch.callbacks import Callback
from minitorch.containers import Sequential
from minitorch.diagnostics.findings import CheckReport, Report, judge, judge_check
from minitorch.diagnostics.probe import (
    Unit,
    chain_composite,
    finite,
    layers_stats,
    named_index,
    param_stats,
    plan_backward_params,
    plan_forward,
    run_probe,
    unit_plan,
    units_backward_params,
    units_forward,
)
from minitorch.diagnostics.stats import CheckStats, Layout
from minitorch.kernels import containers as chain_kernel
from minitorch.kernels import kernels_enabled
from minitorch.module import Module

_grad = attrgetter("grad")


class Diagnostics(Callback):
    """Every ``every`` training steps, the statistics and verdicts of ``mt.diagnose`` on that step's batch.

    On a check step the callback runs fit's own forward and backward layer by layer: it stands in
    for ``model.forward`` and ``model.backward_params`` for that one call each and makes the same
    calls the model would (``minitorch.diagnostics.probe``'s walk), so training is unchanged and
    nothing is computed twice; it copies each layer's output and the gradient entering it, the
    weights and their gradients into one vector and keeps their sums of squares (``CheckStats``),
    and at the end of the step computes the update:data ratio of the step the optimizer really
    took. The verdicts are read from those numbers; a report's per-layer ``LayerStats`` and
    per-Parameter ``ParamStats`` are built when first read. Steps between checks run untouched:
    inside ``fit`` the callback rests until its next check (``idle_batches``: fit does not call
    it at all, except, with ``stop_on_nan=False``, to show it a NaN/inf loss); in another loop it
    only counts them and looks at the loss logged. When a loss is not finite (fit is about to
    stop, or with ``stop_on_nan=False`` goes on), that step's batch (``NonFiniteLossError.inputs``,
    or the input fit passed) is walked again layer by layer and the callback reports the first
    layer whose output is not finite, and the step (on a check step, the walk already made is
    read instead). ``watch_non_finite=False``: NaN/inf is only looked for on check steps.

    ``history`` keeps one ``Report`` per check (``step`` counted from 0 across epochs);
    ``findings`` the first occurrence of each (kind, layer); ``verbose=True`` prints each new
    finding where fit prints. The stand-ins are instance attributes of the model, each removed
    when it is called and in any case at the end of the step, when training ends, or when fit
    stops on a NaN/inf loss.
    Example:
        diag = mt.Diagnostics(every=50)
        mt.fit(model, loss_fn, optimizer, loader, epochs=5, callbacks=[diag])
        diag.findings, diag.history[-1].table()
    """

    def __init__(self, every: int = 50, verbose: bool = True, watch_non_finite: bool = True) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"Diagnostics: expected every to be a positive int, got {every!r}")
        self.every, self.verbose = every, bool(verbose)
        self.watch_non_finite = bool(watch_non_finite)
        self.history: list[Report] = []
        self.findings: list[Any] = []
        self._step = 0  # steps begun
        self._next_check = 0  # the step of the next check
        self._pending: dict[str, Any] | None = None  # the check of this step
        self._located = False  # a non-finite loss was already traced to its layer
        self._batch_logs: dict[str, Any] | None = None  # on_batch_begin's logs: "inputs", the batch

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.history, self.findings, self._step, self._pending, self._located = [], [], 0, None, False
        self._next_check, self._batch_logs = 0, None
        self._disarm()
        model = self.model  # looked up once: checks then read these instead of walking the model
        self._named = list(model.named_parameters())
        self._params = [p for _, p in self._named]
        self._names = named_index(model)
        self._known = None if any(chain_composite(m) for m in model.modules()) else {}
        # no plain-chain composite: the units are the same at every check, listed once
        self._plan = None if self._known is None else unit_plan(model, self._names)
        self._layout = None if self._plan is None else Layout(self._plan, self._named)
        self._modules = [] if self._plan is None else [module for _, module in self._plan]
        # a Sequential of Linear and ReLU layers (exact types), the units its own children: a check
        # runs the chain kernel, which hands back the outputs and incoming gradients the walk records
        children = list(model._modules.values())
        self._chain = (type(model) is Sequential and self._plan is not None and len(self._modules) > 0
                       and len(self._modules) == len(children)
                       and all(a is b for a, b in zip(self._modules, children, strict=True))
                       and all(type(m) in (chain_kernel.Linear, chain_kernel.ReLU) for m in children))
        has_params = [] if self._layout is None else self._layout.has_params
        self._first = has_params.index(True) if True in has_params else len(has_params)
        self._owns: dict[int, bool] = {}  # id(module) -> it has Parameters
        self._stand_ins = (self._forward, self._backward_params)  # bound once, installed at each check
        if self.watch_non_finite:
            self._watch_failure()

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batch_logs = logs  # its batch is walked again if the loss is not finite
        step = self._step
        self._step = step + 1  # steps begun: this one is self._step - 1
        if step == self._next_check:
            self._next_check = step + self.every
            self._pending = {"step": step}
            model, (forward, backward_params) = self.model, self._stand_ins
            object.__setattr__(model, "forward", forward)
            object.__setattr__(model, "backward_params", backward_params)

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = logs.get("loss") if logs else None
        if logs and "step" in logs:  # fit woke it for a NaN/inf loss on a batch it rested through
            self._step, self._batch_logs = logs["step"] + 1, logs  # idle_batches had counted ahead
        if self._pending is None and (loss is None or isfinite(loss)):
            return  # a step between checks: nothing else to do
        pending, self._pending = self._pending, None
        step = self._step - 1 if pending is None else pending["step"]
        if pending is not None:
            model_dict = self.model.__dict__
            if "forward" in model_dict or "backward_params" in model_dict:  # a stand-in was not called
                self._disarm("forward", "backward_params")
            stats = pending.get("stats")
            if stats is not None:
                stats.after_step()  # the step the optimizer took
                report = CheckReport(stats, loss, step)
                report.findings = judge_check(stats, loss)
                self._record(report)
        if loss is not None and not isfinite(loss) and self.watch_non_finite and not self._located:
            self._located = True  # stop_on_nan=False: fit goes on; the batch is walked again once
            if pending is None or "stats" not in pending:  # a check step's report already says where
                self._locate_non_finite(self._inputs(), None, step, loss)

    def idle_batches(self) -> int:
        """The steps before the next check: fit skips this callback's batch hooks for them; a
        NaN/inf loss among them reaches it through ``discard_caches`` (fit stops) or, with
        ``stop_on_nan=False``, through ``on_batch_end`` (fit wakes it)."""
        idle = self._next_check - self._step
        if idle > 0:
            self._step += idle  # fit skips exactly these, or training ends first
            self._batch_logs = None  # never walk a batch other than the failing one
        return max(idle, 0)

    def _inputs(self) -> Any:
        """The batch of the step fit is running, if fit passed it."""
        return self._batch_logs.get("inputs") if self._batch_logs else None

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self._disarm()

    # ----------------------------------------------------------------- driving fit's calls
    # On a check step these two stand in for this step's one ``model(x)`` and one
    # ``model.backward_params(dy)`` call (instance attributes of the model, each removed when
    # called): the forward runs unit by unit (the walk of ``minitorch.diagnostics.probe``: the
    # same calls the model's own forward makes), keeping each unit's output; the backward runs
    # them in reverse recording the gradient entering each; then the statistics are taken and the
    # weights copied.
    def _forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        model, pending = self.model, self._pending
        object.__delattr__(model, "forward")  # one call; the walk may call the model itself (a leaf)
        if args or kwargs or pending is None:
            return model.forward(x, *args, **kwargs)
        if self._plan is not None:
            out = NotImplemented
            if self._chain and kernels_enabled():
                ys = pending["ys"] = []
                out = chain_kernel.sequential_forward(model, x, ys)
            if out is NotImplemented:
                ys = pending["ys"] = plan_forward(self._modules, x)
                out = ys[-1] if ys else x
        else:
            pending["units"], out = units_forward(model, x, self._known, self._names)
        if not self.watch_non_finite and not finite(out):  # else the loss tells (_watch_failure)
            self._disarm("backward_params")
            self._locate_non_finite(x, pending, pending["step"])
        return out

    def _backward_params(self, dy: Any) -> None:
        model, pending = self.model, self._pending
        object.__delattr__(model, "backward_params")
        if pending is not None and "ys" in pending:
            dys = [] if self._chain and kernels_enabled() else None
            if dys is None or chain_kernel.sequential_backward(model, dy, True, dys) is NotImplemented:
                dys = plan_backward_params(self._modules, self._first, dy)
            pending["dys"] = dys
            pending["stats"] = CheckStats(self._layout, pending["ys"], dys, list(map(_grad, self._params)))
            return None
        units = None if pending is None else pending.get("units")
        if units is None:
            return model.backward_params(dy)
        # the units of a plain-chain composite: listed at each check
        layout = Layout([(unit.name, unit.module) for unit in units], self._named, self._has_params(units))
        units_backward_params(units, dy, layout.has_params)
        pending["stats"] = CheckStats(layout, [unit.y for unit in units], [unit.dy for unit in units],
                                      [p.grad for p in self._params])
        return None

    def _units(self, pending: dict[str, Any]) -> list[Unit] | None:
        """The units this check step walked (None if it walked none)."""
        if "ys" in pending:
            dys = pending.get("dys") or [None] * len(pending["ys"])
            return [Unit(name, module, None, y, dy) for (name, module), y, dy in
                    zip(self._plan, pending["ys"], dys, strict=True)]
        return pending.get("units")

    def _has_params(self, units: list[Unit]) -> list[bool]:
        owns = self._owns
        for unit in units:
            if id(unit.module) not in owns:
                owns[id(unit.module)] = next(unit.module.parameters(), None) is not None
        return [owns[id(unit.module)] for unit in units]

    def _watch_failure(self) -> None:
        """fit calls ``model.discard_caches()`` when a step fails; if it fails on a NaN/inf loss
        (``NonFiniteLossError``: fit is about to stop), the step's batch is walked again layer by
        layer to find the first layer whose output is not finite. Costs nothing on other steps."""
        from minitorch.training.loop import NonFiniteLossError  # fit imports the callbacks

        model = self.model
        discard_caches = model.discard_caches

        def watched_discard_caches() -> None:
            error, pending, self._pending = sys.exc_info()[1], self._pending, None
            self._disarm()
            try:
                if isinstance(error, NonFiniteLossError):
                    walked = pending is not None and ("units" in pending or "ys" in pending)
                    inputs = self._inputs() if error.inputs is None else error.inputs
                    step = self._step - 1 if error.step is None else error.step
                    self._locate_non_finite(None if walked else inputs, pending, step)
            finally:
                discard_caches()

        object.__setattr__(model, "discard_caches", watched_discard_caches)

    def _locate_non_finite(
        self, x: Any, pending: dict[str, Any] | None, step: int, loss: float | None = None
    ) -> None:
        """The loss or the output is NaN/inf: find the first layer whose output is not finite, from
        the walk of this step (``pending``) or by walking the batch ``x`` again."""
        units = None if pending is None else self._units(pending)
        with np.errstate(all="ignore"):
            if units is not None:
                layers = layers_stats(units)
                params = param_stats(self._named, [None] * len(self._params))
            elif x is not None:
                layers, params, _ = run_probe(self.model, x, lambda out: None)
            else:  # the batch is out of reach (the callback is driven by another loop): the loss alone
                layers, params = [], param_stats(self._named, [None] * len(self._params))
                loss = math.nan if loss is None else loss
        report = Report(layers, params, loss=loss, step=step)
        report.findings = judge(layers, params, loss)
        self._record(report)

    def _disarm(self, *names: str) -> None:
        model: Module | None = self.model
        for name in names or ("forward", "backward_params", "discard_caches"):
            if model is not None and name in model.__dict__:
                object.__delattr__(model, name)

    def _record(self, report: Report) -> None:
        self.history.append(report)
        if not report.findings:
            return
        seen = {(f.kind, f.layer) for f in self.findings}
        for finding in report.findings:
            if (finding.kind, finding.layer) not in seen:
                self.findings.append(finding)
                if self.verbose:
                    self.log(f"Diagnostics (step {report.step}): {finding}")

