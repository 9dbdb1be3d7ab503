"""MaxPool2d's dilation and return_indices, as torch.nn.MaxPool2d: output sizes (with padding and
ceil_mode), outputs, indices (int64, into the unpadded H x W plane) and dx over a hypothesis grid,
float64 gradchecks of every element, and how the tuple output goes through backward, Sequential,
model files, interop and ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt


@st.composite
def max_pools(draw):
    """(keyword arguments, input shape): any kernel, stride, padding <= kernel // 2, dilation,
    ceil_mode, return_indices, batched or not; sizes from below the dilated span upwards."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kwargs = {"kernel_size": (kh, kw), "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
              "padding": (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
              "dilation": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
              "ceil_mode": draw(st.booleans()), "return_indices": draw(st.booleans())}
    batch = () if draw(st.booleans()) else (draw(st.integers(1, 2)),)
    return kwargs, (*batch, draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))


def _both(out):
    return out if isinstance(out, tuple) else (out, None)


@settings(max_examples=150, deadline=None)
@given(case=max_pools(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])  # dx: sums of overlaps
def test_dilation_and_indices_match_torch(case, seed, dtype, tol):
    kwargs, shape = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    try:
        out_t = torch.nn.MaxPool2d(**kwargs)(x_t)
    except RuntimeError:  # no window fits (torch: "Output size is too small"): ours refuses too
        with pytest.raises(ValueError, match="MaxPool2d"):
            mt.MaxPool2d(**kwargs)(x)
        return
    pool = mt.MaxPool2d(**kwargs)
    out = pool(x)
    (y, indices), (y_t, indices_t) = _both(out), _both(out_t)
    assert isinstance(out, tuple) == kwargs["return_indices"]
    assert y.dtype == dtype and y.shape == tuple(y_t.shape)
    np.testing.assert_array_equal(y, y_t.detach().numpy())  # a maximum is exact
    if indices is not None:
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices, indices_t.numpy())
    dy = rng.standard_normal(y.shape).astype(dtype)
    if np.isneginf(y_t.detach().numpy()).any():
        # a window of padding only: torch's backward writes its dy at its index (another row's pixel, or
        # past the input's end), no result to match; ours refuses a nonzero dy there, takes a zero one
        with pytest.raises(ValueError, match="read padding only"):
            pool.backward(dy)
        pool(x)
        dy[np.isneginf(y)] = 0
        dx = pool.backward(dy)
        np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=tol, atol=tol)  # each window's dy, once
        return
    dx = pool.backward((dy, None) if indices is not None and seed % 2 else dy)
    y_t.backward(torch.tensor(dy))
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=tol, atol=tol)


@settings(max_examples=60, deadline=None)
@given(case=max_pools(), seed=st.integers(0, 2**16))
def test_dilation_and_indices_gradcheck(case, seed):
    kwargs, shape = case
    pool = mt.MaxPool2d(**kwargs)
    x = np.random.default_rng(seed).standard_normal(shape)
    try:
        y, _ = _both(pool(x))
    except ValueError:
        return
    if np.isneginf(y).any():
        return  # a window of padding only: y = -inf, no finite difference (its dx is tested above)
    assert mt.gradcheck(pool, x, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True, "return_indices": True},
    {"kernel_size": (2, 3), "dilation": (3, 1), "return_indices": True},
])
def test_gradcheck_of_every_element_float64(float64, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 8))
    assert mt.gradcheck(mt.MaxPool2d(**kwargs), x)


def test_the_docstring_indices_formula_and_a_window_of_padding_only():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y, indices = mt.MaxPool2d(2, dilation=2, return_indices=True)(x)
    np.testing.assert_array_equal(y, [[[[10.0]]]])  # taps (0, 0), (0, 2), (2, 0), (2, 2)
    np.testing.assert_array_equal(indices, [[[[10]]]])
    pool = mt.MaxPool2d((1, 2), stride=1, padding=(0, 1), dilation=(1, 2), return_indices=True)
    y, indices = pool(np.array([[[[0.5]]]]))  # taps at columns -1 and 1: both padding
    assert np.isneginf(y).all() and indices.tolist() == [[[[1]]]]  # torch's index
    np.testing.assert_array_equal(pool.backward(np.zeros_like(y)), [[[[0.0]]]])  # no gradient


