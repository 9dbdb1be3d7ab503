"""load_model(model, path) and load_checkpoint(path, model): the file's architecture must be the
model's (module tree, classes, constructor arguments, attributes), else a ModelFileError names the
first difference and nothing changes; ``architecture=False`` is the deliberate weights-only load."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
from model_helpers import randomize_state, read_header

import minitorch as mt
from minitorch.model_files import format as fmt


def assert_same_state(a, b):
    """Same state names (in any order), dtypes and bitwise-equal values."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype
        np.testing.assert_array_equal(sa[name], sb[name])


def _loads_weights_alone(saved, target):
    """Whether the state names, shapes and dtypes agree (all a weights-only load checks)."""
    sa, sb = saved.state_dict(), target.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype
                                          for k in sa)


def _mlp(act=None, **linear):
    return mt.Sequential(mt.Linear(4, 3, **linear), act or mt.ReLU(), mt.Linear(3, 2, **linear))


def _edited_slope():
    model = mt.Sequential(mt.Linear(4, 3), mt.LeakyReLU(), mt.Linear(3, 2))
    model[1].negative_slope = 0.3  # set after construction: the file holds it as an attribute
    return model


def _named(order):
    layers = {"a": mt.Linear(3, 3), "b": mt.Linear(3, 3)}
    return mt.Sequential(OrderedDict((name, layers[name]) for name in order))


# (saved, loaded into, words the error must name): same state names, shapes and dtypes each time
WRONG = {
    "another activation": (_mlp, lambda: _mlp(mt.Tanh()), ["'1', 'ReLU'", "'1', 'Tanh'"]),
    "another activation argument": (lambda: _mlp(mt.LeakyReLU(0.01)), lambda: _mlp(mt.LeakyReLU(0.3)),
                                    ["negative_slope", "0.01", "0.3"]),
    "an attribute edited since": (_edited_slope, lambda: _mlp(mt.LeakyReLU()), ["negative_slope", "0.3"]),
    "another eps": (lambda: mt.LayerNorm(5, eps=1e-3), lambda: mt.LayerNorm(5), ["eps", "0.001", "1e-05"]),
    "children in another order": (lambda: _named("ab"), lambda: _named("ba"), ["'a', 'Linear'", "'b'"]),
    "children of other names": (lambda: mt.Sequential(mt.Linear(3, 3), mt.ReLU()),
                                lambda: mt.Sequential(OrderedDict([("0", mt.Linear(3, 3)),
                                                                   ("act", mt.ReLU())])),
                                ["'1', 'ReLU'", "'act', 'ReLU'"]),
    "a dropout more": (lambda: mt.Sequential(mt.Linear(3, 3), mt.Identity()),
                       lambda: mt.Sequential(mt.Linear(3, 3), mt.Dropout(0.5)), ["Identity", "Dropout"]),
    "another dropout p": (lambda: mt.Sequential(mt.Dropout(0.1), mt.Linear(3, 3)),
                          lambda: mt.Sequential(mt.Dropout(0.5), mt.Linear(3, 3)),
                          ["modules[0].args.p:", "0.1", "0.5"]),
}


@pytest.mark.parametrize("case", list(WRONG))
@pytest.mark.parametrize("architecture_saved", [True, False])
def test_a_file_of_another_architecture_is_refused_naming_the_difference(tmp_path, case, architecture_saved):
    saved_model, target_model, words = WRONG[case]
    saved = randomize_state(saved_model(), seed=1)
    path = tmp_path / "m.npz"
    mt.save_model(saved, path, architecture=architecture_saved)
    target = randomize_state(target_model(), seed=2)
    before = {k: v.copy() for k, v in target.state_dict().items()}
    tree_differs = [type(m) for m in saved.modules()] != [type(m) for m in target.modules()] or \
        [n for n, _ in saved.named_modules()] != [n for n, _ in target.named_modules()]
    if not architecture_saved and not tree_differs:  # a weights-only file holds the module tree alone
        mt.load_model(target, path)
        assert_same_state(target, saved)
        return
    with pytest.raises(mt.ModelFileError, match="does not match the model") as err:
        mt.load_model(target, path)
    for word in words:
        assert word in str(err.value)
    assert "architecture=False" in str(err.value)  # the fix for a deliberate weights-only load
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    if _loads_weights_alone(saved, target):
        mt.load_model(target, path, architecture=False)  # the weights alone: names, shapes, dtypes
        assert_same_state(target, saved)


@pytest.mark.parametrize("case", list(WRONG))
def test_a_checkpoint_of_another_architecture_leaves_model_and_optimizer(tmp_path, case):
    saved_model, target_model, words = WRONG[case]
    saved = randomize_state(saved_model(), seed=1)
    opt = mt.SGD(saved.parameters(), lr=0.1, momentum=0.9)
    for p in saved.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    mt.save_checkpoint(tmp_path / "c.npz", model=saved, optimizer=opt, epoch=2)
    target = randomize_state(target_model(), seed=2)
    target_opt = mt.SGD(target.parameters(), lr=0.5)
    before = {k: v.copy() for k, v in target.state_dict().items()}
    with pytest.raises(mt.ModelFileError, match="does not match the model") as err:
        mt.load_checkpoint(tmp_path / "c.npz", model=target, optimizer=target_opt)
    assert all(word in str(err.value) for word in words)
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert target_opt.param_groups[0]["lr"] == 0.5 and not target_opt.state_dict()["state"]
    if _loads_weights_alone(saved, target):
        ckpt = mt.load_checkpoint(tmp_path / "c.npz", model=target, optimizer=target_opt, architecture=False)
        assert ckpt["epoch"] == 2 and target_opt.param_groups[0]["lr"] == 0.1
        assert_same_state(target, saved)


