"""Edits while a forward call waits for its backward, beyond one Sequential's own chain: a module
shared by two parents, a custom parent holding an edited container, an edit that changes nothing,
a deepcopy of an edited model (which starts clean), a ModuleList parent; and what ``None`` and a
bad ``extend`` item do.

The rule (minitorch/containers/editing.py): an edit that changes a chain while a call waits drops
the waiting calls; every backward that would have consumed one of them raises RuntimeError naming
the edit, before any gradient is accumulated. Torch would backpropagate through the old graph;
ours has none, so it refuses instead of giving a silent wrong (or partial) gradient.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from custom_parents import Heads, Tower

import minitorch as mt

X, DY = np.ones((2, 3)), np.ones((2, 3))


@pytest.fixture(params=[True, False], ids=["kernels", "plain"])
def kernels(request, monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", request.param)
    return request.param


def _no_grad_written(model: mt.Module) -> bool:
    return all(p.grad is None for p in model.parameters())


# ----------------------------------------------------------------- 1. a module shared by two parents
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_editing_one_parent_of_a_shared_module_makes_the_others_backward_name_the_edit(method, kernels):
    """a and b share a Linear; editing a drops the shared Linear's waiting calls, b's among them:
    b's backward refuses before any child runs (its head gets no gradient), naming the edit."""
    mt.manual_seed(0)
    shared = mt.Linear(3, 3)
    a = mt.Sequential(shared, mt.ReLU())
    b = mt.Sequential(mt.Linear(3, 3), shared, mt.Linear(3, 3))
    a(X)
    b(X)
    a[1] = mt.Tanh()
    with pytest.raises(RuntimeError, match=r"Sequential\[1\] = \.\.\.") as caught:
        getattr(b, method)(DY)
    assert "Linear" in str(caught.value) and "forward again" in str(caught.value)
    assert _no_grad_written(b)
    assert not any(m.__dict__["_stack"] for m in b.modules())  # b's other waiting calls dropped too
    b(X)  # as the message says: forward again, then backward
    getattr(b, method)(DY)
    assert b[2].W.grad is not None


class _TowerByHand(Tower):
    """Tower with a hand-written backward (its layers' backward in reverse)."""

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy


def _b_with_shared(parent: str, shared: mt.Linear) -> mt.Module:
    if parent == "Sequential":
        return mt.Sequential(mt.Linear(3, 3), shared, mt.Linear(3, 3))
    b = Tower() if parent == "Tower" else _TowerByHand()
    b.layers[0] = shared  # (no call waits yet: nothing dropped)
    return b


@pytest.mark.parametrize("parent", ["Sequential", "Tower", "_TowerByHand"])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_the_other_parents_call_older_than_the_edit_refuses_after_a_new_forward(parent, method, kernels):
    """a and b share a Linear, both waiting; editing a drops the shared Linear's calls, b's among
    them. b's forward again gives the Linear a new call, which b's next backward consumes (the
    gradients of a model never edited); the backward after it would consume b's call older than
    the edit, whose Linear call was dropped: it refuses before any child adds a gradient (b's last
    layer included), naming the edit, and drops b's waiting calls."""
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    mt.manual_seed(0)
    shared = mt.Linear(3, 3)
    a, b = mt.Sequential(shared, mt.ReLU()), _b_with_shared(parent, shared)
    mt.manual_seed(0)
    reference = _b_with_shared(parent, mt.Linear(3, 3))
    a(x)
    b(x)
    a[1] = mt.Tanh()
    b(x)
    getattr(b, method)(dy)
    reference(x)
    getattr(reference, method)(dy)
    for p, q in zip(b.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)
    with pytest.raises(RuntimeError, match=rf"{parent}\.{method}: .*Sequential\[1\] = \.\.\..*forward again"):
        getattr(b, method)(dy)
    for p, q in zip(b.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)  # nothing added
    assert not any(m.__dict__["_stack"] for m in b.modules())
    b(x)  # as the message says: forward again, then backward
    getattr(b, method)(dy)
    with pytest.raises(RuntimeError, match="no forward call is waiting") as caught:
        getattr(b, method)(dy)  # one backward more than forward: the usual error, not the edit
    assert "edit" not in str(caught.value)
    c = mt.Sequential(mt.Linear(3, 3), shared)  # a parent made after the edit: its calls are all newer
    c(x)
    getattr(c, method)(dy)
    with pytest.raises(RuntimeError, match="no forward call is waiting") as caught:
        getattr(c, method)(dy)
    assert "edit" not in str(caught.value)


