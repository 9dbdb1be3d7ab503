"""Optimizers as trajectories: the same MLP trained by MiniTorch and by PyTorch stays the same, step by step.

A 4-8-3 ReLU MLP and its torch twin (same weights) take 20 steps of cross-entropy on the same batches;
every parameter is compared after every step (float64 to ~1e-12, float32 to ~1e-5 with dtypes
kept). Then: torch's state names, state_dict round trips and bitwise resume, skipping Parameters
without a gradient, no allocations or float64 promotion in a step, bad arguments.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin
from strategies import float_arrays

import minitorch as mt

STEPS = 20

OPTIMIZERS = {
    "SGD": (mt.SGD, torch.optim.SGD),
    "Adam": (mt.Adam, torch.optim.Adam),
    "AdamW": (mt.AdamW, torch.optim.AdamW),
    "RMSprop": (mt.RMSprop, torch.optim.RMSprop),
}

# (name, settings, settings of the first of two param groups or None for a single group)
CONFIGS = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.02, "momentum": 0.5}),
    ("Adam", {"lr": 0.01}, None),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-3}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9)}),
    ("AdamW", {"lr": 0.01}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0}, {"lr": 0.02, "weight_decay": 0.5}),
    ("RMSprop", {"lr": 0.01}, None),
    ("RMSprop", {"lr": 0.01, "centered": True}, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, None),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.05, "momentum": 0.5,
                 "centered": True}, None),
    ("RMSprop", {"lr": 0.01}, {"lr": 0.003, "centered": True, "momentum": 0.5}),
]
CONFIG_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CONFIGS)]


def batches(steps: int, dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((16, 4)).astype(dtype), rng.integers(0, 3, 16)) for _ in range(steps)]


def make_model() -> mt.Sequential:
    return mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))


def groups(model, config: dict, first_group: dict | None) -> list:
    """One group, or two: the first layer with its own settings, the last with the common ones."""
    if first_group is None:
        return list(model.parameters())
    return [{"params": list(model[0].parameters()), **first_group}, {"params": list(model[2].parameters())}]


def as_ours(t: torch.Tensor, like: mt.Parameter) -> np.ndarray:
    """A torch parameter (or state tensor) in MiniTorch's layout: Linear weights are transposed."""
    a = t.detach().numpy()
    return a.T if a.shape != like.shape else a


def train_both(name, config, first_group, dtype, steps=STEPS, rtol=1e-12, atol=1e-13):
    """Run both libraries side by side; assert equal parameters after every step. Returns the optimizers."""
    ours_cls, torch_cls = OPTIMIZERS[name]
    model = make_model().to(dtype)
    twin = torch_twin(model)
    opt = ours_cls(groups(model, config, first_group), **config)
    topt = torch_cls(groups(twin, config, first_group), **config)
    loss_fn, t_loss_fn = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(steps, dtype)):
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        topt.zero_grad()
        t_loss_fn(twin(tensor(x)), tensor(y)).backward()
        topt.step()
        for (pname, p), tp in zip(model.named_parameters(), twin.parameters(), strict=True):
            assert p.dtype == dtype, pname
            np.testing.assert_allclose(p.data, as_ours(tp, p), rtol=rtol, atol=atol,
                                       err_msg=f"{name} {config}: {pname} after step {step + 1}")
    return model, opt, twin, topt


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch_float64(float64, name, config, first_group):
    train_both(name, config, first_group, np.float64)


@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch_float32_and_stays_float32(name, config, first_group):
    _, opt, _, _ = train_both(name, config, first_group, np.float32, rtol=1e-5, atol=1e-6)
    for entry in opt.state.values():
        for key, value in entry.items():
            assert isinstance(value, int) if key == "step" else value.dtype == np.float32, key


@pytest.mark.parametrize("name, config, first_group", CONFIGS[1::2], ids=CONFIG_IDS[1::2])
def test_state_has_torchs_names_and_values(float64, name, config, first_group):
    model, opt, _, topt = train_both(name, config, first_group, np.float64, steps=5)
    ours, theirs = opt.state_dict(), topt.state_dict()
    params = model.parameters()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, entry in ours["state"].items():
        assert set(entry) == set(theirs["state"][i])
        for key, value in entry.items():
            expected = theirs["state"][i][key]
            if key == "step":
                assert value == int(expected.item())
            else:
                np.testing.assert_allclose(value, as_ours(expected, params[i]), rtol=1e-12, atol=1e-14)
    for group, t_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group["params"] == t_group["params"]
        for key, value in group.items():
            assert value == t_group[key], key


