"""The one random generator behind initialisation, shuffling and dropout.

`manual_seed(s)` makes every draw the library makes reproducible, as `torch.manual_seed` does.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator; the same seed gives bitwise identical training."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator every random draw of the library comes from."""
    return _generator
