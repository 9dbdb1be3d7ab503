"""Data sets generated in code: no files, any size, seeded."""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import get_default_dtype
from minitorch.random import generator


def make_spirals(
    n_samples: int = 1500, n_classes: int = 3, noise: float = 0.2, turns: float = 1.5, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in the plane, one arm per class (the classic hard toy problem).

    Arm k at radius r in (0, 1] sits at angle 2*pi*(turns*r + k/n_classes) plus Gaussian noise
    (``noise`` radians, scaled by r so the centre stays separable). Returns X (n, 2) in the default
    dtype and y (n,) int64, samples split evenly between classes (the first ones get the remainder).
    Draws from ``mt.manual_seed``'s generator unless ``seed`` is given.
    """
    if n_samples < n_classes or n_classes < 2:
        raise ValueError(
            f"make_spirals: expected n_classes >= 2 and n_samples >= n_classes, got n_samples={n_samples}, "
            f"n_classes={n_classes}"
        )
    rng = generator() if seed is None else np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    r = rng.uniform(0.05, 1.0, n_samples)
    angle = 2 * np.pi * (turns * r + y / n_classes) + rng.normal(0.0, noise, n_samples) * r
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return X.astype(get_default_dtype()), y.astype(np.int64)
