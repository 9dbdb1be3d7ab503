"""The fast room (minitorch/kernels) computes what the plain formulas compute.

Every module case (tests/cases.py), every loss case (tests/test_losses.py) and every optimizer
trajectory (tests/trajectories.py) runs twice, kernels on and off, in float32 and float64:
  - layers and losses: bitwise equal (output, loss, input gradient, every parameter gradient);
    their kernels only skip arrays and passes, never reorder a float operation; except the
    layers in REORDERS_SUMS (Conv2d's channels-last product), equal within rtol 1e-5, atol 1e-6
    (float32) and rtol 1e-12, atol 1e-13 (float64);
  - optimizers: parameters and state after 20 steps within rtol 2e-5, atol 2e-6 (float32) and
    rtol 1e-12, atol 1e-13 (float64), since an optimizer kernel may fuse or reorder the numbered
    lines and 20 float32 steps carry that rounding forward.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from cases import MODULE_CASES
from test_losses import LOSS_CASES, make_data
from trajectories import CONFIG_IDS, CONFIGS, OPTIMIZERS, batches, groups, make_model

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels

DTYPES = [np.float32, np.float64]
# Layers whose kernel sums the same products in another order (a channels-last matrix product):
# equal to the plain layer at float tolerance instead of bitwise.
REORDERS_SUMS = {"Conv2d"}


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
        mt.manual_seed(0)
        dy = rng.standard_normal(factory()(x).shape).astype(dtype)
        fast, plain = _module_run(factory, x, dy, True), _module_run(factory, x, dy, False)
    for a, b in zip(fast, plain, strict=True):
        assert a.dtype == b.dtype
        if REORDERS_SUMS.intersection(type(m).__name__ for m in factory().modules()):
            tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
            np.testing.assert_allclose(a, b, **tol)
        else:
            np.testing.assert_array_equal(a, b)


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
    np.testing.assert_array_equal(loss_fast, loss_plain)
    assert dx_fast.dtype == dx_plain.dtype == dtype
    np.testing.assert_array_equal(dx_fast, dx_plain)


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
