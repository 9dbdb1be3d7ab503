"""The rows a diagnostics report shows: ``LayerStats`` per layer, ``ParamStats`` per Parameter.

``stats.CheckStats`` fills them from a check's numbers, the first time a report reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)  # slots: a report builds one per layer
class LayerStats:
    """What went through one layer: its output's statistics forward, the gradient entering it backward."""

    name: str  # dotted module name ("0", "encoder.1"), "" for the model itself
    kind: str  # class name
    shape: tuple[int, ...] | None = None  # output shape
    mean: float = float("nan")
    std: float = float("nan")
    zero_fraction: float | None = None  # ReLU: outputs exactly 0
    dead_fraction: float | None = None  # ReLU: units (features, conv channels) 0 for the whole batch
    saturated_fraction: float | None = None  # Tanh / Sigmoid: outputs in the flat tails
    finite: bool = True  # output free of NaN / inf
    grad_norm: float | None = None  # ||dL/d(output)||, the gradient entering this layer's backward
    grad_rms: float | None = None  # the same per element: sqrt(mean(dy**2))
    grad_finite: bool = True
    has_params: bool = False  # the layer owns Parameters (gradient flow is compared between these)
    values: np.ndarray | None = field(default=None, repr=False)  # a sample of outputs, for histograms
    grads: np.ndarray | None = field(default=None, repr=False)  # a sample of dy, for histograms


@dataclass(slots=True)
class ParamStats:
    """One Parameter: its size, its gradient, and (after a step) the update relative to the data."""

    name: str  # dotted name, e.g. "0.W"
    layer: str  # the module that owns it, e.g. "0"
    shape: tuple[int, ...]
    data_rms: float
    grad_norm: float | None = None
    grad_rms: float | None = None
    update_ratio: float | None = None  # rms(update) / rms(data), ~1e-3 when training is healthy
    finite: bool = True  # data and gradient free of NaN / inf
    update_finite: bool = True  # the step left the data free of NaN / inf
