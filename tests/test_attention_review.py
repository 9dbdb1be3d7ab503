"""Attention and the encoder against PyTorch 2.13 where a PyTorch habit could give another answer.

What tests/test_attention.py and tests/test_transformer.py leave out: the encoder stack over its own
options (layer_norm_eps, is_causal None / False / True, enable_nested_tensor, mask_check, the final
norm, several layers); attention with kdim = vdim = embed_dim given, and dropout > 0 in eval mode;
torch's state_dicts loaded as they come; conversions of modules edited after construction; the
options MiniTorch refuses; and, where torch's own code paths disagree, which one MiniTorch follows
(its autograd path) and what the others give, as docs/attention.md states.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import torch_state
from test_attention import PAD_KINDS, compare_mha, make_masks
from test_transformer import compare, randomized

import minitorch as mt


@contextlib.contextmanager
def torch_fast_path():
    """torch's MHA / encoder fast path on (tests/oracle.py turns it off for the whole run), quietly
    (torch warns that its nested tensors are a prototype)."""
    torch.backends.mha.set_fastpath_enabled(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(False)


def _quiet(call, *args, **kwargs):
    with warnings.catch_warnings():  # torch: nested tensors unused, mixed mask types deprecated
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


# --- the encoder stack over its options -------------------------------------------------------------
stack_options = st.fixed_dictionaries({
    "nhead": st.sampled_from([1, 2]),
    "head_dim": st.integers(1, 3),
    "ff": st.integers(1, 6),
    "eps": st.sampled_from([1e-5, 1e-2, 0.5]),
    "norm_first": st.booleans(),
    "batch_first": st.booleans(),
    "bias": st.booleans(),
    "activation": st.sampled_from(["relu", "gelu"]),
    "num_layers": st.integers(1, 3),
    "norm": st.sampled_from(["none", "affine", "no-bias"]),
    "mask": st.sampled_from(["none", "bool-2d", "float-3d", "causal"]),
    "pad": st.sampled_from(PAD_KINDS),
    "is_causal": st.sampled_from([None, False, True]),
    "nested": st.booleans(),
    "mask_check": st.booleans(),
    "N": st.integers(1, 3),
    "T": st.integers(1, 4),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=60, deadline=None)
@given(o=stack_options)
def test_encoder_stack_matches_torch_over_its_options(o):
    """Output, dsrc and every parameter gradient of TransformerEncoder against torch's (training
    mode, its autograd path); enable_nested_tensor and mask_check change nothing there."""
    mt.set_default_dtype(np.float64)  # (the autouse fixture puts float32 back)
    mt.manual_seed(o["seed"])
    d = o["nhead"] * o["head_dim"]
    layer = mt.TransformerEncoderLayer(d, o["nhead"], o["ff"], dropout=0.0, activation=o["activation"],
                                       layer_norm_eps=o["eps"], batch_first=o["batch_first"],
                                       norm_first=o["norm_first"], bias=o["bias"])
    norm = None if o["norm"] == "none" else mt.LayerNorm(d, eps=o["eps"], bias=o["norm"] == "affine")
    m = randomized(mt.TransformerEncoder(layer, o["num_layers"], norm=norm, enable_nested_tensor=o["nested"],
                                         mask_check=o["mask_check"]), o["seed"])
    rng = np.random.default_rng(o["seed"])
    N, T = o["N"], o["T"]
    attn, kpm = make_masks(rng, o["mask"], o["pad"], N, o["nhead"], T, T, o["batched"])
    is_causal = o["is_causal"] if o["mask"] == "causal" else (o["is_causal"] and None)  # True needs the mask
    shape = ((N, T, d) if o["batch_first"] else (T, N, d)) if o["batched"] else (T, d)
    x = rng.standard_normal(shape)
    compare(m, x, rtol=1e-9, atol=1e-11, mask=attn, src_key_padding_mask=kpm, is_causal=is_causal)


@pytest.mark.parametrize("kv", [{"kdim": 4, "vdim": 4}, {"kdim": 4}, {"vdim": 4}])
@pytest.mark.parametrize("need_weights", [True, False])
def test_kdim_and_vdim_given_equal_to_embed_dim_are_one_in_proj_weight(float64, kv, need_weights):
    """torch packs q, k, v into in_proj_weight whenever kdim == vdim == embed_dim, given or not."""
    mt.manual_seed(0)
    m = randomized(mt.MultiheadAttention(4, 2, batch_first=True, **kv))
    t = _quiet(torch.nn.MultiheadAttention, 4, 2, batch_first=True, dtype=torch.float64, **kv)
    assert sorted(m.state_dict()) == sorted(t.state_dict()) == sorted(
        ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
    q, k, v = np.random.default_rng(1).standard_normal((3, 2, 3, 4))
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12, need_weights=need_weights)


@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_attention_dropout_is_off_in_eval_with_every_mask(float64, average, batch_first):
    mt.manual_seed(0)
    m = randomized(mt.MultiheadAttention(6, 3, dropout=0.7, kdim=2, vdim=5, batch_first=batch_first)).eval()
    rng = np.random.default_rng(2)
    attn, kpm = make_masks(rng, "float-3d", "bool", 2, 3, 4, 5)
    shape = (lambda T, F: (2, T, F)) if batch_first else (lambda T, F: (T, 2, F))
    q, k, v = (rng.standard_normal(shape(T, F)) for T, F in ((4, 6), (5, 2), (5, 5)))
    compare_mha(m, q, k, v, rtol=1e-10, atol=1e-12, attn_mask=attn, key_padding_mask=kpm,
                average_attn_weights=average)


def test_encoder_layer_dropout_is_off_in_eval_with_masks(float64):
    layer = mt.TransformerEncoderLayer(6, 2, 5, dropout=0.9, layer_norm_eps=0.1, norm_first=True)
    m = randomized(mt.TransformerEncoder(layer, 2, norm=mt.LayerNorm(6)), seed=3).eval()
    rng = np.random.default_rng(3)
    attn, kpm = make_masks(rng, "causal", "float", 2, 2, 4, 4)
    compare(m, rng.standard_normal((4, 2, 6)), rtol=1e-9, atol=1e-11, mask=attn, src_key_padding_mask=kpm,
            is_causal=True)


# --- torch's state_dicts, loaded as they come ----------------------------------------------------------
def _torch_modules():
    mha = dict(batch_first=True, dtype=torch.float64)
    layer = dict(dropout=0.0, **mha)
    return {
        "mha": lambda: torch.nn.MultiheadAttention(4, 2, **mha),
        "mha-kdim-vdim": lambda: torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5, **mha),
        "mha-no-bias": lambda: torch.nn.MultiheadAttention(4, 2, bias=False, **mha),
        "layer": lambda: torch.nn.TransformerEncoderLayer(4, 2, 6, activation="gelu", **layer),
        "layer-square-ff": lambda: torch.nn.TransformerEncoderLayer(4, 2, 4, norm_first=True, **layer),
        "layer-no-bias": lambda: torch.nn.TransformerEncoderLayer(4, 2, 6, bias=False, **layer),
        "encoder": lambda: _quiet(torch.nn.TransformerEncoder, torch.nn.TransformerEncoderLayer(
            4, 2, 6, **layer), 2, norm=torch.nn.LayerNorm(4, dtype=torch.float64)),
    }


def _ours_for(name):
    layer = dict(dropout=0.0, batch_first=True)
    return {
        "mha": lambda: mt.MultiheadAttention(4, 2, batch_first=True),
        "mha-kdim-vdim": lambda: mt.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True),
        "mha-no-bias": lambda: mt.MultiheadAttention(4, 2, bias=False, batch_first=True),
        "layer": lambda: mt.TransformerEncoderLayer(4, 2, 6, activation="gelu", **layer),
        "layer-square-ff": lambda: mt.TransformerEncoderLayer(4, 2, 4, norm_first=True, **layer),
        "layer-no-bias": lambda: mt.TransformerEncoderLayer(4, 2, 6, bias=False, **layer),
        "encoder": lambda: mt.TransformerEncoder(mt.TransformerEncoderLayer(4, 2, 6, **layer), 2,
                                                 norm=mt.LayerNorm(4)),
    }[name]()


def _call(module, x):
    if isinstance(module, (mt.MultiheadAttention, torch.nn.MultiheadAttention)):
        E, kdim, vdim = module.embed_dim, module.kdim, module.vdim
        args = (x[..., :E], x[..., :kdim], x[..., :vdim])
        if isinstance(module, torch.nn.Module):
            args = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in args)
        return module(*args)[0]
    x = x[..., :4]
    return module(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(module, torch.nn.Module) else x)


@pytest.mark.parametrize("name", list(_torch_modules()))
def test_a_torch_state_dict_loads_as_it_comes(float64, name):
    """model.load_state_dict(torch_module.state_dict()), tensors and torch's names and layouts as they
    are: every value lands where torch has it (Linear's weight transposed into W) and the model then
    computes torch's function, forward and backward."""
    torch.manual_seed(0)
    t = _torch_modules()[name]()
    for p in t.parameters():
        p.data.normal_(0, 0.5)
    m = _ours_for(name)
    m.load_state_dict(t.state_dict())
    ours = torch_state(m)
    assert sorted(ours) == sorted(t.state_dict())
    for key, value in t.state_dict().items():
        np.testing.assert_array_equal(ours[key].numpy(), value.numpy(), err_msg=key)
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    np.testing.assert_allclose(_call(m, x), _call(t, x).detach().numpy(), rtol=1e-12, atol=1e-13)
    if not isinstance(m, mt.MultiheadAttention):
        compare(m, x[..., :4], rtol=1e-9, atol=1e-11)


def test_a_torch_state_dict_with_bias_kv_is_refused():
    t = torch.nn.MultiheadAttention(4, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match=r"load_state_dict.*unexpected \['bias_k', 'bias_v'\]"):
        mt.MultiheadAttention(4, 2).load_state_dict(t.state_dict())


# --- conversions of modules edited after construction ----------------------------------------------------
def _torch_layer(**kwargs):
    torch.manual_seed(0)
    t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=torch.float64,
                                         **kwargs)
    for p in t.parameters():
        p.data.normal_(0, 0.5)
    return t


