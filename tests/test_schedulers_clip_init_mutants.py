"""Scheduler, clipping and init promises that mutation testing found unpinned, one test per hole
(helper mutants10).

Each test names the mutants it kills (file:line of the mutated statement and the change).
clip.py: the flag checks of every public function (error_if_nonfinite and foreach kept as torch's
types, not anything truthy), the refusal of bools as norm_type, max_norm or clip_value, "INF" read
as inf in any case (lines 39, 73, 74, 112, 121, 129, 131).
lr_schedulers_core.py: ReduceLROnPlateau's eps (a reduction of exactly eps skipped), mode "max" with
an equal metric, min_lr for groups added later, a file's min_lrs for another number of groups; an
lr_lambda returning a float32 (lines 118, 149, 387, 390, 399).
lr_schedulers_more.py: CosineAnnealingWarmRestarts.step(epoch) with T_mult = 1 and as SequentialLR's
first scheduler; SequentialLR's same-optimizer check, a milestone at epoch 0, its load_state_dict's
counts of milestones and states; OneCycleLR's per-group tuples (lines 99, 119, 233, 263, 276, 303, 311).
The init/ mutants all died on the existing tests.
Helper mutants12 ran the scheduler mutants left unrun (formula lines first); its tests, at the end of
the file, pin ReduceLROnPlateau's mode "min" with threshold_mode "abs" and its default eps, a negative
epoch refused by CosineAnnealingWarmRestarts.step, an lr_lambda's inf/nan kept, the schedulers' repr,
OneCycleLR's type and per-group length checks and its state_dict (which showed a bug, fixed: a loaded
state kept the constructor's phases), and SequentialLR's checks (no schedulers, a group added before
a milestone, a state's keys).
Helper mutants14 ran the rest (scheduler formulas, clip/init); its tests pin
CosineAnnealingWarmRestarts.step(epoch) before the first step and many cycles on, OneCycleLR at a
phase's last step, SequentialLR with one scheduler, with four, and restarting a MultiStepLR, and
trunc_normal_ refusing finite bounds whose width overflows, xavier_uniform_ taking a gain below 1.
Helper mutants16 took the six init/ survivors left: its tests pin the fans of a Parameter added to a
Linear (and of a W replaced in one, which showed a bug, fixed: the layer was read as holding it
still), float32 fills drawn in float32, xavier_*_ on an array without fans and xavier_normal_ refusing
a negative gain, and trunc_normal_'s cap of 2**22 proposals a round. truncated.py:58 (``<=`` made
``<`` in the acceptance test) is equivalent: log(u) <= the log density ratio and < differ only when
the two are equal to the last bit, at most one u of the 2**53 a proposal can draw.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def _grads(*shapes, seed=0, dtype=np.float64):
    """Parameters with standard-normal gradients, and torch tensors with the same gradients."""
    rng = np.random.default_rng(seed)
    params, tensors = [], []
    for shape in shapes:
        g = rng.standard_normal(shape).astype(dtype)
        p = mt.Parameter(np.zeros(shape, dtype))
        p.grad = g.copy()
        t = torch.zeros(shape, dtype=torch.from_numpy(g).dtype)
        t.grad = torch.from_numpy(g.copy())
        params.append(p)
        tensors.append(t)
    return params, tensors


# ------------------------------------------------------------------------------ clip.py
@pytest.mark.parametrize("call", [
    lambda ps, v: mt.clip_grad_norm_(ps, 1.0, error_if_nonfinite=v),
    lambda ps, v: mt.get_total_norm([p.grad for p in ps], error_if_nonfinite=v),
], ids=["clip_grad_norm_", "get_total_norm"])
@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_error_if_nonfinite_must_be_a_bool(call, flag):
    """Kills clip.py:39 and clip.py:73 (check_bool(error_if_nonfinite) deleted): a flag of another
    type was taken for its truth value, and the gradients clipped."""
    params, _ = _grads((3, 2), (4,))
    before = [p.grad.copy() for p in params]
    with pytest.raises(ValueError, match="error_if_nonfinite must be True or False"):
        call(params, flag)
    assert all(np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True))


@pytest.mark.parametrize("call", [
    lambda ps, v: mt.clip_grad_norm_(ps, 1.0, foreach=v),
    lambda ps, v: mt.get_total_norm([p.grad for p in ps], foreach=v),
    lambda ps, v: mt.clip_grads_with_norm_(ps, 1.0, 10.0, foreach=v),
    lambda ps, v: mt.clip_grad_value_(ps, 0.1, foreach=v),
], ids=["clip_grad_norm_", "get_total_norm", "clip_grads_with_norm_", "clip_grad_value_"])
@pytest.mark.parametrize("flag", ["yes", 1, 0.0])
def test_foreach_must_be_none_or_a_bool_in_every_function(call, flag):
    """Kills clip.py:74 and clip.py:112 (_check_foreach deleted from get_total_norm, clip_grad_value_):
    torch's foreach is None, True or False; anything else is refused before a gradient changes."""
    params, _ = _grads((3, 2), (4,))
    before = [p.grad.copy() for p in params]
    with pytest.raises(TypeError, match="expected foreach None, True or False"):
        call(params, flag)
    assert all(np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True))


@pytest.mark.parametrize("order", [True, False, np.bool_(True)], ids=str)
def test_a_bool_norm_order_is_refused(order):
    """Kills clip.py:121 (_order's bool check dropped): True would be read as the order 1 and
    False as the order 0 (the count of nonzero gradients), silently."""
    params, _ = _grads((3,))
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a number"):
        mt.clip_grad_norm_(params, 1.0, order)
    with pytest.raises(ValueError, match="get_total_norm: norm_type must be a number"):
        mt.get_total_norm([p.grad for p in params], order)