def test_a_gradient_on_a_window_of_padding_only_is_refused_not_dropped():
    """torch's forward gives -inf there; its backward writes the window's dy at the window's index, which
    lies outside the window: onto the next row's pixel here (x[0, 0, 1, 0] would get row 0's dy), past
    the input's end for the last row. No result can match it, so a nonzero dy there is an error naming
    the fix; a zero one (a ReLU after the pool) gives dx = 0, as torch's adds only zeros."""
    pool = mt.MaxPool2d((1, 2), stride=1, padding=(0, 1), dilation=(1, 2), return_indices=True)
    x = np.array([[[[0.5], [-2.0], [3.0]]]])  # H = 3, W = 1: every window reads columns -1 and 1
    y, indices = pool(x)
    y_t, indices_t = torch.nn.MaxPool2d((1, 2), stride=1, padding=(0, 1), dilation=(1, 2),
                                        return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(y, y_t.numpy())  # forward: torch's -inf
    np.testing.assert_array_equal(indices, indices_t.numpy())  # [1, 2, 3]: outside each window
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=\(1, 2\).*3 of its windows over the 3x1 "
                                         r"input read padding only.*Use less padding or dilation"):
        pool.backward(np.ones_like(y))
    pool(x)
    np.testing.assert_array_equal(pool.backward(np.zeros_like(y)), np.zeros_like(x))
    # along an axis, the first window holds the most padding: if one window reads padding only, they all
    # do (the whole output is -inf; tests/test_pooling_indices' grid meets such shapes and sizes)
    y = mt.MaxPool2d((2, 2), stride=1, padding=(1, 1), dilation=(3, 1))(np.ones((1, 1, 2, 4)))
    assert np.isneginf(y).all()


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (3, 4, 4)], ids=["batched", "unbatched"])
def test_backward_takes_dy_for_y_alone(shape):
    """unbatched: (None, None) is zeros of (C, OH, OW) (mutants2: y_shape from t.shape[2:] lived)."""
    pool = mt.MaxPool2d(2, return_indices=True)
    x = np.random.default_rng(0).standard_normal(shape)
    y, indices = pool(x)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx = pool.backward(dy)
    pool(x)
    np.testing.assert_array_equal(pool.backward((dy, None)), dx)
    pool(x)
    np.testing.assert_array_equal(pool.backward((None, None)), np.zeros_like(x))
    for bad in ((dy, indices), (dy,), (dy, None, None)):
        pool(x)
        with pytest.raises(ValueError, match=r"MaxPool2d\.backward: expected dy, or \(dy, None\)"):
            pool.backward(bad)
    plain = mt.MaxPool2d(2)
    plain(x)
    with pytest.raises(ValueError, match=r"MaxPool2d\.backward: expected dy, got a tuple"):
        plain.backward((dy, None))


def test_in_a_sequential_the_tuple_goes_on_as_in_torch():
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    model = mt.Sequential(mt.Conv2d(1, 2, 1), mt.MaxPool2d(2, return_indices=True))
    y, indices = model(x)
    assert indices.shape == y.shape == (2, 2, 2, 2)
    assert model.backward(np.ones_like(y)).shape == x.shape
    with pytest.raises(TypeError, match=r"Conv2d.*expected an array, got a tuple of 2 items"):
        mt.Sequential(mt.MaxPool2d(2, return_indices=True), mt.Conv2d(1, 2, 1))(x)


def test_arguments_in_torchs_order_and_checked():
    pool = mt.MaxPool2d(3, 2, 1, 2, True, True)  # torch: ..., padding, dilation, return_indices, ceil_mode
    assert (pool.dilation, pool.return_indices, pool.ceil_mode) == ((2, 2), True, True)
    assert "dilation=(2, 2), return_indices=True, ceil_mode=True" in repr(pool)
    with pytest.raises(ValueError, match="MaxPool2d: dilation must be an int >= 1"):
        mt.MaxPool2d(2, dilation=0)
    with pytest.raises(ValueError, match="MaxPool2d: return_indices must be True or False"):
        mt.MaxPool2d(2, return_indices=1)


