"""Precision, recall and F1 per class, averaged (short names) or as scikit-learn's *_score functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minitorch.checks import check_choice
from minitorch.metrics.labels import check_labels, label_pair, label_positions

AVERAGES = ("macro", "micro", "weighted", "binary", None)


def precision(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    average: str | None = "macro",
    labels: Sequence[int] | None = None,
    zero_division: float = 0.0,
    pos_label: int = 1,
) -> float | np.ndarray:
    """Precision tp / (tp + fp) per class, averaged.

    average:  "macro" (mean over classes, the default), "weighted" (mean weighted by each class's
              number of true samples), "micro" (from the summed counts: accuracy when every class is
              counted), "binary" (the class ``pos_label`` alone), None (the per-class array).
    zero_division: the value of a class's score when its denominator is 0 (here: nothing was
              predicted as that class). 0.0 by default (scikit-learn's "warn" without the warning);
              1.0, or np.nan to leave such classes out of the average.
    Example:
        precision(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))   # (1 + 1 + 0.5) / 3
    """
    return _scores("precision", y_true, y_pred, average, labels, zero_division, pos_label)


def recall(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    average: str | None = "macro",
    labels: Sequence[int] | None = None,
    zero_division: float = 0.0,
    pos_label: int = 1,
) -> float | np.ndarray:
    """Recall tp / (tp + fn) per class, averaged as ``precision`` (zero division: no true samples).

    Example:
        recall(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))   # (1 + 0.5 + 1) / 3
    """
    return _scores("recall", y_true, y_pred, average, labels, zero_division, pos_label)


def f1(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    average: str | None = "macro",
    labels: Sequence[int] | None = None,
    zero_division: float = 0.0,
    pos_label: int = 1,
) -> float | np.ndarray:
    """F1 = 2 tp / (2 tp + fp + fn) per class (the harmonic mean of precision and recall), averaged.

    Averages as ``precision``; zero division only when a class is neither present nor predicted.
    Example:
        f1(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))   # (1 + 2/3 + 2/3) / 3
    """
    return _scores("f1", y_true, y_pred, average, labels, zero_division, pos_label)


def precision_score(y_true: np.ndarray, y_pred: np.ndarray, *, labels: Sequence[int] | None = None,
                    pos_label: int = 1, average: str | None = "binary",
                    zero_division: float = 0.0) -> float | np.ndarray:
    """scikit-learn's precision_score: tp / (tp + fp) of class ``pos_label`` (average="binary", two classes).

    Other averages as ``precision`` ("macro", "micro", "weighted", None for the per-class array).
    Example:
        precision_score([0, 1, 1, 0], [1, 1, 0, 0])                     # class 1: 1 / 2
    """
    return _scores("precision", y_true, y_pred, average, labels, zero_division, pos_label, "precision_score")


def recall_score(y_true: np.ndarray, y_pred: np.ndarray, *, labels: Sequence[int] | None = None,
                 pos_label: int = 1, average: str | None = "binary",
                 zero_division: float = 0.0) -> float | np.ndarray:
    """scikit-learn's recall_score: tp / (tp + fn) of class ``pos_label`` (average="binary", two classes).

    Example:
        recall_score([0, 1, 1, 0], [1, 1, 0, 0])                        # class 1: 1 / 2
    """
    return _scores("recall", y_true, y_pred, average, labels, zero_division, pos_label, "recall_score")


def f1_score(y_true: np.ndarray, y_pred: np.ndarray, *, labels: Sequence[int] | None = None,
             pos_label: int = 1, average: str | None = "binary",
             zero_division: float = 0.0) -> float | np.ndarray:
    """scikit-learn's f1_score: 2 tp / (2 tp + fp + fn) of class ``pos_label`` (average="binary").

    More than two classes need another average (an error says so, as scikit-learn); ``f1`` is the
    same score averaged over the classes ("macro") by default.
    Example:
        f1_score([0, 1, 1, 0], [1, 1, 0, 0])                            # class 1: 2 / (2 + 1 + 1)
    """
    return _scores("f1", y_true, y_pred, average, labels, zero_division, pos_label, "f1_score")


def _scores(kind, y_true, y_pred, average, labels, zero_division, pos_label, who=None):
    who = who or kind
    check_choice(average, who, "average", AVERAGES)
    number = isinstance(zero_division, (int, float))
    if not number or not (zero_division in (0, 1) or np.isnan(zero_division)):
        raise ValueError(f"{who}: zero_division must be 0.0, 1.0 or np.nan, got {zero_division!r}")
    t, p = label_pair(y_true, y_pred, who, 0.5)
    if average == "binary":
        present = np.union1d(t, p)
        if len(present) > 2 or (len(present) == 2 and pos_label not in present):
            raise ValueError(
                f"{who}: average='binary' needs at most two classes, one of them pos_label={pos_label}, "
                f"got classes {present.tolist()}; use average='macro', 'micro', 'weighted' or None"
            )
        labels = np.union1d(present, [pos_label])
    labels = check_labels(np.union1d(t, p) if labels is None else labels, who)
    i_t, i_p = label_positions(t, labels), label_positions(p, labels)
    c = len(labels)
    # counts over every sample: a class-0 sample predicted as 2 is a false positive of 2 even when
    # 0 is left out of ``labels`` (scikit-learn's rule), unlike the confusion matrix's cells
    tp = np.bincount(i_t[(i_t >= 0) & (i_t == i_p)], minlength=c).astype(np.float64)
    n_pred = np.bincount(i_p[i_p >= 0], minlength=c).astype(np.float64)
    n_true = np.bincount(i_t[i_t >= 0], minlength=c).astype(np.float64)
    if average == "micro":
        tp, n_pred, n_true = tp.sum(keepdims=True), n_pred.sum(keepdims=True), n_true.sum(keepdims=True)
    numerator, denominator = {
        "precision": (tp, n_pred),
        "recall": (tp, n_true),
        "f1": (2 * tp, n_pred + n_true),
    }[kind]
    per_class = np.divide(numerator, denominator, out=np.full_like(tp, zero_division), where=denominator > 0)
    if average is None:
        return per_class
    if average == "binary":
        return float(per_class[np.flatnonzero(labels == pos_label)[0]])
    defined = ~np.isnan(per_class)  # zero_division=np.nan leaves a class out of the average
    if not defined.any():
        return float("nan")
    weights = n_true[defined] if average == "weighted" else None
    if weights is not None and weights.sum() == 0:
        weights = None  # no true samples in any class: scikit-learn falls back to the plain mean
    return float(np.average(per_class[defined], weights=weights))
