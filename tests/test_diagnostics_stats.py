"""A check's statistics kept as numbers (CheckStats) and read lazily: the same numbers as the plain
formulas on the arrays, and the quick verdict (``quiet``) agreeing with ``judge`` on every check."""

from __future__ import annotations

import diagnostics_problems as problems
import numpy as np
import pytest

import minitorch as mt
from minitorch.diagnostics.findings import CheckReport, judge, quiet
from minitorch.diagnostics.probe import named_index, unit_plan, units_backward_params, units_forward
from minitorch.diagnostics.stats import SAMPLE, SATURATION, CheckStats, Layout


def _walk(model, X, y):
    loss_fn = mt.CrossEntropyLoss()
    units, out = units_forward(model, X)
    loss_fn(out, y)
    for p in model.parameters():
        p.grad = None
    units_backward_params(units, loss_fn.backward())
    return units


def _rms(a):
    return float(np.sqrt(np.mean(np.asarray(a, dtype=np.float64) ** 2)))


@pytest.mark.parametrize("wide", [False, True], ids=["small-arrays", "arrays-beyond-SAMPLE"])
def test_check_stats_are_the_plain_formulas_on_the_arrays(wide):
    mt.manual_seed(0)
    width = 300 if wide else 8  # 16 x 300 outputs: past SAMPLE, summed on their own
    model = mt.Sequential(mt.Linear(5, width), mt.ReLU(), mt.Linear(width, width), mt.Tanh(),
                          mt.Linear(width, 6), mt.Sigmoid(), mt.Linear(6, 3))
    model[0].b.data[:3] = -50.0  # three dead units
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 5)), np.arange(16) % 3
    units = _walk(model, X, y)
    assert any(u.y.size > SAMPLE for u in units) == wide
    named = list(model.named_parameters())
    stats = CheckStats(Layout(unit_plan(model, named_index(model)), named), [u.y for u in units],
                       [u.dy for u in units], [p.grad for _, p in named])
    before = [p.data.astype(np.float64) for _, p in named]
    for _, p in named:
        p.data -= 0.01 * p.grad  # a step
    stats.after_step()
    layers, params = stats.layers(), stats.params()
    tol = 1e-6 if wide else 1e-12  # an array beyond SAMPLE: its sum of squares is a dot in its own dtype
    for s, unit in zip(layers, units, strict=True):
        out, dy = unit.y.astype(np.float64), unit.dy.astype(np.float64)
        assert s.shape == unit.y.shape and s.finite and s.grad_finite
        assert s.mean == pytest.approx(out.mean(), rel=1e-12, abs=1e-15)
        assert s.std == pytest.approx(out.std(), rel=max(tol, 1e-9))
        assert s.grad_norm == pytest.approx(np.linalg.norm(dy), rel=tol)
        assert s.grad_rms == pytest.approx(_rms(dy), rel=tol)
        assert s.values.size == min(out.size, SAMPLE) and s.grads.size == min(dy.size, SAMPLE)
    assert layers[1].zero_fraction == pytest.approx(np.mean(units[1].y == 0))
    assert layers[1].dead_fraction == pytest.approx(np.mean(~units[1].y.any(axis=0)))
    assert layers[1].dead_fraction >= 3 / units[1].y.shape[1]
    assert layers[3].saturated_fraction == pytest.approx(np.mean(np.abs(units[3].y) > SATURATION))
    assert layers[5].saturated_fraction == pytest.approx(np.mean(np.abs(units[5].y - 0.5) > SATURATION / 2))
    for s, (name, p), old in zip(params, named, before, strict=True):
        assert s.name == name and s.shape == p.shape and s.finite and s.update_finite
        assert s.data_rms == pytest.approx(_rms(old), rel=1e-12)
        assert s.grad_norm == pytest.approx(np.linalg.norm(p.grad.astype(np.float64)), rel=1e-12)
        assert s.update_ratio == pytest.approx(_rms(p.data.astype(np.float64) - old) / _rms(old), rel=1e-9)


def test_a_non_finite_value_is_found_while_the_arrays_are_at_hand():
    model, _, loader = problems.lr_times_100(0)
    xb, yb = next(iter(loader))
    units = _walk(model, xb, yb)
    named = list(model.named_parameters())
    ys = [u.y for u in units]
    ys[1] = ys[1].copy()
    ys[1][0, 0] = np.inf
    stats = CheckStats(Layout([(u.name, u.module) for u in units], named), ys, [u.dy for u in units],
                       [p.grad for _, p in named])
    assert not stats.finite
    assert [s.finite for s in stats.layers()] == [True, False, True]
    assert not quiet(stats, 1.0)


def _lr_too_low(seed):
    model, _, loader = problems.lr_times_100(seed)
    return model, mt.SGD(model.parameters(), lr=1e-8), loader


