"""Optimizers: update Parameters in place from their gradients, as torch.optim does.

Parameters are held in ``param_groups`` (a list of dicts, each with its ``"params"`` and its own
hyper-parameters such as ``"lr"``), so per-group settings and schedulers work as in PyTorch.
A Parameter whose gradient was not written since ``zero_grad()`` is skipped, as PyTorch skips
``p.grad is None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minitorch.module import Parameter

Params = Iterable[Parameter] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: holds ``param_groups`` and per-Parameter ``state``; subclasses define ``step``."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Parameter, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of Parameters; settings it does not give come from the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: expected Parameters (e.g. model.parameters()), "
                    f"got {type(p).__name__}"
                )
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in params):
            raise ValueError(f"{type(self).__name__}: a Parameter appears in more than one group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown settings {sorted(unknown)}")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: expected lr >= 0, got {group['lr']}")

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in group.items() if key != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent.

    Update:   for each Parameter p with a gradient:  p.data -= lr * p.grad   (in place)
    Defaults: lr=1e-3 (torch.optim.SGD's default)
    Example:
        opt = SGD(model.parameters(), lr=0.1)
        model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()
    """

    def __init__(self, params: Params, lr: float = 1e-3) -> None:
        super().__init__(params, {"lr": lr})

    def step(self) -> None:
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                if p.grad_is_zero:
                    continue
                p.data -= lr * p.grad
