"""mt.diagnose and mt.Diagnostics: the seeded problems give their verdict, healthy set-ups none,
and nothing about the model, the optimizer or the random generator changes."""

from __future__ import annotations

import copy

import diagnostics_problems as problems
import numpy as np
import pytest

import minitorch as mt
from minitorch.diagnostics import KINDS

SEEDS = range(20)


def _state(model, optimizer):
    return (
        [p.data.copy() for p in model.parameters()],
        [None if p.grad is None else p.grad.copy() for p in model.parameters()],
        {k: np.array(v, copy=True) for k, v in model.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
        mt.random.generator().bit_generator.state,
    )


def _same(a, b) -> None:
    for data_a, data_b in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(data_a, data_b)
    for grad_a, grad_b in zip(a[1], b[1], strict=True):
        assert (grad_a is None) == (grad_b is None)
        if grad_a is not None:
            np.testing.assert_array_equal(grad_a, grad_b)
    assert a[2].keys() == b[2].keys()
    for key in a[2]:
        np.testing.assert_array_equal(a[2][key], b[2][key])
    assert repr(a[3]) == repr(b[3])
    assert a[4] == b[4]


def _waiting(*modules) -> int:
    return sum(len(m.__dict__["_stack"]) for module in modules for m in module.modules())


@pytest.mark.parametrize("kind", sorted(problems.PROBLEMS))
def test_each_seeded_problem_gets_its_verdict_within_one_epoch_for_every_seed(kind):
    for seed in SEEDS:
        diag = problems.train_with_diagnostics(problems.PROBLEMS[kind], seed, epochs=1, every=50)
        assert kind in [f.kind for f in diag.findings], (seed, [str(f) for f in diag.findings])


@pytest.mark.parametrize("kind", sorted(problems.PROBLEMS))
def test_diagnose_alone_finds_each_seeded_problem(kind):
    for seed in range(3):
        model, optimizer, loader = problems.PROBLEMS[kind](seed)
        xb, yb = next(iter(loader))
        report = mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb, optimizer=optimizer)
        assert kind in report.kinds, (seed, report.table())


@pytest.mark.parametrize(("name", "epochs"), [("iris", 20), ("spirals_plain", 10)])
def test_no_false_alarm_on_the_bundled_examples(name, epochs):
    setup, _ = problems.EXAMPLES[name]
    for seed in SEEDS:
        diag = problems.train_with_diagnostics(setup, seed, epochs=epochs, every=10)
        assert diag.findings == [], (seed, [str(f) for f in diag.findings])
        assert len(diag.history) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(problems.EXAMPLES))
def test_no_false_alarm_over_the_examples_whole_training(name):
    setup, epochs = problems.EXAMPLES[name]
    for seed in SEEDS:
        diag = problems.train_with_diagnostics(setup, seed, epochs=epochs, every=50)
        assert diag.findings == [], (seed, [str(f) for f in diag.findings])


def test_no_false_alarm_on_the_digits_and_modern_spirals_first_steps():
    for name in ("digits", "spirals_modern"):
        model, optimizer, loader = problems.EXAMPLES[name][0](0)
        xb, yb = next(iter(loader))
        report = mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb, optimizer=optimizer)
        assert report.findings == [], (name, report.table())


def test_diagnose_changes_nothing_and_leaves_no_waiting_call():
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 8), mt.BatchNorm1d(8), mt.ReLU(), mt.Dropout(0.3), mt.Linear(8, 3))
    optimizer = mt.Adam(model.parameters(), lr=1e-2)
    loss_fn = mt.CrossEntropyLoss()
    X, y = np.random.default_rng(0).normal(size=(16, 4)), np.arange(16) % 3
    loss_fn(model(X), y)
    model.backward_params(loss_fn.backward())
    optimizer.step()  # some optimizer state, and gradients left in place
    before = _state(model, optimizer)
    report = mt.diagnose(model, loss_fn, X, y, optimizer=optimizer)
    _same(before, _state(model, optimizer))
    assert _waiting(model, loss_fn) == 0
    assert [s.name for s in report.layers] == ["0", "1", "2", "3", "4"]
    assert all(p.update_ratio is not None for p in report.params)
    optimizer.step()  # would raise if a forward call were left waiting


