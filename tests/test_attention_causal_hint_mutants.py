"""is_causal with an explicit attn_mask (layers/attention_masks.py's ``is_causal_mask``): the cases a
mutation run found no test for."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


@pytest.mark.parametrize("below", [0.5, -np.inf])
def test_a_causal_mask_with_an_entry_below_the_diagonal_is_refused_with_the_hint(below):
    """-inf exactly above the diagonal but one entry at or below it not 0: not the causal mask (torch's
    answer would depend on its code path), so is_causal=True is refused."""
    m = mt.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64)
    x = np.ones((2, 3, 4))
    mask = np.triu(np.full((3, 3), -np.inf), k=1)
    mask[2, 0] = below
    with pytest.raises(ValueError, match=r"is_causal=True is PyTorch's hint .* pass is_causal=False"):
        m(x, x, x, attn_mask=mask, is_causal=True)
