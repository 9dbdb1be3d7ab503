"""Diagnostics: the callback that runs diagnose's checks inside ``mt.fit`` every ``every`` steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.callbacks import Callback
from minitorch.diagnostics.diagnose import set_update_ratios
from minitorch.diagnostics.findings import Report, judge
from minitorch.diagnostics.probe import finite, run_probe


class Diagnostics(Callback):
    """Every ``every`` training steps, the statistics and verdicts of ``mt.diagnose`` on that step's batch.

    On a check step the callback sees the batch fit trains on: it wraps ``model.forward`` for that
    one call (to keep xb) and ``model.backward_params`` (to keep dy = dL/d(output) that fit passes
    in). Right after fit's own backward it walks the model on xb and backpropagates dy (the probe
    of ``minitorch.diagnostics.probe``: fit's gradients, buffers and the random generator are left
    as they were), and it copies the weights; at the end of the step it computes the update:data
    ratio of the step the optimizer really took. ``history`` keeps one ``Report`` per check (with
    ``step``, counted from 0 across epochs). Every step the model's output is also checked for
    NaN/inf: the first time it appears, fit is about to stop, so the callback walks the model on
    that batch at once and reports the first layer whose output is not finite (and the step).
    ``findings`` lists every finding, first occurrence of
    each (kind, layer) only. ``verbose=True`` prints each new finding where fit prints.
    Example:
        diag = mt.Diagnostics(every=50)
        mt.fit(model, loss_fn, optimizer, loader, epochs=5, callbacks=[diag])
        diag.findings, diag.history[-1].table()
    """

    def __init__(self, every: int = 50, verbose: bool = True) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"Diagnostics: expected every to be a positive int, got {every!r}")
        self.every, self.verbose = every, bool(verbose)
        self.history: list[Report] = []
        self.findings: list[Any] = []
        self._step = 0
        self._pending: dict[str, Any] | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.history, self.findings, self._step, self._pending = [], [], 0, None
        self._disarm()

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self._disarm()
        self._pending = {} if self._step % self.every == 0 else None
        self._arm(self._pending)

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self._disarm()
        pending, self._pending = self._pending, None
        if pending is not None and "layers" in pending:
            loss = (logs or {}).get("loss")
            report = Report(pending["layers"], pending["params"], loss=loss, step=self._step)
            params = self.model.parameters()
            with np.errstate(all="ignore"):
                updates = [p.data - before for p, before in zip(params, pending["before"], strict=True)]
            set_update_ratios(report.params, updates)
            report.findings = judge(report.layers, report.params, report.loss)
            self._record(report)
        self._step += 1

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self._disarm()

    # ----------------------------------------------------------------- one step
    def _arm(self, pending: dict[str, Any] | None) -> None:
        """Watch the next model call (every step: a NaN/inf output is located at once, since fit
        stops on it) and, on a check step, the backward that follows it. Each watch removes itself."""
        model = self.model
        forward, backward_params = model.forward, model.backward_params

        def watched_forward(x: Any, *args: Any, **kwargs: Any) -> Any:
            object.__delattr__(model, "forward")
            out = forward(x, *args, **kwargs)
            if not finite(out):
                self._disarm()
                self._locate_non_finite(x)
            elif pending is not None:
                pending["x"] = x
            return out

        def watched_backward_params(dy: Any) -> None:
            object.__delattr__(model, "backward_params")
            result = backward_params(dy)  # fit's own backward first: its frames are consumed
            if pending is not None and "x" in pending:
                layers, params, _ = run_probe(model, pending["x"], lambda out: dy)
                pending.update(layers=layers, params=params,
                               before=[p.data.copy() for p in model.parameters()])
            return result

        object.__setattr__(model, "forward", watched_forward)
        if pending is not None:
            object.__setattr__(model, "backward_params", watched_backward_params)

    def _locate_non_finite(self, x: Any) -> None:
        """The output is NaN/inf (fit will stop): walk the model on x to find the first layer."""
        with np.errstate(all="ignore"):
            layers, params, _ = run_probe(self.model, x, lambda out: None)
        report = Report(layers, params, step=self._step)
        report.findings = judge(layers, params)
        self._record(report)

    def _disarm(self) -> None:
        for name in ("forward", "backward_params"):
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


