"""Container kernels: a ``Sequential`` of Linear and ReLU layers run as one loop (the small-model path).

``Sequential.forward`` calls each child (``Module.__call__``, the child's frame wrapper, its
``forward``, the layer kernel); ``Sequential.backward`` and ``backward_params`` call each child's
wrapped ``backward`` (which runs ``backward_params`` and ``backward_input``, each checking dy).
For a small model those Python calls cost more than the arithmetic. Here a chain made only of
``Linear`` and ``ReLU`` (exact types) does the same work in one loop:

- forward: for each child, what its frame wrapper does around its forward kernel
  (``layers.linear_forward`` / ``layers.relu_forward``), inline: the same frames pushed, the same
  caches, the same numbers.
- backward: each child's newest frame is popped and its formula applied, as the child's own
  backward would (``Linear``: dW = x.T @ dy, db = dy.sum(0), dx = dy @ W.T; ``ReLU``: dx = dy *
  mask). The incoming dy is checked once, as the last child checks it; every later dy is made
  here in the right shape and dtype, so its check is skipped.

The same numbers as the children's own calls, bitwise (the same NumPy calls on the same arrays),
tested in tests/test_kernels.py. Anything else (another layer type, a weight of
``SMALL_WEIGHT_BYTES`` or more, a frozen Parameter, a layer used twice in the chain, a 3-D input,
``no_grad``, a recording parent, a module busy in a call, a patched layer method) declines: the
function returns ``NotImplemented`` and the children are called one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.dtypes import as_floating
from minitorch.grad_mode import _state as _grad_state

_hide = call_frames._hide
# A chain with a weight this large runs child by child, through the layer kernels (kernels/layers.py),
# which keep big arrays in the pool and recycle their passes; this loop is for small models, where
# the per-call Python work costs more than the arithmetic.
SMALL_WEIGHT_BYTES = 65536
Linear: Any = None  # the layer classes, named by the layers package (register_chain_layers)
ReLU: Any = None
_CHAIN_TYPES: set[type] = set()
_FORWARD_NAMES = ("forward",)
_BACKWARD_NAMES = ("backward", "backward_params", "backward_input")
_METHODS = _FORWARD_NAMES + _BACKWARD_NAMES
_own_methods: list[tuple[type, str, Any]] = []  # (class, name, method as defined)


def register_chain_layers(linear: type, relu: type) -> None:
    """The Linear and ReLU classes this loop runs (exact types), named by ``minitorch.layers`` when
    it is imported: the fast room imports no layer. Until then every chain runs child by child."""
    global Linear, ReLU
    Linear, ReLU = linear, relu
    _CHAIN_TYPES.update((linear, relu))
    _own_methods.extend((cls, name, getattr(cls, name)) for cls in (linear, relu) for name in _METHODS)


def _methods_are_own(children: Any, names: tuple[str, ...]) -> bool:
    """The Linear and ReLU methods ``names`` are the library's, not patched on the class or an
    instance: a patched method (a hook, a probe) must run, so then the children are called one by one."""
    for cls, name, own in _own_methods:
        if name in names and getattr(cls, name) is not own:
            return False
    for m in children:
        d = m.__dict__
        for name in names:
            if name in d:
                return False
    return True


def sequential_forward(model: Any, x: np.ndarray) -> Any:
    """``Sequential.forward`` for a chain of Linear and ReLU: y = m_k(...m_1(x)), one frame per child.

    Per child, what its frame wrapper does around its forward kernel, inline:
        Linear:  y = x @ W + b          caches x     (the input check of ``layers.linear_forward``)
        ReLU:    y = max(x, 0)          caches mask = (x > 0) in x's dtype
    The scalar 0 is a 0-d array of x's dtype (NumPy resolves a Python scalar operand on every
    call, which costs more than the comparison itself on small arrays). The same numbers as the
    children's own forwards, bitwise. Saves per child ``Module.__call__``, the wrapper's call, the
    layer's ``forward``, its kernel's call and its ``__setattr__`` (five Python calls).
    """
    children = model.__dict__["_modules"].values()
    if not _grad_state.enabled or call_frames._recorders:
        return NotImplemented
    for m in children:
        if type(m) not in _CHAIN_TYPES or (type(m) is Linear and m.W.data.nbytes >= SMALL_WEIGHT_BYTES):
            return NotImplemented
    if not _methods_are_own(children, _FORWARD_NAMES):
        return NotImplemented
    for m in children:
        d = m.__dict__
        if d["_frame"] is not None:  # re-entered: never in a plain chain; the plain call handles it
            x = m(x)
            continue
        shown = d["_shown"]
        if shown is not None:
            _hide(d, shown)
            d["_shown"] = None
        if type(m) is Linear:
            W = m.W.data
            if not (type(x) is np.ndarray and x.dtype == W.dtype and x.ndim and x.shape[-1] == m.in_features):
                x = m._check_input(x)
            frame = {"_x": x}
            x = x @ W
            if m.b is not None:
                x += m.b.data  # the fresh product: no y + b temporary
        else:
            if type(x) is not np.ndarray or x.dtype.kind != "f":
                x = as_floating(x, "ReLU")
            zero = _zero(x.dtype)
            frame = {"_mask": (x > zero).astype(x.dtype)}
            x = np.maximum(x, zero)
        d.update(frame)
        d["_stack"].append(frame)
        d["_shown"] = frame
    return x


_ZEROS: dict[np.dtype, np.ndarray] = {}


def _zero(dtype: np.dtype) -> np.ndarray:
    """A read-only 0-d zero of ``dtype``."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = np.zeros((), dtype)
        zero.flags.writeable = False
    return zero


