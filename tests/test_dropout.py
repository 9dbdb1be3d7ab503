"""Dropout: the mask comes from mt.random.generator(), is scaled by 1 / (1 - p), and backward reuses it.

torch cannot share MiniTorch's generator, so the training-mode oracle rebuilds our mask from the
same seed and runs torch's autograd on x * mask / (1 - p); eval mode is compared with
torch.nn.Dropout directly (tests/cases.py, "Dropout-eval"). The gradcheck replays the generator.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import batch_sizes, features

import minitorch as mt


def _our_mask(seed: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    """The keep mask Dropout draws right after manual_seed(seed)."""
    return mt.manual_seed(seed).random(shape) >= p


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-15), (np.float32, 1e-7)])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_training_matches_torch_with_the_same_mask(dtype, rtol, p):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7)).astype(dtype)
    dy = rng.standard_normal((6, 7)).astype(dtype)
    keep = _our_mask(3, x.shape, p)
    mt.manual_seed(3)
    drop = mt.Dropout(p)
    y = drop(x)
    dx = drop.backward(dy)

    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * (torch.tensor(keep).to(x_t.dtype) / (1 - p))  # torch's dropout formula, our mask
    y_t.backward(torch.tensor(dy))
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol, atol=0)
    assert ((y == 0) == ~keep).all() and ((dx == 0) == ~keep).all()


def test_eval_mode_and_p_zero_are_the_identity():
    x = np.random.default_rng(0).standard_normal((4, 5))
    drop = mt.Dropout(0.5).eval()
    assert drop(x) is x and drop(x) is x
    assert drop.backward(x) is not None
    np.testing.assert_array_equal(drop.backward(2 * x), 2 * x)
    state = mt.random.generator().bit_generator.state
    np.testing.assert_array_equal(mt.Dropout(0.0)(x), x)
    assert mt.random.generator().bit_generator.state == state  # nothing drawn


def test_backward_uses_the_forward_mask_even_after_eval():
    drop = mt.Dropout(0.5)
    y = drop(np.ones((50, 4)))
    drop.eval()  # the mode that counts is the one forward ran in
    np.testing.assert_array_equal(drop.backward(np.ones((50, 4))), y)
    with pytest.raises(RuntimeError, match="Run forward first"):  # one backward per forward
        drop.backward(np.ones((50, 4)))


def test_mask_statistics_and_expectation():
    p = 0.3
    drop = mt.Dropout(p)
    y = drop(np.ones((200, 500)))
    kept = (y != 0).mean()
    sigma = np.sqrt(p * (1 - p) / y.size)
    assert abs(kept - (1 - p)) < 5 * sigma
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / (1 - p)], rtol=1e-7)
    assert abs(y.mean() - 1.0) < 5 * sigma / (1 - p)  # inverted dropout: E[y] = x
    # rows and columns are dropped independently: no structure in the mask
    assert abs(np.corrcoef((y[:, :-1] != 0).ravel(), (y[:, 1:] != 0).ravel())[0, 1]) < 0.02


def test_masks_are_seeded_and_fresh_each_call():
    mt.manual_seed(7)
    first, second = mt.Dropout(0.5)(np.ones(100)), mt.Dropout(0.5)(np.ones(100))
    assert not np.array_equal(first, second)
    mt.manual_seed(7)
    np.testing.assert_array_equal(mt.Dropout(0.5)(np.ones(100)), first)


@settings(max_examples=15, deadline=None)
@given(n=batch_sizes, d=features, p=st.floats(0.0, 0.95), seed=st.integers(0, 1000))
def test_any_shape_and_p(n, d, p, seed):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    mt.manual_seed(seed)
    drop = mt.Dropout(p)
    y = drop(x)
    dx = drop.backward(x)
    assert y.shape == x.shape and y.dtype == np.float32 and dx.dtype == np.float32
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / np.float32(1 - p), rtol=1e-6)
    np.testing.assert_array_equal(dx, y)  # dy = x: the same mask and scale


def test_gradcheck_in_training_mode_replays_the_mask(float64):
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert mt.gradcheck(mt.Sequential(mt.Linear(4, 5), mt.Dropout(0.5), mt.Linear(5, 2)), x)


@pytest.mark.parametrize("p", [-0.1, 1.0001, 1.5, float("nan"), "0.5", None, True])
def test_p_outside_zero_one_is_rejected(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be a number in \[0, 1\], got"):
        mt.Dropout(p)


P1_MODULES = {
    "Dropout": (lambda: mt.Dropout(1.0), lambda: torch.nn.Dropout(1.0), (3, 5)),
    "Dropout2d": (lambda: mt.Dropout2d(1.0), lambda: torch.nn.Dropout2d(1.0), (2, 3, 2, 2)),
    "Dropout2d-3d": (lambda: mt.Dropout2d(1.0), lambda: torch.nn.Dropout2d(1.0), (2, 3, 4)),
}


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input:UserWarning")  # torch's, not ours
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(P1_MODULES))
def test_p_one_gives_torchs_zeros_and_its_nan_for_nonfinite_values(name, dtype, kernels, monkeypatch):
    """p = 1 is torch's x * 0 (its p == 1 branch): zeros, nan where x or dy is nan or +-inf, and no
    draw; MiniTorch refused p = 1, and keep / (1 - p) would have been 0 / 0 = nan everywhere."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    ours_factory, theirs_factory, shape = P1_MODULES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    x.flat[[0, 1, 2]] = [np.nan, np.inf, -np.inf]
    dy.flat[[3, 4, 5]] = [np.nan, np.inf, -np.inf]
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs_factory().train()(x_t)
    y_t.backward(torch.tensor(dy))
    drop = ours_factory()
    state = mt.random.generator().bit_generator.state
    with np.errstate(invalid="ignore"):
        y = drop(x)
        dx = drop.backward(dy)
    assert mt.random.generator().bit_generator.state == state  # nothing drawn, as torch's p == 1 branch
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(y, y_t.detach().numpy())  # nan where torch has nan, 0 elsewhere
    np.testing.assert_array_equal(dx, x_t.grad.numpy())


def test_p_one_gradcheck_gives_zero_gradients(float64):
    x = np.random.default_rng(0).standard_normal((3, 4))
    model = mt.Sequential(mt.Linear(4, 5), mt.Dropout(1.0), mt.Linear(5, 2))
    assert mt.gradcheck(model, x)
    model.zero_grad()
    model.backward(np.ones_like(model(x)))
    np.testing.assert_array_equal(model[0].W.grad, 0)


def test_errors_and_repr():
    drop = mt.Dropout(0.25)
    assert repr(drop) == "Dropout(p=0.25)"
    with pytest.raises(RuntimeError, match="before forward"):
        drop.backward(np.ones(3))
    drop(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of the output's shape \(2, 3\)"):
        drop.backward(np.ones(3))
