"""A 0-d NumPy array learning rate (``lr=np.array(0.1)``), as torch takes a 1-element tensor lr.

torch keeps a tensor lr a tensor: its state_dict round trip gives one back, its schedulers write
each new lr into it in place (``fill_``), and ``base_lrs`` / ``get_last_lr()`` are copies. So do
MiniTorch's optimizers and schedulers with a 0-d float64 array, with the same values bit for bit;
any other array (a float32 one too: torch's Adam then steps partly in float32) is refused when the
optimizer is built, with the fix in the message (the rule of every setting:
tests/test_optimizer_setting_arrays.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_lr_scheduler import PLATEAUS, SCHEDULES, plateau_metrics
from test_lr_schedulers_habits import CASES

import minitorch as mt
from minitorch import lr_scheduler

OPTIMIZERS = [name for name in mt.optimizers.__all__ if name != "Optimizer"]
LRS = (0.1, 0.03)
DTYPES = {np.float64: torch.float64}


def _params(seed: int = 0) -> list[mt.Parameter]:
    rng = np.random.default_rng(seed)
    return [mt.Parameter(rng.standard_normal((3, 2))), mt.Parameter(rng.standard_normal(2))]


def _train(name: str, lr, steps: int = 3) -> list[np.ndarray]:
    params = _params()
    opt = getattr(mt, name)(params, lr=lr)
    for step in range(steps):
        for p in params:
            p.grad = np.random.default_rng(step).standard_normal(p.shape)
        opt.step()
    return [p.data for p in params]


# ------------------------------------------------------------------ every optimizer
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_steps_with_a_0d_array_lr_as_with_the_float(name):
    for ours, plain in zip(_train(name, np.array(0.01)), _train(name, 0.01), strict=True):
        np.testing.assert_array_equal(ours, plain)


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("assigned_later", [False, True], ids=["constructor", "assigned"])
def test_state_dict_round_trip_keeps_a_0d_array_lr(name, assigned_later):
    """The reported failure: step() took it, load_state_dict(state_dict()) refused it."""
    given = np.array(0.02)
    opt = getattr(mt, name)(_params(), lr=0.5 if assigned_later else given)
    if assigned_later:
        opt.param_groups[0]["lr"] = given
    saved = opt.state_dict()
    assert isinstance(saved["param_groups"][0]["lr"], np.ndarray)
    assert saved["param_groups"][0]["lr"] is not opt.param_groups[0]["lr"]  # a copy, as torch's
    opt.load_state_dict(saved)
    lr = opt.param_groups[0]["lr"]
    assert isinstance(lr, np.ndarray) and lr.shape == () and lr == 0.02
    assert lr is not saved["param_groups"][0]["lr"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_group_holds_its_own_copy_of_an_array_lr(name):
    """A schedule writes each group's lr in place: two groups never share one array."""
    given = np.array(0.1)
    a, b = _params(0), _params(1)
    opt = getattr(mt, name)([{"params": a}, {"params": b}], lr=given)
    first, second = (g["lr"] for g in opt.param_groups)
    assert first is not second and first is not given
    lr_scheduler.LambdaLR(opt, lr_lambda=[lambda e: 1.0, lambda e: 0.5])
    assert float(opt.param_groups[0]["lr"]) == 0.1 and float(opt.param_groups[1]["lr"]) == 0.05
    assert float(given) == 0.1


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("lr, problem", [
    (np.array([0.1]), r"shape \(1,\)"),
    (np.array(1), "dtype int64"),
    (np.array(0.1, dtype=np.float32), r"dtype float32 .*torch computes partly in float32"),
    (np.array(-0.1), r"must be a number in \[0"),
])
def test_other_arrays_are_refused_when_built_naming_the_fix(name, lr, problem):
    with pytest.raises(ValueError, match=rf"{name}: lr.*{problem}") as info:
        getattr(mt, name)(_params(), lr=lr)
    if lr.ndim or lr.dtype != np.float64:
        assert "pass float(lr)" in str(info.value)


# ------------------------------------------------------------------ every scheduler, against torch
def _optimizers(dtype, kind: str = "SGD"):
    """Two groups with 0-d array lrs (ours) and 1-element tensor lrs (torch's)."""
    cls, t_cls = (mt.Adam, torch.optim.Adam) if kind == "Adam" else (mt.SGD, torch.optim.SGD)
    extra = {} if kind == "Adam" else {"momentum": 0.9}
    opt = cls([{"params": [mt.Parameter(np.zeros(2))], "lr": np.array(lr, dtype=dtype)} for lr in LRS],
              **extra)
    t_opt = t_cls([{"params": [torch.zeros(2, requires_grad=True)],
                    "lr": torch.tensor(lr, dtype=DTYPES[dtype])} for lr in LRS], **extra)
    return opt, t_opt


def _assert_same(sched, t_sched, opt, t_opt, arrays, where):
    ours, theirs = sched.get_last_lr(), t_sched.get_last_lr()
    assert [float(v) for v in ours] == [float(v) for v in theirs], where
    assert [float(g["lr"]) for g in opt.param_groups] == [float(g["lr"]) for g in t_opt.param_groups], where
    for group, array, last in zip(opt.param_groups, arrays, ours, strict=True):
        assert group["lr"] is array, f"{where}: the group's lr array was replaced, not written in place"
        assert isinstance(last, np.ndarray) and last is not array, f"{where}: get_last_lr gave {last!r}"


