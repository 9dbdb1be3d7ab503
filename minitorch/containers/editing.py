"""What the containers' edits share: torch's index rules, the children renamed through the Module
registries, and the forward calls an edit leaves without their chain (dropped).

Items are checked before anything changes: an edit that raises (a non-Module, ``None``, an item of
``extend`` part-way) leaves the container as it was, where torch's ``extend``/``update`` have added
the items before the bad one and torch's ``container[i] = None`` leaves an empty slot."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from minitorch import call_frames, edit_marks
from minitorch.module import Module


def as_int(index: Any, who: str, expected: str = "an int index") -> int:
    try:
        return operator.index(index)  # ints, NumPy ints, bools; not floats (as torch)
    except TypeError:
        raise TypeError(f"{who}: expected {expected}, got {type(index).__name__}") from None


def position(index: Any, size: int, who: str, slices: bool = False) -> int:
    """``index`` (negative counts from the end) as a position in [0, size), or IndexError as torch."""
    i = as_int(index, who, "an int index or a slice" if slices else "an int index")
    if not -size <= i < size:
        span = f"an index from {-size} to {size - 1}" if size else "no index (it is empty)"
        raise IndexError(f"{who}: expected {span}, got {i}: out of range for {size} modules")
    return i % size


def kept_after_delete(modules: list[Module], index: Any, who: str) -> list[Module]:
    """``modules`` without those ``del container[index]`` removes (an int index, checked as
    ``position`` checks it, or a slice)."""
    if isinstance(index, slice):
        gone = set(range(len(modules))[index])
    else:
        gone = {position(index, len(modules), who, True)}
    return [m for i, m in enumerate(modules) if i not in gone]


def modules_of(modules: Iterable[Module], who: str) -> list[Module]:
    """``modules`` as a list, every item checked to be a Module (before anything is edited)."""
    try:
        modules = list(modules)
    except TypeError:
        raise TypeError(f"{who}: expected an iterable of Modules, got {type(modules).__name__}") from None
    for module in modules:
        if not isinstance(module, Module):  # (torch's Sequential[i] = None leaves an empty slot: not here)
            hint = ""
            if module is None:
                hint = " (a child cannot be empty: del removes one)"
            elif isinstance(module, (list, tuple)):  # Sequential([a, b]) for Sequential(a, b)
                hint = " (unpack it: Sequential(*layers))" if who == "Sequential(...)" else " (flatten it)"
            raise TypeError(f"{who}: expected Module instances, got {type(module).__name__}{hint}")
    return modules


def check_count(count: Any, who: str) -> None:
    if not isinstance(count, int):
        raise TypeError(f"{who}: expected an int count, got {type(count).__name__}")
    if count <= 0:
        raise ValueError(f"{who}: expected a positive count, got {count}")


def add_named(container: Module, name: Any, module: Module) -> None:
    """A child under ``name``, with torch's ``add_module`` checks (and no leading '_': caches' names)."""
    who = f"{type(container).__name__}: child name {name!r}"
    if not isinstance(name, str):
        raise TypeError(f"{who}: expected a str, got {type(name).__name__}")
    if not name or "." in name or name.startswith("_"):
        raise KeyError(f"{who}: expected a non-empty name without '.' or leading '_'")
    if name not in container._modules and hasattr(container, name):
        raise KeyError(f"{who} is an attribute of {type(container).__name__}")
    (module,) = modules_of([module], f"{type(container).__name__}({name}=...)")
    setattr(container, name, module)


def need_positional_names(container: Module, who: str) -> None:
    names = list(container._modules)
    if names != [str(i) for i in range(len(names))]:
        raise KeyError(
            f"{who}: renumbers children named '0', '1', ...; this one's are {names} (a slice keeps its "
            "names); renumber them first, model = Sequential(*model)"
        )


def rename(container: Module, children: list[Module]) -> None:
    """``children`` as the children "0", "1", ..., through ``__delattr__`` and ``__setattr__``, so
    every registry the Module keeps stays right (``_modules`` is the same dict, edited in place)."""
    for name in list(container._modules):
        delattr(container, name)
    for i, module in enumerate(children):
        setattr(container, str(i), module)


def drop_waiting_calls(container: Module, incoming: list[Module], who: str) -> bool:
    """Before an edit ``who``: if the container, a child or an incoming module has a forward call
    waiting for its backward, drop those calls (the chain they ran is being changed) and mark each
    module that lost one (``minitorch.edit_marks``), so any backward that would have consumed one
    (a parent's, another container's holding the same module) refuses naming the edit; True if it
    dropped any (a Sequential then marks itself too)."""
    involved = {id(m): m for module in [container, *container._modules.values(), *incoming]
                for m in module.modules()}
    waiting = [m for m in involved.values() if m.__dict__["_stack"]]
    if not waiting:
        return False
    for module in involved.values():
        call_frames.discard_all(module)
    for module in waiting:
        edit_marks.mark_dropped(module, who)
    return True


def unchanged(container: Module, name: str, module: Module) -> bool:
    """``container[i] = container[i]``: the same object under the same name changes nothing (as
    torch's setattr of the same module), so no waiting call is dropped."""
    return container._modules.get(name) is module
