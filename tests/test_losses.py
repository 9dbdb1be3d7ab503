"""MSELoss and the fused CrossEntropyLoss: PyTorch oracle, stability, properties and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor

import minitorch as mt


def torch_cross_entropy(logits, target):
    z = tensor(logits, requires_grad=True)
    t = torch.tensor(target) if np.asarray(target).dtype.kind in "iu" else tensor(target)
    loss = torch.nn.functional.cross_entropy(z, t)
    loss.backward()
    return loss.item(), z.grad.numpy()


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_matches_torch_float64(scale, target_kind):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)) * scale
    target = rng.integers(0, 4, 6) if target_kind == "indices" else rng.dirichlet(np.ones(4), 6)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, target)
    dz = loss_fn.backward()
    expected_loss, expected_dz = torch_cross_entropy(logits, target)
    assert isinstance(loss, float) and np.isfinite(loss)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-10)
    np.testing.assert_allclose(dz, expected_dz, rtol=1e-10, atol=1e-14)


def test_cross_entropy_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((8, 5)) * 1e4).astype(np.float32)
    y = rng.integers(0, 5, 8)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, y)
    dz = loss_fn.backward()
    expected_loss, expected_dz = torch_cross_entropy(logits, y)
    assert dz.dtype == np.float32
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(dz, expected_dz, rtol=1e-5, atol=1e-6)


def test_cross_entropy_gradient_is_p_minus_onehot_over_n():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    y = np.array([0, 2])
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss_fn.backward(), (p - np.eye(3)[y]) / 2, rtol=1e-14)
    np.testing.assert_allclose(loss_fn.backward(3.0), 3 * (p - np.eye(3)[y]) / 2, rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.floats(-1e3, 1e3), n=st.integers(1, 5), c=st.integers(1, 5))
def test_cross_entropy_is_nonnegative_and_shift_invariant(seed, shift, n, c):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 5
    y = rng.integers(0, c, n)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, y)
    assert loss >= 0
    np.testing.assert_allclose(loss_fn(logits + shift, y), loss, rtol=1e-9, atol=1e-9)
    probs = loss_fn._probs
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize(
    "target, message",
    [
        (np.array([0, 3]), r"class indices must lie in \[0, 3\), got values in \[0, 3\]"),
        (np.array([-1, 0]), r"must lie in \[0, 3\)"),
        (np.array([0.0, 1.0]), "expected integer class indices, got dtype float64"),
        (np.array([0, 1, 2]), r"expected target class indices \(2,\)"),
        (np.array([[0, 1, 0], [1, 0, 0]]), "must be floating"),
    ],
)
def test_cross_entropy_rejects_bad_labels(target, message):
    with pytest.raises(ValueError, match=message):
        mt.CrossEntropyLoss()(np.zeros((2, 3)), target)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cross_entropy_rejects_non_finite_logits(bad):
    logits = np.zeros((2, 3))
    logits[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        mt.CrossEntropyLoss()(logits, np.array([0, 1]))


def test_cross_entropy_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"expected logits \(N, C\), got shape \(3,\)"):
        mt.CrossEntropyLoss()(np.zeros(3), np.array([0]))


def test_mse_matches_torch():
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss_fn = mt.MSELoss()
    loss = loss_fn(x, t)
    dx = loss_fn.backward()
    xt = tensor(x, requires_grad=True)
    expected = torch.nn.functional.mse_loss(xt, tensor(t))
    expected.backward()
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12)


def test_mse_float32_gradient_stays_float32():
    loss_fn = mt.MSELoss()
    loss_fn(np.ones(3, dtype=np.float32), np.zeros(3))
    assert loss_fn.backward().dtype == np.float32


def test_mse_rejects_shape_mismatch_and_nan():
    with pytest.raises(ValueError, match=r"expected target of the input's shape \(2, 3\), got \(3, 2\)"):
        mt.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="target contains NaN"):
        mt.MSELoss()(np.zeros(2), np.array([0.0, np.nan]))


@pytest.mark.parametrize("loss_fn", [mt.MSELoss(), mt.CrossEntropyLoss()], ids=lambda m: type(m).__name__)
def test_loss_backward_before_forward_says_so(loss_fn):
    with pytest.raises(RuntimeError, match="before forward"):
        loss_fn.backward()
