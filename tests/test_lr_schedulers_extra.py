"""ConstantLR, PolynomialLR, MultiplicativeLR, CyclicLR and ChainedScheduler as torch 2.13's.

Both libraries run side by side on two param groups; every lr, and the momentum or beta1 CyclicLR
cycles, is compared bitwise after every step, over hypothesis grids of the settings. A state_dict
taken mid-way (the optimizer's and the scheduler's) and loaded into fresh ones goes on as torch's
uninterrupted run, as does a checkpoint; bad settings are refused where torch refuses them. (The
registries of tests/test_lr_schedulers_habits.py and tests/test_lr_scheduler.py hold more cases.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch import lr_scheduler

LRS = (0.1, 0.03)
T = torch.optim.lr_scheduler


def _optimizers(kind: str = "SGD"):
    """The same optimizer in both libraries, two param groups of lrs LRS."""
    options = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.5}}.get(kind, {})
    ours = getattr(mt, kind)([{"params": [mt.Parameter(np.zeros(2))], "lr": lr} for lr in LRS], **options)
    theirs = getattr(torch.optim, kind)([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                                         for lr in LRS], **options)
    return ours, theirs


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _assert_same(sched, t_sched, opt, t_opt, where):
    assert sched.get_last_lr() == t_sched.get_last_lr(), where
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], where
    assert _momenta(opt) == _momenta(t_opt), where


def _run_both(build, steps, kind="SGD"):
    opt, t_opt = _optimizers(kind)
    sched, t_sched = build(lr_scheduler, opt), build(T, t_opt)
    _assert_same(sched, t_sched, opt, t_opt, "at creation")
    for step in range(1, steps + 1):
        t_opt.step()
        t_sched.step()
        sched.step()
        _assert_same(sched, t_sched, opt, t_opt, f"step {step}")
    return sched, t_sched


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # (torch's "scheduler.step() before optimizer.step()")
        warnings.simplefilter("ignore", UserWarning)
        yield


_step_sizes = st.one_of(st.integers(1, 9), st.sampled_from([0.5, 2.5, 3.7]))


@settings(max_examples=40, deadline=None)
@given(base_lr=st.sampled_from([0.001, [0.01, 0.002]]), max_lr=st.sampled_from([0.1, [0.05, 0.2]]),
       up=_step_sizes, down=st.one_of(st.none(), _step_sizes, st.just(0)),
       mode=st.sampled_from(["triangular", "triangular2", "exp_range"]), gamma=st.sampled_from([1.0, 0.99]),
       cycle_momentum=st.booleans(), momenta=st.sampled_from([(0.8, 0.9), ([0.7, 0.85], 0.95)]),
       kind=st.sampled_from(["SGD", "Adam", "Adamax", "RMSprop"]))
def test_cyclic_lr_and_its_momentum_cycling_match_torch(base_lr, max_lr, up, down, mode, gamma,
                                                        cycle_momentum, momenta, kind):
    """100 batches: lr and the momentum (beta1 for an optimizer with betas) bitwise as torch's."""
    def build(lib, opt):
        return lib.CyclicLR(opt, base_lr, max_lr, step_size_up=up, step_size_down=down, mode=mode,
                            gamma=gamma, cycle_momentum=cycle_momentum, base_momentum=momenta[0],
                            max_momentum=momenta[1])
    _run_both(build, 100, kind)


@settings(max_examples=10, deadline=None)
@given(scale_mode=st.sampled_from(["cycle", "iterations"]), up=st.integers(1, 6))
def test_cyclic_lr_with_a_scale_fn_of_yours_matches_torch(scale_mode, up):
    def build(lib, opt):
        return lib.CyclicLR(opt, 0.01, 0.1, step_size_up=up, scale_fn=lambda x: 1 / (1.0 + 0.3 * x),
                            scale_mode=scale_mode,
                            mode="ignored-with-a-scale_fn" if lib is T else "triangular")
    _run_both(build, 60, "SGD")


@settings(max_examples=25, deadline=None)
@given(factor=st.sampled_from([1.0, 0.5, 1 / 3, 0.01]), total_iters=st.integers(1, 12),
       power=st.sampled_from([1.0, 0.5, 2.0, 0.0, 3.3]), gamma=st.sampled_from([0.9, 1.05]))
def test_constant_polynomial_multiplicative_lr_match_torch(factor, total_iters, power, gamma):
    _run_both(lambda lib, o: lib.ConstantLR(o, factor=factor, total_iters=total_iters), 30)
    _run_both(lambda lib, o: lib.PolynomialLR(o, total_iters=total_iters, power=power), 30)
    _run_both(lambda lib, o: lib.MultiplicativeLR(o, lr_lambda=lambda e: gamma ** (e % 3)), 30)


