"""Bad arguments and forged state name the function and the argument (issue 11, items 8 and 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch as mt
from minitorch import checks
from minitorch.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
)


def _adam():
    model = mt.Sequential(mt.Linear(2, 2))
    opt = mt.Adam(model.parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = np.ones(p.shape, p.dtype)
    opt.step()
    return model, opt


# ------------------------------------------------------------ item 8: scheduler state is checked
@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, "0.1", None])
def test_a_bad_initial_lr_does_not_load(bad):
    _, opt = _adam()
    StepLR(opt, 2)
    state = opt.state_dict()
    state["param_groups"][0]["initial_lr"] = bad
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: param_groups\[0\]\['initial_lr'\]"):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["initial_lr"] == before["param_groups"][0]["initial_lr"]


def test_a_scheduler_refuses_a_group_whose_initial_lr_is_not_a_number():
    _, opt = _adam()
    opt.param_groups[0]["initial_lr"] = math.nan
    with pytest.raises(ValueError, match=r"StepLR: param_groups\[0\]\['initial_lr'\]"):
        StepLR(opt, 2)


@pytest.mark.parametrize("make, name, bad", [
    (lambda o: StepLR(o, 2), "last_epoch", math.nan),
    (lambda o: StepLR(o, 2), "last_epoch", -3),
    (lambda o: StepLR(o, 2), "base_lrs", ["x"]),
    (lambda o: StepLR(o, 2), "base_lrs", [math.nan]),
    (lambda o: StepLR(o, 2), "_last_lr", None),
    (lambda o: StepLR(o, 2), "gamma", "x"),
    (lambda o: StepLR(o, 2), "step_size", 0),
    (lambda o: MultiStepLR(o, [3]), "milestones", 5),
    (lambda o: ExponentialLR(o, 0.9), "gamma", math.inf),
    (lambda o: CosineAnnealingLR(o, 5), "T_max", 2.5),
    (lambda o: LinearLR(o), "start_factor", 0),
    (lambda o: ReduceLROnPlateau(o), "best", math.nan),
    (lambda o: ReduceLROnPlateau(o), "mode", "up"),
    (lambda o: ReduceLROnPlateau(o), "min_lrs", [-1.0]),
    (lambda o: ReduceLROnPlateau(o), "num_bad_epochs", -1),
])
def test_scheduler_state_is_checked_like_the_constructor(make, name, bad):
    _, opt = _adam()
    scheduler = make(opt)
    state = scheduler.state_dict()
    before = dict(state)
    state[name] = bad
    with pytest.raises(ValueError, match=rf"{type(scheduler).__name__}\.load_state_dict: {name}"):
        scheduler.load_state_dict(state)
    assert scheduler.state_dict() == before


def test_a_checkpointed_scheduler_state_round_trips(tmp_path):
    _, opt = _adam()
    scheduler = ReduceLROnPlateau(opt, patience=0)
    scheduler.step(1.0)
    scheduler.step(2.0)
    mt.save_checkpoint(tmp_path / "c.npz", optimizer=opt, scheduler=scheduler)
    _, opt2 = _adam()
    restored = ReduceLROnPlateau(opt2, patience=0)
    restored.load_state_dict(mt.load_checkpoint(tmp_path / "c.npz", optimizer=opt2)["scheduler_state"])
    assert restored.state_dict() == scheduler.state_dict()
    _, opt3 = _adam()
    again = ReduceLROnPlateau(opt3, patience=0)
    mt.load_checkpoint(tmp_path / "c.npz", optimizer=opt3, scheduler=again)
    assert again.state_dict() == scheduler.state_dict()


# --------------------------------------------------- item 13: errors name function and argument
@pytest.mark.parametrize("call, message", [
    (lambda m, o: o.load_state_dict({**o.state_dict(), "state": {0: {**o.state_dict()["state"][0],
                                                                     "step": math.inf}}}),
     r"Adam\.load_state_dict: parameter 0: expected 'step' a non-negative integer"),
    (lambda m, o: o.load_state_dict({"state": {}, "param_groups": None}),
     r"Adam\.load_state_dict: state_dict\['param_groups'\] must be a list"),
    (lambda m, o: o.load_state_dict({"state": None, "param_groups": o.state_dict()["param_groups"]}),
     r"Adam\.load_state_dict: state_dict\['state'\] must be a dict"),
    (lambda m, o: m.load_state_dict(None),
     r"Sequential\.load_state_dict: state_dict must be a dict or another Mapping"),
    (lambda m, o: MultiStepLR(o, milestones=5), r"MultiStepLR: milestones must be a list or a tuple"),
    (lambda m, o: MultiStepLR(o, milestones=[2, "x"]), r"MultiStepLR: milestones\[1\] must be"),
    (lambda m, o: ReduceLROnPlateau(o).step("abc"), r"ReduceLROnPlateau\.step: metric must be a real number"),
])
def test_errors_name_the_function_and_the_argument(call, message):
    model, opt = _adam()
    with pytest.raises(ValueError, match=message):
        call(model, opt)


def test_a_plateau_metric_may_be_inf_or_a_numpy_scalar():
    _, opt = _adam()
    scheduler = ReduceLROnPlateau(opt, patience=0)
    scheduler.step(np.float32(1.0))
    scheduler.step(math.inf)
    assert scheduler.num_bad_epochs == 0 and opt.param_groups[0]["lr"] == pytest.approx(0.001)


def test_milestones_may_be_any_iterable_of_integers():
    _, opt = _adam()
    assert MultiStepLR(opt, milestones=range(3, 0, -1)).milestones == [1, 2, 3]


# ---------------------------------------------------------------------------- the checks
@pytest.mark.parametrize("check, good, bad", [
    (lambda v: checks.check_int(v, "f", "dim"), [-1, 0, np.int64(3)], [1.7, "x", True, None]),
    (lambda v: checks.check_int(v, "f", "n", low=2), [2, 9], [1, 2.0]),
    (lambda v: checks.check_real(v, "f", "x"), [1, 1.5, math.nan, np.float32(2), np.array(3.0)],
     ["1", True, None, [1.0]]),
    (lambda v: checks.check_choice(v, "f", "verbose", (0, 1, 2)), [0, 2], [True, 1.0, "1", 3]),
    (lambda v: checks.check_positive_int(v, "f", "n"), [1, np.int64(3)], [0, -1, 1.0, "1", None, True]),
    (lambda v: checks.check_nonnegative_int(v, "f", "n"), [0, np.uint8(3)], [-1, 0.0, "0", None, False]),
    (lambda v: checks.check_dict(v, "f", "state"), [{}], [None, [], "x"]),
    (lambda v: checks.check_sequence(v, "f", "items"), [[], (1,)], [None, "ab", 5, {1: 2}]),
])
def test_each_check_accepts_its_kind_and_names_the_argument(check, good, bad):
    for value in good:
        check(value)
    for value in bad:
        with pytest.raises(ValueError, match=r"^f: \w+ must be"):
            check(value)


def test_library_functions_use_the_shared_checks():
    wrong_kind = checks.SettingTypeError  # a TypeError and a ValueError
    with pytest.raises(wrong_kind, match=r"manual_seed: seed must be a non-negative integer, got 1\.5"):
        mt.manual_seed(1.5)
    with pytest.raises(wrong_kind, match=r"MSELoss: reduction must be one of"):
        mt.MSELoss(reduction=None)
    with pytest.raises(ValueError, match=r"precision: average must be one of"):
        mt.metrics.precision(np.array([0, 1]), np.array([0, 1]), average="avg")
    model, opt = _adam()
    loader = mt.DataLoader(np.zeros((4, 2), np.float32), np.zeros(4, np.int64), batch_size=2)
    with pytest.raises(wrong_kind, match=r"fit: verbose must be one of \(0, 1, 2\) \(an int\), got True"):
        mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=1, verbose=True)  # True is not 1


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: mt.Flatten(start_dim=1.7), r"Flatten: start_dim must be an integer, got 1\.7"),
        (lambda: mt.Flatten(1, end_dim="x"), r"Flatten: end_dim must be an integer, got 'x'"),
        (lambda: mt.Softmax(dim=1.0), r"Softmax: dim must be an integer, got 1\.0"),
        (lambda: mt.LogSoftmax(dim=True), r"LogSoftmax: dim must be an integer, got True"),
        (lambda: mt.Linear(3, 2, bias="no"), r"Linear: bias must be True or False, got 'no'"),
        (lambda: mt.Linear(3.0, 2), r"Linear: in_features must be a positive integer, got 3\.0"),
        (lambda: mt.BatchNorm1d(3, affine=0), r"BatchNorm1d: affine must be True or False, got 0"),
        (lambda: mt.LayerNorm(3, elementwise_affine="yes"),
         r"LayerNorm: elementwise_affine must be True or False, got 'yes'"),
        (lambda: mt.LayerNorm(3, bias=None), r"LayerNorm: bias must be True or False, got None"),
    ],
)
def test_layer_constructors_name_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()
