"""Kullback-Leibler divergence of a target distribution from log-probabilities (KLDivLoss)."""

from __future__ import annotations

import warnings

import numpy as np

from minitorch.checks import check_bool
from minitorch.losses.base import REDUCTIONS, ElementwiseLoss


class KLDivLoss(ElementwiseLoss):
    """KL(target || input) per element, as torch.nn.KLDivLoss: the input is log-probabilities.

    Shapes:   x (*) log-probabilities   t (*) probabilities (log_target=False) or log-probabilities
              (log_target=True), same shape (or broadcastable, as torch)   l (*)
    Forward:  log_target=False:  l = xlogy(t, t) - t * x      xlogy(t, t) = t * log(t), 0 where t == 0
              log_target=True:   l = exp(t) * (t - x)
              loss = l reduced: "mean" divides by l.size (torch's default; both libraries warn it is not the
              KL divergence), "batchmean" by the batch size x.shape[0] (the KL divergence per sample; the
              input's, where a target broadcast l to another shape, as torch),
              "sum", or "none"
    Backward: dx = -dl * t              (*)   log_target=False
              dx = -dl * exp(t)         (*)   log_target=True
    Example:
        loss_fn = KLDivLoss(reduction="batchmean")
        loss = loss_fn(np.log(np.array([[0.5, 0.5]])), np.array([[0.9, 0.1]]))   # 0.368
        dx = loss_fn.backward()                                                    # [[-0.9, -0.1]]
    """

    _target_shapes = "broadcast"  # a target of another shape: as torch (see ElementwiseLoss)

    _reductions = (*REDUCTIONS, "batchmean")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = check_bool(log_target, "KLDivLoss", "log_target")

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        if self.reduction == "mean":  # as torch.nn.functional.kl_div warns
            warnings.warn(
                "KLDivLoss with reduction='mean' divides the total by the batch size and by the number "
                "of elements per sample; reduction='batchmean' divides by the batch size only, which is "
                "the KL divergence",
                UserWarning, stacklevel=3,
            )
        return super().forward(input, target)

    def _check_values(self, x: np.ndarray, t: np.ndarray) -> None:
        check_bool(self.log_target, "KLDivLoss", "log_target")  # read at every call, as torch
        if not self.log_target and t.size and t.min() < 0:
            raise ValueError(
                f"KLDivLoss: expected target probabilities >= 0 (log_target=False), "
                f"got a minimum of {t.min()}"
            )

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.log_target:
            p = np.exp(t)
            return p * (t - x), -p
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) where t == 0: replaced by 0
            t_log_t = np.where(t > 0, t * np.log(t), 0)
        return t_log_t - t * x, -t

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" + (", log_target=True" if self.log_target else "")
