"""Edges of the schedules against torch 2.13 (the oracle): ConstantLR and PolynomialLR with
total_iters=0, ConstantLR, LinearLR and PolynomialLR with a negative total_iters, CyclicLR's mode
beside a scale_fn and the state it loads, and fit refusing a per-batch scheduler inside a composite
one."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lr_schedulers_extra import T, _momenta, _optimizers

import minitorch as mt
from minitorch import lr_scheduler


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # (torch's "scheduler.step() before optimizer.step()")
        warnings.simplefilter("ignore", UserWarning)
        yield


def _run_both(build, steps, kind="SGD"):
    """Both schedulers side by side: lrs (and momenta) bitwise after creation and every step."""
    opt, t_opt = _optimizers(kind)
    sched, t_sched = build(lr_scheduler, opt), build(T, t_opt)
    for step in range(steps + 1):
        if step:
            t_opt.step(), t_sched.step(), sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step
        assert _momenta(opt) == _momenta(t_opt), step
    return sched, t_sched


# --------------------------------------------------------------------------- total_iters=0
ZERO_ITERS = {
    "ConstantLR": lambda lib, o, v: lib.ConstantLR(o, factor=v, total_iters=0),
    "PolynomialLR": lambda lib, o, v: lib.PolynomialLR(o, total_iters=0, power=v * 4),
}


@settings(max_examples=8, deadline=None)
@given(name=st.sampled_from(sorted(ZERO_ITERS)), value=st.sampled_from([0.5, 1 / 3, 0.01, 1.0]))
def test_total_iters_zero_gives_torchs_lrs_and_state(name, value):
    """torch's ConstantLR(total_iters=0) scales at epoch 0 and never gives it back; its PolynomialLR
    keeps base_lr: the same lrs bitwise, and the same state_dict entries."""
    sched, t_sched = _run_both(lambda lib, o: ZERO_ITERS[name](lib, o, value), 8)
    theirs = t_sched.state_dict()
    for key, ours in sched.state_dict().items():
        assert ours == theirs[key], key


@pytest.mark.parametrize("name", sorted(ZERO_ITERS))
def test_a_total_iters_zero_state_loads_and_goes_on_as_torchs_run(name):
    opt, t_opt = _optimizers()
    sched, t_sched = ZERO_ITERS[name](lr_scheduler, opt, 0.5), ZERO_ITERS[name](T, t_opt, 0.5)
    for _ in range(3):
        opt.step(), t_opt.step(), sched.step(), t_sched.step()
    fresh, _ = _optimizers()
    resumed = lr_scheduler.ConstantLR(fresh) if name == "ConstantLR" else lr_scheduler.PolynomialLR(fresh)
    fresh.load_state_dict(opt.state_dict())
    resumed.load_state_dict(sched.state_dict())
    for step in range(5):
        fresh.step(), t_opt.step(), resumed.step(), t_sched.step()
        assert resumed.get_last_lr() == t_sched.get_last_lr(), step


def test_a_sequential_lr_restarts_a_constant_lr_of_total_iters_zero_as_torch():
    """The restart writes the closed form (base_lr), unlike the creation step (base_lr * factor)."""
    _run_both(lambda lib, o: lib.SequentialLR(o, [lib.ExponentialLR(o, 0.9),
                                                  lib.ConstantLR(o, factor=0.25, total_iters=0)], [3]), 8)


def test_a_sequential_lr_refuses_to_restart_a_polynomial_lr_of_total_iters_zero():
    """torch's divides by zero at the milestone; MiniTorch refuses it at construction."""
    opt, t_opt = _optimizers()
    t_sched = T.SequentialLR(t_opt, [T.ExponentialLR(t_opt, 0.9), T.PolynomialLR(t_opt, total_iters=0)], [2])
    with pytest.raises(ZeroDivisionError):
        for _ in range(2):
            t_sched.step()
    with pytest.raises(ValueError, match=r"^SequentialLR: schedulers\[1\] is a PolynomialLR\(total_iters=0\)"
                                         r", whose closed form"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9),
                                        lr_scheduler.PolynomialLR(opt, total_iters=0)], [2])
    first = lr_scheduler.PolynomialLR(opt, total_iters=0)  # first: never restarted
    lr_scheduler.SequentialLR(opt, [first, lr_scheduler.ExponentialLR(opt, 0.9)], [2])


