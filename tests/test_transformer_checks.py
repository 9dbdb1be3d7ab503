"""The transformer family's shared parts against PyTorch: the constructor settings checked once for
TransformerEncoderLayer, TransformerDecoderLayer and Transformer (layers/transformer_settings.py), and
the stacks' causal-mask detection (layers/attention_masks.py ``detect_is_causal_mask``, torch's
``_detect_is_causal_mask``) for every hint, mask kind and learned mask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from oracle import compare_inputs, tensor, torch_twin
from test_transformer import compare as compare_encoder
from test_transformer import randomized
from test_transformer_decoder import compare as compare_decoder
from torch.nn.modules.transformer import _detect_is_causal_mask

import minitorch as mt
import minitorch.layers.transformer as encoder_file
import minitorch.layers.transformer_decoder as decoder_file
from minitorch.layers.attention_masks import detect_is_causal_mask

T = 3
_CAUSAL = mt.generate_square_subsequent_mask(T, np.float64)
MASKS = {  # name -> (mask (T, T) or other), as a NumPy array
    "none": None,
    "float-causal": _CAUSAL,
    "float32-causal": _CAUSAL.astype(np.float32),
    "float16-causal": _CAUSAL.astype(np.float16),
    "bool-causal": np.isinf(_CAUSAL),
    "negative-zero-causal": np.where(np.isinf(_CAUSAL), -np.inf, -0.0),
    "finite-causal": np.where(np.isinf(_CAUSAL), -1e9, 0.0),  # masks as causal, is not torch's mask
    "float-zeros": np.zeros((T, T)),
    "bool-lower": np.tril(np.ones((T, T), bool), k=-1),
    "float-causal-3d": np.broadcast_to(_CAUSAL, (4, T, T)).copy(),  # (N*nhead, T, T) with N=2, nhead=2
    "float-causal-1-3d": _CAUSAL[None],
    "float-causal-T+1": mt.generate_square_subsequent_mask(T + 1, np.float64),
    "float-causal-rectangle": _CAUSAL[:, :2],
}


# ------------------------------------------------------------------------------------ the detection
@pytest.mark.parametrize("hint", [None, True, False])
@pytest.mark.parametrize("size", [None, T, T + 1])
@pytest.mark.parametrize("name", MASKS)
def test_detection_is_torchs(name, size, hint):
    mask = MASKS[name]
    want = _detect_is_causal_mask(None if mask is None else torch.from_numpy(mask), hint, size)
    assert detect_is_causal_mask(mask, hint, size) is want
    if mask is not None and mask.dtype.kind == "f":  # a Parameter (floating only) is read by its values
        assert detect_is_causal_mask(mt.Parameter(mask.copy()), hint, size) is want


# ------------------------------------------------------------ what each stack passes to its layers
def _encoder(batch_first: bool) -> mt.Module:
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=batch_first)
    return randomized(mt.TransformerEncoder(layer, 2), seed=1)


def _decoder(batch_first: bool) -> mt.Module:
    layer = mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=batch_first)
    return randomized(mt.TransformerDecoder(layer, 2), seed=2)


def _sequences(batch_first: bool, *lengths: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.standard_normal((2, L, 4) if batch_first else (L, 2, 4)) for L in lengths]


def _spy_torch(monkeypatch, layer_cls: type, keyword: str) -> list:
    """The hint each torch layer of ``layer_cls`` receives (as ``keyword``), in call order."""
    seen, forward = [], layer_cls.forward

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get(keyword))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(layer_cls, "forward", spy)
    return seen


def _spy_ours(monkeypatch, file) -> list:
    """The hint a MiniTorch stack gives its layers (what its ``stack_causal_hint`` returned)."""
    seen, hint = [], file.stack_causal_hint

    def spy(*args, **kwargs):
        seen.append(hint(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(file, "stack_causal_hint", spy)
    return seen


def _torch_refuses(run) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run()
    except (RuntimeError, AssertionError, IndexError):
        return True
    return False


_LAYOUT_HINTS = [(False, None), (True, None), (False, True), (True, False)]  # the size read both ways
_WRONG_HINT = r"is_causal=True is PyTorch's hint .*is_causal=False|expected attn_mask of shape"
_CAUSAL_MASKS = {"float-causal", "float32-causal", "bool-causal", "negative-zero-causal", "float-causal-3d"}
_STACK_MASKS = ["none", "float-causal", "float32-causal", "bool-causal", "negative-zero-causal",
                "float-zeros", "bool-lower", "float-causal-3d", "float-causal-T+1"]


@pytest.mark.parametrize("batch_first, hint", _LAYOUT_HINTS)
@pytest.mark.parametrize("name", _STACK_MASKS)
def test_encoder_gives_its_layers_torchs_hint(float64, monkeypatch, batch_first, name, hint):
    """TransformerEncoder(is_causal=None) detects a causal mask as torch's does (the size read from src
    with the layers' batch_first) and passes the same hint to every layer; output and every gradient
    equal torch's, or both refuse (torch: a RuntimeError, here a ValueError naming the hint or the shape)."""
    m = _encoder(batch_first)
    (src,) = _sequences(batch_first, T)
    kwargs = {"mask": MASKS[name], "is_causal": hint}
    theirs = _spy_torch(monkeypatch, torch.nn.TransformerEncoderLayer, "is_causal")
    ours = _spy_ours(monkeypatch, encoder_file)
    t = torch_twin(m)
    masks = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if _torch_refuses(lambda: t(tensor(src), **masks)):
        with pytest.raises(ValueError, match=r"is_causal=True|attn_mask of shape"):
            m(src, **kwargs)
        return
    if hint is True and name not in _CAUSAL_MASKS:
        # torch's result for a wrong hint depends on its code path (it drops a mask of any shape
        # there): refused here, naming the fix (or the shape expected)
        with pytest.raises(ValueError, match=_WRONG_HINT):
            m(src, **kwargs)
        return
    theirs.clear()
    compare_encoder(m, src, 1e-9, 1e-11, **kwargs)
    assert ours == [theirs[0]] and theirs == [theirs[0]] * 2


