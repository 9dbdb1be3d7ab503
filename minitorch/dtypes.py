"""The default floating dtype, float32 like PyTorch.

New Parameters and data without a floating dtype of their own take the default dtype.
`set_default_dtype(np.float64)` switches it, e.g. for gradient checks.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from minitorch.constructor_args import forget_argument

_default_dtype: np.dtype = np.dtype(np.float32)


def set_default_dtype(dtype: type | np.dtype | str) -> None:
    """Make `dtype` (float32 or float64, read as ``float_dtype`` reads it: torch's by name too) the
    dtype of new Parameters and converted inputs."""
    global _default_dtype
    _default_dtype = float_dtype(dtype, "set_default_dtype")


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


# ---------------------------------------------------------------- dtype and device arguments
# One reading of a dtype or device argument, shared by ``Module.to`` and the constructors'
# ``device=``/``dtype=`` keywords (PyTorch's "factory keywords").
_CPU = re.compile(r"cpu(:\d+)?")


def is_cpu(device: Any) -> bool:
    """Whether ``device`` names the CPU: "cpu", "cpu:0" (any index, as torch), or an object whose
    str is one (``torch.device("cpu")``; torch is never imported)."""
    return device is not None and _CPU.fullmatch(str(device)) is not None


def check_cpu(device: Any, who: str, hint: str = "'cpu' (or None) is accepted and changes nothing") -> None:
    """Nothing for None or the CPU; a ValueError for any other device ("cuda", "mps", ...)."""
    if device is not None and not is_cpu(device):
        raise ValueError(
            f"{who}: MiniTorch runs on the CPU (NumPy) only, so device {device!r} is not available; {hint}"
        )


def float_dtype(dtype: Any, who: str, any_float: bool = False) -> np.dtype:
    """The float32 or float64 dtype ``dtype`` names, or a TypeError saying what came.

    Takes NumPy's dtypes, scalar types and names (``np.float64``, ``"float32"``, ``float``) and
    PyTorch's dtypes by their name (``str(torch.float64)`` is ``"torch.float64"``; torch is never
    imported). MiniTorch computes in float32 or float64 (``set_default_dtype``'s two): float16,
    bfloat16 and integer dtypes are refused. ``any_float``: any NumPy floating dtype passes
    (``model.to(np.float16)`` casts, as it always has; the layers' fast paths decline float16).
    """
    parsed = _parsed(dtype)
    if parsed is None or (parsed.kind != "f" if any_float else parsed not in (np.float32, np.float64)):
        got = parsed if parsed is not None else repr(dtype)
        raise TypeError(
            f"{who}: expected a floating dtype MiniTorch computes in, float32 or float64 (np.float32, "
            f"'float64', torch.float64), got {got}"
        )
    return parsed


def dtype_or_cpu(target: Any, who: str) -> np.dtype | None:
    """A target of ``Module.to``: None for the CPU (nothing to do), else the dtype it names.

    A ``torch.device``, or a string naming no dtype, is a device: ValueError unless the CPU. Any
    other target must name a floating dtype (TypeError otherwise, as ``float_dtype``).
    """
    if is_cpu(target):
        return None
    if type(target).__name__ == "device" or (isinstance(target, str) and _parsed(target) is None):
        check_cpu(target, who, "'cpu' is accepted and changes nothing; a dtype (np.float32, "
                  "np.float64) casts")
    return float_dtype(target, who, any_float=True)


def _parsed(dtype: Any) -> np.dtype | None:
    """The NumPy dtype ``dtype`` names (a torch dtype by its name), or None."""
    if dtype is None:  # (np.dtype(None) would be float64)
        return None
    name = str(dtype)
    try:
        return np.dtype(name[6:] if name.startswith("torch.") else dtype)
    except (TypeError, ValueError):
        return None


def factory_dtype(module: Any, device: Any, dtype: Any) -> np.dtype:
    """The dtype a constructor makes its Parameters and buffers in, from PyTorch's factory keywords.

    ``device``: None or the CPU ("cpu", "cpu:0", ``torch.device("cpu")``), else ValueError.
    ``dtype``: None -> ``get_default_dtype()``; else float32 or float64 as ``float_dtype`` reads it
    (``np.float64``, ``"float64"``, ``torch.float64``), else TypeError. Errors name the module's class.
    Values: exactly those a build after ``set_default_dtype(dtype)`` gets from the same seed (most
    layers draw in float64 and cast; ``mt.init``, e.g. MultiheadAttention's xavier_uniform_, draws in
    the dtype itself). So, as in torch, which draws in the requested dtype, a float64 layer is not a
    float32 one converted: that one's values would be rounded to float32 first.
    Model files do not record the two keywords: a saved model is rebuilt in its weights' dtype,
    which a later ``model.to(...)`` may have changed.
    """
    who = type(module).__name__
    check_cpu(device, who)
    made = get_default_dtype() if dtype is None else float_dtype(dtype, who)
    forget_argument(module, "device", device)
    forget_argument(module, "dtype", dtype)
    return made
