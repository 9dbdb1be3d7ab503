"""``Module.load_state_dict(assign=True)``: the loaded arrays become the model's Parameters and buffers.

As torch's ``assign=True``: a value is not copied into the old array; it becomes the Parameter's
``data`` (a new Parameter carrying the old one's ``requires_grad``, or the given Parameter itself)
or the buffer, keeping its own dtype. ``Module.load_state_dict`` checks every name and shape and
calls ``check_assignable`` for every value before ``assign_state`` changes anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.parameter import Parameter


def check_assignable(value: np.ndarray, target: np.ndarray, who: str, name: str) -> None:
    """A ValueError unless ``value`` can become ``target``'s array: a floating array for a
    Parameter or a floating buffer, an integer (or bool) one for an integer buffer, and writable
    (optimizers and running statistics update it in place)."""
    floating = target.dtype.kind == "f"
    if value.dtype.kind not in ("f" if floating else "biu"):
        kind = "floating" if floating else "integer"
        raise ValueError(
            f"{who}: '{name}' expected a {kind} array (assign=True keeps the value's dtype; "
            f"assign=False casts it to {target.dtype}), got dtype {value.dtype}"
        )
    if not value.flags.writeable:
        raise ValueError(
            f"{who}: '{name}' is a read-only array; with assign=True it becomes the model's own, which "
            "optimizers and running statistics update in place: pass a writable copy (np.array(value)) "
            "or use assign=False"
        )


def assign_state(
    slots: dict[str, tuple[Any, str, Any]], given: dict[str, Any], values: dict[str, np.ndarray], who: str
) -> None:
    """Make each checked value in ``values`` (name -> array; ``given`` holds what the caller passed)
    the model's, for the slots of ``Module._state_slots`` (name -> (module, attribute, Parameter
    or buffer)).

    A Parameter or buffer held under several names (tied weights, a shared module) stays one
    object, set under all of its names: its values must be equal (ValueError otherwise, before
    anything changes); the first name's value is used.
    """
    groups: dict[int, list[str]] = {}
    for name in values:
        groups.setdefault(id(slots[name][2]), []).append(name)
    for names in groups.values():
        first = values[names[0]]
        for other in names[1:]:
            value = values[other]
            if value is not first and (value.dtype != first.dtype or not np.array_equal(
                    value, first, equal_nan=first.dtype.kind == "f")):
                raise ValueError(
                    f"{who}: '{names[0]}' and '{other}' are one object in the model (tied, or a shared "
                    "module's) but got different values; with assign=True they stay one, so give them "
                    "equal values (or use assign=False)"
                )
    for names in groups.values():
        old = slots[names[0]][2]
        new = values[names[0]]
        if isinstance(old, Parameter):
            passed = given[names[0]]
            if type(passed) is Parameter and passed.data is new:  # torch: the given Parameter itself
                new = passed.requires_grad_(old.requires_grad)
            else:
                new = Parameter(new, requires_grad=old.requires_grad)
        for module, attribute, held in slots.values():
            if held is old:
                setattr(module, attribute, new)