@pytest.mark.parametrize("call", [
    lambda ps, v: mt.clip_grad_norm_(ps, v),
    lambda ps, v: mt.clip_grads_with_norm_(ps, v, 10.0),
    lambda ps, v: mt.clip_grad_value_(ps, v),
], ids=["clip_grad_norm_", "clip_grads_with_norm_", "clip_grad_value_"])
@pytest.mark.parametrize("bound", [True, np.bool_(False)], ids=str)
def test_a_bool_max_norm_or_clip_value_is_refused(call, bound):
    """Kills clip.py:131 (_max_norm's bool check dropped): True would clip to 1, False zero every
    gradient."""
    params, _ = _grads((3,), (2, 2))
    before = [p.grad.copy() for p in params]
    with pytest.raises(ValueError, match=r"must be a number in \[0, inf\]"):
        call(params, bound)
    assert all(np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True))



@pytest.mark.parametrize("spelling", ["INF", "Inf", "inf"])
def test_an_infinite_bound_is_read_in_any_case_as_torchs_float(spelling):
    """Kills clip.py:129 (_max_norm's "inf" read in lower case only): torch takes float(max_norm), so
    "INF" is inf there; clipping by inf measures and changes nothing, in every function."""
    params, tensors = _grads((3,), (2, 2))
    before = [p.grad.copy() for p in params]
    total = mt.clip_grad_norm_(params, spelling)
    assert total == torch.nn.utils.clip_grad_norm_(tensors, spelling).item()
    mt.clip_grads_with_norm_(params, spelling, total)
    mt.clip_grad_value_(params, spelling)
    assert all(np.array_equal(p.grad, g) for p, g in zip(params, before, strict=True))

# ------------------------------------------------------------------------------ lr_schedulers_core.py
def _sgd(lrs=(1.0,)):
    """A MiniTorch SGD and a torch SGD with one param group per lr."""
    return (mt.SGD([{"params": [mt.Parameter(np.zeros(2))], "lr": lr} for lr in lrs]),
            torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]))


def test_plateau_skips_a_reduction_of_exactly_eps_as_torch():
    """Kills lr_schedulers_core.py:390 (old_lr - new_lr > eps made >=): torch reduces only when the
    lr changes by more than eps. lr 1 -> 0.5 (a change of 0.5 > 0.25), then 0.5 -> 0.25 would change
    it by exactly eps = 0.25: skipped, for ever after."""
    opt, t_opt = _sgd()
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=0.25)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, factor=0.5, patience=0, eps=0.25)
    for metric in [3.0, 4.0, 5.0, 6.0, 7.0]:
        sched.step(metric)
        t_sched.step(metric)
        assert opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"]
        assert sched.get_last_lr() == t_sched.get_last_lr()
    assert opt.param_groups[0]["lr"] == 0.5


def test_plateau_load_state_dict_refuses_min_lrs_for_another_number_of_groups():
    """Kills lr_schedulers_core.py:118 ("min_lrs" left out of load_state_dict's length check): a
    file with one min_lr for two param groups loaded, and the next reduction failed in zip(strict)."""
    opt, _ = _sgd((1.0, 0.5))
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    state = sched.state_dict()
    for bad in ([0.0], [0.0, 0.0, 0.0]):
        forged = {**state, "min_lrs": bad}
        with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: expected min_lrs for 2 "
                                             rf"parameter groups, got {len(bad)}"):
            sched.load_state_dict(forged)
    assert sched.state_dict() == state


def test_an_lr_lambda_giving_a_float32_is_refused_as_torch_would_step_in_float32():
    """Kills lr_schedulers_core.py:149 (set_lr's check of NumPy floats dropped): base_lr * np.float32
    is a float32 (NumPy 2's rule), which torch keeps as the group's lr (its steps then partly in
    float32); MiniTorch refuses it, at the step that would write it, naming the fix."""
    opt, t_opt = _sgd()
    t_sched = torch.optim.lr_scheduler.LambdaLR(t_opt, lambda e: np.float32(0.5))
    assert isinstance(t_opt.param_groups[0]["lr"], np.float32)   # what torch keeps
    with pytest.raises(ValueError, match=r"LambdaLR.step: lr given as float32 .*pass float\(lr\)"):
        mt.lr_scheduler.LambdaLR(opt, lambda e: np.float32(0.5))
    sched = mt.lr_scheduler.LambdaLR(opt, lambda e: np.float32(0.5) if e else 1.0)
    with pytest.raises(ValueError, match=r"LambdaLR.step: lr given as float32"):
        sched.step()
    assert t_sched.get_last_lr() == [0.5]
    assert opt.param_groups[0]["lr"] == 1.0


@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_plateau_in_mode_max_counts_an_equal_metric_as_no_improvement(threshold_mode):
    """Kills lr_schedulers_core.py:399 (mode "max": current > best made >=): with threshold 0 a
    metric equal to the best is a bad epoch in torch, so a flat metric reduces the lr."""
    opt, t_opt = _sgd()
    kwargs = {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.0, "threshold_mode": threshold_mode}
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    for metric in [2.0] * 7:
        sched.step(metric)
        t_sched.step(metric)
        assert opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"]
        assert sched.num_bad_epochs == t_sched.num_bad_epochs
    assert opt.param_groups[0]["lr"] == 0.125


