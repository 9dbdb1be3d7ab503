"""Activations and softmax: erf's accuracy, edge cases (x = 0, huge |x|), properties, errors.

Gradcheck and the PyTorch oracle of every activation run from the registry in tests/cases.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from bitwise import assert_bitwise
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import batch_sizes, features, float_arrays, seeds

import minitorch as mt
from minitorch import functional
from minitorch.functional import erf as _erf

ELEMENTWISE = [
    mt.Tanh, mt.LeakyReLU, lambda: mt.LeakyReLU(0.2), mt.ELU, lambda: mt.ELU(0.5), mt.GELU,
    lambda: mt.GELU(approximate="tanh"), mt.ReLU, mt.Sigmoid,
]
ALL = [*ELEMENTWISE, mt.Softmax, mt.LogSoftmax, lambda: mt.Softmax(dim=0), lambda: mt.LogSoftmax(dim=0)]


def test_erf_matches_math_erf_to_a_few_ulps():
    z = np.concatenate([np.linspace(-7, 7, 2801), [0.0, -0.0, 1e-300, 2.4999999, 2.5, 26.9, 27.5, 1e6]])
    ours = _erf(z)
    reference = np.array([math.erf(v) for v in z])
    np.testing.assert_allclose(ours, reference, rtol=4e-15, atol=1e-300)
    assert np.signbit(_erf(np.array([-0.0]))[0])


def test_erf_extremes_and_dtype():
    assert _erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert np.isnan(_erf(np.array([np.nan]))[0])
    z32 = np.linspace(-5, 5, 101, dtype=np.float32)
    out = _erf(z32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [math.erf(v) for v in z32.astype(np.float64)], rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("factory", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_inputs_stay_finite_and_match_torch(factory, dtype):
    """±1e4 and exact zeros: finite output and gradient (warnings are errors), equal to torch's."""
    x = np.array([[-1e4, -30.0, -1.0, 0.0, 1.0, 1e4], [0.0, 0.0, 5.0, -5.0, 1e4, 1e4]], dtype=dtype)
    dy = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    module = factory()
    y, dx = module(x), module.backward(dy)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = _torch_of(module)(x_t)
    y_t.backward(torch.tensor(dy))
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    # atol: 1 - tanh(5)**2 and 1 + erf(-3.5) cancel; both libraries lose the same digits
    rtol, atol = (1e-12, 1e-15) if dtype == np.float64 else (1e-5, 1e-6)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol, atol=atol)


def _torch_of(module: mt.Module) -> torch.nn.Module:
    from oracle import torch_twin

    return torch_twin(module)


