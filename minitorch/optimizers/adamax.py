"""Adamax: Adam with the infinity norm of past gradients in place of their second moment.

As torch.optim.Adamax.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import (
    Optimizer,
    Params,
    check_betas,
    check_setting,
    implementation_settings,
)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7), PyTorch's form: eps inside the maximum, L2 decay in the gradient.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay and
    t = p's own step count (1 on its first update):
        1. g = -p.grad if maximize else p.grad      (maximize ascends: everything below sees -grad)
        2. g = g + wd * p                           if wd != 0  (L2 penalty)
        3. m = beta1 * m + (1 - beta1) * g          first moment, from m = 0 (as torch: m.lerp_(g, 1 - beta1))
        4. u = maximum(beta2 * u, abs(g) + eps)     exponentially weighted infinity norm, from u = 0
        5. clr = lr / (1 - beta1**t)                only m is bias-corrected (u has no bias towards 0)
        6. p = p - clr * (m / u)                    in place
    State:    step (t), exp_avg (m), exp_inf (u)
    Defaults: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False (keyword-only)
              (torch's); keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``)
    Example:
        opt = Adamax(model.parameters(), lr=2e-3)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "exp_avg", "exp_inf")
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False}  # (torch's Adamax.__setstate__)

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_betas(group, "Adamax")
        check_setting(group, "eps", "Adamax", 0)
        check_setting(group, "weight_decay", "Adamax", 0)
        check_bool(group["maximize"], "Adamax", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            beta1, beta2 = (float(beta) for beta in group["betas"])
            adamax(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                   [s["exp_inf"] for s in states], [s["step"] for s in states], beta1=beta1, beta2=beta2,
                   lr=float(group["lr"]), weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
                   maximize=bool(group["maximize"]))


def adamax(params: list[Parameter], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
           exp_infs: list[np.ndarray], state_steps: list[int], *, beta1: float, beta2: float, lr: float,
           weight_decay: float, eps: float, maximize: bool = False) -> None:
    """Adamax's update, one Parameter at a time (torch.optim's functional form).

    ``state_steps`` holds each Parameter's step t of this update (already counted); m and u are
    updated in place. Lines are numbered as in ``Adamax``'s docstring.
    """
    for p, g, m, u, t in zip(params, grads, exp_avgs, exp_infs, state_steps, strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:
            g = g + weight_decay * p.data                                           # 2.
        m += (1 - beta1) * (g - m)                                                  # 3.
        u *= beta2                                                                  # 4.
        np.maximum(u, np.abs(g) + eps, out=u)
        clr = lr / (1 - beta1**t)                                                   # 5.
        p.data -= clr * (m / u)                                                     # 6.
