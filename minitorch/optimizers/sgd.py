"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay (torch.optim.SGD)."""

from __future__ import annotations

from typing import Any

from minitorch.checks import check_bool, check_number
from minitorch.optimizers.optimizer import Optimizer, Params, add_, plus_scaled


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's form: momentum without the lr inside the buffer.

    For each Parameter p with a gradient, with lr, mu = momentum, tau = dampening, wd = weight_decay:
        1. g = p.grad + wd * p                  if wd != 0  (L2 penalty, folded into the gradient)
        2. if mu != 0:
               b = g                            on p's first step: the buffer starts as the gradient
               b = mu * b + (1 - tau) * g       on later steps (so tau never scales the first step)
               g = g + mu * b                   if nesterov
               g = b                            otherwise
        3. p = p - lr * g                       in place
    State:    momentum_buffer (b), only when momentum != 0
    Defaults: lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False (torch's, in
              torch's order); nesterov needs momentum > 0 and dampening = 0
    Example:
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("momentum_buffer",)

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_number(group["momentum"], "SGD", "momentum", 0)
        check_number(group["dampening"], "SGD", "dampening", 0, 1)
        check_number(group["weight_decay"], "SGD", "weight_decay", 0)
        check_bool(group["nesterov"], "SGD", "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True expects momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def step(self) -> None:
        for group in self.param_groups:
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            lr, mu = float(group["lr"]), float(group["momentum"])
            tau, wd = float(group["dampening"]), float(group["weight_decay"])
            for p in self._params_with_grad(group):
                work, g_work = self._work(p, 0), self._work(p, 1)
                g = p.grad
                if wd != 0:                                                   # 1.
                    g = plus_scaled(g, wd, p.data, out=g_work, work=work)
                if mu != 0:                                                   # 2.
                    state = self.state.setdefault(p, {})
                    b = state.get("momentum_buffer")
                    if b is None:
                        b = state["momentum_buffer"] = g.copy()
                    else:
                        b *= mu
                        add_(b, g, 1.0 - tau, work)
                    g = plus_scaled(g, mu, b, out=g_work, work=work) if group["nesterov"] else b
                add_(p.data, g, -lr, work)                                    # 3.
