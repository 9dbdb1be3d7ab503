"""Schedules a careful PyTorch user reaches for: ConstantLR, PolynomialLR, MultiplicativeLR,
CyclicLR and ChainedScheduler.

Re-exported by ``minitorch.lr_scheduler``. Each gives torch.optim.lr_scheduler's ``get_last_lr()``
sequence, chained (recursive) where torch's is, so the lrs equal torch's to the last bit
(tests/test_lr_schedulers_extra.py). CyclicLR is stepped after every batch; the others after every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from minitorch.checks import check_bool, check_choice, check_int, check_sequence
from minitorch.lr_schedulers_core import (
    Checks,
    LRScheduler,
    ReduceLROnPlateau,
    _copy,
    _lrs,
    checked_lambdas,
    set_lr,
)
from minitorch.optimizers import Optimizer
from minitorch.optimizers.optimizer import check_lr, check_value

__all__ = ["ChainedScheduler", "ConstantLR", "CyclicLR", "MultiplicativeLR", "PolynomialLR"]


def _number(value: Any, who: str, name: str) -> float:
    """Any finite number (torch does not bound it), by the optimizers' rule (``check_value``)."""
    return check_value(value, who, name)


MODES = ("triangular", "triangular2", "exp_range")


def _mode(value: Any, who: str, name: str) -> str:
    """CyclicLR's mode: a name (one of MODES unless a scale_fn replaces it: then torch ignores it)."""
    if not isinstance(value, str):
        raise TypeError(f"{who}: {name} must be a str (one of {MODES}), got {value!r}")
    return value


def _scale_mode_of(mode: str) -> str:
    """What the mode's scale_fn reads: the iteration for exp_range, the cycle for the others."""
    return "iterations" if mode == "exp_range" else "cycle"


