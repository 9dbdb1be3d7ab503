"""Editing a Sequential or a ModuleList as PyTorch users do: model[i] = m, del, insert, extend, pop,
+, +=, *, *=, slices; against torch.nn's containers (torch/nn/modules/container.py).

The oracle applies the same random edits to a ``torch.nn.Sequential`` and ours (float64 twins of the
same layers): the same children names and ``state_dict`` keys, the same errors (type), the same
output, dx and every gradient. An edit while a forward call waits for its backward must never give a
silent wrong gradient: the next backward raises, naming the edit.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from bitwise import assert_bitwise
from counting import counted, fit_data
from custom_parents import Heads, Tower
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import step as fast_step

D = 3  # every Linear is (D, D), so any edit leaves a chain that runs


def _twins(kind: str, seed: int) -> tuple[mt.Module, torch.nn.Module]:
    """One layer and its torch twin (float64, the same weights)."""
    if kind == "Linear":
        ours = mt.Linear(D, D).double()
        rng = np.random.default_rng(seed)
        ours.W.data[...] = rng.standard_normal((D, D))
        ours.b.data[...] = rng.standard_normal(D)
        theirs = torch.nn.Linear(D, D).double()
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.W.data.T.copy()))
            theirs.bias.copy_(torch.from_numpy(ours.b.data.copy()))
        return ours, theirs
    return getattr(mt, kind)(), getattr(torch.nn, kind)()


KINDS = ["Linear", "ReLU", "Tanh"]
INDEX = st.integers(-6, 6)  # in and out of range
EDITS = st.one_of(
    st.tuples(st.just("set"), INDEX, st.sampled_from(KINDS)),
    st.tuples(st.just("del"), INDEX),
    st.tuples(st.just("del-slice"), st.integers(-5, 5) | st.none(), st.integers(-5, 5) | st.none(),
              st.sampled_from([None, 1, 2, -1])),
    st.tuples(st.just("insert"), INDEX, st.sampled_from(KINDS)),
    st.tuples(st.just("append"), st.sampled_from(KINDS)),
    st.tuples(st.just("extend"), st.lists(st.sampled_from(KINDS), max_size=2)),
    st.tuples(st.just("pop"), INDEX),
    st.tuples(st.just("+="), st.lists(st.sampled_from(KINDS), max_size=2)),
    st.tuples(st.just("+"), st.lists(st.sampled_from(KINDS), max_size=2)),
    st.tuples(st.just("*="), st.integers(-1, 2)),
    st.tuples(st.just("*"), st.integers(-1, 2)),
    st.tuples(st.just("rmul"), st.integers(1, 2)),
    st.tuples(st.just("+ list"), st.sampled_from(KINDS)),
)


class _Pair:
    """A torch.nn.Sequential and ours, edited alike; ``twin`` maps each of our layers to its torch twin."""

    def __init__(self, kinds: list[str]) -> None:
        self.twin: dict[int, torch.nn.Module] = {}
        self.seed = 0
        self.ours = mt.Sequential(*self.new(kinds))
        self.theirs = torch.nn.Sequential(*(self.twin[id(m)] for m in self.ours))

    def new(self, kinds: list[str]) -> list[mt.Module]:
        made = []
        for kind in kinds:
            self.seed += 1
            ours, theirs = _twins(kind, self.seed)
            self.twin[id(ours)] = theirs
            made.append(ours)
        return made

    def both(self, edit_ours, edit_theirs) -> None:
        """Run the edit on both (each gets its own side's arguments); the same outcome or error type."""
        try:
            got = edit_ours(self.ours)
        except Exception as err:
            with pytest.raises(type(err)):
                edit_theirs(self.theirs)
            assert "Sequential" in str(err), str(err)
            return
        expected = edit_theirs(self.theirs)
        if isinstance(got, mt.Module) and not isinstance(got, mt.Sequential):
            assert self.twin[id(got)] is expected  # pop returns the very child torch pops
        self.check_structure()

    def check_structure(self) -> None:
        assert list(self.ours._modules) == list(self.theirs._modules)
        assert [self.twin[id(m)] for m in self.ours] == list(self.theirs)
        keys = [k.replace(".W", ".weight").replace(".b", ".bias") for k in self.ours.state_dict()]
        assert keys == list(self.theirs.state_dict())
        # every name is an attribute holding its child, and no stale one is left
        assert {k: v for k, v in vars(self.ours).items() if k.isdigit()} == dict(self.ours._modules)


def _apply(pair: _Pair, edit: tuple) -> None:
    op, *args = edit
    if op in ("set", "insert"):
        (new,) = pair.new([args[1]])
        t = pair.twin[id(new)]
        if op == "set":
            pair.both(lambda m: m.__setitem__(args[0], new), lambda m: m.__setitem__(args[0], t))
        else:
            pair.both(lambda m: m.insert(args[0], new), lambda m: m.insert(args[0], t))
    elif op == "del":
        pair.both(lambda m: m.__delitem__(args[0]), lambda m: m.__delitem__(args[0]))
    elif op == "del-slice":
        index = slice(*args)
        pair.both(lambda m: m.__delitem__(index), lambda m: m.__delitem__(index))
    elif op == "pop":
        pair.both(lambda m: m.pop(args[0]), lambda m: m.pop(args[0]))
    elif op in ("append", "extend", "+=", "+"):
        new = pair.new([args[0]] if op == "append" else args[0])
        theirs = [pair.twin[id(m)] for m in new]
        if op == "append":
            pair.both(lambda m: m.append(new[0]), lambda m: m.append(theirs[0]))
        elif op == "extend":
            pair.both(lambda m: m.extend(new), lambda m: m.extend(theirs))
        elif op == "+=":
            pair.ours += mt.Sequential(*new)
            pair.theirs += torch.nn.Sequential(*theirs)
            pair.check_structure()
        else:
            before = list(pair.ours)
            pair.ours = pair.ours + mt.Sequential(*new)
            pair.theirs = pair.theirs + torch.nn.Sequential(*theirs)
            assert list(pair.ours)[: len(before)] == before  # the same objects, in a new Sequential
            pair.check_structure()
    elif op == "+ list":
        (new,) = pair.new([args[0]])
        pair.both(lambda m: m + [new], lambda m: m + [pair.twin[id(new)]])
    elif len(pair.ours) * max(args[0], 1) <= 12:  # "*=", "*", "rmul" (kept small)
        k = args[0]
        if op == "*=":
            pair.both(lambda m: m.__imul__(k), lambda m: m.__imul__(k))
        else:
            try:
                ours = pair.ours * k if op == "*" else k * pair.ours
            except ValueError:
                with pytest.raises(ValueError):
                    pair.theirs * k
                return
            pair.ours, pair.theirs = ours, (pair.theirs * k if op == "*" else k * pair.theirs)
            pair.check_structure()


def _compare_training_step(pair: _Pair, seed: int) -> None:
    """The same output, dx and gradient of every distinct Parameter (a layer used twice sums both)."""
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((4, D)), rng.standard_normal((4, D))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = pair.theirs(xt)
    yt.backward(torch.from_numpy(dy.copy()))
    pair.ours.zero_grad()
    y = pair.ours(x)
    dx = pair.ours.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for m in pair.ours:
        if isinstance(m, mt.Linear):
            t = pair.twin[id(m)]
            np.testing.assert_allclose(m.W.grad, t.weight.grad.numpy().T, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(m.b.grad, t.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(start=st.lists(st.sampled_from(KINDS), max_size=4), edits=st.lists(EDITS, max_size=6),
       cut=st.tuples(st.integers(-4, 4) | st.none(), st.integers(-4, 4) | st.none()),
       kernels=st.booleans())
def test_edits_match_torch_names_state_dict_outputs_and_gradients(start, edits, cut, kernels):
    """Random edits on a chain of (3, 3) Linear, ReLU and Tanh, ours and torch's alike: after each,
    the same children names, the same children (pop returns the same one), ``state_dict`` keys in
    torch's spelling, the same error type (and ours names Sequential); at the end, a slice keeps
    torch's names, and output, dx and every gradient match autograd's (float64), kernels on or off."""
    pair = _Pair(start)
    for edit in edits:
        _apply(pair, edit)
    index = slice(*cut)
    assert list(pair.ours[index]._modules) == list(pair.theirs[index]._modules)
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(kernels)
    try:
        _compare_training_step(pair, len(edits))
    finally:
        mt.kernels.use_kernels(before)


# ----------------------------------------------------------------- errors, against torch's types
def _three(lib):
    return lib.Sequential(lib.Linear(2, 2), lib.ReLU(), lib.Tanh())


@pytest.mark.parametrize("edit, error", [
    (lambda m, lib: m[3], IndexError),
    (lambda m, lib: m[-4], IndexError),
    (lambda m, lib: m[1.0], TypeError),
    (lambda m, lib: m["0"], TypeError),
    (lambda m, lib: m.__setitem__(3, lib.ReLU()), IndexError),
    (lambda m, lib: m.__setitem__(0, 5), TypeError),
    (lambda m, lib: m.__setitem__(slice(0, 1), lib.ReLU()), TypeError),
    (lambda m, lib: m.__delitem__(3), IndexError),
    (lambda m, lib: m.__delitem__(2.0), TypeError),
    (lambda m, lib: m.pop(-4), IndexError),
    (lambda m, lib: m.insert(4, lib.ReLU()), IndexError),
    (lambda m, lib: m.insert(-4, lib.ReLU()), IndexError),
    (lambda m, lib: m.append(np.zeros(2)), TypeError),
    (lambda m, lib: m.extend(3), TypeError),
    (lambda m, lib: m.extend([lib.ReLU(), "relu"]), TypeError),
    (lambda m, lib: m + [lib.ReLU()], ValueError),
    (lambda m, lib: m.__iadd__([lib.ReLU()]), ValueError),
    (lambda m, lib: m * 0, ValueError),
    (lambda m, lib: m * -2, ValueError),
    (lambda m, lib: m * 2.0, TypeError),
    (lambda m, lib: m.__imul__(0), ValueError),
    (lambda m, lib: m.__imul__("2"), TypeError),
])
def test_sequential_errors_are_torchs_types_and_name_sequential(edit, error):
    """Each refused edit raises torch's exception type, names Sequential, what was expected and what
    came, and leaves the model as it was."""
    with pytest.raises(error):
        edit(_three(torch.nn), torch.nn)
    ours = _three(mt)
    keys = list(ours.state_dict())
    with pytest.raises(error, match=r"Sequential.*(expected|got)") as caught:
        edit(ours, mt)
    assert "expected" in str(caught.value) and "got" in str(caught.value)
    assert list(ours.state_dict()) == keys and list(ours._modules) == ["0", "1", "2"]


def test_deviations_from_torch_are_errors_where_torch_is_silent_or_odd():
    """Where torch stores None, asserts, or silently replaces a child, ours raises a clear error."""
    model = _three(mt)
    with pytest.raises(TypeError, match=r"Sequential\[0\] = \.\.\.: expected Module instances, got NoneType"):
        model[0] = None  # torch leaves an empty slot (None) that forward then fails on
    with pytest.raises(TypeError, match=r"Sequential\.insert"):
        model.insert(0, "relu")  # torch: AssertionError
    tail = model[1:]  # names "1", "2", as torch's slice
    with pytest.raises(KeyError, match=r"names \['2'\].*taken"):
        tail.append(mt.Sigmoid())  # torch replaces child "2" silently
    with pytest.raises(KeyError, match="renumber"):
        tail.insert(0, mt.Sigmoid())  # torch: KeyError after moving children
    with pytest.raises(KeyError, match="renumber"):
        tail *= 2  # torch: KeyError
    assert list(tail._modules) == ["1", "2"] and list(tail) == list(model)[1:]
    renumbered = mt.Sequential(*tail).append(mt.Sigmoid())
    assert list(renumbered._modules) == ["0", "1", "2"]


def test_names_as_torchs_for_ordered_dicts_and_slices():
    layers = OrderedDict(fc=mt.Linear(2, 3), act=mt.Tanh(), out=mt.Linear(3, 1))
    model = mt.Sequential(layers)
    twin = torch.nn.Sequential(OrderedDict((k, torch.nn.Linear(2, 3) if k == "fc" else
                                            torch.nn.Tanh() if k == "act" else torch.nn.Linear(3, 1))
                                           for k in layers))
    assert list(model._modules) == ["fc", "act", "out"] and model.fc is layers["fc"]
    assert list(model.state_dict()) == ["fc.W", "fc.b", "out.W", "out.b"]
    assert list(model[1:].state_dict()) == ["out.W", "out.b"] == [k.replace("weight", "W").replace(
        "bias", "b") for k in twin[1:].state_dict()]
    model.append(mt.ReLU())  # the next position's name, as torch
    twin.append(torch.nn.ReLU())
    assert list(model._modules) == list(twin._modules) == ["fc", "act", "out", "3"]
    del model[0]  # torch renumbers every name after a delete
    del twin[0]
    assert list(model._modules) == list(twin._modules) == ["0", "1", "2"]
    assert not hasattr(model, "fc")
    with pytest.raises(TypeError, match=r"got list \(unpack it: Sequential\(\*layers\)"):
        mt.Sequential([mt.ReLU(), mt.Tanh()])  # torch: TypeError too
    for bad, error in [({"a.b": mt.ReLU()}, KeyError), ({"": mt.ReLU()}, KeyError),
                       ({"forward": mt.ReLU()}, KeyError), ({"_x": mt.ReLU()}, KeyError),
                       ({1: mt.ReLU()}, TypeError), ({"a": 3}, TypeError)]:
        with pytest.raises(error, match="Sequential"):
            mt.Sequential(bad)


def test_a_sliced_model_saves_loads_and_converts_with_its_names(tmp_path):
    """Model files and interop keep a slice's names, so state_dict keys stay torch's."""
    model = mt.Sequential(mt.Linear(2, 3), mt.Tanh(), mt.Linear(3, 4), mt.ReLU())
    tail = model[2:]
    mt.save_model(tail, tmp_path / "tail.npz")
    loaded = mt.load_model(tmp_path / "tail.npz")
    assert list(loaded._modules) == ["2", "3"]
    for (k, a), (j, b) in zip(tail.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == j
        np.testing.assert_array_equal(a, b)
    t = mt.interop.to_torch(tail)
    assert list(t.state_dict()) == ["2.weight", "2.bias"]
    back = mt.interop.from_torch(t)
    assert list(back._modules) == ["2", "3"]
    tail.load_state_dict(t.state_dict())  # torch's keys load into ours



def test_a_repeated_child_converts_both_ways_as_one_module():
    """``model *= 2`` runs one layer twice: to_torch and from_torch keep it one module (tied
    weights, the same outputs), as torch's ``Sequential *= 2``; torch's named_children() lists a
    repeated child once, so the chain is read from ``_modules``."""
    mt.manual_seed(0)
    ours = mt.Sequential(mt.Linear(3, 3), mt.Tanh()).double()
    ours *= 2
    t = mt.interop.to_torch(ours)
    assert list(t._modules) == ["0", "1", "2", "3"] and t[0] is t[2]
    assert len(list(t.parameters())) == len(list(ours.parameters())) == 2
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    theirs *= 2
    back = mt.interop.from_torch(theirs)
    assert list(back._modules) == ["0", "1", "2", "3"] and back[0] is back[2]
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(back(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)

# ----------------------------------------------------------------- a forward waiting for its backward
EDITS_AFTER_FORWARD = {
    "setitem": lambda m: m.__setitem__(1, mt.Tanh()),
    "del": lambda m: m.__delitem__(1),
    "del-slice": lambda m: m.__delitem__(slice(1, 2)),
    "pop": lambda m: m.pop(1),
    "insert": lambda m: m.insert(1, mt.Tanh()),
    "append": lambda m: m.append(mt.Linear(3, 3).double()),
    "extend": lambda m: m.extend([mt.Tanh()]),
    "+=": lambda m: m.__iadd__(mt.Sequential(mt.Tanh())),
    "*=": lambda m: m.__imul__(2),
}


def _waiting_model():
    mt.manual_seed(0)
    return mt.Sequential(mt.Linear(3, 3), mt.ReLU(), mt.Linear(3, 3)).double()


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("edit", list(EDITS_AFTER_FORWARD))
def test_an_edit_after_forward_makes_the_next_backward_raise(edit, method, kernels):
    """torch would backpropagate through the old graph; ours has no graph, and the chain the forward
    ran is gone: the next backward raises, naming the edit, and writes no gradient. A new forward
    then backpropagates through the edited chain, as torch's."""
    model = _waiting_model()
    x = np.random.default_rng(0).standard_normal((4, 3))
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(kernels)
    try:
        model(x)
        old = list(model)
        EDITS_AFTER_FORWARD[edit](model)
        assert all(not m._stack for m in [*old, *model])  # the waiting calls dropped
        edited = r"Sequential\.\w+: the Sequential was edited .* forward again"
        with pytest.raises(RuntimeError, match=edited):
            getattr(model, method)(np.ones((4, 3)))
        assert all(p.grad is None for p in model.parameters())
        model.zero_grad()
        y = model(x)
        model.backward(np.ones_like(y))
        with pytest.raises(RuntimeError, match="called before forward"):  # not a stale call's gradient
            model.backward(np.ones_like(y))
    finally:
        mt.kernels.use_kernels(before)
    made: dict[int, torch.nn.Module] = {}  # a layer used twice (*=) is one torch module used twice
    twin = torch.nn.Sequential(*(made.setdefault(id(m), mt.interop.to_torch(m)) for m in model))
    twin(torch.from_numpy(x)).sum().backward()
    for p, t in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy().T if p.ndim == 2 else t.grad.numpy(), rtol=1e-12)


def test_an_edit_between_two_forwards_leaves_no_stale_call_for_a_second_backward():
    """forward, edit, forward, backward, backward: the second backward raises (the first forward's
    calls were dropped by the edit), where it would otherwise run the new chain on the old calls."""
    model = _waiting_model()
    x = np.ones((2, 3))
    model(x)
    model.append(mt.Tanh())
    model(x)
    model.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="called before forward"):
        model.backward(np.ones((2, 3)))


def test_an_inner_sequential_edited_after_the_outer_forward():
    inner = mt.Sequential(mt.Linear(3, 3), mt.ReLU())
    outer = mt.Sequential(inner, mt.Linear(3, 2))
    outer(np.ones((2, 3)))
    inner[1] = mt.Tanh()
    with pytest.raises(RuntimeError, match=r"the Sequential was edited \(Sequential\[1\] = \.\.\.\)"):
        outer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_an_outer_backward_refusing_an_inner_edit_runs_nothing_and_leaves_no_waiting_call(
        method, kernels, monkeypatch):
    """The outer chain's backward refuses before any child runs (no gradient from the dropped call
    is accumulated) and drops the outer chain's other waiting calls, so forward, backward and
    step, as the message says, then run as on a model never edited."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    mt.manual_seed(0)
    inner = mt.Sequential(mt.Linear(3, 3), mt.Tanh(), mt.Linear(3, 3))
    outer = mt.Sequential(mt.Linear(3, 3), mt.ReLU(), inner, mt.Linear(3, 2)).double()
    opt = mt.SGD(outer.parameters(), lr=0.1)
    x, dy = np.ones((2, 3)), np.ones((2, 2))
    outer(x)
    del inner[1]
    with pytest.raises(RuntimeError, match=r"edited \(del Sequential\[1\]\)"):
        getattr(outer, method)(dy)
    assert all(p.grad is None or not p.grad.any() for p in outer.parameters())
    assert not any(m.__dict__["_stack"] for m in outer.modules())
    outer(x)
    getattr(outer, method)(dy)
    opt.step()


@pytest.mark.parametrize("edit", [
    lambda m: m.__imul__(1), lambda m: m.extend([]), lambda m: m.__iadd__(mt.Sequential()),
    lambda m: m.__delitem__(slice(5, 5)),
])
def test_an_edit_that_changes_no_child_keeps_the_waiting_call(edit):
    """model *= 1, extend([]), += Sequential(), del model[5:5] leave the chain as it ran (PyTorch's
    no-ops): the waiting call is kept and its backward gives the gradients of a model not edited."""
    model, reference = _waiting_model(), _waiting_model()
    x, dy = np.ones((2, 3)), np.ones((2, 3))
    model(x)
    reference(x)
    edit(model)
    np.testing.assert_array_equal(model.backward(dy), reference.backward(dy))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_an_edit_with_nothing_waiting_changes_no_call():
    """Under no_grad, or after the backward, nothing waits: the edit just edits."""
    model = _waiting_model()
    with mt.no_grad():
        model(np.ones((2, 3)))
    del model[1]
    y = model(np.ones((2, 3)))
    model.backward(np.ones_like(y))
    model.insert(1, mt.ReLU())
    assert model.__dict__.get("_edited") is None


@pytest.mark.parametrize("edit", [lambda ml: ml.__delitem__(1), lambda ml: ml.insert(1, mt.Tanh()),
                                  lambda ml: ml.__setitem__(0, mt.Linear(3, 3)), lambda ml: ml.pop(-1),
                                  lambda ml: ml.append(mt.Tanh())])
def test_a_modulelist_edited_after_its_parents_forward_gives_no_silent_gradient(edit):
    model = Tower()
    model(np.ones((2, 3)))
    edit(model.layers)
    with pytest.raises(RuntimeError):  # a member's "called before forward()", or the chain is not derivable
        model.backward(np.ones((2, 3)))
    assert all(p.grad is None for p in model.parameters())



@pytest.mark.parametrize("edit", [lambda ml: ml.extend([]), lambda ml: ml.__iadd__([]),
                                  lambda ml: ml.__delitem__(slice(5, 5))])
def test_a_modulelist_edit_that_changes_no_member_keeps_its_parents_waiting_call(edit):
    """extend([]), += [] and an empty del leave the chain as it ran (PyTorch's no-ops)."""
    mt.manual_seed(0)
    model = Tower()
    mt.manual_seed(0)
    reference = Tower()
    x, dy = np.ones((2, 3)), np.ones((2, 3))
    model(x)
    reference(x)
    edit(model.layers)
    np.testing.assert_array_equal(model.backward(dy), reference.backward(dy))

# ----------------------------------------------------------------- ModuleList, against torch's
ML_EDITS = st.one_of(
    st.tuples(st.just("set"), INDEX), st.tuples(st.just("del"), INDEX),
    st.tuples(st.just("del-slice"), st.integers(-4, 4) | st.none(), st.integers(-4, 4) | st.none()),
    st.tuples(st.just("insert"), st.integers(0, 6)), st.tuples(st.just("pop"), INDEX),
    st.tuples(st.just("append")), st.tuples(st.just("extend"), st.integers(0, 2)),
    st.tuples(st.just("+="), st.integers(0, 2)), st.tuples(st.just("+"), st.integers(0, 2)),
)


def _ml_edit(m, op, args, new):
    if op == "set":
        return m.__setitem__(args[0], new[0])
    if op == "del":
        return m.__delitem__(args[0])
    if op == "del-slice":
        return m.__delitem__(slice(*args))
    if op == "insert":
        return m.insert(min(args[0], len(m)), new[0])
    if op == "pop":
        return m.pop(args[0])
    if op == "append":
        return m.append(new[0])
    return m.extend(new) if op == "extend" else m.__iadd__(new)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 4), edits=st.lists(ML_EDITS, max_size=6))
def test_modulelist_edits_match_torchs(size, edits):
    """The same members in the same order under the same names, or the same error type (insert at
    0..len, where torch's insert is defined)."""
    twin: dict[int, torch.nn.Module] = {}

    def new(k):
        made = [mt.Linear(2, 2) for _ in range(k)]
        twin.update((id(m), torch.nn.Linear(2, 2)) for m in made)
        return made, [twin[id(m)] for m in made]

    made, theirs_made = new(size)
    ours, theirs = mt.ModuleList(made), torch.nn.ModuleList(theirs_made)
    for op, *args in edits:
        if op == "+":
            a, b = new(args[0])
            ours, theirs = ours + a, theirs + b
        else:
            a, b = new(1 if op in ("set", "insert", "append") else args[0] if op in ("extend", "+=") else 0)
            try:
                got = _ml_edit(ours, op, args, a)
            except Exception as err:
                with pytest.raises(type(err)):
                    _ml_edit(theirs, op, args, b)
                assert "ModuleList" in str(err)
                continue
            expected = _ml_edit(theirs, op, args, b)
            if op == "pop":
                assert twin[id(got)] is expected
        assert list(ours._modules) == list(theirs._modules)
        assert [twin[id(m)] for m in ours] == list(theirs)
        assert {k: v for k, v in vars(ours).items() if k.isdigit()} == dict(ours._modules)
        assert list(ours.__dict__["_init_args"]["modules"]) == list(ours)  # model files see the members


def test_modulelist_insert_takes_list_indices():
    """torch's insert is defined for 0..len only (a negative index is a KeyError, a larger one leaves
    a gap in the names); ours inserts as list.insert does."""
    a, b, c = mt.ReLU(), mt.Tanh(), mt.Sigmoid()
    layers = mt.ModuleList([a, b])
    layers.insert(-1, c)
    assert list(layers) == [a, c, b] and list(layers._modules) == ["0", "1", "2"]
    layers.insert(10, mt.GELU())
    assert list(layers._modules) == ["0", "1", "2", "3"]
    with pytest.raises(TypeError, match=r"ModuleList.insert.*expected Module instances, got int"):
        layers.insert(0, 3)


# ----------------------------------------------------------------- mt.fit trains an edited model
def _edited_classifier() -> mt.Sequential:
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 8), mt.Tanh(), mt.Linear(8, 8), mt.Linear(8, 3))
    model[1] = mt.ReLU()  # Linear, ReLU, Linear, Linear
    model.insert(3, mt.ReLU())  # Linear, ReLU, Linear, ReLU, Linear
    del model[2:4]  # Linear, ReLU, Linear
    model += mt.Sequential(mt.ReLU(), mt.Linear(3, 3))  # the whole-step kernel's case again
    return model


