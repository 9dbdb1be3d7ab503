"""Parameters given as a module's inputs: torch's leaves, for every module (see Module's contract).

A ``Parameter`` that requires grad, given to a module call as an input (``lin(p)``, ``mha(p, x, x)``,
``lstm(x, (h0, c0))`` with h0 a Parameter), is what torch calls a leaf: ``loss.backward()`` fills
``p.grad`` with the sum of dL/dp over every use. The explicit backward does the same, once, in the
per-call frame wrappers (``call_frames``), for every module:

- forward (``leaf_frame``): the call's body gets ``p.data`` in p's place, so the module and its
  children see a plain array and no child treats p as a leaf of its own; the call's frame records
  (slot, p) for each such input.
- the backward that consumes that call (``backward``, ``backward_input`` or ``backward_params``,
  from outside) gets the gradient of each recorded slot from the module's own backward, adds it to
  ``p.grad`` (``accumulate_grad``: the sum over the slots p filled, and over calls) and returns None
  in that slot (``backward_params`` returns None as always). So a composite that hands its input to
  several children (a residual sum, self-attention's query, key and value) gives p the TOTAL of
  its paths, at the level p was given, exactly once.

Slots: the forward's inputs by position (an input passed by keyword counts at its position in the
forward's signature); a tuple input (an LSTM's (h0, c0)) has one slot per item. The backward's result
is read as the call's gradients in that order: the result itself for a one-input call, else a tuple
(dx, dh0), (dquery, dkey, dvalue)..., or an array that is the first input's gradient (a loss).

Not a leaf, passed on as given: a Parameter with ``requires_grad`` False (data); any input under
``no_grad``; a Parameter given to an argument the module names in ``_leaf_keywords`` (it trains
that Parameter itself, as MultiheadAttention trains a learned ``attn_mask``). A Parameter that
requires grad anywhere else (a loss's target, beyond ``_graded_inputs``, a keyword-only argument),
or given to a module that has no backward returning input gradients (``backward_params`` alone, or
no backward and no children to follow), is a TypeError at forward, before anything runs: the
explicit backward would give it no gradient where torch gives one.

A backward whose result ``give_leaves`` refuses (no gradient of the leaf's shape in its slot)
changes nothing: every leaf's gradient is checked before any is added, and for a class that is not
the library's own the backward wrapper keeps the grads and waiting calls the module's backward may
change and puts them back (``call_frames._Undo``).

Cost on the common path (no Parameter given): the forward wrapper checks each positional input and
each keyword value with one ``isinstance(a, (Parameter, tuple))`` (a call given a tuple, an LSTM's
(h0, c0) or a PackedSequence, also scans the tuple's items here: ``leaf_frame``'s first line); the
backward wrapper tests the frame it consumes for the ``LEAVES`` key once. On a call given a leaf,
a class of the library's own keeps nothing more; a user's class keeps a copy of each of its
Parameters' grads that is not None (and its modules' waiting calls, by reference) for the backward.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from minitorch.grad_mode import _state as _grad_state
from minitorch.parameter import Parameter
from minitorch.parameter_views import ParameterView

LEAVES = "_leaf_inputs"  # the frame's key for this call's leaves (a frame's other keys are its cache)
SCANNED = (Parameter, tuple)  # the types the forward wrapper hands to ``leaf_frame``

_signatures: dict[type, tuple[str, ...]] = {}


class Leaves(list):
    """One forward call's leaves: (slot, item or None, Parameter) in slot order; ``single`` when the
    call had one input (its backward's result is that input's gradient itself)."""

    __slots__ = ("single",)


def _positional_names(cls: type) -> tuple[str, ...]:
    """The names of ``cls.forward``'s positional parameters after self (cached per class)."""
    names = _signatures.get(cls)
    if names is None:
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
        names = _signatures[cls] = tuple(p.name for p in params if p.kind in kinds)
    return names


def _is_leaf(a: Any) -> bool:
    return isinstance(a, Parameter) and a.requires_grad


def _holds_leaf(a: Any) -> bool:
    """``a`` is a leaf, or a tuple holding one (at any depth)."""
    return _is_leaf(a) or (isinstance(a, tuple) and any(map(_holds_leaf, a)))


def leaf_frame(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict, dict[str, Any]]:
    """(args, kwargs, frame) for a forward call given a Parameter or a tuple: each leaf input replaced
    by its ``data`` and a new frame holding the ``Leaves`` under ``LEAVES`` ({} if there are none).

    TypeError, naming the module, the argument and the fix, for a leaf the module's backward gives no
    gradient (see the module docstring). Under ``no_grad`` the inputs stay as given.
    """
    if not _grad_state.enabled or not any(map(_holds_leaf, (*args, *kwargs.values()))):
        return args, kwargs, {}  # (a tuple of arrays: an LSTM's (h0, c0), a PackedSequence)
    cls = type(module)
    names = _positional_names(cls)
    leaves = Leaves()
    args = tuple(_take(module, a, i, names[i] if i < len(names) else None, leaves)
                 for i, a in enumerate(args))
    given = len(args)
    if kwargs:
        kwargs = dict(kwargs)
        for name, a in kwargs.items():
            slot = names.index(name) if name in names else None
            if slot is not None and a is not None:
                given += 1
            kwargs[name] = _take(module, a, slot, name, leaves)
    if not leaves:
        return args, kwargs, {}
    if not module._gives_input_gradients():
        slot, item, _ = leaves[0]
        name = names[slot] if slot < len(names) else None
        _refuse(module, _named(name, slot) + ("" if item is None else f" (item {item})"),
                "", f"{cls.__name__} defines no backward(dy) returning its inputs' gradients "
                "(a backward_params gives its parameters' only)", "define backward(dy) returning them")
    leaves.sort(key=lambda leaf: (leaf[0], -1 if leaf[1] is None else leaf[1]))
    leaves.single = given == 1
    return args, kwargs, {LEAVES: leaves}


