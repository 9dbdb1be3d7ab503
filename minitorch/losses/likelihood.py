"""Negative log-likelihoods of a distribution's parameters: Poisson (PoissonNLLLoss) and Gaussian
(GaussianNLLLoss, which takes the variance as a third input with its own gradient)."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.dtypes import as_floating
from minitorch.losses.base import ElementwiseLoss, Loss, check_finite, sum_to

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class PoissonNLLLoss(ElementwiseLoss):
    """Negative log-likelihood of a Poisson target, as torch.nn.PoissonNLLLoss.

    Shapes:   x (*) log-rates (log_input=True) or rates >= 0 (log_input=False)   t (*) counts, same
              shape (or broadcastable, as torch)   l (*)
    Forward:  log_input=True:   l = exp(x) - t * x
              log_input=False:  l = x - t * log(x + eps)
              full=True adds Stirling's approximation of log(t!), where t > 1 (0 elsewhere, as torch):
                                l += t * log(t) - t + 0.5 * log(2 * pi * t)
              reduced: mean (default), sum or none (see ``Loss``)
    Backward: dx = dl * (exp(x) - t)            (*)   log_input=True
              dx = dl * (1 - t / (x + eps))     (*)   log_input=False (the Stirling term has no x)
    A negative rate (log_input=False) is a ValueError: torch's log(x + eps) gives nan there.
    Example:
        loss_fn = PoissonNLLLoss()
        loss = loss_fn(np.array([0.0, 1.0]), np.array([1.0, 2.0]))   # mean(1, e - 2) = 0.859
        dx = loss_fn.backward()                                      # [0, (e - 2) / 2]
    """

    _target_shapes = "broadcast"  # a target of another shape: as torch (see ElementwiseLoss)

    def __init__(self, log_input: bool = True, full: bool = False, reduction: str = "mean", *,
                 eps: float = 1e-8) -> None:
        super().__init__(reduction)
        self.log_input = check_bool(log_input, "PoissonNLLLoss", "log_input")
        self.full = check_bool(full, "PoissonNLLLoss", "full")
        self.eps = check_number(eps, "PoissonNLLLoss", "eps")

    def _check_values(self, x: np.ndarray, t: np.ndarray) -> None:
        # the settings are read at every call, with their checks
        check_bool(self.full, "PoissonNLLLoss", "full")
        check_number(self.eps, "PoissonNLLLoss", "eps")
        if not check_bool(self.log_input, "PoissonNLLLoss", "log_input") and x.size and x.min() < 0:
            raise ValueError(
                f"PoissonNLLLoss: expected input rates >= 0 with log_input=False (log(x + eps) of a "
                f"negative rate is nan), got a minimum of {x.min()}; pass log-rates with log_input=True"
            )

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.log_input:
            exp_x = np.exp(x)
            losses, slope = exp_x - t * x, exp_x - t
        else:
            x_eps = x + x.dtype.type(self.eps)
            with np.errstate(divide="ignore", invalid="ignore"):  # x + eps = 0: torch's inf / nan
                losses, slope = x - t * np.log(x_eps), 1 - t / x_eps
        if self.full:
            big = np.where(t > 1, t, 1)  # t <= 1 reads 1 and is masked out: no log(0) warning
            stirling = big * np.log(big) - big + 0.5 * np.log(2 * np.pi * big)
            losses = losses + np.where(t > 1, stirling, 0).astype(losses.dtype, copy=False)
        return losses, slope

    def extra_repr(self) -> str:
        return f"log_input={self.log_input}, full={self.full}, eps={self.eps}"


class GaussianNLLLoss(Loss):
    """Negative log-likelihood of a Gaussian target of mean ``input`` and variance ``var``, as
    torch.nn.GaussianNLLLoss. Three inputs, three gradients.

    Shapes:   x (*) means   t: target, broadcastable to x's shape   l (*) x's shape
              var: x's shape (one variance per element), or one size 1 where x's differ
              ((N, 1) for x (N, D): one variance per sample), or x's shape without its last axis
              ((N,) for x (N, D), read as (N, 1)), or a Python float (the same variance everywhere);
              each other shape is a ValueError, as torch's "var is of incorrect size"
    Forward:  v = max(var, eps)                      clamped for stability (var < 0 is a ValueError)
              d = x - t
              l = 0.5 * (log(v) + d**2 / v)          + 0.5 * log(2 * pi) with full=True
              reduced: mean (default), sum or none (see ``Loss``)
    Backward: (dx, dt, dvar) = loss_fn.backward(dloss), one gradient per input, in the forward's order:
              dx   = dl * d / v                        x's shape, x's dtype
              dt   = -dx summed to t's shape           t's shape, t's dtype (None for an integer t)
              dvar = dl * 0.5 * (1 / v - d**2 / v**2)  summed to var's shape, var's dtype (None for a
                                                       float var)
              The clamp is torch's straight-through one: torch clamps a copy of var under no_grad,
              so where var < eps dvar is the slope at v = eps, not 0.
    dtypes: l in the promoted dtype of x, a floating t and a floating var (an integer t reads as x's
    dtype; an integer var is a TypeError, as torch's "can't be cast").
    Example:
        loss_fn = GaussianNLLLoss()
        loss = loss_fn(np.array([1.0, 2.0]), np.array([1.0, 0.0]), np.array([1.0, 2.0]))   # 0.673
        dx, dt, dvar = loss_fn.backward()                      # [0, 0.5], [0, -0.5], [0.25, -0.125]
    """

    _graded_inputs = 3  # backward returns (dinput, dtarget, dvar)

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full = check_bool(full, "GaussianNLLLoss", "full")
        self.eps = check_number(eps, "GaussianNLLLoss", "eps")
        self._d: np.ndarray | None = None
        self._v: np.ndarray | None = None
        # (x's dtype, t's shape, t's dtype, var's shape (None: a float), var's dtype)
        self._given: tuple | None = None

    def __call__(self, input: np.ndarray, target: np.ndarray, var: np.ndarray | float
                 ) -> float | np.ndarray:  # type: ignore[override]
        return self.forward(input, target, var)

    def forward(self, input: np.ndarray, target: np.ndarray, var: np.ndarray | float
                ) -> float | np.ndarray:  # type: ignore[override]
        who = "GaussianNLLLoss"
        full = check_bool(self.full, who, "full")  # read at every call, with the checks
        eps = check_number(self.eps, who, "eps")
        x = as_floating(input, who)
        t = np.asarray(target)
        if t.dtype.kind not in "biu":
            t = as_floating(t, who)
        v, var_shape = _read_var(var, x)
        dtype = np.result_type(*(a.dtype for a in (x, t, v) if a.dtype.kind == "f"))
        if not _broadcasts(t.shape, x.shape) or np.broadcast_shapes(t.shape, x.shape) != x.shape:
            raise ValueError(f"{who}: expected a target broadcastable to the input's shape {x.shape}, "
                             f"got {t.shape}")
        check_finite(x, who, "input")
        check_finite(t, who, "target")
        check_finite(v, who, "var")
        if v.size and v.min() < 0:
            raise ValueError(f"{who}: expected var >= 0 (variances), got a minimum of {v.min()}")
        self._given = (x.dtype, t.shape, t.dtype, var_shape, v.dtype)
        x, t, v = (a.astype(dtype, copy=False) for a in (x, t, v))
        v = np.maximum(v, dtype.type(eps))
        d = x - t
        losses = 0.5 * (np.log(v) + d * d / v)
        if full:
            losses = losses + dtype.type(_HALF_LOG_2PI)
        self._d, self._v = d, v
        return self._reduce(losses)

    def backward(self, dloss: float | np.ndarray = 1.0
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:  # type: ignore[override]
        d = self._cached(self._d)
        v = self._v
        x_dtype, t_shape, t_dtype, var_shape, v_dtype = self._given
        dl = self._upstream(dloss, d.dtype, d.ndim)
        # w.r.t. inputs (in the loss's dtype, returned in each input's own, as torch's gradients)
        dx = dl * d / v
        dvar = sum_to(dl * 0.5 * (1 / v - d * d / (v * v)), v.shape)
        dt = None if t_dtype.kind != "f" else sum_to(-dx, t_shape).astype(t_dtype, copy=False)
        dvar = None if var_shape is None else dvar.reshape(var_shape).astype(v_dtype, copy=False)
        return dx.astype(x_dtype, copy=False), dt, dvar

    def extra_repr(self) -> str:
        return f"full={self.full}, eps={self.eps}"


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(shape, to)
    except ValueError:
        return False
    return True


def _read_var(var: object, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """(v, var's shape or None for a float): v broadcastable to x's shape by torch's rules."""
    who = "GaussianNLLLoss"
    if isinstance(var, float):  # torch: var * ones_like(input)
        return np.full(x.shape, var, dtype=x.dtype), None
    v = np.asarray(var)
    if v.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating var (variances), got dtype {v.dtype}")
    if v.shape == x.shape:
        return v, v.shape
    if v.shape == x.shape[:-1] and x.ndim:  # homoscedastic: one variance per row, (N,) for (N, D)
        return v[..., None], v.shape
    # torch's rule: as many dims, and var's sizes where they differ from x's sum to 1
    if v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape, strict=True) if a != b) == 1 \
            and _broadcasts(v.shape, x.shape):
        return v, v.shape
    raise ValueError(
        f"{who}: var is of incorrect size: expected the input's shape {x.shape}, that shape with one "
        f"axis of size 1, or {x.shape[:-1]} (one variance per row), got {v.shape}"
    )
