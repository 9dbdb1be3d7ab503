"""Fully masked attention rows: the cases a mutation run of layers/attention_core.py's
``nan_empty_rows`` found no test for, against torch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("average", [True, False])
def test_a_fully_masked_row_is_nan_in_the_dropped_out_weights_as_torch(kernels_on, average):
    """Training with dropout and need_weights=True: torch returns the weights after dropout, and its
    softmax's NaN row stays NaN through it (NaN * 0 is NaN), as do the row's outputs. The NaN places
    are the same whatever the dropout draws."""
    was = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(kernels_on)
    try:
        E, H, N, L, S = 4, 2, 2, 3, 3
        ours = mt.MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=np.float64)
        theirs = torch.nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=torch.float64)
        ours.train(), theirs.train()
        rng = np.random.default_rng(0)
        q, k, v = (rng.standard_normal((N, n, E)) for n in (L, S, S))
        mask = np.zeros((L, S), bool)
        mask[0] = True  # query row 0 may attend to no key
        y, w = ours(q, k, v, attn_mask=mask, need_weights=True, average_attn_weights=average)
        y_t, w_t = theirs(*(torch.tensor(a) for a in (q, k, v)), attn_mask=torch.tensor(mask),
                          need_weights=True, average_attn_weights=average)
        np.testing.assert_array_equal(np.isnan(w), np.isnan(w_t.detach().numpy()))
        np.testing.assert_array_equal(np.isnan(y), np.isnan(y_t.detach().numpy()))
        assert np.isnan(w[..., 0, :]).all() and np.isnan(y[:, 0]).all()
        assert not np.isnan(w[..., 1:, :]).any()
    finally:
        mt.kernels.use_kernels(was)
