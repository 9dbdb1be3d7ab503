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

# One concept per file, every name re-exported here: labels (as_labels: the reading above), accuracies,
# precision_recall_f1, confusion, roc_auc, regression (MSE, MAE, R²), registry (metrics by name, defaults).

from minitorch.metrics.accuracies import accuracy, accuracy_score, binary_accuracy
from minitorch.metrics.confusion import confusion_matrix
from minitorch.metrics.labels import as_labels
from minitorch.metrics.precision_recall_f1 import (
    AVERAGES,
    f1,
    f1_score,
    precision,
    precision_score,
    recall,
    recall_score,
)
from minitorch.metrics.registry import METRICS, Metric, default_metrics, get_metric
from minitorch.metrics.regression import mean_absolute_error, mean_squared_error, r2_score
from minitorch.metrics.roc_auc import roc_auc_score

# in the order the API page shows them
__all__ = [
    "accuracy", "confusion_matrix", "precision", "recall", "f1", "accuracy_score", "precision_score",
    "recall_score", "f1_score", "roc_auc_score", "mean_squared_error", "mean_absolute_error", "r2_score",
    "binary_accuracy", "default_metrics", "get_metric", "as_labels",
    "AVERAGES", "METRICS", "Metric",
]
