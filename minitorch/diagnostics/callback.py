"""Diagnostics: the callback that runs diagnose's checks inside ``mt.fit`` every ``every`` steps."""

from __future__ import annotations

from typing import Any



from minitorch.callbacks import Callback
from minitorch.diagnostics.diagnose import set_update_ratios
from minitorch.diagnostics.findings import Report, judge
from minitorch.diagnostics.probe import run_probe


class Diagnostics(Callback):
    """Every ``every`` training steps, the statistics and verdicts of ``mt.diagnose`` on that step's batch.

    On a check step the callback sees the batch fit trains on: it wraps ``model.forward`` for that
    one call (to keep xb) and ``model.backward_params`` (to keep dy = dL/d(output) that fit passes
    in). Right after fit's own backward it walks the model on xb and backpropagates dy (the probe
    of ``minitorch.diagnostics.probe``: fit's gradients, buffers and the random generator are left
    as they were), and it copies the weights; at the end of the step it computes the update:data
    ratio of the step the optimizer really took. ``history`` keeps one ``Report`` per check (with
    ``step``, counted from 0 across epochs); ``findings`` lists every finding, first occurrence of
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

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        if self._step % self.every == 0:
            self._arm()

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self._disarm()
        pending, self._pending = self._pending, None
        if pending is not None and "layers" in pending:
            report = Report(pending["layers"], pending["params"], loss=(logs or {}).get("loss"), step=self._step)
            updates = [p.data - before for p, before in zip(self.model.parameters(), pending["before"], strict=True)]
            set_update_ratios(report.params, self.model, updates)
            report.findings = judge(report.layers, report.params, report.loss)
            self._record(report)
        self._step += 1

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self._disarm()

    # ----------------------------------------------------------------- one check
    def _arm(self) -> None:
        model = self.model
        pending: dict[str, Any] = {}
        self._pending = pending
        forward, backward_params = model.forward, model.backward_params

        def watched_forward(x: Any, *args: Any, **kwargs: Any) -> Any:
            pending["x"] = x
            object.__delattr__(model, "forward")  # one call only
            return forward(x, *args, **kwargs)

        def watched_backward_params(dy: Any) -> None:
            object.__delattr__(model, "backward_params")
            result = backward_params(dy)  # fit's own backward first: its frames are consumed
            if "x" in pending:
                layers, params, _ = run_probe(model, pending["x"], lambda out: dy)
                pending.update(layers=layers, params=params,
                               before=[p.data.copy() for p in model.parameters()])
            return result

        object.__setattr__(model, "forward", watched_forward)
        object.__setattr__(model, "backward_params", watched_backward_params)

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