CHAINS = {
    "constant-exponential": lambda lib, o: [lib.ConstantLR(o, factor=0.1, total_iters=20),
                                            lib.ExponentialLR(o, gamma=0.9)],
    "multiplicative-step": lambda lib, o: [lib.MultiplicativeLR(o, lr_lambda=lambda e: 0.97),
                                           lib.StepLR(o, step_size=4, gamma=0.5)],
    "polynomial-linear": lambda lib, o: [lib.PolynomialLR(o, total_iters=25, power=1.5),
                                         lib.LinearLR(o, start_factor=0.2, total_iters=8)],
    "linear-constant-multistep": lambda lib, o: [lib.LinearLR(o, start_factor=0.5, total_iters=5),
                                                 lib.ConstantLR(o, factor=0.5, total_iters=9),
                                                 lib.MultiStepLR(o, milestones=[12, 30], gamma=0.3)],
}


@pytest.mark.parametrize("chain", list(CHAINS))
def test_chained_scheduler_matches_torch(chain):
    def build(lib, opt):
        return lib.ChainedScheduler(CHAINS[chain](lib, opt), optimizer=opt)
    sched, t_sched = _run_both(build, 40)
    for ours, theirs in zip(sched._schedulers, t_sched._schedulers, strict=True):
        assert ours.last_epoch == theirs.last_epoch


RESUMED = {
    "ConstantLR": (lambda lib, o: lib.ConstantLR(o, factor=0.2, total_iters=14), "SGD"),
    "PolynomialLR": (lambda lib, o: lib.PolynomialLR(o, total_iters=25, power=0.7), "SGD"),
    "MultiplicativeLR": (lambda lib, o: lib.MultiplicativeLR(o, lr_lambda=lambda e: 0.95), "SGD"),
    "CyclicLR-SGD": (lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="triangular2"), "SGD"),
    "CyclicLR-Adamax": (lambda lib, o: lib.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=3, step_size_down=5,
                                                    mode="exp_range", gamma=0.97), "Adamax"),
    "ChainedScheduler": (lambda lib, o: lib.ChainedScheduler(CHAINS["constant-exponential"](lib, o)), "SGD"),
}


@pytest.mark.parametrize("name", list(RESUMED))
def test_state_dicts_loaded_mid_way_go_on_as_torch_s_uninterrupted_run(name):
    """10 steps, then a fresh optimizer and scheduler (built with other settings where it has them)
    load both state_dicts and go on for 30 steps beside torch's run, bitwise."""
    build, kind = RESUMED[name]
    opt, t_opt = _optimizers(kind)
    sched, t_sched = build(lr_scheduler, opt), build(T, t_opt)
    for _ in range(10):
        opt.step(), t_opt.step(), sched.step(), t_sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    fresh, _ = _optimizers(kind)
    resumed = build(lr_scheduler, fresh)
    fresh.load_state_dict(saved_opt)
    resumed.load_state_dict(saved_sched)
    _assert_same(resumed, t_sched, fresh, t_opt, "loaded")
    for step in range(30):
        fresh.step(), t_opt.step(), resumed.step(), t_sched.step()
        _assert_same(resumed, t_sched, fresh, t_opt, f"{name} step {11 + step}")


def test_a_loaded_cyclic_lr_state_brings_its_own_cycle():
    """The settings are in the state_dict, as torch's: a CyclicLR built otherwise follows the saved cycle."""
    opt, t_opt = _optimizers("SGD")
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=4, mode="triangular2")
    t_sched = T.CyclicLR(t_opt, 0.01, 0.1, step_size_up=4, mode="triangular2")
    saved = sched.state_dict()
    other = lr_scheduler.CyclicLR(opt, 0.02, 0.5, step_size_up=9, mode="exp_range", gamma=0.5)
    other.load_state_dict(saved)
    for step in range(20):
        t_opt.step(), t_sched.step(), other.step()
        assert other.get_last_lr() == t_sched.get_last_lr(), step


@pytest.mark.parametrize("name", ["CyclicLR-Adamax", "ChainedScheduler", "PolynomialLR"])
def test_a_checkpoint_with_the_scheduler_goes_on_bit_for_bit(tmp_path, name):
    build, kind = RESUMED[name]
    model = mt.Sequential(mt.Linear(2, 2))
    straight, _ = _optimizers(kind)
    straight_sched = build(lr_scheduler, straight)
    opt, _ = _optimizers(kind)
    sched = build(lr_scheduler, opt)
    for _ in range(10):
        straight.step(), straight_sched.step(), opt.step(), sched.step()
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=sched)
    fresh, _ = _optimizers(kind)
    resumed = build(lr_scheduler, fresh)
    mt.load_checkpoint(tmp_path / "c.npz", model, optimizer=fresh, scheduler=resumed)
    for step in range(20):
        straight.step(), straight_sched.step(), fresh.step(), resumed.step()
        assert resumed.get_last_lr() == straight_sched.get_last_lr(), step
        assert _momenta(fresh) == _momenta(straight), step


