"""AdamW: Adam with decoupled weight decay (torch.optim.AdamW)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from minitorch.module import Parameter
from minitorch.optimizers.adam import Adam, adam
from minitorch.optimizers.optimizer import Params


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam whose weight decay shrinks p directly, outside m and v.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay and
    t = p's own step count (1 on its first update):
        1. p = p * (1 - lr * wd)                  decoupled decay: it never enters m or v
           g = -p.grad if maximize else p.grad    (maximize ascends: m and v see -grad)
        2. m = beta1 * m + (1 - beta1) * g        first moment, from m = 0 (as torch: m.lerp_(g, 1 - beta1))
        3. v = beta2 * v + (1 - beta2) * g * g    second moment, from v = 0
        4. v_max = maximum(v_max, v); v = v_max   if amsgrad, from v_max = 0
        5. bias_correction1 = 1 - beta1**t
           bias_correction2 = 1 - beta2**t
        6. denom = sqrt(v) / sqrt(bias_correction2) + eps
        7. step_size = lr / bias_correction1
           p = p - step_size * (m / denom)                         in place
    The update is the function ``adamw`` below; ``step`` (Adam's) gathers the arguments.
    With Adam's L2 decay the penalty's gradient wd * p is divided by denom like any gradient, so
    coordinates with large gradients are barely decayed; AdamW decays every weight at the same rate.
    State:    step (t), exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (v_max, if amsgrad)
    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
              maximize=False (keyword-only) (torch's); keyword-only too, torch's implementation
              choices foreach=None, capturable=False, differentiable=False, fused=None (the same
              update: ``Optimizer``). The group's decoupled_weight_decay is True, as torch's AdamW's
              (False, Adam's update, is refused, naming mt.Adam)
    Example:
        opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    added_settings: ClassVar[dict[str, Any]] = {**Adam.added_settings, "decoupled_weight_decay": True}
    _decoupled: ClassVar[bool] = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    @property
    def _update(self) -> Callable[..., None]:
        return adamw


def adamw(params: list[Parameter], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
          exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
          amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
          maximize: bool = False) -> None:
    """AdamW's update (the numbered lines of ``AdamW``), in place.

    The arguments are ``adam``'s; only line 1 differs: p decays, g is left alone, and then lines
    2-7 are Adam's own (``adam`` without its L2 term).
    """
    for p in params:
        p.data *= 1 - lr * weight_decay                                     # 1.
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad,   # 2.-7.
         beta1=beta1, beta2=beta2, lr=lr, weight_decay=0.0, eps=eps, maximize=maximize)
