"""Binary cross-entropy of probabilities (BCELoss) and of logits, sigmoid fused in (BCEWithLogitsLoss)."""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.functional import sigmoid, softplus_of_neg_abs
from minitorch.losses.base import ElementwiseLoss, check_finite, check_in_unit_interval, check_not_bool


class BCELoss(ElementwiseLoss):
    """Binary cross-entropy of probabilities, as torch.nn.BCELoss (prefer BCEWithLogitsLoss).

    Shapes:   p (*) probabilities in [0, 1]   t (*) targets in [0, 1], same shape   l (*)
              w: weight, broadcastable to p's shape (weight=None: 1)
    Forward:  l = -w * (t * max(log(p), -100) + (1 - t) * max(log(1 - p), -100))
              (the logs are clamped at -100 as PyTorch does, so p = 0 or 1 gives a finite loss);
              "mean" divides by l.size, whatever the weights (as torch)
    Backward: dx = dl * w * (p - t) / max(p * (1 - p), 1e-12)    (*)   PyTorch's formula: the exact
              derivative for p in (0, 1), bounded instead of infinite at p = 0 or 1
    Example:
        loss_fn = BCELoss()
        loss = loss_fn(np.array([0.9, 0.2]), np.array([1.0, 0.0]))   # mean(-log .9, -log .8) = 0.164
        dp = loss_fn.backward()                                      # [-0.556, 0.625]
    """

    def __init__(self, reduction: str = "mean", *, weight: np.ndarray | None = None) -> None:
        super().__init__(reduction)
        _register_optional(self, "weight", weight)

    def _check_values(self, p: np.ndarray, t: np.ndarray) -> None:
        check_in_unit_interval(p, "BCELoss", "input probabilities")
        check_in_unit_interval(t, "BCELoss", "targets")

    def _losses_and_slope(self, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = _broadcast_to(self, "weight", p)
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100 on the next lines
            log_p, log_1mp = np.log(p), np.log(1 - p)
        losses = -w * (t * np.maximum(log_p, -100) + (1 - t) * np.maximum(log_1mp, -100))
        slope = w * (p - t) / np.maximum(p * (1 - p), _BCE_EPSILON)
        return losses, slope

    def extra_repr(self) -> str:
        return _weights_repr(self, "weight")


_BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's bound, a float32 constant (9.99999996e-13)


class BCEWithLogitsLoss(ElementwiseLoss):
    """Sigmoid + binary cross-entropy, fused and stable for any logit, as torch.nn.BCEWithLogitsLoss.

    Shapes:   x (*) logits   t (*) targets in [0, 1] (any finite number is read by the formula, as
              torch; BCELoss refuses one outside), same shape   l (*)
              w: weight, broadcastable to x's shape; pw: pos_weight, broadcastable to x's shape
              (one per class along the last axis, as torch; a 0-d array is one for all); None: 1
    Forward:  l = -w * (pw * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))
                = w * ((1 - t) * x + lw * softplus(-x)),   lw = 1 + (pw - 1) * t
              softplus(-x) = -log(sigmoid(x)) = max(-x, 0) + log1p(exp(-|x|)): exp(-|x|) <= 1 never
              overflows, log1p keeps tiny terms; "mean" divides by l.size, whatever the weights
    Backward: dx = dl * w * ((1 - t) - lw * sigmoid(-x))      (*)   = dl * (sigmoid(x) - t) for w = pw = 1
              sigmoid(-x) = 1 - sigmoid(x), from ``functional.sigmoid`` (stable)
    Example:
        loss_fn = BCEWithLogitsLoss()
        loss = loss_fn(np.array([1e4, -1e4]), np.array([1.0, 0.0]))   # 0.0, no overflow
        dx = loss_fn.backward()                                       # [0, 0]
    """

    def __init__(self, reduction: str = "mean", *, weight: np.ndarray | None = None,
                 pos_weight: np.ndarray | None = None) -> None:
        super().__init__(reduction)
        _register_optional(self, "weight", weight)
        _register_optional(self, "pos_weight", pos_weight)

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w, pw = _broadcast_to(self, "weight", x), _broadcast_to(self, "pos_weight", x)
        if self.weight is None and self.pos_weight is None:  # lw = 1: the docstring's unweighted forms
            return np.maximum(x, 0) - x * t + softplus_of_neg_abs(x), sigmoid(x) - t
        lw = 1 + (pw - 1) * t
        softplus_neg_x = np.maximum(-x, 0) + softplus_of_neg_abs(x)
        losses = w * ((1 - t) * x + lw * softplus_neg_x)
        slope = w * ((1 - t) - lw * sigmoid(-x))
        return losses, slope

    def extra_repr(self) -> str:
        return ", ".join(r for r in (_weights_repr(self, "weight"), _weights_repr(self, "pos_weight")) if r)


def _register_optional(loss_fn: ElementwiseLoss, name: str, value: object) -> None:
    """``name`` as a buffer (as torch: in state_dict, cast by to(dtype)) if given, else None."""
    who = type(loss_fn).__name__
    if value is None:  # an empty buffer slot, as torch's: a weight set later is a buffer too
        loss_fn.register_buffer(name, None)
        return
    check_not_bool(value, who, name)
    w = np.array(as_floating(value, who))
    check_finite(w, who, name)
    loss_fn.register_buffer(name, w)


def _broadcast_to(loss_fn: ElementwiseLoss, name: str, x: np.ndarray) -> np.ndarray | float:
    """The buffer ``name`` in x's dtype if it broadcasts to x's shape (a ValueError if not); 1.0 if None."""
    w = getattr(loss_fn, name)
    if w is None:
        return 1.0
    try:
        shape = np.broadcast_shapes(w.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"{type(loss_fn).__name__}: {name} of shape {w.shape} does not broadcast to the input's "
            f"shape {x.shape}"
        )
    return w.astype(x.dtype, copy=False)


def _weights_repr(loss_fn: ElementwiseLoss, name: str) -> str:
    w = getattr(loss_fn, name)
    return "" if w is None else f"{name}={np.array2string(w, precision=4)}"
