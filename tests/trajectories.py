"""Shared by the optimizer tests: configurations, the MLP, its batches, and the side-by-side run with torch.

``train_both`` trains a 4-8-3 ReLU MLP and its torch twin (same weights) on the same batches with
cross-entropy, comparing every parameter after every step.
"""

from __future__ import annotations

import numpy as np
import torch
from oracle import tensor, torch_twin

import minitorch as mt

STEPS = 20

OPTIMIZERS = {
    "SGD": (mt.SGD, torch.optim.SGD),
    "Adam": (mt.Adam, torch.optim.Adam),
    "AdamW": (mt.AdamW, torch.optim.AdamW),
    "RMSprop": (mt.RMSprop, torch.optim.RMSprop),
}

# (name, settings, settings of the first of two param groups or None for a single group)
CONFIGS = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.02, "momentum": 0.5}),
    ("Adam", {"lr": 0.01}, None),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-3}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9)}),
    ("AdamW", {"lr": 0.01}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0}, {"lr": 0.02, "weight_decay": 0.5}),
    ("RMSprop", {"lr": 0.01}, None),
    ("RMSprop", {"lr": 0.01, "centered": True}, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, None),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.05, "momentum": 0.5,
                 "centered": True}, None),
    ("RMSprop", {"lr": 0.01}, {"lr": 0.003, "centered": True, "momentum": 0.5}),
    # maximize (torch: the gradient negated before weight decay, momentum and moments read it)
    ("SGD", {"lr": 0.1, "maximize": True}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05, "maximize": True}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05, "maximize": True}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.02, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}, None),
    ("Adam", {"lr": 0.01, "maximize": True}, {"lr": 0.003, "maximize": False}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "maximize": True}, None),
    ("AdamW", {"lr": 0.01, "amsgrad": True}, {"lr": 0.02, "maximize": True}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "weight_decay": 0.05, "momentum": 0.5, "centered": True,
                 "maximize": True}, None),
    ("RMSprop", {"lr": 0.01, "maximize": True}, {"lr": 0.003, "centered": True, "maximize": False}),
]
CONFIG_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CONFIGS)]


def batches(steps: int, dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((16, 4)).astype(dtype), rng.integers(0, 3, 16)) for _ in range(steps)]


def make_model() -> mt.Sequential:
    return mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))


def groups(model, config: dict, first_group: dict | None) -> list:
    """One group, or two: the first layer with its own settings, the last with the common ones."""
    if first_group is None:
        return list(model.parameters())
    return [{"params": list(model[0].parameters()), **first_group}, {"params": list(model[2].parameters())}]


def as_ours(t: torch.Tensor, like: mt.Parameter) -> np.ndarray:
    """A torch parameter (or state tensor) in MiniTorch's layout: Linear weights are transposed."""
    a = t.detach().numpy()
    return a.T if a.ndim == 2 else a  # the model holds only Linear layers: every 2-D array is a W


def train_both(name, config, first_group, dtype, steps=STEPS, rtol=1e-12, atol=1e-13):
    """Run both libraries side by side; assert equal parameters after every step. Returns the optimizers."""
    ours_cls, torch_cls = OPTIMIZERS[name]
    model = make_model().to(dtype)
    twin = torch_twin(model)
    opt = ours_cls(groups(model, config, first_group), **config)
    topt = torch_cls(groups(twin, config, first_group), **config)
    loss_fn, t_loss_fn = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(steps, dtype)):
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        topt.zero_grad()
        t_loss_fn(twin(tensor(x)), tensor(y)).backward()
        topt.step()
        for (pname, p), tp in zip(model.named_parameters(), twin.parameters(), strict=True):
            assert p.dtype == dtype, pname
            np.testing.assert_allclose(p.data, as_ours(tp, p), rtol=rtol, atol=atol,
                                       err_msg=f"{name} {config}: {pname} after step {step + 1}")
    return model, opt, twin, topt


def train_skipping_first_layer(name: str, config: dict, steps: int = 8):
    """Both libraries side by side (float64), the first layer getting no gradient on odd steps
    (grad None in torch, zero_grad in MiniTorch); assert equal parameters at the end. Returns
    the model and its optimizer, whose state must not have advanced on the skipped steps."""
    ours_cls, torch_cls = OPTIMIZERS[name]
    model = make_model()
    twin = torch_twin(model)
    opt, topt = ours_cls(model.parameters(), **config), torch_cls(twin.parameters(), **config)
    loss_fn, t_loss_fn = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(steps, np.float64)):
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        topt.zero_grad()
        t_loss_fn(twin(tensor(x)), tensor(y)).backward()
        if step % 2:
            model[0].zero_grad()
            for tp in twin[0].parameters():
                tp.grad = None
        opt.step()
        topt.step()
        opt.zero_grad()
    for p, tp in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.data, as_ours(tp, p), rtol=1e-12, atol=1e-13)
    return model, opt


# PyTorch habits (issue 15): the new optimizers, looked up by name like the others
OPTIMIZERS.update({
    "Adagrad": (mt.Adagrad, torch.optim.Adagrad),
    "NAdam": (mt.NAdam, torch.optim.NAdam),
    "RAdam": (mt.RAdam, torch.optim.RAdam),
})

# torch.optim's remaining update rules
OPTIMIZERS.update({
    "Adamax": (mt.Adamax, torch.optim.Adamax),
    "Adadelta": (mt.Adadelta, torch.optim.Adadelta),
    "Rprop": (mt.Rprop, torch.optim.Rprop),
    "ASGD": (mt.ASGD, torch.optim.ASGD),
})