def test_a_shared_leafs_own_backward_names_the_edit_that_dropped_its_call():
    shared = mt.Linear(3, 3)
    a = mt.Sequential(shared, mt.ReLU())
    a(X)
    del a[1]
    with pytest.raises(RuntimeError, match=r"Linear\.backward\(\).*edit \(del Sequential\[1\]\)"):
        shared.backward(DY)
    shared(X)  # a new forward: the ordinary contract again
    shared.backward(DY)
    with pytest.raises(RuntimeError, match="called before forward") as caught:
        shared.backward(DY)
    assert "edit" not in str(caught.value)


def test_a_third_parent_is_refused_too_after_the_second_refused():
    shared = mt.Linear(3, 3)
    a, b, c = (mt.Sequential(mt.Linear(3, 3), shared) for _ in range(3))
    for parent in (a, b, c):
        parent(X)
    a.insert(0, mt.Tanh())
    for parent in (b, c):
        with pytest.raises(RuntimeError, match=r"Sequential\.insert\(0, \.\.\.\)"):
            parent.backward(DY)
        assert _no_grad_written(parent[0])


def test_a_parent_found_clean_is_looked_at_again_after_the_next_edit():
    """A removed child kept alive keeps its mark (it may be held elsewhere), so backwards keep
    looking for marks; a parent found with none below it is looked at again after a new edit."""
    model = _Head()
    model(X)
    removed = model.inner.pop(1)  # kept: its mark stays
    model(X)
    model.backward(DY)  # no mark below: found clean
    model.zero_grad()
    model(X)
    model.inner[0] = mt.Linear(3, 3)
    with pytest.raises(RuntimeError, match=r"edited \(Sequential\[0\] = \.\.\.\)"):
        model.backward(DY)
    assert _no_grad_written(model)
    with pytest.raises(RuntimeError, match=r"edit \(del Sequential\[1\]\)"):
        removed.backward(DY)


# ----------------------------------------------------------------- 2. a custom parent
class _Head(mt.Module):
    """A custom parent (backward from its recorded plain chain) holding a Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = mt.Sequential(mt.Linear(3, 3), mt.ReLU(), mt.Linear(3, 3))
        self.head = mt.Linear(3, 3)

    def forward(self, x):
        return self.head(self.inner(x))


class _HandWritten(_Head):
    """The same, with a hand-written backward (the children's backward in reverse)."""

    def backward(self, dy):
        return self.inner.backward(self.head.backward(dy))


@pytest.mark.parametrize("parent", [_Head, _HandWritten])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_custom_parent_of_an_edited_sequential_refuses_before_any_child_runs(parent, method, kernels):
    model = parent()
    model(X)
    model.inner[1] = mt.Tanh()
    refused = r"_(Head|HandWritten)\.\w+: .*edited \(Sequential\[1\] = \.\.\.\)"
    with pytest.raises(RuntimeError, match=refused):
        getattr(model, method)(DY)
    assert _no_grad_written(model)  # the head's gradient of the dropped call was not added
    assert not any(m.__dict__["_stack"] for m in model.modules())
    model(X)
    getattr(model, method)(DY)
    assert model.head.W.grad is not None and model.inner[0].W.grad is not None


def test_a_sequential_inside_a_custom_parent_inside_a_sequential():
    model = mt.Sequential(_Head(), mt.Linear(3, 3))
    model(X)
    del model[0].inner[2]
    with pytest.raises(RuntimeError, match=r"edited \(del Sequential\[2\]\)"):
        model.backward(DY)
    assert _no_grad_written(model)


# ----------------------------------------------------------------- 3. an edit that changes nothing
class _Holder(mt.Module):
    """A parent chaining the two members of a ModuleList or ModuleDict, then a head."""

    def __init__(self, container: str) -> None:
        super().__init__()
        self.keys = ["0", "1"] if container == "ModuleDict" else [0, 1]
        members = [mt.Linear(3, 3), mt.ReLU()]
        self.inner = (mt.ModuleDict(dict(zip(self.keys, members, strict=True))) if container == "ModuleDict"
                      else mt.ModuleList(members))
        self.head = mt.Linear(3, 3)

    def forward(self, x):
        for key in self.keys:
            x = self.inner[key](x)
        return self.head(x)


@pytest.mark.parametrize("container", ["Sequential", "ModuleList", "ModuleDict"])
def test_setting_a_child_to_itself_keeps_the_waiting_call(container):
    """model[i] = model[i] changes nothing (torch: the same setattr); the waiting call is kept and
    its backward gives the gradients of a model not edited."""
    def build():
        mt.manual_seed(0)
        if container == "Sequential":
            return mt.Sequential(mt.Linear(3, 3), mt.ReLU(), mt.Linear(3, 3))
        return _Holder(container)

    model, reference = build(), build()
    model(X)
    reference(X)
    holder = model if container == "Sequential" else model.inner
    key = "1" if container == "ModuleDict" else 1
    holder[key] = holder[key]
    np.testing.assert_array_equal(model.backward(DY), reference.backward(DY))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)


