"""Callbacks that rest between the batches they act on (``Callback.idle_batches``): fit skips their
batch hooks, counts steps across epochs for them, never lets them miss a NaN/inf loss, and
``mt.Diagnostics`` is called on its check steps only, with the same reports as when called at
every step."""

from __future__ import annotations

import diagnostics_problems as problems
import numpy as np
import pytest

import minitorch as mt
from minitorch.diagnostics.findings import CheckReport


class _Every3(mt.Callback):
    """Wants the batch hooks of every third step only."""

    def __init__(self):
        self.begins, self.ends = [], []

    def on_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_batch_end(self, batch, logs=None):
        self.ends.append((batch, sorted(logs)))

    def idle_batches(self):
        return 2


def _blobs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)), np.arange(40) % 3


@pytest.mark.parametrize("stop_on_nan", [True, False])
def test_fit_skips_the_batch_hooks_of_a_resting_callback_across_epochs(stop_on_nan):
    X, y = _blobs()
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    every3, every = _Every3(), _Every3()
    every.idle_batches = lambda: 0  # an instance that never rests
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
           mt.DataLoader(X, y, batch_size=8), epochs=3, callbacks=[every3, every], verbose=0,
           stop_on_nan=stop_on_nan)
    steps = list(range(15))  # 5 batches per epoch
    rested = steps[::3] if stop_on_nan else steps  # stop_on_nan=False: every loss must be seen
    assert every3.begins == [s % 5 for s in rested]
    assert every3.ends == [(s % 5, ["loss", "size"]) for s in rested]
    assert every.begins == [s % 5 for s in steps]


def test_callbacks_resting_for_different_spans_each_wake_on_time():
    X, y = _blobs()
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 3))
    by2, by3 = _Every3(), _Every3()
    by2.idle_batches = lambda: 1
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
           mt.DataLoader(X, y, batch_size=8), epochs=2, callbacks=[by2, by3], verbose=0)
    assert by2.begins == [s % 5 for s in range(0, 10, 2)]
    assert by3.begins == [s % 5 for s in range(0, 10, 3)]


def test_resting_changes_nothing_in_training():
    def run(callbacks):
        model, optimizer, loader = problems.iris(2)
        history = mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=3, callbacks=callbacks,
                         verbose=0)
        return model, history

    plain, h1 = run([])
    rested, h2 = run([_Every3(), mt.Diagnostics(every=7, verbose=False)])
    for p, q in zip(plain.parameters(), rested.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert h1.history["loss"] == h2.history["loss"]


class _Counted(mt.Diagnostics):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.called = []

    def on_batch_begin(self, batch, logs=None):
        self.called.append(self._step)
        super().on_batch_begin(batch, logs)


def test_diagnostics_is_called_on_its_check_steps_only_with_the_same_reports():
    def run(stop_on_nan):
        model, optimizer, loader = problems.iris(1)
        diag = _Counted(every=7, verbose=False)
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=4, callbacks=[diag], verbose=0,
               metrics=(), stop_on_nan=stop_on_nan)
        return diag

    resting, every_step = run(True), run(False)
    checks = list(range(0, 32, 7))  # 8 batches per epoch, 4 epochs
    assert resting.called == checks and every_step.called == list(range(32))
    assert [r.step for r in resting.history] == [r.step for r in every_step.history] == checks
    for a, b in zip(resting.history, every_step.history, strict=True):
        assert isinstance(a, CheckReport) and a.table() == b.table()


def test_a_non_finite_loss_between_checks_is_traced_while_diagnostics_rests():
    diag = _Counted(every=1000, verbose=False)  # only step 0 is a check
    model, optimizer, loader = problems.lr_times_100(0)
    for group in optimizer.param_groups:
        group["lr"] = 1e6
    with pytest.raises(mt.NonFiniteLossError) as caught, np.errstate(all="ignore"):
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=2, metrics=(), callbacks=[diag],
               verbose=0)
    error = caught.value
    assert diag.called == [0]  # rested from step 1 on
    assert error.step == error.epoch * len(loader) + error.batch > 0
    assert error.inputs is not None and len(error.inputs) == loader.batch_size
    report = diag.history[-1]
    assert report.step == error.step  # the step fit stopped on, not the one Diagnostics would wake at
    first = report.findings[0]
    assert first.kind == "non_finite" and first.evidence["where"] == "output"
    assert first.layer in ("0", "1", "2")
    for name in ("forward", "backward_params", "discard_caches"):
        assert name not in model.__dict__
    for layer in model:
        assert not layer.__dict__["_stack"]


@pytest.mark.parametrize("kind", sorted(problems.PROBLEMS))
def test_seeded_problems_get_the_same_reports_whether_diagnostics_rests_or_not(kind):
    def run(seed, stop_on_nan):
        model, optimizer, loader = problems.PROBLEMS[kind](seed)
        diag = mt.Diagnostics(every=7, verbose=False)
        try:
            with np.errstate(all="ignore"):
                mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=1, metrics=(),
                       callbacks=[diag], verbose=0, stop_on_nan=stop_on_nan)
        except mt.NonFiniteLossError:
            pass
        return diag

    for seed in range(3):
        resting, every_step = run(seed, True), run(seed, False)
        assert [str(f) for f in resting.findings] == [str(f) for f in every_step.findings]
        assert kind in [f.kind for f in resting.findings]
        # stop_on_nan=False may train on past a NaN/inf loss: the reports agree up to where fit stopped
        tables = [r.table() for r in every_step.history]
        assert [r.table() for r in resting.history] == tables[: len(resting.history)]
