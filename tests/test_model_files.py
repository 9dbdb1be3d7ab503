"""Model files: self-describing round trips for every module case, registration, strict refusals."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_helpers import (
    CASE_ARGS,
    CASE_IDS,
    assert_same_state,
    freeze_every_other,
    frozen_names,
    randomize_state,
    read_header,
    sample_input,
    weights,
    write_with_header,
)

import minitorch as mt
from minitorch.model_files import architecture, registry
from minitorch.model_files import format as fmt

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# ------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_every_case_round_trips_with_no_code(tmp_path, factory, shape, dtype):
    mt.set_default_dtype(dtype)
    model = randomize_state(factory(), seed=3).eval()
    mt.set_default_dtype(np.float32)  # the file, not the default, decides the dtype
    mt.save_model(model, tmp_path / "m.npz")
    before = mt.random.generator().bit_generator.state
    loaded = mt.load_model(tmp_path / "m.npz")
    assert mt.random.generator().bit_generator.state == before  # loading draws no random numbers
    assert architecture.describe(loaded) == architecture.describe(model)
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    assert not any(m.training for m in loaded.modules())
    assert_same_state(loaded, model)
    x = sample_input(shape, dtype)
    np.testing.assert_array_equal(loaded(x), model(x))


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_every_case_loads_into_a_built_model(tmp_path, factory, shape):
    model = randomize_state(factory(), seed=4)
    mt.save_model(model, tmp_path / "m.npz")
    target = factory()
    assert mt.load_model(target, tmp_path / "m.npz") is target
    assert_same_state(target, model)


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_frozen_parameters_stay_frozen_in_a_rebuilt_model(tmp_path, factory, shape):
    """A model file keeps which Parameters are frozen, as it keeps the training flags: a rebuilt
    model (load_model(path), load_checkpoint(path)) does not train what was frozen."""
    model = freeze_every_other(factory())
    mt.save_model(model, tmp_path / "m.npz")
    assert frozen_names(mt.load_model(tmp_path / "m.npz")) == frozen_names(model)
    mt.save_checkpoint(tmp_path / "c.npz", model=model)
    assert frozen_names(mt.load_checkpoint(tmp_path / "c.npz")["model"]) == frozen_names(model)
    target = factory()  # loading into a built model leaves its flags alone, as torch's load_state_dict
    mt.load_model(target, tmp_path / "m.npz")
    assert frozen_names(target) == []


def test_file_is_self_describing(tmp_path):
    model = mt.Sequential(mt.Linear(4, 3, bias=False), mt.ReLU())
    mt.save_model(model, tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    assert header["format"] == "minitorch" and header["format_version"] == 1
    assert header["library_version"] == mt.__version__ and header["kind"] == "model"
    children = header["model"]["architecture"]["args"]["modules"]["__tuple__"]
    assert children[0]["__module__"] == {
        "class": "Linear", "args": {"in_features": 4, "out_features": 3, "bias": False},
        "attributes": {"in_features": 4, "out_features": 3, "b": None},
    }
    assert header["model"]["modules"] == [["", "Sequential"], ["0", "Linear"], ["1", "ReLU"]]
    assert set(weights(tmp_path / "m.npz")) == {"0.W"}
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert archive[fmt.HEADER_KEY].dtype == np.uint8


def test_iris_example_file_loads_with_no_code(tmp_path):
    command = [sys.executable, str(EXAMPLES / "solve_iris.py"), "--epochs", "20", "--out", "iris.npz"]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "Model saved to iris.npz" in out and "Test Accuracy (from loaded model): " in out
    assert "mt.load_model(out)" in (EXAMPLES / "solve_iris.py").read_text()
    model = mt.load_model(tmp_path / "iris.npz")
    assert [type(m) for m in model] == [mt.Linear, mt.ReLU, mt.Linear] and model.training  # as saved


def test_training_flag_and_appended_children_are_kept(tmp_path):
    model = mt.Sequential(mt.Linear(2, 3))
    model.append(mt.Sigmoid())
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.training and [type(m) for m in loaded] == [mt.Linear, mt.Sigmoid]


def test_plain_npz_without_header_is_refused_by_both_forms(tmp_path):
    model = randomize_state(mt.Sequential(mt.Linear(3, 2)))
    np.savez(tmp_path / "plain.npz", **model.state_dict())
    target = mt.Sequential(mt.Linear(3, 2))
    before = randomize_state(mt.Sequential(mt.Linear(3, 2)))
    before.load_state_dict(target.state_dict())
    for call in (lambda: mt.load_model(target, tmp_path / "plain.npz"),
                 lambda: mt.load_model(tmp_path / "plain.npz")):
        with pytest.raises(mt.ModelFileError, match="no '__minitorch__' header"):
            call()
    assert_same_state(target, before)


def test_architecture_false_writes_weights_for_load_into(tmp_path):
    class Unregistered(mt.Module):
        def __init__(self):
            super().__init__()
            self.fc = mt.Linear(2, 2)

    model = Unregistered()
    with pytest.raises(TypeError, match=r"Unregistered is not registered.*register_module"):
        mt.save_model(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    mt.save_model(model, tmp_path / "m.npz", architecture=False)
    with pytest.raises(mt.ModelFileError, match="weights only"):
        mt.load_model(tmp_path / "m.npz")
    target = Unregistered()
    mt.load_model(target, tmp_path / "m.npz")
    assert_same_state(target, model)


# ---------------------------------------------------------------- constructor arguments
def test_constructor_arguments_are_recorded_once_with_defaults():
    class Wide(mt.Linear):
        def __init__(self, width: int, *, scale: float = 2.0):
            super().__init__(3, width)  # the outer call is what rebuilds Wide, not this one
            self.scale = scale

    assert Wide(5)._init_args == {"width": 5, "scale": 2.0}
    assert mt.Linear(3, 2)._init_args == {"in_features": 3, "out_features": 2, "bias": True}
    with pytest.raises(TypeError, match="out_features"):
        mt.Linear(3)  # Python's own message for a bad call


def test_user_modules_register_and_rebuild(tmp_path, restore_registry):
    @mt.register_module
    class Block(mt.Module):
        def __init__(self, sizes: tuple, act: mt.Module, *extra: int, name: str = "b", **opts: float):
            super().__init__()
            self.layers = mt.Sequential(*(mt.Linear(a, b) for a, b in itertools.pairwise(sizes)))
            self.act = act
            self.info = (list(extra), name, opts)

        def forward(self, x):
            return self.act(self.layers(x))

    @mt.register_module(name="Custom.Net")
    class Net(mt.Module):
        def __init__(self, block: Block, hidden: list):
            super().__init__()
            self.block, self.head = block, mt.Linear(hidden[-1], 2)

        def forward(self, x):
            return self.head(self.block(x))

    model = Net(Block((4, 6, 5), mt.Sigmoid(), 7, 8, name="x", alpha=0.5, beta=float("inf")), [5])
    randomize_state(model)
    mt.save_model(model, tmp_path / "net.npz")
    loaded = mt.load_model(tmp_path / "net.npz")
    assert type(loaded) is Net and type(loaded.block.act) is mt.Sigmoid
    assert loaded.block.info == ([7, 8], "x", {"alpha": 0.5, "beta": float("inf")})
    assert loaded.block._init_args["sizes"] == (4, 6, 5)  # a tuple stays a tuple
    assert_same_state(loaded, model)
    x = sample_input((3, 4))
    np.testing.assert_array_equal(loaded(x), model(x))
    assert read_header(tmp_path / "net.npz")["model"]["architecture"]["class"] == "Custom.Net"

    registry._registered.pop("Block")
    with pytest.raises(mt.ModelFileError, match=r"unknown module class 'Block'.*register_module"):
        mt.load_model(tmp_path / "net.npz")


def test_registration_conflicts_and_repeats(restore_registry):
    class Linear(mt.Module):
        pass

    with pytest.raises(ValueError, match="'Linear' is already taken by minitorch"):
        mt.register_module(Linear)
    assert mt.register_module(Linear, name="MyLinear") is Linear
    assert mt.register_module(Linear, name="MyLinear") is Linear  # the same class again: fine

    class Other(mt.Module):
        pass

    with pytest.raises(ValueError, match="'MyLinear' is already taken"):
        mt.register_module(Other, name="MyLinear")

    def define():
        class Cell(mt.Module):  # the same class, defined again (a notebook cell run twice)
            pass
        return Cell

    first, second = define(), define()
    mt.register_module(first)
    assert mt.register_module(second) is second and registry.known_classes()["Cell"] is second
    with pytest.raises(TypeError, match="Module subclass"):
        mt.register_module(int)


def test_builtin_class_names_are_unique():
    seen = {}
    stack = [mt.Module]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("minitorch."):
                assert seen.setdefault(sub.__name__, sub) is sub, sub.__name__


def test_argument_that_json_cannot_hold_is_named(tmp_path, restore_registry):
    @mt.register_module
    class Scaled(mt.Module):
        def __init__(self, scale: np.ndarray):
            super().__init__()
            self.scale = scale

    with pytest.raises(TypeError, match=r"model\.1 \(Scaled\) argument 'scale'.*ndarray"):
        mt.save_model(mt.Sequential(mt.ReLU(), Scaled(np.ones(3))), tmp_path / "m.npz")


def test_model_changed_after_construction_round_trips(tmp_path, restore_registry):
    @mt.register_module
    class Pair(mt.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = mt.Linear(2, 2), mt.ReLU()

    model = Pair()
    model.second = mt.Sigmoid()
    mt.save_model(model, tmp_path / "m.npz")
    assert type(mt.load_model(tmp_path / "m.npz").second) is mt.Sigmoid
    header = read_header(tmp_path / "m.npz")
    header["model"]["modules"][2][1] = "ReLU"  # a tree the architecture does not build
    write_with_header(tmp_path / "m.npz", header, weights(tmp_path / "m.npz"))
    with pytest.raises(mt.ModelFileError, match="changed after construction"):
        mt.load_model(tmp_path / "m.npz")
