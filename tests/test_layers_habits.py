"""Layers a PyTorch user reaches for (issue 15): subgradients, stability, randomness, option grids vs torch.

Gradcheck and the PyTorch oracle of every layer run from the registry (tests/cases.py); this file adds
what a fixed case cannot: x = 0 exactly, huge inputs, dropout's channel masks, hypothesis grids of the
options against torch, and the error messages.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from cases import MODULE_CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module, tensor, torch_grads, torch_twin

import minitorch as mt


@pytest.mark.parametrize("layer, torch_layer", [
    (mt.SiLU(), torch.nn.SiLU()), (mt.Softplus(), torch.nn.Softplus()), (mt.Mish(), torch.nn.Mish()),
    (mt.Softplus(beta=0.5, threshold=3.0), torch.nn.Softplus(beta=0.5, threshold=3.0)),
    (mt.Hardtanh(), torch.nn.Hardtanh()), (mt.PReLU(), torch.nn.PReLU(dtype=torch.float64)),
])
def test_smooth_activations_at_zero_edges_and_huge_inputs(layer, torch_layer):
    """x = 0, the Hardtanh / Softplus switch points and +-1e4: values and slopes as torch, no overflow."""
    layer.to(np.float64)
    x = np.array([-1e4, -50.0, -1.0, -0.0, 0.0, 1.0, 6.0, 20.0, 50.0, 1e4])
    y = layer(x)
    dx = layer.backward(np.ones_like(x))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch_layer(x_t)
    y_t.sum().backward()
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-13, atol=1e-300)


def test_hardtanh_slope_is_zero_at_both_ends_and_prelu_slope_at_zero_is_the_weight():
    act = mt.Hardtanh(-0.5, 2.0)
    act(np.array([-0.5, 0.0, 2.0]))
    np.testing.assert_array_equal(act.backward(np.ones(3)), [0.0, 1.0, 0.0])
    prelu = mt.PReLU(init=0.3)
    prelu(np.array([0.0, -2.0], dtype=np.float32))
    np.testing.assert_allclose(prelu.backward(np.ones(2, np.float32)), [0.3, 0.3])
    np.testing.assert_allclose(prelu.weight.grad, [-2.0])


def test_dropout2d_zeroes_whole_channels_scales_the_rest_and_follows_the_seed():
    drop = mt.Dropout2d(0.5)
    x = np.ones((64, 8, 3, 3), dtype=np.float32)
    mt.manual_seed(0)
    y = drop(x)
    per_map = y.reshape(64, 8, 9)
    assert set(np.unique(per_map)) <= {0.0, 2.0}
    assert (per_map.min(axis=2) == per_map.max(axis=2)).all()      # each map all 0 or all 2
    assert 0.4 < (per_map[:, :, 0] == 0).mean() < 0.6
    dx = drop.backward(np.full_like(y, 3.0))
    np.testing.assert_array_equal(dx, 3.0 * y)
    mt.manual_seed(0)
    np.testing.assert_array_equal(mt.Dropout2d(0.5)(x), y)
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x), x)
    with pytest.raises(ValueError, match=r"Dropout2d: expected input \(N, C, H, W\)"):
        drop(np.ones((2, 3)))


def _compare_both_dtypes(factory, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mt.set_default_dtype(np.float64)
    try:
        compare_module(factory(), x, rtol=1e-10, atol=1e-12)
    finally:
        mt.set_default_dtype(np.float32)
    compare_module(factory(), x.astype(np.float32), rtol=2e-5, atol=2e-5)


@settings(max_examples=20, deadline=None)
@given(c=st.integers(1, 3), o=st.integers(1, 3), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), bias=st.booleans(), n=st.integers(1, 3),
       extra=st.integers(0, 5))
def test_conv1d_matches_torch_over_options(c, o, k, stride, padding, dilation, bias, n, extra):
    length = max(1, dilation * (k - 1) + 1 - 2 * padding) + extra
    _compare_both_dtypes(lambda: mt.Conv1d(c, o, k, stride, padding, dilation, bias=bias), (n, c, length))


@settings(max_examples=20, deadline=None)
@given(c=st.integers(1, 3), o=st.integers(1, 3), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), padding=st.integers(0, 1), dilation=st.integers(1, 2),
       bias=st.booleans(), h=st.integers(1, 4), w=st.integers(1, 4), data=st.data())
def test_conv_transpose2d_matches_torch_over_options(c, o, kh, kw, sh, sw, padding, dilation, bias, h, w,
                                                     data):
    oph, opw = data.draw(st.integers(0, sh - 1)), data.draw(st.integers(0, sw - 1))

    def build():
        return mt.ConvTranspose2d(c, o, (kh, kw), (sh, sw), padding, (oph, opw), bias=bias, dilation=dilation)

    out_h = (h - 1) * sh - 2 * padding + dilation * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * padding + dilation * (kw - 1) + opw + 1
    if out_h < 1 or out_w < 1:
        with pytest.raises(ValueError, match="empty"):
            build()(np.ones((1, c, h, w)))
        return
    _compare_both_dtypes(build, (2, c, h, w))


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), mode=st.sampled_from(["nearest", "bilinear"]),
       align=st.sampled_from([None, False, True]), by_size=st.booleans(), data=st.data())
def test_upsample_matches_torch_over_sizes_and_scales(h, w, mode, align, by_size, data):
    if mode == "nearest":
        align = None
    if by_size:
        kwargs = {"size": (data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)))}
    else:
        # 1.25 and 2.25: sizes where floor(H * scale) lands on H or 2H, torch's special cases
        scales = st.sampled_from([0.5, 1.0, 1.25, 1.5, 1.7, 2.0, 2.25, 2.5, 3.0])
        kwargs = {"scale_factor": (data.draw(scales), data.draw(scales))}
        if int(h * kwargs["scale_factor"][0]) < 1 or int(w * kwargs["scale_factor"][1]) < 1:
            return
    _compare_both_dtypes(lambda: mt.Upsample(mode=mode, align_corners=align, **kwargs), (2, 2, h, w))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale_factor, shape", [((1.3, 2.2), (1, 2, 3, 3)), ((2.2, 1.1), (1, 1, 4, 5)),
                                                  ((1.25, 0.75), (2, 1, 3, 4))])
def test_upsample_a_scale_whose_size_lands_on_h_or_2h_reads_as_torch(mode, scale_factor, shape):
    """torch resizes an axis whose output size equals its input size as a copy, and (nearest) one of twice
    its size as o // 2, whatever the scale_factor that gave that size (floor(3 * 1.3) = 3, floor(3 * 2.2)
    = 6): its other rows follow 1 / scale_factor, and so do ours."""
    _compare_both_dtypes(lambda: mt.Upsample(scale_factor=scale_factor, mode=mode), shape)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), oh=st.none() | st.integers(1, 7),
       ow=st.none() | st.integers(1, 7))
def test_adaptive_max_pool_matches_torch_over_sizes(h, w, oh, ow):
    """None keeps that axis's input size, as torch (mutants2: its test of size[0] could read size[1])."""
    _compare_both_dtypes(lambda: mt.AdaptiveMaxPool2d((oh, ow)), (2, 2, h, w))


