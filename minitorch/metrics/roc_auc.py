"""Area under the ROC curve, binary and multiclass, as scikit-learn's roc_auc_score."""

from __future__ import annotations

import numpy as np


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
    if t.dtype.kind == "f" and not np.all(t == np.round(t)):  # swapped arguments, or scores as targets
        raise ValueError(f"{who}: expected class labels in y_true, got continuous values such as "
                         f"{t[t != np.round(t)][0]} (scikit-learn refuses them too)")
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
