"""Container kernels: a ``Sequential`` of Linear and ReLU layers run as one loop, any weight size.

``Sequential.forward`` calls each child (``Module.__call__``, the child's frame wrapper, its
``forward``, the layer kernel); ``Sequential.backward`` and ``backward_params`` call each child's
wrapped ``backward`` (which runs ``backward_params`` and ``backward_input``, each checking dy).
For a small model those Python calls cost more than the arithmetic. Here a chain made only of
``Linear`` and ``ReLU`` (exact types) does the same work in one loop:

- forward: for each child, what its frame wrapper does around its forward kernel
  (``layers.linear_forward`` / ``layers.relu_forward``), inline: the same frames pushed, the same
  caches, the same numbers (a weight of ``SMALL_WEIGHT_BYTES`` or more: the product is
  ``gemm.matmul``; a ReLU input that large: the mask is a pooled array, as those kernels make them).
- backward: each child's newest frame is popped and its formula applied, as the child's own
  backward would (``Linear``: dW = x.T @ dy, db = dy.sum(0), dx = dy @ W.T, the last as
  ``gemm.data_grad``; ``ReLU``: dx = dy * mask). The incoming dy is checked once, as the last
  child checks it; every later dy is made here in the right shape and dtype, so its check is
  skipped.

The same numbers as the children's own calls, bitwise (the same NumPy calls on the same arrays,
but for dx's product, asked of OpenBLAS with its operands swapped for a short dy), tested in
tests/test_kernels.py. Forward runs any other child (another layer type, a patched instance
method, a module already inside a call) by its own call, as the plain loop does; under
``no_grad``, inside a recording parent or with a layer method patched on the class it declines
(returns ``NotImplemented``: the children are called one by one), except that under ``no_grad``
one row goes to ``kernels/inference.py`` (a large chain on both cores, any chain in one loop).
Forward declines for a Parameter input (a leaf, ``minitorch.leaf_inputs``: the first child's own
call records it). Backward declines for anything but the cases it is written for (a frozen
Parameter, a layer used twice in the chain, a 3-D input, a module busy in a call, a patched method,
a call that took a Parameter input); a large weight's or
ReLU's frame (the input, or the pooled mask) is consumed like any other, with the layer kernels'
arithmetic (``accumulate_matmul``'s first product is the fresh ``x.T @ dy``, as here). A first
gradient goes into its slot of the flat buffer of ``kernels/flat.py`` when the Parameter has a
free one (the SGD update is then one pass), else it is the fresh product itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.dtypes import as_floating
from minitorch.grad_mode import _state as _grad_state
from minitorch.kernels import gemm, inference
from minitorch.kernels.flat import grad_home
from minitorch.kernels.pool import empty
from minitorch.kernels.relu import relu, zero_of
from minitorch.leaf_inputs import LEAVES
from minitorch.parameter import Parameter

_hide = call_frames._hide
# A Linear with a weight this large gets the layer kernel's product (kernels/gemm.py: cut along K
# on a short input) and a ReLU of an input this large the layer kernel's pooled mask
# (kernels/pool.py); below it, x @ W and a fresh mask cost fewer calls.
SMALL_WEIGHT_BYTES = 65536
Linear: Any = None  # the layer classes, named by the layers package (register_chain_layers)
ReLU: Any = None
_METHODS = ("forward", "backward", "backward_params", "backward_input")
# "Linear.forward" -> the method as the class defines it: a method patched on the class or an
# instance (a hook, a probe) must run, so then the children are called one by one
_own: dict[str, Any] = {}


def register_chain_layers(linear: type, relu: type) -> None:
    """The Linear and ReLU classes this loop runs (exact types), named by ``minitorch.layers`` when
    it is imported: the fast room imports no layer. Until then every chain runs child by child."""
    global Linear, ReLU
    Linear, ReLU = linear, relu
    _own.update((f"{cls.__name__}.{name}", getattr(cls, name)) for cls in (linear, relu) for name in _METHODS)


def _own_forwards() -> bool:
    """Linear's and ReLU's ``forward`` are the classes' own (unrolled: this runs once per step)."""
    return Linear.forward is _own["Linear.forward"] and ReLU.forward is _own["ReLU.forward"]


def _own_backwards() -> bool:
    """Linear's and ReLU's backward methods are the classes' own (unrolled: once per step)."""
    own = _own
    return (Linear.backward is own["Linear.backward"] and ReLU.backward is own["ReLU.backward"]
            and Linear.backward_params is own["Linear.backward_params"]
            and ReLU.backward_params is own["ReLU.backward_params"]
            and Linear.backward_input is own["Linear.backward_input"]
            and ReLU.backward_input is own["ReLU.backward_input"])


