"""Gradient clipping, in place on each Parameter's ``.grad``, as torch.nn.utils does.

Call between ``model.backward(...)`` and ``optimizer.step()``. Parameters whose ``grad is None``
(no gradient since ``zero_grad()``) are left out, as in torch. ``clip_grad_norm_`` is
``get_total_norm`` of the gradients followed by ``clip_grads_with_norm_``, as torch's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minitorch.checks import check_bool, check_real
from minitorch.dtypes import get_default_dtype
from minitorch.module import Parameter


def clip_grad_norm_(
    parameters: Iterable[Parameter] | Parameter,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> np.floating:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    Norm:     total_norm = get_total_norm(the gradients, norm_type)   (any order: 2, 1, 0.5, inf, 0, -inf...)
    Scaling:  g_i = g_i * min(max_norm / (total_norm + 1e-6), 1)      clip_grads_with_norm_, in place
    Returns:  total_norm before clipping, a NumPy scalar in the gradients' common dtype (torch's
              0-d tensor: np.float32 for float32 gradients; 0 in the default dtype when no Parameter
              has a gradient); ``float(norm)`` and ``norm.item()`` give the Python float
    ``foreach`` is accepted as torch's and changes nothing (one loop either way).
    Example:
        model.backward(loss_fn.backward())
        mt.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
    """
    p = _order(norm_type, "clip_grad_norm_")
    max_norm = _max_norm(max_norm, "clip_grad_norm_")
    check_bool(error_if_nonfinite, "clip_grad_norm_", "error_if_nonfinite")
    _check_foreach(foreach, "clip_grad_norm_")
    grads = _grads(parameters, "clip_grad_norm_")
    total_norm = _total_norm(grads, p, error_if_nonfinite, "clip_grad_norm_")
    _scale(grads, max_norm, float(total_norm))
    return total_norm


def get_total_norm(
    tensors: Iterable[np.ndarray | Parameter] | np.ndarray | Parameter,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> np.floating:
    """The norm of all ``tensors`` seen as one vector: the norm of their norms (torch's get_total_norm).

    Norm:     total_norm = ||(||t_1||_p, ..., ||t_k||_p)||_p    ||.||_p as torch.linalg.vector_norm's:
                  p finite, not 0:  (sum |t|**p)**(1/p)         (p < 0 gives 0 once any element is 0)
                  p = inf, -inf:    max |t|, min |t|
                  p = 0:            the number of nonzero elements (NaN counts), so total_norm is the
                                    number of tensors with a nonzero element
                  one element x:    |x| for every p but 0, no power taken (torch's; one tensor's
                                    total_norm is its norm exactly)
              each ||t_i||_p in t_i's dtype (summed in float32 at least: float16 does not overflow
              at 256 as its squares would), total_norm in their common dtype, as torch's
    A Parameter counts as its data, as a tensor does in torch: pass the gradients
    (``[p.grad for p in params if p.grad is not None]``) for the gradient norm. Zero-size arrays
    are left out (they add 0 to every order torch computes; torch refuses inf, -inf and p < 0 on them).
    Returns:  total_norm, a NumPy scalar in the tensors' common dtype (torch's 0-d tensor; 0 in the
              default dtype for no tensors); with ``error_if_nonfinite`` a NaN
              or infinite total_norm raises a RuntimeError. ``foreach`` changes nothing.
    Example:
        norm = mt.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    """
    p = _order(norm_type, "get_total_norm")
    check_bool(error_if_nonfinite, "get_total_norm", "error_if_nonfinite")
    _check_foreach(foreach, "get_total_norm")
    return _total_norm(_arrays(tensors), p, error_if_nonfinite, "get_total_norm")


def clip_grads_with_norm_(
    parameters: Iterable[Parameter] | Parameter,
    max_norm: float,
    total_norm: float,
    foreach: bool | None = None,
) -> None:
    """Scale every gradient by one factor, given their total norm (torch's clip_grads_with_norm_).

    Scaling:  g_i = g_i * min(max_norm / (total_norm + 1e-6), 1)   in place (torch's 1e-6); the factor
              never exceeds 1 (no gradient is enlarged) and is computed as torch computes it (in the
              gradients' common dtype, max_norm * (1 / (total_norm + 1e-6))), so the gradients are
              torch's to the bit; a NaN total_norm makes every gradient NaN, as torch's
    ``clip_grad_norm_`` is ``get_total_norm`` of the gradients followed by this; ``foreach`` changes nothing.
    Example:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        mt.clip_grads_with_norm_(model.parameters(), 1.0, mt.get_total_norm(grads))
    """
    max_norm = _max_norm(max_norm, "clip_grads_with_norm_")
    total_norm = check_real(total_norm, "clip_grads_with_norm_", "total_norm")
    _check_foreach(foreach, "clip_grads_with_norm_")
    _scale(_grads(parameters, "clip_grads_with_norm_"), max_norm, total_norm)


def clip_grad_value_(
    parameters: Iterable[Parameter] | Parameter, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    Clipping: g = min(max(g, -clip_value), clip_value)   elementwise (torch's clamp_; NaN stays NaN;
              clip_value = inf clamps nothing)
    Example:
        mt.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    c = _max_norm(clip_value, "clip_grad_value_", "clip_value")
    _check_foreach(foreach, "clip_grad_value_")
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -c, c, out=g)


def _order(value: object, who: str) -> float:
    """A norm order: any real number but NaN, -inf and inf included (also as "inf", "-inf")."""
    if isinstance(value, str) and value.lower() in ("inf", "+inf", "-inf"):
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(value):
        raise ValueError(f"{who}: norm_type must be a number (inf and -inf included), got {value!r}")
    return float(value)


def _max_norm(value: object, who: str, name: str = "max_norm") -> float:
    """A number >= 0, inf included (also as the string "inf"), as a float."""
    if isinstance(value, str) and value.lower() == "inf":
        return math.inf
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not value >= 0:
        raise ValueError(f"{who}: {name} must be a number in [0, inf], got {value!r}")
    return float(value)


def _grads(params: Iterable[Parameter] | Parameter, who: str) -> list[np.ndarray]:
    """The gradient arrays of ``params`` to clip in place: None and zero-size ones left out (each is
    a floating array of its Parameter's shape: ``Parameter.grad`` takes nothing else)."""
    params = [params] if isinstance(params, Parameter) else list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"{who}: expected Parameters (e.g. model.parameters()), got {type(p).__name__}")
    return [g for p in params if (g := p.grad) is not None and p.size > 0]


