"""Model files under attack or accident: forged, damaged and pickled files, interrupted saves.

Every bad file ends in ModelFileError with the model left exactly as it was.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from model_helpers import randomize_state, read_header, weights, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt


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
        "compressed": ({}, zipfile.ZIP_DEFLATED, "is compressed; expected stored arrays"),  # not the path
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


@pytest.mark.parametrize("section", [None, 0, "x", [], True])
def test_a_model_section_of_the_wrong_type_is_a_model_file_error(tmp_path, section):
    model, path = _model_and_file(tmp_path)
    header = read_header(path)
    header["model"] = section  # {"model": null} escaped as a TypeError
    write_with_header(tmp_path / "bad.npz", header, weights(path))
    bad = tmp_path / "bad.npz"
    for call in (lambda: mt.load_model(bad), lambda: mt.load_model(model, bad)):
        with pytest.raises(mt.ModelFileError, match="model: expected dict"):
            call()
