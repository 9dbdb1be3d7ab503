"""Model files: self-describing round trips for every module case, registration, strict refusals."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from model_helpers import CASE_ARGS, CASE_IDS, assert_same_state, randomize_state, sample_input

import minitorch as mt
from minitorch.model_files import format as fmt
from minitorch.model_files import registry

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def restore_registry():
    saved = dict(registry._registered)
    yield
    registry._registered.clear()
    registry._registered.update(saved)


def read_header(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive[fmt.HEADER_KEY].tobytes())


def write_with_header(path, header: dict, arrays: dict) -> None:
    fmt.atomic_write_npz(path, {fmt.HEADER_KEY: fmt.header_array(header), **arrays})


def weights(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k != fmt.HEADER_KEY}


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
    assert registry.describe(loaded) == registry.describe(model)
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


def test_file_is_self_describing(tmp_path):
    model = mt.Sequential(mt.Linear(4, 3, bias=False), mt.ReLU())
    mt.save_model(model, tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    assert header["format"] == "minitorch" and header["format_version"] == 1
    assert header["library_version"] == mt.__version__ and header["kind"] == "model"
    children = header["model"]["architecture"]["args"]["modules"]["__tuple__"]
    assert children[0]["__module__"] == {
        "class": "Linear", "args": {"in_features": 4, "out_features": 3, "bias": False},
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


def test_old_weights_only_files_still_load_into_a_model(tmp_path):
    model = randomize_state(mt.Sequential(mt.Linear(3, 2)))
    np.savez(tmp_path / "old.npz", **model.state_dict())
    target = mt.Sequential(mt.Linear(3, 2))
    mt.load_model(target, tmp_path / "old.npz")
    assert_same_state(target, model)
    with pytest.raises(mt.ModelFileError, match="weights only"):
        mt.load_model(tmp_path / "old.npz")


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


def test_model_changed_after_construction_is_caught_at_load(tmp_path, restore_registry):
    @mt.register_module
    class Pair(mt.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = mt.Linear(2, 2), mt.ReLU()

    model = Pair()
    model.second = mt.Sigmoid()
    mt.save_model(model, tmp_path / "m.npz")
    with pytest.raises(mt.ModelFileError, match="changed after construction"):
        mt.load_model(tmp_path / "m.npz")


def test_forged_huge_sizes_are_refused_before_allocating(tmp_path):
    mt.save_model(mt.Sequential(mt.Linear(4, 3)), tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    layer = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    layer["args"]["out_features"] = 10**9  # 16 GB of weights if anyone allocated them
    write_with_header(tmp_path / "m.npz", header, weights(tmp_path / "m.npz"))
    with pytest.raises(mt.ModelFileError, match="implausibly large"):
        mt.load_model(tmp_path / "m.npz")


def test_absurdly_deep_nesting_is_refused(tmp_path):
    _, path = _model_and_file(tmp_path)
    # deep for the rebuild's recursion, then deep for the JSON parser itself
    for depth, message in ((100, "nested deeper than 64"), (5000, "not valid JSON")):
        node = '{"class": "ReLU", "args": {}}'
        wrap = '{"class": "Sequential", "args": {"modules": {"__tuple__": [{"__module__": @}]}}}'
        for _ in range(depth):
            node = wrap.replace("@", node)
        header = read_header(path)
        header["model"]["architecture"] = "@"
        text = json.dumps(header).replace('"@"', node)
        raw = np.frombuffer(text.encode(), np.uint8)
        fmt.atomic_write_npz(tmp_path / "deep.npz", {fmt.HEADER_KEY: raw, **weights(path)})
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(tmp_path / "deep.npz")


# --------------------------------------------------------------------------- refusals
def _model_and_file(tmp_path):
    model = randomize_state(mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2)), seed=5)
    mt.save_model(model, tmp_path / "m.npz")
    return model, tmp_path / "m.npz"


def _mutations():
    def header(edit):
        def apply(h, w):
            edit(h)
            return h, w
        return apply

    def arrays(edit):
        def apply(h, w):
            edit(w)
            return h, w
        return apply

    return {
        "unsupported-version": (header(lambda h: h.update(format_version=2)), "unsupported format_version"),
        "not-minitorch": (header(lambda h: h.update(format="other")), "not a MiniTorch file"),
        "unknown-header-key": (header(lambda h: h.update(extra=1)), "unknown keys"),
        "missing-section": (header(lambda h: h.pop("model")), "missing keys"),
        "kind": (header(lambda h: h.update(kind="checkpoint")), "expected a model file"),
        "training-type": (header(lambda h: h["model"].update(training="yes")), "expected bool"),
        "unknown-class": (header(lambda h: h["model"]["architecture"].update({"class": "os.system"})),
                          "unknown module class 'os.system'"),
        "bad-tag": (header(lambda h: h["model"]["architecture"]["args"].update(modules={"__x__": 1})),
                    "unexpected JSON object"),
        "unknown-key": (arrays(lambda w: w.update(extra=np.zeros(2))), "unexpected.*extra"),
        "missing-key": (arrays(lambda w: w.pop("0.b")), "missing.*0.b"),
        "shape": (arrays(lambda w: w.update({"0.W": np.zeros((4, 3))})), "expected shape"),
        "dtype-complex": (arrays(lambda w: w.update({"0.b": np.zeros(4, complex)})), "numeric array"),
        "dtype-str": (arrays(lambda w: w.update({"0.b": np.array(list("abcd"))})), "numeric array"),
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_bad_files_raise_model_file_error_and_change_nothing(tmp_path, name):
    mutate, message = _mutations()[name]
    _, path = _model_and_file(tmp_path)
    header, arrays = mutate(read_header(path), weights(path))
    bad = tmp_path / "bad.npz"
    if name.startswith("dtype"):  # our writer refuses non-numeric arrays: write it the plain way
        np.savez(bad, **{fmt.HEADER_KEY: fmt.header_array(header)}, **arrays)
    else:
        write_with_header(bad, header, arrays)
    target = randomize_state(mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2)), seed=9)
    snapshot = target.state_dict()
    calls = [lambda: mt.load_model(bad), lambda: mt.load_model(target, bad)]
    if name in ("unknown-class", "bad-tag"):
        calls.pop()  # loading into a built model reads the weights, not the architecture
    for call in calls:
        with pytest.raises(mt.ModelFileError, match=message) as err:
            call()
        assert str(bad) in str(err.value)
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, snapshot[key])


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable model file"),
    (b"PK\x03\x04 garbage", "not a readable model file"),
    (pickle.dumps({"0.W": 1}), "not a readable model file"),
])
def test_non_archives_are_refused(tmp_path, content, message):
    (tmp_path / "m.npz").write_bytes(content)
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_model(tmp_path / "m.npz")


def test_header_must_be_utf8_json_bytes(tmp_path):
    model, path = _model_and_file(tmp_path)
    for raw, message in [
        (np.frombuffer(b"{not json", np.uint8), "not valid JSON"),
        (np.frombuffer(b"\xff\xfe", np.uint8), "not valid JSON"),
        (np.frombuffer(b'{"a": 1, "a": 2}', np.uint8), "duplicate keys"),
        (np.frombuffer(b'{"format": NaN}', np.uint8), "NaN is not allowed"),
        (np.zeros(3, np.int32), "1-D uint8 array"),
        (np.frombuffer(b"[1, 2]", np.uint8), "expected dict"),
    ]:
        fmt.atomic_write_npz(path, {fmt.HEADER_KEY: raw, **weights(tmp_path / "m.npz")})
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(model, path)


def test_archive_level_forgeries(tmp_path):
    model, path = _model_and_file(tmp_path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    cases = {
        "compressed": ({}, zipfile.ZIP_DEFLATED, "compressed"),
        "not-npy": ({"notes.txt": b"hello"}, zipfile.ZIP_STORED, "unexpected entry 'notes.txt'"),
        "duplicate": ({"0.b.npy": members["0.b.npy"]}, zipfile.ZIP_STORED, "appears twice"),
    }
    for name, (extra, compression, message) in cases.items():
        forged = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(forged, "w", compression=compression) as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we forge
            for member, data in [*members.items(), *extra.items()]:
                archive.writestr(member, data)
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(model, forged)


class _Marker:
    """Unpickling this creates a file: proof that a payload ran."""

    path = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_payloads_never_run(tmp_path):
    marker = tmp_path / "pwned"
    _Marker.path = str(marker)
    payload = np.array([_Marker()], dtype=object)
    model, path = _model_and_file(tmp_path)
    np.save(tmp_path / "evil.npy", payload, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", **{**weights(path), "0.W": payload})
    np.savez(tmp_path / "evil-header.npz", **{fmt.HEADER_KEY: payload})
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Marker()))
    for name in ("evil.npy", "evil.npz", "evil-header.npz", "evil.pkl"):
        for call in (mt.load_model, lambda p: mt.load_model(model, p), mt.load_checkpoint):
            with pytest.raises(mt.ModelFileError):
                call(tmp_path / name)
    assert not marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mt.load_model(tmp_path / "nope.npz")


def test_load_model_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="file path"):
        mt.load_model(mt.Linear(2, 2))
    with pytest.raises(TypeError, match="Module to load into"):
        mt.load_model("a.npz", tmp_path / "b.npz")


# ------------------------------------------------------------------------ atomic saving
def _interrupt(monkeypatch, target, name):
    def fail(*args, **kwargs):
        raise OSError("disk unplugged")

    monkeypatch.setattr(target, name, fail)


@pytest.mark.parametrize("where", ["write_array", "fsync", "replace"])
def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch, where):
    model, path = _model_and_file(tmp_path)
    before = path.read_bytes()
    if where == "write_array":  # fail after the header is written, mid-archive
        real = np.lib.format.write_array
        calls = []

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real(*args, **kwargs)

        monkeypatch.setattr(np.lib.format, "write_array", flaky)
    else:
        _interrupt(monkeypatch, os, where)
    with pytest.raises(OSError):
        mt.save_model(randomize_state(model, seed=11), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