def test_plateau_gives_min_lr_to_every_group_added_since_creation_as_torch():
    """Kills lr_schedulers_core.py:387 (the min_lrs of groups added later extended by one entry, not
    made one per group): with two groups added, each takes the number min_lr, as torch's."""
    opt, t_opt = _sgd((1.0,))
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0, min_lr=0.2)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, factor=0.1, patience=0, min_lr=0.2)
    for lr in (0.5, 3.0):
        opt.add_param_group({"params": [mt.Parameter(np.zeros(2))], "lr": lr})
        t_opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": lr})
    for metric in [1.0, 2.0, 3.0]:
        sched.step(metric)
        t_sched.step(metric)
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
    assert sched.min_lrs == t_sched.min_lrs == [0.2, 0.2, 0.2]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.2, 0.2, 0.2])


# ------------------------------------------------------------------------------ lr_schedulers_more.py
@pytest.mark.parametrize("T_0", [1, 3])
def test_warm_restarts_at_a_given_epoch_with_T_mult_1_as_torch(T_0):
    """Kills lr_schedulers_more.py:119 (T_mult = 1: step(epoch)'s T_cur = epoch % T_0 replaced by a
    single restart): past the second cycle the position within the cycle is torch's."""
    opt, t_opt = _sgd((0.1, 0.03))
    sched = mt.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T_0, eta_min=1e-3)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=T_0, eta_min=1e-3)
    for epoch in [*np.arange(0, 4 * T_0 + 1, 0.5), 2.0, 10 * T_0 + 0.25]:
        t_opt.step()
        sched.step(float(epoch))
        t_sched.step(float(epoch))
        assert sched.get_last_lr() == t_sched.get_last_lr(), epoch
        assert (sched.T_cur, sched.T_i, sched.last_epoch) == (t_sched.T_cur, t_sched.T_i, t_sched.last_epoch)


def test_sequential_load_state_dict_refuses_another_number_of_milestones():
    """Kills lr_schedulers_more.py:311 (the milestones' count left out of SequentialLR.load_state_dict's
    check): two milestones for two schedulers loaded, and the next step's bisect ran past the list."""
    opt, _ = _sgd((0.1,))
    warm = mt.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    decay = mt.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    sched = mt.lr_scheduler.SequentialLR(opt, schedulers=[warm, decay], milestones=[3])
    sched.step()
    good = sched.state_dict()
    for milestones in ([], [3, 5]):
        with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: expected .* 1 milestones, got "
                                             rf"1, 1 and {len(milestones)}"):
            sched.load_state_dict({**good, "_milestones": milestones})
        assert sched.state_dict() == good


def test_sequential_starting_with_warm_restarts_is_torchs():
    """Kills lr_schedulers_more.py:99 (CosineAnnealingWarmRestarts' first step, last_epoch < 0, not
    put at epoch 0): SequentialLR undoes its schedulers' first step (last_epoch back to -1, T_cur
    left at 0) and steps the first again, which must land at T_cur = 0, not 1."""
    opt, t_opt = _sgd((0.1, 0.03))
    lib_builds = []
    for lib, o in ((mt.lr_scheduler, opt), (torch.optim.lr_scheduler, t_opt)):
        first = lib.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3)
        then = lib.ExponentialLR(o, gamma=0.9)
        lib_builds.append(lib.SequentialLR(o, schedulers=[first, then], milestones=[7]))
    sched, t_sched = lib_builds
    assert sched.get_last_lr() == t_sched.get_last_lr()
    for step in range(12):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step


def test_sequential_refuses_a_scheduler_of_another_optimizer_as_torch():
    """Kills lr_schedulers_more.py:263 (the same-optimizer check reduced to the type check): a
    scheduler of another optimizer would set that optimizer's lrs, not this one's."""
    opt, t_opt = _sgd((0.1,))
    other, t_other = _sgd((0.1,))
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.SequentialLR(
            t_opt, [torch.optim.lr_scheduler.StepLR(t_opt, 2), torch.optim.lr_scheduler.StepLR(t_other, 2)],
            milestones=[2])
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] must be a scheduler of the same "
                                         "optimizer, got StepLR"):
        mt.lr_scheduler.SequentialLR(opt, [mt.lr_scheduler.StepLR(opt, 2), mt.lr_scheduler.StepLR(other, 2)],
                                     milestones=[2])


def test_one_cycle_takes_a_tuple_per_group_as_torch():
    """Kills lr_schedulers_more.py:233 (_per_group reading only a list as one value per group): torch
    takes max_lr, base_momentum and max_momentum as a list or a tuple."""
    opt, t_opt = _sgd((0.1, 0.03))
    kwargs = {"max_lr": (0.5, 0.2), "base_momentum": (0.8, 0.7), "max_momentum": (0.9, 0.95),
              "total_steps": 9}
    sched = mt.lr_scheduler.OneCycleLR(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, **kwargs)
    for step in range(10):
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["momentum"] for g in opt.param_groups] == [g["momentum"] for g in t_opt.param_groups]
        if step < 9:
            t_opt.step()
            sched.step()
            t_sched.step()


def _sequential_pair(schedulers, milestones):
    """SequentialLR of ``schedulers(lib, opt)`` in both libraries, on two param groups."""
    opt, t_opt = _sgd((1.0, 0.3))
    sched = mt.lr_scheduler.SequentialLR(opt, schedulers(mt.lr_scheduler, opt), milestones)
    t_lib = torch.optim.lr_scheduler
    t_sched = t_lib.SequentialLR(t_opt, schedulers(t_lib, t_opt), milestones)
    return opt, t_opt, sched, t_sched


