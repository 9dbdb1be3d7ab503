"""Adamax, Adadelta, Rprop and ASGD: torch 2.13's trajectories, resumes and refusals.

The 4-8-3 MLP and its torch twin train side by side (tests/trajectories.py) with options drawn from
hypothesis grids, in float64 (tight) and float32 (dtype kept); every parameter is compared after
each step and every state array at the end. torch keeps ASGD's eta and mu as 0-d tensors of its
default dtype, MiniTorch in the Parameter's: the runs set torch's default dtype to the parameters'.
Then: a state_dict taken mid-training and loaded into a fresh optimizer goes on as torch goes on; a
checkpoint round trip goes on bit for bit; a Parameter without a gradient is skipped as torch skips
it; bad settings are refused where torch refuses them, naming the setting and what came.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin
from trajectories import as_ours, batches, groups, make_model, train_skipping_first_layer

import minitorch as mt

NAMES = ["Adamax", "Adadelta", "Rprop", "ASGD"]


def _grid(**options) -> st.SearchStrategy:
    return st.fixed_dictionaries({k: st.sampled_from(v) for k, v in options.items()})


GRIDS = {
    "Adamax": _grid(lr=[0.002, 0.05], betas=[(0.9, 0.999), (0.3, 0.5)], eps=[1e-8, 1e-2],
                    weight_decay=[0.0, 0.1], maximize=[False, True]),
    "Adadelta": _grid(lr=[1.0, 0.3], rho=[0.9, 0.5, 0.0], eps=[1e-6, 1e-2], weight_decay=[0.0, 0.1],
                      maximize=[False, True]),
    "Rprop": _grid(lr=[0.01, 0.1], etas=[(0.5, 1.2), (0.2, 2.0)], step_sizes=[(1e-6, 50), (1e-2, 0.05)],
                   maximize=[False, True]),
    "ASGD": _grid(lr=[0.01, 0.2], lambd=[1e-4, 0.3], alpha=[0.75, 0.3], t0=[1e6, 0.0, 4.0],
                  weight_decay=[0.0, 0.1], maximize=[False, True]),
}
FIRST_GROUP = {"Adamax": {"lr": 0.01, "betas": (0.5, 0.9)}, "Adadelta": {"lr": 0.5, "rho": 0.7},
               "Rprop": {"lr": 0.05, "etas": (0.4, 1.4)}, "ASGD": {"lr": 0.05, "t0": 2.0}}


@contextlib.contextmanager
def torch_default(dtype: type) -> Iterator[None]:
    """torch's default dtype the parameters' (ASGD's eta and mu are 0-d tensors of it)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _train(name, config, first_group, dtype, steps, tol, model=None, opt=None, twin=None, topt=None,
           start=0):
    """Both libraries side by side from step ``start``; equal parameters after every step."""
    if model is None:
        model = make_model().to(dtype)
        twin = torch_twin(model)
        opt = getattr(mt, name)(groups(model, config, first_group), **config)
        topt = getattr(torch.optim, name)(groups(twin, config, first_group), **config)
    loss_fn, t_loss_fn = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step, (x, y) in list(enumerate(batches(start + steps, dtype)))[start:]:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        topt.zero_grad()
        t_loss_fn(twin(tensor(x)), tensor(y)).backward()
        topt.step()
        for (pname, p), tp in zip(model.named_parameters(), twin.parameters(), strict=True):
            assert p.dtype == dtype, pname
            np.testing.assert_allclose(p.data, as_ours(tp, p), **tol,
                                       err_msg=f"{name} {config}: {pname} after step {step + 1}")
    return model, opt, twin, topt


def _assert_state(opt, topt, model, twin, tol):
    for p, tp in zip(model.parameters(), twin.parameters(), strict=True):
        ours, theirs = opt.state[p], topt.state[tp]
        assert set(ours) == set(theirs)
        assert ours["step"] == float(theirs["step"])
        for key, value in ours.items():
            if key != "step":
                assert value.dtype == p.dtype, key
                np.testing.assert_allclose(value, as_ours(theirs[key], value), **tol, err_msg=key)


