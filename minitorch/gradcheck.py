"""gradcheck: prove a module's hand-written backward against central differences.

Run it on your own Module subclasses the same way the library's tests run it on every layer:

    mt.gradcheck(MyLayer(3, 2), np.random.randn(4, 3))          # True, or GradcheckError
    mt.gradcheck(mt.CrossEntropyLoss(), logits, labels)          # losses too

It checks f = sum(module(x) * r) with a random upstream gradient r (so every output element matters
with its own weight); for a loss, f = sum(loss(input, target) * r), with r a scalar unless the loss
has reduction="none". Every element of the input and of every Parameter is perturbed by +-eps and
the slope (f(+) - f(-)) / (2 eps) compared with the analytic gradient from ``backward``. It works on
a float64 copy: your module is not changed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import numpy as np

from minitorch import random as mt_random
from minitorch.grad_mode import no_grad
from minitorch.losses import Loss
from minitorch.module import Module


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one (names tensor, index and both values)."""


def gradcheck(
    module: Module,
    *inputs: np.ndarray,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare every analytic gradient (input and Parameters) with central differences in float64.

    A module takes one input; a loss takes (input, target) and only input is differentiated.
    Random layers (dropout) see the same random draws in every evaluation. Returns True, or raises
    ``GradcheckError`` naming the worst mismatch: which tensor, which index, both values.
    """
    if not inputs:
        raise ValueError("gradcheck: give the input(s) to evaluate the module at")
    is_loss = isinstance(module, Loss)
    if not is_loss and len(inputs) != 1:
        raise ValueError(f"gradcheck: a module takes one input, got {len(inputs)}")
    x = np.array(inputs[0], dtype=np.float64)
    rest = inputs[1:]
    module = copy.deepcopy(module).to(np.float64)
    rng_state = mt_random.generator().bit_generator.state

    def evaluate() -> np.ndarray | float:
        mt_random.generator().bit_generator.state = rng_state  # same dropout mask every time
        return module(x, *rest)

    out = evaluate()
    # a loss's upstream gradient is a scalar for reduction mean/sum and an array for "none"
    upstream = np.random.default_rng(seed).standard_normal(np.shape(out))

    def objective() -> float:
        with no_grad():  # the numerical evaluations are never backpropagated
            return float(np.sum(evaluate() * upstream))

    module.zero_grad()
    dx = module.backward(float(upstream) if is_loss and upstream.ndim == 0 else upstream)
    analytic = {"input": np.asarray(dx)}
    analytic.update({
        name: np.zeros_like(p.data) if p.grad is None else p.grad.copy()  # None: no gradient reached p
        for name, p in module.named_parameters()
    })

    targets = [("input", x)] + [(name, p.data) for name, p in module.named_parameters()]
    worst = None
    for name, array in targets:
        if analytic[name].shape != array.shape:
            raise GradcheckError(
                f"gradcheck: gradient of {name} has shape {analytic[name].shape}, expected {array.shape}"
            )
        numeric = _numerical_gradient(objective, array, eps)
        excess = np.abs(analytic[name] - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size:
            idx = np.unravel_index(np.argmax(excess), excess.shape)
            if excess[idx] > 0 and (worst is None or excess[idx] > worst[0]):
                worst = (excess[idx], name, idx, analytic[name][idx], numeric[idx])
    if worst is not None:
        _, name, idx, a, n = worst
        raise GradcheckError(
            f"gradcheck: {type(module).__name__} gradient of {name} at index {tuple(int(i) for i in idx)}: "
            f"analytic {a:.10g}, numerical {n:.10g} (atol={atol}, rtol={rtol})"
        )
    return True


def _numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """Central differences (f(a + eps) - f(a - eps)) / (2 eps), one element of ``array`` at a time."""
    grad = np.zeros_like(array)
    for idx in _indices(array.shape):
        original = array[idx]
        array[idx] = original + eps
        f_plus = f()
        array[idx] = original - eps
        f_minus = f()
        array[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def _indices(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    yield from np.ndindex(*shape)
