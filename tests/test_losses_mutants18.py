"""Mutation survivors of the losses' dtype promotion and the functional torch names, each killed here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt

ELEMENTWISE = [mt.MSELoss, mt.L1Loss, mt.SmoothL1Loss, mt.HuberLoss]


@pytest.mark.parametrize("loss_cls", ELEMENTWISE)
@pytest.mark.parametrize("target", [np.array(["0.5", "1.5"]), np.array([0.5 + 1j, 1.5])],
                         ids=["strings", "complex"])
def test_an_elementwise_loss_refuses_a_non_numeric_target(loss_cls, target):
    # a string target was cast to the input's dtype ("0.5" -> 0.5), a complex one lost its imaginary part
    x = np.array([0.25, 1.0], dtype=np.float32)
    with pytest.raises(TypeError, match=f"{loss_cls.__name__}: expected a numeric array"):
        loss_cls()(x, target)


@pytest.mark.parametrize("y", [np.array([1]), np.zeros(0, np.int64)], ids=["one-index", "empty"])
def test_one_hot_refuses_num_classes_below_minus_one(y):
    # -2 passed the check: an empty y then gave a (0, 0) array (torch raises for both)
    with pytest.raises(ValueError, match=r"one_hot: num_classes must be -1 .* got -2"):
        mt.functional.one_hot(y, num_classes=-2)


@pytest.mark.parametrize("shape, torch_dim", [((2, 3, 4), 0), ((2, 3, 4, 5), 1), ((1, 2, 1, 2, 1), 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_a_dim_names_torchs_implicit_dim(shape, torch_dim, name):
    with pytest.raises(ValueError, match=rf"torch's {name} would take dim={torch_dim} there"):
        getattr(mt.functional, name)(np.zeros(shape))


@pytest.mark.parametrize("beta", [3.7275154726519277, 2.8743493392752066, 1.7012355784768993])
def test_smooth_l1_at_d_equal_to_beta_is_torchs_linear_branch_bit_for_bit(beta):
    # |d| = beta takes |d| - beta/2 as torch (0.5 * d * d / beta rounds one ulp away at these betas)
    x = np.array([beta, -beta, 0.0])
    ours = mt.SmoothL1Loss(reduction="none", beta=beta)(x, np.zeros(3))
    theirs = torch.nn.functional.smooth_l1_loss(torch.tensor(x), torch.zeros(3, dtype=torch.float64),
                                                reduction="none", beta=beta).numpy()
    np.testing.assert_array_equal(ours, theirs)
