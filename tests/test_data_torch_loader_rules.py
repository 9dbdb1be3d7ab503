"""DataLoader's batch_size=None, sampler=, batch_sampler= and num_workers=, default_collate's
structures and random_split's lengths, against torch.utils.data 2.13 (the oracle)."""

from __future__ import annotations

import math
import re
import warnings
from collections import namedtuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils import data as tdata

import minitorch as mt

Pair = namedtuple("Pair", ["x", "y"])


def as_numpy(value):
    """torch's batch with tensors as arrays (lists, tuples, dicts and namedtuples kept)."""
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: as_numpy(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(as_numpy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(as_numpy(v) for v in value)
    return value


def assert_same(ours, theirs, tuple_as_list=False):
    """Same structure (a tuple of ours may be torch's list where ``tuple_as_list``), values, dtypes."""
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key], tuple_as_list)
    elif isinstance(theirs, (list, tuple)):
        kinds = (list, tuple) if tuple_as_list and type(theirs) is list else (type(theirs),)
        assert type(ours) in kinds, (type(ours), type(theirs))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b, tuple_as_list)
    else:
        assert type(ours) is type(theirs) and ours == theirs


# ------------------------------------------------------------------------------- default_collate
SAMPLES = {
    "tuples of numbers": [(1, 2.0), (3, 4.0)],
    "lists of numbers": [[1, 2], [3, 4]],
    "lists of two floats (B = 2: rows would unpack silently)": [[0.5, 1.5], [2.5, 3.5]],
    "dicts": [{"x": np.ones(2), "y": 1}, {"x": np.zeros(2), "y": 2}],
    "nested tuples": [(np.ones(2), (1, 2.5)), (np.zeros(2), (3, 4.5))],
    "a nested list in a tuple": [(np.ones(2), [1, 2]), (np.zeros(2), [3, 4])],
    "a dict of tuples": [{"x": (1, np.ones(3)), "n": "a"}, {"x": (2, np.zeros(3)), "n": "b"}],
    "namedtuples": [Pair(np.ones(2), 1), Pair(np.zeros(2), 0)],
    "Python floats": [1.5, 2.5],
    "bools": [True, False],
    "NumPy float32 scalars": [np.float32(1), np.float32(2)],
    "NumPy int64 scalars": [np.int64(1), np.int64(2)],
    "strings": ["a", "b"],
    "arrays of ints": [np.arange(3), np.arange(3, 6)],
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_default_collate_gives_torchs_structure_and_values(name):
    samples = SAMPLES[name]
    theirs = as_numpy(tdata.default_collate(samples))
    # floats come out in dtype (torch keeps each one's: float64, Python floats too, or float32)
    dtype = np.float32 if "float32" in name else np.float64
    assert_same(mt.default_collate(samples, dtype=dtype), theirs, tuple_as_list=True)


def test_default_collate_gives_floats_in_the_default_dtype_and_clear_errors():
    xb, yb = mt.default_collate([[0.5, 1], [1.5, 2]])
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    with pytest.raises(ValueError, match="different numbers of fields"):
        mt.default_collate([[1, 2], [3]])
    with pytest.raises(KeyError, match="sample 1 has no key 'a'"):
        mt.default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="non-empty list of samples"):
        mt.default_collate([])


# -------------------------------------------------------------------------------- DataLoader
def _dataset():
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(3), int(i % 3)) for i in range(7)]


def _both(dataset, **kwargs):
    ours = list(mt.DataLoader(dataset, dtype=np.float64, **kwargs))
    theirs = [as_numpy(b) for b in tdata.DataLoader(dataset, **kwargs)]
    assert len(mt.DataLoader(dataset, **kwargs)) == len(tdata.DataLoader(dataset, **kwargs))
    assert len(ours) == len(theirs)
    return ours, theirs


