"""The holes an adversarial audit found in model files (issue 11), each closed and kept closed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from forged_files import count_builds, dense_header, many_big_layers, overlapping_entries
from model_helpers import randomize_state, read_header, weights, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt

TESTS = Path(__file__).parent


# ------------------------------------------------------------ item 2: one budget for the rebuild
def test_many_layers_each_plausible_are_refused_together(tmp_path, monkeypatch):
    built = count_builds(monkeypatch, mt.Linear)
    path = many_big_layers(tmp_path / "forged.npz", layers=48, width=1024)
    with pytest.raises(mt.ModelFileError, match="implausibly large"):
        mt.load_model(path)
    assert built == []  # refused before the first Linear(1024, 1024) allocated anything


def test_a_kernel_size_counts_once_per_spatial_dimension(tmp_path):
    mt.save_model(mt.Sequential(mt.Conv2d(1, 1, 3)), tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    conv = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    conv["args"]["kernel_size"] = 4096  # 4096 x 4096 weights: 16.8M elements from a 1 KB file
    write_with_header(tmp_path / "m.npz", header, weights(tmp_path / "m.npz"))
    with pytest.raises(mt.ModelFileError, match="implausibly large"):
        mt.load_model(tmp_path / "m.npz")


def test_what_a_module_really_allocates_is_counted(tmp_path, restore_registry):
    @mt.register_module
    class Greedy(mt.Module):  # not a MiniTorch class, so its arguments are not estimated
        def __init__(self, n: int = 2):
            super().__init__()
            self.W = mt.Parameter(np.zeros((n, n), np.float32))

    mt.save_model(Greedy(), tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    header["model"]["architecture"]["args"]["n"] = 1000
    write_with_header(tmp_path / "m.npz", header, weights(tmp_path / "m.npz"))
    with pytest.raises(mt.ModelFileError, match="implausibly many"):
        mt.load_model(tmp_path / "m.npz")


def test_honest_files_of_every_size_still_load(tmp_path):
    for model in (mt.Sequential(mt.Flatten(), mt.Linear(1, 1)), mt.Sequential(mt.Conv2d(3, 8, 5), mt.ReLU(),
                                                                             mt.MaxPool2d(2), mt.Flatten())):
        model = randomize_state(model, seed=3)
        mt.save_model(model, tmp_path / "m.npz")
        loaded = mt.load_model(tmp_path / "m.npz")
        for name, value in loaded.state_dict().items():
            np.testing.assert_array_equal(value, model.state_dict()[name])


# ------------------------------------------------------ item 3: the archive's directory first
def test_overlapping_entries_are_refused_before_reading(tmp_path, monkeypatch):
    reads = []
    real = fmt._read_member
    monkeypatch.setattr(fmt, "_read_member", lambda *a: reads.append(a[1]) or real(*a))
    path = overlapping_entries(tmp_path / "bomb.npz", members=8, blob=1 << 16)
    for call in (mt.load_model, mt.load_checkpoint):
        with pytest.raises(mt.ModelFileError, match="overlap"):
            call(path)
    assert reads == []


def test_declared_sizes_larger_than_the_file_are_refused(tmp_path):
    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    data = bytearray(path.read_bytes())
    last = data.rindex(b"PK\x01\x02")  # the last entry in the central directory
    for field in (20, 24):  # its compressed and uncompressed sizes
        data[last + field:last + field + 4] = (len(data) * 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(mt.ModelFileError, match="runs past the end of the stored data"):
        mt.load_model(path)


def test_entries_the_model_cannot_hold_are_refused_before_reading(tmp_path, monkeypatch):
    model = mt.Sequential(mt.Linear(2, 2))
    mt.save_model(model, tmp_path / "m.npz")
    write_with_header(tmp_path / "m.npz", read_header(tmp_path / "m.npz"),
                      {**weights(tmp_path / "m.npz"), "stray": np.zeros(10**5, np.uint8)})
    reads = []
    real = fmt._read_member
    monkeypatch.setattr(fmt, "_read_member", lambda *a: reads.append(a[1]) or real(*a))
    with pytest.raises(mt.ModelFileError, match=r"unexpected entries \['stray'\]"):
        mt.load_model(model, tmp_path / "m.npz")
    with pytest.raises(mt.ModelFileError, match="unknown entries"):
        mt.load_checkpoint(tmp_path / "m.npz")
    assert reads == []


# ------------------------------------------- the audit, kept: forged files cost about their size
_MEASURE = textwrap.dedent("""
    import resource, sys
    import minitorch as mt
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        mt.load_model(sys.argv[1])
    except mt.ModelFileError:
        pass
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
""")


@pytest.mark.parametrize("builder, kwargs", [
    (many_big_layers, {"layers": 16, "width": 1024}),      # ~180 MiB for 2 KiB on the old loader
    (overlapping_entries, {"members": 40, "blob": 2 << 20}),  # ~70 MiB for 2 MiB
    (dense_header, {"items": 1_400_000}),                  # ~100 MiB for 4 MiB: parsed JSON is large
])
def test_forged_files_cost_a_small_multiple_of_their_size(tmp_path, builder, kwargs):
    pytest.importorskip("resource")
    path = builder(tmp_path / "forged.npz", **kwargs)  # built here: the measuring process only loads
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True,
                         check=True, timeout=120)
    peak, size = int(out.stdout), path.stat().st_size
    # ru_maxrss is a high-water mark: 16 MiB absorbs the interpreter's own noise
    assert peak <= 4 * size + (16 << 20), f"peak grew {peak >> 20} MiB for a {size >> 10} KiB file"


def test_implausibly_dense_header_json_is_refused_before_parsing(tmp_path):
    with pytest.raises(mt.ModelFileError, match="implausibly dense JSON"):
        mt.load_model(dense_header(tmp_path / "h.npz", items=100_000))


def test_honest_dense_metadata_still_loads(tmp_path):
    pairs = [[i % 7, i % 3] for i in range(20_000)]  # one list per 6 bytes of JSON
    order = list(range(10**5))
    mt.save_checkpoint(tmp_path / "c.npz", model=mt.Sequential(mt.ReLU()), pairs=pairs, order=order)
    ckpt = mt.load_checkpoint(tmp_path / "c.npz")
    assert ckpt["pairs"] == pairs and ckpt["order"] == list(range(10**5))


# ------------------------------------------ item 4: the model as it is, not as it was constructed
def _round_trip(model, tmp_path, x):
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    model.eval()
    loaded.eval()
    np.testing.assert_array_equal(loaded(x), model(x))
    return loaded


@pytest.mark.parametrize("make, attribute, value", [
    (lambda: mt.LeakyReLU(), "negative_slope", 0.7),
    (lambda: mt.ELU(), "alpha", 2.5),
    (lambda: mt.Softmax(dim=1), "dim", 0),
    (lambda: mt.LogSoftmax(dim=1), "dim", 0),
    (lambda: mt.LayerNorm(6), "eps", 3.0),
    (lambda: mt.BatchNorm1d(6), "eps", 3.0),
    (lambda: mt.Dropout(0.1), "p", 0.6),
])
def test_settings_changed_after_construction_come_back(tmp_path, make, attribute, value):
    model = mt.Sequential(mt.Linear(6, 6), make())
    setattr(model[1], attribute, value)
    loaded = _round_trip(model, tmp_path, np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
    assert getattr(loaded[1], attribute) == value


def test_tied_weights_stay_tied(tmp_path):
    t = randomize_state(mt.Sequential(mt.Linear(4, 4), mt.Tanh(), mt.Linear(4, 4)), seed=1)
    t[2].W = t[0].W
    loaded = _round_trip(t, tmp_path, np.ones((2, 4), np.float32))
    assert loaded[2].W is loaded[0].W
    assert len(list(loaded.parameters())) == len(list(t.parameters())) == 3


def test_one_module_in_two_places_keeps_sharing_its_weights(tmp_path):
    shared = mt.Linear(3, 3)
    loaded = _round_trip(mt.Sequential(shared, mt.ReLU(), shared), tmp_path, np.ones((2, 3), np.float32))
    assert loaded[0].W is loaded[2].W and loaded[0].b is loaded[2].b


def test_a_layer_replaced_after_construction_round_trips(tmp_path, restore_registry):
    @mt.register_module
    class Net(mt.Module):
        def __init__(self, hidden: int = 8):
            super().__init__()
            self.body = mt.Linear(4, hidden)
            self.act = mt.ReLU()
            self.fc = mt.Linear(hidden, 10)

        def forward(self, x):
            return self.fc(self.act(self.body(x)))

    net = randomize_state(Net(), seed=2)
    net.fc = mt.Linear(8, 3)  # transfer learning: a new head
    net.act = mt.LeakyReLU(0.2)
    net.extra = mt.Identity()  # added after construction
    loaded = _round_trip(net, tmp_path, np.ones((2, 4), np.float32))
    assert loaded.fc.W.shape == (8, 3) and isinstance(loaded.act, mt.LeakyReLU)
    assert [name for name, _ in loaded.named_children()] == ["body", "act", "fc", "extra"]
    del net.extra
    assert "extra" not in dict(_round_trip(net, tmp_path, np.ones((2, 4), np.float32)).named_children())


def test_a_bias_removed_after_construction_round_trips(tmp_path):
    model = mt.Sequential(mt.Linear(3, 2))
    model[0].b = None
    assert mt.load_model(_saved(model, tmp_path))[0].b is None


def _saved(model, tmp_path):
    mt.save_model(model, tmp_path / "m.npz")
    return tmp_path / "m.npz"


def test_what_a_file_cannot_hold_is_refused_at_save_naming_it(tmp_path):
    model = mt.Sequential(mt.Linear(3, 2), mt.ReLU())
    model[1].threshold = np.zeros(3)  # an array forward might read, neither buffer nor setting
    with pytest.raises(TypeError, match=r"model\.1 \(ReLU\) attribute 'threshold'"):
        mt.save_model(model, tmp_path / "m.npz")
    model = mt.Sequential(mt.BatchNorm1d(3), mt.BatchNorm1d(3))
    model[1].running_mean = model[0].running_mean
    with pytest.raises(TypeError, match=r"'0\.running_mean' and '1\.running_mean' are one array"):
        mt.save_model(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda arch: arch.update(attributes={"_secret": 1}), "no plain attribute '_secret'"),
    (lambda arch: arch.update(attributes={"fresh": 1}), "no plain attribute 'fresh'"),
    (lambda arch: arch.update(attributes={"training": False}), "no plain attribute 'training'"),
    (lambda arch: arch.update(children={"_x": {"class": "ReLU", "args": {}}}), "'_x' is not a child"),
    (lambda arch: arch.update(children={"W": {"class": "ReLU", "args": {}}}), "'W' is not a child"),
    (lambda arch: arch.update(children={"forward": {"class": "ReLU", "args": {}}}), "'forward' is not a"),
    (lambda arch: arch.update(children={"a.b": {"class": "ReLU", "args": {}}}), "'a.b' is not a child"),
])
def test_forged_attributes_and_children_are_refused(tmp_path, edit, message):
    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    header = read_header(path)
    edit(header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"])
    write_with_header(path, header, weights(path))
    with pytest.raises(mt.ModelFileError, match=message):
        mt.load_model(path)


def test_forged_ties_are_refused(tmp_path):
    path = _saved(mt.Sequential(mt.Linear(2, 2), mt.Linear(2, 3)), tmp_path)
    forged = [([["1.W", "0.W"]], "differ in shape"), ([["1.W", "os"]], "expected"), ("x", "list")]
    for ties, message in forged:
        header = read_header(path)
        header["model"]["ties"] = ties
        write_with_header(tmp_path / "bad.npz", header, weights(path))
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(tmp_path / "bad.npz")


# ------------------------------------------- items 5 and 7: permissions, symlinks, temporary files
@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_a_new_file_follows_the_umask(tmp_path, umask_027):
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), tmp_path / "m.npz")
    assert stat.S_IMODE((tmp_path / "m.npz").stat().st_mode) == 0o640


def test_overwriting_keeps_the_files_mode(tmp_path, umask_027):
    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    path.chmod(0o604)
    mt.save_checkpoint(path, model=mt.Sequential(mt.Linear(2, 2)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_saving_to_a_symlink_writes_through_it(tmp_path):
    (tmp_path / "run1").mkdir()
    (tmp_path / "latest.npz").symlink_to(Path("run1") / "model.npz")
    model = randomize_state(mt.Sequential(mt.Linear(2, 2)), seed=4)
    mt.save_model(model, tmp_path / "latest.npz")
    mt.save_model(model, tmp_path / "latest.npz")  # the second save replaces the target, not the link
    assert (tmp_path / "latest.npz").is_symlink()
    assert os.readlink(tmp_path / "latest.npz") == str(Path("run1") / "model.npz")
    assert sorted(p.name for p in (tmp_path / "run1").iterdir()) == ["model.npz"]
    np.testing.assert_array_equal(mt.load_model(tmp_path / "run1" / "model.npz")[0].W.data, model[0].W.data)


def test_ctrl_c_right_after_the_temporary_file_is_made_leaves_nothing_for_long(tmp_path, monkeypatch):
    real = tempfile.mkstemp

    def interrupted(*args, **kwargs):
        fd, _ = real(*args, **kwargs)
        os.close(fd)
        raise KeyboardInterrupt  # lands before the caller learns the name

    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    monkeypatch.setattr(tempfile, "mkstemp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mt.save_model(mt.Sequential(mt.Linear(2, 2)), path)
    monkeypatch.undo()
    assert len(list(tmp_path.iterdir())) == 2  # the orphan exists...
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # ...until the next save sweeps it


def test_stale_temporary_files_of_dead_processes_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    alive = str(os.getppid())  # a process that is running: its save may be under way
    for pid in (dead, alive):
        (tmp_path / f".m.npz.{pid}.abc123.tmp").write_bytes(b"half a model")
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".m.npz.{alive}.abc123.tmp", "m.npz"]


def test_a_submodule_kept_in_eval_mode_stays_there(tmp_path):
    model = mt.Sequential(mt.Linear(3, 3), mt.BatchNorm1d(3), mt.Dropout(0.5))
    model[1].eval()  # frozen statistics while the rest trains
    loaded = mt.load_model(_saved(model, tmp_path))
    assert [m.training for m in loaded.modules()] == [True, True, False, True]
    model.eval()
    model[2].train()
    loaded = mt.load_model(_saved(model, tmp_path))
    assert [m.training for m in loaded.modules()] == [False, False, False, True]


def test_forged_modes_are_refused(tmp_path):
    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    for modes, message in [({"9": False}, "no module '9'"), ({"0": "no"}, "expected bool"), ([], "dict")]:
        header = read_header(path)
        header["model"]["modes"] = modes
        write_with_header(tmp_path / "bad.npz", header, weights(path))
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(tmp_path / "bad.npz")


def test_forged_frozen_names_are_refused(tmp_path):
    path = _saved(mt.Sequential(mt.Linear(2, 2)), tmp_path)
    for frozen, message in [(["0.X"], "names of Parameters"), ([0], "names of Parameters"),
                            ("0.W", "expected list"), (["0.running_mean"], "names of Parameters")]:
        header = read_header(path)
        header["model"]["frozen"] = frozen
        write_with_header(tmp_path / "bad.npz", header, weights(path))
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_model(tmp_path / "bad.npz")


def test_weights_a_constructor_draws_are_charged_before_they_are_allocated(tmp_path, restore_registry):
    @mt.register_module
    class Square(mt.Module):  # its size grows as n**2 from one argument (as an LSTM's hidden_size)
        def __init__(self, n: int = 2):
            super().__init__()
            self.W = mt.Parameter(mt.random.generator().standard_normal((n, n)).astype(np.float32))

    path = _saved(Square(), tmp_path)
    header = read_header(path)
    header["model"]["architecture"]["args"]["n"] = 3000  # 9M draws for a file holding 4 numbers
    write_with_header(path, header, weights(path))
    draws = mt.random.generator().bit_generator.state
    with pytest.raises(mt.ModelFileError, match=r"asks the random generator for 9000000 values"):
        mt.load_model(path)
    assert mt.random.generator().bit_generator.state == draws
    assert isinstance(mt.random.generator(), np.random.Generator)  # the real one is back


def test_containers_filled_after_construction_round_trip(tmp_path):
    layers = mt.ModuleList(layer for layer in [mt.Linear(2, 2)])  # a generator: saved as the children
    layers.append(mt.Tanh())
    table = mt.ModuleDict([("a", mt.Linear(2, 3))])
    table["b"] = mt.ReLU()
    for container, names in ((layers, ["0", "1"]), (table, ["a", "b"])):
        loaded = mt.load_model(_saved(container, tmp_path))
        assert [(name, type(child)) for name, child in loaded.named_children()] == [
            (name, type(child)) for name, child in container.named_children()]
        assert [name for name, _ in loaded.named_children()] == names


def test_a_forged_hidden_size_is_refused_before_the_weights_exist(tmp_path):
    path = _saved(mt.Sequential(mt.LSTM(1, 2)), tmp_path)
    header = read_header(path)
    lstm = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    lstm["args"]["hidden_size"] = 30000
    write_with_header(path, header, weights(path))  # 3.6e9 weights: its arguments multiply to only 30000
    with pytest.raises(mt.ModelFileError, match="asks the random generator for"):
        mt.load_model(path)
