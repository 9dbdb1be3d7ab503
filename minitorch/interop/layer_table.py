"""The conversion table: how each layer class converts, and the tables it fills for ``module.py``.

``LAYERS`` maps each MiniTorch layer class to a ``_Layer``: its constructor arguments (read from
attributes of the same name on either side), its state names that torch spells differently, the
ones stored transposed (Linear's W), its bias flag and the torch-only settings it supports.
``ATTENTION_LAYERS`` are converted whole instead, ``NOT_CONVERTIBLE`` names layers with no torch
counterpart. Importing this file fills ``module.TORCH_STATE_NAMES`` and ``module.TORCH_LAYOUT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minitorch.layers import (  # PyTorch habits (issue 15), more activations and RMSNorm
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    AdaptiveMaxPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    ConvTranspose2d,
    Dropout,
    Dropout2d,
    Flatten,
    GroupNorm,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RMSNorm,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
    Unflatten,
    Upsample,
)
from minitorch.layers.attention import MultiheadAttention, OutProjection
from minitorch.layers.conv import Conv2d
from minitorch.layers.embedding import Embedding
from minitorch.layers.max_unpool import MaxUnpool2d
from minitorch.layers.padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.pooling1d import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, MaxPool1d, MaxUnpool1d
from minitorch.layers.rnn import GRU, LSTM, RNN
from minitorch.layers.rnn_cells import GRUCell, LSTMCell, RNNCell
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_model import Transformer
from minitorch.module import TORCH_LAYOUT, TORCH_STATE_NAMES, Module


@dataclass(frozen=True)
class _Layer:
    """How one layer class converts: everything both libraries spell the same way."""

    args: tuple[str, ...] = ()  # constructor arguments, read from attributes of the same name
    rename: dict[str, str] = field(default_factory=dict)  # MiniTorch state name -> torch's
    transpose: tuple[str, ...] = ()  # MiniTorch state names stored transposed in torch
    bias: str | None = None  # the bias Parameter, when the constructor has bias=True/False
    torch_only: dict[str, Any] = field(default_factory=dict)  # torch setting -> the value we support


_BN = _Layer(("num_features", "eps", "momentum", "affine", "track_running_stats"))
_POOL = ("kernel_size", "stride", "padding")
LAYERS: dict[type[Module], _Layer] = {  # keyed by class: a subclass may compute something else
    Linear: _Layer(("in_features", "out_features"), {"W": "weight", "b": "bias"}, ("W",), bias="b"),
    Identity: _Layer(),
    ReLU: _Layer(),
    Sigmoid: _Layer(),
    Tanh: _Layer(),
    LeakyReLU: _Layer(("negative_slope",)),
    ELU: _Layer(("alpha",)),
    GELU: _Layer(("approximate",)),
    Softmax: _Layer(("dim",)),
    LogSoftmax: _Layer(("dim",)),
    Dropout: _Layer(("p",)),
    Flatten: _Layer(("start_dim", "end_dim")),
    BatchNorm1d: _BN,
    BatchNorm2d: _BN,
    LayerNorm: _Layer(("normalized_shape", "eps", "elementwise_affine"), bias="bias"),
    Conv2d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    MaxPool2d: _Layer((*_POOL, "dilation", "return_indices", "ceil_mode")),
    AvgPool2d: _Layer((*_POOL, "ceil_mode", "count_include_pad", "divisor_override")),
    AdaptiveAvgPool2d: _Layer(("output_size",)),
    OutProjection: _Layer(),  # attention's out_proj: torch's (out, in) layout and names already
    # PyTorch habits (issue 15)
    SiLU: _Layer(),
    Mish: _Layer(),
    Softplus: _Layer(("beta", "threshold")),
    Hardtanh: _Layer(("min_val", "max_val")),
    PReLU: _Layer(("num_parameters", "init")),  # init: what reset_parameters sets, on both sides
    Dropout2d: _Layer(("p",)),
    GroupNorm: _Layer(("num_groups", "num_channels", "eps", "affine")),
    Conv1d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    ConvTranspose2d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    Upsample: _Layer(("size", "scale_factor", "mode", "align_corners"),
                     torch_only={"recompute_scale_factor": None}),
    AdaptiveMaxPool2d: _Layer(("output_size", "return_indices")),
    MaxUnpool2d: _Layer(("kernel_size", "stride", "padding")),
    Unflatten: _Layer(("dim", "unflattened_size")),
}
# sequences: same names, shapes and layouts in both libraries (weight_ih_l0, ... as torch)
_RNN_ARGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
LAYERS.update({
    Embedding: _Layer(("num_embeddings", "embedding_dim", "padding_idx"),
                      torch_only={"max_norm": None, "scale_grad_by_freq": False, "sparse": False}),
    RNN: _Layer(_RNN_ARGS + ("nonlinearity",)),
    LSTM: _Layer(_RNN_ARGS + ("proj_size",)),  # weight_hr_l{k}: torch's name and layout too
    GRU: _Layer(_RNN_ARGS),
    RNNCell: _Layer(("input_size", "hidden_size", "bias", "nonlinearity")),
    LSTMCell: _Layer(("input_size", "hidden_size", "bias")),
    GRUCell: _Layer(("input_size", "hidden_size", "bias")),
})
# more torch.nn activations and RMSNorm
LAYERS.update({
    ReLU6: _Layer(), SELU: _Layer(), CELU: _Layer(("alpha",)), Softsign: _Layer(), Hardswish: _Layer(),
    Hardsigmoid: _Layer(), LogSigmoid: _Layer(), Threshold: _Layer(("threshold", "value")),
    Softmin: _Layer(("dim",)), Tanhshrink: _Layer(), Softshrink: _Layer(("lambd",)),
    Hardshrink: _Layer(("lambd",)), GLU: _Layer(("dim",)),
    RMSNorm: _Layer(("normalized_shape", "eps", "elementwise_affine")),
})
# 1-D pooling and padding layers: torch's class names and constructor arguments
LAYERS.update({
    MaxPool1d: _Layer((*_POOL, "dilation", "return_indices", "ceil_mode")),
    AvgPool1d: _Layer((*_POOL, "ceil_mode", "count_include_pad")),
    AdaptiveAvgPool1d: _Layer(("output_size",)),
    AdaptiveMaxPool1d: _Layer(("output_size", "return_indices")),
    MaxUnpool1d: _Layer(_POOL),
    ConstantPad1d: _Layer(("padding", "value")),
    ConstantPad2d: _Layer(("padding", "value")),
})
LAYERS.update({cls: _Layer(("padding",)) for cls in (
    ZeroPad1d, ZeroPad2d, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, CircularPad1d,
    CircularPad2d)})
# The convolutions' forward reads the weight's shape, as torch's, never in_channels, out_channels or
# kernel_size: a twin is built with the weight's sizes, then given the layer's own values of those
# three where they differ (an edit after construction, which neither forward reads).
_WEIGHT_AXES = {Conv2d: (1, 0), Conv1d: (1, 0), ConvTranspose2d: (0, 1)}  # (in_channels, out_channels)


def _sizes_and_edits(cls: type, weight_shape: tuple[int, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Put the weight's sizes into ``kwargs``; return the settings given that differ from them."""
    if cls not in _WEIGHT_AXES:
        return {}
    (into, out), kernel = _WEIGHT_AXES[cls], tuple(int(k) for k in weight_shape[2:])
    sizes = {"in_channels": int(weight_shape[into]), "out_channels": int(weight_shape[out]),
             "kernel_size": kernel if len(kernel) > 1 else kernel[0]}

    def form(name: str, v: Any) -> Any:  # a kernel_size k is (k, k) for a 2-d layer, (k,) for Conv1d
        if name != "kernel_size":
            return v
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * len(kernel)

    edits = {k: v for k, v in kwargs.items() if k in sizes and form(k, v) != form(k, sizes[k])}
    kwargs.update(sizes)
    return edits


# load_state_dict reads PyTorch's names of our layers' arrays through this table (module.py)
TORCH_STATE_NAMES.update({
    cls: {ours: (theirs, ours in layer.transpose) for ours, theirs in layer.rename.items()}
    for cls, layer in LAYERS.items() if layer.rename
})
# Exported layers with no PyTorch counterpart, with the reason (the registry test reads this).
NOT_CONVERTIBLE: dict[type[Module], str] = {}
_BY_NAME = {cls.__name__: cls for cls in LAYERS}  # torch's class names are ours


# converted whole (children included) by _attention_to_torch and _attention_from_torch
# (convert_to_torch.py, convert_from_torch.py), not through LAYERS
ATTENTION_LAYERS = (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
                    TransformerDecoder, Transformer)
_ATTENTION_BY_NAME = {cls.__name__: cls for cls in ATTENTION_LAYERS}
# which layers keep torch's layout (all but the transposed names), for minitorch.init's fans
TORCH_LAYOUT.update({cls: frozenset(layer.transpose) for cls, layer in LAYERS.items()})
TORCH_LAYOUT.update({cls: frozenset() for cls in ATTENTION_LAYERS})
