"""Rebuilding a model from its architecture (``architecture.py`` writes it), checked as it goes.

Each class name is looked up among MiniTorch's own classes and registered ones (``registry.py``),
never imported; the constructors run within one allocation budget (``budget.py``), in the dtypes of
the file's arrays (``file_dtypes.py``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minitorch.constructor_args import constructor_check
from minitorch.containers import ModuleDict, ModuleList, Sequential
from minitorch.model_files.architecture import check_module_depth, constructor_args, describe, module_ids
from minitorch.model_files.attributes import remove_attributes, set_attributes
from minitorch.model_files.budget import Budget, budgeted_draws, preserved_rng
from minitorch.model_files.codec import DICT, MODULE, TUPLE, Decoder
from minitorch.model_files.file_dtypes import FileDtypes, Place, take_file_dtypes
from minitorch.model_files.format import ModelFileError, expect, expect_keys
from minitorch.model_files.registry import known_classes
from minitorch.model_files.replaced import remake_replaced
from minitorch.module import Module

_OPTIONAL_KEYS = {"children", "attributes", "added", "removed", "replaced"}  # of a module's node


def rebuild(architecture: Any, state: dict[str, np.ndarray]) -> Module:
    """A fresh model from its architecture, sized for the weights ``state`` will fill in.

    Every module is built in its weights' dtype, and the library's random generator and default
    dtype are left as they were (``set_default_dtype`` is never called: another thread building a
    layer meanwhile gets the default it expects). A constructor that takes ``dtype=`` (MiniTorch's
    layers with weights, and yours if they take it) is given the one floating dtype (float32 or
    float64) of the file's arrays under the module's place in the model, when the file names its
    place (the model, a container's members, a child added after construction) and they agree;
    else its parent's (see ``FileDtypes``). A ``dtype`` the file records among your module's own
    arguments is kept. Then every floating Parameter and buffer whose dtype still differs from its
    array in the file (a module of yours whose constructor takes no ``dtype``, a model cast with
    ``.to()`` after construction, a float16 model) is cast to it, as ``Module.to`` casts: the
    loaded model holds the file's dtypes, array by array.

    The whole rebuild keeps one budget of 4x the file's element count + 2**16 elements
    (a valid file needs exactly its element count): before each MiniTorch constructor runs, its
    estimated size (see ``Budget``) is charged, every random draw that initialises a weight is
    charged before the generator allocates it, and after each module is built what it really
    holds is counted; the first overdraft is a ModelFileError, so a forged file cannot make the
    rebuild allocate much more than the file holds.
    """
    elements = sum(int(array.size) for array in state.values())
    budget = Budget(4 * elements + 2**16)
    dtypes = FileDtypes(state)
    token = constructor_check.set(budget.charge_estimate)
    try:
        with preserved_rng(), budgeted_draws(budget):
            model = _build(architecture, "architecture", budget, 0, Place("", dtypes))
    except RecursionError:  # a safety net: MAX_DEPTH keeps honest and forged files well below it
        raise ModelFileError("architecture: modules nested too deeply to rebuild") from None
    finally:
        constructor_check.reset(token)
    take_file_dtypes(model, state)
    return model


def _build(node: Any, where: str, budget: Budget, depth: int, place: Place) -> Module:
    check_module_depth(depth, where, ModelFileError)
    node = expect(node, dict, where)
    expect_keys(node, {"class", "args"} | (_OPTIONAL_KEYS & set(node)), where)
    name = expect(node["class"], str, f"{where}.class")
    cls = known_classes().get(name)
    if cls is None:
        raise ModelFileError(
            f"{where}: unknown module class '{name}'; if it is your own, register it with "
            "@mt.register_module before loading (MiniTorch never imports code a file names)"
        )
    args = expect(node["args"], dict, f"{where}.args")
    members = _member_names(cls, args)
    decode = Decoder(module=lambda body, path: _build(body, path, budget, depth + 1,
                                                      place.child(members.get(id(body)))))
    values = {arg: decode(value, f"{where}.args.{arg}") for arg, value in args.items()}
    positional, keywords = _call_args(cls, values, f"{where} ({name})")
    if place.dtype is not None and "dtype" not in values and "dtype" in inspect.signature(cls).parameters:
        keywords["dtype"] = place.dtype  # built in its weights' dtype; the default is never switched
    try:
        module = cls(*positional, **keywords)
    except ModelFileError:
        raise
    except Exception as err:  # the constructor rejects what the file says: any error it raises
        raise ModelFileError(f"{where}: {name}(...) failed: {type(err).__name__}: {err}") from None
    budget.charge_built(module, f"{where} ({name})")
    _restore(module, node, module_ids(values.values()), where, budget, depth, place)
    return module


def _member_names(cls: type[Module], args: dict[str, Any]) -> dict[int, str]:
    """id(JSON of a member) -> its name, for a container's ``modules`` argument (the members of a
    ``Sequential``, ``ModuleList`` or ``ModuleDict`` take these names); {} for any other class."""
    if cls not in (Sequential, ModuleList, ModuleDict):
        return {}
    modules = args.get("modules")
    if isinstance(modules, dict) and isinstance(modules.get(TUPLE), list):  # Sequential(*modules)
        items = modules[TUPLE]
        if len(items) == 1 and isinstance(items[0], dict) and DICT in items[0]:  # Sequential(OrderedDict)
            modules = items[0]
        else:
            modules = items
    if isinstance(modules, dict) and isinstance(modules.get(DICT), list):
        pairs = (pair for pair in modules[DICT] if isinstance(pair, list) and len(pair) == 2)
    elif isinstance(modules, list):
        pairs = enumerate(modules)  # one at a time: a forged list of 10**5 strings makes no pairs
    else:
        return {}
    return {id(item[MODULE]): str(key) for key, item in pairs
            if isinstance(item, dict) and isinstance(item.get(MODULE), dict)}


def _restore(module: Module, node: dict[str, Any], held: set[int], where: str, budget: Budget,
             depth: int, place: Place) -> None:
    """Make a constructed module what the file describes: its children, plain attributes and arrays
    of other shapes.

    ``held``: ids of the modules passed to the constructor (described by the arguments). Names
    deleted after construction go first; then a child the constructor made as the file describes
    it is kept (and restored in turn); one that differs is rebuilt; one the saved model no longer
    had is removed; then the plain attributes are set (``attributes.py``) and the Parameters and
    buffers replaced since construction are made in their saved shapes (``replaced.py``).
    """
    remove_attributes(module, node, where)
    children = expect(node.get("children", {}), dict, f"{where}.children")
    attributes = expect(node.get("attributes", {}), dict, f"{where}.attributes")  # (an empty slot is one)
    extra = [key for key, child in module._modules.items()
             if id(child) not in held and key not in children and key not in attributes]
    for key in extra:
        delattr(module, key)  # removed after construction in the saved model
    for key, child_node in children.items():
        path = f"{where}.children.{key}"
        child = module._modules.get(key)
        if child is not None and id(child) not in held and _same_head(child, child_node):
            held_by_child = module_ids(constructor_args(child).values())
            _restore(child, child_node, held_by_child, path, budget, depth + 1, place.child(key))
        else:
            _set_child(module, key, _build(child_node, path, budget, depth + 1, place.child(key)), where)
    set_attributes(module, node, where)
    remake_replaced(module, node, where, budget)


def _same_head(module: Module, node: Any) -> bool:
    """Whether ``module`` has the class and constructor arguments ``node`` describes."""
    if not isinstance(node, dict):
        return False
    try:
        mine = describe(module)
    except TypeError:
        return False
    return mine["class"] == node.get("class") and mine["args"] == node.get("args")


def _set_child(module: Module, key: str, child: Module, where: str) -> None:
    """Assign a child the file describes; never over a method, a plain attribute or a private name."""
    plain_name = (key.isidentifier() and not key.startswith("_")) or key.isdigit()
    taken = hasattr(type(module), key) or (key in vars(module) and key not in module._modules)
    if not plain_name or taken:
        raise ModelFileError(f"{where}.children: '{key}' is not a child of {type(module).__name__}")
    setattr(module, key, child)


def _call_args(cls: type[Module], values: dict[str, Any], where: str) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments that reproduce the bound ``values`` for ``cls``."""
    params = inspect.signature(cls).parameters
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise ModelFileError(f"{where}: unexpected arguments {unknown}")
    kinds = inspect.Parameter
    spread = any(p.kind is kinds.VAR_POSITIONAL and values.get(p.name) for p in params.values())
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for p in params.values():
        if p.name not in values:
            continue
        value = values[p.name]
        if p.kind is kinds.POSITIONAL_ONLY or (p.kind is kinds.POSITIONAL_OR_KEYWORD and spread):
            positional.append(value)
        elif p.kind is kinds.VAR_POSITIONAL:
            positional.extend(expect(value, (tuple, list), f"{where} argument '*{p.name}'"))
        elif p.kind is kinds.VAR_KEYWORD:
            extra = expect(value, dict, f"{where} argument '**{p.name}'")
            if not all(isinstance(k, str) and k not in params for k in extra):
                raise ModelFileError(f"{where} argument '**{p.name}': bad keyword names {list(extra)}")
            keywords.update(extra)
        else:
            keywords[p.name] = value
    return positional, keywords
