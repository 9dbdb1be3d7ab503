"""What passes between a module and its twin in the other library: state arrays, requires_grad, ties.

The state arrays are copied (transposed where ``LAYERS`` says the two libraries store them
transposed) under each library's names; each Parameter's ``requires_grad`` is carried over; a
Parameter shared by two layers is made one Parameter again after the conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.interop.layer_table import LAYERS, _Layer
from minitorch.module import Module


def _own_state(m: Module) -> dict[str, np.ndarray]:
    """The module's own Parameters and buffers (a converted layer has no children)."""
    state = {name: p.data for name, p in m._parameters.items() if p is not None}
    state.update((name, b) for name, b in m._buffers.items() if b is not None)
    return state


def _empty_slots(source: Any, target: Any) -> None:
    """Empty ``target``'s buffers that are None in ``source`` (a BatchNorm's running statistics set to
    None by hand): in neither state_dict, and its forward reads them as absent in both libraries."""
    for name, value in source._buffers.items():
        if value is None and target._buffers.get(name) is not None:
            setattr(target, name, None)


def _names(layer: _Layer, theirs: dict[str, np.ndarray]) -> list[str]:
    back = {v: k for k, v in layer.rename.items()}
    return [back.get(k, k) for k in theirs]


def _copy(name: str, value: np.ndarray, layer: _Layer) -> np.ndarray:
    """A contiguous copy of a state array, transposed if the two libraries store it transposed."""
    return np.array(value.T if name in layer.transpose else value, order="C", copy=True)


def _torch_state_names(m: Module) -> dict[str, tuple[str, bool]]:
    """Each state name of ``m`` -> (torch's name for it, whether torch stores it transposed)."""
    names = {}
    for path, sub in m.named_modules(remove_duplicate=False):  # every name, as both state_dicts list
        layer = LAYERS.get(type(sub), _Layer())
        for name, value in [*sub._parameters.items(), *sub._buffers.items()]:
            if value is None:  # an empty slot (torch's too) has no state
                continue
            ours, theirs = (f"{path}.{n}" if path else n for n in (name, layer.rename.get(name, name)))
            names[ours] = (theirs, name in layer.transpose)
    return names


def _carry_requires_grad(m: Module, t: Any, *, to_torch: bool) -> None:
    """Give each Parameter the ``requires_grad`` of its twin in the other library (frozen stays frozen).

    Twins are found as the state is copied: submodules by path (a layer is its own path ""), each
    Parameter by its name in ``LAYERS`` (Linear's W is torch's weight). torch's ``load_state_dict``
    keeps the module's own flags, and ours never sets one, so without this a frozen layer would
    quietly train after the trip.
    """
    theirs = dict(t.named_modules())
    for path, sub in m.named_modules():
        twin = theirs.get(path)
        if twin is None:
            continue
        rename = LAYERS.get(type(sub), _Layer()).rename
        for name, p in sub._parameters.items():
            tp = twin._parameters.get(rename.get(name, name))
            if p is None or tp is None:
                continue
            if to_torch:
                tp.requires_grad_(p.requires_grad)
            else:
                p.requires_grad = bool(tp.requires_grad)


def _share_tied(pairs: Any, *, to_torch: bool) -> None:
    """One Parameter shared by two layers (``t[2].W = t[0].W``) stays one in the other library.

    Each layer converts with its own copy of its weights, so such a tie would come out as two
    Parameters training apart. ``pairs`` are (our module, torch module) made from one another; the
    first layer holding a shared Parameter gives its copy to the others. A tie between a Linear's W
    and a weight kept in torch's layout (an Embedding's: GPT's tied head) cannot be one Parameter in
    both libraries: ValueError.
    """
    first: dict[int, tuple[Any, bool, str]] = {}  # id(source Parameter) -> (copy, transposed, where)
    for m, tm in pairs:
        layer = LAYERS.get(type(m), _Layer())
        for name, p in list(m._parameters.items()):
            theirs = layer.rename.get(name, name)
            tp = tm._parameters.get(theirs)
            if p is None or tp is None:
                continue
            source, copy, owner, attr = (p, tp, tm, theirs) if to_torch else (tp, p, m, name)
            where = f"{type(m).__name__}.{name}"
            if id(source) not in first:
                first[id(source)] = (copy, name in layer.transpose, where)
                continue
            shared, transposed, other = first[id(source)]
            if shared is copy:  # one layer used twice: already one module, one Parameter
                continue
            if transposed != (name in layer.transpose) or np.shape(shared) != np.shape(copy):
                raise ValueError(
                    f"{'to_torch' if to_torch else 'from_torch'}: {other} and {where} are tied (one "
                    "Parameter), but MiniTorch stores one of them transposed (Linear's W is torch's "
                    "weight.T), so no Parameter can be both; untie them, or tie them by hand after the "
                    "conversion (as examples/gpt.py computes its head from the embedding)"
                )
            setattr(owner, attr, shared)