def test_fit_trains_an_edited_model_as_with_the_kernels_off(monkeypatch):
    """The whole-step kernel sees the edited children (it takes every step after the first) and the
    training equals the five plain calls, kernels off, bitwise; then the head is replaced, a new
    optimizer made, and training goes on, again equal."""
    taken = []
    original = fast_step.fit_step
    counting = counted(original, taken)
    X, Y = fit_data()
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(mt.kernels, "_enabled", enabled)
        monkeypatch.setattr(fast_step, "fit_step", counting if enabled else original)
        model = _edited_classifier()
        assert list(model._modules) == ["0", "1", "2", "3", "4"]
        runs = []
        for _ in range(2):
            opt = mt.SGD(model.parameters(), lr=0.1)
            loader = mt.DataLoader(X, Y, batch_size=16, shuffle=False)
            history = mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=2, verbose=0)
            runs.append((history["loss"], [p.data.copy() for p in model.parameters()]))
            model[-1] = mt.Linear(3, 3)  # a new head, then a new optimizer
        results.append(runs)
    assert taken[1:6] == [True] * 5
    for (loss_a, params_a), (loss_b, params_b) in zip(*results, strict=True):
        assert loss_a == loss_b
        for a, b in zip(params_a, params_b, strict=True):
            assert_bitwise(a, b)


