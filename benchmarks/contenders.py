"""The timed steps of the benchmark: one builder per library, each returning a zero-argument callable.

Every contender trains the same MLP (Linear/ReLU alternating, softmax cross-entropy) on the same
float32 batches, cycled from a small pool, so that only the library differs. PyTorch and
scikit-learn are passed in as modules (they are optional: ``bench.py`` imports them if present).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

import minitorch as mt

Step = Callable[[], Any]
LR = 0.01


def batch_pool(sizes: tuple[int, ...], batch: int, count: int = 4, seed: int = 0) -> list[tuple]:
    """``count`` random (X float32 (batch, in), y int64 (batch,)) pairs."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((batch, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], batch))
        for _ in range(count)
    ]


def minitorch_model(sizes: tuple[int, ...]) -> mt.Sequential:
    """Linear(sizes[0], sizes[1]), ReLU(), ..., Linear(sizes[-2], sizes[-1]), float32."""
    mt.manual_seed(0)
    layers: list[mt.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [mt.Linear(n_in, n_out), mt.ReLU()]
    return mt.Sequential(*layers[:-1])


def minitorch_step(sizes: tuple[int, ...], pool: list[tuple], optimizer: str = "sgd",
                   loss_fn: mt.Loss | None = None) -> Step:
    """Forward, loss, backward_params (no input gradient for the data, as mt.fit), step, zero_grad."""
    model = minitorch_model(sizes)
    loss_fn = loss_fn or mt.CrossEntropyLoss()
    opt = mt.SGD(model.parameters(), lr=LR) if optimizer == "sgd" else mt.Adam(model.parameters(), lr=1e-3)
    data = itertools.cycle(pool)

    def step() -> float:
        xb, yb = next(data)
        loss = loss_fn(model(xb), yb)
        model.backward_params(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        return loss

    return step


def torch_model(torch: ModuleType, sizes: tuple[int, ...]) -> Any:
    """The PyTorch twin, initialised from the MiniTorch model (W is stored transposed there)."""
    source = [m for m in minitorch_model(sizes) if isinstance(m, mt.Linear)]
    layers: list[Any] = []
    for layer in source:
        linear = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.data.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.b.data.copy()))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def torch_step(torch: ModuleType, sizes: tuple[int, ...], pool: list[tuple], optimizer: str = "sgd") -> Step:
    """The usual PyTorch loop: zero_grad, forward, loss, backward, step, loss.item()."""
    model = torch_model(torch, sizes)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = (torch.optim.SGD(model.parameters(), lr=LR) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    data = itertools.cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in pool])

    def step() -> float:
        xb, yb = next(data)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def sklearn_step(neural_network: ModuleType, sizes: tuple[int, ...], pool: list[tuple]) -> Step:
    """MLPClassifier, plain SGD (no momentum, no L2), one ``partial_fit`` = one step on one batch."""
    batch = len(pool[0][0])
    clf = neural_network.MLPClassifier(
        hidden_layer_sizes=sizes[1:-1], activation="relu", solver="sgd", alpha=0.0, batch_size=batch,
        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, shuffle=False, random_state=0,
    )
    clf.partial_fit(*pool[0], classes=np.arange(sizes[-1]))
    data = itertools.cycle(pool)

    def step() -> None:
        clf.partial_fit(*next(data))

    return step


def gemm_products(sizes: tuple[int, ...], batch: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The float32 matrix products of one training step, with their shapes.

    For layers i = 1..L with h_0 = X:  forward  h_i = h_{i-1} @ W_i            (L products)
                                       weights  dW_i = h_{i-1}.T @ d_i          (L products)
                                       inputs   d_{i-1} = d_i @ W_i.T, i >= 2   (L - 1 products)
    The first layer's input gradient (d_0, the data's) is skipped, as PyTorch and MiniTorch skip it.
    """
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((a, b), dtype=np.float32) * 0.05 for a, b in itertools.pairwise(sizes)]
    hs = [rng.standard_normal((batch, sizes[0]), dtype=np.float32)]
    for w in ws:
        hs.append(hs[-1] @ w)
    ds = [np.ones_like(h) for h in hs]
    products = [(f"h{i}@W{i + 1}", hs[i], w) for i, w in enumerate(ws)]
    products += [(f"h{i}.T@d{i + 1}", hs[i].T, ds[i + 1]) for i in range(len(ws))]
    products += [(f"d{i + 1}@W{i + 1}.T", ds[i + 1], ws[i].T) for i in range(1, len(ws))]
    return products


def gemm_step(sizes: tuple[int, ...], batch: int) -> Step:
    """The matrix products alone (see ``gemm_products``), written as a user would: ``a @ b``."""
    products = [(a, b) for _, a, b in gemm_products(sizes, batch)]

    def step() -> None:
        for a, b in products:
            a @ b

    return step


def minitorch_infer(sizes: tuple[int, ...]) -> Step:
    model = minitorch_model(sizes).eval()
    x = batch_pool(sizes, 1)[0][0]
    return lambda: model(x)


def torch_infer(torch: ModuleType, sizes: tuple[int, ...]) -> Step:
    """One sample through the model, inside ``torch.inference_mode()`` (the cheapest torch mode)."""
    model = torch_model(torch, sizes).eval()
    x = torch.from_numpy(batch_pool(sizes, 1)[0][0])

    def infer() -> Any:
        with torch.inference_mode():
            return model(x)

    return infer

