"""Linear, Sigmoid, ReLU, Flatten: initialisation, dtype discipline, stability, properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import batch_sizes, features, float_arrays

import minitorch as mt


def test_linear_shapes_names_and_aliases():
    layer = mt.Linear(4, 3)
    assert layer.W.shape == (4, 3) and layer.b.shape == (3,)
    assert layer.grad_W is layer.W.grad and layer.grad_b is layer.b.grad
    assert mt.Linear(4, 3, bias=False).grad_b is None


def test_linear_default_init_is_pytorchs_uniform_bound():
    layer = mt.Linear(400, 300)
    k = 1 / np.sqrt(400)
    for p in (layer.W.data, layer.b.data):
        assert p.dtype == np.float32
        assert np.abs(p).max() <= k
        assert np.abs(p).max() > 0.95 * k  # fills the range, not a smaller one
    # U(-k, k) has variance k^2 / 3; 120,000 draws pin it within a few percent
    assert abs(layer.W.data.var() / (k * k / 3) - 1) < 0.03


def test_linear_init_follows_manual_seed():
    mt.manual_seed(7)
    a = mt.Linear(3, 2)
    mt.manual_seed(7)
    b = mt.Linear(3, 2)
    np.testing.assert_array_equal(a.W.data, b.W.data)
    assert not np.array_equal(a.W.data, mt.Linear(3, 2).W.data)


@pytest.mark.parametrize("args", [(0, 3), (3, -1), (2.5, 3), (True, 3)])
def test_linear_rejects_bad_sizes(args):
    with pytest.raises(ValueError, match="positive integer"):
        mt.Linear(*args)


def test_linear_wrong_feature_count_names_layer_expected_and_received():
    with pytest.raises(ValueError, match=r"Linear\(in_features=4\): expected input \(N, 4\), got \(32, 5\)"):
        mt.Linear(4, 3)(np.zeros((32, 5)))


def test_linear_backward_checks_dy_shape():
    layer = mt.Linear(4, 3)
    layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected dy of the output's shape \(2, 3\), got \(2, 4\)"):
        layer.backward(np.zeros((2, 4)))


def test_float64_input_does_not_promote_a_float32_model():
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2), mt.Sigmoid())
    y = model(np.ones((2, 3), dtype=np.float64))
    assert y.dtype == np.float32
    dx = model.backward(np.ones((2, 2), dtype=np.float64))
    assert dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_integer_input_is_converted_to_the_model_dtype():
    assert mt.Linear(2, 1)(np.array([[1, 2]])).dtype == np.float32
    assert mt.ReLU()(np.array([-1, 2])).dtype == np.float32
    assert mt.AdaptiveMaxPool2d(1)(np.arange(8).reshape(2, 2, 2)).dtype == np.float32
    assert mt.Upsample(scale_factor=2, mode="bilinear")(np.arange(4).reshape(1, 1, 2, 2)).dtype == np.float32


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    act = mt.Sigmoid()
    y = act(x)  # pytest turns an overflow RuntimeWarning into an error
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[3] == 0.5
    np.testing.assert_allclose(y[2], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-15)  # tiny, not 0
    assert np.all(np.isfinite(act.backward(np.ones_like(x))))


@settings(max_examples=30, deadline=None)
@given(x=float_arrays((7,), bound=50.0))
def test_sigmoid_symmetry(x):
    act = mt.Sigmoid()
    np.testing.assert_allclose(act(-x), 1.0 - act(x), atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(x=float_arrays((3, 4), bound=1e3))
def test_relu_output_and_gradient_mask(x):
    act = mt.ReLU()
    y = act(x)
    assert np.all(y >= 0) and np.array_equal(y, np.where(x > 0, x, 0))
    dy = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_array_equal(act.backward(dy), np.where(x > 0, dy, 0))


def test_relu_subgradient_at_zero_is_zero():
    act = mt.ReLU()
    act(np.zeros(3))
    np.testing.assert_array_equal(act.backward(np.ones(3)), 0)


@settings(max_examples=20, deadline=None)
@given(n=batch_sizes, fan_in=features, fan_out=features)
def test_linear_shapes_for_any_batch(n, fan_in, fan_out):
    layer = mt.Linear(fan_in, fan_out)
    y = layer(np.zeros((n, fan_in), dtype=np.float32))
    assert y.shape == (n, fan_out)
    assert layer.backward(np.ones_like(y)).shape == (n, fan_in)


def test_flatten_rejects_too_few_dims():
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\)"):
        mt.Flatten()(np.zeros(3))


def test_flatten_is_a_view_and_round_trips():
    x = np.arange(24.0).reshape(2, 3, 4)
    flat = mt.Flatten()
    y = flat(x)
    assert y.shape == (2, 12) and np.shares_memory(x, y)
    assert flat.backward(y).shape == (2, 3, 4)
