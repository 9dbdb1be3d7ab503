"""A random-action harness for ``SGD.step``'s update kernel (kernels/step_update.py ``sgd_step``).

Each example makes Parameters of random shapes (small ones and ones past the BLAS and flat-buffer
limits), dtypes and layouts, some sharing memory, an ``SGD`` of one or more groups with random
settings, and runs a random sequence of actions: gradients of random kinds (None, C, Fortran,
strided, read-only, another dtype, inf/nan), ``step()``, ``zero_grad()`` either way, a group added,
an lr of another type (NumPy scalars, 0-d arrays, ints) or set by a scheduler, a ``state_dict``
saved and loaded, a Parameter frozen or retyped, under a random ``np.errstate``. ``step()`` with
the kernel taken and with it declining (the step's own lines) must leave the same bytes, errors
and warnings (the optimizer kernel against the plain update, at a tolerance: the trajectory tests
of test_kernels.py). The default run tries 40 examples; ``pytest -m slow
tests/test_kernels_sgd_fuzz.py`` tries 400.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from bitwise import assert_same_outcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import kernels_enabled, step_update, use_kernels

SHAPES = [(3,), (5, 8), (130, 130), (20000,)]  # (130, 130) and (20000,): past BLAS_MIN / MAX_ELEMENTS


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 5))
    params = [(draw(st.sampled_from(SHAPES)), draw(st.sampled_from(["float32", "float32", "float64"])),
               draw(st.sampled_from(["c", "c", "fortran", "view-of-previous", "readonly"])))
              for _ in range(n)]
    groups = draw(st.integers(1, min(n, 3)))
    settings_ = []
    for _ in range(groups + 1):  # (one more for a group added later)
        momentum = draw(st.sampled_from([0.0, 0.0, 0.9]))
        dampening = draw(st.sampled_from([0.0, 0.5]))
        settings_.append({"lr": draw(st.sampled_from([0.1, 0.01, 0.0])), "momentum": momentum,
                          "dampening": dampening,
                          "weight_decay": draw(st.sampled_from([0.0, 0.0, 1e-2])),
                          "nesterov": draw(st.booleans()) and momentum > 0 and dampening == 0})
    actions = draw(st.lists(st.sampled_from(
        ["grads", "grads", "step", "step", "step", "zero", "zero-fill", "add-group", "lr-numpy32",
         "lr-0d", "lr-int", "scheduler", "state-dict", "freeze", "retype", "grad-none", "grad-odd",
         "grad-inf", "new-data"]), min_size=3, max_size=14))
    return {"params": params, "groups": groups, "settings": settings_, "actions": actions,
            "errstate": draw(st.sampled_from(["default", "raise", "warn", "ignore"])),
            "seed": draw(st.integers(0, 2**16))}


def _assign(p, g) -> None:
    """``p.grad = g``; a g of another dtype (which ``p.grad`` refuses, as torch) the way such a grad
    still arises: written while p.data had g's dtype, p.data cast back afterwards."""
    if g is None or g.dtype == p.data.dtype:
        p.grad = g
        return
    dtype = p.data.dtype
    p.data = p.data.astype(g.dtype)
    p.grad = g
    p.data = p.data.astype(dtype)


def _grad(rng, p, kind):
    shape, dtype = p.data.shape, p.data.dtype
    if kind == "none":
        return None
    g = rng.standard_normal(shape).astype(dtype)
    if kind == "fortran":
        return np.asfortranarray(g)
    if kind == "strided":
        return rng.standard_normal((*shape[:-1], 2 * shape[-1])).astype(dtype)[..., ::2]
    if kind == "readonly":
        g.flags.writeable = False
    if kind == "float32" and dtype == np.float64:  # (float64 on float32: another helper's case)
        return g.astype(np.float32)
    if kind == "inf":
        g.reshape(-1)[0] = np.inf
    return g


def _params(spec, rng):
    params = []
    for shape, dtype, layout in spec["params"]:
        data = rng.standard_normal(shape).astype(dtype)
        if layout == "fortran":
            data = np.asfortranarray(data)
        elif layout == "view-of-previous" and params and params[-1].data.shape == shape \
                and params[-1].data.dtype == data.dtype:
            data = params[-1].data  # one array in two Parameters (shared memory)
        elif layout == "readonly":
            data.flags.writeable = False
        params.append(mt.Parameter(data))
    return params


