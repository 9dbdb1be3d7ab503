"""Adadelta: steps scaled by the ratio of the running RMS of past updates and of gradients.

As torch.optim.Adadelta.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_setting, implementation_settings


class Adadelta(Optimizer):
    """Adadelta (Zeiler), PyTorch's form: eps inside both square roots, then a step of lr times delta.

    For each Parameter p with a gradient, with lr, rho, eps and wd = weight_decay:
        1. g = -p.grad if maximize else p.grad          (maximize ascends: everything below sees -grad)
        2. g = g + wd * p                               if wd != 0  (L2 penalty)
        3. v = rho * v + (1 - rho) * g * g              running mean of g**2, from v = 0
        4. delta = sqrt(u + eps) / sqrt(v + eps) * g    u: running mean of delta**2, from u = 0
        5. u = rho * u + (1 - rho) * delta * delta
        6. p = p - lr * delta                           in place
    The ratio of the two RMS gives delta the units of p (Zeiler's point); lr (1.0 by default)
    scales it.
    State:    step, square_avg (v), acc_delta (u)
    Defaults: lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False (keyword-only)
              (torch's); keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``)
    Example:
        opt = Adadelta(model.parameters())
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "square_avg", "acc_delta")
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False}  # (torch's Adadelta.__setstate__)

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_setting(group, "rho", "Adadelta", 0, 1)  # (torch's 0 <= rho <= 1)
        check_setting(group, "eps", "Adadelta", 0)
        check_setting(group, "weight_decay", "Adadelta", 0)
        check_bool(group["maximize"], "Adadelta", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            adadelta(params, [p.grad for p in params], [s["square_avg"] for s in states],
                     [s["acc_delta"] for s in states], lr=float(group["lr"]), rho=float(group["rho"]),
                     eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                     maximize=bool(group["maximize"]))


def adadelta(params: list[Parameter], grads: list[np.ndarray], square_avgs: list[np.ndarray],
             acc_deltas: list[np.ndarray], *, lr: float, rho: float, eps: float, weight_decay: float,
             maximize: bool = False) -> None:
    """Adadelta's update, one Parameter at a time (torch.optim's functional form).

    v and u are updated in place. Lines are numbered as in ``Adadelta``'s docstring.
    """
    for p, g, v, u in zip(params, grads, square_avgs, acc_deltas, strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:
            g = g + weight_decay * p.data                                           # 2.
        v *= rho                                                                    # 3.
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g                             # 4.
        u *= rho                                                                    # 5.
        u += (1 - rho) * delta * delta
        p.data -= lr * delta                                                        # 6.
