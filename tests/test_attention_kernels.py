"""The attention kernels (minitorch/kernels/attention.py) equal the plain functions bitwise, and pooled
arrays are never handed out while a pending forward or the user still holds them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import attention as fast
from minitorch.kernels import layers as fast_layers
from minitorch.layers import attention as plain


def _heads(dtype, N=3, H=2, L=5, S=6, D=4, seed=0):
    rng = np.random.default_rng(seed)
    qh, kh, vh, doh = (rng.standard_normal(shape).astype(dtype)
                       for shape in ((N, H, L, D), (N, H, S, D), (N, H, S, D), (N, H, L, D)))
    mask = rng.standard_normal((1, 1, L, S)).astype(dtype)
    mask[..., 0, :] = -np.inf  # a fully masked row: zeros, not NaN
    mask[..., 1, 2:] = -np.inf
    return qh / dtype(math.sqrt(D)), kh, vh, doh, mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_drop", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("with_extra", [False, True])
def test_attention_core_kernels_equal_the_plain_functions_bitwise(dtype, with_drop, with_mask, with_extra):
    qh, kh, vh, doh, mask = _heads(dtype)
    shape = qh.shape[:3] + kh.shape[2:3]
    drop = None
    if with_drop:
        mt.manual_seed(3)
        drop = plain.dropout_mask(shape, 0.3, np.dtype(dtype))
        mt.manual_seed(3)
        np.testing.assert_array_equal(fast.dropout_mask(shape, 0.3, np.dtype(dtype)), drop)
    mask = mask if with_mask else None
    extra = np.random.default_rng(1).standard_normal(shape).astype(dtype) if with_extra else None
    want = plain.attention_core(qh, kh, vh, mask, drop)
    got = fast.attention_core(qh, kh, vh, mask, drop)
    for w, g in zip(want, got, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    p = want[1]
    want = plain.attention_core_backward(doh, extra, qh, kh, vh, p, drop, 0.5, with_ds=True)
    got = fast.attention_core_backward(doh, extra, qh, kh, vh, p.copy(), drop, 0.5, with_ds=True)
    assert len(want) == len(got) == 4  # and ds (a learned mask's gradient)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
    want = plain.attention_core_backward(doh, extra, qh, kh, vh, p, drop, 0.5)
    got = fast.attention_core_backward(doh, extra, qh, kh, vh, p.copy(), drop, 0.5)
    assert len(want) == len(got) == 3
    for w, g in zip(want, got, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert not np.isnan(got[0]).any()


def test_pooled_attention_arrays_are_never_shared_while_anything_holds_them():
    """Two pending forwards keep their own weights; weights kept by the user survive later calls."""
    mt.manual_seed(0)
    mha = mt.MultiheadAttention(8, 2, dropout=0.2, batch_first=True)
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    y1, w1 = mha(x, x, x, average_attn_weights=False)
    kept_y, kept_w = y1.copy(), w1.copy()
    y2, w2 = mha(x * 2, x * 2, x * 2, average_attn_weights=False)
    assert w1 is not w2 and w1.base is not w2 and w2.base is not w1
    np.testing.assert_array_equal(w1, kept_w)
    mha.backward(np.ones_like(y2))
    mha.backward(np.ones_like(y1))
    for _ in range(3):  # later calls reuse freed arrays, never the ones the user holds
        y, _ = mha(x * 3, x * 3, x * 3)
        mha.backward(np.ones_like(y))
    np.testing.assert_array_equal(w1, kept_w)
    np.testing.assert_array_equal(y1, kept_y)


def test_dropout_and_relu_masks_stay_with_their_own_call():
    """The pooled Dropout and ReLU masks of a pending forward are not reused by the next forward."""
    mt.manual_seed(0)
    drop, relu = mt.Dropout(0.5), mt.ReLU()
    x = np.random.default_rng(0).standard_normal((4, 6))
    y1, y2 = drop(x), drop(x)
    relu(x), relu(-x)
    ones = np.ones_like(x)
    np.testing.assert_array_equal(drop.backward(ones), (y2 != 0) * 2.0)  # backward takes the newest call
    np.testing.assert_array_equal(drop.backward(ones), (y1 != 0) * 2.0)
    np.testing.assert_array_equal(relu.backward(ones), (x < 0).astype(x.dtype))
    np.testing.assert_array_equal(relu.backward(ones), (x > 0).astype(x.dtype))
    assert not np.array_equal(y1 != 0, y2 != 0)
    assert fast_layers.dropout_forward is not None
