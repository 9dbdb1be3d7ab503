"""A file MiniTorch writes is a file MiniTorch reads: what the reader refuses, the writer refuses
first, naming the limit and where the value sits, before any file is created or replaced."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


def _nested(levels, wrap, leaf=1):
    value = leaf
    for _ in range(levels):
        value = wrap(value)
    return value


def _unwrap(value, levels):
    for _ in range(levels):
        value = value["k"] if isinstance(value, dict) else value[0]
    return value


# (wrap, how many wraps reach level 64 exactly): a list or a dict is one level, a tuple two
KINDS = {
    "list": (lambda v: [v], 64),
    "dict": (lambda v: {"k": v}, 64),
    "tuple": (lambda v: (v,), 32),
}


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_at_the_nesting_limit_saves_and_loads(tmp_path, kind):
    wrap, levels = KINDS[kind]
    value = _nested(levels, wrap)
    mt.save_checkpoint(tmp_path / "c.npz", x=value)
    loaded = mt.load_checkpoint(tmp_path / "c.npz")["x"]
    assert loaded == value and _unwrap(loaded, levels) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("leaf", [1, "s", None, np.float32(0.5), np.zeros(2)], ids=repr)
def test_metadata_past_the_nesting_limit_is_refused_before_any_file(tmp_path, kind, leaf):
    wrap, levels = KINDS[kind]
    with pytest.raises(TypeError, match=r"save_checkpoint: metadata 'x'(\[0\]|\['k'\])+: nested deeper "
                                        r"than 64 levels \(a list or dict is one level, a tuple two\)"):
        mt.save_checkpoint(tmp_path / "c.npz", x=_nested(levels + 1, wrap, leaf))
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind


@pytest.mark.parametrize("lists, refused", [(62, False), (63, True)])
def test_a_tuple_counts_two_levels_wherever_it_sits(tmp_path, lists, refused):
    # a tuple whose items sit at level lists + 2: 64 is read, 65 is not
    value = _nested(lists, lambda v: [v], (1,))
    if refused:
        with pytest.raises(TypeError, match="nested deeper than 64 levels"):
            mt.save_checkpoint(tmp_path / "c.npz", x=value)
        assert list(tmp_path.iterdir()) == []
    else:
        mt.save_checkpoint(tmp_path / "c.npz", x=value)
        assert mt.load_checkpoint(tmp_path / "c.npz")["x"] == value


def test_a_refused_save_leaves_the_existing_checkpoint_as_it_was(tmp_path):
    mt.save_checkpoint(tmp_path / "c.npz", x="old")
    before = (tmp_path / "c.npz").read_bytes()
    with pytest.raises(TypeError, match="nested deeper than 64 levels"):
        mt.save_checkpoint(tmp_path / "c.npz", x=_nested(65, lambda v: [v]))
    assert (tmp_path / "c.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


class _DeepState:
    """A scheduler- or optimizer-like object whose state_dict holds a deep list."""

    def __init__(self, levels):
        self.levels = levels

    def state_dict(self):
        return {"history": _nested(self.levels, lambda v: [v])}


def test_a_scheduler_state_past_the_limit_is_refused_naming_it(tmp_path):
    model = mt.Sequential(mt.Linear(2, 2))
    opt = mt.SGD(model.parameters(), lr=0.1)
    # the state dict is level 0, so 63 nested lists under 'history' put their item at level 64
    mt.save_checkpoint(tmp_path / "ok.npz", model=model, optimizer=opt, scheduler=_DeepState(63))
    assert mt.load_checkpoint(tmp_path / "ok.npz")["scheduler_state"] == _DeepState(63).state_dict()
    with pytest.raises(TypeError, match=r"scheduler state\[.history.\](\[0\])+: nested deeper"):
        mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=_DeepState(64))
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("levels, refused", [(64, False), (65, True)])
def test_a_module_attribute_past_the_limit_is_refused(tmp_path, levels, refused):
    model = mt.LeakyReLU(0.1)
    model.negative_slope = _nested(levels, lambda v: [v], 0.1)  # a plain attribute its __init__ sets
    if refused:
        with pytest.raises(TypeError, match=r"model \(LeakyReLU\) attribute 'negative_slope'.*nested deeper"):
            mt.save_model(model, tmp_path / "m.npz")
        assert list(tmp_path.iterdir()) == []
    else:
        mt.save_model(model, tmp_path / "m.npz")
        assert mt.load_model(tmp_path / "m.npz").negative_slope == model.negative_slope


@pytest.mark.parametrize("levels, refused", [(64, False), (65, True)])
@pytest.mark.parametrize("how", ["argument", "child"])
def test_modules_past_the_nesting_limit_are_refused(tmp_path, levels, refused, how):
    model = mt.ReLU()
    for _ in range(levels):
        if how == "argument":
            model = mt.Sequential(model)  # held by the constructor's arguments
        else:
            parent = mt.Sequential()
            parent.inner = model  # a child assigned after construction
            model = parent
    if refused:
        with pytest.raises(TypeError, match=r"model(\.0|\.inner)+: modules nested deeper than 64 levels"):
            mt.save_model(model, tmp_path / "m.npz")
        assert list(tmp_path.iterdir()) == []
    else:
        mt.save_model(model, tmp_path / "m.npz")
        loaded = mt.load_model(tmp_path / "m.npz")
        assert len(list(loaded.modules())) == levels + 1


def _saves(folder, value):
    path = folder / f"c{len(value)}.npz"
    try:
        mt.save_checkpoint(path, x=value)
    except TypeError as err:
        assert "implausibly dense JSON" in str(err) and "the loaders would refuse the file" in str(err)
        assert not path.exists() and not [p for p in folder.iterdir() if p.suffix == ".tmp"]
        return False
    return True


@pytest.mark.parametrize("make", [pytest.param(lambda n: [[] for _ in range(n)], marks=pytest.mark.slow),
                                  lambda n: "[" * n],
                         ids=["empty-lists", "brackets-in-a-string"])  # empty-lists: `make test-slow` (time)
def test_the_densest_header_saved_is_the_densest_read(tmp_path, make):
    # the reader refuses more than one '[' or '{' per 5 header bytes (past 64 KiB) before parsing
    low, high = 1, 2**17  # saves, refused
    assert _saves(tmp_path, make(low)) and not _saves(tmp_path, make(high))
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _saves(tmp_path, make(mid)) else (low, mid)
    mt.save_checkpoint(tmp_path / "c.npz", x=make(low))
    assert mt.load_checkpoint(tmp_path / "c.npz")["x"] == make(low)  # the last one that saves loads
    assert high == low + 1 and not _saves(tmp_path, make(high))  # one more is refused, leaving no file
