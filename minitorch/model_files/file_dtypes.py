"""The dtypes a rebuilt model is made in: those of the file's arrays, module by module."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.model_files.format import MAX_DEPTH
from minitorch.module import Module


class FileDtypes:
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


class Place:
    """Where a module being built sits: its path in the model (None if the file does not say,
    e.g. a module passed to your constructor) and the dtype to build it in."""

    def __init__(self, path: str | None, dtypes: FileDtypes, inherited: np.dtype | None = None) -> None:
        self.path, self.dtypes = path, dtypes
        found = None if path is None else dtypes.under(path)
        self.dtype = found if found is not None else inherited

    def child(self, name: str | None) -> Place:
        path = None if self.path is None or name is None else (f"{self.path}.{name}" if self.path else name)
        return Place(path, self.dtypes, self.dtype)


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
