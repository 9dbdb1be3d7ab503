"""Loading a model builds each module in the dtype its file records, never switching the default dtype.

``mt.set_default_dtype`` is global: a load that switched it while it rebuilt the modules (as it
once did) handed another thread building a layer meanwhile the file's dtype, and put back a default
that thread had set. Now each constructor that takes ``dtype=`` gets its weights' dtype from the
file, and any floating array still in another dtype (a module of yours whose constructor takes no
``dtype``, a model cast after construction, float16) is cast to the file's before the values load.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pytest
from model_helpers import (
    CASE_ARGS,
    CASE_IDS,
    assert_same_state,
    randomize_state,
    read_header,
    refuse_default_dtype_switch,
    sample_input,
    weights,
    write_with_header,
)

import minitorch as mt
from minitorch.model_files import file_dtypes
from minitorch.model_files.format import MAX_DEPTH


def _built_in(factory, dtype):
    mt.set_default_dtype(dtype)
    try:
        return randomize_state(factory(), seed=7).eval()
    finally:
        mt.set_default_dtype(np.float32)


def _float_dtypes(model: mt.Module) -> dict[str, np.dtype]:
    return {name: value.dtype for name, value in model.state_dict().items() if value.dtype.kind == "f"}


def _no_cast(monkeypatch):
    """Fail on any Parameter cast: the modules must be built in their dtype, not converted."""
    def refuse(self, dtype):
        raise AssertionError(f"a Parameter was cast to {dtype} instead of built in it")

    monkeypatch.setattr(mt.Parameter, "to", refuse)


# ------------------------------------------------------------------ every registry case
@pytest.mark.parametrize("dtype, default", [(np.float32, np.float64), (np.float64, np.float32)],
                         ids=["float32-file-float64-default", "float64-file-float32-default"])
@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_every_case_loads_in_its_file_dtype_without_switching_the_default(
        tmp_path, monkeypatch, factory, shape, dtype, default):
    model = _built_in(factory, dtype)
    mt.save_model(model, tmp_path / "m.npz")
    monkeypatch.setattr(mt.dtypes, "_default_dtype", np.dtype(default))  # put back by monkeypatch
    refuse_default_dtype_switch(monkeypatch)
    _no_cast(monkeypatch)  # every MiniTorch layer with weights takes dtype=: built in it directly
    loaded = mt.load_model(tmp_path / "m.npz")
    assert mt.get_default_dtype() == default
    assert set(_float_dtypes(loaded).values()) <= {np.dtype(dtype)}
    assert_same_state(loaded, model)  # bit for bit
    x = sample_input(shape, dtype)
    y, expected = loaded(x), model(x)
    for a, b in zip(y if isinstance(y, tuple) else (y,), expected if isinstance(y, tuple) else (expected,),
                    strict=True):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("factory, shape", CASE_ARGS[:12], ids=CASE_IDS[:12])
def test_a_checkpoint_rebuilds_in_its_file_dtype_too(tmp_path, monkeypatch, factory, shape):
    model = _built_in(factory, np.float64)
    mt.save_checkpoint(tmp_path / "c.npz", model=model)
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_checkpoint(tmp_path / "c.npz")["model"]
    assert_same_state(loaded, model)


# ------------------------------------------------------------------ dtypes mixed per layer
def _mixed() -> mt.Module:
    inner = mt.Sequential(OrderedDict(enc=mt.Linear(4, 5, dtype=np.float64), act=mt.Tanh()))
    model = mt.Sequential(
        mt.Linear(3, 4), mt.ReLU(), inner,
        mt.ModuleList([mt.Linear(5, 5), mt.LayerNorm(5, dtype=np.float64)]),
        mt.ModuleDict({"a": mt.BatchNorm1d(5, dtype=np.float64), "b": mt.Linear(5, 2)}),
    )
    model.extra = mt.GRU(2, 3, dtype=np.float64)  # a child added after construction
    return randomize_state(model, seed=2)


def test_a_model_mixing_dtypes_per_layer_builds_each_layer_in_its_own(tmp_path, monkeypatch):
    model = _mixed()
    mt.save_model(model, tmp_path / "m.npz")
    refuse_default_dtype_switch(monkeypatch)
    _no_cast(monkeypatch)  # each layer's place is in the file, so each is built in its dtype
    loaded = mt.load_model(tmp_path / "m.npz")
    assert _float_dtypes(loaded) == _float_dtypes(model)
    assert {*_float_dtypes(loaded).values()} == {np.dtype(np.float32), np.dtype(np.float64)}
    assert_same_state(loaded, model)
    assert mt.get_default_dtype() == np.float32


def test_a_mixed_model_cast_after_construction_loads_as_saved(tmp_path, monkeypatch):
    model = mt.Sequential(mt.Linear(3, 4), mt.Tanh(), mt.Linear(4, 2), mt.LSTM(2, 3))
    model[2].to(np.float64)  # the file records no constructor dtype: the weights decide
    model[3].double()
    randomize_state(model, seed=4)
    mt.save_model(model, tmp_path / "m.npz")
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert_same_state(loaded, model)
    assert loaded[0].W.dtype == np.float32 and loaded[2].W.dtype == np.float64


def test_a_float16_model_loads_as_float16(tmp_path, monkeypatch):
    model = randomize_state(mt.Sequential(mt.Linear(3, 4), mt.BatchNorm1d(4)), seed=1).to(np.float16)
    mt.save_model(model, tmp_path / "m.npz")
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert_same_state(loaded, model)  # once loaded as float32: the file's dtype is kept now
    assert loaded[1].num_batches_tracked.dtype == np.int64


# ------------------------------------------------------------------ modules of your own
def _register_plain():
    class PlainNet(mt.Module):  # its constructor takes no dtype: its layers take the default
        def __init__(self, hidden: int) -> None:
            super().__init__()
            self.fc = mt.Linear(3, hidden)
            self.norm = mt.LayerNorm(hidden)
            self.register_buffer("scale", np.full(hidden, 0.5, dtype=mt.get_default_dtype()))

        def forward(self, x):
            return self.norm(self.fc(x)) * self.scale

    return mt.register_module(PlainNet)


@pytest.mark.parametrize("file_dtype, default", [(np.float64, np.float32), (np.float32, np.float64)])
def test_a_module_of_yours_without_dtype_loads_in_the_file_dtype(
        tmp_path, monkeypatch, restore_registry, file_dtype, default):
    cls = _register_plain()
    model = randomize_state(cls(4).to(file_dtype), seed=3)
    mt.save_model(model, tmp_path / "m.npz")
    monkeypatch.setattr(mt.dtypes, "_default_dtype", np.dtype(default))
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")  # built in the default, then cast as .to() casts
    assert set(_float_dtypes(loaded).values()) == {np.dtype(file_dtype)}
    assert_same_state(loaded, model)  # no value went through the other dtype
    x = sample_input((2, 3), file_dtype)
    assert loaded(x).dtype == file_dtype
    np.testing.assert_array_equal(loaded(x), model(x))


def test_a_module_of_yours_taking_dtype_is_given_the_file_dtype(tmp_path, monkeypatch, restore_registry):
    @mt.register_module
    class TypedNet(mt.Module):
        def __init__(self, hidden: int, dtype=None, device=None) -> None:
            super().__init__()
            made = mt.dtypes.factory_dtype(self, device, dtype)  # as MiniTorch's layers: not recorded
            self.fc = mt.Linear(3, hidden, dtype=made)
            self.made = str(made)

        def forward(self, x):
            return self.fc(x)

    model = randomize_state(TypedNet(2, dtype=np.float64), seed=1)
    mt.save_model(model, tmp_path / "m.npz")
    assert "dtype" not in read_header(tmp_path / "m.npz")["model"]["architecture"]["args"]
    refuse_default_dtype_switch(monkeypatch)
    _no_cast(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.fc.W.dtype == np.float64 and loaded.made == "float64"
    assert_same_state(loaded, model)


def test_a_recorded_dtype_argument_is_kept_and_the_weights_decide(tmp_path, monkeypatch, restore_registry):
    @mt.register_module
    class Recorded(mt.Module):
        def __init__(self, dtype=np.float32) -> None:
            super().__init__()
            self.fc = mt.Linear(2, 2, dtype=dtype)

        def forward(self, x):
            return self.fc(x)

    model = randomize_state(Recorded(dtype=np.float32).to(np.float64), seed=1)
    mt.save_model(model, tmp_path / "m.npz")
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded._init_args["dtype"] is np.float32  # the user's own argument, as given
    assert loaded.fc.W.dtype == np.float64  # as the weights were saved
    assert_same_state(loaded, model)


def test_modules_passed_to_your_constructor_take_their_file_dtypes(tmp_path, monkeypatch, restore_registry):
    @mt.register_module
    class Pair(mt.Module):
        def __init__(self, first: mt.Module, second: mt.Module) -> None:
            super().__init__()
            self.a, self.b = first, second  # places the file cannot name before construction

        def forward(self, x):
            return self.b(self.a(x))

    model = randomize_state(Pair(mt.Linear(3, 4), mt.Linear(4, 2, dtype=np.float64)), seed=6)
    mt.save_model(model, tmp_path / "m.npz")
    refuse_default_dtype_switch(monkeypatch)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.a.W.dtype == np.float32 and loaded.b.W.dtype == np.float64
    assert_same_state(loaded, model)


# ------------------------------------------------------------------ failures change nothing
def _forged_second_layer(tmp_path, dtype=np.float64):
    model = _built_in(lambda: mt.Sequential(mt.Linear(3, 4), mt.Linear(4, 2)), dtype)
    mt.save_model(model, tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    header["model"]["architecture"]["args"]["modules"]["__tuple__"][1]["__module__"]["args"][
        "in_features"] = "four"
    write_with_header(tmp_path / "forged.npz", header, weights(tmp_path / "m.npz"))
    return tmp_path / "forged.npz"


@pytest.mark.parametrize("default", [np.float32, np.float64])
def test_a_load_failing_midway_leaves_the_default_and_the_generator(tmp_path, monkeypatch, default):
    path = _forged_second_layer(tmp_path)
    monkeypatch.setattr(mt.dtypes, "_default_dtype", np.dtype(default))
    refuse_default_dtype_switch(monkeypatch)  # an AssertionError, not the ModelFileError, if touched
    before = mt.random.generator().bit_generator.state
    with pytest.raises(mt.ModelFileError, match=r"Linear\(\.\.\.\) failed"):
        mt.load_model(path)  # the first Linear was already built, in float64
    assert mt.get_default_dtype() == default
    assert mt.random.generator().bit_generator.state == before


def test_a_load_refused_by_its_budget_leaves_the_default(tmp_path, monkeypatch):
    model = _built_in(lambda: mt.Sequential(mt.Linear(3, 4), mt.Linear(4, 2)), np.float64)
    mt.save_model(model, tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    header["model"]["architecture"]["args"]["modules"]["__tuple__"][1]["__module__"]["args"].update(
        in_features=4000, out_features=4000)
    write_with_header(tmp_path / "forged.npz", header, weights(tmp_path / "m.npz"))
    refuse_default_dtype_switch(monkeypatch)
    with pytest.raises(mt.ModelFileError, match="implausibly large"):
        mt.load_model(tmp_path / "forged.npz")
    assert mt.get_default_dtype() == np.float32


def test_file_dtypes_cost_little_for_forged_names():
    deep = ".".join(["m"] * 50_000)
    state = {f"{deep}.{i}": np.zeros(1) for i in range(200)}
    dtypes = file_dtypes.FileDtypes(state)
    assert len(dtypes._under) <= MAX_DEPTH + 2  # each name counted under a bounded number of prefixes
    assert dtypes.under("") == np.float64 and dtypes.under("m.m") == np.float64


# ------------------------------------------------------------------ threads
def _probe_class(inside: threading.Event, done: threading.Event):
    class Probe(mt.Module):
        """Built during the rebuild: lets another thread act while the load is midway."""

        def __init__(self) -> None:
            super().__init__()
            inside.set()
            assert done.wait(10)

        def forward(self, x):
            return x

    return mt.register_module(Probe)


def test_another_thread_building_a_layer_during_a_load_gets_the_default(tmp_path, restore_registry):
    inside, done = threading.Event(), threading.Event()
    cls = _probe_class(inside, done)
    inside.set()
    done.set()
    model = _built_in(lambda: mt.Sequential(mt.Linear(3, 4), cls(), mt.Linear(4, 2)), np.float64)
    mt.save_model(model, tmp_path / "m.npz")
    inside.clear()
    done.clear()
    seen = []

    def build_meanwhile():
        assert inside.wait(10)
        seen.append(mt.Linear(2, 2).W.dtype)  # while the load is inside Probe's constructor
        seen.append(mt.get_default_dtype())
        done.set()

    other = threading.Thread(target=build_meanwhile)
    other.start()
    loaded = mt.load_model(tmp_path / "m.npz")
    other.join(10)
    assert seen == [np.float32, np.float32]  # the old global switch handed it float64 here
    assert_same_state(loaded, model)


def test_a_default_another_thread_sets_during_a_load_is_kept(tmp_path, restore_registry):
    inside, done = threading.Event(), threading.Event()
    cls = _probe_class(inside, done)
    inside.set()
    done.set()
    model = randomize_state(mt.Sequential(mt.Linear(3, 4), cls(), mt.Linear(4, 2)), seed=1)
    mt.save_model(model, tmp_path / "m.npz")
    inside.clear()
    done.clear()

    def switch_meanwhile():
        assert inside.wait(10)
        mt.set_default_dtype(np.float64)  # the user's own choice, made while the load runs
        done.set()

    other = threading.Thread(target=switch_meanwhile)
    other.start()
    try:
        loaded = mt.load_model(tmp_path / "m.npz")
        other.join(10)
        assert mt.get_default_dtype() == np.float64  # the old load put float32 back at its end
        assert set(_float_dtypes(loaded).values()) == {np.dtype(np.float32)}  # the file's, still
        assert_same_state(loaded, model)
    finally:
        mt.set_default_dtype(np.float32)
