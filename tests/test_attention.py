"""MultiheadAttention: PyTorch oracle over every option, float64 gradchecks, masked rows, dropout, errors."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from bitwise import assert_bitwise
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_state, torch_twin

import minitorch as mt
from minitorch.layers.attention_core import attention_core, attention_core_backward

MASK_KINDS = ["none", "bool-2d", "float-2d", "bool-3d", "float-3d", "causal"]
PAD_KINDS = ["none", "bool", "float"]


def make_masks(rng, kind, pad, N, H, L, S, batched=True, dtype=np.float64):
    """(attn_mask, key_padding_mask), never masking key 0 so that no row is fully masked."""
    attn = None
    if kind == "causal":
        attn = mt.generate_square_subsequent_mask(L, dtype)
    elif kind != "none":
        shape = (L, S) if kind.endswith("2d") else ((N * H) if batched else H, L, S)
        if kind.startswith("bool"):
            attn = rng.random(shape) < 0.4
            attn[..., 0] = False
        else:
            attn = rng.standard_normal(shape).astype(dtype)
            attn[rng.random(shape) < 0.2] = -np.inf
            attn[..., 0] = 0.5
    kpm = None
    if pad != "none":
        shape = (N, S) if batched else (S,)
        if pad == "bool":
            kpm = rng.random(shape) < 0.4
        else:
            kpm = np.where(rng.random(shape) < 0.3, -np.inf, rng.standard_normal(shape)).astype(dtype)
        kpm[..., 0] = False if pad == "bool" else 0.0
    return attn, kpm


def inputs(rng, m, N, L, S, batched=True, dtype=np.float64):
    def shape(T, F):
        if not batched:
            return (T, F)
        return (N, T, F) if m.batch_first else (T, N, F)

    return tuple(rng.standard_normal(shape(T, F)).astype(dtype)
                 for T, F in ((L, m.embed_dim), (S, m.kdim), (S, m.vdim)))


def run_torch(t, q, k, v, dy, dw, **kwargs):
    tq, tk, tv = (tensor(a, requires_grad=True) for a in (q, k, v))
    masks = {name: None if kwargs.get(name) is None else tensor(kwargs[name])
             for name in ("attn_mask", "key_padding_mask")}
    with warnings.catch_warnings():  # torch deprecates a bool mask beside a float one; both are fine here
        warnings.simplefilter("ignore")
        y, w = t(tq, tk, tv, **{**kwargs, **masks})
    loss = (y * tensor(dy)).sum() + (0 if w is None else (w * tensor(dw)).sum())
    loss.backward()
    w = None if w is None else w.detach().numpy()
    return y.detach().numpy(), w, [a.grad.numpy() for a in (tq, tk, tv)]


def compare_mha(m, q, k, v, rtol, atol, seed=0, **kwargs):
    """Output, weights, dquery, dkey, dvalue and every parameter gradient against torch's twin.

    In float32 ``atol`` is relative to the largest magnitude among torch's results (at least 1): both
    libraries round at float32's 6e-8 at the scale of the terms they sum, so a gradient that is
    exactly 0 (one key: softmax has zero slope) comes out of torch as the rounding of its terms.
    """
    rng = np.random.default_rng(seed)
    t = torch_twin(m)
    m.zero_grad()
    y, w = m(q, k, v, **kwargs)
    dy = rng.standard_normal(y.shape).astype(y.dtype)
    dw = None if w is None else rng.standard_normal(w.shape).astype(w.dtype)
    grads = m.backward((dy, dw))
    ty, tw, tgrads = run_torch(t, q, k, v, dy, dw, **kwargs)
    assert y.dtype == q.dtype and all(g.dtype == q.dtype for g in grads)
    theirs = dict(t.named_parameters())
    scale = 1.0
    if q.dtype == np.float32:
        results = [ty, *tgrads, *(p.grad.numpy() for p in theirs.values()), *([] if tw is None else [tw])]
        scale = max(1.0, *(float(np.max(np.abs(r), initial=0.0)) for r in results))

    def close(actual, desired, rtol, atol, err_msg):
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol * scale, err_msg=err_msg)

    close(y, ty, rtol=rtol, atol=atol, err_msg="attn_output")
    assert (w is None) == (tw is None)
    if w is not None:
        assert w.dtype == q.dtype
        close(w, tw, rtol=rtol, atol=atol, err_msg="attn_weights")
    for name, g, tg in zip(("dquery", "dkey", "dvalue"), grads, tgrads, strict=True):
        close(g, tg, rtol=rtol, atol=atol, err_msg=name)
    for name, p in m.named_parameters():
        assert p.grad.dtype == q.dtype
        close(p.grad, theirs[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


options = st.fixed_dictionaries({
    "heads": st.sampled_from([1, 2, 4]),
    "head_dim": st.integers(1, 3),
    "batch_first": st.booleans(),
    "kv": st.sampled_from(["same", "kdim", "vdim", "both"]),
    "bias": st.booleans(),
    "mask": st.sampled_from(MASK_KINDS),
    "pad": st.sampled_from(PAD_KINDS),
    "need_weights": st.booleans(),
    "average": st.booleans(),
    "N": st.integers(1, 3),
    "L": st.integers(1, 5),
    "S": st.integers(1, 6),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})



def build(o, dtype=np.float64):
    mt.set_default_dtype(dtype)
    mt.manual_seed(o["seed"])
    E = o["heads"] * o["head_dim"]
    kdim = E + 1 if o["kv"] in ("kdim", "both") else None
    vdim = E + 2 if o["kv"] in ("vdim", "both") else None
    m = mt.MultiheadAttention(E, o["heads"], bias=o["bias"], kdim=kdim, vdim=vdim,
                              batch_first=o["batch_first"])
    rng = np.random.default_rng(o["seed"])
    for p in m.parameters():  # biases start at 0: give them values the test can see
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    return m, rng


def case(o, dtype=np.float64):
    m, rng = build(o, dtype)
    N, L = o["N"], o["L"]
    S = L if o["mask"] == "causal" else o["S"]
    attn, kpm = make_masks(rng, o["mask"], o["pad"], N, o["heads"], L, S, o["batched"], dtype)
    q, k, v = inputs(rng, m, N, L, S, o["batched"], dtype)
    kwargs = {"attn_mask": attn, "key_padding_mask": kpm, "need_weights": o["need_weights"],
              "average_attn_weights": o["average"], "is_causal": o["mask"] == "causal"}
    return m, (q, k, v), kwargs


@settings(max_examples=120, deadline=None)
@given(o=options)
def test_matches_torch_float64_over_every_option(o):
    m, (q, k, v), kwargs = case(o)
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12, **kwargs)


@settings(max_examples=40, deadline=None)
@given(o=options)
def test_matches_torch_float32_and_stays_float32(o):
    m, (q, k, v), kwargs = case(o, np.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    compare_mha(m, q, k, v, rtol=1e-4, atol=1e-5, **kwargs)


@pytest.mark.parametrize("batch_first", [True, False])
def test_long_sequences_match_torch(float64, batch_first):
    m = mt.MultiheadAttention(16, 4, batch_first=batch_first)
    rng = np.random.default_rng(3)
    q, k, v = inputs(rng, m, 2, 96, 80)
    attn, kpm = make_masks(rng, "bool-2d", "bool", 2, 4, 96, 80)
    compare_mha(m, q, k, v, rtol=1e-9, atol=1e-11, attn_mask=attn, key_padding_mask=kpm)
    causal = mt.generate_square_subsequent_mask(96)
    compare_mha(m, q, q, q, rtol=1e-9, atol=1e-11, attn_mask=causal, is_causal=True, need_weights=False)


def test_single_token(float64):
    m = mt.MultiheadAttention(6, 3, batch_first=True)
    q, k, v = inputs(np.random.default_rng(0), m, 4, 1, 1)
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12)
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12, attn_mask=mt.generate_square_subsequent_mask(1),
                is_causal=True)


def test_float32_inputs_to_a_float64_module_and_back(float64):
    m = mt.MultiheadAttention(4, 2)
    q = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    y, w = m(q, q, q)
    assert y.dtype == w.dtype == np.float64  # computed in the parameters' dtype


# --- gradcheck: every element of every input and parameter, central differences, float64 ----------
class SelfAttention(mt.Module):
    """x -> mha(x, x, x): one input feeding all three, so dx = dquery + dkey + dvalue (the caller's sum)."""

    def __init__(self, mha: mt.MultiheadAttention) -> None:
        super().__init__()
        self.mha = mha

    def forward(self, x, **kwargs):
        return self.mha(x, x, x, **kwargs)

    def backward(self, grad):
        return sum(self.mha.backward(grad))


def randomized_mha(*args, seed=0, **kwargs):
    m = mt.MultiheadAttention(*args, **kwargs)
    rng = np.random.default_rng(seed)
    for p in m.parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    return m


@pytest.mark.parametrize("kv", ["same", "kdim-vdim"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_gradcheck_three_distinct_inputs_with_masks(float64, kv, batch_first):
    extra = {"kdim": 3, "vdim": 5} if kv == "kdim-vdim" else {}
    m = randomized_mha(4, 2, batch_first=batch_first, seed=1, **extra)
    rng = np.random.default_rng(1)
    args = inputs(rng, m, 2, 3, 4)
    attn, kpm = make_masks(rng, "float-3d", "bool", 2, 2, 3, 4)
    assert mt.gradcheck(m, *args, attn_mask=attn, key_padding_mask=kpm, average_attn_weights=False)
    assert mt.gradcheck(m, *args)


def test_gradcheck_self_attention_causal_with_dropout(float64):
    m = randomized_mha(4, 2, dropout=0.3, batch_first=True, seed=2)
    x = np.random.default_rng(2).standard_normal((2, 4, 4))
    mask = mt.generate_square_subsequent_mask(4)
    assert mt.gradcheck(SelfAttention(m), x, attn_mask=mask, is_causal=True)
    assert mt.gradcheck(SelfAttention(m), x, need_weights=False)


def test_gradcheck_unbatched_with_masks(float64):
    m = randomized_mha(4, 2, kdim=2, seed=4)
    rng = np.random.default_rng(4)
    args = (rng.standard_normal((3, 4)), rng.standard_normal((5, 2)), rng.standard_normal((5, 4)))
    attn, kpm = make_masks(rng, "bool-3d", "float", 1, 2, 3, 5, batched=False)
    assert mt.gradcheck(m, *args, attn_mask=attn, key_padding_mask=kpm)


def test_gradcheck_catches_a_wrong_attention_backward(float64):
    class Wrong(mt.MultiheadAttention):
        def backward(self, grad):
            dq, dk, dv = super().backward(grad)
            return dq, dk * 1.01, dv

    m = Wrong(4, 2)
    args = inputs(np.random.default_rng(0), m, 2, 3, 3)
    with pytest.raises(mt.GradcheckError, match=r"inputs\[1\]"):
        mt.gradcheck(m, *args)


# --- fully masked rows: torch's per path (tests/test_attention_fully_masked.py has the oracle grid) -----
def test_fully_masked_rows_give_zero_weights_and_the_bias_without_weights(float64):
    """need_weights=False: weights 0 (safe softmax), the output projection's bias, nothing flowing back
    through the row; need_weights=True: NaN in exactly those rows, as torch's plain softmax."""
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    m.out_proj.bias.data[...] = [1.0, -2.0, 3.0, 0.5]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    mask = np.array([[True, True, True], [False, True, True], [False, False, True]])  # row 0: all masked
    kpm = np.array([[False, False, False], [True, True, True]])  # batch 1: every key padded
    y, w = m(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False)
    assert w is None and np.isfinite(y).all()
    np.testing.assert_allclose(y[0, 0], m.out_proj.bias.data)
    np.testing.assert_allclose(y[1], np.broadcast_to(m.out_proj.bias.data, (3, 4)))
    dq, dk, dv = m.backward(rng.standard_normal(y.shape))
    assert all(np.isfinite(g).all() for g in (dq, dk, dv))
    np.testing.assert_array_equal(dq[1], 0.0)  # nothing flows back through a fully masked row
    np.testing.assert_array_equal(dq[0, 0], 0.0)
    y, w = m(x, x, x, attn_mask=mask, key_padding_mask=kpm, average_attn_weights=False)
    assert np.isnan(y[0, 0]).all() and np.isnan(y[1]).all() and np.isfinite(y[0, 1:]).all()
    assert np.isnan(w[0, :, 0]).all() and np.isnan(w[1]).all()
    np.testing.assert_allclose(w[0, :, 1:].sum(axis=-1), 1.0)
    # every row against torch's (assert_allclose compares the NaN positions too)
    t = torch_twin(m)
    ty, tw = t(*(tensor(x),) * 3, attn_mask=tensor(mask), key_padding_mask=tensor(kpm),
               average_attn_weights=False)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_softmax_rows_sum_to_one_and_masked_keys_get_zero():
    m = mt.MultiheadAttention(8, 4, batch_first=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 8)).astype(np.float32) * 10
    kpm = np.zeros((3, 6), bool)
    kpm[:, 4:] = True
    _, w = m(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(w[..., 4:], 0.0)


def test_huge_scores_stay_finite(float64):
    m = mt.MultiheadAttention(2, 1, batch_first=True)
    x = np.array([[[1e4, -1e4], [-1e4, 1e4], [3e3, 0.0]]])
    y, w = m(x, x, x)
    dq, dk, dv = m.backward(np.ones_like(y))
    assert all(np.isfinite(a).all() for a in (y, w, dq, dk, dv))


# --- dropout on the attention weights, from the library's seeded generator ---------------------------
def test_dropout_acts_on_attention_weights_only_and_is_seeded(float64):
    m = mt.MultiheadAttention(4, 2, dropout=0.5, batch_first=True)
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    mt.manual_seed(7)
    y1, w1 = m(x, x, x, average_attn_weights=False)
    mt.manual_seed(7)
    y2, w2 = m(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(w1, w2)
    m.eval()
    _, w_eval = m(x, x, x, average_attn_weights=False)
    # the kept weights are the eval weights / (1 - p), drawn as keep = U(0, 1) >= p
    mt.manual_seed(7)
    keep = mt.random.generator().random(w1.shape) >= 0.5
    np.testing.assert_allclose(w1, np.where(keep, w_eval / 0.5, 0.0), rtol=1e-12)
    # the output: the dropped weights times v, through the same projections (dropout nowhere else)
    v = x @ np.split(m.in_proj_weight.data, 3)[2].T + np.split(m.in_proj_bias.data, 3)[2]
    vh = v.reshape(2, 5, 2, 2).transpose(0, 2, 1, 3)
    o = (w1 @ vh).transpose(0, 2, 1, 3).reshape(2, 5, 4)
    np.testing.assert_allclose(y1, o @ m.out_proj.weight.data.T + m.out_proj.bias.data, rtol=1e-12)
    m.train()
    mt.manual_seed(8)
    _, w3 = m(x, x, x, average_attn_weights=False)
    assert not np.array_equal(w1, w3)


def test_dropout_is_off_in_eval_and_matches_torch(float64):
    m = mt.MultiheadAttention(4, 2, dropout=0.4, batch_first=True).eval()
    rng = np.random.default_rng(1)
    q, k, v = inputs(rng, m, 2, 3, 4)
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12)


# --- the outputs' gradient structure (CONTRACT §4) ----------------------------------------------------
def test_backward_accepts_a_bare_array_and_none_weights_gradient(float64):
    m = mt.MultiheadAttention(4, 2)
    rng = np.random.default_rng(0)
    q, k, v = inputs(rng, m, 2, 3, 3)
    y, w = m(q, k, v)
    dy = rng.standard_normal(y.shape)
    a = m.backward(dy)
    m(q, k, v)
    b = m.backward((dy, None))
    for x, z in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, z)
    m(q, k, v)
    zeros = m.backward((None, np.zeros(w.shape)))
    assert all(np.all(g == 0) for g in zeros)


def test_weights_gradient_refused_when_weights_were_not_returned():
    m = mt.MultiheadAttention(4, 2)
    x = np.ones((3, 2, 4), np.float32)
    y, w = m(x, x, x, need_weights=False)
    assert w is None
    with pytest.raises(ValueError, match="need_weights=False"):
        m.backward((np.ones_like(y), np.ones((2, 3, 3))))


def test_backward_checks_dy_shape():
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    x = np.ones((2, 3, 4), np.float32)
    m(x, x, x)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*\(2, 3, 4\)"):
        m.backward(np.ones((3, 2, 4)))


# --- errors: clear, and nothing changed ----------------------------------------------------------------
def test_constructor_errors():
    with pytest.raises(ValueError, match="divisible by num_heads, got embed_dim=10, num_heads=4"):
        mt.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="dropout"):
        mt.MultiheadAttention(4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="kdim"):
        mt.MultiheadAttention(4, 2, kdim=0)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: m(x, x[:, :2], x), r"key and value must have the same batch size and length S"),
    (lambda m, x: m(x, x, x, attn_mask=np.zeros((3, 4), bool)), r"attn_mask of shape \(L, S\) = \(3, 3\)"),
    (lambda m, x: m(x, x, x, attn_mask=np.zeros((2, 3, 3), bool)), r"\(N\*num_heads, L, S\) = \(4, 3, 3\)"),
    (lambda m, x: m(x, x, x, key_padding_mask=np.zeros((3, 2), bool)), r"key_padding_mask of shape \(2, 3\)"),
    (lambda m, x: m(x, x, x, attn_mask=np.zeros((3, 3), int)), r"bool or floating array, got dtype int"),
    (lambda m, x: m(x, x, x, is_causal=True), r"is_causal=True .* attn_mask is needed"),
    (lambda m, x: m(x[..., :3], x, x), r"expected query with 4 features"),
    (lambda m, x: m(x, x[0], x), r"all 3-D \(batched\) or all 2-D"),
    (lambda m, x: m(x, x[:1], x[:1]), r"query and key must have the same batch size"),
])
def test_bad_input_errors_name_the_module_and_change_nothing(call, message):
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    y, _ = m(x, x, x)
    state = copy.deepcopy(m.state_dict())
    who = r"MultiheadAttention\(embed_dim=4, num_heads=2\)"
    with pytest.raises((ValueError, TypeError), match=who) as err:
        call(m, x)
    assert err.match(message)
    for name, value in m.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    dq, _, _ = m.backward(np.ones_like(y))  # the earlier forward's backward still works
    assert dq.shape == x.shape