def test_batch_size_none_yields_samples_one_by_one_as_torch():
    dataset = _dataset()
    ours, theirs = _both(dataset, batch_size=None)
    for (x, y), (tx, ty) in zip(ours, theirs, strict=True):  # torch makes the tuple a list
        np.testing.assert_array_equal(x, tx)
        assert x.dtype == np.float64 and y == ty and type(y) is int
    x, y = next(iter(mt.DataLoader(dataset, batch_size=None)))
    assert x.dtype == np.float32 and x.shape == (3,)  # one sample, converted to the loader's dtype
    seen = list(mt.DataLoader(dataset, batch_size=None, collate_fn=lambda s: ("mine", s)))
    t_seen = list(tdata.DataLoader(dataset, batch_size=None, collate_fn=lambda s: ("mine", s)))
    assert [s[1][1] for s in seen] == [s[1][1] for s in t_seen]  # collate_fn gets each sample alone
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    arrays = list(mt.DataLoader(X, y, batch_size=None, dtype=np.float64))
    t_arrays = [as_numpy(b) for b in tdata.DataLoader(tdata.TensorDataset(torch.tensor(X), torch.tensor(y)),
                                                       batch_size=None)]
    for (a, b), (ta, tb) in zip(arrays, t_arrays, strict=True):
        np.testing.assert_array_equal(a, ta)
        assert b == tb
    mt.manual_seed(0)
    shuffled = [int(b) for _, b in mt.DataLoader(X, y, batch_size=None, shuffle=True)]
    assert sorted(shuffled) == list(range(6)) and len(mt.DataLoader(X, batch_size=None, shuffle=True)) == 6


@settings(max_examples=30, deadline=None)
@given(order=st.lists(st.integers(0, 6), max_size=12), batch_size=st.sampled_from([None, 1, 2, 3]),
       drop_last=st.booleans())
def test_sampler_gives_torchs_batches(order, batch_size, drop_last):
    if batch_size is None:
        drop_last = False
    ours, theirs = _both(_dataset(), sampler=order, batch_size=batch_size, drop_last=drop_last)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b, tuple_as_list=True)


class _Indices:
    """A sampler as users write them: iterates ``order``; ``__len__`` claims ``claimed`` (none when None)."""

    def __init__(self, order, claimed):
        self.order, self.claimed = order, claimed

    def __iter__(self):
        return iter(self.order)


class _SizedIndices(_Indices):
    def __len__(self):
        return self.claimed


@settings(max_examples=30, deadline=None)
@given(order=st.lists(st.integers(0, 6), max_size=9), claimed=st.none() | st.integers(0, 10),
       batch_size=st.sampled_from([None, 1, 2, 3]), drop_last=st.booleans())
def test_sampler_batches_come_from_its_iteration_as_torchs(order, claimed, batch_size, drop_last):
    """torch batches what the sampler yields (its BatchSampler never reads len(sampler)): a sampler
    without ``__len__`` iterates, and one whose ``__len__`` differs from what it yields loses no
    sample and gets no empty batch; only len(loader) reads ``__len__``."""
    if batch_size is None:
        drop_last = False
    sampler = _Indices(order, None) if claimed is None else _SizedIndices(order, claimed)
    kwargs = dict(sampler=sampler, batch_size=batch_size, drop_last=drop_last)
    ours = list(mt.DataLoader(_dataset(), dtype=np.float64, **kwargs))
    theirs = [as_numpy(b) for b in tdata.DataLoader(_dataset(), **kwargs)]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b, tuple_as_list=True)
    if claimed is not None:
        assert len(mt.DataLoader(_dataset(), **kwargs)) == len(tdata.DataLoader(_dataset(), **kwargs))


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=4), max_size=5))
def test_batch_sampler_gives_torchs_batches(batches):
    ours, theirs = _both(_dataset(), batch_sampler=batches)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b, tuple_as_list=True)
    X = np.arange(14.0).reshape(7, 2)
    for xb, indices in zip(mt.DataLoader(X, batch_sampler=batches, dtype=np.float64), batches, strict=True):
        np.testing.assert_array_equal(xb, X[indices])


REFUSED = [
    dict(batch_size=None, drop_last=True),
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0, 1]], batch_size=2),
    dict(batch_sampler=[[0, 1]], batch_size=None),
    dict(batch_sampler=[[0, 1]], drop_last=True),
    dict(batch_sampler=[[0, 1]], sampler=[0]),
    dict(batch_sampler=[[0, 1]], shuffle=True),
    dict(num_workers=-1),
]


@pytest.mark.parametrize("kwargs", REFUSED, ids=str)
def test_torchs_exclusive_options_are_refused_with_torchs_message(kwargs):
    with pytest.raises(ValueError) as theirs:
        tdata.DataLoader(_dataset(), **kwargs)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        mt.DataLoader(_dataset(), **kwargs)


