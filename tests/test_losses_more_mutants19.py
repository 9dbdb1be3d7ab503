"""Tests that kill mutants of this round's likelihood, margin and ranking losses which
tests/test_losses_more.py lets live; torch 2.13 is the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import minitorch as mt


@pytest.mark.parametrize("var", [0.5, "array"])
def test_gaussian_nll_float32_input_with_an_integer_target_stays_float32_as_torch(var):
    """An integer target is cast to the loss's dtype before the difference (int64 - float32 would give
    float64)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2)).astype(np.float32)
    t = np.array([[1, 0]] * 3)
    v = 0.5 if var == 0.5 else rng.uniform(0.5, 1.0, (3, 1)).astype(np.float32)
    loss_fn = mt.GaussianNLLLoss(reduction="none")
    loss = loss_fn(x, t, v)
    tv = v if var == 0.5 else torch.tensor(v)
    expected = nn.GaussianNLLLoss(reduction="none")(torch.tensor(x), torch.tensor(t), tv)
    assert expected.dtype == torch.float32
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-6)
