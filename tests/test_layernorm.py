"""LayerNorm: shapes given as int or tuple, per-sample standardisation, errors, dtype discipline.

Gradcheck and the PyTorch oracle (output, dx, dweight, dbias) run from tests/cases.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_module

import minitorch as mt


def test_normalized_shape_is_stored_as_a_tuple():
    assert mt.LayerNorm(4).normalized_shape == (4,)
    assert mt.LayerNorm([3, 4]).normalized_shape == (3, 4)
    assert mt.LayerNorm(np.int64(5)).weight.shape == (5,)
    assert mt.LayerNorm((3, 4)).bias.shape == (3, 4)


@settings(max_examples=20, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       norm=st.lists(st.integers(2, 4), min_size=1, max_size=2), seed=st.integers(0, 2**16))
def test_each_sample_is_standardised_over_the_last_dims(lead, norm, seed):
    rng = np.random.default_rng(seed)
    shape = (*lead, *norm)
    x = rng.standard_normal(shape) * rng.uniform(0.1, 100) + rng.uniform(-1e3, 1e3)
    mt.set_default_dtype(np.float64)
    ln = mt.LayerNorm(tuple(norm), eps=0.0)
    y = ln(x)
    axes = tuple(range(len(lead), len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-9)
    g = rng.standard_normal(shape)
    dx = ln.backward(g)
    # a shift or a scaling of one sample leaves its output unchanged: dx is orthogonal to both.
    # dx = (g - mean(g) - y mean(g y)) / std sums terms as large as |g| / std, and y = (x - mean) / std
    # carries x - mean's rounding, relative |x| / std; so the residue is bounded by
    # eps (|x| / std) (|g| / std) per term (a row of two values 1e-3 apart near 700 leaves dx
    # ~3e-8 where it is 0 exactly: any two-value row normalises to -1, 1). A wrong dx misses by
    # about |g| / std itself.
    scale = 1.0 + np.abs(dx).max() + np.abs(g).max() / x.std(axis=axes).min()
    condition = np.abs(x).max() / x.std(axis=axes).min()
    atol = max(1e-11, 1e-14 * condition) * scale * x.size
    np.testing.assert_allclose(dx.sum(axis=axes), 0.0, atol=atol)
    np.testing.assert_allclose((dx * y).sum(axis=axes), 0.0, atol=atol)


def test_constant_rows_and_huge_values_match_torch(float64):
    rng = np.random.default_rng(0)
    x = np.stack([np.full(5, 7.0), 1e8 + rng.standard_normal(5), 1e4 * rng.standard_normal(5)])
    ln = mt.LayerNorm(5)
    ln.weight.data[...] = rng.standard_normal(5)
    compare_module(ln, x, rtol=1e-6, atol=1e-9)  # 1e8 + N(0, 1): both libraries keep ~7 digits
    assert (ln(x)[0] == ln.bias.data).all()


def test_float32_layer_keeps_float64_data_float32():
    ln = mt.LayerNorm(3)
    y = ln(np.random.default_rng(0).standard_normal((2, 3)))
    assert y.dtype == np.float32 and ln.backward(np.ones((2, 3))).dtype == np.float32
    assert mt.LayerNorm(3, elementwise_affine=False)(np.ones((2, 3))).dtype == np.float64  # input's dtype


def test_state_and_parameters_match_torch():
    for kwargs in ({}, {"elementwise_affine": False}, {"bias": False}):
        ours = mt.LayerNorm((2, 3), **kwargs)
        theirs = torch.nn.LayerNorm((2, 3), **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


@pytest.mark.parametrize("shape", [0, (), (3, 0), "4", 2.0, None, (2, True)])
def test_bad_normalized_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="LayerNorm"):
        mt.LayerNorm(shape)


def test_errors_and_repr():
    with pytest.raises(ValueError, match="eps"):
        mt.LayerNorm(3, eps=-1)
    ln = mt.LayerNorm((3, 4))
    expected = r"LayerNorm\(normalized_shape=\(3, 4\)\): expected input \(\*, 3, 4\), got \(2, 4, 3\)"
    with pytest.raises(ValueError, match=expected):
        ln(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        ln(np.zeros(4))
    with pytest.raises(RuntimeError, match="before forward"):
        ln.backward(np.ones((2, 3, 4)))
    assert repr(ln) == "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)"
    assert repr(mt.LayerNorm(2, bias=False)) == (
        "LayerNorm((2,), eps=1e-05, elementwise_affine=True, bias=False)")
