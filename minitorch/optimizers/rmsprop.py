"""RMSprop: steps scaled by a running root-mean-square of the gradient (torch.optim.RMSprop)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.optimizers.optimizer import Optimizer, Params, add_, addcdiv_, addcmul_, lerp_, plus_scaled


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's form: eps outside the square root, optional centering and momentum.

    For each Parameter p with a gradient, with lr, alpha, eps, wd = weight_decay, mu = momentum:
        1. g = p.grad + wd * p                     if wd != 0  (L2 penalty, folded into the gradient)
        2. s = alpha * s + (1 - alpha) * g * g     running mean of g**2, from s = 0
        3. if centered:
               a = alpha * a + (1 - alpha) * g     running mean of g, from a = 0  (as torch's a.lerp_)
               avg = sqrt(s - a * a) + eps         a running standard deviation
           else:
               avg = sqrt(s) + eps
        4. if mu > 0:
               b = mu * b + g / avg                from b = 0
               p = p - lr * b                      in place
           else:
               p = p - lr * g / avg                in place
    State:    step, square_avg (s), grad_avg (a, if centered), momentum_buffer (b, if momentum > 0)
    Defaults: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False (torch's)
    Example:
        opt = RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        # torch only asks alpha >= 0; alpha > 1 would make square_avg negative
        check_number(group["alpha"], "RMSprop", "alpha", 0, 1)
        check_number(group["eps"], "RMSprop", "eps", 0)
        check_number(group["weight_decay"], "RMSprop", "weight_decay", 0)
        check_number(group["momentum"], "RMSprop", "momentum", 0)
        check_bool(group["centered"], "RMSprop", "centered")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def step(self) -> None:
        for group in self.param_groups:
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            wd, mu = float(group["weight_decay"]), float(group["momentum"])
            for p in self._params_with_grad(group):
                state = self.state.setdefault(p, {})
                if not state:
                    state.update({name: np.zeros_like(p.data) for name in self._required_state(group)},
                                 step=0)
                state["step"] += 1
                work = self._work(p, 0)
                g = p.grad
                if wd != 0:                                                           # 1.
                    g = plus_scaled(g, wd, p.data, out=self._work(p, 1), work=work)
                avg = self._rms(g, state, alpha, eps, group["centered"], work)        # 2., 3.
                if mu > 0:                                                            # 4.
                    b = state["momentum_buffer"]
                    b *= mu
                    addcdiv_(b, g, avg, 1.0, work=avg)
                    add_(p.data, b, -lr, work=avg)
                else:
                    addcdiv_(p.data, g, avg, -lr, work=avg)

    @staticmethod
    def _rms(g: np.ndarray, state: dict[str, Any], alpha: float, eps: float, centered: bool,
             work: np.ndarray) -> np.ndarray:
        """Steps 2-3: update the running means; avg is written into ``work`` and returned."""
        s = state["square_avg"]
        s *= alpha                                                                    # 2.
        addcmul_(s, g, g, 1.0 - alpha, work)
        avg = work
        if centered:                                                                  # 3.
            a = state["grad_avg"]
            lerp_(a, g, 1.0 - alpha, work)
            np.multiply(a, a, out=avg)
            np.subtract(s, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(s, out=avg)
        avg += eps
        return avg
