"""Move models between MiniTorch and PyTorch: ``to_torch(model)`` and ``from_torch(torch_module)``.

Both directions build the equivalent module tree (``Sequential`` <-> ``torch.nn.Sequential``) with
copies of the weights and buffers, in the same dtype, and carry each module's training flag,
each Parameter's ``requires_grad`` (a frozen layer stays frozen) and ties (a Parameter shared by
two layers stays one). ``from_torch`` builds each module in its torch twin's dtype (the
constructors' ``dtype=``; the default dtype is never touched); a module whose floating arrays
mix dtypes is a TypeError.
A model of another class converts when its forward is a plain chain of its children (each child
gets the previous output, the model returns the last): it becomes a ``Sequential`` of the children
in call order (``to_torch`` needs an example input to record the chain; ``from_torch`` reads
torch's chain with ``torch.fx``). Anything else is a TypeError saying so.
Layers are matched by class (``LAYERS`` is keyed by MiniTorch's classes; torch's have the same
names). The only change of layout is Linear's weight: MiniTorch stores W (in, out), PyTorch
``weight`` (out, in) = W.T.

torch is optional: it is imported when one of these functions is called, with a clear message if
it is missing. Neither function draws from MiniTorch's or PyTorch's random generator.
"""

from __future__ import annotations

import importlib
import inspect
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.containers import Sequential
from minitorch.grad_mode import no_grad
from minitorch.layers import (  # PyTorch habits (issue 15)
    ELU,
    GELU,
    AdaptiveMaxPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    ConvTranspose2d,
    Dropout,
    Dropout2d,
    Flatten,
    GroupNorm,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
    Upsample,
)
from minitorch.layers.attention import MultiheadAttention, OutProjection
from minitorch.layers.conv import Conv2d
from minitorch.layers.embedding import Embedding
from minitorch.layers.max_unpool import MaxUnpool2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.rnn import GRU, LSTM, RNN
from minitorch.layers.rnn_cells import GRUCell, LSTMCell, RNNCell
from minitorch.layers.transformer import TransformerEncoder, TransformerEncoderLayer
from minitorch.model_files.budget import preserved_rng
from minitorch.module import TORCH_LAYOUT, TORCH_STATE_NAMES, Module, switched_mode


@dataclass(frozen=True)
class _Layer:
    """How one layer class converts: everything both libraries spell the same way."""

    args: tuple[str, ...] = ()  # constructor arguments, read from attributes of the same name
    rename: dict[str, str] = field(default_factory=dict)  # MiniTorch state name -> torch's
    transpose: tuple[str, ...] = ()  # MiniTorch state names stored transposed in torch
    bias: str | None = None  # the bias Parameter, when the constructor has bias=True/False
    torch_only: dict[str, Any] = field(default_factory=dict)  # torch setting -> the value we support


