"""The loss of an ignored target is torch's +0.0 (CrossEntropyLoss, NLLLoss, reduction "none"):
-(a sum of zeros) gave -0.0. ``np.testing`` cannot see a zero's sign, so these compare ``np.signbit``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels

# a counted target whose log-probability is +0.0 (its loss is torch's -0.0), a counted one, an ignored one
Z = np.array([[0.0, -200.0], [1.0, 2.0], [0.5, -1.0]], np.float32)
Y = np.array([0, 1, -100])


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("options", [{}, {"weight": [0.0, 1.0]}, {"label_smoothing": 0.1}], ids=str)
@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "NLLLoss"])
def test_an_ignored_targets_loss_is_torchs_positive_zero(kernels, options, loss):
    if loss == "NLLLoss" and "label_smoothing" in options:
        pytest.skip("NLLLoss has no label smoothing")
    z = Z if loss == "CrossEntropyLoss" else torch.log_softmax(torch.tensor(Z), 1).numpy()
    ours = {k: np.array(v, np.float32) if k == "weight" else v for k, v in options.items()}
    theirs = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    expected = getattr(torch.nn.functional, "cross_entropy" if loss == "CrossEntropyLoss" else "nll_loss")(
        torch.tensor(z), torch.tensor(Y), reduction="none", **theirs).numpy()
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        got = getattr(mt, loss)(reduction="none", **ours)(z, Y)
    finally:
        use_kernels(before)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.signbit(got).tolist() == np.signbit(expected).tolist()