class ConstantLR(LRScheduler):
    """Scale the lr by ``factor`` for the first total_iters epochs, then give it back.

    Schedule: lr(epoch) = base_lr * factor     epoch < total_iters
                        = base_lr              epoch >= total_iters
    Chained:  lr = lr * factor                 epoch 0
              lr = lr * (1 / factor)           epoch == total_iters
              lr unchanged                     otherwise
    factor in (0, 1]: torch takes 0 too, and then fails dividing by it at total_iters.
    total_iters: any integer, as torch. With total_iters <= 0 the chained steps give torch's sequence:
    epoch 0 scales the lr by factor and no epoch equals total_iters after it, so lr = base_lr * factor
    for good; the Schedule line (torch's closed form, what a SequentialLR restart writes) gives base_lr.
    Example:  ConstantLR(opt, factor=0.5, total_iters=4)   # half the lr for epochs 0-3
    """

    _settings = ("factor", "total_iters")
    _checks: ClassVar[Checks] = {
        "factor": lambda v, who, name: check_value(v, who, name, 0, 1, low_open=True),
        "total_iters": check_int,  # (any integer, as torch: see above)
    }

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        self._set(factor=factor, total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr to 0 over total_iters epochs along (1 - epoch / total_iters) ** power.

    Schedule: lr(epoch) = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power
    Chained:  lr = lr * ((1 - e / total_iters) / (1 - (e - 1) / total_iters)) ** power   0 < e <= total_iters
              lr unchanged                                                             e = 0, e > total_iters
    power >= 0 (torch takes any number; a negative one divides by zero at total_iters).
    total_iters: any integer, as torch; with total_iters <= 0 the lr stays base_lr (as torch's steps),
    and its Schedule line gives 0 for a negative one and has no value for 0 (0 / 0): a SequentialLR
    cannot restart that one at a milestone (torch divides by zero there).
    Example:  PolynomialLR(opt, total_iters=50, power=0.9)
    """

    _settings = ("total_iters", "power")
    _checks: ClassVar[Checks] = {"total_iters": check_int,
                                 "power": lambda v, who, name: check_value(v, who, name, 0)}

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self._set(total_iters=total_iters, power=power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay_factor for lr in self._current_lrs()]

    def closed_form_lrs(self) -> list[float]:
        """The Schedule line at ``last_epoch``, from base_lrs (torch's ``_get_closed_form_lr``)."""
        if self.total_iters == 0:
            raise ValueError("PolynomialLR(total_iters=0) has no closed form (0 / 0), so a SequentialLR "
                             "cannot restart it at its milestone (torch divides by zero there); give it "
                             "total_iters >= 1, or let the scheduler before it run on")
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class MultiplicativeLR(LRScheduler):
    """Multiply the lr every epoch by a function of the epoch you give.

    Schedule: lr(epoch) = base_lr * lr_lambda(1) * lr_lambda(2) * ... * lr_lambda(epoch)   (no closed form)
    Chained:  lr = lr * lr_lambda(epoch)     every step after the first (creation sets lr = base_lr)
              (one function, or one per param group)
    Example:  MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.95)
    The functions are not saved by ``state_dict()`` (no code goes into a file); pass them again.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.lr_lambdas = checked_lambdas(optimizer, lr_lambda, "MultiplicativeLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current_lrs(), strict=True)]


class CyclicLR(LRScheduler):
    """Cyclical learning rate (Smith): the lr goes between base_lr and max_lr and back; step per batch.

    With e = last_epoch (batches so far), total_size = step_size_up + step_size_down and
    step_ratio = step_size_up / total_size:
        cycle = floor(1 + e / total_size)
        x = 1 + e / total_size - cycle                          position in the cycle, [0, 1)
        scale_factor = x / step_ratio                if x <= step_ratio      rising
                     = (x - 1) / (step_ratio - 1)    otherwise               falling
        lr = base_lr + (max_lr - base_lr) * scale_factor * scale_fn(cycle if scale_mode == "cycle" else e)
    scale_fn: "triangular" 1;  "triangular2" 1 / 2.0**(cycle - 1) (the amplitude halves each cycle);
    "exp_range" gamma**e (scale_mode "iterations"); or your function (then mode is not read: any
    name is kept, as torch; scale_mode says what it is given).
    cycle_momentum (True by default) moves the momentum the opposite way, in every group:
        momentum = max_momentum - (max_momentum - base_momentum) * scale_factor * scale_fn(...)
    written as the optimizer's beta1 if it has betas (Adam, Adamax...), else its momentum (SGD,
    RMSprop), as torch (which needs one of them); creation sets it to max_momentum and each group's
    lr to base_lr. (Deviation: torch also writes base_momentum and max_momentum into the groups;
    here they stay in the scheduler, so the optimizer's state_dict keeps its own settings.)
    As in torch, the step taken at creation reads the groups' initial_lr as base_lrs (base_lr, unless
    another scheduler recorded one before).
    state_dict() saves everything but a scale_fn of yours: pass it again.
    Example:
        sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2000)
        for xb, yb in loader: ...; opt.step(); sched.step()
    """

    _settings = ("max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode", "cycle_momentum",
                 "base_momentums", "max_momentums")
    _checks: ClassVar[Checks] = {
        "max_lrs": _lrs, "base_momentums": _lrs, "max_momentums": _lrs,
        "total_size": lambda v, who, name: check_value(v, who, name, 0, low_open=True),
        "step_ratio": lambda v, who, name: check_value(v, who, name, 0, 1, low_open=True),
        "mode": _mode,
        "gamma": _number,
        "scale_mode": lambda v, who, name: check_choice(v, who, name, ("cycle", "iterations")),
        "cycle_momentum": check_bool,
    }

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: float = 2000, step_size_down: float | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.8, max_momentum: float | list[float] = 0.9,
                 last_epoch: int = -1) -> None:
        who = "CyclicLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{who}: scale_fn must be a function of the cycle or iteration, got {scale_fn!r}")
        up = check_value(step_size_up, who, "step_size_up", 0, low_open=True)
        down = up if step_size_down is None else check_value(step_size_down, who, "step_size_down", 0)
        self._scale_fn_custom = scale_fn
        if scale_fn is None:  # (torch reads mode only then, and sets scale_mode by it)
            mode = check_choice(mode, who, "mode", MODES)
            scale_mode = _scale_mode_of(mode)
        self._set(total_size=up + down, step_ratio=up / (up + down), mode=mode, gamma=gamma,
                  scale_mode=scale_mode, cycle_momentum=cycle_momentum)
        base_lrs = _per_group(optimizer, base_lr, "base_lr")
        self.max_lrs = _per_group(optimizer, max_lr, "max_lr")
        self.base_momentums = _per_group(optimizer, base_momentum, "base_momentum")
        self.max_momentums = _per_group(optimizer, max_momentum, "max_momentum")
        if self.cycle_momentum:
            _check_has_momentum(optimizer, who)
        if check_int(last_epoch, who, "last_epoch", -1) == -1:  # (a resumed run keeps the groups' values)
            for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                set_lr(group, lr, who)
            if self.cycle_momentum:
                for group, momentum in zip(optimizer.param_groups, self.max_momentums, strict=True):
                    _set_momentum(group, momentum)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) x: yours, or the mode's."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        e = self.last_epoch
        cycle = math.floor(1 + e / self.total_size)
        x = 1.0 + e / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else e)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums,
                                        strict=True):
                _set_momentum(group, high - (high - low) * scale_factor * scale)
        return lrs

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output (checked first: on error nothing changes); cycling the
        momentum needs an optimizer with momentum or betas, and the lists one entry per param group.
        Without a scale_fn of yours the mode must be one of MODES, and sets scale_mode (torch's
        ``_init_scale_fn`` after a load); with one, the saved mode and scale_mode are kept."""
        who = "CyclicLR.load_state_dict"
        if isinstance(state_dict, dict):
            if state_dict.get("cycle_momentum") is True:
                _check_has_momentum(self.optimizer, who)
            mode = state_dict.get("mode")
            if self._scale_fn_custom is None and isinstance(mode, str) and mode not in MODES:
                raise ValueError(f"{who}: mode {mode!r} is not one of {MODES}; it was saved by a CyclicLR "
                                 "with a scale_fn of its own: create this one with that scale_fn")
        super().load_state_dict(state_dict)
        if self._scale_fn_custom is None:
            self.scale_mode = _scale_mode_of(self.mode)


def _per_group(optimizer: Optimizer, value: Any, name: str) -> list[float]:
    """One lr (or momentum) per param group: a list of them, or one for all (torch's _format_param)."""
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"CyclicLR: expected {name} a number or {n} numbers (one per group), got {value!r}")
    return [check_lr(v, "CyclicLR", f"{name}[{i}]") for i, v in enumerate(values)]


