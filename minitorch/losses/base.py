"""The Loss base class: the reduction every loss shares, and the checks of inputs and targets."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_choice
from minitorch.dtypes import as_floating
from minitorch.kernels import kernels_enabled
from minitorch.kernels import losses as fast
from minitorch.module import Module

REDUCTIONS = ("mean", "sum", "none")


class LossValue(float):
    """A reduced loss: a Python float in every respect, with PyTorch's ``loss.item()`` too.

    MiniTorch has no autograd graph, so the value cannot backpropagate itself: ``loss.backward()``
    raises a RuntimeError that shows the MiniTorch form, ``model.backward(loss_fn.backward())``.
    Arithmetic on it gives plain floats.
    """

    __slots__ = ()

    def item(self) -> float:
        """The value as a plain Python float, as ``torch.Tensor.item``."""
        return float(self)

    def backward(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(
            "loss.backward(): a MiniTorch loss value is a plain number with no graph behind it. "
            "Backpropagate through the loss module, then the model: "
            "model.backward(loss_fn.backward())  (then optimizer.step())"
        )

    def __repr__(self) -> str:
        return float.__repr__(self)


class Loss(Module):
    """Base class of losses: ``forward(input, target)`` returns the loss, ``backward(dloss)`` dL/d(input).

    A loss first computes per-element losses l (the input's shape, or (N,) per sample for the
    class losses), then reduces them as PyTorch does:

        reduction   forward returns            backward(dloss) takes   dl = dL/dl
        "mean"      LossValue(l.mean())        a scalar (default 1.0)  dloss / l.size
        "sum"       LossValue(l.sum())         a scalar (default 1.0)  dloss
        "none"      l, an array                an array of l's shape   dloss

    and ``backward`` returns dinput = dl * dl/dinput, the chain rule through the reduction.
    ``dloss`` is the gradient of the final objective w.r.t. the loss (1.0 when the loss is the
    objective). Targets get no gradient. A ``LossValue`` is a Python float that also has
    ``item()``; ``loss.backward()`` on it raises, showing ``model.backward(loss_fn.backward())``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice(reduction, type(self).__name__, "reduction", REDUCTIONS)
        self._loss_shape: tuple[int, ...] | None = None

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def _reduce(self, losses: np.ndarray) -> float | np.ndarray:
        """The per-element ``losses`` reduced as ``self.reduction`` says; remembers their shape."""
        if kernels_enabled():  # fast room: the same float, without ndarray.mean's Python wrapper
            value = fast.reduce_losses(self, losses)
            return value if self.reduction == "none" else LossValue(value)
        self._loss_shape = losses.shape
        if self.reduction == "none":
            return losses
        if losses.size == 0 and self.reduction == "mean":
            raise ValueError(f"{type(self).__name__}: reduction='mean' needs at least one element, got none")
        return LossValue(losses.mean() if self.reduction == "mean" else losses.sum())

    def _upstream(self, dloss: float | np.ndarray, dtype: np.dtype, ndim: int) -> np.ndarray:
        """dl = dL/dl for every per-element loss, in ``dtype``, broadcastable to ``ndim`` dims.

        mean: dloss / l.size;  sum: dloss;  none: dloss itself, which must have l's shape
        (returned with trailing 1-dims up to ``ndim`` dims). A scalar dl comes back 0-d.
        """
        shape = self._cached(self._loss_shape)
        if self.reduction != "none":
            if np.ndim(dloss) != 0:
                raise ValueError(
                    f"{type(self).__name__}.backward: reduction={self.reduction!r} gives a scalar loss, "
                    f"so dloss must be a scalar, got shape {np.shape(dloss)}"
                )
            scale = float(dloss) / math.prod(shape) if self.reduction == "mean" else float(dloss)
            return np.asarray(scale, dtype=dtype)
        dl = np.asarray(dloss, dtype=dtype)
        if dl.shape != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: reduction='none' gives one loss per element, so dloss "
                f"must have their shape {shape}, got {dl.shape}"
            )
        return dl.reshape(dl.shape + (1,) * (ndim - dl.ndim))


class ElementwiseLoss(Loss):
    """A loss l = f(x, t) of each element of an input x and a target t of the same shape.

    A subclass defines ``_losses_and_slope(x, t) -> (l, dl/dx)`` (and ``_check_values`` if its
    inputs have a range); forward caches the slope, so backward is one product:
    dx = dl * slope  (x's shape).
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._slope: np.ndarray | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        x, t = check_pair(input, target, type(self).__name__)
        self._check_values(x, t)
        losses, self._slope = self._losses_and_slope(x, t)
        return self._reduce(losses)

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        slope = self._cached(self._slope)
        # w.r.t. input
        return slope * self._upstream(dloss, slope.dtype, slope.ndim)

    def _check_values(self, x: np.ndarray, t: np.ndarray) -> None:
        """ValueError if x or t lies outside the loss's domain; any finite value by default."""

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _losses_and_slope()")


def check_finite(x: np.ndarray, who: str, what: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{who}: {what} contains NaN or inf (expected finite values)")


def check_pair(input: np.ndarray, target: np.ndarray, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, t): a finite floating input and a finite target of the same shape, cast to x's dtype."""
    x = as_floating(input, who)
    t = np.asarray(target)
    if t.shape != x.shape:
        raise ValueError(f"{who}: expected target of the input's shape {x.shape}, got {t.shape}")
    t = as_floating(t, who).astype(x.dtype, copy=False)
    check_finite(x, who, "input")
    check_finite(t, who, "target")
    return x, t


def check_in_unit_interval(x: np.ndarray, who: str, what: str) -> None:
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{who}: expected {what} in [0, 1], got values in [{x.min()}, {x.max()}]")


def check_scores(input: np.ndarray, who: str, what: str) -> np.ndarray:
    """A finite floating (N, C) array of per-class scores (logits or log-probabilities)."""
    z = as_floating(input, who)
    if z.ndim != 2:
        raise ValueError(f"{who}: expected {what} (N, C), got shape {z.shape}")
    check_finite(z, who, "input")
    return z


def check_class_indices(y: np.ndarray, n: int, c: int, who: str) -> np.ndarray:
    """Integer class indices (N,) in [0, C)."""
    if y.shape != (n,):
        raise ValueError(f"{who}: expected target class indices ({n},), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{who}: expected integer class indices, got dtype {y.dtype} "
            "(convert with y.astype(int) if the values are whole numbers)"
        )
    if n and not (y.min() >= 0 and y.max() < c):
        raise ValueError(f"{who}: class indices must lie in [0, {c}), got values in [{y.min()}, {y.max()}]")
    return y
