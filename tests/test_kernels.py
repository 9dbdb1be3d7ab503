"""The fast room (minitorch/kernels) computes what the plain formulas compute.

Every module case (tests/cases.py: MODULE_CASES and INPUT_CASES), every loss case
(tests/test_losses.py) and every optimizer trajectory (tests/trajectories.py) runs twice, kernels on
and off, in float32 and float64:
  - layers and losses: bitwise equal (output, loss, input gradient, every parameter gradient),
    compared as bytes (``bitwise.assert_bitwise``: the sign of every zero too, signed zeros in the
    inputs and upstream gradients); their kernels only skip arrays and passes, never reorder a
    float operation; except the layers in REORDERS_SUMS (Conv2d's channels-last product) and the
    LSTM kernels (ROUNDS_DIFFERENTLY), equal within rtol 1e-5, atol 1e-6 (float32) and rtol 1e-12,
    atol 1e-13 (float64);
  - optimizers: parameters and state after 20 steps within rtol 2e-5, atol 2e-6 (float32) and
    rtol 1e-12, atol 1e-13 (float64), since an optimizer kernel may fuse or reorder the numbered
    lines and 20 float32 steps carry that rounding forward.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from bitwise import assert_bitwise, assert_same_outcome
from cases import INPUT_CASES, MODULE_CASES
from counting import counted, fit_data
from hypothesis import given, settings
from hypothesis import strategies as st
from interrupts import interrupted_at_each_line
from test_losses import LOSS_CASES, make_data
from trajectories import CONFIG_IDS, CONFIGS, OPTIMIZERS, batches, groups, make_model

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels
from minitorch.losses.base import LossValue

DTYPES = [np.float32, np.float64]
# Layers whose kernel sums the same products in another order (a channels-last matrix product):
# equal to the plain layer at float tolerance instead of bitwise.
REORDERS_SUMS = {"Conv2d"}
# the LSTM time-loop kernels (kernels/sequences.py): "same results to rounding"
ROUNDS_DIFFERENTLY = REORDERS_SUMS | {"LSTM", "LSTMCell"}


@contextmanager
def kernels(enabled: bool) -> Iterator[None]:
    before = kernels_enabled()
    use_kernels(enabled)
    try:
        yield
    finally:
        use_kernels(before)


@contextmanager
def default_dtype(dtype: type) -> Iterator[None]:
    mt.set_default_dtype(dtype)
    try:
        yield
    finally:
        mt.set_default_dtype(np.float32)


def _module_run(factory, x, dy, enabled):
    with kernels(enabled):
        mt.manual_seed(0)                   # the same weights and dropout masks
        module = factory()
        y = module(x)
        dx = module.backward(dy)
        grads = [p.grad.copy() for p in module.parameters()]
        module.zero_grad()
        module(x)
        module.backward_params(dy)          # the other half-contract: parameters only
        only = [p.grad.copy() for p in module.parameters()]
    return [y, dx, *grads, *only]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("factory, shape", [c[1:] for c in MODULE_CASES], ids=[c[0] for c in MODULE_CASES])
def test_module_fast_equals_plain_bitwise(factory, shape, dtype):
    rng = np.random.default_rng(0)
    with default_dtype(dtype):
        x = rng.standard_normal(shape).astype(dtype)
        x.reshape(-1)[::5] = -0.0           # signed zeros in and out: the bytes must match
        mt.manual_seed(0)
        dy = rng.standard_normal(factory()(x).shape).astype(dtype)
        dy.reshape(-1)[1::4] = -0.0
        fast, plain = _module_run(factory, x, dy, True), _module_run(factory, x, dy, False)
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype
        if REORDERS_SUMS.intersection(type(m).__name__ for m in factory().modules()):
            tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
            np.testing.assert_allclose(a, b, **tol)
        else:
            assert_bitwise(a, b)


# ------------------------------------ every module: what a backward that fails leaves, kernels on and off
def _failing_backward_run(factory, x, dy, enabled, meddle=None):
    """Forward, ``meddle(module)``, then backward under ``np.errstate(all="raise")``: the error's
    type (or the dx), every Parameter's gradient, and each module's waiting calls and shown frame."""
    with kernels(enabled):
        mt.manual_seed(0)
        module = factory()
        module(x)
        if meddle is not None:
            meddle(module)
        with np.errstate(all="raise"):
            try:
                out = [module.backward(dy)]
            except (FloatingPointError, ValueError) as error:
                out = [type(error).__name__, str(error) if meddle is not None else ""]
        grads = [None if p.grad is None else p.grad for p in module.parameters()]
        frames = [(len(m.__dict__["_stack"]), m.__dict__["_shown"] is None) for m in module.modules()]
    return out, grads, frames


def _assert_same_failure(fast, plain, rounds):
    (out_f, grads_f, frames_f), (out_p, grads_p, frames_p) = fast, plain
    assert frames_f == frames_p, "waiting calls"
    assert len(out_f) == len(out_p) and [type(a) for a in out_f] == [type(b) for b in out_p]
    for a, b in zip(out_f + grads_f, out_p + grads_p, strict=True):
        assert (a is None) == (b is None)
        if isinstance(a, np.ndarray) and rounds:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        elif isinstance(a, np.ndarray):
            assert_bitwise(a, b)
        else:
            assert a == b


# (the layers that sum in other products, REORDERS_SUMS, are left out: a BLAS product can set the
# invalid flag inside it, e.g. inf * 0 in its packing, so which product raises, if any, is the BLAS's)
SAME_PRODUCTS = [c for c in MODULE_CASES
                 if not REORDERS_SUMS.intersection(type(m).__name__ for m in c[1]().modules())]


@pytest.mark.parametrize("factory, shape", [c[1:] for c in SAME_PRODUCTS], ids=[c[0] for c in SAME_PRODUCTS])
def test_module_backward_meeting_an_inf_under_errstate_raise_leaves_what_the_plain_one_leaves(factory, shape):
    """An inf in dy under ``np.errstate(all="raise")``: kernels on and off, the same outcome (a
    FloatingPointError or the same dx), the same gradients accumulated before it, and the same
    calls left waiting in every module (a layer's wrapper puts its frame back when its backward
    raises). The Linear/ReLU chain kernel consumed the failing child's call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    mt.manual_seed(0)
    dy = rng.standard_normal(factory()(x).shape).astype(np.float32)
    dy.reshape(-1)[0] = np.inf
    fast, plain = (_failing_backward_run(factory, x, dy, enabled) for enabled in (True, False))
    _assert_same_failure(fast, plain, False)


@pytest.mark.parametrize("factory, shape", [c[1:] for c in SAME_PRODUCTS], ids=[c[0] for c in SAME_PRODUCTS])
def test_module_backward_warns_for_a_float64_dy_past_float32_as_the_plain_one(factory, shape):
    """A float64 dy with one value past float32's range given to a float32 module under
    ``np.errstate(all="warn")``: kernels on and off, the same outcome and the same warnings, as
    many and in order (each backward half that casts dy warns). The Linear/ReLU chain kernel cast
    the dy once where a Linear's two halves cast it twice."""
    def run(enabled):
        with kernels(enabled):
            rng = np.random.default_rng(0)
            x = rng.standard_normal(shape).astype(np.float32)
            mt.manual_seed(0)
            module = factory()
            dy = rng.standard_normal(np.shape(module(x)))
            dy.reshape(-1)[0] = 1e300
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
                warnings.simplefilter("always")
                try:
                    out = [module.backward(dy)]
                except ValueError as error:
                    out = [str(error)]
            return out, [str(w.message) for w in caught]

    (out_f, warned_f), (out_p, warned_p) = run(True), run(False)
    assert warned_f == warned_p
    assert_same_outcome(out_f, out_p)


SAME_PRODUCT_INPUTS = [c for c in INPUT_CASES
                       if not ROUNDS_DIFFERENTLY.intersection(type(m).__name__ for m in c[1]().modules())]


def _with_inf(g):
    if isinstance(g, tuple):
        return tuple(_with_inf(v) for v in g)
    if g is not None:
        g = g.copy()
        g.reshape(-1)[0] = np.inf
    return g


@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in SAME_PRODUCT_INPUTS],
                         ids=[c[0] for c in SAME_PRODUCT_INPUTS])
def test_input_module_backward_meeting_an_inf_under_errstate_raise_leaves_what_the_plain_one_leaves(
        factory, make_inputs):
    """As above, for the modules of several, integer or nested inputs (embeddings, attention, max
    pooling's indices; the LSTM kernels, which round differently, left out)."""
    def run(enabled):
        with kernels(enabled):
            mt.manual_seed(0)
            module = factory()
            out = module(*make_inputs(np.random.default_rng(0)))
            with np.errstate(all="raise"):
                try:
                    result = _leaves(module.backward(_with_inf(_upstream(out, np.random.default_rng(1)))))
                except FloatingPointError:
                    result = ["FloatingPointError"]
            grads = [None if p.grad is None else p.grad for p in module.parameters()]
            return result, grads, [(len(m.__dict__["_stack"]), m.__dict__["_shown"] is None)
                                   for m in module.modules()]

    _assert_same_failure(run(True), run(False), False)


CONTAINER_CASES = [c for c in MODULE_CASES if type(c[1]()) is mt.Sequential]


def _children_inputs(factory, x):
    mt.manual_seed(0)
    inputs, h = [], x
    with mt.no_grad():
        for m in factory():
            inputs.append(h)
            h = m(h)
    return inputs


@pytest.mark.parametrize("factory, shape", [c[1:] for c in CONTAINER_CASES],
                         ids=[c[0] for c in CONTAINER_CASES])
def test_container_with_a_child_called_again_before_its_backward_kernels_on_and_off(factory, shape):
    """Each child of a Sequential called once more, on two rows of its input, between the
    Sequential's forward and its backward (a probe): kernels on and off, the same error (that
    child's backward refuses the chain's dy) or the same dx, gradients and waiting calls. The
    Linear/ReLU chain kernel broadcast a ReLU's one-row mask over the batch (a silent answer)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    mt.manual_seed(0)
    dy = rng.standard_normal(factory()(x).shape).astype(np.float32)
    for j, h in enumerate(_children_inputs(factory, x)):
        def probe(module, j=j, h=h):
            with np.errstate(all="ignore"):
                list(module)[j](h[:2])
        fast, plain = (_failing_backward_run(factory, x, dy, enabled, probe) for enabled in (True, False))
        _assert_same_failure(fast, plain, bool(REORDERS_SUMS.intersection(
            type(m).__name__ for m in factory().modules())))


MIXED_CHILDREN = [(f"{cid}-{i}", factory, shape, i) for cid, factory, shape in CONTAINER_CASES
                  for i, child in enumerate(factory()) if next(child.parameters(), None) is not None]


@pytest.mark.parametrize("factory, shape, index", [c[1:] for c in MIXED_CHILDREN],
                         ids=[c[0] for c in MIXED_CHILDREN])
def test_container_with_one_child_in_float64_fast_equals_plain_bitwise(factory, shape, index):
    """A Sequential whose child ``index`` is cast to float64 (each child casts at its door, and its
    backward casts dy to its dtype): kernels on and off, the same output, dx and gradients, dtypes
    and bytes. The Linear/ReLU chain kernel passed the float64 dy on uncast (a float64 dx and
    float32 gradients rounded once instead of twice)."""
    def run(enabled):
        with kernels(enabled):
            mt.manual_seed(0)
            module = factory()
            list(module)[index].to(np.float64)
            rng = np.random.default_rng(0)
            x = rng.standard_normal(shape).astype(np.float32)
            y = module(x)
            dx = module.backward(rng.standard_normal(y.shape).astype(y.dtype))
            return [y, dx, *(p.grad for p in module.parameters())]

    fast, plain = run(True), run(False)
    rounds = REORDERS_SUMS.intersection(type(m).__name__ for m in factory().modules())
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype
        if rounds:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            assert_bitwise(a, b)


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _leaves(v)]
    return [] if value is None else [value]


def _upstream(out, rng):
    """A random gradient in the output's structure, signed zeros among it; None for integer outputs."""
    if isinstance(out, tuple):
        return tuple(_upstream(o, rng) for o in out)
    if out is None or out.dtype.kind != "f":
        return None
    dy = rng.standard_normal(out.shape).astype(out.dtype)
    dy.reshape(-1)[1::4] = -0.0
    return dy


def _input_module_run(factory, inputs, enabled):
    with kernels(enabled):
        mt.manual_seed(0)
        module = factory()
        out = module(*inputs)
        grads = module.backward(_upstream(out, np.random.default_rng(1)))
        return [*_leaves(out), *_leaves(grads), *(p.grad for p in module.parameters())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in INPUT_CASES],
                         ids=[c[0] for c in INPUT_CASES])
def test_input_module_fast_equals_plain_bitwise(factory, make_inputs, dtype):
    """The modules of several, integer or nested inputs and tuple outputs (embeddings, recurrent
    layers, attention, max pooling's indices): kernels on and off give the same bytes."""
    def cast(a):
        if isinstance(a, tuple):
            return tuple(cast(v) for v in a)
        a = np.asarray(a)
        if a.dtype.kind != "f":
            return a
        a = a.astype(dtype)
        a.reshape(-1)[::5] = -0.0
        return a

    inputs = cast(make_inputs(np.random.default_rng(0)))
    with default_dtype(dtype):
        fast, plain = _input_module_run(factory, inputs, True), _input_module_run(factory, inputs, False)
    assert len(fast) == len(plain)
    rounds = ROUNDS_DIFFERENTLY.intersection(type(m).__name__ for m in factory().modules())
    for i, (a, b) in enumerate(zip(fast, plain, strict=True)):
        if rounds:
            assert a.dtype == b.dtype
            tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
            np.testing.assert_allclose(a, b, **tol, err_msg=f"array {i}")
        else:
            assert_bitwise(a, b, f"array {i}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ours, kind", [(c[1], c[3]) for c in LOSS_CASES], ids=[c[0] for c in LOSS_CASES])
def test_loss_fast_equals_plain_bitwise(ours, kind, reduction, dtype):
    rng = np.random.default_rng(0)
    x, t = make_data(kind, rng, n=6, c=5)
    x = x.astype(dtype)
    t = t if t.dtype.kind in "iu" else t.astype(dtype)
    results = []
    for enabled in (True, False):
        with kernels(enabled):
            loss_fn = ours(reduction)
            loss = loss_fn(x, t)
            dloss = 1.5 if reduction != "none" else np.linspace(-1, 2, np.size(loss)).reshape(np.shape(loss))
            results.append((loss, loss_fn.backward(dloss)))
    (loss_fast, dx_fast), (loss_plain, dx_plain) = results
    assert type(loss_fast) is type(loss_plain)
    assert_bitwise(loss_fast, loss_plain)
    assert dx_fast.dtype == dx_plain.dtype == dtype
    assert_bitwise(dx_fast, dx_plain)


def _trajectory(name, config, first_group, dtype, enabled):
    with kernels(enabled):
        mt.manual_seed(0)
        model = make_model().to(dtype)
        opt = OPTIMIZERS[name][0](groups(model, config, first_group), **config)
        loss_fn = mt.CrossEntropyLoss()
        for x, y in batches(20, dtype):
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()
    state = [v for s in opt.state_dict()["state"].values() for v in s.values()]
    return [p.data for p in model.parameters()], state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_optimizer_trajectory_fast_equals_plain(name, config, first_group, dtype):
    tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    p_fast, s_fast = _trajectory(name, config, first_group, dtype, True)
    p_plain, s_plain = _trajectory(name, config, first_group, dtype, False)
    for a, b in zip(p_fast, p_plain, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)
    assert len(s_fast) == len(s_plain)
    for a, b in zip(s_fast, s_plain, strict=True):
        np.testing.assert_allclose(a, b, **tol)


# The mixed classes: (data dtype, gradient dtype, settings as NumPy scalars). An optimizer kernel
# leaves a Parameter whose gradient's dtype differs from its data's, or whose dtype is not float32
# or float64, to the plain lines (their weak-scalar products round lr, betas and momentum in the
# gradient's dtype, and a momentum buffer starts in it): kernels on and off agree bitwise there.
# Settings given as NumPy float64 scalars are converted by ``step()`` as Python floats are.
MIXED_CLASSES = {
    "grad-float64": (np.float32, np.float64, False),
    "grad-float32": (np.float64, np.float32, False),
    "grad-float16": (np.float32, np.float16, False),
    "data-float16": (np.float16, np.float16, False),
    "data-float16-grad-float32": (np.float16, np.float32, False),
    "numpy-settings-float32": (np.float32, np.float32, True),
    "numpy-settings-float64": (np.float64, np.float64, True),
}


def _numpy_settings(settings):
    """``settings`` with every number a NumPy float64 scalar (a pair, a tuple of them)."""
    def cast(v):
        if isinstance(v, tuple):
            return tuple(cast(a) for a in v)
        return v if isinstance(v, bool) else np.float64(v)
    return None if settings is None else {k: cast(v) for k, v in settings.items()}


def _mixed_trajectory(name, config, first_group, mixed, enabled, limits, numpy_settings=None):
    """Six steps of ``name`` on the test MLP's Parameters (data of the class's dtype) with random
    gradients of the class's dtype; the SGD kernel's BLAS and flat limits as ``limits``."""
    data_dtype, grad_dtype, as_numpy = MIXED_CLASSES[mixed]
    as_numpy = as_numpy if numpy_settings is None else numpy_settings
    if as_numpy:
        config, first_group = _numpy_settings(config), _numpy_settings(first_group)
    rng = np.random.default_rng(5)
    with kernels(enabled), update_limits(*limits):
        mt.manual_seed(0)
        model = make_model().to(data_dtype)
        opt = OPTIMIZERS[name][0](groups(model, config, first_group), **config)
        for _ in range(6):
            for p in model.parameters():
                _give_grad(p, (0.5 * rng.standard_normal(p.data.shape)).astype(grad_dtype))
            opt.step()
            opt.zero_grad()
    state = [v for s in opt.state_dict()["state"].values() for v in s.values()]
    return [p.data for p in model.parameters()], state


@pytest.mark.parametrize("limits", [(16384, 16384), (4, 8)], ids=["shipped-limits", "low-limits"])
@pytest.mark.parametrize("mixed", list(MIXED_CLASSES))
@pytest.mark.parametrize("name, config, first_group", CONFIGS, ids=CONFIG_IDS)
def test_optimizer_fast_equals_plain_for_mixed_dtypes_and_numpy_settings(name, config, first_group, mixed,
                                                                         limits):
    """Every optimizer configuration on each mixed class, the SGD kernel's BLAS and flat-buffer
    limits as shipped and low (every array through BLAS, the first Parameter past the flat limit:
    ``sgd_step``'s own update): kernels on and off give the same bytes for a gradient of another
    dtype than its Parameter's and for float16 data (the kernels leave them to the plain lines);
    settings given as NumPy scalars give bitwise what Python floats give, kernels on and off, and
    the registry's tolerance between the two."""
    data_dtype, _, as_numpy = MIXED_CLASSES[mixed]
    with np.errstate(all="ignore"):  # (float16 moments may underflow: both paths alike)
        fast = _mixed_trajectory(name, config, first_group, mixed, True, limits)
        plain = _mixed_trajectory(name, config, first_group, mixed, False, limits)
        if as_numpy:
            for enabled, run in ((True, fast), (False, plain)):
                floats = _mixed_trajectory(name, config, first_group, mixed, enabled, limits, False)
                for a, b in zip([*run[0], *run[1]], [*floats[0], *floats[1]], strict=True):
                    assert_bitwise(np.asarray(a), np.asarray(b), "NumPy settings against Python floats")
    (p_fast, s_fast), (p_plain, s_plain) = fast, plain
    assert len(s_fast) == len(s_plain)
    for a, b in zip([*p_fast, *s_fast], [*p_plain, *s_plain], strict=True):
        a, b = np.asarray(a), np.asarray(b)  # (a state's step is an int)
        assert a.dtype == b.dtype
        if as_numpy:
            tol = {"rtol": 2e-5, "atol": 2e-6} if data_dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
            np.testing.assert_allclose(a, b, **tol)
        else:
            assert_bitwise(a, b, f"{mixed}: kernels on against off")


def test_the_switch_reaches_the_kernels(monkeypatch):
    """A kernel that is switched on is really called (and off, really not)."""
    from minitorch.kernels import layers as fast_layers

    calls = []
    original = fast_layers.linear_backward_params
    monkeypatch.setattr(fast_layers, "linear_backward_params", lambda *a: calls.append(1) or original(*a))
    layer = mt.Linear(3, 2)
    for enabled in (True, False):
        with kernels(enabled):
            layer(np.ones((2, 3), np.float32))
            layer.backward(np.ones((2, 2), np.float32))
    assert calls == [1]


def test_use_kernels_takes_a_bool():
    with pytest.raises(TypeError, match="use_kernels: enabled must be True or False"):
        use_kernels("no")


def test_environment_variable_turns_the_kernels_off():
    code = "import minitorch.kernels as k; print(k.kernels_enabled())"
    for value, expected in (("0", "False"), ("1", "True")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "MINITORCH_KERNELS": value}).stdout
        assert out.strip() == expected


# ------------------------------------------------------------------ the small-step kernels
def _ce_run(enabled, make_loss, z, y, dloss):
    with kernels(enabled):
        loss_fn = make_loss()
        loss = loss_fn(z, y)
        return loss, loss_fn.backward(dloss)


