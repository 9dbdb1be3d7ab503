"""What every init function shares: the array it fills, the generator it draws from.

``T`` is a Parameter or a floating NumPy array; every fill writes in place and returns what it was given.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from minitorch.module import Parameter
from minitorch.random import generator

T = TypeVar("T", Parameter, np.ndarray)


def _array(tensor: Parameter | np.ndarray, who: str, writes: bool = True) -> np.ndarray:
    """The floating array ``who`` fills (``writes``) or reads; a ValueError naming the fix if it
    fills a read-only one (before anything is drawn)."""
    x = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{who}: expected a Parameter or a floating NumPy array, got {got}")
    if writes and not x.flags.writeable:
        raise ValueError(f"{who}: the array is read-only; a fill writes in place: give it a writable copy "
                         "first (p.data = p.data.copy() for a Parameter p, x = x.copy() for an array)")
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
