"""Conv2d and its im2col/col2im helpers: PyTorch oracle over a hypothesis grid, properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module, tensor, torch_twin

import minitorch as mt
from minitorch.layers._im2col import _col2im, _im2col, _output_size

small = st.integers(min_value=1, max_value=3)


@st.composite
def conv_settings(draw: st.DrawFn) -> dict:
    """Constructor arguments and an input shape the kernel fits: any kernel, stride, padding, dilation."""
    kernel = (draw(small), draw(small))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(small), draw(small))
    choices = [st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("valid")]
    if stride == (1, 1):
        choices.append(st.just("same"))
    padding = draw(st.one_of(*choices))
    pads = (0, 0) if isinstance(padding, str) else (padding, padding) if isinstance(padding, int) else padding
    size = []
    for k, d, p in zip(kernel, dilation, pads, strict=True):
        span = d * (k - 1) + 1
        size.append(draw(st.integers(max(1, span - 2 * p), span + 5)))  # at least one window fits
    shape = (draw(small), draw(small), *size)
    return dict(in_channels=shape[1], out_channels=draw(small), kernel_size=kernel, stride=stride,
                padding=padding, dilation=dilation, bias=draw(st.booleans()), shape=shape)


def build(settings_: dict) -> tuple[mt.Conv2d, tuple[int, ...]]:
    args = dict(settings_)
    shape = args.pop("shape")
    return mt.Conv2d(**args), shape


@settings(max_examples=40, deadline=None)
@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch_float64_over_a_grid(s, seed):
    mt.set_default_dtype(np.float64)
    mt.manual_seed(seed)
    conv, shape = build(s)
    x = np.random.default_rng(seed).standard_normal(shape)
    compare_module(conv, x, rtol=1e-10, atol=1e-12, seed=seed)


@settings(max_examples=15, deadline=None)
@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch_float32_and_stays_float32(s, seed):
    mt.manual_seed(seed)
    conv, shape = build(s)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    compare_module(conv, x, rtol=1e-5, atol=1e-5, seed=seed)


def test_conv2d_larger_layer_float32_is_as_close_to_float64_truth_as_torch():
    """dW and db sum N*OH*OW = 672 terms: float32 rounding scales with the sum, so compare with the
    float64 answer relative to each tensor's scale, against torch float32's own error."""
    conv = mt.Conv2d(8, 16, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((4, 8, 14, 12)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal((4, 16, 14, 12)).astype(np.float32)
    results = {}
    for name, module in (("ours", conv), ("torch32", torch_twin(conv)), ("truth", torch_twin(conv).double())):
        if name == "ours":
            y, dx = conv(x), conv.backward(dy)
            results[name] = [y, dx, conv.weight.grad, conv.bias.grad]
            continue
        x_t = tensor(x.astype(np.float64) if name == "truth" else x, requires_grad=True)
        y_t = module(x_t)
        y_t.backward(tensor(dy.astype(np.float64) if name == "truth" else dy))
        results[name] = [a.detach().numpy() for a in (y_t, x_t.grad, module.weight.grad, module.bias.grad)]
    for ours, theirs, truth in zip(*results.values(), strict=True):
        assert ours.dtype == np.float32
        scale = np.abs(truth).max()
        assert np.abs(ours - truth).max() <= 1e-6 * scale
        assert np.abs(ours - truth).max() <= 4 * max(np.abs(theirs - truth).max(), 1e-7 * scale)


def test_conv2d_huge_inputs_stay_exact_relative_to_torch(float64):
    conv = mt.Conv2d(2, 3, 3, stride=2, padding=1)
    x = np.random.default_rng(1).standard_normal((2, 2, 7, 6)) * 1e6
    compare_module(conv, x, rtol=1e-10, atol=1e-4)


def test_conv2d_of_zero_input_is_the_bias_everywhere(float64):
    conv = mt.Conv2d(2, 3, 3, padding=1)
    y = conv(np.zeros((2, 2, 4, 5)))
    np.testing.assert_array_equal(y, np.broadcast_to(conv.bias.data[None, :, None, None], (2, 3, 4, 5)))


@settings(max_examples=25, deadline=None)
@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(s, seed):
    """<im2col(x), c> == <x, col2im(c)>: col2im adds each copy's gradient back where it was read."""
    rng = np.random.default_rng(seed)
    conv, shape = build(s)
    pads = conv._read_geometry()
    xp = rng.standard_normal(shape[:2] + tuple(n + p0 + p1 for n, p0, p1 in
                                              zip(shape[2:], pads[::2], pads[1::2], strict=True)))
    cols = _im2col(xp, conv.kernel_size, conv.stride, conv.dilation)
    OH, OW = _output_size(xp.shape[2:], conv.kernel_size, conv.stride, conv.dilation)
    assert cols.shape == (shape[1] * conv.kernel_size[0] * conv.kernel_size[1], shape[0] * OH * OW)
    c = rng.standard_normal(cols.shape)
    back = _col2im(c, xp.shape, conv.kernel_size, conv.stride, conv.dilation)
    assert back.shape == xp.shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(xp * back), rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 5), h=st.integers(3, 9), w=st.integers(3, 9), seed=st.integers(0, 2**16))
