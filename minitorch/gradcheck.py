"""gradcheck: prove a module's hand-written backward against central differences.

Run it on your own Module subclasses the same way the library's tests run it on every layer:

    mt.gradcheck(MyLayer(3, 2), np.random.randn(4, 3))          # True, or GradcheckError
    mt.gradcheck(mt.CrossEntropyLoss(), logits, labels)          # losses too
    mt.gradcheck(mt.LSTM(3, 4), x, (h0, c0))                     # several inputs, tuple outputs
    mt.gradcheck(mt.Embedding(10, 4), ids)                       # integer inputs are not differentiated

It checks f = sum over outputs of sum(output * r_output), with one random upstream gradient r per
floating output (so every output element matters with its own weight; a ``None`` output is skipped);
for a loss, f = sum(loss(input, target) * r), with r a scalar unless the loss has reduction="none".
Every element of every floating input and of every Parameter is perturbed by +-eps and the slope
(f(+) - f(-)) / (2 eps) compared with the analytic gradient from ``backward``. It works on a float64
copy: your module and your inputs are not changed (a Parameter input's data and grad included).

A Parameter that requires grad given as an input, positionally or by keyword (learned queries
``mha(q, x, x)``, a learned ``attn_mask=p``), is a leaf (the Module contract): gradcheck gives the
module a float64 Parameter copy of it (one copy however often it is given; the module's own copy if
the module holds it, as in ``lin(lin.W)``) and checks the gradient the backward adds into that
copy's ``grad`` (the sum over every slot it filled) against central differences, under the input's
name (the first it came by: "inputs[0]", "attn_mask"). A Parameter the module holds is checked
once, under its own name.
A frozen Parameter input is an array (data), checked as one.

Inputs follow the Module contract for several inputs (CONTRACT §4): they may be arrays or
(nested) tuples of arrays (``(h0, c0)``) or None; integer and boolean arrays are not differentiable
and ``backward`` must give None for them; keyword arguments go to ``forward`` and are not
differentiated, except a Parameter that requires grad (above). ``backward`` returns one gradient
for one input, else a tuple in the inputs' structure. A PackedSequence (input or output) is
differentiated in its data alone: its upstream gradient and ``backward``'s gradient for it are
PackedSequences of the same layout.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minitorch import random as mt_random
from minitorch.grad_mode import no_grad
from minitorch.losses import Loss
from minitorch.module import Module
from minitorch.parameter import Parameter
from minitorch.rnn_utils import PackedSequence


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one (names tensor, index and both values)."""


