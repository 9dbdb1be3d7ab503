"""Transformer (encoder-decoder): PyTorch oracle of output, dsrc, dtgt and every parameter gradient with
masks, a float64 gradcheck, Adam steps, _reset_parameters, model files, interop and its refusals."""

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


def _quiet(make, *args, **kwargs):
    """torch's module, built without its note that its encoder cannot use nested tensors here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make(*args, **kwargs)


def _torch_results(t, src, tgt, dy, kwargs):
    """The twin's output, dsrc, dtgt and parameter gradients (in its parameters' order)."""
    ts, tt = tensor(src, requires_grad=True), tensor(tgt, requires_grad=True)
    masks = {k: (tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    with warnings.catch_warnings():  # torch deprecates a bool padding mask beside a float mask
        warnings.simplefilter("ignore")
        ty = t(ts, tt, **masks)
    ty.backward(tensor(dy))
    return [ty.detach().numpy(), ts.grad.numpy(), tt.grad.numpy(),
            *(p.grad.numpy() for p in t.parameters())]


def compare(m, src, tgt, rtol, atol, seed=0, **kwargs):
    """Output, dsrc, dtgt and every parameter gradient against the torch twin, given the same masks."""
    t = torch_twin(m)
    assert type(t) is torch.nn.Transformer
    t.train(m.training)
    dtype = tgt.dtype
    m.zero_grad()
    y = m(src, tgt, **kwargs)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    dsrc, dtgt = m.backward(dy)
    assert dsrc.shape == src.shape and dtgt.shape == tgt.shape
    theirs = _torch_results(t, src, tgt, dy, kwargs)
    ours = [y, dsrc, dtgt, *(p.grad for _, p in m.named_parameters())]
    pairs = list(zip(m.named_parameters(), t.named_parameters(), strict=True))
    names = ["output", "dsrc", "dtgt", *(f"{a} / {b}" for (a, _), (b, _) in pairs)]
    transpose = [False] * 3 + [name.endswith(".W") for name, _ in m.named_parameters()]
    assert len(ours) == len(theirs)
    for a, r, tr, name in zip(ours, theirs, transpose, names, strict=True):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, r.T if tr else r, rtol=rtol, atol=atol, err_msg=name)


MASKS = ["none", "bool-2d", "float-2d", "bool-3d", "float-3d", "causal"]
options = st.fixed_dictionaries({
    "nhead": st.sampled_from([1, 2]),
    "head_dim": st.integers(1, 2),
    "ff": st.integers(1, 5),
    "activation": st.sampled_from(["relu", "gelu", "gelu-tanh"]),
    "batch_first": st.booleans(),
    "norm_first": st.booleans(),
    "src_mask": st.sampled_from(MASKS),
    "tgt_mask": st.sampled_from(MASKS),
    "memory_mask": st.sampled_from(["none", "bool-2d", "float-2d", "bool-3d", "float-3d"]),
    "src_pad": st.sampled_from(["none", "bool", "float"]),
    "tgt_pad": st.sampled_from(["none", "bool", "float"]),
    "memory_pad": st.sampled_from(["none", "bool", "float"]),
    "hints": st.booleans(),  # the causal masks' is_causal=True hints (else None: torch's detection)
    "encoder_layers": st.integers(1, 2),
    "decoder_layers": st.integers(1, 2),
    "train": st.booleans(),  # dropout=0: training mode must equal torch's too
    "N": st.integers(1, 2),
    "S": st.integers(1, 3),
    "T": st.integers(1, 3),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


def model_case(o, dtype=np.float64):
    mt.set_default_dtype(dtype)
    mt.manual_seed(o["seed"])
    d, H, N, S, T = o["nhead"] * o["head_dim"], o["nhead"], o["N"], o["S"], o["T"]
    activation = mt.GELU(approximate="tanh") if o["activation"] == "gelu-tanh" else o["activation"]
    m = mt.Transformer(d, H, o["encoder_layers"], o["decoder_layers"], o["ff"], dropout=0.0,
                       activation=activation, batch_first=o["batch_first"], norm_first=o["norm_first"])
    randomized(m, o["seed"])
    m.train(o["train"])
    rng = np.random.default_rng(o["seed"])
    batched = o["batched"]
    src_mask, src_pad = make_masks(rng, o["src_mask"], o["src_pad"], N, H, S, S, batched, dtype)
    tgt_mask, tgt_pad = make_masks(rng, o["tgt_mask"], o["tgt_pad"], N, H, T, T, batched, dtype)
    memory_mask, memory_pad = make_masks(rng, o["memory_mask"], o["memory_pad"], N, H, T, S, batched, dtype)

    def shape(L):
        return ((N, L, d) if o["batch_first"] else (L, N, d)) if batched else (L, d)

    src, tgt = rng.standard_normal(shape(S)).astype(dtype), rng.standard_normal(shape(T)).astype(dtype)
    kwargs = {"src_mask": src_mask, "tgt_mask": tgt_mask, "memory_mask": memory_mask,
              "src_key_padding_mask": src_pad, "tgt_key_padding_mask": tgt_pad,
              "memory_key_padding_mask": memory_pad}
    if o["hints"]:
        kwargs["src_is_causal"] = o["src_mask"] == "causal" or None
        kwargs["tgt_is_causal"] = o["tgt_mask"] == "causal" or None
    return m, src, tgt, kwargs


@settings(max_examples=40, deadline=None)
@given(o=options)
def test_transformer_matches_torch_float64(o):
    m, src, tgt, kwargs = model_case(o)
    compare(m, src, tgt, rtol=1e-9, atol=1e-11, **kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch_kernels_on_and_off(float64, kernels, norm_first, batch_first):
    """Every mask kind at once, 2 + 2 layers, in training mode with dropout=0, and float32 in eval."""
    m = randomized(mt.Transformer(6, 3, 2, 2, 8, dropout=0.0, activation="gelu", norm_first=norm_first,
                                  batch_first=batch_first), seed=3)
    rng = np.random.default_rng(2)
    src_mask, src_pad = make_masks(rng, "float-3d", "bool", 2, 3, 4, 4)
    tgt_mask, tgt_pad = make_masks(rng, "causal", "float", 2, 3, 5, 5)
    memory_mask, memory_pad = make_masks(rng, "bool-2d", "bool", 2, 3, 5, 4)
    src = rng.standard_normal((2, 4, 6) if batch_first else (4, 2, 6))
    tgt = rng.standard_normal((2, 5, 6) if batch_first else (5, 2, 6))
    compare(m, src, tgt, 1e-9, 1e-11, src_mask=src_mask, tgt_mask=tgt_mask, memory_mask=memory_mask,
            src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=memory_pad)
    compare(m, src, tgt, 1e-9, 1e-11, tgt_mask=tgt_mask, tgt_is_causal=True)
    m32 = randomized(mt.Transformer(6, 3, 1, 1, 8, dropout=0.0, batch_first=batch_first,
                                    norm_first=norm_first, dtype=np.float32), seed=4).eval()
    compare(m32, src.astype(np.float32), tgt.astype(np.float32), 2e-3, 2e-4, tgt_mask=tgt_mask)


@KERNELS_THEN_PLAIN_SLOW
# norm_first=True with the slow tests: by default the post-norm model checks the stacks' composition (the
# memory's gradient back into the encoder), and the pre-norm layers and stacks have their own gradchecks
# with masks (test_transformer.py's encoder, test_transformer_decoder.py's stack-pre)
@pytest.mark.parametrize("norm_first", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_transformer_gradcheck_with_masks(float64, kernels, norm_first):
    m = randomized(mt.Transformer(4, 2, 1, 2, 5, dropout=0.0, norm_first=norm_first), seed=5)
    rng = np.random.default_rng(6)
    src_mask, src_pad = make_masks(rng, "float-2d", "float", 2, 2, 3, 3)
    tgt_mask, tgt_pad = make_masks(rng, "causal", "bool", 2, 2, 2, 2)
    memory_mask, memory_pad = make_masks(rng, "bool-3d", "float", 2, 2, 2, 3)
    src, tgt = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 2, 4))
    assert mt.gradcheck(m, src, tgt, src_mask=src_mask, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                        memory_key_padding_mask=memory_pad)


def test_transformer_adam_steps_equal_torch(float64, kernels):
    m = randomized(mt.Transformer(4, 2, 1, 2, 6, dropout=0.0, batch_first=True, norm_first=True), seed=7,
                   scale=0.3)
    t = torch_twin(m)
    ours, theirs = mt.Adam(m.parameters(), lr=0.01), torch.optim.Adam(t.parameters(), lr=0.01)
    rng = np.random.default_rng(8)
    src, tgt, target = (rng.standard_normal(s) for s in ((2, 5, 4), (2, 3, 4), (2, 3, 4)))
    mask = mt.Transformer.generate_square_subsequent_mask(3)
    for _ in range(4):
        ours.zero_grad()
        y = m(src, tgt, tgt_mask=mask)
        m.backward(2 * (y - target) / y.size)
        ours.step()
        theirs.zero_grad()
        ty = t(tensor(src), tensor(tgt), tgt_mask=tensor(mask))
        torch.nn.functional.mse_loss(ty, tensor(target)).backward()
        theirs.step()
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters(), strict=True):
        want = q.detach().numpy()
        np.testing.assert_allclose(p.data, want.T if name.endswith(".W") else want, rtol=1e-9, atol=1e-11,
                                   err_msg=name)


def test_transformer_is_torchs_structure_and_init():
    """torch's children, state_dict names (Linear's W is torch's weight), final norms and defaults;
    every >1-axis parameter is xavier_uniform_ (its bound), 1-axis ones keep their own init."""
    m = mt.Transformer(8, 2, 2, 1, 12)
    t = _quiet(torch.nn.Transformer, 8, 2, 2, 1, 12)
    rename = {".W": ".weight", ".b": ".bias"}
    ours = [next((k[: -len(a)] + b for a, b in rename.items() if k.endswith(a) and "linear" in k), k)
            for k in m.state_dict()]
    assert ours == list(t.state_dict())
    assert type(m.encoder) is mt.TransformerEncoder and type(m.decoder) is mt.TransformerDecoder
    assert type(m.encoder.norm) is mt.LayerNorm and type(m.decoder.norm) is mt.LayerNorm
    assert (m.d_model, m.nhead, m.batch_first) == (8, 2, False)
    w = m.decoder.layers[0].linear1.W.data  # (8, 12) stored: fans 8 + 12
    assert np.abs(w).max() <= np.sqrt(6 / 20) and np.abs(w).max() > 0.8 * np.sqrt(6 / 20)
    assert np.all(m.encoder.layers[0].self_attn.in_proj_bias.data == 0)
    assert np.all(m.encoder.norm.weight.data == 1)
    mt.manual_seed(3)
    a = mt.Transformer(4, 2, 1, 1, 6)
    mt.manual_seed(3)
    b = mt.Transformer(4, 2, 1, 1, 6)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)  # the library's RNG, seeded
    defaults = mt.Transformer()
    assert len(defaults.encoder.layers) == 6 and len(defaults.decoder.layers) == 6
    assert defaults.encoder.layers[0].linear1.W.shape in ((512, 2048), (2048, 512))
    causal = mt.Transformer.generate_square_subsequent_mask(4)  # a static method, as torch's
    assert causal.tolist() == torch.nn.Transformer.generate_square_subsequent_mask(4).tolist()


def test_transformer_reset_parameters_redraws_the_matrices_in_place():
    m = randomized(mt.Transformer(4, 2, 1, 1, 6), seed=1)
    before = {name: p.data.copy() for name, p in m.named_parameters()}
    arrays = {name: p.data for name, p in m.named_parameters()}
    assert m._reset_parameters() is None
    for name, p in m.named_parameters():
        assert p.data is arrays[name]
        changed = not np.array_equal(p.data, before[name])
        assert changed == (p.ndim > 1), name


def test_transformer_custom_encoder_and_decoder_are_used_and_redrawn(float64):
    """custom_encoder / custom_decoder are the children as given (torch redraws them too)."""
    enc = mt.TransformerEncoder(mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0), 1)
    dec = mt.TransformerDecoder(mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0), 2)
    w = enc.layers[0].linear1.W.data.copy()
    m = mt.Transformer(4, 2, custom_encoder=enc, custom_decoder=dec)
    assert m.encoder is enc and m.decoder is dec and enc.norm is None
    assert not np.array_equal(enc.layers[0].linear1.W.data, w)
    m = randomized(m, seed=2)
    rng = np.random.default_rng(3)
    compare(m, rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 2, 4)), 1e-9, 1e-11)


def test_transformer_model_file_and_interop_both_ways(float64, tmp_path):
    m = randomized(mt.Transformer(8, 2, 2, 1, 12, dropout=0.0, activation=mt.GELU(approximate="tanh"),
                                  batch_first=True, norm_first=True), seed=11).eval()
    m.decoder.layers[0].norm3.eps = 1e-3  # an edit after construction converts and saves too
    rng = np.random.default_rng(12)
    src, tgt = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 3, 8))
    mask = mt.generate_square_subsequent_mask(3)
    want = m(src, tgt, tgt_mask=mask)
    t = mt.interop.to_torch(m)
    assert type(t) is torch.nn.Transformer and t.batch_first and t.decoder.layers[0].norm3.eps == 1e-3
    got = t(tensor(src), tensor(tgt), tgt_mask=tensor(mask)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    back = mt.interop.from_torch(t)
    assert type(back) is mt.Transformer and back.batch_first and back.decoder.layers[0].norm3.eps == 1e-3
    np.testing.assert_allclose(back(src, tgt, tgt_mask=mask), want, rtol=1e-12, atol=1e-12)
    mt.save_model(m, tmp_path / "model.mtm")
    loaded = mt.load_model(tmp_path / "model.mtm")
    assert type(loaded) is mt.Transformer
    np.testing.assert_allclose(loaded(src, tgt, tgt_mask=mask), want, rtol=1e-12, atol=1e-12)
    theirs = _quiet(torch.nn.Transformer, 4, 2, 1, 1, 6, dropout=0.0, dtype=torch.float64).eval()
    ours = mt.interop.from_torch(theirs)
    s, g = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 2, 4))
    np.testing.assert_allclose(ours(s, g), theirs(tensor(s), tensor(g)).detach().numpy(), rtol=1e-12,
                               atol=1e-12)


def test_transformer_errors_and_refusals_name_it():
    m = mt.Transformer(4, 2, 1, 1, 6, batch_first=True)
    with pytest.raises(ValueError, match=r"Transformer: the batch number of src and tgt must be equal"):
        m(np.zeros((2, 3, 4)), np.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match=r"Transformer: the feature number of src and tgt must be d_model=4"):
        m(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(TypeError, match=r"Transformer: custom_encoder must be a Module or None"):
        mt.Transformer(4, 2, custom_encoder="encoder")
    with pytest.raises(ValueError, match=r"Transformer.*num_decoder_layers"):
        mt.Transformer(4, 2, num_decoder_layers=0)
    with pytest.raises(ValueError, match=r"Transformer.*d_model"):
        mt.Transformer(0, 2)
    mixed = mt.Transformer(4, 2, 1, 1, 6)
    mixed.decoder.norm.to(np.float64)  # children of two dtypes: a TypeError, as torch raises
    with pytest.raises(TypeError, match=r"float64"):
        mixed(np.zeros((3, 2, 4)), np.zeros((2, 2, 4)))
    with pytest.raises(TypeError, match=r"onnx.export: no ONNX form for Transformer: two inputs"):
        mt.onnx.export(m, "unused.onnx", (3, 4))
    with pytest.raises(TypeError, match=r"summary: Transformer takes two inputs \(src, tgt\)"):
        mt.summary(m, (3, 4))
