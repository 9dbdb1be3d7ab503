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
from minitorch.model_files.attributes import describe_attributes
from minitorch.model_files.codec import Encoder
from minitorch.model_files.format import MAX_DEPTH
from minitorch.model_files.registry import class_name
from minitorch.model_files.replaced import describe_replaced
from minitorch.module import Module


def describe(module: Module, where: str = "model", depth: int = 0) -> dict[str, Any]:
    """The architecture of ``module`` as JSON; TypeError if a class or a value cannot be stored, or
    if modules nest deeper than ``_build`` reads (``depth`` levels down now; each module held by an
    argument or a child is one level below its parent).

    ``args`` are the constructor's; ``children`` (only if any) describe the children the
    constructor arguments do not hold, so a child assigned after construction (``net.fc =
    Linear(8, 3)``) is rebuilt as it is now; ``attributes``, ``added`` and ``removed`` (only if any,
    see ``attributes.py``) are the module's public plain attributes as they are now: set after
    construction (``act.negative_slope = 0.3``), added (``model.scale = 2.0``) or deleted;
    ``replaced`` (only if any, see ``replaced.py``) the shapes and dtypes of its Parameters and
    buffers that are not of the constructor's shape (``lin.W = mt.Parameter(np.zeros((3, 2)))``).
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
    if children:
        node["children"] = children
    # a container is rebuilt from its members: every plain attribute it has was added to it
    made = {} if _from_members(module) else module.__dict__.get("_init_attributes")
    node.update(describe_attributes(module, f"{where} ({name})", made))
    node.update(describe_replaced(module, module.__dict__.get("_init_arrays")))
    return node


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
    if type(module).__init__ is Sequential.__init__:
        names = list(module._modules)
        if names != [str(i) for i in range(len(names))]:  # a slice's names, or an OrderedDict's
            return {"modules": (dict(module._modules),)}
        return {"modules": tuple(module._modules.values())}
    if type(module).__init__ is ModuleList.__init__:
        return {"modules": list(module._modules.values())}
    if type(module).__init__ is ModuleDict.__init__:
        return {"modules": dict(module._modules)}
    return dict(module.__dict__.get("_init_args", {}))


def _from_members(module: Module) -> bool:
    """Whether ``module`` is saved as its current members (a Sequential, ModuleList or ModuleDict)."""
    return type(module).__init__ in (Sequential.__init__, ModuleList.__init__, ModuleDict.__init__)


def module_tree(module: Module) -> list[list[str]]:
    """[[dotted name, class name], ...] for the module and every descendant."""
    return [[path, type(sub).__name__] for path, sub in module.named_modules(remove_duplicate=False)]



def check_module_depth(depth: int, where: str, error: type[Exception]) -> None:
    """The one module-nesting rule of ``describe`` and ``_build``: the saved model is level 0."""
    if depth > MAX_DEPTH:
        raise error(f"{where}: modules nested deeper than {MAX_DEPTH} levels; a model file holds no "
                    "deeper module")