# ----------------------------------------------------------------- 4. a deepcopy of an edited model
@pytest.mark.parametrize("rerun_original", [False, True])
def test_a_deepcopy_made_after_an_edit_starts_clean_and_the_original_still_refuses(rerun_original, kernels):
    """A copy holds no waiting call (as torch's deepcopy holds no graph: tests/test_deepcopy_waiting.py),
    so no edit's mark either: its backward refuses as any module's without a forward, before any
    child runs. The original keeps its marks: its backward names the edit."""
    inner = mt.Sequential(mt.Linear(3, 3), mt.ReLU())
    outer = mt.Sequential(inner, mt.Linear(3, 3))
    outer(X)
    inner[1] = mt.Tanh()
    twin = copy.deepcopy(outer)
    if rerun_original:  # the original's marks go with its new forward
        outer(X)
        outer.backward(DY)
    else:
        with pytest.raises(RuntimeError, match=r"edited \(Sequential\[1\] = \.\.\.\)"):
            outer.backward(DY)
        assert _no_grad_written(outer)
    with pytest.raises(RuntimeError, match=r"no forward call is waiting"):
        twin.backward(DY)
    assert _no_grad_written(twin)
    twin(X)
    twin.backward(DY)
    assert twin[1].W.grad is not None


def test_a_deepcopy_of_a_shared_modules_parent_starts_clean():
    shared = mt.Linear(3, 3)
    a, b = mt.Sequential(shared, mt.ReLU()), mt.Sequential(shared, mt.Linear(3, 3))
    a(X)
    b(X)
    a[1] = mt.Tanh()
    twin = copy.deepcopy(b)
    assert "_dropped_by" not in twin[0].__dict__  # (the edit's lasting mark stays with the original)
    shared(X)  # the original shared Linear runs again
    with pytest.raises(RuntimeError, match=r"no forward call is waiting"):
        twin.backward(DY)
    assert _no_grad_written(twin)


# ----------------------------------------------------------------- 5. a ModuleList's parent
ML_EDITS = {
    "del": (lambda ml: ml.__delitem__(1), r"del ModuleList\[1\]"),
    "set": (lambda ml: ml.__setitem__(1, mt.Tanh()), r"ModuleList\[1\] = \.\.\."),
    "set-first": (lambda ml: ml.__setitem__(0, mt.Linear(3, 3)), r"ModuleList\[0\] = \.\.\."),
    "pop-last": (lambda ml: ml.pop(-1), r"del ModuleList\[-1\]"),
    "append": (lambda ml: ml.append(mt.Tanh()), r"ModuleList\.append"),
    "insert": (lambda ml: ml.insert(1, mt.Tanh()), r"ModuleList\.insert\(1, \.\.\.\)"),
    "clear-all": (lambda ml: ml.__delitem__(slice(None)), r"del ModuleList\[slice\(None, None, None\)\]"),
}


