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
    rested = steps[::3]  # finite losses only: stop_on_nan changes nothing
    assert every3.begins == [s % 5 for s in rested]
    assert every3.ends == [(s % 5, ["loss", "size"]) for s in rested]
    assert every.begins == [s % 5 for s in steps]


def _fit_blobs(loss_fn, callbacks, **kwargs):
    """2 epochs of 5 batches, a linear model."""
    X, y = _blobs()
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 3))
    mt.fit(model, loss_fn, mt.SGD(model.parameters(), lr=0.1), mt.DataLoader(X, y, batch_size=8), epochs=2,
           callbacks=callbacks, verbose=0, **kwargs)


class _NaNAt(mt.CrossEntropyLoss):
    """Cross-entropy whose value is NaN at the given calls (counted from 0), its gradient unchanged."""

    def __init__(self, *nan_calls):
        super().__init__()
        self.nan_calls, self.calls = nan_calls, 0

    def forward(self, input, target):
        loss = super().forward(input, target)
        self.calls += 1
        return float("nan") if self.calls - 1 in self.nan_calls else loss


def test_a_nan_loss_that_fit_trains_past_wakes_the_resting_callbacks_for_that_batch():
    every3, by2 = _Every3(), _Every3()
    by2.idle_batches = lambda: 1
    _fit_blobs(_NaNAt(4, 7), [every3, by2], metrics=(), stop_on_nan=False)
    # NaN at steps 4 and 7. every3: called at 0 and 3, resting at 4 -> woken there (its end only),
    # rests 5-6, called at 7. by2: called at 0, 2, 4 (on time), 6, resting at 7 -> woken, then 9
    woken = ["inputs", "loss", "size", "step"]  # a step that woke someone: every caller sees these
    assert every3.begins == [s % 5 for s in (0, 3, 7)]
    assert every3.ends == [(0, ["loss", "size"]), (3, ["loss", "size"]), (4, woken), (7 % 5, woken)]
    assert by2.begins == [s % 5 for s in (0, 2, 4, 6, 9)]
    assert by2.ends == [(0, ["loss", "size"]), (2, ["loss", "size"]), (4, woken), (6 % 5, ["loss", "size"]),
                        (7 % 5, woken), (9 % 5, ["loss", "size"])]


def test_callbacks_resting_for_different_spans_each_wake_on_time():
    by2, by3 = _Every3(), _Every3()
    by2.idle_batches = lambda: 1
    _fit_blobs(mt.CrossEntropyLoss(), [by2, by3])
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


def _never_resting(diag):
    diag.idle_batches = lambda: 0  # this instance is called at every step: the reference
    return diag


@pytest.mark.parametrize("stop_on_nan", [True, False])
def test_diagnostics_is_called_on_its_check_steps_only_with_the_same_reports(stop_on_nan):
    def run(diag):
        model, optimizer, loader = problems.iris(1)
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=4, callbacks=[diag], verbose=0,
               metrics=(), stop_on_nan=stop_on_nan)
        return diag

    resting = run(_Counted(every=7, verbose=False))
    every_step = run(_never_resting(_Counted(every=7, verbose=False)))
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
    def run(seed, stop_on_nan, rests=True):
        model, optimizer, loader = problems.PROBLEMS[kind](seed)
        diag = mt.Diagnostics(every=7, verbose=False)
        if not rests:
            _never_resting(diag)
        try:
            with np.errstate(all="ignore"):
                mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=1, metrics=(),
                       callbacks=[diag], verbose=0, stop_on_nan=stop_on_nan)
        except mt.NonFiniteLossError:
            pass
        return diag

    for seed in range(3):
        every_step = run(seed, False, rests=False)
        for stop_on_nan in (True, False):
            resting = run(seed, stop_on_nan)
            assert [str(f) for f in resting.findings] == [str(f) for f in every_step.findings]
            assert kind in [f.kind for f in resting.findings]
            tables = [r.table() for r in every_step.history]
            if stop_on_nan:  # it may stop where stop_on_nan=False trains on: the same up to there
                tables = tables[: len(resting.history)]
            assert [r.table() for r in resting.history] == tables


def test_a_nan_loss_fit_trains_past_is_traced_at_its_step_and_the_checks_keep_their_steps():
    def run(diag):
        model, optimizer, loader = problems.iris(1)
        with np.errstate(all="ignore"):
            mt.fit(model, _NaNAt(10), optimizer, loader, epochs=4, callbacks=[diag], verbose=0, metrics=(),
                   stop_on_nan=False)
        return diag

    resting = run(_Counted(every=7, verbose=False))
    every_step = run(_never_resting(_Counted(every=7, verbose=False)))
    checks = list(range(0, 32, 7))  # 8 batches per epoch, 4 epochs
    assert resting.called == checks and every_step.called == list(range(32))
    steps = [r.step for r in resting.history]
    assert steps == [r.step for r in every_step.history] and sorted(set(steps)) == sorted({10, *checks})
    assert [r.table() for r in resting.history] == [r.table() for r in every_step.history]
    assert [str(f) for f in resting.findings] == [str(f) for f in every_step.findings]
    assert any(f.kind == "non_finite" for f in resting.findings)
