"""Embedding: lookup, scatter-add backward with repeated ids, padding row, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_inputs

import minitorch as mt


@settings(max_examples=30, deadline=None)
@given(num=st.integers(1, 8), dim=st.integers(1, 5), shape=st.lists(st.integers(1, 4), max_size=3),
       padding=st.one_of(st.none(), st.integers(-8, 7)), seed=st.integers(0, 2**31))
def test_embedding_matches_torch_over_shapes_and_padding(num, dim, shape, padding, seed):
    mt.set_default_dtype(np.float64)
    if padding is not None and not -num <= padding < num:
        padding = None
    ids = np.random.default_rng(seed).integers(0, num, shape)
    compare_inputs(mt.Embedding(num, dim, padding_idx=padding), (ids,), rtol=1e-12, atol=1e-12, seed=seed)


def test_repeated_ids_add_up_and_padding_row_stays_zero():
    emb = mt.Embedding(5, 2, padding_idx=0)
    assert np.all(emb.weight.data[0] == 0)
    ids = np.array([[3, 3, 0], [3, 1, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 2) and out.dtype == np.float32
    assert emb.backward(np.ones((2, 3, 2), np.float32)) is None
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0, 1, 0, 3, 0])


def test_init_is_standard_normal_and_seeded():
    mt.manual_seed(3)
    a = mt.Embedding(400, 50).weight.data
    mt.manual_seed(3)
    np.testing.assert_array_equal(a, mt.Embedding(400, 50).weight.data)
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02


@pytest.mark.parametrize("ids, match", [
    (np.array([0.0, 1.0]), r"expected integer ids in \[0, 4\), got dtype float64"),
    (np.array([True, False]), "got dtype bool"),
    (np.array([0, 4]), r"ids must lie in \[0, 4\), got values in \[0, 4\]"),
    (np.array([-1, 2]), r"ids must lie in \[0, 4\), got values in \[-1, 2\]"),
])
def test_bad_ids_raise_naming_the_range(ids, match):
    emb = mt.Embedding(4, 3)
    with pytest.raises(ValueError, match=match):
        emb(ids)


@pytest.mark.parametrize("kwargs", [
    dict(num_embeddings=0, embedding_dim=2), dict(num_embeddings=3, embedding_dim=1.5),
    dict(num_embeddings=3, embedding_dim=2, padding_idx=3),
    dict(num_embeddings=3, embedding_dim=2, padding_idx=True),
])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError, match="Embedding"):
        mt.Embedding(**kwargs)


def test_backward_checks_dy_shape_and_changes_nothing_on_error():
    emb = mt.Embedding(4, 3)
    emb(np.array([1, 2]))
    emb.zero_grad()
    with pytest.raises(ValueError, match=r"Embedding.backward: expected dy of the output's shape \(2, 3\)"):
        emb.backward(np.ones((2, 4)))
    assert emb.weight.grad is None or not np.any(emb.weight.grad)  # None under the renovated contract


def test_empty_ids():
    emb = mt.Embedding(4, 3)
    assert emb(np.zeros((0, 2), np.int64)).shape == (0, 2, 3)


def test_padding_idx_negative_counts_from_the_end_as_torch():
    emb = mt.Embedding(5, 2, padding_idx=-2)
    assert emb.padding_idx == torch.nn.Embedding(5, 2, padding_idx=-2).padding_idx == 3
