"""Small problems, where per-call overhead decides: the Iris-size training step and one-sample inference."""

from __future__ import annotations

from typing import Any

from workloads._common import Step, batch_pool, minitorch_model, minitorch_step, torch_model, torch_step
from workloads.mlp import numpy_step

IRIS = (4, 16, 3)
MLP = (784, 512, 256, 10)
BASELINE = "torch"


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
                            "numpy-hand": lambda: numpy_step(IRIS, 16)},  # the floor for NumPy here
    "infer 784-512-256-10 n1": {"mt": lambda: minitorch_infer(MLP), "torch": lambda: torch_infer(MLP)},
}
