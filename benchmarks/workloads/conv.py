"""Conv2d(32 -> 64, 3x3, stride 1, no padding) forward + backward (with the input's gradient) on
(64, 32, 14, 14) float32, the layer alone, the same weights and upstream gradient in both libraries."""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads._common import Step

BASELINE = "torch"
SHAPE, C_OUT, K = (64, 32, 14, 14), 64, 3


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    out = (SHAPE[0], C_OUT, SHAPE[2] - K + 1, SHAPE[3] - K + 1)
    return rng.standard_normal(SHAPE, dtype=np.float32), rng.standard_normal(out, dtype=np.float32)


def minitorch_conv() -> Step:
    import minitorch as mt

    mt.manual_seed(0)
    layer = mt.Conv2d(SHAPE[1], C_OUT, K)
    x, dy = _data()

    def step() -> Any:
        layer(x)
        dx = layer.backward(dy)
        layer.zero_grad()
        return dx

    return step


def torch_conv() -> Step:
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Conv2d(SHAPE[1], C_OUT, K)
    x, dy = (torch.from_numpy(a) for a in _data())
    x.requires_grad_(True)

    def step() -> Any:
        layer.zero_grad()
        x.grad = None
        layer(x).backward(dy)
        return x.grad

    return step


WORKLOADS = {"conv2d 32->64 3x3 on (64,32,14,14) fwd+bwd": {"mt": minitorch_conv, "torch": torch_conv}}
