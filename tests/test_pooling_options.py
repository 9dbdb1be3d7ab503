"""Pooling options from PyTorch (issue 15): ceil_mode, count_include_pad, divisor_override, over
hypothesis grids (the PyTorch oracle, float64 tight and float32 with dtype kept, and a float64
gradcheck); unbatched (C, H, W) images for Conv2d and every pooling layer, (C, L) for Conv1d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module

import minitorch as mt

grid = settings(max_examples=40, deadline=None)


@st.composite
def pools(draw):
    """(pool, input shape): any kernel, stride, padding <= kernel/2, ceil_mode, both pool kinds."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(kh - 2 * ph, 1), 8)), draw(st.integers(max(kw - 2 * pw, 1), 8))
    common = {"stride": (sh, sw), "padding": (ph, pw), "ceil_mode": draw(st.booleans())}
    if draw(st.booleans()):
        pool = mt.MaxPool2d((kh, kw), **common)
    else:
        pool = mt.AvgPool2d((kh, kw), count_include_pad=draw(st.booleans()),
                            divisor_override=draw(st.sampled_from([None, 1, 5])), **common)
    batch = () if draw(st.booleans()) else (draw(st.integers(1, 2)),)
    return pool, (*batch, draw(st.integers(1, 2)), h, w)


@grid
@given(case=pools(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_pool_options_match_torch(case, seed, dtype, tol):
    pool, shape = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    compare_module(pool, x, rtol=tol, atol=tol, seed=seed)


@grid
@given(case=pools(), seed=st.integers(0, 2**16))
def test_pool_options_gradcheck(case, seed):
    pool, shape = case
    assert mt.gradcheck(pool, np.random.default_rng(seed).standard_normal(shape), atol=1e-7, rtol=1e-6)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2))
def test_ceil_mode_output_size_is_torchs(size, k, s, p):
    """torch's rule: ceil, then drop a last window that would start in the bottom padding."""
    if 2 * p > k or size + 2 * p < k:
        return
    x = np.zeros((1, 1, size, size))
    for name in ("MaxPool2d", "AvgPool2d"):
        ours = getattr(mt, name)(k, s, p, ceil_mode=True)
        theirs = getattr(torch.nn, name)(k, s, p, ceil_mode=True)
        assert ours(x).shape == tuple(theirs(torch.from_numpy(x)).shape)


def test_ceil_mode_window_past_the_edge_averages_what_it_covers():
    x = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    y = mt.AvgPool2d((1, 2), ceil_mode=True)(x)  # windows [1, 2], [3, 4], [5]: the last one half outside
    np.testing.assert_array_equal(y, [[[[1.5, 3.5, 5.0]]]])
    assert mt.AvgPool2d((1, 2))(x).shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(mt.MaxPool2d((1, 2), ceil_mode=True)(x), [[[[2.0, 4.0, 5.0]]]])


def test_count_include_pad_false_divides_by_the_real_pixels():
    pool = mt.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    y = pool(np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(y, np.ones((1, 1, 3, 3)), rtol=1e-15)  # corners average 4 ones, not 4/9
    dx = pool.backward(np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(dx[0, 0, 0, 0], 1 / 4 + 2 / 6 + 1 / 9, rtol=1e-15)


@pytest.mark.parametrize("make, shape", [
    (lambda: mt.Conv2d(2, 3, 3, padding=1), (2, 5, 4)),
    (lambda: mt.MaxPool2d(2, ceil_mode=True), (3, 5, 4)),
    (lambda: mt.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 6, 6)),
    (lambda: mt.AdaptiveAvgPool2d((2, 3)), (2, 5, 7)),
    (lambda: mt.AdaptiveMaxPool2d((2, 3)), (2, 5, 7)),
    (lambda: mt.Conv1d(2, 3, 3, padding=1), (2, 6)),
    (lambda: mt.ConvTranspose2d(2, 3, 3, stride=2), (2, 3, 2)),
])
def test_unbatched_image_is_a_batch_of_one(make, shape, float64):
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape)
    y = layer(x)
    y_batched = layer(x[None])
    np.testing.assert_array_equal(y, y_batched[0])
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx_batched = layer.backward(dy[None])
    dx = layer.backward(dy)  # LIFO: the unbatched call's backward
    assert dx.shape == shape
    np.testing.assert_array_equal(dx, dx_batched[0])
    with pytest.raises(ValueError, match=r"expected dy of the output's shape"):
        layer(x)
        layer.backward(dy[None])


@pytest.mark.parametrize("make, match", [
    (lambda: mt.AvgPool2d(2, count_include_pad=1), r"AvgPool2d: count_include_pad must be True or False"),
    (lambda: mt.AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override must be a positive integer"),
    (lambda: mt.MaxPool2d(2, ceil_mode="yes"), r"MaxPool2d: ceil_mode must be True or False"),
])
def test_option_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_repr_shows_the_options_that_differ_from_the_default():
    assert repr(mt.MaxPool2d(2, ceil_mode=True)) == (
        "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=True)")
    assert repr(mt.AvgPool2d(2, count_include_pad=False, divisor_override=3)) == (
        "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=False, "
        "divisor_override=3)")
