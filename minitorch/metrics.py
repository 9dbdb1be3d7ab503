"""Metrics: accuracy, precision / recall / F1, ROC AUC, confusion matrix, MSE / MAE / R².

Every function takes ``(y_true, y_pred)`` in scikit-learn's order and follows scikit-learn's
definitions; a scalar comes back as a Python float. The scikit-learn names (``accuracy_score``,
``precision_score``, ``recall_score``, ``f1_score``, ``roc_auc_score``, ``confusion_matrix``) also take
scikit-learn's defaults (``average="binary"``: the score of class ``pos_label`` = 1, for two classes),
so one can be checked against the other; the short names (``accuracy``, ``precision``, ``recall``,
``f1``) average over the classes (``average="macro"``) by default. Classification metrics accept labels in
any of these forms, for either argument:

- class indices ``(N,)`` (integers, or floats holding whole numbers);
- scores ``(N, C)`` with C > 1 — logits, probabilities or one-hot rows — read as ``argmax(axis=1)``;
- a single column ``(N, 1)`` or ``(N,)`` of probabilities in [0, 1], read as class 1 when
  ``> threshold`` (0.5), as a sigmoid output is (Keras' binary accuracy).

``mt.fit`` and ``mt.evaluate`` take metrics by name: ``"accuracy"``, ``"precision"``, ``"recall"``,
``"f1"``, ``"mse"``, ``"mae"``, ``"r2"`` (see ``get_metric``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from minitorch.checks import check_choice

Metric = Callable[[np.ndarray, np.ndarray], float]
AVERAGES = ("macro", "micro", "weighted", "binary", None)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Forward:  acc = mean(labels(y_pred) == labels(y_true))   (labels(): see the module docstring)
    Example:
        accuracy(np.array([0, 2, 1]), np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        # 0.666...: rows 0 and 1 are right, row 2 predicts class 0
    """
    t, p = _label_pair(y_true, y_pred, "accuracy", threshold)
    if len(t) == 0:
        raise ValueError("accuracy: expected at least one sample, got 0")
    return float(np.mean(t == p))


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
    t, p = _label_pair(y_true, y_pred, "confusion_matrix", threshold)
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


def accuracy_score(y_true: np.ndarray, y_pred: np.ndarray, *, normalize: bool = True,
                   sample_weight: np.ndarray | None = None) -> float:
    """scikit-learn's accuracy_score: the fraction (normalize=False: the number) of right predictions.

    Forward:  right = labels(y_pred) == labels(y_true);  acc = sum(w * right) / sum(w)   (w = 1 by default)
    Example:
        accuracy_score([0, 1, 1, 0], [0, 1, 0, 0])                    # 0.75
        accuracy_score([0, 1, 1, 0], [0, 1, 0, 0], normalize=False)   # 3.0
    """
    t, p = _label_pair(y_true, y_pred, "accuracy_score", 0.5)
    if len(t) == 0:
        raise ValueError("accuracy_score: expected at least one sample, got 0")
    w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (len(t),):
        raise ValueError(f"accuracy_score: expected sample_weight of shape ({len(t)},), got {w.shape}")
    right = float(np.sum(w * (t == p)))
    return right / float(np.sum(w)) if normalize else right


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


