"""Where one MiniTorch training step spends its time, next to the floor set by its matrix products.

    python benchmarks/breakdown.py          # JSON on stdout (bench.py runs it in a fresh process per round)

For each size it times, in this one process and in alternating blocks: the ``mt.fit`` step split into
forward, loss (forward and backward), backward_params, update (``opt.step``) and zero_grad; the same
step with the update done by the fast kernel (``minitorch.kernels.optimizers.sgd``) instead; the step's
matrix products alone (the GEMM floor, ``gemm_products``); the README loop's one extra product,
the data's gradient d1 @ W1.T; and the step ``mt.fit`` runs as a whole (``workloads._common.
minitorch_step``: where its whole-step kernel takes the step, the five parts are not run one by one,
so the split above is of the five calls' path). With plain SGD, from the second step the large
weights' gradient products are deferred by ``backward_params`` and computed inside the update
(``minitorch/kernels/gemm_update.py``), so their time is in the "update" part of that split and
out of "backward_params"; the fast-kernel variant calls the SGD kernel itself, which folds
nothing, so nothing is deferred there and its split keeps the products in "backward_params".
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads._common import LR, batch_pool, minitorch_model, minitorch_step

SIZES = {"mlp b32": ((784, 512, 256, 10), 32), "mlp b128": ((784, 512, 256, 10), 128),
         "mlp b512": ((784, 512, 256, 10), 512), "iris b16": ((4, 16, 3), 16)}
PARTS = ("forward", "loss", "backward_params", "update", "zero_grad")


def gemm_products(sizes: tuple[int, ...], batch: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The float32 matrix products of one training step, with their shapes.

    For layers i = 1..L with h_0 = X:  forward  h_i = h_{i-1} @ W_i            (L products)
                                       weights  dW_i = h_{i-1}.T @ d_i          (L products)
                                       inputs   d_{i-1} = d_i @ W_i.T, i >= 2   (L - 1 products)
    The first layer's input gradient (d_0, the data's) is not in the floor: training never uses it.
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


def instrumented_step(sizes: tuple[int, ...], batch: int, kernel: bool) -> tuple[Callable[[], None], dict]:
    """The mt.fit step, adding each part's seconds into the returned dict; ``kernel``: fast update."""
    import minitorch as mt
    from minitorch.kernels import optimizers as fast

    model, loss_fn = minitorch_model(sizes), mt.CrossEntropyLoss()
    opt = mt.SGD(model.parameters(), lr=LR)
    params = list(model.parameters())
    data = itertools.cycle(batch_pool(sizes, batch))
    spent = dict.fromkeys(PARTS, 0.0)

    def update() -> None:
        if kernel:
            fast.sgd(params, [p.grad for p in params], [None] * len(params), lr=LR, momentum=0.0,
                     dampening=0.0, weight_decay=0.0, nesterov=False)
        else:
            opt.step()

    def step() -> None:
        xb, yb = next(data)
        t0 = time.perf_counter()
        z = model(xb)
        t1 = time.perf_counter()
        loss_fn(z, yb)
        dz = loss_fn.backward()
        t2 = time.perf_counter()
        model.backward_params(dz)
        t3 = time.perf_counter()
        update()
        t4 = time.perf_counter()
        opt.zero_grad()
        t5 = time.perf_counter()
        for part, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            spent[part] += dt

    return step, spent