def test_adaptive_max_pool_sends_ties_to_the_first_maximum_as_torch():
    x = np.zeros((1, 1, 4, 4))
    compare_module(mt.AdaptiveMaxPool2d((2, 3)), x, rtol=0, atol=0)


@settings(max_examples=20, deadline=None)
@given(groups=st.sampled_from([1, 2, 4]), n=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 3), max_size=2))
def test_group_norm_matches_torch_over_groups_and_ranks(groups, n, spatial):
    if n * (4 // groups) * int(np.prod(spatial)) == 1:
        return  # torch refuses: test_group_norm_refuses_a_batch_of_one_with_one_value_per_group_as_torch
    _compare_both_dtypes(lambda: mt.GroupNorm(groups, 4), (n, 4, *spatial))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("groups, channels, shape", [
    (3, 3, (1, 3)), (3, 3, (1, 3, 1)), (1, 1, (1, 1)), (2, 2, (1, 2, 1, 1)),    # torch raises
    (3, 3, (2, 3)), (3, 6, (1, 6)), (3, 3, (1, 3, 2)), (1, 1, (0, 1)),          # torch computes
])
def test_group_norm_refuses_a_batch_of_one_with_one_value_per_group_as_torch(groups, channels, shape,
                                                                            training):
    """torch's group_norm raises ValueError when N * C / G * prod(spatial) == 1 (one sample, one value
    per group: nothing to standardise), in training and eval alike; MiniTorch returned zeros. Where
    torch computes (two samples of one value per group: zeros too), MiniTorch matches its values."""
    x = np.random.default_rng(0).standard_normal(shape)
    ours = mt.GroupNorm(groups, channels).to(np.float64).train(training)
    try:
        torch_twin(ours)(torch.tensor(x))
    except ValueError:
        with pytest.raises(ValueError, match=rf"^GroupNorm\({groups}, {channels}\): expected more than one "
                                             rf"value per group .*got input {re.escape(str(shape))}"):
            ours(x)
        return
    compare_module(ours, x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("build, x, message", [
    (lambda: mt.Conv1d(3, 2, 3), np.zeros((2, 4, 9)), r"Conv1d\(in_channels=3\): expected input \(N, 3, L\)"),
    (lambda: mt.Conv1d(3, 2, 5), np.zeros((2, 3, 4)), "no window fits"),
    (lambda: mt.ConvTranspose2d(2, 2, 3), np.zeros((2, 3, 4, 4)), r"expected input \(N, 2, H, W\)"),
    (lambda: mt.GroupNorm(2, 4), np.zeros((2, 3, 5)),
     r"GroupNorm\(num_channels=4\): expected input \(N, 4, \*\)"),
    (lambda: mt.PReLU(3), np.zeros((2, 4)), r"PReLU\(num_parameters=3\): expected input \(N, 3, \*\)"),
    (lambda: mt.Unflatten(1, (2, 3)), np.zeros((2, 5)), r"Unflatten\(dim=1.*has size 6.*got \(2, 5\)"),
    (lambda: mt.Upsample(scale_factor=2), np.zeros((2, 3)),
     r"Upsample: expected input \(N, C, L\) or \(N, C, H, W\)"),
    (lambda: mt.AdaptiveMaxPool2d(2), np.zeros((2, 3)), r"AdaptiveMaxPool2d: expected input \(N, C, H, W\)"),
])
def test_wrong_inputs_name_the_layer_and_the_expected_shape(build, x, message):
    with pytest.raises(ValueError, match=message):
        build()(x)


@pytest.mark.parametrize("build, message", [
    (lambda: mt.GroupNorm(3, 4), "divisible by num_groups"),
    (lambda: mt.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2), "output_padding must be smaller"),
    (lambda: mt.Upsample(size=4, scale_factor=2), "exactly one of size and scale_factor"),
    (lambda: mt.Upsample(scale_factor=2, align_corners=True), "align_corners only applies"),
    (lambda: mt.Upsample(scale_factor=2, mode="bicubic"), "mode must be one of"),
    (lambda: mt.Upsample(size=0), "size must be a positive int"),
    (lambda: mt.Upsample(size=True), "size must be a positive int"),           # a bool is no size (mutants2)
    (lambda: mt.Upsample(scale_factor=(2.0, 0.0)), "scale_factor must be a positive float"),
    (lambda: mt.Hardtanh(1.0, -1.0), "max_val must be greater"),
    (lambda: mt.Softplus(beta=0), "beta must be a number"),
    (lambda: mt.Conv1d(1, 1, 3, stride=2, padding="same"), "needs stride 1"),
    (lambda: mt.Unflatten(1, (2, -1, -1)), "at most one -1"),
    (lambda: mt.Dropout2d(1.5), r"p must be a number in \[0, 1\]"),
])
def test_constructors_validate_their_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_new_layers_save_and_load_with_their_arguments(tmp_path):
    model = mt.Sequential(mt.Conv1d(2, 3, 3, padding="same"), mt.PReLU(3), mt.GroupNorm(1, 3), mt.Mish(),
                          mt.Unflatten(2, (2, 2)), mt.Upsample(scale_factor=2, mode="bilinear"),
                          mt.ConvTranspose2d(3, 2, 2, stride=2), mt.AdaptiveMaxPool2d(2), mt.Dropout2d(0.1),
                          mt.Flatten(), mt.Linear(8, 2), mt.SiLU(), mt.Softplus(), mt.Hardtanh())
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 2, 4)).astype(np.float32)
    path = tmp_path / "model.npz"
    mt.save_model(model, path)
    loaded = mt.load_model(path)
    np.testing.assert_array_equal(loaded.eval()(x), model(x))


