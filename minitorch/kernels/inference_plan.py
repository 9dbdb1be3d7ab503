"""The plans of ``kernels/inference.py``: a chain's arrays for the caller and the twin, and the
weights moved into shared memory.

A plan is made once for a chain (``_make_plan``) and checked at every call (``_current``: the
children, their Parameters and every Parameter's array are still the plan's, by identity; no child
is inside a call or has a forward patched on the instance). A Parameter's array is moved to a shared
buffer (``twin.empty``; ``p.data`` becomes a copy with the same numbers, shape and dtype; a cut
weight column-major when the plan asks, lent to ``minitorch/lent_weights.py``) only when
nothing but the Parameter holds it (reference counts, trusted after the probe of
``kernels/flat.py``), or used as it is when it lies in one already: an in-place change (an
optimizer step) is then seen by both processes, which read the one array. A chain this module does
not run is remembered (``_Declined``) so that its calls pay one identity check.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import Callable
from operator import attrgetter, is_
from typing import Any

import numpy as np

from minitorch import lent_weights
from minitorch.kernels import twin
from minitorch.kernels.inference_twin import MAX_CUT, SPLIT

SPLIT_BYTES = 1 << 17  # a Linear weight this large is cut between the two cores
# of a cut layer's columns, the caller's at first (3/8: it checks the plan while the twin starts the
# first layer, and reads the twin's flags between layers); then moved, a vector block of columns at a
# time, between SHARES[0] and SHARES[1] of them towards the side that finishes its half later
CALLER_SHARE, SHARES, BLOCK = 0.375, (0.25, 0.75), 16
MIN_SPLIT_BYTES = 1 << 20  # the cut layers hold this much at least (below it the hand-off costs more)
RETRY_S = 1.0  # a chain declined (a weight held elsewhere) is looked at again after this long
_getrefcount = sys.getrefcount
_data = attrgetter("data")


class _Plan:
    """A chain's arrays for the two processes: per cut layer (W, b, relu, h, its splits: per split,
    from the caller's fewest columns to its most, ``_half`` of it); the split each cut layer uses
    now (``choice``, an index into its splits, mirrored in the control block's SPLIT words for the
    twin) and, per cut layer, the shared calls of this tally in which the twin's half was done
    before the caller's (``early``); the other layers (W, b, relu)."""

    __slots__ = ("model", "children", "params", "arrays", "slots", "cut", "rest", "x", "ctrl", "flags",
                 "dtype", "zero", "choice", "early", "tally", "column_major", "relayout", "__weakref__")

    def __init__(self, model: Any, children: tuple, params: tuple, arrays: tuple, cut: list, rest: list,
                 dtype: np.dtype, n_in: int, collected: Callable[[weakref.ref], Any],
                 column_major: bool = False) -> None:
        self.model = weakref.ref(model, collected)  # weak: the cache keeps no model alive
        self.children, self.params, self.arrays = children, params, arrays
        self.slots = _slots(children)
        self.cut, self.rest, self.dtype, self.zero = cut, rest, dtype, np.zeros((), dtype)
        self.x = twin.empty((1, n_in), dtype)
        self.ctrl = twin.empty((SPLIT + MAX_CUT,), np.int64)
        self.ctrl[:] = 0
        self.flags = memoryview(self.ctrl)
        self.choice = [first_split(layer[4]) for layer in cut]
        self.ctrl[SPLIT:SPLIT + len(cut)] = self.choice
        self.early, self.tally = [0] * len(cut), 0
        # asked for the column-major layout (a weight someone holds stays row-major: not asked
        # again), or laid out so already
        self.column_major = column_major or any(not layer[0].flags.c_contiguous for layer in cut)
        self.relayout = False  # set after a tally of shared calls in eval mode (``kernels/inference.py``)


class _Declined:
    """A chain this module does not run, as ``_current`` checks it (children and arrays)."""

    __slots__ = ("model", "children", "params", "arrays", "slots", "until")

    def __init__(self, model: Any, children: tuple, params: tuple,
                 collected: Callable[[weakref.ref], Any]) -> None:
        self.model = weakref.ref(model, collected)
        self.children, self.params = children, params
        self.slots = _slots(children)
        self.arrays = tuple(p.data for p in params)
        self.until = time.monotonic() + RETRY_S  # then tried again (a name on a weight may be gone)


