"""Fans by MiniTorch's layout convention (the package docstring's FAN CONVENTION): which axis of a
weight is its input, read from the layer that owns it."""

from __future__ import annotations

import math
import re

import numpy as np

from minitorch import module as module_registry
from minitorch.init._arrays import _array
from minitorch.module import Parameter
from minitorch.parameter import TransposedView


def calculate_fan_in_and_fan_out(tensor: Parameter | np.ndarray) -> tuple[int, int]:
    """(fan_in, fan_out) by MiniTorch's convention: 2-D is (in, out), >= 3-D is (out, in, *kernel)."""
    shape = _array(tensor, "calculate_fan_in_and_fan_out", writes=False).shape
    if len(shape) == 2 and _in_torchs_layout(tensor):
        shape = shape[::-1]  # (out, in), as torch stores it: Linear.weight, an LSTM's weight_ih_l0...
    if len(shape) < 2:
        raise ValueError(
            f"calculate_fan_in_and_fan_out: expected an array of 2 or more dimensions, got shape {shape}"
        )
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _in_torchs_layout(tensor: Parameter | np.ndarray) -> bool:
    """Whether ``tensor`` (2-D) is in torch's (out, in) layout: a view in torch's layout
    (``Linear.weight``) or a Parameter of a MiniTorch layer that stores it in torch's layout.

    The layers and their transposed names are the interop table's (``module.TORCH_LAYOUT``: only
    Linear's W is stored transposed); a Parameter of no layer or of a module of your own is not, nor
    one a layer no longer holds (a W replaced by ``linear.W = ...`` is back to (in, out)). A subclass
    of a layer (``class MyLSTM(mt.LSTM)``) stores the layer's weights as the layer does, so they count
    as the layer's; a 2-D Parameter the subclass adds (a name that is no weight of such a layer, as
    ``_LAYER_WEIGHT`` spells them) is one of your own, (in, out).
    """
    if isinstance(tensor, TransposedView):
        return True
    if not isinstance(tensor, Parameter):
        return False
    for ref in module_registry._owners.get(tensor, ()):
        owner = ref()
        layer = None if owner is None else _table_layer(type(owner))
        names = [] if layer is None else [name for name, p in owner._parameters.items() if p is tensor]
        if layer is not type(owner):  # a subclass: only the weights the layer itself makes
            names = [name for name in names if _LAYER_WEIGHT.fullmatch(name)]
        if names:  # a layer of the table holds it now, under these names
            return not any(name in module_registry.TORCH_LAYOUT[layer] for name in names)
    return False


# the names of the Parameters of 2+ dims the table's layers make in torch's layout (Embedding,
# OutProjection: weight; LayerNorm((3, 4)): weight, bias; RNN/LSTM/GRU: weight_ih_l0,
# weight_hr_l1_reverse...; their cells: weight_ih; attention: in_proj_weight, q_proj_weight...);
# tests/test_init.py checks every layer's such Parameters match
_LAYER_WEIGHT = re.compile(r"weight|bias|weight_(ih|hh|hr)(_l\d+(_reverse)?)?|(in|q|k|v)_proj_weight")


def _table_layer(cls: type) -> type | None:
    """The first class of ``cls``'s MRO that the layout table lists (``cls`` itself for a layer)."""
    return next((base for base in cls.__mro__ if base in module_registry.TORCH_LAYOUT), None)
