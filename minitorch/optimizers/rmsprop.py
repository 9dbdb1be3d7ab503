"""RMSprop: steps scaled by a running root-mean-square of the gradient (torch.optim.RMSprop)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.kernels import fast_or_plain
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_setting, implementation_settings


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's form: eps outside the square root, optional centering and momentum.

    For each Parameter p with a gradient, with lr, alpha, eps, wd = weight_decay, mu = momentum:
        0. g = -p.grad if maximize else p.grad     (maximize ascends: everything below sees -grad)
        1. g = g + wd * p                          if wd != 0  (L2 penalty, folded into the gradient)
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
               p = p - lr * (g / avg)              in place
    The update is the function ``rmsprop`` below (torch.optim's functional form), one Parameter at
    a time; ``step`` gathers the Parameters with a gradient and their state and hands them to it.
    State:    step, square_avg (s), grad_avg (a, if centered), momentum_buffer (b, if momentum > 0)
    Defaults: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False (torch's),
              maximize=False, keyword-only (torch's 8th positional argument is capturable: a
              positional True must not silently mean another option); keyword-only too, torch's
              implementation choices foreach=None, capturable=False, differentiable=False (the same
              update: ``Optimizer``)
    Example:
        opt = RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")
    # (torch's RMSprop.__setstate__: the defaults it fills in a saved group lacking them)
    added_settings: ClassVar[dict[str, Any]] = {"momentum": 0, "centered": False, "maximize": False}

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        # torch only asks alpha >= 0; alpha > 1 would make square_avg negative
        check_setting(group, "alpha", "RMSprop", 0, 1)
        for name in ("eps", "weight_decay", "momentum"):
            check_setting(group, name, "RMSprop", 0)
        check_bool(group["centered"], "RMSprop", "centered")
        check_bool(group["maximize"], "RMSprop", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)
            states = self._states_of(params, group, count_step=False)  # the update counts the steps
            steps = [state["step"] for state in states]
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            fast_or_plain("optimizers", rmsprop)(
                params, [p.grad for p in params], [state["square_avg"] for state in states],
                [state.get("grad_avg") for state in states],
                [state.get("momentum_buffer") for state in states],
                steps, lr=float(group["lr"]), alpha=float(group["alpha"]), eps=float(group["eps"]),
                weight_decay=float(group["weight_decay"]), momentum=float(group["momentum"]),
                centered=bool(group["centered"]), maximize=bool(group["maximize"]),
            )
            for state, t in zip(states, steps, strict=True):
                state["step"] = t


def rmsprop(params: list[Parameter], grads: list[np.ndarray], square_avgs: list[np.ndarray],
            grad_avgs: list[np.ndarray | None], momentum_buffers: list[np.ndarray | None],
            state_steps: list[int], *, lr: float, alpha: float, eps: float, weight_decay: float,
            momentum: float, centered: bool, maximize: bool = False) -> None:
    """RMSprop's update (the numbered lines of ``RMSprop``), in place, one Parameter at a time.

    s, a and b are updated in place (a only if centered, b only if momentum > 0: None otherwise);
    ``state_steps[i]`` is incremented in the list.
    """
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if maximize:
            g = -g                                                          # 0.
        state_steps[i] += 1
        if weight_decay != 0:
            g = g + weight_decay * p.data                                   # 1.
        s = square_avgs[i]                                                  # 2.
        s *= alpha
        s += (1 - alpha) * g * g
        if centered:                                                        # 3.
            a = grad_avgs[i]
            a += (1 - alpha) * (g - a)
            avg = np.sqrt(s - a * a) + eps
        else:
            avg = np.sqrt(s) + eps
        if momentum > 0:                                                    # 4.
            b = momentum_buffers[i]
            b *= momentum
            b += g / avg
            p.data -= lr * b
        else:
            p.data -= lr * (g / avg)
