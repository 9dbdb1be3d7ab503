"""Metrics by name for ``mt.fit`` and ``mt.evaluate``, and the ones they report when none are named."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minitorch.metrics.accuracies import accuracy, binary_accuracy
from minitorch.metrics.precision_recall_f1 import f1, precision, recall
from minitorch.metrics.regression import mean_absolute_error, mean_squared_error, r2_score

Metric = Callable[[np.ndarray, np.ndarray], float]


def default_metrics(loss_fn: object) -> tuple[Metric, ...]:
    """The metrics ``mt.fit`` and ``mt.evaluate`` report when none are named: they follow the loss.

    CrossEntropyLoss, NLLLoss: class accuracy (argmax of the scores along the class axis 1, as the
    loss reads (N, C, d1, ...) scores; targets equal to the loss's ignore_index left out);
    BCEWithLogitsLoss: accuracy of the logits at 0;  BCELoss: accuracy of the probabilities at 0.5;
    any other loss (regression, your own): none;  no loss (``evaluate(model, None, ...)``): class
    accuracy. Each is logged as "accuracy".
    """
    from minitorch.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss

    if loss_fn is None:
        return (accuracy,)
    if isinstance(loss_fn, (CrossEntropyLoss, NLLLoss)):
        return (_class_accuracy(loss_fn.ignore_index),)
    if isinstance(loss_fn, BCEWithLogitsLoss):
        return (_binary_accuracy_at(0.0),)
    if isinstance(loss_fn, BCELoss):
        return (_binary_accuracy_at(0.5),)
    return ()


def _class_accuracy(ignore_index: int) -> Metric:
    plain = globals()["accuracy"]

    def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:  # logged under the name "accuracy"
        """mean(argmax(y_pred, axis=1) == y_true) over the targets != ignore_index; nan if none is left."""
        t, p = np.asarray(y_true), np.asarray(y_pred)
        if t.dtype.kind not in "iu" or p.ndim < 2 or t.shape != p.shape[:1] + p.shape[2:]:
            return plain(t, p)
        kept = t != ignore_index
        if p.ndim == 2 and kept.all():
            return plain(t, p)
        if p.dtype.kind == "f" and np.isnan(p).any():  # as the plain accuracy: argmax reads NaN as the top
            raise ValueError(f"accuracy: scores {p.shape} contain NaN (expected finite scores)")
        return float(np.mean(p.argmax(axis=1)[kept] == t[kept])) if kept.any() else float("nan")

    return accuracy


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
