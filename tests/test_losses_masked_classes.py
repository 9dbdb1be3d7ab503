"""CrossEntropyLoss and NLLLoss take -inf in a class's score, as torch does (a logit masked with
-inf, or the log_softmax of one): a class the target does not hold adds nothing, the target's -inf
gives torch's inf; NaN and +inf stay refused by name. Before, any -inf was refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_cross_entropy_wide_logits import loss_and_grad

import minitorch as mt

OPTIONS = [{}, {"weight": [1.0, 2.0, 3.0]}, {"ignore_index": 0}, {"reduction": "none"}, {"reduction": "sum"},
           {"label_smoothing": 0.1}]
NINF = -np.inf


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("at_target", [False, True])
def test_a_masked_class_gives_torchs_loss_and_gradient(kernels, options, name, at_target):
    z = np.array([[NINF, 1.0, 2.0], [0.5, NINF, -1.0], [3.0, 0.0, NINF]], np.float32)
    y = np.array([1, 0, 2 if at_target else 1])
    if name == "nll_loss":
        if "label_smoothing" in options:
            return
        with np.errstate(divide="ignore"):
            z = np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)).astype(np.float32)
    cls = mt.CrossEntropyLoss if name == "cross_entropy" else mt.NLLLoss
    ours = {k: (np.array(v, np.float32) if k == "weight" else v) for k, v in options.items()}
    theirs = {k: (torch.tensor(v) if k == "weight" else v) for k, v in options.items()}
    zt = torch.tensor(z, requires_grad=True)
    expected = getattr(torch.nn.functional, name)(zt, torch.tensor(y), **theirs)
    grad, = torch.autograd.grad(expected.sum(), zt)
    loss, dz = loss_and_grad(kernels, z, y, cls, **ours)
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(dz, grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", [mt.CrossEntropyLoss, mt.NLLLoss])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_plus_inf_stays_refused_by_name(cls, bad):
    x = np.array([[bad, 0.0, -1.0]], np.float32)
    with pytest.raises(ValueError, match=r"input contains NaN or \+inf \(expected finite values, or -inf"):
        cls()(x, np.array([1]))