def test_sequential_with_a_milestone_at_0_starts_with_the_second_scheduler_as_torch():
    """Kills lr_schedulers_more.py:276 (the first step given to schedulers[0] whatever the
    milestones): a milestone at epoch 0 puts schedulers[1] in charge from the start, as in torch."""
    opt, t_opt, sched, t_sched = _sequential_pair(lambda lib, o: [
        lib.LinearLR(o, start_factor=0.5, total_iters=3), lib.ExponentialLR(o, gamma=0.9),
        lib.StepLR(o, 2, 0.5)], [0, 4])
    for step in range(8):
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step
        t_opt.step()
        sched.step()
        t_sched.step()
    assert sched.get_last_lr() == [0.25, 0.075]   # StepLR since epoch 4, halved at 6 and 8


def test_sequential_load_state_dict_names_a_wrong_number_of_scheduler_states():
    """Kills lr_schedulers_more.py:303 (the count of the schedulers' states unchecked): zip's own
    error came instead of one naming SequentialLR and the counts; nothing changes either way."""
    *_, sched, _ = _sequential_pair(lambda lib, o: [
        lib.LinearLR(o, start_factor=0.5, total_iters=3), lib.ExponentialLR(o, gamma=0.9)], [3])
    sched.step()
    good = sched.state_dict()
    for states in (good["_schedulers"][:1], [*good["_schedulers"], good["_schedulers"][0]]):
        with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: expected 2 schedulers' states, "
                                             rf"got {len(states)}"):
            sched.load_state_dict({**good, "_schedulers": states})
        assert sched.state_dict() == good


# ------------------------------------------------------------------------------ mutants12
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_plateau_in_mode_min_reads_its_threshold_mode_as_torch(threshold_mode):
    """Kills lr_schedulers_core.py:398 (mode "min": the relative bound best * (1 - threshold) used in
    "abs" mode too; helper mutants12). With best 10 and threshold 0.1 a metric of 9.5 improves on
    best - 0.1 = 9.9 but not on best * 0.9 = 9.0, so the two modes count different bad epochs."""
    opt, t_opt = _sgd()
    kwargs = {"factor": 0.5, "patience": 1, "threshold": 0.1, "threshold_mode": threshold_mode}
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    for metric in [10.0, 9.5, 9.3, 9.1, 8.95, 8.9, 8.0]:
        sched.step(metric)
        t_sched.step(metric)
        assert opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"], metric
        assert (sched.best, sched.num_bad_epochs) == (t_sched.best, t_sched.num_bad_epochs), metric
    assert opt.param_groups[0]["lr"] == {"rel": 0.5, "abs": 1.0}[threshold_mode]


@pytest.mark.parametrize("epoch", [-1, -0.5])
def test_warm_restarts_refuses_a_negative_epoch_as_torch(epoch):
    """Kills lr_schedulers_more.py:107 (step(epoch)'s check of epoch dropped; helper mutants12): torch
    refuses a negative epoch with a ValueError; unchecked, T_cur became negative and the lr rose
    above base_lr's cosine. Nothing changes on the refusal."""
    opt, t_opt = _sgd((0.1,))
    sched = mt.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=3)
    with pytest.raises(ValueError, match="non-negative epoch"):
        t_sched.step(epoch)
    before = sched.state_dict()
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts.step: epoch must be a number in "
                                         r"\[0, inf\), got -"):
        sched.step(epoch)
    assert sched.state_dict() == before
    assert opt.param_groups[0]["lr"] == 0.1


def test_plateau_default_eps_is_torchs():
    """Kills lr_schedulers_core.py:346 (eps's default 1e-8 made 2e-8; helper mutants12): from lr 3e-8
    a halving changes the lr by 1.5e-8, more than torch's default eps, so torch reduces it."""
    opt, t_opt = _sgd((3e-8,))
    sched = mt.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, factor=0.5, patience=0)
    assert sched.eps == t_sched.eps == 1e-8
    for metric in [1.0, 2.0, 3.0]:
        sched.step(metric)
        t_sched.step(metric)
        assert opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"], metric
    assert opt.param_groups[0]["lr"] == 1.5e-8   # then a change of 7.5e-9 <= eps: skipped


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_an_lr_lambda_giving_a_nonfinite_float_is_kept_as_torch(value):
    """Kills lr_schedulers_core.py:149 (set_lr checking every lr, not only NumPy floats other than
    float64; helper mutants12): torch writes an lr_lambda's inf or nan into the group as it comes."""
    opt, t_opt = _sgd()
    sched = mt.lr_scheduler.LambdaLR(opt, lambda e: value if e else 1.0)
    t_sched = torch.optim.lr_scheduler.LambdaLR(t_opt, lambda e: value if e else 1.0)
    t_opt.step()
    sched.step()
    t_sched.step()
    np.testing.assert_array_equal(sched.get_last_lr(), t_sched.get_last_lr())
    np.testing.assert_array_equal(opt.param_groups[0]["lr"], value)


def test_scheduler_repr_names_its_settings_and_epoch():
    """Kills lr_schedulers_core.py:125 (__repr__'s settings line deleted: repr raised NameError;
    helper mutants12). torch keeps object's repr; MiniTorch's names the settings and last_epoch."""
    opt, _ = _sgd((0.1,))
    sched = mt.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    assert repr(sched) == "StepLR(step_size=3, gamma=0.5, last_epoch=0)"
    sched.step()
    assert repr(sched) == "StepLR(step_size=3, gamma=0.5, last_epoch=1)"
    cosine = mt.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    assert repr(cosine) == "CosineAnnealingLR(T_max=4, eta_min=0.0, last_epoch=0)"