# ----------------------------------------------------------------- ModuleDict
def test_moduledict_pop_clear_and_del_as_torchs():
    """pop, clear and del as torch.nn.ModuleDict's (a missing key is a KeyError naming ModuleDict and
    its keys); del never reaches an attribute that is not a member."""
    ours = mt.ModuleDict({"a": mt.ReLU(), "b": mt.Tanh(), "c": mt.GELU()})
    theirs = torch.nn.ModuleDict({"a": torch.nn.ReLU(), "b": torch.nn.Tanh(), "c": torch.nn.GELU()})
    for d in (ours, theirs):
        assert type(d.pop("b")).__name__ == "Tanh"
        del d["a"]
        assert list(d._modules) == ["c"]
    for key in ("zz", "training", "_modules"):
        for edit in (lambda d, k=key: d.pop(k), lambda d, k=key: d.__delitem__(k), lambda d, k=key: d[k]):
            with pytest.raises(KeyError):
                edit(theirs)
            with pytest.raises(KeyError, match=r"ModuleDict\[.*expected one of its keys \['c'\]"):
                edit(ours)
    assert ours.training is True
    ours.clear()
    theirs.clear()
    assert len(ours) == len(theirs) == 0 and not hasattr(ours, "c")
    assert ours.__dict__["_init_args"] == {"modules": {}}


def test_a_moduledict_edited_after_its_parents_forward_gives_no_silent_gradient():
    model = Heads()
    model(np.ones((2, 3)))
    model.heads["b"] = mt.ReLU()
    with pytest.raises(RuntimeError):
        model.backward(np.ones((2, 3)))
    assert all(p.grad is None for p in model.parameters())
    model.zero_grad()
    model(np.ones((2, 3)))
    model.backward(np.ones((2, 3)))  # a new forward: the edited members' backward
    assert model.heads["a"].W.grad is not None


def test_names_torch_cannot_take_are_renumbered_both_ways():
    """A child name one library's Sequential cannot take (an attribute of torch's, a leading '_' in
    ours) is renumbered on conversion, as every name was before names were kept."""
    model = mt.Sequential(OrderedDict(cuda=mt.Linear(2, 2), act=mt.ReLU()))  # torch's Sequential.cuda
    assert list(mt.interop.to_torch(model)._modules) == ["0", "1"]
    twin = torch.nn.Sequential(OrderedDict(_fc=torch.nn.Linear(2, 2), act=torch.nn.ReLU()))
    assert list(mt.interop.from_torch(twin)._modules) == ["0", "1"]
