"""torch.nn's ReLU6, SELU, CELU, Softsign, Hardswish, Hardsigmoid, LogSigmoid, Threshold, Softmin,
Tanhshrink, Softshrink, Hardshrink, GLU and RMSNorm: what the registry's fixed cases (tests/cases.py:
gradcheck, oracle, contract) cannot show.

Hypothesis grids of the options and of values at and near every kink against torch 2.13, float32 and
float64; the slope AT each kink; LogSigmoid at huge |x|; the refusals; a model file, the summary,
interop and ONNX of a model holding every one of them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin

import minitorch as mt

TOL = {np.float64: (1e-12, 1e-14), np.float32: (2e-6, 1e-6)}


def _run_both(m: mt.Module, x: np.ndarray, dy: np.ndarray | None = None):
    """(y, dx) of MiniTorch and of the torch twin for input x and upstream dy (ones if None)."""
    t = torch_twin(m)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = t(x_t)
    dy = np.ones(tuple(y_t.shape), x.dtype) if dy is None else dy.astype(x.dtype)
    y_t.backward(torch.tensor(dy))
    y = m(x)
    dx = m.backward(dy)
    return (y, dx), (y_t.detach().numpy(), x_t.grad.numpy())


def _assert_as_torch(m: mt.Module, x: np.ndarray, dy: np.ndarray | None = None) -> None:
    (y, dx), (y_t, dx_t) = _run_both(m, x, dy)
    rtol, atol = TOL[x.dtype.type]
    assert y.dtype == x.dtype and dx.dtype == x.dtype, (y.dtype, dx.dtype, x.dtype)
    np.testing.assert_allclose(y, y_t, rtol=rtol, atol=atol, err_msg=f"{m} output")
    np.testing.assert_allclose(dx, dx_t, rtol=rtol, atol=atol, err_msg=f"{m} dx")


# --- the slope AT each kink, exactly ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("build, x, y, dx", [
    (lambda: mt.ReLU6(), [-1.0, 0.0, 3.0, 6.0, 7.0], [0, 0, 3, 6, 6], [0, 0, 1, 0, 0]),
    (lambda: mt.Hardsigmoid(), [-4.0, -3.0, 0.0, 3.0, 4.0], [0, 0, 0.5, 1, 1],
     [0, 0, np.float32(1 / 6), 0, 0]),
    (lambda: mt.Hardswish(), [-4.0, -3.0, 0.0, 3.0, 4.0], [0, 0, 0, 3, 4], [0, 0, 0.5, 1, 1]),
    (lambda: mt.SELU(), [0.0], [0.0], [mt.layers.activations_smooth.SELU_ALPHA
                                       * mt.layers.activations_smooth.SELU_SCALE]),
    (lambda: mt.CELU(0.5), [0.0, 1.0], [0, 1], [1, 1]),
    (lambda: mt.Threshold(0.5, -2.0), [0.25, 0.5, 0.75], [-2, -2, 0.75], [0, 0, 1]),
    (lambda: mt.Softshrink(0.5), [-0.5, 0.0, 0.5, 0.75], [0, 0, 0, 0.25], [0, 0, 0, 1]),
    (lambda: mt.Hardshrink(0.5), [-0.5, 0.0, 0.5, 0.75], [0, 0, 0, 0.75], [0, 0, 0, 1]),
    (lambda: mt.Softsign(), [0.0, 1.0], [0, 0.5], [1, 0.25]),
    (lambda: mt.Tanhshrink(), [0.0], [0.0], [0.0]),
    (lambda: mt.LogSigmoid(), [0.0], [-np.log(2.0)], [0.5]),
], ids=["ReLU6", "Hardsigmoid", "Hardswish", "SELU", "CELU", "Threshold", "Softshrink", "Hardshrink",
        "Softsign", "Tanhshrink", "LogSigmoid"])
def test_values_and_slopes_at_the_kinks_are_torchs(build, x, y, dx, dtype):
    """ReLU6' is 0 at 0 and 6, Hardswish' is 0 at -3 and 1 at 3 (torch's outer branches), Hardsigmoid'
    0 at +-3 and float32(1/6) between, Threshold', the shrinks' 0 at their edges: stated and as torch."""
    x = np.array(x, dtype)
    m = build()
    (got_y, got_dx), (y_t, dx_t) = _run_both(m, x)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(got_y, np.array(y, dtype), rtol=rtol, atol=atol)
    np.testing.assert_allclose(got_dx, np.array(dx, dtype), rtol=rtol, atol=atol)
    np.testing.assert_array_equal(got_dx, dx_t)  # the slope torch takes at the kink, bit for bit
    np.testing.assert_allclose(got_y, y_t, rtol=rtol, atol=atol)


# --- hypothesis grids: options x values at and near the kinks, both dtypes -----------------------------
KINKS = [0.0, 6.0, -3.0, 3.0, 0.5, -0.5]


def _values_near(kinks: list[float]) -> st.SearchStrategy:
    """Arrays of 10-40 values: each a kink, a kink +- a tiny offset, or anything in [-10, 10]."""
    near = st.tuples(st.sampled_from(kinks), st.sampled_from([0.0, 1e-6, -1e-6, 1e-3, -1e-3, 0.25, -0.25]))
    value = st.one_of(near.map(sum), st.floats(-10, 10, allow_nan=False))
    return st.lists(value, min_size=10, max_size=40)


@settings(max_examples=40, deadline=None)
@given(values=_values_near(KINKS), threshold=st.sampled_from([0.0, 0.5, -3.0, 0.3]),
       value=st.floats(-5, 5), lambd=st.sampled_from([0.0, 0.5, 3.0, 0.3]), alpha=st.floats(0.1, 3.0),
       neg_lambd=st.floats(-2, 2), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_elementwise_options_and_kinks_match_torch(values, threshold, value, lambd, alpha, neg_lambd,
                                                    dtype, seed):
    x = np.array(values, dtype)
    dy = np.random.default_rng(seed).standard_normal(x.shape)
    kinks = [threshold, lambd, -lambd] + KINKS
    x[: len(kinks)] = np.array(kinks, dtype)  # every kink of this draw, exactly
    for build in (mt.ReLU6, mt.Hardsigmoid, mt.Hardswish, mt.SELU, mt.Softsign, mt.Tanhshrink,
                  mt.LogSigmoid, lambda: mt.CELU(alpha), lambda: mt.Threshold(threshold, value),
                  lambda: mt.Softshrink(lambd), lambda: mt.Hardshrink(lambd),
                  lambda: mt.Hardshrink(neg_lambd)):
        _assert_as_torch(build(), x, dy)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
def test_softmin_and_glu_along_any_dim_match_torch(shape, data, dtype, seed):
    rng = np.random.default_rng(seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rng.standard_normal(shape).astype(dtype) * 3
    _assert_as_torch(mt.Softmin(dim=dim), x, rng.standard_normal(shape))
    shape[dim] *= 2  # GLU halves dim
    x = rng.standard_normal(shape).astype(dtype) * 3
    half = list(shape)
    half[dim] //= 2
    _assert_as_torch(mt.GLU(dim=dim), x, rng.standard_normal(half))


@settings(max_examples=30, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       norm=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       eps=st.sampled_from([None, 1e-6, 1e-3, 0.5]), affine=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), scale=st.sampled_from([1e-4, 1.0, 1e3]),
       seed=st.integers(0, 99))
def test_rmsnorm_options_match_torch(lead, norm, eps, affine, dtype, scale, seed):
    """normalized_shape of 1-2 dims, eps None (the dtype's machine epsilon) or given, with and without
    weight: output, dx and dweight as torch's, in the weight's (or the input's) dtype."""
    rng = np.random.default_rng(seed)
    m = mt.RMSNorm(tuple(norm), eps=eps, elementwise_affine=affine, dtype=dtype)
    if affine:
        m.weight.data[...] = rng.uniform(-2, 2, norm)
    x = (rng.standard_normal(lead + norm) * scale).astype(dtype)
    t = torch_twin(m)
    x_t = torch.tensor(x, requires_grad=True)
    dy = rng.standard_normal(x.shape).astype(dtype)
    t(x_t).backward(torch.tensor(dy))
    y, dx = m(x), m.backward(dy)
    rtol, atol = (1e-11, 1e-13) if dtype == np.float64 else (2e-5, 2e-6)
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, t(x_t).detach().numpy(), rtol=rtol, atol=atol)
    # dx = w*dy/rms - x * mean(w*dy*x) / rms**3 cancels to ~0 where one element dominates its row (a
    # normalized_shape of 1): both libraries then give rounding noise, a few ulps of the terms' size
    axes = tuple(range(len(lead), x.ndim))
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=axes) + (eps or np.finfo(dtype).eps))
    w = m.weight.data if affine else 1.0
    terms = np.max(np.abs(dy * w)) / np.min(rms)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol,
                               atol=max(atol / scale, 64 * np.finfo(dtype).eps * terms))
    if affine:
        np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=rtol, atol=atol)


