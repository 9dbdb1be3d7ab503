"""Which classes a file may name: MiniTorch's own and those registered with ``@register_module``.

A file names each module by its class name; rebuilding looks the name up here and never imports
anything a file names (``rebuild.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

from minitorch.module import Module

M = TypeVar("M", bound=type[Module])
_registered: dict[str, type[Module]] = {}


@overload
def register_module(cls: M, *, name: str | None = None) -> M: ...
@overload
def register_module(cls: None = None, *, name: str | None = None) -> Callable[[M], M]: ...
def register_module(cls: M | None = None, *, name: str | None = None) -> M | Callable[[M], M]:
    """Let files name a Module subclass of your own, so ``load_model(path)`` can rebuild it.

    Use as ``@mt.register_module`` (the name is the class name) or
    ``@mt.register_module(name="MyNet")``. MiniTorch's own layers need no registration. A name
    already taken by another class is a ValueError; registering the same class again, or a new
    definition of it (same module and qualified name, e.g. a re-run notebook cell), is not.
    The class is rebuilt by calling it with the arguments its constructor got, so they must be
    JSON-like values (numbers, strings, lists, tuples, dicts) or Modules.
    """

    def register(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise TypeError(f"register_module: expected a Module subclass, got {cls!r}")
        key = cls.__name__ if name is None else name
        if not isinstance(key, str) or not key:
            raise ValueError(f"register_module: expected a non-empty name, got {key!r}")
        taken = known_classes().get(key)
        redefined = taken is not None and key in _registered and (
            (taken.__module__, taken.__qualname__) == (cls.__module__, cls.__qualname__)
        )  # the same class defined again (a re-run notebook cell, a reloaded module) replaces it
        if taken is not None and taken is not cls and not redefined:
            raise ValueError(
                f"register_module: the name '{key}' is already taken by "
                f"{taken.__module__}.{taken.__qualname__}; pass another with name=..."
            )
        _registered[key] = cls
        return cls

    return register if cls is None else register(cls)


def known_classes() -> dict[str, type[Module]]:
    """Name -> class for every class a file may name: MiniTorch's own, then registered ones."""
    classes: dict[str, type[Module]] = {}
    stack = [Module]
    while stack:  # every loaded subclass defined inside minitorch, without importing anything
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("minitorch."):
                classes.setdefault(sub.__name__, sub)
    return {**classes, **_registered}


def class_name(cls: type[Module], where: str) -> str:
    """The name ``cls`` is saved under, or a TypeError saying how to register it."""
    for key, known in known_classes().items():
        if known is cls:
            return key
    raise TypeError(
        f"{where}: class {cls.__qualname__} is not registered, so a file could not rebuild it; "
        "decorate it with @mt.register_module (or save weights only with architecture=False)"
    )
