"""Data the PyTorch / scikit-learn way (issue 15).

Dataset, TensorDataset, Subset, random_split; DataLoader over datasets, tuples and lists of pairs with
collate_fn; train_test_split checked against scikit-learn's sizes and per-class counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

sklearn_model_selection = pytest.importorskip("sklearn.model_selection")


class Squares(mt.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.array([i, -i], dtype=np.float64), i * i


def test_dataloader_over_a_dataset_collates_tuples_and_keeps_labels_integer():
    loader = mt.DataLoader(Squares(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(yb) for _, yb in batches] == [4, 4, 2]
    xb, yb = batches[0]
    assert xb.shape == (4, 2) and xb.dtype == np.float32          # floats in the default dtype
    assert yb.dtype.kind == "i"
    np.testing.assert_array_equal(yb, [0, 1, 4, 9])
    assert isinstance(loader.dataset, Squares)


def test_dataloader_accepts_a_tuple_of_arrays_and_a_list_of_pairs():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    from_tuple = list(mt.DataLoader((X, y), batch_size=4))
    from_arrays = list(mt.DataLoader(X, y, batch_size=4))
    pairs = [(X[i], int(y[i])) for i in range(6)]
    from_pairs = list(mt.DataLoader(pairs, batch_size=4))
    for a, b, c in zip(from_tuple, from_arrays, from_pairs, strict=True):
        for part in range(2):
            np.testing.assert_array_equal(a[part], b[part])
            np.testing.assert_array_equal(a[part], c[part])
    loader = mt.DataLoader((X, y), batch_size=4)
    assert isinstance(loader.dataset, mt.TensorDataset) and len(loader.dataset) == 6


def test_collate_fn_receives_the_list_of_samples():
    X, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 0])
    seen = []

    def collate(samples):
        seen.append(samples)
        return len(samples)

    assert list(mt.DataLoader(X, y, batch_size=2, collate_fn=collate)) == [2, 1]
    x0, y0 = seen[0][0]
    np.testing.assert_array_equal(x0, X[0])
    assert y0 == 0
    assert list(mt.DataLoader(Squares(), batch_size=5, collate_fn=len)) == [5, 5]


def test_tensor_dataset_subset_and_random_split():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = mt.TensorDataset(X, y)
    assert len(ds) == 10 and ds[3][1] == 3 and ds.tensors[0] is not None
    sub = mt.Subset(ds, [7, 2])
    assert len(sub) == 2 and sub[0][1] == 7
    mt.manual_seed(0)
    a, b, c = mt.random_split(ds, [0.5, 0.3, 0.2])
    assert [len(a), len(b), len(c)] == [5, 3, 2]
    assert sorted(a.indices + b.indices + c.indices) == list(range(10))
    first, second = mt.random_split(ds, [0.34, 0.66], generator=3)
    assert [len(first), len(second)] == [4, 6]  # floor 3 and 6, the remainder goes to the first (torch)
    assert mt.random_split(ds, [7, 3], 1)[0].indices == mt.random_split(ds, [7, 3], 1)[0].indices
    with pytest.raises(ValueError, match="summing to len"):
        mt.random_split(ds, [5, 6])
    with pytest.raises(ValueError, match="same number of samples"):
        mt.TensorDataset(X, y[:3])


def test_fit_trains_from_a_dataset_loader():
    X, y = mt.datasets.load_iris()
    loader = mt.DataLoader(mt.TensorDataset(X, y), batch_size=32, shuffle=True)
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.Adam(model.parameters(), lr=0.05), loader, epochs=3,
                     verbose=0)
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"drop_last": "False"}, "drop_last must be True or False, got 'False'"),
    ({"shuffle": 1}, "shuffle must be True or False"),
    ({"collate_fn": 3}, "collate_fn must be a function"),
])
def test_dataloader_rejects_flags_that_are_not_bools(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        mt.DataLoader(np.zeros((4, 2)), np.zeros(4), **kwargs)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 60), test=st.one_of(st.floats(0.05, 0.95), st.integers(1, 3)),
       train=st.one_of(st.none(), st.floats(0.05, 0.5)))
def test_split_sizes_match_scikit_learn(n, test, train):
    X = np.arange(n)
    try:
        expected = sklearn_model_selection.train_test_split(X, test_size=test, train_size=train,
                                                            random_state=0)
    except ValueError:
        with pytest.raises(ValueError, match="train_test_split"):
            mt.train_test_split(X, test_size=test, train_size=train, random_state=0)
        return
    got = mt.train_test_split(X, test_size=test, train_size=train, random_state=0)
    assert [len(part) for part in got] == [len(part) for part in expected]


@pytest.mark.parametrize("counts, test_size, train_size", [
    ([50, 50, 50], 0.2, None), ([30, 10, 7], 0.3, None), ([5, 95], 0.25, None), ([12, 13, 14, 15], 9, None),
    # train and test not the whole data: scikit-learn draws the train counts first, the test counts
    # from what is left ([4, 7]: train [1, 3], test [3, 3]; test first would give [2, 2] and [2, 4])
    ([4, 7], 0.5, 0.4), ([30, 10, 7], 0.3, 0.5), ([9, 14, 6], 5, 11), ([5, 95], 0.1, 0.33),
])
def test_stratified_split_has_scikit_learns_class_counts(counts, test_size, train_size):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y)).reshape(-1, 1) * 1.0
    sizes = dict(test_size=test_size, train_size=train_size)
    X_tr, X_te, y_tr, y_te = mt.train_test_split(X, y, **sizes, random_state=0, stratify=y)
    s_tr, s_te = sklearn_model_selection.train_test_split(y, **sizes, random_state=0, stratify=y)
    assert np.bincount(y_te).tolist() == np.bincount(s_te).tolist()
    assert np.bincount(y_tr).tolist() == np.bincount(s_tr).tolist()
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)  # rows stay paired with labels
    if train_size is None:
        assert sorted(np.concatenate([X_tr[:, 0], X_te[:, 0]]).tolist()) == X[:, 0].tolist()
    else:
        assert len(set(np.concatenate([X_tr[:, 0], X_te[:, 0]]).tolist())) == len(X_tr) + len(X_te)


def test_split_accepts_any_number_of_arrays_and_shuffle_false():
    a, b, c = np.arange(10), np.arange(10) * 2, np.arange(10) * 3
    parts = mt.train_test_split(a, b, c, test_size=3, shuffle=False)
    assert [p.tolist() for p in parts[:2]] == [list(range(7)), [7, 8, 9]]
    np.testing.assert_array_equal(parts[5], 3 * parts[1])
    np.testing.assert_array_equal(parts[2], 2 * parts[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"test_size": "0.2"}, r"train_test_split: test_size must be a float in \(0, 1\).*got '0.2'"),
    ({"test_size": 10}, r"test_size must be .* an int in \[1, 9\]"),
    ({"test_size": 0.2, "train_size": 0.9}, r"train_test_split: test_size \+ train_size = 1.1"),
    ({"test_size": 5, "train_size": 6}, "train_test_split: with 10 samples.*larger than the data"),
    ({"train_size": 1.5}, "train_size must be"),
    ({"random_state": "x"}, "random_state must be"),
    ({"stratify": np.array([0] * 9 + [1])}, "only 1 member"),
    ({"stratify": np.arange(10) % 2, "shuffle": False}, "stratify needs shuffle=True"),
])
def test_split_rejects_bad_arguments_naming_function_and_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mt.train_test_split(np.zeros((10, 1)), np.arange(10) % 2, **kwargs)


def test_split_never_returns_an_empty_part():
    with pytest.raises(ValueError, match="train set would be empty"):
        mt.train_test_split(np.zeros((10, 1)), np.zeros(10), test_size=0.99)
    X_tr, X_te, _, _ = mt.train_test_split(np.zeros((10, 1)), np.zeros(10), test_size=0.01)
    assert len(X_te) == 1 and len(X_tr) == 9   # ceil, as scikit-learn: never an empty test set


def test_default_collate_stacks_dict_samples_and_rejects_ragged_ones():
    samples = [{"x": np.ones(3), "y": 1}, {"x": np.zeros(3), "y": 0}]
    batch = mt.default_collate(samples)
    assert batch["x"].shape == (2, 3) and batch["x"].dtype == np.float32
    np.testing.assert_array_equal(batch["y"], [1, 0])
    with pytest.raises(ValueError, match="different shapes"):
        mt.default_collate([np.ones(2), np.ones(3)])


def test_random_split_names_its_generator_argument():
    with pytest.raises(ValueError, match=r"random_split: generator must be a non-negative int or a"):
        mt.random_split(mt.TensorDataset(np.zeros(4)), [2, 2], generator="torch")
    rng = np.random.default_rng(5)
    assert len(mt.random_split(mt.TensorDataset(np.zeros(4)), [3, 1], generator=rng)[0]) == 3
