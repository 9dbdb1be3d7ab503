"""Forged and damaged files of real models, each refused cheaply and without touching anything.

Real files of five models (MLP, CNN, LSTM, transformer layer, and a model with a ``replaced``
section), each as a model file and as a checkpoint with Adam's state and a StepLR's, are mutated by
hypothesis: truncated at every structural boundary, bytes flipped in the zip records and the .npy
headers, .npy headers rewritten (huge, negative, extra sizes; wrong dtype strings), JSON numbers set
huge or negative, lists duplicated or reordered, wrong dtype names, deep or enormous JSON, zip
entries duplicated, reordered, compressed (a zip bomb), multiplied or named ``../x`` or ``/x``.

Every load, into a model and optimizer or rebuilding one, must either give exactly the file's
weights or raise ``ModelFileError`` naming the file; either way its peak traced memory is a small
multiple of the file's size over the honest load's, it takes little time, and on refusal the model,
optimizer, scheduler, random generator and default dtype are bit for bit as before.
"""

from __future__ import annotations

import copy
import errno
import functools
import io
import json
import os
import stat
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from model_helpers import randomize_state

import minitorch as mt
from minitorch.lr_schedulers_core import StepLR
from minitorch.model_files import format as fmt

# no shrinking: a forged file's failure shows as it is; shrinking one took minutes
FUZZ = settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _replaced():
    first = mt.Linear(3, 4)
    first.W = mt.Parameter(np.zeros((3, 5), np.float32))  # a replaced Parameter: the file lists it
    first.b = mt.Parameter(np.zeros(5, np.float32))
    return mt.Sequential(first, mt.ReLU(), mt.Linear(5, 2))


MODELS = {
    "mlp": lambda: mt.Sequential(mt.Linear(6, 8), mt.LayerNorm(8), mt.ReLU(), mt.Linear(8, 8),
                                 mt.BatchNorm1d(8), mt.Linear(8, 3)),
    "cnn": lambda: mt.Sequential(mt.Conv2d(2, 4, 3, padding=1), mt.BatchNorm2d(4), mt.ReLU(),
                                 mt.MaxPool2d(2), mt.Flatten(), mt.Linear(64, 3)),
    "lstm": lambda: mt.LSTM(3, 5, num_layers=2),
    "transformer": lambda: mt.TransformerEncoderLayer(8, 2, 16),
    "replaced": _replaced,
}


def _objects(name, seed):
    """A model of ``name`` with random state, an Adam with state after two steps, a StepLR."""
    mt.manual_seed(seed)
    model = randomize_state(MODELS[name](), seed=seed)
    opt = mt.Adam(model.parameters(), lr=0.01)
    sched = StepLR(opt, step_size=2)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        for p in model.parameters():
            p.grad = rng.standard_normal(p.shape).astype(p.dtype)
        opt.step()
        sched.step()
    return model, opt, sched


class _Files(dict):
    def __repr__(self) -> str:  # hypothesis prints a failing example's arguments
        return "<the honest files>"


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """Per (model, kind): the file's bytes, the saved state and the honest loads' peak memory."""
    folder = tmp_path_factory.mktemp("forged")
    files = _Files()
    for name in MODELS:
        model, opt, sched = _objects(name, seed=1)
        state = model.state_dict()
        mt.save_model(model, folder / f"{name}-model.npz")
        mt.save_checkpoint(folder / f"{name}-ckpt.npz", model=model, optimizer=opt, scheduler=sched,
                           epoch=4, note={"run": [1, 2.5, "x"]})
        for kind in ("model", "ckpt"):
            path = folder / f"{name}-{kind}.npz"
            peaks = {how: _measured(functools.partial(_load, how, kind, name, path))[1]
                     for how in ("rebuild", "into")}
            files[name, kind] = {"data": path.read_bytes(), "state": state, "peaks": peaks}
    files["folder"] = folder
    return files


def _load(how, kind, name, path, targets=None):
    if kind == "model":
        return mt.load_model(path) if how == "rebuild" else mt.load_model(targets[0], path)
    if how == "rebuild":
        return mt.load_checkpoint(path)["model"]
    model, opt, sched = targets if targets is not None else _objects(name, seed=2)
    return mt.load_checkpoint(path, model, optimizer=opt, scheduler=sched)["model"]