def roc_auc_score(y_true: np.ndarray, y_score: np.ndarray, *, average: str | None = "macro",
                  multi_class: str = "raise") -> float | np.ndarray:
    """Area under the ROC curve, as scikit-learn's roc_auc_score (binary, and multiclass "ovr" / "ovo").

    Binary: y_true holds two classes, y_score (N,) (or (N, 1)) a score of the greater class (a
    probability, or a logit: only the order matters).
        AUC = P(score of a random positive > score of a random negative), ties counting 1/2
            = (sum of the positives' ranks - P * (P + 1) / 2) / (P * Q)      P positives, Q negatives,
        ranks 1..N of the scores with ties given their mean rank (equal to the trapezoidal area).
    Multiclass: y_score (N, C) class probabilities (rows summing to 1), multi_class required:
        "ovr": the AUC of each class against the rest, averaged ("macro"), weighted by class
               prevalence ("weighted"), or returned per class (None);
        "ovo": the mean over class pairs (j, k) of (AUC(j vs k) + AUC(k vs j)) / 2 on the samples of
               j and k (Hand & Till), "macro" or "weighted" by the pair's prevalence.
    Example:
        roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])   # 0.75
    """
    who = "roc_auc_score"
    t = np.asarray(y_true)
    t = t[:, 0] if t.ndim == 2 and t.shape[1] == 1 else t
    s = np.asarray(y_score, dtype=np.float64)
    if t.ndim != 1 or len(t) != len(s) or len(t) == 0:
        raise ValueError(f"{who}: expected y_true (N,) and y_score of N rows, got {t.shape} and {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{who}: y_score contains NaN or inf")
    classes = np.unique(t)
    if len(classes) < 2:
        raise ValueError(f"{who}: only one class present in y_true; ROC AUC is not defined in that case")
    if len(classes) == 2 and (s.ndim == 1 or s.shape[1] == 1):
        return _binary_auc(t == classes[1], s.reshape(-1))
    if s.ndim != 2 or s.shape[1] != len(classes):
        raise ValueError(f"{who}: expected y_score (N,) for two classes or (N, {len(classes)}) for "
                         f"{len(classes)} classes, got {s.shape}")
    if multi_class not in ("ovr", "ovo"):
        raise ValueError(f"{who}: multiclass y_true needs multi_class='ovr' or 'ovo' (as scikit-learn), "
                         f"got {multi_class!r}")
    if not np.allclose(s.sum(axis=1), 1.0):
        raise ValueError(f"{who}: multiclass y_score must be probabilities whose rows sum to 1")
    if average not in (("macro", "weighted", None) if multi_class == "ovr" else ("macro", "weighted")):
        raise ValueError(f"{who}: average must be 'macro' or 'weighted' (or None for 'ovr'), got {average!r}")
    y = np.searchsorted(classes, t)
    if multi_class == "ovr":
        per_class = np.array([_binary_auc(y == k, s[:, k]) for k in range(len(classes))])
        if average is None:
            return per_class
        return float(np.average(per_class, weights=np.bincount(y) if average == "weighted" else None))
    pairs, weights = [], []
    for j in range(len(classes)):
        for k in range(j + 1, len(classes)):
            both = (y == j) | (y == k)
            pairs.append((_binary_auc(y[both] == j, s[both, j]) + _binary_auc(y[both] == k, s[both, k])) / 2)
            weights.append(both.mean())
    return float(np.average(pairs, weights=weights if average == "weighted" else None))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The Mann-Whitney form of the ROC area, ties counting one half (see ``roc_auc_score``)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score))
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(score)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + 1 + end) / 2  # the mean of ranks start+1 .. end
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """MSE = mean((y_true - y_pred)**2) over every element.

    Example:
        mean_squared_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 2.0
    """
    t, p = _regression_pair(y_true, y_pred, "mean_squared_error")
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """MAE = mean(|y_true - y_pred|) over every element.

    Example:
        mean_absolute_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 1.0
    """
    t, p = _regression_pair(y_true, y_pred, "mean_absolute_error")
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination R² = 1 - ss_res / ss_tot, per output column, then averaged.

    Forward:  ss_res = sum((t - p)**2, axis=0);  ss_tot = sum((t - mean(t, axis=0))**2, axis=0)
              r2 = mean(1 - ss_res / ss_tot)       (scikit-learn's "uniform_average")
    A constant column (ss_tot = 0) scores 1.0 if predicted exactly, else 0.0 (scikit-learn's
    force_finite); with fewer than two samples R² is undefined and NaN is returned, as scikit-learn.
    Example:
        r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))   # 1 - 1/2 = 0.5
    """
    t, p = _regression_pair(y_true, y_pred, "r2_score")
    if len(t) < 2:
        return float("nan")
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    constant = ss_tot == 0
    r2 = np.where(constant, np.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / np.where(constant, 1.0, ss_tot))
    return float(np.mean(r2))


def binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray, threshold: float = 0.5) -> float:
    """Element-wise accuracy of scores against 0/1 targets (one or several sigmoid outputs per sample).

    Forward:  acc = mean((y_pred > threshold) == (y_true > 0.5))   over every element
              threshold 0.5 for probabilities (BCELoss), 0 for logits (BCEWithLogitsLoss: sigmoid(0) = 0.5)
    Example:
        binary_accuracy(np.array([1, 0, 1, 1]), np.array([2.0, -1.0, -0.5, 0.3]), threshold=0.0)   # 0.75
    """
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.size != p.size or t.size == 0:
        raise ValueError(
            f"binary_accuracy: expected y_true and y_pred with the same number of elements, got {t.shape} "
            f"and {p.shape}"
        )
    return float(np.mean((p.reshape(-1) > threshold) == (t.reshape(-1) > 0.5)))


def default_metrics(loss_fn: object) -> tuple[Metric, ...]:
    """The metrics ``mt.fit`` and ``mt.evaluate`` report when none are named: they follow the loss.

    CrossEntropyLoss, NLLLoss: class accuracy (argmax of the scores);  BCEWithLogitsLoss: accuracy of
    the logits at 0;  BCELoss: accuracy of the probabilities at 0.5;  any other loss (regression,
    your own): none;  no loss (``evaluate(model, None, ...)``): class accuracy. Each is logged as
    "accuracy".
    """
    from minitorch.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss

    if loss_fn is None or isinstance(loss_fn, (CrossEntropyLoss, NLLLoss)):
        return (accuracy,)
    if isinstance(loss_fn, BCEWithLogitsLoss):
        return (_binary_accuracy_at(0.0),)
    if isinstance(loss_fn, BCELoss):
        return (_binary_accuracy_at(0.5),)
    return ()


def _binary_accuracy_at(threshold: float) -> Metric:
    def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:  # logged under the name "accuracy"
        return binary_accuracy(y_true, y_pred, threshold)

    return accuracy


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "binary_accuracy": binary_accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "f1_score": f1,  # by name, averaged over classes (macro) like "precision" and "recall"
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "r2": r2_score,
    "r2_score": r2_score,
}


def get_metric(metric: str | Metric) -> tuple[str, Metric]:
    """(name, function) for a metric given by name (a key of ``METRICS``) or as a function.

    A function is called ``fn(y_true, y_pred)`` and named by its ``__name__``.
    """
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)} or a function")
        return metric, METRICS[metric]
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    raise TypeError(f"expected a metric name or a function (y_true, y_pred), got {type(metric).__name__}")


def as_labels(y: np.ndarray, who: str = "as_labels", threshold: float = 0.5) -> np.ndarray:
    """Class indices (N,) int64 from indices, (N, C) scores or a column of probabilities.

    The reading every classification metric applies (see the module docstring); ``who`` names
    the caller in errors.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numeric labels or scores, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] > 1:
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


