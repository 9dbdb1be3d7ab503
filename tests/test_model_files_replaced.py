"""Parameters and buffers replaced after construction by arrays of another shape: saved and loaded.

``lin.W = mt.Parameter(np.zeros((3, 2)))``, a conv weight of another kernel size, a loss ``weight``
set into the empty slot its constructor made: the file notes each such entry under ``replaced``
(minitorch/model_files/replaced.py) and ``load_model`` rebuilds the model as it was saved, as
``torch.load`` of a pickled model does. A model whose arrays keep their constructor's shapes writes
no ``replaced``. Forged ``replaced`` sections (huge shapes, bad dtypes, names that are no slot, a
shape the weights do not have) end in ModelFileError, a huge one before anything is allocated.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from model_helpers import read_header, weights, write_with_header

import minitorch as mt


def _round_trip(model, tmp_path):
    mt.save_model(model, tmp_path / "m.npz")
    return mt.load_model(tmp_path / "m.npz")


def _same_state(loaded, model):
    mine, theirs = loaded.state_dict(), model.state_dict()
    assert list(mine) == list(theirs)
    for name in mine:
        assert mine[name].shape == theirs[name].shape and mine[name].dtype == theirs[name].dtype, name
        np.testing.assert_array_equal(mine[name], theirs[name])


# ------------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("replace", [
    lambda lin: setattr(lin, "W", mt.Parameter(np.arange(6.0).reshape(3, 2))),
    lambda lin: setattr(lin.W, "data", np.arange(6.0).reshape(3, 2)),  # the array under the Parameter
    lambda lin: setattr(lin, "b", mt.Parameter(np.arange(4, dtype=np.float32).reshape(2, 2))),
], ids=["Parameter", "data", "float32-bias"])
def test_a_parameter_of_another_shape_round_trips(tmp_path, replace):
    model = mt.Sequential(mt.Linear(5, 2, dtype=np.float64), mt.ReLU())
    replace(model[0])
    loaded = _round_trip(model, tmp_path)
    _same_state(loaded, model)
    assert isinstance(loaded[0].W, mt.Parameter) and isinstance(loaded[0].b, mt.Parameter)
    assert [name for name, _ in loaded.named_parameters()] == ["0.W", "0.b"]


def test_a_conv_weight_of_another_kernel_size_computes_as_saved(tmp_path):
    mt.manual_seed(0)
    conv = mt.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    conv.weight = mt.Parameter(np.random.default_rng(1).standard_normal((3, 2, 5, 5)))  # convs read its shape
    conv.padding = (2, 2)
    loaded = _round_trip(conv, tmp_path)
    x = np.random.default_rng(2).standard_normal((2, 2, 6, 6))
    np.testing.assert_array_equal(loaded(x), conv(x))
    assert loaded.weight.shape == (3, 2, 5, 5)


@pytest.mark.parametrize("make, name, value", [
    (lambda: mt.BatchNorm1d(4), "running_mean", np.arange(6.0, dtype=np.float32)),
    (lambda: mt.BatchNorm1d(4), "num_batches_tracked", np.array(3.5)),  # an int buffer now a float
    (lambda: mt.BatchNorm1d(4, track_running_stats=False), "running_mean", np.ones(4, np.float32)),
    (lambda: mt.CrossEntropyLoss(), "weight", np.array([1.0, 2.0, 0.5])),  # set into the empty slot
    (lambda: mt.BCEWithLogitsLoss(), "pos_weight", np.array([2.0, 3.0], np.float32)),
    (lambda: mt.NLLLoss(reduction="sum"), "weight", np.array([0.5, 1.0])),
], ids=["running_mean", "num_batches_tracked", "empty-running_mean", "ce-weight", "pos_weight", "nll-weight"])
def test_a_buffer_of_another_shape_or_kind_round_trips(tmp_path, make, name, value):
    model = make()
    setattr(model, name, value)
    loaded = _round_trip(model, tmp_path)
    _same_state(loaded, model)
    assert name in loaded._buffers and getattr(loaded, name) is loaded._buffers[name]


def test_a_weighted_loss_set_later_computes_as_saved(tmp_path):
    loss = mt.CrossEntropyLoss(label_smoothing=0.1)
    loss.weight = np.array([1.0, 2.0, 0.5])
    loaded = _round_trip(loss, tmp_path)
    z, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 2, 1])
    assert loaded(z, y) == loss(z, y)


def test_replaced_parameters_keep_ties_frozen_flags_and_modes(tmp_path):
    model = mt.Sequential(mt.Linear(4, 3), mt.Tanh(), mt.Linear(4, 3))
    model[0].W = mt.Parameter(np.ones((4, 4), np.float32))
    model[2].W = model[0].W  # tied, both of the new shape
    model[2].b.requires_grad = False
    model[2].b = mt.Parameter(np.zeros(4, np.float32), requires_grad=False)
    model.eval()
    loaded = _round_trip(model, tmp_path)
    _same_state(loaded, model)
    assert loaded[2].W is loaded[0].W and not loaded[2].b.requires_grad and loaded[0].b.requires_grad
    assert not loaded.training


def test_a_checkpoint_holds_a_replaced_parameter(tmp_path):
    model = mt.Linear(3, 2)
    model.W = mt.Parameter(np.ones((2, 2), np.float32))
    optimizer = mt.SGD(model.parameters(), lr=0.1)
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=optimizer)
    loaded = mt.load_checkpoint(tmp_path / "c.npz")
    _same_state(loaded["model"], model)


def test_only_entries_of_another_shape_or_kind_are_noted_and_a_loaded_model_saves_the_same(tmp_path):
    model = mt.Sequential(mt.Linear(3, 2), mt.BatchNorm1d(2), mt.Linear(2, 2))
    model.to(np.float64)  # floating casts are not replacements (the loader casts to the file's dtypes)
    model[0].W.data = model[0].W.data * 2  # a new array of the same shape
    model[1].running_var = np.ones(2)
    mt.save_model(model, tmp_path / "m.npz")
    assert "replaced" not in str(read_header(tmp_path / "m.npz"))
    model[2].W = mt.Parameter(np.zeros((1, 2)))
    mt.save_model(model, tmp_path / "m.npz")
    nodes = read_header(tmp_path / "m.npz")["model"]["architecture"]["args"]["modules"]["__tuple__"]
    assert [node["__module__"].get("replaced") for node in nodes] == [
        None, None, {"W": {"shape": [1, 2], "dtype": "float64"}}]
    mt.save_model(mt.load_model(tmp_path / "m.npz"), tmp_path / "again.npz")
    assert read_header(tmp_path / "again.npz") == read_header(tmp_path / "m.npz")


def test_a_non_persistent_buffer_is_not_noted(tmp_path, restore_registry):
    @mt.register_module
    class Table(mt.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("table", np.zeros(3), persistent=False)

    model = Table()
    model.table = np.zeros(5)  # not in the file: the constructor remakes it, as for any edit of it
    mt.save_model(model, tmp_path / "m.npz")
    assert "replaced" not in read_header(tmp_path / "m.npz")["model"]["architecture"]
    assert mt.load_model(tmp_path / "m.npz").table.shape == (3,)


# ------------------------------------------------------------------------------------- forged
def _forge(tmp_path, replaced, model=None):
    model = model if model is not None else mt.Sequential(mt.Linear(2, 2))
    mt.save_model(model, tmp_path / "m.npz")
    path = tmp_path / "m.npz"
    header = read_header(path)
    header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]["replaced"] = replaced
    write_with_header(path, header, weights(path))
    return path


@pytest.mark.parametrize("replaced, message", [
    ({"W": {"shape": [2, 2], "dtype": "int64"}}, r"replaced\.W: a Parameter is floating, got dtype int64"),
    ({"W": {"shape": [3, 2], "dtype": "float32"}}, r"'0\.W' expected shape \(3, 2\), got \(2, 2\)"),
    ({"W": {"shape": [10**6, 10**6], "dtype": "float32"}}, "implausibly"),
    ({"W": {"shape": [-1, 2], "dtype": "float32"}}, r"replaced\.W: expected a shape"),
    ({"W": {"shape": [True, 2], "dtype": "float32"}}, r"replaced\.W: expected a shape"),
    ({"W": {"shape": 4, "dtype": "float32"}}, r"replaced\.W: expected a shape"),
    ({"W": {"shape": [1] * 65, "dtype": "float32"}}, r"replaced\.W: expected a shape"),
    ({"W": {"shape": [2, 2], "dtype": "object"}}, r"replaced\.W: expected a numeric dtype"),
    ({"W": {"shape": [2, 2], "dtype": "V8"}}, r"replaced\.W: expected a numeric dtype"),
    ({"W": {"shape": [2, 2], "dtype": 3}}, r"replaced\.W: expected a numeric dtype"),
    ({"W": {"shape": [2, 2]}}, r"replaced\.W: missing keys \['dtype'\]"),
    ({"W": [2, 2]}, r"replaced\.W: expected dict"),
    ({"forward": {"shape": [2], "dtype": "float32"}}, "Linear has no Parameter or buffer 'forward'"),
    ({"in_features": {"shape": [2], "dtype": "float32"}}, "no Parameter or buffer 'in_features'"),
    ({"_parameters": {"shape": [2], "dtype": "float32"}}, "no Parameter or buffer '_parameters'"),
    ([["W", [2, 2]]], "replaced: expected dict"),
])
def test_forged_replaced_sections_are_refused(tmp_path, replaced, message):
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_model(_forge(tmp_path, replaced))


def test_a_forged_huge_shape_is_refused_before_it_is_allocated(tmp_path):
    path = _forge(tmp_path, {"W": {"shape": [2**38], "dtype": "float32"}})
    tracemalloc.start()
    try:
        with pytest.raises(mt.ModelFileError, match="implausibly"):
            mt.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**26  # NumPy reports its arrays to tracemalloc; 2**40 bytes were asked for


def test_a_forged_replacement_of_a_non_persistent_buffer_is_refused(tmp_path, restore_registry):
    @mt.register_module
    class Table(mt.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("table", np.zeros(3), persistent=False)

    path = _forge(tmp_path, {"table": {"shape": [5], "dtype": "float64"}}, model=mt.Sequential(Table()))
    with pytest.raises(mt.ModelFileError, match="no Parameter or buffer 'table' the file holds"):
        mt.load_model(path)


def test_a_module_without_a_construction_record_lists_every_entry(tmp_path):
    model = mt.Linear(3, 2)
    del model.__dict__["_init_arrays"]  # as a module made some other way than its constructor
    mt.save_model(model, tmp_path / "m.npz")
    assert read_header(tmp_path / "m.npz")["model"]["architecture"]["replaced"] == {
        "W": {"shape": [3, 2], "dtype": "float32"}, "b": {"shape": [2], "dtype": "float32"}}
    _same_state(mt.load_model(tmp_path / "m.npz"), model)
