"""A float mask that is a Parameter requiring grad (a learned attention bias: relative positions,
ALiBi-like slopes, a learned padding score) is trained as torch's autograd trains it: the scores'
gradient, summed over the axes the mask is broadcast along, accumulated into its grad. In
MultiheadAttention, and through TransformerEncoderLayer and TransformerEncoder (one mask fed to
every layer: the layers' gradients summed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin
from test_attention import build, inputs
from test_transformer import randomized

import minitorch as mt

options = st.fixed_dictionaries({
    "heads": st.sampled_from([1, 2, 3]),
    "head_dim": st.integers(1, 3),
    "batch_first": st.booleans(),
    "kv": st.sampled_from(["same", "both"]),
    "bias": st.booleans(),
    "attn": st.sampled_from(["none", "2d", "3d", "2d-frozen", "2d-bool"]),
    "pad": st.sampled_from(["none", "float", "float-frozen", "bool"]),
    "need_weights": st.booleans(),
    "average": st.booleans(),
    "N": st.integers(1, 3),
    "L": st.integers(1, 4),
    "S": st.integers(1, 4),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


def learned_masks(rng, o):
    """(attn_mask, key_padding_mask): Parameters (learned), frozen Parameters, bool arrays or None."""
    N, H, L, S, batched = o["N"], o["heads"], o["L"], o["S"], o["batched"]
    attn = kpm = None
    if o["attn"] != "none":
        shape = ((N * H) if batched else H, L, S) if o["attn"] == "3d" else (L, S)
        if o["attn"] == "2d-bool":
            attn = rng.random(shape) < 0.3
            attn[..., 0] = False
        else:
            attn = mt.Parameter(rng.standard_normal(shape), requires_grad=not o["attn"].endswith("frozen"))
    if o["pad"] != "none":
        shape = (N, S) if batched else (S,)
        if o["pad"] == "bool":
            kpm = rng.random(shape) < 0.3
            kpm[..., 0] = False
        else:
            kpm = mt.Parameter(rng.standard_normal(shape), requires_grad=not o["pad"].endswith("frozen"))
    return attn, kpm


def as_torch(mask):
    if mask is None:
        return None
    if isinstance(mask, mt.Parameter):
        return tensor(mask.data.copy(), requires_grad=mask.requires_grad)
    return tensor(mask)


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=60, deadline=None)
@given(o=options)
def test_learned_masks_get_torchs_gradients(kernels_on, o):
    """float64: output, dquery, dkey, dvalue, every parameter's and each learned mask's gradient."""
    mt.kernels.use_kernels(kernels_on)  # (the autouse fixture puts the run's switch back)
    m, rng = build({**o, "mask": "none"})
    attn, kpm = learned_masks(rng, o)
    q, k, v = inputs(rng, m, o["N"], o["L"], o["S"], o["batched"])
    kwargs = {"need_weights": o["need_weights"], "average_attn_weights": o["average"]}
    t = torch_twin(m)
    tattn, tkpm = as_torch(attn), as_torch(kpm)
    tq, tk, tv = (tensor(a, requires_grad=True) for a in (q, k, v))
    with warnings.catch_warnings():  # torch deprecates a bool mask beside a float one; both are fine here
        warnings.simplefilter("ignore")
        ty, tw = t(tq, tk, tv, attn_mask=tattn, key_padding_mask=tkpm, **kwargs)
    dy = rng.standard_normal(ty.shape)
    dw = None if tw is None else rng.standard_normal(tw.shape)
    ((ty * tensor(dy)).sum() + (0 if tw is None else (tw * tensor(dw)).sum())).backward()
    y, w = m(q, k, v, attn_mask=attn, key_padding_mask=kpm, **kwargs)
    grads = m.backward((dy, dw))

    def close(a, b, what):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)

    close(y, ty.detach().numpy(), "output")
    assert (w is None) == (tw is None)
    if w is not None:
        close(w, tw.detach().numpy(), "attn_weights")
    for g, tg, name in zip(grads, (tq, tk, tv), ("dquery", "dkey", "dvalue"), strict=True):
        close(g, tg.grad.numpy(), name)
    theirs = dict(t.named_parameters())
    for name, p in m.named_parameters():
        close(p.grad, theirs[name].grad.numpy(), name)
    for mask, tmask, name in ((attn, tattn, "attn_mask"), (kpm, tkpm, "key_padding_mask")):
        if isinstance(mask, mt.Parameter):
            assert (mask.grad is None) == (tmask.grad is None), name
            if mask.grad is not None:
                close(mask.grad, tmask.grad.numpy(), name)


class LearnedBias(mt.Module):
    """Self-attention with a learned (L, S) score bias and a learned key-padding score."""

    def __init__(self, mha: mt.MultiheadAttention, L: int, N: int, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.mha = mha
        self.bias = mt.Parameter(rng.standard_normal((L, L)))
        self.pad = mt.Parameter(rng.standard_normal((N, L)))

    def forward(self, x):
        return self.mha(x, x, x, attn_mask=self.bias, key_padding_mask=self.pad, average_attn_weights=False)

    def backward(self, grad):
        return sum(self.mha.backward(grad))


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gradcheck_learned_masks(float64, dropout):
    mha = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 5})[0]
    mha.dropout = dropout
    x = np.random.default_rng(5).standard_normal((2, 4, 4))
    assert mt.gradcheck(LearnedBias(mha, 4, 2, seed=5), x)


@pytest.mark.parametrize("norm_first", [False, True])
def test_an_encoder_trains_one_learned_mask_through_every_layer(float64, norm_first):
    """torch's TransformerEncoder feeds one mask to each layer: its gradient is the layers' sum."""
    mt.manual_seed(0)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first)
    m = randomized(mt.TransformerEncoder(layer, 2), seed=3)
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    mask, pad = mt.Parameter(rng.standard_normal((3, 3))), mt.Parameter(rng.standard_normal((2, 3)))
    t = mt.interop.to_torch(m)
    tmask, tpad = as_torch(mask), as_torch(pad)
    (t(tensor(x), mask=tmask, src_key_padding_mask=tpad) * tensor(dy)).sum().backward()
    m(x, mask=mask, src_key_padding_mask=pad)
    m.backward(dy)
    np.testing.assert_allclose(mask.grad, tmask.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pad.grad, tpad.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_learned_mask_with_the_causal_hint_is_refused(float64):
    """is_causal=True says attn_mask is the fixed causal mask; torch then trains it on one path (with
    weights) and drops it on the other (need_weights=False: grad None). Refused, naming the fix."""
    m = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 1})[0]
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    causal = mt.Parameter(mt.generate_square_subsequent_mask(3, np.float64))
    with pytest.raises(TypeError, match=r"MultiheadAttention.*is_causal=True.*attn_mask is a Parameter "
                                        r"that requires grad.*is_causal=False"):
        m(x, x, x, attn_mask=causal, is_causal=True)
    causal.requires_grad_(False)
    m(x, x, x, attn_mask=causal, is_causal=True)  # a frozen one is the causal mask
