"""is_causal=True with a causal mask written with large finite negatives (-1e4, -1e9, the dtype's most
negative number) above the diagonal: accepted, and computed as torch 2.13 computes it on each path:
need_weights=False without a key_padding_mask takes torch's own causal mask (-inf above the diagonal),
every other call the mask as given. The two agree unless a score gap exceeds the mask (scores scaled
by 1e3 here make them differ, so the grid tells the paths apart)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_attention import build, compare_mha, inputs
from test_transformer import compare, randomized

import minitorch as mt

VALUES = {"-1e4": -1e4, "-1e9": -1e9, "finfo.min": np.finfo(np.float64).min}

options = st.fixed_dictionaries({
    "heads": st.sampled_from([1, 2]),
    "head_dim": st.integers(1, 3),
    "batch_first": st.booleans(),
    "bias": st.booleans(),
    "value": st.sampled_from(list(VALUES)),
    "some_inf": st.booleans(),
    "per_head": st.booleans(),
    "pad": st.sampled_from(["none", "bool", "float"]),
    "need_weights": st.booleans(),
    "scale": st.sampled_from([1.0, 1e3]),
    "N": st.integers(1, 3),
    "L": st.integers(1, 4),
    "seed": st.integers(0, 2**16),
})


DIFFER = {"heads": 2, "head_dim": 2, "batch_first": True, "bias": True, "value": "-1e4", "some_inf": False,
          "per_head": False, "pad": "none", "need_weights": False, "scale": 1e3, "N": 2, "L": 4, "seed": 3}


def finite_causal(L, value, some_inf=False, rng=None):
    """0 on and below the diagonal, ``value`` above it (some entries -inf with ``some_inf``)."""
    mask = np.triu(np.full((L, L), value), k=1)
    if some_inf:
        mask[np.triu(rng.random((L, L)) < 0.5, k=1)] = -np.inf
    return mask


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=60, deadline=None)
@given(o=options)
@example(o=DIFFER)  # where torch's paths differ: each is checked, whatever the draws
@example(o={**DIFFER, "need_weights": True})
def test_a_finite_causal_mask_with_the_hint_is_torchs_answer_on_each_path(kernels_on, o):
    mt.kernels.use_kernels(kernels_on)  # (the autouse fixture puts the run's switch back)
    m, rng = build({**o, "kv": "same"})
    N, H, L = o["N"], o["heads"], o["L"]
    mask = finite_causal(L, VALUES[o["value"]], o["some_inf"], rng)
    if o["per_head"]:
        mask = np.stack([mask] * (N * H))
    kpm = None
    if o["pad"] != "none":
        kpm = np.zeros((N, L), bool)
        kpm[:, 1:] = rng.random((N, L - 1)) < 0.4
        kpm = kpm if o["pad"] == "bool" else np.where(kpm, -np.inf, 0.25)
    x = inputs(rng, m, N, L, L)[0] * o["scale"]
    with warnings.catch_warnings():  # torch: a bool padding mask beside a float attn_mask is deprecated
        warnings.simplefilter("ignore")
        # inputs of `scale` make results up to scale**3 (a weight's gradient: the input times ds @ key
        # times dp) and a softmax saturated where torch's fused kernel leaves rounding of that size
        # (its gradient 1e-6 where the exact one is 0): atol grows with them; the paths differ by far
        # more (the outputs by O(scale): test_the_paths_differ_where_a_score_gap_exceeds_the_mask)
        compare_mha(m, x, x, x, rtol=1e-10, atol=1e-12 * o["scale"] ** 3, seed=o["seed"], attn_mask=mask,
                    key_padding_mask=kpm, need_weights=o["need_weights"], is_causal=True)


@pytest.mark.parametrize("value", list(VALUES))
def test_the_paths_differ_where_a_score_gap_exceeds_the_mask(float64, value):
    """Where torch's paths differ, each MiniTorch call is its path's answer (not one for both)."""
    m = build({"heads": 1, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 0})[0]
    x = np.random.default_rng(0).standard_normal((1, 3, 2)) * (1e7 if value == "-1e4" else 1.0)
    mask = finite_causal(3, VALUES[value])
    given = m(x, x, x, attn_mask=mask)[0]
    hinted = m(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)[0]
    causal = m(x, x, x, attn_mask=mt.generate_square_subsequent_mask(3, np.float64), need_weights=False)[0]
    np.testing.assert_array_equal(hinted, causal)
    np.testing.assert_array_equal(m(x, x, x, attn_mask=mask, is_causal=True)[0], given)
    assert (value == "-1e4") == (not np.allclose(given, causal))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("pad", [False, True])
def test_encoder_layer_and_stack_with_a_finite_causal_mask(float64, norm_first, pad):
    mt.manual_seed(0)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first)
    layer = randomized(layer)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)) * 100
    kpm = np.array([[False, False, True], [False, True, True]]) if pad else None
    mask = finite_causal(3, -1e4)
    compare(layer, x, rtol=1e-9, atol=1e-11, src_mask=mask, src_key_padding_mask=kpm, is_causal=True)
    stack = randomized(mt.TransformerEncoder(layer, 2), seed=1)
    compare(stack, x, rtol=1e-9, atol=1e-11, mask=mask, src_key_padding_mask=kpm, is_causal=True)


def test_gradcheck_a_finite_causal_mask_on_both_paths(float64):
    m = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 3})[0]
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    mask = finite_causal(3, -1e9)
    for need_weights in (True, False):
        assert mt.gradcheck(m, x, x, x, attn_mask=mask, is_causal=True, need_weights=need_weights)


@pytest.mark.parametrize("value", [-1.0, -9999.0, 0.5])
def test_a_weaker_mask_with_the_hint_is_still_refused(float64, value):
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match=r"is_causal=True is PyTorch's hint .* -1e4 .* pass is_causal=False"):
        m(x, x, x, attn_mask=finite_causal(3, value), is_causal=True)
