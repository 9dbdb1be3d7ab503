"""Regression losses on an input and a target of the same shape (another shape that broadcasts with it is
taken with torch's UserWarning: see ElementwiseLoss): MSE, L1, Huber, SmoothL1."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.functional import huber
from minitorch.losses.base import ElementwiseLoss


class MSELoss(ElementwiseLoss):
    """Squared error, as torch.nn.MSELoss.

    Shapes:   x (*)   t (*) same shape (or broadcastable, with a warning, as torch)   l (*) (the broadcast
              shape)   loss: scalar, or l for reduction="none"
    Forward:  d = x - t
              l = d**2                      reduced: mean (default), sum or none (see ``Loss``)
    Backward: dx = dl * 2 * d               (*)   dl = dloss / x.size for mean
    Example:
        loss_fn = MSELoss()
        loss = loss_fn(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 2.0
        dx = loss_fn.backward()                                      # [0, -2]
    """

    _target_shapes = "warn"  # a target of another shape: as torch (see ElementwiseLoss)

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = x - t
        return d * d, 2 * d


class L1Loss(ElementwiseLoss):
    """Absolute error, as torch.nn.L1Loss.

    Shapes:   x (*)   t (*) same shape (or broadcastable, with a warning, as torch)   l (*)
    Forward:  d = x - t;  l = |d|
    Backward: dx = dl * sign(d)             (*)   subgradient 0 where x == t, as PyTorch
    Example:
        loss_fn = L1Loss()
        loss = loss_fn(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 1.0
        dx = loss_fn.backward()                                      # [0, -0.5]
    """

    _target_shapes = "warn"  # a target of another shape: as torch (see ElementwiseLoss)

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = x - t
        return np.abs(d), np.sign(d)


class HuberLoss(ElementwiseLoss):
    """Squared error near the target, absolute error far from it, as torch.nn.HuberLoss.

    Shapes:   x (*)   t (*) same shape (or broadcastable, with a warning, as torch)   l (*)
    Forward:  d = x - t
              l = 0.5 * d**2                     where |d| < delta
                = delta * (|d| - 0.5 * delta)    elsewhere        (continuous, with continuous slope)
    Backward: dx = dl * clip(d, -delta, delta)   (*)
    Example:
        loss_fn = HuberLoss(delta=1.0)
        loss = loss_fn(np.array([0.5, 3.0]), np.zeros(2))   # mean(0.125, 2.5) = 1.3125
        dx = loss_fn.backward()                            # [0.25, 0.5]
    """

    _target_shapes = "warn"  # a target of another shape: as torch (see ElementwiseLoss)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = check_number(delta, "HuberLoss", "delta", 0, low_open=True)

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # delta is read at every call, with torch's check
        return huber(x - t, check_number(self.delta, "HuberLoss", "delta", 0, low_open=True))

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class SmoothL1Loss(ElementwiseLoss):
    """Huber loss divided by beta: L1 far from the target, as torch.nn.SmoothL1Loss.

    Shapes:   x (*)   t (*) same shape (or broadcastable, with a warning, as torch)   l (*)
    Forward:  d = x - t
              l = 0.5 * d**2 / beta              where |d| < beta
                = |d| - 0.5 * beta               elsewhere        (= Huber(d, beta) / beta, computed
                                                                   as written: no overflow at beta * |d|)
    Backward: dx = dl * clip(d, -beta, beta) / beta   (*)
    beta = 0 is exactly L1Loss: l = |d|, dx = dl * sign(d), as PyTorch.
    Example:
        loss_fn = SmoothL1Loss(beta=1.0)
        loss = loss_fn(np.array([0.5, 3.0]), np.zeros(2))   # mean(0.125, 2.5) = 1.3125
        dx = loss_fn.backward()                            # [0.25, 0.5]
    """

    _target_shapes = "warn"  # a target of another shape: as torch (see ElementwiseLoss)

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = check_number(beta, "SmoothL1Loss", "beta", 0)

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d, beta = x - t, check_number(self.beta, "SmoothL1Loss", "beta", 0)  # read at every call, checked
        if beta == 0:
            return np.abs(d), np.sign(d)
        abs_d = np.abs(d)
        # |d| - 0.5 * beta directly, as torch: Huber(d, beta) / beta would overflow at beta * |d|
        with np.errstate(over="ignore"):  # 0.5 * d**2 of the branch not taken may pass the dtype's max
            losses = np.where(abs_d < beta, 0.5 * d * d / beta, abs_d - 0.5 * beta)
        return losses, np.clip(d, -beta, beta) / beta

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