@pytest.mark.parametrize("enabled", [True, False], ids=["kernels", "plain"])
def test_signed_zeros_of_nll_and_cross_entropy_are_torchs(enabled):
    """The bytes torch gives: a one-class cross-entropy is -0.0 (-log_p with log_p = +0.0), NLLLoss's
    gradient is +0.0 off the targets whatever dl's sign (torch writes zeros, then -dl at the targets).
    (The kernels == plain registry compares bytes; torch is the reference for which bytes.)"""
    torch = pytest.importorskip("torch")
    z, y, dl = np.array([[1.5], [-2.0]]), np.array([0, 0]), np.array([-1.0, 2.0])
    loss, dz = _ce_run(enabled, lambda: mt.CrossEntropyLoss(reduction="none"), z, y, dl)
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(y), reduction="none")
    lt.backward(torch.tensor(dl))
    assert_bitwise(loss, lt.detach().numpy(), "loss")
    np.testing.assert_array_equal(dz, zt.grad.numpy())  # (torch's dz = dl - p * dl: its zeros' signs differ)
    x, y = np.log(np.full((3, 4), 0.25)), np.array([0, 1, 2])
    dl = np.array([-1.0, 1.0, 2.0])
    _, dx = _ce_run(enabled, lambda: mt.NLLLoss(reduction="none"), x, y, dl)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.nll_loss(xt, torch.tensor(y), reduction="none").backward(torch.tensor(dl))
    assert_bitwise(dx, xt.grad.numpy(), "dx")


CE_TARGETS = {
    "int64": lambda y: y, "int32": lambda y: y.astype(np.int32), "int8": lambda y: y.astype(np.int8),
    "uint8": lambda y: y.astype(np.uint8), "uint64": lambda y: y.astype(np.uint64),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", list(CE_TARGETS))
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("n, c", [(1, 1), (16, 3), (32, 10), (7, 130)])
def test_cross_entropy_kernel_equals_plain_bitwise(dtype, reduction, target, layout, n, c):
    """The common case (kernels/losses.cross_entropy_forward): every target dtype, any layout."""
    if target == "int8" and c > 127:
        pytest.skip("int8 holds class indices below 128 only")
    rng = np.random.default_rng(n * c)
    z = (rng.standard_normal((n, c)) * 4).astype(dtype)
    if layout == "transposed":
        z = np.ascontiguousarray(z.T).T
    y = CE_TARGETS[target](rng.integers(0, c, n))
    dlosses = [1.0, 2, np.float64(0.5)] if reduction != "none" else [np.linspace(-1, 1, n)]
    for dloss in dlosses:
        fast = _ce_run(True, lambda: mt.CrossEntropyLoss(reduction=reduction), z, y, dloss)
        plain = _ce_run(False, lambda: mt.CrossEntropyLoss(reduction=reduction), z, y, dloss)
        assert type(fast[0]) is type(plain[0])
        for a, b in zip(fast, plain, strict=True):
            assert np.asarray(a).dtype == np.asarray(b).dtype
            assert_bitwise(a, b)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 24), c=st.integers(1, 12), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["none", "sum"]))
def test_cross_entropy_kernel_of_contiguous_logits_equals_plain_bitwise(n, c, dtype, seed, reduction):
    """Contiguous logits (kernels/losses._ce_rows: the row max by ``reduceat``, flat broadcasts, the
    row sum column by column below ``SHORT_ROWS`` classes and NumPy's reduction from there): the
    plain code's losses and dz bitwise for any N and C, with zeros of both signs, a row whose max
    is both +0.0 and -0.0, tied maxima, and rows whose sum is exactly 1 (a loss of -0.0 or +0.0)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * rng.choice([1.0, 4.0, 40.0], (n, 1))
    z[rng.random((n, c)) < 0.2] = 0.0
    z[rng.random((n, c)) < 0.2] = -0.0
    rows = np.flatnonzero(rng.random(n) < 0.3)
    z[rows, rng.integers(0, c, len(rows))] = z[rows].max(axis=1)  # (a tie, where it lands elsewhere)
    if c > 1:
        z[0] = -np.abs(z[0]) - 1
        z[0, :2] = -0.0, 0.0
    z, y = z.astype(dtype), rng.integers(0, c, n)
    dloss = np.linspace(-1, 1, n) if reduction == "none" else 1.0
    fast = _ce_run(True, lambda: mt.CrossEntropyLoss(reduction=reduction), z, y, dloss)
    plain = _ce_run(False, lambda: mt.CrossEntropyLoss(reduction=reduction), z, y, dloss)
    for a, b in zip(fast, plain, strict=True):
        assert_bitwise(a, b)


@pytest.mark.parametrize("case", ["weight", "ignored", "ignore_index-0", "smoothing", "probabilities",
                                  "k-dim", "unbatched", "list"])
def test_cross_entropy_kernel_declines_and_the_plain_code_runs(case):
    """Outside its case the kernel returns None: the plain code gives the result, bitwise the same."""
    from minitorch.kernels import losses as fast_losses

    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 4, 6)
    make = mt.CrossEntropyLoss
    if case == "weight":
        make = lambda: mt.CrossEntropyLoss(weight=np.arange(1.0, 5.0, dtype=np.float32))  # noqa: E731
    elif case == "ignored":
        y[2] = -100
    elif case == "ignore_index-0":
        make = lambda: mt.CrossEntropyLoss(ignore_index=0)  # noqa: E731
    elif case == "smoothing":
        make = lambda: mt.CrossEntropyLoss(label_smoothing=0.2)  # noqa: E731
    elif case == "probabilities":
        y = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    elif case == "k-dim":
        z, y = rng.standard_normal((6, 4, 3)).astype(np.float32), rng.integers(0, 4, (6, 3))
    elif case == "unbatched":
        z, y = z[0], y[0]
    elif case == "list":
        z, y = z.tolist(), y.tolist()
    with kernels(True):
        assert fast_losses.cross_entropy_forward(make(), z, y) is None
    fast, plain = _ce_run(True, make, z, y, 1.0), _ce_run(False, make, z, y, 1.0)
    for a, b in zip(fast, plain, strict=True):
        assert_bitwise(a, b)


@pytest.mark.parametrize("bad, message", [
    (lambda z, y: (np.where(np.arange(12).reshape(4, 3) == 5, np.nan, z), y), r"NaN or \+inf"),
    (lambda z, y: (np.where(np.arange(12).reshape(4, 3) == 5, np.inf, z), y), r"NaN or \+inf"),
    (lambda z, y: (np.where(np.arange(12).reshape(4, 3) % 5 == 0, np.inf, -z * np.inf), y), r"NaN or \+inf"),
    (lambda z, y: (z, np.array([0, 1, 3, 0])), r"must lie in \[0, 3\)"),
    (lambda z, y: (z, np.array([0, -1, 2, 0])), r"must lie in \[0, 3\)"),
    (lambda z, y: (z, np.array([0, 1, 2])), r"expected target class indices \(4,\)"),
])
def test_cross_entropy_kernel_refuses_what_the_plain_code_refuses(bad, message):
    rng = np.random.default_rng(2)
    z, y = bad(rng.standard_normal((4, 3)), rng.integers(0, 3, 4))
    for enabled in (True, False):
        with kernels(enabled), pytest.raises(ValueError, match=message):
            mt.CrossEntropyLoss()(z, y)



@pytest.mark.parametrize("order", ["swapped-target", "swapped-logits"])
def test_cross_entropy_kernel_reads_targets_of_a_swapped_byte_order_as_the_plain_code(order):
    """A big-endian (non-native) target or logit array: the kernel declines (its unsigned view of y
    would misread a negative target as in range), the plain code checks and computes."""
    from minitorch.kernels import losses as fast_losses

    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 1, 2, 1])
    swapped = y.dtype.newbyteorder() if order == "swapped-target" else z.dtype.newbyteorder()
    if order == "swapped-target":
        y = y.astype(swapped)
    else:
        z = z.astype(swapped)
    with kernels(True):
        assert fast_losses.cross_entropy_forward(mt.CrossEntropyLoss(), z, y) is None
    fast = _ce_run(True, mt.CrossEntropyLoss, z, y, 1.0)
    plain = _ce_run(False, mt.CrossEntropyLoss, z, y, 1.0)
    for a, b in zip(fast, plain, strict=True):
        assert_bitwise(a, b)
    if order == "swapped-target":
        y[2] = -1
        for enabled in (True, False):
            with kernels(enabled), pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
                mt.CrossEntropyLoss()(z, y)



def test_cross_entropy_kernel_leaves_logits_of_no_class_to_the_plain_code():
    """(N, 0) logits: every target is out of range; kernels on and off raise the plain ValueError."""
    z, y = np.zeros((4, 0), np.float32), np.zeros(4, np.int64)
    for enabled in (True, False):
        with kernels(enabled), pytest.raises(ValueError, match=r"must lie in \[0, 0\)"):
            mt.CrossEntropyLoss()(z, y)

def test_cross_entropy_kernel_follows_each_call_through_its_per_layout_plan():
    """One loss object over changing batch sizes, dtypes, layouts and target dtypes, and options
    changed between calls (reduction, label_smoothing, ignore_index, weight): every call bitwise
    the plain code's, the plan of an earlier layout never applied to another."""
    rng = np.random.default_rng(6)
    options = [{}, {"reduction": "sum"}, {"label_smoothing": 0.1}, {"ignore_index": 1},
               {"weight": np.array([1.0, 2.0, 0.5])}, {"reduction": "none"}, {}]
    calls = []
    for n, dtype, ydtype, layout in [(16, np.float32, np.int64, "c"), (5, np.float32, np.int64, "c"),
                                     (16, np.float64, np.int64, "c"), (16, np.float32, np.int32, "c"),
                                     (16, np.float32, np.uint8, "t"), (16, np.float32, np.int64, "c")]:
        z = (rng.standard_normal((n, 3)) * 3).astype(dtype)
        if layout == "t":
            z = np.ascontiguousarray(z.T).T
        calls.append((z, rng.integers(0, 3, n).astype(ydtype)))
    results = {}
    for enabled in (True, False):
        with kernels(enabled):
            loss_fn, out = mt.CrossEntropyLoss(), []
            for option in options:
                for name, value in option.items():
                    if name == "weight":
                        del loss_fn.weight
                        loss_fn.register_buffer("weight", value)
                    else:
                        setattr(loss_fn, name, value)
                for z, y in calls:
                    if "weight" in option:  # the weight in the input's dtype (torch refuses two)
                        loss_fn.weight = option["weight"].astype(z.dtype)
                    loss = loss_fn(z, y)
                    dloss = 1.0 if loss_fn.reduction != "none" else np.linspace(-1, 1, len(z))
                    out.append((loss, loss_fn.backward(dloss)))
                for name in option:  # back to the defaults
                    if name == "weight":
                        del loss_fn.weight
                        loss_fn.weight = None
                    else:
                        setattr(loss_fn, name, {"reduction": "mean", "label_smoothing": 0.0,
                                                "ignore_index": -100}[name])
            results[enabled] = out
    for (la, da), (lb, db) in zip(results[True], results[False], strict=True):
        assert type(la) is type(lb)
        assert_bitwise(la, lb)
        assert da.dtype == db.dtype
        assert_bitwise(da, db)

CHAINS = {
    "linear-relu-linear": lambda: mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3)),
    "relu-first": lambda: mt.Sequential(mt.ReLU(), mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 2)),
    "no-bias": lambda: mt.Sequential(mt.Linear(4, 6, bias=False), mt.ReLU(), mt.Linear(6, 3)),
    "one-linear": lambda: mt.Sequential(mt.Linear(4, 3)),
    "relu-only": lambda: mt.Sequential(mt.ReLU()),
    "deep": lambda: mt.Sequential(*[m for _ in range(3) for m in (mt.Linear(4, 4), mt.ReLU())]),
    # declined by the kernel (the children are called one by one): the results must still agree;
    # and a large weight (forward and backward in the kernel, with the layer kernels' arithmetic)
    "frozen-first": lambda: mt.Sequential(mt.Linear(4, 5).requires_grad_(False), mt.ReLU(), mt.Linear(5, 2)),
    "shared": lambda: (lambda lin: mt.Sequential(lin, mt.ReLU(), lin))(mt.Linear(4, 4)),
    "other-layer": lambda: mt.Sequential(mt.Linear(4, 5), mt.Tanh(), mt.Linear(5, 2)),
    "big-weight": lambda: mt.Sequential(mt.Linear(4, 4200), mt.ReLU(), mt.Linear(4200, 2)),
    # children of two dtypes (each casts at its door; each child's backward casts dy to its own
    # dtype, so a float32 child after a float64 one gets a float32 dy, not the float64 product)
    "mixed-dtype": lambda: mt.Sequential(mt.Linear(4, 6).to(np.float32), mt.ReLU(),
                                         mt.Linear(6, 3).to(np.float64)),
    "mixed-big": lambda: mt.Sequential(mt.Linear(4, 4200).to(np.float64), mt.Linear(4200, 5).to(np.float32),
                                       mt.ReLU(), mt.Linear(5, 2).to(np.float64)),
    # one Parameter in two layers (weight tying): its gradient is the sum of both layers' terms
    "tied": lambda: (lambda a, b: (setattr(b, "W", a.W), mt.Sequential(a, mt.ReLU(), b))[1])(
        mt.Linear(4, 4), mt.Linear(4, 4)),
}


def _chain_run(make, x, dys, enabled, method):
    """Two forwards, then their backwards newest first; outputs, dx's, grads and the end state."""
    with kernels(enabled):
        mt.manual_seed(0)
        model = make()
        out = [model(x), model(x * 0.5)]
        grads = []
        for dy in reversed(dys):
            result = getattr(model, method)(dy)
            out.append(np.zeros(0) if result is None else result)
            grads += [np.zeros(0) if p.grad is None else p.grad.copy() for p in model.parameters()]
        state = [(len(m.__dict__["_stack"]), m.__dict__["_shown"],
                  [v for k, v in m.__dict__.items() if k in ("_x", "_mask")]) for m in model]
    return out + grads, state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("chain", list(CHAINS))
def test_sequential_chain_kernel_equals_plain_bitwise(chain, method, dtype):
    """kernels/containers.py: the same outputs, dx, gradients (summed over two calls) and frames."""
    rng = np.random.default_rng(3)
    with default_dtype(dtype):
        x = rng.standard_normal((5, 4)).astype(dtype)
        mt.manual_seed(0)
        out_features = CHAINS[chain]()(x).shape[1]
        dys = [rng.standard_normal((5, out_features)).astype(dtype) for _ in range(2)]
        fast, fast_state = _chain_run(CHAINS[chain], x, dys, True, method)
        plain, plain_state = _chain_run(CHAINS[chain], x, dys, False, method)
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype
        assert_bitwise(a, b)
    assert fast_state == plain_state == [(0, None, [None] * len(s[2])) for s in plain_state]


@pytest.mark.parametrize("chain", list(CHAINS))
def test_sequential_chain_kernel_hands_back_what_the_walk_records(chain):
    """kernels/containers.py's ``outputs`` / ``incoming`` lists (read by ``mt.Diagnostics``): each
    child's output and the gradient entering it, bitwise what the diagnostics walk (each child
    called, then backpropagated, one by one) records; the dy passed is recorded as given (a
    float64 dy for a float32 chain)."""
    from minitorch.diagnostics import probe
    from minitorch.kernels import containers as fast_containers

    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    with kernels(True):
        mt.manual_seed(0)
        walked = CHAINS[chain]()
        modules = list(walked)
        ys = probe.plan_forward(modules, x)
        dy = rng.standard_normal(ys[-1].shape)  # float64
        has = [next(m.parameters(), None) is not None for m in modules]
        dys = probe.plan_backward_params(modules, has.index(True) if True in has else len(has), dy)
        mt.manual_seed(0)
        fused = CHAINS[chain]()
        outputs: list = []
        incoming: list = []
        out = fast_containers.sequential_forward(fused, x, outputs)
        if out is NotImplemented:
            return  # declined (the callback then walks the chain itself)
        assert out is outputs[-1]
        if fast_containers.sequential_backward(fused, dy, True, incoming) is NotImplemented:
            assert incoming == []
            fused.backward_params(dy)
            return
    assert len(outputs) == len(ys) and len(incoming) == len(dys)
    for a, b in zip(outputs + incoming, ys + dys, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            assert_bitwise(a, b)
    assert incoming[-1] is (dy if True in has else None)
    for p, q in zip(fused.parameters(), walked.parameters(), strict=True):
        assert_bitwise(p.grad, q.grad)
    assert [len(m.__dict__["_stack"]) for m in fused] == [0] * len(modules)


def test_sequential_chain_kernel_runs_for_the_small_model_and_declines_otherwise():
    from minitorch.kernels import containers as fast_containers

    x = np.ones((2, 4), np.float32)
    with kernels(True):
        model = CHAINS["linear-relu-linear"]()
        assert fast_containers.sequential_forward(model, x) is not NotImplemented
        assert fast_containers.sequential_backward(model, np.ones((2, 3), np.float32), True) is None
        with mt.no_grad():
            assert fast_containers.sequential_forward(model, x) is NotImplemented
        for name in ("frozen-first", "shared", "other-layer"):
            model = CHAINS[name]()
            dy = np.ones_like(model(x))
            assert fast_containers.sequential_backward(model, dy, False) is NotImplemented
        model = CHAINS["big-weight"]()  # its forward and its backward run here
        y = fast_containers.sequential_forward(model, x)
        assert y is not NotImplemented
        assert fast_containers.sequential_backward(model, np.ones_like(y), False) is not NotImplemented


def test_sequential_chain_kernel_refuses_a_wrong_dy_and_leaves_the_call_waiting():
    model = CHAINS["linear-relu-linear"]()
    x = np.ones((2, 4), np.float32)
    with kernels(True):
        model(x)
        with pytest.raises(ValueError, match=r"Linear.backward: expected dy of the output's shape \(2, 3\)"):
            model.backward_params(np.ones((2, 4), np.float32))
        assert [len(m.__dict__["_stack"]) for m in model] == [1, 1, 1]
        model.backward_params(np.ones((2, 3), np.float32))
        assert [len(m.__dict__["_stack"]) for m in model] == [0, 0, 0]


def test_sequential_chain_kernel_runs_a_patched_method(monkeypatch):
    """A patched Linear/ReLU method (a probe, a hook) is called: the chain is then run child by child."""
    calls = []
    original = mt.ReLU.backward
    monkeypatch.setattr(mt.ReLU, "backward", lambda self, dy: calls.append(1) or original(self, dy))
    model = CHAINS["linear-relu-linear"]()
    with kernels(True):
        model(np.ones((2, 4), np.float32))
        model.backward_params(np.ones((2, 3), np.float32))
    assert calls == [1]


def _chain_outcome(make, x, dy, mode, meddle=None, errstate=None, method="backward"):
    """Forward, ``meddle(model)``, then ``model.backward(dy)`` (under ``errstate``) with the chain
    kernel taken ("fused"), declining ("declined": each child's own backward, kernels on) or with
    kernels off ("off"): the result or the error, every parameter's gradient, each child's waiting
    calls, and the result of running backward again with a finite dy (a retry after an error)."""
    from minitorch.kernels import containers as fast_containers

    declined = lambda *a, **k: NotImplemented  # noqa: E731
    saved = fast_containers.sequential_backward
    if mode == "declined":
        fast_containers.sequential_backward = declined
    try:
        with kernels(mode != "off"):
            mt.manual_seed(0)
            model = make()
            model(x)
            if meddle is not None:
                meddle(model)
            with np.errstate(**(errstate or {})), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = [getattr(model, method)(dy)]
                except (ValueError, FloatingPointError) as error:
                    out = [type(error).__name__, str(error)]
            out += [str(w.message) for w in caught]
            grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
            waiting = [(len(m.__dict__["_stack"]), m.__dict__["_shown"] is None,
                        [k for k in ("_x", "_mask") if m.__dict__.get(k) is not None]) for m in model]
            try:
                retry = [model.backward(np.where(np.abs(dy) < 1e30, dy, 1.0))]
            except (ValueError, RuntimeError) as error:
                retry = [type(error).__name__, str(error)]
            waiting_after = [len(m.__dict__["_stack"]) for m in model]
    finally:
        fast_containers.sequential_backward = saved
    return out, grads, waiting, retry, waiting_after


def _same_chain_outcomes(make, x, dy, **how):
    fused = _chain_outcome(make, x, dy, "fused", **how)
    for mode in ("declined", "off"):
        other = _chain_outcome(make, x, dy, mode, **how)
        for name, a, b in zip(("outcome", "grads", "waiting", "retry", "waiting after the retry"),
                              fused, other, strict=True):
            assert len(a) == len(b), f"{mode}: {name}: {a} vs {b}"
            for u, v in zip(a, b, strict=True):
                if u is None or v is None:
                    assert u is v, f"{mode}: {name}: {a} vs {b}"
                elif isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
                    assert_bitwise(u, v, f"{mode}: {name}")
                else:
                    assert u == v, f"{mode}: {name}: {a} vs {b}"


def _chain_data(chain, rng):
    mt.manual_seed(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    return x, rng.standard_normal(CHAINS[chain]()(x).shape)


@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("value", [np.inf, 1e300], ids=["inf", "overflows-float32"])
@pytest.mark.parametrize("mode", ["raise", "warn"])
@pytest.mark.parametrize("chain", list(CHAINS))
def test_sequential_chain_kernel_meets_floating_point_errors_as_the_children_do(chain, mode, value, method):
    """An inf (or a float64 value past float32's range) in dy under ``np.errstate(all=mode)``.
    "raise": the child whose arithmetic meets it raises FloatingPointError and its call is left
    waiting (its frame put back, as its backward wrapper puts it back), the children after it
    consumed; a retry finds what the children leave. The kernel left that child's call consumed (a
    retry then raised "called before forward"). "warn": the same warnings, as many: a Linear's two
    halves each cast a float64 dy to float32 (the kernel cast it once: one overflow warning fewer).
    The last child's cache is hidden before its cast raises, as its wrapper hides it (the kernel
    cast before taking the frame: the ReLU's mask stayed shown); ``backward_params`` of a chain
    without parameters reads no dy (the kernel cast it: an overflow warning)."""
    x, dy = _chain_data(chain, np.random.default_rng(11))
    dy[0, 0] = value
    _same_chain_outcomes(CHAINS[chain], x, dy, errstate={"all": mode}, method=method)


@pytest.mark.parametrize("chain", list(CHAINS))
def test_sequential_chain_kernel_meets_a_child_called_between_forward_and_backward(chain):
    """One child called again on one row between the chain's forward and its backward (a probe):
    that child's newest call is then the probe's, of another shape, and its backward refuses the
    chain's dy (ValueError naming it), the children after it consumed. The kernel broadcast a
    ReLU's one-row mask over the batch and returned a dx (a silent wrong answer), or met a
    Linear's one-row input in a matmul error with that child's call consumed."""
    x, dy = _chain_data(chain, np.random.default_rng(12))
    mt.manual_seed(0)
    widths, h = [], x
    for m in CHAINS[chain]():
        widths.append(h.shape[1])
        h = m(h)
    for j, width in enumerate(widths):
        def probe(model, j=j, width=width):
            model[j](np.ones((1, width), np.float32))
        _same_chain_outcomes(CHAINS[chain], x, dy, meddle=probe)


def test_sequential_chain_kernel_interrupted_at_any_line_leaves_what_the_children_leave():
    """A KeyboardInterrupt (Ctrl-C) at each line the chain kernel's backward runs, in turn (but the
    lines that put a frame back, which the backward wrapper's own handler matches): what is left is
    what an interrupted child-by-child backward can leave. The children after some child k are
    consumed with their gradients whole; k and the children before it still wait (k's frame put
    back, as its wrapper puts it back), those before k untouched. The kernel popped k's frame
    before its arithmetic and never put it back."""
    import inspect

    from minitorch.kernels import containers as fast_containers

    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    kept = rng.standard_normal((8, 8)).astype(np.float32)

    def setup():
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 8), mt.ReLU(), mt.Linear(8, 3))
        model[2].W.grad = kept.copy()  # a gradient kept from before: added to
        model(x)
        return model

    with kernels(True):
        model = setup()
        before = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
        model.backward(dy)
        after = [p.grad.copy() for p in model.parameters()]
        code = [f.__code__ for f in (fast_containers.sequential_backward,
                                     getattr(fast_containers, "_backward_child", None)) if f is not None]
        source, start = inspect.getsourcelines(fast_containers.sequential_backward)
        handler = {start + n for n, line in enumerate(source)
                   if "except BaseException" in line or "stack.append" in line or "stack[-1] is not" in line
                   or line.strip() == "raise"}
        runs = interrupted_at_each_line(setup, lambda model: model.backward(dy), lambda c: c in code,
                                        frozenset(handler))
        for line, model, _ in runs:
            waiting = [len(m.__dict__["_stack"]) for m in model]
            k = max([i for i, w in enumerate(waiting) if w] or [-1])
            assert waiting == [1] * (k + 1) + [0] * (len(waiting) - k - 1), f"line {line}: {waiting}"
            for i, m in enumerate(model):
                for p in m.parameters():
                    j = next(n for n, q in enumerate(model.parameters()) if q is p)
                    b, a = before[j], after[j]
                    if i > k:  # consumed: whole
                        assert_bitwise(p.grad, a, f"line {line}")
                    elif i < k:  # untouched
                        same = (p.grad is None) if b is None else np.array_equal(p.grad, b)
                        assert same, f"line {line}"
                    elif p.grad is not None and not (b is not None and np.array_equal(p.grad, b)):
                        assert_bitwise(p.grad, a, f"line {line}")
    assert line > 40  # (every line of the kernel, the last run not interrupted)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_kernel_finiteness_probe_takes_the_largest_logits(dtype):
    """The kernel checks finiteness with one dot product |z|.ravel() @ (2**-64, ...): logits near the
    dtype's largest value neither overflow it (no warning) nor leave the kernel."""
    from minitorch.kernels import losses as fast_losses

    big = np.finfo(dtype).max / 4  # a row spans big - (-big): finite
    z = np.array([[big, -big, 0.0], [3.0, big, -2.0]] * 3, dtype)
    y = np.array([0, 2] * 3)
    with kernels(True):
        assert fast_losses.cross_entropy_forward(mt.CrossEntropyLoss(), z, y) is not None
    fast = _ce_run(True, mt.CrossEntropyLoss, z, y, 1.0)
    plain = _ce_run(False, mt.CrossEntropyLoss, z, y, 1.0)
    for a, b in zip(fast, plain, strict=True):
        assert_bitwise(a, b)


