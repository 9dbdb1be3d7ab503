"""Adam: per-coordinate steps from bias-corrected moment estimates (torch.optim.Adam)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.kernels import fast_or_plain
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import (
    Optimizer,
    Params,
    check_betas,
    check_betas_alike,
    check_setting,
    implementation_settings,
)


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's form, with L2 weight decay folded into the gradient.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay and
    t = p's own step count (1 on its first update):
        0. g = -p.grad if maximize else p.grad    (maximize ascends: everything below sees -grad)
        1. g = g + wd * p                         if wd != 0  (L2 penalty; AdamW decays p instead)
        2. m = beta1 * m + (1 - beta1) * g        first moment, from m = 0 (as torch: m.lerp_(g, 1 - beta1))
        3. v = beta2 * v + (1 - beta2) * g * g    second moment, from v = 0
        4. v_max = maximum(v_max, v); v = v_max   if amsgrad, from v_max = 0
        5. bias_correction1 = 1 - beta1**t        m and v start at 0, so E[m] = bias_correction1 * E[g]
           bias_correction2 = 1 - beta2**t                        and E[v] = bias_correction2 * E[g*g]
        6. denom = sqrt(v) / sqrt(bias_correction2) + eps
        7. step_size = lr / bias_correction1
           p = p - step_size * (m / denom)                         in place
    The update is the function ``adam`` below (torch.optim's functional form), one Parameter at a
    time; ``step`` gathers the Parameters with a gradient and their state and hands them to it.
    State:    step (t), exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (v_max, if amsgrad)
    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
              maximize=False (keyword-only) (torch's); keyword-only too, torch's implementation
              choices foreach=None, capturable=False, differentiable=False, fused=None (the same
              update: ``Optimizer``) and decoupled_weight_decay=False (True is AdamW's update:
              refused, naming mt.AdamW)
    Example:
        opt = Adam(model.parameters(), lr=1e-3)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    # (torch's Adam.__setstate__, which AdamW's calls: the defaults it fills in a saved group lacking them)
    added_settings: ClassVar[dict[str, Any]] = {"amsgrad": False, "maximize": False,
                                                "decoupled_weight_decay": False}
    # torch 2.13's Adam takes decoupled_weight_decay (True: AdamW's update, its AdamW is its Adam
    # with True); here each class computes one rule, so each takes its own value only
    _decoupled: ClassVar[bool] = False

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_betas_alike(betas, type(self).__name__)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable, fused=fused)
        defaults["decoupled_weight_decay"] = decoupled_weight_decay
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        who = type(self).__name__
        check_betas(group, who)
        check_setting(group, "eps", who, 0)
        check_setting(group, "weight_decay", who, 0)
        check_bool(group["amsgrad"], who, "amsgrad")
        check_bool(group["maximize"], who, "maximize")
        if check_bool(group["decoupled_weight_decay"], who, "decoupled_weight_decay") != self._decoupled:
            other = "Adam" if self._decoupled else "AdamW"
            raise ValueError(
                f"{who}: decoupled_weight_decay={group['decoupled_weight_decay']} is {other}'s update "
                f"(torch's AdamW is its Adam with decoupled_weight_decay=True): use mt.{other}"
            )

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names if group["amsgrad"] else self.state_names[:3]

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)
            states = self._states_of(params, group, count_step=False)  # the update counts the steps
            steps = [state["step"] for state in states]
            beta1, beta2 = group["betas"]
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            fast_or_plain("optimizers", self._update)(
                params, [p.grad for p in params], [state["exp_avg"] for state in states],
                [state["exp_avg_sq"] for state in states], [state.get("max_exp_avg_sq") for state in states],
                steps, amsgrad=bool(group["amsgrad"]), beta1=float(beta1), beta2=float(beta2),
                lr=float(group["lr"]), weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
                maximize=bool(group["maximize"]),
            )
            for state, t in zip(states, steps, strict=True):
                state["step"] = t

    @property
    def _update(self) -> Callable[..., None]:
        return adam


def adam(params: list[Parameter], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
         exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
         amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
         maximize: bool = False) -> None:
    """Adam's update (the numbered lines of ``Adam``), in place, one Parameter at a time.

    m, v, v_max are updated in place; ``state_steps[i]`` (t) is incremented in the list.
    """
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if maximize:
            g = -g                                                          # 0.
        m, v = exp_avgs[i], exp_avg_sqs[i]
        state_steps[i] += 1
        t = state_steps[i]
        if weight_decay != 0:
            g = g + weight_decay * p.data                                   # 1.
        m += (1 - beta1) * (g - m)                                          # 2. (torch's lerp)
        v *= beta2                                                          # 3.
        v += (1 - beta2) * g * g
        if amsgrad:                                                         # 4.
            v = np.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
        bias_correction1 = 1 - beta1**t                                     # 5.
        bias_correction2 = 1 - beta2**t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps             # 6.
        step_size = lr / bias_correction1                                   # 7.
        p.data -= step_size * (m / denom)