def test_sequential_refuses_a_group_added_before_a_milestone_as_torch():
    """Kills lr_schedulers_more.py:346 (_restart's zip of groups and lrs made non-strict; helper
    mutants12): the next scheduler restarts from the base_lrs of the groups it was created with, so
    a group added since has no lr of its own; torch raises a ValueError there, and so does MiniTorch
    (not a schedule that silently leaves the new group's lr alone)."""
    opt, t_opt, sched, t_sched = _sequential_pair(lambda lib, o: [
        lib.StepLR(o, 1, 0.5), lib.StepLR(o, 1, 0.1)], [2])
    t_opt.step()
    sched.step()
    t_sched.step()
    opt.add_param_group({"params": [mt.Parameter(np.zeros(2))], "lr": 3.0})
    t_opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": 3.0})
    t_opt.step()
    with pytest.raises(ValueError):
        t_sched.step()
    with pytest.raises(ValueError):
        sched.step()


def test_one_cycle_state_dict_resumes_the_saved_schedule_as_torch():
    """Kills lr_schedulers_more.py:146 (OneCycleLR's _settings deleted: its state_dict kept only the
    epoch and the lrs; helper mutants12), and pins a bug that survivor showed: the phases were built
    once from the constructor's total_steps and pct_start and never saved, so a state loaded into a
    OneCycleLR built with other settings went on with the wrong schedule. Now the state carries
    total_steps, pct_start, anneal_strategy, cycle_momentum, three_phase and the lr/momentum bounds,
    and the resumed schedule is torch's uninterrupted one (torch saves its phases too)."""
    kwargs = {"max_lr": 0.5, "total_steps": 10, "pct_start": 0.4, "final_div_factor": 100.0}
    opt, t_opt = _sgd((1.0,))
    for o in (opt, t_opt):
        o.param_groups[0]["momentum"] = 0.9
    sched = mt.lr_scheduler.OneCycleLR(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, **kwargs)
    for _ in range(4):
        t_opt.step()
        sched.step()
        t_sched.step()
    other, _ = _sgd((1.0,))
    other.param_groups[0]["momentum"] = 0.9
    resumed = mt.lr_scheduler.OneCycleLR(other, max_lr=0.5, total_steps=20, pct_start=0.2,
                                         anneal_strategy="linear", three_phase=True, final_div_factor=1e4)
    resumed.load_state_dict(sched.state_dict())
    assert resumed.state_dict() == sched.state_dict()
    for step in range(6):
        t_opt.step()
        resumed.step()
        t_sched.step()
        assert resumed.get_last_lr() == t_sched.get_last_lr(), step
        assert other.param_groups[0]["momentum"] == t_opt.param_groups[0]["momentum"], step


def test_one_cycle_refuses_a_state_cycling_momentum_on_an_optimizer_without_it():
    """A saved state with cycle_momentum on, loaded into a OneCycleLR of an optimizer without momentum
    or betas (Adagrad), is refused naming the cause, as the constructor refuses it; nothing changes
    (helper mutants12; the settings are in OneCycleLR's state_dict since then)."""
    opt, _ = _sgd((1.0,))
    opt.param_groups[0]["momentum"] = 0.9
    saved = mt.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10).state_dict()
    adagrad = mt.Adagrad([mt.Parameter(np.zeros(2))], lr=1.0)
    sched = mt.lr_scheduler.OneCycleLR(adagrad, max_lr=0.5, total_steps=10, cycle_momentum=False)
    before = sched.state_dict()
    with pytest.raises(ValueError, match=r"OneCycleLR.load_state_dict: cycle_momentum needs an optimizer "
                                         r"with momentum or betas .*got Adagrad"):
        sched.load_state_dict(saved)
    assert sched.state_dict() == before
    with pytest.raises(ValueError, match="pct_start"):
        sched.load_state_dict({**before, "pct_start": 1.5})
    assert sched.state_dict() == before


def test_one_cycle_refuses_what_is_not_an_optimizer_as_torch():
    """Kills lr_schedulers_more.py:157 (OneCycleLR's optimizer type check dropped; helper mutants12):
    torch raises a TypeError; unchecked, an AttributeError came from deep inside."""
    with pytest.raises(TypeError, match="is not an Optimizer"):
        torch.optim.lr_scheduler.OneCycleLR("sgd", max_lr=0.5, total_steps=10)
    with pytest.raises(TypeError, match="OneCycleLR: expected an Optimizer, got str"):
        mt.lr_scheduler.OneCycleLR("sgd", max_lr=0.5, total_steps=10)


@pytest.mark.parametrize("name", ["max_lr", "base_momentum", "max_momentum"])
def test_one_cycle_refuses_a_list_of_another_length_than_the_groups_as_torch(name):
    """Kills lr_schedulers_more.py:234 (_per_group's length check dropped; helper mutants12): torch
    refuses a list per group of the wrong length; unchecked, base_momentum's extra values were kept
    silently and max_lr's failed in a zip() without naming OneCycleLR."""
    opt, t_opt = _sgd((1.0, 0.5))
    for o in (opt, t_opt):
        for group in o.param_groups:
            group["momentum"] = 0.9
    kwargs = {"max_lr": 0.5, "total_steps": 10, name: [0.8, 0.7, 0.6]}
    with pytest.raises(ValueError, match=f"{name} must have the same length as optimizer.param_groups"):
        torch.optim.lr_scheduler.OneCycleLR(t_opt, **kwargs)
    with pytest.raises(ValueError, match=rf"OneCycleLR: expected {name} a number or 2 numbers \(one per "):
        mt.lr_scheduler.OneCycleLR(opt, **kwargs)