def _edit(module, path, value):
    *parents, attr = path.split(".")
    for part in parents:
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    setattr(module, attr, value)


# (edit, value): a setting each child keeps on its own, which the layer's constructor set from one argument
LAYER_EDITS = [("norm2.eps", 0.5), ("norm1.eps", 0.5), ("dropout.p", 0.3), ("dropout1.p", 0.3),
               ("dropout2.p", 0.3), ("self_attn.dropout", 0.3)]
ENCODER_EDITS = [("layers.1.norm_first", True), ("layers.1.norm2.eps", 0.5), ("layers.0.dropout1.p", 0.3),
                 ("layers.1.activation", torch.nn.GELU(approximate="tanh"))]
EDITS = LAYER_EDITS + ENCODER_EDITS


SETTINGS = ["norm1.eps", "norm2.eps", "dropout.p", "dropout1.p", "dropout2.p", "self_attn.dropout",
            "self_attn.batch_first", "norm_first", "activation"]


def _settings(model):
    """Every encoder layer's settings, by path, in either library (an activation: its kind and form)."""
    found = {}
    for path, layer in model.named_modules():
        if type(layer).__name__ != "TransformerEncoderLayer":
            continue
        for setting in SETTINGS:
            value = layer
            for part in setting.split("."):
                value = getattr(value, part)
            if setting == "activation":
                kind = getattr(value, "__name__", type(value).__name__)  # torch's F.relu: a function
                value = (kind.lower(), getattr(value, "approximate", "none"))
            found[f"{path}.{setting}".lstrip(".")] = value
    return found


