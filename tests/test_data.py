"""DataLoader, train_test_split and the shipped Iris data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(), shuffle=st.booleans())
def test_batches_cover_the_data_once(n, batch_size, drop_last, shuffle):
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    y = np.arange(n)
    loader = mt.DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader)
    sizes = [len(yb) for _, yb in batches]
    assert all(size == batch_size for size in sizes[:-1])
    if drop_last:
        assert sizes == [batch_size] * (n // batch_size)
    else:
        assert sum(sizes) == n and 1 <= sizes[-1] <= batch_size
        seen = np.concatenate([yb for _, yb in batches])
        assert sorted(seen) == list(range(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # rows stay paired with their labels
        assert xb.dtype == np.float32


def test_shuffle_reshuffles_each_epoch_and_follows_the_seed():
    X, y = np.zeros((50, 1)), np.arange(50)
    mt.manual_seed(1)
    loader = mt.DataLoader(X, y, batch_size=50, shuffle=True)
    epoch1, epoch2 = next(iter(loader))[1], next(iter(loader))[1]
    assert not np.array_equal(epoch1, epoch2)
    mt.manual_seed(1)
    np.testing.assert_array_equal(next(iter(loader))[1], epoch1)


def test_no_shuffle_keeps_order_and_features_only():
    X = np.arange(10.0).reshape(5, 2)
    batches = list(mt.DataLoader(X, batch_size=2))
    assert [b.shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate(batches), X)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"X": np.zeros((3, 2)), "y": np.zeros(4)}, "same number of samples"),
        ({"X": np.zeros((3, 2)), "y": np.zeros(3), "batch_size": 0}, "positive integer"),
        ({"X": np.float64(1.0)}, "batch dimension"),
    ],
)
def test_dataloader_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mt.DataLoader(**kwargs)


def test_stratified_split_keeps_class_shares_and_is_a_partition():
    X, y = mt.datasets.load_iris()
    X_train, X_test, y_train, y_test = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=0)
    assert len(y_test) == 30 and len(y_train) == 120
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    rows = {tuple(r) + (c,) for r, c in zip(np.vstack([X_train, X_test]).tolist(),
                                           np.concatenate([y_train, y_test]), strict=True)}
    assert len(rows) == len({tuple(r) + (c,) for r, c in zip(X.tolist(), y, strict=True)})
    again = mt.train_test_split(X, y, test_size=0.2, stratify=True, seed=0)
    np.testing.assert_array_equal(again[3], y_test)


def test_split_rejects_bad_arguments():
    with pytest.raises(ValueError, match="test_size"):
        mt.train_test_split(np.zeros((4, 1)), np.zeros(4), test_size=1.5)
    with pytest.raises(ValueError, match="lengths differ"):
        mt.train_test_split(np.zeros((4, 1)), np.zeros(3))


def test_iris_ships_with_the_package():
    X, y = mt.datasets.load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [50, 50, 50]
    np.testing.assert_allclose(X[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    assert mt.datasets.IRIS_CLASSES == ("setosa", "versicolor", "virginica")


def test_make_spirals_is_seeded_balanced_and_bounded():
    X, y = mt.datasets.make_spirals(n_samples=301, n_classes=3, seed=4)
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100, 100]
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-6)
    np.testing.assert_array_equal(mt.datasets.make_spirals(n_samples=301, seed=4)[0], X)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        mt.datasets.make_spirals(n_samples=10, n_classes=1)


class _IndexedWithoutLength:
    """Has ``__getitem__`` but no ``__len__``: neither a Dataset nor an array."""

    def __getitem__(self, index):
        return np.zeros(2), 0


def test_dataloader_names_the_missing_len_of_an_indexable_object():
    """An object with __getitem__ but no __len__ is refused as what it is (its type, and the Dataset or
    array-like with __len__ and __getitem__ expected), not as "a scalar" (np.asarray made it 0-d)."""
    with pytest.raises(TypeError, match=r"__len__ and __getitem__.*got _IndexedWithoutLength") as info:
        mt.DataLoader(_IndexedWithoutLength(), batch_size=2)
    assert "scalar" not in str(info.value)
