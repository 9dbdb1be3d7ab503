"""TransformerDecoderLayer and TransformerDecoder: PyTorch oracle of output, dtgt, dmemory and every
parameter gradient with masks, gradchecks, optimizer steps, and their registries."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin
from suite_marks import KERNELS_THEN_PLAIN_SLOW
from test_attention import make_masks
from test_transformer import randomized

import minitorch as mt


def _torch_results(t, tgt, memory, dy, kwargs):
    """The twin's output, dtgt, dmemory and parameter gradients (in its parameters' order)."""
    tt, tm = tensor(tgt, requires_grad=True), tensor(memory, requires_grad=True)
    masks = {k: (tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    with warnings.catch_warnings():  # torch deprecates a bool padding mask beside a float mask
        warnings.simplefilter("ignore")
        ty = t(tt, tm, **masks)
    ty.backward(tensor(dy))
    return [ty.detach().numpy(), tt.grad.numpy(), tm.grad.numpy(),
            *(p.grad.numpy() for p in t.parameters())]


def compare(m, tgt, memory, rtol, atol, seed=0, **kwargs):
    """Output, dtgt, dmemory and every parameter gradient against the torch twin, given the same masks."""
    t = torch_twin(m)
    t.train(m.training)
    dtype = tgt.dtype
    m.zero_grad()
    y = m(tgt, memory, **kwargs)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    dtgt, dmemory = m.backward(dy)
    theirs = _torch_results(t, tgt, memory, dy, kwargs)
    ours = [y, dtgt, dmemory, *(p.grad for _, p in m.named_parameters())]
    pairs = list(zip(m.named_parameters(), t.named_parameters(), strict=True))
    names = ["output", "dtgt", "dmemory", *(f"{a} / {b}" for (a, _), (b, _) in pairs)]
    transpose = [False] * 3 + [name.endswith(".W") for name, _ in m.named_parameters()]
    assert len(ours) == len(theirs)
    for a, r, tr, name in zip(ours, theirs, transpose, names, strict=True):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, r.T if tr else r, rtol=rtol, atol=atol, err_msg=name)


options = st.fixed_dictionaries({
    "nhead": st.sampled_from([1, 2]),
    "head_dim": st.integers(1, 3),
    "ff": st.integers(1, 6),
    "activation": st.sampled_from(["relu", "gelu", "gelu-tanh"]),
    "batch_first": st.booleans(),
    "norm_first": st.booleans(),
    "bias": st.booleans(),
    "tgt_mask": st.sampled_from(["none", "bool-2d", "float-2d", "bool-3d", "float-3d", "causal"]),
    "tgt_is_causal": st.sampled_from([None, False, True]),  # True only with the causal mask
    "memory_mask": st.sampled_from(["none", "bool-2d", "float-2d", "bool-3d", "float-3d", "causal"]),
    "tgt_pad": st.sampled_from(["none", "bool", "float"]),
    "memory_pad": st.sampled_from(["none", "bool", "float"]),
    "num_layers": st.integers(0, 3),  # 0: the layer alone
    "final_norm": st.booleans(),
    "train": st.booleans(),  # dropout=0: training mode must equal torch's too
    "N": st.integers(1, 3),
    "T": st.integers(1, 4),
    "S": st.integers(1, 4),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


def decoder_case(o, dtype=np.float64):
    mt.set_default_dtype(dtype)
    mt.manual_seed(o["seed"])
    d, H, N, T = o["nhead"] * o["head_dim"], o["nhead"], o["N"], o["T"]
    S = T if o["memory_mask"] == "causal" else o["S"]  # a causal memory mask is square here
    activation = mt.GELU(approximate="tanh") if o["activation"] == "gelu-tanh" else o["activation"]
    m = mt.TransformerDecoderLayer(d, H, o["ff"], dropout=0.0, activation=activation,
                                   batch_first=o["batch_first"], norm_first=o["norm_first"], bias=o["bias"])
    if o["num_layers"]:
        m = mt.TransformerDecoder(m, o["num_layers"], norm=mt.LayerNorm(d) if o["final_norm"] else None)
    randomized(m, o["seed"])
    m.train(o["train"])
    rng = np.random.default_rng(o["seed"])
    tgt_mask, tgt_pad = make_masks(rng, o["tgt_mask"], o["tgt_pad"], N, H, T, T, o["batched"], dtype)
    memory_mask, memory_pad = make_masks(rng, o["memory_mask"], o["memory_pad"], N, H, T, S, o["batched"],
                                         dtype)

    def shape(L):
        return ((N, L, d) if o["batch_first"] else (L, N, d)) if o["batched"] else (L, d)

    tgt, memory = rng.standard_normal(shape(T)).astype(dtype), rng.standard_normal(shape(S)).astype(dtype)
    # None: the default (the layer's False; the decoder's None, torch's detection of a causal mask)
    hint = o["tgt_is_causal"] if o["tgt_mask"] == "causal" else None
    kwargs = {"tgt_mask": tgt_mask, "memory_mask": memory_mask, "tgt_key_padding_mask": tgt_pad,
              "memory_key_padding_mask": memory_pad, "memory_is_causal": o["memory_mask"] == "causal"}
    if hint is not None:
        kwargs["tgt_is_causal"] = hint
    return m, tgt, memory, kwargs


@settings(max_examples=60, deadline=None)
@given(o=options)
def test_decoder_matches_torch_float64(o):
    m, tgt, memory, kwargs = decoder_case(o)
    compare(m, tgt, memory, rtol=1e-9, atol=1e-11, **kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_matches_torch_kernels_on_and_off(float64, kernels, norm_first, batch_first):
    """Every mask kind at once, a 3-layer stack with a final norm, in training mode with dropout=0."""
    layer = mt.TransformerDecoderLayer(6, 3, 8, dropout=0.0, activation="gelu", norm_first=norm_first,
                                       batch_first=batch_first)
    m = randomized(mt.TransformerDecoder(layer, 3, norm=mt.LayerNorm(6)), seed=3)
    rng = np.random.default_rng(2)
    tgt_mask, tgt_pad = make_masks(rng, "causal", "bool", 2, 3, 5, 5)
    memory_mask, memory_pad = make_masks(rng, "float-3d", "float", 2, 3, 5, 4)
    tgt = rng.standard_normal((2, 5, 6) if batch_first else (5, 2, 6))
    memory = rng.standard_normal((2, 4, 6) if batch_first else (4, 2, 6))
    compare(m, tgt, memory, 1e-9, 1e-11, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=memory_pad)
    compare(m, tgt, memory, 1e-9, 1e-11, tgt_mask=tgt_mask, tgt_is_causal=True)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_float32_stays_float32(kernels, norm_first):
    m = randomized(mt.TransformerDecoderLayer(8, 2, 12, dropout=0.0, batch_first=True, norm_first=norm_first))
    rng = np.random.default_rng(4)
    tgt, memory = (rng.standard_normal(s).astype(np.float32) for s in ((2, 5, 8), (2, 3, 8)))
    compare(m, tgt, memory, rtol=2e-3, atol=2e-4, tgt_mask=mt.generate_square_subsequent_mask(5))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_with_dropout_1_matches_torch_in_training(float64, kernels, norm_first):
    """dropout=1: every dropout and the attention weights give zeros, so training mode is deterministic."""
    m = randomized(mt.TransformerDecoderLayer(4, 2, 6, dropout=1.0, batch_first=True, norm_first=norm_first))
    rng = np.random.default_rng(3)
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    compare(m, tgt, memory, 1e-10, 1e-12, tgt_mask=mt.generate_square_subsequent_mask(3))
    assert mt.gradcheck(m, tgt, memory)


@KERNELS_THEN_PLAIN_SLOW
@pytest.mark.parametrize("config", [
    dict(norm_first=False, batch_first=False, activation="relu", layers=0),
    dict(norm_first=True, batch_first=True, activation="gelu", layers=0),
    dict(norm_first=False, batch_first=True, activation="gelu", layers=2),
    dict(norm_first=True, batch_first=False, activation="relu", layers=2),
], ids=["post-relu", "pre-gelu-bf", "stack-post", "stack-pre"])
def test_decoder_gradcheck_every_element_with_masks(float64, kernels, config):
    m = mt.TransformerDecoderLayer(4, 2, 5, dropout=0.0, activation=config["activation"],
                                   norm_first=config["norm_first"], batch_first=config["batch_first"])
    if config["layers"]:
        m = mt.TransformerDecoder(m, config["layers"], norm=mt.LayerNorm(4))
    m = randomized(m, seed=5)
    rng = np.random.default_rng(6)
    tgt_mask, tgt_pad = make_masks(rng, "float-2d", "bool", 2, 2, 3, 3)
    memory_mask, memory_pad = make_masks(rng, "bool-3d", "float", 2, 2, 3, 4)
    bf = config["batch_first"]
    tgt = rng.standard_normal((2, 3, 4) if bf else (3, 2, 4))
    memory = rng.standard_normal((2, 4, 4) if bf else (4, 2, 4))
    assert mt.gradcheck(m, tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=memory_pad)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_decoder_optimizer_steps_equal_torch(float64, kernels, optimizer):
    layer = mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=True)
    m = randomized(mt.TransformerDecoder(layer, 2, norm=mt.LayerNorm(4)), seed=7, scale=0.3)
    t = torch_twin(m)
    kw = {"lr": 0.05, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.01}
    ours = getattr(mt, optimizer)(m.parameters(), **kw)
    theirs = getattr(torch.optim, optimizer)(t.parameters(), **kw)
    rng = np.random.default_rng(8)
    tgt, memory, target = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 3, 4)))
    mask = mt.generate_square_subsequent_mask(3)
    for _ in range(5):
        ours.zero_grad()
        y = m(tgt, memory, tgt_mask=mask)
        m.backward(2 * (y - target) / y.size)
        ours.step()
        theirs.zero_grad()
        ty = t(tensor(tgt), tensor(memory), tgt_mask=tensor(mask))
        torch.nn.functional.mse_loss(ty, tensor(target)).backward()
        theirs.step()
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters(), strict=True):
        want = q.detach().numpy()
        np.testing.assert_allclose(p.data, want.T if name.endswith(".W") else want, rtol=1e-9, atol=1e-11,
                                   err_msg=name)


def _layer() -> mt.TransformerDecoderLayer:
    return mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=True)


def test_decoder_memory_gradient_is_the_sum_over_layers(float64):
    """dmemory of a 2-layer stack is each layer's dmemory summed (memory feeds every cross-attention)."""
    m = randomized(mt.TransformerDecoder(mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0), 2), seed=9)
    rng = np.random.default_rng(9)
    tgt, memory = rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 2, 4))
    y = m(tgt, memory)
    dy = rng.standard_normal(y.shape)
    _, dmemory = m.backward(dy)
    h = m.layers[0](tgt, memory)
    m.layers[1](h, memory)
    dh, dm1 = m.layers[1].backward(dy)
    _, dm0 = m.layers[0].backward(dh)
    np.testing.assert_allclose(dmemory, dm0 + dm1, rtol=1e-12, atol=1e-14)
    assert not np.allclose(dm0, 0) and not np.allclose(dm1, 0)


