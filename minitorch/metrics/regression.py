"""Regression metrics: mean squared error, mean absolute error, R².

NaN or inf in y_true or y_pred is a ValueError naming the metric and the argument, as scikit-learn
raises (its check_array): a metric never returns a nan, or a score of NaN predictions.
"""

from __future__ import annotations

import numpy as np


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


def _regression_pair(y_true: np.ndarray, y_pred: np.ndarray, who: str):
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    # (N,) against (N, 1) is one column either way (scikit-learn's rule); any other difference, even
    # with as many numbers ((N, T, F) against (N, F, T)), would pair the wrong elements
    column = {t.shape, p.shape} == {(len(t),), (len(t), 1)} if t.ndim else False
    if t.ndim == 0 or p.ndim == 0 or (t.shape != p.shape and not column):
        raise ValueError(f"{who}: expected y_true and y_pred of the same shape (or (N,) and (N, 1)), "
                         f"got {t.shape} and {p.shape}")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    if len(t) == 0:
        raise ValueError(f"{who}: expected at least one sample, got 0")
    for name, values in (("y_true", t), ("y_pred", p)):
        if not np.isfinite(values).all():  # scikit-learn's check_array raises too ("Input contains NaN")
            raise ValueError(f"{who}: {name} contains NaN or inf (expected finite values, as scikit-learn)")
    return t, p
