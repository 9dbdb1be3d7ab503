"""DataLoader's worker and memory options and random_split's empty-split warning, against
torch.utils.data 2.13 on this CPU-only machine (the oracle): each option torch accepts without workers
gives torch's batches and warnings; each it refuses is refused with torch's message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils import data as tdata

import minitorch as mt


def _run(make):
    """(batches as lists, warning messages) of two epochs, or the exception raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loader = make()
            batches = [np.asarray(b).tolist() for _ in range(2) for b in loader]
        except (ValueError, TypeError, AssertionError) as error:
            return error
    return batches, [str(w.message) for w in caught]


ACCEPTED = [
    {},
    {"pin_memory": True},
    {"pin_memory": True, "pin_memory_device": "cuda"},
    {"pin_memory_device": "cuda"},
    {"timeout": 0}, {"timeout": 0.0},
    {"worker_init_fn": lambda worker_id: None},
    {"prefetch_factor": None},
    {"persistent_workers": False},
    {"in_order": False},
    {"shuffle": None},
    {"multiprocessing_context": None},
    {"drop_last": True, "pin_memory": True, "in_order": True},
]


@pytest.mark.parametrize("kwargs", ACCEPTED, ids=lambda kw: ",".join(kw) or "none")
def test_options_torch_takes_without_workers_give_its_batches_and_warnings(kwargs):
    ours = _run(lambda: mt.DataLoader(list(range(5)), batch_size=2, **kwargs))
    theirs = _run(lambda: tdata.DataLoader(list(range(5)), batch_size=2, **kwargs))
    assert not isinstance(theirs, BaseException), theirs
    assert ours == theirs


REFUSED = [  # (options, torch's message, which ours holds)
    ({"timeout": -1}, "timeout option should be non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing."),
    ({"prefetch_factor": 0}, "prefetch_factor option could only be specified in multiprocessing."),
    ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
    ({"multiprocessing_context": "spawn"},
     "multiprocessing_context can only be used with multi-process loading (num_workers > 0), but got "
     "num_workers=0"),
    ({"timeout": -1, "prefetch_factor": 2, "persistent_workers": True},
     "timeout option should be non-negative"),
    ({"prefetch_factor": 2, "persistent_workers": True}, "prefetch_factor option could only be specified"),
]


@pytest.mark.parametrize("kwargs, message", REFUSED)
def test_options_that_need_workers_are_refused_with_torchs_message(kwargs, message):
    theirs = _run(lambda: tdata.DataLoader(list(range(5)), batch_size=2, **kwargs))
    assert isinstance(theirs, ValueError) and message in str(theirs)
    ours = _run(lambda: mt.DataLoader(list(range(5)), batch_size=2, **kwargs))
    assert isinstance(ours, ValueError) and str(ours).startswith("DataLoader: ")
    assert message in str(ours)


def test_a_timeout_is_refused_at_construction_where_torchs_loader_fails_when_iterated():
    theirs = _run(lambda: tdata.DataLoader(list(range(5)), timeout=1))
    assert isinstance(theirs, AssertionError) and "requires timeout == 0" in str(theirs)
    with pytest.raises(ValueError, match=r"^DataLoader: timeout=1 waits for worker processes.*requires "
                                         r"timeout == 0.*leave timeout at 0$"):
        mt.DataLoader(list(range(5)), timeout=1)


def test_the_kept_options_read_as_torchs_attributes():
    init = lambda worker_id: None  # noqa: E731
    kwargs = dict(pin_memory=True, worker_init_fn=init, in_order=False, pin_memory_device="")
    ours = mt.DataLoader(np.zeros((4, 2)), batch_size=2, **kwargs)
    theirs = tdata.DataLoader(torch.zeros(4, 2), batch_size=2, **kwargs)
    for name in ("pin_memory", "timeout", "worker_init_fn", "multiprocessing_context", "prefetch_factor",
                 "persistent_workers", "pin_memory_device", "in_order", "num_workers"):
        assert getattr(ours, name) == getattr(theirs, name), name


@pytest.mark.parametrize("kwargs, error", [
    ({"pin_memory": "yes"}, r"^DataLoader: pin_memory must be"),
    ({"persistent_workers": 1.0}, r"^DataLoader: persistent_workers must be"),
    ({"in_order": None}, r"^DataLoader: in_order must be"),
    ({"timeout": "1"}, r"^DataLoader: timeout must be a number"),
    ({"worker_init_fn": 5}, r"^DataLoader: worker_init_fn must be a function"),
    ({"pin_memory_device": None}, r"^DataLoader: pin_memory_device must be a str"),
])
def test_options_of_the_wrong_kind_are_named(kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        mt.DataLoader(list(range(5)), **kwargs)


def test_fit_warns_as_torch_for_pin_memory_and_trains():
    X, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    model = mt.Sequential(mt.Linear(2, 1))
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator"):
        mt.fit(model, mt.MSELoss(), mt.SGD(model.parameters(), lr=0.1),
               mt.DataLoader(X, y, batch_size=2, pin_memory=True), epochs=1, verbose=0)


# --------------------------------------------------------------------------- random_split
@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 6), lengths=st.sampled_from([[0.5, 0.5], [1, 0], [0.0, 1.0], [0.9, 0.1],
                                                     [0.2, 0.3, 0.5], [0.25, 0.25, 0.25, 0.25]]))
def test_random_split_warns_of_an_empty_split_as_torch(n, lengths):
    def split(fn):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts = fn(list(range(n)), lengths)
        return [len(p) for p in parts], [(w.category, str(w.message)) for w in caught]
    assert split(mt.random_split) == split(tdata.random_split)


def test_random_split_counts_of_zero_are_taken_silently_as_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [len(p) for p in mt.random_split(list(range(3)), [3, 0])] == [3, 0]
        assert [len(p) for p in tdata.random_split(list(range(3)), [3, 0])] == [3, 0]


@pytest.mark.parametrize("lengths", [[0.6, 0.4000000001], [0.5, 0.5 + 1e-12], [1.0000000001]])
def test_random_split_reads_fractions_summing_just_above_one_as_counts_and_refuses_them_as_torch(lengths):
    """torch takes fractions only when their sum is close to 1 and at most 1; else they are counts."""
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input"):
        tdata.random_split(list(range(3)), lengths)
    with pytest.raises(ValueError, match=r"random_split: lengths must be counts summing to len\(dataset\)"):
        mt.random_split(list(range(3)), lengths)
