"""The default floating dtype, float32 like PyTorch.

New Parameters and data without a floating dtype of their own take the default dtype.
`set_default_dtype(np.float64)` switches it, e.g. for gradient checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default_dtype: np.dtype = np.dtype(np.float32)


def set_default_dtype(dtype: type | np.dtype | str) -> None:
    """Make `dtype` (float32 or float64) the dtype of new Parameters and converted inputs."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype new Parameters are created with (float32 unless changed)."""
    return _default_dtype


def as_floating(x: object, who: str) -> np.ndarray:
    """`x` as an array; floating arrays pass unchanged, others become the default dtype.

    `who` names the caller in the error raised for non-numeric input, or for a tuple holding arrays
    (a module's several outputs, e.g. MaxPool2d's (y, indices)), which NumPy would stack into one.
    """
    if isinstance(x, tuple) and any(isinstance(item, np.ndarray) for item in x):
        raise TypeError(
            f"{who}: expected an array, got a tuple of {len(x)} items holding arrays (a module's several "
            "outputs, such as MaxPool2d(return_indices=True)'s (y, indices)?); pass the one array it needs"
        )
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind not in "biu":
        raise TypeError(f"{who}: expected a numeric array, got dtype {x.dtype}")
    return x.astype(_default_dtype)


def parameter_dtype(module: Any, recurse: bool = False) -> np.dtype | None:
    """The one dtype of ``module``'s own Parameters (``recurse``: and its children's; None if it
    has none), or a TypeError naming each Parameter's dtype and the fix.

    Compute in the parameters' dtype needs them to agree. PyTorch raises for mixed parameter
    dtypes (``self and mat2 must have the same dtype``); NumPy would promote, so a float64 bias
    would turn a float32 layer's output float64 on the plain formula, and float32 in a kernel
    that adds the bias in place: one answer per path. Both paths call this and refuse instead.
    """
    named = module.named_parameters() if recurse else module._parameters.items()
    dtypes = {name: p.data.dtype for name, p in named if p is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        who = type(module).__name__
        raise TypeError(
            f"{who}: expected one dtype for all its parameters, got {listed} (PyTorch raises too); "
            f"give them one dtype: call .to(np.float32) or .to(np.float64) on the {who} (or on the model)"
        )
    return next(iter(dtypes.values()), None)
