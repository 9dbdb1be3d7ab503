"""Argument checks shared by optimizers, schedulers, clipping and init: errors name what was
expected and what came."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def is_real(value: Any) -> bool:
    """A real number (Python or NumPy, a 0-d numeric array too), not a bool and not NaN."""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(value)


def check_real(
    who: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """TypeError unless ``value`` is a real number; ValueError unless it lies within the bounds.

    The bounds are closed unless ``low_open`` / ``high_open``: ``check_real("Adam", "betas[0]",
    b, 0, 1, high_open=True)`` accepts 0 <= b < 1.
    """
    expected = " ".join(
        part
        for part in (
            "" if low is None else f"{low} {'<' if low_open else '<='}",
            name,
            "" if high is None else f"{'<' if high_open else '<='} {high}",
        )
        if part
    )
    if not is_real(value):
        bounds = f" ({expected})" if expected != name else ""
        raise TypeError(f"{who}: expected a real number for {name}{bounds}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{who}: expected {expected}, got {value!r}")


def check_int(who: str, name: str, value: Any, low: int = 0) -> None:
    """TypeError unless ``value`` is an integer (not a bool); ValueError if it is below ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: expected {name} an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{who}: expected {name} >= {low}, got {value!r}")


def check_bool(who: str, name: str, value: Any) -> None:
    """TypeError unless ``value`` is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: expected {name} True or False, got {value!r}")


def check_choice(who: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{who}: expected {name} one of {choices}, got {value!r}")