def test_rmsnorm_eps_none_is_the_machine_epsilon_of_the_dtype():
    """A zero row: y = 0 * 1/sqrt(eps), dx = dy / sqrt(eps): eps read from the computing dtype, as torch."""
    for dtype in (np.float32, np.float64):
        m = mt.RMSNorm(3, elementwise_affine=False)
        m(np.zeros((1, 3), dtype))
        dx = m.backward(np.ones((1, 3), dtype))
        np.testing.assert_allclose(dx, 1 / np.sqrt(np.finfo(dtype).eps), rtol=1e-6)
    m = mt.RMSNorm(3, dtype=np.float32)
    assert m(np.ones((2, 3))).dtype == np.float64  # computes in the input's dtype, as torch's
    assert "eps=None" in repr(m)


# --- stability: LogSigmoid for huge |x| ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_logsigmoid_is_finite_and_exact_for_huge_inputs(dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype)
    m = mt.LogSigmoid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        (y, dx), (y_t, dx_t) = _run_both(m, x)
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_array_equal(y[[0, 1, 6]], np.array([-1e4, -100.0, 0.0], dtype))
    assert y[5] < 0 and dx[5] > 0  # the tail keeps its tiny value (log1p of exp(-100)), as torch
    subnormal = 1e-44  # x = 100 in float32: ~-3.8e-44, where torch's exp may differ by a subnormal ulp
    np.testing.assert_allclose(y, y_t, rtol=1e-6, atol=subnormal)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-6, atol=subnormal)


