"""Gradient clipping matches torch.nn.utils: the total norm and every clipped gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

SHAPES = [(4, 8), (8,), (8, 3), (3,)]


def params_and_tensors(dtype, scale: float = 1.0, seed: int = 0):
    """MiniTorch Parameters and torch tensors with the same (random, non-trivial) gradients."""
    rng = np.random.default_rng(seed)
    params, tensors = [], []
    for shape in SHAPES:
        p = mt.Parameter(np.zeros(shape, dtype))
        p.grad = (scale * rng.standard_normal(shape)).astype(dtype)
        t = torch.tensor(np.zeros(shape, dtype), requires_grad=True)
        t.grad = torch.tensor(p.grad.copy())
        params.append(p)
        tensors.append(t)
    return params, tensors


NORMS = [2.0, 1.0, 3.0, 0.5, math.inf, "inf"]
MAX_NORMS = [0.1, 2.0, 1e6]                               # 1e6: nothing to clip


@pytest.mark.parametrize("norm_type", NORMS, ids=str)
@pytest.mark.parametrize("max_norm", MAX_NORMS, ids=str)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype, rtol):
    params, tensors = params_and_tensors(dtype)
    total = mt.clip_grad_norm_(params, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type)
    assert isinstance(total, np.floating) and total.shape == ()  # torch's 0-d tensor, its dtype too
    assert total.dtype == dtype and str(t_total.dtype) == f"torch.{np.dtype(dtype).name}"
    assert math.isclose(float(total), t_total.item(), rel_tol=rtol) and total.item() == float(total)
    for p, t in zip(params, tensors, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=rtol * 1e-3)


def test_clip_grad_value_matches_torch():
    for dtype in (np.float64, np.float32):
        params, tensors = params_and_tensors(dtype, scale=2.0)
        assert mt.clip_grad_value_(params, 0.7) is None
        torch.nn.utils.clip_grad_value_(tensors, 0.7)
        for p, t in zip(params, tensors, strict=True):
            assert p.grad.dtype == dtype
            np.testing.assert_array_equal(p.grad, t.grad.numpy())
            assert np.abs(p.grad).max() == pytest.approx(0.7)          # something was clipped


def test_parameters_without_gradient_are_left_out_and_stay_unwritten():
    params, tensors = params_and_tensors(np.float64)
    params[1].zero_grad()
    tensors[1].grad = None
    total = mt.clip_grad_norm_(params, 0.5)
    t_total = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    assert math.isclose(total, t_total.item(), rel_tol=1e-12)
    assert params[1].grad_is_zero                          # an optimizer will still skip it
    mt.clip_grad_value_(params, 0.1)
    assert params[1].grad_is_zero


def test_single_parameter_and_no_gradients():
    p = mt.Parameter(np.zeros(3))
    p.grad = np.array([3.0, 4.0, 0.0])
    assert mt.clip_grad_norm_(p, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad, np.array([3.0, 4.0, 0.0]) / (5.0 + 1e-6))
    q = mt.Parameter(np.zeros(3))
    assert mt.clip_grad_norm_([q], 1.0) == 0.0
    assert mt.clip_grad_norm_(mt.Linear(3, 2).parameters(), 1.0) == 0.0


def test_nonfinite_norm():
    params, tensors = params_and_tensors(np.float64)
    params[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="nan"):
        mt.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    tensors[0].grad[0, 0] = float("nan")
    total = mt.clip_grad_norm_(params, 1.0)                # torch too: the norm is NaN, so are the grads
    t_total = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    assert math.isnan(total) and math.isnan(t_total.item())


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e3), max_norm=st.floats(1e-2, 1e2), seed=st.integers(0, 1000),
       norm_type=st.sampled_from([1.0, 2.0, math.inf]))
def test_norm_after_clipping_is_at_most_max_norm(scale, max_norm, seed, norm_type):
    params, _ = params_and_tensors(np.float64, scale, seed)
    before = [p.grad.copy() for p in params]
    total = mt.clip_grad_norm_(params, max_norm, norm_type)
    after = mt.clip_grad_norm_(params, math.inf, norm_type)          # inf: measures, never clips
    assert after <= max_norm * (1 + 1e-9)
    assert math.isclose(after, min(total, total * max_norm / (total + 1e-6)), rel_tol=1e-9)
    for p, g in zip(params, before, strict=True):                     # one common factor for all
        ratio = p.grad / g
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)


@pytest.mark.parametrize("call, error", [
    (lambda ps: mt.clip_grad_norm_(ps, -1.0), ValueError),
    (lambda ps: mt.clip_grad_norm_(ps, 1.0, norm_type=math.nan), ValueError),
    (lambda ps: mt.clip_grad_norm_(ps, 1.0, norm_type="two"), ValueError),
    (lambda ps: mt.clip_grad_norm_(ps, "1"), ValueError),
    (lambda ps: mt.clip_grad_norm_([np.zeros(3)], 1.0), TypeError),
    (lambda ps: mt.clip_grad_value_(ps, -0.5), ValueError),
    (lambda ps: mt.clip_grad_value_([np.zeros(3)], 0.5), TypeError),
], ids=["max_norm<0", "norm-nan", "norm-str", "max_norm-str", "not-params", "clip_value<0",
        "value-not-params"])
def test_bad_arguments_are_refused(call, error):
    params, _ = params_and_tensors(np.float64)
    with pytest.raises(error):
        call(params)


# float16 gradients: torch accumulates their norms in float32 and rounds each to float16; float32
# ones overflow in float32 as torch's do. (scale, dtype): 300 in float16 squares past 65504.
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf], ids=str)
@pytest.mark.parametrize("dtype, scale, rtol", [(np.float16, 300.0, 2e-3), (np.float16, 1.0, 2e-3),
                                               (np.float32, 3e19, 1e-5), (np.float64, 1e150, 1e-12)],
                         ids=["f16-300", "f16-1", "f32-3e19", "f64-1e150"])
def test_clip_grad_norm_accumulates_and_overflows_as_torch(norm_type, dtype, scale, rtol):
    params, tensors = params_and_tensors(dtype, scale)
    total = mt.clip_grad_norm_(params, 1.0, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(tensors, 1.0, norm_type).item()
    assert (math.isinf(total) and math.isinf(t_total)) or math.isclose(total, t_total, rel_tol=rtol)
    for p, t in zip(params, tensors, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=rtol * 1e-3)


def test_foreach_is_accepted_as_torch_and_changes_nothing():
    for foreach in (None, True, False):
        params, tensors = params_and_tensors(np.float64)
        total = mt.clip_grad_norm_(params, 0.5, foreach=foreach)
        t_total = torch.nn.utils.clip_grad_norm_(tensors, 0.5, foreach=foreach)
        mt.clip_grad_value_(params, 0.01, foreach=foreach)
        torch.nn.utils.clip_grad_value_(tensors, 0.01, foreach=foreach)
        assert math.isclose(total, t_total.item(), rel_tol=1e-12)
        for p, t in zip(params, tensors, strict=True):
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="foreach"):
        mt.clip_grad_norm_(params, 0.5, foreach="yes")
