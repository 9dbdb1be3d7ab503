"""Adagrad: per-coordinate steps shrinking with the sum of squared gradients (torch.optim.Adagrad)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_setting, implementation_settings


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's form: eps outside the square root, an optional lr decay.

    For each Parameter p with a gradient, with lr, eps, wd = weight_decay, lr_decay and
    t = p's own step count (1 on its first update):
        1. g = -p.grad if maximize else p.grad
        2. g = g + wd * p                           if wd != 0  (L2 penalty, folded into the gradient)
        3. clr = lr / (1 + (t - 1) * lr_decay)
        4. s = s + g * g                            from s = initial_accumulator_value (the
                                                    constructor's: torch's groups cannot change it)
        5. p = p - clr * g / (sqrt(s) + eps)        in place
    Coordinates with large past gradients take small steps, rarely-updated ones large steps.
    State:    step (t), sum (s)
    Defaults: lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
              maximize=False (keyword-only) (torch's); keyword-only too, torch's implementation
              choices foreach=None, differentiable=False, fused=None (the same update: ``Optimizer``)
    Example:
        opt = Adagrad(model.parameters(), lr=0.1)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "sum")

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps, "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach,
                                            differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """As Optimizer's; a group may not set its own initial_accumulator_value.

        torch.optim.Adagrad starts every Parameter's sum at the constructor's value and ignores a
        group's, so honouring it would leave torch's trajectory, and ignoring it would be silent.
        """
        if isinstance(group, dict) and "initial_accumulator_value" in group:
            value, default = group["initial_accumulator_value"], self.defaults["initial_accumulator_value"]
            if value != default:
                raise ValueError(
                    f"Adagrad: a param group sets initial_accumulator_value={value!r}, but every sum starts "
                    f"at the constructor's ({default!r}), as in torch.optim.Adagrad, which ignores a "
                    "group's value; give it to the constructor, Adagrad(params, "
                    "initial_accumulator_value=...), or use one Adagrad per value"
                )
        super().add_param_group(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_setting(group, name, "Adagrad", 0)
        check_bool(group["maximize"], "Adagrad", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_names

    def _fresh_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        # the constructor's value, as torch's _init_group (a loaded group's value is not used either)
        return {"sum": np.full_like(p.data, self.defaults["initial_accumulator_value"])}

    def step(self) -> None:
        for group in self.param_groups:
            params = list(self._params_with_grad(group))  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            adagrad(params, [p.grad for p in params], [s["sum"] for s in states],
                    [s["step"] for s in states], lr=float(group["lr"]),
                    weight_decay=float(group["weight_decay"]), lr_decay=float(group["lr_decay"]),
                    eps=float(group["eps"]), maximize=bool(group["maximize"]))


def adagrad(params: list[Parameter], grads: list[np.ndarray], state_sums: list[np.ndarray],
            state_steps: list[int], *, lr: float, weight_decay: float, lr_decay: float, eps: float,
            maximize: bool = False) -> None:
    """Adagrad's update, one Parameter at a time (torch.optim's functional form).

    ``state_steps`` holds each Parameter's step t of this update (already counted); ``state_sums`` are
    updated in place. Lines are numbered as in ``Adagrad``'s docstring.
    """
    for p, g, s, t in zip(params, grads, state_sums, state_steps, strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:
            g = g + weight_decay * p.data                                           # 2.
        clr = lr / (1 + (t - 1) * lr_decay)                                         # 3.
        s += g * g                                                                  # 4.
        p.data -= clr * (g / (np.sqrt(s) + eps))                                    # 5.