def _cpu_seconds(call) -> float:
    """The least CPU time (this process's, ``time.process_time``) of three calls of ``call``: the
    work itself, whatever else the machine runs (wall-clock time grows with the machine's load)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        try:
            call()
        except mt.ModelFileError:
            pass
        best = min(best, time.process_time() - started)
    return best


def _measured(call):
    """(call's result or its exception, peak traced bytes, CPU seconds: the process's, not the
    wall clock's, so a loaded machine does not make a cheap refusal look dear)."""
    started = time.process_time()
    tracemalloc.start()
    try:
        result = call()
    except Exception as err:  # judged by the caller
        result = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak, time.process_time() - started


def _snapshot(model, opt, sched):
    params = [(name, id(p), p.requires_grad) for name, p in model.named_parameters()]
    modes = [m.training for m in model.modules()]
    return (params, modes, model.state_dict(), copy.deepcopy(opt.state_dict()),
            copy.deepcopy(sched.state_dict()), mt.random.generator().bit_generator.state,
            mt.get_default_dtype())


def _assert_same(before, after):
    assert before[0] == after[0] and before[1] == after[1]
    for (name, a), (_, b) in zip(before[2].items(), after[2].items(), strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name  # bit for bit, NaNs too
    _assert_equal_trees(before[3], after[3])
    _assert_equal_trees(before[4], after[4])
    assert before[5] == after[5] and before[6] == after[6]


def _assert_equal_trees(a, b):
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_equal_trees(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_equal_trees(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    else:
        assert a == b or (a != a and b != b)  # NaN


def _file_arrays(path, prefix):
    with np.load(path, allow_pickle=False) as archive:
        return {k[len(prefix):]: archive[k] for k in archive.files if k.startswith(prefix)}


def check(honest, name, kind, data, label, must_fail=False):
    """Load ``data`` both ways: a clean refusal or exactly the file's weights, cheaply."""
    path = honest["folder"] / f"{label}.npz"
    path.write_bytes(data)
    record = honest[name, kind]
    for how in ("rebuild", "into"):
        targets = _objects(name, seed=3)
        before = _snapshot(*targets)
        result, peak, seconds = _measured(functools.partial(_load, how, kind, name, path, targets))
        bound = 2 * record["peaks"][how] + 32 * len(data) + (1 << 20)
        assert peak <= bound, f"{label} ({how}): peak {peak >> 10} KiB > {bound >> 10} KiB"
        limit = 10 + len(data) / 50_000  # CPU seconds: linear work under tracemalloc is far less
        assert seconds < limit, f"{label} ({how}): {seconds:.1f} CPU s for {len(data) >> 10} KiB"
        if isinstance(result, mt.ModelFileError):
            assert str(path) in str(result) and len(str(result)) > len(str(path)) + 15, str(result)
            _assert_same(before, _snapshot(*targets))
            continue
        if isinstance(result, Exception):
            raise AssertionError(f"{label} ({how}): {type(result).__name__}: {result}") from result
        assert must_fail not in (True, how), f"{label} ({how}) loaded"
        saved = _file_arrays(path, "model/" if kind == "ckpt" else "")
        loaded = result.state_dict()
        assert sorted(loaded) == sorted(k for k in saved if k != fmt.HEADER_KEY)
        for key, value in loaded.items():
            np.testing.assert_array_equal(value, saved[key], err_msg=f"{label} ({how}) {key}")


CASES = st.sampled_from([(name, kind) for name in MODELS for kind in ("model", "ckpt")])


# ------------------------------------------------------------------------ the archive's bytes
def _records(data):
    """Offsets of every zip record and .npy magic: the file's structural boundaries."""
    found = []
    for magic in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07", b"\x93NUMPY"):
        at = data.find(magic)
        while at != -1:
            found.append((at, magic))
            at = data.find(magic, at + 1)
    return sorted(found)


@FUZZ
@given(case=CASES, data=st.data())
def test_truncated_at_structural_boundaries(honest, case, data):
    raw = honest[case]["data"]
    at, _ = data.draw(st.sampled_from(_records(raw)))
    # a cut past the last record's end would be the whole file: at most one byte short of it
    cut = min(len(raw) - 1, max(0, at + data.draw(st.sampled_from([-1, 0, 1, 4, 12, 30, 46]))))
    check(honest, *case, raw[:cut], "cut", must_fail=True)


_FIELDS = {b"PK\x03\x04": 30, b"PK\x01\x02": 46, b"PK\x05\x06": 22, b"PK\x06\x06": 56,
           b"PK\x06\x07": 20, b"\x93NUMPY": 10}


@FUZZ
@given(case=CASES, data=st.data(), mask=st.integers(1, 255))
def test_flipped_bytes_in_records_and_length_fields(honest, case, data, mask):
    raw = bytearray(honest[case]["data"])
    at, magic = data.draw(st.sampled_from(_records(bytes(raw))))
    raw[at + data.draw(st.integers(0, _FIELDS[magic] - 1))] ^= mask
    check(honest, *case, bytes(raw), "flip")


# ----------------------------------------------------------------- archives written anew
def _members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _archive(members, compress=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we forge
        for name, body in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            archive.writestr(info, body)
    return buffer.getvalue()


def _npy_with(body, descr=None, shape=None, fortran=None):
    """The member ``body`` with its .npy header's dtype, shape or order replaced."""
    stream = io.BytesIO(body)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    old = read[np.lib.format.read_magic(stream)](stream)
    header = {"descr": np.lib.format.dtype_to_descr(old[2]) if descr is None else descr,
              "fortran_order": old[1] if fortran is None else fortran,
              "shape": old[0] if shape is None else shape}
    text = repr(header).encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + stream.read()


HUGE = [2**31, 2**62, 2**63 - 1, 2**64 + 1, 10**30, -1, -(2**63)]
DESCRS = ["<U4", "|O", "<M8[s]", "<m8[D]", "<c16", "|V8", "|S4", "|b1", "<f2", ">f4", ">f8", "<i8",
          "<u1", [("a", "<f4")], "<f16"]


@FUZZ
@given(case=CASES, data=st.data())
def test_rewritten_npy_headers(honest, case, data):
    members = _members(honest[case]["data"])
    index = data.draw(st.integers(0, len(members) - 1))
    name, body = members[index]
    original = np.lib.format.read_array(io.BytesIO(body), allow_pickle=False)
    edit = data.draw(st.sampled_from(["shape", "descr", "fortran"]))
    if edit == "shape":
        sizes = st.sampled_from(HUGE) | st.integers(0, 64)
        shape = tuple(data.draw(st.lists(sizes, min_size=0, max_size=4)))
        if shape == original.shape:
            return
        body = _npy_with(body, shape=shape)
    elif edit == "descr":
        body = _npy_with(body, descr=data.draw(st.sampled_from(DESCRS)))
    else:
        body = _npy_with(body, fortran=not original.flags.f_contiguous or original.ndim > 1)
    members[index] = (name, body)
    check(honest, *case, _archive(members), f"npy-{edit}")


def _zip_bomb():
    """A member that inflates to 64 MiB of zeros (~64 KiB stored): it must never be inflated."""
    return _npy_with(_npy_bytes(np.zeros(0, np.uint8)), shape=(64 << 20,)) + bytes(64 << 20)


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.slow  # over 5 s (make test-slow)
@FUZZ
@given(case=CASES, data=st.data())
def test_rewritten_archives(honest, case, data):
    members = _members(honest[case]["data"])
    names = [name for name, _ in members]
    edit = data.draw(st.sampled_from(["duplicate", "reorder", "compress", "bomb", "many", "path", "drop"]))
    compress, must_fail = (), edit not in ("reorder", "compress")
    if edit == "duplicate":
        members.append(members[data.draw(st.integers(0, len(members) - 1))])
    elif edit == "reorder":
        members = data.draw(st.permutations(members))
    elif edit == "compress":
        compress = {data.draw(st.sampled_from(names))}
        must_fail = True
    elif edit == "bomb":
        prefix = "model/" if case[1] == "ckpt" else ""
        members.append((f"{prefix}{data.draw(st.sampled_from(['0.W', 'bomb', names[-1][:-4]]))}.npy",
                        _zip_bomb()))
        compress = {members[-1][0]}
    elif edit == "many":
        members += [(f"x{i}.npy", _npy_bytes(np.zeros(0, np.uint8))) for i in range(3000)]
    elif edit == "path":
        index = data.draw(st.integers(0, len(members) - 1))
        bad = data.draw(st.sampled_from(["../", "/", "../../", "model/../", "C:\\", "./", "a/../"]))
        members[index] = (bad + members[index][0], members[index][1])
    else:
        members.pop(data.draw(st.integers(0, len(members) - 1)))
    check(honest, *case, _archive(members, compress), f"zip-{edit}", must_fail=must_fail)


# ------------------------------------------------------------------------------ the header
def _header_and_members(raw):
    members = _members(raw)
    key = f"{fmt.HEADER_KEY}.npy"
    body = dict(members)[key]
    header = json.loads(np.lib.format.read_array(io.BytesIO(body), allow_pickle=False).tobytes())
    return header, [(name, body) for name, body in members if name != key]


def _with_header(header_text, members):
    raw = np.frombuffer(header_text.encode(), np.uint8)
    return _archive([(f"{fmt.HEADER_KEY}.npy", _npy_bytes(raw)), *members])


def _locations(obj, path=()):
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        yield (*path, key), value
        yield from _locations(value, (*path, key))


def _set(header, path, value):
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value


@FUZZ
@given(case=CASES, data=st.data())
def test_rewritten_header_values(honest, case, data):
    """Numbers huge or negative, strings (class, dtype names) wrong, lists duplicated or reordered,
    values nested deep: anywhere in the header."""
    header, members = _header_and_members(honest[case]["data"])
    places = list(_locations(header))
    edit = data.draw(st.sampled_from(["number", "string", "duplicate", "reorder", "deep"]))
    if edit == "number":
        places = [(p, v) for p, v in places if type(v) in (int, float)] or places
        value = data.draw(st.sampled_from([*HUGE, 0, 1.5, -0.5, True, None, [2**40, 2**40]]))
    elif edit == "string":
        places = [(p, v) for p, v in places if isinstance(v, str)] or places
        value = data.draw(st.sampled_from(["float128", "object", "<U4", "O", "os.system", "Linear",
                                           "LSTM", "../../x", "", "__class__", "float32", "int64"]))
    elif edit in ("duplicate", "reorder"):
        places = [(p, v) for p, v in places if isinstance(v, list) and v] or places
    path, old = data.draw(st.sampled_from(places))
    if edit == "duplicate" and isinstance(old, list) and old:
        value = old + [old[data.draw(st.integers(0, len(old) - 1))]]
    elif edit == "reorder" and isinstance(old, list):
        value = data.draw(st.permutations(old))
    elif edit == "deep":
        value = "@"
    _set(header, path, value)
    depth = data.draw(st.sampled_from([63, 65, 200, 3000])) if edit == "deep" else 0
    text = json.dumps(header).replace('"@"', "[" * depth + "1" + "]" * depth)  # json.dumps recurses
    check(honest, *case, _with_header(text, members), f"json-{edit}")


@pytest.mark.slow  # over 5 s (make test-slow)
@FUZZ
@given(case=CASES, data=st.data())
def test_enormous_header_json(honest, case, data):
    """A few MB of JSON in the header: dense lists, objects, strings or numbers, dropped anywhere."""
    header, members = _header_and_members(honest[case]["data"])
    path, _ = data.draw(st.sampled_from(list(_locations(header))))
    item = data.draw(st.sampled_from(['{"":0}', '{"a":{"b":{}}}', "[]", "[[]]", '"ab"', "0.5", "1000",
                                      '{"__tuple__":[1]}', '"[[[[[[[["', '"::::"']))
    _set(header, path, "@")
    text = json.dumps(header).replace('"@"', "[" + ",".join([item] * (600_000 // len(item))) + "]")
    check(honest, *case, _with_header(text, members), "json-enormous")  # a checkpoint's metadata,
    # or a scheduler state read back without a scheduler, may hold anything


_SHAPES = [[2**63], [0, 2**63], [0, 2**62, 2**62], [-1, 5], [2**31, 2**31], [1] * 65, [0] * 64,
           [3, 5.0], [True, 5], "3x5", None, [10**4000], [3, 4], [5, 3]]


@FUZZ
@given(shape=st.sampled_from(_SHAPES), dtype=st.sampled_from(["float32", "float128", "object", "U4", 3,
                                                             "int64", "bool", "float64"]),
       kind=st.sampled_from(["model", "ckpt"]))
def test_forged_replaced_sections(honest, shape, dtype, kind):
    header, members = _header_and_members(honest["replaced", kind]["data"])
    arch = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    arch["replaced"]["W"] = {"shape": shape, "dtype": dtype}
    check(honest, "replaced", kind, _with_header(json.dumps(header), members), "replaced")


@FUZZ
@given(name=st.sampled_from(list(MODELS)), data=st.data())
def test_forged_optimizer_and_scheduler_state(honest, name, data):
    """The checkpoint's optimizer and scheduler sections: arrays of other shapes and dtypes, steps,
    lrs and group indices huge, negative, NaN or duplicated."""
    header, members = _header_and_members(honest[name, "ckpt"]["data"])
    section = data.draw(st.sampled_from(["optimizer", "scheduler"]))
    places = list(_locations(header[section]))
    path, _ = data.draw(st.sampled_from(places))
    value = data.draw(st.sampled_from([*HUGE, 0, -0.5, {"__float__": "nan"}, {"__float__": "inf"}, "x",
                                       None, [], {"__array__": f"{section}/0"}, {"__scalar__": "model/0.W"}]))
    _set(header[section], path, value)
    edit_arrays = data.draw(st.booleans())
    if edit_arrays:
        opt_members = [i for i, (n, _) in enumerate(members) if n.startswith("optimizer/")]
        index = data.draw(st.sampled_from(opt_members))
        replacement = data.draw(st.sampled_from([np.zeros(7, np.float32), np.zeros((), np.int64),
                                                 np.zeros((2, 2), np.float64), np.array([True])]))
        members[index] = (members[index][0], _npy_bytes(replacement))
    check(honest, name, "ckpt", _with_header(json.dumps(header), members), "optimizer")


# ------------------------------------------------------------- bugs the fuzzer found, pinned
def test_a_replaced_shape_numpy_cannot_make_is_a_model_file_error(honest):
    for shape in ([0, 2**63], [0, 2**62, 2**62]):  # zero elements: under budget, past NumPy's limits
        header, members = _header_and_members(honest["replaced", "model"]["data"])
        arch = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
        arch["replaced"]["W"]["shape"] = shape
        path = honest["folder"] / "numpy-limit.npz"
        path.write_bytes(_with_header(json.dumps(header), members))
        with pytest.raises(mt.ModelFileError, match=r"replaced\.W: shape \(0, "):
            mt.load_model(path)


def test_a_layer_norm_shape_is_charged_before_it_is_allocated(tmp_path):
    mt.save_model(mt.Sequential(mt.LayerNorm(4)), tmp_path / "ln.npz")
    header, members = _header_and_members((tmp_path / "ln.npz").read_bytes())
    node = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    node["args"]["normalized_shape"] = {"__tuple__": [2] * 22}  # 4M elements twice, from a 1 KB file
    (tmp_path / "ln.npz").write_bytes(_with_header(json.dumps(header), members))
    result, peak, _ = _measured(lambda: mt.load_model(tmp_path / "ln.npz"))
    assert isinstance(result, mt.ModelFileError) and "implausibly large" in str(result)
    assert peak < 1 << 20, f"{peak >> 20} MiB traced"


def test_repeated_ties_are_refused_in_linear_time(tmp_path):
    model = mt.Sequential(*[mt.Linear(2, 2) for _ in range(100)])
    for layer in model[1:]:
        layer.W = model[0].W
    mt.save_model(model, tmp_path / "m.npz")
    header, members = _header_and_members((tmp_path / "m.npz").read_bytes())
    assert len(header["model"]["ties"]) == 99
    mt.load_model(tmp_path / "m.npz")  # honest ties load
    honest = _cpu_seconds(lambda: mt.load_model(tmp_path / "m.npz"))
    header["model"]["ties"] = [header["model"]["ties"][0]] * 20_000  # was 20,000 x 100 modules of work
    (tmp_path / "f.npz").write_bytes(_with_header(json.dumps(header), members))
    with pytest.raises(mt.ModelFileError, match="each name tied once"):
        mt.load_model(tmp_path / "f.npz")
    # CPU time against loading the honest file (the same model) timed here: about 1x; the
    # quadratic work was over 50x. Wall-clock seconds would measure the machine's load instead.
    forged = _cpu_seconds(lambda: mt.load_model(tmp_path / "f.npz"))
    assert forged < 10 * honest, f"refused in {forged:.3f} CPU s; the honest file loads in {honest:.3f}"


def test_ties_through_a_module_held_twice_still_load(tmp_path, restore_registry):
    @mt.register_module
    class Twice(mt.Module):
        def __init__(self):
            super().__init__()
            self.a = mt.Linear(2, 2)
            self.b = self.a  # one module, two names: its Parameters have two names each
            self.c = mt.Linear(2, 2)

    model = Twice()
    model.a.W = model.c.W
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.a is loaded.b and loaded.b.W is loaded.c.W and loaded.a.b is not loaded.c.b


@pytest.mark.slow  # over 5 s (make test-slow)
def test_many_entries_are_refused_in_linear_time(tmp_path):
    members = [(f"x{i}.npy", _npy_bytes(np.zeros(0, np.uint8))) for i in range(40_000)]
    (tmp_path / "many.npz").write_bytes(_archive([*members, members[0]]))  # the duplicate comes last

    def listed():
        with zipfile.ZipFile(tmp_path / "many.npz") as archive:
            return archive.infolist()

    listing = _cpu_seconds(listed)  # the linear work any reader of the archive does: ~0.15 CPU s
    for call in (mt.load_model, lambda p: mt.load_model(mt.Linear(2, 2), p), mt.load_checkpoint):
        with pytest.raises(mt.ModelFileError, match="appears twice"):
            call(tmp_path / "many.npz")
        # CPU time against listing the archive: about 1.2x; 40,000**2 / 2 name comparisons were
        # ~13 s each (~100x). Wall-clock seconds would measure the machine's load instead.
        refused = _cpu_seconds(lambda call=call: call(tmp_path / "many.npz"))
        assert refused < 5 * listing, f"refused in {refused:.2f} CPU s; listing takes {listing:.2f}"


@pytest.mark.parametrize("item", ['{"":0}', '{"a":{"b":{}}}'])
def test_dense_objects_in_the_header_are_refused_before_parsing(tmp_path, item):
    text = "[" + ",".join([item] * 50_000) + "]"  # parsed: ~27x its size
    (tmp_path / "h.npz").write_bytes(_with_header(text, []))
    result, peak, _ = _measured(lambda: mt.load_model(tmp_path / "h.npz"))
    assert isinstance(result, mt.ModelFileError) and "implausibly dense JSON" in str(result)
    assert peak < 4 * len(text) + (1 << 20)
    with pytest.raises(TypeError, match="implausibly dense JSON"):
        mt.save_checkpoint(tmp_path / "c.npz", x=[{"": 0}] * 40_000)


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path):
    mt.save_model(mt.Linear(2, 2), tmp_path / "m.npz")
    members = _members((tmp_path / "m.npz").read_bytes())
    data = _archive([*members, ("bomb.npy", _zip_bomb())], compress={"bomb.npy"})
    assert len(data) < 1 << 20  # 64 MiB inside
    (tmp_path / "bomb.npz").write_bytes(data)
    for call in (mt.load_model, lambda p: mt.load_model(mt.Linear(2, 2), p), mt.load_checkpoint):
        result, peak, _ = _measured(lambda call=call: call(tmp_path / "bomb.npz"))
        assert isinstance(result, mt.ModelFileError) and peak < 4 << 20


def test_zlib_is_never_asked_to_inflate(tmp_path, monkeypatch):
    inflated = []
    real = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a, **k: inflated.append(1) or real(*a, **k))
    test_a_zip_bomb_is_refused_without_inflating_it(tmp_path)
    assert inflated == []


def test_a_forged_list_of_members_costs_a_small_multiple_of_its_size(tmp_path):
    mt.save_model(mt.Sequential(mt.ReLU()), tmp_path / "m.npz")
    header, members = _header_and_members((tmp_path / "m.npz").read_bytes())
    header["model"]["architecture"]["args"]["modules"] = "@"  # 120,000 strings where modules go
    text = json.dumps(header).replace('"@"', "[" + ",".join(['"ab"'] * 120_000) + "]")
    (tmp_path / "m.npz").write_bytes(_with_header(text, members))
    result, peak, _ = _measured(lambda: mt.load_model(tmp_path / "m.npz"))
    assert isinstance(result, mt.ModelFileError) and "expected Module instances, got str" in str(result)
    assert peak < 32 * len(text), f"{peak / len(text):.0f}x"  # a pair list per member made it 39x


# ------------------------------------------------------------------------------ atomic saves
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _saves(path):
    model, opt, sched = _objects("mlp", seed=4)
    return [lambda: mt.save_model(model, path),
            lambda: mt.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=1)]


@pytest.mark.parametrize("make", ["folder", "link-to-folder", "fifo"])
def test_a_path_that_is_no_regular_file_is_refused_before_writing(tmp_path, monkeypatch, make):
    target = tmp_path / "x.npz"
    if make == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(target)  # a save renamed over it would replace it (over /dev/null too, as root)
    else:
        (tmp_path / "folder").mkdir()
        target = tmp_path / "folder" if make == "folder" else target
        if make == "link-to-folder":
            target.symlink_to(tmp_path / "folder")
    writes = []
    monkeypatch.setattr(fmt, "write_npz", lambda *a: writes.append(1))
    error = OSError if make == "fifo" else IsADirectoryError
    for save in _saves(target):
        with pytest.raises(error, match=r"cannot save to .*expected a"):
            save()
    assert writes == [] and _leftovers(tmp_path) == []
    kind = os.lstat(target).st_mode
    assert (stat.S_ISFIFO(kind) if make == "fifo" else stat.S_ISLNK(kind) if make == "link-to-folder"
            else stat.S_ISDIR(kind))


def test_a_dangling_symlink_is_written_through(tmp_path):
    (tmp_path / "link.npz").symlink_to(tmp_path / "run" / "model.npz")
    (tmp_path / "run").mkdir()
    for save in _saves(tmp_path / "link.npz"):
        save()
    assert (tmp_path / "link.npz").is_symlink() and (tmp_path / "run" / "model.npz").is_file()
    mt.load_checkpoint(tmp_path / "link.npz")


def _disk_full_after(nbytes):
    real = fmt.write_npz

    def write(file, arrays):
        class Full:
            def __init__(self):
                self.written = 0

            def write(self, data):
                self.written += len(data)
                if self.written > nbytes:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return file.write(data)

            def __getattr__(self, name):
                return getattr(file, name)

        real(Full(), arrays)

    return write


class _Refuses(mt.Module):
    """A module whose state cannot be read: saving it fails mid-way through serialization."""

    def __init__(self):
        super().__init__()
        self.lin = mt.Linear(2, 2)

    def state_dict(self, *args, **kwargs):
        raise RuntimeError("state unavailable")


@pytest.mark.parametrize("failure", ["disk-full-early", "disk-full-late", "replace", "fsync",
                                     "serialization", "interrupt"])
def test_a_save_failing_half_way_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "m.npz"
    for save in _saves(path):
        save()
        before = path.read_bytes()
        with monkeypatch.context() as patch:
            if failure.startswith("disk-full"):
                patch.setattr(fmt, "write_npz", _disk_full_after(100 if failure.endswith("early") else 2000))
            elif failure in ("replace", "fsync"):
                patch.setattr(os, failure, lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
            elif failure == "interrupt":
                patch.setattr(np.lib.format, "write_array",
                              lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
            with pytest.raises((OSError, RuntimeError, KeyboardInterrupt)):
                if failure == "serialization":
                    mt.save_model(_Refuses(), path)
                else:
                    save()
        assert path.read_bytes() == before and _leftovers(tmp_path) == []
        mt.load_checkpoint(path) if b"checkpoint" in before else mt.load_model(path)