def test_sequential_refuses_no_schedulers_as_torch():
    """Kills lr_schedulers_more.py:257 (the check for an empty list of schedulers dropped; helper
    mutants12): the error then asked for -1 milestones; torch names the missing scheduler."""
    opt, t_opt = _sgd((0.1,))
    with pytest.raises(ValueError, match="at least one scheduler"):
        torch.optim.lr_scheduler.SequentialLR(t_opt, [], [])
    with pytest.raises(ValueError, match="SequentialLR: expected at least one scheduler, got none"):
        mt.lr_scheduler.SequentialLR(opt, [], [])


def test_sequential_load_state_dict_refuses_other_keys():
    """Kills lr_schedulers_more.py:300 (the check of the state's keys dropped; helper mutants12): a
    state without _milestones failed with a KeyError, one with a misspelt extra key loaded silently.
    torch updates its __dict__ with whatever comes; MiniTorch names the keys it expects."""
    *_, sched, _ = _sequential_pair(lambda lib, o: [
        lib.LinearLR(o, start_factor=0.5, total_iters=3), lib.ExponentialLR(o, gamma=0.9)], [3])
    sched.step()
    good = sched.state_dict()
    missing = {k: v for k, v in good.items() if k != "_milestones"}
    for bad in (missing, {**good, "milestones": [3]}, [good]):
        with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: expected keys \['_last_lr', "):
            sched.load_state_dict(bad)
        assert sched.state_dict() == good


def test_warm_restarts_steps_on_from_a_fractional_epoch_as_torch():
    """Kills lr_schedulers_more.py:105 (the restart's T_cur % T_i swapped to T_i % T_cur; helper
    mutants12): after step(2.5) with T_0 = 3, step() passes the restart at T_cur = 3.5, which must
    leave T_cur = 0.5 as torch's, not 3."""
    opt, t_opt = _sgd((0.1, 0.03))
    sched = mt.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, eta_min=1e-3)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=3, eta_min=1e-3)
    t_opt.step()
    sched.step(2.5)
    t_sched.step(2.5)
    for step in range(5):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert (sched.T_cur, sched.T_i) == (t_sched.T_cur, t_sched.T_i), step


def test_warm_restarts_just_before_T_0_stays_in_the_first_cycle_as_torch():
    """Kills lr_schedulers_more.py:116 (_position's epoch < T_0 shortcut made False; helper
    mutants12): with T_mult = 2 the cycle count log2(epoch / T_0 + 1) of an epoch one ulp below T_0
    rounds to 1, which put T_cur at -4e-16 in a cycle of 6; torch keeps the first cycle."""
    opt, t_opt = _sgd((0.1,))
    sched = mt.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=3, T_mult=2)
    epoch = float(np.nextafter(3.0, 0.0))
    t_opt.step()
    sched.step(epoch)
    t_sched.step(epoch)
    assert (sched.T_cur, sched.T_i) == (t_sched.T_cur, t_sched.T_i) == (epoch, 3)
    assert sched.get_last_lr() == t_sched.get_last_lr()


def test_warm_restarts_not_started_jumps_to_the_given_epoch_as_torch():
    """Kills lr_schedulers_more.py:99 (``epoch is None and`` dropped from the first-step test; helper
    mutants14): step(epoch) on a scheduler that has not started (last_epoch -1: SequentialLR's later
    schedulers, or a state saved so) goes to that epoch as torch's, not to epoch 0."""
    opt, t_opt = _sgd((0.1, 0.03))
    pairs = []
    for lib, o in ((mt.lr_scheduler, opt), (torch.optim.lr_scheduler, t_opt)):
        warm = lib.LinearLR(o, start_factor=0.5, total_iters=3)
        pairs.append(lib.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3))
        lib.SequentialLR(o, schedulers=[warm, pairs[-1]], milestones=[3])
    sched, t_sched = pairs
    assert sched.last_epoch == t_sched.last_epoch == -1
    sched.step(4.5)
    t_sched.step(4.5)
    where = (sched.T_cur, sched.T_i, sched.last_epoch)
    assert where == (t_sched.T_cur, t_sched.T_i, t_sched.last_epoch) == (1.5, 6, 4)
    assert sched.get_last_lr() == t_sched.get_last_lr()
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
    for lib_sched in (sched, t_sched):   # a state saved before the first step, loaded: the same
        saved = lib_sched.state_dict()
        lib_sched.load_state_dict({**saved, "last_epoch": -1})
        lib_sched.step(5)
    where = (sched.T_cur, sched.T_i, sched.last_epoch)
    assert where == (t_sched.T_cur, t_sched.T_i, t_sched.last_epoch) == (2, 6, 5)
    assert sched.get_last_lr() == t_sched.get_last_lr()