@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("edit", list(ML_EDITS))
def test_a_modulelist_edit_after_its_parents_forward_names_the_edit(edit, method):
    model = Tower()
    model(X)
    do, named = ML_EDITS[edit]
    do(model.layers)
    with pytest.raises(RuntimeError, match=rf"Tower\.{method}: .*{named}.*forward again"):
        getattr(model, method)(DY)
    assert _no_grad_written(model)
    assert not model.__dict__["_stack"]
    if len(model.layers):
        model(X)
        getattr(model, method)(DY)


def test_a_moduledict_edit_after_its_parents_forward_names_the_edit():
    for edit, named in [(lambda d: d.__setitem__("b", mt.ReLU()), r"ModuleDict\['b'\] = \.\.\."),
                        (lambda d: d.pop("a"), r"del ModuleDict\['a'\]")]:
        model = Heads()
        model(X)
        edit(model.heads)
        with pytest.raises(RuntimeError, match=named):
            model.backward(DY)
        assert _no_grad_written(model)


# ----------------------------------------------------------------- 6. None and a bad item part-way
@pytest.mark.parametrize("container", ["Sequential", "ModuleList"])
def test_none_as_a_child_is_refused_where_torch_leaves_an_empty_slot(container):
    """torch stores None (forward then fails on it); ours raises TypeError naming what was expected
    and leaves the container as it was (the docstrings say so)."""
    theirs = getattr(torch.nn, container)([torch.nn.ReLU(), torch.nn.Tanh()]) if container == "ModuleList" \
        else torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())
    theirs[0] = None
    assert theirs._modules["0"] is None
    members = [mt.ReLU(), mt.Tanh()]
    ours = mt.ModuleList(members) if container == "ModuleList" else mt.Sequential(*members)
    children = list(ours)
    for edit in (lambda m: m.__setitem__(0, None), lambda m: m.append(None), lambda m: m.insert(0, None),
                 lambda m: m.extend([mt.GELU(), None])):
        with pytest.raises(TypeError, match=rf"{container}.*expected Module instances, got NoneType"):
            edit(ours)
        assert list(ours) == children
    assert "None" in type(ours).__doc__


@pytest.mark.parametrize("container", ["Sequential", "ModuleList"])
def test_extend_with_a_bad_item_part_way_adds_nothing(container):
    """torch's extend adds the items before the bad one, then raises TypeError; ours checks every
    item first and adds none (no half-made edit), raising the same type, naming the bad item."""
    theirs = getattr(torch.nn, container)()
    with pytest.raises(TypeError):
        theirs.extend([torch.nn.ReLU(), "relu", torch.nn.Tanh()])
    assert list(theirs._modules) == ["0"]  # torch: the ReLU was added
    ours = getattr(mt, container)()
    with pytest.raises(TypeError, match=rf"{container}\.extend: expected Module instances, got str"):
        ours.extend([mt.ReLU(), "relu", mt.Tanh()])
    assert len(ours) == 0
    assert "adds none" in type(ours).__doc__


def test_moduledict_update_with_a_bad_item_part_way_adds_nothing():
    theirs = torch.nn.ModuleDict()
    with pytest.raises(TypeError):
        theirs.update({"a": torch.nn.ReLU(), "b": 3})
    assert list(theirs) == ["a"]
    ours = mt.ModuleDict()
    with pytest.raises(TypeError, match=r"ModuleDict.*expected Module instances, got int"):
        ours.update({"a": mt.ReLU(), "b": 3})
    assert len(ours) == 0


# ----------------------------------------------------------------- forwards that answer no waiting call
def _inference(model):
    with mt.no_grad():
        model(X)


def _diagnose(model):
    mt.diagnose(model, mt.MSELoss(), X, np.zeros((2, 3)))


def _export(model, tmp_path):
    pytest.importorskip("onnx")
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 3))


