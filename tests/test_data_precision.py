"""Data reach a float64 model unrounded: the DataLoader's default-dtype cast never silently rounds them.

The class of bug: a conversion made for convenience (floating X to the default dtype, float32) that
loses precision the user asked for elsewhere (a model made float64 with ``.double()``). Every entry
point that turns arrays into batches is one line of ``ENTRY_POINTS``.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


def _model64():
    mt.manual_seed(0)
    return mt.Sequential(mt.Linear(3, 2)).double()


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((7, 3)), rng.integers(0, 2, 7)


# (id, function of (model, X, y) -> outputs the model computed on the batches it was given)
def _predict(model, X, y):
    return mt.predict(model, X, batch_size=3)


def _evaluate(model, X, y):
    seen = []
    mt.evaluate(model, None, X, y, metrics=[lambda t, p: seen.append(p) or 0.0])
    return seen[0]


def _fit_validation(model, X, y):
    seen = []
    loader = mt.DataLoader(X, y, batch_size=7, dtype=np.float64)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), loader, epochs=1,
           val_data=(X, y), metrics=[lambda t, p: seen.append(p) or 0.0], verbose=0)
    return seen[-1]  # the validation pass's outputs come last


ENTRY_POINTS = [("predict", _predict), ("evaluate", _evaluate), ("fit-val_data", _fit_validation)]


@pytest.mark.parametrize("run", [e[1] for e in ENTRY_POINTS], ids=[e[0] for e in ENTRY_POINTS])
def test_a_float64_model_gets_its_float64_data_unrounded(run):
    model, (X, y) = _model64(), _data()
    expected = X @ model[0].W.data + model[0].b.data
    got = run(model, X, y)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)  # float32 rounding is ~1e-8


def test_dataloader_dtype_keeps_float64_and_default_stays_the_default_dtype():
    X, y = _data()
    assert next(iter(mt.DataLoader(X, y, batch_size=2)))[0].dtype == np.float32  # documented default
    xb, yb = next(iter(mt.DataLoader(X, y, batch_size=2, dtype=np.float64)))
    assert xb.dtype == np.float64 and yb.dtype.kind == "i"
    np.testing.assert_array_equal(xb, X[:2])
    xb, _ = next(iter(mt.DataLoader(mt.TensorDataset(X, y), batch_size=2, dtype=np.float64)))
    assert xb.dtype == np.float64
    with pytest.raises(ValueError, match="DataLoader: dtype must be a floating dtype"):
        mt.DataLoader(X, y, dtype=np.int64)


class _Seen(mt.Callback):
    """The batches fit fed the model."""

    def __init__(self):
        self.inputs = []

    def on_batch_begin(self, batch, logs=None):
        self.inputs.append(logs["inputs"])


@pytest.mark.parametrize("wrap", ["arrays", "tensor-dataset", "random-split"])
def test_fit_and_evaluate_feed_a_float64_model_unrounded_batches_from_a_default_loader(wrap):
    model, (X, y) = _model64(), _data()
    if wrap == "arrays":
        loader = mt.DataLoader(X, y, batch_size=7)
    elif wrap == "tensor-dataset":
        loader = mt.DataLoader(mt.TensorDataset(X, y), batch_size=7)
    else:
        loader = mt.DataLoader(mt.random_split(mt.TensorDataset(X, y), [7, 0])[0], batch_size=7)
    assert next(iter(loader))[0].dtype == np.float32  # iterated directly: the default dtype, as documented
    seen = _Seen()
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), loader, epochs=1, verbose=0,
           callbacks=[seen])
    (xb,) = seen.inputs
    assert xb.dtype == np.float64
    np.testing.assert_array_equal(np.sort(xb, axis=0), np.sort(X, axis=0))  # not rounded
    outputs = []
    mt.evaluate(model, None, loader, metrics=[lambda t, p: outputs.append(p) or 0.0])
    expected = X @ model[0].W.data + model[0].b.data
    np.testing.assert_allclose(np.sort(outputs[0], axis=0), np.sort(expected, axis=0), rtol=1e-14, atol=1e-15)
    float32_model = mt.Sequential(mt.Linear(3, 2))
    seen = _Seen()
    mt.fit(float32_model, mt.CrossEntropyLoss(), mt.SGD(float32_model.parameters(), lr=0.1), loader,
           epochs=1, verbose=0, callbacks=[seen])
    assert seen.inputs[0].dtype == np.float32  # a float32 model: the loader as it is


def test_a_tuple_is_x_and_y_even_with_a_list_of_labels():
    X, y = np.arange(4.0), [0, 1, 0, 1]
    xb, yb = next(iter(mt.DataLoader((X, y), batch_size=2)))  # was X of 2 rows [X, y], no labels
    np.testing.assert_array_equal(xb, [0.0, 1.0])
    np.testing.assert_array_equal(yb, [0, 1])


@pytest.mark.parametrize("data", [[np.arange(4.0), np.array([0, 1, 0, 1])], [np.ones((3, 2))]],
                         ids=["two-arrays", "one-array"])
def test_a_list_of_one_or_two_arrays_is_ambiguous_and_refused(data):
    """(X, y) for MiniTorch's older reading, one or two samples for torch's: neither is guessed."""
    with pytest.raises(ValueError, match=r"DataLoader: a list of 1 or 2 arrays is ambiguous.*tuple"):
        mt.DataLoader(data, batch_size=2)
    many = [np.ones(3), np.zeros(3), np.ones(3)]  # three or more: samples, as torch
    assert next(iter(mt.DataLoader(many, batch_size=3))).shape == (3, 3)


def test_lr_find_sweeps_a_float64_model_on_unrounded_batches():
    seen = []

    class Recording(mt.Linear):
        def forward(self, x):
            seen.append(x.dtype)
            return super().forward(x)

    mt.manual_seed(0)
    model = mt.Sequential(Recording(3, 2, dtype=np.float64))
    X, y = _data()
    with pytest.warns(UserWarning):  # 3 steps: a flat curve, which is not what is checked here
        mt.lr_find(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
                   mt.DataLoader(X, y, batch_size=7), num_iter=3)
    assert seen and set(seen) == {np.dtype(np.float64)}