def test_conv2d_output_shape_for_any_batch_and_image(n, h, w, seed):
    conv = mt.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0))
    x = np.random.default_rng(seed).standard_normal((n, 2, h, w)).astype(np.float32)
    y = conv(x)
    assert y.shape == (n, 4, (h + 2 - 3) // 2 + 1, w - 1) and y.flags.c_contiguous
    assert conv.backward(np.ones_like(y)).shape == x.shape


def test_conv2d_backward_params_gives_the_same_gradients_without_dx(float64):
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    a, b = mt.Conv2d(2, 3, 3, stride=2), mt.Conv2d(2, 3, 3, stride=2)
    b.load_state_dict(a.state_dict())
    dy = np.random.default_rng(1).standard_normal(a(x).shape)
    a.backward(dy)
    b(x)
    b.backward_params(dy)
    np.testing.assert_array_equal(a.weight.grad, b.weight.grad)
    np.testing.assert_array_equal(a.bias.grad, b.bias.grad)


def test_conv2d_gradients_accumulate_until_zero_grad(float64):
    conv = mt.Conv2d(1, 2, 2)
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    dy = np.random.default_rng(1).standard_normal((2, 2, 3, 3))
    conv(x)
    conv(x)
    conv.backward(dy)
    once = conv.weight.grad.copy()
    conv.backward(dy)
    np.testing.assert_allclose(conv.weight.grad, 2 * once)
    conv.zero_grad()
    assert conv.weight.grad is None


def test_conv2d_init_is_torch_default_uniform_and_seeded():
    conv = mt.Conv2d(16, 32, 3)
    k = 1 / np.sqrt(16 * 3 * 3)
    w = conv.weight.data
    assert w.shape == (32, 16, 3, 3) and w.dtype == np.float32 and conv.bias.data.shape == (32,)
    assert np.abs(w).max() <= k and np.abs(w).max() > 0.99 * k
    assert np.abs(conv.bias.data).max() <= k
    assert abs(w.mean()) < 0.05 * k and abs(w.std() - k / np.sqrt(3)) < 0.03 * k
    mt.manual_seed(7)
    a = mt.Conv2d(2, 3, 2).weight.data
    mt.manual_seed(7)
    np.testing.assert_array_equal(a, mt.Conv2d(2, 3, 2).weight.data)


def test_conv2d_stores_arguments_as_torch_does():
    conv = mt.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation) == ((3, 3), (2, 2), (1, 1), (1, 1))
    assert conv.bias is None and [n for n, _ in conv.named_parameters()] == ["weight"]
    assert mt.Conv2d(1, 1, (2, 3), padding="same").padding == "same"
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"