def test_num_workers_zero_only():
    assert mt.DataLoader(_dataset(), num_workers=0).num_workers == 0
    with pytest.raises(ValueError, match=r"num_workers=2 is not supported.*num_workers=0"):
        mt.DataLoader(_dataset(), num_workers=2)
    with pytest.raises(TypeError, match="num_workers must be an int"):
        mt.DataLoader(_dataset(), num_workers=True)
    with pytest.raises(TypeError, match="sampler must be an iterable"):
        mt.DataLoader(_dataset(), sampler=3)
    with pytest.raises(TypeError, match="len\\(\\) needs a sampler with __len__"):
        len(mt.DataLoader(_dataset(), sampler=iter([0, 1])))


# ------------------------------------------------------------------------------- random_split
@pytest.mark.parametrize("lengths", [[3, 3], [5, 6], [0.3, 0.3], [0.5, 0.6], [0.25, 0.25, 0.25]])
def test_lengths_not_summing_to_the_dataset_are_refused_as_torch(lengths):
    with pytest.raises(ValueError):
        tdata.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="summing to len\\(dataset\\) = 10"):
        mt.random_split(range(10), lengths)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), weights=st.lists(st.integers(0, 9), min_size=1, max_size=6))
def test_fractions_get_torchs_lengths_round_robin(n, weights):
    if sum(weights) == 0:
        weights = [1, *weights[1:]]
    fractions = [w / sum(weights) for w in weights]
    if not (math.isclose(sum(fractions), 1) and sum(fractions) <= 1):  # torch's rule for fractions
        return
    with warnings.catch_warnings():  # both warn of an empty split; the lengths are compared
        warnings.simplefilter("ignore")
        theirs = [len(s) for s in tdata.random_split(range(n), fractions)]
        ours = mt.random_split(range(n), fractions, generator=0)
    assert [len(s) for s in ours] == theirs
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


# --------------------------------------------------------------------------- settings after construction
FIXED = ["batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"]


@pytest.mark.parametrize("name", FIXED)
def test_the_loaders_fixed_attributes_cannot_be_set_after_construction_as_torch(name):
    """torch's DataLoader.__setattr__ refuses them once built (before, a new value took effect here:
    a batch_size edited between epochs changed the batches)."""
    X = np.arange(8.0).reshape(8, 1)
    theirs = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X)), batch_size=2)
    ours = mt.DataLoader(X, batch_size=2)
    message = f"{name} attribute should not be set after DataLoader is initialized"
    with pytest.raises(ValueError, match=message):
        setattr(theirs, name, getattr(theirs, name))
    with pytest.raises(ValueError, match=message + r" \(as torch: make a new DataLoader"):
        setattr(ours, name, getattr(ours, name))
    assert [len(b) for b in ours] == [2, 2, 2, 2]


def test_other_settings_stay_settable_and_a_subclass_is_named_as_torch():
    ours = mt.DataLoader(np.arange(4.0), batch_size=2)
    ours.collate_fn = lambda samples: len(samples)  # read at every epoch, as torch's
    assert list(ours) == [2, 2]

    class Mine(mt.DataLoader):
        pass

    with pytest.raises(ValueError, match="batch_size attribute should not be set after Mine is initialized"):
        Mine(np.arange(4.0)).batch_size = 3
    twin = ours.as_dtype(np.float64)  # its own dataset, in float64: not the user's edit
    assert twin.dataset.tensors[0].dtype == np.float64


@pytest.mark.parametrize("edit", [{"shuffle": True}, {"generator": 1}])
def test_an_edited_shuffle_or_generator_leaves_the_order_chosen_at_construction_as_torch(edit):
    """torch builds its sampler from shuffle and generator at construction: setting them later changes
    no order (before, MiniTorch read them at every epoch)."""
    X = np.arange(6.0)
    t_loader = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X)), batch_size=3)
    loader = mt.DataLoader(X, batch_size=3, shuffle="generator" in edit, generator=0)
    t_shuffled = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X)), batch_size=3, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
    before = [b.tolist() for b in mt.DataLoader(X, batch_size=3, shuffle="generator" in edit, generator=0)]
    for name, value in edit.items():
        setattr(t_loader if name == "shuffle" else t_shuffled, name,
                value if name == "shuffle" else torch.Generator().manual_seed(value))
        setattr(loader, name, value)
    if "shuffle" in edit:
        assert [b[0].tolist() for b in t_loader] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]  # torch: in order
    else:
        assert t_shuffled.sampler.generator.initial_seed() == 0  # torch's sampler keeps its generator
    assert [b.tolist() for b in loader] == before
