"""Module's traversal and state API against torch.nn.Module, on twin trees built in both libraries.

Each twin has the same names, the same sharing (a child held twice, a tied Parameter) and tags
(every Parameter and buffer is filled with its own number), so a name list or a value list from
MiniTorch is compared with torch's directly:

1. parameters / named_parameters / buffers / named_buffers / children / named_children / modules /
   named_modules are generators with torch's keywords (prefix, recurse, remove_duplicate, memo);
2. a child held under two names is one child (named_children, children), as torch's memo;
3. state_dict(destination=, prefix=, keep_vars=) and load_state_dict(assign=True);
4. a Parameter or buffer set to None keeps its place: reassigned, it comes back where it was.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

GRID = settings(max_examples=60, deadline=None)
LIBS = {
    "mt": (mt.Module, lambda tag: mt.Parameter(np.full(2, float(tag))), lambda tag: np.full(2, float(tag)),
           mt.Sequential),
    "torch": (torch.nn.Module, lambda tag: torch.nn.Parameter(torch.full((2,), float(tag))),
              lambda tag: torch.full((2,), float(tag)), torch.nn.Sequential),
}


def twin(lib: str, share_child: bool, tie: bool, nest: bool):
    """root(own, x: Leaf, y: Leaf, [z: x again], [seq: Sequential(y, Leaf)]); a Leaf holds
    Parameters a, c and buffer m. ``tie``: y.c is x.a."""
    module, param, buffer, sequential = LIBS[lib]
    tags = iter(range(1, 100))

    def leaf():
        m = module()
        m.a = param(next(tags))
        m.register_buffer("m", buffer(next(tags)))
        m.c = param(next(tags))
        return m

    root = module()
    root.own = param(next(tags))
    root.x, root.y = leaf(), leaf()
    if share_child:
        root.z = root.x
    if tie:
        root.y.c = root.x.a
    if nest:
        root.seq = sequential(root.y, leaf())
    return root


def tag(value) -> float:
    value = value.data if isinstance(value, (mt.Parameter, torch.nn.Parameter)) else value
    return float(np.asarray(value.detach() if isinstance(value, torch.Tensor) else value)[0])


def listed(items) -> list:
    """names and tags (pairs) or tags (members) or module positions, in order."""
    out = []
    for item in items:
        if isinstance(item, tuple):
            name, value = item
            out.append((name, tag(value) if not isinstance(value, (mt.Module, torch.nn.Module)) else None))
        else:
            out.append(None if isinstance(item, (mt.Module, torch.nn.Module)) else tag(item))
    return out


trees = st.tuples(st.booleans(), st.booleans(), st.booleans())


@GRID
@given(tree=trees, prefix=st.sampled_from(["", "pre", "a.b"]), recurse=st.booleans(),
       remove_duplicate=st.booleans())
def test_named_members_are_generators_listing_as_torch(tree, prefix, recurse, remove_duplicate):
    ours, theirs = twin("mt", *tree), twin("torch", *tree)
    for method in ("named_parameters", "named_buffers"):
        kwargs = dict(prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate)
        got = getattr(ours, method)(**kwargs)
        assert inspect.isgenerator(got), method
        assert listed(got) == listed(getattr(theirs, method)(**kwargs)), method
    for method in ("parameters", "buffers"):
        got = getattr(ours, method)(recurse=recurse)
        assert inspect.isgenerator(got), method
        assert listed(got) == listed(getattr(theirs, method)(recurse=recurse)), method


@GRID
@given(tree=trees, prefix=st.sampled_from(["", "pre"]), remove_duplicate=st.booleans())
def test_module_traversal_lists_as_torch(tree, prefix, remove_duplicate):
    ours, theirs = twin("mt", *tree), twin("torch", *tree)
    for method in ("children", "named_children"):
        got = getattr(ours, method)()
        assert inspect.isgenerator(got)
        assert listed(got) == listed(getattr(theirs, method)()), method
    got = ours.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
    assert inspect.isgenerator(got)
    assert listed(got) == listed(theirs.named_modules(prefix=prefix, remove_duplicate=remove_duplicate))
    assert (len(list(ours.modules(remove_duplicate=remove_duplicate)))
            == len(list(theirs.modules(remove_duplicate=remove_duplicate))))
    # torch's memo is a set of modules: those in it are skipped, the others added
    memo_ours, memo_theirs = {ours.y}, {theirs.y}
    assert (listed(ours.named_modules(memo=memo_ours, remove_duplicate=remove_duplicate))
            == listed(theirs.named_modules(memo=memo_theirs, remove_duplicate=remove_duplicate)))
    assert len(memo_ours) == len(memo_theirs)


def test_next_of_parameters_and_a_shared_child_listed_once():
    model = mt.Sequential(mt.Linear(2, 3), mt.ReLU(), mt.Linear(3, 1))
    assert next(model.parameters()) is model[0].W
    assert next(model.parameters(recurse=False), None) is None
    shared = mt.Linear(2, 2)
    holder = mt.Sequential(shared, mt.ReLU(), shared)
    t_shared = torch.nn.Linear(2, 2)
    t_holder = torch.nn.Sequential(t_shared, torch.nn.ReLU(), t_shared)
    assert [n for n, _ in holder.named_children()] == [n for n, _ in t_holder.named_children()] == ["0", "1"]
    assert len(list(holder.children())) == len(list(t_holder.children())) == 2
    assert len(holder) == len(t_holder) == 3 and list(holder)[2] is shared  # iterating keeps every slot


@GRID
@given(tree=trees, prefix=st.sampled_from(["", "model.", "x"]), keep_vars=st.booleans(),
       into=st.booleans())
def test_state_dict_keywords_as_torch(tree, prefix, keep_vars, into):
    ours, theirs = twin("mt", *tree), twin("torch", *tree)
    d_ours, d_theirs = ({"first": 0}, {"first": 0}) if into else (None, None)
    got = ours.state_dict(destination=d_ours, prefix=prefix, keep_vars=keep_vars)
    expected = theirs.state_dict(destination=d_theirs, prefix=prefix, keep_vars=keep_vars)
    assert (got is d_ours) if into else isinstance(got, dict)
    assert list(got) == list(expected)
    for name in expected:
        if name == "first":
            continue
        assert tag(got[name]) == tag(expected[name])
        is_param = isinstance(expected[name], torch.nn.Parameter)
        assert isinstance(got[name], mt.Parameter) == is_param  # keep_vars: the Parameters themselves
        path, _, attribute = name[len(prefix):].rpartition(".")
        held = getattr(ours.get_submodule(path), attribute)
        assert (got[name] is held) == keep_vars  # else a copy (torch's detach shares memory instead)


def test_state_dict_refuses_bad_keywords_and_positional_arguments():
    layer = mt.Linear(2, 2)
    with pytest.raises(TypeError, match="expected destination to be a dict"):
        layer.state_dict(destination=[])
    with pytest.raises(TypeError, match="expected a str prefix"):
        layer.state_dict(prefix=1)
    with pytest.raises(TypeError, match=r"keep_vars=...\): expected a bool"):
        layer.state_dict(keep_vars="no")
    with pytest.raises(TypeError):
        layer.state_dict({})  # torch's positional form is deprecated there; keywords here


# ---------------------------------------------------------------- load_state_dict(assign=True)
def _pair():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    ours = mt.interop.from_torch(theirs)
    return ours, theirs


@GRID
@given(dtype=st.sampled_from([np.float32, np.float64]), frozen=st.booleans(),
       given_as=st.sampled_from(["array", "parameter", "tensor"]))
def test_assign_makes_the_values_the_models_own_as_torch(dtype, frozen, given_as):
    ours, theirs = _pair()
    ours[0].requires_grad_(not frozen)
    theirs[0].requires_grad_(not frozen)
    rng = np.random.default_rng(1)
    state = {k: rng.standard_normal(v.shape).astype(dtype) if v.dtype.kind == "f" else v.copy()
             for k, v in ours.state_dict().items()}
    state_t = {k: torch.from_numpy(v.T.copy() if k.endswith(".W") else v.copy()) for k, v in state.items()}
    state_t = {k.replace(".W", ".weight").replace(".b", ".bias") if k[0] in "02" else k: v
               for k, v in state_t.items()}
    if given_as == "parameter":
        state = {k: mt.Parameter(v) if k[0] in "02" else v for k, v in state.items()}
    elif given_as == "tensor":
        state = {k: torch.from_numpy(v) for k, v in state.items()}
    old = list(ours.parameters())
    ours.load_state_dict(state, assign=True)
    theirs.load_state_dict(state_t, assign=True)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert p.dtype == np.dtype(dtype) and tp.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype
        assert p.requires_grad == tp.requires_grad == (not frozen or name[0] != "0")
        value = state[name]
        array = value.data if isinstance(value, mt.Parameter) else np.asarray(value)
        assert p.data is array or np.shares_memory(p.data, array)  # no copy: torch's too
        assert (p is value) == isinstance(value, mt.Parameter)  # a Parameter given is used itself
        np.testing.assert_array_equal(p.data.T if name.endswith(".W") else p.data, tp.detach().numpy())
    assert all(a is not b for a, b in zip(old, ours.parameters(), strict=True))
    assert ours[1].running_mean.dtype == np.dtype(dtype)
    assert ours[1].num_batches_tracked.dtype.kind == "i"
    # forward and a training step on the assigned model equal torch's (an optimizer built after)
    x = rng.standard_normal((5, 3)).astype(dtype)
    opt, t_opt = mt.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    y = ours(x)
    ours.backward(np.ones_like(y))
    ty = theirs(torch.from_numpy(x))
    ty.sum().backward()
    opt.step()
    t_opt.step()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        got = p.data.T if p.ndim == 2 else p.data
        np.testing.assert_allclose(got, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_assign_leaves_an_optimizer_built_before_on_the_old_parameters_as_torch():
    ours, theirs = _pair()
    opt, t_opt = mt.SGD(ours.parameters(), lr=1.0), torch.optim.SGD(theirs.parameters(), lr=1.0)
    state = {k: np.zeros_like(v) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state, assign=True)
    theirs.load_state_dict({k: torch.zeros_like(v) for k, v in theirs.state_dict().items()}, assign=True)
    x = np.ones((2, 3), np.float32)
    ours.backward(np.ones_like(ours(x)))
    theirs(torch.from_numpy(x)).sum().backward()
    opt.step()
    t_opt.step()
    assert all(not p.data.any() for p in ours.parameters())  # the old Parameters moved, not these
    assert all(not tp.detach().any() for tp in theirs.parameters())


def test_copy_load_keeps_the_parameters_and_their_dtype_as_torch():
    ours, theirs = _pair()
    old = list(ours.parameters())
    ours.load_state_dict({k: v.astype(np.float64) if v.dtype.kind == "f" else v
                          for k, v in ours.state_dict().items()}, assign=False)
    theirs.load_state_dict({k: v.double() if v.is_floating_point() else v
                            for k, v in theirs.state_dict().items()}, assign=False)
    assert all(a is b for a, b in zip(old, ours.parameters(), strict=True))
    assert {p.dtype for p in ours.parameters()} == {np.dtype(np.float32)}
    assert {p.dtype for p in theirs.parameters()} == {torch.float32}


@pytest.mark.parametrize("spoil", ["shape", "dtype", "read-only", "tie"])
def test_a_refused_assign_changes_nothing(spoil):
    a = mt.Linear(3, 3)
    model = mt.Sequential(a, mt.ReLU(), mt.Linear(3, 3))
    model[2].W = a.W  # tied
    state = {k: v + 1 for k, v in model.state_dict().items()}
    if spoil == "shape":
        state["2.b"] = np.zeros(4, np.float32)
    elif spoil == "dtype":
        state["2.b"] = np.zeros(3, np.int64)
    elif spoil == "read-only":
        state["2.b"].flags.writeable = False
    else:
        state["2.W"] = state["2.W"] * 2
    before = model.state_dict()
    params = list(model.named_parameters(remove_duplicate=False))
    with pytest.raises(ValueError, match=r"load_state_dict: '[02]\.[Wb]'|one object"):
        model.load_state_dict(state, assign=True)
    assert all(p is q for (_, p), (_, q) in zip(params, model.named_parameters(remove_duplicate=False),
                                                 strict=True))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    # torch stops half-way instead: the first layer's Parameters are already replaced
    t = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    t_state = {k: v.clone() for k, v in t.state_dict().items()}
    t_state["1.bias"] = torch.zeros(4)
    first = t[0].weight
    with pytest.raises(RuntimeError):
        t.load_state_dict(t_state, assign=True)
    assert t[0].weight is not first


def test_assign_keeps_a_tie_and_a_shared_module_one_object():
    a = mt.Linear(3, 3)
    model = mt.Sequential(a, mt.ReLU(), mt.Linear(3, 3), a)
    model[2].W = a.W
    model.load_state_dict({k: v + 1 for k, v in model.state_dict().items()}, assign=True)
    assert model[2].W is model[0].W and model[3] is model[0]
    assert [n for n, _ in model.named_parameters()] == ["0.W", "0.b", "2.b"]


def test_assign_of_a_tie_takes_equal_values_with_nan_and_names_a_mismatch():
    """Equal values of a tied Parameter load even holding NaN (NaN equals NaN there); different ones
    are refused naming both names."""
    a = mt.Linear(3, 3, dtype=np.float64)
    model = mt.Sequential(a, mt.ReLU(), mt.Linear(3, 3, dtype=np.float64))
    model[2].W = a.W
    state = model.state_dict()
    state["0.W"][0, 0] = state["2.W"][0, 0] = np.nan
    model.load_state_dict(state, assign=True)
    assert model[2].W is model[0].W and np.isnan(model[0].W.data[0, 0])
    state["2.W"] = state["2.W"] * 2
    with pytest.raises(ValueError, match=r"'0\.W' and '2\.W' are one object in the model"):
        model.load_state_dict(state, assign=True)


def test_assign_of_another_models_parameters_shares_them_as_torch():
    a, b = mt.Linear(2, 2), mt.Linear(2, 2)
    a.W.requires_grad_(False)
    b.load_state_dict(a.state_dict(keep_vars=True), assign=True)
    ta, tb = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ta.weight.requires_grad_(False)
    tb.load_state_dict(ta.state_dict(keep_vars=True), assign=True)
    assert b.W is a.W and b.b is a.b and tb.weight is ta.weight and tb.bias is ta.bias
    assert b.W.requires_grad is tb.weight.requires_grad is True  # the loading module's flag wins


def test_load_state_dict_checks_its_flags():
    layer = mt.Linear(2, 2)
    for bad in (dict(assign="yes"), dict(strict=1)):
        with pytest.raises(TypeError, match=r"\((assign|strict)=\.\.\.\): expected a bool"):
            layer.load_state_dict(layer.state_dict(), **bad)
    layer.load_state_dict(state_dict=layer.state_dict())  # torch's argument name


# ---------------------------------------------------------------- None slots
@GRID
@given(which=st.sampled_from(["p0", "p1", "p2", "b0", "b1", "c0", "c1"]), reassign=st.booleans(),
       via=st.booleans())
def test_a_none_slot_keeps_its_place_as_torch(which, reassign, via):
    def build(lib):
        module, param, buffer, _ = LIBS[lib]

        def child(tag):
            c = module()
            c.w = param(tag)
            return c

        m = module()
        m.p0, m.c0, m.p1 = param(1), child(6), param(2)
        m.register_buffer("b0", buffer(3))
        m.p2, m.c1 = param(4), child(7)
        m.register_buffer("b1", buffer(5))
        return m, {"p": param, "b": buffer, "c": child}[which[0]]

    def seen(m):
        return [list(m.state_dict()), listed(m.named_parameters()), listed(m.named_buffers()),
                listed(m.named_children()), listed(m.named_modules())]

    names = {}
    for lib in LIBS:
        m, make = build(lib)
        if via and which[0] != "b":  # torch's register_parameter / add_module with None
            (m.register_parameter if which[0] == "p" else m.add_module)(which, None)
        else:
            setattr(m, which, None)
        names[lib] = seen(m)
        assert getattr(m, which) is None
        if reassign:
            setattr(m, which, make(9))
        names[lib] += seen(m)
    assert names["mt"] == names["torch"]


class Holder(mt.Module):
    def __init__(self):
        super().__init__()
        self.head, self.tail = mt.Linear(3, 2), mt.Linear(2, 2)


def test_a_none_slot_is_skipped_by_to_summary_and_model_files(tmp_path, restore_registry):
    mt.register_module(Holder)
    holder = Holder()
    holder.head = None
    holder.to(np.float64)
    assert [n for n, _ in holder.named_children()] == ["tail"] and "(head): None" in repr(holder)
    mt.save_model(holder, tmp_path / "h.npz")
    loaded = mt.load_model(tmp_path / "h.npz")
    assert loaded.head is None and list(loaded.state_dict()) == ["tail.W", "tail.b"]
    loaded.head = mt.Linear(3, 2)
    assert list(loaded.state_dict()) == ["head.W", "head.b", "tail.W", "tail.b"]
    model = mt.Sequential(mt.Linear(3, 2), mt.BatchNorm1d(2))
    model[0].b = None
    model[1].weight = None
    model[1].running_var = None
    model.to(np.float64)
    assert list(model.state_dict()) == ["0.W", "1.bias", "1.running_mean", "1.num_batches_tracked"]
    assert mt.summary(model[0], input_size=(4, 3)).total_params == 6
    path = tmp_path / "m.npz"
    mt.save_model(model, path)
    loaded = mt.load_model(path)
    assert list(loaded.state_dict()) == list(model.state_dict()) and loaded[0].b is None
    for m in (model, loaded):  # the file keeps the empty slots in their places
        m[1].weight = mt.Parameter(np.ones(2))
        m[1].running_var = np.ones(2)
        assert list(m.state_dict()) == ["0.W", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                        "1.num_batches_tracked"]
