"""PyTorch twins of MiniTorch modules: the numerical oracle of the test suite.

``torch_twin(module)`` builds the equivalent torch module with the same weights (Linear's W is
stored (in, out) here and (out, in) in torch, hence the transpose). A new layer registers its twin
builder in ``TWINS``. ``compare_module`` runs both on the same input and upstream gradient and
checks output, input gradient and every parameter gradient.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

import minitorch as mt

torch.set_num_threads(1)

TWINS: dict[type, Callable[[mt.Module], torch.nn.Module]] = {}


def twin(cls: type) -> Callable:
    def register(builder: Callable[[mt.Module], torch.nn.Module]) -> Callable:
        TWINS[cls] = builder
        return builder

    return register


def tensor(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(array), requires_grad=requires_grad)


@twin(mt.Linear)
def _linear(m: mt.Linear) -> torch.nn.Module:
    t = torch.nn.Linear(m.in_features, m.out_features, bias=m.b is not None,
                        dtype=torch.float64 if m.W.dtype == np.float64 else torch.float32)
    with torch.no_grad():
        t.weight.copy_(tensor(m.W.data.T))
        if m.b is not None:
            t.bias.copy_(tensor(m.b.data))
    return t


@twin(mt.ReLU)
def _relu(m: mt.ReLU) -> torch.nn.Module:
    return torch.nn.ReLU()


@twin(mt.Sigmoid)
def _sigmoid(m: mt.Sigmoid) -> torch.nn.Module:
    return torch.nn.Sigmoid()


@twin(mt.Flatten)
def _flatten(m: mt.Flatten) -> torch.nn.Module:
    return torch.nn.Flatten(m.start_dim, m.end_dim)


@twin(mt.Identity)
def _identity(m: mt.Identity) -> torch.nn.Module:
    return torch.nn.Identity()


def _torch_dtype(array: np.ndarray) -> torch.dtype:
    """The twin's dtype for a MiniTorch array: float64 stays float64, any other dtype runs as float32."""
    return torch.float64 if array.dtype == np.float64 else torch.float32


class _QuietSamePadding(torch.nn.Module):
    """torch warns that padding="same" with an even kernel copies the input; the result is exact."""

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
            return self.conv(x)


@twin(mt.Conv2d)
def _conv2d(m: mt.Conv2d) -> torch.nn.Module:
    # same weight layout (out, in, kh, kw) in both libraries: copied as is, no transpose
    t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                        dilation=m.dilation, bias=m.bias is not None, dtype=_torch_dtype(m.weight.data))
    with torch.no_grad():
        t.weight.copy_(tensor(m.weight.data))
        if m.bias is not None:
            t.bias.copy_(tensor(m.bias.data))
    return _QuietSamePadding(t) if m.padding == "same" else t


@twin(mt.MaxPool2d)
def _maxpool2d(m: mt.MaxPool2d) -> torch.nn.Module:
    return torch.nn.MaxPool2d(m.kernel_size, stride=m.stride, padding=m.padding, dilation=m.dilation,
                              return_indices=m.return_indices, ceil_mode=m.ceil_mode)


@twin(mt.AvgPool2d)
def _avgpool2d(m: mt.AvgPool2d) -> torch.nn.Module:
    return torch.nn.AvgPool2d(m.kernel_size, stride=m.stride, padding=m.padding, ceil_mode=m.ceil_mode,
                              count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)


@twin(mt.AdaptiveAvgPool2d)
def _adaptive_avgpool2d(m: mt.AdaptiveAvgPool2d) -> torch.nn.Module:
    return torch.nn.AdaptiveAvgPool2d(m.output_size)


@twin(mt.Sequential)
def _sequential(m: mt.Sequential) -> torch.nn.Module:
    return torch.nn.Sequential(OrderedDict((name, torch_twin(child)) for name, child in m.named_children()))


def torch_twin(module: mt.Module) -> torch.nn.Module:
    """The torch module computing the same function with the same (copied) weights."""
    try:
        builder = TWINS[type(module)]
    except KeyError:
        raise KeyError(f"no PyTorch twin registered for {type(module).__name__}") from None
    t = builder(module)
    t.train(module.training)
    return t


