"""Argument checks for constructors: a ValueError naming the argument, the expected range and the value."""

from __future__ import annotations

import math

import numpy as np


def check_number(
    value: object,
    who: str,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a Python float if it is a real number in the interval, else a ValueError.

    The interval is [low, high] with either end open on request; infinite ends are always open,
    so the value is finite.
    """
    is_real = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if is_real and math.isfinite(value):
        above_low = value > low if low_open else value >= low
        below_high = value < high if high_open else value <= high
        if above_low and below_high:
            return float(value)
    left = "(" if low_open or low == -math.inf else "["
    right = ")" if high_open or high == math.inf else "]"
    interval = f"{left}{low}, {high}{right}"
    raise ValueError(f"{who}: {name} must be a number in {interval}, got {value!r}")


def check_positive_int(value: object, who: str, name: str) -> int:
    """``value`` as an int if it is an integer >= 1, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_nonnegative_int(value: object, who: str, name: str) -> int:
    """``value`` as an int if it is an integer >= 0, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_bool(value: object, who: str, name: str) -> bool:
    """``value`` as a bool if it is True or False, else a ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value: object, who: str, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``, else a ValueError."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{who}: {name} must be one of {choices}, got {value!r}")
    return value
