"""The confusion matrix: counts of true class i predicted as class j."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minitorch.metrics.labels import check_labels, label_pair, label_positions


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[int] | None = None, threshold: float = 0.5,
    *, normalize: str | None = None,
) -> np.ndarray:
    """Counts cm[i, j] of samples of true class labels[i] predicted as labels[j] (int64, (C, C)).

    ``labels`` fixes the classes and their order; by default the sorted union of the classes
    present in ``y_true`` and in the predictions (scikit-learn's rule). Samples whose class is
    not in ``labels`` are left out.
    ``normalize`` (scikit-learn's): "true" divides each row by its sum, "pred" each column, "all" the
    whole matrix (float64; an empty row or column stays 0).
    Example:
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]))   # [[1, 0], [1, 1]]
    """
    t, p = label_pair(y_true, y_pred, "confusion_matrix", threshold)
    cm = _confusion(t, p, labels, "confusion_matrix")[0]
    if normalize is None:
        return cm
    axis = {"true": 1, "pred": 0, "all": None}.get(normalize, -1)
    if axis == -1:
        raise ValueError(
            f"confusion_matrix: normalize must be 'true', 'pred', 'all' or None, got {normalize!r}"
        )
    total = cm.sum(axis=axis, keepdims=axis is not None)
    return np.divide(cm, total, out=np.zeros(cm.shape), where=total > 0)


def _confusion(t: np.ndarray, p: np.ndarray, labels: Sequence[int] | None, who: str):
    """(cm, labels) with cm[i, j] = #(t == labels[i] and p == labels[j])."""
    given = labels is not None
    labels = check_labels(np.union1d(t, p) if labels is None else labels, who)
    if given and not np.isin(t, labels).any():  # scikit-learn's check: a matrix of zeros is no answer
        raise ValueError(f"{who}: expected at least one of labels={labels.tolist()} in y_true, got classes "
                         f"{np.unique(t).tolist()}")
    c = len(labels)
    i_t, i_p = label_positions(t, labels), label_positions(p, labels)
    keep = (i_t >= 0) & (i_p >= 0)
    cm = np.bincount(i_t[keep] * c + i_p[keep], minlength=c * c).reshape(c, c)
    return cm.astype(np.int64), labels