# --------------------------------------------------------------------------- negative total_iters
NEGATIVE_ITERS = {  # torch checks no total_iters: a negative one is taken (and 0 for LinearLR)
    "ConstantLR": lambda lib, o, n: lib.ConstantLR(o, factor=0.5, total_iters=n),
    "LinearLR": lambda lib, o, n: lib.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=n),
    "PolynomialLR": lambda lib, o, n: lib.PolynomialLR(o, total_iters=n, power=2.0),
}


@pytest.mark.parametrize("total_iters", [-1, -3])
@pytest.mark.parametrize("name", sorted(NEGATIVE_ITERS))
def test_a_negative_total_iters_gives_torchs_lrs_state_and_restart(name, total_iters):
    """torch's chained steps apply the epoch-0 factor and never change the lr again (ConstantLR's
    epoch never equals total_iters, LinearLR's and PolynomialLR's always pass it); the closed form
    (step(epoch), a SequentialLR restart) gives the schedule's end: base_lr, base_lr * end_factor, 0.
    (MiniTorch refused total_iters=-1 before.)"""
    sched, t_sched = _run_both(lambda lib, o: NEGATIVE_ITERS[name](lib, o, total_iters), 6)
    theirs = t_sched.state_dict()
    for key, ours in sched.state_dict().items():
        assert ours == theirs[key], key
    sched.step(2), t_sched.step(2)  # the closed form (torch's deprecated step(epoch))
    assert sched.get_last_lr() == t_sched.get_last_lr()
    _run_both(lambda lib, o: lib.SequentialLR(o, [lib.ExponentialLR(o, 0.9),
                                                  NEGATIVE_ITERS[name](lib, o, total_iters)], [2]), 6)


def test_linear_lr_of_total_iters_zero_steps_as_torch_and_refuses_its_closed_form():
    _run_both(lambda lib, o: NEGATIVE_ITERS["LinearLR"](lib, o, 0), 6)
    opt, t_opt = _optimizers()
    t_linear = NEGATIVE_ITERS["LinearLR"](T, t_opt, 0)
    t_sched = T.SequentialLR(t_opt, [T.ExponentialLR(t_opt, 0.9), t_linear], [2])
    with pytest.raises(ZeroDivisionError):
        for _ in range(2):
            t_sched.step()
    with pytest.raises(ValueError, match=r"^SequentialLR: schedulers\[1\] is a LinearLR\(total_iters=0\)"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9),
                                        NEGATIVE_ITERS["LinearLR"](lr_scheduler, opt, 0)], [2])
    with pytest.raises(ValueError, match=r"^LinearLR\(total_iters=0\) has no closed form"):
        NEGATIVE_ITERS["LinearLR"](lr_scheduler, opt, 0).step(3)


# --------------------------------------------------------------------------- CyclicLR
@settings(max_examples=6, deadline=None)
@given(mode=st.sampled_from(["cosine", "", "exp_range", "triangular2"]),
       scale_mode=st.sampled_from(["cycle", "iterations"]))
def test_cyclic_lr_with_a_scale_fn_keeps_any_mode_as_torch(mode, scale_mode):
    """torch reads mode only without a scale_fn: an unknown one is kept and the schedule is the fn's."""
    def build(lib, opt):
        return lib.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode=mode, scale_fn=lambda x: 0.9**x,
                            scale_mode=scale_mode)
    sched, t_sched = _run_both(build, 20)
    assert sched.mode == t_sched.mode == mode
    assert sched.scale_mode == t_sched.scale_mode == scale_mode
    assert sched.state_dict()["mode"] == mode


