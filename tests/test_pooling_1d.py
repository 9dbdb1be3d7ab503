"""MaxPool1d, AvgPool1d, AdaptiveMaxPool1d, AdaptiveAvgPool1d and MaxUnpool1d against torch 2.13:
hypothesis grids over every argument (outputs, indices, dx; ties; batched and unbatched; torch's
refusals), float64 gradchecks, errors naming the 1-D class and shapes, a model file round trip, and a
text CNN (Conv1d -> ReLU -> MaxPool1d -> Flatten -> Linear) trained by SGD step for step with torch."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt


def _both(out):
    return out if isinstance(out, tuple) else (out, None)


def _input(draw, rng, shape, ties):
    """Standard normal, or small integers (many ties: the index picked must be torch's)."""
    return rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)


@st.composite
def max_pools(draw):
    k = draw(st.integers(1, 5))
    kwargs = {"kernel_size": draw(st.sampled_from([k, (k,)])),
              "stride": draw(st.sampled_from([None, 1, 2, 3])), "padding": draw(st.integers(0, k // 2)),
              "dilation": draw(st.integers(1, 3)),
              "ceil_mode": draw(st.booleans()), "return_indices": draw(st.booleans())}
    batch = () if draw(st.booleans()) else (draw(st.integers(1, 2)),)
    return kwargs, (*batch, draw(st.integers(1, 3)), draw(st.integers(1, 12))), draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(case=max_pools(), seed=st.integers(0, 2**16))
def test_max_pool_1d_matches_torch(case, seed):
    kwargs, shape, ties = case
    rng = np.random.default_rng(seed)
    x = _input(None, rng, shape, ties)
    x_t = torch.tensor(x, requires_grad=True)
    try:
        out_t = torch.nn.MaxPool1d(**kwargs)(x_t)
    except RuntimeError:  # no window fits: ours refuses too, naming the 1-D class
        with pytest.raises(ValueError, match="MaxPool1d"):
            mt.MaxPool1d(**kwargs)(x)
        return
    pool = mt.MaxPool1d(**kwargs)
    out = pool(x)
    (y, indices), (y_t, indices_t) = _both(out), _both(out_t)
    assert isinstance(out, tuple) == kwargs["return_indices"]
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    if indices is not None:
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices, indices_t.numpy())
    dy = rng.standard_normal(y.shape)
    if np.isneginf(y).any():  # a window of padding only: torch writes its dy outside it; ours refuses
        with pytest.raises(ValueError, match=r"MaxPool1d\(.*read padding only"):
            pool.backward(dy)
        return
    dx = pool.backward((dy, None) if indices is not None and seed % 2 else dy)
    y_t.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@st.composite
def avg_pools(draw):
    k = draw(st.integers(1, 5))
    kwargs = {"kernel_size": draw(st.sampled_from([k, (k,)])),
              "stride": draw(st.sampled_from([None, 1, 2, (3,)])), "padding": draw(st.integers(0, k // 2)),
              "ceil_mode": draw(st.booleans()),
              "count_include_pad": draw(st.booleans())}
    batch = () if draw(st.booleans()) else (draw(st.integers(1, 2)),)
    return kwargs, (*batch, draw(st.integers(1, 3)), draw(st.integers(1, 12)))


@settings(max_examples=200, deadline=None)
@given(case=avg_pools(), seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float64, np.float32]))
def test_avg_pool_1d_matches_torch(case, seed, dtype):
    kwargs, shape = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    try:
        y_t = torch.nn.AvgPool1d(**kwargs)(x_t)
    except RuntimeError:
        with pytest.raises(ValueError, match="AvgPool1d"):
            mt.AvgPool1d(**kwargs)(x)
        return
    pool = mt.AvgPool1d(**kwargs)
    y = pool(x)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert y.dtype == dtype
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = pool.backward(dy)
    y_t.backward(torch.tensor(dy))
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=tol, atol=tol)