def test_model_files_interop_and_onnx_keep_or_refuse_the_options(tmp_path):
    pool = mt.MaxPool2d((3, 2), stride=2, padding=1, dilation=(2, 1), return_indices=True, ceil_mode=True)
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6))
    mt.save_model(pool, tmp_path / "pool.npz")
    again = mt.load_model(tmp_path / "pool.npz")
    for a, b in zip(pool(x), again(x), strict=True):
        np.testing.assert_array_equal(a, b)
    t = mt.interop.to_torch(pool)
    assert (t.dilation, t.return_indices, t.ceil_mode) == ((2, 1), True, True)
    for a, b in zip(pool(x), t(torch.from_numpy(x)), strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    back = mt.interop.from_torch(torch.nn.MaxPool2d(3, dilation=2, return_indices=True))
    assert (back.dilation, back.return_indices) == ((2, 2), True)
    with pytest.raises(TypeError, match=r"MaxPool2d\(return_indices=True\) has no ONNX form"):
        mt.onnx.export(pool, tmp_path / "pool.onnx", input_shape=(2, 2, 7, 6))


@pytest.mark.parametrize("k, s, p, size", [(2, 2, 0, 1), (3, 2, 1, 1), (2, 3, 0, 1), (3, 2, 0, 2)])
@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
def test_ceil_mode_window_past_an_input_smaller_than_the_kernel(name, k, s, p, size):
    """torch's ceil_mode counts a window that starts inside the input and hangs past it, also when
    the input is smaller than the kernel (before, ours refused it: no window fits)."""
    x = np.random.default_rng(0).standard_normal((1, 2, size, size))
    expected = getattr(torch.nn, name)(k, s, p, ceil_mode=True)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(getattr(mt, name)(k, s, p, ceil_mode=True)(x), expected, rtol=1e-15)


@settings(max_examples=60, deadline=None)
@given(oh=st.integers(1, 5), ow=st.one_of(st.none(), st.integers(1, 5)), h=st.integers(1, 8),
       w=st.integers(1, 8), batched=st.booleans(), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_adaptive_max_pool_indices_match_torch(oh, ow, h, w, batched, seed, dtype, tol):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w) if batched else (3, h, w)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t, indices_t = torch.nn.AdaptiveMaxPool2d((oh, ow), return_indices=True)(x_t)
    pool = mt.AdaptiveMaxPool2d((oh, ow), return_indices=True)
    y, indices = pool(x)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, indices_t.numpy())
    dy = rng.standard_normal(y.shape).astype(dtype)
    y_t.backward(torch.tensor(dy))
    dx = pool.backward((dy, None) if seed % 2 else dy)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=tol, atol=tol)


def test_adaptive_max_pool_indices_gradcheck_and_conversions(float64, tmp_path):
    pool = mt.AdaptiveMaxPool2d((3, 2), return_indices=True)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    assert mt.gradcheck(pool, x)
    t = mt.interop.to_torch(pool)
    assert t.return_indices
    np.testing.assert_array_equal(pool(x)[1], t(torch.from_numpy(x))[1].numpy())
    assert mt.interop.from_torch(torch.nn.AdaptiveMaxPool2d(2, return_indices=True)).return_indices
    mt.save_model(pool, tmp_path / "pool.npz")
    assert mt.load_model(tmp_path / "pool.npz").return_indices
    with pytest.raises(TypeError, match=r"AdaptiveMaxPool2d\(return_indices=True\) has no ONNX form"):
        mt.onnx.export(pool, tmp_path / "pool.onnx", input_shape=(2, 2, 5, 5))


