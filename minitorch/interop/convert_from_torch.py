"""PyTorch -> MiniTorch: ``from_torch(module)`` and the converters it calls, layer by layer.

A ``torch.nn.Sequential`` becomes a Sequential, a ``torch.nn`` layer its MiniTorch namesake of
``LAYERS`` (built in its dtype), an attention module its namesake built whole, and another module
whose forward ``torch.fx`` reads as a plain chain of its children a Sequential of them in call order.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from minitorch.containers import Sequential
from minitorch.interop.attention_settings import (
    _check_layer_children,
    _convert_layers,
    _copy_layer_settings,
    _encoder_kwargs,
    _mha_kwargs,
    _transformer_kwargs,
)
from minitorch.interop.checks import _check_float_dtypes, _dtype_kwarg, _layer, _torch
from minitorch.interop.layer_table import _ATTENTION_BY_NAME, _BY_NAME, _WEIGHT_AXES, _sizes_and_edits
from minitorch.interop.twin_state import (
    _carry_requires_grad,
    _copy,
    _empty_slots,
    _names,
    _share_tied,
    _torch_state_names,
)
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from minitorch.model_files.budget import preserved_rng
from minitorch.module import Module


def from_torch(module: Any) -> Module:
    """The equivalent MiniTorch model, with copies of the torch module's weights and buffers.

    Example:
        model = mt.interop.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()))
        model(x)                                  # same outputs as the torch module
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    with preserved_rng():  # MiniTorch's constructors draw initial weights we overwrite
        made: list[tuple[Module, Any]] = []
        _made_from_torch.append(made)
        try:
            model = _from_torch(module, torch, "module")
        finally:
            _made_from_torch.pop()
    kept = {id(sub) for sub in model.modules()}  # not the parts a constructor copied (TransformerEncoder)
    _share_tied([(m, t) for m, t in made if id(m) in kept], to_torch=False)
    return model


_made_from_torch: list[list[tuple[Module, Any]]] = []  # (our module, torch module) made by a from_torch call


def _from_torch(t: Any, torch: Any, where: str) -> Module:
    name = type(t).__name__
    if type(t) is torch.nn.Sequential:
        # _modules, not named_children(), which lists a repeated child (t *= 2) once
        children = [(child_name, c) for child_name, c in t._modules.items() if c is not None]
        converted: dict[int, Module] = {}  # the repeat stays one module: tied
        for i, (_, c) in enumerate(children):
            if id(c) not in converted:
                converted[id(c)] = _from_torch(c, torch, f"{where}.{i}")
        named = {child_name: converted[id(c)] for child_name, c in children}
        try:  # the names kept (a slice's "1", "2"; an OrderedDict's)
            m: Module = Sequential(named)
        except KeyError:  # a name ours cannot take (a leading "_", one of our attributes): renumbered
            m = Sequential(*named.values())
    elif name in _ATTENTION_BY_NAME:
        return _attention_from_torch(t, torch, where)
    elif getattr(torch.nn, name, None) is not type(t) and len(t._modules):
        made: dict[int, Module] = {}
        for target, c in _torch_chain(t, torch, where):
            if id(c) not in made:
                made[id(c)] = _from_torch(c, torch, f"{where}.{target}")
        m = Sequential(*(made[id(c)] for _, c in _torch_chain(t, torch, where)))
    else:
        cls = _BY_NAME.get(name)
        layer = _layer(cls, name, where, "from_torch")
        for setting, supported in layer.torch_only.items():
            if getattr(t, setting) != supported:
                raise ValueError(
                    f"from_torch: {where} ({name}) has {setting}={getattr(t, setting)!r}; "
                    f"MiniTorch supports {setting}={supported!r} only"
                )
        kwargs = {arg: getattr(t, arg) for arg in layer.args}
        if layer.bias is not None and getattr(t, "bias", None) is None:
            kwargs["bias"] = False
        edits = _sizes_and_edits(cls, tuple(t.weight.shape), kwargs) if cls in _WEIGHT_AXES else {}
        _check_float_dtypes(t, torch, name, where)
        theirs = {k: v.detach().cpu().numpy() for k, v in t.state_dict().items()}
        ours = {k: _copy(k, theirs[layer.rename.get(k, k)], layer) for k in _names(layer, theirs)}
        m = cls(**kwargs, **_dtype_kwarg(cls, theirs, name, where))
        for setting, value in edits.items():  # Conv1d keeps kernel_size as an int
            setattr(m, setting, value[0] if isinstance(value, tuple) and len(value) == 1 else value)
        _empty_slots(t, m)
        m.load_state_dict(ours)
        _carry_requires_grad(m, t, to_torch=False)
        _made(m, t)
    m.training = t.training
    return m