# --------------------------------------------------------------------------- flat SGD (kernels/flat.py)
def _iris_run(enabled, dtype, steps=12, meddle=None, before_step=None):
    """The Iris-size step (4-16-3, SGD, cross-entropy) ``steps`` times; ``meddle(step, model, opt)``
    runs after each step's update (a user holding, replacing or casting arrays), ``before_step``
    between backward and the update. Returns the parameters after every step and each loss, and
    per step whether its gradients were in the flat buffer (the update then runs as one pass)."""
    from minitorch.kernels import flat

    rng = np.random.default_rng(5)
    with kernels(enabled), default_dtype(dtype):
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        out, flat_passes = [], []
        for step in range(steps):
            x, y = rng.standard_normal((16, 4)).astype(dtype), rng.integers(0, 3, 16)
            out.append(np.array(float(loss_fn(model(x), y))))
            model.backward_params(loss_fn.backward())
            if before_step is not None:
                before_step(step, model, opt)
            group = flat._groups.get(id(model[0].W))
            flat_passes.append(group is not None and all(
                p.grad is home for p, home in zip(model.parameters(), group.grads, strict=True)))
            opt.step()
            if meddle is not None:
                meddle(step, model, opt)
            opt.zero_grad()
            out += [p.data.copy() for p in model.parameters()]
    return out, flat_passes


def _same_training(meddle=None, dtype=np.float32, before_step=None):
    fast, passes = _iris_run(True, dtype, meddle=meddle, before_step=before_step)
    plain, plain_passes = _iris_run(False, dtype, meddle=meddle, before_step=before_step)
    assert not any(plain_passes)
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype
        assert_bitwise(a, b)
    return passes


@pytest.mark.parametrize("dtype", DTYPES)
def test_flat_sgd_trains_the_small_model_as_the_plain_update_bitwise(dtype):
    """After the first step (which moves the data into the flat buffer) every update is one pass."""
    passes = _same_training(dtype=dtype)
    assert not passes[0] and all(passes[1:])



@pytest.mark.parametrize("dtype", DTYPES)
def test_flat_sgd_follows_each_step_size_it_is_given(dtype):
    """The flat update keeps its step size as a 0-d array made again when lr changes: lr set by
    hand (as a scheduler sets it), to 0 and back, bitwise the plain updates."""
    def meddle(step, model, opt):
        group = opt.param_groups[0]
        group["lr"] = {2: 0.05, 3: 0.0, 4: 0.0, 5: 0.05, 6: 0.1}.get(step, group["lr"])
    passes = _same_training(meddle, dtype=dtype)
    assert all(passes[1:])

def test_flat_sgd_follows_a_replaced_data_array():
    """One Parameter's data replaced: the update is per Parameter while the group no longer holds
    it, then the group is forgotten and the Parameters adopted again (the others' data, views of
    the old buffer nothing else holds, move too): one pass again from the step after."""
    def meddle(step, model, opt):
        if step == 4:
            model[2].W.data = model[2].W.data * 0.5  # a new array: the flat pass would miss it
    passes = _same_training(meddle)
    assert all(passes[1:5]) and not passes[5] and all(passes[6:])


def test_flat_sgd_adopts_no_view_of_a_buffer_someone_else_holds():
    """One Parameter's data replaced while the user holds a view of the old buffer (through
    another Parameter's data): that buffer stays where it is, the update per Parameter, bitwise."""
    from minitorch.kernels import flat

    kept = {}

    def meddle(step, model, opt):
        if step == 4:
            kept["view"] = model[0].b.data[:3]  # its base: the group's buffer
            model[2].W.data = model[2].W.data * 0.5
        if step == 8:
            assert np.shares_memory(kept["view"], model[0].b.data)
            assert flat.group_holding(model[0].W) is None
    passes = _same_training(meddle)
    assert all(passes[1:5]) and not any(passes[5:])


def test_flat_sgd_never_overwrites_a_gradient_someone_holds():
    kept = {}

    def meddle(step, model, opt):
        if step == 3:
            kept["grad"], kept["copy"] = model[0].W.grad, model[0].W.grad.copy()
        if step == 6:
            kept["view"], kept["view_copy"] = model[2].b.grad[1:], model[2].b.grad[1:].copy()
    passes = _same_training(meddle)
    assert_bitwise(kept["grad"], kept["copy"])
    assert_bitwise(kept["view"], kept["view_copy"])
    assert all(passes[1:4]) and not any(passes[4:])  # held slots: new gradient arrays from then on


def test_flat_sgd_leaves_a_data_array_someone_holds_where_it_is():
    from minitorch.kernels import flat

    with kernels(True):
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        w = model[0].W.data
        before = w.copy()
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            loss_fn(model(np.ones((2, 4), np.float32)), np.array([0, 2]))
            model.backward_params(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        assert model[0].W.data is w and not np.array_equal(w, before)
        assert id(model[0].W) not in flat._groups


@pytest.mark.parametrize("when", ["cast", "deepcopy"])
def test_flat_sgd_after_a_cast_or_a_copy(when):
    import copy

    def meddle(step, model, opt):
        if step == 5 and when == "cast":
            model.to(np.float64)
        if step == 5 and when == "deepcopy":
            twin = copy.deepcopy(model)  # the copy's arrays are its own; the original trains on
            twin[0].W.data += 1.0
            for p in twin.parameters():
                assert all(p.data is not q.data and not np.shares_memory(p.data, q.data)
                           for q in model.parameters())
    _same_training(meddle)


def test_flat_sgd_uses_an_assigned_or_clipped_gradient():
    def before_step(step, model, opt):
        if step % 3 == 1:
            model[0].b.grad = model[0].b.grad * 2.0  # a new array: this step is not one pass
        if step % 3 == 2:
            mt.clip_grad_norm_(model.parameters(), 0.05)  # in place: still one pass
    passes = _same_training(before_step=before_step)
    assert passes == [False] + [step % 3 != 1 for step in range(1, 12)]


def test_flat_sgd_holds_no_parameter_alive():
    import gc
    import weakref

    from minitorch.kernels import flat

    with kernels(True):
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            loss_fn(model(np.ones((2, 4), np.float32)), np.array([0, 2]))
            model.backward_params(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        key, ref = id(model[0].W), weakref.ref(model[0].W)
        assert key in flat._groups
        del model, opt
        gc.collect()
        assert ref() is None and key not in flat._groups and key not in flat._homes


# ----------------------------------------------------------------------------------------------
# One-row inference shared with the twin (kernels/inference.py): each cut layer's columns are
# split between two processes. Every output element is a dot product of the same terms as in
# h @ W, but the BLAS picks its blocking of a matrix-vector product by the width of the matrix it
# is given, so a column of a half may add its products in another order than the same column of
# the whole (OpenBLAS 0.3.31: bitwise for the 784-512-256-10 model's cuts, not for every width).
# Hence the tolerance of the products that reorder sums (REORDERS_SUMS above).
INFER_TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

INFER_CHAINS = {
    "mlp784": ((784, 512, 256, 10), True),
    "odd": ((300, 700, 520, 3), True),  # columns cut at 256 and 192: a cut inside the BLAS's blocks
    "two-cut-no-tail": ((1024, 512, 300), False),  # the chain ends on a cut layer, without ReLU
}


def _infer_model(sizes, last_relu=False, bias=True, dtype=np.float32):
    rng = np.random.default_rng(3)
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [mt.Linear(n_in, n_out, bias=bias), mt.ReLU()]
    model = mt.Sequential(*(layers if last_relu else layers[:-1])).to(dtype)
    xs = [rng.standard_normal((1, sizes[0])).astype(dtype) for _ in range(4)]
    xs.append(np.zeros((1, sizes[0]), dtype))  # every ReLU input is its bias: ReLU at 0 exactly
    return model, xs


def _plain_infer(model, xs):
    with kernels(False), mt.no_grad():
        return [model(x) for x in xs]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("chain", list(INFER_CHAINS), ids=list(INFER_CHAINS))
@pytest.mark.parametrize("blas_threads", [1, 2])
def test_one_row_inference_shared_with_the_twin_equals_the_plain_chain(
        infer_twin, chain, bias, dtype, blas_threads):
    sizes, last_relu = INFER_CHAINS[chain]
    model, xs = _infer_model(sizes, last_relu, bias, dtype)
    with mt.threads.blas_threads(blas_threads):
        expected = _plain_infer(model, xs)
        for x, e in zip(xs, expected, strict=True):
            got = infer_twin.served(model, x)
            assert got.dtype == e.dtype and got.shape == e.shape
            np.testing.assert_allclose(got, e, **INFER_TOL[dtype])
    assert infer_twin.twin.shares(model[0].W.data)  # the weights the twin reads are the model's


def test_one_row_inference_declines_small_models_batches_and_other_chains(infer_twin):
    served = infer_twin._state["served"]
    small, _ = _infer_model((64, 128, 10))
    batch = np.ones((2, 784), np.float32)
    big, _ = _infer_model((784, 512, 256, 10))
    other = mt.Sequential(mt.Linear(784, 512), mt.Tanh(), mt.Linear(512, 10))
    with mt.no_grad():
        small(np.ones((1, 64), np.float32))
        big(batch)
        big(np.ones((1, 784), np.float64))  # another dtype: the plain path casts it
        other(np.ones((1, 784), np.float32))
    assert infer_twin._state["served"] == served
    assert not infer_twin.twin.shares(small[0].W.data) and not infer_twin.twin.shares(other[0].W.data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers", [
    lambda: [mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3)],
    lambda: [mt.ReLU(), mt.Linear(6, 8, bias=False), mt.ReLU()],
    lambda: [mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(), mt.Linear(256, 10)],
], ids=["iris", "relu-first-no-bias", "mlp784"])
def test_one_row_inference_alone_equals_the_plain_chain_bitwise(monkeypatch, layers, dtype):
    """Without the twin (here: one BLAS thread's rule) one row runs the chain in one loop with the
    children's own operations: bitwise the plain chain, and the children keep no cache."""
    from minitorch.kernels import inference

    monkeypatch.setattr(inference, "_threads_ok", lambda: False)
    ran, alone = [], inference._alone
    monkeypatch.setattr(inference, "_alone", lambda *a: ran.append(alone(*a)) or ran[-1])
    model = mt.Sequential(*layers()).to(dtype)
    n_in = next(m.in_features for m in model if isinstance(m, mt.Linear))
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal((1, n_in)).astype(dtype), np.zeros((1, n_in), dtype)):
        expected = _plain_infer(model, [x])[0]
        served = inference._state["served"]
        with kernels(True), mt.no_grad():
            got = model(x)
        assert inference._state["served"] == served and got is not x
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert_bitwise(got, expected)
        assert all(getattr(m, "_x", None) is None for m in model)
        assert ran and ran[-1] is got  # the loop ran (not the children one by one)


# ---------------------------------------------------------------- x @ W split along K (kernels/gemm.py)
needs_two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                     reason="the split runs one block per BLAS thread")


def _reordered_sum_bound(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """How far two groupings of the same K products per element may differ: each is within
    K * eps * (|x| @ |W|) of the exact sum (the textbook bound for a sum of K terms)."""
    eps = np.finfo(W.dtype).eps
    return 2 * x.shape[1] * eps * (np.abs(x).astype(np.float64) @ np.abs(W).astype(np.float64))


@needs_two_cores
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k, out", [(32, 784, 512), (128, 784, 512), (32, 512, 256), (100, 1000, 300),
                                       (3, 4000, 600), (1, 784, 512), (7, 300, 256), (512, 784, 512),
                                       (32, 785, 512), (32, 784, 10)])
@pytest.mark.parametrize("count", [1, 2])
def test_split_k_product_equals_x_at_W(dtype, n, k, out, count):
    """Split (2 threads, a short x, a large W): the same sums grouped by blocks of K, within the bound
    for reordered sums. Not split (1 thread, a long x, an odd K, a small W or small blocks): x @ W itself."""
    from minitorch import threads
    from minitorch.kernels import gemm

    rng = np.random.default_rng(n + k + out)
    x, W = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, out)).astype(dtype)
    with threads.blas_threads(count):
        split = gemm.parts(x, W)
        y = gemm.matmul(x, W)
        plain = x @ W
    assert y.dtype == plain.dtype and y.shape == plain.shape and y.flags.c_contiguous
    if not split:
        assert_bitwise(y, plain)
        return
    assert split == count == 2
    assert np.all(np.abs(y.astype(np.float64) - plain) <= _reordered_sum_bound(x, W))


@pytest.mark.parametrize("version, found", [("0.3.31", True), ("0.3.31.188.0", True), ("0.3.30", False),
                                            ("0.3.32.1", False), (None, False), ("dev", False)])
def test_split_k_uses_only_the_openblas_releases_checked(monkeypatch, version, found):
    """The batch routine crashed on small items in OpenBLAS 0.3.31 (below SMALL_ITEM, which the rule
    never sends); another release is not trusted with the same bound: it gets the plain product."""
    from minitorch import threads
    from minitorch.kernels import gemm

    class Lib:
        def __getattr__(self, name):
            return _Routine()

    class _Routine:
        def __call__(self, *args):
            return 2

    class Controller:
        internal_api, _symbol_prefix, _symbol_suffix, dynlib = "openblas", "", "", Lib()

    Controller.version = version
    monkeypatch.setattr(threads, "_controllers", lambda: [Controller()])
    batch = gemm._Batch()
    assert bool(batch.routines) is found
    assert (batch.num_threads is not None) is found


@needs_two_cores
def test_split_k_is_chosen_by_shape_for_the_784_512_256_10_step():
    from minitorch import threads
    from minitorch.kernels import gemm

    W1, W2, W3 = (np.zeros(s, np.float32) for s in ((784, 512), (512, 256), (256, 10)))
    with threads.blas_threads(2):
        if gemm._get_batch().num_threads is None or gemm._get_batch().num_threads() != 2:
            pytest.skip("no OpenBLAS batch routine, or its pool cannot run 2 threads here")
        chosen = {n: [gemm.parts(np.zeros((n, W.shape[0]), np.float32), W) for W in (W1, W2, W3)]
                  for n in (32, 128, 512)}
    with threads.blas_threads(1):
        assert gemm.parts(np.zeros((32, 784), np.float32), W1) == 0
    assert chosen == {32: [2, 2, 0], 128: [2, 2, 0], 512: [0, 0, 0]}
    assert gemm.parts(np.zeros((32, 784), np.float64), W1) == 0  # dtypes differ: x @ W decides
    assert gemm.parts(np.zeros((784, 32), np.float32).T, W1) == 0  # not C-contiguous


def _split_and_plain_under_errstate(x: np.ndarray, W: np.ndarray, **errstate: str) -> list[tuple]:
    """What ``x @ W`` and the split product each do under ``np.errstate(**errstate)`` on 2 threads:
    ("value", the result as a list, warnings) or ("raised", None, warnings)."""
    import warnings

    from minitorch import threads
    from minitorch.kernels import gemm

    with threads.blas_threads(2):
        if gemm.parts(x, W) != 2:
            pytest.skip("no OpenBLAS batch routine, or its pool cannot run 2 threads here")
        outcomes = []
        for product in (lambda: x @ W, lambda: gemm.matmul(x, W)):
            with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
                warnings.simplefilter("always")
                try:
                    outcomes.append(("value", product().tolist(), len(caught)))
                except FloatingPointError:
                    outcomes.append(("raised", None, len(caught)))
    return outcomes


@pytest.mark.parametrize("value", [5.1e35, 1e36], ids=["sum-overflows", "parts-overflow"])
@pytest.mark.parametrize("mode", ["raise", "warn", "ignore"])
def test_split_k_overflow_meets_the_callers_errstate_as_x_at_W(value, mode):
    """The partial products' BLAS call raises no NumPy flag: an overflow in a part (1e36) or in their
    sum (5.1e35: each half of K finite) must still warn or raise as ``x @ W`` does, or stay silent."""
    x, W = np.ones((32, 784), np.float32), np.full((784, 512), value, np.float32)
    plain, split = _split_and_plain_under_errstate(x, W, all=mode)
    assert plain == split
    assert plain[0] == ("raised" if mode == "raise" else "value")


@pytest.mark.parametrize("mode", ["raise", "warn", "ignore"])
def test_split_k_underflow_meets_the_callers_errstate_as_x_at_W(mode):
    """Products of 1e-20 underflow to subnormals: under errstate(under=...) the split product warns or
    raises as x @ W does (NumPy reads the flags of its own BLAS call only)."""
    x, W = np.full((32, 784), 1e-20, np.float32), np.full((784, 512), 1e-20, np.float32)
    plain, split = _split_and_plain_under_errstate(x, W, under=mode)
    assert plain == split
    assert plain[0] == ("raised" if mode == "raise" else "value")


