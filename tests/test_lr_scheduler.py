"""Learning-rate schedules give PyTorch's sequences: both run side by side, every lr compared bitwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch import lr_scheduler

STEPS = 40
LRS = (0.1, 0.03)                                         # two param groups, two base lrs

SCHEDULES = [
    ("StepLR", {"step_size": 1}),
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 30}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30]}),
    ("MultiStepLR", {"milestones": [20, 3], "gamma": 0.7}),
    ("MultiStepLR", {"milestones": [0, 10], "gamma": 0.5}),   # torch applies milestone 0 at creation
    ("ExponentialLR", {"gamma": 0.9}),
    ("ExponentialLR", {"gamma": 1.01}),
    ("CosineAnnealingLR", {"T_max": 10}),                 # 40 steps: down, up, down, up (periodic)
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 1e-3}),
    ("CosineAnnealingLR", {"T_max": 1, "eta_min": 0.01}),
    ("CosineAnnealingLR", {"T_max": 50}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 25}),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.0, "total_iters": 1}),
]


def optimizers(lrs=LRS) -> tuple[mt.SGD, torch.optim.SGD]:
    ours = mt.SGD([{"params": [mt.Parameter(np.zeros(2))], "lr": lr} for lr in lrs], momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs],
                             momentum=0.9)
    return ours, theirs


def assert_same_lrs(sched, t_sched, opt, t_opt, where: str) -> None:
    """Bitwise equal: the chained formulas do torch's float operations in torch's order."""
    np.testing.assert_array_equal(sched.get_last_lr(), t_sched.get_last_lr(), err_msg=where)
    np.testing.assert_array_equal([g["lr"] for g in opt.param_groups], [g["lr"] for g in t_opt.param_groups],
                                  err_msg=where)
    assert sched.last_epoch == t_sched.last_epoch, where


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_sequence_matches_torch(name, kwargs):
    opt, t_opt = optimizers()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.base_lrs == t_sched.base_lrs
    assert_same_lrs(sched, t_sched, opt, t_opt, "at creation")
    for epoch in range(1, STEPS + 1):
        t_opt.step()                                      # torch warns if its scheduler steps first
        t_sched.step()
        sched.step()
        assert_same_lrs(sched, t_sched, opt, t_opt, f"{name}{kwargs} epoch {epoch}")


def plateau_metrics(mode: str) -> list[float]:
    """A loss-like curve with plateaus and noise (negated for mode 'max')."""
    rng = np.random.default_rng(3)
    values = 1.0 / (1 + np.arange(80) // 16) + rng.uniform(0, 2e-3, 80)
    return [float(v) if mode == "min" else -float(v) for v in values]


PLATEAUS = [
    {},
    {"patience": 0},
    {"patience": 2, "factor": 0.5, "cooldown": 3},
    {"mode": "max", "patience": 3, "factor": 0.3},
    {"threshold_mode": "abs", "threshold": 1e-2, "patience": 1},
    {"mode": "max", "threshold_mode": "abs", "threshold": 1e-3, "patience": 1, "cooldown": 1},
    {"patience": 0, "factor": 0.2, "min_lr": [1e-3, 2e-3]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02, "eps": 1e-3},
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    opt, t_opt = optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    reductions = 0
    for epoch, metric in enumerate(plateau_metrics(kwargs.get("mode", "min")), start=1):
        before = [g["lr"] for g in opt.param_groups]
        sched.step(metric)
        t_sched.step(metric)
        assert_same_lrs(sched, t_sched, opt, t_opt, f"{kwargs} epoch {epoch}")
        assert sched.num_bad_epochs == t_sched.num_bad_epochs
        assert sched.best == t_sched.best
        reductions += any(g["lr"] < lr for g, lr in zip(opt.param_groups, before, strict=True))
    assert reductions >= 2                                # the test exercises reductions at all


@pytest.mark.parametrize("name, kwargs", SCHEDULES[1::2] + [("ReduceLROnPlateau", PLATEAUS[2])],
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES[1::2])] + ["ReduceLROnPlateau"])
def test_resume_from_state_dict(name, kwargs):
    """Save after 10 epochs, rebuild, load (optimizer after creating the scheduler, as in torch), go on."""
    cls = getattr(lr_scheduler, name)
    metrics = plateau_metrics("min")

    def advance(sched, epochs):
        lrs = []
        for epoch in epochs:
            sched.step(metrics[epoch]) if name == "ReduceLROnPlateau" else sched.step()
            lrs.append(sched.get_last_lr())
        return lrs

    opt, _ = optimizers()
    sched = cls(opt, **kwargs)
    advance(sched, range(10))
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    expected = advance(sched, range(10, 30))

    fresh_opt, _ = optimizers(lrs=(0.5, 0.5))
    fresh = cls(fresh_opt, **kwargs)
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved_sched)
    assert advance(fresh, range(10, 30)) == expected      # exactly: the same floats in the same order


def test_state_dict_holds_plain_values():
    opt, _ = optimizers()
    sd = lr_scheduler.MultiStepLR(opt, milestones=[3, 1]).state_dict()
    assert sd == {"last_epoch": 0, "base_lrs": list(LRS), "_last_lr": list(LRS), "milestones": [1, 3],
                  "gamma": 0.1}
    with pytest.raises(ValueError, match="expected keys"):
        lr_scheduler.MultiStepLR(opt, milestones=[3]).load_state_dict({"last_epoch": 3})
    bad = {**sd, "base_lrs": [0.1]}
    with pytest.raises(ValueError, match="2 parameter groups"):
        lr_scheduler.MultiStepLR(opt, milestones=[3]).load_state_dict(bad)


def test_load_state_dict_keeps_scheduler_initial_lr():
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1)
    mt.lr_scheduler.StepLR(opt, step_size=2)
    fresh = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.3)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["initial_lr"] == 0.1 and fresh.param_groups[0]["lr"] == 0.1


def test_scheduler_drives_the_optimizer():
    """The lr the optimizer uses is the scheduler's: a StepLR halving makes SGD's step half as long."""
    p = mt.Parameter(np.zeros(1))
    opt = mt.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    moves = []
    for _ in range(3):
        p.grad = np.ones(1)
        before = p.data.copy()
        opt.step()
        sched.step()
        moves.append(float(before[0] - p.data[0]))
    assert moves == [1.0, 0.5, 0.25]


@settings(max_examples=20, deadline=None)
@given(t_max=st.integers(1, 40), eta_ratio=st.floats(0.0, 0.9), lr=st.floats(1e-4, 1.0))
def test_cosine_recursion_agrees_with_closed_form(t_max, eta_ratio, lr):
    eta_min = eta_ratio * lr
    opt = mt.SGD([mt.Parameter(np.zeros(1))], lr=lr)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    for epoch in range(1, 3 * t_max + 2):
        sched.step()
        closed = eta_min + (lr - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2
        assert math.isclose(sched.get_last_lr()[0], closed, rel_tol=1e-9, abs_tol=1e-12 * lr)
        assert eta_min - 1e-12 <= sched.get_last_lr()[0] <= lr + 1e-12


@settings(max_examples=20, deadline=None)
@given(start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 20))
def test_linear_warmup_reaches_end_factor_and_stays(start, end, total):
    opt = mt.SGD([mt.Parameter(np.zeros(1))], lr=0.2)
    sched = lr_scheduler.LinearLR(opt, start_factor=start, end_factor=end, total_iters=total)
    assert math.isclose(sched.get_last_lr()[0], 0.2 * start)
    for _ in range(total + 5):
        sched.step()
    assert math.isclose(sched.get_last_lr()[0], 0.2 * end, rel_tol=1e-9, abs_tol=1e-15)


BAD = [
    ("StepLR", {"step_size": 0}, ValueError),
    ("StepLR", {"step_size": 2.5}, ValueError),
    ("StepLR", {"step_size": 2, "gamma": -0.1}, ValueError),
    ("MultiStepLR", {"milestones": [3, -1]}, ValueError),
    ("MultiStepLR", {"milestones": [3, 4.5]}, ValueError),
    ("ExponentialLR", {"gamma": -1.0}, ValueError),
    ("CosineAnnealingLR", {"T_max": 0}, ValueError),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": -1e-3}, ValueError),
    ("LinearLR", {"start_factor": 0.0}, ValueError),
    ("LinearLR", {"start_factor": 1.5}, ValueError),
    ("LinearLR", {"end_factor": 1.5}, ValueError),
    ("LinearLR", {"total_iters": "5"}, ValueError),  # (any integer is taken, as torch)
    ("ReduceLROnPlateau", {"mode": "avg"}, ValueError),
    ("ReduceLROnPlateau", {"threshold_mode": "pct"}, ValueError),
    ("ReduceLROnPlateau", {"factor": 1.0}, ValueError),
    ("ReduceLROnPlateau", {"patience": -1}, ValueError),
    ("ReduceLROnPlateau", {"cooldown": 1.5}, ValueError),
    ("ReduceLROnPlateau", {"min_lr": [0.0]}, ValueError),
    ("ReduceLROnPlateau", {"min_lr": -1.0}, ValueError),
]


@pytest.mark.parametrize("name, kwargs, error", BAD, ids=[f"{n}-{k}" for n, k, _ in BAD])
def test_bad_arguments_are_refused(name, kwargs, error):
    opt, _ = optimizers()
    with pytest.raises(error):
        getattr(lr_scheduler, name)(opt, **kwargs)


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.StepLR([0.1], step_size=1)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.ReduceLROnPlateau(None)


ALL_SCHEDULERS = {
    "StepLR": lambda lib, o: lib.StepLR(o, 2, 0.5), "MultiStepLR": lambda lib, o: lib.MultiStepLR(o, [2, 4]),
    "ExponentialLR": lambda lib, o: lib.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda lib, o: lib.CosineAnnealingLR(o, 5),
    "LinearLR": lambda lib, o: lib.LinearLR(o, 0.2, total_iters=4),
    "LambdaLR": lambda lib, o: lib.LambdaLR(o, lambda e: 0.9**e),
    "CosineAnnealingWarmRestarts": lambda lib, o: lib.CosineAnnealingWarmRestarts(o, 3),
    "OneCycleLR": lambda lib, o: lib.OneCycleLR(o, 1.0, total_steps=20),
    "ReduceLROnPlateau": lambda lib, o: lib.ReduceLROnPlateau(o, patience=0),
    "ReduceLROnPlateau-min_lr-list": lambda lib, o: lib.ReduceLROnPlateau(o, patience=0, min_lr=[1e-4]),
    "ConstantLR": lambda lib, o: lib.ConstantLR(o, 0.5, total_iters=4),
    "PolynomialLR": lambda lib, o: lib.PolynomialLR(o, total_iters=6, power=2.0),
    "MultiplicativeLR": lambda lib, o: lib.MultiplicativeLR(o, lambda e: 0.9),
    "CyclicLR": lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, step_size_up=3),
}


@pytest.mark.parametrize("name", list(ALL_SCHEDULERS))
def test_a_param_group_added_after_the_scheduler_as_torch(name):
    """Unfreezing a layer mid-training adds a param group: the chained schedules and ReduceLROnPlateau
    (min_lr a number) take it along as torch does; where torch cannot (the schedules computed from
    base_lrs), the error names the added group, not a zip()."""
    opt, t_opt = optimizers(lrs=(0.1,))
    build = ALL_SCHEDULERS[name]
    sched, t_sched = build(lr_scheduler, opt), build(torch.optim.lr_scheduler, t_opt)
    plateau = name.startswith("ReduceLROnPlateau")
    for epoch in range(8):
        if epoch == 2:
            opt.add_param_group({"params": [mt.Parameter(np.zeros(2))], "lr": 0.05})
            t_opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": 0.05})
        t_opt.step()
        try:
            t_sched.step(1.0) if plateau else t_sched.step()
        except (ValueError, KeyError, RuntimeError):
            with pytest.raises(ValueError, match="param group"):
                sched.step(1.0) if plateau else sched.step()
            return
        sched.step(1.0) if plateau else sched.step()
        lrs, t_lrs = [g["lr"] for g in opt.param_groups], [g["lr"] for g in t_opt.param_groups]
        np.testing.assert_array_equal(lrs, t_lrs, err_msg=f"epoch {epoch}")