@pytest.mark.parametrize("build", [mt.SELU, mt.CELU, lambda: mt.CELU(0.3)], ids=["SELU", "CELU", "CELU-0.3"])
def test_exponential_units_do_not_overflow_for_huge_inputs(build):
    x = np.array([-1e4, 1e4], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_as_torch(build(), x)


# --- refusals -----------------------------------------------------------------------------------------
_T = torch.ones
REFUSALS = [  # (ours, error, message, torch's call refusing the same, or None where torch has no twin)
    (lambda: mt.GLU()(np.ones((2, 5))), ValueError, r"GLU\(dim=-1\): expected an even size along dim -1",
     lambda: torch.nn.GLU()(_T(2, 5))),
    (lambda: mt.GLU(dim=2)(np.ones((2, 4))), ValueError, r"GLU\(dim=2\): expected an input with a dim 2",
     lambda: torch.nn.GLU(dim=2)(_T(2, 4))),
    (lambda: mt.GLU()(np.ones(())), ValueError, "GLU: expected an input of at least 1 dim",
     lambda: torch.nn.GLU()(_T(()))),
    (lambda: mt.Softshrink(-1.0), ValueError, r"Softshrink: lambd must be a number in \[0",
     lambda: torch.nn.Softshrink(-1.0)(_T(2))),
    (lambda: mt.CELU(0.0), ValueError, "CELU: alpha cannot be 0", lambda: torch.nn.CELU(0.0)(_T(2))),
    (lambda: mt.Softmin()(np.ones((2, 3, 4))), ValueError, "Softmin: no dim given", None),  # torch: dim 0
    (lambda: mt.RMSNorm(4)(np.ones((2, 5))), ValueError, r"RMSNorm\(normalized_shape=\(4,\)\): expected",
     lambda: torch.nn.RMSNorm(4)(_T(2, 5))),
    (lambda: mt.RMSNorm(0), ValueError, "RMSNorm: each dim must be", None),
    (lambda: mt.RMSNorm(3, eps=-1.0), ValueError, "RMSNorm: eps must be a number", None),
    (lambda: mt.Threshold(0.5), TypeError, "Threshold", lambda: torch.nn.Threshold(0.5)),
]


@pytest.mark.parametrize("call, error, message, torch_call", REFUSALS)
def test_refusals_name_the_layer_and_what_came(call, error, message, torch_call):
    with pytest.raises(error, match=message):
        call()
    if torch_call is not None:  # torch refuses it too
        with pytest.raises((RuntimeError, IndexError, TypeError)):
            torch_call()


@pytest.mark.parametrize("cls", [mt.ReLU6, mt.SELU, mt.CELU, mt.Hardswish, mt.Hardsigmoid])
def test_inplace_is_refused_as_the_existing_activations_refuse_it(cls):
    """torch's inplace=: the existing activations (ReLU, ELU, Hardtanh) take no such argument, nor these."""
    with pytest.raises(TypeError, match=rf"^{cls.__name__} does not support inplace"):
        cls(inplace=True)
    with pytest.raises(TypeError, match=r"^ReLU does not support inplace"):
        mt.ReLU(inplace=True)


def test_a_setting_edited_later_is_read_at_the_next_forward():
    x = np.array([-1.0, 0.2, 0.4, 1.0])
    for m, name, value, fresh in [(mt.Threshold(0.1, 0.0), "threshold", 0.3, mt.Threshold(0.3, 0.0)),
                                  (mt.Softshrink(0.5), "lambd", 0.1, mt.Softshrink(0.1)),
                                  (mt.Hardshrink(0.5), "lambd", 0.1, mt.Hardshrink(0.1)),
                                  (mt.CELU(1.0), "alpha", 2.0, mt.CELU(2.0))]:
        setattr(m, name, value)
        np.testing.assert_array_equal(m(x), fresh(x))
        np.testing.assert_array_equal(m.backward(np.ones(4)), fresh.backward(np.ones(4)))


# --- the model file, the summary, interop and ONNX of a model holding every one ------------------------
def _every_one() -> mt.Sequential:
    model = mt.Sequential(
        mt.Linear(4, 8), mt.ReLU6(), mt.SELU(), mt.CELU(0.7), mt.Softsign(), mt.Hardswish(), mt.Hardsigmoid(),
        mt.Linear(8, 8), mt.LogSigmoid(), mt.Threshold(-0.5, 0.25), mt.Tanhshrink(), mt.Softshrink(0.1),
        mt.Hardshrink(0.05), mt.RMSNorm(8, eps=1e-4), mt.GLU(), mt.Linear(4, 6), mt.Softmin(dim=1),
    )
    model[13].weight.data[...] = np.linspace(0.5, 2.0, 8)
    return model.eval()


def test_model_file_round_trip_keeps_every_constructor_argument(tmp_path):
    model = _every_one()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    mt.save_model(model, tmp_path / "acts.npz")
    loaded = mt.load_model(tmp_path / "acts.npz")
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded(x), model(x))
    no_affine = mt.Sequential(mt.RMSNorm((2, 3), elementwise_affine=False))
    mt.save_model(no_affine, tmp_path / "rms.npz")
    assert repr(mt.load_model(tmp_path / "rms.npz")) == repr(no_affine)