@pytest.mark.parametrize("T_mult", [2, 3])
def test_warm_restarts_at_a_given_epoch_many_cycles_on_as_torch(T_mult):
    """Kills lr_schedulers_more.py:121 (_position's T_mult**n made T_mult*n, in T_cur or T_i; helper
    mutants14): the two agree for n <= 2 with T_mult = 2; from the fourth cycle (or the third with
    T_mult = 3) the cycle's start and length are torch's."""
    opt, t_opt = _sgd((0.1, 0.03))
    sched = mt.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult, eta_min=1e-3)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=2, T_mult=T_mult, eta_min=1e-3)
    for epoch in [*np.arange(0, 60, 1.25), 3.0, 200.5, 1000.0]:
        t_opt.step()
        sched.step(float(epoch))
        t_sched.step(float(epoch))
        where = (sched.T_cur, sched.T_i, sched.last_epoch)
        assert where == (t_sched.T_cur, t_sched.T_i, t_sched.last_epoch), epoch
        assert sched.get_last_lr() == t_sched.get_last_lr(), epoch


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_ends_a_phase_at_its_last_step_as_torch(three_phase):
    """Kills lr_schedulers_more.py:238 (get_lr's s <= end made s < end; helper mutants14): at a step
    that is a phase's end (pct_start * total_steps whole) torch takes the phase's end value,
    (max_lr - initial_lr) * 1 + initial_lr, which for max_lr 0.3 and div_factor 10 is 0.30000000000000004,
    not the next phase's start 0.3."""
    opt, t_opt = _sgd((1.0, 0.5))
    for o in (opt, t_opt):
        for group in o.param_groups:
            group["momentum"] = 0.9
    kwargs = {"max_lr": [0.3, 0.01], "total_steps": 10, "pct_start": 0.3, "div_factor": 10.0,
              "anneal_strategy": "linear", "three_phase": three_phase}
    sched = mt.lr_scheduler.OneCycleLR(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, **kwargs)
    for step in range(9):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["momentum"] for g in opt.param_groups] == [g["momentum"] for g in t_opt.param_groups], step


def test_sequential_of_one_scheduler_steps_it_as_torch():
    """Kills lr_schedulers_more.py:301 (SequentialLR.step's idx > 0 made idx >= 0; helper mutants14):
    with one scheduler and no milestones, idx is always 0 and _milestones[-1] does not exist; torch
    steps the scheduler, the mutant raised IndexError."""
    opt, t_opt, sched, t_sched = _sequential_pair(lambda lib, o: [lib.ExponentialLR(o, gamma=0.9)], [])
    for step in range(4):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step


@pytest.mark.parametrize("milestones", [[1, 3], [0, 1, 5]])
def test_sequential_restarts_a_multistep_at_its_epoch_0_as_torch(milestones):
    """Kills lr_schedulers_more.py:355 (_restart's MultiStepLR closed form read at epoch 1, not 0;
    helper mutants14): at SequentialLR's milestone the MultiStepLR starts at base_lr * gamma ** (its
    milestones at 0), as torch's step(0); a milestone at 1 must not count yet."""
    opt, t_opt, sched, t_sched = _sequential_pair(lambda lib, o: [
        lib.ExponentialLR(o, gamma=0.9), lib.MultiStepLR(o, milestones=milestones, gamma=0.5)], [2])
    for step in range(8):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step


def test_sequential_of_four_schedulers_restarts_each_at_its_milestone_as_torch():
    """Kills lr_schedulers_more.py:301 (SequentialLR.step's _milestones[idx - 1] made [1 - idx];
    helper mutants14): the two agree up to three schedulers (index -1 is 1 then); with four, the
    last one must restart at the third milestone, not be stepped on from the lr the third left."""
    opt, t_opt, sched, t_sched = _sequential_pair(lambda lib, o: [
        lib.ExponentialLR(o, gamma=0.9), lib.StepLR(o, step_size=2, gamma=0.5),
        lib.LinearLR(o, start_factor=0.5, total_iters=3), lib.ExponentialLR(o, gamma=0.8)], [2, 4, 6])
    for step in range(10):
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr(), step
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], step


def test_trunc_normal_refuses_bounds_whose_width_overflows_as_torch():
    """Kills init/truncated.py:47 (the unbounded test isinf(b - a) made isinf(b + a); helper mutants14):
    finite bounds -1e308, 1e308 whose width overflows, with p <= 0.3, are refused, as torch refuses
    them (uniform_'s to - from exceeds the largest double); the mutant filled the array with b."""
    kwargs = {"mean": 1.5e308, "std": 1e306, "a": -1e308, "b": 1e308}
    with (pytest.warns(UserWarning, match="mean is more than 2 std"),
          pytest.raises(RuntimeError, match="uniform_ expects to-from")):
        torch.nn.init.trunc_normal_(torch.zeros(5, dtype=torch.float64), **kwargs)
    x = np.zeros(5)
    with pytest.raises(ValueError, match=r"trunc_normal_: \[a, b\] = \[-1e\+308, 1e\+308\] holds only p = 0"):
        mt.init.trunc_normal_(x, **kwargs, generator=np.random.default_rng(0))
    assert not x.any()


