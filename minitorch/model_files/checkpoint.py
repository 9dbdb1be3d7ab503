"""Checkpoints: model, optimizer and scheduler state, epoch, your metadata and the random generator.

Entries are ``model/<state name>``, ``optimizer/<n>``, ``scheduler/<n>`` and ``metadata/<n>`` (the
arrays inside the ``state_dict()``s and your metadata); everything else is JSON in the header (the
``scheduler`` section only when a scheduler was saved). Resuming from a checkpoint continues
training bitwise as if it had never stopped: parameters, optimizer state (``momentum_buffer``,
``exp_avg``, ``step``...), the learning-rate scheduler's state (``last_epoch``, ``best``...) and
the generator that drives shuffling and dropout all come back exactly.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch.model_files.codec import Decoder, Encoder
from minitorch.model_files.format import (
    HEADER_KEY,
    ModelFileError,
    atomic_write_npz,
    expect,
    expect_keys,
    header_array,
    read_header,
    read_npz,
)
from minitorch.model_files.models import PathLike, load_section, model_section, new_header
from minitorch.module import Module
from minitorch.random import generator

_RESERVED = {"model", "optimizer", "optimizer_state", "scheduler", "scheduler_state", "epoch"}
_KEYS = {"format", "format_version", "library_version", "kind", "model", "optimizer", "epoch",
         "metadata", "rng"}


def save_checkpoint(
    path: PathLike,
    *,
    model: Module | None = None,
    optimizer: Any = None,
    epoch: int | None = None,
    architecture: bool = True,
    scheduler: Any = None,
    **metadata: Any,
) -> None:
    """Write a checkpoint to ``path`` atomically (see ``save_model`` for ``model``/``architecture``).

    ``optimizer`` is any object with ``state_dict()`` (PyTorch's layout: ``{"state": {index:
    {name: array or number}}, "param_groups": [{..., "params": [indices]}]}``); its class name is
    kept and checked when loading. ``scheduler`` is a learning-rate scheduler (any object with
    ``state_dict()``; its class name is kept and checked when loading). ``metadata`` are your own
    JSON-like values (numbers, strings, lists, tuples, dicts, arrays), returned by
    ``load_checkpoint``. The state of the library's random generator is always saved.
    """
    arrays: dict[str, np.ndarray] = {}
    if _RESERVED & set(metadata):
        raise TypeError(f"save_checkpoint: {sorted(_RESERVED & set(metadata))} are reserved names")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer))):
        raise TypeError(f"save_checkpoint: expected an integer epoch or None, got {epoch!r}")
    header = new_header(
        "checkpoint",
        model=None if model is None else model_section(model, arrays, "model/", architecture),
        optimizer=None if optimizer is None else _section(optimizer, arrays, "optimizer"),
        epoch=None if epoch is None else int(epoch),
        metadata={key: Encoder(arrays, "metadata/")(value, f"save_checkpoint: metadata '{key}'")
                  for key, value in metadata.items()},
        rng=Encoder()(generator().bit_generator.state, "the random generator state"),
    )
    if scheduler is not None:
        header["scheduler"] = _section(scheduler, arrays, "scheduler")
    atomic_write_npz(path, {HEADER_KEY: header_array(header), **arrays})


def load_checkpoint(
    path: PathLike, model: Module | None = None, optimizer: Any = None, *, restore_rng: bool = True,
    scheduler: Any = None, architecture: bool = True,
) -> dict[str, Any]:
    """Read a checkpoint; fill ``model``, ``optimizer`` and ``scheduler`` if given, else rebuild the model.

    Returns ``{"model": ..., "optimizer": ..., "optimizer_state": ..., "scheduler": ...,
    "scheduler_state": ..., "epoch": ..., **metadata}``: ``model`` is the given one or the rebuilt
    one (None if the file has none); ``optimizer`` and ``scheduler`` are the given ones;
    ``optimizer_state`` / ``scheduler_state`` are the saved state dicts when none was given.
    (A file written before ``scheduler=`` existed returns its own metadata named "scheduler".)
    A ``scheduler`` needs its ``optimizer`` too (the lrs it set live in the optimizer's groups).
    ``restore_rng=True`` (the default) puts the library's random generator back where it was at
    save time, so shuffling and dropout continue exactly as in an uninterrupted run.
    A given ``model`` must have the file's architecture, as in ``load_model(model, path)``;
    ``architecture=False`` loads the weights alone (same names, shapes and dtypes).

    Everything is checked before anything changes: on ``ModelFileError`` the model, the optimizer
    and the generator are exactly as before.
    """
    if scheduler is not None and (optimizer is None or getattr(scheduler, "optimizer", None)
                                  is not optimizer):
        raise TypeError(
            "load_checkpoint: scheduler= needs the optimizer it schedules as optimizer= (the lrs it "
            "set are the optimizer's state): load_checkpoint(path, model, optimizer=opt, scheduler=sched)"
        )
    if not isinstance(architecture, bool):
        raise TypeError(f"load_checkpoint: expected architecture True or False, got {architecture!r}")
    arrays = read_npz(path, _expected_names)
    try:
        header = read_header(arrays)
        if header is None or header.get("kind") != "checkpoint":
            raise ModelFileError("not a checkpoint (use load_model for model files)")
        expect_keys(header, _KEYS | ({"scheduler"} & set(header)), "header")
        del arrays[HEADER_KEY]
        epoch = expect(header["epoch"], (int, type(None)), "epoch")
        # files written before scheduler= existed may hold your own "scheduler" metadata: still read
        reserved = _RESERVED if "scheduler" in header else _RESERVED - {"scheduler", "scheduler_state"}
        metadata = _read_metadata(header["metadata"], arrays, reserved)
        opt_state = _read_optimizer(header["optimizer"], arrays, optimizer)
        sched_state = _read_section(header.get("scheduler"), arrays, "scheduler", scheduler)
        rng = _read_rng(header["rng"])
        section = header["model"]
        state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        if section is None and (model is not None or state):
            raise ModelFileError("holds no model")
        if section is not None and model is None:
            model = load_section(section, state, None, "model")  # a new model: nothing to roll back
            _commit(None, {}, None, optimizer, opt_state, scheduler, sched_state)
        else:
            _commit(model, state, section, optimizer, opt_state, scheduler, sched_state, architecture)
    except ModelFileError as err:
        raise ModelFileError(f"{os.fspath(path)}: {err}") from None
    if restore_rng and rng is not None:
        generator().bit_generator.state = rng
    return {
        "model": model,
        "optimizer": optimizer,
        "optimizer_state": opt_state if optimizer is None else None,
        "scheduler": scheduler,
        "scheduler_state": sched_state if scheduler is None else None,
        "epoch": epoch,
        **metadata,
    }


def _expected_names(names: list[str]) -> None:
    """Refuse, before any data is read, entries a checkpoint never holds."""
    prefixes = ("model/", "optimizer/", "scheduler/", "metadata/")
    unknown = [k for k in names if k != HEADER_KEY and not k.startswith(prefixes)]
    if unknown:
        raise ModelFileError(f"not a checkpoint (or a damaged one): unknown entries {unknown[:5]}")


def _section(obj: Any, arrays: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    """An optimizer's or scheduler's ``{"class", "state"}`` section; its arrays go under ``name/``."""
    if not callable(getattr(obj, "state_dict", None)):
        raise TypeError(f"save_checkpoint: {type(obj).__name__} has no state_dict() to save")
    state = Encoder(arrays, f"{name}/")(obj.state_dict(), f"save_checkpoint: {name} state")
    return {"class": type(obj).__name__, "state": state}


def _read_section(section: Any, arrays: dict[str, np.ndarray], name: str, target: Any) -> dict | None:
    """The decoded state of a ``_section`` (every array under ``name/`` referred to), checked against
    ``target``'s class (the optimizer or scheduler given to load_checkpoint); None when the file has
    none, which ``target`` then must not expect. The values are checked on load."""
    if section is None:
        if target is not None or any(k.startswith(f"{name}/") for k in arrays):
            raise ModelFileError(f"holds no {name} state")
        return None
    section = expect(section, dict, name)
    expect_keys(section, {"class", "state"}, name)
    saved_class = expect(section["class"], str, f"{name}.class")
    state = _decoded(arrays, f"{name}/", lambda decode: decode(section["state"], f"{name}.state"))
    state = expect(state, dict, f"{name}.state")
    if target is not None:
        if not callable(getattr(target, "load_state_dict", None)):
            raise TypeError(f"load_checkpoint: {type(target).__name__} has no load_state_dict()")
        if type(target).__name__ != saved_class:
            raise ModelFileError(f"holds {saved_class} state, not {type(target).__name__} state")
    return state


def _decoded(arrays: dict[str, np.ndarray], prefix: str, read: Callable[[Decoder], Any]) -> Any:
    """``read(decoder)``, then check that every entry under ``prefix`` was referred to."""
    decode = Decoder(arrays, prefix)
    value = read(decode)
    unused = sorted(k for k in arrays if k.startswith(prefix) and k not in decode.used)
    if unused:
        raise ModelFileError(f"entries nobody refers to: {unused[:5]}")
    return value


def _read_metadata(obj: Any, arrays: dict[str, np.ndarray], reserved: set[str]) -> dict[str, Any]:
    metadata = _decoded(arrays, "metadata/", lambda decode: {
        key: decode(item, f"metadata.{key}") for key, item in expect(obj, dict, "metadata").items()
    })
    if reserved & set(metadata):
        raise ModelFileError(f"metadata uses reserved names {sorted(reserved & set(metadata))}")
    return metadata


def _read_optimizer(section: Any, arrays: dict[str, np.ndarray], optimizer: Any) -> dict | None:
    """The saved optimizer state, checked against ``optimizer`` (class and parameter groups)."""
    state = _read_section(section, arrays, "optimizer", optimizer)
    if state is None:
        return None
    expect_keys(state, {"state", "param_groups"}, "optimizer.state")
    for index, per_param in expect(state["state"], dict, "optimizer.state.state").items():
        expect(index, int, "optimizer.state.state key")
        expect(per_param, dict, f"optimizer.state.state[{index}]")
    groups = [expect(g, dict, "optimizer.state.param_groups[]")
              for g in expect(state["param_groups"], list, "optimizer.state.param_groups")]
    for group in groups:
        for index in expect(group.get("params"), list, "optimizer.state.param_groups[].params"):
            expect(index, int, "optimizer.state.param_groups[].params[]")
    if optimizer is not None:
        saved = [len(g["params"]) for g in groups]
        current = [len(g["params"]) for g in optimizer.state_dict()["param_groups"]]
        if saved != current:
            raise ModelFileError(
                f"optimizer parameter groups differ: sizes {saved} in the file, {current} in the optimizer"
            )
    return state


def _read_rng(obj: Any) -> dict | None:
    """The saved generator state, checked on a scratch generator of the same kind."""
    if obj is None:
        return None
    state = Decoder()(obj, "rng")
    scratch = type(generator().bit_generator)()
    try:
        scratch.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise ModelFileError(f"rng: not a {type(scratch).__name__} state ({err})") from None
    return state


def _commit(model: Module | None, state: dict, section: Any, optimizer: Any, opt_state: Any,
            scheduler: Any = None, sched_state: Any = None, architecture: bool = True) -> None:
    """Load the model, the optimizer, then the scheduler; if one refuses, put the others back."""
    before = model.state_dict() if model is not None else None
    if model is not None:
        load_section(section, state, model, "model", architecture)
    if optimizer is None:
        return
    opt_before = copy.deepcopy(optimizer.state_dict())
    who = "optimizer"
    try:
        optimizer.load_state_dict(opt_state)
        if scheduler is not None:  # its load_state_dict checks every value (lrs as initial_lr's check)
            who = "scheduler"
            scheduler.load_state_dict(sched_state)
    except Exception as err:  # whatever they raise, the caller gets ModelFileError
        with contextlib.suppress(Exception):  # best effort: a sound load_state_dict changed nothing
            optimizer.load_state_dict(opt_before)
        if model is not None:
            model.load_state_dict(before)
        raise ModelFileError(f"the {who} refused the saved state: {type(err).__name__}: {err}") from None
