"""Registry of module cases: adding a layer to the gradcheck and oracle suites is one line here.

Each case is (id, factory, input_shape). The factory builds the module in the current default
dtype; ``input_shape`` includes the batch dimension. ``ORACLE`` marks cases with a PyTorch twin.
"""

from __future__ import annotations

import numpy as np

import minitorch as mt

MODULE_CASES = [
    ("Linear", lambda: mt.Linear(5, 3), (4, 5)),
    ("Linear-no-bias", lambda: mt.Linear(5, 3, bias=False), (4, 5)),
    ("Linear-3d-input", lambda: mt.Linear(3, 2), (2, 4, 3)),
    ("Linear-batch-1", lambda: mt.Linear(3, 2), (1, 3)),
    ("Linear-square", lambda: mt.Linear(4, 4), (3, 4)),
    ("Sigmoid", lambda: mt.Sigmoid(), (4, 6)),
    ("ReLU", lambda: mt.ReLU(), (4, 6)),
    ("Flatten", lambda: mt.Flatten(), (2, 3, 2, 2)),
    ("Flatten-middle", lambda: mt.Flatten(1, 2), (2, 3, 2, 2)),
    ("Identity", lambda: mt.Identity(), (3, 4)),
    ("MLP", lambda: mt.Sequential(mt.Linear(4, 6), mt.ReLU(), mt.Linear(6, 5), mt.Sigmoid(), mt.Linear(5, 2)),
     (3, 4)),
    ("Conv2d", lambda: mt.Conv2d(2, 3, 3), (2, 2, 5, 6)),
    ("Conv2d-stride-pad", lambda: mt.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 5, 4)),
    ("Conv2d-dilation", lambda: mt.Conv2d(1, 2, 2, dilation=(2, 1), padding=1), (2, 1, 5, 4)),
    # "same" with an even kernel pads asymmetrically; torch warns once per process about it, which
    # would fail whichever test meets it first, so that case lives in test_conv.py and test_cnn.py
    ("Conv2d-same-dilated", lambda: mt.Conv2d(2, 2, (2, 3), padding="same", dilation=2), (1, 2, 4, 5)),
    ("Conv2d-no-bias-batch-1", lambda: mt.Conv2d(3, 2, 1, bias=False), (1, 3, 3, 2)),
    ("MaxPool2d", lambda: mt.MaxPool2d(2), (2, 3, 4, 5)),
    ("MaxPool2d-overlap-pad", lambda: mt.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 6)),
    ("AvgPool2d", lambda: mt.AvgPool2d(2), (2, 3, 4, 5)),
    ("AvgPool2d-overlap-pad", lambda: mt.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1)), (2, 2, 5, 4)),
    ("AdaptiveAvgPool2d-global", lambda: mt.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    ("AdaptiveAvgPool2d-2x3", lambda: mt.AdaptiveAvgPool2d((2, 3)), (2, 2, 5, 7)),
    ("CNN-small", lambda: mt.Sequential(mt.Conv2d(1, 3, 3, padding=1), mt.ReLU(), mt.MaxPool2d(2),
                                  mt.Conv2d(3, 4, 2), mt.ReLU(), mt.AdaptiveAvgPool2d(1), mt.Flatten(),
                                  mt.Linear(4, 3)), (2, 1, 6, 6)),
]

# ids of MODULE_CASES that also have a PyTorch twin in tests/oracle.py
ORACLE = {
    "Flatten", "Flatten-middle", "Identity", "Linear", "Linear-no-bias", "Linear-3d-input",
    "Linear-batch-1", "Linear-square", "Sigmoid", "ReLU", "MLP",
    "Conv2d", "Conv2d-stride-pad", "Conv2d-dilation", "Conv2d-same-dilated", "Conv2d-no-bias-batch-1",
    "MaxPool2d", "MaxPool2d-overlap-pad", "AvgPool2d", "AvgPool2d-overlap-pad", "AdaptiveAvgPool2d-global",
    "AdaptiveAvgPool2d-2x3", "CNN-small",
}