@settings(max_examples=150, deadline=None)
@given(L=st.integers(1, 12), out=st.integers(1, 14), max_pool=st.booleans(), return_indices=st.booleans(),
       unbatched=st.booleans(), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_adaptive_pools_1d_match_torch(L, out, max_pool, return_indices, unbatched, ties, seed):
    rng = np.random.default_rng(seed)
    x = _input(None, rng, (3, L) if unbatched else (2, 3, L), ties)
    x_t = torch.tensor(x, requires_grad=True)
    if max_pool:
        pool = mt.AdaptiveMaxPool1d(out, return_indices)
        twin = torch.nn.AdaptiveMaxPool1d(out, return_indices)
    else:
        pool, twin = mt.AdaptiveAvgPool1d((out,)), torch.nn.AdaptiveAvgPool1d((out,))
    (y, indices), (y_t, indices_t) = _both(pool(x)), _both(twin(x_t))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    if indices is not None:
        np.testing.assert_array_equal(indices, indices_t.numpy())
    dy = rng.standard_normal(y.shape)
    dx = pool.backward(dy)
    y_t.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(1, 4), s=st.integers(1, 4), L=st.integers(1, 12), unbatched=st.booleans(),
       extra=st.integers(-3, 3), seed=st.integers(0, 2**16))
