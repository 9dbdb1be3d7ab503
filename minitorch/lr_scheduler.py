"""Learning-rate schedules: the same sequences as torch.optim.lr_scheduler.

A scheduler acts through ``optimizer.param_groups[i]["lr"]``. Creating one records each group's
``initial_lr`` (the ``base_lrs``) and sets the lr for epoch 0; each ``step()`` (after the epoch's
``optimizer.step()``) advances ``last_epoch`` by one and writes the next lr into every group.
Like torch's, the update is chainable (recursive): it scales the group's *current* lr, so the
values equal torch's ``get_last_lr()`` to the last bit (the closed forms in the docstrings agree up
to rounding). ``ReduceLROnPlateau`` instead watches a metric: ``step(metric)``.

Example:
    opt = mt.SGD(model.parameters(), lr=0.1)
    sched = mt.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from minitorch.checks import check_choice, check_nonnegative_int, check_number, check_positive_int
from minitorch.optimizers import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "MultiStepLR",
    "ReduceLROnPlateau",
    "StepLR",
]


class LRScheduler:
    """Base class: ``step()`` sets ``last_epoch += 1`` and writes ``get_lr()`` into the groups.

    Subclasses define ``get_lr()`` (the next lrs, from the groups' current lrs) and list their
    settings in ``_settings``, which ``state_dict()`` saves along with the epoch and the lrs.
    """

    _settings: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def get_lr(self) -> list[float]:
        """The lrs for ``last_epoch`` (already advanced); ``step()`` calls it. Read ``get_last_lr()``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def step(self) -> None:
        """Advance one epoch and set every group's lr; call it after ``optimizer.step()``."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lr of each group as this scheduler last set it."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The epoch, the lrs and the settings: numbers and lists, so it can go into a file."""
        names = ("last_epoch", "base_lrs", "_last_lr", *self._settings)
        return {name: _copy(getattr(self, name)) for name in names}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output (checked first: on error nothing changes)."""
        expected = set(self.state_dict())
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: expected keys {sorted(expected)}, got {got}"
            )
        n = len(self.optimizer.param_groups)
        for name in ("_last_lr", "base_lrs", "min_lrs"):
            if name in state_dict and len(state_dict[name]) != n:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: expected {name} for {n} parameter groups, "
                    f"got {len(state_dict[name])}"
                )
        for name, value in state_dict.items():
            setattr(self, name, _copy(value))

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._settings)
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


class StepLR(LRScheduler):
    """Multiply the lr by gamma every ``step_size`` epochs.

    Schedule: lr(epoch) = base_lr * gamma ** (epoch // step_size)
    Chained:  lr = lr * gamma   when epoch > 0 and epoch % step_size == 0, else unchanged
    Example:  StepLR(opt, step_size=30, gamma=0.1)   # base_lr for epochs 0-29, 0.1 base_lr for 30-59...
    """

    _settings = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        check_positive_int(step_size, "StepLR", "step_size")
        check_number(gamma, "StepLR", "gamma", 0)
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone epoch (by gamma**k for a milestone listed k times).

    Schedule: lr(epoch) = base_lr * gamma ** (number of milestones <= epoch)
    Chained:  lr = lr * gamma ** milestones.count(epoch)
    Example:  MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    _settings = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1) -> None:
        milestones = sorted(milestones)
        for i, milestone in enumerate(milestones):
            check_nonnegative_int(milestone, "MultiStepLR", f"milestones[{i}]")
        check_number(gamma, "MultiStepLR", "gamma", 0)
        self.milestones, self.gamma = [int(m) for m in milestones], gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return self._current_lrs()
        return [lr * self.gamma**count for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every epoch.

    Schedule: lr(epoch) = base_lr * gamma ** epoch
    Chained:  lr = lr * gamma   (epoch > 0)
    Example:  ExponentialLR(opt, gamma=0.95)
    """

    _settings = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        check_number(gamma, "ExponentialLR", "gamma", 0)
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from base_lr down to eta_min over T_max epochs (then back up, periodically).

    Schedule: lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
    Chained:  lr = eta_min + (lr - eta_min) * (1 + cos(pi * e / T_max)) / (1 + cos(pi * (e - 1) / T_max))
              except where the denominator is 0 (e - 1 = T_max, 3 T_max...), as torch:
              lr = lr + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2
    Example:  CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)   # no restarts (SGDR) here
    """

    _settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        check_positive_int(T_max, "CosineAnnealingLR", "T_max")
        check_number(eta_min, "CosineAnnealingLR", "eta_min", 0)
        self.T_max, self.eta_min = int(T_max), eta_min
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if e == 0:
            return self._current_lrs()
        if (e - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """Scale the lr linearly from start_factor to end_factor over total_iters epochs (a warm-up).

    Schedule: lr(epoch) = base_lr * (start_factor + (end_factor - start_factor)
                                                    * min(epoch, total_iters) / total_iters)
    Chained:  lr = lr * start_factor                                             epoch 0
              lr = lr * (1 + (end_factor - start_factor)
                             / (total_iters * start_factor + (e - 1) * (end_factor - start_factor)))
                                                                                 0 < e <= total_iters
              lr unchanged                                                       later
    Example:  LinearLR(opt, start_factor=0.1, total_iters=5)   # 10% of the lr, reaching 100% at epoch 5
    """

    _settings = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5) -> None:
        check_number(start_factor, "LinearLR", "start_factor", 0, 1, low_open=True)
        check_number(end_factor, "LinearLR", "end_factor", 0, 1)
        check_positive_int(total_iters, "LinearLR", "total_iters")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, int(total_iters)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        e, start, end = self.last_epoch, self.start_factor, self.end_factor
        if e == 0:
            return [lr * start for lr in self._current_lrs()]
        if e > self.total_iters:
            return self._current_lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (e - 1) * (end - start))
        return [lr * factor for lr in self._current_lrs()]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has not improved for ``patience`` epochs.

    Each ``step(metric)``: the metric improves on ``best`` if it is below
        best * (1 - threshold)   (mode "min", threshold_mode "rel")    best - threshold   ("abs")
    (above best * (1 + threshold) or best + threshold in mode "max"). An improvement resets the count
    of bad epochs; after more than ``patience`` bad epochs every group's lr becomes
        lr = max(lr * factor, min_lr)   (skipped when that changes lr by no more than eps)
    and the next ``cooldown`` epochs count no bad epochs.
    Example:
        sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=5)
        for epoch in range(100): train(...); sched.step(validation_loss)
    """

    _settings = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps",
                 "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0.0, eps: float = 1e-8) -> None:
        who = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        check_choice(mode, who, "mode", ("min", "max"))
        check_choice(threshold_mode, who, "threshold_mode", ("rel", "abs"))
        check_number(factor, who, "factor", 0, 1, high_open=True)
        check_nonnegative_int(patience, who, "patience")
        check_number(threshold, who, "threshold", 0)
        check_nonnegative_int(cooldown, who, "cooldown")
        check_number(eps, who, "eps", 0)
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"{who}: expected min_lr a number or {n} numbers (one per group), "
                             f"got {min_lr!r}")
        for i, value in enumerate(min_lrs):
            check_number(value, who, f"min_lr[{i}]", 0)
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, int(patience)
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, int(cooldown)
        self.min_lrs, self.eps = min_lrs, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self.base_lrs = self._current_lrs()
        self._last_lr = self._current_lrs()

    def step(self, metric: float) -> None:  # type: ignore[override]
        """Record this epoch's metric (e.g. the validation loss) and reduce the lr on a plateau."""
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new_lr = max(float(group["lr"]) * self.factor, min_lr)
                if float(group["lr"]) - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _is_better(self, current: float) -> bool:
        relative = self.threshold_mode == "rel"
        if self.mode == "min":
            return current < (self.best * (1.0 - self.threshold) if relative else self.best - self.threshold)
        return current > (self.best * (1.0 + self.threshold) if relative else self.best + self.threshold)


# PyTorch habits (issue 15): LambdaLR, OneCycleLR, CosineAnnealingWarmRestarts, SequentialLR (their own file)
from minitorch.lr_schedulers_more import (  # noqa: E402
    CosineAnnealingWarmRestarts,
    LambdaLR,
    OneCycleLR,
    SequentialLR,
)

__all__ += ["CosineAnnealingWarmRestarts", "LambdaLR", "OneCycleLR", "SequentialLR"]
