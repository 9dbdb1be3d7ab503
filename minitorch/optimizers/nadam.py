"""NAdam: Adam with Nesterov momentum and a momentum schedule (torch.optim.NAdam)."""

from __future__ import annotations

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


class NAdam(Optimizer):
    """NAdam (Dozat), PyTorch's form: Adam whose step looks one momentum step ahead.

    For each Parameter p with a gradient, with lr, (beta1, beta2) = betas, eps, wd = weight_decay,
    psi = momentum_decay and t = p's own step count (1 on its first update):
        1. g = -p.grad if maximize else p.grad
        2. p = p * (1 - lr * wd)                       if wd != 0 and decoupled_weight_decay (NAdamW)
           g = g + wd * p                              if wd != 0 otherwise (L2 penalty)
        3. mu      = beta1 * (1 - 0.5 * 0.96**(t * psi))         the momentum schedule
           mu_next = beta1 * (1 - 0.5 * 0.96**((t + 1) * psi))
        4. mu_product = mu_product * mu                from mu_product = 1
        5. m = beta1 * m + (1 - beta1) * g             first moment, from m = 0
        6. v = beta2 * v + (1 - beta2) * g * g         second moment, from v = 0
        7. denom = sqrt(v / (1 - beta2**t)) + eps
        8. p = p - lr * (1 - mu) / (1 - mu_product) * g / denom
           p = p - lr * mu_next / (1 - mu_product * mu_next) * m / denom      in place, in this order
    State:    step (t), mu_product (a 0-d float64 array; torch keeps a 0-d tensor of its default
              dtype, float32 unless changed, hence ~1e-7 relative differences in float32 runs),
              exp_avg (m), exp_avg_sq (v)
    Defaults: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False (keyword-only) (torch's);
              keyword-only too, torch's implementation choices foreach=None, capturable=False,
              differentiable=False (the same update: ``Optimizer``)
    Example:
        opt = NAdam(model.parameters(), lr=2e-3)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    state_names = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    # (torch's NAdam.__setstate__: the defaults it fills in a saved group lacking them)
    added_settings: ClassVar[dict[str, Any]] = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize}
        defaults |= implementation_settings(type(self).__name__, foreach=foreach, capturable=capturable,
                                            differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_betas(group, "NAdam")
        for name in ("eps", "weight_decay", "momentum_decay"):
            check_setting(group, name, "NAdam", 0)
        check_bool(group["decoupled_weight_decay"], "NAdam", "decoupled_weight_decay")
        check_bool(group["maximize"], "NAdam", "maximize")

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq")  # and mu_product, checked by _loaded_state

    def _loaded_state(self, who: str, p: Parameter, group: dict[str, Any], entry: Any) -> dict[str, Any]:
        """The base checks every array against p's shape; mu_product is a scalar, checked here."""
        if not isinstance(entry, dict) or not entry:
            return super()._loaded_state(who, p, group, entry)
        if "mu_product" not in entry:
            raise ValueError(f"{who}: state names do not match NAdam; missing ['mu_product']")
        mu_product = np.asarray(entry["mu_product"])
        # in [0, 1]: a product of mu = beta1 * (1 - 0.5 * 0.96**(t * psi)) in [0, beta1]; 0 with beta1 = 0
        if mu_product.shape != () or mu_product.dtype.kind != "f" or not 0 <= mu_product <= 1:
            raise ValueError(f"{who}: expected 'mu_product' a number in [0, 1], got {entry['mu_product']!r}")
        loaded = super()._loaded_state(who, p, group, {k: v for k, v in entry.items() if k != "mu_product"})
        loaded["mu_product"] = np.array(mu_product, dtype=np.float64)
        return loaded

    def _fresh_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        return {"mu_product": np.array(1.0), "exp_avg": np.zeros_like(p.data),
                "exp_avg_sq": np.zeros_like(p.data)}

    def step(self) -> None:
        for group in self.param_groups:
            params = list(self._params_with_grad(group))  # no gradient: no update (frozen or not, as torch)
            states = self._states_of(params, group, count_step=True)
            beta1, beta2 = (float(beta) for beta in group["betas"])
            nadam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                  [s["exp_avg_sq"] for s in states], [s["mu_product"] for s in states],
                  [s["step"] for s in states], beta1=beta1, beta2=beta2, lr=float(group["lr"]),
                  weight_decay=float(group["weight_decay"]), momentum_decay=float(group["momentum_decay"]),
                  eps=float(group["eps"]), decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=bool(group["maximize"]))


def nadam(params: list[Parameter], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
          exp_avg_sqs: list[np.ndarray], mu_products: list[np.ndarray], state_steps: list[int], *,
          beta1: float, beta2: float, lr: float, weight_decay: float, momentum_decay: float, eps: float,
          decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
    """NAdam's update, one Parameter at a time (torch.optim's functional form).

    ``state_steps`` holds each Parameter's step t of this update (already counted); moments and the
    0-d ``mu_products`` are updated in place. Lines are numbered as in ``NAdam``'s docstring.
    """
    for p, g, m, v, mu_product, t in zip(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps,
                                         strict=True):
        g = -g if maximize else g                                                   # 1.
        if weight_decay != 0:                                                       # 2.
            if decoupled_weight_decay:
                p.data *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p.data
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))                     # 3.
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product *= mu                                                            # 4.
        m += (1 - beta1) * (g - m)                                                  # 5.
        v *= beta2                                                                  # 6.
        v += (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2**t)) + eps                                   # 7.
        p.data += (-lr * (1.0 - mu) / (1.0 - float(mu_product))) * (g / denom)      # 8.
        p.data += (-lr * mu_next / (1.0 - float(mu_product) * mu_next)) * (m / denom)
