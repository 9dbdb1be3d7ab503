"""The benchmark's parts run and measure what they claim (no timing: only shapes, counts and maths)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import contenders
import prototypes
import report

import minitorch as mt


def test_gemm_floor_is_the_eight_products_of_a_step_without_the_data_gradient():
    products = contenders.gemm_products((784, 512, 256, 10), batch=32)
    shapes = {name: (a.shape, b.shape) for name, a, b in products}
    assert shapes == {
        # forward
        "h0@W1": ((32, 784), (784, 512)), "h1@W2": ((32, 512), (512, 256)), "h2@W3": ((32, 256), (256, 10)),
        # weight gradients
        "h0.T@d1": ((784, 32), (32, 512)), "h1.T@d2": ((512, 32), (32, 256)),
        "h2.T@d3": ((256, 32), (32, 10)),
        # input gradients, but none for the data (d0 = d1 @ W1.T)
        "d2@W2.T": ((32, 256), (256, 512)), "d3@W3.T": ((32, 10), (10, 256)),
    }
    assert all(a.dtype == b.dtype == np.float32 for _, a, b in products)


def test_minitorch_and_torch_steps_train_the_same_model():
    torch = pytest.importorskip("torch")
    sizes = (4, 16, 3)
    pool = contenders.batch_pool(sizes, 16, count=1)
    mt_step, torch_step = contenders.minitorch_step(sizes, pool), contenders.torch_step(torch, sizes, pool)
    mt_losses = [mt_step() for _ in range(5)]
    torch_losses = [torch_step() for _ in range(5)]
    np.testing.assert_allclose(mt_losses, torch_losses, rtol=1e-4)
    assert mt_losses[-1] < mt_losses[0]


@pytest.mark.parametrize("n, c", [(1, 2), (7, 3), (64, 10), (5, 100)])
@pytest.mark.parametrize("options", [{}, {"reduction": "sum"}, {"label_smoothing": 0.1}])
def test_prototype_cross_entropy_matches_the_library(n, c, options):
    rng = np.random.default_rng(n)
    z = (rng.standard_normal((n, c)) * 5).astype(np.float32)
    y = rng.integers(0, c, n)
    probs = rng.dirichlet(np.ones(c), size=n).astype(np.float32)
    dloss = 0.7
    for target in (y, probs):
        a, b = mt.CrossEntropyLoss(**options), prototypes.FastCrossEntropyLoss(**options)
        assert b(z, target) == pytest.approx(a(z, target), rel=1e-5)
        np.testing.assert_allclose(b.backward(dloss), a.backward(dloss), rtol=1e-5, atol=1e-7)


def test_report_pairs_ratios_round_by_round():
    entry = {"torch": {"median_s": 2.0, "rounds_s": [2.0, 20.0, 2.0]},
             "minitorch": {"median_s": 1.0, "rounds_s": [1.0, 10.0, 1.0]}}
    assert report._paired(entry, "torch", "minitorch") == 2.0  # a slow round slows both sides alike
    assert report._verdict("mlp_vs_torch", 1.04) == "MISSED"
    assert report._verdict("step_over_gemm", 1.3) == "met"
    assert report._verdict("iris_vs_torch", None) == "n/a"
