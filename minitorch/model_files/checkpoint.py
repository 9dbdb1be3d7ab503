"""Checkpoints: model, optimizer state, epoch, your metadata and the random generator, in one file.

Entries are ``model/<state name>``, ``optimizer/<n>`` and ``metadata/<n>`` (the arrays inside the
optimizer's ``state_dict()`` and your metadata); everything else is JSON in the header.
Resuming from a checkpoint continues training bitwise as if it had never stopped: parameters,
optimizer state (``momentum_buffer``, ``exp_avg``, ``step``...) and the generator that drives
shuffling and dropout all come back exactly.
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

_RESERVED = {"model", "optimizer", "optimizer_state", "epoch"}
_KEYS = {"format", "format_version", "library_version", "kind", "model", "optimizer", "epoch",
         "metadata", "rng"}


def save_checkpoint(
    path: PathLike,
    *,
    model: Module | None = None,
    optimizer: Any = None,
    epoch: int | None = None,
    architecture: bool = True,
    **metadata: Any,
) -> None:
    """Write a checkpoint to ``path`` atomically (see ``save_model`` for ``model``/``architecture``).

    ``optimizer`` is any object with ``state_dict()`` (PyTorch's layout: ``{"state": {index:
    {name: array or number}}, "param_groups": [{..., "params": [indices]}]}``); its class name is
    kept and checked when loading. ``metadata`` are your own JSON-like values (numbers, strings,
    lists, tuples, dicts, arrays), returned by ``load_checkpoint``. The state of the library's
    random generator is always saved.
    """
    arrays: dict[str, np.ndarray] = {}
    if _RESERVED & set(metadata):
        raise TypeError(f"save_checkpoint: {sorted(_RESERVED & set(metadata))} are reserved names")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer))):
        raise TypeError(f"save_checkpoint: expected an integer epoch or None, got {epoch!r}")
    header = new_header(
        "checkpoint",
        model=None if model is None else model_section(model, arrays, "model/", architecture),
        optimizer=None if optimizer is None else _optimizer_section(optimizer, arrays),
        epoch=None if epoch is None else int(epoch),
        metadata={key: Encoder(arrays, "metadata/")(value, f"save_checkpoint: metadata '{key}'")
                  for key, value in metadata.items()},
        rng=Encoder()(generator().bit_generator.state, "the random generator state"),
    )
    atomic_write_npz(path, {HEADER_KEY: header_array(header), **arrays})


def load_checkpoint(
    path: PathLike, model: Module | None = None, optimizer: Any = None, *, restore_rng: bool = True
) -> dict[str, Any]:
    """Read a checkpoint; fill ``model`` and ``optimizer`` if given, else rebuild the model.

    Returns ``{"model": ..., "optimizer": ..., "optimizer_state": ..., "epoch": ..., **metadata}``:
    ``model`` is the given one or the rebuilt one (None if the file has none); ``optimizer`` is
    the given one; ``optimizer_state`` is the saved state dict when no optimizer was given.
    ``restore_rng=True`` (the default) puts the library's random generator back where it was at
    save time, so shuffling and dropout continue exactly as in an uninterrupted run.

    Everything is checked before anything changes: on ``ModelFileError`` the model, the optimizer
    and the generator are exactly as before.
    """
    arrays = read_npz(path, _expected_names)
    try:
        header = read_header(arrays)
        if header is None or header.get("kind") != "checkpoint":
            raise ModelFileError("not a checkpoint (use load_model for model files)")
        expect_keys(header, _KEYS, "header")
        del arrays[HEADER_KEY]
        epoch = expect(header["epoch"], (int, type(None)), "epoch")
        metadata = _read_metadata(header["metadata"], arrays)
        opt_state = _read_optimizer(header["optimizer"], arrays, optimizer)
        rng = _read_rng(header["rng"])
        section = header["model"]
        state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        if section is None and (model is not None or state):
            raise ModelFileError("holds no model")
        if section is not None and model is None:
            model = load_section(section, state, None, "model")  # a new model: nothing to roll back
            _commit(None, {}, None, optimizer, opt_state)
        else:
            _commit(model, state, section, optimizer, opt_state)
    except ModelFileError as err:
        raise ModelFileError(f"{os.fspath(path)}: {err}") from None
    if restore_rng and rng is not None:
        generator().bit_generator.state = rng
    return {
        "model": model,
        "optimizer": optimizer,
        "optimizer_state": opt_state if optimizer is None else None,
        "epoch": epoch,
        **metadata,
    }


def _expected_names(names: list[str]) -> None:
    """Refuse, before any data is read, entries a checkpoint never holds."""
    prefixes = ("model/", "optimizer/", "metadata/")
    unknown = [k for k in names if k != HEADER_KEY and not k.startswith(prefixes)]
    if unknown:
        raise ModelFileError(f"not a checkpoint (or a damaged one): unknown entries {unknown[:5]}")


def _optimizer_section(optimizer: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if not callable(getattr(optimizer, "state_dict", None)):
        raise TypeError(f"save_checkpoint: {type(optimizer).__name__} has no state_dict() to save")
    state = Encoder(arrays, "optimizer/")(optimizer.state_dict(), "save_checkpoint: optimizer state")
    return {"class": type(optimizer).__name__, "state": state}


def _decoded(arrays: dict[str, np.ndarray], prefix: str, read: Callable[[Decoder], Any]) -> Any:
    """``read(decoder)``, then check that every entry under ``prefix`` was referred to."""
    decode = Decoder(arrays, prefix)
    value = read(decode)
    unused = sorted(k for k in arrays if k.startswith(prefix) and k not in decode.used)
    if unused:
        raise ModelFileError(f"entries nobody refers to: {unused[:5]}")
    return value


def _read_metadata(obj: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    metadata = _decoded(arrays, "metadata/", lambda decode: {
        key: decode(item, f"metadata.{key}") for key, item in expect(obj, dict, "metadata").items()
    })
    if _RESERVED & set(metadata):
        raise ModelFileError(f"metadata uses reserved names {sorted(_RESERVED & set(metadata))}")
    return metadata


def _read_optimizer(section: Any, arrays: dict[str, np.ndarray], optimizer: Any) -> dict | None:
    """The saved optimizer state, checked against ``optimizer`` (class and parameter groups)."""
    if section is None:
        if optimizer is not None or any(k.startswith("optimizer/") for k in arrays):
            raise ModelFileError("holds no optimizer state")
        return None
    section = expect(section, dict, "optimizer")
    expect_keys(section, {"class", "state"}, "optimizer")
    saved_class = expect(section["class"], str, "optimizer.class")
    state = _decoded(arrays, "optimizer/", lambda decode: decode(section["state"], "optimizer.state"))
    state = expect(state, dict, "optimizer.state")
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
        if not callable(getattr(optimizer, "load_state_dict", None)):
            raise TypeError(f"load_checkpoint: {type(optimizer).__name__} has no load_state_dict()")
        if type(optimizer).__name__ != saved_class:
            raise ModelFileError(f"holds {saved_class} state, not {type(optimizer).__name__} state")
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


def _commit(model: Module | None, state: dict, section: Any, optimizer: Any, opt_state: Any) -> None:
    """Load the model, then the optimizer; if the optimizer refuses, put the model back."""
    before = model.state_dict() if model is not None else None
    if model is not None:
        load_section(section, state, model, "model")
    if optimizer is None:
        return
    opt_before = copy.deepcopy(optimizer.state_dict())
    try:
        optimizer.load_state_dict(opt_state)
    except Exception as err:  # whatever the optimizer raises, the caller gets ModelFileError
        with contextlib.suppress(Exception):  # best effort: a sound load_state_dict changed nothing
            optimizer.load_state_dict(opt_before)
        if model is not None:
            model.load_state_dict(before)
        raise ModelFileError(f"the optimizer refused the saved state: {type(err).__name__}: {err}") from None
