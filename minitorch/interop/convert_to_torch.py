"""MiniTorch -> PyTorch: ``to_torch(model)`` and the converters it calls, layer by layer.

A Sequential becomes a ``torch.nn.Sequential``, a layer of ``LAYERS`` its ``torch.nn`` namesake,
an attention module (``ATTENTION_LAYERS``) its namesake built whole, and another module whose forward
is a plain chain of its children a ``torch.nn.Sequential`` of them in call order.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.containers import Sequential
from minitorch.grad_mode import no_grad
from minitorch.interop.attention_settings import (
    _check_layer_children,
    _convert_layers,
    _copy_layer_settings,
    _encoder_kwargs,
    _mha_kwargs,
    _transformer_kwargs,
)
from minitorch.interop.checks import _layer, _torch
from minitorch.interop.layer_table import _WEIGHT_AXES, ATTENTION_LAYERS, LAYERS, _sizes_and_edits
from minitorch.interop.twin_state import (
    _carry_requires_grad,
    _copy,
    _empty_slots,
    _own_state,
    _share_tied,
    _torch_state_names,
)
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.module import Module, switched_mode


def to_torch(model: Module, example_input: Any = None) -> Any:
    """The equivalent ``torch.nn`` module tree, with copies of ``model``'s weights and buffers.

    A module that is neither a Sequential nor a layer of ``LAYERS`` converts if its forward is a
    plain chain of its children: it is run once on ``example_input`` (in eval mode, keeping no
    cache) to record the chain, and becomes a ``torch.nn.Sequential`` of the converted children
    named as ours (dots as "_"). Without ``example_input`` such a model is a TypeError.
    Example:
        t = mt.interop.to_torch(model)            # e.g. torch.nn.Sequential(Linear, ReLU, ...)
        t(torch.from_numpy(x))                    # same outputs as model(x), to float rounding
        t = mt.interop.to_torch(custom_model, x)  # a custom Module whose forward is a chain
    """
    torch = _torch()
    if not isinstance(model, Module):
        raise TypeError(f"to_torch: expected an mt.Module, got {type(model).__name__}")
    with torch.random.fork_rng(devices=[]), switched_mode(model, False):  # no dropout draw, no BN update
        # torch's constructors initialise weights we overwrite; the modes are set back below
        t = _to_torch(model, torch, "model", example_input)
    pairs = _pairs(t)
    for m, tm in pairs:
        tm.training = m.training
    _share_tied(((m, tm) for m, tm in pairs), to_torch=True)
    return t


def _to_torch(m: Module, torch: Any, where: str, x: Any = None) -> Any:
    name = type(m).__name__
    if type(m) is Sequential:
        t = torch.nn.Sequential()
        names = list(m._modules)  # kept (a slice's "1", "2"), unless one is an attribute of torch's
        if any(hasattr(t, child_name) for child_name in names):
            names = [str(i) for i in range(len(names))]
        made: dict[int, Any] = {}  # a child repeated (model *= 2) stays one torch module: tied
        for i, (child_name, c) in enumerate(zip(names, m._modules.values(), strict=True)):
            if id(c) not in made:
                made[id(c)] = _to_torch(c, torch, f"{where}.{i}", x)
            t.add_module(child_name, made[id(c)])
            if x is not None:
                with no_grad():
                    x = c(x)
    elif type(m) in ATTENTION_LAYERS:
        t = _attention_to_torch(m, torch, where)
        ours = dict(m.named_modules())
        for path, tm in t.named_modules():  # the training flags, set once the modes are back
            tm._minitorch_source = ours[path]
        return t
    elif type(m) not in LAYERS and m._modules:
        if x is None:
            raise TypeError(
                f"to_torch: {where} is a {name}, not a Sequential: give an example input, "
                f"to_torch(model, x), to record the chain of children its forward calls"
            )
        children: dict[str, Any] = {}
        made: dict[int, Any] = {}
        chain = call_frames.recorded_chain(m, x, f"to_torch: {where}")
        _refuse_branching(m, x, chain, where)
        for child_name, child, child_x in chain:
            key = child_name.replace(".", "_")
            while key in children:  # a child called twice: the same torch module under a new name
                key += "_again"
            if id(child) not in made:
                made[id(child)] = _to_torch(child, torch, f"{where}.{child_name}", child_x)
            children[key] = made[id(child)]
        t = torch.nn.Sequential(OrderedDict(children))
    else:
        layer = _layer(type(m), name, where, "to_torch")
        for setting, supported in layer.torch_only.items():  # (a conv's groups set later: refused)
            if getattr(m, setting, supported) != supported:
                raise ValueError(f"to_torch: {where} ({name}) has {setting}={getattr(m, setting)!r}; "
                                 f"MiniTorch computes {setting}={supported!r} only")
        kwargs = {arg: getattr(m, arg) for arg in layer.args}
        if layer.bias is not None and getattr(m, layer.bias) is None:
            kwargs["bias"] = False
        edits = _sizes_and_edits(type(m), m.weight.shape, kwargs) if type(m) in _WEIGHT_AXES else {}
        t = getattr(torch.nn, name)(**kwargs)
        for setting, value in edits.items():  # torch keeps kernel_size as a tuple
            setattr(t, setting, (value,) if setting == "kernel_size" and isinstance(value, int) else value)
        _empty_slots(m, t)
        state = {layer.rename.get(k, k): _copy(k, v, layer) for k, v in _own_state(m).items()}
        # assign=True adopts our tensors as they are, so the torch module gets MiniTorch's dtype
        t.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True, assign=True)
        _carry_requires_grad(m, t, to_torch=True)
    t._minitorch_source = m  # for the training flags, set once the modes are back (removed there)
    return t


def _refuse_branching(m: Module, x: Any, chain: list[tuple[str, Any, Any]], where: str) -> None:
    """TypeError when ``m`` calls other children for ``-x`` (a floating input): its forward branches
    on its input's values, and the torch Sequential would follow the one path recorded. A second
    run that fails (an input its forward cannot take) proves nothing and is not an error."""
    if not (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)):
        return
    try:
        other = call_frames.recorded_chain(m, -x, f"to_torch: {where}")
    except Exception:
        return
    names = call_frames.other_path(chain, other)
    if names is not None:
        raise TypeError(
            f"to_torch: {where} ({type(m).__name__}) calls other children for other inputs ({names[0]} "
            f"for the example, {names[1]} for its negation): its forward branches on its input, and a "
            "torch.nn.Sequential would follow one path; convert each path's modules on their own"
        )


def _pairs(t: Any) -> list[tuple[Module, Any]]:
    """(MiniTorch module, torch module made from it), for the torch modules that record one."""
    pairs = []
    for tm in t.modules():
        source = tm.__dict__.pop("_minitorch_source", None)
        if source is not None:
            pairs.append((source, tm))
    return pairs


# --- attention and transformers: modules with children, converted whole through their state_dicts ----
def _attention_kwargs_to_torch(m: Module, torch: Any, where: str) -> dict[str, Any]:
    name = type(m).__name__
    if name == "MultiheadAttention":
        return _mha_kwargs(m)
    if name in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        _check_layer_children(m, where, "to_torch")
        # the activation as a module: torch then registers it as a child, as MiniTorch does
        return {"d_model": m.d_model, "nhead": m.nhead, "dim_feedforward": m.dim_feedforward,
                "dropout": m.dropout.p, "activation": _to_torch(m.activation, torch, f"{where}.activation"),
                "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first,
                "norm_first": m.norm_first, "bias": m.linear1.b is not None}
    if name == "Transformer":
        return _transformer_kwargs(m, lambda child, path: _to_torch(child, torch, path), where)
    return _encoder_kwargs(m, lambda child, path: _to_torch(child, torch, path), where)


def _attention_to_torch(m: Module, torch: Any, where: str) -> Any:
    import warnings

    with warnings.catch_warnings():  # torch's note that nested tensors are unused with norm_first layers
        warnings.simplefilter("ignore")
        t = getattr(torch.nn, type(m).__name__)(**_attention_kwargs_to_torch(m, torch, where))
    if type(m) in (TransformerEncoderLayer, TransformerDecoderLayer):
        _copy_layer_settings(m, t)
    elif type(m) in (TransformerEncoder, TransformerDecoder):
        _convert_layers(m, t, lambda child, path: _to_torch(child, torch, path), where, "to_torch")
    state = m.state_dict()
    theirs = {}
    for ours, (name, transposed) in _torch_state_names(m).items():
        theirs[name] = torch.from_numpy(np.ascontiguousarray(state[ours].T if transposed else state[ours]))
    t.load_state_dict(theirs, strict=True, assign=True)
    _carry_requires_grad(m, t, to_torch=True)
    ours_by_name = dict(m.named_modules())
    for path, their_module in t.named_modules():
        their_module.training = ours_by_name[path].training
    return t
