"""The in-place draws every layer's ``reset_parameters`` shares (its constructor calls it too).

Each draw is made in float64 by the library's generator and written into the Parameter's existing
array (cast to its dtype, as ``astype`` would): the Parameter object, its ``data`` array, dtype and
memory layout stay the same, so an optimizer holding the Parameter keeps training it (torch's in-place
``init.uniform_`` / ``init.normal_``), and a seeded reset repeats the constructor's draws bitwise.
"""

from __future__ import annotations

from minitorch.parameter import Parameter
from minitorch.random import generator


def redraw_uniform(param: Parameter, bound: float) -> None:
    """param.data[...] = U(-bound, bound) draws of param's shape, from ``minitorch.random.generator()``."""
    param.data[...] = generator().uniform(-bound, bound, param.data.shape)


def redraw_normal(param: Parameter) -> None:
    """param.data[...] = N(0, 1) draws of param's shape, from ``minitorch.random.generator()``."""
    param.data[...] = generator().standard_normal(param.data.shape)