def torch_grads(module: mt.Module, twin_module: torch.nn.Module) -> dict[str, np.ndarray]:
    """Twin's parameter gradients, keyed and shaped like ``module.named_parameters()``.

    Pairs parameters by position (both libraries list them in layer order, weight before bias);
    a 2-D weight of a Linear is transposed back to MiniTorch's (in, out).
    """
    ours = list(module.named_parameters())
    theirs = [p for p in twin_module.parameters()]
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    # decided by layer type, not by shape: a square Linear's W would otherwise go untransposed
    linear_weights = {id(m.W) for m in module.modules() if isinstance(m, mt.Linear)}
    grads = {}
    for (name, p), tp in zip(ours, theirs, strict=True):
        g = tp.grad.detach().numpy()
        grads[name] = g.T if id(p) in linear_weights else g
        assert grads[name].shape == p.shape, (name, grads[name].shape, p.shape)
    return grads


def compare_module(module: mt.Module, x: np.ndarray, rtol: float, atol: float, seed: int = 0) -> None:
    """Assert output, dx and every parameter gradient match the torch twin."""
    twin_module = torch_twin(module)
    x_t = tensor(x, requires_grad=True)
    y_t = twin_module(x_t)
    dy = np.random.default_rng(seed).standard_normal(tuple(y_t.shape)).astype(x.dtype)
    y_t.backward(tensor(dy))

    module.zero_grad()
    y = module(x)
    dx = module.backward(dy)

    assert y.dtype == x.dtype and dx.dtype == x.dtype
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=rtol, atol=atol, err_msg="output")
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol, atol=atol, err_msg="dx")
    for name, g in torch_grads(module, twin_module).items():
        p = dict(module.named_parameters())[name]
        assert p.grad.dtype == x.dtype
        np.testing.assert_allclose(p.grad, g, rtol=rtol, atol=atol, err_msg=name)
    compare_buffers(module, twin_module, rtol, atol)


def compare_buffers(module: mt.Module, twin_module: torch.nn.Module, rtol: float, atol: float) -> None:
    """Every buffer (running statistics, batch counts) equal to the twin's after the same forward: a
    training forward updates them, and the output alone never shows the update."""
    theirs = twin_module.state_dict()
    for name, buffer in module.named_buffers():
        if buffer is None or name not in theirs:  # a buffer torch does not keep (a loss's weights)
            continue
        np.testing.assert_allclose(np.asarray(buffer, dtype=np.float64), theirs[name].double().numpy(),
                                   rtol=rtol, atol=atol, err_msg=f"buffer {name}")


# --- toolkit layers: activations, softmax, dropout, normalisation --------------------------------
@twin(mt.Tanh)
def _tanh(m: mt.Tanh) -> torch.nn.Module:
    return torch.nn.Tanh()


@twin(mt.LeakyReLU)
def _leaky_relu(m: mt.LeakyReLU) -> torch.nn.Module:
    return torch.nn.LeakyReLU(m.negative_slope)


@twin(mt.ELU)
def _elu(m: mt.ELU) -> torch.nn.Module:
    return torch.nn.ELU(m.alpha)


@twin(mt.GELU)
def _gelu(m: mt.GELU) -> torch.nn.Module:
    return torch.nn.GELU(approximate=m.approximate)


@twin(mt.Softmax)
def _softmax(m: mt.Softmax) -> torch.nn.Module:
    return torch.nn.Softmax(dim=m.dim)


@twin(mt.LogSoftmax)
def _log_softmax(m: mt.LogSoftmax) -> torch.nn.Module:
    return torch.nn.LogSoftmax(dim=m.dim)


@twin(mt.Dropout)
def _dropout(m: mt.Dropout) -> torch.nn.Module:
    # equal in eval mode only: torch draws its own masks (test_dropout.py checks training mode)
    return torch.nn.Dropout(m.p)