@pytest.mark.parametrize("between", [_inference, _diagnose, _export])
@pytest.mark.parametrize("where", ["inner", "shared"])
def test_a_forward_that_keeps_nothing_leaves_the_edits_refusal(between, where, kernels, tmp_path):
    """A forward under no_grad (predict, evaluate), a probe (diagnose) or an export between the
    edit and the backward answers none of the dropped calls: the backward still refuses, naming
    the edit, and writes no gradient."""
    mt.manual_seed(0)
    inner = mt.Sequential(mt.Linear(3, 3), mt.ReLU())
    model = mt.Sequential(inner, mt.Linear(3, 3))
    other = mt.Sequential(inner[0], mt.Tanh())
    (other if where == "shared" else model)(X)
    model(X)
    if where == "shared":
        other[1] = mt.Sigmoid()  # drops the calls of inner[0], model's too
    else:
        inner[1] = mt.Tanh()
    (lambda m: between(m, tmp_path) if between is _export else between(m))(model)
    with pytest.raises(RuntimeError, match=r"(edited|edit) \((Sequential\[1\] = \.\.\.)\)"):
        model.backward(DY)
    assert _no_grad_written(model)
    model(X)
    model.backward(DY)


def test_a_probe_that_backpropagates_leaves_the_refusal_of_a_custom_parent(kernels):
    """diagnose runs forward and backward through a custom parent (which finds no mark during
    the probe: its own forward cleared them) and puts the marks back: the parent's backward still
    refuses."""
    model = mt.Sequential(_Head(), mt.Linear(3, 3))
    model(X)
    model[0].inner[1] = mt.Tanh()
    _diagnose(model)
    with pytest.raises(RuntimeError, match=r"edited \(Sequential\[1\] = \.\.\.\)"):
        model.backward(DY)
    assert _no_grad_written(model)


class _Switch(mt.Module):
    """A parent calling one of its heads (chosen by ``use``): the other is not called."""

    def __init__(self) -> None:
        super().__init__()
        self.heads = mt.ModuleDict({"a": mt.Sequential(mt.Linear(3, 3), mt.ReLU()), "b": mt.Linear(3, 3)})
        self.use = "a"

    def forward(self, x):
        return self.heads[self.use](x)


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("edit", ["inner", "shared"])
def test_a_marked_module_the_parent_no_longer_calls_refuses_once_not_forever(edit, nested):
    """After the refusal every call below the parent is dropped, so the marks it found are served
    (for the parents below it too): forward and backward then run, though the marked head is not
    called again (nothing clears its mark), where a parent looking at every mark would refuse
    every backward from then on."""
    switch = _Switch()
    model = mt.Sequential(switch, mt.Linear(3, 3)) if nested else switch
    other = mt.Sequential(switch.heads["a"][0], mt.Tanh())
    other(X)
    model(X)
    if edit == "inner":
        switch.heads["a"][1] = mt.Tanh()
    else:
        other[1] = mt.Sigmoid()
    switch.use = "b"
    with pytest.raises(RuntimeError, match=r"Sequential\[1\] = \.\.\."):
        model.backward(DY)  # the call through head "a" is still the one waiting
    for _ in range(2):
        model(X)
        model.backward(DY)
    assert switch.heads["b"].W.grad is not None
    switch.use = "a"  # a new edit of the same head still refuses
    model(X)
    switch.heads["a"][1] = mt.ReLU()
    with pytest.raises(RuntimeError, match=r"Sequential\[1\] = \.\.\."):
        model.backward(DY)


@pytest.mark.parametrize("edit", ["inner", "shared"])
def test_a_recording_parent_refuses_only_the_waiting_call_that_used_the_marked_module(edit):
    """A custom parent records what each call called: the call through head "b" after the edit
    backpropagates (it used nothing the edit touched); the older call through head "a", waiting
    below it, then refuses, before head "a"'s chain adds anything."""
    switch = _Switch()
    other = mt.Sequential(switch.heads["a"][0], mt.Tanh())
    other(X)
    switch(X)  # through head "a"
    if edit == "inner":
        switch.heads["a"][1] = mt.Tanh()
    else:
        other[1] = mt.Sigmoid()
    switch.use = "b"
    switch(X)
    switch.backward(DY)
    assert switch.heads["b"].W.grad is not None
    with pytest.raises(RuntimeError, match=r"Sequential\[1\] = \.\.\."):
        switch.backward(DY)
    assert switch.heads["a"][0].W.grad is None
