"""Optimizers as trajectories: the same MLP trained by MiniTorch and by PyTorch stays the same, step by step.

A 4-8-3 ReLU MLP and its torch twin (same weights) take 20 steps of cross-entropy on the same batches;
every parameter is compared after every step (float64 to ~1e-12, float32 to ~1e-5 with dtypes
kept). Then: skipping Parameters without a gradient, no allocations or float64 promotion in a step,
properties of first steps, bad arguments. State and state_dict: test_optimizer_state.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import float_arrays
from trajectories import (
    CONFIG_IDS,
    CONFIGS,
    make_model,
    train_both,
    train_skipping_first_layer,
)

import minitorch as mt


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch_float64(float64, name, config, first_group):
    train_both(name, config, first_group, np.float64)


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch_float32_and_stays_float32(name, config, first_group):
    _, opt, _, _ = train_both(name, config, first_group, np.float32, rtol=1e-5, atol=1e-6)
    for entry in opt.state.values():
        for key, value in entry.items():
            assert isinstance(value, int) if key == "step" else value.dtype == np.float32, key


def test_parameter_without_gradient_is_skipped_like_grad_none(float64):
    """The first layer gets no gradient on odd steps: torch skips p.grad None, we skip grad_is_zero.
    Its state (Adam's step count, SGD's momentum) must not advance either."""
    for name, config in (("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                           ("RMSprop", {"lr": 0.01, "centered": True})):
        model, opt = train_skipping_first_layer(name, config)
        if name == "Adam":
            assert opt.state[model[0].W]["step"] == 4 and opt.state[model[2].W]["step"] == 8


# --------------------------------------------------------------------- dtype discipline

ALL_SETTINGS = [
    (mt.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (mt.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    (mt.Adam, {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.01, "amsgrad": True}),
    (mt.AdamW, {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True}),
    (mt.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.9,
                  "centered": True}),
    (mt.RMSprop, {"lr": 0.01}),
]


@pytest.mark.parametrize("cls, config", ALL_SETTINGS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_numpy_float64_settings_do_not_promote_float32(cls, config):
    """np.float64 hyper-parameters give bitwise the same float32 update as Python floats."""
    results = []
    for as_numpy in (False, True):
        mt.manual_seed(0)
        layer = mt.Linear(5, 4)
        kwargs = {k: _as_numpy(v) if as_numpy else v for k, v in config.items()}
        opt = cls(layer.parameters(), **kwargs)
        for seed in range(3):
            layer.W.grad = np.random.default_rng(seed).standard_normal(layer.W.shape).astype(np.float32)
            layer.b.grad = np.random.default_rng(seed + 9).standard_normal(4).astype(np.float32)
            opt.step()
        assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
        results.append(layer.W.data.copy())
    assert np.array_equal(results[0], results[1])


def _as_numpy(value):
    if isinstance(value, tuple):
        return tuple(_as_numpy(v) for v in value)
    return np.float64(value) if isinstance(value, float) else value


# --------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(g=float_arrays((3, 4), bound=1e3), lr=st.floats(1e-4, 1.0))
def test_adam_first_step_is_lr_times_sign(g, lr):
    """Bias correction makes step 1 exactly -lr * g / (|g| + eps): about lr per coordinate; 0 where g = 0."""
    p = mt.Parameter(np.zeros((3, 4)))
    p.grad = g
    mt.Adam([p], lr=lr).step()
    np.testing.assert_allclose(p.data, -lr * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-300)
    assert np.all(p.data[g == 0] == 0)


def test_zero_lr_moves_nothing_but_state_advances():
    for cls in (mt.SGD, mt.Adam, mt.AdamW, mt.RMSprop):
        p = mt.Parameter(np.arange(4.0))
        p.grad = np.ones(4)
        opt = cls([p], lr=0.0)
        opt.step()
        np.testing.assert_array_equal(p.data, np.arange(4.0))
        assert cls is mt.SGD or opt.state[p]["step"] == 1


@settings(max_examples=20, deadline=None)
@given(g=float_arrays((5,)), momentum=st.floats(0.0, 0.99), dampening=st.floats(0.0, 1.0))
def test_sgd_first_step_ignores_dampening(g, momentum, dampening):
    """torch starts the momentum buffer at the gradient: step 1 is p - lr * g whatever the dampening."""
    p = mt.Parameter(np.ones(5))
    p.grad = g
    opt = mt.SGD([p], lr=0.1, momentum=momentum, dampening=dampening)
    opt.step()
    np.testing.assert_allclose(p.data, 1 - 0.1 * g, rtol=1e-15, atol=1e-15)
    if momentum:
        np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], g)


def test_weight_decay_does_not_touch_the_gradient():
    for cls in (mt.SGD, mt.Adam, mt.RMSprop):
        p = mt.Parameter(np.ones(4))
        p.grad = np.arange(4.0)
        cls([p], lr=0.1, weight_decay=0.5).step()
        np.testing.assert_array_equal(p.grad, np.arange(4.0))


def test_adamw_is_its_own_class_and_decays_outside_the_moments():
    p = mt.Parameter(np.full(3, 2.0))
    p.grad = np.zeros(3)
    opt = mt.AdamW([p], lr=0.1, weight_decay=0.5)
    opt.step()
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 0.5))   # zero gradient: only the decay moves p
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], 0.0)
    assert type(opt) is mt.AdamW and not hasattr(mt.Adam([p]), "decoupled_weight_decay")
    assert mt.AdamW([p]).defaults["weight_decay"] == 1e-2 and mt.Adam([p]).defaults["weight_decay"] == 0


def test_sgd_keeps_its_old_signature():
    p = mt.Parameter(np.ones(2))
    p.grad = np.ones(2)
    mt.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, 0.9)
    assert mt.SGD([p]).defaults["lr"] == 1e-3


# --------------------------------------------------------------------- bad arguments

BAD = [
    (mt.SGD, {"lr": -0.1}, ValueError),
    (mt.SGD, {"momentum": -0.5}, ValueError),
    (mt.SGD, {"dampening": 1.5}, ValueError),
    (mt.SGD, {"weight_decay": -1e-3}, ValueError),
    (mt.SGD, {"nesterov": True}, ValueError),                       # no momentum
    (mt.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError),
    (mt.SGD, {"lr": "0.1"}, ValueError),
    (mt.SGD, {"lr": float("nan")}, ValueError),
    (mt.SGD, {"nesterov": 1}, ValueError),
    (mt.Adam, {"lr": -1.0}, ValueError),
    (mt.Adam, {"betas": (1.0, 0.999)}, ValueError),
    (mt.Adam, {"betas": (0.9, -0.1)}, ValueError),
    (mt.Adam, {"betas": 0.9}, ValueError),
    (mt.Adam, {"eps": -1e-8}, ValueError),
    (mt.Adam, {"weight_decay": -0.1}, ValueError),
    (mt.Adam, {"amsgrad": "yes"}, ValueError),
    (mt.AdamW, {"betas": (0.9, 1.0)}, ValueError),
    (mt.AdamW, {"weight_decay": -0.01}, ValueError),
    (mt.RMSprop, {"alpha": -0.1}, ValueError),
    (mt.RMSprop, {"alpha": 1.5}, ValueError),
    (mt.RMSprop, {"eps": -1.0}, ValueError),
    (mt.RMSprop, {"momentum": -0.9}, ValueError),
    (mt.RMSprop, {"weight_decay": -0.9}, ValueError),
    (mt.RMSprop, {"centered": None}, ValueError),
    (mt.RMSprop, {"rho": 0.9}, TypeError),                          # not an argument at all
]


@pytest.mark.parametrize("cls, kwargs, error", BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_arguments_are_refused(cls, kwargs, error):
    with pytest.raises(error):
        cls(make_model().parameters(), **kwargs)


def test_bad_parameter_groups_are_refused():
    model = make_model()
    with pytest.raises(ValueError, match="empty"):
        mt.Adam([])
    with pytest.raises(TypeError):
        mt.Adam(model[0].W)                                         # a Parameter, not an iterable
    with pytest.raises(TypeError):
        mt.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="more than once"):
        mt.Adam([{"params": model.parameters()}, {"params": [model[0].W]}])
    with pytest.raises(ValueError, match="unknown settings"):
        mt.Adam([{"params": model.parameters(), "momentum": 0.9}])
    with pytest.raises(ValueError, match="lr"):
        mt.Adam([{"params": model.parameters(), "lr": -1}])