def sequential_forward(model: Any, x: np.ndarray, outputs: list[Any] | None = None) -> Any:
    """``Sequential.forward`` for a chain of Linear and ReLU: y = m_k(...m_1(x)), one frame per child.

    Per child, what its frame wrapper does around its forward kernel, inline:
        Linear:  y = x @ W + b          caches x     (the input check of ``layers.linear_forward``)
        ReLU:    y = max(0, x)          caches mask = (y != 0) in x's dtype
    with the layer kernels' arithmetic: a W of ``SMALL_WEIGHT_BYTES`` or more is multiplied by
    ``gemm.matmul`` (below that it returns x @ W, made here directly), and a ReLU input that
    large gets its mask in a pooled array (``np.not_equal(y, 0, out=mask)``), as
    ``layers.linear_forward`` / ``relu_forward`` do. The cache is written once the arithmetic is
    done (an operation that raises leaves none, as the frame wrapper drops it).
    The scalar 0 is a 0-d array of x's dtype (NumPy resolves a Python scalar operand on every
    call, which costs more than the comparison itself on small arrays). The same numbers as the
    children's own forwards, bitwise. Saves per child ``Module.__call__``, the wrapper's call, the
    layer's ``forward``, its kernel's call and its ``__setattr__`` (five Python calls).
    Any other child (another layer type, a method patched on the instance, a module already
    inside a call) is called as the plain loop calls it, ``x = m(x)``: the chain's result and
    frames are what the plain loop leaves.
    ``outputs`` (a list): each child's output is appended to it, in order (what a walk calling the
    children one by one would keep; ``mt.Diagnostics`` reads them on a check step).
    """
    if call_frames._recorders or not _own_forwards():
        return NotImplemented
    if isinstance(x, Parameter) and _grad_state.enabled:  # a leaf: the first child's wrapper records it
        return NotImplemented
    if not _grad_state.enabled:  # one row: kernels/inference.py (a large chain on both cores)
        return NotImplemented if outputs is not None else inference.chain_forward(model, x, Linear, ReLU)
    small = SMALL_WEIGHT_BYTES
    fresh = False  # x is a product made here that no one else holds: a ReLU may write into it
    for m in model.__dict__["_modules"].values():
        kind, d = type(m), m.__dict__
        if (kind is not Linear and kind is not ReLU) or "forward" in d or d["_frame"] is not None:
            x = m(x)
            fresh = False
            if outputs is not None:
                outputs.append(x)
            continue
        shown = d["_shown"]
        if shown is not None:
            _hide(d, shown)
            d["_shown"] = None
        if kind is Linear:
            W, b = d["W"].data, d["b"]
            if not (type(x) is np.ndarray and x.dtype == W.dtype and x.ndim and x.shape[-1] == m.in_features
                    and (b is None or b.data.dtype == W.dtype)):
                x = m._check_input(x)  # (and a b of another dtype: its TypeError, as the plain layer's)
            y = gemm.matmul(x, W) if W.nbytes >= small else x @ W  # layers.linear_forward's product
            if b is not None:
                y += b.data  # the fresh product: no y + b temporary
            # (cached once the arithmetic is done: a product that raises leaves no cache, as the
            # frame wrapper leaves none)
            d["_x"] = x
            frame = {"_x": x}
            x = y
            fresh = outputs is None
        else:
            if type(x) is not np.ndarray or x.dtype.kind != "f":
                x = as_floating(x, "ReLU")
            zero = zero_of(x.dtype)
            y = relu(x, out=x if fresh else None)
            fresh = False
            # the mask is torch's not (y <= 0), i.e. y != 0: a nan input passes its gradient
            if x.nbytes >= small:  # layers.relu_forward's mask: a pooled array, written in one pass
                mask = empty(x.shape, x.dtype)
                np.not_equal(y, zero, out=mask)
            else:  # a fresh one (the pool's call costs more than the pages it saves)
                mask = (y != zero).astype(x.dtype)
            x = y
            d["_mask"] = mask
            frame = {"_mask": mask}
        d["_stack"].append(frame)
        d["_shown"] = frame
        if outputs is not None:
            outputs.append(x)
    return x