def gradcheck(
    module: Module,
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    **kwargs: Any,
) -> bool:
    """Compare every analytic gradient (inputs and Parameters) with central differences in float64.

    ``inputs`` are passed to the module positionally, ``kwargs`` by keyword (not differentiated,
    except a Parameter that requires grad: a leaf, its gradient read from its grad).
    A loss takes (input, target) and only input is differentiated; a loss of several graded inputs
    (``_graded_inputs``: GaussianNLLLoss's input, target and var) has each of them differentiated.
    Random layers (dropout) see the same random draws in every evaluation. Returns True, or raises
    ``GradcheckError`` naming the worst mismatch: which tensor, which index, both values.
    """
    if not inputs:
        raise ValueError("gradcheck: give the input(s) to evaluate the module at")
    is_loss = isinstance(module, Loss)
    memo: dict[int, Any] = {}  # the module's copy first: a Parameter input it holds maps to its copy
    module = copy.deepcopy(module, memo).to(np.float64)
    copies: dict[int, Parameter] = {}  # id of a Parameter input -> its float64 copy (one per Parameter)
    args = _float64_copy(inputs, memo, copies)
    kwargs = _float64_copy(kwargs, memo, copies)
    rng_state = mt_random.generator().bit_generator.state

    def evaluate() -> Any:
        mt_random.generator().bit_generator.state = rng_state  # same dropout mask every time
        return module(*args, **kwargs) if kwargs else module(*args)

    out = evaluate()
    upstream = _upstream(out, np.random.default_rng(seed), is_loss)

    def objective() -> float:
        with no_grad():  # the numerical evaluations are never backpropagated
            return _dot(evaluate(), upstream)

    module.zero_grad()
    grads = module.backward(upstream)
    # name -> (array perturbed in place, analytic gradient)
    if is_loss and module._graded_inputs == 1:
        differentiable = {"input": args[0]}
        analytic = {"input": grads}
    elif is_loss:  # several graded inputs (GaussianNLLLoss, TripletMarginLoss...): a tuple of gradients
        graded = args[:module._graded_inputs]
        differentiable = {f"inputs[{i}]": a for i, a in enumerate(graded)}
        analytic = _analytic_input_grads(grads, graded, module)
    else:
        differentiable = dict(_leaves(args if len(args) > 1 else args[0], _root(len(args))))
        analytic = _analytic_input_grads(grads, args, module)
    seen = {id(p) for p in module.parameters()}  # (checked below, under their own names)
    inputs_of = {"input": args[0]} if is_loss or len(args) == 1 else {"inputs": args}
    for root, value in (*inputs_of.items(), *kwargs.items()):
        for name, p in _parameter_leaves(value, root):  # leaves: their gradient is in their grad
            if id(p) not in seen:  # one check per Parameter, under the first name it came by
                seen.add(id(p))
                differentiable[name] = p.data
                analytic[name] = np.zeros_like(p.data) if p.grad is None else np.array(p.grad, copy=True)
    for name, p in module.named_parameters():
        if not p.requires_grad:  # frozen: no gradient to check (as torch checks what requires grad)
            continue
        differentiable[name] = p.data
        analytic[name] = np.zeros_like(p.data) if p.grad is None else np.array(p.grad, copy=True)

    worst = None
    for name, array in differentiable.items():
        if array.dtype.kind != "f":
            continue  # ids, masks: not differentiable (checked to get None in _analytic_input_grads)
        if analytic[name] is None or np.shape(analytic[name]) != array.shape:
            got = None if analytic[name] is None else np.shape(analytic[name])
            raise GradcheckError(
                f"gradcheck: {type(module).__name__} gradient of {name} has shape {got}, "
                f"expected {array.shape}"
            )
        numeric = _numerical_gradient(objective, array, eps)
        a = np.asarray(analytic[name], dtype=np.float64)
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size:
            idx = np.unravel_index(np.argmax(excess), excess.shape)
            if excess[idx] > 0 and (worst is None or excess[idx] > worst[0]):
                worst = (excess[idx], name, idx, a[idx], numeric[idx])
    if worst is not None:
        _, name, idx, a, n = worst
        raise GradcheckError(
            f"gradcheck: {type(module).__name__} gradient of {name} at index {tuple(int(i) for i in idx)}: "
            f"analytic {a:.10g}, numerical {n:.10g} (atol={atol}, rtol={rtol})"
        )
    return True


def _root(count: int) -> str:
    return "input" if count == 1 else "inputs"