@pytest.mark.parametrize("batch_first, hint", _LAYOUT_HINTS)
@pytest.mark.parametrize("name", _STACK_MASKS)
def test_decoder_gives_its_layers_torchs_hint(float64, monkeypatch, batch_first, name, hint):
    """TransformerDecoder(tgt_is_causal=None): as the encoder's test, with the size read from tgt."""
    m = _decoder(batch_first)
    tgt, memory = _sequences(batch_first, T, T + 2)
    kwargs = {"tgt_mask": MASKS[name], "tgt_is_causal": hint}
    theirs = _spy_torch(monkeypatch, torch.nn.TransformerDecoderLayer, "tgt_is_causal")
    ours = _spy_ours(monkeypatch, decoder_file)
    t = torch_twin(m)
    masks = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if _torch_refuses(lambda: t(tensor(tgt), tensor(memory), **masks)):
        with pytest.raises(ValueError, match=r"is_causal=True|attn_mask of shape"):
            m(tgt, memory, **kwargs)
        return
    if hint is True and name not in _CAUSAL_MASKS:
        with pytest.raises(ValueError, match=_WRONG_HINT):
            m(tgt, memory, **kwargs)
        return
    theirs.clear()
    compare_decoder(m, tgt, memory, 1e-9, 1e-11, **kwargs)
    assert ours == [theirs[0]] and theirs == [theirs[0]] * 2