def test_summary_lists_every_one_with_its_shape_and_parameters():
    text = str(mt.summary(_every_one(), (4,)))
    for name in ("ReLU6", "SELU", "CELU", "Softsign", "Hardswish", "Hardsigmoid", "LogSigmoid", "Threshold",
                 "Tanhshrink", "Softshrink", "Hardshrink", "RMSNorm", "GLU", "Softmin"):
        assert name in text, name
    assert "14 (GLU)          (1, 4)" in text  # GLU halves 8 features
    assert "13 (RMSNorm)      (1, 8)               8" in text  # its weight only: no bias
    assert "Total params: 150" in text  # 40 + 72 + 8 + 30


def test_to_torch_and_from_torch_give_the_same_function():
    model = _every_one()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    t = mt.interop.to_torch(model)
    assert [type(c).__name__ for c in t] == [type(c).__name__ for c in model]
    np.testing.assert_allclose(t(tensor(x)).detach().numpy(), model(x), rtol=1e-5, atol=1e-6)
    back = mt.interop.from_torch(t)
    assert repr(back) == repr(model)
    np.testing.assert_array_equal(back.eval()(x), model(x))
    t_rms = torch.nn.RMSNorm([2, 3], eps=None, elementwise_affine=False, dtype=torch.float64)
    rms = mt.interop.from_torch(t_rms)
    assert rms.eps is None and rms.normalized_shape == (2, 3) and rms.weight is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_onnx_export_runs_every_one_as_minitorch(tmp_path, dtype):
    ort = pytest.importorskip("onnxruntime")
    model = _every_one().to(dtype)
    path = tmp_path / "acts.onnx"
    mt.onnx.export(model, path, (3, 4))
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(dtype)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, model(x), rtol=tol, atol=tol)