@settings(max_examples=25, deadline=None)
@given(beta=st.floats(0.1, 5.0), threshold=st.floats(-5.0, 25.0), low=st.floats(-3.0, 0.5),
       width=st.floats(0.1, 4.0), init=st.floats(-1.0, 1.0), channels=st.integers(1, 4))
def test_activation_options_match_torch(beta, threshold, low, width, init, channels):
    shape = (3, channels, 4)
    _compare_both_dtypes(lambda: mt.Softplus(beta, threshold), shape)
    _compare_both_dtypes(lambda: mt.Hardtanh(low, low + width), shape)
    _compare_both_dtypes(lambda: mt.PReLU(channels, init), shape)


TWICE = ["SiLU", "Softplus", "Mish", "Hardtanh-range", "PReLU-channels", "GroupNorm", "Conv1d-same-no-bias",
         "Dropout2d-eval"]


@pytest.mark.parametrize("name", TWICE)
def test_one_instance_used_twice_matches_torch(float64, name):
    """m(m(x)): one cache per call, consumed newest first (the Module contract), as torch's autograd."""
    factory, shape = next((f, s) for n, f, s in MODULE_CASES if n == name)
    m = factory()
    t = torch_twin(m)
    x = np.random.default_rng(4).standard_normal(shape)
    dy = np.random.default_rng(5).standard_normal(shape)
    x_t = tensor(x, requires_grad=True)
    t(t(x_t)).backward(tensor(dy))
    y = m(m(x))
    dx = m.backward(m.backward(dy))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for pname, g in torch_grads(m, t).items():
        np.testing.assert_allclose(dict(m.named_parameters())[pname].grad, g, rtol=1e-10, atol=1e-12)
    assert y.shape == shape
