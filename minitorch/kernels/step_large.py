"""Forward, loss and ``backward_params`` of a large Linear/ReLU ``Sequential`` in one function.

``mt.fit`` trains a batch with five calls (``_Trainer._step``):

    output = model(x);  loss = loss_fn(output, y);  model.backward_params(loss_fn.backward())
    optimizer.step();  optimizer.zero_grad()

``kernels/step.py`` runs all five for a small chain. For a chain with a weight of
``containers.SMALL_WEIGHT_BYTES`` or more (the 784-512-256-10 MLP) the first three run child by
child: ``Module.__call__``, the frame wrappers, each layer's forward and its kernel, the loss's
wrapper, ``_backward_through``, each layer's ``backward`` with its two halves, their ``_cached``
and ``_check_grad`` calls. ``forward_backward`` makes the NumPy calls of those three on the same
arrays in one function, and returns ``NotImplemented`` (nothing done: the calls run) outside its
case. The update stays ``optimizer.step()`` (any optimizer; ``mt.fit`` keeps a second Ctrl-C
waiting until every Parameter has its update, which several NumPy calls here could not promise).

The case, all checked before any arithmetic:
- ``model``: exactly ``Sequential`` of exact ``Linear`` and ``ReLU`` layers, the first a Linear, at
  least one weight of ``SMALL_WEIGHT_BYTES`` or more, no layer twice, every Parameter a trainable
  ``Parameter`` of x's dtype (float32 or float64) and of the chain's shapes, no method patched on
  a class or an instance (``mt.Diagnostics`` patches the model's own), no forward call waiting and
  none running, no edit's refusal pending (``Sequential._edited``: the model's own forward clears
  it), no recording parent, gradients enabled, kernels on; x an ndarray (N, in).
- ``loss_fn``: exactly ``CrossEntropyLoss`` in the cross-entropy kernel's case (class indices
  (N,) of a native integer dtype, every one in [0, C), no weight, no smoothing, nothing ignored),
  reduction "mean" or "sum", nothing waiting.

In that case the three calls run, bitwise, what is run here, in their order:
- forward, child by child as ``containers.sequential_forward`` computes them: a Linear of a large
  weight with ``layers.linear_forward``'s arithmetic (y = ``gemm.matmul(x, W)``, y += b), a ReLU of
  a large input with ``layers.relu_forward``'s (y = max(0, x), mask = a pooled array,
  np.not_equal(y, 0, out=mask)), any other child by the chain kernel's small formulas (y = x @ W,
  y += b; y = max(0, y), mask = (y != 0) in x's dtype);
- the cross-entropy kernel's forward and backward (``losses.cross_entropy_forward`` /
  ``cross_entropy_backward``: its plan, its finiteness probe, ``losses._ce_arithmetic``, the sum,
  dz *= dl with dl = 1/N or 1);
- ``backward_params`` (``containers.sequential_backward``, the arithmetic of the children's own
  calls through ``module._backward_through``), last child first: a Linear's ``layers.linear_backward_params``
  (``W.accumulate_matmul(x.T, dy)``, for a weight of ``SMALL_WEIGHT_BYTES`` or more whose last
  update plain SGD's update kernel could fold its product into (``Parameter._folds``)
  ``W.defer_matmul`` on the same arrays: the gradient is the same product, computed when read, or
  folded into plain SGD's update by ``kernels/gemm_update.py``; x is the caller's batch, not
  copied: the caller calls ``settle`` when its step ends; db = dy summed over rows, adopted as
  ``b.grad`` or accumulated) and, but for the first child, ``backward_input`` (dx = dy @ W.T, as
  ``gemm.data_grad``: bitwise the same); a ReLU's dx = dy * mask.
What they leave is what is left here: the gradients accumulated, no frame waiting and every cache
attribute those calls set (Linear ``_x``, ReLU ``_mask``, the loss's ``_dlogits`` and
``_loss_shape``) None, the returned output and loss (a ``LossValue``). The same NumPy operations
raise the same floating-point warnings (a deferred product's, when it is computed:
``Parameter.grad``; none in the folded update, ``kernels/gemm_update.py``). Two checks decline
after the forward, as the small-step kernel's do: logits or a loss not finite (a diverged run,
which fit then stops); the three calls then run that forward again, so its warnings (overflow)
come twice.
Saves: per step about 60 Python calls (wrappers, frames, checks); the NumPy arithmetic is the
three calls' own. tests/test_kernels.py checks the result against the five calls.
"""

from __future__ import annotations

import math
import sys
import threading
from operator import attrgetter
from typing import Any

import numpy as np

from minitorch import call_frames
from minitorch.grad_mode import _state as _grad_state
from minitorch.kernels import containers, gemm, kernels_enabled, layers, losses
from minitorch.kernels import step as fast_step
from minitorch.kernels.relu import relu, zero_of