# --- toolkit layers: activations, softmax, dropout, normalisation --------------------------------
def _randomized(module: mt.Module) -> mt.Module:
    """Random weights, biases and running statistics instead of the 1 / 0 init, so tests see them."""
    rng = np.random.default_rng(7)
    for p in module.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)
    for name, buffer in module.named_buffers():
        if name.endswith("running_mean"):
            buffer[...] = rng.standard_normal(buffer.shape)
        elif name.endswith("running_var"):
            buffer[...] = rng.uniform(0.5, 2.0, buffer.shape)
    return module


def _deep_net() -> mt.Module:
    return mt.Sequential(
        mt.Linear(4, 8), mt.BatchNorm1d(8), mt.GELU(), mt.Dropout(0.3),
        mt.Sequential(mt.Linear(8, 6), mt.LayerNorm(6), mt.Tanh()), mt.Linear(6, 3), mt.LogSoftmax(),
    )


MODULE_CASES += [
    ("Tanh", lambda: mt.Tanh(), (4, 6)),
    ("LeakyReLU", lambda: mt.LeakyReLU(), (4, 6)),
    ("LeakyReLU-0.3", lambda: mt.LeakyReLU(0.3), (4, 6)),
    ("ELU", lambda: mt.ELU(), (4, 6)),
    ("ELU-alpha-0.7", lambda: mt.ELU(alpha=0.7), (4, 6)),
    ("GELU", lambda: mt.GELU(), (4, 6)),
    ("GELU-tanh", lambda: mt.GELU(approximate="tanh"), (4, 6)),
    ("Softmax", lambda: mt.Softmax(), (4, 6)),
    ("Softmax-dim0", lambda: mt.Softmax(dim=0), (4, 3)),
    ("Softmax-3d-dim1", lambda: mt.Softmax(dim=1), (2, 3, 4)),
    ("LogSoftmax", lambda: mt.LogSoftmax(), (4, 6)),
    ("LogSoftmax-3d-dim1", lambda: mt.LogSoftmax(dim=1), (2, 3, 4)),
    ("Dropout", lambda: mt.Dropout(0.4), (4, 6)),
    ("Dropout-eval", lambda: mt.Dropout(0.4).eval(), (4, 6)),
    ("BatchNorm1d", lambda: _randomized(mt.BatchNorm1d(3)), (5, 3)),
    ("BatchNorm1d-batch-2", lambda: _randomized(mt.BatchNorm1d(3)), (2, 3)),
    ("BatchNorm1d-3d", lambda: _randomized(mt.BatchNorm1d(3)), (4, 3, 5)),
    ("BatchNorm1d-no-affine", lambda: mt.BatchNorm1d(3, affine=False), (5, 3)),
    ("BatchNorm1d-eval", lambda: _randomized(mt.BatchNorm1d(3)).eval(), (5, 3)),
    ("BatchNorm2d", lambda: _randomized(mt.BatchNorm2d(2)), (3, 2, 3, 4)),
    ("BatchNorm2d-eval", lambda: _randomized(mt.BatchNorm2d(2)).eval(), (3, 2, 3, 4)),
    ("LayerNorm", lambda: _randomized(mt.LayerNorm(5)), (4, 5)),
    ("LayerNorm-last-2-dims", lambda: _randomized(mt.LayerNorm((3, 4))), (2, 3, 4)),
    ("LayerNorm-no-affine", lambda: mt.LayerNorm(5, elementwise_affine=False), (4, 5)),
    ("LayerNorm-no-bias", lambda: _randomized(mt.LayerNorm(5, bias=False)), (1, 5)),
    ("Deep-net-train", _deep_net, (6, 4)),
    ("Deep-net-eval", lambda: _randomized(_deep_net()).eval(), (6, 4)),
]

ORACLE |= {
    "Tanh", "LeakyReLU", "LeakyReLU-0.3", "ELU", "ELU-alpha-0.7", "GELU", "GELU-tanh", "Softmax",
    "Softmax-dim0", "Softmax-3d-dim1", "LogSoftmax", "LogSoftmax-3d-dim1", "Dropout-eval", "BatchNorm1d",
    "BatchNorm1d-batch-2", "BatchNorm1d-3d", "BatchNorm1d-no-affine", "BatchNorm1d-eval", "BatchNorm2d",
    "BatchNorm2d-eval", "LayerNorm", "LayerNorm-last-2-dims", "LayerNorm-no-affine", "LayerNorm-no-bias",
    "Deep-net-eval",
}


