"""The 784-512-256-10 MLP training step (float32, softmax cross-entropy) at batch 32, 128 and 512.

Contenders: MiniTorch as ``mt.fit`` trains (``backward_params``: no gradient for the data), MiniTorch as
the README's loop trains (``backward``: also the data's gradient, one extra (N, 784) product), PyTorch
CPU, and a NumPy step written by hand for this one network (the limit for NumPy's BLAS here).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from workloads._common import LR, Step, batch_pool, minitorch_model, minitorch_step, torch_step

MLP = (784, 512, 256, 10)
BASELINE = "torch"


class NumpyStep:
    """One SGD step of a ReLU MLP with softmax cross-entropy, written for speed with NumPy alone.

    Every array is allocated once: the parameters live in one flat buffer (their W and b are views
    of it) and so do the gradients, so the update is one pass ``flat -= lr * grad_flat``; products
    write into their buffers (``out=``); the data's gradient is never computed. A ReLU of 2048
    elements or more takes the maximum against a zero row of the layer's width (NumPy's vectorized
    two-array loop; its scalar-operand loop is not vectorized), as the library's kernels take one.
    """

    def __init__(self, sizes: tuple[int, ...], batch: int) -> None:
        linears = [m for m in minitorch_model(sizes) if hasattr(m, "W")]
        shapes = [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]
        total = sum(int(np.prod(s)) for s in shapes)
        self.flat, self.grad, self.scaled = (np.empty(total, np.float32) for _ in range(3))
        self.params, self.grads, start = [], [], 0
        for s in shapes:
            n = int(np.prod(s))
            self.params.append(self.flat[start:start + n].reshape(s))
            self.grads.append(self.grad[start:start + n].reshape(s))
            start += n
        for i, layer in enumerate(linears):
            self.params[2 * i][...] = layer.W.data
            self.params[2 * i + 1][...] = layer.b.data
        self.h = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        self.d = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        self.mask = [np.empty((batch, n), bool) for n in sizes[1:-1]]
        self.zero = [np.zeros(n if batch * n >= 2048 else (), np.float32) for n in sizes[1:-1]]
        self.rows = np.arange(batch)
        self.lr = np.float32(LR)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> float:
        layers = len(self.h)
        inputs = [x, *self.h[:-1]]
        for i in range(layers):  # forward
            W, b, h = self.params[2 * i], self.params[2 * i + 1], self.h[i]
            np.matmul(inputs[i], W, out=h)
            h += b
            if i < layers - 1:
                np.maximum(h, self.zero[i], out=h)
        z, d = self.h[-1], self.d[-1]  # loss: d = (softmax(z) - onehot(y)) / N
        np.subtract(z, z.max(axis=1, keepdims=True), out=d)
        np.exp(d, out=d)
        total = d.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) - (z[self.rows, y] - z.max(axis=1))))
        d /= total
        d[self.rows, y] -= 1
        d /= len(x)
        for i in reversed(range(layers)):  # backward, no dx for the data
            np.matmul(inputs[i].T, self.d[i], out=self.grads[2 * i])
            self.d[i].sum(axis=0, out=self.grads[2 * i + 1])
            if i > 0:
                np.matmul(self.d[i], self.params[2 * i].T, out=self.d[i - 1])
                np.greater(self.h[i - 1], 0, out=self.mask[i - 1])
                np.multiply(self.d[i - 1], self.mask[i - 1], out=self.d[i - 1])
        np.multiply(self.grad, self.lr, out=self.scaled)  # update: one pass over one buffer
        self.flat -= self.scaled
        return loss


def numpy_step(sizes: tuple[int, ...], batch: int) -> Step:
    step, data = NumpyStep(sizes, batch), itertools.cycle(batch_pool(sizes, batch))
    return lambda: step(*next(data))


def _row(batch: int) -> dict[str, Any]:
    return {
        "mt-fit": lambda: minitorch_step(MLP, batch),
        "mt-kernel": lambda: minitorch_step(MLP, batch, kernel=True),
        "mt-readme": lambda: minitorch_step(MLP, batch, readme=True),
        "torch": lambda: torch_step(MLP, batch),
        "numpy-hand": lambda: numpy_step(MLP, batch),
    }


WORKLOADS = {f"mlp 784-512-256-10 sgd b{batch}": _row(batch) for batch in (32, 128, 512)}
WORKLOADS["mlp 784-512-256-10 adam b128"] = {
    "mt-fit": lambda: minitorch_step(MLP, 128, optimizer="adam"),
    "mt-kernel": lambda: minitorch_step(MLP, 128, optimizer="adam", kernel=True),
    "torch": lambda: torch_step(MLP, 128, optimizer="adam"),
}
