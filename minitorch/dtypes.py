"""The default floating dtype, float32 like PyTorch.

New Parameters and data without a floating dtype of their own take the default dtype.
`set_default_dtype(np.float64)` switches it, e.g. for gradient checks.
"""

from __future__ import annotations

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

    `who` names the caller in the error raised for non-numeric input.
    """
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind not in "biu":
        raise TypeError(f"{who}: expected a numeric array, got dtype {x.dtype}")
    return x.astype(_default_dtype)
