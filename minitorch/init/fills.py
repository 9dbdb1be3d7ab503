"""Plain fills: U(a, b), N(mean, std**2) and constants, written in the array's own dtype."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.init._arrays import T, _array, _generator


def uniform_(tensor: T, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Fill with U(a, b)."""
    check_number(a, "uniform_", "a")
    check_number(b, "uniform_", "b", a)
    x = _array(tensor, "uniform_")
    _fill_random(x, "uniform", _generator(generator, "uniform_"))
    x *= float(b) - float(a)
    x += float(a)
    return tensor


def normal_(
    tensor: T, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> T:
    """Fill with N(mean, std**2)."""
    check_number(mean, "normal_", "mean")
    check_number(std, "normal_", "std", 0)
    x = _array(tensor, "normal_")
    _fill_random(x, "normal", _generator(generator, "normal_"))
    x *= float(std)
    x += float(mean)
    return tensor


def constant_(tensor: T, val: float) -> T:
    """Fill with ``val``."""
    check_number(val, "constant_", "val")
    _array(tensor, "constant_").fill(float(val))
    return tensor


def zeros_(tensor: T) -> T:
    """Fill with 0."""
    _array(tensor, "zeros_")
    return constant_(tensor, 0.0)


def ones_(tensor: T) -> T:
    """Fill with 1."""
    _array(tensor, "ones_")
    return constant_(tensor, 1.0)


def _fill_random(x: np.ndarray, law: str, rng: np.random.Generator) -> None:
    """x[...] = U[0, 1) or N(0, 1) draws from ``rng`` in C order, made in x's dtype (float32 has its
    own draws, not float64's rounded), so x's memory layout does not change a value: written
    straight into x when it is C-contiguous (saves a temporary and a copy), else through a
    temporary of x's dtype. float16, which NumPy does not draw, gets float64 draws rounded."""
    draw = rng.random if law == "uniform" else rng.standard_normal
    if x.dtype not in (np.float32, np.float64):
        x[...] = draw(x.shape)
    elif x.flags.c_contiguous:
        draw(dtype=x.dtype, out=x)
    else:
        x[...] = draw(x.shape, dtype=x.dtype)
