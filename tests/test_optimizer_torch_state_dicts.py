"""A torch 2.13 optimizer's ``state_dict()`` loads into the MiniTorch optimizer of the same name as it is.

torch's groups hold its implementation choices, ``foreach``, ``fused`` (SGD, Adam, AdamW, Adagrad),
``capturable`` (all but SGD and Adagrad) and ``differentiable``, and Adam's and AdamW's hold
``decoupled_weight_decay``: before, MiniTorch refused them as unknown settings until the user
deleted them, and its constructors refused the keywords. Now they are group settings, as torch's:
the next steps after a load agree with torch's continuing run, with torch's defaults and with
foreach=True, fused=True (where torch has CPU kernels) and differentiable=True (a loaded group: torch
steps it as any other); capturable=True is refused by name (torch 2.13's step refuses it for CPU
parameters), and so is a constructor's differentiable=True (torch's step then refuses Parameters).
MiniTorch's own state_dict holds them, so it loads into torch with the same settings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt

OPTIONS = {  # settings other than the defaults, so that the load must carry them
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
    "Adam": {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True, "weight_decay": 0.05},
    "AdamW": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.3},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.05},
    "Adadelta": {"lr": 0.5, "rho": 0.5, "weight_decay": 0.05},
    "Adamax": {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.05},
    "NAdam": {"lr": 0.01, "momentum_decay": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.05},
    "RAdam": {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.05},
    "ASGD": {"lr": 0.05, "t0": 2.0, "lambd": 0.1},
    "Rprop": {"lr": 0.05, "etas": (0.3, 1.5)},
}
FUSED = {"SGD", "Adam", "AdamW", "Adagrad"}  # torch 2.13 has CPU fused kernels for these
# (optimizer, how torch's dict was made): its defaults, or a choice in its constructor or its saved groups
CASES = [(name, "defaults") for name in OPTIONS]
CASES += [(name, "foreach=True") for name in OPTIONS]
CASES += [(name, "fused=True") for name in sorted(FUSED)]
CASES += [(name, "saved differentiable=True") for name in ("SGD", "Adam", "RMSprop", "ASGD")]


@pytest.fixture(autouse=True)
def _float64_default():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (torch's NAdam keeps mu_product in it, MiniTorch float64)
    yield
    torch.set_default_dtype(before)


def _grads(seed: int, count: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal((3, 2)), rng.standard_normal(4)] for _ in range(count)]


def _torch_steps(t_opt, theirs, grads) -> None:
    for gs in grads:
        for t, g in zip(theirs, gs, strict=True):
            t.grad = torch.from_numpy(g.copy())
        t_opt.step()


def _stepped_torch(name: str, how: str):
    rng = np.random.default_rng(0)
    theirs = [torch.nn.Parameter(torch.from_numpy(rng.standard_normal(s))) for s in [(3, 2), (4,)]]
    choice = {how.split("=")[0]: True} if how in ("foreach=True", "fused=True") else {}
    t_opt = getattr(torch.optim, name)(theirs, **OPTIONS[name], **choice)
    _torch_steps(t_opt, theirs, _grads(1, 3))
    saved = t_opt.state_dict()
    if how == "saved differentiable=True":
        for group in saved["param_groups"]:
            group["differentiable"] = True
        t_opt.load_state_dict(saved)
    return theirs, t_opt, saved


@pytest.mark.parametrize(("name", "how"), CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_a_torch_state_dict_loads_as_it_is_and_the_next_steps_follow_torch(name, how):
    theirs, t_opt, saved = _stepped_torch(name, how)
    ours = [mt.Parameter(t.detach().numpy().copy()) for t in theirs]
    opt = getattr(mt, name)(ours)  # (its defaults: the dict brings every setting)
    opt.load_state_dict(saved)  # torch's own dict: tensors, its choices, all
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in t_opt.param_groups[0].items() if k != "params"}
    grads = _grads(2, 3)
    _torch_steps(t_opt, theirs, grads)
    for gs in grads:
        for p, g in zip(ours, gs, strict=True):
            p.grad = g.copy()
        opt.step()
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_the_constructors_take_torch_s_choices_and_the_groups_hold_torch_s_settings(name):
    """The same keywords as torch's constructor (keyword-only here), the same group settings with the
    same defaults; the choices torch's class does not take are refused as torch refuses them."""
    t_cls, cls = getattr(torch.optim, name), getattr(mt, name)
    t_opt = t_cls([torch.nn.Parameter(torch.zeros(2))])
    opt = cls([mt.Parameter(np.zeros(2))])
    assert opt.defaults == {k: v for k, v in t_opt.defaults.items() if k != "params"}
    for choice in ("foreach", "fused", "capturable", "differentiable"):
        if choice in t_opt.defaults:
            value = False if choice in ("capturable", "differentiable") else True
            assert cls([mt.Parameter(np.zeros(2))], **{choice: value}).defaults[choice] is value
        else:
            with pytest.raises(TypeError, match=choice):
                t_cls([torch.nn.Parameter(torch.zeros(2))], **{choice: False})
            with pytest.raises(TypeError, match=choice):
                cls([mt.Parameter(np.zeros(2))], **{choice: False})


