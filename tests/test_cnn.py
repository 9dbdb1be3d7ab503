"""A small CNN end to end: whole SGD training steps match PyTorch's, and the digits example learns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from oracle import tensor, torch_twin

import minitorch as mt

ROOT = Path(__file__).resolve().parent.parent


def tiny_cnn() -> mt.Sequential:
    return mt.Sequential(
        mt.Conv2d(1, 4, 3, padding=1), mt.ReLU(), mt.MaxPool2d(2),            # (N, 4, 3, 4)
        mt.Conv2d(4, 5, (2, 3), stride=1, padding="same"), mt.ReLU(),         # (N, 5, 3, 4)
        mt.AvgPool2d(2, stride=1), mt.Flatten(), mt.Linear(5 * 2 * 3, 3),     # (N, 3)
    )


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_sgd_training_steps_of_a_cnn_match_torch(dtype, tol):
    """Forward, cross-entropy, backward, SGD step: parameters agree after every one of 5 steps."""
    mt.set_default_dtype(dtype)
    model = tiny_cnn()
    twin = torch_twin(model)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 1, 6, 8)).astype(dtype)
    y = rng.integers(0, 3, 6)

    loss_fn, optimizer = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.5)
    t_loss_fn, t_optimizer = torch.nn.CrossEntropyLoss(), torch.optim.SGD(twin.parameters(), lr=0.5)
    for _ in range(5):
        loss = loss_fn(model(X), y)
        model.backward(loss_fn.backward())
        optimizer.step()
        optimizer.zero_grad()

        t_loss = t_loss_fn(twin(tensor(X)), torch.tensor(y))
        t_loss.backward()
        t_optimizer.step()
        t_optimizer.zero_grad()

        assert loss == pytest.approx(t_loss.item(), rel=tol)
        for (name, p), tp in zip(model.named_parameters(), twin.parameters(), strict=True):
            theirs = tp.detach().numpy()
            theirs = theirs.T if name.endswith(".W") else theirs  # Linear keeps W as (in, out)
            assert p.dtype == dtype
            np.testing.assert_allclose(p.data, theirs, rtol=tol, atol=tol, err_msg=name)
    assert loss < 1.0  # it learned something, so the comparison covered moving parameters


@pytest.mark.slow  # a whole example run: `make test-slow`
def test_digits_example_reaches_97_percent_in_well_under_a_minute():
    """Runs examples/solve_digits.py as a user would (its own process: one BLAS thread, see there)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "solve_digits.py")],
        capture_output=True, text=True, timeout=120, env=env, check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 21 and lines[0].startswith("Epoch  1/20, Loss: ")
    match = re.fullmatch(r"Test Accuracy: ([\d.]+)% \(360 images\), ([\d.]+) s", lines[-1])
    assert match, lines[-1]
    accuracy, seconds = float(match[1]), float(match[2])
    assert accuracy >= 97.0
    assert seconds < 60