def test_cyclic_lr_without_a_scale_fn_still_refuses_an_unknown_mode():
    opt, t_opt = _optimizers()
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        T.CyclicLR(t_opt, 0.01, 0.1, mode="cosine")
    with pytest.raises(ValueError, match=r"^CyclicLR: mode must be one of .*got 'cosine'"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="cosine")
    with pytest.raises(TypeError, match=r"^CyclicLR: mode must be a str"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode=3, scale_fn=lambda x: 1.0)


@pytest.mark.parametrize("name", ["max_lrs", "base_momentums", "max_momentums", "base_lrs"])
@pytest.mark.parametrize("length", [1, 3])
def test_cyclic_lr_refuses_a_state_whose_lists_do_not_fit_its_groups_and_changes_nothing(name, length):
    opt, _ = _optimizers()
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=3)
    sched.step()
    saved = sched.state_dict()
    saved[name] = [0.5] * length
    before, groups = sched.state_dict(), copy.deepcopy(opt.param_groups)
    with pytest.raises(ValueError, match=rf"^CyclicLR.load_state_dict: expected {name} for 2 parameter "
                                         rf"groups, got {length}$"):
        sched.load_state_dict(saved)
    assert sched.state_dict() == before
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in groups]


def test_one_cycle_lr_refuses_a_state_whose_lists_do_not_fit_its_groups():
    opt, _ = _optimizers()
    sched = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10)
    before = sched.state_dict()
    for name in ("max_lrs", "min_lrs", "max_momentums", "base_momentums"):
        saved = sched.state_dict()
        saved[name] = saved[name][:1]
        with pytest.raises(ValueError, match=rf"^OneCycleLR.load_state_dict: expected {name} for 2"):
            sched.load_state_dict(saved)
        assert sched.state_dict() == before


def test_a_loaded_state_sets_scale_mode_by_the_mode_as_torch():
    """A state saved with a scale_fn of its own (scale_mode "iterations", mode "triangular2") loaded
    into a CyclicLR without one: torch's _init_scale_fn sets scale_mode "cycle" from the mode."""
    opt, t_opt = _optimizers()
    def build(lib, o, **kwargs):
        return lib.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2", **kwargs)
    saved = build(lr_scheduler, opt, scale_fn=lambda x: 0.5, scale_mode="iterations").state_dict()
    t_saved = build(T, t_opt, scale_fn=lambda x: 0.5, scale_mode="iterations").state_dict()
    sched, t_sched = build(lr_scheduler, opt), build(T, t_opt)
    sched.load_state_dict(saved)
    t_sched.load_state_dict(t_saved)
    assert sched.scale_mode == t_sched.scale_mode == "cycle"
    for step in range(12):
        t_opt.step(), t_sched.step(), sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step


def test_a_state_with_a_mode_only_a_scale_fn_reads_is_refused_without_one():
    opt, _ = _optimizers()
    saved = lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="mine", scale_fn=lambda x: 0.5).state_dict()
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1)
    before = sched.state_dict()
    with pytest.raises(ValueError, match=r"^CyclicLR.load_state_dict: mode 'mine' is not one of .*scale_fn"):
        sched.load_state_dict(saved)
    assert sched.state_dict() == before
    other = lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 0.5)
    other.load_state_dict(saved)
    assert other.mode == "mine"


# --------------------------------------------------------------------------- fit
def _fit(scheduler, opt, model):
    data = [(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32))]
    mt.fit(model, mt.MSELoss(), opt, data, epochs=1, scheduler=scheduler, verbose=0)


COMPOSITES = {  # build(opt) -> scheduler, the name fit gives
    "chained cyclic": (lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ExponentialLR(o, 0.9), lr_scheduler.CyclicLR(o, 0.01, 0.1)]),
        r"CyclicLR \(in ChainedScheduler._schedulers\[1\]\)"),
    "sequential one-cycle": (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o), lr_scheduler.OneCycleLR(o, 0.1, total_steps=50)], [2]),
        r"OneCycleLR \(in SequentialLR._schedulers\[1\]\)"),
    "sequential of a chain": (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.ChainedScheduler([lr_scheduler.CyclicLR(o, 0.01, 0.1), lr_scheduler.StepLR(o, 2)]),
            lr_scheduler.ExponentialLR(o, 0.9)], [3]),
        r"CyclicLR \(in SequentialLR._schedulers\[0\]._schedulers\[0\]\)"),
}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_fit_refuses_a_per_batch_scheduler_inside_a_composite_one(name):
    build, shown = COMPOSITES[name]
    model = mt.Sequential(mt.Linear(2, 1))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=rf"^fit: {shown} counts batches, but fit steps scheduler= once"):
        _fit(build(opt), opt, model)


