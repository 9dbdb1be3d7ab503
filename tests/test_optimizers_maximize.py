"""``maximize=True`` on every optimizer, as torch.optim 2.13: the gradient negated before anything reads it.

torch's ``_single_tensor_*`` forms start with ``grad = -grad if maximize``, so L2 weight decay, momentum
and the moments all see the negated gradient (a decoupled decay shrinks p as without it). Checked here:
each optimizer's trajectory against torch's over hypothesis grids of its options (float64, two param
groups of which either may ascend, Parameters below and above the kernels' BLAS and chunk sizes),
kernels on and off; maximize on grad bitwise the descent on -grad; maximize as a group setting
(defaults for add_param_group, state_dict / load_state_dict, an older dict without it, checkpoints);
the SGD step kernels (``sgd_step``, ``fit_step``) and ``mt.fit``; bad values and positional use.
The registries of tests/trajectories.py (CONFIGS) and tests/test_kernels.py (STEP_MIXED) hold
maximize cases too.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from bitwise import assert_bitwise
from counting import counted, fit_data
from hypothesis import given, settings
from hypothesis import strategies as st
from trajectories import OPTIMIZERS

import minitorch as mt
from minitorch import lr_scheduler
from minitorch.kernels import flat, step_update, use_kernels
from minitorch.kernels import optimizers as fast
from minitorch.kernels import step as fast_step

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam"]
NAMES += ["Adamax", "Adadelta", "Rprop", "ASGD"]
# sizes below the kernels' BLAS threshold, above it, and above the Adam kernel's chunk
SHAPES = [(3,), (7, 5), (fast.BLAS_MIN + 3,), (fast.CHUNK + 5,)]

_betas = st.sampled_from([(0.9, 0.999), (0.8, 0.9)])
_eps = st.sampled_from([1e-8, 1e-3])
_wd = st.sampled_from([0.0, 0.05])
_small_lr = st.sampled_from([0.01, 0.001])


def _grid(**options) -> st.SearchStrategy:
    """Dicts of the options, each drawn from its list (a list) or strategy."""
    return st.fixed_dictionaries({k: st.sampled_from(v) if isinstance(v, list) else v
                                  for k, v in options.items()})


OPTIONS = {
    "SGD": _grid(lr=[0.1, 0.01], momentum=[0.0, 0.9], dampening=[0.0, 0.3], weight_decay=_wd,
                 nesterov=st.booleans()),
    "Adam": _grid(lr=_small_lr, betas=_betas, eps=_eps, weight_decay=_wd, amsgrad=st.booleans()),
    "AdamW": _grid(lr=_small_lr, betas=_betas, eps=_eps, weight_decay=[0.0, 0.01, 0.3],
                   amsgrad=st.booleans()),
    "RMSprop": _grid(lr=_small_lr, alpha=[0.99, 0.9], eps=_eps, weight_decay=_wd, momentum=[0.0, 0.5],
                     centered=st.booleans()),
    "Adagrad": _grid(lr=[0.1, 0.01], lr_decay=[0.0, 0.05], weight_decay=_wd,
                     initial_accumulator_value=[0.0, 0.3], eps=[1e-10, 1e-3]),
    "NAdam": _grid(lr=[0.01, 0.002], betas=_betas, eps=_eps, weight_decay=_wd, momentum_decay=[4e-3, 0.01],
                   decoupled_weight_decay=st.booleans()),
    "RAdam": _grid(lr=_small_lr, betas=_betas, eps=_eps, weight_decay=_wd,
                   decoupled_weight_decay=st.booleans()),
    "Adamax": _grid(lr=[0.01, 0.002], betas=_betas, eps=_eps, weight_decay=_wd),
    "Adadelta": _grid(lr=[1.0, 0.1], rho=[0.9, 0.5], eps=[1e-6, 1e-3], weight_decay=_wd),
    "Rprop": _grid(lr=[0.01, 0.1], etas=[(0.5, 1.2), (0.3, 1.5)], step_sizes=[(1e-6, 50), (1e-3, 0.05)]),
    "ASGD": _grid(lr=[0.01, 0.1], lambd=[1e-4, 0.1], alpha=[0.75, 0.5], t0=[1e6, 2.0], weight_decay=_wd),
}


def test_every_optimizer_has_maximize_as_torch_keyword_only_default_false():
    assert set(NAMES) == {n for n in mt.optimizers.__all__ if n != "Optimizer"} == set(OPTIMIZERS)
    assert set(NAMES) == set(OPTIONS) == set(FULL)
    for name in NAMES:
        ours = inspect.signature(getattr(mt, name)).parameters["maximize"]
        theirs = inspect.signature(getattr(torch.optim, name)).parameters["maximize"]
        assert ours.default is theirs.default is False, name
        # keyword-only: torch's RMSprop takes it 10th positionally, after capturable and foreach,
        # which MiniTorch has not (a positional True would mean another option there)
        assert ours.kind is inspect.Parameter.KEYWORD_ONLY, name


@contextlib.contextmanager
def torch_float64() -> Iterator[None]:
    """torch's default dtype float64 (NAdam keeps its mu_product in it), put back after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _start(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _grads(seed: int, step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1000 * seed + step)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _groups(params: list, first_maximize: bool | None) -> list[dict]:
    """Two groups: the first two Parameters with their own maximize (None: the default), the rest."""
    first = {"params": params[:2]}
    if first_maximize is not None:
        first["maximize"] = first_maximize
    return [first, {"params": params[2:]}]


