"""A small model's parameters and gradients as views of two flat buffers: the SGD update in one pass.

The plain SGD line ``p.data -= lr * g`` is two NumPy calls per Parameter; for a small model (the
Iris 4-16-3 MLP has four arrays of at most 64 numbers) those calls cost more than the arithmetic.
When every Parameter's ``data`` is a view of one flat buffer ``P`` and every gradient a view of
one flat buffer ``G``, in the same order, the whole update is ``P -= lr * G``: two calls in all,
the same float operations on every element (bitwise the plain result).

How the arrays get there, and why no result can differ:
- ``FlatGroup.adopt(params)`` (the SGD kernel, on its first step over a list of Parameters) moves
  each ``p.data`` into ``P`` only if nothing but the Parameter holds the array (its reference
  count says so) and it is no view of another array, or a view of an array that nothing holds
  but such views of these Parameters (a forgotten group's buffer): then no one holds the old
  array, and ``p.data`` is a new array with the same numbers (seen only in its ``base``, now
  ``P``). Otherwise nothing moves and the update stays per Parameter.
- ``grad_home(p)`` (the Linear/ReLU chain kernel, writing a first gradient after ``zero_grad()``)
  gives p's slot in ``G`` only if no one but the group holds that slot or any other view of ``G``
  (reference counts again): a gradient a user kept from the previous step is never overwritten.
  Otherwise the chain kernel makes a new array, as it does for a Parameter outside any group.
- ``update`` applies ``P -= lr * G`` only if every Parameter's ``data`` and every gradient passed
  are still the group's views (identity checks): a user who assigns ``p.data`` or ``p.grad``, a
  frozen Parameter, a Parameter without gradient, ``model.to(dtype)`` — any of them sends the
  step back to the per-Parameter form. A group whose Parameters' ``data`` are no longer all its
  views (``model.to(dtype)``, an assigned ``p.data``) is forgotten there, and its Parameters
  adopted again for the steps after (if ``adopt`` allows).
The reference counts are an interpreter detail: a probe on dummy Parameters (``_counts_trusted``,
once) checks that they read as above, else no group is ever made.
Groups are kept for the last ``KEEP`` lists of Parameters, and hold them weakly: a group is
forgotten when one of its Parameters is collected. A forgotten group leaves its Parameters as they
are (views of a buffer nobody updates as a whole any more; the per-Parameter update is correct),
lets go of its buffers (its views keep them alive, so that ``adopt`` can count who holds them) and
never gives out its gradient slots again (``g_refs`` 0 marks it forgotten).
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

import numpy as np

KEEP = 8  # groups remembered (small models: a few kB each)
MAX_ELEMENTS = 16384  # a group's Parameters hold at most this many numbers in all (small models)
_getrefcount = sys.getrefcount
# id(Parameter) -> its group: an entry leaves when its Parameter is collected, before the id can be reused
_groups: dict[int, FlatGroup] = {}
_homes: dict[int, tuple[FlatGroup, np.ndarray, np.ndarray]] = {}  # id(p) -> (group, data view, grad view)
_order: list[FlatGroup] = []  # oldest first
_ARRAY_REFS = 2  # a p.data held by p alone: p's slot and getrefcount's argument


class FlatGroup:
    """Parameters ``params`` whose data are ``data[i]`` (views of ``P``) and whose gradient slots
    are ``grads[i]`` (views of ``G``), in order."""

    __slots__ = ("ids", "refs", "data", "grads", "P", "G", "g_refs", "step", "a")

    def __init__(self, params: list[Any]) -> None:
        dtype = params[0].data.dtype
        total = sum(p.data.size for p in params)
        self.P, self.G = np.empty(total, dtype), np.zeros(total, dtype)
        self.ids = [id(p) for p in params]
        self.refs = [weakref.ref(p, lambda _, group=self: _forget(group)) for p in params]
        self.data, self.grads, start = [], [], 0
        for p in params:
            x = p.data
            view = self.P[start:start + x.size].reshape(x.shape)
            view[...] = x
            p.data = view
            self.data.append(view)
            self.grads.append(self.G[start:start + x.size].reshape(x.shape))
            start += x.size
        self.g_refs = _getrefcount(self.G)  # G held by the group and by its own views only
        self.step, self.a = None, None  # the last update's step size, as a float and as a 0-d array

    @staticmethod
    def adopt(params: list[Any]) -> FlatGroup | None:
        """A new group for ``params`` if each is a plain Parameter in no group yet, all of one
        float dtype, each ``data`` a C-contiguous, writable array held by nothing else; else None."""
        from minitorch.parameter import Parameter

        if len(params) < 2 or not _counts_trusted():
            return None
        dtype, total = params[0].data.dtype, 0
        bases: dict[int, list[Any]] = {}  # id(base) -> [the base, how many of the data are its views]
        for p in params:
            x = p.data
            if (type(p) is not Parameter or id(p) in _groups or type(x) is not np.ndarray
                    or x.dtype != dtype or x.dtype.char not in "fd"
                    or not x.flags.c_contiguous or not x.flags.writeable):
                return None
            if _getrefcount(x) != _ARRAY_REFS + 1:  # + this frame's local x
                return None
            if x.base is not None:
                bases.setdefault(id(x.base), [x.base, 0])[1] += 1
            total += x.size
        if total > MAX_ELEMENTS:
            return None
        for entry in bases.values():  # (a loop variable would hold a base too)
            # the base: held by its views among the data, this entry, getrefcount's argument
            if type(entry[0]) is not np.ndarray or entry[0].base is not None or (
                    _getrefcount(entry[0]) != entry[1] + 2):
                return None
        del bases
        group = FlatGroup(params)
        for key, x, home in zip(group.ids, group.data, group.grads, strict=True):
            _groups[key] = group
            _homes[key] = (group, x, home)
        _order.append(group)
        if len(_order) > KEEP:
            _forget(_order[0])
        return group


_trusted: list[bool] = []  # the verdict of _counts_trusted, once


def _counts_trusted() -> bool:
    """Whether this interpreter's reference counts read as the checks above expect, tried once on
    probe Parameters through the same code: an array held elsewhere is not adopted, a kept gradient
    is not written over. Reference counts are an implementation detail (CPython 3.14 skips some
    increments for locals, free-threaded builds defer them); where they read otherwise, the flat
    buffers are never used and SGD stays per Parameter."""
    if not _trusted:
        from minitorch.parameter import Parameter

        _trusted.append(False)  # while probing: adopt refuses (no recursion)
        a, b, c = (Parameter(np.zeros(2)) for _ in range(3))
        held = c.data
        _trusted[0] = True
        try:
            refused = FlatGroup.adopt([a, c]) is None
            group = FlatGroup.adopt([a, b])
            ok = refused and group is not None and held is c.data
            if ok:
                a.grad = grad_home(a)
                kept = a.grad
                a.grad = None
                view = kept[:1]  # a view of G: no slot is free while it lives
                ok = kept is not None and grad_home(a) is None and grad_home(b) is None
                del view
                ok = ok and grad_home(a) is None and grad_home(b) is not None
                del kept
                ok = ok and grad_home(a) is not None
            if group is not None:
                _forget(group)
        finally:
            _trusted[0] = False
        _trusted[0] = ok
    return _trusted[0]


def _forget(group: FlatGroup) -> None:
    """Drop ``group`` (evicted, or one of its Parameters collected): its entries leave the tables,
    and its slots are never free again (``slots_if_free``)."""
    if any(g is group for g in _order):
        _order[:] = [g for g in _order if g is not group]
        for key in group.ids:
            if _groups.get(key) is group:
                del _groups[key], _homes[key]
    # without _homes' reference, a slot a user kept (a gradient of a step before) would count as free
    group.g_refs = 0
    # its Parameters' data (views of P) and any gradient kept (views of G) keep the buffers alive
    group.P = group.G = None
    group.data, group.grads = [], []


def grad_home(p: Any) -> np.ndarray | None:
    """The view of its group's ``G`` to write p's first gradient into, if p is in a group, its
    ``data`` is still the group's view, and no one but the group holds that view or any view of
    ``G``; else None (the caller makes a new array)."""
    entry = _homes.get(id(p))
    if entry is None:
        return None
    group, x, home = entry
    # home: the group's list, _homes' entry, this local, getrefcount's argument; G: as when made
    if p.data is not x or _getrefcount(home) != 4 or _getrefcount(group.G) != group.g_refs:
        return None
    return home


def update(params: list[Any], grads: list[np.ndarray], step: float) -> bool:
    """``p.data -= a * g`` for every Parameter as one ``P -= a * G`` (a = ``step`` as a 0-d array of
    the group's dtype, made again only when ``step`` changes), if ``params`` are a whole group in
    its order with their data and ``grads`` still its views; else False, nothing updated (a list
    of small Parameters in no group is adopted here, for the steps after this one).

    The views' writable flags are not read (``P`` itself is writable): a view made read-only is
    refused before this runs, by ``Optimizer._check_writable`` in ``SGD.step`` (which the SGD
    kernel is reached from) and by the whole-step kernels' checks (``kernels/step.py``,
    ``kernels/step_update.py``: they decline, and ``step()`` raises)."""
    first = params[0]
    group = _groups.get(id(first))
    if group is None:
        if first.data.size <= MAX_ELEMENTS:
            FlatGroup.adopt(params)
        return False  # adopted or not: this step's gradients are not in G
    if len(params) != len(group.ids):
        return False
    for p, g, key, x, home in zip(params, grads, group.ids, group.data, group.grads, strict=True):
        if id(p) != key or p.data is not x or g is not home:
            break
    else:
        _apply(group, step)
        return True
    del p, x, home  # (adopt counts the references to the data and their bases)
    # a Parameter's data replaced (model.to(dtype), p.data = ...): the group will not serve again
    if list(map(id, params)) == group.ids and any(
            q.data is not v for q, v in zip(params, group.data, strict=True)):
        _forget(group)
        if first.data.size <= MAX_ELEMENTS:
            FlatGroup.adopt(params)
    return False


def free_slots(params: list[Any]) -> list[np.ndarray] | None:
    """The gradient slots of ``params`` (views of ``G``, in order) if ``params`` are a whole group
    in its order, each ``data`` still the group's view and every slot free (``slots_if_free``),
    else None. For the whole-step kernel (``kernels/step.py``): gradients written into these are
    what ``update`` then takes."""
    group = _groups.get(id(params[0])) if params else None
    if group is None or len(params) != len(group.ids):
        return None
    ids, data = group.ids, group.data
    for i in range(len(params)):
        p = params[i]
        if id(p) != ids[i] or p.data is not data[i]:
            return None
    return slots_if_free(group)


def group_holding(p: Any) -> FlatGroup | None:
    """The group Parameter ``p`` is in, or None."""
    return _groups.get(id(p))


def slots_if_free(group: FlatGroup) -> list[np.ndarray] | None:
    """The group's gradient slots if no one but the group holds ``G`` or any view of it (as
    ``grad_home`` counts), else None."""
    grads = group.grads
    # each slot: the group's list, _homes' entry, the reference map passes; as the slots' sum
    # (none reads below that: a sum above it is a slot held elsewhere)
    if _getrefcount(group.G) != group.g_refs or sum(map(_getrefcount, grads)) != 3 * len(grads):
        return None
    return grads


def apply(group: FlatGroup, step: float) -> None:
    """``update``'s ``P -= a * G`` for a group whose slots ``free_slots`` or ``slots_if_free``
    gave (nothing checked again: the caller wrote the gradients into them since)."""
    _apply(group, step)


def _apply(group: FlatGroup, step: float) -> None:
    if step != group.step or not step:  # (a zero step: -0.0 and 0.0 compare equal)
        group.a, group.step = np.asarray(step, group.P.dtype), step
    group.P -= group.a * group.G