def _run(build, steps, dtype, kind="SGD"):
    opt, t_opt = _optimizers(dtype, kind)
    arrays = [g["lr"] for g in opt.param_groups]
    sched, t_sched = build(lr_scheduler, opt), build(torch.optim.lr_scheduler, t_opt)
    t_bases = getattr(t_sched, "base_lrs", None) or t_sched._schedulers[0].base_lrs  # (torch's SequentialLR)
    for base, t_base, array in zip(sched.base_lrs, t_bases, arrays, strict=True):
        assert isinstance(base, np.ndarray) == isinstance(t_base, torch.Tensor) and base is not array
    _assert_same(sched, t_sched, opt, t_opt, arrays, "at creation")
    for epoch in range(1, steps + 1):
        t_opt.step()
        t_sched.step()
        sched.step()
        _assert_same(sched, t_sched, opt, t_opt, arrays, f"step {epoch}")
    return sched, opt


def _first(name, kwargs):
    return lambda lib, o: getattr(lib, name)(o, **kwargs)


ALL = ([(f"{name}-{i}", _first(name, kwargs), 40, "SGD") for i, (name, kwargs) in enumerate(SCHEDULES)]
       + list(CASES))


@pytest.mark.parametrize("build, steps, kind", [c[1:] for c in ALL], ids=[c[0] for c in ALL])
def test_every_schedule_with_array_lrs_matches_torch_with_tensor_lrs(build, steps, kind):
    _run(build, steps, np.float64, kind)


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_reduce_lr_on_plateau_with_array_lrs_matches_torch(kwargs):
    opt, t_opt = _optimizers(np.float64)
    arrays = [g["lr"] for g in opt.param_groups]
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    for epoch, metric in enumerate(plateau_metrics(kwargs.get("mode", "min")), start=1):
        sched.step(metric)
        t_sched.step(metric)
        _assert_same(sched, t_sched, opt, t_opt, arrays, f"{kwargs} epoch {epoch}")


@pytest.mark.parametrize("build, steps, kind", [c[1:] for c in ALL[1::3]], ids=[c[0] for c in ALL[1::3]])
def test_scheduler_and_optimizer_state_dicts_resume_with_array_lrs(build, steps, kind):
    sched, opt = _run(build, steps // 2, np.float64, kind)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    expected = []
    for _ in range(steps - steps // 2):
        sched.step()
        expected.append([float(v) for v in sched.get_last_lr()])
    opt2, _ = _optimizers(np.float64, kind)
    sched2 = build(lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert all(isinstance(g["lr"], np.ndarray) for g in opt2.param_groups)
    got = []
    for _ in range(steps - steps // 2):
        sched2.step()
        got.append([float(v) for v in sched2.get_last_lr()])
    assert got == expected


def test_a_checkpoint_keeps_array_lrs(tmp_path):
    model = mt.Linear(3, 2)
    opt = mt.SGD(model.parameters(), lr=np.array(0.1), momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=sched)
    model2 = mt.Linear(3, 2)
    opt2 = mt.SGD(model2.parameters(), lr=np.array(0.7), momentum=0.9)
    sched2 = lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    mt.load_checkpoint(tmp_path / "c.npz", model=model2, optimizer=opt2, scheduler=sched2)
    assert isinstance(opt2.param_groups[0]["lr"], np.ndarray) and float(opt2.param_groups[0]["lr"]) == 0.05
    sched2.step()
    assert float(opt2.param_groups[0]["lr"]) == 0.025


def _fit(lr):
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    opt = mt.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    loader = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    history = mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=3, scheduler=sched, verbose=0)
    return model, history, opt


def test_fit_with_an_array_lr_and_a_scheduler_trains_as_with_the_float():
    (ours, history, opt), (plain, plain_history, _) = _fit(np.array(0.1)), _fit(0.1)
    for p, q in zip(ours.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert history.history["lr"] == plain_history.history["lr"] == [0.1, 0.05, 0.025]
    assert isinstance(opt.param_groups[0]["lr"], np.ndarray) and float(opt.param_groups[0]["lr"]) == 0.0125


def test_one_cycle_reads_a_0d_array_max_lr_as_the_number():
    runs = []
    for max_lr in (np.array(0.5), 0.5):
        opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
        sched = lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=10)
        runs.append([sched.get_last_lr()] + [(sched.step(), sched.get_last_lr())[1] for _ in range(9)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("build, name", [
    (lambda opt, v: lr_scheduler.OneCycleLR(opt, max_lr=v, total_steps=10), "max_lr"),
    (lambda opt, v: lr_scheduler.ReduceLROnPlateau(opt, min_lr=v), "min_lr"),
])
def test_a_schedulers_lr_arrays_follow_the_optimizers_rule(build, name):
    """A 0-d float64 array is read as its float; a float32 one is refused, naming it and the fix."""
    build(mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9), np.array(0.05))
    with pytest.raises(ValueError, match=rf"{name} given as ndarray of shape \(\), dtype float32 .*"
                                         rf"give a float64 array.*pass float\({name}\)"):
        build(mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9), np.array(0.05, dtype=np.float32))


def test_reduce_lr_on_plateau_never_puts_its_min_lr_array_into_a_group():
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=np.array(0.05))
    for metric in (1.0, 1.0, 1.0):
        sched.step(metric)
    assert type(opt.param_groups[0]["lr"]) is float and opt.param_groups[0]["lr"] == 0.05
    opt.param_groups[0]["lr"] = 0.5
    sched.step(1.0)  # had the group held the min_lr array, this would not change it
    assert float(sched.min_lrs[0]) == 0.05