@needs_two_cores
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_with_split_k_equals_the_plain_layer(dtype):
    """Linear(784, 512) at batch 32 on 2 threads: y within the bound of reordered sums (the bias added
    after), dx and the gradients bitwise (backward reads the same cached x)."""
    from minitorch import threads

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 784)).astype(dtype)
    dy = rng.standard_normal((32, 512)).astype(dtype)
    with default_dtype(dtype), threads.blas_threads(2):
        fast = _module_run(lambda: mt.Linear(784, 512), x, dy, True)
        plain = _module_run(lambda: mt.Linear(784, 512), x, dy, False)
        W = (mt.manual_seed(0), mt.Linear(784, 512))[1].W.data
    bound = _reordered_sum_bound(x, W)
    assert fast[0].dtype == plain[0].dtype == dtype
    bias_rounding = np.finfo(dtype).eps * np.abs(plain[0])
    assert np.all(np.abs(fast[0].astype(np.float64) - plain[0]) <= bound + bias_rounding)
    for a, b in zip(fast[1:], plain[1:], strict=True):
        assert_bitwise(a, b)


def test_the_kernels_call_the_openblas_numpy_uses(monkeypatch):
    """SciPy loads an OpenBLAS of its own: the kernels' BLAS routines (the update's axpy, the split
    product) come from NumPy's, whichever threadpoolctl lists first; without one inside NumPy's
    package (a NumPy linked to the system's OpenBLAS), the first found."""
    from pathlib import Path

    from minitorch import threads
    from minitorch.kernels import openblas

    class Controller:
        internal_api, _symbol_prefix, _symbol_suffix, dynlib, version = "openblas", "", "", None, "0.3.31"
        architecture = "Haswell"

        def __init__(self, filepath):
            self.filepath = filepath

    numpys = str(Path(np.__file__).resolve().parent) + ".libs/libscipy_openblas64_.so"
    scipys = "/elsewhere/scipy.libs/libscipy_openblas.so"
    theirs, ours = Controller(scipys), Controller(numpys)
    monkeypatch.setattr(threads, "_controllers", lambda: [theirs, ours])
    assert openblas.find().lib is None and openblas.find().release == (0, 3, 31)
    assert openblas.find().core == "Haswell"
    theirs.dynlib, ours.dynlib = "scipy's", "numpy's"
    assert openblas.find().lib == "numpy's"
    monkeypatch.setattr(threads, "_controllers", lambda: [theirs])
    assert openblas.find().lib == "scipy's"
    monkeypatch.setattr(threads, "_controllers", lambda: [])
    assert openblas.find() is None


# ------------------------------------------------- dy @ W.T with its operands swapped (kernels/gemm.py)
def _data_grad_and_plain(dy: np.ndarray, W: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    from minitorch import threads
    from minitorch.kernels import gemm

    with threads.blas_threads(count):
        return gemm.data_grad(dy, W), dy @ W.T


def _assert_fresh_c(got: np.ndarray, *inputs: np.ndarray) -> None:
    assert got.flags.c_contiguous and got.flags.owndata
    assert not any(np.shares_memory(got, a) for a in inputs)


def test_data_grad_swaps_only_on_a_checked_openblas_core(monkeypatch):
    """The swapped product equals dy @ W.T bitwise on some OpenBLAS kernels only (0.3.31's SkylakeX:
    yes, its Haswell: no): ``swaps`` says yes only on a core in SWAP_CHECKED_CORES of a release in
    CHECKED_OPENBLAS (NumPy's BLAS here decides ``swap_checked``); elsewhere data_grad is dy @ W.T."""
    from minitorch.kernels import gemm, openblas

    blas = openblas.find()
    assert gemm.swap_checked() == (blas is not None and blas.release in gemm.CHECKED_OPENBLAS
                                   and blas.core in gemm.SWAP_CHECKED_CORES)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((784, 512)).astype(np.float32)
    dy = rng.standard_normal((32, 512)).astype(np.float32)
    for core, swapped in (("SkylakeX", True), ("Haswell", False), ("Zen", False), ("Sandybridge", False),
                          (None, False)):
        monkeypatch.setattr(gemm, "_core", lambda core=core: core)
        assert gemm.swap_checked() == swapped and gemm.swaps(dy, W) == swapped
        if not swapped:
            assert_bitwise(gemm.data_grad(dy, W), dy @ W.T)
    monkeypatch.undo()
    if blas is not None:  # the core's name as OpenBLAS reports it (threadpoolctl's "architecture")
        import ctypes

        corename = blas.symbol("openblas_get_corename")
        if corename is not None:
            corename.restype, corename.argtypes = ctypes.c_char_p, []
            assert blas.core == corename().decode()


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 40), inp=st.sampled_from([64, 255, 512, 784, 1000]),
       k=st.sampled_from([10, 128, 255, 256, 300, 512, 1024]), dtype=st.sampled_from(DTYPES),
       count=st.sampled_from([1, 2]), layout=st.sampled_from(["C", "F", "strided"]),
       seed=st.integers(0, 2**32 - 1))
def test_data_grad_is_dy_at_W_T_bitwise(n, inp, k, dtype, count, layout, seed):
    """Swapped (a checked OpenBLAS core, float32, a short C-contiguous dy, a long K) or not, the values
    are dy @ W.T's, signed zeros and all, in a fresh C-contiguous array, at 1 and 2 BLAS threads."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((inp, k)).astype(dtype)
    base = rng.standard_normal((n, 2 * k)).astype(dtype)
    base[rng.random(base.shape) < 0.05] = -0.0
    base[0, :] = -0.0  # a row of zeros: every element of its dx is a sum of signed zeros
    dy = {"C": np.ascontiguousarray(base[:, :k]), "F": np.asfortranarray(base[:, :k]),
          "strided": base[:, ::2]}[layout]
    got, expected = _data_grad_and_plain(dy, W, count)
    _assert_fresh_c(got, dy, W)
    assert_bitwise(got, expected)


@pytest.mark.parametrize("n", [3, 8, 16, 31, 32, 33])
@pytest.mark.parametrize("inp, k", [(784, 512), (512, 256), (256, 10)])
@pytest.mark.parametrize("count", [1, 2])
def test_data_grad_of_the_784_512_256_10_model_is_bitwise(n, inp, k, count):
    """The products the chain kernels' backward sends (the swapped ones among them, asserted: on a
    checked OpenBLAS core, ``gemm.swap_checked``)."""
    from minitorch.kernels import gemm

    rng = np.random.default_rng(n * inp + k)
    W = rng.standard_normal((inp, k)).astype(np.float32)
    dy = rng.standard_normal((n, k)).astype(np.float32)
    assert gemm.swaps(dy, W) == (gemm.swap_checked() and n <= 32 and k >= 256
                                 and n * inp * k > gemm.SMALL_ITEM)
    got, expected = _data_grad_and_plain(dy, W, count)
    _assert_fresh_c(got, dy, W)
    assert_bitwise(got, expected)


def test_data_grad_swaps_by_shape_and_dtype(monkeypatch):
    """The rule on a checked OpenBLAS core (``swap_checked``, made true here on any BLAS)."""
    from minitorch.kernels import gemm

    monkeypatch.setattr(gemm, "swap_checked", lambda: True)
    W1, W2, W3 = (np.zeros(s, np.float32) for s in ((784, 512), (512, 256), (256, 10)))
    chosen = {n: [gemm.swaps(np.zeros((n, W.shape[1]), np.float32), W) for W in (W1, W2, W3)]
              for n in (1, 32, 33, 128, 512)}
    assert chosen == {1: [False] * 3, 32: [True, True, False], 33: [False] * 3, 128: [False] * 3,
                      512: [False] * 3}
    assert not gemm.swaps(np.zeros((32, 512)), W1.astype(np.float64))  # float64: not used
    assert not gemm.swaps(np.zeros((512, 32), np.float32).T, W1)  # dy not C-contiguous
    assert not gemm.swaps(np.zeros((32, 512), np.float32), np.asfortranarray(W1))
    assert not gemm.swaps(np.zeros((32, 256), np.float32), W1)  # shapes do not chain: dy @ W.T raises
    with pytest.raises(ValueError):
        gemm.data_grad(np.zeros((32, 256), np.float32), W1)


@pytest.mark.parametrize("mode", ["raise", "warn", "ignore"])
@pytest.mark.parametrize("first, third", [(3e38, 3e38), (np.inf, -np.inf)], ids=["overflow", "inf-inf"])
def test_data_grad_meets_the_callers_errstate_as_dy_at_W_T(mode, first, third):
    """The swapped product is NumPy's own matmul: an overflow (3e38 + 3e38) or an invalid value
    (inf - inf) warns or raises as dy @ W.T does, with the same values when it returns (swapped on a
    checked OpenBLAS core; elsewhere data_grad is dy @ W.T)."""
    import warnings

    from minitorch.kernels import gemm

    dy = np.ones((32, 512), np.float32)
    dy[:, 1::2] = -1
    W = np.full((784, 512), 1e10, np.float32)
    W[:, 0], W[:, 2] = first, third
    assert gemm.swaps(dy, W) == gemm.swap_checked()
    outcomes = []
    for product in (lambda: dy @ W.T, lambda: gemm.data_grad(dy, W)):
        with warnings.catch_warnings(record=True) as caught, np.errstate(all=mode):
            warnings.simplefilter("always")
            try:
                outcomes.append(("value", product(), sorted(str(w.message) for w in caught)))
            except FloatingPointError as error:
                outcomes.append(("raised", str(error), sorted(str(w.message) for w in caught)))
    assert_same_outcome(outcomes[1], outcomes[0])
    assert outcomes[0][0] == ("raised" if mode == "raise" else "value")


# ----------------------------------------------------------------- the whole-step kernel (kernels/step.py)
def _layers(widths, relus, bias):
    """Linear(widths[0], widths[1]), [ReLU()], ..., one Linear per pair; ``relus[i]``: a ReLU after
    the i-th Linear (the last Linear's too: the chain may end in a ReLU)."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(mt.Linear(a, b, bias=bias))
        if relus[i]:
            layers.append(mt.ReLU())
    return layers


def _state_of(model, loss_fn, opt):
    """What a later call could read: every module's frames and cache attributes, every gradient,
    the optimizer's state."""
    seen = []
    for m in [*model.modules(), loss_fn]:
        d = m.__dict__
        caches = {k: v for k, v in d.items() if k[0] == "_" and k not in
                  ("_parameters", "_modules", "_buffers", "_init_args", "_stack", "_frame", "_shown", "_busy")
                  and not callable(v)}
        seen.append((type(m).__name__, len(d["_stack"]), d["_shown"], d["_frame"], d["_busy"],
                     sorted(k for k, v in caches.items() if v is not None)))
    grads = [p.grad for p in model.parameters()]
    return seen, grads, dict(opt.state)


def _steps(config, mode, meddle=None):
    """``config``'s model trained for its steps; ``mode``: "fused" (``fit_step``, the five calls
    where it declines, as fit runs them), "calls" (the five calls, kernels on) or "plain" (kernels
    off). Returns every output, loss and parameter after each step, what a later call could read
    after each step, and the steps ``fit_step`` took."""
    from minitorch.kernels.step import fit_step

    widths, relus, bias, dtype, n, reduction, lr, steps, seed, *layout = config
    fortran, target_dtype, mixed = (*layout, None)[:3] if layout else (False, np.int64, None)
    rng = np.random.default_rng(seed)
    taken, out, states = [], [], []
    with kernels(mode != "plain"), default_dtype(dtype):
        mt.manual_seed(seed)
        model = mt.Sequential(*_layers(widths, relus, bias))
        loss_fn, opt = mt.CrossEntropyLoss(reduction=reduction), mt.SGD(model.parameters(), lr=lr)
        x_dtype = _mixed_settings(opt, mixed, dtype)
        for step in range(steps):
            x = rng.standard_normal((n, widths[0])).astype(x_dtype, order="F" if fortran else "C")
            y = rng.integers(0, widths[-1], n).astype(target_dtype)
            if meddle is not None:
                x, y = meddle(step, model, loss_fn, opt, x, y)
            done = fit_step(model, loss_fn, opt, x, y) if mode == "fused" else NotImplemented
            taken.append(done is not NotImplemented)
            if done is NotImplemented:
                z = model(x)
                loss = loss_fn(z, y)
                model.backward_params(loss_fn.backward())
                opt.step()
                opt.zero_grad()
            else:
                z, loss = done
            assert type(loss) is LossValue
            out += [z, np.array(float(loss)), *(p.data.copy() for p in model.parameters())]
            states.append(_state_of(model, loss_fn, opt))
    return out, states, taken


# The mixed classes of the step kernels' registries: an input of another dtype than the model's
# (declined: the layers cast it at the door), settings as NumPy scalars or a 0-d array (a scheduler
# may leave one), momentum and weight decay 0 as NumPy scalars (the kernels' case still), maximize
# (the kernels' case too: the flat update's step is -lr).
STEP_MIXED = [None, "x-other-dtype", "lr-float64-scalar", "lr-float32-scalar", "lr-0d-array",
              "zero-settings-float64-scalars", "maximize"]


def _mixed_settings(opt, mixed, dtype):
    """The class ``mixed`` set on ``opt``'s groups; returns the input's dtype."""
    for group in opt.param_groups:
        if mixed == "lr-float64-scalar":
            group["lr"] = np.float64(group["lr"])
        elif mixed == "lr-float32-scalar":
            group["lr"] = np.float32(group["lr"])
        elif mixed == "lr-0d-array":
            group["lr"] = np.array(group["lr"])
        elif mixed == "maximize":
            group["maximize"] = True
        elif mixed == "zero-settings-float64-scalars":
            for name in ("momentum", "dampening", "weight_decay"):
                if name in group and not group[name]:
                    group[name] = np.float64(0.0)
    if mixed == "x-other-dtype":
        return np.float64 if np.dtype(dtype) == np.float32 else np.float32
    return dtype


def _same_steps(config, meddle=None):
    fused, fused_states, taken = _steps(config, "fused", meddle)
    for mode in ("calls", "plain"):
        other, other_states, _ = _steps(config, mode, meddle)
        assert len(fused) == len(other)
        for a, b in zip(fused, other, strict=True):
            assert_bitwise(a, b, f"fused against {mode}")
        for a, b in zip(fused_states, other_states, strict=True):
            assert a[0] == b[0] and a[2] == b[2]
            assert all(g is None for g in a[1]) and all(g is None for g in b[1])
    return taken


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.integers(1, 20), min_size=2, max_size=5), data=st.data(),
       bias=st.booleans(), dtype=st.sampled_from(DTYPES), n=st.integers(1, 33),
       reduction=st.sampled_from(["mean", "sum"]), lr=st.sampled_from([0.1, 0.01, 0.0]),
       fortran=st.booleans(), target_dtype=st.sampled_from([np.int64, np.int32, np.uint8]),
       mixed=st.sampled_from(STEP_MIXED), row_from=st.sampled_from([None, 1]))
def test_fit_step_kernel_equals_the_five_calls_bitwise(widths, data, bias, dtype, n, reduction, lr, fortran,
                                                        target_dtype, mixed, row_from):
    """Over chains of Linear and ReLU layers (any widths, with or without bias and ReLUs, one class
    or more), batch sizes, dtypes, reductions, data in either order and targets of three integer
    dtypes, and the mixed classes (``STEP_MIXED``): every output, loss and parameter after each
    step bitwise the five calls' (kernels on and off), every gradient None, no frame waiting and
    no cache attribute set after each step; the kernel takes every step but the first (which
    moves the Parameters into the flat buffer) for a model of two Parameters or more, and none
    of an input of another dtype. ``row_from`` 1: every kernel ReLU of a C-contiguous input takes its
    rows against a zero row (``kernels/relu.py``), which these sizes are below."""
    relus = data.draw(st.lists(st.booleans(), min_size=len(widths) - 1, max_size=len(widths) - 1))
    config = (widths, relus, bias, dtype, n, reduction, lr, 4, 0, fortran, target_dtype, mixed)
    with row_zero_from(row_from):
        taken = _same_steps(config)
    # (a flat group holds two Parameters or more; larger weights run child by child)
    flat = (len(widths) - 1) * (1 + bias) >= 2
    small = max(a * b for a, b in itertools.pairwise(widths)) * np.dtype(dtype).itemsize < 65536
    assert taken == [False] + [small and flat and mixed != "x-other-dtype"] * 3


def _meddled(meddle, steps=6):
    return _same_steps(((4, 16, 3), (True, False), True, np.float32, 16, "mean", 0.1, steps, 1), meddle)


def test_fit_step_kernel_takes_the_iris_step():
    assert _meddled(None) == [False] + [True] * 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_step_kernel_relu_mask_is_the_sign_of_the_relu_output(dtype):
    """What fit_step's backward takes for a ReLU's mask, sign(y) of its output y = max(h, 0), is
    the chain kernel's (y != 0) in y's dtype, bit for bit, for h of either zero, subnormal, huge,
    infinite and ordinary values, and raises no floating-point error (NaN aside: a NaN y stops
    the step before its backward)."""
    tiny = np.finfo(dtype).smallest_subnormal
    h = np.array([0.0, -0.0, tiny, -tiny, 1.0, -1.0, np.finfo(dtype).max, -np.inf, np.inf, 3e-3], dtype)
    h = np.concatenate([h, np.random.default_rng(0).standard_normal(40).astype(dtype)])
    zero = np.zeros((), dtype)
    for y in (np.maximum(h, zero), np.maximum(zero, h), np.array([-0.0, 0.0], dtype)):
        with np.errstate(all="raise"):
            mask = np.sign(y)
        assert_bitwise(mask, (y != zero).astype(dtype), "sign(y) against (y != 0)")


@pytest.mark.parametrize("case", ["momentum", "weight_decay", "frozen", "held-grad", "kept-grad",
                                  "replaced-data", "waiting-forward", "float64-input", "list-input",
                                  "target-out-of-range",
                                  "nan-input", "patched-forward", "patched-class", "patched-kernel",
                                  "no_grad-parent",
                                  "label_smoothing", "weight", "second-group", "state", "in-features",
                                  "reshaped-in-place", "weight-reshaped-in-place", "retyped-child",
                                  "replaced-bias-data", "large-batch", "out-features", "interrupted-forward",
                                  "lr-none", "momentum-none", "nesterov-missing", "patched-optimizer-helper",
                                  "retyped-in-place", "replaced-dict", "patched-waiting-check"])
def test_fit_step_kernel_declines_and_the_five_calls_run(case, monkeypatch):
    """Anything outside the kernel's case: it declines with nothing done (no frame left, no
    gradient, no Parameter moved); the five calls then run as without the kernel."""
    with kernels(True):
        _decline(case, monkeypatch)


