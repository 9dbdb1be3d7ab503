"""Shared checks and refusals of both directions: torch present, a layer in the table, a dtype MiniTorch
computes in. Each raises an error naming the function (``to_torch``/``from_torch``), the module's place in the
model and the fix.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np

from minitorch.interop.layer_table import _BY_NAME, LAYERS, _Layer


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ImportError(
            "minitorch.interop needs PyTorch, which is not installed: pip install torch"
        ) from None


def _layer(cls: type | None, name: str, where: str, who: str) -> _Layer:
    if cls not in LAYERS:
        other = "PyTorch" if who == "to_torch" else "MiniTorch"
        raise TypeError(
            f"{who}: {where} is a {name}, which has no {other} counterpart; "
            f"convertible: Sequential, {', '.join(sorted(_BY_NAME))}"
        )
    return LAYERS[cls]


def _check_float_dtypes(t: Any, torch: Any, name: str, where: str) -> None:
    """MiniTorch computes in float32 or float64: a half-precision module is refused, not cast silently."""
    for key, value in t.state_dict().items():
        if value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
            raise TypeError(
                f"from_torch: {where} ({name}) holds {key} as {value.dtype}; MiniTorch computes in "
                "float32 or float64: convert the module first with .float() (or .double())"
            )


def _dtype_kwarg(cls: type, theirs: dict[str, np.ndarray], name: str, where: str) -> dict[str, Any]:
    """``{"dtype": d}``: the one floating dtype of the torch module's state, for the constructor's
    ``dtype=`` (so the module is built in it; ``set_default_dtype`` is never touched); ``{}`` when it
    has no floating state. A module mixing dtypes is a TypeError (MiniTorch computes a module in its
    parameters' dtype, and torch's forward refuses such a mix too)."""
    dtypes = {key: value.dtype for key, value in theirs.items() if value.dtype.kind == "f"}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{key} {dtype}" for key, dtype in dtypes.items())
        raise TypeError(
            f"from_torch: {where} ({name}) holds {listed}; MiniTorch builds a module in one dtype: "
            "give it one first with .float() or .double()"
        )
    if not dtypes or "dtype" not in inspect.signature(cls).parameters:
        return {}
    return {"dtype": next(iter(dtypes.values()))}