def test_fit_refuses_torchs_chained_cyclic_lr_by_name_and_takes_per_epoch_composites():
    model = mt.Sequential(mt.Linear(2, 1))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    t_chain = T.ChainedScheduler([T.ExponentialLR(t_opt, 0.9), T.CyclicLR(t_opt, 0.01, 0.1)])
    with pytest.raises(ValueError, match=r"^fit: CyclicLR \(in ChainedScheduler._schedulers\[1\]\)"):
        _fit(t_chain, opt, model)
    chain = lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(opt, 0.5), lr_scheduler.StepLR(opt, 1)])
    _fit(chain, opt, model)
    assert chain.get_last_lr() == [0.1 * 0.5 * 0.1]


# --------------------------------------------------------------------------- last_epoch (resuming)
RESUMABLE = {
    "StepLR": lambda lib, o, k: lib.StepLR(o, 3, gamma=0.5, last_epoch=k),
    "MultiStepLR": lambda lib, o, k: lib.MultiStepLR(o, [2, 4, 4, 9], gamma=0.5, last_epoch=k),
    "ExponentialLR": lambda lib, o, k: lib.ExponentialLR(o, 0.9, last_epoch=k),
    "CosineAnnealingLR": lambda lib, o, k: lib.CosineAnnealingLR(o, 6, eta_min=0.001, last_epoch=k),
    "LinearLR": lambda lib, o, k: lib.LinearLR(o, 0.25, 0.9, total_iters=6, last_epoch=k),
    "ConstantLR": lambda lib, o, k: lib.ConstantLR(o, 0.5, total_iters=5, last_epoch=k),
    "PolynomialLR": lambda lib, o, k: lib.PolynomialLR(o, total_iters=8, power=2.0, last_epoch=k),
    "MultiplicativeLR": lambda lib, o, k: lib.MultiplicativeLR(o, lambda e: 0.9 + 0.01 * e, last_epoch=k),
    "LambdaLR": lambda lib, o, k: lib.LambdaLR(o, lambda e: 1 / (1 + e), last_epoch=k),
    "CosineAnnealingWarmRestarts": lambda lib, o, k: lib.CosineAnnealingWarmRestarts(o, 3, 2, 0.001,
                                                                                     last_epoch=k),
    "CyclicLR": lambda lib, o, k: lib.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2",
                                               last_epoch=k),
    "OneCycleLR": lambda lib, o, k: lib.OneCycleLR(o, [0.2, 0.1], total_steps=30, last_epoch=k),
    "SequentialLR": lambda lib, o, k: lib.SequentialLR(o, [lib.LinearLR(o, 0.5, total_iters=2),
                                                           lib.ExponentialLR(o, 0.9)], [3], last_epoch=k),
}


def _resumed_optimizers(name):
    """Both optimizers as a loaded state leaves them: an lr and an initial_lr in every group (a
    OneCycleLR's: max_lr / div_factor, and torch's also keeps its bounds in the groups)."""
    opt, t_opt = _optimizers()
    for o in (opt, t_opt):
        for group, lr, top in zip(o.param_groups, (0.07, 0.02), (0.2, 0.1), strict=True):
            group["lr"], group["initial_lr"] = lr, (top / 25.0 if name == "OneCycleLR" else lr * 2)
    if name == "OneCycleLR":
        for group, top in zip(t_opt.param_groups, (0.2, 0.1), strict=True):
            group.update(max_lr=top, min_lr=group["initial_lr"] / 1e4, max_momentum=0.95, base_momentum=0.85)
    return opt, t_opt