def _arrays(tensors: Iterable[np.ndarray | Parameter] | np.ndarray | Parameter) -> list[np.ndarray]:
    """The floating arrays of ``tensors`` (a Parameter's data), zero-size ones left out."""
    tensors = [tensors] if isinstance(tensors, (np.ndarray, Parameter)) else list(tensors)
    arrays = [t.data if isinstance(t, Parameter) else t for t in tensors]
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            got = f"an array of dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(
                "get_total_norm: expected floating arrays or Parameters (e.g. the gradients: "
                f"[p.grad for p in model.parameters() if p.grad is not None]), got {got}"
            )
    return [a for a in arrays if a.size > 0]


def _check_foreach(foreach: object, who: str) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"{who}: expected foreach None, True or False, got {type(foreach).__name__}")


def _total_norm(arrays: list[np.ndarray], p: float, error_if_nonfinite: bool, who: str) -> np.floating:
    """The total norm as a NumPy scalar of the arrays' common dtype (torch's 0-d tensor's dtype);
    0 in the default dtype for no arrays (torch's ``torch.tensor(0.0)``)."""
    if not arrays:
        return get_default_dtype().type(0.0)
    norms = np.array([_norm(a, p) for a in arrays], dtype=np.result_type(*arrays))
    total_norm = _norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(
            f"{who}: the total norm of order {p} is {total_norm}, not finite (error_if_nonfinite=True); "
            "pass error_if_nonfinite=False to go on with it (clipping by it gives NaN or 0 gradients)"
        )
    return total_norm


def _scale(grads: list[np.ndarray], max_norm: float, total_norm: float) -> None:
    """g *= min(max_norm / (total_norm + 1e-6), 1) for every g, with torch's arithmetic: in the grads'
    common dtype (its total_norm tensor's), the quotient as max_norm * (1 / (total_norm + 1e-6))
    (torch's float / tensor), the factor cast to each g's dtype (torch's 0-d tensor rule)."""
    if not grads:
        return
    with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 is NaN, as torch's, without a warning
        total = np.result_type(*grads).type(total_norm)
        clip_coef = np.minimum(np.reciprocal(total + 1e-6) * max_norm, 1)  # NaN stays NaN (torch.clamp)
        if clip_coef != 1:
            for g in grads:
                g *= g.dtype.type(clip_coef)


def _norm(g: np.ndarray, p: float) -> np.floating:
    """||g||_p in g's dtype, summed in float32 at least (torch's accumulation for float16);
    inf where the sum overflows, as torch's (no warning). No temporary array for p = inf.
    One element: |g| for every p but 0, with no power taken (torch's: (|g|**p)**(1/p) would lose
    |g| to rounding for tiny p, 0.25**1e-17 == 1, and to overflow for large p)."""
    acc = np.promote_types(g.dtype, np.float32)
    with np.errstate(over="ignore", divide="ignore"):
        if g.size == 1 and p != 0.0:
            norm = np.abs(g.reshape(()))
        elif p == 2.0:
            flat = g.reshape(-1).astype(acc, copy=False)
            norm = np.sqrt(np.dot(flat, flat))
        elif p == math.inf:
            norm = max(g.max(), -g.min())
        elif p == -math.inf:
            norm = np.abs(g).min()
        elif p == 0.0:
            norm = np.count_nonzero(g)
        else:  # p < 0: |0|**p = inf, so the sum is inf and its 1/p-th power 0, as torch's
            norm = np.sum(np.abs(g).astype(acc, copy=False) ** p) ** (1.0 / p)
        return g.dtype.type(norm)
