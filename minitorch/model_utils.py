"""Saving and loading model weights as ``.npz`` files: no pickle, atomic writes, checked loads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from minitorch.module import Module


class ModelFileError(ValueError):
    """A model file is damaged, unsafe or does not match the model; the model was left untouched."""


def save_model(model: Module, path: str | os.PathLike[str]) -> None:
    """Write ``model.state_dict()`` to ``path`` as an ``.npz`` archive, atomically.

    The archive is written to a temporary file in the same folder, flushed to disk, then renamed
    over ``path``: a crash mid-save leaves the previous file (or none), never half a model.
    """
    atomic_write_npz(path, model.state_dict())


def load_model(model: Module, path: str | os.PathLike[str]) -> Module:
    """Load weights saved by ``save_model`` into ``model`` and return it.

    Pickle is disabled (a pickled payload is never executed). Every name and shape is checked
    before any parameter changes; on any problem ``ModelFileError`` is raised and ``model`` is
    exactly as before. A missing file raises ``FileNotFoundError``.
    """
    arrays = read_npz(path)
    try:
        model.load_state_dict(arrays)
    except ValueError as err:
        raise ModelFileError(f"{os.fspath(path)} does not match the model: {err}") from None
    return model


def atomic_write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (temporary file + fsync + rename)."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            np.savez(tmp, **arrays)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    _fsync_folder(path.parent)


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read with pickle disabled; damage -> ModelFileError."""
    with open(path, "rb") as file:  # FileNotFoundError stays what it is
        try:
            with np.load(file, allow_pickle=False) as archive:
                if not isinstance(archive, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")
                return {name: archive[name] for name in archive.files}
        except Exception as err:  # a damaged file can fail in zipfile, zlib, numpy's header parser...
            raise ModelFileError(f"{os.fspath(path)} is not a readable model file: {err}") from None


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