@pytest.mark.parametrize("k", [0, 1, 3, 7])
@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_a_scheduler_resumed_with_last_epoch_goes_on_as_torchs(name, k):
    """torch's last_epoch=k: the groups' initial_lr are the base_lrs, and the creation step goes from
    epoch k to k + 1 from the groups' current lrs; then 12 steps, lrs and momenta bitwise."""
    opt, t_opt = _resumed_optimizers(name)
    sched, t_sched = RESUMABLE[name](lr_scheduler, opt, k), RESUMABLE[name](T, t_opt, k)
    for step in range(13):
        if step:
            t_opt.step(), t_sched.step(), sched.step()
        assert sched.last_epoch == t_sched.last_epoch, step
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert _momenta(opt) == _momenta(t_opt), step


@pytest.mark.parametrize("name", sorted(set(RESUMABLE) - {"SequentialLR"}))  # (its schedulers start it)
def test_resuming_without_initial_lr_in_the_groups_is_torchs_key_error(name):
    opt, t_opt = _optimizers()
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        RESUMABLE[name](T, t_opt, 2)
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\] when "
                                       r"resuming with last_epoch=2"):
        RESUMABLE[name](lr_scheduler, opt, 2)


# --------------------------------------------------------------------------- step(epoch), deprecated
EPOCHS = [None, 5, None, 2, 9, None, 0, 3, None, None]


def _epoch_warnings(step):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step()
    return [str(w.message) for w in caught if "epoch parameter" in str(w.message)]


@pytest.mark.parametrize("name", sorted(set(RESUMABLE) - {"SequentialLR"}))
def test_step_with_an_epoch_gives_torchs_closed_form_or_get_lr_and_its_warning(name):
    """torch's deprecated step(epoch): last_epoch = epoch, the closed form where the schedule has one
    (else get_lr), and its UserWarning; plain steps between go on from there, bitwise."""
    opt, t_opt = _optimizers()
    sched, t_sched = RESUMABLE[name](lr_scheduler, opt, -1), RESUMABLE[name](T, t_opt, -1)
    for i, epoch in enumerate(EPOCHS):
        t_opt.step()
        theirs = _epoch_warnings(lambda: t_sched.step(epoch))  # noqa: B023
        ours = _epoch_warnings(lambda: sched.step(epoch))  # noqa: B023
        assert ours == theirs and len(ours) == (epoch is not None and name != "CosineAnnealingWarmRestarts")
        assert sched.last_epoch == t_sched.last_epoch, i
        assert sched.get_last_lr() == t_sched.get_last_lr(), i
        assert _momenta(opt) == _momenta(t_opt), i


def test_reduce_lr_on_plateau_step_with_an_epoch_sets_last_epoch_as_torch():
    opt, t_opt = _optimizers()
    sched, t_sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1), T.ReduceLROnPlateau(t_opt, patience=1)
    for i, (metric, epoch) in enumerate([(1.0, None), (2.0, 7), (2.0, None), (3.0, 4), (3.0, None)]):
        theirs = _epoch_warnings(lambda: t_sched.step(metric, epoch))  # noqa: B023
        ours = _epoch_warnings(lambda: sched.step(metric, epoch))  # noqa: B023
        assert ours == theirs and len(ours) == (epoch is not None)
        assert sched.last_epoch == t_sched.last_epoch, i
        assert sched.get_last_lr() == t_sched.get_last_lr(), i


def test_composite_schedulers_take_no_epoch_as_torchs():
    opt, t_opt = _optimizers()
    for lib, o in ((T, t_opt), (lr_scheduler, opt)):
        chain = lib.ChainedScheduler([lib.ExponentialLR(o, 0.9)])
        sequence = lib.SequentialLR(o, [lib.ExponentialLR(o, 0.9), lib.StepLR(o, 2)], [2])
        for sched in (chain, sequence):
            with pytest.raises(TypeError):
                sched.step(3)