def _take(module: Any, a: Any, slot: int | None, name: str | None, leaves: Leaves,
          item: int | None = None) -> Any:
    """``a`` with its leaves replaced by their data, each recorded in ``leaves`` as (slot, item, p)."""
    if isinstance(a, tuple):
        if not any(_is_leaf(x) or isinstance(x, tuple) for x in a):
            return a
        if item is None:  # one level: an LSTM's (h0, c0); a named tuple stays one
            items = [_take(module, x, slot, name, leaves, j) for j, x in enumerate(a)]
            return a._make(items) if hasattr(a, "_make") else tuple(items)
        if not any(_is_leaf(x) for x in _flat(a)):
            return a
        return _refuse(module, _named(name, slot), "inside a tuple inside a tuple")
    if not _is_leaf(a):
        return a
    cls = type(module)
    if name is not None and name in cls._leaf_keywords:
        return a  # the module trains it itself
    limit = cls._graded_inputs
    if slot is None or (limit is not None and slot >= limit):
        return _refuse(module, _named(name, slot), "")
    leaves.append((slot, item, a))
    return a.data


def _flat(a: Any) -> list[Any]:
    return [y for x in a for y in (_flat(x) if isinstance(x, tuple) else (x,))]


def _named(name: str | None, slot: int | None) -> str:
    """How an error names the argument: 'target', input 3, or a keyword argument."""
    if name is not None:
        return f"'{name}'"
    return "a keyword argument" if slot is None else f"input {slot}"


def _refuse(module: Any, what: str, where: str, why: str = "", fix: str = "") -> Any:
    who = type(module).__name__
    where = f" ({where})" if where else ""
    why = why or f"{who}.backward gives no gradient for it"
    fix = fix or "write a module whose backward returns its gradient"
    raise TypeError(
        f"{who}: {what} is a Parameter that requires grad{where}, and {why} (torch's autograd would "
        f"fill its .grad). If it is data, pass p.data or a Parameter with requires_grad=False; to "
        f"train it, {fix}"
    )


def check_views(leaves: Leaves) -> None:
    """ValueError (``ParameterView.check_bases``) for a leaf that is a view of a Parameter whose data
    changed shape since forward: called before the module's backward runs, so nothing changes."""
    for _, _, p in leaves:
        if isinstance(p, ParameterView) and p.requires_grad:
            p.check_bases()


def give_leaves(module: Any, result: Any, leaves: Leaves, method: str) -> Any:
    """Add each leaf's gradient, read from a backward's ``result``, into its ``grad``; return
    ``result`` with None in the leaves' slots (None for ``backward_params``).

    ``result`` is read by the call's count of inputs (one: the gradient itself; several: a tuple of
    one per slot). A None input counts given by position and not by keyword, so where that count
    reads no gradient of its Parameter's shape for some leaf and the other reading of a tuple gives
    one for every leaf, the other reading is the call's (``PairState((h, c), None)`` returning
    (dh, dc); ``m(p, h=None)`` returning (dx, None)). Every leaf's gradient is read and checked
    before any is added.

    RuntimeError, naming the module, the slot and the fix, if neither reading gives each leaf a
    gradient of its shape (a module's own backward that returns fewer gradients than its forward
    took inputs); nothing is added then.
    """
    single = leaves.single or not isinstance(result, tuple)
    grads, problem = _read(result, leaves, single)
    if problem is not None and isinstance(result, tuple):
        other, _ = _read(result, leaves, not single)
        if other is not None:
            grads, problem, single = other, None, not single
    if problem is not None:
        slot, item, got = problem
        who = type(module).__name__
        raise RuntimeError(
            f"{who}.{method}: input {slot}{'' if item is None else f' (item {item})'} of the forward "
            f"call was a Parameter that requires grad (a leaf: its gradient goes into its .grad), and "
            f"{who}.backward returned {got} for it. Return one gradient per input, in the forward's "
            "order (a tuple for several), or pass p.data to the forward"
        )
    for (_, _, p), g in zip(leaves, grads, strict=True):
        p.accumulate_grad(g)
    if method == "backward_params":
        return None
    slots = [result] if single else list(result)
    for slot, item, _ in leaves:
        if slot >= len(slots) or (item is not None and not isinstance(slots[slot], tuple)):
            continue  # a leaf switched off since forward, given no slot: nothing to hide
        if item is None:
            slots[slot] = None
        else:
            inner = list(slots[slot])
            inner[item] = None
            slots[slot] = tuple(inner)
    return slots[0] if single else tuple(slots)


def _read(result: Any, leaves: Leaves, single: bool) -> tuple[list[Any] | None, tuple | None]:
    """(each leaf's gradient, None) read from ``result`` as one input's (``single``) or a tuple of
    slots; or (None, (slot, item, what came)) for the first leaf given none of its Parameter's shape
    (a leaf whose ``requires_grad`` is False now needs none: None)."""
    slots = [result] if single else list(result)
    grads = []
    for slot, item, p in leaves:
        if not p.requires_grad:  # switched off since forward: it takes no gradient (as torch's leaf)
            grads.append(None)
            continue
        g = slots[slot] if slot < len(slots) else None
        if item is not None:
            g = g[item] if isinstance(g, tuple) and item < len(g) else None
        if g is None or isinstance(g, tuple) or np.shape(g) != p.data.shape:
            got = ("no gradient" if g is None else "a tuple" if isinstance(g, tuple)
                   else f"a gradient of shape {np.shape(g)} (expected {p.data.shape})")
            return None, (slot, item, got)
        grads.append(g)
    return grads, None