def test_diagnose_walks_a_plain_chain_composite_and_nested_sequentials():
    class Block(mt.Module):
        def __init__(self):
            super().__init__()
            self.lin = mt.Linear(4, 4)
            self.act = mt.Tanh()

        def forward(self, x):
            return self.act(self.lin(x))

    model = mt.Sequential(Block(), mt.Sequential(mt.Linear(4, 4), mt.ReLU()), mt.Linear(4, 2))
    X, y = np.ones((5, 4)), np.array([0, 1, 0, 1, 1])
    report = mt.diagnose(model, mt.CrossEntropyLoss(), X, y)
    assert [s.name for s in report.layers] == ["0.lin", "0.act", "1.0", "1.1", "2"]
    assert report.layers[1].saturated_fraction is not None
    assert all(s.grad_norm is not None for s in report.layers)
    assert _waiting(model) == 0


def test_report_fields_and_table():
    model, _, loader = problems.dead_relu(0)
    xb, yb = next(iter(loader))
    report = mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb, lr=0.1)
    finding = report.findings[0]
    assert finding.kind in KINDS and finding.layer == "1" and finding.evidence["dead_fraction"] >= 0.5
    assert finding.remedy
    table = report.table()
    assert "dead_relu" in table and "update:data" in table and "0.W" in table


def test_non_finite_names_the_first_layer_and_the_step():
    model, optimizer, loader = problems.lr_times_100(0)
    model[2].W.data[0, 0] = np.nan
    xb, yb = next(iter(loader))
    report = mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb)
    assert report.kinds == ["non_finite"] and report.findings[0].layer == "2"
    diag = mt.Diagnostics(every=1, verbose=False)
    model, optimizer, loader = problems.lr_times_100(0)
    for group in optimizer.param_groups:
        group["lr"] = 1e6
    with pytest.raises(mt.NonFiniteLossError), np.errstate(all="ignore"):  # NaN logits next step
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=1, metrics=(), callbacks=[diag],
               verbose=0, stop_on_nan=False)
    first = next(f for f in diag.findings if f.kind == "non_finite")
    step = next(r.step for r in diag.history if "non_finite" in r.kinds)
    assert first.evidence["where"] == "output" and first.layer in ("0", "1", "2")
    assert step == diag.history[-1].step > 0
    assert "forward" not in model.__dict__ and "backward_params" not in model.__dict__


def test_non_finite_between_checks_is_traced_from_the_loss_to_its_layer():
    diag = mt.Diagnostics(every=1000, verbose=False)  # only step 0 is a check
    model, optimizer, loader = problems.lr_times_100(0)
    for group in optimizer.param_groups:
        group["lr"] = 1e6

    class Spy(mt.Callback):
        def on_batch_end(self, batch, logs=None):
            self.seen = getattr(self, "seen", []) + [sorted(set(self.model.__dict__) & {"backward_params"})]

    spy = Spy()
    with pytest.raises(mt.NonFiniteLossError), np.errstate(all="ignore"):
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=1, metrics=(), callbacks=[diag, spy],
               verbose=0, stop_on_nan=False)
    first = next(f for f in diag.findings if f.kind == "non_finite")
    assert first.evidence["where"] == "output" and first.layer in ("0", "1", "2")
    assert diag.history[-1].step == len(spy.seen) > 0  # the step fit stopped on
    assert all(seen == [] for seen in spy.seen)  # no stand-in for backward outside check steps
    for name in ("forward", "backward_params", "discard_caches"):
        assert name not in model.__dict__
    for layer in model:  # the walk again left no call waiting
        assert not layer.__dict__["_stack"]


