"""Adagrad, NAdam and RAdam as PyTorch trajectories (issue 15), their state_dict resume and argument checks.

The same 4-8-3 MLP and its torch twin train side by side (tests/trajectories.py); every parameter is
compared after each of 20 steps. torch keeps NAdam's mu_product as a 0-d tensor of its default dtype,
so the float64 runs set torch's default dtype to float64 (MiniTorch keeps it in float64 always).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trajectories import (
    OPTIMIZERS,
    batches,
    groups,
    make_model,
    train_both,
    train_skipping_first_layer,
)

import minitorch as mt

CONFIGS = [
    ("Adagrad", {"lr": 0.1}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.3}, None),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True}, None),
    ("Adagrad", {"lr": 0.1}, {"lr": 0.02, "lr_decay": 0.1}),
    ("NAdam", {"lr": 0.01}, None),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.95), "momentum_decay": 0.01, "weight_decay": 0.1}, None),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.2, "decoupled_weight_decay": True}, None),
    ("NAdam", {"lr": 0.01, "maximize": True}, {"lr": 0.003, "betas": (0.5, 0.9)}),
    ("RAdam", {"lr": 0.01}, None),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.9)}, None),  # rho_t > 5 from step 2: the rectified branch early
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-4}, None),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.2, "decoupled_weight_decay": True, "maximize": True}, None),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9)}, {"lr": 0.003}),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CONFIGS)]


@pytest.fixture
def torch_float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=IDS)
def test_trajectory_matches_torch_float64(float64, torch_float64, name, config, first_group):
    train_both(name, config, first_group, np.float64, steps=30)


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=IDS)
def test_trajectory_matches_torch_float32_and_stays_float32(name, config, first_group):
    _, opt, _, _ = train_both(name, config, first_group, np.float32, rtol=1e-5, atol=1e-6)
    for entry in opt.state.values():
        for key, value in entry.items():
            if key == "step":
                assert isinstance(value, int)
            elif key != "mu_product":
                assert value.dtype == np.float32, key


def test_radam_takes_plain_momentum_steps_while_rho_t_is_small():
    """With beta2 = 0.999, rho_t <= 5 for t <= 5: the step is lr * m_hat, which at t = 1 is lr * g."""
    p = mt.Parameter(np.zeros(3))
    p.grad = np.array([2.0, -0.5, 0.0])
    mt.RAdam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.2, 0.05, 0.0], rtol=1e-15)


def test_adagrad_first_step_is_lr_times_sign():
    p = mt.Parameter(np.zeros(3))
    p.grad = np.array([2.0, -0.5, 0.0])
    mt.Adagrad([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, 0.0], rtol=1e-9)


@pytest.mark.parametrize("name, config, first_group", CONFIGS[1::3], ids=IDS[1::3])
def test_resume_from_state_dict_is_bitwise_identical(name, config, first_group):
    cls = {"Adagrad": mt.Adagrad, "NAdam": mt.NAdam, "RAdam": mt.RAdam}[name]
    data = batches(10, np.float32)
    loss_fn = mt.CrossEntropyLoss()

    def run(model, opt, part):
        for x, y in part:
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()

    model = make_model()
    opt = cls(groups(model, config, first_group), **config)
    run(model, opt, data[:5])
    saved_model, saved_opt = model.state_dict(), opt.state_dict()
    run(model, opt, data[5:])
    mt.manual_seed(99)
    resumed = make_model()
    resumed_opt = cls(groups(resumed, config, first_group), **{**config, "lr": 0.5})
    resumed.load_state_dict(saved_model)
    resumed_opt.load_state_dict(saved_opt)
    run(resumed, resumed_opt, data[5:])
    for p, q in zip(model.parameters(), resumed.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)


@pytest.mark.parametrize("cls, kwargs, message", [
    (mt.Adagrad, {"lr_decay": -1.0}, "Adagrad: lr_decay must be a number"),
    (mt.Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    (mt.NAdam, {"betas": (0.9, 1.0)}, r"NAdam: betas\[1\] must be a number"),
    (mt.NAdam, {"momentum_decay": -1e-3}, "momentum_decay"),
    (mt.RAdam, {"betas": 0.9}, r"RAdam: betas must be a pair"),
    (mt.RAdam, {"decoupled_weight_decay": "yes"}, "decoupled_weight_decay must be True or False"),
])
def test_constructors_validate_their_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([mt.Parameter(np.zeros(2))], **kwargs)


def test_nadam_rejects_a_corrupt_mu_product_on_load():
    p = mt.Parameter(np.zeros(2))
    p.grad = np.ones(2)
    opt = mt.NAdam([p])
    opt.step()
    state = opt.state_dict()
    state["state"][0]["mu_product"] = np.array(-1.0)
    with pytest.raises(ValueError, match="mu_product"):
        mt.NAdam([p]).load_state_dict(state)


@pytest.mark.parametrize("cls", [mt.Adagrad, mt.NAdam, mt.RAdam])
def test_checkpoint_round_trip_keeps_the_state(tmp_path, cls):
    model = make_model()
    opt = cls(model.parameters(), lr=0.01)
    loss_fn = mt.CrossEntropyLoss()
    for x, y in batches(3, np.float32):
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    mt.save_checkpoint(tmp_path / "ck.npz", model=model, optimizer=opt, epoch=3)
    restored = cls(model.parameters(), lr=0.5)
    mt.load_checkpoint(tmp_path / "ck.npz", model, restored)
    for p in model.parameters():
        for key, value in opt.state[p].items():
            assert np.array_equal(restored.state[p][key], value), key
    assert restored.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("name", ["Adagrad", "NAdam", "RAdam"])
def test_parameter_without_gradient_is_skipped_like_torch(float64, torch_float64, name):
    """The first layer gets no gradient on odd steps (grad None): no update, no state advance."""
    model, opt = train_skipping_first_layer(name, {"lr": 0.01})
    assert opt.state[model[0].W]["step"] == 4 and opt.state[model[2].W]["step"] == 8


# Every setting of every optimizer, given in ONE param group (the other group takes the defaults): a
# group's own value must act as torch's does, or be refused naming the setting (torch.optim.Adagrad
# starts every sum at the constructor's initial_accumulator_value, whatever a group says).
GROUP_VALUES = {"lr": 0.02, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.1, "nesterov": True,
                "betas": (0.7, 0.9), "eps": 1e-3, "amsgrad": True, "alpha": 0.8, "centered": True,
                "lr_decay": 0.1, "initial_accumulator_value": 0.4, "maximize": True, "momentum_decay": 0.02,
                "decoupled_weight_decay": True, "rho": 0.8, "lambd": 1e-3, "t0": 3.0, "etas": (0.4, 1.3),
                "step_sizes": (1e-4, 0.5), "foreach": True, "fused": True, "differentiable": True,
                "capturable": True}
# (optimizer, setting): what the refusal says; torch's Adagrad ignores a group's start of the sums, its
# CPU step refuses capturable=True, and its Adam with decoupled_weight_decay=True is AdamW's update
REFUSED_IN_A_GROUP = {("Adagrad", "initial_accumulator_value"): "initial_accumulator_value.*constructor",
                      ("Adam", "decoupled_weight_decay"): "decoupled_weight_decay=True is AdamW's update"}
REFUSED_IN_A_GROUP |= {(name, "capturable"): "capturable=True is not supported" for name in OPTIMIZERS
                       if name not in ("SGD", "Adagrad")}
PER_GROUP = [(name, setting) for name, (cls, _) in sorted(OPTIMIZERS.items())
             for setting in cls([mt.Parameter(np.zeros(1))]).defaults]


def test_every_setting_has_a_group_value():
    assert {setting for _, setting in PER_GROUP} <= set(GROUP_VALUES)


@pytest.mark.parametrize("name, setting", PER_GROUP, ids=[f"{n}-{s}" for n, s in PER_GROUP])
def test_a_setting_given_in_one_group_acts_as_in_torch(float64, torch_float64, name, setting):
    first_group = {setting: GROUP_VALUES[setting]}
    if setting == "nesterov":
        first_group["momentum"] = 0.9
    config = {"lr": 0.01} if setting != "lr" else {}
    if (name, setting) in REFUSED_IN_A_GROUP:
        with pytest.raises(ValueError, match=REFUSED_IN_A_GROUP[name, setting]):
            train_both(name, config, first_group, np.float64, steps=1)
        if setting == "initial_accumulator_value":
            OPTIMIZERS[name][0](make_model().parameters(), **first_group)  # the constructor takes it
        return
    train_both(name, config, first_group, np.float64, steps=8)
