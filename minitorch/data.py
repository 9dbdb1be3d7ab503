"""Datasets, mini-batches and data splits, as torch.utils.data and scikit-learn's train_test_split.

- ``Dataset``: anything with ``__len__`` and ``__getitem__(i) -> sample`` (often a pair ``(x, y)``).
- ``TensorDataset(X, y)``: samples ``(X[i], y[i])`` of equally long arrays.
- ``Subset(dataset, indices)`` and ``random_split(dataset, [0.8, 0.2])``.
- ``DataLoader``: mini-batches of arrays ``DataLoader(X, y)``, of a tuple ``DataLoader((X, y))``, of a
  ``Dataset`` or of a list of ``(x, y)`` pairs; samples are stacked by ``collate_fn`` (``default_collate``).
- ``train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)``, scikit-learn's function.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from minitorch import random as mt_random
from minitorch.checks import check_bool
from minitorch.data_workers import (
    WorkerInitFn,
    check_num_workers,
    check_pin_memory,
    check_worker_options,
    warn_pin_memory,
)
from minitorch.dtypes import get_default_dtype
from minitorch.parameter import Parameter


class Dataset:
    """A map-style dataset, as torch.utils.data.Dataset: subclass it and define the two methods below.

    Example:
        class Squares(mt.Dataset):
            def __len__(self): return 100
            def __getitem__(self, i): return np.array([i], np.float32), np.float32(i * i)
        loader = mt.DataLoader(Squares(), batch_size=10, shuffle=True)   # xb (10, 1), yb (10,)
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not implement __len__()")