def _scenario(spec):
    rng = np.random.default_rng(spec["seed"])
    params = _params(spec, rng)
    cuts = np.array_split(np.arange(len(params)), spec["groups"])
    first = [c for c in cuts if len(c)]
    opt = mt.SGD([{"params": [params[i] for i in c], **s}
                  for c, s in zip(first, spec["settings"], strict=False)])
    later = []
    log = []
    scheduler = None
    for action in spec["actions"]:
        if action == "grads" or action == "grad-odd":
            kinds = ["c", "fortran", "strided", "readonly", "float32"] if action == "grad-odd" else ["c"]
            for p in params:
                _assign(p, _grad(rng, p, kinds[rng.integers(len(kinds))]))
        elif action == "grad-inf":
            for p in params:
                p.grad = _grad(rng, p, "inf")
        elif action == "grad-none":
            params[rng.integers(len(params))].grad = None
        elif action == "step":
            log.append(_call(opt.step, spec))
            log.append([p.data.copy() for p in params])
            log.append([{n: np.copy(v) for n, v in sorted(opt.state.get(p, {}).items())} for p in params])
        elif action == "zero":
            log.append(_call(opt.zero_grad, spec))
        elif action == "zero-fill":
            log.append(_call(lambda: opt.zero_grad(set_to_none=False), spec))
        elif action == "add-group" and not later:
            p = mt.Parameter(rng.standard_normal((5, 8)).astype(np.float32))
            p.grad = _grad(rng, p, "c")
            later.append(p)
            opt.add_param_group({"params": [p], **spec["settings"][-1]})
            params.append(p)
        elif action == "lr-numpy32":
            opt.param_groups[0]["lr"] = np.float32(0.05)
        elif action == "lr-0d":
            opt.param_groups[-1]["lr"] = np.array(0.03)
        elif action == "lr-int":
            opt.param_groups[0]["lr"] = 1
        elif action == "scheduler":
            if scheduler is None:
                try:
                    scheduler = mt.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
                except ValueError as error:  # (an lr it does not take: a 0-d array)
                    log.append(str(error))
            else:
                try:
                    scheduler.step()
                except ValueError as error:  # (an lr it does not write: a NumPy float32 from lr-numpy32)
                    log.append(str(error))
        elif action == "state-dict":
            saved = opt.state_dict()
            try:
                opt.load_state_dict(saved)
            except ValueError as error:  # (an lr it does not take back: a 0-d array)
                log.append(str(error))
        elif action == "freeze":
            params[0].requires_grad_(False)
        elif action == "retype":
            p = params[-1]
            p.data = p.data.astype(np.float64)
            if p.grad is not None:
                p.grad = p.grad.astype(np.float64)
        elif action == "new-data":
            p = params[0]
            p.data = np.array(p.data, copy=True)
    return log


def _call(f, spec):
    errstate = {} if spec["errstate"] == "default" else {"all": spec["errstate"]}
    with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
        warnings.simplefilter("always")
        try:
            f()
            out = None
        except (ValueError, TypeError, FloatingPointError, RuntimeError) as error:
            out = (type(error).__name__, str(error))
    return [out, [str(w.message) for w in caught]]


@contextlib.contextmanager
def _mode(mode, taken):
    fast = step_update.sgd_step
    before = kernels_enabled()
    use_kernels(True)

    def counted(optimizer):
        done = fast(optimizer)
        taken.append(done is not NotImplemented)
        return done

    step_update.sgd_step = counted if mode == "taken" else (lambda optimizer: NotImplemented)
    try:
        yield
    finally:
        step_update.sgd_step = fast
        use_kernels(before)


def _check(spec):
    taken = []
    with _mode("taken", taken):
        fused = _scenario(spec)
    with _mode("declined", []):
        assert_same_outcome(fused, _scenario(spec), "declined")
    return taken


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(spec=scenarios())
def test_sgd_step_random_actions_meet_the_steps_own_lines(spec):
    _check(spec)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=scenarios())
def test_sgd_step_many_random_actions_meet_the_steps_own_lines(spec):
    _check(spec)