# ----------------------------------------------------------------- helpers
def _label_pair(y_true: np.ndarray, y_pred: np.ndarray, who: str, threshold: float):
    t, p = as_labels(y_true, who, threshold), as_labels(y_pred, who, threshold)
    if len(t) != len(p):
        raise ValueError(
            f"{who}: y_true and y_pred must have the same number of samples, got {len(t)} and {len(p)}"
        )
    return t, p


def _confusion(t: np.ndarray, p: np.ndarray, labels: Sequence[int] | None, who: str):
    """(cm, labels) with cm[i, j] = #(t == labels[i] and p == labels[j])."""
    labels = _check_labels(np.union1d(t, p) if labels is None else labels, who)
    c = len(labels)
    i_t, i_p = _positions(t, labels), _positions(p, labels)
    keep = (i_t >= 0) & (i_p >= 0)
    cm = np.bincount(i_t[keep] * c + i_p[keep], minlength=c * c).reshape(c, c)
    return cm.astype(np.int64), labels


def _check_labels(labels: Sequence[int], who: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(np.unique(labels)) != len(labels):
        raise ValueError(f"{who}: expected labels to be distinct class indices, got {labels.tolist()}")
    return labels


def _positions(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Index of each value in ``labels`` (any order), -1 where absent."""
    order = np.argsort(labels)
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
    return np.where(sorted_labels[pos] == values, order[pos], -1)


def _scores(kind, y_true, y_pred, average, labels, zero_division, pos_label, who=None):
    who = who or kind
    check_choice(average, who, "average", AVERAGES)
    number = isinstance(zero_division, (int, float))
    if not number or not (zero_division in (0, 1) or np.isnan(zero_division)):
        raise ValueError(f"{who}: zero_division must be 0.0, 1.0 or np.nan, got {zero_division!r}")
    t, p = _label_pair(y_true, y_pred, who, 0.5)
    if average == "binary":
        present = np.union1d(t, p)
        if len(present) > 2 or (len(present) == 2 and pos_label not in present):
            raise ValueError(
                f"{who}: average='binary' needs at most two classes, one of them pos_label={pos_label}, "
                f"got classes {present.tolist()}; use average='macro', 'micro', 'weighted' or None"
            )
        labels = np.union1d(present, [pos_label])
    labels = _check_labels(np.union1d(t, p) if labels is None else labels, who)
    i_t, i_p = _positions(t, labels), _positions(p, labels)
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


def _regression_pair(y_true: np.ndarray, y_pred: np.ndarray, who: str):
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.ndim == 0 or p.ndim == 0 or len(t) != len(p) or t.size != p.size:
        raise ValueError(f"{who}: expected y_true and y_pred of the same shape, got {t.shape} and {p.shape}")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    if t.shape != p.shape:
        raise ValueError(f"{who}: expected y_true and y_pred of the same shape, got {t.shape} and {p.shape}")
    if len(t) == 0:
        raise ValueError(f"{who}: expected at least one sample, got 0")
    return t, p