def _slots(children: tuple) -> tuple:
    """(child's __dict__, name, value) of each child's W and b: a Parameter replaced (``m.W =
    Parameter(...)``, ``m.b = None``) leaves the old one's array as it was, so ``_current`` looks
    at the Parameters themselves too."""
    return tuple((m.__dict__, name, m.__dict__.get(name)) for m in children for name in ("W", "b")
                 if name in m.__dict__)


def _current(plan: _Plan, model: Any) -> bool:
    """The model's children, their Parameters and every Parameter's array are still the plan's
    (identity), and no child is inside a call or has a forward patched on the instance."""
    modules = model.__dict__["_modules"]
    if len(modules) != len(plan.children) or not all(map(is_, modules.values(), plan.children)):
        return False  # (identity: a Module's == could be anything)
    for m in plan.children:
        d = m.__dict__
        if d["_frame"] is not None or "forward" in d:  # busy in a call, or patched
            return False
    for d, name, value in plan.slots:
        if d.get(name) is not value:
            return False
    return all(map(is_, map(_data, plan.params), plan.arrays))


def _make_plan(model: Any, x: np.ndarray, linear: type, relu: type, collected: Callable[[weakref.ref], Any],
               give_back: Callable[[Any], None], column_major: bool = False) -> _Plan | None:
    """A plan for ``model`` if it is a chain this module runs (weights moved to shared memory
    where needed and allowed: the cut weights column-major with ``column_major``, lent with
    ``give_back``, called by ``train()``: ``minitorch/lent_weights.py``), else None; ``collected``
    is called when the model is collected."""
    children = tuple(model.__dict__["_modules"].values())
    layers = []  # (Linear, relu after it)
    for m in children:
        d = m.__dict__
        if "forward" in d or d["_frame"] is not None:
            return None
        if type(m) is linear:
            layers.append([m, False])
        elif type(m) is relu and layers and not layers[-1][1]:
            layers[-1][1] = True
        else:
            return None
    if not layers or len(set(map(id, children))) != len(children):
        return None
    dtype = layers[0][0].W.data.dtype
    if dtype.char not in "fd" or not all(_plain_arrays(m, dtype) for m, _ in layers):
        return None
    width = x.shape[1]
    for m, _ in layers:  # each Linear's input is what its in_features and W say (else the plain
        if m.W.data.shape[0] != width or m.in_features != width:  # chain's error, not an answer)
            return None
        width = m.W.data.shape[1]
    n_cut, cut_bytes = 0, 0  # the cut layers: the chain's first layers with a large weight
    for m, _ in layers:  # (no local names a weight: _shared counts its references)
        if m.W.data.nbytes < SPLIT_BYTES or m.W.data.shape[1] < 32 or n_cut == MAX_CUT:
            break
        n_cut, cut_bytes = n_cut + 1, cut_bytes + m.W.data.nbytes
    if cut_bytes < MIN_SPLIT_BYTES or x.dtype != dtype or x.shape[1] != layers[0][0].W.data.shape[0]:
        return None
    params, arrays = [], []
    for m, _ in layers[:n_cut]:
        for p in (m.W, m.b):
            if p is None:
                continue
            a = _shared(p, column_major, give_back)
            if a is None:
                return None
            params.append(p)
            arrays.append(a)
    for m, _ in layers[n_cut:]:  # run by the caller: the identity check sees a replaced array
        for p in (m.W, m.b):
            if p is not None:
                params.append(p)
                arrays.append(p.data)
    cut, rest = [], []
    for i, (m, r) in enumerate(layers):
        W, b = m.W.data, (m.b.data if m.b is not None else None)
        if i < n_cut:
            out = twin.empty((1, W.shape[1]), dtype)
            first = len(cut) % 2 == 0
            points = splits(W.shape[1], first)
            cut.append((W, b, r, out, tuple(_half(W, b, out, point, first) for point in points)))
        else:
            rest.append((W, b, r))
    return _Plan(model, children, tuple(params), tuple(arrays), cut, rest, dtype, x.shape[1], collected,
                 column_major)


