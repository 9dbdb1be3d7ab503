"""evaluate and predict: batched forward passes in eval mode under no_grad, modes restored after."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minitorch.data import DataLoader
from minitorch.grad_mode import no_grad
from minitorch.losses import Loss
from minitorch.metrics import Metric, default_metrics, get_metric
from minitorch.module import Module, switched_mode
from minitorch.parameter import data_of

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
    """Each metric over the concatenated batches of one pass (exact, not an average of batches).

    Outputs holding NaN (a model fit trained past with stop_on_nan=False) log nan for every metric,
    as their loss: the metric functions refuse NaN (scikit-learn's rule). +-inf outputs reach the
    metrics: accuracy reads their argmax, the regression metrics refuse them, as scikit-learn.
    """
    if not metrics:
        return {}
    y_true, y_pred = np.concatenate(targets), np.concatenate(outputs)
    if y_pred.dtype.kind == "f" and np.isnan(y_pred).any():
        return {name: float("nan") for name, _ in metrics}
    return {name: float(fn(y_true, y_pred)) for name, fn in metrics}


def as_batches(data: Any, batch_size: int, who: str, model: Module | None = None) -> Batches:
    """(X, y) -> a DataLoader of ``batch_size``; a DataLoader or any iterable of batches as it is.

    Given ``model``, arrays are converted to its dtype, and a DataLoader that rounded its data to a
    narrower dtype than the model computes in yields them unrounded (``in_model_dtype``).
    """
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ValueError(f"{who}: expected (X, y) or a DataLoader, got a tuple of {len(data)} items")
        return DataLoader(data_of(data[0]), data_of(data[1]), batch_size=batch_size, dtype=model_dtype(model))
    if not isinstance(data, Iterable):
        raise TypeError(f"{who}: expected (X, y) or a DataLoader of (xb, yb), got {type(data).__name__}")
    return in_model_dtype(data, model)


def model_dtype(model: Module | None) -> np.dtype | None:
    """The floating dtype ``model`` computes in (its first floating parameter's); None without one."""
    if model is None:
        return None
    return next((p.data.dtype for p in model.parameters() if p.data.dtype.kind == "f"), None)


def in_model_dtype(loader: Any, model: Module | None) -> Any:
    """``loader`` as it is, or an mt.DataLoader that rounded float64 features to float32 for a model
    computing in float64 as the same loader yielding them unrounded (``DataLoader.as_dtype``).

    The DataLoader's convenience cast to the default dtype would otherwise feed a float64 model data
    that lost half its digits, with nothing to show it.
    """
    wanted = model_dtype(model)
    if not isinstance(loader, DataLoader) or loader.rounded_from is None or wanted is None:
        return loader
    return loader.as_dtype(min(wanted, loader.rounded_from, key=lambda d: d.itemsize))


def loss_weight(loss_fn: Any, output: Any, target: Any, batch_size: int) -> float:
    """What a batch's "mean" loss divided by, so that batch means add up to the full-data mean.

    CrossEntropyLoss / NLLLoss with class-index targets divide by the sum of the counted targets'
    class weights (their number without ``weight``; ignore_index targets count 0), as torch: the
    mean of several batches is sum(loss_b * weight_b) / sum(weight_b). Every other loss: the batch
    size (the sample-weighted mean, exact when each sample has as many loss elements).
    """
    from minitorch.losses import CrossEntropyLoss, NLLLoss

    if not isinstance(loss_fn, (CrossEntropyLoss, NLLLoss)):
        return float(batch_size)
    z, y = np.asarray(output), np.asarray(target)
    if y.shape == z.shape:  # class probabilities: every position counts once
        return float(z.size // z.shape[1]) if z.ndim > 1 else 1.0
    counted = y[y != loss_fn.ignore_index]
    if loss_fn.weight is None:
        return float(counted.size)
    return float(np.asarray(loss_fn.weight, dtype=np.float64)[counted].sum())


def add_loss(total: float, weight: float, loss: float) -> float:
    """``total + loss * weight``; a batch of weight 0 (every target ignored: its loss is nan) adds nothing."""
    return total + loss * weight if weight else total


def mean_loss(total: float, weight: float) -> float:
    """The weighted mean; nan when no target counted (every one ignored), as torch's 0 / 0."""
    return total / weight if weight else float("nan")


def check_mean_reduction(loss_fn: Any, who: str) -> None:
    """The epoch loss is a weighted mean of batch losses (``loss_weight``): each must be a batch mean.

    And the loss must be one of (output, target): ``loss_fn(output, yb)`` is the one call made.
    """
    _check_pair_loss(loss_fn, who)
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction != "mean":
        raise ValueError(
            f"{who}: expected a loss with reduction='mean' (batch losses are averaged by sample count), "
            f"got reduction={reduction!r}"
        )


def _check_pair_loss(loss_fn: Any, who: str) -> None:
    """A TypeError naming the inputs for a Loss whose forward takes more than (input, target)."""
    if not isinstance(loss_fn, Loss):
        return
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in list(inspect.signature(type(loss_fn).forward).parameters.values())[1:]
             if p.kind in kinds]
    if len(names) > 2:
        cls = type(loss_fn).__name__
        raise TypeError(
            f"{who}: {cls} takes {len(names)} inputs ({', '.join(names)}) and {who} calls "
            f"loss_fn(output, yb) with two; write the loop: loss = loss_fn({', '.join(names)}); "
            f"grads = loss_fn.backward() (a tuple: see its docstring), then each model's backward"
        )


def run_eval(
    model: Module,
    loss_fn: Loss | Callable | None,
    batches: Batches,
    metrics: list[tuple[str, Metric]],
    who: str,
) -> dict[str, float]:
    """{"loss": the full-data mean of the loss, <metric>: value} over ``batches``, in eval mode.

    The batch losses are combined with the weights their means divided by (``loss_weight``).
    """
    total, weight, count = 0.0, 0.0, 0
    targets, outputs = [], []
    with switched_mode(model, False), no_grad():
        for xb, yb in batches:
            output = model(xb)
            if loss_fn is not None:
                loss = loss_fn(output, yb)  # first: it checks the targets loss_weight reads
                batch_weight = loss_weight(loss_fn, output, yb, len(xb))
                total, weight = add_loss(total, batch_weight, loss), weight + batch_weight
            count += len(xb)
            if metrics:  # a copy: nothing promises the next forward leaves this output alone
                outputs.append(np.array(one_output(output, who), copy=True))
                targets.append(np.asarray(yb))
    if count == 0:
        raise ValueError(f"{who}: the data holds no samples")
    logs = {"loss": mean_loss(total, weight)} if loss_fn is not None else {}
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

    The loss is the full-data loss of mean-reduced losses: batch losses weighted by what each
    batch's mean divided by (its size; the counted targets' class weights for CrossEntropyLoss and
    NLLLoss with ``weight`` or ``ignore_index``, as torch); metrics are computed on all outputs at
    once. ``X`` may instead be a DataLoader (or iterable) of (xb, yb) with ``y=None``;
    ``loss_fn=None`` gives metrics only.
    ``metrics="auto"`` follows the loss, as in ``fit`` (``mt.metrics.default_metrics``).
    The model's train/eval modes are restored afterwards.
    Example:
        mt.evaluate(model, mt.CrossEntropyLoss(), X_test, y_test)   # {"loss": 0.08, "accuracy": 0.97}
    """
    check_mean_reduction(loss_fn, "evaluate")
    batches = as_batches((X, y) if y is not None else X, batch_size, "evaluate", model)
    chosen = default_metrics(loss_fn) if isinstance(metrics, str) and metrics == "auto" else metrics
    return run_eval(model, loss_fn, batches, resolve_metrics(chosen), "evaluate")


def predict(model: Module, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``model``'s outputs for X, computed ``batch_size`` rows at a time in eval mode.

    Floating X is converted to the model's dtype (the dtype of its parameters; the default dtype for a
    model without any), so a float64 model sees float64 data; the model's train/eval modes are
    restored afterwards.
    Example:
        probs_or_logits = mt.predict(model, X_test)          # (N, C)
        labels = probs_or_logits.argmax(axis=1)
    """
    loader = DataLoader(data_of(X), batch_size=batch_size, dtype=model_dtype(model))
    if len(loader) == 0:
        raise ValueError(f"predict: expected at least one sample, got X of shape {np.shape(X)}")
    with switched_mode(model, False), no_grad():
        # copies, as in run_eval
        return np.concatenate([np.array(one_output(model(xb), "predict"), copy=True) for xb in loader])


def one_output(output: Any, who: str) -> np.ndarray:
    """``output`` if it is one array; a TypeError naming a model with several outputs (a tuple)."""
    if isinstance(output, (tuple, list)):
        raise TypeError(
            f"{who}: expected the model to return one array per batch, got a {type(output).__name__} of "
            f"{len(output)} items (a module with several outputs, such as LSTM's (output, (h_n, c_n))); "
            "wrap it in a Module whose forward returns the array to use"
        )
    return output
