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
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

import numpy as np

import minitorch.random as library_random
from minitorch.constructor_args import constructor_check
from minitorch.containers import ModuleDict, ModuleList, Sequential
from minitorch.model_files.codec import DICT, MODULE, TUPLE, Decoder, Encoder
from minitorch.model_files.format import MAX_DEPTH, ModelFileError, expect, expect_keys
from minitorch.module import Module
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
def describe(module: Module, where: str = "model", depth: int = 0) -> dict[str, Any]:
    """The architecture of ``module`` as JSON; TypeError if a class or a value cannot be stored, or
    if modules nest deeper than ``_build`` reads (``depth`` levels down now; each module held by an
    argument or a child is one level below its parent).

    ``args`` are the constructor's; ``children`` (only if any) describe the children the
    constructor arguments do not hold, so a child assigned after construction (``net.fc =
    Linear(8, 3)``) is rebuilt as it is now; ``attributes`` (only if any) are the module's public
    plain attributes as they are now (``act.negative_slope = 0.3`` after construction is kept).
    """
    _check_module_depth(depth, where, TypeError)
    name = class_name(type(module), where)
    named = {id(child): f"{where}.{key}" for key, child in module._modules.items()}
    encode = Encoder(module=lambda child, path: describe(child, named.get(id(child), path), depth + 1))
    args = constructor_args(module)
    node = {"class": name,
            "args": {arg: encode(value, f"{where} ({name}) argument '{arg}'") for arg, value in args.items()}}
    held = _module_ids(args.values())
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


def _module_ids(values: Any) -> set[int]:
    """ids of the Modules inside (nested) constructor argument values."""
    found: set[int] = set()
    for value in values:
        if isinstance(value, Module):
            found.add(id(value))
        elif isinstance(value, (tuple, list)):
            found |= _module_ids(value)
        elif isinstance(value, dict):
            found |= _module_ids(value.values())
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


# ------------------------------------------------------------------------------- rebuild
def rebuild(architecture: Any, state: dict[str, np.ndarray]) -> Module:
    """A fresh model from its architecture, sized for the weights ``state`` will fill in.

    Every module is built in its weights' dtype, and the library's random generator and default
    dtype are left as they were (``set_default_dtype`` is never called: another thread building a
    layer meanwhile gets the default it expects). A constructor that takes ``dtype=`` (MiniTorch's
    layers with weights, and yours if they take it) is given the one floating dtype (float32 or
    float64) of the file's arrays under the module's place in the model, when the file names its
    place (the model, a container's members, a child added after construction) and they agree;
    else its parent's (see ``_FileDtypes``). A ``dtype`` the file records among your module's own
    arguments is kept. Then every floating Parameter and buffer whose dtype still differs from its
    array in the file (a module of yours whose constructor takes no ``dtype``, a model cast with
    ``.to()`` after construction, a float16 model) is cast to it, as ``Module.to`` casts: the
    loaded model holds the file's dtypes, array by array.

    The whole rebuild keeps one budget of 4x the file's element count + 2**16 elements
    (a valid file needs exactly its element count): before each MiniTorch constructor runs, its
    estimated size (see ``_Budget``) is charged, every random draw that initialises a weight is
    charged before the generator allocates it, and after each module is built what it really
    holds is counted; the first overdraft is a ModelFileError, so a forged file cannot make the
    rebuild allocate much more than the file holds.
    """
    elements = sum(int(array.size) for array in state.values())
    budget = _Budget(4 * elements + 2**16)
    dtypes = _FileDtypes(state)
    token = constructor_check.set(budget.charge_estimate)
    try:
        with preserved_rng(), budgeted_draws(budget):
            model = _build(architecture, "architecture", budget, 0, _Place("", dtypes))
    except RecursionError:  # a safety net: MAX_DEPTH keeps honest and forged files well below it
        raise ModelFileError("architecture: modules nested too deeply to rebuild") from None
    finally:
        constructor_check.reset(token)
    take_file_dtypes(model, state)
    return model


