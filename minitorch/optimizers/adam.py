"""Adam: per-coordinate steps from bias-corrected moment estimates (torch.optim.Adam)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, addcmul_, lerp_, plus_scaled


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's form, with L2 weight decay folded into the gradient.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay and
    t = p's own step count (1 on its first update):
        1. g = p.grad + wd * p                    if wd != 0  (L2 penalty; AdamW decays p instead)
        2. m = beta1 * m + (1 - beta1) * g        first moment, from m = 0 (as torch: m.lerp_(g, 1 - beta1))
        3. v = beta2 * v + (1 - beta2) * g * g    second moment, from v = 0
        4. v_max = maximum(v_max, v); v = v_max   if amsgrad, from v_max = 0
        5. bias_correction1 = 1 - beta1**t        m and v start at 0, so E[m] = bias_correction1 * E[g]
           bias_correction2 = 1 - beta2**t                        and E[v] = bias_correction2 * E[g*g]
        6. denom = sqrt(v) / sqrt(bias_correction2) + eps
        7. p = p - lr / bias_correction1 * m / denom               in place
    State:    step (t), exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (v_max, if amsgrad)
    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False (torch's)
    Example:
        opt = Adam(model.parameters(), lr=1e-3)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        who, betas = type(self).__name__, group["betas"]
        if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_number(betas[0], who, "betas[0]", 0, 1, high_open=True)
        check_number(betas[1], who, "betas[1]", 0, 1, high_open=True)
        group["betas"] = tuple(betas)
        check_number(group["eps"], who, "eps", 0)
        check_number(group["weight_decay"], who, "weight_decay", 0)
        check_bool(group["amsgrad"], who, "amsgrad")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names if group["amsgrad"] else self.state_names[:3]

    def step(self) -> None:
        for group in self.param_groups:
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(beta) for beta in group["betas"])
            for p in self._params_with_grad(group):
                state = self.state.setdefault(p, {})
                if not state:
                    state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                g = self._decayed_grad(p, lr, wd)                                     # 1.
                self._update(p, g, state, lr, beta1, beta2, eps, group["amsgrad"])

    def _decayed_grad(self, p: Parameter, lr: float, wd: float) -> np.ndarray:
        """Step 1: the L2 penalty's gradient wd * p joins p.grad (p.grad itself is left as it is)."""
        if wd == 0:
            return p.grad
        return plus_scaled(p.grad, wd, p.data, out=self._work(p, 1), work=self._work(p, 0))

    def _update(self, p: Parameter, g: np.ndarray, state: dict[str, Any], lr: float, beta1: float,
                beta2: float, eps: float, amsgrad: bool) -> None:
        """Steps 2-7 for one Parameter, in place; g may live in work slot 1, slot 0 is the scratch."""
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        work = self._work(p, 0)
        lerp_(m, g, 1.0 - beta1, work)                                                # 2.
        v *= beta2                                                                    # 3.
        addcmul_(v, g, g, 1.0 - beta2, work)
        if amsgrad:                                                                   # 4.
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias_correction1 = 1.0 - beta1**t                                             # 5.
        bias_correction2 = 1.0 - beta2**t
        _adam_step_(p.data, m, v, lr / bias_correction1, bias_correction2**0.5, eps, work)   # 6., 7.


def _adam_step_(p: np.ndarray, m: np.ndarray, v: np.ndarray, step_size: float, bias_correction2_sqrt: float,
                eps: float, work: np.ndarray) -> None:
    """Steps 6-7: p -= step_size * m / denom,  denom = sqrt(v) / bias_correction2_sqrt + eps.

    Computed as p += m / d with d = -denom / step_size: the step size rides on the scalar passes
    that build the denominator, which saves one full pass over p (torch's capturable path does the
    same). ``work`` receives d.
    """
    if step_size == 0.0:                                   # lr = 0: nothing moves (d would divide by 0)
        return
    d = np.sqrt(v, out=work)
    d *= -1.0 / (bias_correction2_sqrt * step_size)
    d -= eps / step_size
    np.divide(m, d, out=d)
    p += d