@pytest.mark.parametrize("kind", ["float", "bool"])
def test_decoder_detects_a_causal_tgt_mask_as_torch(float64, kind):
    """tgt_is_causal=None (the default): a mask equal to the causal one is the hint, as torch's
    _detect_is_causal_mask; with a padding mask the mask itself is applied, and both equal torch."""
    from minitorch.layers.attention_masks import detect_is_causal_mask as _detect_causal

    mask = mt.generate_square_subsequent_mask(4)
    mask = np.isinf(mask) if kind == "bool" else mask
    assert _detect_causal(mask) is True
    for other in (mask[:3, :3][None], np.where(np.isinf(mask), -1e9, 0.0) if kind == "float" else ~mask):
        assert _detect_causal(other) is False
    assert _detect_causal(None) is False
    m = randomized(mt.TransformerDecoder(_layer(), 2))
    rng = np.random.default_rng(1)
    tgt, memory = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 3, 4))
    compare(m, tgt, memory, 1e-9, 1e-11, tgt_mask=mask)
    pad = np.array([[0, 0, 0, 1], [0, 1, 0, 0]], bool)
    compare(m, tgt, memory, 1e-9, 1e-11, tgt_mask=mask, tgt_key_padding_mask=pad)


def test_decoder_is_causal_hint_needs_its_mask():
    m = mt.TransformerDecoderLayer(4, 2, 6)
    tgt, memory = np.zeros((3, 2, 4)), np.zeros((5, 2, 4))
    with pytest.raises(ValueError, match=r"is_causal=True .*attn_mask"):
        m(tgt, memory, tgt_is_causal=True)
    with pytest.raises(ValueError, match=r"is_causal=True .*attn_mask"):
        m(tgt, memory, memory_is_causal=True)