def _decline(case, monkeypatch):
    from minitorch.kernels import step as fast_step

    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
    loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
    assert fast_step.fit_step(model, loss_fn, opt, x, y) is not NotImplemented  # its case, before meddling
    before = [p.data.copy() for p in model.parameters()]
    spare = mt.Linear(4, 8)
    if case == "momentum":
        opt.param_groups[0]["momentum"] = 0.9
    elif case == "weight_decay":
        opt.param_groups[0]["weight_decay"] = 0.1
    elif case == "frozen":
        model[2].b.requires_grad = False
    elif case == "held-grad":
        model[0].W.grad = None
        held = opt.param_groups[0]["params"][0]
        from minitorch.kernels import flat
        view = flat._groups[id(held)].grads[0][:1]  # someone holds a view of the gradient buffer
    elif case == "kept-grad":  # a gradient kept from a step of the five calls: never written over
        loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step()
        view = model[2].b.grad
        opt.zero_grad()
        before = [p.data.copy() for p in model.parameters()]
    elif case == "replaced-data":
        model[2].W.data = model[2].W.data.copy()
    elif case == "replaced-bias-data":
        model[2].b.data = model[2].b.data.copy()
    elif case == "large-batch":  # a ReLU input of SMALL_WEIGHT_BYTES: the chain kernel's own call
        x, y = np.tile(x, (410, 1)), np.tile(y, 410)
    elif case == "waiting-forward":
        spare.W = model[0].W
        spare(x)  # another owner of model[0]'s W waits for its backward: step() would raise
    elif case == "float64-input":
        x = x.astype(np.float64)
    elif case == "list-input":
        x = x.tolist()
    elif case == "target-out-of-range":
        y = y + 3
    elif case == "nan-input":
        x[0, 0] = np.nan
    elif case == "patched-forward":
        model.forward = lambda v: mt.Sequential.forward(model, v)  # as mt.Diagnostics patches it
    elif case == "patched-class":
        relu_backward = mt.ReLU.backward
        monkeypatch.setattr(mt.ReLU, "backward", lambda self, dy: relu_backward(self, dy))  # a probe
    elif case == "patched-kernel":  # a counter on a kernel the five calls run (it must run)
        from minitorch.kernels import losses as loss_kernels
        ce_forward = loss_kernels.cross_entropy_forward
        monkeypatch.setattr(loss_kernels, "cross_entropy_forward", lambda *a: ce_forward(*a))
    elif case == "no_grad-parent":
        pass
    elif case == "label_smoothing":
        loss_fn.label_smoothing = 0.1
    elif case == "weight":
        loss_fn.weight = np.ones(3, np.float32)
    elif case == "second-group":
        opt.add_param_group({"params": [mt.Parameter(np.zeros(2, np.float32))]})
    elif case == "state":
        opt.state[model[0].W] = {"momentum_buffer": None}
    elif case == "in-features":  # (the objects the kernel saw at its last step all stay the same)
        model[2].in_features = 5
    elif case == "reshaped-in-place":
        model[2].b.data.shape = (1, 3)
    elif case == "weight-reshaped-in-place":
        model[2].W.data.shape = (3, 8)
    elif case == "retyped-child":
        model[1].__class__ = type("OtherReLU", (mt.ReLU,), {})
    elif case == "out-features":  # the five calls refuse the loss's dy: (5, 3) is not the (5, 4) it expects
        model[2].out_features = 4
    elif case == "interrupted-forward":  # a cache left set with no call waiting (the five calls' step
        # sets it None; the kernel's would leave it; no library path leaves one: see the test below)
        model[0].__dict__["_x"] = x
    elif case == "lr-none":  # SGD.step raises float()'s TypeError after the backward (gradients set)
        opt.param_groups[0]["lr"] = None
    elif case == "momentum-none":
        opt.param_groups[0]["momentum"] = None
    elif case == "nesterov-missing":  # SGD.step's KeyError
        del opt.param_groups[0]["nesterov"]
    elif case == "patched-optimizer-helper":  # a probe on a method SGD.step calls (the class's is watched)
        match_state_dtypes = opt._match_state_dtypes
        opt._match_state_dtypes = lambda: match_state_dtypes()
    elif case == "retyped-in-place":  # a view's dtype set in place (float32 -> int32): no assignment
        model[2].b.data.dtype = np.int32
    elif case == "replaced-dict":  # the model's __dict__ replaced by one with a patched forward
        model.__dict__ = {**model.__dict__, "forward": lambda v: mt.Sequential.forward(model, v)}
    elif case == "patched-waiting-check":  # a probe on the instance: step() would call it
        check = opt._check_no_waiting_forward
        opt._check_no_waiting_forward = lambda: check()
    if case == "no_grad-parent":
        with mt.no_grad():
            assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
    else:
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
    if case in ("held-grad", "kept-grad"):
        del view
    assert all(len(m.__dict__["_stack"]) == 0 for m in [*model.modules(), loss_fn])
    assert all(p.grad is None for p in model.parameters())
    if case == "retyped-in-place":
        model[2].b.data.dtype = np.float32
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data.ravel(), b.ravel())  # ("reshaped-in-place" keeps the numbers)


def test_fit_step_kernel_sees_a_number_changed_in_place_after_its_copy():
    """The kernel copies the modules' dicts once it has checked them and, while they compare equal,
    does not check them again: a Linear's ``in_features`` that could change in place (a 0-d array)
    is outside its case, so a change made to it in place is never hidden by the copy."""
    from minitorch.kernels import step as fast_step

    with kernels(True):
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
        loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is not NotImplemented
        model[2].in_features = np.array(8)  # equal to 8, and then the dict changes (a new key)
        model[2].note = "changed"
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
        model[2].in_features[...] = 5  # what the five calls read now: their Linear refuses x
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
        with pytest.raises(ValueError):
            model(x)


def test_fit_step_kernel_with_a_second_owner_of_a_parameter_checks_it_at_every_step():
    """A module outside the chain that owns one of its Parameters from the start (weight tying):
    the kernel takes the steps while that module has no forward waiting, and declines (so that
    ``step()`` raises) once it has one, with no new registration in between."""
    from minitorch.kernels import step as fast_step

    with kernels(True):
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        spare = mt.Linear(4, 8)
        spare.W = model[0].W
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
        loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        for _ in range(2):
            assert fast_step.fit_step(model, loss_fn, opt, x, y) is not NotImplemented
        spare(x)
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
        with pytest.raises(RuntimeError, match="forward call"):
            loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step()


@pytest.mark.parametrize("bad, error, message", [(np.nan, ValueError, "finite"),
                                                 (np.inf, RuntimeWarning, "invalid value encountered")])
def test_fit_step_kernel_declined_step_meets_the_plain_error(bad, error, message):
    """Non-finite logits: the kernel declines and the five calls raise the plain error. An inf in
    the data makes the first product warn (an error in this suite) in the kernel as in the plain
    layer: the same warning, raised before anything changed."""
    def meddle(step, model, loss_fn, opt, x, y):
        if step == 3:
            x = x.copy()
            x[2, 1] = bad
        return x, y
    for mode in ("fused", "calls", "plain"):
        with pytest.raises(error, match=message):
            _steps(((4, 16, 3), (True, False), True, np.float32, 16, "mean", 0.1, 6, 1), mode, meddle)


def test_fit_trains_the_same_with_its_whole_step_kernel(monkeypatch):
    """mt.fit with the kernel (it takes every step after the first) and without: the same history
    and parameters, bitwise."""
    from minitorch.kernels import step as fast_step

    taken = []
    counting = counted(fast_step.fit_step, taken)
    X, Y = fit_data()
    results = []
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    for fused in (True, False):
        monkeypatch.setattr(fast_step, "fit_step", counting if fused else lambda *a: NotImplemented)
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        opt = mt.SGD(model.parameters(), lr=0.1)
        history = mt.fit(model, mt.CrossEntropyLoss(), opt, mt.DataLoader(X, Y, batch_size=16, shuffle=False),
                         epochs=3, verbose=0)
        results.append((history, [p.data.copy() for p in model.parameters()]))
    assert taken and not taken[0] and all(taken[1:])
    (h1, p1), (h2, p2) = results
    assert h1["loss"] == h2["loss"]
    for a, b in zip(p1, p2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_step_kernel_two_models_in_turn_each_step_bitwise_its_own():
    """Two models trained step by step in turn (the kernel keeps what it found for the last model
    it stepped): every parameter bitwise the same models trained by the five calls, kernels off."""
    from minitorch.kernels.step import fit_step

    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(6)]
    results = []
    for fused in (True, False):
        with kernels(fused):
            mt.manual_seed(1)
            setups = []
            for width in (16, 5):
                model = mt.Sequential(mt.Linear(4, width), mt.ReLU(), mt.Linear(width, 3))
                setups.append((model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)))
            taken = []
            for x, y in batches:
                for model, loss_fn, opt in setups:
                    done = fit_step(model, loss_fn, opt, x, y) if fused else NotImplemented
                    taken.append(done is not NotImplemented)
                    if done is NotImplemented:
                        loss_fn(model(x), y)
                        model.backward_params(loss_fn.backward())
                        opt.step()
                        opt.zero_grad()
            results.append([p.data.copy() for model, _, _ in setups for p in model.parameters()])
            if fused:
                assert taken == [False, False] + [True] * 10
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "in turn")


def test_fit_step_kernel_keeps_no_model_alive():
    """What the kernel keeps for the model it last stepped goes when the model is collected."""
    import gc
    import weakref

    from minitorch.kernels import step as fast_step

    with kernels(True):
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        x, y = np.ones((5, 4), np.float32), np.arange(5) % 3
        for _ in range(3):
            if fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented:
                loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        assert fast_step._last[0] is not None
        child, weight = weakref.ref(model[0]), weakref.ref(model[0].W)
        del model, loss_fn, opt
        gc.collect()
        assert child() is None and weight() is None and fast_step._last[0] is None


@pytest.mark.parametrize("dropped", ["optimizer", "loss"])
def test_fit_step_kernel_keeps_no_optimizer_or_loss_alive(dropped):
    """What the kernel keeps for the model it last stepped (its children and Parameters, the
    optimizer's group, the flat group) goes when the optimizer or the loss is collected, the model
    still alive; with a new optimizer the kernel takes the steps again, bitwise the five calls'."""
    import gc
    import weakref

    from minitorch.kernels import step as fast_step

    def steps(model, loss_fn, opt, fused):
        x, y = np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4), np.arange(5) % 3
        taken = []
        for _ in range(3):
            done = fast_step.fit_step(model, loss_fn, opt, x, y) if fused else NotImplemented
            taken.append(done is not NotImplemented)
            if done is NotImplemented:
                loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        return taken

    results = []
    for fused in (True, False):
        with kernels(True):
            mt.manual_seed(0)
            model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
            loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
            steps(model, loss_fn, opt, fused)
            if fused:
                assert fast_step._last[0] is not None
                gone = weakref.ref(opt if dropped == "optimizer" else loss_fn)
            if dropped == "optimizer":
                del opt
                opt = mt.SGD(model.parameters(), lr=0.05)
            else:
                del loss_fn
                loss_fn = mt.CrossEntropyLoss()
            gc.collect()
            if fused:
                assert fast_step._last[0] is None
                assert gone() is None
            taken = steps(model, loss_fn, opt, fused)
            if fused:
                assert taken == [True] * 3
            results.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "a parameter")


def test_fit_step_kernel_a_collected_model_drops_only_its_own_setup():
    """A setup that outlives its turn (a thread inside a step, a traceback holding the step's frame)
    still calls back when its model is collected: the setup kept for another model stays."""
    import gc

    from minitorch.kernels import step as fast_step

    def trained():
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        x, y = np.ones((5, 4), np.float32), np.arange(5) % 3
        for _ in range(2):
            if fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented:
                loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        return model, loss_fn, opt

    with kernels(True):
        first = trained()
        outlived = fast_step._last[0]
        second = trained()
        kept = fast_step._last[0]
        assert outlived is not None and kept is not outlived and kept.refs[0]() is second[0]
        del first
        gc.collect()
        assert outlived.refs[0]() is None and fast_step._last[0] is kept


@pytest.mark.parametrize("limit", [65536, 64], ids=["small-weights", "large-weights"])
@pytest.mark.parametrize("where", [0, 2])
def test_chain_forward_that_raises_leaves_what_the_plain_forward_leaves(where, limit):
    """A product that raises (a floating-point error under errstate raise) in the chain kernel's
    forward leaves what the children's own forwards leave (kernels off): the child that raised has
    no cache set and no call waiting; the children before it wait for their backward. Also with
    every weight and ReLU input counted large (``gemm.matmul``, the pooled mask)."""
    lefts = []
    for on in (True, False):
        with kernels(on), small_weight_bytes(limit):
            mt.manual_seed(0)
            model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
            x = np.ones((5, 4), np.float32)
            if where == 0:  # inf - inf inside the first product
                x[:, 0], x[:, 1] = np.inf, -np.inf
                model[0].W.data[:] = 1
            else:  # the last product overflows
                model[0].W.data[:], model[2].W.data[:] = 1e30, 1e30
            with np.errstate(over="raise", invalid="raise"), pytest.raises(FloatingPointError):
                model(x)
            lefts.append([(i, key) for i, m in enumerate(model) for key in ("_x", "_mask", "_frame", "_shown")
                          if m.__dict__.get(key) is not None] + [len(m.__dict__["_stack"]) for m in model])
    assert lefts[0] == lefts[1]
    assert lefts[0][-3:] == ([0, 0, 0] if where == 0 else [1, 1, 0])


def _frame_values(frame):
    """A frame's names and values, its arrays by dtype, shape and bytes (comparable with ==)."""
    return [(k, (v.dtype.str, v.shape, v.tobytes()) if isinstance(v, np.ndarray) else v)
            for k, v in frame.items()]


