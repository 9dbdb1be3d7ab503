"""Accuracy: the fraction of right predictions (class labels, scikit-learn's accuracy_score, 0/1 scores)."""

from __future__ import annotations

import numpy as np

from minitorch.metrics.labels import label_pair


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Forward:  acc = mean(labels(y_pred) == labels(y_true))   (labels(): see the module docstring)
    Example:
        accuracy(np.array([0, 2, 1]), np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        # 0.666...: rows 0 and 1 are right, row 2 predicts class 0
    """
    t, p = label_pair(y_true, y_pred, "accuracy", threshold)
    return float(np.mean(t == p))


def accuracy_score(y_true: np.ndarray, y_pred: np.ndarray, *, normalize: bool = True,
                   sample_weight: np.ndarray | None = None) -> float:
    """scikit-learn's accuracy_score: the fraction (normalize=False: the number) of right predictions.

    Forward:  right = labels(y_pred) == labels(y_true);  acc = sum(w * right) / sum(w)   (w = 1 by default)
    sample_weight must be finite, and sum to a nonzero total when normalize=True (ValueError: scikit-learn
    raises for both).
    Example:
        accuracy_score([0, 1, 1, 0], [0, 1, 0, 0])                    # 0.75
        accuracy_score([0, 1, 1, 0], [0, 1, 0, 0], normalize=False)   # 3.0
    """
    t, p = label_pair(y_true, y_pred, "accuracy_score", 0.5)
    w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (len(t),):
        raise ValueError(f"accuracy_score: expected sample_weight of shape ({len(t)},), got {w.shape}")
    if not np.isfinite(w).all():  # scikit-learn's _check_sample_weight raises too
        raise ValueError("accuracy_score: sample_weight contains NaN or inf (expected finite weights)")
    right = float(np.sum(w * (t == p)))
    if not normalize:
        return right
    total = float(np.sum(w))
    if total == 0:  # scikit-learn: "Weights sum to zero, can't be normalized" (a ZeroDivisionError there)
        raise ValueError(
            f"accuracy_score: sample_weight sums to 0 ({w.tolist() if len(w) <= 8 else 'zero total'}), so "
            "the weighted fraction is 0 / 0; give weights with a nonzero sum, or normalize=False for the "
            "weighted count"
        )
    return right / total


def binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """Element-wise accuracy of scores against 0/1 targets (one or several sigmoid outputs per sample).

    Forward:  acc = mean((y_pred > threshold) == (y_true > 0.5))   over every element
              threshold 0.5 for probabilities (BCELoss), 0 for logits (BCEWithLogitsLoss: sigmoid(0) = 0.5)
    Example:
        binary_accuracy(np.array([1, 0, 1, 1]), np.array([2.0, -1.0, -0.5, 0.3]), threshold=0.0)   # 0.75
    """
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    # one shape, or (N,) against (N, 1): another layout of as many numbers would pair the wrong elements
    column = t.ndim > 0 and {t.shape, p.shape} == {(len(t),), (len(t), 1)}
    if (t.shape != p.shape and not column) or t.size == 0:
        raise ValueError(
            f"binary_accuracy: expected y_true and y_pred of the same shape (or (N,) and (N, 1)), got "
            f"{t.shape} and {p.shape}"
        )
    return float(np.mean((p.reshape(-1) > threshold) == (t.reshape(-1) > 0.5)))
