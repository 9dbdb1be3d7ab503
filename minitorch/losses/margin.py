"""Margin losses of a score against a +1 / -1 label: SoftMarginLoss (logistic) and
HingeEmbeddingLoss (a distance that should be small for +1 and above a margin for -1)."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.functional import sigmoid, softplus_of_neg_abs
from minitorch.losses.base import ElementwiseLoss, check_not_bool_labels


class SoftMarginLoss(ElementwiseLoss):
    """Logistic loss of a score x against a label y = +1 or -1, as torch.nn.SoftMarginLoss.

    Shapes:   x (*) scores   y (*) labels (+1 / -1; any number is read by the formula, as torch; a bool
              y gives the loss of False as 0 and a TypeError at backward, as torch's -y there),
              same shape (or broadcastable to x's shape, as torch)   l (*)
    Forward:  z = -y * x
              l = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))   (stable: exp(-|z|) <= 1)
              reduced: mean (default), sum or none (see ``Loss``)
    Backward: dx = dl * -y * sigmoid(z)     (*)   sigmoid from ``functional.sigmoid`` (stable)
    Example:
        loss_fn = SoftMarginLoss()
        loss = loss_fn(np.array([0.0, 2.0]), np.array([1.0, -1.0]))   # mean(log 2, log(1 + e^2))
        dx = loss_fn.backward()                                       # [-0.25, 0.4404]
    """

    _target_shapes = "to_input"  # a target of another shape: as torch (see ElementwiseLoss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._bool_target: bool | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        # torch computes the loss of a bool y (False as 0) and refuses its gradient (-y of a bool)
        self._bool_target = np.asarray(target).dtype == bool
        return super().forward(input, target)

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        if self._bool_target:
            check_not_bool_labels(np.bool_(True), "SoftMarginLoss.backward")
        return super().backward(dloss)

    def _losses_and_slope(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = -y * x
        return np.maximum(z, 0) + softplus_of_neg_abs(z), -y * sigmoid(z)


class HingeEmbeddingLoss(ElementwiseLoss):
    """Hinge loss of a distance x: small for y = +1, at least ``margin`` for y = -1, as
    torch.nn.HingeEmbeddingLoss.

    Shapes:   x (*) distances   y (*) labels +1 / -1, same shape (or broadcastable, as torch)   l (*)
    Forward:  l = where(y != 1, max(0, margin - x), 0) + where(y != -1, x, 0)
              (x for y = 1, max(0, margin - x) for y = -1; a y of any other value gets both terms, as
              torch's formula); reduced: mean (default), sum or none (see ``Loss``)
    Backward: dx = dl * (where(y != -1, 1, 0) - where((y != 1) & (margin - x >= 0), 1, 0))   (*)
              subgradient at x = margin: -1 for y = -1, as torch's clamp_min
    Example:
        loss_fn = HingeEmbeddingLoss(margin=1.0)
        loss = loss_fn(np.array([0.3, 0.2]), np.array([1.0, -1.0]))   # mean(0.3, 0.8) = 0.55
        dx = loss_fn.backward()                                       # [0.5, -0.5]
    """

    _target_shapes = "broadcast"  # a target of another shape: as torch (see ElementwiseLoss)

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = check_number(margin, "HingeEmbeddingLoss", "margin")

    def _losses_and_slope(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        margin = x.dtype.type(check_number(self.margin, "HingeEmbeddingLoss", "margin"))  # read at every call
        gap = margin - x
        negative, positive = y != 1, y != -1
        losses = np.where(negative, np.maximum(gap, 0), 0) + np.where(positive, x, 0)
        slope = positive.astype(x.dtype) - (negative & (gap >= 0)).astype(x.dtype)
        return losses.astype(x.dtype, copy=False), slope

    def extra_repr(self) -> str:
        return f"margin={self.margin}"