def _same_function(m, t, x):
    """Eval mode (the dropout probabilities are compared as settings: their draws differ)."""
    m.eval()
    t.eval()
    np.testing.assert_allclose(m(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("edit, value", EDITS, ids=[e for e, _ in EDITS])
def test_from_torch_keeps_each_childs_settings(float64, edit, value):
    """A torch layer edited after construction (layer.norm2.eps = 0.5, enc.layers[1].norm_first = True)
    converts to a model computing the same function, with the same dropout probabilities."""
    t = _torch_layer()
    if edit.startswith("layers."):
        t = _quiet(torch.nn.TransformerEncoder, t, 2, enable_nested_tensor=False)
    _edit(t, edit, value)
    m = mt.interop.from_torch(t)
    assert _settings(m) == _settings(t)
    _same_function(m, t, np.random.default_rng(0).standard_normal((2, 3, 8)))


@pytest.mark.parametrize("edit, value", EDITS, ids=[e for e, _ in EDITS])
def test_to_torch_keeps_each_childs_settings(float64, edit, value):
    mt.manual_seed(0)
    m = randomized(mt.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True))
    if edit.startswith("layers."):
        m = mt.TransformerEncoder(m, 2)
    if isinstance(value, torch.nn.GELU):
        value = mt.GELU(approximate=value.approximate)
    _edit(m, edit, value)
    t = mt.interop.to_torch(m)
    assert _settings(t) == _settings(m)
    _same_function(m, t, np.random.default_rng(0).standard_normal((2, 3, 8)))


def test_a_replaced_child_of_another_kind_is_refused():
    t = _torch_layer()
    t.dropout1 = torch.nn.Identity()
    with pytest.raises(ValueError, match=r"from_torch: module.dropout1 .*Identity.*Dropout"):
        mt.interop.from_torch(t)


def test_an_encoder_layer_of_another_kind_is_refused():
    t = _quiet(torch.nn.TransformerEncoder, _torch_layer(), 2, enable_nested_tensor=False)
    t.layers[1] = torch.nn.Identity()
    with pytest.raises(ValueError, match=r"from_torch: module.layers.1 is a Identity, not a Transformer"):
        mt.interop.from_torch(t)


def test_a_layer_held_twice_converts_to_one_module(float64):
    t = _quiet(torch.nn.TransformerEncoder, _torch_layer(), 2, enable_nested_tensor=False)
    t.layers[1] = t.layers[0]
    m = mt.interop.from_torch(t)
    assert m.layers[0] is m.layers[1]
    _same_function(m, t, np.random.default_rng(0).standard_normal((2, 3, 8)))
    back = mt.interop.to_torch(m)
    assert back.layers[0] is back.layers[1]


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_an_encoder_with_edited_layers_matches_torch(float64, kernels):
    """Forward, backward and every parameter gradient of an encoder whose layers were edited after
    construction (each a setting torch's layers keep on their own too), against torch's twin."""
    mt.kernels.use_kernels(kernels)  # (the autouse fixture puts the run's switch back)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)
    m = randomized(mt.TransformerEncoder(layer, 3, norm=mt.LayerNorm(4)), seed=2)
    m.layers[0].norm2.eps = 0.5
    m.layers[1].norm_first = True
    m.layers[1].norm1.eps = 0.2
    m.layers[2].activation = mt.GELU(approximate="tanh")
    rng = np.random.default_rng(2)
    attn, kpm = make_masks(rng, "bool-2d", "float", 2, 2, 3, 3)
    compare(m, rng.standard_normal((2, 3, 4)), rtol=1e-9, atol=1e-11, mask=attn, src_key_padding_mask=kpm)


def test_an_edited_activation_shows_in_the_repr_and_the_name():
    layer = mt.TransformerEncoderLayer(4, 2, 6)
    assert layer.activation_name == "relu" and "activation='relu'" in repr(layer)
    layer.activation = mt.GELU(approximate="tanh")
    assert layer.activation_name is None and "activation=GELU(approximate='tanh')" in repr(layer)
    layer.activation = mt.GELU()
    assert layer.activation_name == "gelu" and "activation='gelu'" in repr(layer)


def test_the_layer_repr_shows_the_settings_its_children_read(float64):
    """TransformerEncoderLayer's batch_first, nhead and d_model are the constructor's record (torch's
    layer has no such attributes): the forward reads self_attn's, so the repr shows those."""
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0)
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    y = layer(x)
    layer.batch_first = True  # no effect, as setting it on torch's layer
    np.testing.assert_array_equal(layer(x), y)
    assert "batch_first=False" in repr(layer.self_attn)
    first_line = repr(layer).splitlines()[1]  # the layer's own settings
    assert "batch_first=False" in first_line
    layer.self_attn.batch_first, layer.self_attn.num_heads = True, 1  # read by the forward
    np.testing.assert_array_equal(layer(x.swapaxes(0, 1)).shape, (2, 3, 4))
    first_line = repr(layer).splitlines()[1]  # the layer's own settings
    assert "batch_first=True" in first_line and "nhead=1" in first_line and "d_model=4" in first_line


