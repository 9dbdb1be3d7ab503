"""Which layers export, and how: ``EMITTERS`` (class -> emitter) and ``NOT_EXPORTABLE`` (class -> why not).

An emitter ``fn(g, m, x, shape) -> y`` writes the ONNX nodes computing module ``m`` on the graph's
value ``x`` (an input of ``shape``, batch first) and returns the name of its output; ``@emitter(Cls)``
registers it.
"""

from __future__ import annotations

from collections.abc import Callable

from minitorch.layers import GRU, LSTM, RNN, Embedding, GRUCell, LSTMCell, RNNCell
from minitorch.layers.attention import MultiheadAttention
from minitorch.layers.max_unpool import MaxUnpool2d
from minitorch.layers.pooling1d import MaxUnpool1d
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_model import Transformer
from minitorch.module import Module
from minitorch.onnx.graph import _Graph

Emitter = Callable[[_Graph, Module, str, tuple[int, ...]], str]
EMITTERS: dict[type[Module], Emitter] = {}  # keyed by class: a subclass may compute something else
# Exported layers with no ONNX form, with the reason (the registry test reads this).
NOT_EXPORTABLE: dict[type[Module], str] = {}
# sequences: the exporter takes one floating input and gives one output
NOT_EXPORTABLE.update({cls: "integer ids or several inputs / tuple outputs" for cls in (
    Embedding, RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, MaxUnpool2d)})
NOT_EXPORTABLE.update({cls: "attention's ONNX form is not written yet (issue 14 left it out)"
                       for cls in (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder)})
NOT_EXPORTABLE.update({cls: "two inputs (tgt, memory): the exporter takes one; attention has no ONNX form yet"
                       for cls in (TransformerDecoderLayer, TransformerDecoder)})
NOT_EXPORTABLE[Transformer] = "two inputs (src, tgt): the exporter takes one; attention has no ONNX form yet"

NOT_EXPORTABLE[MaxUnpool1d] = ("two inputs (the pooled values and MaxPool1d's indices): the exporter takes "
                               "one; export the layers before it and unpool the graph's output")


def emitter(*classes: type[Module]) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for cls in classes:
            EMITTERS[cls] = fn
        return fn

    return register
