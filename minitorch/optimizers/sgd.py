"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay (torch.optim.SGD)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.kernels import fast_or_plain, kernels_enabled
from minitorch.kernels import step_update as fast_update
from minitorch.kernels.step import register_step_class
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_setting, implementation_settings


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's form: momentum without the lr inside the buffer.

    For each Parameter p with a gradient, with lr, mu = momentum, tau = dampening, wd = weight_decay:
        0. g = -p.grad if maximize else p.grad  (maximize ascends: everything below sees -grad)
        1. g = g + wd * p                       if wd != 0  (L2 penalty, folded into the gradient)
        2. if mu != 0:
               b = g                            on p's first step: the buffer starts as the gradient
               b = mu * b + (1 - tau) * g       on later steps (so tau never scales the first step)
               g = g + mu * b                   if nesterov
               g = b                            otherwise
        3. p = p - lr * g                       in place
    The update is the function ``sgd`` below (torch.optim's functional form), one Parameter at a
    time; ``step`` gathers the Parameters with a gradient and hands them to it (or to its kernel).
    State:    momentum_buffer (b), only when momentum != 0
    Defaults: lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False (torch's, in
              torch's order), maximize=False (keyword-only, as torch's); nesterov needs
              momentum > 0 and dampening = 0; keyword-only too, torch's implementation choices
              foreach=None, differentiable=False, fused=None (the same update: ``Optimizer``)
    Example:
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("momentum_buffer",)
    # (torch's SGD.__setstate__: the defaults it fills in a saved group lacking them)
    added_settings: ClassVar[dict[str, Any]] = {"nesterov": False, "maximize": False, "fused": False}

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach,
                                            differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_setting(group, "momentum", "SGD", 0)
        check_setting(group, "dampening", "SGD", 0, 1)
        check_setting(group, "weight_decay", "SGD", 0)
        check_bool(group["nesterov"], "SGD", "nesterov")
        check_bool(group["maximize"], "SGD", "maximize")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True expects momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def step(self) -> None:
        if kernels_enabled():  # fast room: the same update without the calls below (kernels/step_update.py)
            if fast_update.sgd_step(self) is not NotImplemented:
                return
        for group in self.param_groups:
            params = self._params_with_grad(group)
            # Python floats: a NumPy float64 setting would promote float32 work to float64
            momentum = float(group["momentum"])
            # as torch's _init_group: the buffers are gathered only when momentum uses them
            buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params] if momentum else []
            fast_or_plain("optimizers", sgd)(
                params, [p.grad for p in params], buffers, lr=float(group["lr"]),
                momentum=momentum, dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]), nesterov=bool(group["nesterov"]),
                maximize=bool(group["maximize"]),
            )
            for p, b in zip(params, buffers, strict=False):  # (no buffers when momentum == 0)
                self.state.setdefault(p, {})["momentum_buffer"] = b


def sgd(params: list[Parameter], grads: list[np.ndarray], momentum_buffers: list[np.ndarray | None], *,
        lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool,
        maximize: bool = False) -> None:
    """SGD's update (the numbered lines of ``SGD``), in place, one Parameter at a time.

    ``momentum_buffers[i]`` is p's buffer b, or None before its first step: the new buffer is put
    into the list (as torch.optim.sgd does); with momentum = 0 the list is not read (may be empty).
    """
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if maximize:
            g = -g                                                          # 0.
        if weight_decay != 0:
            g = g + weight_decay * p.data                                   # 1.
        if momentum != 0:                                                   # 2.
            b = momentum_buffers[i]
            if b is None:
                b = momentum_buffers[i] = g.copy()
            else:
                b *= momentum
                b += (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p.data -= lr * g                                                    # 3.


register_step_class(SGD)  # mt.fit's whole-step kernel (kernels/step.py) runs its case
fast_update.load()  # the update kernel takes SGD's methods and ``sgd`` as defined here
