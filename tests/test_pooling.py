"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d: PyTorch oracle over a grid, ties, -inf/NaN, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module, tensor, torch_twin

import minitorch as mt

small = st.integers(min_value=1, max_value=3)


@st.composite
def pool_settings(draw: st.DrawFn) -> tuple[tuple, tuple, tuple, tuple[int, ...]]:
    """(kernel, stride, padding, input shape): padding at most half the kernel, as torch requires."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(small), draw(small))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(max(1, k - 2 * p), k + 6)) for k, p in zip(kernel, padding, strict=True))
    return kernel, stride, padding, (draw(small), draw(small), *size)


def run_pair(module: mt.Module, x: np.ndarray, dy_seed: int = 0) -> tuple[np.ndarray, ...]:
    """(y, dx, y_torch, dx_torch) for one forward/backward with the same upstream gradient."""
    twin = torch_twin(module)
    x_t = tensor(x, requires_grad=True)
    y_t = twin(x_t)
    dy = np.random.default_rng(dy_seed).standard_normal(tuple(y_t.shape)).astype(x.dtype)
    y_t.backward(tensor(dy))
    return module(x), module.backward(dy), y_t.detach().numpy(), x_t.grad.numpy()


@pytest.mark.parametrize("cls", [mt.MaxPool2d, mt.AvgPool2d])
@settings(max_examples=30, deadline=None)
@given(s=pool_settings(), seed=st.integers(0, 2**16))
def test_pooling_matches_torch_float64_over_a_grid(cls, s, seed):
    kernel, stride, padding, shape = s
    x = np.random.default_rng(seed).standard_normal(shape)
    compare_module(cls(kernel, stride, padding), x, rtol=1e-10, atol=1e-12, seed=seed)


@pytest.mark.parametrize("cls", [mt.MaxPool2d, mt.AvgPool2d])
@settings(max_examples=10, deadline=None)
@given(s=pool_settings(), seed=st.integers(0, 2**16))
def test_pooling_matches_torch_float32_and_stays_float32(cls, s, seed):
    kernel, stride, padding, shape = s
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    compare_module(cls(kernel, stride, padding), x, rtol=1e-6, atol=1e-6, seed=seed)


@settings(max_examples=20, deadline=None)
@given(s=pool_settings(), values=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_maxpool_ties_send_the_gradient_to_one_position_like_torch(s, values, seed):
    """Inputs drawn from 1 to 3 distinct values: most windows hold ties; torch takes the first max."""
    kernel, stride, padding, shape = s
    x = np.random.default_rng(seed).integers(0, values, shape).astype(np.float64)
    pool = mt.MaxPool2d(kernel, stride, padding)
    y, dx, y_t, dx_t = run_pair(pool, x, seed)
    np.testing.assert_array_equal(y, y_t)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-12)  # overlaps add in another order


def test_maxpool_equal_inputs_send_each_window_gradient_to_its_first_element():
    pool = mt.MaxPool2d(2)
    pool(np.full((1, 1, 4, 6), 3.0))
    dy = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    dx = pool.backward(dy)
    expected = np.zeros((1, 1, 4, 6))
    expected[0, 0, ::2, ::2] = dy[0, 0]
    np.testing.assert_array_equal(dx, expected)


def test_maxpool_overlapping_windows_add_their_gradients():
    pool = mt.MaxPool2d(3, stride=1)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 5.0  # the maximum of all four 3x3 windows
    pool(x)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 2] == 4 and dx.sum() == 4


def test_maxpool_padding_is_never_chosen_even_for_minus_infinity_inputs():
    x = np.full((1, 2, 4, 5), -np.inf)
    y, dx, y_t, dx_t = run_pair(mt.MaxPool2d(3, stride=1, padding=1), x)
    np.testing.assert_array_equal(y, y_t)
    np.testing.assert_array_equal(dx, dx_t)
    assert dx.sum() != 0


def test_maxpool_nan_propagates_and_takes_the_gradient_like_torch():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 1] = x[0, 1, 3, 3] = np.nan
    for pool in (mt.MaxPool2d(2), mt.MaxPool2d(3, stride=1, padding=1)):
        y, dx, y_t, dx_t = run_pair(pool, x)
        np.testing.assert_array_equal(y, y_t)  # NaN == NaN for assert_array_equal
        np.testing.assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-12)


def test_maxpool_huge_values_and_zero_exactly():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)) * 1e30
    x[0, 0, :2, :2] = 0.0
    y, dx, y_t, dx_t = run_pair(mt.MaxPool2d(2), x)
    np.testing.assert_array_equal(y, y_t)
    np.testing.assert_array_equal(dx, dx_t)


def test_maxpool_infinite_upstream_gradient_reaches_only_the_maximum():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    pool = mt.MaxPool2d(2)
    pool(x)
    dy = np.ones((1, 2, 2, 2))
    dy[0, 0, 0, 0], dy[0, 1, 1, 1] = np.inf, np.nan
    dx = pool.backward(dy)
    x_t = tensor(x, requires_grad=True)
    torch_twin(pool)(x_t).backward(tensor(dy))
    np.testing.assert_array_equal(dx, x_t.grad.numpy())  # inf/NaN at one position, exact zeros elsewhere
    assert np.isfinite(dx).sum() == dx.size - 2


def test_maxpool_caches_uint8_indices_not_the_input():
    pool = mt.MaxPool2d(2)
    pool(np.zeros((2, 3, 8, 8), np.float32))
    assert pool._argmax.dtype == np.uint8 and pool._argmax.shape == (2, 3, 4, 4)


@pytest.mark.parametrize("taps", [256, 257])
def test_maxpool_window_offsets_fit_their_cache_dtype_at_the_uint8_boundary(taps):
    """256 taps: offsets 0..255 fit uint8; 257 need uint16. The maximum sits on the last tap, so a cache
    dtype one tap too narrow wraps it to 0 (mutants2: ``len(taps) - 2`` and ``+ 1`` lived)."""
    x = np.random.default_rng(0).standard_normal((1, 2, 1, taps))
    x[..., -1] = 10.0
    compare_module(mt.MaxPool2d((1, taps)), x, rtol=0, atol=0)
    pool = mt.MaxPool2d((1, taps))
    pool(x)
    assert pool._argmax.dtype == (np.uint8 if taps == 256 else np.uint16)  # the smallest that fits


def test_avgpool_counts_padding_in_the_divisor():
    y = mt.AvgPool2d(3, stride=1, padding=1)(np.ones((1, 1, 3, 3)))
    assert y[0, 0, 0, 0] == pytest.approx(4 / 9) and y[0, 0, 1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("output_size", [1, (1, 1), (2, 3), 4, (None, 2), (3, None)])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_adaptive_avgpool_matches_torch(output_size, dtype, tol):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(dtype)
    compare_module(mt.AdaptiveAvgPool2d(output_size), x, rtol=tol, atol=tol)


@settings(max_examples=15, deadline=None)
@given(n=small, c=small, h=st.integers(1, 9), w=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_global_average_pooling_is_the_mean_for_any_image(n, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    gap = mt.AdaptiveAvgPool2d(1)
    np.testing.assert_allclose(gap(x), x.mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    dy = np.random.default_rng(seed + 1).standard_normal((n, c, 1, 1))
    np.testing.assert_allclose(gap.backward(dy), np.broadcast_to(dy / (h * w), x.shape), rtol=1e-12)


@pytest.mark.parametrize("cls", [mt.MaxPool2d, mt.AvgPool2d, mt.AdaptiveAvgPool2d])
def test_pooling_keeps_the_input_float_dtype_and_converts_integers(cls):
    pool = cls(2)
    for dtype in (np.float32, np.float64):
        y = pool(np.ones((1, 1, 4, 4), dtype))
        assert y.dtype == dtype and pool.backward(np.ones_like(y, dtype=np.float64)).dtype == dtype
    assert pool(np.ones((1, 1, 4, 4), np.int64)).dtype == np.float32


@pytest.mark.parametrize("module", [mt.MaxPool2d(2), mt.AvgPool2d(2), mt.AdaptiveAvgPool2d(1)])
def test_pooling_rejects_wrong_rank_naming_expected_and_received(module):
    name = type(module).__name__
    expected = rf"{name}: expected input \(N, C, H, W\) or unbatched \(C, H, W\), got \(4, 4\)"
    with pytest.raises(ValueError, match=expected):
        module(np.zeros((4, 4)))  # (C, H, W) is one unbatched image, as torch
    with pytest.raises(RuntimeError, match="before forward"):
        module.backward(np.zeros((1, 1, 1, 1)))


def test_pooling_rejects_images_smaller_than_the_kernel_and_wrong_dy():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=\(3, 3\)\): padded input is 2x5"):
        mt.MaxPool2d(3)(np.zeros((1, 1, 2, 5)))
    pool = mt.AvgPool2d(2)
    pool(np.zeros((1, 1, 4, 4)))
    expected = r"expected dy of the output's shape \(1, 1, 2, 2\), got \(1, 1, 4, 4\)"
    with pytest.raises(ValueError, match=expected):
        pool.backward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("make, match", [
    (lambda: mt.MaxPool2d(0), r"MaxPool2d: kernel_size must be an int >= 1"),
    (lambda: mt.MaxPool2d(2, stride=0), r"MaxPool2d: stride must be"),
    (lambda: mt.AvgPool2d(3, padding=2), r"AvgPool2d: padding must be at most half the kernel size"),
    (lambda: mt.MaxPool2d(2, padding=-1), r"MaxPool2d: padding must be an int >= 0"),
    (lambda: mt.AdaptiveAvgPool2d(0), r"AdaptiveAvgPool2d: output_size must be a positive int"),
    (lambda: mt.AdaptiveAvgPool2d((1, 2, 3)), r"AdaptiveAvgPool2d: output_size must be"),
])
def test_pooling_constructors_validate_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pooling_stores_torch_defaults():
    pool = mt.MaxPool2d(3)
    assert (pool.kernel_size, pool.stride, pool.padding) == ((3, 3), (3, 3), (0, 0))
    assert repr(mt.AvgPool2d(2, 1)) == "AvgPool2d(kernel_size=(2, 2), stride=(1, 1), padding=(0, 0))"
    assert repr(mt.AdaptiveAvgPool2d(1)) == repr(torch.nn.AdaptiveAvgPool2d(1))