def _float64_copy(value: Any, memo: dict[int, Any], copies: dict[int, Parameter]) -> Any:
    """A copy of ``value`` with every floating array (or float list) made float64; structure kept.

    A Parameter that requires grad stays one (a leaf, as the module sees it): the module's copy of
    it if the module holds it (``memo``: ``copy.deepcopy``'s), else a new float64 Parameter, one
    per Parameter however often it is given (``copies``). A frozen Parameter is data: an array."""
    if isinstance(value, dict):
        return {k: _float64_copy(v, memo, copies) for k, v in value.items()}
    if isinstance(value, PackedSequence):  # only its data is differentiable; the layout is kept
        return value._replace(data=_float64_copy(value.data, memo, copies))
    if isinstance(value, tuple):
        return tuple(_float64_copy(v, memo, copies) for v in value)
    if isinstance(value, Parameter) and value.requires_grad:
        if id(value) not in copies:
            held = memo.get(id(value))
            copies[id(value)] = Parameter(np.array(value.data, dtype=np.float64)) if held is None else held
        return copies[id(value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return np.array(array, dtype=np.float64)
    return np.array(array, copy=True) if array.dtype.kind in "biu" else value


def _leaves(value: Any, path: str) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) for every array in a nested tuple: "input", "inputs[1][0]", "input.data"..."""
    if isinstance(value, PackedSequence):
        yield f"{path}.data", value.data
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, np.ndarray):
        yield path, value


def _parameter_leaves(value: Any, path: str) -> Iterator[tuple[str, Parameter]]:
    """(name, Parameter) for every Parameter in a nested tuple, named as ``_leaves`` names arrays."""
    if isinstance(value, Parameter):
        yield path, value
    elif isinstance(value, tuple) and not isinstance(value, PackedSequence):
        for i, item in enumerate(value):
            yield from _parameter_leaves(item, f"{path}[{i}]")


def _upstream(out: Any, rng: np.random.Generator, is_loss: bool) -> Any:
    """A random upstream gradient in the structure of ``out`` (None where the output is None; a
    PackedSequence's is a PackedSequence of the same layout)."""
    if isinstance(out, PackedSequence):
        return out._replace(data=rng.standard_normal(out.data.shape))
    if isinstance(out, tuple):
        return tuple(_upstream(item, rng, is_loss) for item in out)
    if out is None or np.asarray(out).dtype.kind != "f":
        return None
    r = rng.standard_normal(np.shape(out))
    # a loss's upstream gradient is a scalar for reduction mean/sum and an array for "none"
    return float(r) if is_loss and r.ndim == 0 else r


def _dot(out: Any, upstream: Any) -> float:
    """sum(out * upstream) over every output that has an upstream gradient."""
    if isinstance(out, PackedSequence):
        return _dot(out.data, None if upstream is None else upstream.data)
    if isinstance(out, tuple):
        return sum((_dot(o, u) for o, u in zip(out, upstream, strict=True)), 0.0)
    if upstream is None:
        return 0.0
    return float(np.sum(np.asarray(out) * upstream))


def _analytic_input_grads(grads: Any, args: tuple, module: Module) -> dict[str, Any]:
    """Pair ``backward``'s return value with the inputs: one input -> one gradient, several -> a tuple.

    Integer inputs (token ids) must get None (CONTRACT §4); a GradcheckError says what came instead.
    """
    who = type(module).__name__
    structure = args[0] if len(args) == 1 else args
    found: dict[str, Any] = {}

    def pair(value: Any, grad: Any, path: str) -> None:
        if isinstance(value, PackedSequence):
            if not isinstance(grad, PackedSequence):
                raise GradcheckError(f"gradcheck: {who}.backward must return a PackedSequence for {path}, "
                                     f"got {_describe(grad)}")
            found[f"{path}.data"] = grad.data
        elif isinstance(value, tuple):
            if not isinstance(grad, tuple) or len(grad) != len(value):
                raise GradcheckError(
                    f"gradcheck: {who}.backward must return a tuple of {len(value)} for {path}, "
                    f"got {_describe(grad)}"
                )
            for i, (v, g) in enumerate(zip(value, grad, strict=True)):
                pair(v, g, f"{path}[{i}]")
        elif isinstance(value, np.ndarray) and value.dtype.kind != "f":
            if grad is not None:
                raise GradcheckError(
                    f"gradcheck: {who}.backward returned {_describe(grad)} for {path}, an integer input "
                    "(not differentiable): expected None"
                )
        elif isinstance(value, np.ndarray):
            found[path] = grad

    pair(structure, grads, _root(len(args)))
    return found


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return repr(value) if value is None else type(value).__name__


def _numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """Central differences (f(a + eps) - f(a - eps)) / (2 eps), one element of ``array`` at a time."""
    grad = np.zeros_like(array)
    for idx in _indices(array.shape):
        original = array[idx]
        array[idx] = original + eps
        f_plus = f()
        array[idx] = original - eps
        f_minus = f()
        array[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def _indices(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    yield from np.ndindex(*shape)
