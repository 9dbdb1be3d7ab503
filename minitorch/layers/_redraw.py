"""The in-place draws every layer's ``reset_parameters`` shares (its constructor calls it too).

Each draw is made in float64 by the library's generator and written into the Parameter's existing
array (cast to its dtype, as ``astype`` would): the Parameter object, its ``data`` array, dtype and
memory layout stay the same, so an optimizer holding the Parameter keeps training it (torch's in-place
``init.uniform_`` / ``init.normal_``), and a seeded reset repeats the constructor's draws bitwise.
A reset first checks that every array it writes is writable (``check_writable``): a read-only one
cannot be reset in place, and a new array would not be the one the caller shares.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from minitorch.checks import read_only_error
from minitorch.module import Module
from minitorch.parameter import Parameter
from minitorch.random import generator


def check_writable(module: Module, who: str = "reset_parameters", names: Iterable[str] | None = None) -> None:
    """Before a reset draws or writes anything: each Parameter and buffer ``names`` gives by dotted
    path (``"out_proj.bias"``; None: every one of ``module`` itself) holds a writable array (or is an
    empty slot); else a ValueError naming ``<class>.<who>``, the array and the fix (a writable copy)."""
    names = [*module._parameters, *module._buffers] if names is None else names
    for name, value in ((name, _attribute(module, name)) for name in names):
        array = value.data if isinstance(value, Parameter) else value
        if array is not None and not array.flags.writeable:
            kind, fix = (("Parameter", f".{name}.data = .{name}.data.copy()") if isinstance(value, Parameter)
                         else ("buffer", f".{name} = .{name}.copy()"))
            subject = f"{type(module).__name__}.{who}: {kind} '{name}'"
            raise read_only_error(subject, "a reset", f"module{fix}")


def _attribute(module: Module, path: str) -> object:
    return functools.reduce(getattr, path.split("."), module)


def redraw_uniform(module: Module, names: Iterable[str], bound: float) -> None:
    """Each Parameter of ``module`` that ``names`` gives, in that order (an empty or absent slot
    skipped, one held under two names drawn once, as torch's ``parameters()``): data[...] = U(-bound, bound)
    draws of its shape, from ``minitorch.random.generator()``; every one checked writable first."""
    for param in _parameters(module, names):
        param.data[...] = generator().uniform(-bound, bound, param.data.shape)


def redraw_normal(module: Module, names: Iterable[str]) -> None:
    """As ``redraw_uniform``, with data[...] = N(0, 1) draws."""
    for param in _parameters(module, names):
        param.data[...] = generator().standard_normal(param.data.shape)


def _parameters(module: Module, names: Iterable[str]) -> list[Parameter]:
    """The distinct Parameters ``names`` gives, in order, checked writable (no slot or an empty one:
    skipped, e.g. Linear(bias=False)'s b)."""
    names = [name for name in names if module._parameters.get(name) is not None]
    check_writable(module, "reset_parameters", names)
    return list({id(p): p for p in (module._parameters[name] for name in names)}.values())