def _with_state_of(m: mt.Module, t: torch.nn.Module) -> torch.nn.Module:
    """t with m's parameters and buffers copied in (the names are PyTorch's: weight, running_mean...)."""
    with torch.no_grad():
        for name, value in m.state_dict().items():
            getattr(t, name).copy_(tensor(value))
    return t


def _batchnorm(torch_cls: type) -> Callable[[mt.Module], torch.nn.Module]:
    def build(m: mt.Module) -> torch.nn.Module:
        arrays = [a for a in (m.running_mean, m.weight and m.weight.data) if a is not None]
        t = torch_cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                      track_running_stats=m.track_running_stats,
                      dtype=_torch_dtype(arrays[0]) if arrays else None)
        for name in ("running_mean", "running_var", "num_batches_tracked"):  # None slots, set by hand
            if getattr(m, name) is None and getattr(t, name) is not None:
                setattr(t, name, None)
        return _with_state_of(m, t)

    return build


TWINS[mt.BatchNorm1d] = _batchnorm(torch.nn.BatchNorm1d)
TWINS[mt.BatchNorm2d] = _batchnorm(torch.nn.BatchNorm2d)


@twin(mt.LayerNorm)
def _layer_norm(m: mt.LayerNorm) -> torch.nn.Module:
    dtype = torch.float32 if m.weight is None else _torch_dtype(m.weight.data)
    t = torch.nn.LayerNorm(m.normalized_shape, eps=m.eps, elementwise_affine=m.elementwise_affine,
                           bias=m.bias is not None, dtype=dtype)
    return _with_state_of(m, t)


# --- attention and transformers ---------------------------------------------------------------------
# torch's MHA "fast path" (eval mode, no grad) is another kernel that disagrees with its own slow path
# (pytorch#86120); the oracle is the slow path, the one its autograd differentiates
torch.backends.mha.set_fastpath_enabled(False)


def torch_state(m: mt.Module) -> dict[str, torch.Tensor]:
    """m.state_dict() under torch's names: a Linear's W (in, out) -> weight (out, in), b -> bias."""
    state = {}
    for name, value in m.state_dict().items():
        prefix, _, leaf = name.rpartition(".")
        if isinstance(_submodule(m, prefix), mt.Linear):
            name = f"{prefix}.{'weight' if leaf == 'W' else 'bias'}".lstrip(".")
            value = value.T if leaf == "W" else value
        state[name] = tensor(np.ascontiguousarray(value))
    return state


def _submodule(m: mt.Module, path: str) -> mt.Module:
    for part in filter(None, path.split(".")):
        m = dict(m.named_children())[part]
    return m


@twin(mt.MultiheadAttention)
def _multihead_attention(m: mt.MultiheadAttention) -> torch.nn.Module:
    t = torch.nn.MultiheadAttention(m.embed_dim, m.num_heads, dropout=m.dropout,
                                    bias=m.in_proj_bias is not None, kdim=m.kdim, vdim=m.vdim,
                                    batch_first=m.batch_first, dtype=_torch_dtype(m.out_proj.weight.data))
    t.load_state_dict(torch_state(m))
    return t


def _encoder_layer_twin(m: mt.TransformerEncoderLayer) -> torch.nn.TransformerEncoderLayer:
    t = torch.nn.TransformerEncoderLayer(
        m.d_model, m.nhead, m.dim_feedforward, dropout=m.dropout.p,
        activation=m.activation_name or torch_twin(m.activation),
        layer_norm_eps=m.layer_norm_eps, batch_first=m.batch_first, norm_first=m.norm_first,
        bias=m.linear1.b is not None, dtype=_torch_dtype(m.linear1.W.data))
    # each child's own settings, which an edit after construction (m.norm2.eps = ...) can change
    for child, setting in (("norm1", "eps"), ("norm2", "eps"), ("dropout", "p"), ("dropout1", "p"),
                           ("dropout2", "p"), ("self_attn", "dropout"), ("self_attn", "batch_first")):
        setattr(getattr(t, child), setting, getattr(getattr(m, child), setting))
    return t


