"""save_model / load_model: one self-describing ``.npz`` per model.

A model file holds the header (format, versions, the architecture, the module tree, the training
flags, the frozen Parameters) and one entry per ``state_dict`` name (``"0.W"``, ``"0.b"``, ...),
so ``np.load(path)`` shows the weights under their usual names.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch.model_files.architecture import describe, module_tree
from minitorch.model_files.format import (
    FORMAT,
    FORMAT_VERSION,
    HEADER_KEY,
    ModelFileError,
    atomic_write_npz,
    expect,
    expect_keys,
    header_array,
    read_header,
    read_npz,
)
from minitorch.model_files.rebuild import rebuild
from minitorch.module import Module
from minitorch.version import __version__

PathLike = str | os.PathLike[str]


def save_model(model: Module, path: PathLike, *, architecture: bool = True) -> None:
    """Write ``model`` to ``path``: weights, buffers and architecture in one ``.npz``, atomically.

    ``mt.load_model(path)`` rebuilds it with no code from you. Every module's class must be
    MiniTorch's or registered (``@mt.register_module``) and its constructor arguments JSON-like;
    otherwise a TypeError names the module and argument. ``architecture=False`` stores the weights
    alone (for ``load_model(model, path)``). The file is written to a temporary file in the same
    folder, flushed to disk, then renamed over ``path``: a crash mid-save leaves the previous file.
    """
    arrays: dict[str, np.ndarray] = {}
    header = new_header("model", model=model_section(model, arrays, "", architecture))
    atomic_write_npz(path, {HEADER_KEY: header_array(header), **arrays})


def load_model(
    model: Module | PathLike, path: PathLike | None = None, *, architecture: bool = True
) -> Module:
    """``load_model(path)`` rebuilds a saved model; ``load_model(model, path)`` fills ``model``.

    The first form needs no code: classes are looked up among MiniTorch's and registered ones,
    never imported. The rebuilt model has the file's dtype and training flag; building it does not
    consume the library's random numbers. The second form loads the file's weights into a model
    you built, which must have the file's architecture (``check_architecture``: the same module
    tree, classes, constructor arguments and attributes; a ``ModelFileError`` names the first
    difference). ``architecture=False`` loads the weights alone, into any model with the same
    state names, shapes and dtypes (a deliberate weights-only load, as torch's
    ``load_state_dict``: e.g. into a model with another activation).

    Pickle is never used. A damaged, forged or mismatching file raises ``ModelFileError`` (a
    ValueError) and leaves ``model`` exactly as it was; a missing file raises FileNotFoundError.
    """
    if path is None:
        model, path = None, model
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"load_model: expected a Module to load into, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_model: expected a file path, got {type(path).__name__}")
    if not isinstance(architecture, bool):
        raise TypeError(f"load_model: expected architecture True or False, got {architecture!r}")
    if model is None and not architecture:
        raise TypeError("load_model: architecture=False loads weights into a model you built: "
                        "load_model(model, path, architecture=False)")
    arrays = read_npz(path, _expected_names(model))
    try:
        header = read_header(arrays)
        if header is None:
            raise ModelFileError(f"not a MiniTorch model file: it has no '{HEADER_KEY}' header entry")
        expect_keys(header, {"format", "format_version", "library_version", "kind", "model"}, "header")
        if header["kind"] != "model":
            raise ModelFileError(f"expected a model file, got kind {header['kind']!r} (use load_checkpoint)")
        del arrays[HEADER_KEY]
        return load_section(header["model"], arrays, model, "model", architecture)
    except ModelFileError as err:
        raise ModelFileError(f"{os.fspath(path)}: {err}") from None


def _expected_names(model: Module | None) -> Callable[[list[str]], None]:
    """Refuse, before any data is read, entries the model (or any model file) cannot hold."""
    allowed = None if model is None else {HEADER_KEY, *(
        f"{path}.{name}" if path else name
        for path, sub in _every_module(model) for name in [*sub._parameters, *sub._buffers])}

    def check(names: list[str]) -> None:
        unexpected = [n for n in names if ("/" in n if allowed is None else n not in allowed)]
        if unexpected:
            raise ModelFileError(f"does not match the model: unexpected entries {unexpected[:5]}")

    return check


def new_header(kind: str, **sections: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "kind": kind,
        **sections,
    }


def model_section(model: Module, arrays: dict[str, np.ndarray], prefix: str, architecture: bool) -> dict:
    """Header section for ``model``; its state goes into ``arrays`` under ``prefix + name``."""
    if not isinstance(model, Module):
        raise TypeError(f"expected a Module to save, got {type(model).__name__}")
    for name, value in model.state_dict().items():
        if prefix + name == HEADER_KEY:
            raise ValueError(f"a state entry may not be called '{HEADER_KEY}'")
        arrays[prefix + name] = value
    section = {
        "architecture": describe(model) if architecture else None,
        "modules": module_tree(model),
        "training": model.training,
    }
    ties = _ties(model)
    if ties:
        section["ties"] = ties
    modes = {path: sub.training for path, sub in _every_module(model) if sub.training != model.training}
    if modes:
        section["modes"] = modes  # e.g. a frozen BatchNorm kept in eval mode inside a training model
    frozen = [name for name, p in _all_parameters(model) if not p.requires_grad]
    if frozen:
        section["frozen"] = frozen  # a rebuilt model must not train what was frozen (fine-tuning)
    return section


def _ties(model: Module) -> list[list[str]]:
    """[[name, name it shares its Parameter with], ...]; a buffer shared by two names is refused."""
    first: dict[int, str] = {}
    ties = []
    for path, module in _every_module(model):
        for name, value in [*module._parameters.items(), *module._buffers.items()]:
            key = f"{path}.{name}" if path else name
            if value is None:  # an empty slot
                continue
            if id(value) not in first:
                first[id(value)] = key
            elif name in module._buffers:
                raise TypeError(f"save_model: buffers '{first[id(value)]}' and '{key}' are one array; "
                                "a model file cannot share buffers")
            else:
                ties.append([key, first[id(value)]])
    return ties


def _tie(model: Module, ties: Any) -> None:
    """Share the Parameters the file says were one (``t[2].W = t[0].W`` stays tied); each name is
    an alias at most once (as ``_ties`` writes them), so the pairs are at most the Parameters."""
    params = dict(_all_parameters(model))
    modules = dict(_every_module(model))  # tying replaces Parameters, never modules
    paths: dict[int, list[str]] = {}  # a module held twice: its Parameters have a name per path
    for path, module in modules.items():
        paths.setdefault(id(module), []).append(path)
    aliases: set[str] = set()
    for pair in expect(ties, list, "model.ties"):
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(name, str) and name in params for name in pair)) or pair[0] in aliases:
            raise ModelFileError(f"model.ties: expected [name, name] of Parameters, each name tied "
                                 f"once, got {pair!r:.80}")
        alias, original = pair
        if params[alias].shape != params[original].shape or params[alias].dtype != params[original].dtype:
            raise ModelFileError(f"model.ties: '{alias}' and '{original}' differ in shape or dtype")
        owner, _, attr = alias.rpartition(".")
        setattr(modules[owner], attr, params[original])
        aliases.add(alias)
        for path in paths[id(modules[owner])]:
            params[f"{path}.{attr}" if path else attr] = params[original]


def _set_modes(model: Module, modes: Any) -> Module:
    """Give every submodule its saved train/eval mode: the one ``modes`` names for its path, else
    the model's (``model`` is in its mode already). Parents first, each through its own ``train``
    (an override is honoured), so a module under one whose mode differs gets its own back."""
    modes = expect(modes, dict, "model.modes")
    modules = _every_module(model)
    paths = {path for path, _ in modules}
    for path, training in modes.items():
        if path not in paths:
            raise ModelFileError(f"model.modes: the model has no module '{path:.80}'")
        expect(training, bool, f"model.modes['{path:.80}']")
    for path, module in modules:
        wanted = modes.get(path, model.training)
        if module.training is not wanted:
            module.train(wanted)
    return model


def _freeze(model: Module, frozen: Any) -> None:
    """Set ``requires_grad = False`` on the Parameters the file names (the others stay trainable)."""
    params = dict(_all_parameters(model))
    for name in expect(frozen, list, "model.frozen"):
        if not isinstance(name, str) or name not in params:
            raise ModelFileError(f"model.frozen: expected names of Parameters, got {name!r:.80}")
        params[name].requires_grad = False


def _all_parameters(model: Module) -> list[tuple[str, Any]]:
    return [(f"{path}.{name}" if path else name, p)
            for path, module in _every_module(model) for name, p in module._parameters.items()
            if p is not None]


def load_section(section: Any, state: dict[str, np.ndarray], model: Module | None, where: str,
                 architecture: bool = True) -> Module:
    """Load ``state`` into ``model`` (atomically), or rebuild the model from ``section`` first;
    ``model`` must have the section's architecture unless ``architecture`` is False."""
    section = expect(section, dict, where)
    optional = {"ties", "modes", "frozen"} & set(section)
    expect_keys(section, {"architecture", "modules", "training"} | optional, where)
    tree = expect(section["modules"], list, f"{where}.modules")
    training = expect(section["training"], bool, f"{where}.training")
    if model is None:
        if section["architecture"] is None:
            raise ModelFileError(
                "holds weights only (saved with architecture=False); use load_model(model, path)"
            )
        model = rebuild(section["architecture"], state)
        if module_tree(model) != tree:
            raise ModelFileError(_tree_difference(tree, module_tree(model)))
        _tie(model, section.get("ties", []))
        _freeze(model, section.get("frozen", []))
        _load_state(model, state)
        return _set_modes(model.train(training), section.get("modes", {}))
    if architecture:
        check_architecture(model, section["architecture"], tree)
    _load_state(model, state)  # a model you built keeps its own requires_grad flags, as in torch
    return model