def _exploding(seed):
    mt.manual_seed(seed)
    X, y = problems.spirals(seed)
    layers = [mt.Linear(2, 32)] + [mt.Linear(32, 32) for _ in range(9)] + [mt.Linear(32, 3)]
    for layer in layers[1:-1]:
        layer.W.data *= 3.0 * np.sqrt(3.0)
    model = mt.Sequential(*layers)
    return model, mt.SGD(model.parameters(), lr=1e-9), mt.DataLoader(X, y, batch_size=32, shuffle=True)


SETUPS = {**problems.PROBLEMS, "lr_too_low": _lr_too_low, "exploding_gradients": _exploding,
          "iris": problems.iris, "spirals_plain": problems.spirals_plain}


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_the_quick_verdict_agrees_with_judge_at_every_check(name):
    kinds = set()
    for seed in range(3):
        diag = problems.train_with_diagnostics(SETUPS[name], seed, epochs=2, every=3)
        for report in diag.history:
            if not isinstance(report, CheckReport):
                continue
            found = judge(report.layers, report.params, report.loss)
            assert [str(f) for f in report.findings] == [str(f) for f in found]
            assert quiet(report._stats, report.loss) == (found == [])
            kinds.update(f.kind for f in found)
    assert kinds == set() if name in ("iris", "spirals_plain") else name in kinds


def test_diagnose_reports_each_layers_own_mean_the_last_one_too():
    model, _, loader = problems.iris(0)
    xb, yb = next(iter(loader))
    report = mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb)
    h = xb
    for s, layer in zip(report.layers, model, strict=True):
        h = layer(h)
        assert s.mean == pytest.approx(np.mean(h, dtype=np.float64), rel=1e-9), s.name
    model.discard_caches()


def test_check_steps_count_across_epochs_with_and_without_len_of_the_loader():
    class NoLen:  # a re-iterable without __len__: fit cannot announce its steps
        def __init__(self, loader):
            self.batches = list(loader)

        def __iter__(self):
            return iter(self.batches)

    for wrap in (list, NoLen):
        model, optimizer, loader = problems.iris(0)
        diag = mt.Diagnostics(every=5, verbose=False)
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, wrap(loader), epochs=3, callbacks=[diag], verbose=0,
               metrics=())
        assert [r.step for r in diag.history] == [0, 5, 10, 15, 20], wrap


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_stats_warn_about_nothing_with_huge_or_infinite_values(dtype):
    """float32 arrays are squared in float64 without np.errstate (no overflow, inf * inf raises no
    flag); a float64 array takes the guarded path. The test suite turns every warning into an error."""
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2)).to(dtype)
    X, y = np.ones((5, 3), dtype=dtype), np.arange(5) % 2
    units = _walk(model, X, y)
    named = list(model.named_parameters())
    layout = Layout([(u.name, u.module) for u in units], named)
    ys = [u.y.copy() for u in units]
    ys[0][0, 0] = np.finfo(dtype).max  # squared: beyond float64 for a float64 array
    ys[2][0, 0] = np.inf
    stats = CheckStats(layout, ys, [u.dy for u in units], [p.grad for _, p in named])
    assert not stats.finite
    assert [s.finite for s in stats.layers()] == [True, True, False]
    healthy = CheckStats(layout, [u.y for u in units], [u.dy for u in units], [p.grad for _, p in named])
    assert healthy.finite
    model[0].W.data[0, 0] = np.inf  # the step made a weight infinite: inf - x, inf * inf
    for checked in (stats, healthy):
        checked.after_step()
        assert not checked.finite
        assert [p.update_finite for p in checked.params()] == [False, True, True, True]


def test_the_rules_median_is_statistics_median():
    import statistics

    from minitorch.diagnostics.findings import _median

    rng = np.random.default_rng(0)
    for n in range(1, 9):
        ordered = sorted(rng.lognormal(size=n).tolist())
        assert _median(ordered) == statistics.median(ordered)


class _Block(mt.Module):
    """A chain composite (walked along its recorded calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act = mt.Linear(4, 4), mt.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


def test_a_repeated_layer_is_named_at_each_place_it_runs():
    """model *= 2 runs each layer twice: diagnose's layers, the units and the callback's plan name
    each run by its path ("0", "1", "2", "3"), as torch's named_modules(remove_duplicate=False)."""
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 4), mt.ReLU())
    model *= 2
    model.append(mt.Sequential(_Block(), mt.Linear(4, 4)) * 2)
    model.append(mt.Linear(4, 3))
    X, y = np.random.default_rng(0).normal(size=(16, 4)), np.arange(16) % 3
    expected = ["0", "1", "2", "3", "4.0.fc", "4.0.act", "4.1", "4.2.fc", "4.2.act", "4.3", "5"]
    assert [u.name for u in _walk(model, X, y)] == expected
    report = mt.diagnose(model, mt.CrossEntropyLoss(), X, y)
    assert [layer.name for layer in report.layers] == expected
    plain = mt.Sequential(mt.Linear(4, 4), mt.Tanh()) * 2
    assert [name for name, _ in unit_plan(plain, named_index(plain))] == ["0", "1", "2", "3"]