@twin(mt.TransformerEncoderLayer)
def _transformer_encoder_layer(m: mt.TransformerEncoderLayer) -> torch.nn.Module:
    t = _encoder_layer_twin(m)
    t.load_state_dict(torch_state(m))
    return t


@twin(mt.TransformerEncoder)
def _transformer_encoder(m: mt.TransformerEncoder) -> torch.nn.Module:
    norm = None if m.norm is None else torch_twin(m.norm)
    # enable_nested_tensor=False: torch warns that a norm_first layer cannot use nested tensors
    t = torch.nn.TransformerEncoder(_encoder_layer_twin(m.layers[0]), m.num_layers, norm=norm,
                                    enable_nested_tensor=False)
    for i, layer in enumerate(m.layers):  # each layer's own twin: one may have been edited
        t.layers[i] = _encoder_layer_twin(layer)
    t.load_state_dict(torch_state(m))
    return t


# --- the transformer decoder (minitorch/layers/transformer_decoder.py) -------------------------------------
def _decoder_layer_twin(m: mt.TransformerDecoderLayer) -> torch.nn.TransformerDecoderLayer:
    t = torch.nn.TransformerDecoderLayer(
        m.d_model, m.nhead, m.dim_feedforward, dropout=m.dropout.p,
        activation=m.activation_name or torch_twin(m.activation),
        layer_norm_eps=m.layer_norm_eps, batch_first=m.batch_first, norm_first=m.norm_first,
        bias=m.linear1.b is not None, dtype=_torch_dtype(m.linear1.W.data))
    # each child's own settings, which an edit after construction can change
    settings = [(f"norm{i}", "eps") for i in (1, 2, 3)] + [(f"dropout{i}", "p") for i in ("", 1, 2, 3)]
    settings += [(a, s) for a in ("self_attn", "multihead_attn") for s in ("dropout", "batch_first")]
    for child, setting in settings:
        setattr(getattr(t, child), setting, getattr(getattr(m, child), setting))
    return t


@twin(mt.TransformerDecoderLayer)
def _transformer_decoder_layer(m: mt.TransformerDecoderLayer) -> torch.nn.Module:
    t = _decoder_layer_twin(m)
    t.load_state_dict(torch_state(m))
    return t


@twin(mt.TransformerDecoder)
def _transformer_decoder(m: mt.TransformerDecoder) -> torch.nn.Module:
    norm = None if m.norm is None else torch_twin(m.norm)
    t = torch.nn.TransformerDecoder(_decoder_layer_twin(m.layers[0]), m.num_layers, norm=norm)
    for i, layer in enumerate(m.layers):  # each layer's own twin: one may have been edited
        t.layers[i] = _decoder_layer_twin(layer)
    t.load_state_dict(torch_state(m))
    return t


# --- the encoder-decoder Transformer (minitorch/layers/transformer_model.py) -------------------------------
@twin(mt.Transformer)
def _transformer(m: mt.Transformer) -> torch.nn.Module:
    # the children's twins as custom_encoder / custom_decoder; torch's xavier redraw of them is then
    # overwritten by the state load
    t = torch.nn.Transformer(m.d_model, m.nhead, custom_encoder=torch_twin(m.encoder),
                             custom_decoder=torch_twin(m.decoder), batch_first=m.batch_first)
    t.load_state_dict(torch_state(m))
    return t



# --- PyTorch habits (issue 15) ---------------------------------------------------------------------------
TWINS[mt.SiLU] = lambda m: torch.nn.SiLU()
TWINS[mt.Mish] = lambda m: torch.nn.Mish()
TWINS[mt.Softplus] = lambda m: torch.nn.Softplus(beta=m.beta, threshold=m.threshold)
TWINS[mt.Hardtanh] = lambda m: torch.nn.Hardtanh(m.min_val, m.max_val)
TWINS[mt.Dropout2d] = lambda m: torch.nn.Dropout2d(m.p)  # equal in eval mode only (own masks)
TWINS[mt.Unflatten] = lambda m: torch.nn.Unflatten(m.dim, m.unflattened_size)
TWINS[mt.AdaptiveMaxPool2d] = lambda m: torch.nn.AdaptiveMaxPool2d(m.output_size, m.return_indices)
TWINS[mt.MaxUnpool2d] = lambda m: torch.nn.MaxUnpool2d(m.kernel_size, m.stride, m.padding)
TWINS[mt.Upsample] = lambda m: torch.nn.Upsample(size=m.size, scale_factor=m.scale_factor, mode=m.mode,
                                                 align_corners=m.align_corners)


