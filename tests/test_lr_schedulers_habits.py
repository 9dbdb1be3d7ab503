"""LambdaLR, OneCycleLR, CosineAnnealingWarmRestarts, SequentialLR give PyTorch's get_last_lr() sequences.

Both libraries run side by side on two param groups; every lr (and OneCycleLR's momentum / beta1) is
compared bitwise after every step, as tests/test_lr_scheduler.py does for the first schedules.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch import lr_scheduler

LRS = (0.1, 0.03)


def optimizers(kind: str = "SGD", lrs=LRS):
    if kind == "Adam":
        return (mt.Adam([{"params": [mt.Parameter(np.zeros(2))], "lr": lr} for lr in lrs]),
                torch.optim.Adam([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]))
    return (mt.SGD([{"params": [mt.Parameter(np.zeros(2))], "lr": lr} for lr in lrs], momentum=0.9),
            torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs],
                            momentum=0.9))


def assert_same(sched, t_sched, opt, t_opt, where):
    np.testing.assert_array_equal(sched.get_last_lr(), t_sched.get_last_lr(), err_msg=where)
    np.testing.assert_array_equal([g["lr"] for g in opt.param_groups], [g["lr"] for g in t_opt.param_groups],
                                  err_msg=where)
    for g, tg in zip(opt.param_groups, t_opt.param_groups, strict=True):
        for key in ("momentum", "betas"):
            if key in g:
                assert g[key] == tg[key], (where, key)


def run_both(build, steps, kind="SGD"):
    opt, t_opt = optimizers(kind)
    sched, t_sched = build(lr_scheduler, opt), build(torch.optim.lr_scheduler, t_opt)
    assert_same(sched, t_sched, opt, t_opt, "at creation")
    for epoch in range(1, steps + 1):
        t_opt.step()
        t_sched.step()
        sched.step()
        assert_same(sched, t_sched, opt, t_opt, f"step {epoch}")
        assert sched.last_epoch == t_sched.last_epoch
    return sched, opt


def _lambda(lib, opt):
    return lib.LambdaLR(opt, lr_lambda=lambda e: 0.95**e)


def _lambda_per_group(lib, opt):
    return lib.LambdaLR(opt, lr_lambda=[lambda e: min(1.0, (e + 1) / 10), lambda e: 1 / (1 + e)])


def _sequential(lib, opt):
    warm = lib.LinearLR(opt, start_factor=0.1, total_iters=5)
    decay = lib.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)
    return lib.SequentialLR(opt, schedulers=[warm, decay], milestones=[5])


def _sequential_three(lib, opt):
    a = lib.ExponentialLR(opt, gamma=0.9)
    b = lib.StepLR(opt, step_size=3, gamma=0.5)
    c = lib.MultiStepLR(opt, milestones=[0, 4], gamma=0.3)
    return lib.SequentialLR(opt, schedulers=[a, b, c], milestones=[4, 11])


def _sequential_lambda_restarts(lib, opt):
    a = lib.LambdaLR(opt, lr_lambda=lambda e: (e + 1) / 3)
    b = lib.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    c = lib.LinearLR(opt, start_factor=0.5, end_factor=0.1, total_iters=6)
    return lib.SequentialLR(opt, schedulers=[a, b, c], milestones=[3, 15])


CASES = [
    ("LambdaLR", _lambda, 30, "SGD"),
    ("LambdaLR-per-group", _lambda_per_group, 30, "SGD"),
    ("CosineAnnealingWarmRestarts", lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=7), 40, "SGD"),
    ("CosineAnnealingWarmRestarts-Tmult",
     lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3), 50, "SGD"),
    ("OneCycleLR", lambda lib, o: lib.OneCycleLR(o, max_lr=1.0, total_steps=40), 40, "SGD"),
    ("OneCycleLR-Adam-linear-3phase", lambda lib, o: lib.OneCycleLR(
        o, max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=7, anneal_strategy="linear", three_phase=True,
        pct_start=0.25), 35, "Adam"),
    ("OneCycleLR-no-momentum", lambda lib, o: lib.OneCycleLR(
        o, max_lr=0.3, total_steps=25, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0),
     25, "SGD"),
    ("SequentialLR-warmup-cosine", _sequential, 30, "SGD"),
    ("SequentialLR-three", _sequential_three, 30, "SGD"),
    ("SequentialLR-lambda-restarts", _sequential_lambda_restarts, 30, "SGD"),
]


def _sequential_extra(lib, opt):  # restarts by torch's closed forms and lr_lambda(0)
    a = lib.PolynomialLR(opt, total_iters=4, power=2.0)
    b = lib.MultiplicativeLR(opt, lr_lambda=lambda e: 0.9 if e % 2 else 0.8)
    c = lib.ConstantLR(opt, factor=0.4, total_iters=3)
    return lib.SequentialLR(opt, schedulers=[a, b, c], milestones=[6, 12])


CASES += [
    ("ConstantLR", lambda lib, o: lib.ConstantLR(o, factor=0.25, total_iters=6), 20, "SGD"),
    ("PolynomialLR", lambda lib, o: lib.PolynomialLR(o, total_iters=15, power=0.9), 25, "SGD"),
    ("MultiplicativeLR-per-group", lambda lib, o: lib.MultiplicativeLR(
        o, lr_lambda=[lambda e: 0.95, lambda e: 1.0 - 0.01 * e]), 30, "SGD"),
    ("CyclicLR-triangular", lambda lib, o: lib.CyclicLR(o, 0.01, [0.1, 0.3], step_size_up=4,
                                                        step_size_down=7), 45, "SGD"),
    ("CyclicLR-triangular2-Adam", lambda lib, o: lib.CyclicLR(o, [0.001, 0.002], 0.05, step_size_up=3,
                                                              mode="triangular2", base_momentum=0.7,
                                                              max_momentum=[0.95, 0.9]), 40, "Adam"),
    ("CyclicLR-exp_range", lambda lib, o: lib.CyclicLR(o, 0.01, 0.2, step_size_up=5, mode="exp_range",
                                                       gamma=0.98), 45, "SGD"),
    ("CyclicLR-scale_fn-iterations", lambda lib, o: lib.CyclicLR(
        o, 0.01, 0.2, step_size_up=2.5, step_size_down=4, scale_fn=lambda x: 1 / (1 + 0.1 * x),
        scale_mode="iterations", cycle_momentum=False), 40, "SGD"),
    ("SequentialLR-polynomial-multiplicative-constant", _sequential_extra, 25, "SGD"),
]


@pytest.mark.parametrize("build, steps, kind", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sequence_matches_torch(build, steps, kind):
    run_both(build, steps, kind)


def test_warm_restarts_accepts_fractional_epochs_as_torch():
    opt, t_opt = optimizers()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=2, T_mult=2)
    for epoch in np.arange(0, 12, 0.25):
        t_opt.step()
        t_sched.step(float(epoch))
        sched.step(float(epoch))
        assert_same(sched, t_sched, opt, t_opt, f"epoch {epoch}")


def test_one_cycle_refuses_to_step_past_total_steps():
    opt, _ = optimizers()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times, but total_steps is 3"):
        sched.step()


@pytest.mark.parametrize("build, message", [
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 1.0]), "expected one lr_lambda or 2"),
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=0.5), "must be a function of the epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), "give total_steps, or epochs and steps_per_epoch"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), "T_0 must be a positive integer"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], milestones=[3]),
     "expected 0 milestones"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], milestones=[]),
     "needs a metric"),
])
def test_bad_arguments_name_the_scheduler(build, message):
    opt, _ = optimizers()
    with pytest.raises((ValueError, TypeError), match=message):
        build(opt)


def test_one_cycle_needs_momentum_or_betas_when_cycling():
    p = mt.Parameter(np.zeros(2))
    opt = mt.Adagrad([p])
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)


def test_state_dicts_resume_the_sequence():
    for build in (_sequential, lambda lib, o: lib.OneCycleLR(o, max_lr=1.0, total_steps=40),
                  lambda lib, o: lib.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)):
        opt, _ = optimizers()
        sched = build(lr_scheduler, opt)
        for _ in range(7):
            sched.step()
        saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
        expected = []
        for _ in range(10):
            sched.step()
            expected.append(sched.get_last_lr())
        opt2, _ = optimizers()
        sched2 = build(lr_scheduler, opt2)
        opt2.load_state_dict(saved_opt)
        sched2.load_state_dict(saved_sched)
        got = []
        for _ in range(10):
            sched2.step()
            got.append(sched2.get_last_lr())
        assert got == expected, type(sched).__name__


@pytest.mark.parametrize("build, steps, kind", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_state_dict_taken_at_any_step_resumes_the_sequence(build, steps, kind):
    """Every step, not one chosen step: a SequentialLR saved before a milestone holds schedulers that
    have not started (last_epoch -1, as torch's); a checkpoint taken in a warm-up must load too."""
    for saved_at in range(min(steps, 12)):
        opt, _ = optimizers(kind)
        sched = build(lr_scheduler, opt)
        for _ in range(saved_at):
            sched.step()
        saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
        expected = []
        for _ in range(steps - saved_at):
            sched.step()
            expected.append(sched.get_last_lr())
        opt2, _ = optimizers(kind)
        sched2 = build(lr_scheduler, opt2)
        opt2.load_state_dict(saved_opt)
        sched2.load_state_dict(saved_sched)
        got = []
        for _ in range(steps - saved_at):
            sched2.step()
            got.append(sched2.get_last_lr())
        assert got == expected, f"saved after {saved_at} steps"


def test_a_refused_sequential_state_changes_nothing():
    opt, _ = optimizers()
    sched = _sequential_three(lr_scheduler, opt)
    for _ in range(5):
        sched.step()
    good = sched.state_dict()
    forged = []
    for edit in (lambda s: s["_schedulers"][2].update(gamma=-1.0), lambda s: s.update(last_epoch="x"),
                 lambda s: s.update(_milestones=[4, "z"]), lambda s: s.update(base_lrs=[0.1])):
        state = copy.deepcopy(good)
        state["_schedulers"][0]["last_epoch"] = 99  # a first change the later refusal must undo
        edit(state)
        forged.append(state)
    for state in forged:
        with pytest.raises(ValueError, match=r"load_state_dict"):
            sched.load_state_dict(state)
        assert sched.state_dict() == good
