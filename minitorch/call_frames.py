"""Per-call caches: how one forward call's cache reaches the backward that consumes it (see Module).

``Module.__init_subclass__`` wraps each class's ``forward`` with ``forward_call`` and its
``backward``, ``backward_params`` and ``backward_input`` with ``backward_call``. Invariants, per
module instance (all kept in its ``__dict__``, no registry, no graph):

- ``_frame`` is the dict collecting the cache of the forward call now running, else None.
  ``Module.__setattr__`` puts every ``_``-named assignment made while it runs into that dict.
- ``_stack`` holds the frames of the forward calls that still wait for their backward, oldest
  first. A forward call pushes its frame when it returns (under ``no_grad`` it pushes nothing and
  its cache attributes are set back to None). Each outermost backward-family call pops the newest
  frame (LIFO) and shows its values as the attributes for the duration of the call. A call that
  raises puts its frame back (a backward refusing a wrong dy can be retried; every layer checks
  dy before it accumulates anything).
- ``_shown`` is the frame whose values the cache attributes hold now (None: they hold None).
  Attributes of other frames are set back to None before a frame is shown, so a backward never
  sees a value its own forward did not write.
- ``_busy`` is True while a backward-family call runs: nested calls (``backward`` running its two
  halves, a subclass's ``super().backward``) use the frame already shown.

A module that defines no backward of its own (``_records_calls``) also records, per forward call,
the calls of its children (``_calls``) and its own inputs and output (``_io``), so ``backward``
can follow a plain chain (see ``chain_of``). It keeps a byte copy of its input and of each
child's output as they enter the chain and compares them when forward returns
(``_chain_changed``), so an in-place write (``y *= 2``) between or after the children is refused
instead of giving a wrong gradient. That costs one copy and one comparison of each link's bytes
(about three memory passes): measured on an MLP of two Linear layers and a ReLU as such a module
(N=32..256, 16..784 inputs), its forward takes 1.1-1.4x as long as without the check and its
forward + backward 1.05-1.2x (the input's copy dominates when it is the widest array); under
``no_grad`` nothing is recorded or copied.

A Parameter that requires grad given as an input is a leaf (``minitorch.leaf_inputs``): the
forward wrapper passes its data on and keeps (slot, Parameter) in the frame under ``LEAVES``; the
backward-family call that consumes such a frame adds each slot's gradient into its Parameter's
grad and returns None there (``_leaf_backward``; a refused result leaves the call waiting and every
grad as it was). Without a Parameter input the forward wrapper only checks each input's type, and
the backward wrapper tests the frame for ``LEAVES``.

An edit of a container while a call waits leaves marks (``minitorch.edit_marks``): a module whose
waiting calls it dropped shows a ``Dropped`` frame until its next forward under grad mode (and
keeps the mark after it, for another container's call older than the edit), and the outermost
backward-family call of a module with children first looks for a mark below it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch.edit_marks import Dropped, _marked_refs, edit_to_refuse, restore_marks, saved_marks
from minitorch.grad_mode import _state as _grad_state
from minitorch.leaf_inputs import LEAVES, SCANNED, check_views, give_leaves, leaf_frame


class _Log(list):
    """One composite forward call's log: (module, args, kwargs, output) per finished call under it.

    ``members``: the ids of the module's callable children; ``snapshots``: (array, its bytes) for the
    module's input when forward began and each member's output when it returned, compared with the
    arrays' bytes when forward returns (``_changed_in_place``).
    """

    __slots__ = ("members", "snapshots")

    def __init__(self, module: Any, args: tuple) -> None:
        super().__init__()
        self.members = {id(m) for _, m in _callable_children(module)}
        self.snapshots: list[tuple[str, Any, bytes]] = []
        if len(args) == 1:
            _snapshot(self.snapshots, "its input", args[0])


# The call logs of the composite forwards now running, innermost last: each finished forward call
# appends (module, args, kwargs, output) to the innermost log. Single-threaded, as recording is.
_recorders: list[_Log] = []


def _snapshot(snapshots: list[tuple[str, Any, bytes]], what: str, value: Any) -> None:
    """Keep the bytes of ``value`` (an array, or a tuple/list of them) as they are now."""
    if isinstance(value, np.ndarray):
        snapshots.append((what, value, value.tobytes()))
    elif isinstance(value, (tuple, list)):
        for v in value:
            _snapshot(snapshots, what, v)


def _report(module: Any, args: tuple, kwargs: dict, out: Any) -> None:
    """Log a finished forward call in the innermost recording log (a member's output: its bytes too)."""
    log = _recorders[-1]
    log.append((module, args, kwargs, out))
    if id(module) in log.members:
        _snapshot(log.snapshots, f"the output of its child {type(module).__name__}", out)


def _changed_in_place(log: _Log) -> str | None:
    """What the forward changed in place after the chain saw it (the first such array), or None."""
    for what, array, before in log.snapshots:
        if array.tobytes() != before:
            return what
    return None


def _hide(d: dict[str, Any], frame: dict[str, Any]) -> None:
    for name in frame:
        d[name] = None


def forward_call(forward: Callable[..., Any], records: bool = False) -> Callable[..., Any]:
    """``forward`` wrapped so that the ``_`` attributes it assigns become this call's frame.

    Each class gets its own wrapper around the plain function (``records``: the class has no
    backward of its own, so its calls log their children's calls for ``chain_of``).
    """
    while getattr(forward, "_frames_kept", False) or getattr(forward, "_logged_only", False):
        forward = forward.__wrapped__
    if records:
        return _recording_forward(forward)

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d["_frame"] is not None:  # re-entered (a subclass's super().forward): the outer call records
            return forward(self, *args, **kwargs)
        frame = {}
        for a in args:  # a Parameter input: a leaf (minitorch.leaf_inputs), its data passed on
            if isinstance(a, SCANNED):
                args, kwargs, frame = leaf_frame(self, args, kwargs)
                break
        else:
            if kwargs:
                for a in kwargs.values():
                    if isinstance(a, SCANNED):
                        args, kwargs, frame = leaf_frame(self, args, kwargs)
                        break
        shown = d["_shown"]
        if shown is not None:
            _hide(d, shown)
            d["_shown"] = None
        d["_frame"] = frame
        try:
            out = forward(self, *args, **kwargs)
        except BaseException:
            d["_frame"] = None
            _hide(d, frame)
            if type(shown) is Dropped:  # a forward that failed answers no dropped call
                d["_shown"] = shown
            raise
        d["_frame"] = None
        if _grad_state.enabled:
            d["_stack"].append(frame)
            d["_shown"] = frame
            if _recorders:
                _report(self, args, kwargs, out)
        else:
            for name in frame:  # no_grad: nothing waits for a backward
                d[name] = None
            if type(shown) is Dropped:  # nor does it answer a dropped call: the edit's mark stays
                d["_shown"] = shown
        return out

    wrapper._frames_kept = True  # type: ignore[attr-defined]
    return wrapper


def _recording_forward(forward: Callable[..., Any]) -> Callable[..., Any]:
    """As ``forward_call``, and the call also records its children's calls and its own inputs/output."""

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d["_frame"] is not None:
            return forward(self, *args, **kwargs)
        frame = {}
        for a in (*args, *kwargs.values()):  # a Parameter input: a leaf (as forward_call)
            if isinstance(a, SCANNED):
                args, kwargs, frame = leaf_frame(self, args, kwargs)
                break
        shown = d["_shown"]
        if shown is not None:
            _hide(d, shown)
            d["_shown"] = None
        d["_frame"] = frame
        enabled = _grad_state.enabled
        if enabled:
            log = _Log(self, args)
            _recorders.append(log)
        try:
            out = forward(self, *args, **kwargs)
        except BaseException:
            _hide(d, frame)
            if type(shown) is Dropped:  # (as forward_call)
                d["_shown"] = shown
            raise
        finally:
            d["_frame"] = None
            if enabled:
                _recorders.pop()
        if not enabled:
            _hide(d, frame)
            if type(shown) is Dropped:  # (as forward_call)
                d["_shown"] = shown
            return out
        d["_calls"] = frame["_calls"] = log
        d["_io"] = frame["_io"] = (args, kwargs, out)
        d["_chain_changed"] = frame["_chain_changed"] = _changed_in_place(log)
        log.snapshots = []  # the bytes are not kept past the check
        d["_stack"].append(frame)
        d["_shown"] = frame
        if _recorders:
            _report(self, args, kwargs, out)
        return out

    wrapper._frames_kept = True  # type: ignore[attr-defined]
    return wrapper


def logged_call(forward: Callable[..., Any]) -> Callable[..., Any]:
    """``forward`` of a class without frames (Sequential): only reported to a recording parent."""
    while getattr(forward, "_frames_kept", False) or getattr(forward, "_logged_only", False):
        forward = forward.__wrapped__

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = forward(self, *args, **kwargs)
        if _recorders and _grad_state.enabled:
            _report(self, args, kwargs, out)
        return out

    wrapper._logged_only = True  # type: ignore[attr-defined]
    return wrapper


def backward_call(method: Callable[..., Any]) -> Callable[..., Any]:
    """A backward-family ``method`` wrapped so that its outermost call consumes the newest frame."""
    if getattr(method, "_frames_kept", False):
        return method

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d["_busy"]:  # nested: backward running its halves, or super().backward
            return method(self, *args, **kwargs)
        if d["_modules"] and _marked_refs:  # an edit somewhere: refuse before any child runs
            refuse_after_edit(self, method.__name__)
        stack = d["_stack"]
        if not stack:
            if type(d["_shown"]) is Dropped:
                raise RuntimeError(
                    f"{type(self).__name__}.{method.__name__}() called with no forward call waiting: an "
                    f"edit ({d['_shown'].edit}) of a container holding it dropped its waiting calls. Run "
                    "forward again on the edited model, then backward"
                )
            raise RuntimeError(
                f"{type(self).__name__}.{method.__name__}() called before forward(), or once more than "
                "forward: no forward call is waiting for it. Run forward first (each forward call is "
                "consumed by one backward, newest first; under mt.no_grad() forward keeps nothing)"
            )
        frame = stack.pop()
        if LEAVES in frame:  # a Parameter input: its gradient goes into its grad (leaf_inputs)
            return _leaf_backward(self, method, frame, args, kwargs)
        shown = d["_shown"]
        if shown is not frame:
            if shown is not None:
                _hide(d, shown)
            d.update(frame)
        d["_busy"] = True
        try:
            result = method(self, *args, **kwargs)
        except BaseException:
            stack.append(frame)  # a refused dy (wrong shape) leaves the call waiting, as in PyTorch
            raise
        finally:
            d["_busy"] = False
            d["_shown"] = None
            for name in frame:  # the cache does not outlive its backward
                d[name] = None
        return result

    wrapper._frames_kept = True  # type: ignore[attr-defined]
    return wrapper


def _leaf_backward(module: Any, method: Callable[..., Any], frame: dict[str, Any], args: tuple,
                   kwargs: dict) -> Any:
    """The backward of a call that took leaves: the module's own backward consumes ``frame`` as any
    other (``backward`` in place of ``backward_params``: the leaves need the input gradients), then
    each leaf's gradient goes into its grad (``leaf_inputs.give_leaves``).

    A backward that raises, or a result ``give_leaves`` refuses (no gradient for a leaf's slot),
    leaves the call waiting with its leaves and every grad as it was: a class of the library's own
    returns every input's gradient and checks dy before it adds anything, so its refusal can only
    come first; any other class's backward runs after ``_Undo`` keeps what it may change (the
    grads of its Parameters and of the leaves, a copy of each that is not None, and its modules'
    waiting calls), put back if the call is refused.
    """
    leaves = frame.pop(LEAVES)
    stack = module.__dict__["_stack"]
    stack.append(frame)
    name = method.__name__
    run = unwrapped(type(module).backward) if name == "backward_params" else method
    undo = None if _library_class(type(module)) else _Undo(module, leaves)
    try:
        check_views(leaves)
        result = backward_call(run)(module, *args, **kwargs)
        return give_leaves(module, result, leaves, name)
    except BaseException:
        if undo is not None:
            undo.restore()
        if stack and stack[-1] is frame:
            frame[LEAVES] = leaves
        raise


_library: dict[type, bool] = {}


def _library_class(cls: type) -> bool:
    """Whether ``cls``'s forward and backward methods are all the library's own (cached per class)."""
    known = _library.get(cls)
    if known is None:
        methods = ("forward", "backward", "backward_params", "backward_input")
        modules = (getattr(getattr(cls, m), "__module__", None) or "" for m in methods)  # None under exec
        known = _library[cls] = all(name.startswith("minitorch.") for name in modules)
    return known


class _Undo:
    """What a module's backward may change before its result is refused, kept to be put back: the
    grad of each of its Parameters and of each leaf (its array and a copy of its values; None
    stays None), and each of its modules' waiting calls (with their leaves) and shown frame."""

    __slots__ = ("grads", "stacks")

    def __init__(self, module: Any, leaves: list) -> None:
        params = {id(p): p for p in module.parameters()}
        params.update((id(p), p) for _, _, p in leaves)
        self.grads = [(p, p.grad, None if p.grad is None else p.grad.copy()) for p in params.values()]
        self.stacks = []
        for m in module.modules():
            d = m.__dict__
            frames = list(d["_stack"])
            self.stacks.append((d, frames, [f.get(LEAVES) for f in frames], d["_shown"]))

    def restore(self) -> None:
        for p, grad, values in self.grads:
            if grad is not None:
                grad[...] = values
            p._restore_grad(grad)
        for d, frames, leaves, shown in self.stacks:
            d["_stack"][:] = frames
            for frame, leaf in zip(frames, leaves, strict=True):
                if leaf is not None:
                    frame[LEAVES] = leaf
            now = d["_shown"]
            if now is not None and type(now) is not Dropped:  # the cache shows no frame now
                _hide(d, now)
            d["_shown"] = shown if type(shown) is Dropped else None


def keep(module: Any, cache: dict[str, Any]) -> None:
    """Assign the ``_``-named cache attributes in ``cache`` as ``module._name = value`` does for each.

    For kernels that cache several values per forward call: one call instead of one
    ``Module.__setattr__`` per name. The names start with ``_`` and the values are neither
    Parameters nor Modules nor buffers (what makes ``__setattr__`` treat them as caches).
    """
    d = module.__dict__
    frame = d["_frame"]
    if frame is not None:
        frame.update(cache)
    d.update(cache)


def unwrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function inside a ``backward_call`` wrapper (for a call made while a frame is shown)."""
    return method.__wrapped__ if getattr(method, "_frames_kept", False) else method


def discard_newest(module: Any) -> None:
    """Drop the newest waiting frame of ``module`` and of each descendant that has one.

    For a parameter-free module whose backward is skipped (its dx is not needed): every module
    under it ran once per call of it, so one frame each belongs to that call.
    """
    seen: set[int] = set()
    for m in module.modules():
        d = m.__dict__
        if id(m) in seen or not d["_stack"]:
            continue
        seen.add(id(m))
        frame = d["_stack"].pop()
        if d["_shown"] is frame:
            _hide(d, frame)
            d["_shown"] = None


def discard_all(module: Any, keep_marks: bool = False) -> None:
    """Drop every waiting frame of ``module`` and its descendants (and the edits' marks, unless
    ``keep_marks``)."""
    for m in module.modules():
        d = m.__dict__
        d["_stack"].clear()
        if d["_shown"] is not None and not (keep_marks and type(d["_shown"]) is Dropped):
            _hide(d, d["_shown"])
            d["_shown"] = None


def refuse_after_edit(module: Any, method: str) -> None:
    """RuntimeError if a module under ``module`` lost a waiting call to an edit
    (``edit_marks.edit_to_refuse``), before anything runs. ``module``'s own waiting calls are
    dropped (the marks stay until each marked module's next forward, for the other containers
    holding it), so a new forward starts clean."""
    edit = edit_to_refuse(module)
    if edit is None:
        return
    discard_all(module, keep_marks=True)
    raise RuntimeError(
        f"{type(module).__name__}.{method}: {edit}; the call this backward would consume lost part of "
        "its chain to the edit, so its waiting calls were dropped. Run forward again on the edited "
        "model, then backward"
    )


def chain_of(module: Any) -> list[Any]:
    """The children ``module``'s last forward called, in order, if they form a plain chain.

    A plain chain: forward got one input, the first child called got exactly that array, each
    next child got exactly the previous child's output (the same object, one argument, no
    keywords), and forward returned the last output. Calls made inside a child's own forward are
    not the module's. And by value: no array of the chain (the input, a child's output) was changed
    in place between the moment it entered the chain and forward's return (``_chain_changed``:
    identity alone would let ``y = self.a(x); y *= 2; return self.b(y)`` through, and backward
    would miss the factor 2). Otherwise NotImplementedError, saying how to write backward.
    """
    d = module.__dict__
    calls, (args, kwargs, out) = d["_calls"], d["_io"]
    names = {id(m): name for name, m in _callable_children(module)}
    chain = [(m, a, k, o) for m, a, k, o in calls if id(m) in names]
    problem = None
    if kwargs or len(args) != 1:
        problem = f"forward got {len(args)} positional and {len(kwargs)} keyword inputs, a chain takes one"
    elif not chain:
        problem = "forward called none of its children"
    else:
        expected = args[0]
        for m, a, k, o in chain:
            if k or len(a) != 1 or a[0] is not expected:
                problem = f"child '{names[id(m)]}' was not given the previous output (or the input) alone"
                break
            expected = o
        else:
            if out is not expected:
                problem = "forward did not return the last child's output"
    if problem is None and d.get("_chain_changed") is not None:
        raise NotImplementedError(_in_place_message(module, d["_chain_changed"]))
    if problem is not None:
        raise NotImplementedError(_write_backward_message(module, problem))
    return [m for m, *_ in chain]


def _callable_children(module: Any) -> list[tuple[str, Any]]:
    """(name, child) for each child, and for the members of container children (ModuleList/Dict)."""
    found = []
    for name, child in module._modules.items():
        found.append((name, child))
        if getattr(child, "_is_container", False):
            found += [(f"{name}.{n}", m) for n, m in _callable_children(child)]
    return found


def _write_backward_message(module: Any, problem: str) -> str:
    name = type(module).__name__
    return (
        f"{name}.backward: cannot derive backward from the recorded forward ({problem}). "
        f"Only a forward that is a plain chain of children gets backward automatically. "
        f"Write {name}.backward(dy), calling each child's backward in reverse order of forward and "
        "adding the gradients of a value used twice, e.g. for y = x + self.f(x):\n"
        "    def backward(self, dy):\n"
        "        return dy + self.f.backward(dy)"
    )


def _in_place_message(module: Any, what: str) -> str:
    name = type(module).__name__
    return (
        f"{name}.backward: cannot derive backward from the recorded forward: forward changed {what} in "
        "place (y *= 2, x += 1, np.maximum(y, 0, out=y), ...) after the chain of children saw it, so "
        "the recorded chain is not what forward computed and its gradient would be wrong. Compute out "
        f"of place (y = y * 2) and write {name}.backward(dy) for that arithmetic, calling each child's "
        "backward in reverse order of forward, e.g. for y = 2 * self.a(x):\n"
        "    def backward(self, dy):\n"
        "        return self.a.backward(2 * dy)\n"
        "or make the arithmetic a child Module with its own backward"
    )


def other_path(chain: list[tuple[str, Any, Any]],
               other: list[tuple[str, Any, Any]]) -> tuple[list[str], list[str]] | None:
    """The children's names along two recorded chains of one module (``recorded_chain`` for two
    inputs) if they call other children, else None: a forward branching on its input, which one
    converted or exported graph cannot follow."""
    if [id(child) for _, child, _ in chain] == [id(child) for _, child, _ in other]:
        return None
    return [name for name, _, _ in chain], [name for name, _, _ in other]


def recorded_chain(module: Any, x: Any, who: str) -> list[tuple[str, Any, Any]]:
    """Run ``module(x)`` once and return its plain chain as (child name, child, child's input).

    For converters (``interop.to_torch``, ``onnx.export``) of a module that is not a Sequential:
    its forward must be a plain chain of its children (see ``chain_of``). The call runs with
    gradients enabled (recording needs it) and leaves no frame behind: every module's waiting
    calls are as before. Run it in eval mode when the forward must not draw or update statistics.
    TypeError, naming ``who``, for a module that defines its own backward or is not a chain.
    """
    from minitorch.grad_mode import enable_grad

    name = type(module).__name__
    if not module._records_calls or not module._modules:
        raise TypeError(
            f"{who}: {name} is neither a Sequential nor a module whose forward is a plain chain of its "
            "children (it defines its own backward or has no children), so it cannot be converted"
        )
    depths = [(m, len(m.__dict__["_stack"])) for m in module.modules()]
    marks = saved_marks(module.modules())
    try:
        with enable_grad():
            module(x)
        chain = chain_of(module)
        names = {id(m): child_name for child_name, m in _callable_children(module)}
        inputs = [a[0] for m, a, _, _ in module.__dict__["_calls"] if id(m) in names]
    except NotImplementedError as err:
        raise TypeError(f"{who}: {name} is not a plain chain of its children: {err}") from None
    finally:
        for m, depth in depths:  # drop exactly the frames this call pushed
            d = m.__dict__
            del d["_stack"][depth:]
            if d["_shown"] is not None:
                _hide(d, d["_shown"])
                d["_shown"] = None
        restore_marks(marks)
    return [(names[id(m)], m, inp) for m, inp in zip(chain, inputs, strict=True)]
