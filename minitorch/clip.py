"""Gradient clipping, in place on each Parameter's ``.grad``, as torch.nn.utils does.

Call between ``model.backward(...)`` and ``optimizer.step()``. Parameters whose ``grad is None``
(no gradient since ``zero_grad()``) are left out, as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.module import Parameter


def clip_grad_norm_(
    params: Iterable[Parameter] | Parameter,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    Norm:     total_norm = ||(||g_1||_p, ..., ||g_k||_p)||_p       the p-norm of all gradients as one vector
                         = max_i max|g_i|                           for norm_type = inf
              each ||g_i||_p in g_i's dtype (summed in float32 at least: float16 does not overflow
              at 256 as its squares would), total_norm in their common dtype, as torch's
    Scaling:  g_i = g_i * min(max_norm / (total_norm + 1e-6), 1)   in place (torch's 1e-6)
    Returns:  total_norm before clipping, a Python float (0.0 when no Parameter has a gradient)
    ``foreach`` is accepted as torch's and changes nothing (one loop either way).
    Example:
        model.backward(loss_fn.backward())
        mt.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
    """
    p = _at_most_inf(norm_type, "norm_type", low_open=True)
    max_norm = _at_most_inf(max_norm, "max_norm", low_open=False)
    check_bool(error_if_nonfinite, "clip_grad_norm_", "error_if_nonfinite")
    _check_foreach(foreach, "clip_grad_norm_")
    grads = _grads(params, "clip_grad_norm_")
    if not grads:
        return 0.0
    norms = np.array([_norm(g, p) for g in grads], dtype=np.result_type(*grads))
    total_norm = float(_norm(norms, p))
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total_norm}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    clip_coef = min(max_norm / (total_norm + 1e-6), 1.0)
    if clip_coef != 1.0:
        for g in grads:
            g *= clip_coef
    return total_norm


def clip_grad_value_(
    params: Iterable[Parameter] | Parameter, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    Clipping: g = min(max(g, -clip_value), clip_value)   elementwise (torch's clamp_)
    Example:
        mt.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    check_number(clip_value, "clip_grad_value_", "clip_value", 0)
    _check_foreach(foreach, "clip_grad_value_")
    c = float(clip_value)
    for g in _grads(params, "clip_grad_value_"):
        np.clip(g, -c, c, out=g)


def _at_most_inf(value: object, name: str, low_open: bool) -> float:
    """A number > 0 (>= 0 unless low_open), inf included (also as the string "inf"), as a float."""
    if isinstance(value, (float, str)) and str(value).lower() == "inf":
        return math.inf
    return check_number(value, "clip_grad_norm_", name, 0, low_open=low_open)


def _grads(params: Iterable[Parameter] | Parameter, who: str) -> list[np.ndarray]:
    params = [params] if isinstance(params, Parameter) else list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"{who}: expected Parameters (e.g. model.parameters()), got {type(p).__name__}")
    return [p.grad for p in params if p.grad is not None and p.size > 0]


def _check_foreach(foreach: object, who: str) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"{who}: expected foreach None, True or False, got {type(foreach).__name__}")


def _norm(g: np.ndarray, p: float) -> np.floating:
    """||g||_p in g's dtype, summed in float32 at least (torch's accumulation for float16);
    inf where the sum overflows, as torch's (no warning). No temporary array for p = inf."""
    acc = np.promote_types(g.dtype, np.float32)
    with np.errstate(over="ignore"):
        if p == 2.0:
            flat = g.reshape(-1).astype(acc, copy=False)
            norm = np.sqrt(np.dot(flat, flat))
        elif p == math.inf:
            norm = max(g.max(), -g.min())
        else:
            norm = np.sum(np.abs(g).astype(acc, copy=False) ** p) ** (1.0 / p)
        return g.dtype.type(norm)
