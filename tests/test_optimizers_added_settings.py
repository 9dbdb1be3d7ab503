"""A state_dict saved before a setting existed (its groups lack the key) loads as torch loads it: torch's
``load_state_dict`` runs the class's ``__setstate__``, which fills some settings with their default
when absent (SGD nesterov; Adam and AdamW amsgrad; RMSprop momentum and centered; NAdam and RAdam
decoupled_weight_decay; maximize everywhere; the implementation choices foreach, fused, capturable,
differentiable, and Adam's and AdamW's decoupled_weight_decay). Each optimizer, each such setting
MiniTorch has, set
to its other value before saving: the key removed from both dicts, both load, the loaded groups
agree and the next steps agree (float64, hypothesis grids of the other options); a setting torch
does not fill is refused, naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_optimizers_maximize import OPTIONS

import minitorch as mt

# (optimizer, the setting torch's __setstate__ fills when absent, the value to save it with)
ADDED = [
    ("SGD", "nesterov", True), ("SGD", "maximize", True),
    ("Adam", "amsgrad", True), ("Adam", "maximize", True),
    ("AdamW", "amsgrad", True), ("AdamW", "maximize", True),
    ("RMSprop", "momentum", 0.5), ("RMSprop", "centered", True), ("RMSprop", "maximize", True),
    ("Adagrad", "maximize", True),
    ("NAdam", "decoupled_weight_decay", True), ("NAdam", "maximize", True),
    ("RAdam", "decoupled_weight_decay", True), ("RAdam", "maximize", True),
    ("Adamax", "maximize", True), ("Adadelta", "maximize", True), ("Rprop", "maximize", True),
    ("ASGD", "maximize", True),
]
# torch's implementation choices, which its __setstate__ fills in every optimizer that has them
# (IMPLEMENTATION_DEFAULTS), saved with another value torch and MiniTorch step with
ADDED += [(name, "foreach", True) for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam",
                                                "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD")]
ADDED += [(name, "fused", True) for name in ("SGD", "Adam", "AdamW", "Adagrad")]
# filled too, but their other value is refused by a MiniTorch constructor (capturable=True: torch's
# CPU step refuses it; differentiable=True: torch's step refuses Parameters; Adam's and AdamW's
# decoupled_weight_decay: the other class's update): the fill is checked alone
FILLED_ONLY = [(name, "capturable") for name in ("Adam", "AdamW", "RMSprop", "NAdam", "RAdam", "Adamax",
                                                  "Adadelta", "Rprop", "ASGD")]
FILLED_ONLY += [(name, "differentiable") for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam",
                                                       "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD")]
FILLED_ONLY += [("Adam", "decoupled_weight_decay"), ("AdamW", "decoupled_weight_decay")]


def test_the_list_is_torch_s_setstate_defaults_among_minitorch_s_settings():
    """ADDED names, per optimizer, exactly the settings torch's __setstate__ fills that MiniTorch has,
    and the class's ``added_settings`` (those of its settings) fill them with torch's values."""
    for name in OPTIONS:
        ours = getattr(mt, name)([mt.Parameter(np.zeros(2))])
        filled = {}
        for key in set(ours.defaults) - {"params"}:
            t_opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))])
            saved = t_opt.state_dict()
            del saved["param_groups"][0][key]
            try:
                t_opt.load_state_dict(saved)
            except (KeyError, ValueError):
                continue
            if key in t_opt.param_groups[0]:
                filled[key] = t_opt.param_groups[0][key]
        listed = {key for n, key, _ in ADDED if n == name} | {key for n, key in FILLED_ONLY if n == name}
        assert set(filled) == listed, name
        fills = {**mt.optimizers.optimizer.IMPLEMENTATION_DEFAULTS, **type(ours).added_settings}
        assert {k: v for k, v in fills.items() if k in ours.defaults} == filled, name


@pytest.mark.parametrize(("name", "key"), FILLED_ONLY, ids=[f"{n}-{k}" for n, k in FILLED_ONLY])
def test_a_dict_without_a_choice_loads_with_torch_s_fill(name, key):
    opt = getattr(mt, name)([mt.Parameter(np.zeros(2))])
    t_opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))])
    saved, t_saved = opt.state_dict(), t_opt.state_dict()
    del saved["param_groups"][0][key], t_saved["param_groups"][0][key]
    opt.load_state_dict(saved)
    t_opt.load_state_dict(t_saved)
    assert opt.param_groups[0][key] is t_opt.param_groups[0][key]


def _params(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 2)), rng.standard_normal(4)]


def _steps(opt, t_opt, ours, theirs, seed: int, count: int = 3) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        for p, t in zip(ours, theirs, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()


def _agree(ours, theirs) -> None:
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("name", "key", "value"), ADDED, ids=[f"{n}-{k}" for n, k, _ in ADDED])
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_a_dict_without_a_later_setting_loads_and_steps_as_torch(name, key, value, data):
    options = {**data.draw(OPTIONS[name]), key: value}
    if options.get("nesterov"):  # (torch's rule: nesterov needs momentum and no dampening)
        options.update(momentum=0.9, dampening=0.0)
    if key == "decoupled_weight_decay":  # (it changes nothing without a decay)
        options["weight_decay"] = 0.05
    cls, t_cls = getattr(mt, name), getattr(torch.optim, name)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch's NAdam keeps mu_product in it (MiniTorch: float64)
    try:
        _save_without_and_load(cls, t_cls, options, key)
    finally:
        torch.set_default_dtype(before)


def _save_without_and_load(cls, t_cls, options: dict, key: str) -> None:
    ours = [mt.Parameter(a) for a in _params(0)]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in _params(0)]
    opt, t_opt = cls(ours, **options), t_cls(theirs, **options)
    _steps(opt, t_opt, ours, theirs, 1)
    saved, t_saved = opt.state_dict(), t_opt.state_dict()
    for group in saved["param_groups"] + t_saved["param_groups"]:
        del group[key]
    opt, t_opt = cls(ours, **options), t_cls(theirs, **options)  # (constructed with the other value)
    opt.load_state_dict(saved)
    t_opt.load_state_dict(t_saved)
    default = {**mt.optimizers.optimizer.IMPLEMENTATION_DEFAULTS, **cls.added_settings}[key]
    assert opt.param_groups[0][key] == t_opt.param_groups[0][key] == default
    assert type(opt.param_groups[0][key]) is type(t_opt.param_groups[0][key])
    _steps(opt, t_opt, ours, theirs, 2)
    _agree(ours, theirs)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_a_dict_without_a_setting_torch_does_not_fill_is_refused(name):
    """lr (every optimizer) and, for SGD, momentum: torch's load leaves the key out and its step
    fails (KeyError); MiniTorch refuses the dict at load, naming the setting, and changes nothing."""
    keys = ["lr"] + (["momentum"] if name == "SGD" else [])
    for key in keys:
        opt = getattr(mt, name)([mt.Parameter(np.zeros(2))])
        saved = opt.state_dict()
        del saved["param_groups"][0][key]
        with pytest.raises(ValueError, match=rf"^{name}.load_state_dict: .*missing \['{key}'\]"):
            opt.load_state_dict(saved)
        assert key in opt.param_groups[0]
        t_opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))])
        t_saved = t_opt.state_dict()
        del t_saved["param_groups"][0][key]
        t_opt.load_state_dict(t_saved)
        assert key not in t_opt.param_groups[0]