@twin(mt.PReLU)
def _prelu(m: mt.PReLU) -> torch.nn.Module:
    t = torch.nn.PReLU(m.num_parameters, dtype=_torch_dtype(m.weight.data))
    return _with_state_of(m, t)


@twin(mt.GroupNorm)
def _group_norm(m: mt.GroupNorm) -> torch.nn.Module:
    dtype = torch.float32 if m.weight is None else _torch_dtype(m.weight.data)
    t = torch.nn.GroupNorm(m.num_groups, m.num_channels, eps=m.eps, affine=m.affine, dtype=dtype)
    return _with_state_of(m, t)


@twin(mt.Conv1d)
def _conv1d(m: mt.Conv1d) -> torch.nn.Module:
    t = torch.nn.Conv1d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                        dilation=m.dilation, bias=m.bias is not None, dtype=_torch_dtype(m.weight.data))
    return _with_state_of(m, t)


@twin(mt.ConvTranspose2d)
def _conv_transpose2d(m: mt.ConvTranspose2d) -> torch.nn.Module:
    # same weight layout (in, out, kh, kw) in both libraries
    t = torch.nn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                                 padding=m.padding, output_padding=m.output_padding, dilation=m.dilation,
                                 bias=m.bias is not None, dtype=_torch_dtype(m.weight.data))
    return _with_state_of(m, t)


# --- several inputs, integer inputs, tuple outputs (CONTRACT §4) ---------------------------------
@twin(mt.Embedding)
def _embedding(m: mt.Embedding) -> torch.nn.Module:
    t = torch.nn.Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx,
                           dtype=_torch_dtype(m.weight.data))
    return _with_state_of(m, t)


def _map(f: Callable, value: object) -> object:
    """f applied to every leaf of a nested tuple (None stays None)."""
    if isinstance(value, tuple):
        return tuple(_map(f, v) for v in value)
    return None if value is None else f(value)


def _flat(value: object) -> list:
    return [leaf for v in value for leaf in _flat(v)] if isinstance(value, tuple) else [value]


def compare_inputs(module: mt.Module, inputs: tuple, rtol: float, atol: float, seed: int = 0) -> None:
    """Like compare_module for several (nested, possibly integer) inputs and tuple outputs.

    Parameters are paired by torch's name (``torch_parameter_name``: a Linear's W / b are torch's
    weight (transposed) / bias; the others have torch's names), every one of either side. Every
    floating output gets its own random upstream gradient; integer inputs must get None from ``backward``.
    """
    twin_module = torch_twin(module)
    floating = lambda a: np.asarray(a).dtype.kind == "f"  # noqa: E731
    inputs_t = _map(lambda a: torch.tensor(np.asarray(a), requires_grad=floating(a)), inputs)
    out_t = twin_module(*inputs_t)
    rng = np.random.default_rng(seed)
    dtype = next((p.dtype for p in module.parameters()),  # no parameters: the floating inputs' dtype
                 next((np.asarray(a).dtype for a in _flat(inputs) if floating(a)), None))
    upstream = _map(lambda t: rng.standard_normal(tuple(t.shape)).astype(dtype), out_t)
    torch.autograd.backward(_flat(out_t), [tensor(u) for u in _flat(upstream)])

    module.zero_grad()
    out = module(*inputs)
    grads = module.backward(upstream)
    grads = (grads,) if len(inputs) == 1 else grads

    for i, (ours, theirs) in enumerate(zip(_flat(out), _flat(out_t), strict=True)):
        assert ours.dtype == dtype, (i, ours.dtype)
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"output {i}")
    for i, (x, g) in enumerate(zip(_flat(inputs_t), _flat(grads), strict=True)):
        if not x.requires_grad:
            assert g is None, f"input {i} is not differentiable, backward gave {type(g).__name__}"
            continue
        assert g.dtype == dtype, (i, g.dtype)
        np.testing.assert_allclose(g, x.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"d input {i}")
    theirs = dict(twin_module.named_parameters())
    ours = list(module.named_parameters())
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for name, p in ours:
        torch_name, transpose = torch_parameter_name(module, name)
        g = theirs[torch_name].grad.numpy()
        assert p.grad.dtype == dtype, name
        np.testing.assert_allclose(p.grad, g.T if transpose else g, rtol=rtol, atol=atol, err_msg=name)
    compare_buffers(module, twin_module, rtol, atol)


