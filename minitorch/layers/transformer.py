"""Transformer encoder: the self-attention + feed-forward block and a stack of independent copies."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_positive_int
from minitorch.containers import ModuleList
from minitorch.dtypes import as_floating, parameter_dtype
from minitorch.layers.activations import GELU, ReLU
from minitorch.layers.attention import MultiheadAttention
from minitorch.layers.attention_masks import sequence_length, stack_causal_hint
from minitorch.layers.dropout import Dropout
from minitorch.layers.layernorm import LayerNorm
from minitorch.layers.linear import Linear
from minitorch.layers.transformer_settings import check_layer_settings
from minitorch.module import Module


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each with a residual sum and LayerNorm, as torch's.

    Shapes:   src, y (N, T, d_model) with batch_first=True, (T, N, d_model) otherwise, (T, d_model) unbatched
              src_mask (T, T) or (N*nhead, T, T)   src_key_padding_mask (N, T)   (bool True = may not attend)
    Forward:  sa(x) = dropout1(self_attn(x, x, x, src_mask, src_key_padding_mask, need_weights=False)[0])
              ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))
              post-norm (norm_first=False):  h = norm1(src + sa(src));   y = norm2(h + ff(h))
              pre-norm  (norm_first=True):   h = src + sa(norm1(src));   y = h + ff(norm2(h))
    Backward: (the residual sums split the gradient: this layer writes its own backward)
              post-norm:  dh = norm2.backward(dy);  dh = dh + ff.backward(dh)
                          da = norm1.backward(dh);  dsrc = da + sum(self_attn.backward(dropout1.backward(da)))
              pre-norm:   dh = dy + norm2.backward(ff.backward(dy))
                          dsrc = dh + norm1.backward(sum(self_attn.backward(dropout1.backward(dh))))
              (self-attention: dquery + dkey + dvalue, all three inputs are the same x)
              every parameter's gradient is accumulated by the child that owns it
    Init:     the children's own (MultiheadAttention: xavier; Linear: U(-k, k); LayerNorm: 1, 0)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Settings: checked by transformer_settings.check_layer_settings (shared with the decoder layer and
    Transformer). d_model, nhead, dim_feedforward, layer_norm_eps and batch_first are the constructor's
    record (torch's layer keeps none of them, so setting one there, or here, changes nothing): the
    forward reads the children's (self_attn.batch_first and num_heads, norm1.eps, norm2.eps, the
    Linears' shapes), and so does the repr. norm_first and activation are the layer's own, read at
    every forward, as torch's.
    activation: "relu", "gelu" (exact, erf) or an element-wise Module, e.g. GELU(approximate="tanh")
    (GPT-2's form). torch's takes any callable; here a function, a torch module or a Module class is
    a ValueError naming what to pass (the backward needs a Module's).
    Example:
        layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        y = layer(np.random.randn(2, 5, 16), src_mask=generate_square_subsequent_mask(5))
        dx = layer.backward(np.ones((2, 5, 16)))
    """

    _graded_inputs = 1  # src; a Parameter mask (a learned bias) is trained by self_attn
    _leaf_keywords = ("src_mask", "src_key_padding_mask")

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
        # children in torch's order, so parameters() and state_dict() list as torch's do; each child is
        # built with the factory keywords, as torch's
        self.self_attn = MultiheadAttention(s.d_model, s.nhead, dropout=s.dropout, bias=s.bias,
                                            batch_first=s.batch_first, **s.factory)
        self.linear1 = Linear(s.d_model, s.dim_feedforward, bias=s.bias, **s.factory)
        self.dropout = Dropout(s.dropout)
        self.linear2 = Linear(s.dim_feedforward, s.d_model, bias=s.bias, **s.factory)
        self.norm1 = LayerNorm(s.d_model, eps=s.layer_norm_eps, bias=s.bias, **s.factory)
        self.norm2 = LayerNorm(s.d_model, eps=s.layer_norm_eps, bias=s.bias, **s.factory)
        self.dropout1 = Dropout(s.dropout)
        self.dropout2 = Dropout(s.dropout)
        self.activation = s.activation

    @property
    def activation_name(self) -> str | None:
        """"relu" or "gelu" while the activation is the module that name builds, else None (read from
        the module, so an edit, layer.activation = GELU(), shows)."""
        if type(self.activation) is ReLU:
            return "relu"
        if type(self.activation) is GELU and self.activation.approximate == "none":
            return "gelu"
        return None

    def forward(
        self,
        src: np.ndarray,
        src_mask: np.ndarray | None = None,
        src_key_padding_mask: np.ndarray | None = None,
        is_causal: bool = False,
    ) -> np.ndarray:
        dtype = parameter_dtype(self, recurse=True)  # children of two dtypes: a TypeError (torch raises)
        src = as_floating(src, "TransformerEncoderLayer").astype(dtype, copy=False)
        masks = {"attn_mask": src_mask, "key_padding_mask": src_key_padding_mask, "is_causal": is_causal}
        self.self_attn.check_inputs(src, src, src, **masks)  # bad input: an error before any child runs
        self._shape = src.shape
        # norm_first and activation are read at every forward, as torch's; the backward of a call
        # follows the path that call took (a Module kept in a tuple: a cache, not a child)
        self._norm_first, self._act = self.norm_first, (self.activation,)
        if self._norm_first:
            h = src + self._sa_block(self.norm1(src), masks)
            return h + self._ff_block(self.norm2(h))
        h = self.norm1(src + self._sa_block(src, masks))
        return self.norm2(h + self._ff_block(h))

    def _sa_block(self, x: np.ndarray, masks: dict[str, Any]) -> np.ndarray:
        return self.dropout1(self.self_attn(x, x, x, need_weights=False, **masks)[0])

    def _ff_block(self, x: np.ndarray) -> np.ndarray:
        return feed_forward(self, x, self.dropout2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dsrc from dy; each child accumulates its own parameters' gradients (see the class docstring)."""
        dy = self._check_grad(dy, self._cached(self._shape), self.linear1.W.dtype)
        if self._norm_first:
            dh = dy + self.norm2.backward(self._ff_block_backward(dy))
            return dh + self.norm1.backward(self._sa_block_backward(dh))
        dh = self.norm2.backward(dy)
        dh = dh + self._ff_block_backward(dh)
        da = self.norm1.backward(dh)
        return da + self._sa_block_backward(da)

    def _sa_block_backward(self, dy: np.ndarray) -> np.ndarray:
        dquery, dkey, dvalue = self.self_attn.backward(self.dropout1.backward(dy))
        return dquery + dkey + dvalue  # one x fed all three inputs

    def _ff_block_backward(self, dy: np.ndarray) -> np.ndarray:
        return feed_forward_backward(self, dy, self.dropout2)

    def extra_repr(self) -> str:
        """The settings the forward reads: the children's (the layer's own record may be stale)."""
        attn = self.self_attn
        return (
            f"d_model={attn.embed_dim}, nhead={attn.num_heads}, dim_feedforward={self.linear1.out_features}, "
            f"activation={self.activation_name or self.activation!r}, batch_first={attn.batch_first}, "
            f"norm_first={self.norm_first}"
        )


def feed_forward(layer: Module, x: np.ndarray, out_dropout: Dropout) -> np.ndarray:
    """A transformer layer's feed-forward block: out_dropout(linear2(dropout(activation(linear1(x))))).

    ``layer`` has children linear1, dropout, linear2 and the activation its forward read (``layer._act``);
    ``out_dropout`` is the block's last Dropout (the encoder's dropout2, the decoder's dropout3).
    """
    return out_dropout(layer.linear2(layer.dropout(layer._act[0](layer.linear1(x)))))


def feed_forward_backward(layer: Module, dy: np.ndarray, out_dropout: Dropout) -> np.ndarray:
    """dx of ``feed_forward(layer, x, out_dropout)``; linear1 and linear2 accumulate their gradients."""
    d = layer.linear2.backward(out_dropout.backward(dy))
    return layer.linear1.backward(layer._act[0].backward(layer.dropout.backward(d)))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` independent copies of ``encoder_layer``, then an optional norm, as torch's.

    Shapes:   src, y as the layer's   mask (T, T) or (N*nhead, T, T)   src_key_padding_mask (N, T)
    Forward:  h_0 = src;  h_i = layers[i](h_{i-1}, src_mask=mask, src_key_padding_mask=..., is_causal=...)
              y = norm(h_k)  (y = h_k if norm is None)
    Backward: dh_k = norm.backward(dy) (or dy);  dh_{i-1} = layers[i].backward(dh_i);  dsrc = dh_0
    Masks:    is_causal=None (torch's default) is torch's detection (attention_masks.stack_causal_hint):
              True when mask equals generate_square_subsequent_mask(T) in its own dtype, T read from
              src with layers[0].self_attn.batch_first; every layer gets the hint. A learned mask so
              detected is trained with a src_key_padding_mask (as torch) and refused without one
              (torch drops it: no gradient), naming is_causal=False or a frozen mask as the fixes
    Init:     each layer is a deep copy of ``encoder_layer`` (same starting weights, trained apart);
              ``encoder_layer`` itself is not part of the model. enable_nested_tensor and mask_check
              are accepted for PyTorch's signature and have no effect: this computes torch's autograd
              path in every mode (torch's eval + no_grad forward with a padding mask runs on nested
              tensors and gives 0 at padded positions; docs/attention.md, "Which of PyTorch's paths").
    Example:
        enc = TransformerEncoder(TransformerEncoderLayer(16, 4, 32, batch_first=True), num_layers=2)
        y = enc(x, mask=generate_square_subsequent_mask(x.shape[1]));  dx = enc.backward(dy)
    """

    _graded_inputs = 1  # src; a Parameter mask is trained by each layer's self_attn (the sum of theirs)
    _leaf_keywords = ("mask", "src_key_padding_mask")

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(
                f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}"
            )
        if norm is not None and not isinstance(norm, Module):
            raise TypeError(f"TransformerEncoder: norm must be a Module or None, got {type(norm).__name__}")
        self.num_layers = check_positive_int(num_layers, "TransformerEncoder", "num_layers")
        self.enable_nested_tensor = check_bool(enable_nested_tensor, "TransformerEncoder",
                                               "enable_nested_tensor")
        self.mask_check = check_bool(mask_check, "TransformerEncoder", "mask_check")
        # a container named "layers" with children "0", "1", ...: torch's state_dict names
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(self.num_layers)])
        self.norm = norm

    def forward(
        self,
        src: np.ndarray,
        mask: np.ndarray | None = None,
        src_key_padding_mask: np.ndarray | None = None,
        is_causal: bool | None = None,
    ) -> np.ndarray:
        parameter_dtype(self, recurse=True)  # layers (or norm) of two dtypes: a TypeError, as torch raises
        is_causal = stack_causal_hint(mask, is_causal, src_key_padding_mask, stack_sequence_length(self, src),
                                      who="TransformerEncoder", names=("mask", "is_causal"))
        h = src
        for layer in self.layers:
            h = layer(h, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return h if self.norm is None else self.norm(h)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dh = dy if self.norm is None else self.norm.backward(dy)
        for layer in reversed(list(self.layers)):
            dh = layer.backward(dh)
        return dh

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}"


def stack_sequence_length(stack: Module, x: Any) -> int | None:
    """T of a stack's input as torch reads it, with its first layer's self_attn.batch_first (None for a
    custom layer without one: the causal detection then takes the mask's own size)."""
    batch_first = getattr(getattr(stack.layers[0], "self_attn", None), "batch_first", None)
    return None if batch_first is None else sequence_length(x, batch_first)
