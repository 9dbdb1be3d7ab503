"""Whole training steps: an MLP trained with SGD follows PyTorch's trajectory; seeds reproduce bitwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import tensor, torch_grads, torch_twin

import minitorch as mt


def train_both(dtype, steps=10, lr=0.1, batch=8):
    mt.set_default_dtype(dtype)
    mt.manual_seed(3)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 8), mt.Sigmoid(), mt.Linear(8, 3))
    twin = torch_twin(model)
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=lr)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=lr)
    rng = np.random.default_rng(4)
    for _ in range(steps):
        x = rng.standard_normal((batch, 4)).astype(dtype)
        y = rng.integers(0, 3, batch)
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        twin_loss = torch.nn.functional.cross_entropy(twin(tensor(x)), torch.tensor(y))
        twin_loss.backward()
        yield model, twin, loss, twin_loss.item()
        opt.step()
        opt.zero_grad()
        twin_opt.step()
        twin_opt.zero_grad()


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-5, 1e-6)])
def test_sgd_training_follows_torch(dtype, rtol, atol):
    for model, twin, loss, twin_loss in train_both(dtype):
        np.testing.assert_allclose(loss, twin_loss, rtol=rtol)
        for (name, p), g in zip(model.named_parameters(), torch_grads(model, twin).values(), strict=True):
            assert p.data.dtype == dtype and p.grad.dtype == dtype
            np.testing.assert_allclose(p.grad, g, rtol=rtol, atol=atol, err_msg=name)
    twin_params = [t.detach().numpy() for t in twin.parameters()]
    for p, t in zip(model.parameters(), twin_params, strict=True):
        np.testing.assert_allclose(p.data, t.T if p.data.ndim == 2 else t, rtol=rtol, atol=atol)


def test_sgd_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"lr must be a number in \[0, inf\)"):
        mt.SGD(mt.Linear(2, 2).parameters(), lr=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        mt.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="expected Parameters"):
        mt.SGD([np.zeros(3)], lr=0.1)


def test_sgd_updates_in_place_and_skips_untouched_parameters():
    a, b = mt.Linear(2, 2), mt.Linear(2, 2)
    opt = mt.SGD([*a.parameters(), *b.parameters()], lr=0.5)
    W_array, b_before = a.W.data, b.W.data.copy()
    a(np.ones((1, 2), dtype=np.float32))
    a.backward(np.ones((1, 2), dtype=np.float32))
    expected = a.W.data - 0.5 * a.W.grad
    opt.step()
    assert a.W.data is W_array
    np.testing.assert_array_equal(a.W.data, expected)
    np.testing.assert_array_equal(b.W.data, b_before)


def test_gradients_accumulate_over_minibatches_like_one_big_batch():
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
    loss_fn = mt.MSELoss()
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    loss_fn(model(x), t)
    model.backward(loss_fn.backward())
    whole = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    for part in (slice(0, 3), slice(3, 6)):
        loss_fn(model(x[part]), t[part])
        model.backward(loss_fn.backward(0.5))  # each half-mean weighs 1/2 of the whole mean
    for p, g in zip(model.parameters(), whole, strict=True):
        np.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-7)


def _train_iris(seed):
    mt.manual_seed(seed)
    X, y = mt.datasets.load_iris()
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        for xb, yb in mt.DataLoader(X, y, batch_size=16, shuffle=True):
            loss_fn(model(xb), yb)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()
    return model.state_dict()


def test_same_seed_gives_bitwise_identical_training():
    first, second, other = _train_iris(11), _train_iris(11), _train_iris(12)
    for name in first:
        assert first[name].tobytes() == second[name].tobytes()
    assert any(first[name].tobytes() != other[name].tobytes() for name in first)
