"""Shared builders of the workload files: the same MLP, data and learning rate for every contender.

Files whose name starts with ``_`` are not workloads (the harness skips them). PyTorch is imported
inside the torch builders only, so a MiniTorch process never loads it.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[], Any]
LR = 0.01


def batch_pool(sizes: tuple[int, ...], batch: int, count: int = 4, seed: int = 0) -> list[tuple]:
    """``count`` random (X float32 (batch, in), y int64 (batch,)) pairs, cycled by the steps."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((batch, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], batch))
        for _ in range(count)
    ]


def minitorch_model(sizes: tuple[int, ...]) -> Any:
    """Linear(sizes[0], sizes[1]), ReLU(), ..., Linear(sizes[-2], sizes[-1]), float32, seed 0."""
    import minitorch as mt

    mt.manual_seed(0)
    layers: list[Any] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [mt.Linear(n_in, n_out), mt.ReLU()]
    return mt.Sequential(*layers[:-1])


def minitorch_step(sizes: tuple[int, ...], batch: int, optimizer: str = "sgd", readme: bool = False,
                   kernel: bool = False) -> Step:
    """One training step: forward, loss, backward_params (mt.fit's path) or backward (the README's
    loop, which also computes the data's gradient), the optimizer's step, zero_grad. mt.fit's path
    is the step ``mt.fit`` runs: its whole-step kernel (``minitorch.kernels.step.fit_step``, a small
    Linear/ReLU chain with cross-entropy and plain SGD) where the tree has one and it takes the
    step, else for a large chain forward, loss and backward_params in one function
    (``minitorch.kernels.step_large.forward_backward``) where the tree has it, else the five calls;
    then plain SGD's step and zero_grad without their wrappers (``minitorch.kernels.step_update``)
    where the tree has it, else the two calls.

    ``kernel``: the five calls, the SGD update ``minitorch.kernels.optimizers.sgd`` called directly
    (what ``mt.SGD.step`` runs where the update kernel of ``kernels/step_update.py`` declines; it
    also applies the thread policy), without the whole-step or large-chain kernels.
    """
    import minitorch as mt

    model = minitorch_model(sizes)
    loss_fn = mt.CrossEntropyLoss()
    opt = mt.SGD(model.parameters(), lr=LR) if optimizer == "sgd" else mt.Adam(model.parameters(), lr=1e-3)
    data = itertools.cycle(batch_pool(sizes, batch))
    backward = model.backward if readme else model.backward_params
    update = opt.step
    if kernel:
        from minitorch.kernels import optimizers as fast

        params = list(model.parameters())
        ms, vs = ([np.zeros_like(p.data) for p in params] for _ in range(2))
        steps = [0] * len(params)

        def update() -> None:
            grads = [p.grad for p in params]
            if optimizer == "sgd":
                fast.sgd(params, grads, [None] * len(params), lr=LR, momentum=0.0, dampening=0.0,
                         weight_decay=0.0, nesterov=False)
            else:
                fast.adam(params, grads, ms, vs, [None] * len(params), steps, amsgrad=False, beta1=0.9,
                          beta2=0.999, lr=1e-3, weight_decay=0.0, eps=1e-8)

    fit_step = large = None
    if not (readme or kernel):  # mt.fit's step tries its whole-step kernels first (where they exist)
        loop = importlib.import_module("minitorch.training.loop")
        fit_step, large = getattr(loop, "fast_step", None), getattr(loop, "fast_large", None)
    settle = getattr(large, "settle", None)

    def step() -> Any:
        xb, yb = next(data)
        done = NotImplemented
        if fit_step is not None and mt.kernels.kernels_enabled():
            done = fit_step.fit_step(model, loss_fn, opt, xb, yb)
            if done is not NotImplemented:
                return done[1]
            if large is not None:  # a large chain: forward, loss and backward_params in one function
                done = large.forward_backward(model, loss_fn, xb, yb)
        if done is NotImplemented:
            loss = loss_fn(model(xb), yb)
            backward(loss_fn.backward())
        else:
            loss = done[1]
        update()  # (``opt.step``: plain SGD's tries its update kernel first, where the tree has one)
        opt.zero_grad()
        if settle is not None and done is not NotImplemented:
            settle()  # (mt.fit's step ends so: the products the large-chain kernel deferred, computed)
        return loss

    return step


def torch_model(sizes: tuple[int, ...]) -> Any:
    """The PyTorch twin, initialised from the MiniTorch model (W is stored transposed there)."""
    import torch

    import minitorch as mt

    source = [m for m in minitorch_model(sizes) if isinstance(m, mt.Linear)]
    layers: list[Any] = []
    for layer in source:
        linear = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.data.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.b.data.copy()))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def torch_step(sizes: tuple[int, ...], batch: int, optimizer: str = "sgd") -> Step:
    """The usual PyTorch loop: zero_grad, forward, loss, backward, step, loss.item()."""
    import torch

    model = torch_model(sizes)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = (torch.optim.SGD(model.parameters(), lr=LR) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    data = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batch_pool(sizes, batch)])

    def step() -> float:
        xb, yb = next(data)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    return step