def sequential_backward(
    model: Any, dy: np.ndarray, params_only: bool, incoming: list[Any] | None = None
) -> Any:
    """``Sequential.backward`` (``params_only`` False: returns dx) or ``backward_params`` (None).

    Per child, last first, its newest frame is consumed and its formula applied:
        Linear:  W.grad += x.T @ dy;  b.grad += dy.sum(axis=0);  dy = dy @ W.T  (gemm.data_grad)
             (a first W.grad of ``SMALL_WEIGHT_BYTES`` or more: ``W.defer_matmul``, the product
             kept until read or folded into plain SGD's update; x copied for the first child)
        ReLU:    dy = dy * mask
    With ``params_only`` the children before the first Linear are not run (their frames are
    dropped) and that Linear computes no dx, as ``module._backward_through`` does. The first
    gradient after ``zero_grad()`` is the fresh product itself (no copy), as the layer kernel does.
    The incoming dy is cast to the last child's dtype as its backward casts it (a Linear's two
    halves each cast it: a dy that needs the cast is cast again for dx, so a cast's warnings come
    as often); every later dy is made here in that one dtype and in the shape the next child
    expects (``_waiting_frames`` declines children of two dtypes, and waiting calls whose shapes do
    not chain: then each child's own check casts or refuses). An error in a child's arithmetic (a
    floating-point error under ``np.errstate``, a Ctrl-C) puts that child's frame back, as its
    backward wrapper does: the call is left waiting, the children after it consumed.
    Saves per child the wrapper's call, ``Module.backward``, the two halves' calls, their
    ``_cached`` and ``_check_grad`` calls (one dy check in all).
    ``incoming`` (a list): filled with the gradient entering each child (the dy passed, for the
    last; None for a child not run: with ``params_only``, those below the first Linear), what a
    walk calling the children's backwards would record.
    """
    children = list(model.__dict__["_modules"].values())
    frames = _waiting_frames(children) if children and _own_backwards() else None
    if frames is None:
        return NotImplemented
    first = 0
    while first < len(children) and type(children[first]) is not Linear:
        first += 1
    stop = first if params_only else 0
    if stop == len(children):  # backward_params of a chain without parameters: no child runs,
        if incoming is not None:  # dy is not even read (no cast, no check), as in the plain loop
            incoming[:] = [None] * len(children)
        for i in range(stop):
            _pop(children[i].__dict__, frames[i])
        return None
    last, frame = children[-1], frames[-1]
    if type(last) is Linear:
        x = frame["_x"]
        shape, dtype = x.shape[:-1] + (last.out_features,), last.W.data.dtype
    else:
        mask = frame["_mask"]
        shape, dtype = mask.shape, mask.dtype
    given = dy
    try:  # (the shape before the cast: a refused dy is cast once, by the child that refuses it)
        given_shape = dy.shape if type(dy) is np.ndarray else np.shape(dy)
    except Exception:
        return NotImplemented  # the plain path raises the child's own error
    if given_shape != shape:
        return NotImplemented  # the plain path raises the child's own error, its call left waiting
    if incoming is not None:
        incoming[:] = [None] * len(children)
        incoming[-1] = given
    cast_to = dtype  # the last child casts the dy given (its frame taken first, as its wrapper takes it)
    for i in range(len(children) - 1, stop - 1, -1):
        if incoming is not None and i < len(children) - 1:
            incoming[i] = dy
        stack = children[i].__dict__["_stack"]
        try:
            dy = _backward_child(children[i], frames[i], dy, i > stop or not params_only, cast_to, i == 0)
        except BaseException:  # its frame back, as the backward wrapper puts it back
            if not stack or stack[-1] is not frames[i]:
                stack.append(frames[i])
            raise
        cast_to = None
    for i in range(stop):  # params_only: the chain below the first Linear needs no dx
        _pop(children[i].__dict__, frames[i])
    return None if params_only else dy