@pytest.mark.parametrize("name", list(OPTIONS))
def test_minitorch_s_state_dict_loads_into_torch_with_the_same_choices(name):
    """A MiniTorch optimizer built with foreach=True saves it; torch's load (of the dict with its
    arrays as tensors) keeps it, and every other setting."""
    ours = [mt.Parameter(np.linspace(-1, 1, 6).reshape(3, 2))]
    opt = getattr(mt, name)(ours, **OPTIONS[name], foreach=True)
    ours[0].grad = np.ones((3, 2))
    opt.step()
    theirs = [torch.nn.Parameter(torch.from_numpy(ours[0].data.copy()))]
    t_opt = getattr(torch.optim, name)(theirs)
    saved = opt.state_dict()
    saved["state"] = {i: {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                          for k, v in entry.items()} for i, entry in saved["state"].items()}
    t_opt.load_state_dict(saved)
    assert t_opt.param_groups[0]["foreach"] is True
    assert {k: v for k, v in t_opt.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in opt.param_groups[0].items() if k != "params"}


@pytest.mark.parametrize("name", sorted(set(OPTIONS) - {"SGD", "Adagrad"}))
def test_capturable_true_is_refused_by_name_as_torch_s_cpu_step_refuses_it(name):
    theirs, t_opt, saved = _stepped_torch(name, "defaults")
    saved["param_groups"][0]["capturable"] = True
    t_opt.load_state_dict(saved)
    with pytest.raises(AssertionError, match="capturable=True"):
        _torch_steps(t_opt, theirs, _grads(2, 1))
    opt = getattr(mt, name)([mt.Parameter(t.detach().numpy().copy()) for t in theirs])
    before = opt.state_dict()
    with pytest.raises(ValueError, match=rf"^{name}: capturable=True is not supported: .* pass "
                                         r"capturable=False"):
        opt.load_state_dict(saved)
    assert opt.state_dict()["param_groups"] == before["param_groups"]
    with pytest.raises(ValueError, match=rf"^{name}: capturable=True is not supported"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], capturable=True)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_a_constructor_s_differentiable_true_is_refused_as_torch_s_step_refuses_parameters(name):
    t = torch.nn.Parameter(torch.zeros(2))
    t_opt = getattr(torch.optim, name)([t], differentiable=True)
    t.grad = torch.ones(2)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        t_opt.step()
    with pytest.raises(ValueError, match=rf"^{name}: differentiable=True is not supported: .* pass "
                                         r"differentiable=False \(the update is the same\)$"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], differentiable=True)


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fused_and_foreach_together_are_refused_as_torch(name):
    with pytest.raises(RuntimeError, match=r"fused.*foreach|foreach.*fused"):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], fused=True, foreach=True)
    with pytest.raises(ValueError, match=rf"^{name}: fused and foreach cannot be True together"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], fused=True, foreach=True)


@pytest.mark.parametrize("value", ["yes", 1, np.array(True)])
def test_a_choice_that_is_not_none_or_a_bool_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"^SGD: foreach must be None, True or False, got "):
        mt.SGD([mt.Parameter(np.zeros(2))], foreach=value)
    with pytest.raises(ValueError, match=r"^Adam: differentiable must be True or False, got "):
        mt.Adam([mt.Parameter(np.zeros(2))], differentiable=value)


def test_adam_and_adamw_each_take_their_own_decoupled_weight_decay_naming_the_other():
    """torch 2.13's Adam takes decoupled_weight_decay (True is AdamW's update); each MiniTorch class
    computes one rule: a torch AdamW dict into mt.Adam (or an Adam one into mt.AdamW) is refused,
    naming the class that computes it."""
    for name, other in (("AdamW", "Adam"), ("Adam", "AdamW")):
        _, _, saved = _stepped_torch(name, "defaults")
        opt = getattr(mt, other)([mt.Parameter(np.zeros((3, 2))), mt.Parameter(np.zeros(4))])
        with pytest.raises(ValueError, match=rf"^{other}: decoupled_weight_decay=.* is {name}'s update .*"
                                             rf"use mt\.{name}$"):
            opt.load_state_dict(saved)
    with pytest.raises(ValueError, match=r"^Adam: decoupled_weight_decay=True is AdamW's update"):
        mt.Adam([mt.Parameter(np.zeros(2))], decoupled_weight_decay=True)
