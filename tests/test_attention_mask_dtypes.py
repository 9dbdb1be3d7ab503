"""A float mask of another dtype than the module's parameters. PyTorch 2.13 sums the two masks in
their promoted dtype (a bool one as the query's) and then refuses most dtypes other than the query's
(a float64 mask in a float32 module always; float32 into float64 only with need_weights=False).
MiniTorch casts an array mask at the door as its inputs: summed as torch sums them, then cast as
torch's ``.to(dtype)`` (a number past float32's range becomes -inf), without NumPy's overflow
warning; a learned mask (a Parameter that requires grad) wider than the module is refused, as torch
refuses it, since its values and gradient would pass through the module's narrower dtype."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from oracle import tensor, torch_twin
from test_attention import build, inputs

import minitorch as mt

OPTIONS = {"heads": 2, "head_dim": 2, "kv": "same", "bias": True, "batch_first": True, "seed": 3}
N, L, S = 2, 3, 4


def _masks(rng, dtype):
    """(attn_mask (L, S), key_padding_mask (N, S)) of ``dtype``: ordinary values, the dtype's most
    negative number at a few places, one query row masked everywhere by it."""
    attn = rng.standard_normal((L, S)).astype(dtype)
    attn[0, 1] = attn[2, :] = np.finfo(dtype).min
    kpm = rng.standard_normal((N, S)).astype(dtype)
    kpm[1, 0] = np.finfo(dtype).min
    return attn, kpm


def _torch(m, q, k, v, attn, kpm, need_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a bool mask beside a float one: torch's deprecation)
        y, w = torch_twin(m)(*(tensor(a) for a in (q, k, v)), attn_mask=attn, key_padding_mask=kpm,
                             need_weights=need_weights)
    return y.detach().numpy(), None if w is None else w.detach().numpy()


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("which", ["attn", "pad", "both"])
def test_a_float64_mask_in_a_float32_module_is_cast_as_torchs_to_without_a_warning(which, need_weights,
                                                                                   kernels_on):
    """float64 masks holding float64's most negative number: cast to -inf (as torch's .to(float32)),
    no RuntimeWarning; the result is torch's for the masks cast so (torch refuses them uncast)."""
    mt.kernels.use_kernels(kernels_on)
    m, rng = build(OPTIONS, np.float32)
    q, k, v = inputs(rng, m, N, L, S, True, np.float32)
    attn, kpm = _masks(rng, np.float64)
    attn, kpm = (attn if which != "pad" else None), (kpm if which != "attn" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, w = m(q, k, v, attn_mask=attn, key_padding_mask=kpm, need_weights=need_weights)
    as32 = [None if a is None else tensor(a).to(torch.float32) for a in (attn, kpm)]
    assert all(a is None or torch.isneginf(a).any() for a in as32)
    ty, tw = _torch(m, q, k, v, *as32, need_weights)
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32
    if need_weights:
        np.testing.assert_allclose(w, tw, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError):  # torch refuses them as given
        _torch(m, q, k, v, *(None if a is None else tensor(a) for a in (attn, kpm)), need_weights)


def test_two_float32_masks_in_a_float64_module_are_summed_in_float32_as_torch_sums_them():
    """torch adds attn_mask and key_padding_mask in their promoted dtype (float32 here), then its
    need_weights=False path takes the float32 sum into float64 attention: the same here, exactly."""
    m, rng = build(OPTIONS, np.float64)
    q, k, v = inputs(rng, m, N, L, S, True, np.float64)
    attn = np.ones((L, S), np.float32)
    kpm = np.full((N, S), 2.0**-24, np.float32)  # 1 + 2**-24 is 1 in float32, not in float64
    kpm[0, 1] = 0.25
    y, _ = m(q, k, v, attn_mask=attn, key_padding_mask=kpm, need_weights=False)
    ty, _ = _torch(m, q, k, v, tensor(attn), tensor(kpm), False)
    np.testing.assert_allclose(y, ty, rtol=1e-14, atol=1e-15)
    assert y.dtype == np.float64


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_a_learned_float32_mask_in_a_float64_module_trains_as_torchs(kernels_on):
    """A narrower learned mask is widened exactly; its gradient, in its own dtype, is torch's
    (need_weights=False: the path torch accepts it on)."""
    mt.kernels.use_kernels(kernels_on)
    m, rng = build(OPTIONS, np.float64)
    q, k, v = inputs(rng, m, N, L, S, True, np.float64)
    attn = mt.Parameter(rng.standard_normal((L, S)).astype(np.float32))
    kpm = mt.Parameter(rng.standard_normal((N, S)).astype(np.float32))
    y, _ = m(q, k, v, attn_mask=attn, key_padding_mask=kpm, need_weights=False)
    dy = rng.standard_normal(y.shape)
    m.backward(dy)
    tattn, tkpm = (tensor(p.data.copy(), requires_grad=True) for p in (attn, kpm))
    ty, _ = torch_twin(m)(*(tensor(a) for a in (q, k, v)), attn_mask=tattn, key_padding_mask=tkpm,
                          need_weights=False)
    (ty * tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    for p, t in ((attn, tattn), (kpm, tkpm)):
        assert p.grad.dtype == np.float32 == t.grad.numpy().dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["attn_mask", "key_padding_mask"])
def test_a_learned_mask_wider_than_the_module_is_refused_by_name_as_torch_refuses_it(name):
    m, rng = build(OPTIONS, np.float32)
    q, k, v = inputs(rng, m, N, L, S, True, np.float32)
    shape = (L, S) if name == "attn_mask" else (N, S)
    mask = mt.Parameter(rng.standard_normal(shape))  # float64 (NumPy's default)
    message = (rf"^MultiheadAttention\(embed_dim=4, num_heads=2\): {name} is a Parameter that requires grad "
               r"\(a learned mask\) of dtype float64, wider than the module's float32: .*PyTorch refuses it.*"
               rf"{name}\.to\(np\.float32\)")
    with pytest.raises(TypeError, match=message):
        m(q, k, v, **{name: mask}, need_weights=False)
    assert mask.grad is None and mask.dtype == np.float64
    with pytest.raises(RuntimeError):  # torch: its dtype check (need_weights=False) or its matmul's
        _torch(m, q, k, v, *((tensor(mask.data, requires_grad=True), None) if name == "attn_mask"
                             else (None, tensor(mask.data, requires_grad=True))), False)
    mask.to(np.float32)  # the fix named
    y, _ = m(q, k, v, **{name: mask}, need_weights=False)
    frozen = mt.Parameter(mask.data.astype(np.float64), requires_grad=False)  # a constant: cast, as an array
    np.testing.assert_array_equal(m(q, k, v, **{name: frozen}, need_weights=False)[0], y)


def test_an_encoder_layer_takes_a_float64_src_mask_without_a_warning():
    mt.manual_seed(0)
    layer = mt.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True)
    x = np.random.default_rng(0).standard_normal((N, L, 4)).astype(np.float32)
    mask = np.triu(np.full((L, L), np.finfo(np.float64).min), k=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer(x, src_mask=mask)
    np.testing.assert_array_equal(y, layer(x, src_mask=mt.generate_square_subsequent_mask(L)))