# --- several inputs, integer inputs, tuple outputs (CONTRACT §4) ---------------------------------
# (id, factory, make_inputs): make_inputs(rng) returns the tuple of positional inputs, passed as given
# (floating arrays are differentiated, integer ones not; nested tuples such as (h0, c0) allowed).
def _ids(high: int, shape: tuple[int, ...]):
    return lambda rng: (rng.integers(0, high, shape),)


INPUT_CASES = [
    ("Embedding", lambda: mt.Embedding(7, 3), _ids(7, (4, 5))),
    ("Embedding-repeats-1d", lambda: mt.Embedding(3, 4), _ids(3, (9,))),
    # the padding row's gradient is zero by definition, not the numerical slope: gradcheck sees ids
    # without it (test_embedding.py checks the padding row against torch)
    ("Embedding-padding", lambda: mt.Embedding(6, 2, padding_idx=1),
     lambda rng: (np.array([[3, 2, 3], [5, 0, 4]]),)),
    ("Embedding-scalar-id", lambda: mt.Embedding(5, 3, padding_idx=-1), lambda rng: (np.array(2),)),
]


def _seq(shape: tuple[int, ...], *states: tuple[int, ...]):
    """Inputs x of ``shape`` and, if ``states`` are given, hx: one array, or a pair for LSTM."""
    def make(rng):
        x = rng.standard_normal(shape)
        if not states:
            return (x,)
        hx = tuple(rng.standard_normal(s) for s in states)
        return (x, hx if len(hx) == 2 else hx[0])
    return make


INPUT_CASES += [
    ("RNN", lambda: mt.RNN(3, 2), _seq((4, 2, 3))),
    ("RNN-relu-2-layers-h0", lambda: mt.RNN(2, 3, 2, nonlinearity="relu"), _seq((3, 2, 2), (2, 2, 3))),
    ("RNN-bidirectional-batch-first", lambda: mt.RNN(2, 2, bidirectional=True, batch_first=True),
     _seq((2, 3, 2), (2, 2, 2))),
    ("LSTM", lambda: mt.LSTM(3, 2), _seq((4, 2, 3))),
    ("LSTM-h0-c0", lambda: mt.LSTM(2, 3), _seq((3, 2, 2), (1, 2, 3), (1, 2, 3))),
    ("LSTM-2-layers-bidirectional", lambda: mt.LSTM(2, 2, num_layers=2, bidirectional=True),
     _seq((3, 2, 2), (4, 2, 2), (4, 2, 2))),
    ("LSTM-batch-first-no-bias", lambda: mt.LSTM(2, 2, bias=False, batch_first=True), _seq((2, 3, 2))),
    ("LSTM-unbatched", lambda: mt.LSTM(2, 3, num_layers=2), _seq((3, 2), (2, 3), (2, 3))),
    ("LSTM-dropout-train", lambda: mt.LSTM(2, 2, num_layers=3, dropout=0.5), _seq((3, 2, 2))),
    ("GRU", lambda: mt.GRU(3, 2), _seq((4, 2, 3))),
    ("GRU-2-layers-bidirectional-h0", lambda: mt.GRU(2, 2, num_layers=2, bidirectional=True),
     _seq((3, 2, 2), (4, 2, 2))),
    ("GRU-unbatched-no-bias", lambda: mt.GRU(2, 3, bias=False), _seq((3, 2), (1, 3))),
    ("RNNCell", lambda: mt.RNNCell(3, 2), _seq((2, 3), (2, 2))),
    ("RNNCell-relu-no-h", lambda: mt.RNNCell(3, 2, nonlinearity="relu"), _seq((2, 3))),
    ("LSTMCell", lambda: mt.LSTMCell(3, 2), _seq((2, 3), (2, 2), (2, 2))),
    ("LSTMCell-unbatched-no-bias", lambda: mt.LSTMCell(2, 3, bias=False), _seq((2,), (3,), (3,))),
    ("GRUCell", lambda: mt.GRUCell(3, 2), _seq((2, 3), (2, 2))),
    ("GRUCell-unbatched-no-h", lambda: mt.GRUCell(2, 3), _seq((2,))),
]

# ids of INPUT_CASES that also have a PyTorch twin in tests/oracle.py (torch's dropout masks differ)
INPUT_ORACLE = {c[0] for c in INPUT_CASES} - {"LSTM-dropout-train"}