def _check_has_momentum(optimizer: Optimizer, who: str) -> None:
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{who}: cycle_momentum needs an optimizer with momentum or betas (SGD, RMSprop, "
                         f"Adam...), got {type(optimizer).__name__}; pass cycle_momentum=False")


def _set_momentum(group: dict[str, Any], value: float) -> None:
    """Adam-like optimizers cycle beta1, the others their momentum (torch's use_beta1)."""
    if "betas" in group:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimizer together: their factors multiply (chained schedules).

    Each ``step()`` calls every scheduler's ``step()`` in order, so chained schedules (ConstantLR,
    ExponentialLR, MultiplicativeLR...) compose: with ConstantLR(factor=0.1, total_iters=20) and
    ExponentialLR(gamma=0.9), lr(epoch) = base_lr * 0.9**epoch * (0.1 if epoch < 20 else 1).
    Creating it steps nothing (each scheduler took its first step when it was created).
    ``state_dict()`` holds the last lrs and every scheduler's state.
    Example:
        sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=20), ExponentialLR(opt, gamma=0.9)])
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        who = "ChainedScheduler"
        schedulers = check_sequence(schedulers, who, "schedulers")
        if not schedulers:
            raise ValueError(f"{who}: expected at least one scheduler, got none")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        for i, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau):
                raise ValueError(f"{who}: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric; "
                                 "it cannot be chained")
            if not isinstance(sched, LRScheduler) or sched.optimizer is not optimizer:
                raise ValueError(f"{who}: schedulers[{i}] must be a scheduler of the same optimizer, "
                                 f"got {type(sched).__name__}")
        self.optimizer, self._schedulers = optimizer, schedulers
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        for sched in self._schedulers:
            sched.step()
        self._last_lr = self._current_lrs()

    def state_dict(self) -> dict[str, Any]:
        return {"_last_lr": _copy(self._last_lr), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output: its own lrs and each scheduler's state, all checked first
        (a scheduler that refuses its state puts back the ones loaded before it): on error nothing changes."""
        who = "ChainedScheduler.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"_last_lr", "_schedulers"}:
            raise ValueError(f"{who}: expected keys ['_last_lr', '_schedulers']")
        states = check_sequence(state_dict["_schedulers"], who, "_schedulers")
        if len(states) != len(self._schedulers):
            raise ValueError(f"{who}: expected {len(self._schedulers)} schedulers' states, got {len(states)}")
        last_lr = _lrs(state_dict["_last_lr"], who, "_last_lr")
        if len(last_lr) != len(self.optimizer.param_groups):
            raise ValueError(f"{who}: expected _last_lr for {len(self.optimizer.param_groups)} parameter "
                             f"groups, got {len(last_lr)}")
        before = [sched.state_dict() for sched in self._schedulers]
        try:
            for sched, state in zip(self._schedulers, states, strict=True):
                sched.load_state_dict(state)
        except BaseException:
            for sched, state in zip(self._schedulers, before, strict=True):
                sched.load_state_dict(state)  # its own state: accepted
            raise
        self._last_lr = last_lr

    def __repr__(self) -> str:
        return f"ChainedScheduler({', '.join(type(s).__name__ for s in self._schedulers)})"