@settings(max_examples=80, deadline=None)
@given(case=max_pools(), seed=st.integers(0, 2**16), give_size=st.booleans())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_unpool_matches_torch(case, seed, give_size, dtype):
    """MaxPool2d's output and indices unpooled, as torch: with output_size (the pooled input's size) or
    the default size when the indices fit it; dx gathers dy at the indices (repeats included)."""
    kwargs, shape = case
    kwargs = {**kwargs, "dilation": 1, "return_indices": True}  # torch's unpool knows no dilation
    rng = np.random.default_rng(seed)
    image = rng.standard_normal(shape)
    try:
        y, indices = mt.MaxPool2d(**kwargs)(image)
    except ValueError:
        return
    k, s, p = kwargs["kernel_size"], kwargs["stride"], kwargs["padding"]
    x = rng.standard_normal(y.shape).astype(dtype)
    unpool, unpool_t = mt.MaxUnpool2d(k, s, p), torch.nn.MaxUnpool2d(k, s, p)
    size = shape[-2:] if give_size else None
    x_t = torch.tensor(x, requires_grad=True)
    try:
        z_t = unpool_t(x_t, torch.from_numpy(indices), output_size=size)
    except (RuntimeError, ValueError):  # output_size out of torch's range, or an index past the default size
        with pytest.raises(ValueError, match="MaxUnpool2d"):
            unpool(x, indices, output_size=size)
        return
    if z_t.numel() == 0:  # torch drops the values into an empty output: ours refuses it
        with pytest.raises(ValueError, match="MaxUnpool2d: the output would be"):
            unpool(x, indices, output_size=size)
        return
    z = unpool(x, indices, output_size=size)
    assert z.dtype == dtype
    N, C = z.shape[:2] if z.ndim == 4 else (1, z.shape[0])
    plane = z.shape[-2] * z.shape[-1]
    counts = np.stack([np.bincount(i.ravel(), minlength=plane) for i in indices.reshape(N * C, -1)])
    once = (counts <= 1).reshape(z.shape)  # a repeated index: torch documents no winner
    np.testing.assert_array_equal(z[once], z_t.detach().numpy()[once])
    dz = rng.standard_normal(z.shape).astype(dtype)
    z_t.backward(torch.tensor(dz))
    dx, d_indices = unpool.backward(dz)
    assert d_indices is None and dx.dtype == dtype
    np.testing.assert_array_equal(dx, x_t.grad.numpy())


def test_max_unpool_refuses_what_torch_refuses():
    unpool = mt.MaxUnpool2d(2)
    x = np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"MaxUnpool2d: index 16 is outside the output plane 4x4"):
        unpool(x, np.array([[[[0, 1], [2, 16]]]]))
    with pytest.raises(ValueError, match=r"MaxUnpool2d: index -1 is outside"):
        unpool(x, np.array([[[[0, 1], [2, -1]]]]))
    with pytest.raises(ValueError, match=r"invalid output_size \(6, 4\) \(dim 0 must be between 2"):
        unpool(x, np.zeros((1, 1, 2, 2), np.int64), output_size=(6, 4))
    with pytest.raises(TypeError, match="MaxUnpool2d: indices must be integers"):
        unpool(x, np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"MaxUnpool2d: indices must have the input's shape \(1, 1, 2, 2\)"):
        unpool(x, np.zeros((1, 1, 2), np.int64))
    np.testing.assert_array_equal(unpool(x, np.arange(4).reshape(1, 1, 2, 2), output_size=(1, 1, 3, 5))[0, 0],
                                  [[1, 1, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_max_pool_nan_bin_picks_torchs_last_nan(batched):
    """A bin holding several NaNs: torch's scan (``val > max || isnan(val)``) keeps the LAST NaN, for
    the index and for the gradient's place, as MaxPool2d does; the first NaN was a silent wrong place."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 8))
    x[rng.random(x.shape) < 0.3] = np.nan
    x = x if batched else x[0]
    x_t = torch.tensor(x, requires_grad=True)
    y_t, indices_t = torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)(x_t)
    pool = mt.AdaptiveMaxPool2d((2, 3), return_indices=True)
    y, indices = pool(x)
    assert np.isnan(y).sum() >= 6  # the case under test: bins with NaNs, most with several
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    np.testing.assert_array_equal(indices, indices_t.numpy())
    dy = rng.standard_normal(y.shape)
    y_t.backward(torch.tensor(dy))
    np.testing.assert_array_equal(pool.backward(dy), x_t.grad.numpy())