def sequential_backward(model: Any, dy: np.ndarray, params_only: bool) -> Any:
    """``Sequential.backward`` (``params_only`` False: returns dx) or ``backward_params`` (None).

    Per child, last first, its newest frame is consumed and its formula applied:
        Linear:  W.grad += x.T @ dy;  b.grad += dy.sum(axis=0);  dy = dy @ W.T
        ReLU:    dy = dy * mask
    With ``params_only`` the children before the first Linear are not run (their frames are
    dropped) and that Linear computes no dx, as ``module._backward_through`` does. The first
    gradient after ``zero_grad()`` is the fresh product itself (no copy), as the layer kernel does.
    Saves per child the wrapper's call, ``Module.backward``, the two halves' calls, their
    ``_cached`` and ``_check_grad`` calls (one dy check in all).
    """
    children = list(model.__dict__["_modules"].values())
    if not children or not _chain_applies(children) or not _methods_are_own(children, _BACKWARD_NAMES):
        return NotImplemented
    last = children[-1]
    frame = last.__dict__["_stack"][-1]
    if type(last) is Linear:
        x = frame["_x"]
        shape, dtype = x.shape[:-1] + (last.out_features,), last.W.data.dtype
    else:
        mask = frame["_mask"]
        shape, dtype = mask.shape, mask.dtype
    dy = np.asarray(dy, dtype=dtype)
    if dy.shape != shape:
        return NotImplemented  # the plain path raises the child's own error, its call left waiting
    first = 0
    while first < len(children) and type(children[first]) is not Linear:
        first += 1
    stop = first if params_only else 0
    for i in range(len(children) - 1, stop - 1, -1):
        m = children[i]
        frame = _pop(m)
        if type(m) is Linear:
            x = frame["_x"]
            m.W.accumulate_matmul(x.T, dy)
            b = m.b
            if b is not None:
                db = np.add.reduce(dy, axis=0)
                if b.grad is None and db.dtype == b.data.dtype:
                    b.grad = db  # fresh, held by nobody else
                else:
                    b.accumulate_grad(db)
            if i > stop or not params_only:
                dy = dy @ m.W.data.T
        else:
            dy = dy * frame["_mask"]
    for m in children[:stop]:  # params_only: the chain below the first Linear needs no dx
        _pop(m)
    return None if params_only else dy


def _chain_applies(children: list[Any]) -> bool:
    """Only Linear and ReLU, each once, each with a waiting frame and not inside a call; every
    Parameter trainable; 2-D inputs (the cases the loop above is written for)."""
    seen = set()
    for m in children:
        kind = type(m)
        d = m.__dict__
        if (kind is not Linear and kind is not ReLU) or d["_busy"] or not d["_stack"] or id(m) in seen:
            return False
        seen.add(id(m))
        frame = d["_stack"][-1]
        if kind is Linear:
            if m.W.data.nbytes >= SMALL_WEIGHT_BYTES:
                return False
            b = m.b
            x = frame.get("_x")
            if not m.W.requires_grad or (b is not None and not b.requires_grad) or x is None or x.ndim != 2:
                return False
        elif frame.get("_mask") is None:
            return False
    return True


def _pop(m: Any) -> dict[str, Any]:
    """Consume ``m``'s newest frame as its backward wrapper does; its cache attributes end None."""
    d = m.__dict__
    frame = d["_stack"].pop()
    shown = d["_shown"]
    if shown is not None and shown is not frame:
        _hide(d, shown)
    for name in frame:
        d[name] = None
    d["_shown"] = None
    return frame
