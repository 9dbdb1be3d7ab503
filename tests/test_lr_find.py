"""mt.lr_find: the sweep, its stop and suggestion, and everything restored bit for bit."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import minitorch as mt


def _setup(optimizer_cls=mt.Adam, **kwargs):
    mt.manual_seed(0)
    X, y = mt.datasets.make_spirals(n_samples=300, n_classes=3, seed=0)
    model = mt.Sequential(mt.Linear(2, 32), mt.BatchNorm1d(32), mt.ReLU(), mt.Dropout(0.2), mt.Linear(32, 3))
    optimizer = optimizer_cls(model.parameters(), **kwargs)
    return model, optimizer, mt.DataLoader(X, y, batch_size=32, shuffle=True)


def _snapshot(model, optimizer):
    return (
        [(p.data, p.data.copy(), None if p.grad is None else p.grad.copy()) for p in model.parameters()],
        {k: np.array(v, copy=True) for k, v in model.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
        mt.random.generator().bit_generator.state,
        [m.training for m in model.modules()],
    )


@pytest.mark.parametrize(("cls", "kwargs"), [(mt.Adam, {"lr": 1e-3}), (mt.SGD, {"lr": 0.1, "momentum": 0.9})])
def test_lr_find_restores_model_optimizer_and_generator_bit_for_bit(cls, kwargs):
    model, optimizer, loader = _setup(cls, **kwargs)
    loss_fn = mt.CrossEntropyLoss()
    mt.fit(model, loss_fn, optimizer, loader, epochs=1, verbose=0)  # some optimizer state and statistics
    xb, yb = next(iter(loader))
    loss_fn(model(xb), yb)
    model.backward_params(loss_fn.backward())  # gradients waiting for a step
    model[3].eval()
    before = _snapshot(model, optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 30 steps on a trained model may be flat: not this test's subject
        mt.lr_find(model, loss_fn, optimizer, loader, num_iter=30)
    after = _snapshot(model, optimizer)
    for (array, data, grad), (array2, data2, grad2) in zip(before[0], after[0], strict=True):
        assert array is array2  # the same arrays, so views and optimizer references stay valid
        assert data.tobytes() == data2.tobytes()
        assert (grad is None and grad2 is None) or grad.tobytes() == grad2.tobytes()
    assert before[1].keys() == after[1].keys()
    assert all(before[1][k].tobytes() == after[1][k].tobytes() for k in before[1])
    assert repr(before[2]) == repr(after[2])
    assert before[3] == after[3] and before[4] == after[4]
    assert all(not m.__dict__["_stack"] for m in model.modules())
    # the run after lr_find is the run without it
    optimizer.step()


def _iris_sweep(**kwargs):
    """Standardised Iris, a small MLP, plain SGD: the loss falls clearly, then diverges."""
    mt.manual_seed(0)
    X, y = mt.datasets.load_iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = mt.Sequential(mt.Linear(4, 32), mt.ReLU(), mt.Linear(32, 3))
    optimizer = mt.SGD(model.parameters(), lr=0.1)
    loader = mt.DataLoader(X, y, batch_size=16, shuffle=True)
    return mt.lr_find(model, mt.CrossEntropyLoss(), optimizer, loader, **kwargs)


@pytest.mark.parametrize("rule", ["valley", "steepest"])
def test_lr_find_sweeps_exponentially_stops_on_divergence_and_suggests_a_rate_before_the_minimum(rule):
    result = _iris_sweep(start_lr=1e-5, end_lr=1e4, num_iter=80, rule=rule)  # warnings are errors: not flat
    lrs = np.array(result.lrs)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (1e4 / 1e-5) ** (1 / 79), rtol=1e-9)
    assert result.lrs[0] == 1e-5 and len(result.losses) == len(result.smoothed) == len(result.lrs)
    assert result.stopped_early and len(result.lrs) < 80 and not result.flat
    assert result.lrs[0] < result.suggestion < result.lrs[-1] / 4  # well below where it diverged
    if rule == "steepest":
        skip = len(result.lrs) // 10
        assert result.suggestion <= result.lrs[skip + int(np.argmin(result.smoothed[skip:]))]


def _frozen_sweep(**kwargs):
    """The optimizer holds none of the model's Parameters: the model never changes."""
    mt.manual_seed(0)
    X, y = mt.datasets.make_spirals(n_samples=300, n_classes=3, seed=0)
    model = mt.Sequential(mt.Linear(2, 32), mt.ReLU(), mt.Linear(32, 3))
    optimizer = mt.SGD([mt.Parameter(np.zeros(1))], lr=0.1)
    return mt.lr_find(model, mt.CrossEntropyLoss(), optimizer,
                      mt.DataLoader(X, y, batch_size=32, shuffle=True), **kwargs)