def _raising_step(mode, where, arm=None):
    """The Iris-sized chain, two steps taken (the flat group adopted), then meddled so that the
    third step's ``where`` raises a FloatingPointError under errstate "raise"; the step run by
    ``fit_step`` ("fused": it must take the step, so raise) or the five calls ("calls" kernels on,
    "plain" off). Returns the gradients, each module's frames and caches, and the Parameters."""
    from minitorch.kernels.step import fit_step

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)
    with kernels(mode != "plain"):
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            loss_fn(model(x), y)
            model.backward_params(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        W, b = model[2].W.data, model[2].b.data
        if where == "forward":  # the last product overflows
            W[...] = np.float32(3e38) * np.sign(W)
        elif where == "loss":  # exp underflows
            W[...] = np.float32(300) * np.sign(W)
        elif where == "loss-backward":  # p / N underflows: p = exp(-86) is normal, p / 8 is not
            W[...], b[...] = 0, [0, -86, 0]
        elif where == "backward":  # dy @ W.T underflows below the last Linear (its gradients written)
            # h = relu(x @ 0 + 1) = 1, so the forward's h @ W adds terms +-2e-38 (normal) into sums
            # that are exact (0 or normal): no flag in any BLAS kernel, FMA or not; a term of
            # dy @ W.T, |dy| < 1 times 2e-38, is subnormal (an underflow) in every one
            model[0].W.data[...], model[0].b.data[...] = 0, 1
            W[...] = np.float32(2e-38) * np.sign(W)
        elif where == "backward-weight":  # the last Linear's x.T @ dy underflows (no gradient written)
            model[0].W.data[...], model[0].b.data[...] = 1, 0
            W[...] = 1
            x = x * np.float32(1e-37) / np.abs(x).max()
        elif where == "update":  # lr cast to float32 overflows (every gradient written)
            opt.param_groups[0]["lr"] = 1e300
        elif where == "backward-relu":  # one row, h = relu(x @ W + b): 0 on units 0-7, about 1e3 on
            # 8-15, whose rows of the last W are 0: z = b = 0; dy @ W.T overflows to inf on units 0-7
            # (not raised: over is ignored), and the ReLU's dy * 0 there is invalid
            x, y = x[:1], y[:1]
            model[0].b.data[...] = np.repeat(np.float32([-1e3, 1e3]), 8)
            W[...], b[...] = np.where(np.arange(3) == y[0], np.float32(-3e38), np.float32(3e38)), 0
            W[8:] = 0
        if arm is not None:
            arm()
        errors = {"all": "raise", "over": "ignore"} if where == "backward-relu" else {"all": "raise"}
        with np.errstate(**errors), pytest.raises(FloatingPointError):
            if mode == "fused":
                fit_step(model, loss_fn, opt, x, y)
            else:
                loss_fn(model(x), y)
                model.backward_params(loss_fn.backward())
                opt.step()
                opt.zero_grad()
        left = [(len(d["_stack"]), d["_shown"] is not None, {k: v for k, v in d.items() if k in
                 ("_x", "_mask", "_dlogits") and v is not None}, [_frame_values(f) for f in d["_stack"]])
                for d in (m.__dict__ for m in [*model.modules(), loss_fn])]
        return [p.grad for p in model.parameters()], left, [p.data.copy() for p in model.parameters()]


def test_fit_step_kernel_whose_bias_sum_raises_leaves_what_the_chain_kernel_leaves(monkeypatch):
    """A bias gradient's sum that raises (no input makes a float32 column sum of dy in [-1, 1]
    overflow: a stand-in ``add.reduce`` raises where it is given the gradient slot): ``fit_step``
    leaves what the five calls (kernels on) leave, the weight's gradient written and the bias's
    not, that Linear's call and those below it waiting."""
    import types

    from minitorch.kernels import containers
    from minitorch.kernels import step as fast_step

    class Add:
        def __getattr__(self, name):
            return getattr(np.add, name)

        def __call__(self, *args, **kwargs):
            return np.add(*args, **kwargs)

        @staticmethod
        def reduce(a, axis=None, dtype=None, out=None):
            if armed and out is not None and out.ndim == 1 and out.shape[0] == 3:  # the last Linear's b
                raise FloatingPointError("overflow encountered in reduce")
            return np.add.reduce(a, axis, dtype, out)

    fake = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    fake.add = Add()
    results, armed = [], []
    for mode in ("fused", "calls"):
        armed.clear()
        with monkeypatch.context() as patch:
            patch.setattr(fast_step, "np", fake)
            patch.setattr(containers, "np", fake)
            results.append(_raising_step(mode, "none", arm=lambda: armed.append(True)))
    (fused_grads, fused_left, fused_data), (grads, left, data) = results
    assert [g is None for g in fused_grads] == [g is None for g in grads] == [True, True, False, True]
    assert_bitwise(fused_grads[2], grads[2], "the weight's gradient")
    for a, b in zip(fused_data, data, strict=True):
        assert_bitwise(a, b, "a parameter")
    for (n, shown, caches, frames), (n2, shown2, caches2, frames2) in zip(fused_left, left, strict=True):
        assert (n, shown, frames, caches.keys()) == (n2, shown2, frames2, caches2.keys())


@pytest.mark.parametrize("where", ["forward", "loss", "loss-backward", "backward-weight", "backward",
                                   "backward-relu", "update"])
def test_fit_step_kernel_that_raises_leaves_what_the_five_calls_leave(where):
    """A NumPy operation raising inside ``fit_step`` (errstate "raise": an overflow, an underflow in
    the forward, the loss, its backward, the chain's backward or the update): the gradients the
    five calls had written are the Parameters' gradients (bitwise; None where they wrote none), the
    calls they leave waiting wait (frames and caches, as the kernels-on calls leave them), and the
    Parameters are where they leave them."""
    fused, calls, plain = (_raising_step(mode, where) for mode in ("fused", "calls", "plain"))
    for other in (calls, plain):
        assert [g is None for g in fused[0]] == [g is None for g in other[0]]
        for g, h in zip(fused[0], other[0], strict=True):
            if g is not None:
                assert_bitwise(g, h, "a gradient left")
        for a, b in zip(fused[2], other[2], strict=True):
            assert_bitwise(a, b, "a parameter")
    for (n, shown, caches, frames), (n2, shown2, caches2, frames2) in zip(fused[1], calls[1], strict=True):
        assert (n, shown, frames, caches.keys()) == (n2, shown2, frames2, caches2.keys())
        for name in caches:
            assert_bitwise(caches[name], caches2[name], name)
    expected = {"forward": [], "loss": [], "loss-backward": [], "backward-weight": [], "backward": [2, 3],
                "backward-relu": [2, 3], "update": [0, 1, 2, 3]}
    assert [i for i, g in enumerate(fused[0]) if g is not None] == expected[where]


def _step_meddle(case):
    held = {}  # (a run's gradients kept by the user, and their values: "kept-grads-group-forgotten")

    def meddle(step, model, loss_fn, opt, x, y):
        group = opt.param_groups[0]
        if case == "tied" and step == 2:  # one Parameter in two Linears (the optimizer keeps the old one)
            model[2].W = model[0].W
        elif case == "reordered" and step == 2:
            group["params"].reverse()
        elif case == "lr-scheduled":  # a scheduler's NumPy scalars, a 0-d array, zero, a negative step
            group["lr"] = [np.float32(0.1), np.array(0.05), 0.0, -0.01, np.float64(0.2), 0.1][step]
        elif case == "group-added" and step == 2:
            opt.add_param_group({"params": [mt.Parameter(np.zeros(2, np.float32))]})
        elif case == "x-is-a-parameter" and step >= 2:  # x a view of the flat buffer the update writes
            x, y = model[0].W.data, y[:4]
        elif case.startswith("edited:") and step == 2:  # the chain edited, its Parameters kept
            edit = {"edited: ReLU removed": lambda: model.__delitem__(1),
                    "edited: ReLU replaced": lambda: model.__setitem__(1, mt.ReLU()),
                    "edited: ReLU appended": lambda: model.append(mt.ReLU()),
                    "edited: Tanh inserted": lambda: model.insert(1, mt.Tanh())}[case]
            edit()
        elif case == "edited-while-waiting" and step == 2:  # the edit drops a waiting forward call
            model(x)
            model[1] = mt.ReLU()
        elif case == "child-replaced" and step == 2:  # a new last layer, the optimizer given it too
            setattr(model, "2", mt.Linear(4, 4))
            group["params"] = list(model.parameters())
        elif case == "group-replaced" and step == 2:  # the same Parameters in a new group dict
            opt.param_groups[0] = dict(group, lr=0.05)
        elif case == "params-replaced" and step == 2:  # the same Parameters in a new list
            group["params"] = list(group["params"])
        elif case == "bias-dropped" and step == 2:  # a layer's bias removed, its weight kept
            model[2].b = None
        elif case == "relu-swapped" and step == 2:  # the ReLU replaced by another ReLU
            setattr(model, "1", mt.ReLU())
        elif case == "relu-swapped-patched" and step == 2:  # ... by one whose forward is its own
            relu = mt.ReLU()
            relu.forward = lambda v: mt.ReLU.forward(relu, v) * 2
            setattr(model, "1", relu)
        elif case == "groups-forgotten" and step == 2:  # more flat groups made than are kept
            from minitorch.kernels import flat
            others = [mt.Linear(2, 2) for _ in range(flat.KEEP + 1)]
            for other in others:
                other_opt = mt.SGD(other.parameters(), lr=0.1)
                for _ in range(2):
                    other.W.grad, other.b.grad = np.ones((2, 2), np.float32), np.ones(2, np.float32)
                    other_opt.step()
            assert flat.group_holding(model[0].W) is None  # (our group was evicted: the oldest)
        elif case == "kept-grads-group-forgotten" and step == 2:
            # a step of the five calls whose gradients (the flat slots, kernels on) the user keeps, one
            # reference each; then the group is evicted: no slot may be written over after it
            loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step()
            kept = [p.grad for p in model.parameters()]
            held["kept"], held["values"] = kept, [g.copy() for g in kept]
            opt.zero_grad()
            _step_meddle("groups-forgotten")(step, model, loss_fn, opt, x, y)
        elif case == "cast" and step >= 2:  # model.to(float64): new data arrays, the input cast too
            if step == 2:
                model.to(np.float64)
            x = x.astype(np.float64)
        elif case == "data-replaced" and step == 2:  # a new array for one Parameter
            model[2].W.data = model[2].W.data * 0.5
        elif case == "kept-grads-group-forgotten" and step > 2:
            for g, value in zip(held["kept"], held["values"], strict=True):
                assert_bitwise(g, value, "a kept gradient")
        return x, y
    return meddle


@pytest.mark.parametrize("case, taken", [("tied", [False, True] + [False] * 4),
                                         ("reordered", [False, True] + [False] * 4),
                                         ("lr-scheduled", [False] + [True] * 5),
                                         ("group-added", [False, True] + [False] * 4),
                                         ("x-is-a-parameter", [False] + [True] * 5),
                                         ("edited: ReLU removed", [False] + [True] * 5),
                                         ("edited: ReLU replaced", [False] + [True] * 5),
                                         ("edited: ReLU appended", [False] + [True] * 5),
                                         ("edited: Tanh inserted", [False, True] + [False] * 4),
                                         ("edited-while-waiting", [False, True, False] + [True] * 3),
                                         ("child-replaced", [False, True] + [False] * 4),
                                         ("group-replaced", [False] + [True] * 5),
                                         ("params-replaced", [False] + [True] * 5),
                                         ("bias-dropped", [False, True] + [False] * 4),
                                         ("relu-swapped", [False] + [True] * 5),
                                         ("relu-swapped-patched", [False, True] + [False] * 4),
                                         # (the Parameters adopted into a new group, the
                                         # setup found again)
                                         ("cast", [False, True, False] + [True] * 3),
                                         # (one step more: the setup holds the other data
                                         # views until its group is forgotten, then lets go)
                                         ("data-replaced", [False, True, False, False, True, True]),
                                         # (the evicted group's Parameters adopted again)
                                         ("groups-forgotten", [False, True, False] + [True] * 3),
                                         ("kept-grads-group-forgotten", [False, True, False] + [True] * 3)])
def test_fit_step_kernel_meets_the_five_calls_when_the_setup_changes_between_steps(case, taken):
    """Weight tying, the optimizer's Parameters reordered or a group added, the step size changed by a
    scheduler, x a view of a Parameter's (flat) buffer, the chain edited (``del model[1]``,
    ``model[1] = ReLU()``, ``append``, ``insert``), the model cast or a Parameter's data replaced,
    its flat group evicted: every step bitwise the five calls' (kernels on and off), the kernel
    declining where its case no longer holds (a Tanh) and seeing the new children where it does,
    taken again once the update has adopted the Parameters into a new flat group."""
    config = ((4, 4, 4), (True, False), True, np.float32, 16, "mean", 0.1, 6, 1)
    assert _same_steps(config, _step_meddle(case)) == taken


_BETWEEN_STEPS = ["lr", "freeze", "unfreeze", "replace-data", "no_grad-forward", "patch", "unpatch", "note",
                  "in-features-numpy", "relu-swap", "tanh-swap", "reshape-and-back", "forward-backward",
                  "keep-grad", "eval-train"]


def _random_meddle(actions):
    """A meddle running ``actions`` (step -> names from ``_BETWEEN_STEPS``) before those steps:
    changes a user may make between steps that the five calls run through without raising. A
    gradient kept ("keep-grad": a flat slot, kernels on) must keep its numbers."""
    kept = []  # (a gradient the user keeps, its numbers)

    def meddle(step, model, loss_fn, opt, x, y):
        for g, numbers in kept:
            assert_bitwise(g, numbers, "a kept gradient")
        for i, action in enumerate(actions.get(step, ())):
            if action == "lr":
                opt.param_groups[0]["lr"] = [0.05, np.float32(0.02), np.array(0.03), 0.0][(step + i) % 4]
            elif action in ("freeze", "unfreeze"):
                model[2].b.requires_grad = action == "unfreeze"
            elif action == "replace-data":
                model[2].W.data = model[2].W.data.copy()
            elif action == "no_grad-forward":
                with mt.no_grad():
                    model(x)
            elif action == "patch":  # (other logits: a step taken with the class's forward differs)
                model.forward = lambda v, model=model: mt.Sequential.forward(model, v) * np.float32(1.5)
            elif action == "unpatch" and "forward" in model.__dict__:
                del model.forward
            elif action == "note":
                model[0].note = step
            elif action == "in-features-numpy":
                model[0].in_features = np.int64(model[0].in_features)
            elif action == "relu-swap":
                model[1] = mt.ReLU()
            elif action == "tanh-swap":
                model[1] = mt.Tanh()
            elif action == "reshape-and-back":
                view = model[2].b.data
                view.shape = (1, view.size)
                view.shape = (view.size,)
            elif action in ("forward-backward", "keep-grad"):
                loss_fn(model(x), y)
                model.backward_params(loss_fn.backward())
                if action == "keep-grad":
                    g = model[0].W.grad
                    kept.append((g, None if g is None else g.copy()))
                opt.zero_grad()
            elif action == "eval-train":
                model.eval()
                model.train()
        return x, y
    return meddle


@settings(max_examples=25, deadline=None)
@given(actions=st.dictionaries(st.integers(1, 7), st.lists(st.sampled_from(_BETWEEN_STEPS), min_size=1,
                                                           max_size=3), max_size=5))
def test_fit_step_kernel_meets_the_five_calls_under_random_changes_between_steps(actions):
    """Random sequences of changes between steps (a step size of another type, a bias frozen and
    thawed, data replaced, a forward under no_grad, the model's forward patched (other logits) and
    unpatched, a new attribute, ``in_features`` as a NumPy integer, the ReLU swapped for another
    or a Tanh, a view reshaped and back, a forward and backward with no step, a gradient kept,
    eval and train): every step bitwise the five calls' (kernels on and off), a kept gradient
    unchanged. What the kernel copied or read at one step must not stand for a later one."""
    config = ((4, 16, 3), (True, False), True, np.float32, 16, "mean", 0.1, 8, 2)
    _same_steps(config, _random_meddle(actions))


# the kernels' ReLU (kernels/relu.py) with every C-contiguous input taken as rows: of 4 where its size
# allows, else of its last dimension
RELU_ROWS_EVERYWHERE = {"ROW_ZERO_FROM": 1, "FLAT_WIDTH": 4, "MIN_WIDTH": 1}


@contextmanager
def row_zero_from(elements):
    """The kernels' ReLU (``kernels/relu.py``) as it is (None), or (1) taking every C-contiguous
    input as rows against a zero row (``RELU_ROWS_EVERYWHERE``)."""
    from minitorch.kernels import relu

    before = {name: getattr(relu, name) for name in RELU_ROWS_EVERYWHERE}
    if elements is not None:
        for name, value in RELU_ROWS_EVERYWHERE.items():
            setattr(relu, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(relu, name, value)


# ------------------------------ forward, loss and backward_params of a large chain (kernels/step_large.py)
@contextmanager
def small_weight_bytes(limit):
    """``containers.SMALL_WEIGHT_BYTES`` set to ``limit``: tiny chains take the large-chain paths."""
    from minitorch.kernels import containers

    before = containers.SMALL_WEIGHT_BYTES
    containers.SMALL_WEIGHT_BYTES = limit
    try:
        yield
    finally:
        containers.SMALL_WEIGHT_BYTES = before


def _optimizer(kind, params, lr):
    if kind == "adam":
        return mt.Adam(params, lr=lr)
    return mt.SGD(params, lr=lr, momentum=0.9 if kind == "momentum" else 0.0)


def _large_steps(config, mode, meddle=None):
    """``config``'s model trained for its steps as ``mt.fit`` runs them; ``mode``: "fused" (fit_step,
    then ``forward_backward``, then the three calls where both decline; the optimizer's step and
    zero_grad), "calls" (the five calls, kernels on) or "plain" (kernels off). Returns every output,
    loss, gradient and parameter of each step, what a later call could read after each step, and
    the steps ``forward_backward`` took."""
    from minitorch.kernels.step import fit_step
    from minitorch.kernels.step_large import forward_backward

    (widths, relus, bias, dtype, n, reduction, lr, steps, seed, fortran, target_dtype, optimizer,
     *more) = config
    rng = np.random.default_rng(seed)
    taken, out, states = [], [], []
    with kernels(mode != "plain"), default_dtype(dtype):
        mt.manual_seed(seed)
        model = mt.Sequential(*_layers(widths, relus, bias))
        loss_fn = mt.CrossEntropyLoss(reduction=reduction)
        opt = _optimizer(optimizer, model.parameters(), lr)
        x_dtype = _mixed_settings(opt, more[0] if more else None, dtype)
        for step in range(steps):
            x = rng.standard_normal((n, widths[0])).astype(x_dtype, order="F" if fortran else "C")
            y = rng.integers(0, widths[-1], n).astype(target_dtype)
            zero = True
            if meddle is not None:
                x, y, zero = meddle(step, model, loss_fn, opt, x, y)
            done = NotImplemented
            if mode == "fused":
                assert fit_step(model, loss_fn, opt, x, y) is NotImplemented  # (a large chain)
                done = forward_backward(model, loss_fn, x, y)
            taken.append(done is not NotImplemented)
            if done is NotImplemented:
                z = model(x)
                loss = loss_fn(z, y)
                model.backward_params(loss_fn.backward())
            else:
                z, loss = done
            assert type(loss) is LossValue
            grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
            opt.step()
            if zero:
                opt.zero_grad()
            out += [z, np.array(float(loss)), *(g for g in grads if g is not None),
                    *(p.data.copy() for p in model.parameters())]
            states.append(_state_of(model, loss_fn, opt))
    return out, states, taken


def _same_large_steps(config, meddle=None, modes=("calls", "plain")):
    fused, fused_states, taken = _large_steps(config, "fused", meddle)
    for mode in modes:
        other, other_states, _ = _large_steps(config, mode, meddle)
        assert len(fused) == len(other)
        for a, b in zip(fused, other, strict=True):
            assert_bitwise(a, b, f"fused against {mode}")
        for a, b in zip(fused_states, other_states, strict=True):
            assert a[0] == b[0]
            assert [g is None for g in a[1]] == [g is None for g in b[1]]
            for g, h in zip(a[1], b[1], strict=True):
                if g is not None:
                    assert_bitwise(g, h, "a gradient kept after the step")
            assert len(a[2]) == len(b[2])
    return taken


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.integers(1, 20), min_size=2, max_size=5), data=st.data(),
       bias=st.booleans(), dtype=st.sampled_from(DTYPES), n=st.integers(1, 33),
       reduction=st.sampled_from(["mean", "sum"]), lr=st.sampled_from([0.1, 0.0]),
       fortran=st.booleans(), target_dtype=st.sampled_from([np.int64, np.int32, np.uint8]),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]), limit=st.sampled_from([8, 64, 256, 1024]),
       mixed=st.sampled_from(STEP_MIXED), row_from=st.sampled_from([None, 1]))
def test_large_chain_kernel_equals_the_three_calls_bitwise(widths, data, bias, dtype, n, reduction, lr,
                                                           fortran, target_dtype, optimizer, limit, mixed,
                                                           row_from):
    """Over chains of Linear and ReLU layers with some weights (and ReLU inputs) at or over the
    large-weight limit and some under it, batch sizes, dtypes, reductions, data in either order,
    targets of three integer dtypes, three optimizers and the mixed classes (``STEP_MIXED``): every
    output, loss, gradient and parameter of each step bitwise the five calls' (kernels on; and off,
    with SGD), no frame waiting and no cache attribute set after each step; the kernel takes every
    step of a chain with a large weight, but none of an input of another dtype. ``row_from`` 1:
    every kernel ReLU of a C-contiguous input takes its rows against a zero row
    (``kernels/relu.py``) and writes into the product it follows."""
    relus = data.draw(st.lists(st.booleans(), min_size=len(widths) - 1, max_size=len(widths) - 1))
    config = (widths, relus, bias, dtype, n, reduction, lr, 3, 0, fortran, target_dtype, optimizer, mixed)
    large = max(a * b for a, b in itertools.pairwise(widths)) * np.dtype(dtype).itemsize >= limit
    with small_weight_bytes(limit), row_zero_from(row_from):
        if not large:  # the small-step kernel's case (or the five calls'): declined
            assert _large_steps(config, "calls")[2] == [False] * 3
            return
        # (the Adam kernel rounds differently from the plain Adam: the plain run is the SGD ones')
        modes = ("calls",) if optimizer == "adam" else ("calls", "plain")
        assert _same_large_steps(config, modes=modes) == [mixed != "x-other-dtype"] * 3


@pytest.mark.parametrize("batch", [1, 32, 128])
def test_large_chain_kernel_takes_the_784_step_bitwise(batch):
    """The benchmark's 784-512-256-10 MLP at its real size: the kernel's steps are the five calls'
    (kernels on: the forward product cut along K where the BLAS runs two threads or more)."""
    config = ((784, 512, 256, 10), (True, True, False), True, np.float32, batch, "mean", 0.01, 2, 0,
              False, np.int64, "sgd")
    assert _same_large_steps(config, modes=("calls",)) == [True, True]


@pytest.mark.parametrize("batch", [16, 32])
def test_784_steps_with_the_swapped_data_gradient_equal_kernels_off_bitwise(batch):
    """On 1 BLAS thread (the forward's product is then x @ W itself) the 784 model's ``mt.fit``
    forward and backward (``step_large.forward_backward``) and the README loop's, whose dx products
    ``gemm.data_grad`` swaps at these batch sizes on a checked OpenBLAS core, are bitwise the
    kernels-off calls (``Linear.backward_input``'s dy @ W.T): output, loss, the data's dx, every gradient."""
    from minitorch import threads
    from minitorch.kernels import gemm
    from minitorch.kernels.step_large import forward_backward

    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    swapped = gemm.swaps(np.zeros((batch, 512), np.float32), np.zeros((784, 512), np.float32))
    assert swapped == gemm.swap_checked()
    runs = []
    with threads.blas_threads(1):
        for on, readme in itertools.product((True, False), (True, False)):
            with kernels(on):
                mt.manual_seed(0)
                model = mt.Sequential(*_layers((784, 512, 256, 10), (True, True, False), True))
                loss_fn = mt.CrossEntropyLoss()
                if on and not readme:
                    done = forward_backward(model, loss_fn, x, y)
                    assert done is not NotImplemented
                    out = [done[0], np.float32(done[1])]
                else:
                    out = [model(x)]
                    out.append(np.float32(loss_fn(out[0], y)))
                    dy = loss_fn.backward()
                    out.append(model.backward(dy) if readme else model.backward_params(dy))
                runs.append(out + [p.grad for p in model.parameters()])
    readme_on, fit_on, readme_off, fit_off = runs
    assert readme_on[2].flags.c_contiguous and fit_off[2] is None
    del fit_off[2]
    for got, expected in ((readme_on, readme_off), (fit_on, fit_off)):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert_bitwise(a, b, "kernels on against off")


def _large_meddle(case):
    def meddle(step, model, loss_fn, opt, x, y):
        zero = True
        if case == "tied" and step == 1:  # one Parameter in two Linears: its gradient accumulates
            model[2].W = model[0].W
        elif case == "accumulated" and step == 1:  # no zero_grad: the next step adds to the gradients
            zero = False
        elif case == "x-is-a-parameter" and step >= 1:
            x, y = model[0].W.data, y[:4]
        elif case == "frozen-later" and step == 2:
            model[0].b.requires_grad = False
        return x, y, zero
    return meddle


@pytest.mark.parametrize("case, taken", [("tied", [True] * 4), ("accumulated", [True] * 4),
                                         ("x-is-a-parameter", [True] * 4),
                                         ("frozen-later", [True, True, False, False])])
def test_large_chain_kernel_meets_the_five_calls_when_the_setup_changes_between_steps(case, taken):
    """Weight tying, a step without zero_grad, x a view of a Parameter, a Parameter frozen: every
    step bitwise the five calls' (kernels on and off), the kernel declining where its case no
    longer holds."""
    config = ((4, 4, 4), (True, False), True, np.float32, 16, "mean", 0.1, 4, 1, False, np.int64, "sgd")
    with small_weight_bytes(8):
        assert _same_large_steps(config, _large_meddle(case)) == taken


@pytest.mark.parametrize("case", ["kernels-off", "small", "frozen", "float64-input", "list-input",
                                  "3d-input", "target-out-of-range", "negative-target", "float-target",
                                  "nan-input", "waiting-forward", "patched-forward", "patched-class",
                                  "patched-kernel", "recording-parent", "no_grad", "label_smoothing",
                                  "weight", "ignore_index", "reduction-none", "layer-twice",
                                  "relu-first", "other-layer", "float16", "edited"])
def test_large_chain_kernel_declines_and_the_three_calls_run(case, monkeypatch):
    """Anything outside the kernel's case: it declines with nothing done (no frame left, no
    gradient, no cache attribute, no Parameter moved)."""
    from minitorch.kernels import containers
    from minitorch.kernels.step_large import forward_backward

    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    loss_fn = mt.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
    done = forward_backward(model, loss_fn, x, y)
    assert done is not NotImplemented  # its case, before meddling
    mt.SGD(model.parameters(), lr=0.1).zero_grad()
    before = [p.data.copy() for p in model.parameters()]
    if case == "kernels-off":
        monkeypatch.setattr(mt.kernels, "_enabled", False)
    elif case == "small":
        monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 65536)
    elif case == "frozen":
        model[2].b.requires_grad = False
    elif case == "float64-input":
        x = x.astype(np.float64)
    elif case == "list-input":
        x = x.tolist()
    elif case == "3d-input":
        x = x[None]
    elif case == "target-out-of-range":
        y = y + 3
    elif case == "negative-target":
        y = y - 1
    elif case == "float-target":
        y = y.astype(np.float32)
    elif case == "nan-input":
        x[0, 0] = np.nan
    elif case == "waiting-forward":
        model(x)
    elif case == "patched-forward":
        model.forward = lambda v: mt.Sequential.forward(model, v)  # as mt.Diagnostics patches it
    elif case == "patched-class":
        relu_backward = mt.ReLU.backward
        monkeypatch.setattr(mt.ReLU, "backward", lambda self, dy: relu_backward(self, dy))  # a probe
    elif case == "patched-kernel":  # a counter on a kernel the three calls run (it must run)
        from minitorch.kernels import layers as layer_kernels
        linear_forward = layer_kernels.linear_forward
        monkeypatch.setattr(layer_kernels, "linear_forward", lambda *a: linear_forward(*a))
    elif case == "recording-parent":
        from minitorch import call_frames
        monkeypatch.setattr(call_frames, "_recorders", [[]])
    elif case == "label_smoothing":
        loss_fn.label_smoothing = 0.1
    elif case == "weight":
        loss_fn.weight = np.ones(3, np.float32)
    elif case == "ignore_index":
        loss_fn.ignore_index = 1
    elif case == "reduction-none":
        loss_fn.reduction = "none"
    elif case == "layer-twice":
        model = mt.Sequential(model[0], model[1], mt.Linear(8, 8), model[1], model[2])  # one ReLU twice
    elif case == "relu-first":
        model = mt.Sequential(mt.ReLU(), *model)
    elif case == "other-layer":
        model = mt.Sequential(model[0], mt.Tanh(), model[2])
    elif case == "float16":
        model.to(np.float16)
        x = x.astype(np.float16)
    elif case == "edited":  # an edit while a forward waited: its refusal is pending until a forward
        model(x)
        model[2] = mt.Linear(8, 3)
        assert model.__dict__["_edited"] is not None
    params = list(model.parameters())
    before = [p.data.copy() for p in params]
    if case == "no_grad":
        with mt.no_grad():
            assert forward_backward(model, loss_fn, x, y) is NotImplemented
    else:
        assert forward_backward(model, loss_fn, x, y) is NotImplemented
    waiting = 1 if case == "waiting-forward" else 0
    assert all(len(m.__dict__["_stack"]) == waiting * isinstance(m, (mt.Linear, mt.ReLU))
               for m in model.modules())
    assert not loss_fn.__dict__["_stack"] and loss_fn._dlogits is None
    assert (model.__dict__.get("_edited") is not None) == (case == "edited")
    assert all(p.grad is None for p in params)
    for p, b in zip(params, before, strict=True):
        assert_bitwise(p.data, b)


@pytest.mark.parametrize("bad, error, message", [(np.nan, ValueError, "finite"),
                                                 (np.inf, RuntimeWarning, "invalid value encountered")])
def test_large_chain_kernel_declined_step_meets_the_plain_error(bad, error, message):
    """Non-finite logits: the kernel declines and the three calls raise the plain error; an inf in
    the data makes the first product warn (an error in this suite) as in the plain layer."""
    def meddle(step, model, loss_fn, opt, x, y):
        if step == 2:
            x = x.copy()
            x[2, 1] = bad
        return x, y, True
    config = ((4, 16, 3), (True, False), True, np.float32, 16, "mean", 0.1, 4, 1, False, np.int64, "sgd")
    with small_weight_bytes(64):
        for mode in ("fused", "calls", "plain"):
            with pytest.raises(error, match=message):
                _large_steps(config, mode, meddle)


