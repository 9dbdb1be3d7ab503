"""MiniTorch: neural networks from first principles on NumPy.

Every layer has a hand-written forward and backward; see ``minitorch.module`` for the contract.
"""

from minitorch import datasets, init, interop, lr_scheduler, onnx
from minitorch.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from minitorch.containers import ModuleDict, ModuleList, Sequential
from minitorch.data import DataLoader, train_test_split
from minitorch.dtypes import get_default_dtype, set_default_dtype
from minitorch.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from minitorch.gradcheck import GradcheckError, gradcheck
from minitorch.layers import (
    ELU,
    GELU,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from minitorch.layers.conv import Conv2d
from minitorch.layers.embedding import Embedding  # sequences
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.rnn import GRU, LSTM, RNN  # sequences
from minitorch.layers.rnn_cells import GRUCell, LSTMCell, RNNCell  # sequences
from minitorch.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minitorch.model_files import (
    ModelFileError,
    load_checkpoint,
    load_model,
    register_module,
    save_checkpoint,
    save_model,
)
from minitorch.module import Module, Parameter
from minitorch.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from minitorch.parameter_views import ParameterView
from minitorch.random import manual_seed
from minitorch.rnn_utils import (  # sequences: torch.nn.utils.rnn's names
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)
from minitorch.threads import get_num_threads, set_num_threads

# isort: split
# training experience: fit / evaluate / predict, callbacks, metrics, summary, plots (mt.plot needs matplotlib)
from minitorch import metrics, plot
from minitorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from minitorch.model_summary import ModelSummary, summary
from minitorch.training import History, NonFiniteLossError, evaluate, fit, predict
from minitorch.version import __version__ as __version__  # the one source of the version

# isort: split
# PyTorch habits (issue 15): more layers, optimizers, datasets
from minitorch.data import Dataset, Subset, TensorDataset, default_collate, random_split
from minitorch.layers import (
    AdaptiveMaxPool2d,
    Conv1d,
    ConvTranspose2d,
    Dropout2d,
    GroupNorm,
    Hardtanh,
    MaxUnpool2d,
    Mish,
    PReLU,
    SiLU,
    Softplus,
    Unflatten,
    Upsample,
)
from minitorch.optimizers import Adagrad, NAdam, RAdam

# isort: split
# torch.optim's remaining update rules
from minitorch.optimizers import ASGD, Adadelta, Adamax, Rprop

# isort: split
# more torch.nn activations and RMSNorm
from minitorch.layers import (
    CELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    LogSigmoid,
    ReLU6,
    RMSNorm,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)

# isort: split
# 1-D pooling and padding layers
from minitorch.layers import (
    AdaptiveAvgPool1d,
    AdaptiveMaxPool1d,
    AvgPool1d,
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    MaxPool1d,
    MaxUnpool1d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)

# isort: split
# diagnostics: see backprop happen (issue 17)
from minitorch import diagnostics
from minitorch.diagnostics import Diagnostics, check_backward, diagnose, explain, lr_find

# isort: split
# attention and transformers
from minitorch.layers.attention import MultiheadAttention, generate_square_subsequent_mask
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_model import Transformer

# isort: split
# more losses: likelihoods, margins
from minitorch.losses import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
)

__all__ = [
    "Adam",
    "AdamW",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Callback",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "Conv2d",
    "CrossEntropyLoss",
    "DataLoader",
    "datasets",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "ELU",
    "enable_grad",
    "inference_mode",
    "evaluate",
    "fit",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "get_default_dtype",
    "get_total_norm",
    "get_num_threads",
    "gradcheck",
    "GradcheckError",
    "History",
    "HuberLoss",
    "KLDivLoss",
    "Identity",
    "init",
    "interop",
    "is_grad_enabled",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "load_checkpoint",
    "load_model",
    "LogSoftmax",
    "LSTM",
    "LSTMCell",
    "Loss",
    "lr_scheduler",
    "manual_seed",
    "MaxPool2d",
    "metrics",
    "ModelCheckpoint",
    "ModelFileError",
    "ModelSummary",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MSELoss",
    "NLLLoss",
    "no_grad",
    "set_grad_enabled",
    "NonFiniteLossError",
    "onnx",
    "Optimizer",
    "Parameter",
    "ParameterView",
    "plot",
    "predict",
    "register_module",
    "ReLU",
    "RMSprop",
    "RNN",
    "RNNCell",
    "save_checkpoint",
    "save_model",
    "Sequential",
    "set_default_dtype",
    "set_num_threads",
    "SGD",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "summary",
    "Tanh",
    "train_test_split",
    # diagnostics (issue 17)
    "check_backward",
    "diagnose",
    "diagnostics",
    "Diagnostics",
    "explain",
    "lr_find",
]
__all__ += [  # PyTorch habits (issue 15)
    "AdaptiveMaxPool2d", "Conv1d", "ConvTranspose2d", "Dropout2d", "GroupNorm", "Hardtanh", "Mish", "PReLU",
    "SiLU", "Softplus", "Unflatten", "Upsample",
    "MaxUnpool2d",
    "Adagrad", "NAdam", "RAdam",
    "Dataset", "default_collate", "random_split", "Subset", "TensorDataset",
]
__all__ += [  # more torch.nn activations and RMSNorm
    "CELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "LogSigmoid", "ReLU6", "RMSNorm", "SELU",
    "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
]
__all__ += [  # packed sequences (minitorch.rnn_utils, torch.nn.utils.rnn's names)
    "PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence",
]
__all__ += [
    "generate_square_subsequent_mask", "MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer",
]
__all__ += ["ASGD", "Adadelta", "Adamax", "Rprop"]  # torch.optim's remaining update rules
__all__ += [  # more losses
    "GaussianNLLLoss", "PoissonNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
    "TripletMarginLoss",
]
__all__ += [  # 1-D pooling and padding layers
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "MaxPool1d", "MaxUnpool1d",
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
    "ReplicationPad1d", "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d",
]
__all__ += ["TransformerDecoder", "TransformerDecoderLayer"]  # the decoder (transformer_decoder.py)
__all__ += ["Transformer"]  # the encoder-decoder model (transformer_model.py)