@pytest.mark.parametrize("kernels", [True, pytest.param(False, marks=pytest.mark.slow)],
                         ids=["kernels-on", "kernels-off"])  # kernels-off: `make test-slow` (time)
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12, deadline=None)
@given(data=st.data(), maximize=st.booleans(), first_maximize=st.sampled_from([None, True, False]),
       seed=st.integers(0, 2**16))
def test_trajectory_with_maximize_matches_torch_float64(name, kernels, data, maximize, first_maximize, seed):
    """Six steps of ``name`` with options drawn from its grid, maximize for the optimizer and for the
    first of two groups: every parameter and every state array after each step as torch's (float64)."""
    options = data.draw(OPTIONS[name])
    if name == "SGD" and options["nesterov"] and (not options["momentum"] or options["dampening"]):
        options["nesterov"] = False  # (nesterov needs momentum > 0 and dampening 0)
    use_kernels(kernels)
    params = [mt.Parameter(a) for a in _start(seed)]
    t_params = [torch.nn.Parameter(torch.from_numpy(a)) for a in _start(seed)]
    opt = getattr(mt, name)(_groups(params, first_maximize), maximize=maximize, **options)
    with torch_float64():
        t_opt = getattr(torch.optim, name)(_groups(t_params, first_maximize), maximize=maximize, **options)
        _compare(name, options, maximize, first_maximize, seed, params, opt, t_params, t_opt)


def _cancelling(g, p, weight_decay):
    """Elements where the decayed gradient g + wd * p (either sign of g: maximize) cancels to under
    1e-3 of its terms: torch forms it with one rounding (a fused multiply-add), NumPy with two, and
    the one ulp of the terms between them is a relative error of about 1.1e-16 / (that fraction) in
    g, which RMSprop's momentum buffer g / (sqrt(v) + eps) carries whole (4.6e-12 where g cancelled to
    2e-5 of its terms, seed 125): past the 1e-12 tolerance under about 1e-4. The optimizers work
    element by element, so only those elements (and what later steps make of them) are excused."""
    if not weight_decay:
        return np.zeros(g.shape, bool)
    scale = 1e-3 * (np.abs(g) + weight_decay * np.abs(p))
    return (np.abs(g + weight_decay * p) < scale) | (np.abs(-g + weight_decay * p) < scale)


def _compare(name, options, maximize, first_maximize, seed, params, opt, t_params, t_opt):
    excused = [np.zeros(p.data.shape, bool) for p in params]
    for step in range(6):
        for i, (p, tp, g) in enumerate(zip(params, t_params, _grads(seed, step), strict=True)):
            excused[i] |= _cancelling(g, p.data, options.get("weight_decay", 0.0))
            p.grad, tp.grad = g, torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
        for i, (p, tp) in enumerate(zip(params, t_params, strict=True)):
            where = f"{name}({options}, maximize={maximize}), group maximize {first_maximize}: " \
                    f"Parameter {i} after step {step + 1}"

            def close(a, b, what, keep=~excused[i]):
                np.testing.assert_allclose(a[keep], b[keep], rtol=1e-12, atol=1e-13, err_msg=what)

            close(p.data, tp.detach().numpy(), where)
            for key, value in opt.state.get(p, {}).items():
                if key not in ("step", "mu_product") and np.ndim(value) == 0:  # ASGD's eta and mu
                    np.testing.assert_allclose(value, t_opt.state[tp][key].item(), rtol=1e-12,
                                               err_msg=f"{where}: {key}")
                elif key not in ("step", "mu_product"):
                    close(value, t_opt.state[tp][key].detach().numpy(), f"{where}: {key}")