def test_diagnostics_callback_keeps_training_identical():
    def run(callbacks):
        model, optimizer, loader = problems.iris(3)
        history = mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=3, callbacks=callbacks,
                         verbose=0)
        return model, history

    plain, h1 = run([])
    diag = mt.Diagnostics(every=5, verbose=False)
    watched, h2 = run([diag])
    for p, q in zip(plain.parameters(), watched.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert h1.history["loss"] == h2.history["loss"]
    assert [r.step for r in diag.history] == list(range(0, 24, 5))
    assert "forward" not in watched.__dict__ and "backward_params" not in watched.__dict__
    assert all(p.update_ratio is not None for p in diag.history[0].params)


def test_diagnostics_rejects_a_bad_period():
    with pytest.raises(ValueError, match="every"):
        mt.Diagnostics(every=0)


class _Block(mt.Module):
    """A plain chain of children: backward comes from the recorded calls."""

    def __init__(self):
        super().__init__()
        self.lin = mt.Linear(4, 8)
        self.act = mt.ReLU()

    def forward(self, x):
        return self.act(self.lin(x))


class _Leaf(mt.Module):
    """A model with a hand-written backward: one unit for the diagnostics."""

    def __init__(self):
        super().__init__()
        self.lin = mt.Linear(4, 3)

    def forward(self, x):
        return self.lin(x) * 2.0

    def backward(self, dy):
        return self.lin.backward(dy * 2.0)


@pytest.mark.parametrize("build", [lambda: mt.Sequential(_Block(), mt.Linear(8, 3)), _Leaf],
                         ids=["chain-composite", "leaf-model"])
def test_diagnostics_callback_on_composite_and_leaf_models_keeps_training_identical(build):
    X, y = np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 3

    def run(callbacks):
        mt.manual_seed(1)
        model = build()
        loader = mt.DataLoader(X, y, batch_size=8, shuffle=True)
        mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), loader, epochs=3,
               callbacks=callbacks, verbose=0)
        return model

    diag = mt.Diagnostics(every=2, verbose=False)
    plain, watched = run([]), run([diag])
    for p, q in zip(plain.parameters(), watched.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert len(diag.history) == 8 and all(r.layers for r in diag.history)
    assert _waiting(watched) == 0


def test_update_ratio_is_the_step_the_optimizer_would_take():
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 8), mt.Tanh(), mt.Linear(8, 3))
    optimizer = mt.Adam(model.parameters(), lr=1e-2)
    X, y = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32), np.arange(16) % 3
    report = mt.diagnose(model, mt.CrossEntropyLoss(), X, y, optimizer=optimizer)
    before = [p.data.copy() for p in model.parameters()]
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(model(X), y)
    model.backward_params(loss_fn.backward())
    optimizer.step()
    for stats, p, old in zip(report.params, model.parameters(), before, strict=True):
        rms = lambda a: np.sqrt(np.mean(a.astype(np.float64) ** 2))  # noqa: E731
        expected = rms(p.data - old) / rms(old)
        assert stats.update_ratio == pytest.approx(expected, rel=1e-4)
    sgd = mt.diagnose(model, mt.CrossEntropyLoss(), X, y, lr=0.5)
    grads = [p.grad for p in model.parameters()]
    assert grads[0] is not None  # diagnose left the real gradients in place
    first = sgd.params[0]
    assert first.update_ratio == pytest.approx(0.5 * first.grad_rms / first.data_rms, rel=1e-5)


def test_diagnostics_without_the_per_step_watch_stands_in_on_check_steps_only():
    model, optimizer, loader = problems.iris(3)
    diag = mt.Diagnostics(every=4, verbose=False, watch_non_finite=False)

    class Spy(mt.Callback):
        def on_batch_end(self, batch, logs=None):
            self.seen = getattr(self, "seen", []) + ["forward" in self.model.__dict__]

    spy = Spy()
    mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=2, callbacks=[diag, spy], verbose=0)
    assert spy.seen == [False] * 16  # removed at the end of every check step (Diagnostics runs first)
    assert [r.step for r in diag.history] == [0, 4, 8, 12]


def test_exploding_gradients_and_a_learning_rate_far_too_low():
    mt.manual_seed(0)
    X, y = problems.spirals(0)
    layers = [mt.Linear(2, 32)] + [mt.Linear(32, 32) for _ in range(9)] + [mt.Linear(32, 3)]
    for layer in layers[1:-1]:
        layer.W.data *= 3.0 * np.sqrt(3.0)  # each layer multiplies the gradient's size by ~3
    deep = mt.Sequential(*layers)
    report = mt.diagnose(deep, mt.CrossEntropyLoss(), X[:64], y[:64])
    assert "exploding_gradients" in report.kinds and report.findings[0].layer == "0"
    assert report.findings[0].evidence["ratio"] > 1e3
    model, _, _ = problems.lr_times_100(0)
    slow = mt.diagnose(model, mt.CrossEntropyLoss(), X[:64], y[:64], lr=1e-8)
    assert slow.kinds == ["lr_too_low"]
