"""Upsample on torch's 3-D input (N, C, L): a 1-D resize, modes nearest and linear, against torch 2.13
(output, dx; float64 and float32), with torch's refusals (a mode for the other rank, a size or a
scale_factor with one value per axis of another rank)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module

import minitorch as mt

# 1.25 and 2.25: sizes landing on L or 2L for small L (torch's copy and o // 2 cases)
SCALES = st.sampled_from([0.5, 0.75, 1.0, 1.25, 1.5, 1.7, 2.0, 2.2, 2.25, 2.5, 3.0])


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 8), mode=st.sampled_from(["nearest", "linear"]),
       align=st.sampled_from([None, False, True]), by_size=st.booleans(), as_tuple=st.booleans(),
       size=st.integers(1, 12), scale=SCALES, seed=st.integers(0, 2**16))
def test_upsample_resizes_3d_input_as_torch(dtype, tol, length, mode, align, by_size, as_tuple, size, scale,
                                            seed):
    align = None if mode == "nearest" else align
    value = size if by_size else scale
    value = (value,) if as_tuple else value
    if not by_size and int(length * scale) < 1:
        return
    kwargs = {"size": value} if by_size else {"scale_factor": value}
    x = np.random.default_rng(seed).standard_normal((2, 3, length)).astype(dtype)
    if mode == "nearest" and not by_size and _torch_disagrees(length, scale):
        m = mt.Upsample(mode=mode, **kwargs)
        y = m(x)  # the forward is torch's; its backward is refused (test below)
        np.testing.assert_array_equal(y, torch.nn.Upsample(mode=mode, **kwargs)(torch.from_numpy(x)).numpy())
        with pytest.raises(ValueError, match=r"Upsample.backward: .* Give size="):
            m.backward(np.ones_like(y))
        return
    compare_module(mt.Upsample(mode=mode, align_corners=align, **kwargs), x, rtol=tol, atol=tol, seed=seed)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_3d_keeps_an_inf_where_torch_puts_it(mode):
    x = np.arange(10.0).reshape(1, 2, 5)
    x[0, 1, 2] = np.inf
    m, t = mt.Upsample(scale_factor=2.2, mode=mode), torch.nn.Upsample(scale_factor=2.2, mode=mode)
    np.testing.assert_allclose(m(x), t(torch.from_numpy(x)).numpy(), rtol=1e-12)  # inf, nan where torch's


def _torch_disagrees(length: int, scale: float) -> bool:
    """torch 2.13's 1-D nearest forward reads floor(o / scale); its backward sends dy as a copy
    (size L) or to o // 2 (size 2L): True where the two maps differ."""
    out = int(length * scale)
    if out not in (length, 2 * length):
        return False
    forward = [min(int(np.floor(o * np.float32(1 / scale))), length - 1) for o in range(out)]
    sent = list(range(out)) if out == length else [o // 2 for o in range(out)]
    return forward != sent


@pytest.mark.parametrize("length, scale", [(3, 2.2), (2, 1.25), (4, 2.2), (3, 1.25)])
def test_upsample_1d_nearest_refuses_the_backward_where_torchs_two_maps_differ(length, scale):
    """torch 2.13's 1-D nearest forward reads floor(o / scale) (3 by 2.2: 0 0 0 1 1 2), its backward
    sends dy by the copy / o // 2 rule (0 0 1 1 2 2): the forward is torch's, the backward raises
    naming size= (with which the two agree, and the gradient is torch's)."""
    assert _torch_disagrees(length, scale)
    x = np.random.default_rng(4).standard_normal((1, 2, length))
    m = mt.Upsample(scale_factor=scale)
    y = m(x)
    out = int(length * scale)
    forward = [int(np.floor(o * np.float32(1 / scale))) for o in range(out)]
    np.testing.assert_array_equal(y[0, 0], x[0, 0, forward])
    np.testing.assert_array_equal(y, torch.nn.Upsample(scale_factor=scale)(torch.from_numpy(x)).numpy())
    with pytest.raises(ValueError, match=rf"Give size=\({out},\) instead of scale_factor"):
        m.backward(np.ones_like(y))
    compare_module(mt.Upsample(size=(out,)), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, shape, message", [
    (dict(scale_factor=2.0, mode="bilinear"), (1, 2, 5), r"mode='bilinear' needs 4-D \(N, C, H, W\) input"),
    (dict(scale_factor=2.0, mode="linear"), (1, 2, 5, 5), r"mode='linear' needs 3-D \(N, C, L\) input"),
    (dict(size=(7, 7)), (1, 2, 5), r"size=\(7, 7\) has 2 values but the input has 1 spatial"),
    (dict(scale_factor=(2.0, 2.0)), (1, 2, 5), r"scale_factor=\(2.0, 2.0\) has 2 values but the input"),
    (dict(size=(7,)), (1, 2, 5, 5), r"size=\(7,\) has 1 values but the input has 2 spatial"),
    (dict(scale_factor=2.0), (2, 5), r"expected input \(N, C, L\) or \(N, C, H, W\)"),
    (dict(scale_factor=0.1), (1, 2, 5), r"the output size \(0,\) of input \(1, 2, 5\) is empty"),
])
def test_upsample_refuses_what_torch_refuses(kwargs, shape, message):
    with pytest.raises((ValueError, NotImplementedError, RuntimeError)):
        torch.nn.Upsample(**kwargs)(torch.zeros(shape))
    with pytest.raises(ValueError, match="Upsample: " + message):
        mt.Upsample(**kwargs)(np.zeros(shape))


def test_upsample_align_corners_with_nearest_names_the_interpolating_modes_as_torch():
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        torch.nn.Upsample(scale_factor=2.0, align_corners=True)(torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="Upsample: align_corners only applies to the interpolating modes "
                                         "'linear' and 'bilinear'"):
        mt.Upsample(scale_factor=2.0, align_corners=True)


def test_upsample_mode_and_size_edited_after_construction_for_3d_input():
    m, t = mt.Upsample(scale_factor=2.0), torch.nn.Upsample(scale_factor=2.0)
    x = np.random.default_rng(0).standard_normal((2, 2, 5))
    for module in (m, t):
        module.mode, module.align_corners, module.scale_factor, module.size = "linear", True, None, (8,)
    compare_module(m, x, rtol=1e-12, atol=1e-12)
    assert m(x).shape == (2, 2, 8)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2.2), dict(size=7, mode="linear"),
                                    dict(scale_factor=(1.5,), mode="linear", align_corners=True)])
def test_upsample_3d_converts_to_torch_and_back(kwargs):
    m = mt.Upsample(**kwargs)
    x = np.random.default_rng(1).standard_normal((2, 3, 5))
    t = mt.interop.to_torch(m)
    np.testing.assert_allclose(t(torch.from_numpy(x)).numpy(), m(x), rtol=1e-12)
    np.testing.assert_allclose(mt.interop.from_torch(t)(x), m(x), rtol=1e-12)
