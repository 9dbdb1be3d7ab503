"""Small problems, where per-call overhead decides: the Iris-size training step and one-sample inference."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from workloads._common import LR, Step, batch_pool, minitorch_model, minitorch_step, torch_model, torch_step
from workloads.mlp import NumpyStep

IRIS = (4, 16, 3)
MLP = (784, 512, 256, 10)
BASELINE = "torch"


class SmallNumpyStep:
    """One SGD step of a one-hidden-layer ReLU MLP with softmax cross-entropy, by hand in NumPy.

    The same math and layout as ``mlp.NumpyStep`` (W (in, out), the parameters and gradients
    views of two flat buffers, products into preallocated buffers, no dx for the data), written
    for an array of a few dozen numbers, where each NumPy call costs more than its arithmetic:
    the two layers unrolled, ``np.dot`` for the products (its dispatch is the cheapest here),
    ufunc reductions called directly (no ``ndarray.max``/``sum``/``np.mean`` wrappers), 0-d
    arrays of the dtype for the scalars, the targets read at flat positions.

        h = max(x @ W1 + b1, 0)            z = h @ W2 + b2
        s = z - max(z, axis=1)             e = exp(s)          l = log(sum(e, axis=1)) - s[n, y]
        dz = (e / sum(e) - onehot(y)) / N  loss = mean(l)
        dW2 = h.T @ dz   db2 = sum(dz, 0)  dh = (dz @ W2.T) * (h > 0)
        dW1 = x.T @ dh   db1 = sum(dh, 0)  P -= lr * G   (P, G: the flat buffers)
    """

    def __init__(self, sizes: tuple[int, int, int], batch: int) -> None:
        ref = NumpyStep(sizes, batch)  # the flat buffers, filled with the benchmark's weights
        self.P, self.G, self.scaled = ref.flat, ref.grad, ref.scaled
        self.W1, self.b1, self.W2, self.b2 = ref.params
        self.dW1, self.db1, self.dW2, self.db2 = ref.grads
        f, n, hidden = np.float32, batch, sizes[1]
        self.h, self.dh, self.mask = (np.empty((n, hidden), f) for _ in range(3))
        self.z = np.empty((n, sizes[2]), f)
        self.starts = np.arange(0, n * sizes[2], sizes[2])  # row n's start in z.ravel()
        self.zero, self.one, self.inv_n, self.lr = (np.array(v, f) for v in (0, 1, 1 / n, LR))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        h, z, dh, zero = self.h, self.z, self.dh, self.zero
        np.dot(x, self.W1, out=h)                                  # forward
        h += self.b1
        np.maximum(h, zero, out=h)
        np.dot(h, self.W2, out=z)
        z += self.b2
        s = z - np.maximum.reduce(z, 1, keepdims=True)             # loss
        e = np.exp(s)
        total = np.add.reduce(e, 1, keepdims=True)
        at = self.starts + y
        loss = float(np.add.reduce(np.log(total).ravel() - s.take(at), None)) / len(x)
        dz = np.divide(e, total, out=e)
        dz.reshape(-1)[at] -= self.one
        dz *= self.inv_n
        np.dot(h.T, dz, out=self.dW2)                              # backward, no dx for the data
        np.add.reduce(dz, 0, out=self.db2)
        np.dot(dz, self.W2.T, out=dh)
        np.greater(h, zero, out=self.mask)
        dh *= self.mask
        np.dot(x.T, dh, out=self.dW1)
        np.add.reduce(dh, 0, out=self.db1)
        np.multiply(self.G, self.lr, out=self.scaled)              # update: one pass over one buffer
        self.P -= self.scaled
        return loss


def small_numpy_step(sizes: tuple[int, int, int], batch: int) -> Step:
    step, data = SmallNumpyStep(sizes, batch), itertools.cycle(batch_pool(sizes, batch))
    return lambda: step(*next(data))


def minitorch_infer(sizes: tuple[int, ...]) -> Step:
    """One sample through the model in eval mode, under ``mt.no_grad()`` where it exists."""
    import contextlib

    import minitorch as mt

    model = minitorch_model(sizes).eval()
    x = batch_pool(sizes, 1)[0][0]
    no_grad = getattr(mt, "no_grad", contextlib.nullcontext)

    def infer() -> Any:
        with no_grad():
            return model(x)

    return infer


def torch_infer(sizes: tuple[int, ...]) -> Step:
    """One sample through the model inside ``torch.inference_mode()`` (the cheapest torch mode)."""
    import torch

    model = torch_model(sizes).eval()
    x = torch.from_numpy(batch_pool(sizes, 1)[0][0])

    def infer() -> Any:
        with torch.inference_mode():
            return model(x)

    return infer


WORKLOADS = {
    "iris 4-16-3 sgd b16": {"mt-fit": lambda: minitorch_step(IRIS, 16),
                            "torch": lambda: torch_step(IRIS, 16),
                            "numpy-hand": lambda: small_numpy_step(IRIS, 16)},
    "infer 784-512-256-10 n1": {"mt": lambda: minitorch_infer(MLP), "torch": lambda: torch_infer(MLP)},
}