def _made(m: Module, t: Any) -> None:
    """Record that ``m`` was made from ``t`` (for ``_share_tied``), inside a from_torch call."""
    if _made_from_torch:
        _made_from_torch[-1].append((m, t))


def _torch_chain(t: Any, torch: Any, where: str) -> list[tuple[str, Any]]:
    """(target, submodule) for each module call of ``t``'s forward, if it is a plain chain.

    Read from ``torch.fx.symbolic_trace`` (torch.nn's own modules are leaves; custom ones are
    traced through): one input, each call takes the previous result alone, the last is returned.
    """
    name = type(t).__name__
    try:
        graph = importlib.import_module("torch.fx").symbolic_trace(t).graph
    except Exception as err:  # fx raises many kinds for code it cannot trace
        raise TypeError(
            f"from_torch: {where} is a {name}, not a torch.nn.Sequential, and torch.fx cannot trace "
            f"its forward to check it is a plain chain of its children ({type(err).__name__}: {err})"
        ) from None
    nodes = list(graph.nodes)
    chain, previous, problem = [], None, None
    for node in nodes:
        if node.op == "placeholder" and previous is None and not chain:
            previous = node
        elif (node.op == "call_module" and previous is not None and node.args == (previous,)
              and not node.kwargs):
            chain.append((node.target, t.get_submodule(node.target)))
            previous = node
        elif node.op == "output" and node.args == (previous,) and chain:
            break
        else:
            problem = f"{node.op} {node.target}"
            break
    if problem is not None or not chain or nodes[-1].op != "output":
        raise TypeError(
            f"from_torch: {where} is a {name} whose forward is not a plain chain of its children "
            f"(one input, each child given the previous output alone, the last returned; found "
            f"{problem or 'no module call'}): convert its parts, or write it as torch.nn.Sequential"
        )
    return chain


# --- attention and transformers: modules with children, converted whole through their state_dicts ----
def _attention_kwargs_from_torch(t: Any, torch: Any, where: str) -> dict[str, Any]:
    name = type(t).__name__
    if name == "MultiheadAttention":
        if t.bias_k is not None or t.add_zero_attn:
            raise ValueError(f"from_torch: {where} (MultiheadAttention) has add_bias_kv or add_zero_attn; "
                             "MiniTorch supports neither")
        return _mha_kwargs(t)
    if name in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        _check_layer_children(t, where, "from_torch")
        act, F = t.activation, torch.nn.functional
        relu = act is F.relu or type(act) is torch.nn.ReLU
        gelu = act is F.gelu or (type(act) is torch.nn.GELU and act.approximate == "none")
        if relu or gelu:
            activation: Any = "relu" if relu else "gelu"
        elif isinstance(act, torch.nn.Module):
            activation = _from_torch(act, torch, f"{where}.activation")
        else:
            raise ValueError(f"from_torch: {where} ({name}) has activation {act!r}; "
                             "MiniTorch supports 'relu', 'gelu' and activation modules it has")
        return {"d_model": t.self_attn.embed_dim, "nhead": t.self_attn.num_heads,
                "dim_feedforward": t.linear1.out_features, "dropout": t.dropout.p,
                "activation": activation, "layer_norm_eps": t.norm1.eps,
                "batch_first": t.self_attn.batch_first, "norm_first": t.norm_first,
                "bias": t.linear1.bias is not None}
    if name == "Transformer":
        return _transformer_kwargs(t, lambda child, path: _from_torch(child, torch, path), where)
    return _encoder_kwargs(t, lambda child, path: _from_torch(child, torch, path), where)


def _attention_from_torch(t: Any, torch: Any, where: str) -> Module:
    cls = _ATTENTION_BY_NAME[type(t).__name__]
    theirs = {k: v.detach().cpu().numpy() for k, v in t.state_dict().items()}
    dtype = _dtype_kwarg(cls, theirs, type(t).__name__, where)
    m = cls(**_attention_kwargs_from_torch(t, torch, where), **dtype)
    if cls in (TransformerEncoderLayer, TransformerDecoderLayer):
        _copy_layer_settings(t, m)
    elif cls in (TransformerEncoder, TransformerDecoder):
        _convert_layers(t, m, lambda child, path: _from_torch(child, torch, path), where, "from_torch")
    state = {}
    for ours, (name, transposed) in _torch_state_names(m).items():
        state[ours] = np.array(theirs[name].T if transposed else theirs[name], order="C", copy=True)
    m.load_state_dict(state)
    _carry_requires_grad(m, t, to_torch=False)
    theirs_by_name = dict(t.named_modules())
    for path, sub in m.named_modules():
        if path in theirs_by_name:
            _made(sub, theirs_by_name[path])
    for path, ours_module in m.named_modules():  # torch's activation may be a function, not a module
        object.__setattr__(ours_module, "training", theirs_by_name.get(path, t).training)
    return m
