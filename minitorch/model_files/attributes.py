"""A module's plain attributes in a file, as they are now, and the one rule writer and reader share.

A module's node in the architecture holds, each only if not empty::

    "attributes": {"negative_slope": 0.3}   public plain attributes the constructor made, as they are now
    "added":      {"scale": 2.0}            public plain attributes set after construction
    "removed":    ["note"]                  names the constructor made, deleted or changed in kind since

The constructor's names, and what each was (plain, Parameter, buffer, child), are those ``Module``
records when the outermost ``__init__`` returns (``_init_attributes``); a module without that record
(built some other way) has every public attribute under ``attributes``. A Parameter or buffer added
after construction is refused at save (a file rebuilds only what constructors make). Values are
JSON-like (``codec.Encoder`` without arrays or Modules).

The reader rebuilds the module through its constructor, then deletes ``removed``, sets
``attributes`` (only names the rebuilt module has as plain attributes) and ``added`` (only names it
has not: ``added_name_problem`` says which names may be added at all). ``describe_attributes``
refuses, at save time, any name or value the reader would refuse, naming the attribute and the fix.
"""

from __future__ import annotations

import inspect
from typing import Any

from minitorch.constructor_args import public_kinds
from minitorch.model_files.codec import Decoder, Encoder
from minitorch.model_files.format import ModelFileError, expect
from minitorch.module import Module

# class attributes an instance's plain attribute may hide (a class-level default, ``scale = 1.0``)
_PLAIN_DATA = (type(None), bool, int, float, str)
_MISSING = object()


def public_attributes(module: Module) -> dict[str, Any]:
    """Plain attributes ``forward`` may read: public, not registered, not the training flag."""
    registered = {*_filled(module._parameters), *_filled(module._modules), *_filled(module._buffers),
                  "training"}
    return {key: value for key, value in vars(module).items()
            if not key.startswith("_") and key not in registered}


def _filled(registry: dict[str, Any]) -> list[str]:
    """The names holding a value: an empty slot (``layer.b = None``) is a plain attribute in a file."""
    return [name for name, value in registry.items() if value is not None]


def added_name_problem(cls: type[Module], key: Any) -> str | None:
    """Why ``key`` cannot name a plain attribute added after construction to a ``cls``; None if it can.

    It must be a public identifier, not ``training``, and hide nothing of the class but a plain
    value (None, bool, int, float, str): never a method, a property or another descriptor.
    """
    if not isinstance(key, str) or not key.isidentifier():
        return "not a Python identifier"
    if key.startswith("_"):
        return "a private or special (_ or __) name"
    if key == "training":
        return "the train/eval flag (the file keeps modes apart)"
    found = inspect.getattr_static(cls, key, _MISSING)
    if found is not _MISSING and not isinstance(found, _PLAIN_DATA):
        return f"it would hide {cls.__name__}.{key} ({type(found).__name__}) of the class"
    return None


def describe_attributes(module: Module, where: str, made: dict[str, str] | None) -> dict[str, Any]:
    """The ``attributes``, ``added`` and ``removed`` sections for ``module`` (only the non-empty ones);
    TypeError naming the attribute if one cannot be stored or could not be read back. ``made``: the
    public names its constructor made and their kinds (``public_kinds``); None: unknown, every
    attribute is taken to be the constructor's. A name whose kind changed since (a plain attribute
    now a child, a Parameter deleted and set to a number) is removed, then set or added anew.
    """
    fix = "set it in __init__ from an argument, make it a buffer, or name it with a leading _"
    now = public_kinds(module)
    made = now if made is None else made
    weights = {**module._parameters, **module._buffers}
    for key, kind in now.items():
        if kind in ("parameter", "buffer") and weights[key] is not None and made.get(key) != kind:
            raise TypeError(f"{where} {kind} '{key}' was added after construction; a model file rebuilds "
                            f"the {kind}s the constructor makes: create it in __init__ (or save the weights "
                            "alone with architecture=False)")
    sections: dict[str, Any] = {"attributes": {}, "added": {}}
    for key, value in public_attributes(module).items():
        section = "attributes" if made.get(key) == now[key] else "added"
        problem = added_name_problem(type(module), key) if section == "added" else None
        if problem is not None:
            raise TypeError(f"{where} attribute '{key}', set after construction, cannot be saved: "
                            f"{problem}; rename it, or {fix}")
        sections[section][key] = Encoder()(value, f"{where} attribute '{key}' ({fix})")
    sections["removed"] = [key for key, kind in made.items() if now.get(key) != kind]
    return {section: value for section, value in sections.items() if value}


def remove_attributes(module: Module, node: dict[str, Any], where: str) -> None:
    """Delete the public names the file says were deleted after construction (first: a name deleted
    may have been made again as another kind, e.g. a plain attribute replaced by a child)."""
    for key in expect(node.get("removed", []), list, f"{where}.removed"):
        if not isinstance(key, str) or key.startswith("_") or key == "training" or key not in vars(module):
            raise ModelFileError(f"{where}.removed: {type(module).__name__} has no public attribute "
                                 f"{key!r:.80}")
        delattr(module, key)


def set_attributes(module: Module, node: dict[str, Any], where: str) -> None:
    """Put back the saved plain attributes: ``attributes`` over ones the rebuilt module has, then
    ``added`` as new ones (each name as ``added_name_problem`` allows)."""
    registered = {*module._parameters, *module._modules, *module._buffers}
    for key, value in expect(node.get("attributes", {}), dict, f"{where}.attributes").items():
        value = Decoder()(value, f"{where}.attributes.{key}")
        if key.startswith("_") or key == "training" or key not in vars(module) or (
                key in registered and value is not None):
            raise ModelFileError(f"{where}.attributes: {type(module).__name__} has no plain attribute "
                                 f"'{key:.80}'")
        setattr(module, key, value)
    for key, value in expect(node.get("added", {}), dict, f"{where}.added").items():
        problem = added_name_problem(type(module), key)
        if problem is None and (key in vars(module) or key in registered):
            problem = "the rebuilt module has it already"
        if problem is not None:
            raise ModelFileError(f"{where}.added: '{key:.80}' cannot be added to {type(module).__name__}: "
                                 f"{problem}")
        setattr(module, key, Decoder()(value, f"{where}.added.{key}"))