@pytest.mark.parametrize("rule", ["valley", "steepest"])
@pytest.mark.parametrize("case", ["frozen", "rates far too low", "one batch, frozen"])
def test_lr_find_warns_that_a_flat_curve_has_no_suggestion(case, rule):
    if case == "frozen":
        sweep = lambda: _frozen_sweep(rule=rule)  # noqa: E731
    elif case == "rates far too low":
        sweep = lambda: _iris_sweep(start_lr=1e-12, end_lr=1e-9, rule=rule)  # noqa: E731
    else:  # no batch noise at all: the 1 % floor decides
        X, y = mt.datasets.make_spirals(n_samples=64, n_classes=3, seed=0)
        model = mt.Sequential(mt.Linear(2, 8), mt.ReLU(), mt.Linear(8, 3))
        sweep = lambda: mt.lr_find(model, mt.CrossEntropyLoss(), mt.SGD([mt.Parameter(np.zeros(1))]),  # noqa: E731
                                   [(X, y)], rule=rule)
    with pytest.warns(UserWarning, match=r"did not fall clearly .* the suggestion .* is noise: sweep longer"):
        result = sweep()
    assert result.flat and not result.stopped_early and len(result.lrs) == 100
    assert np.isfinite(result.suggestion)  # still the rule's pick, as documented; the flag says ignore it


def test_flat_curve_needs_a_fall_above_one_percent_and_above_the_batch_noise():
    from minitorch.diagnostics.lr_find import flat_curve

    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(100)
    steps = np.arange(100)

    def smooth(losses):
        average, out = 0.0, []
        for i, loss in enumerate(losses):
            average = 0.98 * average + 0.02 * loss
            out.append(average / (1 - 0.98 ** (i + 1)))
        return out

    falling = list(2.0 - 0.5 * steps / 99 + noise)  # falls by 0.5, 10x the noise
    assert flat_curve(falling, smooth(falling), 100) is None
    level = list(2.0 + noise)
    assert "batch noise" in flat_curve(level, smooth(level), 100)
    smooth_fall = list(2.0 - 0.01 * steps / 99)  # noiseless, but only 0.5 %
    assert flat_curve(smooth_fall, smooth(smooth_fall), 100) is not None
    assert flat_curve([1.0, 1.0], [1.0, 1.0], 100) is None  # too short to say (diverged at once)


def test_lr_find_rejects_bad_arguments():
    model, optimizer, loader = _setup()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        mt.lr_find(model, mt.CrossEntropyLoss(), optimizer, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter"):
        mt.lr_find(model, mt.CrossEntropyLoss(), optimizer, loader, num_iter=1)


def test_lr_find_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    result = _iris_sweep(num_iter=40)
    path = result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000 and path.endswith("lr.png")
    figure = mt.plot.lr_curve(result)  # the same picture from mt.plot, as a Figure without a path
    assert [line.get_label() for line in figure.axes[0].lines][:2] == ["batch loss", "smoothed"]



def test_lr_curve_draws_the_sweep_it_is_given():
    """lr_curve's picture from a hand-made sweep: the raw and smoothed losses against the rates on
    a log axis, the suggestion's line and label (the flat note), the y range from the finite smoothed
    losses (0.9 of their least, 1.5 of the larger of the first and the least)."""
    pytest.importorskip("matplotlib")
    result = mt.diagnostics.LRFinderResult(lrs=[1e-4, 1e-3, 1e-2, 1e-1], losses=[1.6, 2.2, 1.3, 9.0],
                                           smoothed=[1.5, 2.0, 1.4, np.inf], suggestion=1e-3,
                                           stopped_early=True, flat=True)
    ax = mt.plot.lr_curve(result).axes[0]
    raw, smoothed, suggestion = ax.lines[:3]
    np.testing.assert_array_equal(raw.get_xdata(), result.lrs)
    np.testing.assert_array_equal(raw.get_ydata(), result.losses)
    np.testing.assert_array_equal(smoothed.get_xdata(), result.lrs)
    np.testing.assert_array_equal(smoothed.get_ydata(), result.smoothed)
    np.testing.assert_array_equal(suggestion.get_xdata(), [1e-3, 1e-3])
    assert suggestion.get_label() == "suggestion 0.001 (flat curve: noise)"
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.get_ylim(), (1.4 * 0.9, 1.5 * 1.5), rtol=1e-12)

