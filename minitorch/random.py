"""The one random generator behind initialisation, shuffling and dropout.

`manual_seed(s)` makes every draw the library makes reproducible, as `torch.manual_seed` does.
"""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_nonnegative_int

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator; the same seed gives bitwise identical training."""
    global _generator
    _generator = np.random.default_rng(check_nonnegative_int(seed, "manual_seed", "seed"))
    return _generator


def generator() -> np.random.Generator:
    """The generator every random draw of the library comes from."""
    return _generator
