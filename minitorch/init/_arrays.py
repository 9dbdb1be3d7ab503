"""What every init function shares: the array it fills, the generator it draws from.

``T`` is a Parameter or a floating NumPy array; every fill writes in place and returns what it was given.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from minitorch.checks import read_only_error
from minitorch.module import Parameter
from minitorch.random import generator

T = TypeVar("T", Parameter, np.ndarray)


def _array(tensor: Parameter | np.ndarray, who: str, writes: bool = True) -> np.ndarray:
    """The floating array ``who`` fills (``writes``) or reads; if it fills a read-only one, before
    anything is drawn, ``checks.read_only_error``'s ValueError (the resets' and the optimizers' message)."""
    x = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{who}: expected a Parameter or a floating NumPy array, got {got}")
    if writes and not x.flags.writeable:
        is_parameter = isinstance(tensor, Parameter)
        kind, fix = ("Parameter", "p.data = p.data.copy()") if is_parameter else ("array", "x = x.copy()")
        raise read_only_error(f"{who}: the {kind} given (of shape {x.shape})", "an init function", fix)
    return x


def _generator(given: object, who: str) -> np.random.Generator:
    """``given`` (a NumPy Generator, as torch's ``generator=`` takes a torch.Generator), or the library's."""
    if given is None:
        return generator()
    if not isinstance(given, np.random.Generator):
        raise TypeError(
            f"{who}: expected generator=None or a NumPy Generator (np.random.default_rng(seed)), "
            f"got {type(given).__module__}.{type(given).__name__}"
        )
    return given
