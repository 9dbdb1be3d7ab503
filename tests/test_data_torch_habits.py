"""Data as a PyTorch user drives it by habit, against torch.utils.data 2.13: a Subset indexed by a
list, random_split's fractions (any numbers summing to 1, NumPy floats included), DataLoader's
``generator=`` for the shuffle, and the batches of every data form with and without drop_last."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils import data as torch_data

import minitorch as mt

grid = settings(max_examples=60, deadline=None)


@grid
@given(n=st.integers(1, 8), seed=st.integers(0, 2**16), data=st.data())
def test_a_subset_indexed_by_a_list_is_torchs_batch(n, seed, data):
    """torch's Subset passes a list of positions on to its dataset as one list: a TensorDataset gives
    one batch (a tuple of arrays), so ``xb, yb = subset[[0, 1]]`` unpacks features and labels.
    Before, MiniTorch gave a list of samples: with two positions ``xb, yb`` were two samples."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, 3)), rng.integers(0, 5, n)
    indices = rng.permutation(n)[: data.draw(st.integers(1, n))].tolist()
    positions = data.draw(st.lists(st.integers(0, len(indices) - 1), min_size=1, max_size=4))
    ours = mt.Subset(mt.TensorDataset(X, y), indices)[positions]
    theirs = torch_data.Subset(torch_data.TensorDataset(torch.tensor(X), torch.tensor(y)), indices)[positions]
    assert isinstance(ours, tuple) and len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    xb, yb = mt.Subset(mt.TensorDataset(X, y), indices)[np.array(positions)]  # a 1-D array: the same
    np.testing.assert_array_equal(xb, theirs[0].numpy())
    np.testing.assert_array_equal(yb, theirs[1].numpy())


FRACTIONS = [[1, 0], [0, 1], [1], [0, 0, 1], [np.float32(0.5), np.float32(0.5)], [np.float64(0.3), 0.7],
             [0.25, np.float32(0.75)], [0.8, 0.2], [1 / 3] * 3, [0.1] * 10, [0.5, 0.5, 0.0]]


@pytest.mark.parametrize("lengths", FRACTIONS, ids=str)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 10, 13])
def test_random_split_reads_fractions_as_torch(n, lengths):
    """Any numbers whose sum is 1 are fractions, as torch's: [1, 0] of 5 samples is 5 and 0, and
    NumPy float32 fractions split as Python floats do. Before, both were a ValueError (only Python
    floats counted as fractions). The sizes are torch's, the remainder dealt round-robin."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn "Length of split at index 0 is 0"
        ours = [len(s) for s in mt.random_split(list(range(n)), lengths, generator=0)]
        theirs = [len(s) for s in torch_data.random_split(list(range(n)), lengths)]
    assert ours == theirs


@pytest.mark.parametrize("make", [lambda s: s, np.random.default_rng], ids=["int", "Generator"])
@pytest.mark.parametrize("form", ["arrays", "dataset"])
def test_dataloader_shuffles_with_its_own_generator(make, form):
    """``generator=`` (torch's keyword; before, a TypeError): one seed, one sequence of epoch orders,
    each epoch a new order, and the library generator (``mt.manual_seed``'s) left untouched."""
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)

    def epochs(seed):
        data = (X, y) if form == "arrays" else (mt.TensorDataset(X, y),)
        loader = mt.DataLoader(*data, batch_size=4, shuffle=True, generator=make(seed))
        return [np.concatenate([yb for _, yb in loader]).tolist() for _ in range(3)]

    mt.manual_seed(0)
    state = mt.random.generator().bit_generator.state
    first, again, other = epochs(7), epochs(7), epochs(8)
    assert first == again and first != other
    assert first[0] != first[1] and sorted(first[0]) == list(range(10))
    assert mt.random.generator().bit_generator.state == state


@pytest.mark.parametrize("data", [(mt.TensorDataset(np.zeros((4, 2))),), (np.zeros((4, 2)),)])
def test_torchs_positional_batch_size_is_named(data):
    """torch's DataLoader(dataset, 64) passes batch_size second; MiniTorch's second argument is y.
    Before, the error said a Dataset carries its own targets, or that X and y differ in length."""
    expected = (r"DataLoader: the second argument is y, .* got 2: torch's DataLoader\(dataset, 2\) is "
                r"DataLoader\(dataset, batch_size=2\) here")
    with pytest.raises(ValueError, match=expected):
        mt.DataLoader(*data, 2)


def test_dataloader_names_a_generator_it_cannot_use():
    with pytest.raises(ValueError, match=r"DataLoader: generator must be a non-negative int or a np\.random"):
        mt.DataLoader(np.zeros((4, 1)), generator=torch.Generator())


FORMS = ["arrays", "TensorDataset", "pairs", "dicts", "Subset"]


@pytest.mark.parametrize("form, n", [(form, n) for form in FORMS for n in [0, 1, 7, 8]
                                     if n or form not in ("pairs", "dicts")])  # (no empty list of samples)
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 9])
def test_dataloader_batches_are_torchs(form, n, drop_last, batch_size):
    """Unshuffled, every data form gives torch's batches (values, dtypes, count and len), the last
    partial one kept unless drop_last: the reference for the fixes above (it passed before them)."""
    X, y = np.arange(2.0 * n, dtype=np.float32).reshape(n, 2), np.arange(n)
    tds = torch_data.TensorDataset(torch.tensor(X), torch.tensor(y))
    ours_data, theirs_data = {
        "arrays": ((X, y), tds),
        "TensorDataset": ((mt.TensorDataset(X, y),), tds),
        "pairs": (([(X[i], y[i]) for i in range(n)],), tds),
        "dicts": (([{"x": X[i], "y": y[i]} for i in range(n)],),
                  [{"x": torch.tensor(X[i]), "y": torch.tensor(y[i])} for i in range(n)]),
        "Subset": ((mt.Subset(mt.TensorDataset(X, y), list(range(n))[::-1]),),
                   torch_data.Subset(tds, list(range(n))[::-1])),
    }[form]
    ours = mt.DataLoader(*ours_data, batch_size=batch_size, drop_last=drop_last)
    theirs = torch_data.DataLoader(theirs_data, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    batches, expected = list(ours), list(theirs)
    assert len(batches) == len(expected) == len(ours)
    for ours_batch, theirs_batch in zip(batches, expected, strict=True):
        if form == "dicts":
            ours_batch = (ours_batch["x"], ours_batch["y"])
            theirs_batch = (theirs_batch["x"], theirs_batch["y"])
        for a, b in zip(ours_batch, theirs_batch, strict=True):
            assert a.dtype == b.numpy().dtype
            np.testing.assert_array_equal(a, b.numpy())