@pytest.mark.parametrize("hint", [None, True, False])
def test_transformer_passes_its_hints_on_as_torch(float64, monkeypatch, hint):
    """Transformer's src_is_causal / tgt_is_causal reach the encoder's and the decoder's detection."""
    m = randomized(mt.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True), seed=3)
    src, tgt = _sequences(True, T, T)
    enc = _spy_torch(monkeypatch, torch.nn.TransformerEncoderLayer, "is_causal")
    dec = _spy_torch(monkeypatch, torch.nn.TransformerDecoderLayer, "tgt_is_causal")
    ours_enc, ours_dec = _spy_ours(monkeypatch, encoder_file), _spy_ours(monkeypatch, decoder_file)
    causal = mt.generate_square_subsequent_mask(T, np.float64)
    y = m(src, tgt, src_mask=causal, tgt_mask=np.isinf(causal), src_is_causal=hint, tgt_is_causal=hint)
    t = torch_twin(m)
    y_t = t(tensor(src), tensor(tgt), src_mask=tensor(causal), tgt_mask=tensor(np.isinf(causal)),
            src_is_causal=hint, tgt_is_causal=hint)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert ours_enc == enc == [hint is not False] and ours_dec == dec == [hint is not False]


@pytest.mark.parametrize("hint", ["yes", 1, np.float64(1.0)])
def test_a_hint_that_is_not_a_bool_is_refused(hint):
    """torch reads a hint that is not True itself (``is True``) as False; here it is a TypeError."""
    causal = mt.generate_square_subsequent_mask(T)
    enc, dec = _encoder(False), _decoder(False)
    src, memory = _sequences(False, T, T)
    with pytest.raises(TypeError, match=r"TransformerEncoder: is_causal must be None .*True or False, got"):
        enc(src.astype(np.float32), mask=causal, is_causal=hint)
    with pytest.raises(TypeError, match=r"TransformerDecoder: tgt_is_causal must be None .*got"):
        dec(src.astype(np.float32), memory.astype(np.float32), tgt_mask=causal, tgt_is_causal=hint)