@pytest.mark.parametrize("gain", [0.0, 0.5])
def test_xavier_uniform_takes_a_gain_below_1_as_torch(gain):
    """Kills init/scaled.py:47 (xavier_uniform_'s gain check's lower end 0 made 1; helper mutants14):
    torch takes any gain >= 0; the values lie in [-bound, bound], bound = gain * sqrt(6 / (20 + 30))."""
    bound = gain * np.sqrt(6 / 50)
    t = torch.nn.init.xavier_uniform_(torch.empty(30, 20, dtype=torch.float64), gain=gain)
    x = mt.init.xavier_uniform_(np.empty((20, 30)), gain=gain, generator=np.random.default_rng(0))
    for values in (x, t.numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() >= 0.9 * bound


def test_fans_of_a_parameter_added_to_a_linear_are_torchs():
    """Kills init/fans.py:47 (``p is tensor and`` dropped from _in_torchs_layout; helper mutants16):
    a 2-D Parameter added to a Linear is not its W, so it keeps torch's layout (the interop table's
    rule) and gets the fans torch gives the same Parameter on a torch Linear; the mutant read every
    Parameter of a Linear as transposed (because W is) and swapped them."""
    t_lin = torch.nn.Linear(3, 5)
    t_lin.register_parameter("extra", torch.nn.Parameter(torch.zeros(2, 7)))
    lin = mt.Linear(3, 5)
    lin.extra = mt.Parameter(np.zeros((2, 7)))
    assert mt.init.calculate_fan_in_and_fan_out(lin.extra) == (7, 2)
    assert torch.nn.init._calculate_fan_in_and_fan_out(t_lin.extra) == (7, 2)
    assert mt.init.calculate_fan_in_and_fan_out(lin.W) == (3, 5)  # W itself stays (in, out)


def test_fans_of_a_linear_weight_replaced_in_its_layer_are_its_own():
    """A Linear's W replaced by ``lin.W = ...`` is a Parameter of no layer, still in MiniTorch's (in, out)
    layout, with the fans torch gives the old weight (helper mutants16): before, the layer it was
    registered in was read as holding it still and its fans came swapped (kaiming_*_ scaled by fan_out)."""
    lin = mt.Linear(3, 5)
    old = lin.W
    lin.W = mt.Parameter(np.zeros((3, 5)))
    t_old = torch.nn.Linear(3, 5).weight
    assert mt.init.calculate_fan_in_and_fan_out(old) == (3, 5)
    assert torch.nn.init._calculate_fan_in_and_fan_out(t_old) == (3, 5)
    assert mt.init.calculate_fan_in_and_fan_out(lin.W) == (3, 5)


@pytest.mark.parametrize("law", ["uniform", "normal"])
def test_a_contiguous_float32_array_is_filled_with_float32_draws(law):
    """Kills init/fills.py:56 (_fill_random's fast path made False; helper mutants16): a contiguous
    float32 array gets NumPy's float32 draws (Generator.random / standard_normal with dtype=float32,
    written in place: no float64 array) and the generator is advanced by those draws; the mutant drew
    float64 and cast, other values and another generator state. (float64 gives the same either way.)"""
    fill, draw = {"uniform": (mt.init.uniform_, "random"),
                  "normal": (mt.init.normal_, "standard_normal")}[law]
    x = np.empty((6, 7), np.float32)
    rng, reference = np.random.default_rng(3), np.random.default_rng(3)
    assert fill(x, generator=rng) is x
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, getattr(reference, draw)((6, 7), dtype=np.float32))
    assert rng.bit_generator.state == reference.bit_generator.state


@pytest.mark.parametrize("shape", [(0, 0), (4, 3, 0)], ids=str)
@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
def test_xavier_leaves_an_array_without_fans_as_it_is(name, shape):
    """Kills init/scaled.py:49 (xavier_uniform_'s ``if fan_in + fan_out else 0.0`` dropped) and its
    twin in xavier_normal_ (helper mutants16): an empty array with fan_in + fan_out = 0 is filled with
    nothing and returned, as kaiming_*_ and an empty (0, 5) array; torch 2.13 divides by zero there
    (its ZeroDivisionError, pinned here, is an accident: its kaiming_*_ make such a fill a no-op)."""
    with pytest.raises(ZeroDivisionError):
        getattr(torch.nn.init, name)(torch.empty(shape))
    x = np.empty(shape)
    assert getattr(mt.init, name)(x, generator=np.random.default_rng(0)) is x


@pytest.mark.parametrize("gain", [-0.5, -1.0])
def test_xavier_normal_refuses_a_negative_gain_as_torch(gain):
    """Kills init/scaled.py:55 (xavier_normal_'s gain check's lower end 0 made -1; helper mutants16):
    torch refuses a negative gain (normal_'s negative std); here the message names xavier_normal_'s
    gain, before anything is drawn; the mutant passed it on as a negative std to normal_."""
    with pytest.raises(RuntimeError, match=r"normal expects std >= 0\.0"):
        torch.nn.init.xavier_normal_(torch.empty(3, 4), gain=gain)
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"xavier_normal_: gain must be a number in \[0, inf\)"):
        mt.init.xavier_normal_(x, gain=gain, generator=np.random.default_rng(0))
    assert not x.any()


class _CountingGenerator(np.random.Generator):
    """A NumPy Generator that records the size of every ``random`` call."""

    def __init__(self, seed):
        super().__init__(np.random.PCG64(seed))
        self.sizes = []

    def random(self, size=None, dtype=np.float64, out=None):
        self.sizes.append(size)
        return super().random(size, dtype, out)


def test_trunc_normal_proposes_at_most_2_22_values_at_once():
    """Kills init/truncated.py:64 (the batch cap 2**22 made 3**22; helper mutants16): a law that
    accepts about 1 proposal in 300,000 (N(0, 1) on [10, 3e4], uniform sampler) for 20 values
    would need rounds of over 2**22 proposals; each round proposes at most 2**22 (32 MiB per float64
    array), so the memory stays bounded; the mutant drew rounds of more. (~0.1 s)"""
    rng = _CountingGenerator(5)
    x = mt.init.trunc_normal_(np.empty(20), a=10.0, b=3e4, generator=rng)
    assert max(rng.sizes) == 2**22
    assert x.min() >= 10 and x.max() < 12  # the law's mass is within 2 std of a