def test_valley_is_fastais_rule_on_the_trimmed_curve():
    """fastai's lr_find drops the first num_iter // 10 and the last 5 points, finds the longest
    decreasing run (L points ending at e) and suggests index (e - L) + L // 3 + L // 6."""
    from minitorch.diagnostics.lr_find import valley

    lrs = list(np.logspace(-6, 1, 40))
    smoothed = ([9.0] * 4  # trimmed away (num_iter // 10 = 4): lower than nothing after it
                + list(np.linspace(1.0, 1.5, 6))  # rising: no part of the valley
                + list(np.linspace(3.0, 2.6, 20))  # the valley: 20 falling points, trimmed index 6..25
                + list(np.linspace(2.7, 4.0, 10)))  # rising; its last 5 points are trimmed too
    e, length = 25, 20
    assert valley(lrs, smoothed, num_iter=40) == lrs[4 + e - length + length // 3 + length // 6]
    # too short to trim: the whole curve; the run 9 -> 1.0 ends at e = 4 with L = 2
    assert valley(lrs[:6], smoothed[:6], num_iter=40) == lrs[4 - 2 + 0 + 0]
    assert np.isnan(valley([], [], num_iter=40))


@pytest.mark.parametrize("sizes", [(4, 16, 3), (300, 256, 10)])  # a small chain and one the kernels cut
def test_lr_find_leaves_a_forward_the_user_left_waiting_as_it_was(sizes):
    """The waiting call's backward after lr_find gives what it gives without lr_find, as a torch
    graph built before a sweep is still there after it."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], 64)
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(sizes[0], sizes[1]), mt.ReLU(), mt.Linear(sizes[1], sizes[2]))
    optimizer, loss_fn = mt.SGD(model.parameters(), lr=0.1), mt.CrossEntropyLoss()
    loader = mt.DataLoader(X, y, batch_size=16, shuffle=False)
    expected_model = copy.deepcopy(model)
    expected_loss = mt.CrossEntropyLoss()
    expected_loss(expected_model(X[:8]), y[:8])
    expected_model.backward(expected_loss.backward())
    loss_fn(model(X[:8]), y[:8])  # waiting in the model and in the loss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt.lr_find(model, loss_fn, optimizer, loader, num_iter=10)
    with pytest.raises(ValueError, match="no batches"):  # a sweep that fails leaves them too
        mt.lr_find(model, loss_fn, optimizer, mt.DataLoader(X[:0], y[:0], batch_size=16), num_iter=10)
    model.backward(loss_fn.backward())
    for p, q in zip(model.parameters(), expected_model.parameters(), strict=True):
        assert p.grad.tobytes() == q.grad.tobytes()
    assert all(not m.__dict__["_stack"] for m in [*model.modules(), loss_fn])


@pytest.mark.parametrize("maximize_group", [0, 1])
def test_lr_find_refuses_an_ascent_up_front_and_changes_nothing(maximize_group):
    """maximize=True climbs the loss: the sweep, which reads divergence from a loss that falls,
    would mean nothing, so lr_find refuses before it touches anything."""
    model, _, loader = _setup()
    params = list(model.parameters())
    optimizer = mt.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    optimizer.param_groups[maximize_group]["maximize"] = True
    before = _snapshot(model, optimizer)
    with pytest.raises(ValueError, match=rf"lr_find: .*param_groups\[{maximize_group}\] has maximize=True"):
        mt.lr_find(model, mt.CrossEntropyLoss(), optimizer, loader, num_iter=10)
    after = _snapshot(model, optimizer)
    assert all(a[1].tobytes() == b[1].tobytes() for a, b in zip(before[0], after[0], strict=True))
    assert repr(before[2]) == repr(after[2]) and before[3] == after[3] and before[4] == after[4]