def test_fit_trains_the_same_with_its_large_chain_kernel(monkeypatch):
    """mt.fit with the kernel (it takes every step) and without: the same history and parameters,
    bitwise."""
    from minitorch.kernels import containers, step_large

    taken = []
    counting = counted(step_large.forward_backward, taken)
    X, Y = fit_data()
    results = []
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    for fused in (True, False):
        monkeypatch.setattr(step_large, "forward_backward", counting if fused else lambda *a: NotImplemented)
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        opt = mt.Adam(model.parameters(), lr=0.01)
        history = mt.fit(model, mt.CrossEntropyLoss(), opt, mt.DataLoader(X, Y, batch_size=16, shuffle=False),
                         epochs=3, verbose=0)
        results.append((history, [p.data.copy() for p in model.parameters()]))
    assert len(taken) == 18 and all(taken)
    (h1, p1), (h2, p2) = results
    assert h1["loss"] == h2["loss"]
    for a, b in zip(p1, p2, strict=True):
        assert_bitwise(a, b)


# a probe on a class or a kernel, set right after the import, before any training step
# The patch-before-first-call scripts test the kernels: on in their process, whatever this run's switch.
_KERNELS_ON = {**os.environ, "MINITORCH_KERNELS": "1"}

_PATCH_BEFORE_THE_FIRST_STEP = """
import numpy as np
import minitorch as mt
from minitorch.kernels import containers, layers, step_large
calls = []
def probe(original):
    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    return counting
if {target!r} == "Linear.__call__":
    mt.Linear.__call__ = probe(mt.Linear.__call__)
elif {target!r} == "linear_forward":
    layers.linear_forward = probe(layers.linear_forward)
containers.SMALL_WEIGHT_BYTES = 64
model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
loss_fn = mt.CrossEntropyLoss()
x, y = np.ones((5, 4), np.float32), np.zeros(5, np.int64)
print(step_large.forward_backward(model, loss_fn, x, y) is NotImplemented)
"""


@pytest.mark.parametrize("target", ["Linear.__call__", "linear_forward", "nothing"])
def test_large_chain_kernel_declines_for_a_patch_made_before_its_first_call(target):
    """A probe patched on a class or a kernel the three calls run, right after ``import minitorch``
    and before any step: the kernel declines (the probe must run), as for a patch made after its
    first call (it compares with what the library defines, not with what its first call saw);
    with nothing patched it takes the step."""
    code = _PATCH_BEFORE_THE_FIRST_STEP.format(target=target)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_KERNELS_ON).stdout
    assert out.strip() == str(target != "nothing")


@pytest.mark.parametrize("patched", [True, False])
def test_fit_step_kernel_declines_for_a_patch_made_before_its_first_call(patched):
    """``SGD.step`` patched on the class right after ``import minitorch``, before the first fit:
    fit_step takes no step (the probe runs at every one), as for a patch made after its first
    call; unpatched, it takes every step but the first (which adopts the flat group)."""
    code = f"""
import numpy as np
import minitorch as mt
from minitorch.kernels import step as fast_step
if {patched}:
    step = mt.SGD.step
    mt.SGD.step = lambda self: step(self)
taken, fit_step = [], fast_step.fit_step
def counting(*args):
    done = fit_step(*args)
    taken.append(done is not NotImplemented)
    return done
fast_step.fit_step = counting
model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
X, Y = np.ones((32, 4), np.float32), np.zeros(32, np.int64)
mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), mt.DataLoader(X, Y, batch_size=8),
       epochs=1, verbose=0)
print(taken)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_KERNELS_ON).stdout
    assert out.strip() == str([False] * 4 if patched else [False, True, True, True])


@pytest.mark.parametrize("target, c", [(-100, 200), (-128, 130), (-30000, 40000)])
def test_cross_entropy_kernel_negative_small_int_targets_of_many_classes_meet_the_plain_loss(target, c):
    """An int8 (int16) target below zero seen as unsigned is 128 (32768) or more, not more than C
    when C is larger: the kernel must not read it as a class. Kernels on give the plain result: the
    default ignore_index -100 ignored, any other negative refused as out of range."""
    dtype = np.int8 if c < 1000 else np.int16
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((4, c)).astype(np.float32), np.array([1, target, 3, 4], dtype)
    results = []
    for enabled in (True, False):
        try:
            results.append(_ce_run(enabled, mt.CrossEntropyLoss, z, y, 1.0))
        except ValueError as error:
            results.append(str(error))
    if isinstance(results[1], str):
        assert results[0] == results[1]
    else:
        for a, b in zip(*results, strict=True):
            assert_bitwise(a, b)


@pytest.mark.parametrize("n", [8, 80])
def test_step_kernels_decline_negative_small_int_targets_of_many_classes(n, monkeypatch):
    """int8 targets with -100 (ignored) and 200 classes: ``fit_step`` (a short and a long target
    list) and ``forward_backward`` decline, so that the plain loss ignores the target."""
    from minitorch.kernels import containers
    from minitorch.kernels.step import fit_step
    from minitorch.kernels.step_large import forward_backward

    monkeypatch.setattr(mt.kernels, "_enabled", True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.integers(0, 100, n).astype(np.int8)
    y[1] = -100
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 200))
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
    for _ in range(2):  # (fit_step takes the second step of a model: the first adopts the flat group)
        assert fit_step(model, loss_fn, opt, x, y) is NotImplemented
        loss_fn(model(x), y)  # (the plain loss: the -100 target ignored)
        model.backward_params(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    assert forward_backward(model, loss_fn, x, y) is NotImplemented


def test_large_chain_kernel_interrupted_at_any_line_leaves_no_half_step(monkeypatch):
    """A KeyboardInterrupt (a second Ctrl-C) at each line the kernel runs, in turn: no frame waiting,
    no cache attribute set, each gradient either as before the step or as after it (a kept one
    accumulated into, or not yet), and no pooled array still held once the interrupt is handled."""
    from minitorch.kernels import containers, pool, step_large

    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    kept = rng.standard_normal((8, 8))

    def setup():
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 8), mt.ReLU(), mt.Linear(8, 3))
        model[2].W.grad = kept.astype(np.float32)  # a gradient kept from before: added to
        return model, mt.CrossEntropyLoss()

    model, loss_fn = setup()
    before = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
    assert step_large.forward_backward(model, loss_fn, x, y) is not NotImplemented
    after = [p.grad.copy() for p in model.parameters()]
    runs = interrupted_at_each_line(setup, lambda state: step_large.forward_backward(*state, x, y),
                                    lambda c: c.co_filename == step_large.__file__)
    for line, (model, loss_fn), _ in runs:
        for m in [*model.modules(), loss_fn]:
            d = m.__dict__
            assert not d["_stack"] and d["_shown"] is None and d["_frame"] is None and not d["_busy"]
            assert all(d.get(name) is None for name in ("_x", "_mask", "_dlogits", "_loss_shape"))
        for p, b, a in zip(model.parameters(), before, after, strict=True):
            if p.grad is None:
                assert b is None, f"line {line}"
            elif not (b is not None and np.array_equal(p.grad, b)):
                assert_bitwise(p.grad, a, f"line {line}")
        # held by its list alone (the list, the loop's name, getrefcount's argument)
        assert all(sys.getrefcount(a) <= 3 for arrays in pool._POOL.values() for a in arrays)
    assert line > 100  # (every line of the kernel, the last run not interrupted)


# ---------------------------------- plain SGD's step and zero_grad in one function (kernels/step_update.py)
@contextmanager
def update_limits(blas_min, flat_max):
    """The SGD kernel's ``BLAS_MIN`` and ``flat.MAX_ELEMENTS`` set to these: tiny arrays take the
    BLAS call and the update past the flat-buffer test, as the 784 model's do."""
    from minitorch.kernels import flat
    from minitorch.kernels import optimizers as optimizer_kernels

    before = optimizer_kernels.BLAS_MIN, flat.MAX_ELEMENTS
    optimizer_kernels.BLAS_MIN, flat.MAX_ELEMENTS = blas_min, flat_max
    try:
        yield
    finally:
        optimizer_kernels.BLAS_MIN, flat.MAX_ELEMENTS = before


def _update_grad(rng, p, kind):
    """A gradient for ``p``: C-ordered, None, Fortran-ordered, a strided view, read-only, or of
    another dtype; "cast": ``p.data`` cast to another dtype first (its state is cast at the step);
    "data-fortran": ``p.data`` made Fortran-ordered first."""
    if kind == "cast":
        p.data = p.data.astype(np.float32 if p.data.dtype == np.float64 else np.float64)
    elif kind == "data-fortran":  # (and its gradient C-ordered)
        p.data = np.asfortranarray(p.data)
    shape, dtype = p.data.shape, p.data.dtype
    if kind == "none":
        return None
    if kind == "strided":
        return rng.standard_normal((*shape[:-1], 2 * shape[-1])).astype(dtype)[..., ::2]
    g = rng.standard_normal(shape).astype({"float64": np.float64, "float32": np.float32}.get(kind, dtype))
    if kind == "fortran":
        g = np.asfortranarray(g)
    elif kind == "readonly":
        g.flags.writeable = False
    return g


@contextlib.contextmanager
def _plain_sgd_step():
    """``SGD.step`` runs its own lines (the reference): its dispatch to ``sgd_step`` declines."""
    from minitorch.kernels import step_update

    fast = step_update.sgd_step
    step_update.sgd_step = lambda optimizer: NotImplemented
    try:
        yield
    finally:
        step_update.sgd_step = fast


def _update_steps(spec, fast):
    """``spec``'s Parameters and groups trained on its gradients; ``fast``: ``sgd_step`` then
    ``zero_grad()`` (``step()`` and ``zero_grad()`` where it declines), else ``step()`` and
    ``zero_grad()``. Returns per step every Parameter's data, grad and state, and the steps
    ``sgd_step`` took."""
    from minitorch.kernels.step_update import sgd_step

    shapes, dtypes, frozen, splits, group_settings, kinds, seed = spec
    rng = np.random.default_rng(seed)
    params = [mt.Parameter(rng.standard_normal(s).astype(d), requires_grad=not f)
              for s, d, f in zip(shapes, dtypes, frozen, strict=True)]
    groups = [{"params": params[a:b], **{k: v for k, v in s.items() if k != "lr"}}
              for (a, b), s in zip(splits, group_settings, strict=True)]
    opt = mt.SGD(groups, lr=0.1)
    for group, s in zip(opt.param_groups, group_settings, strict=True):
        group["lr"] = s["lr"]  # a NumPy scalar or a 0-d array, as a scheduler may leave it
    out, taken = [], []
    for step_kinds in kinds:
        for p, kind in zip(params, step_kinds, strict=True):
            g = _update_grad(rng, p, kind)
            _give_grad(p, g) if g is not None else setattr(p, "grad", None)
        done = sgd_step(opt) if fast else NotImplemented
        taken.append(done is not NotImplemented)
        if done is NotImplemented:
            with _plain_sgd_step():
                opt.step()
        opt.zero_grad()
        out.append(([p.data.copy() for p in params], [p.grad for p in params],
                    [{k: np.copy(v) for k, v in opt.state.get(p, {}).items()} for p in params],
                    [p in opt.state for p in params]))
    return out, taken


@st.composite
def update_specs(draw):
    n = draw(st.integers(1, 6))
    shapes = draw(st.lists(st.sampled_from([(1,), (3,), (12,), (40,), (2, 3), (5, 8), (9, 7)]),
                           min_size=n, max_size=n))
    dtypes = draw(st.lists(st.sampled_from([np.float32, np.float64, np.float16]), min_size=n, max_size=n))
    frozen = draw(st.lists(st.booleans().map(lambda b: b and draw(st.booleans())), min_size=n, max_size=n))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=2))) if n > 1 else []
    splits = list(itertools.pairwise([0, *cuts, n]))
    group_settings = []
    for _ in splits:
        momentum = draw(st.sampled_from([0.0, 0.0, 0.9]))
        dampening = draw(st.sampled_from([0.0, 0.5]))
        nesterov = draw(st.booleans()) and momentum > 0 and dampening == 0
        group_settings.append({
            "lr": draw(st.sampled_from([0.1, 0.0, np.float32(0.05), np.float64(0.3), np.array(0.02)])),
            "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
            "weight_decay": draw(st.sampled_from([0.0, 0.0, 0.01]))})
    kinds = draw(st.lists(st.lists(st.sampled_from(["c", "c", "c", "none", "fortran", "strided", "readonly",
                                                     "float64", "float32", "cast", "data-fortran"]),
                                     min_size=n, max_size=n),
                          min_size=1, max_size=3))
    return shapes, dtypes, frozen, splits, group_settings, kinds, draw(st.integers(0, 3))


def _same_update_steps(spec):
    """``spec`` trained with ``sgd_step`` and with the two calls (kernels on): every Parameter,
    gradient and momentum buffer after each step bitwise the same; the steps ``sgd_step`` took."""
    with kernels(True):
        fast, taken = _update_steps(spec, True)
        calls, _ = _update_steps(spec, False)
    for (data, grads, state, has), (data2, grads2, state2, has2) in zip(fast, calls, strict=True):
        assert grads == grads2 == [None] * len(grads) and has == has2
        for a, b in zip(data, data2, strict=True):
            assert_bitwise(a, b, "a parameter")
        for a, b in zip(state, state2, strict=True):
            assert a.keys() == b.keys()
            for name in a:
                assert_bitwise(a[name], b[name], name)
    return taken


@settings(max_examples=80, deadline=None)
@given(spec=update_specs(), blas_min=st.sampled_from([4, 16, 16, 16384]),
       flat_max=st.sampled_from([8, 8, 30, 16384]))
def test_sgd_update_kernel_equals_step_and_zero_grad_bitwise(spec, blas_min, flat_max):
    """Over Parameters of three dtypes and several shapes, some frozen, in one to three groups with
    or without momentum, Nesterov, dampening and weight decay, lr a float, a NumPy scalar or a 0-d
    array, gradients None, C- or Fortran-ordered, strided, read-only or of another dtype, Parameters
    cast between steps, and the BLAS and flat-buffer limits low or as shipped: every Parameter,
    gradient and momentum buffer after each step bitwise ``step(); zero_grad()``'s, and
    ``sgd_step`` takes every step."""
    with update_limits(blas_min, flat_max):
        assert all(_same_update_steps(spec))


@pytest.mark.parametrize("kind, blas", [("c", 9), ("fortran", 7), ("strided", 6), ("readonly", 6),
                                        ("float64", 6), ("float32", 9), ("none", 6), ("cast", 9),
                                        ("data-fortran", 5)])
def test_sgd_update_kernel_meets_each_gradient_on_its_blas_path(kind, blas, monkeypatch):
    """A group updated by ``sgd_step`` itself (no momentum, the first Parameter past the flat
    limit), every Parameter at the BLAS size: each kind of gradient gives ``step()``'s result, C-
    ordered ones through its own BLAS calls."""
    from minitorch.kernels import step_update

    addressed = []
    address = step_update._address
    monkeypatch.setattr(step_update, "_address", lambda a: addressed.append(a.size) or address(a))
    spec = ([(9, 7), (5, 8), (24,)], [np.float32] * 3, [False] * 3, [(0, 3)],
            [{"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}],
            [["c"] * 3, [kind] * 3, ["c"] * 3], 0)
    with update_limits(16, 8):
        assert _same_update_steps(spec) == [True] * 3
    # ``blas`` calls of two addresses each: one per Parameter whose data and gradient are C-ordered,
    # writable and of one dtype (a Fortran-ordered 1-d array is C-ordered; a cast or reordered
    # ``p.data`` stays so in the third step)
    assert len(addressed) == 2 * blas


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_update_kernel_takes_the_784_step_bitwise(momentum, monkeypatch):
    """The benchmark's 784-512-256-10 Parameters at their real size: bitwise ``step(); zero_grad()``,
    the two large weights through one BLAS call each without momentum."""
    from minitorch.kernels import step_update

    addressed = []
    address = step_update._address
    monkeypatch.setattr(step_update, "_address", lambda a: addressed.append(a.size) or address(a))
    shapes = [(784, 512), (512,), (512, 256), (256,), (256, 10), (10,)]
    spec = (shapes, [np.float32] * 6, [False] * 6, [(0, 6)],
            [{"lr": 0.01, "momentum": momentum, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}],
            [["c"] * 6] * 2, 0)
    with kernels(True):
        fast, taken = _update_steps(spec, True)
        calls, _ = _update_steps(spec, False)
    assert taken == [True, True]
    assert addressed == ([] if momentum else [784 * 512] * 2 + [512 * 256] * 2) * 2
    for (data, *_), (data2, *_) in zip(fast, calls, strict=True):
        for a, b in zip(data, data2, strict=True):
            assert_bitwise(a, b, "a parameter")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("limits", [(16384, 16384), (16, 8)], ids=["shipped-limits", "low-limits"])
@pytest.mark.parametrize("data, grad", [(np.float32, np.float64), (np.float64, np.float32),
                                        (np.float32, np.float16), (np.float16, np.float16),
                                        (np.float16, np.float64)])
def test_sgd_update_kernel_meets_the_plain_step_for_a_gradient_of_another_dtype(data, grad, limits, momentum):
    """A gradient of another dtype than its Parameter's (float64 on float32 data, ...) or float16
    data: ``sgd_step`` takes the step and leaves the Parameters bitwise where ``step()`` with the
    kernels off leaves them (the plain ``p.data -= lr * g`` rounds lr in the gradient's dtype)."""
    results, taken = [], []
    for fast in (True, False):
        with kernels(fast), update_limits(*limits):
            from minitorch.kernels.step_update import sgd_step

            rng = np.random.default_rng(0)
            params = [mt.Parameter(rng.standard_normal(s).astype(data)) for s in [(9, 7), (7,), (7, 3)]]
            opt = mt.SGD(params, lr=0.1, momentum=momentum)
            for _ in range(3):
                for p in params:
                    _give_grad(p, rng.standard_normal(p.data.shape).astype(grad))
                if fast:
                    taken.append(sgd_step(opt))
                else:
                    opt.step()
                opt.zero_grad()
            results.append([p.data for p in params] + [s["momentum_buffer"] for s in opt.state.values()])
    assert taken == [True] * 3
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "kernels on against off")


def _give_grad(p, g) -> None:
    """p's grad g, of p's dtype or not: ``p.grad`` refuses another dtype (as torch), which arises
    when p.data is given another dtype after the gradient was written; so here, data kept as it is."""
    data = p.data
    p.data = data.astype(g.dtype)
    p.grad = g
    p.data = data


def _sgd_step_against_step(params, set_grads, opt, steps=2):
    """``steps`` steps of ``sgd_step`` (which must take each) and of ``step()`` (its dispatch
    declining) from the same ``params``' data, ``set_grads(params, rng)`` before each (rng seeded
    alike for both): the Parameters after them, bitwise the same."""
    from minitorch.kernels.step_update import sgd_step

    start = [p.data.copy() for p in params]
    results = []
    for fast in (True, False):
        rng = np.random.default_rng(0)
        for p, d in zip(params, start, strict=True):
            p.data[...] = d
        for _ in range(steps):
            set_grads(params, rng)
            if fast:
                assert sgd_step(opt) is True
            else:
                with _plain_sgd_step():
                    opt.step()
            opt.zero_grad()
        results.append([p.data.copy() for p in params])
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "sgd_step against step()")


@pytest.mark.parametrize("lr", [np.inf, -np.inf, np.nan])
def test_sgd_update_kernel_leaves_a_non_finite_lr_to_the_sgd_kernel(lr):
    """A group's lr set to inf or NaN after construction (a scheduler gone wrong): ``sgd_step``'s own
    update (one BLAS axpy by -lr) would give +-inf where the SGD kernel, which ``step()`` runs,
    scales by 1 - lr * 0 = NaN first; ``sgd_step`` hands that group to the kernel: the same bytes."""
    rng = np.random.default_rng(0)
    with kernels(True), update_limits(16, 8), np.errstate(all="ignore"):
        params = [mt.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(9, 7), (7,), (7, 3)]]
        opt = mt.SGD(params, lr=0.1)
        opt.param_groups[0]["lr"] = lr

        def set_grads(ps, rng):
            for p in ps:
                p.grad = rng.standard_normal(p.data.shape).astype(np.float32)

        _sgd_step_against_step(params, set_grads, opt, steps=1)


def test_sgd_update_kernel_leaves_a_flat_group_to_the_sgd_kernel(monkeypatch):
    """Parameters adopted into a flat group, then the flat limit lowered under the first one's
    size (``flat.MAX_ELEMENTS`` is read at each step): ``sgd_step`` still hands the group to the
    SGD kernel, whose flat update (``P -= a * G``, one pass) ``step()`` runs; its own per-Parameter
    update (BLAS axpy) would round otherwise and skip the group."""
    from minitorch.kernels import flat

    applied = []
    apply = flat._apply
    monkeypatch.setattr(flat, "_apply", lambda group, step: applied.append(step) or apply(group, step))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 100)).astype(np.float32)
    with kernels(True):
        model = mt.Sequential(mt.Linear(100, 100), mt.ReLU(), mt.Linear(100, 10))
        params = list(model.parameters())
        opt = mt.SGD(params, lr=0.1)

        def set_grads(ps, rng):  # the chain kernel writes the gradients into the group's slots
            model.backward(rng.standard_normal((32, 10)).astype(np.float32) + model(x))

        set_grads(params, rng)
        opt.step()  # (adopts the group)
        opt.zero_grad()
        assert flat.group_holding(params[0]) is not None
        with update_limits(16, 8):
            _sgd_step_against_step(params, set_grads, opt)
    assert len(applied) == 4  # every step of both, through the group


