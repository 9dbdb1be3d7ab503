"""ASGD: SGD with a decaying step size and a running average of the iterates (torch.optim.ASGD)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool
from minitorch.module import Parameter
from minitorch.optimizers.optimizer import Optimizer, Params, check_setting, implementation_settings


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky; Bottou's step-size schedule), PyTorch's form.

    For each Parameter p with a gradient, with lr, lambd, alpha, t0, wd = weight_decay and
    t = p's own step count (1 on its first update):
        1. g = -p.grad if maximize else p.grad        (maximize ascends: everything below sees -grad)
        2. g = g + wd * p                             if wd != 0  (L2 penalty)
        3. p = p * (1 - lambd * eta)                  decay, eta from lr (the group's at p's first update)
        4. p = p - eta * g                            in place
        5. ax = ax + mu * (p - ax)   if mu != 1       from ax = 0; mu is 1 up to step t0 + 1, so ax is
           ax = p                    otherwise        the mean of the iterates of steps t0 + 2, t0 + 3...
        6. eta = lr / (1 + lambd * lr * t)**alpha     the next step's size and averaging weight
           mu  = 1 / max(1, t - t0)
    ``ax`` is the averaged model: copy it into the Parameters to evaluate it (torch does not either).
    State:    step (t), eta, mu (0-d arrays in p's dtype: torch keeps them as 0-d tensors of its
              default dtype, so the two agree when that is p's dtype, float32 unless
              torch.set_default_dtype changed it), ax
    Defaults: lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False
              (keyword-only: torch's is its 8th positional argument, after foreach) (torch's);
              keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``). torch checks only lr and
              weight_decay (>= 0); lambd, alpha and t0 are any finite numbers here.
    Example:
        opt = ASGD(model.parameters(), lr=1e-2, t0=100)   # average from step 100 on
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "eta", "mu", "ax")
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False}  # (torch's ASGD.__setstate__)

    def __init__(self, params: Params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                    "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("lambd", "alpha", "t0"):
            check_setting(group, name, "ASGD")
        check_setting(group, "weight_decay", "ASGD", 0)
        check_bool(group["maximize"], "ASGD", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "ax")  # and eta, mu, checked by _loaded_state

    def _fresh_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        return {"eta": np.array(float(group["lr"]), dtype=p.dtype), "mu": np.array(1.0, dtype=p.dtype),
                "ax": np.zeros_like(p.data)}

    def _loaded_state(self, who: str, p: Parameter, group: dict[str, Any], entry: Any) -> dict[str, Any]:
        """The base checks every array against p's shape; eta and mu are scalars, checked here."""
        if not isinstance(entry, dict) or not entry:
            return super()._loaded_state(who, p, group, entry)
        scalars = {}
        for name in ("eta", "mu"):
            if name not in entry:
                raise ValueError(f"{who}: state names do not match ASGD; missing [{name!r}]")
            value = np.asarray(entry[name])
            if value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
                raise ValueError(f"{who}: expected {name!r} a finite number, got {entry[name]!r}")
            scalars[name] = np.array(value, dtype=p.dtype)
        loaded = super()._loaded_state(who, p, group, {k: v for k, v in entry.items() if k not in scalars})
        return {**loaded, **scalars}

    def step(self) -> None:
        for group in self.param_groups:
            params = self._params_with_grad(group)  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            asgd(params, [p.grad for p in params], [s["ax"] for s in states], [s["mu"] for s in states],
                 [s["eta"] for s in states], [s["step"] for s in states], lambd=float(group["lambd"]),
                 lr=float(group["lr"]), t0=float(group["t0"]), alpha=float(group["alpha"]),
                 weight_decay=float(group["weight_decay"]), maximize=bool(group["maximize"]))


def asgd(params: list[Parameter], grads: list[np.ndarray], axs: list[np.ndarray], mus: list[np.ndarray],
         etas: list[np.ndarray], state_steps: list[int], *, lambd: float, lr: float, t0: float, alpha: float,
         weight_decay: float, maximize: bool = False) -> None:
    """ASGD's update, one Parameter at a time (torch.optim's functional form).

    ``state_steps`` holds each Parameter's step t of this update (already counted); ax and the 0-d
    eta and mu are updated in place. Lines are numbered as in ``ASGD``'s docstring.
    """
    for p, g, ax, mu, eta, t in zip(params, grads, axs, mus, etas, state_steps, strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:
            g = g + weight_decay * p.data                                           # 2.
        eta_value = float(eta)
        p.data *= 1 - lambd * eta_value                                             # 3.
        p.data -= eta_value * g                                                     # 4.
        if float(mu) != 1:                                                          # 5.
            ax += (p.data - ax) * float(mu)
        else:
            ax[...] = p.data
        eta[...] = lr / ((1 + lambd * lr * t) ** alpha)                             # 6.
        mu[...] = 1 / max(1, t - t0)
