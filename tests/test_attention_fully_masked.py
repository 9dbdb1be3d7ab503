"""A query row whose every key is masked, against torch 2.13's autograd path (tests/oracle.py turns its
fast path off): with need_weights=True torch's softmax gives NaN for that row (weights, output and
every gradient the NaN reaches); with need_weights=False its fused attention gives weights of 0 and
the output projection's bias. MiniTorch gives each path's answer (docs/attention.md, "Fully masked
rows")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import torch_twin
from test_attention import build, compare_mha, inputs, run_torch

import minitorch as mt

HOW = ["attn-bool-2d", "attn-float-2d", "attn-3d-one-head", "pad-bool", "pad-float", "both"]


def fully_masked(rng, how, N, H, L, S, batched, dtype):
    """(attn_mask, key_padding_mask) masking every key of query row 0 (of every sequence and head, or
    of the last head only for "attn-3d-one-head", or every row of the last sequence for "pad-*");
    other rows keep key 0."""
    attn = kpm = None
    if how.startswith("attn") or how == "both":
        shape = (L, S) if how != "attn-3d-one-head" else ((N * H) if batched else H, L, S)
        attn = rng.random(shape) < 0.4
        attn[..., 0] = False
        if how == "attn-3d-one-head":
            attn.reshape(-1, H, L, S)[:, -1, 0] = True
        else:
            attn[..., 0, :] = True
        if how == "attn-float-2d":
            attn = np.where(attn, -np.inf, rng.standard_normal(shape)).astype(dtype)
    if how.startswith("pad") or how == "both":
        kpm = np.zeros((N, S) if batched else (S,), bool)
        kpm[-1 if batched else slice(None)] = True  # every key of the last sequence (unbatched: the one)
        if how == "pad-float":
            kpm = np.where(kpm, -np.inf, 0.5).astype(dtype)
    return attn, kpm


options = st.fixed_dictionaries({
    "heads": st.sampled_from([1, 2, 3]),
    "head_dim": st.integers(1, 3),
    "batch_first": st.booleans(),
    "kv": st.sampled_from(["same", "both"]),
    "bias": st.booleans(),
    "how": st.sampled_from(HOW),
    "need_weights": st.booleans(),
    "average": st.booleans(),
    "N": st.integers(1, 3),
    "L": st.integers(1, 4),
    "S": st.integers(1, 4),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=60, deadline=None)
@given(o=options)
def test_fully_masked_rows_match_torchs_autograd_path(kernels_on, o):
    """Output, weights, dquery, dkey, dvalue and every parameter gradient, NaN where torch's are NaN
    (assert_allclose compares NaN positions), float64, kernels on and off."""
    mt.kernels.use_kernels(kernels_on)  # (the autouse fixture puts the run's switch back)
    m, rng = build({**o, "mask": "none"})
    N, H, L, S = o["N"], o["heads"], o["L"], o["S"]
    attn, kpm = fully_masked(rng, o["how"], N, H, L, S, o["batched"], np.float64)
    q, k, v = inputs(rng, m, N, L, S, o["batched"])
    kwargs = {"attn_mask": attn, "key_padding_mask": kpm, "need_weights": o["need_weights"],
              "average_attn_weights": o["average"]}
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12, seed=o["seed"], **kwargs)
    y = m(q, k, v, **kwargs)[0]
    assert np.isnan(y).any() == o["need_weights"]


def test_need_weights_true_gives_nan_rows_and_false_gives_the_bias(float64):
    """The two answers side by side, on one batch whose second sequence has every key padded."""
    m, _ = build({"heads": 2, "head_dim": 2, "kv": "same", "bias": True, "batch_first": True, "seed": 3})
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    kpm = np.array([[False, False, True], [True, True, True]])
    y, w = m(x, x, x, key_padding_mask=kpm)
    assert np.isnan(y[1]).all() and np.isnan(w[1]).all()
    assert np.isfinite(y[0]).all() and np.isfinite(w[0]).all()
    y, w = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    assert w is None
    np.testing.assert_allclose(y[1], np.broadcast_to(m.out_proj.bias.data, (3, 4)), rtol=1e-12)


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("pad", ["bool", "float"])
@pytest.mark.parametrize("attn", [False, True])
def test_no_keys_with_a_padding_mask_and_need_weights_false_answers_as_torchs_weights_path(
        kernels_on, batched, pad, attn):
    """S = 0 keys with a key_padding_mask and need_weights=False: torch 2.13 fails there itself (its
    fused path reshapes the empty mask to (N, H, -1, 0): "cannot reshape tensor of 0 elements").
    MiniTorch answers as torch's need_weights=True path does, which computes: attention over no keys
    is 0, so the output is the output projection's bias, and the gradients are torch's (dkey and
    dvalue empty, the projections' weights 0 but out_proj's bias)."""
    mt.kernels.use_kernels(kernels_on)
    m, rng = build({"heads": 2, "head_dim": 2, "kv": "both", "bias": True, "batch_first": True, "seed": 5})
    q, k, v = inputs(rng, m, 2, 3, 0, batched)
    kpm = np.zeros((2, 0) if batched else (0,), bool if pad == "bool" else np.float64)
    kwargs = {"key_padding_mask": kpm, "attn_mask": np.zeros((3, 0), bool) if attn else None}
    y, w = m(q, k, v, need_weights=False, **kwargs)
    assert w is None
    dy = rng.standard_normal(y.shape)
    grads = m.backward((dy, None))
    t = torch_twin(m)
    ty, _, tgrads = run_torch(t, q, k, v, dy, np.zeros(0), need_weights=True, **kwargs)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, np.broadcast_to(m.out_proj.bias.data, y.shape), rtol=1e-12)
    for g, tg in zip(grads, tgrads, strict=True):
        assert g.shape == tg.shape
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)
    theirs = dict(t.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
    with pytest.raises(RuntimeError, match="cannot reshape tensor of 0 elements"):  # torch's own path:
        run_torch(torch_twin(m), q, k, v, dy, None, need_weights=False, **kwargs)  # compare when fixed
