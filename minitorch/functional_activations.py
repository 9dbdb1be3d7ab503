"""torch.nn.functional's piecewise-linear activations as array-in/array-out functions: relu, relu6,
hardtanh, leaky_relu, threshold, hardsigmoid, hardswish, softshrink, hardshrink (reached as
``minitorch.functional.<name>``; the layers of the same names call them for their forward).

Each takes torch's arguments, defaults and keywords and gives torch's output: in the input's dtype
for a float32/float64 array. An integer array keeps its dtype where torch's function does (relu,
relu6, hardtanh, threshold) and is a TypeError elsewhere, as torch's "not implemented for 'Long'";
a bool array is a TypeError for all (torch refuses each).

``inplace=True`` (where torch has it) keeps torch's meaning: the result is written into the input
array, which is returned; it needs a writable NumPy array (a list or a read-only array is a
TypeError naming the fix). Values the layers cannot take are refused as theirs: a non-finite or
non-numeric setting is a ValueError / TypeError naming the function and the setting.
"""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.dtypes import get_default_dtype


# ------------------------------------------------------------------------- shared input handling
def checked_input(x: object, who: str, ints: str = "refuse") -> np.ndarray:
    """x as a NumPy array for the function ``who``, its dtype as torch's function treats it.

    floating: unchanged.  integer: kept (ints="keep"), cast to the default dtype (ints="promote"
    or "promote bool": torch's default float dtype there) or a TypeError (ints="refuse").  bool: cast
    to the default dtype for ints="promote bool" (sigmoid, tanh), else a TypeError, as torch.
    """
    if isinstance(x, tuple) and any(isinstance(item, np.ndarray) for item in x):
        raise TypeError(f"{who}: expected an array, got a tuple of {len(x)} items holding arrays")
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind == "f":
        return a
    if kind in "iu" and ints == "keep":
        return a
    if (kind in "iu" and ints == "promote") or (kind in "biu" and ints == "promote bool"):
        return a.astype(get_default_dtype())
    if kind in "biu":
        what = "bool" if kind == "b" else "integer"
        raise TypeError(f"{who}: expected a floating array (float32 or float64), got {what} dtype "
                        f"{a.dtype} (torch's {who} refuses it too); cast it, e.g. x.astype(np.float32)")
    raise TypeError(f"{who}: expected a numeric array, got dtype {a.dtype}")


def written(x: object, y: np.ndarray, inplace: object, who: str) -> np.ndarray:
    """y, or (inplace=True, torch's meaning) y written into the input array x and x returned."""
    if not check_bool(inplace, who, "inplace"):
        return y
    if not isinstance(x, np.ndarray) or not x.flags.writeable or x.dtype != y.dtype:
        got = ("a read-only array" if isinstance(x, np.ndarray) and not x.flags.writeable
               else f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__)
        raise TypeError(f"{who}: inplace=True writes the result into the input, so it needs a writable "
                        f"NumPy array of the result's dtype {y.dtype}; got {got}. Pass inplace=False "
                        "(the default) to get a new array")
    x[...] = y
    return x


