"""Holes that mutation testing found in the attention kernels (``minitorch/kernels/attention.py``): each
test here fails on a mutant of that code that the other tests let pass (the mutant is named in the
test's docstring).

- ``dropout_mask``'s scale 1 / (1 - p) is divided in the mask's dtype, as the plain form's, for every p
  (a float64 division rounded to float32 differs in the last bit for p = 0.15, 0.45, ...);
- ``dropout_mask`` with p = 1 gives zeros on a pooled array that held other numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from bitwise import assert_bitwise

import minitorch as mt
from minitorch.kernels import attention as fast
from minitorch.kernels.pool import empty
from minitorch.layers import attention as plain

P_GRID = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.45, 0.5, 0.55, 0.7, 0.85, 0.95, 1.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", P_GRID)
def test_dropout_mask_kernel_equals_the_plain_mask_bitwise_for_every_p(p, dtype):
    """Mutant: ``np.divide(keep, dtype.type(1.0 - p), out=drop)`` -> ``np.divide(keep, 1.0 - p, out=drop)``
    (1 / (1 - p) in float64, then rounded: 1.1764706 for p = 0.15 in float32, where the plain
    keep / float32(0.85) gives 1.1764705)."""
    shape = (2, 3, 4, 5)
    mt.manual_seed(7)
    expected = plain.dropout_mask(shape, p, np.dtype(dtype))
    mt.manual_seed(7)
    got = fast.dropout_mask(shape, p, np.dtype(dtype))
    assert_bitwise(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_kernel_with_p_1_zeroes_a_reused_pooled_array(dtype):
    """Mutant: ``drop.fill(0)`` dropped for p = 1. The pool hands out an array of a previous call, here
    one left full of 7.0: the mask is zeros all the same, as the plain form's np.zeros."""
    shape = (3, 2, 5, 4)
    held = empty(shape, dtype)
    held.fill(7.0)
    del held  # nothing references it: the pool's next array of this shape
    assert_bitwise(fast.dropout_mask(shape, 1.0, np.dtype(dtype)), np.zeros(shape, dtype))


class _Draws:
    """A stand-in for the generator: its uniforms are the given values, repeated to the shape asked."""

    def __init__(self, values):
        self.values = np.asarray(values, np.float64)

    def random(self, size=None, out=None):
        shape = out.shape if out is not None else size
        draws = np.resize(self.values, shape)
        if out is None:
            return draws
        out[...] = draws
        return out


@pytest.mark.parametrize("p", [0.25, 0.5, 0.15])
def test_dropout_mask_kernel_keeps_a_draw_equal_to_p(monkeypatch, p):
    """Mutant: ``np.greater_equal(uniform, p)`` -> ``np.greater``. keep = U >= p: a uniform exactly p is
    kept, by the kernel as by the plain form (a float64 uniform hits p with probability 2**-53, so the
    draws here are given)."""
    from minitorch.layers import dropout as plain_dropout

    draws = _Draws([0.0, np.nextafter(p, 0.0), p, np.nextafter(p, 1.0), 0.75])
    monkeypatch.setattr(plain_dropout, "generator", lambda: draws)
    monkeypatch.setattr(fast, "generator", lambda: draws)
    shape = (2, 1, 3, 5)
    expected = plain.dropout_mask(shape, p, np.dtype(np.float32))
    got = fast.dropout_mask(shape, p, np.dtype(np.float32))
    assert_bitwise(got, expected)
    assert (got[..., 2] == np.float32(1) / np.float32(1 - p)).all()  # U == p: kept
    assert not got[..., :2].any()


@pytest.mark.parametrize("q_dtype, k_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_attention_core_kernels_take_the_plain_result_type_of_two_dtypes(q_dtype, k_dtype):
    """Mutant: the scores' ``np.result_type(qh, kh)`` -> ``qh.dtype``. A float32 qh with float64 keys
    gives float64 scores in the plain form (qh @ kh.T); the kernels give the same dtypes and bits,
    forward and backward."""
    rng = np.random.default_rng(2)
    N, H, L, S, D = 2, 2, 3, 4, 5
    qh = rng.standard_normal((N, H, L, D)).astype(q_dtype)
    kh, vh = (rng.standard_normal((N, H, S, D)).astype(k_dtype) for _ in range(2))
    doh = rng.standard_normal((N, H, L, D)).astype(q_dtype)
    mask = np.where(rng.random((L, S)) < 0.3, -np.inf, 0.0).astype(q_dtype)
    expected = plain.attention_core(qh, kh, vh, mask, None)
    got = fast.attention_core(qh, kh, vh, mask, None)
    assert expected[1].dtype == np.float64
    for g, e in zip(got, expected, strict=True):
        assert_bitwise(g, e)
    p = expected[1]
    expected = plain.attention_core_backward(doh, None, qh, kh, vh, p, None, 0.5)
    got = fast.attention_core_backward(doh, None, qh, kh, vh, p.copy(), None, 0.5)
    for g, e in zip(got, expected, strict=True):
        assert_bitwise(g, e)


def test_attention_core_kernel_gives_a_row_with_a_plus_inf_score_nan_weights_as_the_plain_form():
    """Mutant: ``m[np.isneginf(m)] = 0.0`` -> ``m[np.isinf(m)] = 0.0``. A row whose max score is +inf
    (here a +inf in the additive mask) keeps its max: s - max is nan there and -inf elsewhere, so the
    whole row's weights are nan, in the plain form as in torch.softmax (the mutant gave nan only where
    the score is +inf and 0 elsewhere). Rows without +inf are untouched."""
    rng = np.random.default_rng(3)
    qh, kh, vh = (rng.standard_normal(shape) for shape in ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)))
    mask = np.zeros((3, 5))
    mask[0, 1] = np.inf
    mask[2, 1:] = -np.inf
    with np.errstate(invalid="ignore"):
        expected = plain.attention_core(qh, kh, vh, mask, None)
        got = fast.attention_core(qh, kh, vh, mask, None)
    assert np.isnan(expected[1][:, :, 0]).all() and not np.isnan(expected[1][:, :, 1:]).any()
    for g, e in zip(got, expected, strict=True):
        assert_bitwise(g, e)