def test_sgd_update_kernel_declines_a_gradient_of_another_shape():
    """A gradient that would broadcast over its Parameter (shape (7,) on (9, 7) data), as long as
    the data or not: ``sgd_step`` declines with nothing done (never hands it to BLAS's axpy as if
    it were as long as the data), and ``step()`` raises its error. ``p.grad`` refuses such a
    gradient; it arises when ``p.data`` is given another shape after the gradient was written."""
    from minitorch.kernels.step_update import sgd_step

    rng = np.random.default_rng(2)
    with kernels(True), update_limits(4, 8):
        for shape in [(7,), (7, 9)]:
            params = [mt.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [shape, (5, 8)]]
            params[0].grad = rng.standard_normal(shape).astype(np.float32)
            params[0].data = rng.standard_normal((9, 7)).astype(np.float32)
            params[1].grad = rng.standard_normal((5, 8)).astype(np.float32)
            opt = mt.SGD(params, lr=0.1)
            before = [p.data.copy() for p in params]
            assert sgd_step(opt) is NotImplemented
            for p, d in zip(params, before, strict=True):
                assert_bitwise(p.data, d)
            with pytest.raises(ValueError, match="has a grad of shape"):
                opt.step()


def test_sgd_update_kernel_without_a_blas_routine_updates_in_numpy(monkeypatch):
    """No BLAS routine for the dtype (another BLAS library, none found): ``sgd_step``'s own update
    goes through the kernel's ``axpy_`` (NumPy), as ``step()`` does."""
    from minitorch.kernels import optimizers as optimizer_kernels

    monkeypatch.setattr(optimizer_kernels._get_blas(), "routines", {})
    rng = np.random.default_rng(3)
    with kernels(True), update_limits(4, 8):
        params = [mt.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(9, 7), (7,)]]
        opt = mt.SGD(params, lr=0.1)

        def set_grads(ps, rng):
            for p in ps:
                p.grad = rng.standard_normal(p.data.shape).astype(np.float32)

        _sgd_step_against_step(params, set_grads, opt)


def test_sgd_update_kernel_loads_its_classes_at_a_first_call_before_them(monkeypatch):
    """``sgd_step`` called while its table of classes is still empty (a tree where it was imported
    before SGD was defined) fills it at that call and takes the step."""
    from minitorch.kernels import step_update

    monkeypatch.setattr(step_update, "_classes", [])
    monkeypatch.setattr(step_update, "_originals", [])
    p = mt.Parameter(np.ones(3, np.float32))
    p.grad = np.ones(3, np.float32)
    with kernels(True):
        assert step_update.sgd_step(mt.SGD([p], lr=0.5)) is True
    assert step_update._classes == [mt.SGD, mt.Parameter]
    assert_bitwise(p.data, np.full(3, 0.5, np.float32))


@pytest.mark.parametrize("case, error", [
    ("kernels-off", None), ("adam", None), ("subclass", None), ("instance-step", None),
    ("instance-match", None), ("class-step", None), ("class-params-with-grad", None),
    ("parameter-zero_grad", None), ("kernel-sgd", None), ("kernel-axpy", None), ("plain-sgd", None),
    ("flat-update", None), ("transposed-view", None), ("waiting-forward", RuntimeError),
    ("bad-lr", ValueError), ("missing-setting", KeyError), ("not-a-parameter", AttributeError)])
def test_sgd_update_kernel_declines_with_nothing_done(case, error, monkeypatch):
    """Anything outside its case: ``sgd_step`` declines with no Parameter, gradient or state
    changed, and ``step()`` then runs (or raises its own error)."""
    from minitorch.kernels import flat, step_update
    from minitorch.kernels import optimizers as optimizer_kernels
    from minitorch.optimizers import sgd as sgd_module

    monkeypatch.setattr(mt.kernels, "_enabled", True)
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)

    def fill():
        for p in model.parameters():
            p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)

    fill()
    assert step_update.sgd_step(opt) is True  # its case, before meddling (the buffers made)
    fill()

    def wrap(owner, name):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, **k: original(*a, **k))  # a counter, a probe

    if case == "kernels-off":
        monkeypatch.setattr(mt.kernels, "_enabled", False)
    elif case == "adam":
        opt = mt.Adam(model.parameters(), lr=0.1)
    elif case == "subclass":
        opt = type("MySGD", (mt.SGD,), {})(model.parameters(), lr=0.1)
    elif case == "instance-step":
        opt.step = lambda: mt.SGD.step(opt)
    elif case == "instance-match":
        opt._match_state_dtypes = lambda: None
    elif case == "class-step":
        wrap(mt.SGD, "step")
    elif case == "class-params-with-grad":
        with_grad = mt.SGD._params_with_grad
        monkeypatch.setattr(mt.SGD, "_params_with_grad", lambda self, group: with_grad(self, group))
    elif case == "parameter-zero_grad":
        wrap(mt.Parameter, "zero_grad")
    elif case == "kernel-sgd":
        wrap(optimizer_kernels, "sgd")
    elif case == "kernel-axpy":
        wrap(optimizer_kernels, "axpy_")
    elif case == "plain-sgd":
        wrap(sgd_module, "sgd")
    elif case == "flat-update":
        wrap(flat, "update")
    elif case == "transposed-view":
        extra = mt.Linear(3, 5)
        opt.add_param_group({"params": [extra.weight]})
        extra.W.grad = np.ones_like(extra.W.data)
    elif case == "waiting-forward":
        model(np.ones((2, 4), np.float32))
    elif case == "bad-lr":
        opt.param_groups[0]["lr"] = "fast"
    elif case == "missing-setting":
        del opt.param_groups[0]["nesterov"]
    elif case == "not-a-parameter":
        opt.param_groups[0]["params"].append(np.zeros(3))
    params = [p for g in opt.param_groups for p in g["params"] if isinstance(p, mt.Parameter)]
    data, grads = [p.data.copy() for p in params], [p.grad.copy() for p in params]
    state = {p: {k: np.copy(v) for k, v in s.items()} for p, s in opt.state.items()}
    assert step_update.sgd_step(opt) is NotImplemented
    for p, d, g in zip(params, data, grads, strict=True):
        assert_bitwise(p.data, d)
        assert_bitwise(p.grad, g)
    assert opt.state.keys() == state.keys()
    for p, s in state.items():
        for name, value in s.items():
            assert_bitwise(opt.state[p][name], value)
    if error is None:
        opt.step()
    else:
        with pytest.raises(error):
            opt.step()


@pytest.mark.parametrize("target", ["SGD.step", "axpy_", "nothing"])
def test_sgd_update_kernel_declines_for_a_patch_made_before_its_first_call(target):
    """A probe patched on ``SGD.step`` or the SGD kernel's ``axpy_`` right after ``import
    minitorch``, before any step: ``sgd_step`` declines (the probe must run), as for a patch made
    after its first call; with nothing patched it takes the step."""
    code = f"""
import numpy as np
import minitorch as mt
from minitorch.kernels import optimizers, step_update
if {target!r} == "SGD.step":
    step = mt.SGD.step
    mt.SGD.step = lambda self: step(self)
elif {target!r} == "axpy_":
    axpy_ = optimizers.axpy_
    optimizers.axpy_ = lambda *args: axpy_(*args)
p = mt.Parameter(np.ones(3, np.float32))
p.grad = np.ones(3, np.float32)
print(step_update.sgd_step(mt.SGD([p], lr=0.1)) is NotImplemented)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_KERNELS_ON).stdout
    assert out.strip() == str(target != "nothing")


def _fit_with_update_kernel(monkeypatch, fused, momentum=0.0, callbacks=(), taken=None):
    """mt.fit of a 4-16-3 chain sent down the large-model paths (``fit_step`` declines), with
    ``sgd_step`` (each call recorded in ``taken``: whether it took the step) or without it; returns
    the history, the Parameters and their gradients after fit, and ``taken``. The gemm update of a
    deferred gradient product declines (``gemm_update.takes``: it rounds differently; its own tests
    are in tests/test_gemm_update.py), so the products are deferred, then computed by the update."""
    from minitorch.kernels import containers, flat, gemm_update, step_update
    from minitorch.kernels import optimizers as optimizer_kernels

    monkeypatch.setattr(gemm_update, "takes", lambda *args: False)

    taken = [] if taken is None else taken
    counting = counted(step_update.sgd_step, taken)
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    monkeypatch.setattr(optimizer_kernels, "BLAS_MIN", 16)
    monkeypatch.setattr(flat, "MAX_ELEMENTS", 32)
    monkeypatch.setattr(step_update, "sgd_step", counting if fused else lambda opt: NotImplemented)
    X, Y = fit_data()
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    opt = mt.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=0.01 if momentum else 0.0)
    history = mt.fit(model, mt.CrossEntropyLoss(), opt, mt.DataLoader(X, Y, batch_size=16, shuffle=False),
                     epochs=3, callbacks=list(callbacks), verbose=0)
    return history, [(p.data.copy(), p.grad) for p in model.parameters()], taken


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_fit_trains_the_same_with_its_sgd_update_kernel(momentum, monkeypatch):
    """mt.fit with ``sgd_step`` (it takes every update) and without: the same history, Parameters
    and (None) gradients, bitwise."""
    h1, p1, taken = _fit_with_update_kernel(monkeypatch, True, momentum)
    h2, p2, _ = _fit_with_update_kernel(monkeypatch, False, momentum)
    assert len(taken) == 18 and all(taken)
    assert h1["loss"] == h2["loss"] and h1["accuracy"] == h2["accuracy"]
    for (a, g), (b, h) in zip(p1, p2, strict=True):
        assert_bitwise(a, b)
        assert g is None and h is None


def test_fit_step_kernel_steps_never_reach_the_sgd_update_kernel(monkeypatch):
    """A small model whose steps ``fit_step`` takes: ``sgd_step`` runs only where it declined."""
    from minitorch.kernels import step as fast_step
    from minitorch.kernels import step_update

    calls = []
    for module, name in ((fast_step, "fit_step"), (step_update, "sgd_step")):
        monkeypatch.setattr(module, name, _recording(calls, name, getattr(module, name)))
    monkeypatch.setattr(mt.kernels, "_enabled", True)
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
           mt.DataLoader(X, Y, batch_size=16, shuffle=False), epochs=2, verbose=0)
    steps = [taken for name, taken in calls if name == "fit_step"]
    assert len(steps) == 8 and steps[1:] == [True] * 7  # (the first step's update adopts the flat group)
    assert [name for name, _ in calls] == ["fit_step", "sgd_step"] * (not steps[0]) + ["fit_step"] * 7


def _recording(calls, name, original):
    """``original``, each call recorded in ``calls`` as (name, whether it took the step)."""
    def recorded(*args):
        done = original(*args)
        calls.append((name, done is not NotImplemented))
        return done
    return recorded


@contextmanager
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler (a background job inherits SIGINT ignored, which fit leaves alone)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, inherited)


def _update_interrupted(monkeypatch, at, during):
    """``threads.apply_policy_for`` (the update's first call, before any Parameter moves) running
    ``during`` at update number ``at``."""
    from minitorch import threads

    count = [0]
    apply = threads.apply_policy_for

    def interrupted(params):
        count[0] += 1
        if count[0] == at:
            during()
        return apply(params)

    monkeypatch.setattr(threads, "apply_policy_for", interrupted)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_fit_a_second_ctrl_c_inside_the_sgd_update_kernel_waits_for_the_update(monkeypatch):
    """A second Ctrl-C landing inside ``sgd_step``'s update waits for it to end, as inside
    ``step()``: with the kernel and without, the same interrupted history, the same Parameters (the
    second step taken by all) and the same gradients left (zero_grad does not run after it)."""
    class FirstPress(mt.Callback):
        def on_batch_begin(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the first press: the batch will finish

    results = []
    with default_sigint():
        for fused in (True, False):
            with monkeypatch.context() as patch:
                _update_interrupted(patch, 2, lambda: os.kill(os.getpid(), signal.SIGINT))
                results.append(_fit_with_update_kernel(patch, fused, callbacks=[FirstPress()]))
    (h1, p1, taken), (h2, p2, _) = results
    assert taken == [True, True] and h1.interrupted and h2.interrupted
    assert len(h1["loss"]) == 1 and h1["loss"] == h2["loss"]
    for (a, g), (b, h) in zip(p1, p2, strict=True):
        assert_bitwise(a, b)
        assert_bitwise(g, h, "a gradient left by the interrupted step")


def test_fit_a_ctrl_c_inside_the_sgd_update_kernel_fit_cannot_defer_stops_it_as_torn(monkeypatch):
    """Where fit cannot defer it (its handler is not installed), a Ctrl-C inside ``sgd_step``'s
    update stops fit at once, saying the model may be torn, as one inside ``step()`` does."""
    def interrupt():
        raise KeyboardInterrupt

    taken = []
    _update_interrupted(monkeypatch, 2, interrupt)
    with pytest.raises(KeyboardInterrupt, match="may be torn"):
        _fit_with_update_kernel(monkeypatch, True, taken=taken)
    assert taken == [True]  # (the second call raised inside the update)


def test_sgd_step_is_taken_by_step_itself_and_meets_the_plain_lines(monkeypatch):
    """``opt.step()`` (the README's loop) takes ``sgd_step`` where its case holds: the same
    parameters, bitwise, as ``step()``'s own lines (its dispatch declining), kernels on."""
    from minitorch.kernels import step_update

    taken = []
    fast = step_update.sgd_step
    monkeypatch.setattr(step_update, "sgd_step", lambda opt: taken.append(fast(opt)) or taken[-1])
    results = []
    for plain in (False, True):
        with kernels(True), update_limits(16, 8):
            rng = np.random.default_rng(0)
            params = [mt.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(9, 7), (7,), (7, 3)]]
            opt = mt.SGD(params, lr=0.1)
            for _ in range(3):
                for p in params:
                    p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
                if plain:
                    with _plain_sgd_step():
                        opt.step()
                else:
                    opt.step()
                opt.zero_grad()
            results.append([p.data.copy() for p in params])
    assert taken == [True] * 3
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "a parameter")


@pytest.mark.parametrize("batch", [1, 32])
def test_readme_loop_on_the_784_model_backward_in_the_chain_kernel_equals_child_by_child(batch, monkeypatch):
    """The README's loop (forward, loss, ``model.backward``, ``opt.step()``, ``zero_grad``) on the
    784-512-256-10 model, kernels on: its backward runs in the chain kernel (large weights and
    pooled masks included); the data's gradient, the loss and every parameter after three steps
    bitwise the same loop with that kernel declining (each child's own backward), no call left
    waiting. The gemm update of a deferred gradient product declines (tests/test_gemm_update.py
    compares it with the plain update)."""
    from minitorch.kernels import containers as fast_containers
    from minitorch.kernels import gemm_update

    monkeypatch.setattr(gemm_update, "takes", lambda *args: False)
    rng = np.random.default_rng(7)
    data = [(rng.standard_normal((batch, 784)).astype(np.float32), rng.integers(0, 10, batch))
            for _ in range(3)]
    taken, backward = [], fast_containers.sequential_backward
    results = []
    for fused in (True, False):
        def counted_backward(*args, **kwargs):
            taken.append(backward(*args, **kwargs))
            return taken[-1]

        monkeypatch.setattr(fast_containers, "sequential_backward",
                            counted_backward if fused else lambda *a, **k: NotImplemented)
        with kernels(True):
            mt.manual_seed(0)
            model = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(),
                                  mt.Linear(256, 10))
            loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.01)
            out = []
            for x, y in data:
                out.append(np.array(float(loss_fn(model(x), y))))
                out.append(model.backward(loss_fn.backward()))
                opt.step()
                opt.zero_grad()
            results.append(out + [p.data.copy() for p in model.parameters()])
            assert all(len(m.__dict__["_stack"]) == 0 for m in model)
    assert len(taken) == 3 and all(t is not NotImplemented for t in taken)
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b, "the README loop")


def _frames_of(model):
    """Per child: its waiting frames (name -> array, newest last), whether the newest is the one
    shown, and the cache attributes as they read now."""
    state = []
    for m in model:
        d = m.__dict__
        stack = d["_stack"]
        state.append(([sorted(frame.items()) for frame in stack], bool(stack) and d["_shown"] is stack[-1],
                      d["_frame"], [(k, d.get(k)) for k in ("_x", "_mask")]))
    return state


def _assert_same_frames(fused, plain):
    for (frames_a, shown_a, frame_a, attrs_a), (frames_b, shown_b, frame_b, attrs_b) in zip(fused, plain,
                                                                                        strict=True):
        assert shown_a == shown_b and frame_a is frame_b is None
        assert [[k for k, _ in f] for f in frames_a] == [[k for k, _ in f] for f in frames_b]
        for fa, fb in zip(frames_a, frames_b, strict=True):
            for (name, a), (_, b) in zip(fa, fb, strict=True):
                assert_bitwise(a, b, name)
        for (name, a), (_, b) in zip(attrs_a, attrs_b, strict=True):
            assert (a is None) == (b is None), name
            if a is not None:
                assert_bitwise(a, b, name)


def _forward_run(make, xs, dys, fused, monkeypatch, calls=None):
    """``make()``'s model: a forward per x (kernels on; ``fused``: the chain kernel's loop, else
    each child called by its own call), the frames after each, then ``backward`` newest first.
    ``calls`` (a list): each call of the layer kernels ``linear_forward`` / ``relu_forward``."""
    from minitorch.kernels import containers as fast_containers
    from minitorch.kernels import layers as layer_kernels

    forward = fast_containers.sequential_forward
    monkeypatch.setattr(fast_containers, "sequential_forward",
                        forward if fused else lambda *a, **k: NotImplemented)
    for name in ("linear_forward", "relu_forward"):
        kernel = getattr(layer_kernels, name)
        monkeypatch.setattr(layer_kernels, name,
                            (lambda k, n: lambda *a: (calls.append(n), k(*a))[1])(kernel, name))
    with kernels(True):
        mt.manual_seed(0)
        model = make()
        out, states = [], []
        for x in xs:
            out.append(model(x))
            states.append(_frames_of(model))
        for dy in reversed(dys):
            out.append(model.backward(dy))
        out += [p.grad.copy() for p in model.parameters()]
        assert all(len(m.__dict__["_stack"]) == 0 and m.__dict__["_shown"] is None for m in model)
    monkeypatch.undo()
    return out, states


@pytest.mark.parametrize("batch", [1, 32, 128])
def test_readme_loop_on_the_784_model_forward_in_the_chain_kernel_equals_child_by_child(batch, monkeypatch):
    """The chain kernel's forward on the 784-512-256-10 model (large weights, pooled ReLU masks; on 2
    BLAS threads the first two products cut along K): the outputs, every frame left waiting (its
    names and arrays, the one shown) and then dx and every gradient, bitwise what each child's own
    call (its layer kernel) leaves; the layer kernels are not called (the loop does their
    arithmetic itself)."""
    from minitorch import threads

    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((batch, 784)).astype(np.float32) for _ in range(2)]
    dys = [rng.standard_normal((batch, 10)).astype(np.float32) for _ in range(2)]

    def make():
        return mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(),
                             mt.Linear(256, 10))

    calls = {True: [], False: []}
    with threads.blas_threads(2):
        fused, fused_states = _forward_run(make, xs, dys, True, monkeypatch, calls[True])
        plain, plain_states = _forward_run(make, xs, dys, False, monkeypatch, calls[False])
    assert calls[True] == []
    assert calls[False] == (["linear_forward", "relu_forward"] * 2 + ["linear_forward"]) * 2
    for a, b in zip(fused_states, plain_states, strict=True):
        _assert_same_frames(a, b)
    for a, b in zip(fused, plain, strict=True):
        assert_bitwise(a, b, "the README loop's forward")


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(st.integers(1, 40), min_size=2, max_size=5), data=st.data(),
       bias=st.booleans(), dtype=st.sampled_from(DTYPES), n=st.integers(1, 9),
       limit=st.sampled_from([1, 64, 512, 65536]), three_d=st.booleans())
def test_sequential_chain_kernel_forward_equals_child_by_child_for_any_weight_size(
        widths, data, bias, dtype, n, limit, three_d):
    """Chains of Linear and ReLU with ``SMALL_WEIGHT_BYTES`` anywhere between every weight and no
    weight counting as large (``gemm.matmul`` and the pooled mask, or x @ W and a fresh mask): two
    forwards (frames after each), then their backwards, bitwise the children's own calls."""
    relus = data.draw(st.lists(st.booleans(), min_size=len(widths) - 1, max_size=len(widths) - 1))
    first_relu = data.draw(st.booleans())

    def make():
        layers = [mt.ReLU()] if first_relu else []
        for (a, b), relu in zip(itertools.pairwise(widths), relus, strict=True):
            layers.append(mt.Linear(a, b, bias=bias))
            if relu:
                layers.append(mt.ReLU())
        return mt.Sequential(*layers).to(dtype)

    rng = np.random.default_rng(n * 100 + len(widths))
    lead = (2, n) if three_d else (n,)
    xs = [rng.standard_normal(lead + (widths[0],)).astype(dtype) for _ in range(2)]
    dys = [rng.standard_normal(lead + (widths[-1],)).astype(dtype) for _ in range(2)]
    calls = []
    with small_weight_bytes(limit), pytest.MonkeyPatch.context() as monkeypatch:
        fused, fused_states = _forward_run(make, xs, dys, True, monkeypatch, calls)
        assert calls == []  # every child in the loop, whatever its size
        plain, plain_states = _forward_run(make, xs, dys, False, monkeypatch, [])
    for a, b in zip(fused_states, plain_states, strict=True):
        _assert_same_frames(a, b)
    for a, b in zip(fused, plain, strict=True):
        assert_bitwise(a, b)
