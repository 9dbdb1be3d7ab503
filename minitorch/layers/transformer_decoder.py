"""Transformer decoder: self-attention, cross-attention over memory, feed-forward; and a stack of copies."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from minitorch.checks import check_positive_int
from minitorch.containers import ModuleList
from minitorch.dtypes import as_floating, parameter_dtype
from minitorch.layers.activations import GELU, ReLU
from minitorch.layers.attention import MultiheadAttention
from minitorch.layers.attention_masks import stack_causal_hint
from minitorch.layers.dropout import Dropout
from minitorch.layers.layernorm import LayerNorm
from minitorch.layers.linear import Linear
from minitorch.layers.transformer import feed_forward, feed_forward_backward, stack_sequence_length
from minitorch.layers.transformer_settings import check_layer_settings
from minitorch.module import Module


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory``, then a feed-forward network, each with a residual
    sum and LayerNorm, as torch.nn.TransformerDecoderLayer.

    Shapes:   tgt, y (N, T, d_model) with batch_first=True, (T, N, d_model) otherwise, (T, d_model) unbatched
              memory (N, S, d_model), (S, N, d_model) or (S, d_model), laid out as tgt
              tgt_mask (T, T) or (N*nhead, T, T)   memory_mask (T, S) or (N*nhead, T, S)
              tgt_key_padding_mask (N, T)   memory_key_padding_mask (N, S)   (bool True = may not attend;
              float: added to the scores)
    Forward:  sa(x)  = dropout1(self_attn(x, x, x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)[0])
              mha(x) = dropout2(multihead_attn(x, memory, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal)[0])
              ff(x)  = dropout3(linear2(dropout(activation(linear1(x)))))      (need_weights=False, as torch)
              post-norm (norm_first=False): x1 = norm1(tgt + sa(tgt)); x2 = norm2(x1 + mha(x1))
                                            y = norm3(x2 + ff(x2))
              pre-norm  (norm_first=True):  x1 = tgt + sa(norm1(tgt)); x2 = x1 + mha(norm2(x1))
                                            y = x2 + ff(norm3(x2))
    Backward: ``backward(dy)`` returns (dtgt, dmemory), each of its input's shape, as MultiheadAttention
              returns one gradient per input; every parameter's gradient is accumulated by its child
              post-norm:  d = norm3.backward(dy);  dx2 = d + ff.backward(d)
                          d = norm2.backward(dx2); dq, dk, dv = multihead_attn.backward(dropout2.backward(d))
                          dx1 = d + dq;  dmemory = dk + dv
                          d = norm1.backward(dx1); dtgt = d + sum(self_attn.backward(dropout1.backward(d)))
              pre-norm:   dx2 = dy + norm3.backward(ff.backward(dy))
                          dq, dk, dv = multihead_attn.backward(dropout2.backward(dx2))
                          dx1 = dx2 + norm2.backward(dq);  dmemory = dk + dv
                          dtgt = dx1 + norm1.backward(sum(self_attn.backward(dropout1.backward(dx1))))
    Masks:    each attention's as MultiheadAttention's (bool or float, a learned float mask trained by
              the attention it feeds); tgt_is_causal / memory_is_causal are torch's hints that
              tgt_mask / memory_mask is the causal mask (the mask is then required and must be causal)
    Init:     the children's own (MultiheadAttention: xavier; Linear: U(-k, k); LayerNorm: 1, 0)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64)
    Settings: checked by transformer_settings.check_layer_settings, as TransformerEncoderLayer's:
    d_model, nhead, dim_feedforward, layer_norm_eps and batch_first are the constructor's record (the
    forward reads the children's); norm_first and activation are read at every forward. activation:
    "relu", "gelu" (exact) or an element-wise Module (a function or a torch module is a ValueError
    naming what to pass).
    Example:
        layer = TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        y = layer(tgt, memory, tgt_mask=generate_square_subsequent_mask(tgt.shape[1]))
        dtgt, dmemory = layer.backward(np.ones_like(y))
    """

    _graded_inputs = 2  # tgt, memory; a Parameter mask (a learned bias) is trained by its attention
    _leaf_keywords = ("tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Module = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        s = check_layer_settings(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                 batch_first, norm_first, bias, device, dtype)
        self.d_model, self.nhead, self.dim_feedforward = s.d_model, s.nhead, s.dim_feedforward
        self.layer_norm_eps, self.batch_first, self.norm_first = s.layer_norm_eps, s.batch_first, s.norm_first
        # children in torch's order, so parameters() and state_dict() list as torch's do
        for name in ("self_attn", "multihead_attn"):
            setattr(self, name, MultiheadAttention(s.d_model, s.nhead, dropout=s.dropout, bias=s.bias,
                                                   batch_first=s.batch_first, **s.factory))
        self.linear1 = Linear(s.d_model, s.dim_feedforward, bias=s.bias, **s.factory)
        self.dropout = Dropout(s.dropout)
        self.linear2 = Linear(s.dim_feedforward, s.d_model, bias=s.bias, **s.factory)
        for name in ("norm1", "norm2", "norm3"):
            setattr(self, name, LayerNorm(s.d_model, eps=s.layer_norm_eps, bias=s.bias, **s.factory))
        for name in ("dropout1", "dropout2", "dropout3"):
            setattr(self, name, Dropout(s.dropout))
        self.activation = s.activation

    @property
    def activation_name(self) -> str | None:
        """"relu" or "gelu" while the activation is the module that name builds, else None."""
        if type(self.activation) is ReLU:
            return "relu"
        if type(self.activation) is GELU and self.activation.approximate == "none":
            return "gelu"
        return None

    def forward(
        self,
        tgt: np.ndarray,
        memory: np.ndarray,
        tgt_mask: np.ndarray | None = None,
        memory_mask: np.ndarray | None = None,
        tgt_key_padding_mask: np.ndarray | None = None,
        memory_key_padding_mask: np.ndarray | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> np.ndarray:
        dtype = parameter_dtype(self, recurse=True)  # children of two dtypes: a TypeError (torch raises)
        tgt = as_floating(tgt, "TransformerDecoderLayer").astype(dtype, copy=False)
        memory = as_floating(memory, "TransformerDecoderLayer").astype(dtype, copy=False)
        self_masks = {"attn_mask": tgt_mask, "key_padding_mask": tgt_key_padding_mask,
                      "is_causal": tgt_is_causal}
        cross_masks = {"attn_mask": memory_mask, "key_padding_mask": memory_key_padding_mask,
                       "is_causal": memory_is_causal}
        # bad input: an error before any child runs (x1, the cross-attention's query, has tgt's shape)
        self.self_attn.check_inputs(tgt, tgt, tgt, **self_masks)
        self.multihead_attn.check_inputs(tgt, memory, memory, **cross_masks)
        self._shape = tgt.shape
        self._norm_first, self._act = self.norm_first, (self.activation,)
        if self._norm_first:
            x = tgt + self._sa_block(self.norm1(tgt), self_masks)
            x = x + self._mha_block(self.norm2(x), memory, cross_masks)
            return x + feed_forward(self, self.norm3(x), self.dropout3)
        x = self.norm1(tgt + self._sa_block(tgt, self_masks))
        x = self.norm2(x + self._mha_block(x, memory, cross_masks))
        return self.norm3(x + feed_forward(self, x, self.dropout3))

    def _sa_block(self, x: np.ndarray, masks: dict[str, Any]) -> np.ndarray:
        return self.dropout1(self.self_attn(x, x, x, need_weights=False, **masks)[0])

    def _mha_block(self, x: np.ndarray, memory: np.ndarray, masks: dict[str, Any]) -> np.ndarray:
        return self.dropout2(self.multihead_attn(x, memory, memory, need_weights=False, **masks)[0])

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dtgt, dmemory) from dy; each child accumulates its own parameters' gradients (class docstring)."""
        dy = self._check_grad(dy, self._cached(self._shape), self.linear1.W.dtype)
        if self._norm_first:
            dx2 = dy + self.norm3.backward(feed_forward_backward(self, dy, self.dropout3))
            dquery, dmemory = self._mha_block_backward(dx2)
            dx1 = dx2 + self.norm2.backward(dquery)
            return dx1 + self.norm1.backward(self._sa_block_backward(dx1)), dmemory
        d = self.norm3.backward(dy)
        dx2 = d + feed_forward_backward(self, d, self.dropout3)
        d = self.norm2.backward(dx2)
        dquery, dmemory = self._mha_block_backward(d)
        d = self.norm1.backward(d + dquery)
        return d + self._sa_block_backward(d), dmemory

    def _sa_block_backward(self, dy: np.ndarray) -> np.ndarray:
        dquery, dkey, dvalue = self.self_attn.backward(self.dropout1.backward(dy))
        return dquery + dkey + dvalue  # one x fed all three inputs

    def _mha_block_backward(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dquery, dkey, dvalue = self.multihead_attn.backward(self.dropout2.backward(dy))
        return dquery, dkey + dvalue  # memory fed key and value

    def extra_repr(self) -> str:
        """The settings the forward reads: the children's (the layer's own record may be stale)."""
        attn = self.self_attn
        return (
            f"d_model={attn.embed_dim}, nhead={attn.num_heads}, dim_feedforward={self.linear1.out_features}, "
            f"activation={self.activation_name or self.activation!r}, batch_first={attn.batch_first}, "
            f"norm_first={self.norm_first}"
        )


class TransformerDecoder(Module):
    """A stack of ``num_layers`` independent copies of ``decoder_layer``, then an optional norm, as torch's.

    Shapes:   tgt, memory, y and the masks as TransformerDecoderLayer's
    Forward:  h_0 = tgt;  h_i = layers[i](h_{i-1}, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                                          memory_key_padding_mask, tgt_is_causal, memory_is_causal)
              y = norm(h_k)  (y = h_k if norm is None)
    Backward: ``backward(dy)`` returns (dtgt, dmemory), as TransformerDecoderLayer's:
              dh_k = norm.backward(dy) (or dy);  dh_{i-1}, dmemory_i = layers[i].backward(dh_i)
              dtgt = dh_0;  dmemory = sum_i dmemory_i   (memory feeds every layer's cross-attention)
    Masks:    tgt_is_causal=None (torch's default) is torch's detection, as TransformerEncoder's
              is_causal=None (attention_masks.stack_causal_hint): True when tgt_mask equals
              generate_square_subsequent_mask(T) in its dtype (bool: True above the diagonal), T read
              from tgt; a detected causal mask gives the same output as the mask itself; a learned
              one is trained with a tgt_key_padding_mask and refused by name without one
    Init:     each layer is a deep copy of ``decoder_layer`` (same starting weights, trained apart);
              ``decoder_layer`` itself is not part of the model
    Example:
        dec = TransformerDecoder(TransformerDecoderLayer(16, 4, 32, batch_first=True), num_layers=2)
        y = dec(tgt, memory, tgt_mask=generate_square_subsequent_mask(tgt.shape[1]))
        dtgt, dmemory = dec.backward(dy)
    """

    _graded_inputs = 2  # tgt, memory; a Parameter mask is trained by each layer's attention (their sum)
    _leaf_keywords = ("tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask")

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(
                f"TransformerDecoder: decoder_layer must be a Module, got {type(decoder_layer).__name__}"
            )
        if norm is not None and not isinstance(norm, Module):
            raise TypeError(f"TransformerDecoder: norm must be a Module or None, got {type(norm).__name__}")
        self.num_layers = check_positive_int(num_layers, "TransformerDecoder", "num_layers")
        # a container named "layers" with children "0", "1", ...: torch's state_dict names
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(self.num_layers)])
        self.norm = norm

    def forward(
        self,
        tgt: np.ndarray,
        memory: np.ndarray,
        tgt_mask: np.ndarray | None = None,
        memory_mask: np.ndarray | None = None,
        tgt_key_padding_mask: np.ndarray | None = None,
        memory_key_padding_mask: np.ndarray | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> np.ndarray:
        parameter_dtype(self, recurse=True)  # layers (or norm) of two dtypes: a TypeError, as torch raises
        tgt_is_causal = stack_causal_hint(tgt_mask, tgt_is_causal, tgt_key_padding_mask,
                                          stack_sequence_length(self, tgt), who="TransformerDecoder",
                                          names=("tgt_mask", "tgt_is_causal"))
        h = tgt
        for layer in self.layers:
            h = layer(h, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=bool(memory_is_causal))
        return h if self.norm is None else self.norm(h)

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dtgt, dmemory): dmemory is the sum of every layer's (see the class docstring)."""
        dh = dy if self.norm is None else self.norm.backward(dy)
        dmemory = None
        for layer in reversed(list(self.layers)):
            dh, dm = layer.backward(dh)
            dmemory = dm if dmemory is None else dmemory + dm
        return dh, dmemory

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}"
