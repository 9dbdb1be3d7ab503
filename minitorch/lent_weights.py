"""Parameter arrays lent to a speed path, given back when their module's mode changes.

One-row inference of a large Linear/ReLU chain (``kernels/inference.py``) moves the weights it
shares with the kernels' twin into shared memory, row-major; once a stream of calls in eval mode
has run a tally of shared calls, it lays them out column-major (each core's share of a layer's
columns is then one contiguous block). ``p.data`` becomes that array (same numbers, shape and
dtype); the speed path lends a column-major one here with the function that gives ``p`` a private
row-major array again (``lend``). ``Module.train(mode)`` calls ``give_back`` for its own
Parameters when its mode changes, so a model trained after eval-mode inference trains on row-major
weights. The function given decides whether the array may be replaced (nothing else holds it); if
not, ``p.data`` stays as it is (same numbers). A loop that switches to eval mode for a few calls
at a time never reaches a tally: its weights stay row-major and nothing is copied back and forth.
A temporary switch to eval mode and back (``predict``, ``evaluate``: ``module.switched_mode``) runs
inside ``kept()``: in its thread nothing is given back and no tally asks for the column-major
layout, so a call per row costs no copies and the plan serves the next call.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

# id(array) -> (weak reference to the array, the function that gives its Parameter a private array)
_lent: dict[int, tuple[weakref.ref, Callable[[Any], None]]] = {}


_local = threading.local()  # .kept: how many kept() blocks this thread is inside


@contextmanager
def kept() -> Iterator[None]:
    """Within it (this thread): ``give_back`` gives nothing back and ``keeping()`` is True."""
    _local.kept = getattr(_local, "kept", 0) + 1
    try:
        yield
    finally:
        _local.kept -= 1


def keeping() -> bool:
    """Whether this thread is inside ``kept()`` (no tally asks for the column-major layout)."""
    return getattr(_local, "kept", 0) > 0


def lend(array: np.ndarray, give_back: Callable[[Any], None]) -> None:
    """Record that ``array``, now a Parameter's ``data``, is lent to a speed path; ``give_back(p)``
    gives ``p`` a private row-major array with the same numbers (or leaves it, if it is held)."""
    key, lent = id(array), _lent  # (the table itself: at shutdown the module's globals may be None)

    def forget(ref: weakref.ref) -> None:  # (an id is reused once its array is gone)
        if lent.get(key, (None,))[0] is ref:
            del lent[key]

    _lent[key] = (weakref.ref(array, forget), give_back)


def give_back(params: Iterable[Any]) -> None:
    """Give each Parameter of ``params`` (None skipped) whose ``data`` is lent a private array
    (none inside ``kept()``)."""
    if not _lent or keeping():
        return
    for p in params:
        if p is None:
            continue
        entry = _lent.get(id(p.data))
        if entry is not None and entry[0]() is p.data:
            entry[1](p)
