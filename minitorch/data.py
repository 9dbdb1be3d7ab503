"""Mini-batches and data splits."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from minitorch.dtypes import get_default_dtype
from minitorch.random import generator


class DataLoader:
    """Iterate over (X, y) in mini-batches: ``for xb, yb in DataLoader(X, y, batch_size=16)``.

    Floating features are converted once, here, to the default dtype (float32), so batches reach
    the model ready to use. With ``shuffle=True`` every epoch (every ``iter``) draws a new order from
    the generator that ``mt.manual_seed`` seeds. The last partial batch is kept unless ``drop_last``.
    With ``y=None`` it yields feature batches alone.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
    ) -> None:
        X = np.asarray(X)
        if X.ndim == 0:
            raise ValueError("DataLoader: expected X with a batch dimension, got a scalar")
        if X.dtype.kind == "f":
            X = X.astype(get_default_dtype(), copy=False)
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 0 or len(y) != len(X):
                raise ValueError(
                    f"DataLoader: X and y must have the same number of samples, got X {X.shape}, "
                    f"y {y.shape}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray] | np.ndarray]:
        n = len(self.X)
        order = generator().permutation(n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = slice(start, min(start + self.batch_size, n))
            index = order[batch] if order is not None else batch
            if self.y is None:
                yield self.X[index]
            else:
                yield self.X[index], self.y[index]


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float = 0.25,
    stratify: bool = False,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into (X_train, X_test, y_train, y_test), like scikit-learn's function.

    ``stratify=True`` keeps each class's share in both parts (``test_size`` of every class goes to
    test, rounded). ``seed`` makes the split independent of the library generator; without it the
    split draws from the generator that ``mt.manual_seed`` seeds.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X and y lengths differ: {len(X)} vs {len(y)}")
    if not 0 < test_size < 1:
        raise ValueError(f"train_test_split: test_size must lie in (0, 1), got {test_size}")
    rng = generator() if seed is None else np.random.default_rng(seed)
    if stratify:
        test_parts = []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            test_parts.append(members[: round(test_size * len(members))])
        test_index = np.sort(np.concatenate(test_parts))
    else:
        test_index = np.sort(rng.permutation(len(X))[: round(test_size * len(X))])
    train_mask = np.ones(len(X), dtype=bool)
    train_mask[test_index] = False
    train_index = rng.permutation(np.flatnonzero(train_mask))
    return X[train_index], X[test_index], y[train_index], y[test_index]
