"""Class labels from indices, scores or probabilities: the reading every classification metric applies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_labels(y: np.ndarray, who: str = "as_labels", threshold: float = 0.5) -> np.ndarray:
    """Class indices (N,) int64 from indices, (N, C) scores or a column of probabilities.

    The reading every classification metric applies (see the module docstring); ``who`` names
    the caller in errors.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numeric labels or scores, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] > 1:
        if y.dtype.kind == "f" and np.isnan(y).any():  # argmax would read a NaN as the top class
            row = int(np.flatnonzero(np.isnan(y).any(axis=1))[0])
            raise ValueError(
                f"{who}: scores {y.shape} contain NaN in row {row} (expected finite scores; scikit-learn "
                "refuses NaN labels too)"
            )
        _check_not_multilabel(y, who)
        return np.argmax(y, axis=1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"{who}: expected labels (N,), scores (N, C) or a column (N, 1), got shape {y.shape}"
        )
    if y.dtype.kind != "f":
        return y.astype(np.int64)
    if not np.isfinite(y).all():
        raise ValueError(f"{who}: labels or scores contain NaN or inf")
    if np.all(y == np.round(y)):
        return y.astype(np.int64)
    if y.min() >= 0 and y.max() <= 1:
        return (y > threshold).astype(np.int64)
    raise ValueError(
        f"{who}: expected class labels, (N, C) scores or probabilities in [0, 1], got floats in "
        f"[{y.min()}, {y.max()}] (for regression use mean_squared_error, mean_absolute_error, r2_score)"
    )


def _check_not_multilabel(y: np.ndarray, who: str) -> None:
    """A 0/1 indicator (N, C) must be one-hot: scikit-learn reads several 1s per row as multilabel.

    argmax would silently read [1, 1, 0] as class 0. An integer or bool indicator's row must also hold a
    1; a float row of zeros stays a model's scores (argmax 0, as torch's argmax reads it).
    """
    if not np.isin(y, (0, 1)).all():
        return
    sums = y.sum(axis=1)
    if (sums > 1).any() or (y.dtype.kind != "f" and (sums == 0).any()):
        row = int(np.flatnonzero((sums > 1) | (sums == 0))[0])
        raise ValueError(
            f"{who}: expected one-hot rows, class indices (N,) or scores (N, C), got a 0/1 indicator "
            f"{y.shape} whose row {row} is {y[row].tolist()} (multilabel targets: use binary_accuracy)"
        )


def label_pair(y_true: np.ndarray, y_pred: np.ndarray, who: str, threshold: float):
    """(t, p): both arguments read by ``as_labels``, checked to hold the same number of samples."""
    t, p = as_labels(y_true, who, threshold), as_labels(y_pred, who, threshold)
    if len(t) != len(p):
        raise ValueError(
            f"{who}: y_true and y_pred must have the same number of samples, got {len(t)} and {len(p)}"
        )
    if len(t) == 0:  # scikit-learn refuses too: every score would be a zero_division value
        raise ValueError(f"{who}: expected at least one sample, got 0")
    return t, p


def check_labels(labels: Sequence[int], who: str) -> np.ndarray:
    """``labels`` as an array of distinct class indices, or the ValueError naming ``who``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(np.unique(labels)) != len(labels):
        raise ValueError(f"{who}: expected labels to be distinct class indices, got {labels.tolist()}")
    return labels


def label_positions(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Index of each value in ``labels`` (any order), -1 where absent."""
    order = np.argsort(labels)
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
    return np.where(sorted_labels[pos] == values, order[pos], -1)