_BN = _Layer(("num_features", "eps", "momentum", "affine", "track_running_stats"))
_POOL = ("kernel_size", "stride", "padding")
LAYERS: dict[type[Module], _Layer] = {  # keyed by class: a subclass may compute something else
    Linear: _Layer(("in_features", "out_features"), {"W": "weight", "b": "bias"}, ("W",), bias="b"),
    Identity: _Layer(),
    ReLU: _Layer(),
    Sigmoid: _Layer(),
    Tanh: _Layer(),
    LeakyReLU: _Layer(("negative_slope",)),
    ELU: _Layer(("alpha",)),
    GELU: _Layer(("approximate",)),
    Softmax: _Layer(("dim",)),
    LogSoftmax: _Layer(("dim",)),
    Dropout: _Layer(("p",)),
    Flatten: _Layer(("start_dim", "end_dim")),
    BatchNorm1d: _BN,
    BatchNorm2d: _BN,
    LayerNorm: _Layer(("normalized_shape", "eps", "elementwise_affine"), bias="bias"),
    Conv2d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    MaxPool2d: _Layer((*_POOL, "dilation", "return_indices", "ceil_mode")),
    AvgPool2d: _Layer((*_POOL, "ceil_mode", "count_include_pad", "divisor_override")),
    AdaptiveAvgPool2d: _Layer(("output_size",)),
    OutProjection: _Layer(),  # attention's out_proj: torch's (out, in) layout and names already
    # PyTorch habits (issue 15)
    SiLU: _Layer(),
    Mish: _Layer(),
    Softplus: _Layer(("beta", "threshold")),
    Hardtanh: _Layer(("min_val", "max_val")),
    PReLU: _Layer(("num_parameters", "init")),  # init: what reset_parameters sets, on both sides
    Dropout2d: _Layer(("p",)),
    GroupNorm: _Layer(("num_groups", "num_channels", "eps", "affine")),
    Conv1d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    ConvTranspose2d: _Layer(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "dilation"),
        bias="bias", torch_only={"groups": 1, "padding_mode": "zeros"},
    ),
    Upsample: _Layer(("size", "scale_factor", "mode", "align_corners"),
                     torch_only={"recompute_scale_factor": None}),
    AdaptiveMaxPool2d: _Layer(("output_size", "return_indices")),
    MaxUnpool2d: _Layer(("kernel_size", "stride", "padding")),
    Unflatten: _Layer(("dim", "unflattened_size")),
}
# sequences: same names, shapes and layouts in both libraries (weight_ih_l0, ... as torch)
_RNN_ARGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
LAYERS.update({
    Embedding: _Layer(("num_embeddings", "embedding_dim", "padding_idx"),
                      torch_only={"max_norm": None, "scale_grad_by_freq": False, "sparse": False}),
    RNN: _Layer(_RNN_ARGS + ("nonlinearity",)),
    LSTM: _Layer(_RNN_ARGS + ("proj_size",)),  # weight_hr_l{k}: torch's name and layout too
    GRU: _Layer(_RNN_ARGS),
    RNNCell: _Layer(("input_size", "hidden_size", "bias", "nonlinearity")),
    LSTMCell: _Layer(("input_size", "hidden_size", "bias")),
    GRUCell: _Layer(("input_size", "hidden_size", "bias")),
})
# The convolutions' forward reads the weight's shape, as torch's, never in_channels, out_channels or
# kernel_size: a twin is built with the weight's sizes, then given the layer's own values of those
# three where they differ (an edit after construction, which neither forward reads).
_WEIGHT_AXES = {Conv2d: (1, 0), Conv1d: (1, 0), ConvTranspose2d: (0, 1)}  # (in_channels, out_channels)