def measure(sizes: tuple[int, ...], batch: int, blocks: int, block_s: float,
            warm_s: float = 0.05) -> dict[str, Any]:
    """Median over blocks of each part (seconds per step), the GEMM floor and the data-gradient product."""
    products = [(a, b) for _, a, b in gemm_products(sizes, batch)]
    rng = np.random.default_rng(2)
    d1, w1t = rng.standard_normal((batch, sizes[1]), dtype=np.float32), \
        rng.standard_normal((sizes[0], sizes[1]), dtype=np.float32).T
    plain, plain_spent = instrumented_step(sizes, batch, kernel=False)
    fast, fast_spent = instrumented_step(sizes, batch, kernel=True)

    def gemms() -> None:
        for a, b in products:
            a @ b

    timed: dict[str, Callable[[], Any]] = {"plain": plain, "fast": fast, "gemm": gemms,
                                           "data_grad": lambda: d1 @ w1t, "fit": minitorch_step(sizes, batch)}
    calls = {}
    for name, fn in timed.items():
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < warm_s or n < 3:
            fn()
            n += 1
        calls[name] = max(1, round(block_s * n / (time.perf_counter() - start)))
    per_block: dict[str, list[float]] = {}
    gc.collect()
    gc.freeze()  # what exists now is never garbage: the collect before each block scans only the rest
    for b in range(blocks):
        names = list(timed)[b % len(timed):] + list(timed)[: b % len(timed)]
        for name in names:
            before = dict(plain_spent if name == "plain" else fast_spent)
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            for _ in range(calls[name]):
                timed[name]()
            total = (time.perf_counter() - start) / calls[name]
            gc.enable()
            per_block.setdefault(name, []).append(total)
            if name in ("plain", "fast"):
                spent = plain_spent if name == "plain" else fast_spent
                for part in PARTS:
                    per_block.setdefault(f"{name}:{part}", []).append(
                        (spent[part] - before[part]) / calls[name])
    return {key: statistics.median(values) for key, values in per_block.items()}


def layer_times(sizes: tuple[int, ...], batch: int, steps: int) -> dict[str, float]:
    """Each child's forward and backward timed inside the ``mt.fit`` step, beside its products alone.

    Every child of the model gets instance wrappers around ``forward`` and ``backward`` /
    ``backward_params`` (what ``Sequential`` calls for a chain of large layers, which its chain
    kernel runs child by child), the loss and the update are timed around their calls, and each
    figure is the 10th percentile over ``steps`` steps (the steps that had the cores). Then each
    of the step's products (``gemm_products``) is timed alone, looped, the same way. A part's time
    above its products' is what the step spends around them: element-wise passes, the arrays'
    lines arriving from the other core or from memory, Python calls.
    """
    import minitorch as mt

    model, loss_fn = minitorch_model(sizes), mt.CrossEntropyLoss()
    opt = mt.SGD(model.parameters(), lr=LR)
    data = itertools.cycle(batch_pool(sizes, batch))
    spent: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            start = time.perf_counter()
            out = fn(*args)
            spent.setdefault(name, []).append(time.perf_counter() - start)
            return out
        return call

    for i, child in enumerate(model):
        label = f"{i}:{type(child).__name__}"
        child.forward = timed(f"forward {label}", child.forward)
        for method in ("backward", "backward_params"):
            setattr(child, method, timed(f"{method} {label}", getattr(child, method)))
    loss_call, loss_back = timed("loss forward", loss_fn), timed("loss backward", loss_fn.backward)
    update, zero = timed("update", opt.step), timed("zero_grad", opt.zero_grad)
    for n in range(steps + 20):
        if n == 20:
            spent.clear()  # warm-up
        xb, yb = next(data)
        loss_call(model(xb), yb)
        model.backward_params(loss_back())
        update()
        zero()
    out = {name: float(np.percentile(values, 10)) for name, values in spent.items()}
    for name, a, b in gemm_products(sizes, batch):
        times = []
        for n in range(steps + 5):
            start = time.perf_counter()
            a @ b
            if n >= 5:
                times.append(time.perf_counter() - start)
        out[f"alone {name}"] = float(np.percentile(times, 10))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--block-s", type=float, default=0.04)
    parser.add_argument("--warm-s", type=float, default=0.05)
    parser.add_argument("--layers", type=int, default=0, metavar="STEPS",
                        help="instead: each child's forward/backward inside the MLP steps, STEPS steps "
                             "(layer_times), beside the products alone")
    args = parser.parse_args(argv)
    import minitorch as mt

    # the step and its GEMM floor at the same, fixed thread count (the process's BLAS count): the
    # default policy would pick a count per model from measured step times (minitorch/threads.py)
    mt.set_num_threads(mt.get_num_threads())
    if args.layers:
        out = {name: layer_times(sizes, batch, args.layers) for name, (sizes, batch) in SIZES.items()
               if name.startswith("mlp")}
    else:
        out = {name: measure(sizes, batch, args.blocks, args.block_s, args.warm_s)
               for name, (sizes, batch) in SIZES.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
