"""Layers: one family per file, every name re-exported here."""

from minitorch.layers.activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from minitorch.layers.attention import MultiheadAttention, generate_square_subsequent_mask
from minitorch.layers.batchnorm import BatchNorm1d, BatchNorm2d
from minitorch.layers.conv import Conv2d
from minitorch.layers.dropout import Dropout
from minitorch.layers.embedding import Embedding
from minitorch.layers.flatten import Flatten
from minitorch.layers.layernorm import LayerNorm
from minitorch.layers.linear import Identity, Linear
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.rnn import GRU, LSTM, RNN
from minitorch.layers.rnn_cells import GRUCell, LSTMCell, RNNCell
from minitorch.layers.softmax import LogSoftmax, Softmax
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_model import Transformer

__all__ = ["Flatten", "Identity", "Linear", "ReLU", "Sigmoid"]
__all__ += [
    "BatchNorm1d", "BatchNorm2d", "Dropout", "ELU", "GELU", "LayerNorm", "LeakyReLU", "LogSoftmax",
    "Softmax", "Tanh",
    "AdaptiveAvgPool2d", "AvgPool2d", "Conv2d", "MaxPool2d",
]
__all__ += [
    "MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer", "generate_square_subsequent_mask",
]
__all__ += ["Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]

# PyTorch habits (issue 15): more activations, spatial dropout, group norm, 1-d and transposed conv, resizing
from minitorch.layers.activations_more import Hardtanh, Mish, PReLU, SiLU, Softplus  # noqa: E402
from minitorch.layers.adaptive_max_pool import AdaptiveMaxPool2d  # noqa: E402
from minitorch.layers.conv_more import Conv1d, ConvTranspose2d  # noqa: E402
from minitorch.layers.dropout2d import Dropout2d  # noqa: E402
from minitorch.layers.groupnorm import GroupNorm  # noqa: E402
from minitorch.layers.max_unpool import MaxUnpool2d  # noqa: E402
from minitorch.layers.unflatten import Unflatten  # noqa: E402
from minitorch.layers.upsample import Upsample  # noqa: E402

__all__ += [
    "AdaptiveMaxPool2d", "Conv1d", "ConvTranspose2d", "Dropout2d", "GroupNorm", "Hardtanh", "Mish", "PReLU",
    "SiLU", "Softplus", "Unflatten", "Upsample",
]
__all__ += ["MaxUnpool2d"]

# more torch.nn activations and RMSNorm
from minitorch.layers.activations_piecewise import (  # noqa: E402
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    ReLU6,
    Softshrink,
    Threshold,
)
from minitorch.layers.activations_smooth import CELU, SELU, LogSigmoid, Softsign, Tanhshrink  # noqa: E402
from minitorch.layers.glu import GLU  # noqa: E402
from minitorch.layers.rmsnorm import RMSNorm  # noqa: E402
from minitorch.layers.softmax import Softmin  # noqa: E402

__all__ += [
    "CELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "LogSigmoid", "ReLU6", "RMSNorm", "SELU",
    "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
]

# 1-D pooling and padding layers (text CNNs and sequence models written the PyTorch way)
from minitorch.layers.padding import (  # noqa: E402
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
from minitorch.layers.pooling1d import (  # noqa: E402
    AdaptiveAvgPool1d,
    AdaptiveMaxPool1d,
    AvgPool1d,
    MaxPool1d,
    MaxUnpool1d,
)

__all__ += [
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "MaxPool1d", "MaxUnpool1d",
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
    "ReplicationPad1d", "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d",
]

# the fast room's one-loop Sequential runs these two layers (it imports no layer itself)
from minitorch.kernels.containers import register_chain_layers  # noqa: E402

register_chain_layers(Linear, ReLU)
__all__ += ["TransformerDecoder", "TransformerDecoderLayer"]  # the decoder (transformer_decoder.py)
__all__ += ["Transformer"]  # the encoder-decoder model (transformer_model.py)