def splits(width: int, first: bool) -> list[int]:
    """The columns where a cut layer of ``width`` columns may be split, ordered from the caller's
    fewest columns to its most (it has the columns before the split with ``first``, else those
    after): whole vector blocks (``BLOCK`` columns) from the start, at least one each side, the
    caller's share from SHARES[0] to SHARES[1] of the width."""
    low, high = int(width * SHARES[0]), int(width * SHARES[1])
    if not first:
        low, high = width - high, width - low
    low = max(BLOCK, -(-low // BLOCK) * BLOCK)
    high = max(low, min((width - 1) // BLOCK * BLOCK, high // BLOCK * BLOCK))
    points = list(range(low, high + 1, BLOCK))
    return points if first else points[::-1]


def _half(W: np.ndarray, b: np.ndarray | None, out: np.ndarray, point: int, first: bool) -> tuple:
    """A cut layer split at column ``point``, the caller's columns those before it (``first``) or
    those after: (the caller's column count, its W, b and h columns, the twin's W and b columns
    and its slice of h).
    Consecutive cut layers give the caller the columns at opposite ends of their rows: in a
    row-major W a share of the columns is a strided read, and two layers' shares at opposite ends
    of their rows share fewer of a core's cache sets (on the 784-512-256 layers each side's two
    halves read ~5-10 % faster so)."""
    width = W.shape[1]
    mine, theirs = (slice(0, point), slice(point, width)) if first else (slice(point, width), slice(0, point))
    return (mine.stop - mine.start, W[:, mine], None if b is None else b[mine], out[:, mine], W[:, theirs],
            None if b is None else b[theirs], theirs)


def first_split(halves: tuple) -> int:
    """The index of the split nearest to CALLER_SHARE of the columns (a plan's first choice)."""
    width = halves[0][1].shape[1] + halves[0][4].shape[1]
    return min(range(len(halves)), key=lambda s: abs(halves[s][0] - width * CALLER_SHARE))


def _plain_arrays(m: Any, dtype: np.dtype) -> bool:
    """The Linear's W is a 2-D ndarray and its b (if any) a 1-D one, both of ``dtype``."""
    W, b = m.W.data, (m.b.data if m.b is not None else None)
    return (type(W) is np.ndarray and W.dtype == dtype and W.ndim == 2
            and (b is None or (type(b) is np.ndarray and b.dtype == dtype and b.ndim == 1)))


def _shared(p: Any, column_major: bool, give_back: Callable[[Any], None]) -> np.ndarray | None:
    """p.data in a shared buffer: as it is if it lies in one, else moved to a new one if it is
    contiguous (row- or column-major) and nothing but p holds it (then p.data is the shared copy,
    column-major if asked and 2-D, lent with ``give_back``); None if it cannot be shared."""
    from minitorch.kernels.flat import _counts_trusted
    from minitorch.parameter import Parameter

    a = p.data
    shared = twin.shares(a) and (a.flags.c_contiguous or a.flags.f_contiguous)
    if shared and (not column_major or a.ndim != 2 or not a.flags.c_contiguous):
        return a  # (as it lies: a column-major array is never moved back to row-major here)
    if not (a.flags.c_contiguous or a.flags.f_contiguous):  # (a lent array's deepcopy is column-major)
        return None
    if (type(p) is not Parameter or not a.flags.writeable or not _counts_trusted()
            or _getrefcount(a) != 3):  # p's slot, this local, getrefcount's argument
        return a if shared else None
    owner = a.base  # a view's base is the array owning the memory: another view of it would hold it too
    if owner is not None and (type(owner) is not np.ndarray or (owner.base is not None and not shared)
                              or _getrefcount(owner) != 3 + (twin.pooled(owner) if shared else 0)):
        return a if shared else None  # (a's base slot, this local, the argument; the pool's, if shared:
        # a shared buffer's base is the array over its mapping)
    del owner
    s = twin.empty(a.shape[::-1], a.dtype).T if column_major and a.ndim == 2 else twin.empty(a.shape, a.dtype)
    np.copyto(s, a)
    del a
    p.data = s
    if column_major and s.ndim == 2:
        lent_weights.lend(s, give_back)
    return s