def test_decoder_parameter_memory_is_a_leaf(float64):
    """A memory that is a Parameter requiring grad gets dmemory in its grad; its slot is None."""
    m = randomized(mt.TransformerDecoder(_layer(), 2))
    rng = np.random.default_rng(2)
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    y = m(tgt, memory)
    dy = rng.standard_normal(y.shape)
    want_dtgt, want_dmemory = m.backward(dy)
    p = mt.Parameter(memory.copy())
    m(tgt, p)
    dtgt, none = m.backward(dy)
    assert none is None
    np.testing.assert_allclose(p.grad, want_dmemory, rtol=1e-12)
    np.testing.assert_allclose(dtgt, want_dtgt, rtol=1e-12)


def test_decoder_errors_name_the_module():
    layer = mt.TransformerDecoderLayer(4, 2, 6, batch_first=True)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer: activation .*'relu', 'gelu'"):
        mt.TransformerDecoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer: activation .*mt\.GELU\(\)"):
        mt.TransformerDecoderLayer(4, 2, activation=torch.nn.functional.gelu)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*key"):
        layer(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))  # memory with 5 features, not d_model=4
    with pytest.raises(ValueError, match=r"MultiheadAttention.*batch size"):
        layer(np.zeros((2, 3, 4)), np.zeros((3, 3, 4)))
    layer(np.zeros((2, 3, 4)), np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer.backward: expected dy"):
        layer.backward(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match=r"TransformerDecoder: decoder_layer must be a Module"):
        mt.TransformerDecoder("layer", 2)
    with pytest.raises(ValueError, match=r"TransformerDecoder.*num_layers"):
        mt.TransformerDecoder(layer, 0)


def test_decoder_clones_its_layer_and_lists_torch_names():
    layer = mt.TransformerDecoderLayer(4, 2, 6)
    dec = mt.TransformerDecoder(layer, 2, norm=mt.LayerNorm(4))
    assert dec.layers[0] is not layer and dec.layers[0] is not dec.layers[1]
    np.testing.assert_array_equal(dec.layers[1].linear1.W.data, layer.linear1.W.data)
    t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(4, 2, 6), 2, norm=torch.nn.LayerNorm(4))
    ours = [k for k in dec.state_dict()]
    assert len(ours) == len(t.state_dict())
    assert [k.replace(".W", ".weight").replace(".b", ".bias") if ("linear" in k) else k for k in ours] == \
        list(t.state_dict())