def test_max_unpool_1d_matches_torch(k, s, L, unbatched, extra, seed):
    """MaxPool1d's indices put back by MaxUnpool1d, with and without an output_size; dx against torch."""
    rng = np.random.default_rng(seed)
    p = int(rng.integers(0, k // 2 + 1))
    x = rng.standard_normal((3, L) if unbatched else (2, 3, L))
    try:
        y, indices = mt.MaxPool1d(k, s, p, return_indices=True)(x)
    except ValueError:
        return
    default = (y.shape[-1] - 1) * s - 2 * p + k
    size = None if extra == 0 else (default + extra,)
    unpool, twin = mt.MaxUnpool1d(k, s, p), torch.nn.MaxUnpool1d(k, s, p)
    if default + extra < 1:  # an empty output: torch drops the values silently (or raises); ours raises
        with pytest.raises(ValueError, match=r"MaxUnpool1d: .*(empty|invalid output_size)"):
            unpool(y, indices, size)
        return
    v_t = torch.tensor(y, requires_grad=True)
    try:
        z_t = twin(v_t, torch.tensor(indices), output_size=size)
    except (RuntimeError, ValueError):
        with pytest.raises(ValueError, match="MaxUnpool1d"):
            unpool(y, indices, size)
        return
    z = unpool(y, indices, size)
    np.testing.assert_array_equal(z, z_t.detach().numpy())
    if s < k:  # overlapping windows may repeat an index: which value stays is unspecified in torch
        return
    dz = rng.standard_normal(z.shape)
    dv, none = unpool.backward(dz)
    z_t.backward(torch.tensor(dz))
    assert none is None
    np.testing.assert_array_equal(dv, v_t.grad.numpy())


def test_ties_pick_the_index_torch_picks():
    x = np.array([[[1.0, 1.0, 1.0, 2.0, 2.0, 0.0]]])
    _, indices = mt.MaxPool1d(3, stride=1, return_indices=True)(x)
    _, indices_t = torch.nn.MaxPool1d(3, stride=1, return_indices=True)(torch.tensor(x))
    assert indices.tolist() == indices_t.tolist() == [[[0, 3, 3, 3]]]
    _, indices = mt.AdaptiveMaxPool1d(2, return_indices=True)(x)
    assert indices.tolist() == [[[0, 3]]]


@pytest.mark.parametrize("module, shape", [
    (lambda: mt.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 2, 9)),
    (lambda: mt.MaxPool1d(2, return_indices=True), (3, 8)),
    (lambda: mt.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 2, 8)),
    (lambda: mt.AdaptiveAvgPool1d(4), (2, 3, 9)),
    (lambda: mt.AdaptiveMaxPool1d(3, return_indices=True), (3, 7)),
])
def test_gradcheck_of_every_element_float64(float64, module, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    assert mt.gradcheck(module(), x)


@pytest.mark.parametrize("make, x_shape, match", [
    (lambda: mt.MaxPool1d(2), (2, 3, 4, 5), r"MaxPool1d: expected input \(N, C, L\) or unbatched \(C, L\), "
                                            r"got \(2, 3, 4, 5\)"),
    (lambda: mt.AvgPool1d(2), (5,), r"AvgPool1d: expected input \(N, C, L\) or unbatched \(C, L\), "
                                    r"got \(5,\)"),
    (lambda: mt.AdaptiveMaxPool1d(2), (1, 1, 1, 5), r"AdaptiveMaxPool1d: expected input \(N, C, L\)"),
    (lambda: mt.AdaptiveAvgPool1d(2), (5,), r"AdaptiveAvgPool1d: expected input \(N, C, L\)"),
    (lambda: mt.MaxPool1d(6), (1, 2, 5), r"MaxPool1d: input length 5 with padding 0 on each side leaves no "
                                         r"window of span 6 \(output length 0"),
    (lambda: mt.MaxPool1d(3, dilation=3), (1, 2, 5), r"MaxPool1d: .*window of span 7"),
    (lambda: mt.AvgPool1d(4, padding=1), (1, 1, 1), r"AvgPool1d: input length 1 with padding 1"),
])
def test_bad_inputs_name_the_1d_class_and_shapes(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.zeros(x_shape))


@pytest.mark.parametrize("make, match", [
    (lambda: mt.MaxPool1d((3, 2)), r"MaxPool1d: kernel_size must be an int >= 1 or a 1-tuple of one, "
                                   r"got \(3, 2\)"),
    (lambda: mt.MaxPool1d(0), r"MaxPool1d: kernel_size must be an int >= 1"),
    (lambda: mt.MaxPool1d(3, stride=0), r"MaxPool1d: stride must be an int >= 1"),
    (lambda: mt.MaxPool1d(3, dilation=0), r"MaxPool1d: dilation must be an int >= 1"),
    (lambda: mt.MaxPool1d(3, padding=-1), r"MaxPool1d: padding must be an int >= 0"),
    (lambda: mt.MaxPool1d(3, padding=2), r"MaxPool1d: padding must be at most half the kernel size .*"
                                         r"padding=2, kernel_size=3"),
    (lambda: mt.AvgPool1d(2, padding=2), r"AvgPool1d: padding must be at most half"),
    (lambda: mt.AvgPool1d(2.5), r"AvgPool1d: kernel_size must be an int >= 1 or a 1-tuple of one, got 2.5"),
    (lambda: mt.AdaptiveAvgPool1d(None), r"AdaptiveAvgPool1d: output_size must be an int >= 1 .* got None"),
    (lambda: mt.AdaptiveMaxPool1d((2, 3)), r"AdaptiveMaxPool1d: output_size must be an int >= 1 .* "
                                           r"got \(2, 3\)"),
    (lambda: mt.MaxUnpool1d(0), r"MaxUnpool1d: kernel_size must be an int >= 1"),
])
def test_bad_arguments_name_what_was_expected_and_what_came(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_torch_refuses_divisor_override_for_avg_pool_1d_and_so_do_we():
    with pytest.raises(TypeError):
        torch.nn.AvgPool1d(3, divisor_override=2)
    with pytest.raises(TypeError):
        mt.AvgPool1d(3, divisor_override=2)


def test_a_wrong_dy_and_bad_unpool_inputs_are_named():
    pool = mt.MaxPool1d(2)
    y = pool(np.zeros((2, 3, 8)))
    with pytest.raises(ValueError, match=r"MaxPool1d.backward: expected dy of the output's shape "
                                         r"\(2, 3, 4\), got \(2, 3, 5\)"):
        pool.backward(np.zeros((2, 3, 5)))
    pool.backward(np.zeros_like(y))
    unpool = mt.MaxUnpool1d(2)
    with pytest.raises(ValueError, match=r"MaxUnpool1d: index 9 is outside the output length 8"):
        unpool(np.zeros((1, 1, 4)), np.array([[[0, 2, 4, 9]]]))
    with pytest.raises(TypeError, match="MaxUnpool1d: indices must be integers"):
        unpool(np.zeros((1, 1, 4)), np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=r"MaxUnpool1d: indices must have the input's shape \(1, 1, 4\)"):
        unpool(np.zeros((1, 1, 4)), np.zeros((1, 1, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"MaxUnpool1d: invalid output_size \(12,\)"):
        unpool(np.zeros((1, 1, 4)), np.zeros((1, 1, 4), dtype=np.int64), (12,))


def test_reprs_and_attributes_are_torchs():
    pairs = [(mt.MaxPool1d(3), torch.nn.MaxPool1d(3)), (mt.AvgPool1d(3, 2), torch.nn.AvgPool1d(3, 2)),
             (mt.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3)),
             (mt.AdaptiveMaxPool1d(3, True), torch.nn.AdaptiveMaxPool1d(3, True)),
             (mt.MaxUnpool1d(2), torch.nn.MaxUnpool1d(2))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        for name in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "output_size"):
            if hasattr(theirs, name):
                assert getattr(ours, name) == getattr(theirs, name), name


def _text_cnn():
    return mt.Sequential(mt.Conv1d(4, 6, 3, padding=1), mt.ReLU(), mt.MaxPool1d(2), mt.Flatten(),
                         mt.Linear(6 * 5, 3))


def test_a_text_cnn_trains_step_for_step_with_torch(float64):
    """Conv1d -> ReLU -> MaxPool1d -> Flatten -> Linear, 5 SGD steps of cross-entropy: every parameter
    equals torch's after each step."""
    mt.manual_seed(0)
    model = _text_cnn()
    twin = mt.interop.to_torch(model)
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((8, 4, 10)), rng.integers(0, 3, 8)
    opt, opt_t = mt.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(twin.parameters(), lr=0.1,
                                                                                    momentum=0.9)
    loss_fn = mt.CrossEntropyLoss()
    for _ in range(5):
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        model.backward(loss_fn.backward())
        opt.step()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(labels))
        loss_t.backward()
        opt_t.step()
        np.testing.assert_allclose(float(loss), loss_t.item(), rtol=1e-12)
        for (name, p), p_t in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
            theirs = p_t.numpy().T if name.endswith(".W") else p_t.numpy()
            np.testing.assert_allclose(p, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


def test_a_text_cnn_model_file_round_trip_and_summary(tmp_path):
    model = mt.Sequential(mt.ConstantPad1d((2, 0), 0.0), mt.Conv1d(4, 6, 3), mt.ReLU(),
                          mt.MaxPool1d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
                          mt.AvgPool1d(2, stride=1, count_include_pad=False), mt.AdaptiveMaxPool1d(2),
                          mt.ReflectionPad1d((1, 0)), mt.AdaptiveAvgPool1d(1), mt.Flatten(), mt.Linear(6, 3))
    x = np.random.default_rng(1).standard_normal((2, 4, 11)).astype(np.float32)
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded(x), model(x))
    table = str(mt.summary(model, (4, 11)))
    assert "MaxPool1d" in table and "(1, 6, 6)" in table and "AdaptiveMaxPool1d" in table


@pytest.mark.parametrize("make", [
    lambda: mt.MaxPool1d(3, 2, 1, ceil_mode=True), lambda: mt.MaxPool1d(1), lambda: mt.AvgPool1d(3, 2, 1),
    lambda: mt.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), lambda: mt.AdaptiveAvgPool1d(2),
    lambda: mt.AdaptiveMaxPool1d(2, return_indices=True),
], ids=["MaxPool1d-pad-ceil", "MaxPool1d", "AvgPool1d-pad", "AvgPool1d-exclude-pad", "AdaptiveAvgPool1d",
        "AdaptiveMaxPool1d"])
@pytest.mark.parametrize("shape", [(2, 3, 0), (3, 0)])
def test_an_empty_length_is_refused_naming_the_pool_as_torch(make, shape):
    """torch refuses a sequence of length 0; ours too, by name (not a -inf or 0 read from padding only,
    a nan mean of nothing, or NumPy's argmax of an empty sequence)."""
    ours = make()
    twin = getattr(torch.nn, type(ours).__name__)(*_torch_args(ours))
    with pytest.raises(RuntimeError):
        twin(torch.zeros(shape))
    with pytest.raises(ValueError, match=rf"{type(ours).__name__}: expected a non-empty length L, got input "
                                         rf"{re.escape(str(shape))}"):
        ours(np.zeros(shape))


def _torch_args(pool: mt.Module) -> tuple:
    if isinstance(pool, (mt.AdaptiveAvgPool1d, mt.AdaptiveMaxPool1d)):
        return (pool.output_size,)
    if isinstance(pool, mt.MaxPool1d):
        return pool.kernel_size, pool.stride, pool.padding, pool.dilation, False, pool.ceil_mode
    return pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode, pool.count_include_pad


@pytest.mark.parametrize("output_size", [None, [1]])
def test_max_unpool1d_refuses_an_empty_length_as_torch(output_size):
    x, indices = np.zeros((2, 3, 0)), np.zeros((2, 3, 0), dtype=np.int64)
    with pytest.raises(RuntimeError):
        torch.nn.MaxUnpool1d(2)(torch.zeros(2, 3, 0), torch.zeros(2, 3, 0, dtype=torch.int64), output_size)
    with pytest.raises(ValueError, match=r"MaxUnpool1d: expected a non-empty length L, got input \(2, 3, 0"):
        mt.MaxUnpool1d(2)(x, indices, output_size)
