"""Attention and transformers: their constructor settings, read the same way from either library's module.

MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
TransformerDecoder and Transformer are converted whole (children included) through their
state_dicts; both directions share these readers of their settings and the checks that the layer's
children are the kinds its constructor builds.
"""

from __future__ import annotations

from typing import Any


def _mha_kwargs(x: Any) -> dict[str, Any]:
    """MultiheadAttention's constructor arguments, read from either library's module (same names)."""
    names = ("embed_dim", "num_heads", "dropout", "kdim", "vdim", "batch_first")
    return {**{k: getattr(x, k) for k in names}, "bias": x.in_proj_bias is not None}


def _encoder_kwargs(x: Any, convert: Any, where: str) -> dict[str, Any]:
    """TransformerEncoder's (or TransformerDecoder's) constructor arguments, its layer and norm
    converted by ``convert``.

    The constructor copies the first layer; ``_convert_layers`` then puts each layer's own conversion
    in its place, so a layer edited after construction (``enc.layers[1].norm_first = True``) stays so.
    """
    norm = None if x.norm is None else convert(x.norm, f"{where}.norm")
    stack = {"num_layers": len(x.layers), "norm": norm}
    if type(x).__name__ == "TransformerDecoder":
        return {"decoder_layer": convert(x.layers[0], f"{where}.layers.0"), **stack}
    return {"encoder_layer": convert(x.layers[0], f"{where}.layers.0"), **stack,
            "enable_nested_tensor": x.enable_nested_tensor, "mask_check": x.mask_check}


def _transformer_kwargs(x: Any, convert: Any, where: str) -> dict[str, Any]:
    """Transformer's constructor arguments: its encoder and decoder converted by ``convert`` and passed
    as custom_encoder / custom_decoder (whatever they are), with d_model, nhead and batch_first, the
    settings its forward checks. The constructor's xavier redraw is then overwritten by the state load."""
    return {"d_model": x.d_model, "nhead": x.nhead, "batch_first": x.batch_first,
            "custom_encoder": convert(x.encoder, f"{where}.encoder"),
            "custom_decoder": convert(x.decoder, f"{where}.decoder")}


def _convert_layers(source: Any, target: Any, convert: Any, where: str, direction: str) -> None:
    """target.layers[i] = convert(source.layers[i]) for each layer, each a TransformerEncoderLayer
    (TransformerDecoderLayer in a TransformerDecoder; a layer held twice is converted once: still one
    module)."""
    made: dict[int, Any] = {}
    stack = type(source).__name__
    kind = f"{stack}Layer"
    for i, layer in enumerate(source.layers):
        if type(layer).__name__ != kind:
            raise ValueError(
                f"{direction}: {where}.layers.{i} is a {type(layer).__name__}, not a "
                f"{kind}; a {stack} converts with {kind}s only"
            )
        if id(layer) not in made:
            made[id(layer)] = convert(layer, f"{where}.layers.{i}")
        target.layers[i] = made[id(layer)]


# Settings a TransformerEncoderLayer's constructor gives its children from one argument each, which
# each child then keeps on its own (an edit, layer.norm2.eps = 1e-6, makes them differ): a conversion
# copies them child by child, and refuses a child of another kind (which it would build as this kind)
_LAYER_CHILDREN = {
    "self_attn": ("MultiheadAttention", ("dropout", "batch_first")), "linear1": ("Linear", ()),
    "dropout": ("Dropout", ("p",)), "linear2": ("Linear", ()), "norm1": ("LayerNorm", ("eps",)),
    "norm2": ("LayerNorm", ("eps",)), "dropout1": ("Dropout", ("p",)), "dropout2": ("Dropout", ("p",)),
}


# a TransformerDecoderLayer's: the encoder layer's, a cross-attention, a third norm and dropout
_DECODER_LAYER_CHILDREN = {
    **_LAYER_CHILDREN, "multihead_attn": ("MultiheadAttention", ("dropout", "batch_first")),
    "norm3": ("LayerNorm", ("eps",)), "dropout3": ("Dropout", ("p",)),
}


def _layer_children(layer: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    return _DECODER_LAYER_CHILDREN if type(layer).__name__ == "TransformerDecoderLayer" else _LAYER_CHILDREN


def _check_layer_children(source: Any, where: str, direction: str) -> None:
    layer = type(source).__name__
    for child, (kind, _) in _layer_children(source).items():
        found = type(getattr(source, child, None)).__name__
        if found != kind:
            raise ValueError(
                f"{direction}: {where}.{child} is a {found}, not the {kind} a {layer} has "
                f"there; {direction} builds the layer as its constructor does, so it would not compute "
                f"this layer's function: put a {kind} back (Dropout(p=0.0) for no dropout)"
            )


def _copy_layer_settings(source: Any, target: Any) -> None:
    for child, (_, settings) in _layer_children(source).items():
        for setting in settings:
            setattr(getattr(target, child), setting, getattr(getattr(source, child), setting))
