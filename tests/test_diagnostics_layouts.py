"""Dead-ReLU units are counted along the axis the layers before them give meaning to.

The class of bug: a heuristic reading a layout from the shape alone. (N, C, L) from Conv1d has
channels on axis 1, (N, L, F) from a Linear on sequences has features last; both are 3-D. Each line
of ``LAYOUTS`` is a model whose ReLU kills 6 of 8 units, which diagnose must report as 75% dead.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


def _conv1d():
    conv = mt.Conv1d(2, 8, 3)
    conv.bias.data[:6] = -100.0  # channels 0..5 output 0 everywhere after the ReLU
    return mt.Sequential(conv, mt.ReLU(), mt.Flatten(), mt.Linear(8 * 10, 3)), (16, 2, 12)


def _conv1d_batchnorm_dropout():
    conv = mt.Conv1d(2, 8, 3)
    norm = mt.BatchNorm1d(8)
    norm.bias.data[:6] = -100.0
    model = mt.Sequential(conv, norm, mt.Dropout(0.0), mt.ReLU(), mt.Flatten(), mt.Linear(8 * 10, 3))
    return model, (16, 2, 12)


def _sequence_linear():
    linear = mt.Linear(2, 8)
    linear.b.data[:6] = -100.0  # features 0..5 of every position
    return mt.Sequential(linear, mt.ReLU(), mt.Flatten(), mt.Linear(12 * 8, 3)), (16, 12, 2)


def _conv2d():
    conv = mt.Conv2d(2, 8, 3)
    conv.bias.data[:6] = -100.0
    return mt.Sequential(conv, mt.ReLU(), mt.Flatten(), mt.Linear(8 * 4 * 4, 3)), (16, 2, 6, 6)


class Encoder(mt.Conv1d):
    """A Conv1d under a name of the user's: its layout is still (N, C, L)."""


def _conv1d_subclass():
    conv = Encoder(2, 8, 3)
    conv.bias.data[:6] = -100.0
    return mt.Sequential(conv, mt.ReLU(), mt.Flatten(), mt.Linear(8 * 10, 3)), (16, 2, 12)


LAYOUTS = [("conv1d", _conv1d), ("conv1d-batchnorm-dropout", _conv1d_batchnorm_dropout),
           ("conv1d-subclass", _conv1d_subclass),
           ("sequence-linear", _sequence_linear), ("conv2d", _conv2d)]


@pytest.mark.parametrize("build", [b for _, b in LAYOUTS], ids=[n for n, _ in LAYOUTS])
def test_dead_units_are_counted_along_the_layout_the_layer_before_gives(build):
    mt.manual_seed(0)
    model, shape = build()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 3, shape[0])
    report = mt.diagnose(model, mt.CrossEntropyLoss(), x, y)
    relu = next(s for s in report.layers if s.kind == "ReLU")
    assert relu.dead_fraction == pytest.approx(6 / 8)
    dead = [f for f in report.findings if f.kind == "dead_relu"]
    assert [f.layer for f in dead] == [relu.name]

    callback = mt.Diagnostics(every=1, verbose=False)  # the training callback reads the same layout
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), [(x, y)], epochs=1,
           callbacks=[callback], verbose=0)
    layer = next(s for s in callback.history[0].layers if s.kind == "ReLU")
    assert layer.dead_fraction == pytest.approx(6 / 8)


def _zero_init_tanh():
    model = mt.Sequential(mt.Linear(4, 8), mt.Tanh(), mt.Linear(8, 8), mt.Tanh(), mt.Linear(8, 3))
    for p in model.parameters():
        mt.init.zeros_(p)  # the classic bug: no gradient reaches the layers below the zero weights
    model[4].W.data[:] = 0.5
    return model


def test_a_first_layer_that_gets_no_gradient_at_all_is_vanishing_and_named():
    """rms 0 entering layer 0 is the limit of vanishing; it was left out, and with it the verdict."""
    model = _zero_init_tanh()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    report = mt.diagnose(model, mt.CrossEntropyLoss(), x, y)
    vanishing = [f for f in report.findings if f.kind == "vanishing_gradients"]
    assert [f.layer for f in vanishing] == ["0"]
    assert vanishing[0].evidence["first_grad_rms"] == 0.0 and vanishing[0].evidence["last_layer"] == "4"
    callback = mt.Diagnostics(every=1, verbose=False)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), [(x, y)], epochs=1,
           callbacks=[callback], verbose=0)
    assert [f.layer for f in callback.history[0].findings if f.kind == "vanishing_gradients"] == ["0"]


@pytest.mark.parametrize("features", [8, 100], ids=["small-output", "large-output"])  # SAMPLE = 2000
def test_std_of_an_output_far_from_zero_is_its_std(features):
    """std = sqrt(E[x**2] - mean**2) cancels when mean >> std (in float32 sums above all): 0.134 for 0.0058.

    The class of bug: a statistic computed by a formula that is exact in algebra and not in floats."""
    mt.manual_seed(0)
    first = mt.Linear(10, features)
    first.b.data[:] = 1000.0
    first.W.data *= 0.01
    model = mt.Sequential(first, mt.Linear(features, 3))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 10)).astype(np.float32), rng.integers(0, 3, 64)
    with mt.no_grad():
        expected = first(x).astype(np.float64)
    for report in (mt.diagnose(model, mt.CrossEntropyLoss(), x, y), _checked(model, x, y)):
        assert report.layers[0].mean == pytest.approx(expected.mean(), rel=1e-12)
        assert report.layers[0].std == pytest.approx(expected.std(), rel=1e-4)


def _checked(model, x, y):
    callback = mt.Diagnostics(every=1, verbose=False)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), [(x, y)], epochs=1,
           callbacks=[callback], verbose=0)
    return callback.history[0]