_CASE = ("Sequential", "CrossEntropyLoss", "LossValue")


class _Deferred(threading.local):
    """Per thread, the weights whose gradient product its last call deferred (until ``settle``):
    a fit in another thread settles only its own."""

    def __init__(self) -> None:
        self.weights: list[Any] = []


_deferred = _Deferred()
_classes: list[Any] = []  # Sequential, CrossEntropyLoss, LossValue, Parameter
_originals: list[tuple[Any, attrgetter, Any]] = []


def _load() -> bool:
    """Fill ``_classes`` and ``_originals`` once the classes are named (``fast_step._named``, where
    each class of the case registers itself) and the layers are; False until then. Run at this
    file's import (``import minitorch`` defines those classes first), so that the originals are
    what the library defines: a probe patched before the first step is seen as patched too."""
    named = getattr(fast_step, "_named", {})
    if any(name not in named for name in _CASE) or containers.Linear is None:
        return False
    from minitorch.parameter import Parameter

    Sequential, CrossEntropyLoss, LossValue = (named[name] for name in _CASE)
    _classes[:] = [Sequential, CrossEntropyLoss, LossValue, Parameter]
    watched = [(Sequential, ("__call__", "forward", "backward_params")),
               (sys.modules[Sequential.__module__], ("_backward_through",)),
               (containers.Linear, ("__call__",)), (containers.ReLU, ("__call__",)),
               (CrossEntropyLoss, ("__call__", "forward", "backward")),
               (containers, ("sequential_forward", "sequential_backward")),
               (layers, ("linear_forward", "relu_forward", "linear_backward_params")),
               (losses, ("cross_entropy_forward", "cross_entropy_backward"))]
    _originals[:] = fast_step.take_originals(watched)
    return True


def _untouched() -> bool:
    """Every method and kernel the three calls run is still the one first seen (the layers' own
    methods: ``containers._own_forwards`` / ``_own_backwards``)."""
    return fast_step.unchanged(_originals) and containers._own_forwards() and containers._own_backwards()


def forward_backward(model: Any, loss_fn: Any, x: Any, y: Any) -> Any:
    """``model(x)``, ``loss_fn(output, y)`` and ``model.backward_params(loss_fn.backward())`` (see
    the module docstring), or ``NotImplemented`` with nothing done. Returns (output, loss): the
    model's output (a new array) and the loss as ``loss_fn`` returns it (a ``LossValue``)."""
    if _deferred.weights:
        settle()  # (a caller that did not: the list stays short)
    if not _classes and not _load():
        return NotImplemented
    Sequential, CrossEntropyLoss, LossValue, _ = _classes
    if (type(model) is not Sequential or type(loss_fn) is not CrossEntropyLoss or type(x) is not np.ndarray
            or x.ndim != 2 or type(y) is not np.ndarray or call_frames._recorders or not _grad_state.enabled
            or not kernels_enabled() or not _untouched()):
        return NotImplemented
    md, ld = model.__dict__, loss_fn.__dict__
    if ("forward" in md or "backward_params" in md or md.get("_edited") is not None
            or "forward" in ld or "backward" in ld or ld["_stack"] or ld["_shown"] is not None
            or ld["_frame"] is not None or ld["_busy"]
            or loss_fn.reduction not in ("mean", "sum") or loss_fn.weight is not None
            or loss_fn.label_smoothing or loss_fn.ignore_index >= 0):
        return NotImplemented
    children = list(md["_modules"].values())
    c = _classes_of(children, x)
    n, yt = len(x), y.dtype
    if c is None or not (y.ndim == 1 and len(y) == n != 0 and yt.kind in "iu" and yt.isnative):
        return NotImplemented
    unsigned = losses._UNSIGNED.get(yt)
    if (unsigned is None and yt.kind != "u") or not losses._range_by_unsigned(yt, c):
        return NotImplemented
    # every target in [0, C): the loss kernel's check (a negative one wraps to C or more: checked above)
    if np.maximum.reduce(y if unsigned is None else y.view(unsigned)) >= c:
        return NotImplemented
    z, kept = _forward(children, x)
    plan = losses._CE_PLANS.get((z.shape, z.strides, z.dtype, y.shape, y.dtype))
    if plan is None:
        plan = losses._ce_plan(z, y)  # (z (N, C) float32 or float64, y checked above: never None)
    if not (np.abs(z).ravel().dot(plan[2]) < plan[8] or losses.shift_in_range(z)):  # (losses._ce_plan)
        return NotImplemented  # the plain code raises (this forward's warnings come twice)
    per_sample, dy = losses._ce_arithmetic(z, y, plan)
    total = np.add.reduce(per_sample, None)
    mean = loss_fn.reduction == "mean"
    loss = total / n if mean else total
    if not math.isfinite(loss):
        return NotImplemented  # fit stops, or goes on, on the plain path
    dy *= np.array(1.0 / n if mean else 1.0, dy.dtype)
    _backward_params(children, kept, dy)
    ld["_dlogits"] = ld["_loss_shape"] = None  # what the loss's frame held, as its backward leaves it
    return z, LossValue(loss)


