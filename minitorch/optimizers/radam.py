"""RAdam: Adam with its adaptive step switched on only once the variance estimate is trustworthy."""

from __future__ import annotations

import math
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


class RAdam(Optimizer):
    """RAdam (Liu et al.), PyTorch's form: SGD with momentum for the first steps, rectified Adam after.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay and
    t = p's own step count (1 on its first update):
        1. g = -p.grad if maximize else p.grad
        2. p = p * (1 - lr * wd)                       if wd != 0 and decoupled_weight_decay (RAdamW)
           g = g + wd * p                              if wd != 0 otherwise (L2 penalty)
        3. m = beta1 * m + (1 - beta1) * g             first moment, from m = 0
        4. v = beta2 * v + (1 - beta2) * g * g         second moment, from v = 0
        5. m_hat = m / (1 - beta1**t)
        6. rho_inf = 2 / (1 - beta2) - 1
           rho_t   = rho_inf - 2 * t * beta2**t / (1 - beta2**t)   length of the approximated SMA
        7. if rho_t > 5:
               rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
               p = p - lr * m_hat * sqrt(1 - beta2**t) / (sqrt(v) + eps) * rect     in place
           else:
               p = p - lr * m_hat                                                  in place
    State:    step (t), exp_avg (m), exp_avg_sq (v)
    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False, maximize=False (keyword-only) (torch's);
              keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``); with the
              default beta2 the first 5 steps are plain momentum steps (rho_t <= 5).
    Example:
        opt = RAdam(model.parameters(), lr=1e-3)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "exp_avg", "exp_avg_sq")
    # (torch's RAdam.__setstate__: the defaults it fills in a saved group lacking them)
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
                 *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_betas(group, "RAdam")
        check_setting(group, "eps", "RAdam", 0)
        check_setting(group, "weight_decay", "RAdam", 0)
        check_bool(group["decoupled_weight_decay"], "RAdam", "decoupled_weight_decay")
        check_bool(group["maximize"], "RAdam", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names

    def step(self) -> None:
        for group in self.param_groups:
            params = list(self._params_with_grad(group))  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            beta1, beta2 = (float(beta) for beta in group["betas"])
            radam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                  [s["exp_avg_sq"] for s in states], [s["step"] for s in states], beta1=beta1, beta2=beta2,
                  lr=float(group["lr"]), weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
                  decoupled_weight_decay=group["decoupled_weight_decay"], maximize=bool(group["maximize"]))


def radam(params: list[Parameter], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
          exp_avg_sqs: list[np.ndarray], state_steps: list[int], *, beta1: float, beta2: float, lr: float,
          weight_decay: float, eps: float, decoupled_weight_decay: bool = False,
          maximize: bool = False) -> None:
    """RAdam's update, one Parameter at a time (torch.optim's functional form).

    ``state_steps`` holds each Parameter's step t of this update (already counted); the moments are
    updated in place. Lines are numbered as in ``RAdam``'s docstring.
    """
    for p, g, m, v, t in zip(params, grads, exp_avgs, exp_avg_sqs, state_steps, strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:                                                       # 2.
            if decoupled_weight_decay:
                p.data *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p.data
        m += (1 - beta1) * (g - m)                                                  # 3.
        v *= beta2                                                                  # 4.
        v += (1 - beta2) * g * g
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)                                                  # 5.
        rho_inf = 2 / (1 - beta2) - 1                                               # 6.
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        if rho_t > 5.0:                                                             # 7.
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p.data -= m_hat * lr * (math.sqrt(bias_correction2) / (np.sqrt(v) + eps)) * rect
        else:
            p.data -= m_hat * lr
