"""Training plots saved as PNG files: loss curves, 2-D decision boundaries, confusion matrices.

matplotlib is optional (``pip install 'minitorch-numpy[plot]'``) and imported only when a function runs.
Figures are drawn on matplotlib's non-interactive Agg canvas through the object API: no window
opens and the global pyplot backend is left as it was. Each function creates the folder of
``path`` if needed and returns the path written, as a string.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from minitorch.checks import check_int
from minitorch.metrics import as_labels
from minitorch.module import Module
from minitorch.plot_common import figure, save
from minitorch.training.inference import predict

PathLike = str | os.PathLike[str]


def loss_curves(history: Any, path: PathLike, title: str | None = None) -> str:
    """Per-epoch loss (and metrics) of a run, e.g. ``loss_curves(history, "outputs/loss.png")``.

    ``history``: a ``History``, its ``.history`` dict, or a plain sequence of per-epoch losses.
    Left panel: ``loss`` and ``val_loss``; right panel (when present): every metric and its
    ``val_`` twin. The learning rate is not drawn. Epochs are counted from 1.
    """
    curves = _curves(history)
    losses = {key: values for key, values in curves.items() if key in ("loss", "val_loss")}
    others = {key: values for key, values in curves.items() if key not in losses and key != "lr"}
    if not losses and not others:
        raise ValueError(f"loss_curves: nothing to draw, got keys {sorted(curves)}")
    panels = [panel for panel in (losses, others) if panel]
    fig = figure(figsize=(5.5 * len(panels), 4))
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        bases = list(dict.fromkeys(key.removeprefix("val_") for key in panel))
        for key, values in panel.items():
            style = "--" if key.startswith("val_") else "-"  # a metric and its val_ twin share a colour
            color = f"C{bases.index(key.removeprefix('val_')) % 10}"
            ax.plot(np.arange(1, len(values) + 1), values, style, color=color, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if panel is losses else "metric")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save(fig, path)


def decision_boundary(
    model: Module,
    X: np.ndarray,
    y: np.ndarray,
    path: PathLike,
    resolution: int = 200,
    title: str | None = None,
    threshold: float | None = None,
) -> str:
    """The class ``model`` predicts over the plane around 2-D data X (N, 2), with the points coloured by y.

    Predictions come from ``mt.predict`` (eval mode, batched) on a ``resolution`` x ``resolution``
    grid; (N, C) outputs are read as argmax. A single column (a BCE model) is class 1 above
    ``threshold``: by default 0.5 when every output lies in [0, 1] (sigmoid probabilities), else 0
    (logits, as BCEWithLogitsLoss trains them).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: expected 2-D points X (N, 2), got shape {X.shape}")
    check_int(resolution, "decision_boundary", "resolution", low=2)
    labels = as_labels(y, "decision_boundary", 0.5)
    if len(labels) != len(X):
        raise ValueError(f"decision_boundary: X has {len(X)} points but y has {len(labels)} labels")
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-3) + 0.1
    xs, ys = (np.linspace(low[i] - margin[i], high[i] + margin[i], resolution) for i in range(2))
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    regions = _predicted_classes(predict(model, grid), threshold).reshape(grid_x.shape)
    classes = np.union1d(labels, regions)
    fig = figure(figsize=(5.5, 5))
    from matplotlib.colors import BoundaryNorm, ListedColormap

    # one tab10 colour per class, the same for a region and its points
    cmap = ListedColormap([f"C{i % 10}" for i in range(len(classes))])
    norm = BoundaryNorm(np.concatenate([classes - 0.5, [classes[-1] + 0.5]]), len(classes))
    ax = fig.add_subplot(1, 1, 1)
    ax.contourf(grid_x, grid_y, regions, levels=norm.boundaries, cmap=cmap, norm=norm, alpha=0.25)
    points = ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=cmap, norm=norm, edgecolors="black")
    ax.legend(*points.legend_elements(), title="class", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("x[:, 0]")
    ax.set_ylabel("x[:, 1]")
    if title:
        ax.set_title(title)
    return save(fig, path)


def _predicted_classes(out: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class per row: argmax of (N, C) scores; a single column above ``threshold`` (see decision_boundary)."""
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] > 1:
        return np.argmax(out, axis=1)
    column = out.reshape(len(out))
    if threshold is None:
        threshold = 0.5 if column.min() >= 0 and column.max() <= 1 else 0.0
    return (column > threshold).astype(np.int64)


def confusion_matrix(
    cm: np.ndarray, path: PathLike, class_names: Sequence[str] | None = None, title: str | None = None
) -> str:
    """A confusion matrix (rows: true class, columns: predicted, as ``mt.metrics.confusion_matrix``)."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.dtype.kind not in "iuf":
        raise ValueError(f"confusion_matrix: expected a square numeric (C, C) matrix, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(i) for i in range(n)] if class_names is None else [str(name) for name in class_names]
    if len(names) != n:
        raise ValueError(f"confusion_matrix: expected {n} class names, got {len(names)}")
    fig = figure(figsize=(1.2 * n + 3, 1.2 * n + 2))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), count in np.ndenumerate(cm):
        text = f"{count:d}" if cm.dtype.kind in "iu" else f"{count:.2f}"
        ax.text(j, i, text, ha="center", va="center", color="white" if count > threshold else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return save(fig, path)


def _curves(history: Any) -> dict[str, list[float]]:
    data = getattr(history, "history", history)
    if isinstance(data, Mapping):
        return {str(key): list(values) for key, values in data.items()}
    values = np.asarray(data, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(
            "loss_curves: expected a History, a dict of lists or a sequence of losses, "
            f"got shape {values.shape}"
        )
    return {"loss": values.tolist()}




# diagnostics pictures (issue 17): they live in their own module, shown here as mt.plot.*
from minitorch.plot_diagnostics import diagnostics, graph, lr_curve  # noqa: E402, F401