_NOT_CAUSAL = {
    "float-zeros": lambda L: np.zeros((L, L)),
    "bool-scattered": lambda L: np.eye(L, k=-1, dtype=bool),
    "causal-plus-bias": lambda L: mt.generate_square_subsequent_mask(L, np.float64) - np.arange(L) * 0.5,
    "causal-small-finite": lambda L: np.triu(np.full((L, L), -5.0), k=1),  # -1e4 or below is causal
    "per-head-one-not-causal": lambda L: np.stack([mt.generate_square_subsequent_mask(L, np.float64)] * 3
                                                  + [np.zeros((L, L))]),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: mixing a bool and a float mask is deprecated
@pytest.mark.parametrize("name", list(_NOT_CAUSAL))
def test_is_causal_with_a_mask_that_is_not_causal_is_refused(float64, name):
    """torch 2.13 reads is_causal=True as a hint that attn_mask is the causal mask: with another mask
    its answer depends on its code path (need_weights=False without key_padding_mask applies its own
    causal mask and drops attn_mask; need_weights=True, a key_padding_mask or the eval fast path apply
    attn_mask; torch's docs: "incorrect hints can result in incorrect execution"). MiniTorch applied
    the mask silently; it now raises, naming the fix."""
    L = 3
    mask = _NOT_CAUSAL[name](L)
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=True).double().train()
    x_t = torch.tensor(np.random.default_rng(0).standard_normal((2, L, 4)))
    with torch.no_grad():
        hinted = theirs(x_t, x_t, x_t, attn_mask=torch.tensor(mask), is_causal=True, need_weights=False)[0]
        masked = theirs(x_t, x_t, x_t, attn_mask=torch.tensor(mask), need_weights=True)[0]
        hinted_weights = theirs(x_t, x_t, x_t, attn_mask=torch.tensor(mask), is_causal=True)[0]
    assert torch.allclose(hinted_weights, masked)  # one torch path applies the mask
    if mask.ndim == 2:  # ... another the hint's causal mask instead
        assert not torch.allclose(hinted, masked)
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    x = x_t.numpy()
    for kwargs in ({"need_weights": False}, {"need_weights": True},
                   {"key_padding_mask": np.zeros((2, L), bool)}):
        with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=4, num_heads=2\): is_causal="
                                             r"True is PyTorch's hint that attn_mask is the causal mask, but "
                                             r"the attn_mask given is not .* pass is_causal=False"):
            m(x, x, x, attn_mask=mask, is_causal=True, **kwargs)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)
    if mask.ndim == 2:
        with pytest.raises(ValueError, match="is_causal=True is PyTorch's hint"):
            layer(x, src_mask=mask, is_causal=True)