def check_architecture(model: Module, saved: Any, tree: list[Any]) -> None:
    """ModelFileError naming the first difference between ``model`` and the file's architecture:
    the module tree (paths and class names, saved in every file), then, if the file has one, the
    architecture ``describe`` writes (constructor arguments, attributes, replaced arrays). A model
    ``describe`` refuses (a class not registered here) is checked by its tree alone."""
    advice = ("; build the model the file was saved from, or load the weights alone: "
              "load_model(model, path, architecture=False)")
    if module_tree(model) != tree:
        raise ModelFileError(f"does not match the model: {_given_tree_difference(tree, module_tree(model))}"
                             f"{advice}")
    if saved is None:
        return
    try:
        built = json.loads(json.dumps(describe(model), allow_nan=False))  # as the file holds it
    except (TypeError, ValueError):
        return
    difference = _first_difference(saved, built, "model")
    if difference is not None:
        raise ModelFileError(f"does not match the model's architecture: {difference}{advice}")


def _first_difference(saved: Any, built: Any, where: str, in_args: bool = False) -> str | None:
    """Where two architectures' JSON first differ (depth first, in the file's order), or None.

    Values that build the same computation are not a difference: numbers equal in value (``1`` and
    ``1.0``, never a bool), a list and a tuple of the same items, and, among constructor arguments
    (``in_args``), a number and a tuple or list of that number alone (``Conv2d(1, 2, 3)`` and
    ``Conv2d(1, 2, (3, 3))``, ``LayerNorm(4)`` and ``LayerNorm((4,))``)."""
    saved, built = _items(saved), _items(built)
    if in_args and ((_number(saved) and _numbers(built) and all(item == saved for item in built))
                    or (_number(built) and _numbers(saved) and all(item == built for item in saved))):
        return None
    if isinstance(saved, dict) and isinstance(built, dict):
        if len(saved) == 1 and saved.keys() == built.keys() and next(iter(saved)) in _WRAPPERS:
            key = next(iter(saved))
            return _first_difference(saved[key], built[key], where, in_args and key != "__module__")
        for key in [*saved, *(k for k in built if k not in saved)]:
            if key not in saved or key not in built:
                return (f"{where}: {key!r} is "
                        f"{'only in the file' if key in saved else 'only in the model'}")
            found = _first_difference(saved[key], built[key], f"{where}.{key}" if where else key,
                                      in_args or key == "args")
            if found is not None:
                return found
        return None
    if isinstance(saved, list) and isinstance(built, list) and len(saved) == len(built):
        for i, (a, b) in enumerate(zip(saved, built, strict=True)):
            found = _first_difference(a, b, f"{where}[{i}]", in_args)
            if found is not None:
                return found
        return None
    if saved == built and (type(saved) is type(built) or (_number(saved) and _number(built))):
        return None
    return f"{where}: the file says {_brief(saved)}, the model has {_brief(built)}"