# ------------------------------------------------------------------------- ReLU family
def relu_maximum(zero: object, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """max(0, x) of a floating x with torch's signed zero (``zero``: a zero of any form): 0 first,
    since np.maximum gives its second operand on a tie in float32 and float64, so -0.0 stays -0.0;
    float16's and longdouble's loops give their first, so there x goes first. NaN stays NaN."""
    if x.dtype.char in "fd":
        return np.maximum(zero, x, out=out)
    return np.maximum(x, zero, out=out)


def relu(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = max(0, x), element-wise, as torch.nn.functional.relu (nan stays nan; ints keep their dtype).

    relu(-0.0) is -0.0, as torch's (``relu_maximum``; the ReLU layer and its kernels too).
    """
    x = checked_input(input, "relu", ints="keep")
    return written(input, relu_maximum(x.dtype.type(0), x), inplace, "relu")


def hardtanh(input: np.ndarray, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> np.ndarray:
    """y = clip(x, min_val, max_val), element-wise, as torch.nn.functional.hardtanh.

    min_val > max_val is a ValueError (torch's); min_val == max_val gives that value everywhere.
    An integer x keeps its dtype (the bounds truncated to integers, as torch's cast).
    """
    x = checked_input(input, "hardtanh", ints="keep")
    low = check_number(min_val, "hardtanh", "min_val")
    high = check_number(max_val, "hardtanh", "max_val")
    if low > high:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                         f"max_val={max_val}")
    t = x.dtype.type
    return written(input, np.clip(x, t(low), t(high)).astype(x.dtype, copy=False), inplace, "hardtanh")


def relu6(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = clip(x, 0, 6) = hardtanh(x, 0, 6), element-wise, as torch.nn.functional.relu6."""
    x = checked_input(input, "relu6", ints="keep")
    t = x.dtype.type
    return written(input, np.clip(x, t(0), t(6)).astype(x.dtype, copy=False), inplace, "relu6")


def leaky_relu(input: np.ndarray, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    """y = where(x > 0, x, negative_slope * x), element-wise, as torch.nn.functional.leaky_relu."""
    x = checked_input(input, "leaky_relu")
    slope = x.dtype.type(check_number(negative_slope, "leaky_relu", "negative_slope"))
    # -inf * 0 (negative_slope=0): nan; a huge x times |slope| > 1: +-inf; as torch (no warning)
    with np.errstate(invalid="ignore", over="ignore"):
        return written(input, np.where(x > 0, x, x * slope), inplace, "leaky_relu")


def threshold(input: np.ndarray, threshold: float, value: float, inplace: bool = False) -> np.ndarray:
    """y = where(x <= threshold, value, x), element-wise, as torch.nn.functional.threshold.

    nan stays nan; threshold and value are cast to x's dtype first (an integer x keeps its dtype,
    both truncated, as torch's cast).
    """
    x = checked_input(input, "threshold", ints="keep")
    limit = x.dtype.type(check_number(threshold, "threshold", "threshold"))
    fill = x.dtype.type(check_number(value, "threshold", "value"))
    return written(input, np.where(x <= limit, fill, x), inplace, "threshold")


# ------------------------------------------------------------------------- hard sigmoid / swish
def hardsigmoid(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = clip(x + 3, 0, 6) / 6, element-wise, as torch.nn.functional.hardsigmoid (0 below -3, 1 above 3)."""
    x = checked_input(input, "hardsigmoid")
    return written(input, (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False), inplace, "hardsigmoid")


def hardswish(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = x * clip(x + 3, 0, 6) / 6, element-wise, as torch.nn.functional.hardswish (-inf gives nan:
    -inf * 0, as torch)."""
    x = checked_input(input, "hardswish")
    with np.errstate(invalid="ignore", over="ignore"):  # -inf * 0: nan; x * 6 past the max: inf; as torch
        y = (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)
    return written(input, y, inplace, "hardswish")


# ------------------------------------------------------------------------- shrinkage
def softshrink(input: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    """y = x - clip(x, -lambd, lambd), element-wise, as torch.nn.functional.softshrink.

    = x - lambd above lambd, x + lambd below -lambd, else 0. lambd must lie in [0, the dtype's max]
    (torch's check: a negative one is a ValueError).
    """
    x = checked_input(input, "softshrink")
    lam = x.dtype.type(check_number(lambd, "softshrink", "lambd", 0, float(np.finfo(x.dtype).max)))
    return x - np.clip(x, -lam, lam)


def hardshrink(input: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    """y = where(-lambd <= x <= lambd, 0, x), element-wise, as torch.nn.functional.hardshrink.

    A negative lambd zeroes nothing (as torch); nan stays nan.
    """
    x = checked_input(input, "hardshrink")
    lam = x.dtype.type(check_number(lambd, "hardshrink", "lambd"))
    return np.where((x >= -lam) & (x <= lam), x.dtype.type(0), x)