# --- refusals: a clear error, never a keyword ignored --------------------------------------------------
REFUSED = {
    "add_bias_kv": (lambda: mt.MultiheadAttention(4, 2, add_bias_kv=True), TypeError,
                    "MultiheadAttention does not support add_bias_kv"),
    "add_zero_attn": (lambda: mt.MultiheadAttention(4, 2, add_zero_attn=True), TypeError,
                      "MultiheadAttention does not support add_zero_attn"),
    "add_bias_kv positionally": (lambda: mt.MultiheadAttention(4, 2, 0.0, True, True), TypeError,
                                 r"does not support add_bias_kv=True \(only torch's default"),
    "add_zero_attn positionally": (lambda: mt.MultiheadAttention(4, 2, 0.0, True, False, True), TypeError,
                                   "MultiheadAttention does not support add_zero_attn=True"),
    "activation F.gelu": (lambda: mt.TransformerEncoderLayer(4, 2, 8, activation=torch.nn.functional.gelu),
                          ValueError, r"TransformerEncoderLayer: activation .*'gelu'.*mt\.GELU\(\)"),
    "activation torch GELU()": (lambda: mt.TransformerEncoderLayer(4, 2, 8, activation=torch.nn.GELU("tanh")),
                                ValueError, r"TransformerEncoderLayer: activation .*mt\.interop\.from_torch"),
    "activation mt.GELU class": (lambda: mt.TransformerEncoderLayer(4, 2, 8, activation=mt.GELU), ValueError,
                                 r"TransformerEncoderLayer: activation .*an instance: mt\.GELU\(\)"),
    "activation np.tanh": (lambda: mt.TransformerEncoderLayer(4, 2, 8, activation=np.tanh), ValueError,
                           r"TransformerEncoderLayer: activation .*mt\.Tanh\(\)"),
    "activation 'tanh'": (lambda: mt.TransformerEncoderLayer(4, 2, 8, activation="tanh"), ValueError,
                          r"TransformerEncoderLayer: activation .*'relu', 'gelu'"),
    "is_causal without a mask": (lambda: mt.MultiheadAttention(4, 2)(*np.ones((3, 2, 3, 4)), is_causal=True),
                                 ValueError, "is_causal=True .* attn_mask is needed"),
    "integer padding mask": (lambda: mt.MultiheadAttention(4, 2)(*np.ones((3, 3, 2, 4)),
                                                                key_padding_mask=np.ones((2, 3), np.int64)),
                             TypeError, "key_padding_mask must be a bool or floating array"),
    "uint8 attn_mask": (lambda: mt.MultiheadAttention(4, 2)(*np.ones((3, 3, 2, 4)),
                                                           attn_mask=np.zeros((3, 3), np.uint8)),
                        TypeError, "attn_mask must be a bool or floating array"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_torch_option_minitorch_lacks_is_refused_by_name(name):
    call, error, message = REFUSED[name]
    with pytest.raises(error, match=message):
        call()


def _learned_bias(shape, requires_grad=True):
    return mt.Parameter(np.random.default_rng(5).standard_normal(shape), requires_grad=requires_grad)


def test_a_frozen_parameter_as_mask_is_a_constant_mask_as_in_torch(float64):
    mt.manual_seed(0)
    m = randomized(mt.MultiheadAttention(4, 2, batch_first=True))
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    compare_mha(m, x, x, x, rtol=1e-10, atol=1e-12, attn_mask=_learned_bias((3, 3), requires_grad=False).data)
    y, _ = m(x, x, x, attn_mask=_learned_bias((3, 3), requires_grad=False))
    np.testing.assert_array_equal(y, m(x, x, x, attn_mask=_learned_bias((3, 3)).data)[0])


def test_torch_trains_a_mask_that_requires_grad():
    t = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    x = torch.randn(2, 3, 4)
    bias = torch.zeros(3, 3, requires_grad=True)
    t(x, x, x, attn_mask=bias)[0].sum().backward()
    assert bias.grad is not None and bias.grad.abs().max() > 0


@pytest.mark.parametrize("size", [1, 2, 5])
def test_the_causal_mask_takes_torchs_keywords(size):
    """torch's nn.Transformer.generate_square_subsequent_mask(sz, device=None, dtype=None)."""
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(size, device="cpu", dtype=torch.float64)
    ours = mt.generate_square_subsequent_mask(size, device="cpu", dtype=torch.float64)
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(ours, theirs.numpy())
    assert mt.generate_square_subsequent_mask(size, device=torch.device("cpu")).dtype == np.float32
    with pytest.raises(ValueError, match="generate_square_subsequent_mask: MiniTorch runs on the CPU"):
        mt.generate_square_subsequent_mask(size, device="cuda")
    with pytest.raises(TypeError, match=r"generate_square_subsequent_mask: .*got 'cpu'.*device='cpu'"):
        mt.generate_square_subsequent_mask(size, "cpu")  # torch's second argument, positionally


def test_torch_refuses_the_integer_masks_too():
    t = torch.nn.MultiheadAttention(4, 2)
    x = torch.ones(3, 2, 4)
    with pytest.raises((AssertionError, RuntimeError), match="only bool and floating types"):
        t(x, x, x, key_padding_mask=torch.ones(2, 3, dtype=torch.int64))


# --- torch's code paths: which one MiniTorch follows, and what the others give (docs/attention.md) -------
def _fully_masked():
    mt.manual_seed(0)
    m = randomized(mt.MultiheadAttention(4, 2, batch_first=True))
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    kpm = np.array([[False, False, True], [True, True, True]])  # sequence 1: every key padded
    return m, x, kpm


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_fully_masked_rows_are_torchs_autograd_path(float64, kernels):
    """torch 2.13, training or grad on: a fully masked row gives out_proj.bias and no gradient through
    it with need_weights=False, NaN with need_weights=True; MiniTorch gives the same, in both."""
    mt.kernels.use_kernels(kernels)  # (the autouse fixture puts the run's switch back)
    m, x, kpm = _fully_masked()
    compare_mha(m, x, x, x, rtol=1e-10, atol=1e-12, key_padding_mask=kpm, need_weights=False)
    compare_mha(m, x, x, x, rtol=1e-10, atol=1e-12, key_padding_mask=kpm, need_weights=True)
    y, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(y[1], np.broadcast_to(m.out_proj.bias.data, (3, 4)), rtol=1e-12)


def test_torchs_other_paths_give_nan_for_a_fully_masked_row(float64):
    """What docs/attention.md says torch 2.13 gives: NaN with need_weights=True (any mode, as
    MiniTorch), and NaN from the eval fast path (eval, no grad) either way (MiniTorch: the bias with
    need_weights=False)."""
    m, x, kpm = _fully_masked()
    t = mt.interop.to_torch(m).train()
    tx, tkpm = torch.from_numpy(x), torch.from_numpy(kpm)
    y, w = t(tx, tx, tx, key_padding_mask=tkpm)
    assert torch.isnan(y[1]).all() and torch.isnan(w[1]).all() and not torch.isnan(y[0]).any()
    t.eval()
    with torch_fast_path(), torch.no_grad():
        for need_weights in (True, False):
            y = t(tx, tx, tx, key_padding_mask=tkpm, need_weights=need_weights)[0]
            assert torch.isnan(y[1]).all() and not torch.isnan(y[0]).any()


def _padded_encoder():
    mt.manual_seed(0)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)
    m = randomized(mt.TransformerEncoder(layer, 2), seed=1).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    kpm = np.array([[False, False, True], [False, True, True]])
    return m, x, kpm


def test_inference_is_torchs_autograd_path_not_its_nested_tensors(float64):
    """Under mt.no_grad() in eval mode MiniTorch computes what it computes in training (dropout
    aside), torch's autograd path. torch's eval + no_grad encoder with a padding mask runs on nested
    tensors instead: the padded positions come out 0, the others the same."""
    m, x, kpm = _padded_encoder()
    t = mt.interop.to_torch(m)
    t.eval()
    with torch.no_grad():
        slow = t(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(kpm)).numpy()
        with torch_fast_path():
            fast = t(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(kpm)).numpy()
    with mt.no_grad():
        ours = m(x, src_key_padding_mask=kpm)
    np.testing.assert_allclose(ours, slow, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fast[kpm], 0.0)
    np.testing.assert_allclose(fast[~kpm], slow[~kpm], rtol=1e-12, atol=1e-12)
    assert np.abs(slow[kpm]).min() > 0


@pytest.mark.parametrize("which", ["src_key_padding_mask", "src_mask"])
def test_torchs_eval_fast_path_reads_a_float_mask_as_bool(float64, which):
    """torch's encoder-layer fast path (eval, no grad, batch_first, ...) takes a float src_mask or
    src_key_padding_mask as bool (nonzero: masked); its autograd path, and MiniTorch, add it."""
    mt.manual_seed(0)
    m = randomized(mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)).eval()
    t = mt.interop.to_torch(m)
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    if which == "src_mask":
        mask = np.array([[0.0, -0.5, -2.0], [0.3, 0.0, 0.0], [0.0, 2.0, 3.0]])
    else:
        mask = np.array([[0.0, -0.5, -2.0], [0.3, 0.0, 0.0]])
    tx, tmask = torch.from_numpy(x), torch.from_numpy(mask)
    with torch.no_grad():
        slow = t(tx, **{which: tmask}).numpy()
        with torch_fast_path():
            fast = t(tx, **{which: tmask}).numpy()
        as_bool = t(tx, **{which: tmask != 0}).numpy()  # the autograd path, given the bool reading
    with mt.no_grad():
        np.testing.assert_allclose(m(x, **{which: mask}), slow, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast, as_bool, rtol=1e-12, atol=1e-12)
    assert np.abs(fast - slow).max() > 0.01


@pytest.mark.parametrize("spelled", ["keywords", "positional"])
def test_torchs_defaults_spelled_out_build_the_same_attention(spelled):
    """``add_bias_kv=False, add_zero_attn=False`` (torch code often writes them) are accepted, in
    torch's positions too, and build the same layer as leaving them out; torch's signature order."""
    mt.manual_seed(3)
    plain = mt.MultiheadAttention(4, 2, 0.1, True, kdim=3, vdim=5, batch_first=True)
    mt.manual_seed(3)
    if spelled == "keywords":
        spelt = mt.MultiheadAttention(4, 2, 0.1, True, add_bias_kv=False, add_zero_attn=False, kdim=3, vdim=5,
                                      batch_first=True)
    else:
        spelt = mt.MultiheadAttention(4, 2, 0.1, True, False, False, 3, 5, True)
    assert repr(spelt) == repr(plain)
    for (name, a), (_, b) in zip(plain.state_dict().items(), spelt.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
    ours = [n for n, p in inspect.signature(mt.MultiheadAttention).parameters.items()]
    theirs = list(inspect.signature(torch.nn.MultiheadAttention.__init__).parameters)[1:]
    assert ours == theirs
