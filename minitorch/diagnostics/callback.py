"""Diagnostics: the callback that runs diagnose's checks inside ``mt.fit`` every ``every`` steps."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from minitorch.callbacks import Callback
from minitorch.diagnostics.diagnose import set_update_ratios
from minitorch.diagnostics.findings import Report, judge
from minitorch.diagnostics.probe import (
    chain_composite,
    finite,
    layer_stats,
    named_index,
    param_stats,
    run_probe,
    units_backward_params,
    units_forward,
)


class Diagnostics(Callback):
    """Every ``every`` training steps, the statistics and verdicts of ``mt.diagnose`` on that step's batch.

    On a check step the callback runs fit's own forward and backward layer by layer: it stands in
    for ``model.forward`` and ``model.backward_params`` for that step and makes the same calls the
    model would (``minitorch.diagnostics.probe``'s walk), so training is unchanged and nothing is
    computed twice; it reads each layer's output and the gradient entering it, and copies the
    weights; at the end of the step it computes the update:data ratio of the step the optimizer
    really took. Steps between checks run untouched but for one pass-through call that keeps a
    reference to the batch. NaN/inf is watched through the loss fit computes anyway: when a loss
    is not finite (fit is about to stop, or with ``stop_on_nan=False`` goes on), that step's batch
    is walked again layer by layer and the callback reports the first layer whose output is not
    finite, and the step (on a check step, the walk already made is read instead).
    ``watch_non_finite=False``: nothing at all between checks; NaN/inf only seen on check steps.

    ``history`` keeps one ``Report`` per check (``step`` counted from 0 across epochs);
    ``findings`` the first occurrence of each (kind, layer); ``verbose=True`` prints each new
    finding where fit prints. The stand-ins are instance attributes of the model, removed when
    training ends (or when fit stops on a NaN/inf loss); if fit stops on another error they stay
    until the next ``on_train_begin`` and only pass calls through.
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
        self._step = 0
        self._pending: dict[str, Any] | None = None  # the check of this step
        self._walk_next: dict[str, Any] | None = None  # the check the next model call belongs to
        self._x: Any = None  # the input of this step's forward (to locate a NaN/inf)
        self._located = False  # a non-finite loss was already traced to its layer

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.history, self.findings, self._step, self._pending, self._walk_next = [], [], 0, None, None
        self._x, self._located = None, False
        self._disarm()
        model = self.model  # looked up once: checks then read these instead of walking the model
        self._named = list(model.named_parameters())
        self._params = [p for _, p in self._named]
        self._names = named_index(model)
        self._known = None if any(chain_composite(m) for m in model.modules()) else {}
        if self.watch_non_finite:
            self._watch_forward()
            self._watch_failure()

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        if self._step % self.every == 0:
            self._pending = self._walk_next = {}
            self._watch_backward(self._pending)
            if not self.watch_non_finite:
                self._watch_forward()

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pending, self._pending, self._walk_next = self._pending, None, None
        loss = (logs or {}).get("loss")
        if pending is not None:
            if self.watch_non_finite:
                self._disarm("backward_params")
            else:
                self._disarm()
            if "layers" in pending:
                self._check(pending, loss)
        if (self.watch_non_finite and loss is not None and not math.isfinite(loss) and self._x is not None
                and not self._located):  # stop_on_nan=False: fit goes on; the batch is walked again once
            self._located = True
            self._locate_non_finite(self._x, None)
        self._x = None
        self._step += 1

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self._x = None
        self._disarm()

    # ----------------------------------------------------------------- driving fit's calls
    def _watch_forward(self) -> None:
        """On a check step, fit's forward is run unit by unit (the walk of
        ``minitorch.diagnostics.probe``: the same calls the model's own forward makes, so the
        same frames), keeping each unit's input and output. On other steps the call goes straight
        through; with ``watch_non_finite`` the input is kept (a reference, no copy) so that the
        layer where a NaN/inf appears can be found if this step's loss is not finite."""
        model = self.model
        forward = model.forward

        def watched_forward(x: Any, *args: Any, **kwargs: Any) -> Any:
            pending, self._walk_next = self._walk_next, None  # one call per check step
            self._x = x
            if pending is None or args or kwargs:
                return forward(x, *args, **kwargs)
            object.__delattr__(model, "forward")  # the walk may call the model itself (a leaf model)
            try:
                pending["units"], out = units_forward(model, x, self._known, self._names)
            finally:
                object.__setattr__(model, "forward", watched_forward)
            if not self.watch_non_finite and not finite(out):  # else the loss tells (_watch_failure)
                self._disarm()
                self._locate_non_finite(x, pending)
            return out

        object.__setattr__(model, "forward", watched_forward)

    def _watch_failure(self) -> None:
        """fit calls ``model.discard_caches()`` when a step fails; if it fails on a NaN/inf loss
        (``NonFiniteLossError``: fit is about to stop), the step's batch is walked again layer by
        layer to find the first layer whose output is not finite. Costs nothing on other steps."""
        from minitorch.training.loop import NonFiniteLossError  # fit imports the callbacks

        model = self.model
        discard_caches = model.discard_caches

        def watched_discard_caches() -> None:
            error, x, self._x = sys.exc_info()[1], self._x, None
            self._disarm()
            try:
                if isinstance(error, NonFiniteLossError) and x is not None:
                    self._locate_non_finite(x, self._pending)
            finally:
                discard_caches()

        object.__setattr__(model, "discard_caches", watched_discard_caches)

    def _watch_backward(self, pending: dict[str, Any]) -> None:
        """On a check step, fit's ``backward_params(dy)`` runs unit by unit in reverse, recording
        the gradient entering each unit; then the statistics are taken and the weights copied."""
        model = self.model
        backward_params = model.backward_params

        def watched_backward_params(dy: Any) -> None:
            self._disarm("backward_params")
            if "units" not in pending:
                return backward_params(dy)
            units = pending["units"]
            units_backward_params(units, dy)
            params = self._params
            pending.update(layers=[layer_stats(unit) for unit in units],
                           params=param_stats(model, [p.grad for p in params], self._named),
                           before=[p.data.copy() for p in params])
            return None

        object.__setattr__(model, "backward_params", watched_backward_params)

    def _check(self, pending: dict[str, Any], loss: float | None) -> None:
        report = Report(pending["layers"], pending["params"], loss=loss, step=self._step)
        with np.errstate(all="ignore"):
            updates = [p.data - before for p, before in zip(self._params, pending["before"],
                                                              strict=True)]
        set_update_ratios(report.params, updates)
        report.findings = judge(report.layers, report.params, report.loss)
        self._record(report)

    def _locate_non_finite(self, x: Any, pending: dict[str, Any] | None) -> None:
        """The output is NaN/inf (fit will stop): find the first layer whose output is not finite."""
        with np.errstate(all="ignore"):
            if pending is not None and "units" in pending:
                layers = [layer_stats(unit) for unit in pending["units"]]
                params = param_stats(self.model, [None] * len(self._params), self._named)
            else:
                layers, params, _ = run_probe(self.model, x, lambda out: None)
        report = Report(layers, params, step=self._step)
        report.findings = judge(layers, params)
        self._record(report)

    def _disarm(self, *names: str) -> None:
        for name in names or ("forward", "backward_params", "discard_caches"):
            if self.model is not None and name in self.model.__dict__:
                object.__delattr__(self.model, name)

    def _record(self, report: Report) -> None:
        self.history.append(report)
        seen = {(f.kind, f.layer) for f in self.findings}
        for finding in report.findings:
            if (finding.kind, finding.layer) not in seen:
                self.findings.append(finding)
                if self.verbose:
                    self.log(f"Diagnostics (step {report.step}): {finding}")


