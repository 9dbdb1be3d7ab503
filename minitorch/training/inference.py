"""evaluate and predict: batched forward passes in eval mode under no_grad, modes restored after."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minitorch.data import DataLoader
from minitorch.grad_mode import no_grad
from minitorch.losses import Loss
from minitorch.metrics import Metric, default_metrics, get_metric
from minitorch.module import Module, switched_mode

Batches = Iterable[tuple[np.ndarray, np.ndarray]]
Metrics = Sequence[str | Metric] | None


def resolve_metrics(metrics: Metrics, reserved: tuple[str, ...] = ("loss", "lr")) -> list[tuple[str, Metric]]:
    """[(name, fn)] from names and functions; names must be distinct and not clash with the logs."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    resolved = [get_metric(metric) for metric in metrics]
    names = [name for name, _ in resolved]
    for name in names:
        if names.count(name) > 1 or name in reserved or name.startswith("val_"):
            raise ValueError(
                f"metric names must be distinct and not {list(reserved)} or 'val_*', got {names}"
            )
    return resolved


def metric_logs(metrics: list[tuple[str, Metric]], targets: list, outputs: list) -> dict[str, float]:
    """Each metric over the concatenated batches of one pass (exact, not an average of batches)."""
    if not metrics:
        return {}
    y_true, y_pred = np.concatenate(targets), np.concatenate(outputs)
    return {name: float(fn(y_true, y_pred)) for name, fn in metrics}


def as_batches(data: Any, batch_size: int, who: str) -> Batches:
    """(X, y) -> a DataLoader of ``batch_size``; a DataLoader or any iterable of batches as it is."""
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"{who}: expected (X, y) or a DataLoader, got a tuple of {len(data)} items")
        return DataLoader(data[0], data[1], batch_size=batch_size)
    if not isinstance(data, Iterable):
        raise TypeError(f"{who}: expected (X, y) or a DataLoader of (xb, yb), got {type(data).__name__}")
    return data


def check_mean_reduction(loss_fn: Any, who: str) -> None:
    """The epoch loss is a sample-weighted mean of batch losses: each must be a batch mean."""
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction != "mean":
        raise ValueError(
            f"{who}: expected a loss with reduction='mean' (batch losses are averaged by sample count), "
            f"got reduction={reduction!r}"
        )


def run_eval(
    model: Module,
    loss_fn: Loss | Callable | None,
    batches: Batches,
    metrics: list[tuple[str, Metric]],
    who: str,
) -> dict[str, float]:
    """{"loss": sample-weighted mean of the batch losses, <metric>: value} over ``batches``, in eval mode."""
    total, count = 0.0, 0
    targets, outputs = [], []
    with switched_mode(model, False), no_grad():
        for xb, yb in batches:
            output = model(xb)
            if loss_fn is not None:
                total += loss_fn(output, yb) * len(xb)
            count += len(xb)
            if metrics:  # a copy: nothing promises the next forward leaves this output alone
                outputs.append(np.array(output, copy=True))
                targets.append(np.asarray(yb))
    if count == 0:
        raise ValueError(f"{who}: the data holds no samples")
    logs = {"loss": total / count} if loss_fn is not None else {}
    return {**logs, **metric_logs(metrics, targets, outputs)}


def evaluate(
    model: Module,
    loss_fn: Loss | Callable | None,
    X: np.ndarray | Batches,
    y: np.ndarray | None = None,
    metrics: Metrics | str = "auto",
    batch_size: int = 256,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on (X, y), in eval mode: ``{"loss": ..., "accuracy": ...}``.

    The loss is the sample-weighted mean of the batch losses (exactly the full-data loss for
    mean-reduced losses); metrics are computed on all outputs at once. ``X`` may instead be a
    DataLoader (or iterable) of (xb, yb) with ``y=None``; ``loss_fn=None`` gives metrics only.
    ``metrics="auto"`` follows the loss, as in ``fit`` (``mt.metrics.default_metrics``).
    The model's train/eval modes are restored afterwards.
    Example:
        mt.evaluate(model, mt.CrossEntropyLoss(), X_test, y_test)   # {"loss": 0.08, "accuracy": 0.97}
    """
    check_mean_reduction(loss_fn, "evaluate")
    batches = as_batches((X, y) if y is not None else X, batch_size, "evaluate")
    chosen = default_metrics(loss_fn) if isinstance(metrics, str) and metrics == "auto" else metrics
    return run_eval(model, loss_fn, batches, resolve_metrics(chosen), "evaluate")


def predict(model: Module, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``model``'s outputs for X, computed ``batch_size`` rows at a time in eval mode.

    X is converted as a DataLoader converts it (floating data to the default dtype); the model's
    train/eval modes are restored afterwards.
    Example:
        probs_or_logits = mt.predict(model, X_test)          # (N, C)
        labels = probs_or_logits.argmax(axis=1)
    """
    loader = DataLoader(X, batch_size=batch_size)
    if len(loader) == 0:
        raise ValueError(f"predict: expected at least one sample, got X of shape {np.shape(X)}")
    with switched_mode(model, False), no_grad():
        return np.concatenate([np.array(model(xb), copy=True) for xb in loader])  # copies, as in run_eval