@pytest.mark.parametrize("mask", [mt.generate_square_subsequent_mask(3, np.float64),
                                  np.triu(np.ones((3, 3), bool), k=1), np.triu(np.ones((3, 5), bool), k=1)],
                         ids=["float", "bool", "bool-L3-S5"])
def test_is_causal_with_the_causal_mask_matches_every_torch_path(float64, mask):
    L, S = mask.shape
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    rng = np.random.default_rng(1)
    q, kv = rng.standard_normal((2, L, 4)), rng.standard_normal((2, S, 4))
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    theirs.load_state_dict(torch_state(m))
    for kwargs in ({"need_weights": False}, {"need_weights": True}):
        with torch.no_grad():
            expected = theirs(*(torch.tensor(a) for a in (q, kv, kv)), attn_mask=torch.tensor(mask),
                              is_causal=True, **kwargs)[0].numpy()
        np.testing.assert_allclose(m(q, kv, kv, attn_mask=mask, is_causal=True, **kwargs)[0], expected,
                                   rtol=1e-12, atol=1e-14)


def test_square_subsequent_mask_is_torchs():
    for size in (1, 2, 7):
        np.testing.assert_array_equal(mt.generate_square_subsequent_mask(size),
                                      torch.nn.Transformer.generate_square_subsequent_mask(size).numpy())
    assert mt.generate_square_subsequent_mask(3).dtype == np.float32
    assert mt.generate_square_subsequent_mask(3, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="size"):
        mt.generate_square_subsequent_mask(0)


