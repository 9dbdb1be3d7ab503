"""The first learning-rate schedules (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
ReduceLROnPlateau) and their base class. Public as ``minitorch.lr_scheduler``; see that module.
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from minitorch.checks import (
    check_choice,
    check_int,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    check_sequence,
)
from minitorch.optimizers import Optimizer
from minitorch.optimizers.optimizer import check_lr, check_value

Checks = dict[str, Callable[[Any, str, str], Any]]

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
    ``last_epoch`` (torch's argument) resumes a run: -1 (the default) starts one, recording each group's
    ``initial_lr``; k >= 0 needs the groups' ``initial_lr`` already there (a loaded optimizer state)
    and takes the creation step from epoch k, to k + 1, from the groups' current lrs, as torch.
    A group whose lr is a 0-d array (``lr=np.array(0.1)``, torch's tensor lr) keeps that array: each
    step writes the new lr into it (torch's ``fill_``), and ``base_lrs``, ``get_last_lr()`` and
    ``state_dict()`` hold copies of such arrays, never the group's own.
    """

    _settings: tuple[str, ...] = ()
    _is_initial = False  # True during the step taken at creation (``_initial_step``)
    # setting name -> check(value, who, name) returning the value to keep: the constructor and
    # load_state_dict run the same checks, so a file cannot load what the constructor refuses
    _checks: ClassVar[Checks] = {}

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        who = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        last_epoch = _epoch(last_epoch, who, "last_epoch")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", _copy_lr(group["lr"]))
            elif "initial_lr" not in group:  # (torch's KeyError)
                raise KeyError(f"{who}: param 'initial_lr' is not specified in param_groups[{i}] when "
                               f"resuming with last_epoch={last_epoch} >= 0: load the optimizer's state_dict "
                               "(saved with a scheduler) first, or create the scheduler with last_epoch=-1 "
                               "and load its state_dict")
            _lr(group["initial_lr"], who, f"param_groups[{i}]['initial_lr']")
        self.base_lrs: list[float] = [_copy_lr(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step a scheduler takes when it is created (or first in a SequentialLR): ``step()`` with
        ``_is_initial`` True, which MultiplicativeLR and PolynomialLR read (as torch's ``_initial_mode``)."""
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _set(self, **settings: Any) -> None:
        """Check each setting with ``_checks`` and keep what the check returns."""
        for name, value in settings.items():
            setattr(self, name, self._checks[name](value, type(self).__name__, name))

    def get_lr(self) -> list[float]:
        """The lrs for ``last_epoch`` (already advanced); ``step()`` calls it. Read ``get_last_lr()``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set every group's lr; call it after ``optimizer.step()``.

        ``step(epoch)`` is torch's deprecated form, with its UserWarning: last_epoch = epoch, and the
        lrs from the closed form (``closed_form_lrs``, the Schedule line) where the schedule has one,
        else from ``get_lr()`` (which then scales the current lrs as for the next epoch, as torch's)."""
        if epoch is None:
            self.last_epoch += 1
            lrs = self._next_lrs()
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self.last_epoch = _epoch(epoch, f"{type(self).__name__}.step", "epoch")
            closed_form = getattr(self, "closed_form_lrs", None)
            lrs = closed_form() if closed_form is not None else self._next_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            set_lr(group, lr, f"{type(self).__name__}.step")
        self._last_lr = self._current_lrs()

    def _next_lrs(self) -> list[float]:
        """``get_lr()``; a param group added to the optimizer after this scheduler was created is
        taken along by the chained schedules (as torch), and named in the error of the others."""
        added = len(self.optimizer.param_groups) - len(self.base_lrs)
        try:
            lrs = self.get_lr()
        except (ValueError, KeyError) as err:
            if not added:
                raise
            raise ValueError(_added_groups(self, added)) from err
        if len(lrs) != len(self.optimizer.param_groups):
            raise ValueError(_added_groups(self, added))
        return lrs

    def get_last_lr(self) -> list[float]:
        """The lr of each group as this scheduler last set it (a 0-d array lr: a copy of it)."""
        return [_copy_lr(lr) for lr in self._last_lr]

    def _current_lrs(self) -> list[float]:
        """Each group's lr now (a 0-d array lr: a copy, which the next step does not change)."""
        return [_copy_lr(group["lr"]) for group in self.optimizer.param_groups]

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
        who = f"{type(self).__name__}.load_state_dict"
        n = len(self.optimizer.param_groups)
        checks = {"last_epoch": _epoch, "base_lrs": _lrs, "_last_lr": _lrs, **self._checks}
        values = {name: checks[name](value, who, name) for name, value in state_dict.items()}
        for name in ("_last_lr", "base_lrs", *_PER_GROUP):
            if name in values and len(values[name]) != n:
                raise ValueError(f"{who}: expected {name} for {n} parameter groups, got {len(values[name])}")
        for name, value in values.items():
            setattr(self, name, _copy(value))

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._settings)
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


EPOCH_DEPRECATION_WARNING = (  # torch's words
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)

# settings holding one entry per param group (ReduceLROnPlateau's, CyclicLR's, OneCycleLR's):
# load_state_dict refuses a list of another length
_PER_GROUP = ("min_lrs", "max_lrs", "base_momentums", "max_momentums")


def _added_groups(sched: Any, added: int) -> str:
    name, n = type(sched).__name__, len(sched.optimizer.param_groups)
    return (f"{name}.step: the optimizer has {n} param groups, {added:+d} since this scheduler was "
            f"created, and {name} computes each lr from the base_lrs it recorded then (torch refuses it "
            "too); create the scheduler again after add_param_group, or use a chained one (StepLR, "
            "MultiStepLR, ExponentialLR, LinearLR)")


def _copy(value: Any) -> Any:
    return [_copy_lr(v) for v in value] if isinstance(value, (list, tuple)) else _copy_lr(value)


def _copy_lr(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def set_lr(group: dict[str, Any], lr: Any, who: str = "LRScheduler.step") -> None:
    """Set a group's lr; a 0-d array lr is updated in place, as torch fills a tensor lr. A NumPy
    float other than float64 (an lr_lambda returning np.float32) is refused by ``check_value``'s
    rule, as at construction: torch would keep it and step partly in float32."""
    if isinstance(lr, np.floating) and not isinstance(lr, float):
        check_value(lr, who, "lr")
    if isinstance(group["lr"], np.ndarray):
        group["lr"][...] = lr
    else:
        group["lr"] = lr


def _lr(value: Any, who: str, name: str) -> Any:
    """An lr as check_lr reads it: a float, or a copy of a 0-d array (torch's tensor lr) kept an array."""
    number = check_lr(value, who, name)
    return value.copy() if isinstance(value, np.ndarray) else number


def _lrs(value: Any, who: str, name: str) -> list[float]:
    return [_lr(v, who, f"{name}[{i}]") for i, v in enumerate(check_sequence(value, who, name))]


def _epoch(value: Any, who: str, name: str) -> int:
    """An epoch count: -1 is a scheduler that has not started (one of SequentialLR's, as torch's)."""
    return check_int(value, who, name, -1)


def _milestones(value: Any, who: str, name: str) -> list[int]:
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
        value = list(value)
    items = check_sequence(value, who, name)
    return sorted(check_nonnegative_int(m, who, f"{name}[{i}]") for i, m in enumerate(items))


def _at_least_0(value: Any, who: str, name: str) -> float:
    """A number setting >= 0 (gamma, eta_min, threshold...) by the optimizers' rule (``check_value``):
    a number or a 0-d float64 array, kept as its float."""
    return check_value(value, who, name, 0)


def _best(value: Any, who: str, name: str) -> float:
    best = check_real(value, who, name)
    if math.isnan(best):
        raise ValueError(f"{who}: {name} must be a number or +-inf, got nan")
    return best


class StepLR(LRScheduler):
    """Multiply the lr by gamma every ``step_size`` epochs.

    Schedule: lr(epoch) = base_lr * gamma ** (epoch // step_size)
    Chained:  lr = lr * gamma   when epoch > 0 and epoch % step_size == 0, else unchanged
    Example:  StepLR(opt, step_size=30, gamma=0.1)   # base_lr for epochs 0-29, 0.1 base_lr for 30-59...
    """

    _settings = ("step_size", "gamma")
    _checks: ClassVar[Checks] = {"step_size": check_positive_int, "gamma": _at_least_0}

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._set(step_size=step_size, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone epoch (by gamma**k for a milestone listed k times).

    Schedule: lr(epoch) = base_lr * gamma ** (number of milestones <= epoch)
    Chained:  lr = lr * gamma ** milestones.count(epoch)
    Example:  MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    _settings = ("milestones", "gamma")
    _checks: ClassVar[Checks] = {"milestones": _milestones, "gamma": _at_least_0}

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._set(milestones=milestones, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return self._current_lrs()
        return [lr * self.gamma**count for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        return [base_lr * self.gamma ** bisect_right(self.milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every epoch.

    Schedule: lr(epoch) = base_lr * gamma ** epoch
    Chained:  lr = lr * gamma   (every step but the one at creation)
    Example:  ExponentialLR(opt, gamma=0.95)
    """

    _settings = ("gamma",)
    _checks: ClassVar[Checks] = {"gamma": _at_least_0}

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self._set(gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # (torch's test: a step at epoch 0 inside a ChainedScheduler scales)
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from base_lr down to eta_min over T_max epochs (then back up, periodically).

    Schedule: lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
    Chained:  lr = eta_min + (lr - eta_min) * (1 + cos(pi * e / T_max)) / (1 + cos(pi * (e - 1) / T_max))
              except where the denominator is 0 (e - 1 = T_max, 3 T_max...), as torch:
              lr = lr + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2
    Example:  CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)   # no restarts (SGDR) here
    """

    _settings = ("T_max", "eta_min")
    _checks: ClassVar[Checks] = {"T_max": check_positive_int, "eta_min": _at_least_0}

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self._set(T_max=T_max, eta_min=eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:  # (torch's test, as ExponentialLR's)
            return self._current_lrs()
        if (e - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2 for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr linearly from start_factor to end_factor over total_iters epochs (a warm-up).

    Schedule: lr(epoch) = base_lr * (start_factor + (end_factor - start_factor)
                                                    * min(epoch, total_iters) / total_iters)
    Chained:  lr = lr * start_factor                                             epoch 0
              lr = lr * (1 + (end_factor - start_factor)
                             / (total_iters * start_factor + (e - 1) * (end_factor - start_factor)))
                                                                                 0 < e <= total_iters
              lr unchanged                                                       later
    total_iters: any integer, as torch. total_iters <= 0: the chained steps scale the lr by
    start_factor at epoch 0 and never again (torch's sequence); the Schedule line (torch's closed form,
    what step(epoch) and a SequentialLR restart write) gives base_lr * end_factor for a negative one
    and has no value for 0 (0 / 0: a ValueError, where torch divides by zero).
    Example:  LinearLR(opt, start_factor=0.1, total_iters=5)   # 10% of the lr, reaching 100% at epoch 5
    """

    _settings = ("start_factor", "end_factor", "total_iters")
    _checks: ClassVar[Checks] = {
        "start_factor": lambda v, who, name: check_value(v, who, name, 0, 1, low_open=True),
        "end_factor": lambda v, who, name: check_value(v, who, name, 0, 1),
        "total_iters": check_int,  # (any integer, as torch: see above)
    }

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        self._set(start_factor=start_factor, end_factor=end_factor, total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, start, end = self.last_epoch, self.start_factor, self.end_factor
        if e == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or e > self.total_iters:  # (torch's: a resumed creation step keeps the lr)
            return self._current_lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (e - 1) * (end - start))
        return [lr * factor for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        if self.total_iters == 0:
            raise ValueError("LinearLR(total_iters=0) has no closed form (0 / 0), so neither step(epoch) "
                             "nor a SequentialLR restart can set it (torch divides by zero there); give it "
                             "total_iters != 0, or let it run by step()")
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


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
    _checks: ClassVar[Checks] = {
        "mode": lambda v, who, name: check_choice(v, who, name, ("min", "max")),
        "threshold_mode": lambda v, who, name: check_choice(v, who, name, ("rel", "abs")),
        "factor": lambda v, who, name: check_value(v, who, name, 0, 1, high_open=True),
        "patience": check_nonnegative_int, "cooldown": check_nonnegative_int,
        "threshold": _at_least_0, "eps": _at_least_0, "min_lrs": _lrs, "best": _best,
        "num_bad_epochs": check_nonnegative_int, "cooldown_counter": check_nonnegative_int,
    }

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0.0, eps: float = 1e-8) -> None:
        who = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        n = len(optimizer.param_groups)
        # a number: a param group added later gets it too, as torch's default_min_lr
        self._default_min_lr = None if isinstance(min_lr, (list, tuple)) else _lr(min_lr, who, "min_lr")
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"{who}: expected min_lr a number or {n} numbers (one per group), "
                             f"got {min_lr!r}")
        min_lrs = [_lr(value, who, f"min_lr[{i}]") for i, value in enumerate(min_lrs)]
        self.optimizer = optimizer
        self._set(mode=mode, factor=factor, patience=patience, threshold=threshold,
                  threshold_mode=threshold_mode, cooldown=cooldown, eps=eps)
        self.min_lrs = min_lrs
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self.base_lrs = self._current_lrs()
        self._last_lr = self._current_lrs()

    def step(self, metric: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric (e.g. the validation loss) and reduce the lr on a plateau;
        ``epoch`` (torch's deprecated argument, with its UserWarning) sets last_epoch instead of
        counting one more."""
        current = check_real(metric, "ReduceLROnPlateau.step", "metric")
        if epoch is None:
            self.last_epoch += 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self.last_epoch = _epoch(epoch, "ReduceLROnPlateau.step", "epoch")
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            if len(self.min_lrs) != len(self.optimizer.param_groups):  # add_param_group since creation
                if self._default_min_lr is None:
                    raise ValueError(
                        f"ReduceLROnPlateau.step: the optimizer has {len(self.optimizer.param_groups)} param "
                        f"groups, min_lr lists {len(self.min_lrs)} (one per group when it was created); set "
                        "min_lrs to one per group after add_param_group (as torch asks)"
                    )
                self.min_lrs = [self._default_min_lr] * len(self.optimizer.param_groups)
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new_lr = max(float(group["lr"]) * self.factor, float(min_lr))  # never the array itself
                if float(group["lr"]) - new_lr > self.eps:
                    set_lr(group, new_lr)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _is_better(self, current: float) -> bool:
        relative = self.threshold_mode == "rel"
        if self.mode == "min":
            return current < (self.best * (1.0 - self.threshold) if relative else self.best - self.threshold)
        return current > (self.best * (1.0 + self.threshold) if relative else self.best + self.threshold)


def checked_lambdas(optimizer: Any, lr_lambda: Any, who: str) -> list[Callable[[int], float]]:
    """One function of the epoch per param group: ``lr_lambda`` itself for every group, or a list of
    one per group; anything else a ValueError/TypeError from ``who`` naming what came."""
    n = len(getattr(optimizer, "param_groups", []))
    lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(lambdas) != n:
        raise ValueError(f"{who}: expected one lr_lambda or {n} (one per param group), got {len(lambdas)}")
    for i, fn in enumerate(lambdas):
        if not callable(fn):
            raise TypeError(f"{who}: lr_lambda[{i}] must be a function of the epoch, got {fn!r}")
    return lambdas