def torch_parameter_name(module: mt.Module, name: str) -> tuple[str, bool]:
    """(torch's name of ``module``'s parameter ``name``, whether its array is transposed there): a Linear's
    W (in, out) is torch's weight (out, in) and its b torch's bias, as ``torch_state`` maps them; every
    other parameter has torch's name already (the sequence layers, attention, norms)."""
    prefix, _, leaf = name.rpartition(".")
    if isinstance(_submodule(module, prefix), mt.Linear) and leaf in ("W", "b"):
        return f"{prefix}.{'weight' if leaf == 'W' else 'bias'}".lstrip("."), leaf == "W"
    return name, False


_RECURRENT_ARGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                   "bidirectional")


def _recurrent(torch_cls: type, args: tuple[str, ...]) -> Callable[[mt.Module], torch.nn.Module]:
    """A torch RNN/LSTM/GRU or cell with the same arguments and (copied, same-named) parameters."""

    def build(m: mt.Module) -> torch.nn.Module:
        kwargs = {arg: getattr(m, arg) for arg in args}
        if hasattr(m, "nonlinearity"):
            kwargs["nonlinearity"] = m.nonlinearity
        if getattr(m, "proj_size", 0) > 0:  # LSTM with projections (torch's RNN and GRU refuse the keyword)
            kwargs["proj_size"] = m.proj_size
        dtype = _torch_dtype(next(iter(m.parameters())).data)
        return _with_state_of(m, torch_cls(**kwargs, dtype=dtype))

    return build


for _cls in ("RNN", "LSTM", "GRU"):
    TWINS[getattr(mt, _cls)] = _recurrent(getattr(torch.nn, _cls), _RECURRENT_ARGS)
for _cls in ("RNNCell", "LSTMCell", "GRUCell"):
    TWINS[getattr(mt, _cls)] = _recurrent(getattr(torch.nn, _cls), ("input_size", "hidden_size", "bias"))


# --- losses: the torch.nn loss of the same class with the same options ---------------------------
_LOSS_OPTIONS = ("label_smoothing", "ignore_index", "delta", "beta", "log_target")
_LOSS_WEIGHTS = ("weight", "pos_weight")


def torch_loss(loss_fn: mt.Loss, dtype: torch.dtype) -> torch.nn.Module:
    """torch.nn.<same class>(reduction, options...) with the weight buffers copied in ``dtype``."""
    kwargs: dict[str, object] = {"reduction": loss_fn.reduction}
    for name in _LOSS_OPTIONS:
        if hasattr(loss_fn, name):
            kwargs[name] = getattr(loss_fn, name)
    for name in _LOSS_WEIGHTS:
        if getattr(loss_fn, name, None) is not None:
            kwargs[name] = torch.tensor(getattr(loss_fn, name), dtype=dtype)
    return getattr(torch.nn, type(loss_fn).__name__)(**kwargs)


