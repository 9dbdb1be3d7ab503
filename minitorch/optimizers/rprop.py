"""Rprop: per-coordinate step sizes grown or shrunk by the signs of successive gradients.

As torch.optim.Rprop.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_value, implementation_settings


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun), PyTorch's form (iRprop-: a sign change skips that coordinate's step).

    For each Parameter p with a gradient, with (eta_minus, eta_plus) = etas and
    (step_size_min, step_size_max) = step_sizes:
        1. g = -p.grad if maximize else p.grad           (maximize ascends: everything below sees -grad)
        2. s = sign(g * prev)                            prev: the last g kept, from prev = 0
                                                         (torch's sign: 0 for NaN, as at 6.)
        3. factor = eta_plus where s > 0, eta_minus where s < 0, 1 where s == 0
                                                         (in p's dtype, as torch writes them into sign)
        4. step_size = clip(step_size * factor, step_size_min, step_size_max)
                                                         from step_size = lr (the group's lr at p's first
                                                         update: as in torch, a later lr is not read)
        5. g = where(s < 0, 0, g)                        the sign flipped: no step, no comparison next time
        6. p = p - sign(g) * step_size                   in place
        7. prev = g
    Only the gradients' signs are read: no weight_decay, as torch.
    State:    step, prev, step_size
    Defaults: lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False (keyword-only) (torch's);
              keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``)
    Checks:   0 < eta_minus < 1 < eta_plus (torch's); 0 <= step_size_min <= step_size_max (torch
              does not check them: a minimum above the maximum would clip every step size to the maximum)
    Example:
        opt = Rprop(model.parameters(), lr=1e-2)   # full-batch training: Rprop ignores gradient size
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "prev", "step_size")
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False}  # (torch's Rprop.__setstate__)

    def __init__(self, params: Params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_pair(group, "etas", "(eta_minus, eta_plus)", [(0, 1, True, True), (1, math.inf, True, False)])
        _check_pair(group, "step_sizes", "(step_size_min, step_size_max)",
                    [(0, math.inf, False, False), (0, math.inf, False, False)])
        low, high = (float(v) for v in group["step_sizes"])
        if low > high:
            raise ValueError(f"Rprop: step_sizes (step_size_min, step_size_max) must have min <= max, "
                             f"got {group['step_sizes']!r}")
        check_bool(group["maximize"], "Rprop", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names

    def _fresh_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        # (torch's _init_group: full_like(grad, lr), the lr of this first update)
        return {"prev": np.zeros_like(p.data), "step_size": np.full_like(p.data, float(group["lr"]))}

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            eta_minus, eta_plus = (float(eta) for eta in group["etas"])
            step_size_min, step_size_max = (float(size) for size in group["step_sizes"])
            rprop(params, [p.grad for p in params], [s["prev"] for s in states],
                  [s["step_size"] for s in states], eta_minus=eta_minus, eta_plus=eta_plus,
                  step_size_min=step_size_min, step_size_max=step_size_max, maximize=bool(group["maximize"]))


def rprop(params: list[Parameter], grads: list[np.ndarray], prevs: list[np.ndarray],
          step_sizes: list[np.ndarray], *, eta_minus: float, eta_plus: float, step_size_min: float,
          step_size_max: float, maximize: bool = False) -> None:
    """Rprop's update, one Parameter at a time (torch.optim's functional form).

    prev and step_size are updated in place. Lines are numbered as in ``Rprop``'s docstring.
    """
    for p, g, prev, step_size in zip(params, grads, prevs, step_sizes, strict=True):
        g = -g if maximize else g                                                   # 1.
        with np.errstate(invalid="ignore"):  # inf * 0 = nan, as torch's product (its sign: 0)
            s = _sign(g * prev)                                                     # 2.
        factor = np.where(s > 0, eta_plus, np.where(s < 0, eta_minus, 1.0)).astype(step_size.dtype)  # 3.
        step_size *= factor                                                         # 4.
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        g = np.where(s < 0, 0, g).astype(g.dtype)                                   # 5.
        p.data -= _sign(g) * step_size                                              # 6.
        prev[...] = g                                                               # 7.


def _sign(a: np.ndarray) -> np.ndarray:
    """torch's sign, in a's dtype: 1, -1 or 0, and 0 for NaN (NumPy's np.sign gives NaN), so a NaN
    gradient element moves nothing and keeps its step size, as in torch."""
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


def _check_pair(group: dict[str, Any], name: str, meaning: str,
                bounds: list[tuple[float, float, bool, bool]]) -> None:
    """``group[name]``: a pair of numbers, each maybe a 0-d float64 array (``check_value``), each in its
    interval (low, high, low_open, high_open); the group keeps its own copies of arrays."""
    pair = group[name]
    if isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(f"Rprop: {name} must be a pair {meaning}, got {pair!r}")
    for i, (value, (low, high, low_open, high_open)) in enumerate(zip(pair, bounds, strict=True)):
        check_value(value, "Rprop", f"{name}[{i}]", low, high, low_open=low_open, high_open=high_open)
    group[name] = tuple(v.copy() if isinstance(v, np.ndarray) else v for v in pair)