TOL = {np.float64: {"rtol": 1e-11, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 2e-6}}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), two_groups=st.booleans())
def test_trajectory_and_state_match_torch_over_a_grid_of_options(name, dtype, data, two_groups):
    config = data.draw(GRIDS[name])
    with torch_default(dtype):
        model, opt, twin, topt = _train(name, config, FIRST_GROUP[name] if two_groups else None, dtype, 12,
                                        TOL[dtype])
        _assert_state(opt, topt, model, twin, TOL[dtype])


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_mid_training_loaded_into_a_fresh_optimizer_goes_on_as_torch(name):
    """Six steps, state_dict(), a fresh optimizer on a copy of the model loads it, then six more steps
    beside torch's uninterrupted run (two param groups, the second with its own settings)."""
    config = {"lr": 0.05} if name != "Adadelta" else {"lr": 0.5}
    dtype, tol = np.float64, TOL[np.float64]
    with torch_default(dtype):
        model, opt, twin, topt = _train(name, config, FIRST_GROUP[name], dtype, 6, tol)
        saved = opt.state_dict()
        copy = make_model().to(dtype)
        copy.load_state_dict(model.state_dict())
        fresh = getattr(mt, name)(groups(copy, {}, {}))  # the defaults: the file brings the settings
        fresh.load_state_dict(saved)
        assert [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in opt.param_groups]
        _train(name, config, FIRST_GROUP[name], dtype, 6, tol, copy, fresh, twin, topt, start=6)
        _assert_state(fresh, topt, copy, twin, tol)


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_round_trip_goes_on_bit_for_bit(tmp_path, name):
    def run(model, opt, steps):
        loss_fn = mt.CrossEntropyLoss()
        for x, y in steps:
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()

    data = batches(10, np.float64)
    mt.manual_seed(0)
    straight = make_model().to(np.float64)
    saved = make_model().to(np.float64)
    saved.load_state_dict(straight.state_dict())
    run(straight, getattr(mt, name)(straight.parameters(), lr=0.05), data)
    opt = getattr(mt, name)(saved.parameters(), lr=0.05)
    run(saved, opt, data[:5])
    mt.save_checkpoint(tmp_path / "c.npz", model=saved, optimizer=opt)
    resumed = make_model().to(np.float64)
    again = getattr(mt, name)(resumed.parameters(), lr=0.05)
    mt.load_checkpoint(tmp_path / "c.npz", resumed, optimizer=again)
    run(resumed, again, data[5:])
    for p, q in zip(resumed.parameters(), straight.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_without_a_gradient_is_skipped_and_its_state_waits(float64, name):
    config = {"lr": 0.05, "t0": 2.0} if name == "ASGD" else {"lr": 0.05}
    with torch_default(np.float64):
        model, opt = train_skipping_first_layer(name, config)
    steps = [opt.state[p]["step"] for p in model.parameters()]
    assert steps == [4, 4, 8, 8]  # the first layer had a gradient on 4 of the 8 steps


def test_rprop_reads_the_lr_only_at_a_parameter_s_first_update_as_torch():
    """Rprop's step sizes start at lr and then grow or shrink by the etas: a later lr (a schedule)
    moves nothing, in torch as here."""
    p, tp = mt.Parameter(np.zeros(3)), torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt, topt = mt.Rprop([p], lr=0.1), torch.optim.Rprop([tp], lr=0.1)
    for step, g in enumerate([[1.0, -1.0, 0.0], [2.0, 1.0, 0.0], [1.0, 1.0, 1.0]]):
        p.grad, tp.grad = np.array(g), torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 10.0 * (step + 1)
    np.testing.assert_array_equal(p.data, tp.detach().numpy())
    np.testing.assert_array_equal(opt.state[p]["step_size"], [0.144, 0.05, 0.1])


def test_asgd_averages_the_iterates_from_t0_on_as_torch():
    """mu = 1 / max(1, t - t0) is 1 up to step t0 + 1 (ax = p), so ax is the mean of the iterates of
    steps t0 + 2, t0 + 3, ...: with t0 = 2, of steps 4, 5 and 6."""
    p = mt.Parameter(np.zeros(2))
    opt = mt.ASGD([p], lr=0.1, lambd=0.0, alpha=0.0, t0=2.0)
    iterates = []
    for _ in range(6):
        p.grad = np.array([1.0, -2.0])
        opt.step()
        iterates.append(p.data.copy())
    np.testing.assert_allclose(opt.state[p]["ax"], np.mean(iterates[3:], axis=0), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_maximize_and_torch_s_kernel_choices_are_keyword_only(name):
    """torch's foreach, differentiable and capturable are taken by keyword (group settings:
    tests/test_optimizer_torch_state_dicts.py), never positionally, where torch's ASGD takes foreach
    and maximize 7th and 8th: a positional value must not silently mean another option."""
    params = [mt.Parameter(np.zeros(2))]
    for option in ("foreach", "differentiable", "capturable"):
        assert getattr(mt, name)(params, **{option: False}).defaults[option] is False
    with pytest.raises(TypeError):
        getattr(mt, name)(params, 0.01, *([0.5] * 6))  # (torch's ASGD: foreach, maximize 7th and 8th)


REFUSED = [  # (optimizer, settings, our message) where torch refuses them too
    ("Adamax", {"lr": -0.1}, r"^Adamax: lr must be a number in \[0, inf\), got -0\.1$"),
    ("Adamax", {"betas": (1.0, 0.9)}, r"^Adamax: betas\[0\] must be a number in \[0, 1\), got 1\.0$"),
    ("Adamax", {"betas": (0.9, -0.1)}, r"^Adamax: betas\[1\] must be a number in \[0, 1\), got -0\.1$"),
    ("Adamax", {"eps": -1e-8}, r"^Adamax: eps must be a number in \[0, inf\)"),
    ("Adamax", {"weight_decay": -1.0}, r"^Adamax: weight_decay must be a number in \[0, inf\)"),
    ("Adadelta", {"rho": 1.5}, r"^Adadelta: rho must be a number in \[0, 1\], got 1\.5$"),
    ("Adadelta", {"eps": -1.0}, r"^Adadelta: eps must be a number in \[0, inf\)"),
    ("Adadelta", {"weight_decay": -1.0}, r"^Adadelta: weight_decay must be a number in \[0, inf\)"),
    ("Adadelta", {"lr": -1.0}, r"^Adadelta: lr must be a number in \[0, inf\)"),
    ("Rprop", {"etas": (1.0, 1.2)}, r"^Rprop: etas\[0\] must be a number in \(0, 1\), got 1\.0$"),
    ("Rprop", {"etas": (0.5, 1.0)}, r"^Rprop: etas\[1\] must be a number in \(1, inf\), got 1\.0$"),
    ("Rprop", {"etas": (0.0, 1.2)}, r"^Rprop: etas\[0\] must be a number in \(0, 1\), got 0\.0$"),
    ("Rprop", {"lr": -1.0}, r"^Rprop: lr must be a number in \[0, inf\)"),
    ("ASGD", {"lr": -1.0}, r"^ASGD: lr must be a number in \[0, inf\)"),
    ("ASGD", {"weight_decay": -1.0}, r"^ASGD: weight_decay must be a number in \[0, inf\)"),
]


@pytest.mark.parametrize("name, config, message", REFUSED)
def test_bad_settings_are_refused_where_torch_refuses_them(name, config, message):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], **config)
    with pytest.raises(ValueError, match=message):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **config)
    opt = getattr(mt, name)([mt.Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [mt.Parameter(np.zeros(2))], **config})


