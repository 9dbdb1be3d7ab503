"""Which classes a file may name, and the architecture: a module tree as JSON and back.

A module is described by its class name and the arguments its constructor was called with (which
``Module`` records automatically), nesting through Module-valued arguments; a ``Sequential``'s
arguments are its current children::

    {"class": "Sequential", "args": {"modules": {"__tuple__": [
        {"__module__": {"class": "Linear", "args": {"in_features": 4, "out_features": 16, "bias": true}}},
        {"__module__": {"class": "ReLU", "args": {}}}]}}}

Rebuilding looks each class name up among MiniTorch's own classes and those registered with
``@register_module``; it never imports anything a file names.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

import numpy as np

from minitorch.constructor_args import constructor_check
from minitorch.dtypes import get_default_dtype, set_default_dtype
from minitorch.model_files.codec import Decoder, Encoder
from minitorch.model_files.format import MAX_DEPTH, ModelFileError, expect, expect_keys
from minitorch.module import Module, Sequential
from minitorch.random import generator

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


# ------------------------------------------------------------------------------ describe
def describe(module: Module, where: str = "model") -> dict[str, Any]:
    """The architecture of ``module`` as JSON; TypeError if a class or an argument cannot be stored."""
    name = class_name(type(module), where)
    children = {id(child): f"{where}.{key}" for key, child in module.named_children()}
    encode = Encoder(module=lambda child, path: describe(child, children.get(id(child), path)))
    return {
        "class": name,
        "args": {arg: encode(value, f"{where} ({name}) argument '{arg}'")
                 for arg, value in constructor_args(module).items()},
    }


def constructor_args(module: Module) -> dict[str, Any]:
    """The recorded constructor arguments; a Sequential's are its current children."""
    if type(module).__init__ is Sequential.__init__:
        return {"modules": tuple(module.children())}
    return dict(module.__dict__.get("_init_args", {}))


def module_tree(module: Module) -> list[list[str]]:
    """[[dotted name, class name], ...] for the module and every descendant."""
    return [[path, type(sub).__name__] for path, sub in module.named_modules()]


# ------------------------------------------------------------------------------- rebuild
def rebuild(architecture: Any, state: dict[str, np.ndarray]) -> Module:
    """A fresh model from its architecture, sized for the weights ``state`` will fill in.

    It is built in the weights' floating dtype and leaves the library's random generator as it
    was. Constructor sizes are vetted against the file: a MiniTorch layer whose integer arguments
    multiply to more than 16x the file's element count + 2**20 is refused before it allocates
    anything, so a forged size cannot exhaust memory.
    """
    elements = sum(int(array.size) for array in state.values())
    token = constructor_check.set(_size_check(16 * elements + 2**20))
    try:
        with preserved_rng(), default_dtype_of(state):
            model = _build(architecture, "architecture")
    except RecursionError:  # a safety net: MAX_DEPTH keeps honest and forged files well below it
        raise ModelFileError("architecture: modules nested too deeply to rebuild") from None
    finally:
        constructor_check.reset(token)
    return model


def _build(node: Any, where: str, depth: int = 0) -> Module:
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{where}: modules nested deeper than {MAX_DEPTH} levels")
    node = expect(node, dict, where)
    expect_keys(node, {"class", "args"}, where)
    name = expect(node["class"], str, f"{where}.class")
    cls = known_classes().get(name)
    if cls is None:
        raise ModelFileError(
            f"{where}: unknown module class '{name}'; if it is your own, register it with "
            "@mt.register_module before loading (MiniTorch never imports code a file names)"
        )
    decode = Decoder(module=lambda body, path: _build(body, path, depth + 1))
    args = expect(node["args"], dict, f"{where}.args")
    values = {arg: decode(value, f"{where}.args.{arg}") for arg, value in args.items()}
    positional, keywords = _call_args(cls, values, f"{where} ({name})")
    try:
        return cls(*positional, **keywords)
    except ModelFileError:
        raise
    except Exception as err:  # the constructor rejects what the file says: any error it raises
        raise ModelFileError(f"{where}: {name}(...) failed: {type(err).__name__}: {err}") from None


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


def _size_check(budget: int) -> Callable[[type, dict[str, Any]], None]:
    def check(cls: type, arguments: dict[str, Any]) -> None:
        if not cls.__module__.startswith("minitorch."):
            return
        size = 1
        for value in _ints(arguments.values()):
            size *= max(1, abs(value))
        if size > budget:
            raise ModelFileError(
                f"{cls.__name__}{tuple(arguments.values())!r:.80}: sizes implausibly large for "
                "the weights in the file"
            )

    return check


def _ints(values: Any) -> Iterator[int]:
    for value in values:
        if isinstance(value, (tuple, list)):
            yield from _ints(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            yield value


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Initialising the rebuilt layers draws random numbers: put the generator back afterwards."""
    state = generator().bit_generator.state
    try:
        yield
    finally:
        generator().bit_generator.state = state


@contextlib.contextmanager
def default_dtype_of(state: dict[str, np.ndarray]) -> Iterator[None]:
    """Build modules in the dtype the floating arrays of ``state`` share (if float32 or float64)."""
    dtypes = {array.dtype for array in state.values() if array.dtype.kind == "f"}
    previous = get_default_dtype()
    if len(dtypes) == 1 and dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        set_default_dtype(dtypes.pop())
    try:
        yield
    finally:
        set_default_dtype(previous)
