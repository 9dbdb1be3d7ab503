"""Weight initialisation, as torch.nn.init: fill a Parameter (or array) in place, return it.

Every draw comes from ``minitorch.random.generator()``, so ``mt.manual_seed(s)`` makes it
reproducible (or from ``generator=``, a NumPy Generator, as torch's ``generator=`` argument);
values are written in the array's own dtype (float32 stays float32). Every function of
``torch.nn.init`` is here with its signature, but its deprecated names without the trailing ``_``.

FAN CONVENTION (read this before initialising a Linear by hand)
    MiniTorch's ``Linear`` stores W as (in, out), the TRANSPOSE of torch's (out, in) weight. The fans
    here follow the layer, not the axis order, so every layer's weight gets the fans torch gives the
    same layer:
        Linear's W, a 2-D array or a 2-D Parameter of your own module (in, out):
                                         fan_in = shape[0]             fan_out = shape[1]
        a 2-D Parameter of a MiniTorch layer that keeps torch's layout (Embedding, RNN/LSTM/GRU and
        their cells, MultiheadAttention, LayerNorm...) (out, in):
                                         fan_in = shape[1]             fan_out = shape[0]
        3-D or more (out, in, *kernel):  fan_in = shape[1] * prod(kernel)   fan_out = shape[0] * prod(kernel)
    (the >= 3-D case is torch's own: convolution weights are stored as torch stores them).
    A subclass of a layer (``class MyLSTM(mt.LSTM)``) keeps the layer's layout for the weights the
    layer makes; a 2-D Parameter the subclass adds is one of your own, (in, out).
    So ``kaiming_uniform_(linear.W)`` equals torch's ``kaiming_uniform_(linear.weight)`` in law, and
    ``kaiming_uniform_(lstm.weight_ih_l0)`` torch's for the same LSTM; with one rule for every 2-D
    array one of the two would have its fans swapped. ``sparse_`` reads the layout the same way
    (it zeros within torch's columns: a row of a Linear's W); ``orthogonal_`` and ``eye_`` need no
    layout (the transpose of their result is their result on the transposed shape).

Example:
    layer = mt.Linear(784, 256)
    mt.init.kaiming_normal_(layer.W, nonlinearity="relu")   # std = sqrt(2 / 784)
    mt.init.zeros_(layer.b)
"""

# One concept per file, every name re-exported here: fills (uniform_, normal_, constant_, zeros_, ones_),
# truncated (trunc_normal_), fans (calculate_fan_in_and_fan_out, the layout convention above), scaled
# (calculate_gain, xavier_*, kaiming_*), structured (eye_, dirac_, orthogonal_, sparse_); _arrays: the
# array and generator checks they share.

from minitorch.init.fans import calculate_fan_in_and_fan_out
from minitorch.init.fills import constant_, normal_, ones_, uniform_, zeros_
from minitorch.init.scaled import (
    calculate_gain,
    kaiming_normal_,
    kaiming_uniform_,
    xavier_normal_,
    xavier_uniform_,
)
from minitorch.init.structured import dirac_, eye_, orthogonal_, sparse_
from minitorch.init.truncated import trunc_normal_

# in the order the API page shows them (docs/api/optim.md: members_order: __all__)
__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "trunc_normal_", "constant_",
    "zeros_", "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
]