class _FileDtypes:
    """The floating dtypes of a file's arrays under each module path (``""``: the whole model).

    Read once, in time linear in the names' length: a name is counted under at most
    ``MAX_DEPTH + 2`` prefixes (a deeper one names no module a rebuild can make).
    """

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self._under: dict[str, set[np.dtype]] = {}
        for key, array in state.items():
            if array.dtype.kind != "f":
                continue
            parts = key.split(".", MAX_DEPTH + 2)
            prefix = ""
            for part in ["", *parts[:-1]][: MAX_DEPTH + 2]:
                prefix = f"{prefix}.{part}" if prefix else part
                self._under.setdefault(prefix, set()).add(array.dtype)

    def under(self, path: str) -> np.dtype | None:
        """The one dtype MiniTorch builds in (float32 or float64) of the arrays under ``path``;
        None if there are none, several, or another floating dtype (float16)."""
        found = self._under.get(path, set())
        if len(found) == 1 and found <= {np.dtype(np.float32), np.dtype(np.float64)}:
            return next(iter(found))
        return None


class _Place:
    """Where a module being built sits: its path in the model (None if the file does not say,
    e.g. a module passed to your constructor) and the dtype to build it in."""

    def __init__(self, path: str | None, dtypes: _FileDtypes, inherited: np.dtype | None = None) -> None:
        self.path, self.dtypes = path, dtypes
        found = None if path is None else dtypes.under(path)
        self.dtype = found if found is not None else inherited

    def child(self, name: str | None) -> _Place:
        path = None if self.path is None or name is None else (f"{self.path}.{name}" if self.path else name)
        return _Place(path, self.dtypes, self.dtype)


def _check_module_depth(depth: int, where: str, error: type[Exception]) -> None:
    """The one module-nesting rule of ``describe`` and ``_build``: the saved model is level 0."""
    if depth > MAX_DEPTH:
        raise error(f"{where}: modules nested deeper than {MAX_DEPTH} levels; a model file holds no "
                    "deeper module")


def _build(node: Any, where: str, budget: _Budget, depth: int, place: _Place) -> Module:
    _check_module_depth(depth, where, ModelFileError)
    node = expect(node, dict, where)
    expect_keys(node, {"class", "args"} | ({"children", "attributes"} & set(node)), where)
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
    _restore(module, node, _module_ids(values.values()), where, budget, depth, place)
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
        pairs = [pair for pair in modules[DICT] if isinstance(pair, list) and len(pair) == 2]
    elif isinstance(modules, list):
        pairs = [[str(i), item] for i, item in enumerate(modules)]
    else:
        return {}
    return {id(item[MODULE]): str(key) for key, item in pairs
            if isinstance(item, dict) and isinstance(item.get(MODULE), dict)}


def _restore(module: Module, node: dict[str, Any], held: set[int], where: str, budget: _Budget,
             depth: int, place: _Place) -> None:
    """Make a constructed module what the file describes: its children and plain attributes.

    ``held``: ids of the modules passed to the constructor (described by the arguments). A child
    the constructor made as the file describes it is kept (and restored in turn); one that differs
    is rebuilt; one the saved model no longer had is removed.
    """
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
            held_by_child = _module_ids(constructor_args(child).values())
            _restore(child, child_node, held_by_child, path, budget, depth + 1, place.child(key))
        else:
            _set_child(module, key, _build(child_node, path, budget, depth + 1, place.child(key)), where)
    for key, value in attributes.items():
        _set_attribute(module, key, Decoder()(value, f"{where}.attributes.{key}"), where)


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


def _set_attribute(module: Module, key: str, value: Any, where: str) -> None:
    """Put a saved plain attribute back; only one the rebuilt module has, never a new one."""
    registered = {*module._parameters, *module._modules, *module._buffers}
    if key.startswith("_") or key == "training" or key not in vars(module) or (
            key in registered and value is not None):
        raise ModelFileError(f"{where}.attributes: {type(module).__name__} has no plain attribute '{key}'")
    setattr(module, key, value)


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


