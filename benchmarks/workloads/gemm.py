"""The MLP step's matrix products alone, NumPy's BLAS against PyTorch's: where the MLP rows' gap comes from.

Each row times the 8 float32 products of one 784-512-256-10 training step (``breakdown.gemm_products``:
3 forward, 3 weight gradients, 2 input gradients) on the same arrays and layouts in both libraries:
``a @ b`` on NumPy arrays, and on ``torch.from_numpy`` views of them. No MiniTorch code runs, so the
ratio is the two BLAS libraries alone at the run's thread count.
"""

from __future__ import annotations

from typing import Any

from breakdown import gemm_products

from workloads._common import Step

MLP = (784, 512, 256, 10)
BASELINE = "torch"


def numpy_products(batch: int) -> Step:
    """The step's products through NumPy's matmul (its BLAS)."""
    products = [(a, b) for _, a, b in gemm_products(MLP, batch)]

    def step() -> Any:
        return [a @ b for a, b in products]

    return step


def torch_products(batch: int) -> Step:
    """The same products through PyTorch's matmul, on views of the same arrays."""
    import torch

    products = [(torch.from_numpy(a), torch.from_numpy(b)) for _, a, b in gemm_products(MLP, batch)]

    def step() -> Any:
        with torch.inference_mode():
            return [a @ b for a, b in products]

    return step


WORKLOADS = {
    f"the 8 products of the mlp 784-512-256-10 step, b{batch}": {
        "numpy": (lambda batch=batch: numpy_products(batch)),
        "torch": (lambda batch=batch: torch_products(batch))}
    for batch in (32, 128, 512)
}