def test_the_same_architecture_loads_as_before(tmp_path):
    saved = randomize_state(_edited_slope(), seed=1)
    mt.save_model(saved, tmp_path / "m.npz")
    target = _edited_slope()
    assert mt.load_model(target, tmp_path / "m.npz") is target
    assert_same_state(target, saved)
    target.eval()  # the train/eval mode is the model's own, not architecture
    mt.load_model(target, tmp_path / "m.npz")


# the same computation, its constructor arguments spelled another way: (saved, loaded into)
SAME = {
    "kernel 3 and (3, 3)": (lambda: mt.Conv2d(1, 2, 3), lambda: mt.Conv2d(1, 2, (3, 3))),
    "kernel (3, 3) and [3, 3]": (lambda: mt.Conv2d(1, 2, (3, 3)), lambda: mt.Conv2d(1, 2, [3, 3])),
    "padding (1, 1) and 1": (lambda: mt.Conv2d(1, 2, 3, padding=(1, 1)),
                             lambda: mt.Conv2d(1, 2, 3, padding=1)),
    "normalized_shape 4 and (4,)": (lambda: mt.LayerNorm(4), lambda: mt.LayerNorm((4,))),
    "slope 1 and 1.0": (lambda: _mlp(mt.LeakyReLU(1)), lambda: _mlp(mt.LeakyReLU(1.0))),
    "nested in a Sequential": (lambda: mt.Sequential(mt.Conv2d(1, 2, 3), mt.ReLU()),
                               lambda: mt.Sequential(mt.Conv2d(1, 2, (3, 3)), mt.ReLU())),
}


@pytest.mark.parametrize("case", list(SAME))
def test_the_same_computation_spelled_another_way_loads(tmp_path, case):
    saved_model, target_model = SAME[case]
    saved = randomize_state(saved_model(), seed=1)
    mt.save_model(saved, tmp_path / "m.npz")
    target = target_model()
    assert mt.load_model(target, tmp_path / "m.npz") is target
    assert_same_state(target, saved)
    mt.save_model(target, tmp_path / "back.npz")  # and the other way round
    assert mt.load_model(saved_model(), tmp_path / "back.npz") is not None


@pytest.mark.parametrize("saved_model, target_model, words", [
    (lambda: mt.Conv2d(1, 2, 3), lambda: mt.Conv2d(1, 2, (3, 1)), ["kernel_size"]),
    (lambda: mt.Conv2d(1, 2, 3, padding=1), lambda: mt.Conv2d(1, 2, 3, padding=(1, 0)), ["padding"]),
    (lambda: _mlp(mt.LeakyReLU(1)), lambda: _mlp(mt.LeakyReLU(1.5)), ["negative_slope", "1", "1.5"]),
])
def test_another_value_spelled_alike_is_still_refused(tmp_path, saved_model, target_model, words):
    mt.save_model(saved_model(), tmp_path / "m.npz")
    with pytest.raises(mt.ModelFileError, match="does not match the model") as err:
        mt.load_model(target_model(), tmp_path / "m.npz")
    assert all(word in str(err.value) for word in words)


def test_architecture_must_be_a_bool_and_needs_a_model(tmp_path):
    mt.save_model(_mlp(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="architecture True or False"):
        mt.load_model(_mlp(), tmp_path / "m.npz", architecture=0)
    with pytest.raises(TypeError, match="load_model\\(model, path, architecture=False\\)"):
        mt.load_model(tmp_path / "m.npz", architecture=False)
    with pytest.raises(TypeError, match="architecture True or False"):
        mt.load_checkpoint(tmp_path / "m.npz", architecture="no")


@pytest.mark.parametrize("value", ["deep", "huge", "long string"])
def test_a_forged_architecture_value_is_named_briefly(tmp_path, value):
    """The difference is named without the forged value's repr (deep, or megabytes)."""
    mt.save_model(mt.LayerNorm(3), tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    header["model"]["architecture"]["args"]["eps"] = "@"
    forged = {"deep": "[" * 900 + "]" * 900, "huge": json.dumps(list(range(200_000))),
              "long string": json.dumps("x" * 10**6)}[value]
    text = json.dumps(header).replace('"@"', forged).encode()
    fmt.atomic_write_npz(tmp_path / "f.npz", {fmt.HEADER_KEY: np.frombuffer(text, np.uint8),
                                              **{k: v for k, v in np.load(tmp_path / "m.npz").items()
                                                 if k != fmt.HEADER_KEY}})
    with pytest.raises(mt.ModelFileError, match=r"args\.eps: the file says") as err:
        mt.load_model(mt.LayerNorm(3), tmp_path / "f.npz")
    assert len(str(err.value)) < 600
