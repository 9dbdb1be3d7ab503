"""diagnose: one look at a model on a batch, forward and backward, with verdicts in each layer's terms."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from minitorch.diagnostics.findings import Report, judge
from minitorch.diagnostics.probe import ParamStats, run_probe
from minitorch.module import Module


def diagnose(
    model: Module,
    loss_fn: Any,
    X: np.ndarray,
    y: np.ndarray,
    optimizer: Any = None,
    lr: float | None = None,
    verbose: bool = False,
) -> Report:
    """Forward and backward statistics of every layer of ``model`` on (X, y), and what they mean.

    The model is walked layer by layer (see ``minitorch.diagnostics.probe``) in its current mode:
    per layer the output's mean and std, the fraction of ReLU outputs exactly 0 (and of units 0 for
    the whole batch), the fraction of Tanh/Sigmoid outputs saturated, and the norm of the gradient
    entering its backward; per Parameter its gradient norm. With ``optimizer`` (a copy of it takes
    one step on the copied weights) or ``lr`` (an SGD step, update = -lr * grad), also the
    update:data ratio per Parameter. ``report.findings`` lists the verdicts (``Finding``: kind,
    layer, evidence, remedy); ``print(report)`` shows the table; ``verbose=True`` prints it.

    Nothing is changed: weights, gradients, buffers, optimizer state and the random generator are
    as before, and no forward call is left waiting for a backward.
    Example:
        report = mt.diagnose(model, mt.CrossEntropyLoss(), X_train, y_train, lr=0.1)
        [f.kind for f in report.findings]      # e.g. ["dead_relu"]
    """
    if not isinstance(model, Module):
        raise TypeError(f"diagnose: expected a Module as model, got {type(model).__name__}")
    record: dict[str, float] = {}

    def backward_from(out: Any) -> Any:
        record["loss"] = float(np.sum(loss_fn(out, y)))
        return loss_fn.backward()

    layers, params, grads = run_probe(model, X, backward_from, others=(loss_fn,))
    if optimizer is not None or lr is not None:
        set_update_ratios(params, _updates(model, grads, optimizer, lr))
    report = Report(layers, params, loss=record.get("loss"))
    report.findings = judge(layers, params, report.loss)
    if verbose:
        print(report.table())
    return report


def _updates(model: Module, grads: list[np.ndarray | None], optimizer: Any, lr: float | None) -> list[Any]:
    """The change one step would make to each Parameter, computed on copies."""
    params = list(model.parameters())
    if optimizer is None:
        return [None if g is None else -float(lr) * g for g in grads]
    # a copy with its own Parameters and state; the modules it remembers as owners are not copied
    memo = {id(optimizer._owner_cache): (-1, [])} if hasattr(optimizer, "_owner_cache") else {}
    trial = copy.deepcopy(optimizer, memo)
    copies = {id(p): q for p, q in zip(_optimizer_params(optimizer), _optimizer_params(trial), strict=True)}
    for q in copies.values():
        q.grad = None
    for p, g in zip(params, grads, strict=True):
        if id(p) in copies and g is not None:
            copies[id(p)].grad = g.copy()
    trial.step()
    return [copies[id(p)].data - p.data if id(p) in copies else None for p in params]


def _optimizer_params(optimizer: Any) -> list[Any]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def set_update_ratios(params: list[ParamStats], updates: list[Any]) -> None:
    """update:data = rms(update) / rms(data) per Parameter; a non-finite update is flagged."""
    with np.errstate(all="ignore"):
        for stats, update in zip(params, updates, strict=True):
            if update is None:
                continue
            flat = update.ravel()
            squares = float(np.dot(flat, flat))
            rms = float(np.sqrt(squares / max(flat.size, 1)))
            stats.update_finite = bool(np.isfinite(squares)) or bool(np.isfinite(update).all())
            if stats.data_rms > 0:
                stats.update_ratio = rms / stats.data_rms
