"""Argument checks, one per kind: a ValueError naming the function, the argument, what was expected and
what came (a ``SettingTypeError``, both a TypeError and a ValueError, when the value is not even of the
expected kind: a string or an array for a number, as torch's TypeError there). Every public function
and constructor outside ``layers/`` and ``data.py`` checks its arguments with these (and those files
are being moved to them); a module's forward checks the settings it reads with the same ones, so a
setting edited after construction gets the constructor's message."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class SettingTypeError(TypeError, ValueError):
    """A value of the wrong kind (a string, None or an array where a number or an integer is
    expected): a TypeError, as torch raises for one at forward, and a ValueError, as every other bad
    argument here."""


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
    """``value`` as a Python float if it is a real number in the interval, else a ValueError
    (a ``SettingTypeError`` if it is no real number at all: a bool, a string, None, an array).

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
    error = ValueError if is_real else SettingTypeError
    raise error(f"{who}: {name} must be a number in {interval}, got {_shown(value)}")


def check_positive_int(value: object, who: str, name: str) -> int:
    """``value`` as an int if it is an integer >= 1, else a ValueError (a ``SettingTypeError`` if it
    is no integer at all: a float, a bool, a string, None, an array)."""
    return _check_count(value, who, name, 1, "positive")


def check_nonnegative_int(value: object, who: str, name: str) -> int:
    """``value`` as an int if it is an integer >= 0, else a ValueError (a ``SettingTypeError`` if it
    is no integer at all, as ``check_positive_int``)."""
    return _check_count(value, who, name, 0, "non-negative")


def _check_count(value: object, who: str, name: str, low: int, sign: str) -> int:
    is_int = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if not is_int or value < low:
        error = ValueError if is_int else SettingTypeError
        raise error(f"{who}: {name} must be a {sign} integer, got {_shown(value)}")
    return int(value)


def check_bool(value: object, who: str, name: str) -> bool:
    """``value`` as a bool if it is True or False, else a ``SettingTypeError`` (a ValueError)."""
    if not isinstance(value, (bool, np.bool_)):
        raise SettingTypeError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_int(value: object, who: str, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int if it is an integer in [low, high] (either end optional), else a ValueError.

    For dimensions and counts that may be negative or zero (``dim=-1``, ``start_dim=0``). A value
    that is no integer at all (a float, a bool, a string, an array) is a ``SettingTypeError``.
    """
    is_int = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if not is_int or (low is not None and value < low) or (high is not None and value > high):
        bounds = "" if low is None and high is None else (
            f" >= {low}" if high is None else f" <= {high}" if low is None else f" in [{low}, {high}]")
        error = ValueError if is_int else SettingTypeError
        raise error(f"{who}: {name} must be an integer{bounds}, got {_shown(value)}")
    return int(value)


def check_real(value: object, who: str, name: str) -> float:
    """``value`` as a Python float if it is a real number (NaN and inf included), else a ValueError.

    For measured values (a metric, a loss) rather than settings, which ``check_number`` keeps finite.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        if not (isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"):
            raise ValueError(f"{who}: {name} must be a real number, got {value!r:.60}")
    return float(value)


def check_choice(value: object, who: str, name: str, choices: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``choices`` (same type: True is not 1), else a ValueError; a
    ``SettingTypeError`` if it is of none of the choices' kinds (a number for a name, a bool or a
    string for an int; a subclass, such as NumPy's str, is of its base's kind)."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        kinds = list(dict.fromkeys(type(choice) for choice in choices))
        if any(isinstance(value, kind) and isinstance(value, bool) == (kind is bool) for kind in kinds):
            raise ValueError(f"{who}: {name} must be one of {choices}, got {value!r}")
        names = " or ".join("None" if kind is type(None) else kind.__name__ for kind in kinds)
        names = f"an {names}" if names[0] in "aeiou" else f"a {names}"
        raise SettingTypeError(f"{who}: {name} must be one of {choices} ({names}), got {_shown(value)}")
    return value


def check_dict(value: object, who: str, name: str) -> dict[Any, Any]:
    """``value`` if it is a dict, else a ValueError."""
    if not isinstance(value, dict):
        raise ValueError(f"{who}: {name} must be a dict, got {type(value).__name__} {value!r:.60}")
    return value


def check_sequence(value: object, who: str, name: str) -> list[Any]:
    """``value`` as a new list if it is a list or a tuple, else a ValueError."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{who}: {name} must be a list or a tuple, got {type(value).__name__} {value!r:.60}")
    return list(value)


def check_output_size(value: object, who: str) -> tuple[int | None, int | None]:
    """An adaptive pool's ``output_size`` (a positive int, None, or a pair of them) as a pair."""
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(
        s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1) for s in pair
    ):
        raise ValueError(f"{who}: output_size must be a positive int, None or a pair of them, got {value!r}")
    return tuple(None if s is None else int(s) for s in pair)


def read_only_error(subject: str, writer: str, fix: str) -> ValueError:
    """The error for an array written in place (by ``writer``: "a reset", "a step", "an init function")
    that is read-only: ``subject`` names it, ``fix`` gives the writable copy."""
    return ValueError(
        f"{subject} is a read-only array (np.broadcast_to, a read-only memory map or flags.writeable = "
        f"False), which {writer} writes in place; give it a writable copy first: {fix}"
    )


def _shown(value: object) -> str:
    """``value`` as an error message shows it: the repr of a number, a string or None (a string's
    quotes tell it from a number), else its type and at most 60 characters of its repr (an array)."""
    if value is None or isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return repr(value)
    return f"{type(value).__name__} {value!r:.60}"