def test_parameter_without_gradient_is_skipped_like_grad_none(float64):
    """The first layer gets no gradient on odd steps: torch skips p.grad None, we skip grad_is_zero.
    Its state (Adam's step count, SGD's momentum) must not advance either."""
    for name, config in (("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                           ("RMSprop", {"lr": 0.01, "centered": True})):
        ours_cls, torch_cls = OPTIMIZERS[name]
        model = make_model()
        twin = torch_twin(model)
        opt, topt = ours_cls(model.parameters(), **config), torch_cls(twin.parameters(), **config)
        loss_fn, t_loss_fn = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
        for step, (x, y) in enumerate(batches(8, np.float64)):
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            topt.zero_grad()
            t_loss_fn(twin(tensor(x)), tensor(y)).backward()
            if step % 2:
                model[0].zero_grad()
                for tp in twin[0].parameters():
                    tp.grad = None
            opt.step()
            topt.step()
            opt.zero_grad()
        for p, tp in zip(model.parameters(), twin.parameters(), strict=True):
            np.testing.assert_allclose(p.data, as_ours(tp, p), rtol=1e-12, atol=1e-13)
        if name == "Adam":
            assert opt.state[model[0].W]["step"] == 4 and opt.state[model[2].W]["step"] == 8


# --------------------------------------------------------------------- state_dict


def _run(model, opt, data):
    loss_fn = mt.CrossEntropyLoss()
    for x, y in data:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("name, config, first_group", CONFIGS[1::3], ids=CONFIG_IDS[1::3])
def test_resume_from_state_dict_is_bitwise_identical(name, config, first_group):
    cls = OPTIMIZERS[name][0]
    data = batches(12, np.float32)
    model = make_model()
    opt = cls(groups(model, config, first_group), **config)
    _run(model, opt, data[:6])
    saved_model, saved_opt = model.state_dict(), opt.state_dict()
    _run(model, opt, data[6:])

    mt.manual_seed(99)                                   # different weights, different lr: all get loaded
    resumed = make_model()
    resumed_opt = cls(groups(resumed, config, first_group), **{**config, "lr": 0.5})
    resumed.load_state_dict(saved_model)
    resumed_opt.load_state_dict(saved_opt)
    _run(resumed, resumed_opt, data[6:])
    for p, q in zip(model.parameters(), resumed.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)
    ours, theirs = opt.state_dict(), resumed_opt.state_dict()
    for i, entry in ours["state"].items():
        for key, value in entry.items():
            assert np.array_equal(value, theirs["state"][i][key]), key


def test_state_dict_layout_is_torchs_and_holds_copies():
    model = make_model()
    opt = mt.Adam([{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters()}],
                  amsgrad=True)
    _run(model, opt, batches(2, np.float32))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][0]["lr"] == 0.1 and sd["param_groups"][1]["lr"] == 1e-3
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 2
    sd["state"][0]["exp_avg"][...] = 123.0                # a copy: the optimizer must not see this
    assert not np.any(opt.state[model[0].W]["exp_avg"] == 123.0)


def test_load_state_dict_copies_arrays():
    model = make_model()
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _run(model, opt, batches(1, np.float32))
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][...] = 7.0
    assert not np.any(opt.state[model[0].W]["momentum_buffer"] == 7.0)


def _bad_state_dicts(sd):
    """(description, corrupted copy of sd) pairs that load_state_dict must refuse."""
    def changed(fn):
        import copy
        bad = copy.deepcopy(sd)
        fn(bad)
        return bad
    yield "one group too many", changed(lambda d: d["param_groups"].append(dict(d["param_groups"][0])))
    yield "parameter missing", changed(lambda d: d["param_groups"][0]["params"].pop())
    yield "wrong shape", changed(lambda d: d["state"][0].update(exp_avg=np.zeros((2, 2))))
    yield "unknown state", changed(lambda d: d["state"][0].update(velocity=np.zeros(1)))
    yield "missing state", changed(lambda d: d["state"][0].pop("exp_avg_sq"))
    yield "negative step", changed(lambda d: d["state"][0].update(step=-1))
    yield "unknown setting", changed(lambda d: d["param_groups"][0].update(momentum=0.9))
    yield "missing setting", changed(lambda d: d["param_groups"][0].pop("eps"))
    yield "bad lr", changed(lambda d: d["param_groups"][1].update(lr=-1.0))
    yield "unknown index", changed(lambda d: d["state"].update({9: {}}))
    yield "extra key", changed(lambda d: d.update(extra=1))


def test_load_state_dict_checks_everything_before_changing_anything():
    model = make_model()
    opt = mt.Adam([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.01)
    _run(model, opt, batches(2, np.float32))
    sd = opt.state_dict()
    for what, bad in _bad_state_dicts(sd):
        with pytest.raises(ValueError):
            opt.load_state_dict(bad)
        after = opt.state_dict()
        assert after["param_groups"] == sd["param_groups"], what
        for i, entry in sd["state"].items():
            for key, value in entry.items():
                assert np.array_equal(after["state"][i][key], value), what


# --------------------------------------------------------------------- speed discipline

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
def test_step_allocates_no_parameter_sized_arrays(cls, config):
    """After the first step (which creates the state), a step allocates far less than one Parameter."""
    layer = mt.Linear(300, 200)                          # W: 60,000 float32 = 240 kB
    opt = cls(layer.parameters(), **config)
    layer.W.grad = np.random.default_rng(0).standard_normal(layer.W.shape)
    layer.b.grad = np.ones(layer.b.shape)
    opt.step()
    tracemalloc.start()
    opt.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < layer.W.data.nbytes // 10, f"{cls.__name__} step allocated {peak} bytes"


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
    (mt.SGD, {"lr": "0.1"}, TypeError),
    (mt.SGD, {"lr": float("nan")}, TypeError),
    (mt.SGD, {"nesterov": 1}, TypeError),
    (mt.Adam, {"lr": -1.0}, ValueError),
    (mt.Adam, {"betas": (1.0, 0.999)}, ValueError),
    (mt.Adam, {"betas": (0.9, -0.1)}, ValueError),
    (mt.Adam, {"betas": 0.9}, TypeError),
    (mt.Adam, {"eps": -1e-8}, ValueError),
    (mt.Adam, {"weight_decay": -0.1}, ValueError),
    (mt.Adam, {"amsgrad": "yes"}, TypeError),
    (mt.AdamW, {"betas": (0.9, 1.0)}, ValueError),
    (mt.AdamW, {"weight_decay": -0.01}, ValueError),
    (mt.RMSprop, {"alpha": -0.1}, ValueError),
    (mt.RMSprop, {"alpha": 1.5}, ValueError),
    (mt.RMSprop, {"eps": -1.0}, ValueError),
    (mt.RMSprop, {"momentum": -0.9}, ValueError),
    (mt.RMSprop, {"weight_decay": -0.9}, ValueError),
    (mt.RMSprop, {"centered": None}, TypeError),
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