# ------------------------------------------------------------- a learned mask equal to the causal one
def _torch_mask_grad(run) -> np.ndarray | None:
    """torch's gradient of a learned mask (a Parameter) after ``run(mask)`` and a backward; None: none."""
    mask = torch.nn.Parameter(torch.from_numpy(_CAUSAL.copy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run(mask)
    out.backward(torch.from_numpy(np.random.default_rng(0).standard_normal(tuple(out.shape))))
    return None if mask.grad is None else mask.grad.numpy()


def _stack_runs(kind: str):
    """(our module, torch twin, run(module, mask, pad, hint, wrap) -> output, names) for one stack kind."""
    pad = np.array([[False, False, True], [False, True, False]])
    if kind == "encoder":
        m = _encoder(True)
        (src,) = _sequences(True, T)

        def run(mod, mask, padding, hint, wrap):
            padding = wrap(pad) if padding else None
            return mod(wrap(src), mask=mask, src_key_padding_mask=padding, is_causal=hint)

        return m, run, pad, ("TransformerEncoder", "mask", "is_causal")
    if kind == "decoder":
        m = _decoder(True)
        tgt, memory = _sequences(True, T, T + 1)

        def run(mod, mask, padding, hint, wrap):
            padding = wrap(pad) if padding else None
            return mod(wrap(tgt), wrap(memory), tgt_mask=mask, tgt_key_padding_mask=padding,
                       tgt_is_causal=hint)

        return m, run, pad, ("TransformerDecoder", "tgt_mask", "tgt_is_causal")
    m = randomized(mt.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True), seed=4)
    src, tgt = _sequences(True, T, T)

    def run(mod, mask, padding, hint, wrap):  # the learned mask as tgt_mask
        return mod(wrap(src), wrap(tgt), tgt_mask=mask, tgt_key_padding_mask=wrap(pad) if padding else None,
                   tgt_is_causal=hint)

    return m, run, pad, ("TransformerDecoder", "tgt_mask", "tgt_is_causal")


def _ours(m, run, padding, hint, mask) -> tuple[np.ndarray, np.ndarray | None]:
    m.zero_grad()
    y = run(m, mask, padding, hint, lambda a: a)
    m.backward(np.random.default_rng(0).standard_normal(y.shape))
    return y, mask.grad


@pytest.mark.parametrize("kind", ["encoder", "decoder", "transformer"])
def test_a_learned_causal_mask_with_a_padding_mask_trains_as_in_torch(float64, kind):
    """hint None, a key padding mask: torch applies the learned mask (the hint is dropped inside its
    attention) and trains it, exactly as with the hint False: output and the mask's gradient equal."""
    m, run, _, _ = _stack_runs(kind)
    t = torch_twin(m)
    for hint in (None, False):
        mask = mt.Parameter(_CAUSAL.copy())
        y, grad = _ours(m, run, True, hint, mask)
        out: dict = {}
        want = _torch_mask_grad(lambda p, h=hint, out=out: out.setdefault("y", run(t, p, True, h, tensor)))
        assert grad is not None and want is not None and np.abs(want).sum() > 0
        np.testing.assert_allclose(y, out["y"].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["encoder", "decoder", "transformer"])
def test_a_learned_causal_mask_torch_would_drop_is_refused_by_name(float64, kind):
    """hint None, no padding mask: torch applies its own causal mask and drops the learned one (its
    gradient stays None: it never trains). Refused, naming the stack and both fixes; each fix then
    gives torch's result (False: trained; frozen: causal attention)."""
    m, run, _, (who, mask_name, hint_name) = _stack_runs(kind)
    t = torch_twin(m)
    assert _torch_mask_grad(lambda p: run(t, p, False, None, tensor)) is None  # torch's: never trained
    refusal = (rf"{who}: {mask_name} is a Parameter that requires grad .*{hint_name}=None .*"
               rf"Pass {hint_name}=False .*requires_grad_\(False\)")
    with pytest.raises(TypeError, match=refusal):
        run(m, mt.Parameter(_CAUSAL.copy()), False, None, lambda a: a)
    y, grad = _ours(m, run, False, False, mt.Parameter(_CAUSAL.copy()))  # the first fix: trained
    out = {}
    want = _torch_mask_grad(lambda p: out.setdefault("y", run(t, p, False, False, tensor)))
    np.testing.assert_allclose(y, out["y"].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-11)
    frozen = mt.Parameter(_CAUSAL.copy()).requires_grad_(False)  # the second fix: causal attention
    y, grad = _ours(m, run, False, None, frozen)
    want = run(t, tensor(_CAUSAL), False, None, tensor).detach().numpy()
    assert grad is None
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------- the settings, checked once
def _custom_stacks() -> dict:
    return {"custom_encoder": mt.TransformerEncoder(mt.TransformerEncoderLayer(4, 2, 6), 1),
            "custom_decoder": mt.TransformerDecoder(mt.TransformerDecoderLayer(4, 2, 6), 1)}


BAD_SETTINGS = [
    ({"d_model": 0}, ValueError, r"d_model must be a positive integer, got 0"),
    ({"d_model": 4.0}, TypeError, r"d_model must be a positive integer"),
    ({"nhead": -1}, ValueError, r"nhead must be a positive integer"),
    ({"d_model": 6, "nhead": 4}, ValueError, r"d_model must be divisible by nhead .*d_model=6, nhead=4"),
    ({"dim_feedforward": 0}, ValueError, r"dim_feedforward must be a positive integer"),
    ({"dropout": 1.5}, ValueError, r"dropout must be a number in \[0, 1\], got 1.5"),
    ({"dropout": "0.1"}, TypeError, r"dropout must be a number"),
    ({"activation": "tanh"}, ValueError, r"activation must be one of"),
    ({"activation": torch.nn.functional.gelu}, ValueError, r"activation .*'relu', 'gelu'.*mt\.GELU\(\)"),
    ({"activation": mt.GELU}, ValueError, r"activation .*got the class GELU: pass an instance"),
    ({"layer_norm_eps": -1e-5}, ValueError, r"layer_norm_eps must be a number in \[0, inf\)"),
    ({"batch_first": 1}, TypeError, r"batch_first must be True or False, got 1"),
    ({"norm_first": None}, TypeError, r"norm_first must be True or False"),
    ({"bias": "yes"}, TypeError, r"bias must be True or False"),
    ({"dtype": np.int64}, TypeError, r"expected a floating dtype .*got int64"),
    ({"device": "cuda"}, ValueError, r"MiniTorch runs on the CPU .*device .cuda. is not available"),
]


@pytest.mark.parametrize("cls", [mt.TransformerEncoderLayer, mt.TransformerDecoderLayer, mt.Transformer])
@pytest.mark.parametrize("bad, error, match", BAD_SETTINGS, ids=[str(b) for b, _, _ in BAD_SETTINGS])
def test_every_setting_is_checked_naming_the_class_built(cls, bad, error, match):
    """One checker (check_layer_settings) for the three classes: the same check, the class's name."""
    kwargs = {"d_model": 4, "nhead": 2, "dim_feedforward": 6, **bad}
    with pytest.raises(error, match=rf"^{cls.__name__}: {match}"):
        cls(**kwargs)


def test_the_three_classes_share_one_checker(monkeypatch):
    """A change to check_layer_settings reaches every class (the checker is not copied)."""
    import minitorch.layers.transformer_settings as settings_file

    calls = []
    check = settings_file.check_layer_settings

    def spy(module, *args):
        calls.append(type(module).__name__)
        return check(module, *args)

    for file in (encoder_file, decoder_file, mt.layers.transformer_model):
        monkeypatch.setattr(file, "check_layer_settings", spy)
    mt.Transformer(4, 2, 1, 1, 6)
    assert calls == ["Transformer", "TransformerEncoderLayer", "TransformerDecoderLayer"]


def test_transformer_with_both_custom_stacks_reads_no_layer_setting():
    """As torch's: the layer settings go unread when no layer is built (d_model, nhead, batch_first and
    the factory keywords still are: its forward reads them)."""
    torch.nn.Transformer(4, 2, dropout=5.0, dim_feedforward=-1, activation="tanh",
                         custom_encoder=torch.nn.Identity(), custom_decoder=torch.nn.Identity())
    mt.Transformer(4, 2, dropout=5.0, dim_feedforward=-1, activation="tanh", **_custom_stacks())
    with pytest.raises(ValueError, match=r"^Transformer: d_model must be a positive integer"):
        mt.Transformer(0, 2, **_custom_stacks())
    with pytest.raises(ValueError, match=r"^Transformer: dropout must be a number"):
        mt.Transformer(4, 2, dropout=5.0, custom_encoder=_custom_stacks()["custom_encoder"])


# ------------------------------------------------------------------------ the registry's torch oracle
def test_the_registry_oracle_catches_a_wrong_dmemory(float64, monkeypatch):
    """compare_inputs checks a two-input module's every input gradient: a dmemory off by 0.1% fails it."""
    m = randomized(mt.TransformerDecoder(mt.TransformerDecoderLayer(4, 2, 6, dropout=0.0), 2), seed=6)
    inputs = tuple(_sequences(False, T, T + 1))
    compare_inputs(m, inputs, rtol=1e-10, atol=1e-12)
    backward = mt.TransformerDecoderLayer._mha_block_backward

    def off(self, dy):
        dquery, dmemory = backward(self, dy)
        return dquery, dmemory * 1.001

    monkeypatch.setattr(mt.TransformerDecoderLayer, "_mha_block_backward", off)
    with pytest.raises(AssertionError, match="d input 1"):
        compare_inputs(m, inputs, rtol=1e-10, atol=1e-12)


def test_the_registry_oracle_catches_a_wrong_linear_gradient(float64, monkeypatch):
    """... and every parameter's gradient, a Linear's W paired with torch's weight transposed."""
    m = randomized(mt.Transformer(4, 2, 1, 1, 6, dropout=0.0), seed=7)
    inputs = tuple(_sequences(False, T, T))
    compare_inputs(m, inputs, rtol=1e-10, atol=1e-12)
    target, backward = m.encoder.layers[0].linear1.W, mt.Transformer.backward

    def skewed(self, dy):
        grads = backward(self, dy)
        target.grad *= 1.001
        return grads

    monkeypatch.setattr(mt.Transformer, "backward", skewed)
    with pytest.raises(AssertionError, match=r"encoder\.layers\.0\.linear1\.W"):
        compare_inputs(m, inputs, rtol=1e-10, atol=1e-12)
