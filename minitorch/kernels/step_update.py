"""``optimizer.step()`` of plain ``SGD`` without its group loop and per-Parameter helpers.

``SGD.step`` (after its wrapper's checks, ``_checked_step``) runs its group loop,
``_params_with_grad``, ``fast_or_plain``, the SGD kernel's flat-buffer test and, per large
Parameter, ``scal_``, ``axpy_``, ``_get_blas`` and ``usable``. ``sgd_step``, which ``SGD.step``
tries first, makes the same NumPy and BLAS calls on the same arrays in one function, for the case
below; outside it it returns ``NotImplemented`` with nothing done (the step's own lines run). The
steps of a small chain that ``mt.fit``'s whole-step kernel (``kernels/step.py``) takes do not come
here.

The case, all checked before anything changes: kernels on; ``optimizer`` exactly ``SGD``, none of
its methods patched on the class or the instance, nor ``Parameter.zero_grad`` (the calls around a
step), the plain ``sgd`` and its dispatcher, or the SGD kernel and its helpers (a counter, a
probe: then they run); every Parameter of every group an exact ``Parameter``, each gradient of its
Parameter's shape and its data writable (else ``step()`` raises: ``_check_writable``); every
setting the step reads converts as the step converts it; no forward waiting in a module owning a
Parameter (``_check_no_waiting_forward`` would raise: declined, so that ``step()`` raises).

In that case ``step()`` would run what is run here (bitwise but for a deferred product's update),
group by group: the Parameters with
a gradient, frozen or not (``_params_with_grad``), the state cast to their dtypes first
(``_match_state_dtypes``), then
- a group with momentum 0, weight decay 0 and a finite lr (maximize or not: the step -lr then)
  whose first such Parameter holds more
  than ``flat.MAX_ELEMENTS`` numbers and is in no flat group (so the kernel's flat-buffer test
  does nothing), each ``p.data`` an ndarray and ``p.grad`` one of its dtype, float32 or float64
  (``optimizers.plain_only`` false, so the kernel's own arithmetic): the SGD kernel's lines inline, the
  thread policy (``threads.apply_policy_for``), then per Parameter ``p.data -= a * grad``
  (a = lr as a 0-d array of p's dtype) under ``BLAS_MIN`` elements, else, for a gradient left
  as a deferred product a @ b (``Parameter.defer_matmul``), ``p.data -= lr * (a @ b)`` as one BLAS
  gemm where ``gemm_update.takes`` allows it (equal to the plain update to float rounding, not
  bitwise: ``kernels/gemm_update.py``; the gradient stays the product, computed when read), else
  (the product computed by reading ``p.grad``) one BLAS ``axpy`` where
  the kernel's ``usable`` allows it and both arrays are aligned and writable (their addresses
  read through ``ctypes.c_char.from_buffer``), else ``axpy_`` itself, which decides as in the
  kernel (its ``scal_`` by 1 - lr * 0 = 1 does nothing);
- any other group: the SGD kernel itself with the arguments ``step()`` gives it, and its new
  momentum buffers stored in ``optimizer.state`` as ``step()`` stores them.
The same operations raise the same errors and floating-point warnings, at the same point (the
folded update raises none: ``kernels/gemm_update.py``).
The wrapper's checks run again here (``sgd_step`` is whole on its own: a caller outside
``SGD.step`` gets them too; a read-only array declines, so that ``step()`` raises). ``mt.fit``'s
Ctrl-C deferral covers it as it covers ``step()``.
Saves: per step about 20 Python calls (the group loop's, the per-Parameter helpers) and the
``.ctypes`` objects of four array addresses; for a deferred product, the gradient's write and the
update's pass over it (``kernels/gemm_update.py``); else the arithmetic is the step's own.
tests/test_kernels.py checks the result against the step's own lines.
"""

from __future__ import annotations

import ctypes
import math
import sys
from operator import attrgetter
from typing import Any

import numpy as np

from minitorch import threads
from minitorch.kernels import flat, gemm_update, kernels_enabled
from minitorch.kernels import optimizers as optimizer_kernels
from minitorch.kernels import step as fast_step

_classes: list[Any] = []  # SGD, Parameter
_originals: list[tuple[Any, attrgetter, Any]] = []
_METHODS = frozenset(("step", "zero_grad", "_check_no_waiting_forward", "_check_writable",
                      "_match_state_dtypes", "_params_with_grad"))


def load() -> bool:
    """Fill ``_classes`` and ``_originals`` once SGD is named (``fast_step._named``); False until
    then. Run by ``optimizers/sgd.py`` once SGD and its ``sgd`` are defined (and at this file's
    import, for a tree where SGD was defined first), so that the originals are what the library
    defines: a probe patched before the first step is seen as patched too."""
    SGD = fast_step._named.get("SGD")
    if SGD is None:
        return False
    from minitorch.parameter import Parameter

    _classes[:] = [SGD, Parameter]
    watched = [(SGD, tuple(sorted(_METHODS))), (Parameter, ("zero_grad",)),
               (sys.modules[SGD.__module__], ("sgd", "fast_or_plain")),
               (optimizer_kernels, ("sgd", "axpy_", "scal_", "_get_blas")), (flat, ("update",))]
    _originals[:] = fast_step.take_originals(watched)
    return True