# --------------------------------------------------------------------------- nested SequentialLR
NESTED = {
    "seq[seq[Exp]]": lambda lib, o: lib.SequentialLR(
        o, [lib.SequentialLR(o, [lib.ExponentialLR(o, 0.5)], [])], []),
    "seq[seq[Exp], Step]": lambda lib, o: lib.SequentialLR(
        o, [lib.SequentialLR(o, [lib.ExponentialLR(o, 0.5)], []), lib.StepLR(o, 2)], [3]),
    "seq[chain[seq[Exp], Lin]]": lambda lib, o: lib.SequentialLR(o, [lib.ChainedScheduler(
        [lib.SequentialLR(o, [lib.ExponentialLR(o, 0.5)], []), lib.LinearLR(o, 0.5, total_iters=3)])], []),
    "seq[seq[Step], Exp]": lambda lib, o: lib.SequentialLR(
        o, [lib.SequentialLR(o, [lib.StepLR(o, 2, 0.5)], []), lib.ExponentialLR(o, 0.9)], [5]),
    "seq[chain[seq[Mult]]]": lambda lib, o: lib.SequentialLR(o, [lib.ChainedScheduler(
        [lib.SequentialLR(o, [lib.MultiplicativeLR(o, lambda e: 0.9 + 0.01 * e)], [])])], []),
    "chain[seq[Exp, Step]]": lambda lib, o: lib.ChainedScheduler(
        [lib.SequentialLR(o, [lib.ExponentialLR(o, 0.5), lib.StepLR(o, 2)], [2]), lib.ExponentialLR(o, 0.9)]),
}


@pytest.mark.parametrize("name", sorted(NESTED))
def test_a_sequence_nested_as_torch_can_run_it_gives_torchs_lrs(name):
    _run_both(NESTED[name], 9)


REFUSED_NESTING = {  # torch: lrs an epoch ahead of the flat sequence, or NotImplementedError at the milestone
    "seq[seq[Const, Poly]]": lambda lib, o: lib.SequentialLR(o, [lib.SequentialLR(
        o, [lib.ConstantLR(o, 0.5, total_iters=3), lib.PolynomialLR(o, total_iters=4)], [2])], []),
    "seq[chain[seq[Const, Exp]]]": lambda lib, o: lib.SequentialLR(o, [lib.ChainedScheduler([lib.SequentialLR(
        o, [lib.ConstantLR(o, 0.5, total_iters=3), lib.ExponentialLR(o, 0.9)], [2])])], []),
    "seq[Exp, seq[Step]]": lambda lib, o: lib.SequentialLR(
        o, [lib.ExponentialLR(o, 0.5), lib.SequentialLR(o, [lib.StepLR(o, 2)], [])], [3]),
}


def test_torchs_nested_sequence_runs_an_epoch_ahead_of_the_flat_one():
    """The reason for the refusals below: torch's recursive undo skips the inner SequentialLR's own
    counter, so its lrs are not the flat sequence's (0.05 at creation, then 0.1: one epoch early)."""
    _, t_opt = _optimizers()
    sched = REFUSED_NESTING["seq[seq[Const, Poly]]"](T, t_opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(3):
        t_opt.step(), sched.step()
        lrs.append(sched.get_last_lr()[0])
    _, t_flat = _optimizers()
    flat = T.SequentialLR(t_flat, [T.ConstantLR(t_flat, 0.5, total_iters=3),
                                   T.PolynomialLR(t_flat, total_iters=4)], [2])
    flat_lrs = [flat.get_last_lr()[0]]
    for _ in range(3):
        t_flat.step(), flat.step()
        flat_lrs.append(flat.get_last_lr()[0])
    assert lrs == pytest.approx([0.05, 0.1, 0.075, 0.05])
    assert flat_lrs == pytest.approx([0.05, 0.05, 0.1, 0.075])


@pytest.mark.parametrize("name", sorted(REFUSED_NESTING))
def test_a_nested_sequence_torch_runs_ahead_or_cannot_restart_is_refused_by_name(name):
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[\d\] is or chains a SequentialLR of "
                                         r"several schedulers or comes after a milestone"):
        REFUSED_NESTING[name](lr_scheduler, opt)