def test_init_is_torchs_scheme():
    mt.manual_seed(0)
    m = mt.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))
    assert np.abs(m.in_proj_weight.data).max() <= bound
    assert np.abs(m.in_proj_weight.data).max() > 0.95 * bound
    assert np.all(m.in_proj_bias.data == 0) and np.all(m.out_proj.bias.data == 0)
    assert m.out_proj.weight.shape == (64, 64) and m.in_proj_weight.shape == (192, 64)
    separate = mt.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert separate.in_proj_weight is None and separate.in_proj_bias is None
    assert [n for n, _ in separate.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]
    assert separate.k_proj_weight.shape == (8, 3) and separate.v_proj_weight.shape == (8, 5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_core_backward_is_its_formula_bit_for_bit(seed, dtype):
    """The plain core's backward (its softmax Jacobian from ``functional.softmax_backward``, shared with
    Softmax) gives the bytes of the formulas written out, a fully masked row and dropout included."""
    rng = np.random.default_rng(seed)
    N, H, L, S, D = 2, 2, 3, 4, 5
    qh, kh, vh = (rng.standard_normal(shape).astype(dtype) for shape in
                  [(N, H, L, D), (N, H, S, D), (N, H, S, D)])
    mask = np.where(rng.random((L, S)) < 0.3, -np.inf, 0.0).astype(dtype)
    mask[0] = -np.inf  # a row masked everywhere: p = 0 there
    drop = (rng.random((N, H, L, S)) < 0.8).astype(dtype) / dtype(0.8) if seed % 2 else None
    doh = rng.standard_normal((N, H, L, D)).astype(dtype)
    extra = rng.standard_normal((N, H, L, S)).astype(dtype)  # a gradient reaching pd directly
    _, p, pd = attention_core(qh, kh, vh, mask, drop)
    dqh, dkh, dvh = attention_core_backward(doh, extra, qh, kh, vh, p, drop, 0.5)
    dpd = doh @ vh.swapaxes(-1, -2) + extra
    dp = dpd if drop is None else dpd * drop
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    assert_bitwise(dqh, (ds @ kh) * 0.5, "dqh")
    assert_bitwise(dkh, ds.swapaxes(-1, -2) @ qh, "dkh")
    assert_bitwise(dvh, pd.swapaxes(-1, -2) @ doh, "dvh")
