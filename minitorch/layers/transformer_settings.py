"""The constructor settings a transformer layer is built from, checked once for every class that takes them.

TransformerEncoderLayer, TransformerDecoderLayer and Transformer take torch's layer settings (d_model,
nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias, device,
dtype); ``check_layer_settings`` reads them all, so a fix to one check lands in every class, and its
errors name the class that was built.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from minitorch.checks import SettingTypeError, check_bool, check_choice, check_number, check_positive_int
from minitorch.dtypes import factory_dtype
from minitorch.layers.activations import GELU, ReLU
from minitorch.module import Module


class LayerSettings(NamedTuple):
    """A transformer layer's settings as checked: Python ints, floats and bools, the activation a Module,
    and ``factory`` the keywords every child is built with ({"device": ..., "dtype": np.dtype})."""

    d_model: int
    nhead: int
    dim_feedforward: int
    dropout: float
    activation: Module
    layer_norm_eps: float
    batch_first: bool
    norm_first: bool
    bias: bool
    factory: dict[str, Any]


def check_layer_settings(
    module: Module, d_model: Any, nhead: Any, dim_feedforward: Any, dropout: Any, activation: Any,
    layer_norm_eps: Any, batch_first: Any, norm_first: Any, bias: Any, device: Any, dtype: Any,
) -> LayerSettings:
    """Every layer setting checked, in torch's argument order, each error naming ``type(module)``.

    d_model, nhead, dim_feedforward: positive integers, d_model divisible by nhead (torch's attention
    asserts it); dropout in [0, 1]; activation as ``checked_activation``; layer_norm_eps >= 0;
    batch_first, norm_first, bias: True or False; device, dtype: torch's factory keywords (CPU only;
    float32, float64: ``dtypes.factory_dtype``).
    """
    who = type(module).__name__
    d_model = check_positive_int(d_model, who, "d_model")
    nhead = check_positive_int(nhead, who, "nhead")
    if d_model % nhead:
        raise ValueError(f"{who}: d_model must be divisible by nhead (the attention's heads split it), "
                         f"got d_model={d_model}, nhead={nhead}")
    return LayerSettings(
        d_model=d_model,
        nhead=nhead,
        dim_feedforward=check_positive_int(dim_feedforward, who, "dim_feedforward"),
        dropout=check_number(dropout, who, "dropout", 0, 1),
        activation=checked_activation(activation, who),
        layer_norm_eps=check_number(layer_norm_eps, who, "layer_norm_eps", 0),
        batch_first=check_bool(batch_first, who, "batch_first"),
        norm_first=check_bool(norm_first, who, "norm_first"),
        bias=check_bool(bias, who, "bias"),
        factory={"device": device, "dtype": factory_dtype(module, device, dtype)},
    )


def checked_activation(activation: Any, who: str) -> Module:
    """A transformer layer's activation as a Module: "relu" -> ReLU(), "gelu" -> GELU(), a Module as
    given; anything else a ValueError from ``who`` naming what to pass."""
    if isinstance(activation, str):
        check_choice(activation, who, "activation", ("relu", "gelu"))
        return ReLU() if activation == "relu" else GELU()
    if not isinstance(activation, Module):  # torch takes a callable; here an element-wise Module
        raise SettingTypeError(_activation_refusal(activation, who))
    return activation


def _activation_refusal(activation: Any, who: str = "TransformerEncoderLayer") -> str:
    """Why ``activation`` (neither a string nor a Module) is refused, and what to pass instead."""
    head = f"{who}: activation must be 'relu', 'gelu' or an element-wise MiniTorch Module"
    name = getattr(activation, "__name__", type(activation).__name__)
    if isinstance(activation, type) and issubclass(activation, Module):
        return f"{head}, got the class {name}: pass an instance: mt.{name}()"
    if type(activation).__module__.split(".")[0] == "torch":
        return (f"{head}, got torch's {activation!r}: pass MiniTorch's module of the same name (e.g. "
                "mt.GELU(approximate='tanh')), or convert the torch layer whole with mt.interop.from_torch")
    return (f"{head} (its backward is needed too), got {activation!r}: for torch's F.relu / F.gelu pass "
            "'relu' / 'gelu'; for another function its module, e.g. mt.GELU(), mt.Tanh(), mt.SiLU()")