def test_conv2d_computes_in_its_parameters_dtype():
    conv = mt.Conv2d(1, 2, 3)
    y = conv(np.random.default_rng(0).standard_normal((1, 1, 5, 5)))  # float64 data, float32 model
    assert y.dtype == np.float32
    assert conv.backward(np.ones((1, 2, 3, 3))).dtype == np.float32
    assert conv.weight.grad.dtype == np.float32
    assert conv(np.ones((1, 1, 3, 3), dtype=np.uint8)).dtype == np.float32


@pytest.mark.parametrize("shape, match", [
    ((5, 5), r"Conv2d\(in_channels=3\): expected input \(N, 3, H, W\) or unbatched \(3, H, W\), got \(5,"),
    ((2, 5, 5), r"Conv2d\(in_channels=3\): expected input \(N, 3, H, W\) or unbatched .*, got \(2, 5, 5\)"),
    ((1, 2, 5, 5), r"Conv2d\(in_channels=3\): expected input \(N, 3, H, W\) .*, got \(1, 2, 5, 5\)"),
    ((1, 3, 2, 5), r"padded input is 2x5 .* kernel spans 3x3"),
])
def test_conv2d_rejects_wrong_input_naming_expected_and_received(shape, match):
    with pytest.raises(ValueError, match=match):
        mt.Conv2d(3, 4, 3)(np.zeros(shape))


def test_conv2d_rejects_wrong_dy_and_backward_before_forward():
    conv = mt.Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        conv.backward(np.zeros((1, 2, 3, 3)))
    conv(np.zeros((1, 1, 5, 5)))
    expected = r"expected dy of the output's shape \(1, 2, 3, 3\), got \(1, 2, 3\)"
    with pytest.raises(ValueError, match=expected):
        conv.backward(np.zeros((1, 2, 3)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_channels=0), "in_channels must be a positive integer"),
    (dict(out_channels=2.5), "out_channels must be a positive integer"),
    (dict(kernel_size=0), r"kernel_size must be an int >= 1 or a pair of them, got 0"),
    (dict(kernel_size=(3, 3, 3)), "kernel_size must be"),
    (dict(stride=(1, 0)), "stride must be"),
    (dict(dilation=True), "dilation must be"),
    (dict(padding=-1), r"padding must be an int >= 0"),
    (dict(padding="full"), "padding must be an int, a pair, 'valid' or 'same', got 'full'"),
    (dict(padding="same", stride=2), r"padding='same' needs stride 1, got stride=\(2, 2\)"),
])
def test_conv2d_constructor_validates_arguments(kwargs, match):
    args = dict(in_channels=1, out_channels=1, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        mt.Conv2d(**args)


@pytest.mark.parametrize("kernel, dilation", [((2, 4), 1), ((4, 3), (1, 2)), ((2, 2), 3), ((2, 4), (3, 1))])
def test_conv2d_same_padding_with_even_kernel_is_asymmetric_and_gradchecks(float64, kernel, dilation):
    conv = mt.Conv2d(2, 2, kernel, padding="same", dilation=dilation)
    th, tw = (d * (k - 1) for k, d in zip(conv.kernel_size, conv.dilation, strict=True))
    assert conv._read_geometry() == (th // 2, th - th // 2, tw // 2, tw - tw // 2)  # the extra pixel after
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5))
    assert conv(x).shape == x.shape[:1] + (2,) + x.shape[2:]
    assert mt.gradcheck(conv, x)
    compare_module(conv, x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel, dilation", [(2, 1), (4, 1), (2, 3), (4, 3)])
def test_conv1d_same_padding_with_an_odd_total_puts_the_extra_after_as_torch(float64, kernel, dilation):
    conv = mt.Conv1d(2, 2, kernel, padding="same", dilation=dilation)
    total = dilation * (kernel - 1)
    assert conv._read_geometry() == (0, 0, total // 2, total - total // 2)
    x = np.random.default_rng(1).standard_normal((2, 2, 7))
    assert conv(x).shape == (2, 2, 7)
    assert mt.gradcheck(conv, x)
    compare_module(conv, x, rtol=1e-10, atol=1e-12)