@pytest.mark.parametrize("act", [mt.ReLU6, mt.Hardswish, mt.Hardsigmoid, lambda: mt.Threshold(0.0, 0.0)],
                         ids=["ReLU6", "Hardswish", "Hardsigmoid", "Threshold-as-ReLU"])
def test_linear_chains_with_these_activations_give_the_plain_paths_numbers(act):
    """The fast room's Linear+ReLU chain (kernels/containers.py, inference_plan.py) runs exact ReLU
    only: a chain of these runs child by child, bit for bit the plain formulas, training and eval."""
    from minitorch.kernels import kernels_enabled, use_kernels

    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 16)).astype(np.float32) * 4
    dy = rng.standard_normal((64, 4)).astype(np.float32)
    results = []
    was = kernels_enabled()
    try:
        for enabled in (True, False):
            use_kernels(enabled)
            mt.manual_seed(0)
            model = mt.Sequential(mt.Linear(16, 32), act(), mt.Linear(32, 32), act(), mt.Linear(32, 4))
            y = model(x)
            dx = model.backward(dy)
            results.append([y, dx, *(p.grad for p in model.parameters()), model.eval()(x)])
    finally:
        use_kernels(was)
    for ours, plain in zip(*results, strict=True):
        np.testing.assert_array_equal(ours, plain)


def test_prelu_reads_its_weight_not_an_edited_num_parameters_as_torch():
    """torch's PReLU forward is F.prelu(x, weight): num_parameters edited after construction changes
    nothing. (Read from num_parameters, a PReLU(5) set to 1 broadcast its 5 slopes along the last axis.)"""
    ours, theirs = mt.PReLU(5), torch.nn.PReLU(5)
    w = np.linspace(-0.5, 0.5, 5)
    ours.weight.data[...] = w
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w, dtype=torch.float32))
    ours.num_parameters = theirs.num_parameters = 1
    x = -np.ones((2, 5, 5), np.float32)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    y_t.backward(torch.ones_like(y_t))
    np.testing.assert_allclose(ours(x), y_t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.backward(np.ones_like(x)), x_t.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-6)