@pytest.mark.parametrize("config, message", [
    ({"etas": 0.5}, r"^Rprop: etas must be a pair \(eta_minus, eta_plus\), got 0\.5$"),
    ({"step_sizes": (1.0, 0.1)}, r"^Rprop: step_sizes \(step_size_min, step_size_max\) must have min <= max"),
    ({"step_sizes": (-1.0, 0.1)}, r"^Rprop: step_sizes\[0\] must be a number in \[0, inf\), got -1\.0$"),
])
def test_rprop_refuses_what_would_make_its_step_sizes_meaningless(config, message):
    with pytest.raises(ValueError, match=message):
        mt.Rprop([mt.Parameter(np.zeros(2))], **config)


def test_asgd_refuses_a_loaded_state_without_its_scalars_and_changes_nothing():
    p = mt.Parameter(np.zeros(2))
    opt = mt.ASGD([p])
    p.grad = np.ones(2)
    opt.step()
    saved = opt.state_dict()
    before = opt.state_dict()
    del saved["state"][0]["eta"]
    with pytest.raises(ValueError, match=r"ASGD.load_state_dict: parameter 0: state names do not match "
                                         r"ASGD; missing \['eta'\]"):
        opt.load_state_dict(saved)
    saved = opt.state_dict()
    saved["state"][0]["mu"] = np.ones(2)
    with pytest.raises(ValueError, match=r"expected 'mu' a finite number"):
        opt.load_state_dict(saved)
    assert opt.state_dict()["state"][0]["eta"] == before["state"][0]["eta"]


def test_rprop_reads_a_nan_gradient_s_sign_as_0_as_torch(float64):
    """torch's sign(nan) is 0: a NaN gradient element keeps its step size and moves nothing, and its
    NaN (kept as prev) reads as sign 0 at the next step, so the Parameter stays finite (NumPy's
    np.sign(nan) is nan, which made the Parameter NaN)."""
    grads = [np.array([[1.0, np.nan], [np.inf, -1.0]]), np.array([[1.0, 1.0], [1.0, 0.0]]),
             np.array([[-1.0, 1.0], [1e-200, -2.0]]), np.array([[-1.0, 1.0], [np.nan, -2.0]])]
    ours = mt.Parameter(np.ones((2, 2)))
    theirs = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    opt, topt = mt.Rprop([ours], lr=0.05), torch.optim.Rprop([theirs], lr=0.05)
    for g in grads:
        ours.grad, theirs.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
        for name in ("prev", "step_size"):
            np.testing.assert_array_equal(opt.state[ours][name], topt.state[theirs][name].numpy())
    assert np.isfinite(ours.data).all()