def _items(value: Any) -> Any:
    """A tuple's items as a list (``{"__tuple__": [...]}`` -> ``[...]``); any other value as it is."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("__tuple__"), list):
        return value["__tuple__"]
    return value


def _number(value: Any) -> bool:
    """Whether a JSON value is an int or a float (a bool is neither here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any) -> bool:
    """Whether a JSON value is a non-empty list of numbers."""
    return isinstance(value, list) and bool(value) and all(_number(item) for item in value)


def _brief(value: Any) -> str:
    """A value of a header in a few words: a forged one may be deep or huge (never repr'd whole)."""
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with keys {[key[:20] for key in itertools.islice(value, 5)]}"
    text = repr(value[:81] if isinstance(value, str) else value)
    return text if len(text) <= 80 else text[:77] + "..."


_WRAPPERS = {"__module__", "__tuple__"}  # codec.py's one-key objects a path need not show


def _load_state(model: Module, state: dict[str, np.ndarray]) -> None:
    _check_shared(model, state)
    try:
        model.load_state_dict(state)  # checks every name, shape and dtype before changing anything
    except ValueError as err:
        raise ModelFileError(f"does not match the model: {err}") from None


def _check_shared(model: Module, state: dict[str, np.ndarray]) -> None:
    """Names that are one Parameter or buffer in ``model`` (tied, or a shared module's) must hold
    equal arrays in the file (NaN equal to NaN), as ``save_model`` writes them: a file saying
    otherwise is damaged or forged, not one value to pick (``load_state_dict`` would keep the last)."""
    first: dict[int, str] = {}
    for name, (_, _, value) in model._state_slots().items():
        if name not in state:
            continue
        seen = first.setdefault(id(value), name)
        a, b = state[seen], state[name]
        if seen != name and a.shape == b.shape and not np.array_equal(
                a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"):
            raise ModelFileError(
                f"does not match the model: '{seen}' and '{name}' are one object in the model (tied, or a "
                "shared module's) but the file holds different values for them"
            )


def _tree_difference(saved: list[Any], rebuilt: list[list[str]]) -> str:
    for i, (a, b) in enumerate(zip(saved, rebuilt, strict=False)):
        if a != b:
            return (f"the rebuilt model differs from the saved one at module #{i}: file says {a!r:.80}, "
                    f"constructors build {b!r}; was the model changed after construction?")
    return (f"the rebuilt model has {len(rebuilt)} modules, the file lists {len(saved)}; "
            "was the model changed after construction?")


def _given_tree_difference(saved: list[Any], given: list[list[str]]) -> str:
    for a, b in zip(saved, given, strict=False):
        if a != b:
            return f"the file has module {a!r:.80} where the model has {b!r}"
    return f"the file lists {len(saved)} modules, the model has {len(given)}"


def _every_module(model: Module) -> list[tuple[str, Module]]:
    """Every (path, module), a module held twice under each of its paths (the files' layout)."""
    return list(model.named_modules(remove_duplicate=False))