REFUSED = [  # (build, our message) where torch refuses too
    (lambda lib, o: lib.ConstantLR(o, factor=1.5),
     r"^ConstantLR: factor must be a number in \(0, 1\], got 1\.5$"),
    (lambda lib, o: lib.ConstantLR(o, factor=-0.5), r"^ConstantLR: factor must be a number in \(0, 1\]"),
    (lambda lib, o: lib.CyclicLR(o, 0.01, 0.1, mode="cosine"),
     r"^CyclicLR: mode must be one of .*got 'cosine'"),
    (lambda lib, o: lib.CyclicLR(o, [0.01] * 3, 0.1), r"^CyclicLR: expected base_lr a number or 2 numbers"),
    (lambda lib, o: lib.CyclicLR(o, 0.01, [0.1]), r"^CyclicLR: expected max_lr a number or 2 numbers"),
    (lambda lib, o: lib.MultiplicativeLR(o, lr_lambda=[lambda e: 1.0]),
     r"^MultiplicativeLR: expected one lr_lambda or 2"),
    (lambda lib, o: lib.ChainedScheduler([]), r"^ChainedScheduler: expected at least one scheduler"),
    (lambda lib, o: lib.ChainedScheduler([lib.ConstantLR(o), lib.ReduceLROnPlateau(o)]),
     r"^ChainedScheduler: schedulers\[1\] is a ReduceLROnPlateau"),
    (lambda lib, o: lib.ChainedScheduler([lib.ConstantLR(o), lib.ExponentialLR(_optimizers("SGD")[lib is T],
                                                                                 0.9)]),
     r"^ChainedScheduler: schedulers\[1\] must be a scheduler of the same optimizer"),
]


@pytest.mark.parametrize("build, message", REFUSED)
def test_bad_settings_are_refused_where_torch_refuses_them(build, message):
    opt, t_opt = _optimizers("SGD")
    with pytest.raises((ValueError, TypeError)):
        build(T, t_opt)
    with pytest.raises(ValueError, match=message):
        build(lr_scheduler, opt)


def test_cyclic_lr_cycling_momentum_needs_momentum_or_betas_as_torch():
    opt = mt.Adagrad([mt.Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        T.CyclicLR(torch.optim.Adagrad([torch.zeros(2, requires_grad=True)]), 0.01, 0.1)
    with pytest.raises(ValueError, match=r"^CyclicLR: cycle_momentum needs an optimizer with momentum or "
                                         r"betas .*got Adagrad; pass cycle_momentum=False$"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1)
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)
    saved = sched.state_dict()
    saved["cycle_momentum"] = True
    with pytest.raises(ValueError, match=r"^CyclicLR.load_state_dict: cycle_momentum needs"):
        sched.load_state_dict(saved)


def test_a_chained_scheduler_s_load_checks_every_state_first_and_changes_nothing():
    opt, _ = _optimizers("SGD")
    sched = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt),
                                           lr_scheduler.ExponentialLR(opt, 0.9)])
    sched.step()
    before = sched.state_dict()
    saved = sched.state_dict()
    saved["_schedulers"][1]["gamma"] = -1.0
    with pytest.raises(ValueError, match=r"ExponentialLR.load_state_dict: gamma must be a number"):
        sched.load_state_dict(saved)
    assert sched.state_dict() == before


def test_fit_refuses_cyclic_lr_which_counts_batches():
    model = mt.Sequential(mt.Linear(2, 1))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32))]
    with pytest.raises(ValueError, match="fit: CyclicLR counts batches"):
        mt.fit(model, mt.MSELoss(), opt, data, epochs=1, scheduler=lr_scheduler.CyclicLR(opt, 0.01, 0.1),
               verbose=False)



def _sequence_from_a_chain(lib, opt):
    chain = lib.ChainedScheduler([lib.ConstantLR(opt, factor=0.5, total_iters=2),
                                  lib.ExponentialLR(opt, gamma=0.9)])
    return lib.SequentialLR(opt, [chain, lib.PolynomialLR(opt, total_iters=6)], milestones=[5])


def test_sequential_lr_starting_with_a_chained_scheduler_matches_torch():
    """SequentialLR undoes the chained schedulers' creation steps, as torch's recursive_undo."""
    _run_both(_sequence_from_a_chain, 15)


def test_sequential_lr_refuses_a_chained_scheduler_it_would_have_to_restart():
    """torch takes one after the first and fails at its milestone (its ChainedScheduler has no get_lr)."""
    opt, _ = _optimizers("SGD")
    chain = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt),
                                           lr_scheduler.ExponentialLR(opt, 0.9)])
    with pytest.raises(ValueError, match=r"^SequentialLR: schedulers\[1\] is a ChainedScheduler, which "
                                         r"cannot restart"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.5), chain], milestones=[3])
