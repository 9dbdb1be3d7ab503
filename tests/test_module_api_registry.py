"""The Module API's PyTorch habits, checked on every case of every registry (tests/cases.py and
tests/test_losses.py's LOSS_CASES), so a layer or loss added there is checked for each class of bug
with no new line here:

1. assigning an array (or anything not a Parameter / None) to a registered Parameter's name, or a
   non-Module to a child's name, raises TypeError naming the module and the name, and changes
   nothing (where it used to unregister the Parameter silently: no gradient step, no state_dict key);
2. train(mode) / eval() return the module, reach every descendant through its own ``train``
   (an override is honoured, as torch recurses through ``child.train``), refuse a non-bool mode;
3. zero_grad(set_to_none=False) zeroes the gradients that exist, in place, and leaves a None
   gradient None, as torch (an optimizer then skips that Parameter, as torch's does);
4. a module held twice is visited once by modules() / named_modules() / buffers() / apply(), as
   torch's memo does, while state_dict() keeps both names (torch's too); named_children() gives it
   once too, as torch's (Sequential's editing, model files and conversions read ``_modules``).
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import INPUT_CASES, MODULE_CASES
from test_losses import LOSS_CASES

import minitorch as mt

CASES = ([(i, f) for i, f, _ in MODULE_CASES] + [(i, f) for i, f, _ in INPUT_CASES]
         + [(c[0], lambda f=c[1]: f("mean")) for c in LOSS_CASES])  # losses hold buffers (weight)
IDS = [c[0] for c in CASES]
FACTORIES = [c[1] for c in CASES]


@pytest.fixture(autouse=True)
def float64():
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)


def _build(factory):
    mt.manual_seed(0)
    return factory()


def _snapshot(model):
    names = [n for n, _ in model.named_parameters()], [n for n, _ in model.named_modules()]
    return names, list(model.state_dict())


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_an_array_or_a_non_module_never_silently_replaces_a_parameter_or_a_child(factory):
    model = _build(factory)
    before = _snapshot(model)
    for module in list(model.modules()):
        for name, param in list(module._parameters.items()):
            refusal = rf"{type(module).__name__}: cannot assign ndarray .*'{name}'"
            with pytest.raises(TypeError, match=refusal):
                setattr(module, name, param.data.copy())
            assert module._parameters[name] is param and getattr(module, name) is param
        for name, child in list(module._modules.items()):
            with pytest.raises(TypeError, match=rf"{type(module).__name__}: cannot assign int .*'{name}'"):
                setattr(module, name, 3)
            assert module._modules[name] is child
    assert _snapshot(model) == before


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_train_and_eval_return_the_module_reach_every_train_and_refuse_a_non_bool(factory):
    model = _build(factory)
    calls = []
    for module in model.modules():
        original = module.train
        module.train = (lambda mode=True, _m=module, _f=original: (calls.append(_m), _f(mode))[1])
    assert model.eval() is model
    assert {id(m) for m in calls} == {id(m) for m in model.modules()}
    assert not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    for mode in ("False", 0, None):
        with pytest.raises(ValueError, match="expected a bool"):
            model.train(mode)
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_zero_grad_without_set_to_none_zeroes_existing_gradients_and_keeps_none(factory):
    model = _build(factory)
    params = list(model.parameters())
    for p in params[::2]:
        p.grad = np.ones_like(p.data)
    held = [p.grad for p in params]
    model.zero_grad(set_to_none=False)
    for p, g in zip(params, held, strict=True):
        if g is None:
            assert p.grad is None  # torch: no gradient stays no gradient (optimizers skip p)
        else:
            assert p.grad is g and not np.any(g)  # in place, as torch's grad.zero_()


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_a_module_held_twice_is_visited_once_and_keeps_both_state_names(factory):
    inner = _build(factory)
    holder = mt.ModuleList([inner, mt.Identity(), inner])
    names = [n for n, _ in holder.named_modules()]
    assert len(names) == len({id(m) for m in holder.modules()}) == len(list(holder.modules()))
    assert not any(n == "2" or n.startswith("2.") for n in names)
    assert [n for n, _ in holder.named_children()] == ["0", "1"]  # as torch's (a child once)
    assert [n for n, _ in holder.named_buffers()] == [f"0.{n}" for n, _ in inner.named_buffers()]
    visited = []
    assert holder.apply(visited.append) is holder
    assert visited[-1] is holder and len(visited) == len(names)  # children first, as torch's apply
    assert {id(m) for m in visited} == {id(m) for m in holder.modules()}
    keys = list(inner.state_dict())
    assert list(holder.state_dict()) == [f"0.{k}" for k in keys] + [f"2.{k}" for k in keys]


# ---------------------------------------------------------------------------- against torch
def test_names_and_visits_of_a_shared_module_match_torch():
    torch = pytest.importorskip("torch")
    shared, t_shared = mt.Linear(2, 2), torch.nn.Linear(2, 2)
    ours = mt.Sequential(shared, mt.BatchNorm1d(2), mt.Sequential(shared, mt.ReLU()))
    theirs = torch.nn.Sequential(
        t_shared, torch.nn.BatchNorm1d(2), torch.nn.Sequential(t_shared, torch.nn.ReLU())
    )
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert ([n for n, _ in ours.named_modules(remove_duplicate=False)]
            == [n for n, _ in theirs.named_modules(remove_duplicate=False)])
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))
    assert [n for n, _ in ours.named_parameters(prefix="m")] == ["m.0.W", "m.0.b", "m.1.weight", "m.1.bias"]
    assert list(ours[1].parameters(recurse=False)) == [ours[1].weight, ours[1].bias]
    assert list(ours.parameters(recurse=False)) == [] and list(theirs.parameters(recurse=False)) == []
    assert len(list(ours.named_parameters(remove_duplicate=False))) == 6
    assert len(list(theirs.named_parameters(remove_duplicate=False))) == 6
    ours_seen, theirs_seen = [], []
    ours.apply(lambda m: ours_seen.append(type(m).__name__))
    theirs.apply(lambda m: theirs_seen.append(type(m).__name__))
    assert ours_seen == theirs_seen
    with pytest.raises(ValueError, match="expected a bool"):
        ours.train("False")  # torch: ValueError too; before, bool("False") was training mode


def test_a_child_overriding_train_is_obeyed_as_torch_obeys_it():
    class FrozenStats(mt.BatchNorm1d):  # the PyTorch habit: keep running statistics frozen
        def train(self, mode=True):
            return super().train(False)

    model = mt.Sequential(mt.Linear(2, 2), FrozenStats(2))
    model.train()
    assert model.training and model[0].training and not model[1].training


def test_zero_grad_without_set_to_none_leaves_an_unreached_parameter_to_the_optimizer_as_torch():
    """An AdamW step over a Parameter no backward reached: torch skips it (its grad stays None)."""
    torch = pytest.importorskip("torch")
    w0 = np.array([1.0, -2.0])
    used, unused = mt.Parameter(w0.copy()), mt.Parameter(w0.copy())
    t_used, t_unused = (torch.nn.Parameter(torch.tensor(w0)) for _ in range(2))
    opt = mt.AdamW([used, unused], lr=0.1, weight_decay=0.5)
    t_opt = torch.optim.AdamW([t_used, t_unused], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        opt.zero_grad(set_to_none=False)
        t_opt.zero_grad(set_to_none=False)
        used.accumulate_grad(np.array([0.5, 0.25]))
        t_used.grad = torch.tensor([0.5, 0.25], dtype=torch.float64)
        opt.step()
        t_opt.step()
    assert unused.grad is None and t_unused.grad is None
    np.testing.assert_array_equal(unused.data, w0)
    np.testing.assert_allclose(used.data, t_used.detach().numpy(), rtol=1e-12)


def test_a_buffer_stays_a_buffer_when_numpy_gives_a_scalar_and_refuses_a_non_array():
    bn = mt.BatchNorm1d(3)
    bn.num_batches_tracked = bn.num_batches_tracked + 1  # a 0-d array + 1 is an np.int64
    assert "num_batches_tracked" in bn.state_dict() and bn.state_dict()["num_batches_tracked"] == 1
    with pytest.raises(TypeError, match="BatchNorm1d: cannot assign float as buffer 'running_mean'"):
        bn.running_mean = 0.0
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    layer = mt.Linear(2, 3)
    layer.b = None  # None still unregisters, as torch leaves no bias
    assert [n for n, _ in layer.named_parameters()] == ["W"]


def test_add_module_register_parameter_and_get_submodule_as_torch():
    torch = pytest.importorskip("torch")
    pairs = ((mt, lambda: mt.Parameter(np.zeros(2))), (torch.nn, lambda: torch.nn.Parameter(torch.zeros(2))))
    for lib, param in pairs:
        model = lib.Sequential(lib.ReLU())
        model.add_module("head", lib.Sequential(lib.Tanh()))
        model.register_module("tail", lib.Identity())
        model.head.register_parameter("scale", param())
        assert [n for n, _ in model.named_modules()] == ["", "0", "head", "head.0", "tail"]
        assert [n for n, _ in model.named_parameters()] == ["head.scale"]
        assert model.get_submodule("head.0") is model.head[0] and model.get_submodule("") is model
        assert model.get_parameter("head.scale") is model.head.scale
        for bad, error in [(lambda m, lib, param: m.add_module("a.b", lib.ReLU()), KeyError),
                           (lambda m, lib, param: m.add_module("", lib.ReLU()), KeyError),
                           (lambda m, lib, param: m.add_module("training", lib.ReLU()), KeyError),
                           (lambda m, lib, param: m.add_module("x", 3), TypeError),
                           (lambda m, lib, param: m.add_module(1, lib.ReLU()), TypeError),
                           (lambda m, lib, param: m.register_parameter("q", np.zeros(2)), TypeError),
                           (lambda m, lib, param: m.register_parameter("a.b", param()), KeyError),
                           (lambda m, lib, param: m.get_submodule("head.1"), AttributeError),
                           (lambda m, lib, param: m.get_parameter("head.0"), AttributeError)]:
            with pytest.raises(error):
                bad(model, lib, param)
    model = mt.Sequential(mt.Sequential(mt.Tanh()))
    with pytest.raises(AttributeError, match=r"Sequential\.get_submodule: '0' has no submodule '1'"):
        model.get_submodule("0.1")


def test_requires_grad_takes_a_bool_only_as_torch():
    layer = mt.Linear(2, 2)
    for bad in ("False", 0, None):
        with pytest.raises(TypeError, match="requires_grad_: expected a bool"):
            layer.requires_grad_(bad)
        with pytest.raises(TypeError, match="requires_grad_: expected a bool"):
            layer.W.requires_grad_(bad)
        with pytest.raises(TypeError, match=r"Parameter\(requires_grad=...\): expected a bool"):
            mt.Parameter(np.zeros(2), requires_grad=bad)
    assert all(p.requires_grad for p in layer.parameters())  # nothing changed ("False" froze nothing)
    assert layer.requires_grad_(False) is layer and not layer.W.requires_grad


def test_a_module_dict_is_built_and_updated_from_another_as_torch():
    heads = mt.ModuleDict({"ab": mt.ReLU(), "xyz": mt.Tanh()})  # (a 2-letter key was unpacked as a pair)
    copy = mt.ModuleDict(heads)
    assert list(copy) == ["ab", "xyz"] and copy["ab"] is heads["ab"]
    other = mt.ModuleDict({"c": mt.Identity()})
    other.update(heads)
    assert list(other) == ["c", "ab", "xyz"]


def test_register_buffer_checks_and_persistent_false_as_torch():
    torch = pytest.importorskip("torch")
    for lib, array in ((mt, np.zeros), (torch.nn, torch.zeros)):
        m = lib.Module()
        m.register_buffer("kept", array(2))
        m.register_buffer("pe", array(3), persistent=False)  # recomputed by the constructor: not saved
        assert list(m.state_dict()) == ["kept"]
        assert [n for n, _ in m.named_buffers()] == ["kept", "pe"]
        assert m.load_state_dict({"kept": array(2)}) is not None
        for bad, error in [("a.b", KeyError), ("", KeyError), ("training", KeyError), (3, TypeError)]:
            with pytest.raises(error):
                m.register_buffer(bad, array(1))
    m = mt.Module()
    m.register_buffer("pe", np.ones(3), persistent=False)
    m.to(np.float32)
    assert m.pe.dtype == np.float32 and list(m.state_dict()) == []
    m.register_buffer("pe", np.ones(3))  # registered again, persistent: saved again (torch's too)
    assert list(m.state_dict()) == ["pe"]
    t = torch.nn.Module()
    t.register_buffer("pe", torch.ones(3))
    for module, array in ((m, np.zeros), (t, torch.zeros)):
        module.register_buffer("mask", None)  # an empty slot, as torch's
        assert list(module.state_dict()) == ["pe"] and module.mask is None
        module.register_buffer("late", array(1))
        module.mask = array(2)
        assert list(module.state_dict()) == ["pe", "mask", "late"]