def compare_loss(loss_fn: mt.Loss, x: np.ndarray, t: np.ndarray, rtol: float, atol: float,
                 seed: int = 0) -> None:
    """Assert the loss value and dx (for a random upstream gradient) match torch's, dtype kept.

    A floating target is given in x's dtype; an integer target as torch's int64 class indices.
    """
    x_t = tensor(x, requires_grad=True)
    t_t = torch.tensor(t, dtype=torch.int64) if t.dtype.kind in "iu" else tensor(t)
    with warnings.catch_warnings():  # KLDivLoss's reduction="mean" warns that it is not the KL divergence
        warnings.simplefilter("ignore", UserWarning)
        loss_t = torch_loss(loss_fn, x_t.dtype)(x_t, t_t)
    dloss = np.random.default_rng(seed).standard_normal(tuple(loss_t.shape)).astype(x.dtype)
    loss_t.backward(tensor(dloss))

    loss = loss_fn(x, t)
    dx = loss_fn.backward(dloss if loss_fn.reduction == "none" else float(dloss))

    if loss_fn.reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == x.dtype and loss.shape == tuple(loss_t.shape)
    else:
        assert isinstance(loss, float) and type(loss).__name__ == "LossValue"
    assert dx.dtype == x.dtype and dx.shape == x.shape
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=rtol, atol=atol, err_msg="loss")
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol, atol=atol, err_msg="dx")


# --- more torch.nn activations and RMSNorm ------------------------------------------------------
TWINS[mt.ReLU6] = lambda m: torch.nn.ReLU6()
TWINS[mt.SELU] = lambda m: torch.nn.SELU()
TWINS[mt.CELU] = lambda m: torch.nn.CELU(m.alpha)
TWINS[mt.Softsign] = lambda m: torch.nn.Softsign()
TWINS[mt.Hardswish] = lambda m: torch.nn.Hardswish()
TWINS[mt.Hardsigmoid] = lambda m: torch.nn.Hardsigmoid()
TWINS[mt.LogSigmoid] = lambda m: torch.nn.LogSigmoid()
TWINS[mt.Threshold] = lambda m: torch.nn.Threshold(m.threshold, m.value)
TWINS[mt.Softmin] = lambda m: torch.nn.Softmin(m.dim)
TWINS[mt.Tanhshrink] = lambda m: torch.nn.Tanhshrink()
TWINS[mt.Softshrink] = lambda m: torch.nn.Softshrink(m.lambd)
TWINS[mt.Hardshrink] = lambda m: torch.nn.Hardshrink(m.lambd)
TWINS[mt.GLU] = lambda m: torch.nn.GLU(m.dim)


@twin(mt.RMSNorm)
def _rms_norm(m: mt.RMSNorm) -> torch.nn.Module:
    dtype = torch.float32 if m.weight is None else _torch_dtype(m.weight.data)
    t = torch.nn.RMSNorm(m.normalized_shape, eps=m.eps, elementwise_affine=m.elementwise_affine, dtype=dtype)
    return _with_state_of(m, t)
# --- 1-D pooling and padding layers ---------------------------------------------------------------------
TWINS[mt.MaxPool1d] = lambda m: torch.nn.MaxPool1d(m.kernel_size, m.stride, m.padding, m.dilation,
                                                   m.return_indices, m.ceil_mode)
TWINS[mt.AvgPool1d] = lambda m: torch.nn.AvgPool1d(m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                                   m.count_include_pad)
TWINS[mt.AdaptiveAvgPool1d] = lambda m: torch.nn.AdaptiveAvgPool1d(m.output_size)
TWINS[mt.AdaptiveMaxPool1d] = lambda m: torch.nn.AdaptiveMaxPool1d(m.output_size, m.return_indices)
TWINS[mt.MaxUnpool1d] = lambda m: torch.nn.MaxUnpool1d(m.kernel_size, m.stride, m.padding)


def _padding_twin(m: mt.Module) -> torch.nn.Module:
    """The torch class of the same name, with the same padding (Zero, Reflection, Replication, Circular)."""
    return getattr(torch.nn, type(m).__name__)(m.padding)


for _name in ("ZeroPad1d", "ZeroPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
              "ReplicationPad2d", "CircularPad1d", "CircularPad2d"):
    TWINS[getattr(mt, _name)] = _padding_twin
TWINS[mt.ConstantPad1d] = lambda m: torch.nn.ConstantPad1d(m.padding, m.value)
TWINS[mt.ConstantPad2d] = lambda m: torch.nn.ConstantPad2d(m.padding, m.value)