def _run(name: str, options: dict, maximize: bool, negate: bool, steps: int = 5) -> list[np.ndarray]:
    params = [mt.Parameter(a) for a in _start(3)]
    opt = getattr(mt, name)(params, maximize=maximize, **options)
    for step in range(steps):
        for p, g in zip(params, _grads(3, step), strict=True):
            p.grad = -g if negate else g
        opt.step()
    state = [v for p in params for k, v in opt.state.get(p, {}).items() if k != "step"]
    return [p.data for p in params] + state


# each optimizer with every option that reads the gradient on
FULL = {
    "SGD": [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05},
            {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}],
    "Adam": [{"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}],
    "AdamW": [{"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}],
    "RMSprop": [{"lr": 0.01, "weight_decay": 0.1, "momentum": 0.5, "centered": True}],
    "Adagrad": [{"lr": 0.1, "weight_decay": 0.1, "lr_decay": 0.05}],
    "NAdam": [{"lr": 0.01, "weight_decay": 0.1},
              {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}],
    "RAdam": [{"lr": 0.01, "weight_decay": 0.1},
              {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}],
    "Adamax": [{"lr": 0.01, "weight_decay": 0.1}],
    "Adadelta": [{"lr": 0.5, "weight_decay": 0.1}],
    "Rprop": [{"lr": 0.01, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.5)}],
    "ASGD": [{"lr": 0.05, "weight_decay": 0.1, "t0": 2.0, "lambd": 0.1}],
}


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels-on", "kernels-off"])
@pytest.mark.parametrize("name, options", [(n, o) for n, configs in FULL.items() for o in configs])
def test_maximize_on_grad_is_bitwise_the_descent_on_minus_grad(name, options, kernels):
    """The negation comes first and is exact, so every later product is the descent's on -grad,
    on the plain path and in every kernel (the SGD kernel folds the sign into its scalars)."""
    use_kernels(kernels)
    for a, b in zip(_run(name, options, True, False), _run(name, options, False, True), strict=True):
        assert_bitwise(np.asarray(a), np.asarray(b), f"{name} {options}")
    ascent, descent = _run(name, options, True, False), _run(name, options, False, False)
    assert not np.array_equal(ascent[0], descent[0])


# ------------------------------------------------------------------ a group setting
def _three(seed: int = 0) -> list[mt.Parameter]:
    rng = np.random.default_rng(seed)
    return [mt.Parameter(rng.standard_normal(2)) for _ in range(3)]


def _maximize(opt) -> list:
    return [g["maximize"] for g in opt.param_groups]


@pytest.mark.parametrize("name", NAMES)
def test_maximize_is_a_group_setting_kept_by_state_dict_as_torch(name):
    cls, t_cls = getattr(mt, name), getattr(torch.optim, name)
    ours = _three()
    t_ours = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in ours]
    opt = cls([{"params": ours[:1]}, {"params": ours[1:2], "maximize": False}], lr=0.1, maximize=True)
    t_opt = t_cls([{"params": t_ours[:1]}, {"params": t_ours[1:2], "maximize": False}], lr=0.1, maximize=True)
    opt.add_param_group({"params": ours[2:]})  # the constructor's maximize, as torch's defaults
    t_opt.add_param_group({"params": t_ours[2:]})
    expected = [True, False, True]
    assert _maximize(opt) == _maximize(t_opt) == expected
    saved = opt.state_dict()
    assert [g["maximize"] for g in saved["param_groups"]] == expected
    fresh = _three(1)
    again = cls([{"params": fresh[:1]}, {"params": fresh[1:2]}, {"params": fresh[2:]}], lr=0.1)
    again.load_state_dict(saved)
    assert [g["maximize"] for g in again.param_groups] == expected
    # a dict saved before the setting existed: False, as torch's __setstate__ sets it
    for group in saved["param_groups"]:
        del group["maximize"]
    t_saved = t_opt.state_dict()
    for group in t_saved["param_groups"]:
        del group["maximize"]
    again.load_state_dict(saved)
    t_opt.load_state_dict(t_saved)
    assert _maximize(again) == _maximize(t_opt) == [False] * 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", ["yes", 1, None, np.array([True])], ids=["str", "int", "None", "array"])
def test_a_maximize_that_is_not_a_bool_is_refused_everywhere(name, value):
    message = rf"^{name}: maximize must be True or False, got"
    with pytest.raises(ValueError, match=message):
        getattr(mt, name)(_three(), maximize=value)
    opt = getattr(mt, name)(_three()[:2])
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": _three(2)[:1], "maximize": value})
    saved = opt.state_dict()
    saved["param_groups"][0]["maximize"] = value
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["maximize"] is False and len(opt.param_groups) == 1


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_keeps_maximize_and_training_goes_on_bit_for_bit(tmp_path, name):
    options = FULL[name][-1]

    def run(steps, opt=None, params=None):
        if params is None:
            params = [mt.Parameter(a) for a in _start(4)]
            opt = getattr(mt, name)(_groups(params, False), maximize=True, **options)
        for step in steps:
            for p, g in zip(params, _grads(4, step), strict=True):
                p.grad = g
            opt.step()
        return params, opt

    straight, _ = run(range(8))
    params, opt = run(range(4))
    mt.save_checkpoint(tmp_path / "c.npz", model=mt.Linear(2, 2), optimizer=opt)
    fresh = [mt.Parameter(p.data.copy()) for p in params]
    again = getattr(mt, name)(_groups(fresh, None), **options)  # maximize False: the file's come back
    mt.load_checkpoint(tmp_path / "c.npz", optimizer=again)
    assert [g["maximize"] for g in again.param_groups] == [False, True]
    resumed, _ = run(range(4, 8), again, fresh)
    for a, b in zip(resumed, straight, strict=True):
        assert_bitwise(a.data, b.data, f"{name} resumed")


# ------------------------------------------------------------------ the SGD step kernels, fit
@pytest.mark.parametrize("options", [{}, {"momentum": 0.9, "weight_decay": 0.01},
                                     {"momentum": 0.9, "nesterov": True}],
                         ids=["plain", "momentum", "nesterov"])
def test_sgd_step_kernel_ascends_as_the_sgd_kernel_bitwise(options):
    """``SGD.step``'s whole-step kernel (``kernels/step_update.py``; its inline update for plain SGD
    over Parameters past the flat limit) takes maximize: bitwise what the SGD kernel gives."""
    use_kernels(True)
    # the largest first: past flat.MAX_ELEMENTS, so plain SGD's group is updated inline
    params, twins = ([mt.Parameter(a) for a in reversed(_start(5))] for _ in range(2))
    assert params[0].data.size > flat.MAX_ELEMENTS
    opt = mt.SGD(params, lr=0.1, maximize=True, **options)
    buffers = [None] * len(twins)
    for step in range(3):
        grads = list(reversed(_grads(5, step)))
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        assert step_update.sgd_step(opt) is True
        fast.sgd(twins, grads, buffers, lr=0.1, momentum=options.get("momentum", 0.0), dampening=0.0,
                 weight_decay=options.get("weight_decay", 0.0), nesterov=options.get("nesterov", False),
                 maximize=True)
    for p, q in zip(params, twins, strict=True):
        assert_bitwise(p.data, q.data, f"sgd_step {options}")


def _fit(name: str, kernels: bool, fused: bool, monkeypatch, taken: list) -> tuple:
    use_kernels(kernels)
    kernel = counted(_fit_step, taken) if fused else lambda *a: NotImplemented
    monkeypatch.setattr(fast_step, "fit_step", kernel)
    X, Y = fit_data()
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    opt = getattr(mt, name)(model.parameters(), lr=0.05, maximize=True)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    history = mt.fit(model, mt.CrossEntropyLoss(), opt, mt.DataLoader(X, Y, batch_size=16, shuffle=False),
                     epochs=3, scheduler=sched, verbose=0)
    return history, [p.data.copy() for p in model.parameters()]


_fit_step = fast_step.fit_step


@pytest.mark.parametrize("name", ["SGD", "Adam"])
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels-on", "kernels-off"])
def test_fit_ascends_with_maximize_and_its_whole_step_kernel_agrees(name, kernels, monkeypatch):
    """mt.fit (with a scheduler) and maximize=True: the loss rises epoch by epoch; SGD's whole-step
    kernel takes every step after the first (kernels on) and gives bitwise the five calls' result."""
    taken: list = []
    history, params = _fit(name, kernels, True, monkeypatch, taken)
    assert history["loss"][0] < history["loss"][1] < history["loss"][2]
    assert any(taken) == (kernels and name == "SGD")
    calls, call_params = _fit(name, kernels, False, monkeypatch, [])
    assert history["loss"] == calls["loss"]
    for a, b in zip(params, call_params, strict=True):
        assert_bitwise(a, b, f"{name} fit")