def settle() -> None:
    """Compute every gradient product the last ``forward_backward`` deferred and that is still
    deferred (a Parameter no ``zero_grad`` reached: ``p.grad`` read), and forget them.

    ``forward_backward`` defers a large weight's gradient product over the caller's own x, not a
    copy; ``mt.fit`` calls this when its step ends, however it ends, so that no product read
    after the step can see x written (a loader that refills the same array for the next batch)."""
    weights = _deferred.weights
    for W in weights:
        if W.deferred_product is not None:
            W.grad  # noqa: B018 (read: computed now)
    weights.clear()


def _forward(children: list[Any], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The chain's output and, per child, what its backward reads (a Linear's input, a ReLU's
    mask), each child computed as ``containers.sequential_forward`` sends it (module docstring)."""
    Linear, small = containers.Linear, containers.SMALL_WEIGHT_BYTES
    kept = []
    h = x
    fresh = False  # h is a product made here (no one else holds it): a ReLU may write into it
    for m in children:
        d = m.__dict__
        if type(m) is Linear:
            kept.append(h)
            W = d["W"].data
            h = gemm.matmul(h, W) if W.nbytes >= small else h @ W
            b = d["b"]
            if b is not None:
                h += b.data
            fresh = True
        elif h.nbytes >= small:  # layers.relu_forward
            mask = layers.empty(h.shape, h.dtype)
            h = relu(h, out=h if fresh else None)
            np.not_equal(h, 0, out=mask)  # torch's not (h <= 0): a nan input passes its gradient
            kept.append(mask)
        else:  # the chain kernel's ReLU
            zero = zero_of(h.dtype)
            h = relu(h)
            kept.append((h != zero).astype(h.dtype))
    return h, kept


def _backward_params(children: list[Any], kept: list[np.ndarray], dy: np.ndarray) -> None:
    """``_backward_through(children, dy, params_only=True)``'s arithmetic, last child first; every
    child's cache attribute ends None, as its backward wrapper leaves it."""
    Linear, large = containers.Linear, containers.SMALL_WEIGHT_BYTES
    deferred = _deferred.weights
    for i in range(len(children) - 1, -1, -1):
        m = children[i]
        d = m.__dict__
        if type(m) is Linear:
            W, b = d["W"], d["b"]
            if W._folds and W.data.nbytes >= large:  # layers.linear_backward_params, its product
                deferred.append(W)  # (first: a Ctrl-C after it leaves nothing settle misses)
                W.defer_matmul(kept[i].T, dy)  # deferred for plain SGD's update (x: see settle)
            else:
                W.accumulate_matmul(kept[i].T, dy)  # layers.linear_backward_params
            if b is not None:
                db = np.add.reduce(dy, 0)
                if b.grad is None and db.dtype == b.data.dtype:
                    b.grad = db  # fresh, held by nobody else (b is trainable: _classes_of)
                else:
                    b.accumulate_grad(db)
            if i:  # backward_input (the first child, a Linear, runs backward_params alone)
                dy = gemm.data_grad(dy, W.data)  # dy @ W.T
            d["_x"] = None
        else:
            dy = dy * kept[i]
            d["_mask"] = None


def _classes_of(children: list[Any], x: np.ndarray) -> int | None:
    """The chain's output width (the loss's classes) if ``children`` are the case of
    ``forward_backward`` for input ``x``, else None."""
    Linear, ReLU, Parameter = containers.Linear, containers.ReLU, _classes[3]
    if not children or type(children[0]) is not Linear or x.dtype.char not in "fd":
        return None
    width, dtype, large = x.shape[1], x.dtype, False
    for m in children:
        kind, d = type(m), m.__dict__
        if ((kind is not Linear and kind is not ReLU) or d["_stack"] or d["_shown"] is not None
                or d["_frame"] is not None or d["_busy"] or "forward" in d or "backward" in d
                or "backward_params" in d or "backward_input" in d):
            return None
        if kind is Linear:
            W, b = d["W"], d["b"]
            w = W.data
            if (type(W) is not Parameter or type(w) is not np.ndarray or w.dtype != dtype or w.ndim != 2
                    or w.shape[0] != width or m.in_features != width or m.out_features != w.shape[1]
                    or not W.requires_grad):
                return None
            width = w.shape[1]
            large = large or w.nbytes >= containers.SMALL_WEIGHT_BYTES
            if b is not None and (type(b) is not Parameter or type(b.data) is not np.ndarray
                                  or b.data.dtype != dtype or b.data.shape != (width,)
                                  or not b.requires_grad):
                return None
    if not large or len(set(map(id, children))) != len(children):
        return None
    return width


_load()  # (at import; else at the first call)
