"""The architecture: a module tree as JSON, written by ``describe`` (``rebuild.py`` reads it).

A module is described by its class name and the arguments its constructor was called with (which
``Module`` records automatically), nesting through Module-valued arguments; a ``Sequential``'s
arguments are its current children::

    {"class": "Sequential", "args": {"modules": {"__tuple__": [
        {"__module__": {"class": "Linear", "args": {"in_features": 4, "out_features": 16, "bias": true}}},
        {"__module__": {"class": "ReLU", "args": {}}}]}}}
"""

from __future__ import annotations

from typing import Any

from minitorch.containers import ModuleDict, ModuleList, Sequential
from minitorch.model_files.codec import Encoder
from minitorch.model_files.format import MAX_DEPTH
from minitorch.model_files.registry import class_name
from minitorch.module import Module


def describe(module: Module, where: str = "model", depth: int = 0) -> dict[str, Any]:
    """The architecture of ``module`` as JSON; TypeError if a class or a value cannot be stored, or
    if modules nest deeper than ``_build`` reads (``depth`` levels down now; each module held by an
    argument or a child is one level below its parent).

    ``args`` are the constructor's; ``children`` (only if any) describe the children the
    constructor arguments do not hold, so a child assigned after construction (``net.fc =
    Linear(8, 3)``) is rebuilt as it is now; ``attributes`` (only if any) are the module's public
    plain attributes as they are now (``act.negative_slope = 0.3`` after construction is kept).
    """
    check_module_depth(depth, where, TypeError)
    name = class_name(type(module), where)
    named = {id(child): f"{where}.{key}" for key, child in module._modules.items()}
    encode = Encoder(module=lambda child, path: describe(child, named.get(id(child), path), depth + 1))
    args = constructor_args(module)
    node = {"class": name,
            "args": {arg: encode(value, f"{where} ({name}) argument '{arg}'") for arg, value in args.items()}}
    held = module_ids(args.values())
    children = {key: describe(child, f"{where}.{key}", depth + 1)
                for key, child in module._modules.items() if child is not None and id(child) not in held}
    attributes = {key: Encoder()(value, f"{where} ({name}) attribute '{key}' (set it in __init__ from an "
                                        "argument, make it a buffer, or name it with a leading _)")
                  for key, value in public_attributes(module).items()}
    if children:
        node["children"] = children
    if attributes:
        node["attributes"] = attributes
    return node


def public_attributes(module: Module) -> dict[str, Any]:
    """Plain attributes ``forward`` may read: public, not registered, not the training flag."""
    registered = {*_filled(module._parameters), *_filled(module._modules), *_filled(module._buffers),
                  "training"}
    return {key: value for key, value in vars(module).items()
            if not key.startswith("_") and key not in registered}


def _filled(registry: dict[str, Any]) -> list[str]:
    """The names holding a value: an empty slot (``layer.b = None``) is a plain attribute in a file."""
    return [name for name, value in registry.items() if value is not None]


def module_ids(values: Any) -> set[int]:
    """ids of the Modules inside (nested) constructor argument values."""
    found: set[int] = set()
    for value in values:
        if isinstance(value, Module):
            found.add(id(value))
        elif isinstance(value, (tuple, list)):
            found |= module_ids(value)
        elif isinstance(value, dict):
            found |= module_ids(value.values())
    return found


def constructor_args(module: Module) -> dict[str, Any]:
    """The recorded constructor arguments; a container's are its current children."""
    init = type(module).__init__
    if init is Sequential.__init__:
        names = list(module._modules)
        if names != [str(i) for i in range(len(names))]:  # a slice's names, or an OrderedDict's
            return {"modules": (dict(module._modules),)}
        return {"modules": tuple(module._modules.values())}
    if init is ModuleList.__init__:
        return {"modules": list(module._modules.values())}
    if init is ModuleDict.__init__:
        return {"modules": dict(module._modules)}
    return dict(module.__dict__.get("_init_args", {}))


def module_tree(module: Module) -> list[list[str]]:
    """[[dotted name, class name], ...] for the module and every descendant."""
    return [[path, type(sub).__name__] for path, sub in module.named_modules(remove_duplicate=False)]



def check_module_depth(depth: int, where: str, error: type[Exception]) -> None:
    """The one module-nesting rule of ``describe`` and ``_build``: the saved model is level 0."""
    if depth > MAX_DEPTH:
        raise error(f"{where}: modules nested deeper than {MAX_DEPTH} levels; a model file holds no "
                    "deeper module")