def _sizes_and_edits(cls: type, weight_shape: tuple[int, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Put the weight's sizes into ``kwargs``; return the settings given that differ from them."""
    if cls not in _WEIGHT_AXES:
        return {}
    (into, out), kernel = _WEIGHT_AXES[cls], tuple(int(k) for k in weight_shape[2:])
    sizes = {"in_channels": int(weight_shape[into]), "out_channels": int(weight_shape[out]),
             "kernel_size": kernel if len(kernel) > 1 else kernel[0]}

    def form(name: str, v: Any) -> Any:  # a kernel_size k is (k, k) for a 2-d layer, (k,) for Conv1d
        if name != "kernel_size":
            return v
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * len(kernel)

    edits = {k: v for k, v in kwargs.items() if k in sizes and form(k, v) != form(k, sizes[k])}
    kwargs.update(sizes)
    return edits


# load_state_dict reads PyTorch's names of our layers' arrays through this table (module.py)
TORCH_STATE_NAMES.update({
    cls: {ours: (theirs, ours in layer.transpose) for ours, theirs in layer.rename.items()}
    for cls, layer in LAYERS.items() if layer.rename
})
# Exported layers with no PyTorch counterpart, with the reason (the registry test reads this).
NOT_CONVERTIBLE: dict[type[Module], str] = {}
_BY_NAME = {cls.__name__: cls for cls in LAYERS}  # torch's class names are ours


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


def _layer(cls: type | None, name: str, where: str, who: str) -> _Layer:
    if cls not in LAYERS:
        other = "PyTorch" if who == "to_torch" else "MiniTorch"
        raise TypeError(
            f"{who}: {where} is a {name}, which has no {other} counterpart; "
            f"convertible: Sequential, {', '.join(sorted(_BY_NAME))}"
        )
    return LAYERS[cls]


def _check_float_dtypes(t: Any, torch: Any, name: str, where: str) -> None:
    """MiniTorch computes in float32 or float64: a half-precision module is refused, not cast silently."""
    for key, value in t.state_dict().items():
        if value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
            raise TypeError(
                f"from_torch: {where} ({name}) holds {key} as {value.dtype}; MiniTorch computes in "
                "float32 or float64: convert the module first with .float() (or .double())"
            )


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


def _dtype_kwarg(cls: type, theirs: dict[str, np.ndarray], name: str, where: str) -> dict[str, Any]:
    """``{"dtype": d}``: the one floating dtype of the torch module's state, for the constructor's
    ``dtype=`` (so the module is built in it; ``set_default_dtype`` is never touched); ``{}`` when it
    has no floating state. A module mixing dtypes is a TypeError (MiniTorch computes a module in its
    parameters' dtype, and torch's forward refuses such a mix too)."""
    dtypes = {key: value.dtype for key, value in theirs.items() if value.dtype.kind == "f"}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{key} {dtype}" for key, dtype in dtypes.items())
        raise TypeError(
            f"from_torch: {where} ({name}) holds {listed}; MiniTorch builds a module in one dtype: "
            "give it one first with .float() or .double()"
        )
    if not dtypes or "dtype" not in inspect.signature(cls).parameters:
        return {}
    return {"dtype": next(iter(dtypes.values()))}


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


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ImportError(
            "minitorch.interop needs PyTorch, which is not installed: pip install torch"
        ) from None


# --- attention and transformers: modules with children, converted whole through their state_dicts ----
def _mha_kwargs(x: Any) -> dict[str, Any]:
    """MultiheadAttention's constructor arguments, read from either library's module (same names)."""
    names = ("embed_dim", "num_heads", "dropout", "kdim", "vdim", "batch_first")
    return {**{k: getattr(x, k) for k in names}, "bias": x.in_proj_bias is not None}


def _encoder_kwargs(x: Any, convert: Any, where: str) -> dict[str, Any]:
    """TransformerEncoder's constructor arguments, its layer and norm converted by ``convert``.

    The constructor copies the first layer; ``_convert_layers`` then puts each layer's own conversion
    in its place, so a layer edited after construction (``enc.layers[1].norm_first = True``) stays so.
    """
    return {"encoder_layer": convert(x.layers[0], f"{where}.layers.0"), "num_layers": len(x.layers),
            "norm": None if x.norm is None else convert(x.norm, f"{where}.norm"),
            "enable_nested_tensor": x.enable_nested_tensor, "mask_check": x.mask_check}


def _convert_layers(source: Any, target: Any, convert: Any, where: str, direction: str) -> None:
    """target.layers[i] = convert(source.layers[i]) for each layer, each a TransformerEncoderLayer
    (a layer held twice is converted once: still one module)."""
    made: dict[int, Any] = {}
    for i, layer in enumerate(source.layers):
        if type(layer).__name__ != "TransformerEncoderLayer":
            raise ValueError(
                f"{direction}: {where}.layers.{i} is a {type(layer).__name__}, not a "
                "TransformerEncoderLayer; a TransformerEncoder converts with TransformerEncoderLayers only"
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


def _check_layer_children(source: Any, where: str, direction: str) -> None:
    for child, (kind, _) in _LAYER_CHILDREN.items():
        found = type(getattr(source, child, None)).__name__
        if found != kind:
            raise ValueError(
                f"{direction}: {where}.{child} is a {found}, not the {kind} a TransformerEncoderLayer has "
                f"there; {direction} builds the layer as its constructor does, so it would not compute "
                f"this layer's function: put a {kind} back (Dropout(p=0.0) for no dropout)"
            )


def _copy_layer_settings(source: Any, target: Any) -> None:
    for child, (_, settings) in _LAYER_CHILDREN.items():
        for setting in settings:
            setattr(getattr(target, child), setting, getattr(getattr(source, child), setting))


def _attention_kwargs_to_torch(m: Module, torch: Any, where: str) -> dict[str, Any]:
    name = type(m).__name__
    if name == "MultiheadAttention":
        return _mha_kwargs(m)
    if name == "TransformerEncoderLayer":
        _check_layer_children(m, where, "to_torch")
        # the activation as a module: torch then registers it as a child, as MiniTorch does
        return {"d_model": m.d_model, "nhead": m.nhead, "dim_feedforward": m.dim_feedforward,
                "dropout": m.dropout.p, "activation": _to_torch(m.activation, torch, f"{where}.activation"),
                "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first,
                "norm_first": m.norm_first, "bias": m.linear1.b is not None}
    return _encoder_kwargs(m, lambda child, path: _to_torch(child, torch, path), where)


def _attention_kwargs_from_torch(t: Any, torch: Any, where: str) -> dict[str, Any]:
    name = type(t).__name__
    if name == "MultiheadAttention":
        if t.bias_k is not None or t.add_zero_attn:
            raise ValueError(f"from_torch: {where} (MultiheadAttention) has add_bias_kv or add_zero_attn; "
                             "MiniTorch supports neither")
        return _mha_kwargs(t)
    if name == "TransformerEncoderLayer":
        _check_layer_children(t, where, "from_torch")
        act, F = t.activation, torch.nn.functional
        relu = act is F.relu or type(act) is torch.nn.ReLU
        gelu = act is F.gelu or (type(act) is torch.nn.GELU and act.approximate == "none")
        if relu or gelu:
            activation: Any = "relu" if relu else "gelu"
        elif isinstance(act, torch.nn.Module):
            activation = _from_torch(act, torch, f"{where}.activation")
        else:
            raise ValueError(f"from_torch: {where} (TransformerEncoderLayer) has activation {act!r}; "
                             "MiniTorch supports 'relu', 'gelu' and activation modules it has")
        return {"d_model": t.self_attn.embed_dim, "nhead": t.self_attn.num_heads,
                "dim_feedforward": t.linear1.out_features, "dropout": t.dropout.p,
                "activation": activation, "layer_norm_eps": t.norm1.eps,
                "batch_first": t.self_attn.batch_first, "norm_first": t.norm_first,
                "bias": t.linear1.bias is not None}
    return _encoder_kwargs(t, lambda child, path: _from_torch(child, torch, path), where)


# converted whole (children included) by the functions below, not through LAYERS
ATTENTION_LAYERS = (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder)
_ATTENTION_BY_NAME = {cls.__name__: cls for cls in ATTENTION_LAYERS}
# which layers keep torch's layout (all but the transposed names), for minitorch.init's fans
TORCH_LAYOUT.update({cls: frozenset(layer.transpose) for cls, layer in LAYERS.items()})
TORCH_LAYOUT.update({cls: frozenset() for cls in ATTENTION_LAYERS})


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


def _attention_to_torch(m: Module, torch: Any, where: str) -> Any:
    import warnings

    with warnings.catch_warnings():  # torch's note that nested tensors are unused with norm_first layers
        warnings.simplefilter("ignore")
        t = getattr(torch.nn, type(m).__name__)(**_attention_kwargs_to_torch(m, torch, where))
    if type(m) is TransformerEncoderLayer:
        _copy_layer_settings(m, t)
    elif type(m) is TransformerEncoder:
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


def _attention_from_torch(t: Any, torch: Any, where: str) -> Module:
    cls = _ATTENTION_BY_NAME[type(t).__name__]
    theirs = {k: v.detach().cpu().numpy() for k, v in t.state_dict().items()}
    dtype = _dtype_kwarg(cls, theirs, type(t).__name__, where)
    m = cls(**_attention_kwargs_from_torch(t, torch, where), **dtype)
    if cls is TransformerEncoderLayer:
        _copy_layer_settings(t, m)
    elif cls is TransformerEncoder:
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