def _untouched() -> bool:
    """Every method and kernel the two calls run is still the one first seen."""
    return fast_step.unchanged(_originals)


def sgd_step(optimizer: Any) -> bool | Any:
    """``optimizer.step()`` (see the module docstring): True once the step is taken, or
    ``NotImplemented`` with nothing done."""
    if not _classes and not load():
        return NotImplemented
    SGD, Parameter = _classes
    if (type(optimizer) is not SGD or not kernels_enabled() or not _METHODS.isdisjoint(optimizer.__dict__)
            or not _untouched()):
        return NotImplemented
    plan = []
    try:
        for group in optimizer.param_groups:
            params, arrays = [], True
            for p in group["params"]:
                if type(p) is not Parameter:
                    return NotImplemented
                product = p.deferred_product  # (a, b): the gradient a @ b, not computed here
                grad = p.grad if product is None else product[0]  # (a: of the gradient's dtype)
                if grad is not None:  # (_params_with_grad)
                    shape = np.shape(grad) if product is None else (len(grad), product[1].shape[1])
                    if shape != np.shape(p.data) or not p.data.flags.writeable:
                        return NotImplemented  # (step() raises)
                    params.append(p)
                    # (a Parameter the SGD kernel leaves to the plain lines goes to it; no local
                    # holds a data array: flat.adopt counts the references)
                    arrays = arrays and not optimizer_kernels.plain_only(p.data, grad)
            # the conversions step() makes, in its order (one that raises: step() raises it)
            momentum = float(group["momentum"])
            lr, dampening = float(group["lr"]), float(group["dampening"])
            weight_decay, nesterov = float(group["weight_decay"]), bool(group["nesterov"])
            maximize = bool(group["maximize"])
            inline = arrays and not momentum and not weight_decay and math.isfinite(lr) and (
                not params or (params[0].data.size > flat.MAX_ELEMENTS and id(params[0]) not in flat._groups))
            plan.append((params, lr, momentum, dampening, weight_decay, nesterov, maximize, inline))
        optimizer._check_no_waiting_forward()
    except Exception:  # (step() raises it: nothing is changed yet)
        return NotImplemented
    if optimizer.state:
        optimizer._match_state_dtypes()
    for params, lr, momentum, dampening, weight_decay, nesterov, maximize, inline in plan:
        if inline:
            _plain_update(params, -lr if maximize else lr)
            continue
        buffers = [optimizer.state.get(p, {}).get("momentum_buffer") for p in params] if momentum else []
        optimizer_kernels.sgd(params, [p.grad for p in params], buffers, lr=lr, momentum=momentum,
                              dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                              maximize=maximize)
        for p, b in zip(params, buffers, strict=False):  # (no buffers when momentum == 0)
            optimizer.state.setdefault(p, {})["momentum_buffer"] = b
    return True


def _plain_update(params: list[Any], lr: float) -> None:
    """The SGD kernel's update with momentum 0 and weight decay 0, past its flat-buffer test (which
    does nothing for these Parameters: the first holds more than ``flat.MAX_ELEMENTS`` numbers and
    is in no flat group), each ``p.data`` an ndarray and ``p.grad`` one of its dtype, float32 or
    float64. ``lr`` is the signed step: -lr under maximize, where the kernel's ``lr * s`` and
    ``-lr * s`` (s = -1) are these same numbers."""
    threads.apply_policy_for(params)
    blas_min = optimizer_kernels.BLAS_MIN
    step_t: dict[np.dtype, np.ndarray] = {}  # lr as a 0-d array of each dtype (no promotion)
    routines = None
    for p in params:
        x, product = p.data, p.deferred_product
        if x.size >= blas_min and x.flags.c_contiguous:
            if product is not None and gemm_update.takes(x, *product, lr):
                gemm_update.update_(x, *product, lr)  # x -= lr * (a @ b), the gradient left the product
                p._folds = True
                continue
            p._folds = True  # the next backward may defer its product (a declined one is computed
            # below, by reading p.grad, which clears this)
        grad = p.grad
        if x.size < blas_min:
            a = step_t.get(x.dtype)
            if a is None:
                a = step_t[x.dtype] = np.asarray(lr, dtype=x.dtype)
            x -= a * grad
            continue
        if routines is None:
            routines = optimizer_kernels._get_blas().routines
        axpy = routines.get(x.dtype)
        # the kernel's _Blas.usable(x, grad) (x.size >= BLAS_MIN already; grad of x's dtype:
        # plain_only; of x's shape: sgd_step), and both aligned and writable: addressof(from_buffer)
        # is their address (a tighter test only sends more to axpy_)
        if axpy is not None and x.flags.carray and grad.flags.carray:
            axpy[0](x.size, -lr, _address(grad), 1, _address(x), 1)
        else:
            optimizer_kernels.axpy_(-lr, grad, x)


def _address(a: np.ndarray) -> int:
    """The address of a C-contiguous, writable array's first element (what ``a.ctypes.data`` says,
    through a lighter object)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(a))


load()  # (at import; else when sgd.py has defined SGD, or at the first call)
