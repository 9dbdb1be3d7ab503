"""Plain attributes added or deleted after construction: saved, loaded, refused where they cannot be.

A file holds a module's public plain attributes as they are now (minitorch/model_files/attributes.py):
``attributes`` the constructor made, ``added`` after construction, ``removed`` since. Round trips
here; the writer refuses what the reader refuses, naming the attribute and the fix, before a file
exists; forged ``added``/``removed`` sections (names hiding a method, a property, a Parameter, a
child, a private or special name; huge or deep values) end in ModelFileError.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_helpers import read_header, weights, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt
from minitorch.model_files.attributes import added_name_problem


def _saved(model, tmp_path, name="m.npz"):
    mt.save_model(model, tmp_path / name)
    return tmp_path / name


@pytest.fixture
def net(restore_registry):
    @mt.register_module
    class Net(mt.Module):
        scale = 1.0  # a class-level default an instance may override

        def __init__(self, width: int = 3):
            super().__init__()
            self.fc = mt.Linear(2, width)
            self.note = "made by the constructor"

        def forward(self, x):
            return self.fc(x) * self.scale

    return Net


# ------------------------------------------------------------------------------------ round trips
def test_attributes_added_after_construction_round_trip(tmp_path, net):
    model = net()
    model.scale = 2.0  # hides the class's plain default
    model.tag, model.sizes, model.table, model.nothing = "run 7", (3, 3), {1: [0.5, float("inf")]}, None
    model.kind = np.float64  # a dtype
    model.fc.note = "head"  # on a MiniTorch layer
    header = read_header(_saved(model, tmp_path))
    assert list(header["model"]["architecture"]["added"]) == ["scale", "tag", "sizes", "table", "nothing",
                                                              "kind"]
    loaded = mt.load_model(tmp_path / "m.npz")
    assert (loaded.scale, loaded.tag, loaded.sizes, loaded.nothing) == (2.0, "run 7", (3, 3), None)
    assert loaded.table == {1: [0.5, float("inf")]} and loaded.kind is np.float64 and loaded.fc.note == "head"
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert "scale" not in vars(net())  # a fresh model still reads the class's default


def test_attributes_deleted_after_construction_stay_deleted(tmp_path, net):
    model = net()
    del model.note
    assert read_header(_saved(model, tmp_path))["model"]["architecture"]["removed"] == ["note"]
    assert not hasattr(mt.load_model(tmp_path / "m.npz"), "note")
    model.note = "made again"  # deleted, then set again: the constructor's name, as it is now
    assert mt.load_model(_saved(model, tmp_path)).note == "made again"


def test_a_parameter_or_child_deleted_after_construction_stays_deleted(tmp_path, net):
    model = mt.Sequential(mt.Linear(2, 3), mt.ReLU())
    del model[0].b  # the file used to hold no 'b' while the rebuilt Linear had one: unloadable
    loaded = mt.load_model(_saved(model, tmp_path))
    assert "b" not in loaded[0]._parameters and not hasattr(loaded[0], "b")
    model = net()
    del model.fc
    assert "fc" not in dict(mt.load_model(_saved(model, tmp_path)).named_children())


def test_a_name_that_changed_kind_after_construction_round_trips(tmp_path, net):
    model = net()
    model.note = mt.Identity()  # a plain attribute the constructor made, now a child
    del model.fc
    model.fc = 3  # a child the constructor made, now a plain number
    header = read_header(_saved(model, tmp_path))["model"]["architecture"]
    assert header["removed"] == ["fc", "note"] and header["added"] == {"fc": 3}
    loaded = mt.load_model(tmp_path / "m.npz")
    assert isinstance(loaded.note, mt.Identity) and loaded.fc == 3 and "fc" not in loaded._modules
    linear = mt.Linear(2, 3)
    del linear.b
    linear.b = None  # a Parameter deleted, its name set to None: a plain attribute now
    assert mt.load_model(_saved(linear, tmp_path)).b is None


@pytest.mark.parametrize("kind", ["parameter", "buffer"])
def test_a_parameter_or_buffer_added_after_construction_is_refused_at_save(tmp_path, kind):
    model = mt.Sequential(mt.Linear(2, 3))
    if kind == "parameter":
        model[0].extra = mt.Parameter(np.ones(3, np.float32))
    else:
        model[0].register_buffer("extra", np.ones(3, np.float32))
    with pytest.raises(TypeError, match=rf"model\.0 \(Linear\) {kind} 'extra' was added after construction.*"
                                        r"create it in __init__"):
        mt.save_model(model, tmp_path / "m.npz")  # (the rebuilt Linear would have no 'extra')
    assert not (tmp_path / "m.npz").exists()
    mt.save_model(model, tmp_path / "m.npz", architecture=False)
    mt.load_model(model, tmp_path / "m.npz")


def test_a_container_keeps_attributes_added_to_it(tmp_path):
    model = mt.Sequential(mt.Linear(2, 3), mt.ReLU(), mt.Tanh())
    model.note = "three layers"
    del model[1]  # its members are rebuilt as they are now, never listed as deleted
    header = read_header(_saved(model, tmp_path))["model"]["architecture"]
    assert header["added"] == {"note": "three layers"} and "removed" not in header
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.note == "three layers" and [type(m) for m in loaded] == [mt.Linear, mt.Tanh]


# ----------------------------------------------------------------------------- refused at save
@pytest.mark.parametrize("name, value, message", [
    ("extra_repr", "x", r"would hide Linear\.extra_repr \(function\)"),
    ("T_destination", 1, None),  # not a name of Module: allowed (a control)
    ("a b", 1, "not a Python identifier"),
    ("big", 10**4300, "more than 4300 digits"),
    ("deep", [[[]]], None),  # (a control; 65 levels below)
    ("array", np.zeros(3), "make it a buffer"),
], ids=["method", "control", "not-identifier", "huge-int", "control-nested", "array"])
def test_what_the_reader_would_refuse_is_refused_at_save_naming_it(tmp_path, name, value, message):
    model = mt.Sequential(mt.Linear(2, 2))
    object.__setattr__(model[0], name, value)  # setattr's own checks aside: any instance attribute
    if message is None:
        assert mt.load_model(_saved(model, tmp_path)) is not None
        return
    with pytest.raises(TypeError, match=rf"model\.0 \(Linear\) attribute '{name}'.*{message}"):
        mt.save_model(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_the_longest_integer_the_writer_takes_is_read_back(tmp_path):
    model = mt.Linear(2, 2)
    model.big = -(10**4300 - 1)  # 4300 digits; one more is refused at save (above)
    assert mt.load_model(_saved(model, tmp_path)).big == model.big


def test_a_value_nested_deeper_than_the_reader_reads_is_refused_at_save(tmp_path):
    model = mt.Linear(2, 2)
    model.deep = []
    for _ in range(65):  # the innermost list 65 levels below the value
        model.deep = [model.deep]
    with pytest.raises(TypeError, match=r"attribute 'deep'.*nested deeper than 64"):
        mt.save_model(model, tmp_path / "m.npz")


def test_the_name_rule_is_the_one_both_sides_apply():
    assert added_name_problem(mt.Linear, "scale") is None
    for name in ["forward", "weight", "parameters", "__class__", "_x", "training", "1x", ""]:
        assert added_name_problem(mt.Linear, name) is not None, name


# ------------------------------------------------------------------------------------- forged
def _forge(tmp_path, section, value, model=None):
    path = _saved(model if model is not None else mt.Sequential(mt.Linear(2, 2)), tmp_path)
    header = read_header(path)
    node = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    node[section] = value
    write_with_header(path, header, weights(path))
    return path


@pytest.mark.parametrize("section, value, message", [
    ("added", {"forward": 1}, r"'forward' cannot be added to Linear: it would hide Linear\.forward"),
    ("added", {"weight": 1}, r"would hide Linear\.weight \(property\)"),
    ("added", {"extra_repr": "x"}, "would hide"),
    ("added", {"__class__": 1}, "private or special"),
    ("added", {"__dict__": {}}, "private or special"),
    ("added", {"_parameters": {}}, "private or special"),
    ("added", {"training": False}, "train/eval flag"),
    ("added", {"W": 1}, "'W' cannot be added to Linear: the rebuilt module has it already"),
    ("added", {"in_features": 9}, "has it already"),
    ("added", {"a.b": 1}, "not a Python identifier"),
    ("added", {"x": {"__array__": "0.W"}}, "missing array entry"),
    ("added", {"x": {"__module__": {"class": "ReLU", "args": {}}}}, "a module is not expected"),
    ("added", {"x": {"__weird__": 1}}, "unexpected JSON object"),
    ("added", [["x", 1]], "added: expected dict"),
    ("removed", ["forward"], "no public attribute 'forward'"),
    ("removed", ["_parameters"], "no public attribute"),
    ("removed", ["training"], "no public attribute"),
    ("removed", [3], "no public attribute 3"),
    ("removed", ["in_features", "in_features"], "no public attribute 'in_features'"),
    ("removed", {"W": 1}, "removed: expected list"),
    ("removed", ["W"], r"unexpected \['0\.W'\]"),  # a Parameter deleted, its weights still in the file
])
def test_forged_added_and_removed_sections_are_refused(tmp_path, section, value, message):
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_model(_forge(tmp_path, section, value))


def test_a_forged_attribute_hiding_a_child_is_refused(tmp_path, net):
    path = _forge(tmp_path, "added", {"fc": 1}, model=mt.Sequential(net()))
    with pytest.raises(mt.ModelFileError, match="'fc' cannot be added to Net: the rebuilt module has it"):
        mt.load_model(path)


def test_a_forged_huge_integer_is_refused_before_it_is_converted(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.get_int_max_str_digits", lambda: 0, raising=False)  # (reads no sys limit)
    path = _forge(tmp_path, "added", {"big": 12345})
    header = fmt.header_array(read_header(path)).tobytes().replace(b"12345", b"9" * 4301)
    fmt.atomic_write_npz(path, {fmt.HEADER_KEY: np.frombuffer(header, np.uint8), **weights(path)})
    with pytest.raises(mt.ModelFileError, match="an integer of 4301 digits"):
        mt.load_model(path)
    header = header.replace(b"9" * 4301, b"-" + b"9" * 4300)  # the longest one written is read
    fmt.atomic_write_npz(path, {fmt.HEADER_KEY: np.frombuffer(header, np.uint8), **weights(path)})
    assert mt.load_model(path)[0].big == -(10**4300 - 1)


def test_a_forged_deep_or_dense_added_value_is_refused(tmp_path):
    deep = []
    for _ in range(70):
        deep = [deep]
    with pytest.raises(mt.ModelFileError, match="nested deeper than 64"):
        mt.load_model(_forge(tmp_path, "added", {"deep": deep}))
    path = _forge(tmp_path, "added", {"dense": 1})
    text = json.dumps(read_header(path)).replace('"dense": 1', '"dense": [' + "[]," * 100000 + "[]]")
    fmt.atomic_write_npz(path, {fmt.HEADER_KEY: np.frombuffer(text.encode(), np.uint8), **weights(path)})
    with pytest.raises(mt.ModelFileError, match="implausibly dense"):
        mt.load_model(path)
