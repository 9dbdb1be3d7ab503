"""Attention workloads for the benchmark harness (CONTRACT §8): one transformer encoder layer, both libraries.

``WORKLOADS[name][contender]()`` is called once in a fresh process, after thread settings are applied;
it builds data and model (same seeds and shapes for both) and returns ``step()``, one timed iteration:
forward, a sum-of-outputs loss gradient, backward through every parameter and the input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

D_MODEL, NHEAD, FF, N, T = 128, 4, 512, 32, 64


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D_MODEL)).astype(np.float32)
    dy = rng.standard_normal((N, T, D_MODEL)).astype(np.float32)
    return x, dy


def build_minitorch() -> Callable[[], None]:
    import minitorch as mt

    mt.manual_seed(0)
    layer = mt.TransformerEncoderLayer(D_MODEL, NHEAD, FF, norm_first=True, batch_first=True)
    x, dy = _data()
    mask = mt.generate_square_subsequent_mask(T)

    def step() -> None:
        layer.zero_grad()
        layer(x, src_mask=mask, is_causal=True)
        layer.backward(dy)

    return step


def build_torch() -> Callable[[], None]:
    import torch

    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, norm_first=True, batch_first=True)
    x_np, dy_np = _data()
    x, dy = torch.from_numpy(x_np).requires_grad_(), torch.from_numpy(dy_np)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T)

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x, src_mask=mask, is_causal=True).backward(dy)

    return step


BASELINE = "torch"  # ratios are MiniTorch time / PyTorch time

WORKLOADS: dict[str, dict[str, Callable[[], Callable[[], None]]]] = {
    f"transformer-encoder-layer-d{D_MODEL}-h{NHEAD}-ff{FF}-N{N}-T{T} prenorm causal fwd+bwd": {
        "minitorch": build_minitorch,
        "torch": build_torch,
    },
}