@pytest.mark.parametrize(
    "module, slope_at_zero",
    [(mt.ReLU(), 0.0), (mt.LeakyReLU(0.2), 0.2), (mt.ELU(0.7), 0.7), (mt.GELU(), 0.5),
     (mt.GELU(approximate="tanh"), 0.5), (mt.Tanh(), 1.0)],
)
def test_subgradient_at_zero_is_pytorchs(module, slope_at_zero):
    assert module(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(module.backward(np.array([1.0, -2.0, 3.0])),
                               slope_at_zero * np.array([1.0, -2.0, 3.0]), rtol=1e-15)


@settings(max_examples=20, deadline=None)
@given(n=batch_sizes, d=features, data=st.data())
def test_elementwise_shapes_and_symmetries(n, d, data):
    x = data.draw(float_arrays((n, d)))
    for factory in ELEMENTWISE:
        module = factory()
        assert module(x).shape == x.shape and module.backward(np.ones_like(x)).shape == x.shape
    np.testing.assert_allclose(mt.Tanh()(-x), -mt.Tanh()(x), atol=0)
    # GELU(x) - GELU(-x) = x, because Phi(x) + Phi(-x) = 1
    np.testing.assert_allclose(mt.GELU()(x) - mt.GELU()(-x), x, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(mt.LeakyReLU(0.1)(x), np.maximum(x, 0.1 * x), rtol=1e-15)
    assert (mt.ELU()(x) > -1).all()


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_softmax_properties(shape, data):
    x = data.draw(float_arrays(tuple(shape), bound=1e4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    p = mt.Softmax(dim=dim)(x)
    log_p = mt.LogSoftmax(dim=dim)(x)
    assert (p >= 0).all() and np.isfinite(log_p).all() and (log_p <= 0).all()
    np.testing.assert_allclose(p.sum(axis=dim), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_p), p, rtol=1e-12, atol=1e-300)
    # shift invariance: adding a constant along dim changes nothing
    np.testing.assert_allclose(mt.LogSoftmax(dim=dim)(x + 123.0), log_p, rtol=1e-9, atol=1e-9)


def test_softmax_backward_is_orthogonal_to_ones():
    """Softmax outputs always sum to 1, so dx sums to 0 along dim for any dy."""
    rng = np.random.default_rng(0)
    s = mt.Softmax(dim=1)
    s(rng.standard_normal((3, 5, 2)))
    np.testing.assert_allclose(s.backward(rng.standard_normal((3, 5, 2))).sum(axis=1), 0.0, atol=1e-15)


def test_integer_input_becomes_default_dtype():
    for factory in ALL:
        assert factory()(np.array([[1, 2, 3]])).dtype == np.float32


@pytest.mark.parametrize(
    "build, match",
    [(lambda: mt.LeakyReLU("a"), "negative_slope"), (lambda: mt.LeakyReLU(float("nan")), "negative_slope"),
     (lambda: mt.ELU(alpha=None), "alpha"), (lambda: mt.GELU(approximate="fast"), "approximate"),
     (lambda: mt.GELU(approximate=True), "approximate")],
)
def test_constructors_validate(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_softmax_dim_errors():
    with pytest.raises(ValueError, match="Softmax: dim must be an integer"):
        mt.Softmax(dim=1.0)
    with pytest.raises(ValueError, match=r"Softmax\(dim=2\).*got shape \(3, 4\)"):
        mt.Softmax(dim=2)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"LogSoftmax\(dim=-3\)"):
        mt.LogSoftmax(dim=-3)(np.zeros((3, 4)))


@pytest.mark.parametrize("factory", ALL)
def test_backward_errors(factory):
    module = factory()
    with pytest.raises(RuntimeError, match="before forward"):
        module.backward(np.ones((2, 3)))
    module(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of the output's shape \(2, 3\), got \(3, 2\)"):
        module.backward(np.ones((3, 2)))


def test_repr_shows_arguments_like_torch():
    assert repr(mt.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(mt.ELU()) == "ELU(alpha=1.0)"
    assert repr(mt.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(mt.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(mt.Tanh()) == "Tanh()"


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_no_dim_is_torchs_implicit_dim_where_it_is_the_last_axis_and_an_error_elsewhere(cls):
    """torch's Softmax() (dim=None) takes dim 0 of a 3-D input and dim 1 of a 4-D one (deprecated,
    with a warning); ours took the last axis silently. 1-D and 2-D: the same axis, no error."""
    layer, torch_layer = getattr(mt, cls)().to(np.float64), getattr(torch.nn, cls)()
    for shape in ((5,), (3, 4)):
        x = np.random.default_rng(0).standard_normal(shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: "Implicit dimension choice ..."
            expected = torch_layer(torch.tensor(x)).numpy()
        np.testing.assert_allclose(layer(x), expected, rtol=1e-14)
    for shape, torch_dim in (((2, 3, 4), 0), ((2, 3, 4, 5), 1)):
        with pytest.raises(ValueError, match=rf"{cls}: no dim given, and the input is {len(shape)}-D .* "
                                             rf"would take dim={torch_dim} there"):
            layer(np.zeros(shape))
    assert getattr(mt, cls)(dim=-1)(np.zeros((2, 3, 4))).shape == (2, 3, 4)  # given: any input
    assert getattr(mt, cls)().dim is None and "dim=None" in repr(getattr(mt, cls)())  # torch's attribute


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_0d_input_is_one_entry_as_torch(cls, dim, dtype):
    """torch takes a 0-D input along dim None, 0 or -1: Softmax 1, LogSoftmax 0, gradient 0 (nan
    for a non-finite input)."""
    kwargs = {} if dim is None else {"dim": dim}
    layer, torch_layer = getattr(mt, cls)(**kwargs).to(dtype), getattr(torch.nn, cls)(**kwargs)
    for value in (0.5, -3.0, 1e4, -1e4, math.inf, -math.inf, math.nan):
        x, dy = np.array(value, dtype=dtype), np.array(2.5, dtype=dtype)
        t_x = torch.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: "Implicit dimension choice ..."
            t_y = torch_layer(t_x)
        t_y.backward(torch.tensor(dy))
        with np.errstate(invalid="ignore"):  # inf - inf, as for a non-finite entry of any input
            y = layer(x)
            dx = layer.backward(dy)
        assert y.shape == () and dx.shape == () and y.dtype == dtype and dx.dtype == dtype
        np.testing.assert_array_equal(y, t_y.detach().numpy())
        np.testing.assert_array_equal(dx, t_x.grad.numpy())
    assert mt.gradcheck(getattr(mt, cls)(**kwargs), np.array(0.7))


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [1, -2])
def test_a_0d_input_refuses_the_dims_torch_refuses(cls, dim):
    expected = rf"{cls}\(dim={dim}\): expected an input with a dim {dim}, got shape \(\)"
    with pytest.raises(ValueError, match=expected):
        getattr(mt, cls)(dim=dim)(np.array(0.5))


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3), data=st.data(), seed=seeds,
       scale=st.sampled_from([0.1, 1.0, 30.0, 1e4]), dtype=st.sampled_from([np.float32, np.float64]))
def test_softmax_layer_is_functional_softmax_bit_for_bit(shape, data, seed, scale, dtype):
    """Softmax's forward is ``functional.softmax`` (one formula): the same bytes, with the shifted
    exponentials' form exp(s) / sum(exp(s)) written out, for huge, infinite and nan entries too."""
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    if x.size:
        specials = data.draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan, 0.0, -0.0, 3e38]),
                                      max_size=3))
        x.flat[: len(specials)] = specials
    dims = [None] if len(shape) <= 1 else []
    dim = data.draw(st.sampled_from(dims + list(range(-max(len(shape), 1), max(len(shape), 1)))))
    layer = mt.Softmax(dim=dim)
    with np.errstate(all="ignore"):
        y = layer(x)
        axis = -1 if dim is None else dim
        _, exp_s, sum_exp = functional.shifted_exp(x, axis)
        assert_bitwise(y, functional.softmax(x, axis), "Softmax vs functional.softmax")
        assert_bitwise(y, exp_s / sum_exp, "Softmax vs exp(s) / sum(exp(s))")


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3), data=st.data(), seed=seeds,
       scale=st.sampled_from([0.1, 1.0, 30.0, 1e4]), dtype=st.sampled_from([np.float32, np.float64]))
def test_softmax_backward_is_its_formula_bit_for_bit(shape, data, seed, scale, dtype):
    """Softmax's backward is ``functional.softmax_backward`` (one formula, shared with attention): the
    same bytes as dx = y * (dy - sum(dy * y, dim)) written out, with huge, infinite and nan entries too."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    dy = (rng.standard_normal(shape) * scale).astype(dtype)
    if x.size:
        specials = data.draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan, 0.0, -0.0, 3e38]),
                                      max_size=3))
        dy.flat[: len(specials)] = specials
    dims = [None] if len(shape) <= 1 else []
    dim = data.draw(st.sampled_from(dims + list(range(-max(len(shape), 1), max(len(shape), 1)))))
    layer = mt.Softmax(dim=dim)
    with np.errstate(all="ignore"):
        y = layer(x)
        dx = layer.backward(dy)
        axis = (-1 if dim is None else dim) if x.ndim else None
        written_out = y * (dy - np.sum(dy * y, axis=axis, keepdims=True))
        assert_bitwise(dx, written_out, "Softmax.backward vs y * (dy - sum(dy * y))")
        assert_bitwise(functional.softmax_backward(y, dy, axis), written_out, "functional.softmax_backward")
