"""More learning-rate schedules (issue 15): LambdaLR, OneCycleLR, CosineAnnealingWarmRestarts, SequentialLR.

Re-exported by ``minitorch.lr_scheduler``: use them as ``mt.lr_scheduler.OneCycleLR``. Each gives
torch.optim.lr_scheduler's ``get_last_lr()`` sequence (tests/test_lr_schedulers_habits.py compares them
bitwise). OneCycleLR is stepped after every batch; the others after every epoch.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from minitorch.checks import (
    check_bool,
    check_choice,
    check_int,
    check_nonnegative_int,
    check_number,
    check_positive_int,
    check_sequence,
)
from minitorch.lr_schedulers_core import (
    Checks,
    LinearLR,
    LRScheduler,
    ReduceLROnPlateau,
    _at_least_0,
    _copy,
    _copy_lr,
    _lrs,
    checked_lambdas,
    set_lr,
)
from minitorch.lr_schedulers_extra import ChainedScheduler, PolynomialLR
from minitorch.optimizers import Optimizer
from minitorch.optimizers.optimizer import check_lr, check_value

__all__ = ["CosineAnnealingWarmRestarts", "LambdaLR", "OneCycleLR", "SequentialLR"]


class LambdaLR(LRScheduler):
    """The lr is base_lr times a function of the epoch you give.

    Schedule: lr(epoch) = base_lr * lr_lambda(epoch)     (one function, or one per param group)
    Example:  LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
              LambdaLR(opt, lr_lambda=lambda epoch: min(1.0, (epoch + 1) / 10))   # a 10-epoch warm-up
    The functions are not saved by ``state_dict()`` (no code goes into a file); pass them again.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.lr_lambdas = checked_lambdas(optimizer, lr_lambda, "LambdaLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch)
                for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from base_lr to eta_min, restarted every T_i epochs (SGDR), T_i = T_0 * T_mult**i.

    Schedule: lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
              T_cur = epochs since the last restart; at T_cur = T_i it restarts: T_cur = 0, T_i *= T_mult
    step(epoch) also takes a fractional epoch (e.g. epoch + batch / batches_per_epoch), as torch.
    Example:  CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)   # restarts after 10, 30, 70 epochs
    """

    _settings = ("T_0", "T_i", "T_mult", "eta_min", "T_cur")
    _checks: ClassVar[Checks] = {"T_0": check_positive_int, "T_i": check_positive_int,
                                 "T_mult": check_positive_int, "eta_min": _at_least_0, "T_cur": _at_least_0}

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        who = "CosineAnnealingWarmRestarts"
        self.T_0 = self.T_i = check_positive_int(T_0, who, "T_0")
        self.T_mult = check_positive_int(T_mult, who, "T_mult")
        self.eta_min = check_value(eta_min, who, "eta_min", 0)
        self.T_cur: float = check_int(last_epoch, who, "last_epoch", -1)  # (torch's T_cur = last_epoch)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to ``epoch`` (may be fractional), and set every group's lr."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        else:
            check_number(epoch, "CosineAnnealingWarmRestarts.step", "epoch", 0)
            self.T_cur, self.T_i = self._position(epoch)
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self._next_lrs(), strict=True):
            set_lr(group, lr)
        self._last_lr = self._current_lrs()

    def _position(self, epoch: float) -> tuple[float, int]:
        """(T_cur, T_i) at ``epoch``: which cycle it falls in (cycle lengths T_0, T_0*T_mult, ...)."""
        if epoch < self.T_0:
            return epoch, self.T_0
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_0
        n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
        return epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1), self.T_0 * self.T_mult**n


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): lr warms up to max_lr, then anneals far below the start; step per batch.

    Phases over total_steps = total_steps or epochs * steps_per_epoch scheduler steps (s = step count):
        initial_lr = max_lr / div_factor;  min_lr = initial_lr / final_div_factor
        two phases:   s in [0, pct_start*total - 1]:        initial_lr -> max_lr
                      s up to total - 1:                    max_lr     -> min_lr
        three_phase:  up, then back down to initial_lr by 2*pct_start*total - 2, then -> min_lr
        within a phase, pct = (s - phase start) / (phase end - phase start) and
        anneal(start, end, pct) = end + (start - end) / 2 * (1 + cos(pi * pct))    "cos"
                                = (end - start) * pct + start                     "linear"
    Momentum (cycle_momentum, SGD's momentum or Adam's beta1) moves the opposite way, between
    max_momentum and base_momentum. Stepping past total_steps raises, as torch.
    state_dict() saves the settings (total_steps, pct_start, anneal_strategy, cycle_momentum, three_phase,
    the lr and momentum bounds), so a loaded state goes on with the saved schedule, as torch's.
    Deviation: torch also writes max_lr, min_lr, max_momentum, base_momentum into the param groups;
    here they stay in the scheduler (only lr, initial_lr and the momentum go into the groups), so the
    optimizer's state_dict keeps its own settings; resuming with last_epoch=k therefore reads the
    bounds from the arguments (torch from the groups): pass the run's own.
    Example:
        sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
        for epoch in range(10):
            for xb, yb in loader: ...; opt.step(); sched.step()
    """

    _settings = ("total_steps", "pct_start", "anneal_strategy", "cycle_momentum", "three_phase", "max_lrs",
                 "min_lrs", "max_momentums", "base_momentums")
    _checks: ClassVar[Checks] = {
        "total_steps": check_positive_int, "pct_start": lambda v, who, name: check_value(v, who, name, 0, 1),
        "anneal_strategy": lambda v, who, name: check_choice(v, who, name, ("cos", "linear")),
        "cycle_momentum": check_bool, "three_phase": check_bool,
        "max_lrs": _lrs, "min_lrs": _lrs, "max_momentums": _lrs, "base_momentums": _lrs,
    }

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        who = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = check_positive_int(total_steps, who, "total_steps")
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_positive_int(epochs, who, "epochs")
                                * check_positive_int(steps_per_epoch, who, "steps_per_epoch"))
        else:
            raise ValueError(f"{who}: give total_steps, or epochs and steps_per_epoch")
        self.pct_start = check_value(pct_start, who, "pct_start", 0, 1)
        self.anneal_strategy = check_choice(anneal_strategy, who, "anneal_strategy", ("cos", "linear"))
        self.cycle_momentum = check_bool(cycle_momentum, who, "cycle_momentum")
        div_factor = check_value(div_factor, who, "div_factor", 0, low_open=True)
        final_div_factor = check_value(final_div_factor, who, "final_div_factor", 0, low_open=True)
        self.three_phase = check_bool(three_phase, who, "three_phase")
        start = check_int(last_epoch, who, "last_epoch", -1) == -1  # (a resumed run keeps the groups')
        self.max_lrs = _per_group(optimizer, max_lr, "max_lr")
        if start:
            for group, top in zip(optimizer.param_groups, self.max_lrs, strict=True):
                group["initial_lr"] = top / div_factor
        self.min_lrs = [top / div_factor / final_div_factor for top in self.max_lrs]
        self.max_momentums = _per_group(optimizer, max_momentum, "max_momentum")
        self.base_momentums = _per_group(optimizer, base_momentum, "base_momentum")
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{who}: cycle_momentum needs an optimizer with momentum or betas "
                                 f"(SGD, RMSprop, Adam...), got {type(optimizer).__name__}; "
                                 "pass cycle_momentum=False")
        if self.cycle_momentum and start:
            for group, m in zip(optimizer.param_groups, self.max_momentums, strict=True):
                self._set_momentum(group, m)
        super().__init__(optimizer, last_epoch)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output (checked first: on error nothing changes); cycling the
        momentum needs an optimizer with momentum or betas, as at construction."""
        if (isinstance(state_dict, dict) and state_dict.get("cycle_momentum") is True
                and "momentum" not in self.optimizer.defaults and "betas" not in self.optimizer.defaults):
            raise ValueError(f"OneCycleLR.load_state_dict: cycle_momentum needs an optimizer with momentum "
                             f"or betas (SGD, RMSprop, Adam...), got {type(self.optimizer).__name__}")
        super().load_state_dict(state_dict)

    @property
    def _phases(self) -> list[tuple[float, str, str, str, str]]:
        """(end_step, start_lr, end_lr, start_momentum, end_momentum) per phase, as torch builds them
        (from the settings, so a loaded state_dict's total_steps and pct_start give its phases)."""
        total, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return [(float(pct * total) - 1, "initial", "max", "max", "base"),
                    (float(2 * pct * total) - 2, "max", "initial", "base", "max"),
                    (total - 1, "initial", "min", "max", "max")]
        return [(float(pct * total) - 1, "initial", "max", "max", "base"),
                (total - 1, "max", "min", "base", "max")]

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        """Adam-like optimizers cycle beta1, the others their momentum."""
        if "betas" in group:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        s = self.last_epoch
        if s > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {s} times, but total_steps is {self.total_steps} "
                             "(one step per batch: total_steps = epochs * steps_per_epoch)")
        lrs = []
        for i, group in enumerate(self.optimizer.param_groups):
            values = {"initial": group["initial_lr"], "max": self.max_lrs[i], "min": self.min_lrs[i]}
            momenta = {"max": self.max_momentums[i], "base": self.base_momentums[i]}
            start = 0.0
            for k, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if s <= end or k == len(self._phases) - 1:
                    pct = (s - start) / (end - start)
                    lrs.append(self._anneal(values[lr0], values[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(momenta[m0], momenta[m1], pct))
                    break
                start = end
        return lrs


def _per_group(optimizer: Optimizer, value: float | Sequence[float], name: str) -> list[float]:
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"OneCycleLR: expected {name} a number or {n} numbers (one per group), "
                         f"got {value!r}")
    return [check_lr(v, "OneCycleLR", name) for v in values]  # floats (a 0-d array is read)


class SequentialLR(LRScheduler):
    """Run schedulers one after another: schedulers[i] from epoch milestones[i-1] on (a warm-up, then decay).

    At creation every group's lr goes back to its initial_lr, the step each scheduler took when it was
    created is undone, and schedulers[0] takes the first step. Each ``step()`` steps the scheduler
    whose turn it is; at a milestone the new scheduler restarts at its own epoch 0 from base_lr (its
    closed form, as torch's ``_update_lr(0)``). A nested SequentialLR runs as torch's only as the first
    scheduler with no milestones of its own; otherwise it is refused (torch's runs an epoch ahead of
    the same schedulers listed flat, or fails at the milestone).
    Example:
        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, schedulers=[warmup, decay], milestones=[5])
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        who = "SequentialLR"
        last_epoch = check_int(last_epoch, who, "last_epoch", -1)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError(f"{who}: expected at least one scheduler, got none")
        for i, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau):
                raise ValueError(f"{who}: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric; "
                                 "it cannot run in a sequence")
            if isinstance(sched, ChainedScheduler) and i > 0:  # (torch's restart of one fails: no get_lr)
                raise ValueError(f"{who}: schedulers[{i}] is a ChainedScheduler, which cannot restart at "
                                 "its milestone (torch's fails there too); only the first scheduler may be "
                                 "one, or chain the SequentialLR with the others instead")
            if _runs_a_sequence(sched, i):  # torch's recursive undo skips a nested SequentialLR's counter
                raise ValueError(f"{who}: schedulers[{i}] is or chains a SequentialLR of several schedulers "
                                 "or comes after a milestone: torch's nested one runs an epoch ahead of the "
                                 "same schedulers listed flat, leaves its later ones at last_epoch -2, and "
                                 "cannot restart at a milestone; list its schedulers and milestones in this "
                                 "SequentialLR instead")
            if isinstance(sched, (PolynomialLR, LinearLR)) and sched.total_iters == 0 and i > 0:
                raise ValueError(f"{who}: schedulers[{i}] is a {type(sched).__name__}(total_iters=0), whose "
                                 "closed form (0 / 0) cannot restart it at its milestone (torch divides by "
                                 "zero there); give it total_iters >= 1")
            if not isinstance(sched, LRScheduler) or sched.optimizer is not optimizer:
                raise ValueError(f"{who}: schedulers[{i}] must be a scheduler of the same optimizer, "
                                 f"got {type(sched).__name__}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{who}: expected {len(schedulers) - 1} milestones for {len(schedulers)} "
                             f"schedulers, got {len(milestones)}")
        self.optimizer, self._schedulers, self._milestones = optimizer, schedulers, milestones
        self.base_lrs = [_copy_lr(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch + 1  # (torch's: the counter only; schedulers[0] still starts)
        for group in optimizer.param_groups:
            set_lr(group, group["initial_lr"])
        for sched in schedulers:
            _undo_creation_step(sched)
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            _restart(sched)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lrs": _copy(self.base_lrs),
                "_last_lr": _copy(self._last_lr), "_milestones": list(self._milestones),
                "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output: its own values and each scheduler's, all checked first
        (a scheduler that refuses its state puts back the ones loaded before it): on error nothing changes."""
        who = "SequentialLR.load_state_dict"
        expected = set(self.state_dict())
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            raise ValueError(f"{who}: expected keys {sorted(expected)}")
        states = check_sequence(state_dict["_schedulers"], who, "_schedulers")
        if len(states) != len(self._schedulers):
            raise ValueError(f"{who}: expected {len(self._schedulers)} schedulers' states, got {len(states)}")
        n = len(self.optimizer.param_groups)
        last_epoch = check_nonnegative_int(state_dict["last_epoch"], who, "last_epoch")
        base_lrs = _lrs(state_dict["base_lrs"], who, "base_lrs")
        last_lr = _lrs(state_dict["_last_lr"], who, "_last_lr")
        milestones = [check_nonnegative_int(m, who, f"_milestones[{i}]")
                      for i, m in enumerate(check_sequence(state_dict["_milestones"], who, "_milestones"))]
        if len(base_lrs) != n or len(last_lr) != n or len(milestones) != len(self._schedulers) - 1:
            raise ValueError(f"{who}: expected base_lrs and _last_lr for {n} parameter groups and "
                             f"{len(self._schedulers) - 1} milestones, got {len(base_lrs)}, {len(last_lr)} "
                             f"and {len(milestones)}")
        before = [sched.state_dict() for sched in self._schedulers]
        try:
            for sched, state in zip(self._schedulers, states, strict=True):
                sched.load_state_dict(state)
        except BaseException:
            for sched, state in zip(self._schedulers, before, strict=True):
                sched.load_state_dict(state)  # its own state: accepted
            raise
        self.last_epoch, self.base_lrs = last_epoch, base_lrs
        self._last_lr, self._milestones = last_lr, milestones


def _runs_a_sequence(sched: LRScheduler, i: int) -> bool:
    """Whether ``sched``, the i-th scheduler of a SequentialLR, is or chains a SequentialLR whose lrs
    would differ from its schedulers run flat: one with milestones, or any after the first (torch's
    restart of it at its milestone raises NotImplementedError)."""
    if isinstance(sched, SequentialLR):
        return i > 0 or len(sched._schedulers) > 1
    return isinstance(sched, ChainedScheduler) and any(_runs_a_sequence(s, i) for s in sched._schedulers)


def _undo_creation_step(sched: LRScheduler) -> None:
    """Undo the step a scheduler took when it was created: a ChainedScheduler's or a nested
    SequentialLR's, its schedulers' (torch's ``recursive_undo``: the nested SequentialLR's own counter
    stays, and its first scheduler is undone twice, then stepped through it)."""
    if isinstance(sched, (ChainedScheduler, SequentialLR)):
        for inner in sched._schedulers:
            _undo_creation_step(inner)
    else:
        sched.last_epoch -= 1


def _restart(sched: LRScheduler) -> None:
    """Put ``sched`` at its epoch 0 and write its lrs: torch's ``_update_lr(0)``, the closed form
    (``closed_form_lrs``) where the schedule has one, else ``get_lr()``."""
    sched.last_epoch = 0
    closed_form = getattr(sched, "closed_form_lrs", None)
    # LambdaLR, CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR... compute from base_lrs already;
    # MultiplicativeLR scales the current lr by lr_lambda(0), as torch's (it has no closed form)
    lrs = closed_form() if closed_form is not None else sched.get_lr()
    for group, lr in zip(sched.optimizer.param_groups, lrs, strict=True):
        set_lr(group, lr)
    sched._last_lr = sched._current_lrs()
