"""The encoder-decoder Transformer, as torch.nn.Transformer: an encoder stack whose output feeds a decoder."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.init import xavier_uniform_
from minitorch.layers._redraw import check_writable
from minitorch.layers.attention_masks import generate_square_subsequent_mask
from minitorch.layers.layernorm import LayerNorm
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.layers.transformer_settings import check_layer_settings
from minitorch.module import Module


class Transformer(Module):
    """encoder(src) -> memory -> decoder(tgt, memory), as torch.nn.Transformer (arguments, defaults, names).

    Shapes:   src (N, S, d_model), tgt and y (N, T, d_model) with batch_first=True ((S|T, N, d_model)
              otherwise; unbatched (S|T, d_model)); the masks as the encoder's and the decoder's
    Forward:  memory = encoder(src, mask=src_mask, src_key_padding_mask=..., is_causal=src_is_causal)
              y = decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                          memory_key_padding_mask, tgt_is_causal, memory_is_causal)
    Backward: ``backward(dy)`` returns (dsrc, dtgt), one gradient per positional input, in the forward's
              order: dsrc has src's shape ((N, S, d_model), (S, N, d_model) or (S, d_model)) and dtgt
              has tgt's ((N, T, d_model), (T, N, d_model) or (T, d_model)); each parameter's gradient
              is accumulated by the child that owns it:
              dtgt, dmemory = decoder.backward(dy)      dmemory summed over the decoder's layers
              dsrc = encoder.backward(dmemory)
    Init:     encoder = TransformerEncoder(TransformerEncoderLayer(...), num_encoder_layers,
              LayerNorm(d_model)) and the decoder likewise (or custom_encoder / custom_decoder as
              given); then every parameter with 2 or more axes is redrawn xavier_uniform_ (torch's
              _reset_parameters; the custom ones too, as torch)
    Settings: d_model, nhead and batch_first are the constructor's record, as torch's: its forward
              checks the inputs against d_model and batch_first; the children read their own. The
              layer settings are checked by transformer_settings.check_layer_settings (errors name
              Transformer); with both custom_encoder and custom_decoder no layer is built and, as
              torch, they go unread
    Masks:    src_is_causal / tgt_is_causal None: the encoder's / decoder's detection of a causal
              src_mask / tgt_mask (see TransformerEncoder)
    Example:
        model = Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                            dim_feedforward=32, batch_first=True)
        y = model(src, tgt, tgt_mask=Transformer.generate_square_subsequent_mask(tgt.shape[1]))
        dsrc, dtgt = model.backward(np.ones_like(y))
    """

    _graded_inputs = 2  # src, tgt; a Parameter mask is trained by the attentions it feeds
    _leaf_keywords = ("src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask", "tgt_key_padding_mask",
                      "memory_key_padding_mask")

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Module = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "Transformer"
        for name, value in (("custom_encoder", custom_encoder), ("custom_decoder", custom_decoder)):
            if value is not None and not isinstance(value, Module):
                raise TypeError(f"{who}: {name} must be a Module or None, got {type(value).__name__}")
        if custom_encoder is None or custom_decoder is None:  # a layer is built: every setting is read
            s = check_layer_settings(self, d_model, nhead, dim_feedforward, dropout, activation,
                                     layer_norm_eps, batch_first, norm_first, bias, device, dtype)
            d_model, nhead, batch_first, factory = s.d_model, s.nhead, s.batch_first, s.factory
            layer_norm_eps, bias = s.layer_norm_eps, s.bias
            layer = (d_model, nhead, s.dim_feedforward, s.dropout, activation, s.layer_norm_eps, batch_first,
                     s.norm_first, s.bias)
        else:  # as torch, the layer settings go unread; the forward reads d_model and batch_first
            d_model = check_positive_int(d_model, who, "d_model")
            nhead = check_positive_int(nhead, who, "nhead")
            batch_first = check_bool(batch_first, who, "batch_first")
            factory = {"device": device, "dtype": factory_dtype(self, device, dtype)}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer, **factory),
                check_positive_int(num_encoder_layers, who, "num_encoder_layers"),
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer, **factory),
                check_positive_int(num_decoder_layers, who, "num_decoder_layers"),
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self) -> None:
        """torch's ``Transformer._reset_parameters``: in place, each Parameter with 2 or more axes (in
        ``parameters()`` order, the children's, custom ones included) redrawn xavier_uniform_ with the
        library's RNG; 1-axis ones (biases, the norms' weights) are kept."""
        names = [name for name, p in self.named_parameters() if p.ndim > 1]
        check_writable(self, "_reset_parameters", names)
        for name in names:
            xavier_uniform_(self.get_parameter(name))

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(
        self,
        src: np.ndarray,
        tgt: np.ndarray,
        src_mask: np.ndarray | None = None,
        tgt_mask: np.ndarray | None = None,
        memory_mask: np.ndarray | None = None,
        src_key_padding_mask: np.ndarray | None = None,
        tgt_key_padding_mask: np.ndarray | None = None,
        memory_key_padding_mask: np.ndarray | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> np.ndarray:
        parameter_dtype(self, recurse=True)  # children of two dtypes: a TypeError, as torch raises
        src, tgt = as_floating(src, "Transformer"), as_floating(tgt, "Transformer")
        axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[axis] != tgt.shape[axis]):
            raise ValueError(f"Transformer: the batch number of src and tgt must be equal "
                             f"(batch_first={self.batch_first}), got src {src.shape} and tgt {tgt.shape}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src and tgt must be d_model={self.d_model},"
                             " "
                             f"got src {src.shape} and tgt {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dsrc, dtgt): the decoder's dmemory runs back through the encoder (see the class docstring)."""
        dtgt, dmemory = self.decoder.backward(dy)
        return self.encoder.backward(dmemory), dtgt

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, nhead={self.nhead}, batch_first={self.batch_first}"
