"""Fuzzing the loaders: damaged and rewritten real files end in ModelFileError or a correct load.

Never another exception type, never a half-changed model, optimizer or random generator.
"""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_helpers import StandInMomentum, randomize_state

import minitorch as mt
from minitorch.model_files import format as fmt

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build():
    return mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Flatten(), mt.Linear(4, 2, bias=False), mt.Sigmoid())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bytes, header and arrays of a real model file and a real checkpoint."""
    folder = tmp_path_factory.mktemp("fuzz")
    mt.manual_seed(0)
    model = randomize_state(build(), seed=2)
    model.note, model[1].tag = "fuzzed", (1, [2.5, None])  # attributes added after construction
    opt = StandInMomentum(model.parameters())
    for p in model.parameters():
        p.grad = np.ones(p.shape, p.dtype)
    opt.step()
    mt.save_model(model, folder / "model.npz")
    mt.save_checkpoint(folder / "ckpt.npz", model=model, optimizer=opt, epoch=3, note=[1, (2, 3)])
    result = {"folder": folder, "state": model.state_dict()}
    for kind in ("model", "ckpt"):
        path = folder / f"{kind}.npz"
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        header = json.loads(arrays.pop(fmt.HEADER_KEY).tobytes())
        result[kind] = (path.read_bytes(), header, arrays)
    return result


def check_model_file(path, state):
    """Both load forms: ModelFileError with nothing changed, or exactly the saved weights."""
    try:
        loaded = mt.load_model(path)
    except mt.ModelFileError:
        pass
    else:
        assert loaded.state_dict().keys() == state.keys()
        for name, value in loaded.state_dict().items():
            np.testing.assert_array_equal(value, state[name])
    target = randomize_state(build(), seed=7)
    before = target.state_dict()
    try:
        mt.load_model(target, path)
    except mt.ModelFileError:
        expected = before
    else:
        expected = state
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, expected[name])


def check_checkpoint(path, state):
    model = randomize_state(build(), seed=8)
    opt = StandInMomentum(model.parameters())
    before = (model.state_dict(), opt.state_dict(), mt.random.generator().bit_generator.state)
    try:
        ckpt = mt.load_checkpoint(path, model=model, optimizer=opt)
    except mt.ModelFileError:
        expected = before[0]
        assert opt.state_dict() == {"state": {}, "param_groups": before[1]["param_groups"]}
        assert mt.random.generator().bit_generator.state == before[2]
    else:
        expected = state
        assert ckpt["model"] is model
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, expected[name])


def write(files, name, data: bytes):
    path = files["folder"] / name
    path.write_bytes(data)
    return path


@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files(files, cut):
    for kind, check in (("model", check_model_file), ("ckpt", check_checkpoint)):
        data = files[kind][0]
        path = write(files, f"cut-{kind}.npz", data[: int(cut * len(data))])
        check(path, files["state"])


@FUZZ
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255), count=st.integers(1, 3))
def test_flipped_bytes(files, where, mask, count):
    for kind, check in (("model", check_model_file), ("ckpt", check_checkpoint)):
        data = bytearray(files[kind][0])
        for i in range(count):  # a few nearby flips
            data[(int(where * len(data)) + 37 * i) % len(data)] ^= mask
        check(write(files, f"flip-{kind}.npz", bytes(data)), files["state"])


HUGE = st.sampled_from([2**31, 2**63, -(2**63), 10**30, 10**400, 1e308, -1e308, 5e-324])
SCALARS = (st.none() | st.booleans() | st.integers(-5, 10) | HUGE
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["__tuple__", "__dict__", "__module__", "__array__", "class", "args", "children",
                         "attributes", "added", "removed", "ties", "modes", "x"]),
        inner, max_size=2),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    """Every location in the JSON tree: (path to the container, key or index)."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _rewrite(header, data):
    header = copy.deepcopy(header)
    path = data.draw(st.sampled_from(list(_paths(header))))
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    op = data.draw(st.sampled_from(["drop", "insert", "replace", "replace"]))
    if op == "drop":
        del parent[path[-1]]
    elif op == "insert" and isinstance(parent, list):
        parent.insert(path[-1], data.draw(JSON))
    elif op == "insert":
        parent[data.draw(st.text(max_size=8))] = data.draw(JSON)
    else:
        parent[path[-1]] = data.draw(JSON)
    return header


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rewritten_json(files, data):
    for kind, check in (("model", check_model_file), ("ckpt", check_checkpoint)):
        _, header, arrays = files[kind]
        header = _rewrite(header, data)
        buffer = io.BytesIO()
        fmt.write_npz(buffer, {fmt.HEADER_KEY: fmt.header_array(header), **arrays})
        check(write(files, f"json-{kind}.npz", buffer.getvalue()), files["state"])


@FUZZ
@given(entry=st.integers(0, 50), field=st.sampled_from([20, 24, 42]), value=st.integers(0, 2**32 - 1)
       | st.integers(0, 4096))
def test_forged_directory_fields(files, entry, field, value):
    """Rewrite one entry's compressed size, size or offset in the zip's central directory."""
    for kind, check in (("model", check_model_file), ("ckpt", check_checkpoint)):
        data = bytearray(files[kind][0])
        starts = [i for i in range(len(data) - 4) if data[i:i + 4] == b"PK\x01\x02"]
        at = starts[entry % len(starts)] + field
        data[at:at + 4] = value.to_bytes(4, "little")
        check(write(files, f"dir-{kind}.npz", bytes(data)), files["state"])
