"""Helpers for the tests of ``mt.fit``'s step kernels: a kernel wrapped to count the steps it takes,
and the data those tests train on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def counted(kernel: Callable[..., Any], taken: list[bool]) -> Callable[..., Any]:
    """``kernel`` (it returns NotImplemented where it declines), appending to ``taken`` whether each
    call took its step."""
    def counting(*args: Any) -> Any:
        done = kernel(*args)
        taken.append(done is not NotImplemented)
        return done
    return counting


def fit_data(n: int = 96, features: int = 4, classes: int = 3,
             seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (n, features), Y class indices (n,)): the data the fit-equality tests train on."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)