def _edited_decoder() -> mt.TransformerDecoder:
    layer = mt.TransformerDecoderLayer(8, 2, 12, dropout=0.0, activation=mt.GELU(approximate="tanh"),
                                       batch_first=True, norm_first=True)
    dec = randomized(mt.TransformerDecoder(layer, 2, norm=mt.LayerNorm(8)), seed=11)
    dec.layers[1].norm_first = False  # an edit after construction: each layer converts on its own
    dec.layers[1].norm3.eps = 1e-3
    return dec.eval()


def test_decoder_interop_both_ways_and_model_files(float64, tmp_path):
    dec = _edited_decoder()
    rng = np.random.default_rng(12)
    tgt, memory = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 4, 8))
    mask = mt.generate_square_subsequent_mask(3)
    want = dec(tgt, memory, tgt_mask=mask)
    t = mt.interop.to_torch(dec)
    assert type(t) is torch.nn.TransformerDecoder and t.layers[1].norm3.eps == 1e-3
    got = t(tensor(tgt), tensor(memory), tgt_mask=tensor(mask)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    back = mt.interop.from_torch(t)
    assert type(back) is mt.TransformerDecoder and not back.layers[1].norm_first
    np.testing.assert_allclose(back(tgt, memory, tgt_mask=mask), want, rtol=1e-12, atol=1e-12)
    mt.save_model(dec, tmp_path / "dec.mtm")
    loaded = mt.load_model(tmp_path / "dec.mtm")
    assert type(loaded) is mt.TransformerDecoder
    np.testing.assert_allclose(loaded(tgt, memory, tgt_mask=mask), want, rtol=1e-12, atol=1e-12)
    layer = mt.interop.from_torch(torch.nn.TransformerDecoderLayer(8, 2, 12, activation="gelu"))
    assert type(layer) is mt.TransformerDecoderLayer and layer.activation_name == "gelu"


def test_decoder_refusals_by_name():
    dec = mt.TransformerDecoder(mt.TransformerDecoderLayer(4, 2, 6, batch_first=True), 2)
    with pytest.raises(TypeError, match=r"onnx.export: no ONNX form for TransformerDecoder: two inputs"):
        mt.onnx.export(dec, "unused.onnx", (3, 4))
    with pytest.raises(TypeError, match=r"summary: TransformerDecoderLayer takes two inputs"):
        mt.summary(dec.layers[0], (3, 4))
    t = torch.nn.TransformerDecoderLayer(4, 2, 6)
    t.dropout3 = torch.nn.Identity()
    with pytest.raises(ValueError, match=r"from_torch: .*dropout3 is a Identity, not the Dropout a "
                                         r"TransformerDecoderLayer has"):
        mt.interop.from_torch(t)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer\) has activation"):
        mt.interop.from_torch(torch.nn.TransformerDecoderLayer(4, 2, 6, activation=torch.tanh))