class _Budget:
    """One allocation budget (in array elements) for a whole rebuild.

    ``charge_estimate`` runs before every constructor (as ``module.constructor_check``): a
    MiniTorch layer is estimated at the product of its two largest integer arguments times its
    kernel area (``kernel_size`` counted once per spatial dimension: ``Conv2d`` -> k**2), which is
    what Linear, Conv, the norms and Embedding-like layers allocate; a head count, a stride or a
    third dimension (kdim, vdim) does not multiply it. A layer it underrates is caught by the draw
    and built charges below. ``charge_built`` then counts what a built module really
    holds (every Parameter and buffer not counted before), so a class the estimate
    underrates costs at most one layer before the rebuild stops.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.estimated, self.drawn, self.built = limit, 0, 0, 0
        self._counted: set[int] = set()

    def charge_estimate(self, cls: type, arguments: dict[str, Any]) -> None:
        if not cls.__module__.startswith("minitorch."):
            return
        dims = int(cls.__name__[-2]) if cls.__name__[-2:-1].isdigit() and cls.__name__[-1] == "d" else 1
        kernel, sizes = 1, []
        for arg, value in arguments.items():
            numbers = [max(1, abs(number)) for number in _ints([value])]
            if arg == "kernel_size":
                kernel = math.prod(numbers) ** (dims if isinstance(value, int) else 1)  # k means (k,) * dims
            else:
                sizes.extend(numbers)
        largest = sorted(sizes, reverse=True)[:2]
        self.estimated += math.prod(largest) * kernel
        if self.estimated > self.limit:
            raise ModelFileError(
                f"{cls.__name__}{tuple(arguments.values())!r:.80}: sizes implausibly large for the "
                f"weights in the file (the modules so far need ~{self.estimated} elements, the file "
                f"holds enough for {self.limit})"
            )

    def charge_draw(self, size: Any, method: str) -> None:
        count = 1
        for number in _ints([size]):
            count *= max(0, number)
        self.drawn += count
        if self.drawn > self.limit:
            raise ModelFileError(
                f"a constructor asks the random generator for {count} values ({method}), implausibly "
                f"many for the weights in the file ({self.limit} at most)"
            )

    def charge_built(self, module: Module, where: str) -> None:
        for sub in module.modules():
            arrays = [p.data for p in sub._parameters.values() if p is not None]
            for array in [*arrays, *sub._buffers.values()]:
                if isinstance(array, np.ndarray) and id(array) not in self._counted:
                    self._counted.add(id(array))
                    self.built += array.size
        if self.built > self.limit:
            raise ModelFileError(
                f"{where}: the modules built so far hold {self.built} elements, implausibly many for "
                f"the weights in the file ({self.limit} at most)"
            )


def _ints(values: Any) -> Iterator[int]:
    for value in values:
        if isinstance(value, (tuple, list)):
            yield from _ints(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            yield int(value)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Initialising the rebuilt layers draws random numbers: put the generator back afterwards."""
    state = generator().bit_generator.state
    try:
        yield
    finally:
        generator().bit_generator.state = state


# where each of the generator's draws takes its ``size`` positionally
_DRAW_SIZE_AT = {"uniform": 2, "normal": 2, "standard_normal": 0, "random": 0, "integers": 2,
                 "permutation": 0}


class _BudgetedDraws:
    """Stands in for the library's generator during a rebuild: layers draw their initial weights
    from ``generator()``, so each draw's size is charged to the budget before anything is allocated
    (exact for any layer, however its size depends on its arguments: LSTM, attention...)."""

    def __init__(self, rng: np.random.Generator, budget: _Budget) -> None:
        self._rng, self._budget = rng, budget

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._rng, name)
        if name not in _DRAW_SIZE_AT:
            return method

        def draw(*args: Any, **kwargs: Any) -> Any:
            at = _DRAW_SIZE_AT[name]
            size = kwargs.get("size", args[at] if len(args) > at else None)
            if size is None and kwargs.get("out") is not None:  # drawn into an array made before
                size = tuple(np.shape(kwargs["out"]))
            self._budget.charge_draw(size, name)
            return method(*args, **kwargs)

        return draw


@contextlib.contextmanager
def budgeted_draws(budget: _Budget) -> Iterator[None]:
    """Route the library's random draws through ``_BudgetedDraws`` while a model is rebuilt."""
    real = library_random._generator
    library_random._generator = _BudgetedDraws(real, budget)  # type: ignore[assignment]
    try:
        yield
    finally:
        library_random._generator = real


def take_file_dtypes(model: Module, state: dict[str, np.ndarray]) -> None:
    """Cast each floating Parameter and buffer of ``model`` whose array in ``state`` has another
    floating dtype to that dtype, as ``Module.to`` casts (values are loaded afterwards)."""
    for path, module in model.named_modules():
        for name, param in module._parameters.items():
            saved = state.get(f"{path}.{name}" if path else name)
            if param is not None and _other_float(param.data, saved):
                param.to(saved.dtype)
        for name, buffer in list(module._buffers.items()):
            saved = state.get(f"{path}.{name}" if path else name)
            if _other_float(buffer, saved):
                setattr(module, name, buffer.astype(saved.dtype))


def _other_float(ours: Any, saved: Any) -> bool:
    return (isinstance(ours, np.ndarray) and isinstance(saved, np.ndarray) and ours.dtype.kind == "f"
            and saved.dtype.kind == "f" and ours.dtype != saved.dtype and ours.shape == saved.shape)