def _backward_child(m: Any, frame: dict[str, Any], given: Any, needs_dx: bool, cast_to: Any,
                    first: bool) -> Any:
    """One child's backward in ``sequential_backward``: its frame consumed, its gradients
    accumulated, its dx returned (``needs_dx``). ``cast_to`` (the last child): the dtype its checks
    cast ``given`` to; a Linear casts it again for dx, as its ``backward_input`` does."""
    d = m.__dict__
    d["_stack"].pop()  # the frame is consumed as the backward wrapper consumes it
    shown = d["_shown"]
    if shown is not None and shown is not frame:
        _hide(d, shown)
    d["_shown"] = None
    d["_mask" if type(m) is not Linear else "_x"] = None
    if len(frame) != 1:
        _hide(d, frame)
    dy = given if cast_to is None else np.asarray(given, dtype=cast_to)  # (the cache hidden first)
    if type(m) is not Linear:
        return dy * frame["_mask"]
    W, b = d["W"], d["b"]
    x = frame["_x"]
    if W.grad is not None or type(W) is not Parameter or not W.data.flags.c_contiguous:
        W.accumulate_matmul(x.T, dy)
    elif (W._folds and W.data.nbytes >= SMALL_WEIGHT_BYTES and (not first or 2 * x.size <= W.data.size)
          and grad_home(W) is None):
        # the product deferred (Parameter.defer_matmul) for plain SGD's update to fold in (_folds: set
        # by that update at the last step). The chain's input x (deferred only where its copy costs
        # under half W) and the last child's dy are the caller's, so they are copied; every other
        # array is made here. The last child's dy is the caller's unless its cast made an array of
        # its own (a cast of an ndarray subclass, a memmap, can be a new ndarray over the caller's memory)
        mine = cast_to is None or (dy is not given and dy.flags.owndata)
        W.defer_matmul((x.copy() if first else x).T, dy if mine else dy.copy())
    else:  # Parameter.accumulate_matmul's first product, inline: into its flat slot, if free
        home = grad_home(W)
        if home is not None and x.dtype == home.dtype == dy.dtype:
            W.grad = np.matmul(x.T, dy, home)
        else:  # adopted, cast if need be
            g = x.T @ dy
            W.grad = g if g.dtype == W.data.dtype else g.astype(W.data.dtype)
    if b is not None:
        home = grad_home(b) if b.grad is None and type(b) is Parameter else None
        if home is not None and dy.dtype == home.dtype:
            b.grad = np.add.reduce(dy, 0, None, home)
        else:
            db = np.add.reduce(dy, 0)
            if b.grad is None and db.dtype == b.data.dtype:
                b.grad = db  # fresh, held by nobody else
            else:
                b.accumulate_grad(db)
    if not needs_dx:
        return None
    if dy is not given:
        dy = np.asarray(given, dtype=cast_to)
    return gemm.data_grad(dy, W.data)  # dy @ W.T


def _waiting_frames(children: list[Any]) -> list[dict[str, Any]] | None:
    """Each child's newest waiting frame, if the loop above applies, else None: only Linear and
    ReLU, each once, none patched on the instance, each with a waiting frame and not inside a call;
    every Parameter trainable; 2-D inputs (the cases the loop is written for), of any size; every
    weight and mask of one dtype (no dy needs a cast between children); each waiting call's input
    of the shape the one before it returned (a child called again since, on another shape: its
    backward refuses the chain's dy, as the plain loop then shows)."""
    frames = []
    dtype = shape = None  # the chain's one dtype; the previous child's output shape
    for m in children:
        kind, d = type(m), m.__dict__
        stack = d["_stack"]
        if (not stack or d["_busy"] or "backward" in d or "backward_params" in d or "backward_input" in d):
            return None
        frame = stack[-1]
        if LEAVES in frame:  # a call given a Parameter: its wrapper gives the leaf its gradient
            return None
        if kind is Linear:
            W, b, x = d["W"], d["b"], frame.get("_x")
            if not W.requires_grad or x is None or (b is not None and not b.requires_grad):
                return None
            w = W.data
            in_shape, w_shape = x.shape, w.shape
            if len(in_shape) != 2 or len(w_shape) != 2 or w_shape[0] != in_shape[1]:
                return None  # (3-D; or a weight replaced since: dx would not have the input's shape)
            kind_dtype, out_shape = w.dtype, (in_shape[0], m.out_features)
        elif kind is not ReLU or frame.get("_mask") is None:
            return None
        else:
            mask = frame["_mask"]
            kind_dtype, in_shape = mask.dtype, mask.shape
            out_shape = in_shape
        if (dtype is not None and kind_dtype != dtype) or (shape is not None and in_shape != shape):
            return None
        dtype, shape = kind_dtype, out_shape
        frames.append(frame)
    if len(children) > 1 and len(set(map(id, children))) != len(children):
        return None  # a layer used twice: its frames interleave, the plain calls sort them out
    return frames


def _pop(d: dict[str, Any], frame: dict[str, Any]) -> None:
    """Consume the module's newest frame (``frame``, from ``_waiting_frames``) as its backward
    wrapper does; its cache attributes end None."""
    d["_stack"].pop()
    shown = d["_shown"]
    if shown is not None and shown is not frame:
        _hide(d, shown)
    for name in frame:
        d[name] = None
    d["_shown"] = None
