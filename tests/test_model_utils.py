"""save_model / load_model: round trips, atomic writes, checked loads, no pickle ever executed."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import minitorch as mt


def make_model():
    return mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3))


def snapshot(model):
    return {name: value.copy() for name, value in model.state_dict().items()}


def assert_unchanged(model, before):
    after = model.state_dict()
    assert list(after) == list(before)
    for name in before:
        assert after[name].tobytes() == before[name].tobytes(), name


def test_round_trip(tmp_path):
    model, other = make_model(), make_model()
    path = tmp_path / "model.npz"
    mt.save_model(model, path)
    assert mt.load_model(other, path) is other
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(other(x), model(x))


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    original = make_model()
    mt.save_model(original, path)
    good_bytes = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk pulled out mid-save")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="mid-save"):
        mt.save_model(make_model(), path)
    assert path.read_bytes() == good_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left behind


@pytest.mark.parametrize(
    "other, message, weights_message",  # the architecture named first; the weights alone after
    [
        (lambda: mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 2)),
         r"modules\[2\]\.args\.out_features: the file says 3, the model has 2",
         r"'2.W' expected shape \(5, 2\)"),
        (lambda: mt.Sequential(mt.Linear(4, 5)), "unexpected", "unexpected"),
        (lambda: mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3), mt.Linear(3, 1)),
         "the file lists 4 modules, the model has 5", "missing"),
    ],
)
def test_mismatched_file_is_refused_and_model_untouched(tmp_path, other, message, weights_message):
    path = tmp_path / "model.npz"
    mt.save_model(make_model(), path)
    target = other()
    before = snapshot(target)
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_model(target, path)
    assert_unchanged(target, before)
    with pytest.raises(mt.ModelFileError, match=weights_message):
        mt.load_model(target, path, architecture=False)
    assert_unchanged(target, before)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip"])
def test_damaged_file_is_refused_and_model_untouched(tmp_path, damage):
    path = tmp_path / "model.npz"
    mt.save_model(make_model(), path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a model file")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        flipped = bytearray(data)
        flipped[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(flipped))
    target = make_model()
    before = snapshot(target)
    with pytest.raises(mt.ModelFileError):
        mt.load_model(target, path)
    assert_unchanged(target, before)


class _Marker:
    """Unpickling this creates a file: proof that a payload ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_payload_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([_Marker(str(marker))], dtype=object)
    path = tmp_path / "evil.npz"
    buffer = io.BytesIO()
    np.save(buffer, payload, allow_pickle=True)
    with zipfile.ZipFile(path, "w") as archive:  # an .npz whose '0.W' entry is a pickled object array
        archive.writestr("0.W.npy", buffer.getvalue())
    target = make_model()
    before = snapshot(target)
    with pytest.raises(mt.ModelFileError):
        mt.load_model(target, path)
    assert not marker.exists()
    assert_unchanged(target, before)

    raw = tmp_path / "evil.pkl"  # a bare pickle file, not an archive at all
    raw.write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(mt.ModelFileError):
        mt.load_model(target, raw)
    assert not marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mt.load_model(make_model(), tmp_path / "nope.npz")


def test_model_file_error_is_a_value_error():
    assert issubclass(mt.ModelFileError, ValueError)
