"""Saving and loading models: the names live in ``minitorch.model_files``, re-exported here."""

from minitorch.model_files import (
    ModelFileError,
    atomic_write,
    atomic_write_npz,
    load_checkpoint,
    load_model,
    read_npz,
    register_module,
    save_checkpoint,
    save_model,
)

__all__ = [
    "ModelFileError",
    "atomic_write",
    "atomic_write_npz",
    "load_checkpoint",
    "load_model",
    "read_npz",
    "register_module",
    "save_checkpoint",
    "save_model",
]