class TensorDataset(Dataset):
    """Samples ``(a[i] for a in arrays)`` of arrays with the same first dimension (torch's TensorDataset).

    Example:
        ds = mt.TensorDataset(X, y)     # ds[0] == (X[0], y[0]); ds.tensors == (X, y)
    """

    def __init__(self, *arrays: np.ndarray) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        arrays = tuple(np.asarray(_data(a, "TensorDataset")) for a in arrays)
        if any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
            raise ValueError(
                "TensorDataset: expected arrays with the same number of samples (first dimension), got "
                f"shapes {[a.shape for a in arrays]}"
            )
        self.tensors = arrays

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (torch's Subset).

    ``subset[i]`` is ``dataset[indices[i]]``; a list (or 1-D integer array) of positions is passed on
    as one list, ``dataset[[indices[i] for i in positions]]``, as torch's: a TensorDataset answers
    with one batch, a tuple of arrays (``xb, yb = subset[[0, 1]]``).
    Example:
        train = mt.Subset(ds, range(80));  train[0] is ds[0]
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, list) or (isinstance(index, np.ndarray) and index.ndim == 1
                                       and index.dtype.kind in "iu"):  # (a bool mask: list's TypeError)
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: np.random.Generator | int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths (torch's random_split).

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (as torch, any
    numbers whose sum is close to 1 and at most 1: [1, 0] is all and nothing): each gets
    floor(n * fraction) samples and the remainder goes one by one to the first subsets, as torch;
    a fraction that comes out 0 samples gets torch's UserWarning "Length of split at index i is 0...".
    The order comes from the generator ``mt.manual_seed`` seeds, or from ``generator`` (a NumPy
    Generator or an int seed; torch's argument name).
    Example:
        train, val = mt.random_split(ds, [0.8, 0.2])
    """
    n = len(dataset)
    lengths = list(lengths)
    numbers = all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
                  for x in lengths)
    # torch's rule: fractions when the sum is close to 1 and not above it; a sum just above 1 is
    # read as counts (so refused below), as torch
    if lengths and numbers and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        if any(not 0 <= x <= 1 for x in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [math.floor(n * float(x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
        for i, count in enumerate(counts):
            if count == 0:  # torch's warning (counts given as such are taken as meant)
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              UserWarning, stacklevel=2)
    if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) \
            or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths must be counts summing to len(dataset) = {n} or fractions summing "
            f"to 1, got {lengths}"
        )
    rng = _rng(generator, "random_split", "generator")
    order = rng.permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - length : end].tolist())
            for end, length in zip(ends, lengths, strict=True)]


def default_collate(samples: list[Any], *, dtype: Any = None) -> Any:
    """Stack a list of samples into a batch, field by field, as torch's default_collate.

    - tuple samples: a tuple of the fields' batches (a namedtuple stays that namedtuple; torch
      gives a list for a plain tuple: both unpack alike, ``xb, yb = batch``);
    - list samples: a list of the fields' batches, as torch (``[x, y]`` of numbers gives two
      arrays of shape (B,), not one (B, 2) array); every sample must have as many fields;
    - dict samples: a dict, key by key (every sample must have the first one's keys);
    - strings: the list of them, as torch;
    - arrays, NumPy scalars and Python numbers: stacked along a new axis 0 (shape (B, ...)).
    Floating values come out in ``dtype`` (the default dtype, float32, when None; torch gives
    Python floats float64), as ``DataLoader(X, y)`` gives them; integers and bools keep their dtype.
    """
    if not isinstance(samples, (list, tuple)) or not samples:
        raise ValueError(f"default_collate: expected a non-empty list of samples, got {samples!r:.80}")
    first = samples[0]
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, dict):
        for i, sample in enumerate(samples):
            missing = [key for key in first if not isinstance(sample, dict) or key not in sample]
            if missing:
                raise KeyError(f"default_collate: sample {i} has no key {missing[0]!r}; every dict "
                               f"sample needs the first one's keys {list(first)}")
        return {key: default_collate([s[key] for s in samples], dtype=dtype) for key in first}
    if isinstance(first, (tuple, list)):
        if any(not isinstance(s, (tuple, list)) or len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples have different numbers of fields (each "
                             f"element in the batch should be of equal size), got {samples!r:.80}")
        fields = [default_collate([s[k] for s in samples], dtype=dtype) for k in range(len(first))]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple, as torch
            return type(first)(*fields)
        return fields if isinstance(first, list) else tuple(fields)
    try:
        batch = np.stack([np.asarray(_data(s, "default_collate")) for s in samples])
    except ValueError as error:
        shapes = sorted({np.shape(s) for s in samples})
        raise ValueError(f"default_collate: cannot stack samples of different shapes {shapes}") from error
    return batch.astype(dtype or get_default_dtype(), copy=False) if batch.dtype.kind == "f" else batch


def default_convert(sample: Any, *, dtype: Any = None) -> Any:
    """One sample as ``DataLoader(batch_size=None)`` yields it (torch's default_convert): floating
    arrays and NumPy floating scalars in ``dtype`` (the default dtype when None), tuples, lists
    and dicts converted item by item, anything else (Python numbers, strings) as it is."""
    if isinstance(sample, dict):
        return {key: default_convert(value, dtype=dtype) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(value, dtype=dtype) for value in sample))
    if isinstance(sample, (tuple, list)):
        return type(sample)(default_convert(value, dtype=dtype) for value in sample)
    sample = _data(sample, "DataLoader")
    if isinstance(sample, (np.ndarray, np.floating)) and sample.dtype.kind == "f":
        return sample.astype(dtype or get_default_dtype(), copy=False)
    return sample


class DataLoader:
    """Iterate over data in mini-batches, as torch.utils.data.DataLoader.

    The data can be:
      - arrays ``DataLoader(X, y)`` (or ``DataLoader(X)`` for features alone): batches ``(xb, yb)``;
      - a tuple of equally long arrays ``DataLoader((X, y))``: the same batches (a list of one or
        two arrays is refused as ambiguous: torch reads it as samples);
      - a ``Dataset`` (``__len__`` / ``__getitem__``), or a list of samples such as ``[(x, y), ...]``:
        each batch is ``collate_fn([dataset[i] for i in batch_indices])``, ``default_collate`` by
        default (tuples of stacked arrays).
    Floating features are converted to ``dtype`` (the default dtype, float32, when None), so batches
    reach the model ready to use. A float64 model never trains on rounded data: ``mt.fit``,
    ``mt.evaluate`` (and ``mt.predict``, ``fit``'s ``val_data`` given arrays) feed it the
    features in its dtype (``loader.as_dtype``); iterating yourself, pass ``dtype=np.float64``.
    With ``shuffle=True`` every epoch (every ``iter``) draws a new order from ``generator`` (torch's
    keyword: a NumPy Generator, or an int seeding one made here once, so the epochs still differ), or
    without it from the generator that ``mt.manual_seed`` seeds. The last partial batch is kept
    unless ``drop_last``.
    torch's ``sampler=`` (an iterable of indices: the order; batches are made of what it yields, its
    ``__len__``, if any, serves ``len(loader)`` only), ``batch_sampler=`` (an iterable of
    index lists: the batches) and ``batch_size=None`` (no batching: each sample alone, through
    ``collate_fn`` or ``default_convert``) follow torch's rules and messages: ``sampler`` excludes
    ``shuffle``; ``batch_sampler`` excludes ``batch_size``, ``shuffle``, ``sampler`` and
    ``drop_last``; ``batch_size=None`` excludes ``drop_last``. ``num_workers`` must be 0 (batches
    are made in the main process), and torch's other worker and memory options keep their meaning
    without workers or an accelerator (minitorch/data_workers.py): ``timeout=0``,
    ``prefetch_factor=None``, ``persistent_workers=False``, ``multiprocessing_context=None``;
    ``worker_init_fn`` and ``in_order`` are kept and unused; ``pin_memory=True`` warns as torch's
    (nothing to pin). ``shuffle=None`` is False, as torch's default.
    ``loader.dataset`` is the dataset (arrays are wrapped in a ``TensorDataset``).
    After construction, as torch: ``batch_size``, ``batch_sampler``, ``sampler``, ``drop_last``,
    ``dataset`` and ``persistent_workers`` cannot be set (torch's ValueError "... attribute should not
    be set after DataLoader is initialized": make a new DataLoader), and the order is the one chosen at
    construction: ``shuffle`` and ``generator`` set later change nothing (torch built its sampler from
    them then); ``collate_fn`` set later is used, as torch's.
    Example:
        for xb, yb in mt.DataLoader(X, y, batch_size=32, shuffle=True): ...
        for xb, yb in mt.DataLoader(mt.TensorDataset(X, y), batch_size=32): ...
    """

    def __init__(
        self,
        X: Any,
        y: np.ndarray | None = None,
        batch_size: int = 1,
        shuffle: bool | None = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        *,
        dtype: Any = None,
        generator: np.random.Generator | int | None = None,
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn: WorkerInitFn | None = None,
        multiprocessing_context: Any = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if isinstance(y, (int, np.integer)) and not isinstance(y, (bool, np.bool_)):
            raise ValueError(
                f"DataLoader: the second argument is y, the targets (an array), got {y!r}: torch's "
                f"DataLoader(dataset, {y}) is DataLoader(dataset, batch_size={y}) here"
            )
        self.generator = None if generator is None else _rng(generator, "DataLoader", "generator")
        self.num_workers = check_num_workers(num_workers)
        for name, value in check_worker_options(timeout, prefetch_factor, persistent_workers,
                                                multiprocessing_context, worker_init_fn, in_order).items():
            setattr(self, name, value)
        self.pin_memory, self.pin_memory_device = check_pin_memory(pin_memory, pin_memory_device)
        shuffle = False if shuffle is None else check_bool(shuffle, "DataLoader", "shuffle")  # (torch's None)
        drop_last = check_bool(drop_last, "DataLoader", "drop_last")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(
                "DataLoader: batch_size must be a positive integer (or None: no batching), got "
                f"{batch_size!r}"
            )
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                items = "indices" if name == "sampler" else "lists of indices"
                raise TypeError(f"DataLoader: {name} must be an iterable of {items}, got {value!r:.80}")
        # torch's rules and messages
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        # the order, fixed here as torch fixes its sampler (an edited shuffle or generator changes nothing)
        self._order_rule = (shuffle, self.generator)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"DataLoader: collate_fn must be a function of a list of samples, got {collate_fn!r}"
            )
        self.collate_fn = collate_fn
        self.dtype = np.dtype(get_default_dtype() if dtype is None else dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"DataLoader: dtype must be a floating dtype (the features'), got {dtype!r}")
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None
        # the floating dtype the features were rounded from (float64 -> float32), None if nothing was lost
        self.rounded_from: np.dtype | None = None
        self._wide_X: np.ndarray | None = None  # the caller's features, when rounded: ``as_dtype`` reads them
        arrays = _as_arrays(X, y, self.dtype)
        if arrays is not None:
            (self.X, self.y), wide = arrays
            if wide.dtype.kind == "f" and wide.dtype.itemsize > self.dtype.itemsize:
                self.rounded_from, self._wide_X = wide.dtype, wide
            self.dataset: Any = TensorDataset(self.X) if self.y is None else TensorDataset(self.X, self.y)
        else:
            if not hasattr(X, "__len__"):  # it has __getitem__: _as_arrays took it for a dataset
                raise TypeError(
                    "DataLoader: expected arrays (X, y), a tuple of arrays, a list of samples, or a Dataset "
                    f"(an object with __len__ and __getitem__), got {type(X).__name__} without __len__"
                )
            if y is not None:
                raise ValueError(
                    "DataLoader: y is only for arrays; a Dataset's samples carry their own targets"
                )
            self.dataset = X
            source = _float_source(X)
            if source is not None and collate_fn is None and source.itemsize > self.dtype.itemsize:
                self.rounded_from = source
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIXED_AFTER_INIT and self.__dict__.get("_initialized", False):
            cls = type(self).__name__
            raise ValueError(f"{name} attribute should not be set after {cls} is initialized (as torch: make "
                             f"a new {cls} with the {name} you want)")
        super().__setattr__(name, value)

    def as_dtype(self, dtype: Any) -> DataLoader:
        """This loader with floating features in ``dtype`` (same data, batches, shuffling and collate).

        Features it rounded (float64 stored as float32) come back unrounded; ``mt.fit``, ``mt.evaluate``
        use it to feed a float64 model its float64 data. Example: ``loader.as_dtype(np.float64)``.
        """
        twin = copy.copy(self)
        twin.dtype = np.dtype(dtype)
        if twin.dtype.kind != "f":
            raise ValueError(f"DataLoader.as_dtype: expected a floating dtype, got {dtype!r}")
        if self.X is not None:
            wide = self.X if self._wide_X is None else self._wide_X
            twin.X = wide.astype(twin.dtype, copy=False) if wide.dtype.kind == "f" else wide
            # the same samples in another dtype: set past __setattr__'s refusal, which is the user's
            twin.__dict__["dataset"] = TensorDataset(twin.X) if self.y is None else TensorDataset(
                twin.X, self.y)
        source = self.rounded_from or (_float_source(self.dataset) if self.collate_fn is None else None)
        narrower = source is not None and source.itemsize > twin.dtype.itemsize
        twin.rounded_from = source if narrower else None
        twin._wide_X = self._wide_X if narrower else None
        return twin

    def __len__(self) -> int:
        """Batches per epoch: len(batch_sampler) with one; else the samples (len(sampler) or
        len(dataset)) in batches of batch_size, the last partial one dropped with drop_last
        (batch_size=None: one per sample)."""
        if self.batch_sampler is not None:
            return _length(self.batch_sampler, "batch_sampler")
        n = len(self.dataset) if self.sampler is None else _length(self.sampler, "sampler")
        return self._batch_count(n)

    def _batch_count(self, n: int) -> int:
        """Batches of n samples: n // batch_size with drop_last, else ceil(n / batch_size); n without
        batching (batch_size=None)."""
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        """An epoch's batches; with pin_memory=True, torch's warning that nothing is pinned first."""
        warn_pin_memory(self.pin_memory, self.pin_memory_device)
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        if self.batch_sampler is not None:
            for indices in self.batch_sampler:
                yield self._batch(np.asarray(list(indices), dtype=np.int64))
            return
        if self.sampler is not None:
            order: Any = np.asarray(list(self.sampler), dtype=np.int64)
            n = len(order)
        else:
            n = len(self.dataset)
            shuffle, generator = self._order_rule
            rng = mt_random.generator() if generator is None else generator
            order = rng.permutation(n) if shuffle else None
        if self.batch_size is None:  # no batching: sample by sample, converted alone (torch's)
            for i in (range(n) if order is None else order):
                yield self._sample(int(i))
            return
        # batches of what the sampler yields, as torch's BatchSampler (len(sampler) is only for len())
        for start in range(0, self._batch_count(n) * self.batch_size, self.batch_size):
            batch = slice(start, min(start + self.batch_size, n))
            yield self._batch(order[batch] if order is not None else batch)

    def _batch(self, index: slice | np.ndarray) -> Any:
        """The batch of the samples at ``index`` (positions in the dataset)."""
        if self.X is not None and self.collate_fn is None:  # arrays: one fancy index per batch
            return self.X[index] if self.y is None else (self.X[index], self.y[index])
        indices = range(len(self.dataset))[index] if isinstance(index, slice) else index
        samples = [self.dataset[int(i)] for i in indices]
        return self.collate_fn(samples) if self.collate_fn else default_collate(samples, dtype=self.dtype)

    def _sample(self, i: int) -> Any:
        """Sample ``i`` alone (batch_size=None): collate_fn(sample), default_convert without one."""
        if self.X is not None and self.collate_fn is None:
            return self.X[i] if self.y is None else (self.X[i], self.y[i])
        sample = self.dataset[i]
        return self.collate_fn(sample) if self.collate_fn else default_convert(sample, dtype=self.dtype)


# torch's DataLoader.__setattr__ refuses these once __init__ has run
_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def _length(sampler: Any, name: str) -> int:
    if not hasattr(sampler, "__len__"):
        raise TypeError(f"DataLoader: len() needs a {name} with __len__, got {type(sampler).__name__}")
    return len(sampler)


def _float_source(dataset: Any) -> np.dtype | None:
    """The widest floating dtype of a TensorDataset's arrays (also under Subsets); None if unknown."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    if not isinstance(dataset, TensorDataset):
        return None
    floats = [a.dtype for a in dataset.tensors if a.dtype.kind == "f"]
    return max(floats, key=lambda d: d.itemsize) if floats else None


def _as_arrays(X: Any, y: Any, dtype: np.dtype) -> tuple[tuple[np.ndarray, Any], np.ndarray] | None:
    """((X, y), X before the cast) as checked arrays when the data are arrays; None for a dataset."""
    if isinstance(X, tuple) and any(isinstance(a, Parameter) for a in X):
        X = tuple(_data(a, "DataLoader") for a in X)
    X, y = _data(X, "DataLoader"), _data(y, "DataLoader")
    if isinstance(X, Dataset) or (not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__getitem__")
                                  and not hasattr(X, "__array__")):
        return None  # a dataset (DataLoader checks it has __len__ too)
    if isinstance(X, tuple) and y is None and len(X) in (1, 2) and all(
            isinstance(a, (np.ndarray, list)) and np.ndim(a) >= 1 for a in X):
        X, y = X[0], (X[1] if len(X) == 2 else None)  # DataLoader((X, y)): the tuple of arrays
    elif isinstance(X, list) and y is None and len(X) in (1, 2) and all(
            isinstance(a, np.ndarray) and a.ndim >= 1 for a in X):
        # [X, y] was read as arrays, torch reads [x0, x1] as two samples: a guess either way
        raise ValueError(
            f"DataLoader: a list of 1 or 2 arrays is ambiguous (shapes {[a.shape for a in X]}): pass a tuple "
            "DataLoader((X, y)) or DataLoader(X, y) for arrays of samples, or np.stack(samples) / a "
            "TensorDataset for a list of samples"
        )
    elif isinstance(X, (tuple, list)) and len(X) and isinstance(X[0], (tuple, dict)):
        return None  # a list of samples [(x, y), ...]: collated batch by batch
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("DataLoader: expected X with a batch dimension, got a scalar")
    wide = X
    if X.dtype.kind == "f":
        X = X.astype(dtype, copy=False)
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(
                f"DataLoader: X and y must have the same number of samples, got X {X.shape}, y {y.shape}"
            )
    return (X, y), wide


def train_test_split(
    *arrays: np.ndarray,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: int | np.random.Generator | None = None,
    shuffle: bool = True,
    stratify: np.ndarray | bool | None = None,
    seed: int | None = None,
) -> list[np.ndarray]:
    """Split arrays into train and test parts, as scikit-learn's ``train_test_split``.

    ``train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)`` ->
    ``[X_train, X_test, y_train, y_test]`` (any number of arrays, each split the same way).
    Sizes: a float in (0, 1) is a fraction (test: ceil(test_size * n), train: floor(train_size * n)),
    an int a number of samples; with neither given test_size is 0.25; the other part gets the rest.
    Neither part may come out empty. ``stratify=y`` (an array of class labels) keeps each class's
    share in both parts (``stratify=True`` stratifies by the second array, MiniTorch's older spelling).
    ``random_state`` (or ``seed``) makes the split independent of the library generator; without it
    the split draws from the generator that ``mt.manual_seed`` seeds. ``shuffle=False`` takes the
    first samples for train and the last for test. The indices are not scikit-learn's (another
    random generator), the sizes and the per-class counts are.
    """
    who = "train_test_split"
    if not arrays:
        raise ValueError(f"{who}: expected at least one array")
    arrays = tuple(np.asarray(_data(a, who)) for a in arrays)
    n = len(arrays[0]) if arrays[0].ndim else 0
    if any(a.ndim == 0 or len(a) != n for a in arrays):
        lengths = " vs ".join(str(len(a)) if a.ndim else "scalar" for a in arrays)
        raise ValueError(f"{who}: array lengths differ: {lengths}")
    n_train, n_test = _split_sizes(n, test_size, train_size, who)
    if seed is not None and random_state is not None:
        raise ValueError(f"{who}: give random_state or seed (its older name), not both")
    rng = _rng(random_state if seed is None else seed, who, "random_state")
    shuffle = check_bool(shuffle, who, "shuffle")
    if isinstance(stratify, (bool, np.bool_)):
        stratify = (arrays[1] if len(arrays) > 1 else arrays[0]) if stratify else None
    if stratify is not None:
        if not shuffle:
            raise ValueError(f"{who}: stratify needs shuffle=True (as scikit-learn)")
        train_index, test_index = _stratified(np.asarray(stratify), n, n_train, n_test, rng, who)
    elif shuffle:
        order = rng.permutation(n)
        test_index, train_index = order[:n_test], order[n_test : n_test + n_train]
    else:
        train_index, test_index = np.arange(n_train), np.arange(n_train, n_train + n_test)
    return [part for a in arrays for part in (a[train_index], a[test_index])]


def _split_sizes(n: int, test_size: Any, train_size: Any, who: str) -> tuple[int, int]:
    """(n_train, n_test) as scikit-learn computes them; a ValueError naming the argument otherwise."""
    if test_size is None and train_size is None:
        test_size = 0.25
    sizes = {}
    for name, value in (("test_size", test_size), ("train_size", train_size)):
        if value is None:
            continue
        if isinstance(value, (float, np.floating)) and 0 < value < 1:
            sizes[name] = math.ceil(value * n) if name == "test_size" else math.floor(value * n)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 < value < n:
            sizes[name] = int(value)
        else:
            raise ValueError(
                f"{who}: {name} must be a float in (0, 1) (a fraction) or an int in [1, {n - 1}] "
                f"(a number of the {n} samples), got {value!r}"
            )
    fractions = [v for v in (test_size, train_size) if isinstance(v, (float, np.floating))]
    if len(fractions) == 2 and sum(fractions) > 1:
        raise ValueError(
            f"{who}: test_size + train_size = {sum(fractions)} is more than all the data; make them sum to 1 "
            "or less"
        )
    n_test = sizes.get("test_size", n - sizes.get("train_size", 0))
    n_train = sizes.get("train_size", n - n_test)
    if n_train < 1 or n_test < 1 or n_train + n_test > n:
        raise ValueError(
            f"{who}: with {n} samples, test_size={test_size!r} and train_size={train_size!r} the "
            f"{'train' if n_train < 1 else 'test'} set would be "
            f"{'empty' if min(n_train, n_test) < 1 else f'larger than the data ({n_train} + {n_test})'}; "
            "change test_size or train_size"
        )
    return n_train, n_test


def _stratified(labels: np.ndarray, n: int, n_train: int, n_test: int, rng: np.random.Generator,
                who: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each class split in proportion (scikit-learn's per-class counts)."""
    if len(labels) != n:
        raise ValueError(f"{who}: stratify has {len(labels)} labels for {n} samples")
    classes, y = np.unique(labels, return_inverse=True, axis=0 if labels.ndim > 1 else None)
    counts = np.bincount(y.ravel())
    if counts.min() < 2:
        raise ValueError(
            f"{who}: the least populated class in stratify has only 1 member, which is too few "
            "(each class needs one sample in train and one in test)"
        )
    if n_test < len(classes) or n_train < len(classes):
        raise ValueError(
            f"{who}: test and train must each hold at least one sample of each of the {len(classes)} "
            f"classes, got {n_test} test and {n_train} train samples"
        )
    # scikit-learn's order (StratifiedShuffleSplit): the train counts first, the test counts from the
    # rest; they differ from test-first counts when train and test do not take every sample
    train_counts = _allocate(n_train, counts)
    test_counts = _allocate(n_test, counts - train_counts)
    train_parts, test_parts = [], []
    for k in range(len(classes)):
        members = rng.permutation(np.flatnonzero(y.ravel() == k))
        test_parts.append(members[: test_counts[k]])
        train_parts.append(members[test_counts[k] : test_counts[k] + train_counts[k]])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def _allocate(n_draws: int, counts: np.ndarray) -> np.ndarray:
    """n_draws split over classes in proportion to counts: floors, then the largest remainders."""
    share = n_draws * counts / counts.sum()
    drawn = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - drawn), kind="stable")
    for k in order[: n_draws - drawn.sum()]:
        drawn[k] += 1
    return np.minimum(drawn, counts)


def _rng(source: np.random.Generator | int | None, who: str, name: str) -> np.random.Generator:
    if source is None:
        return mt_random.generator()
    if isinstance(source, np.random.Generator):
        return source
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) or source < 0:
        raise ValueError(
            f"{who}: {name} must be a non-negative int or a np.random.Generator, got {source!r}"
        )
    return np.random.default_rng(int(source))


def _data(value: Any, who: str) -> Any:
    """``value``, a Parameter read as its data. TypeError for a Parameter that requires grad: these
    utilities hold NumPy arrays and have no backward, so its grad would silently stay None where
    torch's (which index and stack tensors differentiably) fills it."""
    if not isinstance(value, Parameter):
        return value
    if value.requires_grad:
        raise TypeError(
            f"{who}: got a Parameter that requires grad; datasets and loaders hold arrays and have no "
            "backward, so it would get no gradient (torch's autograd gives it one). Pass p.data (or a "
            "Parameter with requires_grad=False) if it is data; to train it, give the Parameter itself "
            "to the model, e.g. mt.fit(model, loss_fn, optimizer, [(p, y)]) (a module's input: a leaf)"
        )
    return value.data
