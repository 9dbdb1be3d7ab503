"""The Loss base class: the reduction every loss shares, and the checks of inputs and targets."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np

from minitorch.checks import SettingTypeError, check_choice
from minitorch.dtypes import as_floating
from minitorch.kernels import kernels_enabled
from minitorch.kernels import losses as fast
from minitorch.kernels.step import register_step_class
from minitorch.module import Module

REDUCTIONS = ("mean", "sum", "none")


class LossValue(float):
    """A reduced loss: a Python float in every respect, with PyTorch's ``loss.item()`` too.

    MiniTorch has no autograd graph, so the value cannot backpropagate itself: ``loss.backward()``
    raises a RuntimeError that shows the MiniTorch form, ``model.backward(loss_fn.backward())``.
    Arithmetic with numbers (``l1 + 0.5 * l2``, ``sum(losses)``) gives a LossValue again, so a
    PyTorch-style ``(l1 + l2).backward()`` meets the same error; ``float(loss)`` or ``loss.item()``
    gives a plain float.
    """

    __slots__ = ()

    def item(self) -> float:
        """The value as a plain Python float, as ``torch.Tensor.item``."""
        return float(self)

    def backward(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(
            "loss.backward(): a MiniTorch loss value is a plain number with no graph behind it. "
            "Backpropagate through the loss module, then the model: "
            "model.backward(loss_fn.backward())  (then optimizer.step()); for a weighted sum of "
            "losses a * l1 + b * l2, pass each loss its weight: loss_fn1.backward(a), loss_fn2.backward(b)"
        )

    def __repr__(self) -> str:
        return float.__repr__(self)


def _stays_a_loss_value(name: str) -> None:
    """LossValue.<name> computes as float's and returns a LossValue (NotImplemented passes through)."""
    operation = getattr(float, name)

    def method(self: LossValue, *other: object) -> object:
        result = operation(self, *other)
        return LossValue(result) if type(result) is float else result

    method.__name__ = name
    setattr(LossValue, name, method)


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__neg__", "__pos__"):
    _stays_a_loss_value(_name)


class Loss(Module):
    """Base class of losses: ``forward(input, target)`` returns the loss, ``backward(dloss)`` dL/d(input).

    A loss first computes per-element losses l (the input's shape, or (N,) per sample for the
    class losses), then reduces them as PyTorch does:

        reduction   forward returns            backward(dloss) takes   dl = dL/dl
        "mean"      LossValue(l.sum() / count) a scalar (default 1.0)  dloss / count
        "sum"       LossValue(l.sum())         a scalar (default 1.0)  dloss
        "none"      l, an array                an array of l's shape   dloss

    and ``backward`` returns dinput = dl * dl/dinput, the chain rule through the reduction.
    count = l.size, except where PyTorch divides by something else: the class losses with
    ``weight`` or ignored targets divide by the sum of the weights of the targets they count
    (when that is 0, every target ignored or weighing 0, the mean is nan, as torch; the gradient is
    then torch's: 0 on ignored targets, nan on counted ones, see CrossEntropyLoss), and
    KLDivLoss's "batchmean" by the batch size l.shape[0].
    An empty batch (no per-element loss): "mean" and "batchmean" give nan (0 / 0, as torch), "sum"
    0, and backward an empty dinput (so a model's parameter gradients are zeros, as torch's).
    ``dloss`` is the gradient of the final objective w.r.t. the loss (1.0 when the loss is the
    objective). Targets get no gradient: a target that is a Parameter requiring grad is a TypeError
    (torch's autograd would give it one); an input that is one is a leaf (``input.grad`` gets dinput,
    backward returns None: the Module contract). A ``LossValue`` is a Python float that also has
    ``item()``; ``loss.backward()`` on it raises, showing ``model.backward(loss_fn.backward())``.
    """

    _reductions = REDUCTIONS  # the reductions a subclass accepts (KLDivLoss adds "batchmean")
    _graded_inputs = 1  # backward returns dinput only: a target Parameter requiring grad is refused

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if not isinstance(reduction, str):  # torch's losses take weight / size_average first
            raise SettingTypeError(_positional_torch_habit(type(self), reduction, self._reductions))
        self.reduction = check_choice(reduction, type(self).__name__, "reduction", self._reductions)
        self._loss_shape: tuple[int, ...] | None = None
        self._count: float | None = None
        self._reduction: str | None = None  # the reduction the forward call read

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def _read_reduction(self) -> str:
        """``reduction`` as this forward call reads it (torch reads it at every call, with its
        check), kept for that call's backward: set between the two, it changes neither."""
        self._reduction = reduction = check_choice(self.reduction, type(self).__name__, "reduction",
                                                   self._reductions)
        return reduction

    def _reduce(self, losses: np.ndarray, count: float | None = None,
                batch: int | None = None) -> float | np.ndarray:
        """The per-element ``losses`` reduced as ``self.reduction`` says; remembers their shape.

        ``count``: what "mean" divides the sum by, when it is not l.size (see the class docstring);
        ``batch``: what "batchmean" divides by, when it is not l.shape[0] (the input's batch size
        where a target broadcast l to another shape, as torch's input.size(0)).
        """
        reduction = self._read_reduction()
        if reduction == "batchmean":
            count = batch if batch is not None else losses.shape[0] if losses.ndim else 1
        self._count = count
        if count is None and kernels_enabled():  # fast room: the same float, without ndarray.mean's wrapper
            value = fast.reduce_losses(self, losses)
            return value if reduction == "none" else LossValue(value)
        self._loss_shape = losses.shape
        if reduction == "none":
            return losses
        if count is None:
            if losses.size == 0 and reduction == "mean":  # an empty batch: 0 / 0 = nan, as torch
                return LossValue(math.nan)
            return LossValue(losses.mean() if reduction == "mean" else losses.sum())
        if reduction == "sum":
            return LossValue(losses.sum())
        if count == 0:  # no counted target weighs anything: nan, as torch (not label smoothing's x / 0 = inf)
            return LossValue(math.nan)
        return LossValue(losses.sum() / losses.dtype.type(count))

    def _upstream(self, dloss: float | np.ndarray, dtype: np.dtype, ndim: int) -> np.ndarray:
        """dl = dL/dl for every per-element loss, in ``dtype``, broadcastable to ``ndim`` dims.

        mean: dloss / l.size;  sum: dloss;  none: dloss itself, which must have l's shape
        (returned with trailing 1-dims up to ``ndim`` dims). A scalar dl comes back 0-d.
        """
        shape = self._cached(self._loss_shape)
        reduction = self._reduction  # the forward call's
        if reduction != "none":
            if np.ndim(dloss) != 0:
                raise ValueError(
                    f"{type(self).__name__}.backward: reduction={reduction!r} gives a scalar loss, "
                    f"so dloss must be a scalar, got shape {np.shape(dloss)}"
                )
            if reduction == "sum":
                return np.asarray(float(dloss), dtype=dtype)
            count = math.prod(shape) if self._count is None else self._count
            # count 0: nan, as torch's dloss / 0; the class losses keep it on counted targets only
            return np.asarray(float(dloss) / count if count else math.nan, dtype=dtype)
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
    dx = dl * slope  (x's shape), cast to the input's dtype.
    A target of another shape (``_target_shapes``, torch's rule for the loss of that name):
    "same" refuses it (BCELoss, BCEWithLogitsLoss: torch raises); "warn" broadcasts x and t with
    torch's UserWarning "Using a target size ... that is different to the input size ..." (MSELoss,
    L1Loss, SmoothL1Loss, HuberLoss); "broadcast" broadcasts without one (KLDivLoss, PoissonNLLLoss,
    HingeEmbeddingLoss); "to_input" takes a target that broadcasts to x's own shape only
    (SoftMarginLoss: torch writes l into x's shape). Broadcast, l and the slope have the broadcast
    shape B ("mean" divides by prod(B), as torch) and dx = sum of dl * slope over the axes x was
    broadcast along (x's shape: the gradient torch's autograd gives an expanded input).
    dtypes (``check_pair``): l and the slope are computed in the promoted dtype of a floating input
    and a floating target (float32 and float64: float64), as torch's MSELoss, L1Loss, SmoothL1Loss and
    KLDivLoss do; dx comes back in the input's dtype, as torch's gradient. An integer or bool
    target takes the input's dtype. (torch 2.13 refuses the mixed pair for HuberLoss and BCELoss and
    answers BCEWithLogitsLoss in the target's dtype; these follow the one rule, the same values to
    the narrower dtype's precision.)
    """

    _target_shapes = "same"  # how a target of another shape is read (see above)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._slope: np.ndarray | None = None
        self._input_dtype: np.dtype | None = None  # dx's dtype (the slope's may be wider)
        self._input_shape: tuple[int, ...] | None = None  # dx's shape (the slope's may be broadcast)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = type(self).__name__
        x, t, self._input_dtype = check_pair(input, target, who, self._target_shapes)
        self._input_shape = x_shape = np.shape(input)
        x, t = _broadcast_pair(x, t, who, self._target_shapes)
        self._check_values(x, t)
        losses, self._slope = self._losses_and_slope(x, t)
        return self._reduce(losses, batch=x_shape[0] if x_shape else 1)

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        slope = self._cached(self._slope)
        # w.r.t. input (computed in the slope's dtype, returned in the input's, as torch's gradient;
        # summed over the axes a target broadcast x along)
        dx = slope * self._upstream(dloss, slope.dtype, slope.ndim)
        return sum_to(dx, self._input_shape).astype(self._input_dtype, copy=False)

    def _check_values(self, x: np.ndarray, t: np.ndarray) -> None:
        """ValueError if x or t lies outside the loss's domain; any finite value by default."""

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _losses_and_slope()")


def check_finite(x: np.ndarray, who: str, what: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{who}: {what} contains NaN or inf (expected finite values)")


def check_not_bool(value: object, who: str, name: str) -> None:
    """A SettingTypeError for a True / False given as a weight array (torch's TypeError: not a
    tensor), which NumPy would read as 1.0 / 0.0."""
    if isinstance(value, (bool, np.bool_)):
        raise SettingTypeError(f"{who}: {name} must be an array of numbers or None, got {value!r}")


def check_not_bool_labels(target: object, who: str) -> None:
    """TypeError for a bool array of +1 / -1 labels: torch's -target refuses a bool tensor, and NumPy
    would read False as 0, not -1 (a silently different loss)."""
    if np.asarray(target).dtype == bool:
        raise TypeError(f"{who}: target is bool, expected labels +1 / -1 as numbers (torch refuses -target "
                        "of a bool target too; False would read as 0, not -1): give np.where(target, 1, -1)")


def check_pair(input: np.ndarray, target: np.ndarray, who: str,
               target_shapes: str = "same") -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """(x, t, the input's dtype): a finite floating input and a finite target of the same shape (or
    one that broadcasts with it, as ``target_shapes`` says: see ``ElementwiseLoss``), both in the dtype
    the loss computes in: the promoted dtype of x and a floating t (torch's type promotion: a float64
    target is never rounded to a float32 input's dtype), x's dtype for an integer or bool t."""
    x = as_floating(input, who)
    t = np.asarray(target)
    if t.shape != x.shape:
        check_target_shape(x.shape, t.shape, who, target_shapes)
    if t.dtype.kind not in "biu":
        t = as_floating(t, who)  # a floating target as it is; a TypeError for a non-numeric one
    input_dtype = x.dtype
    dtype = np.promote_types(x.dtype, t.dtype) if t.dtype.kind == "f" else x.dtype
    x, t = x.astype(dtype, copy=False), t.astype(dtype, copy=False)
    check_finite(x, who, "input")
    check_finite(t, who, "target")
    return x, t, input_dtype


_BROADCAST_WHY = {
    "same": "(PyTorch refuses a target of another size here too)",
    "to_input": "(or one that broadcasts to it, as torch, whose loss takes the input's shape)",
}


def check_target_shape(x_shape: tuple[int, ...], t_shape: tuple[int, ...], who: str, rule: str) -> None:
    """ValueError unless a target of shape ``t_shape`` (not x's) is taken under ``rule``."""
    try:
        shape = np.broadcast_shapes(x_shape, t_shape)
    except ValueError:
        shape = None
    if rule == "same" or shape is None or (rule == "to_input" and shape != x_shape):
        why = _BROADCAST_WHY.get(rule, "(or one that broadcasts with it, as torch)")
        raise ValueError(f"{who}: expected target of the input's shape {x_shape}, got {t_shape} {why}")


def _broadcast_pair(x: np.ndarray, t: np.ndarray, who: str, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """x and t broadcast to one shape (checked by ``check_pair``), with torch's warning for "warn"."""
    if x.shape == t.shape:
        return x, t
    if rule == "warn":  # torch.nn.functional's text for these losses (its UserWarning)
        warnings.warn(
            f"Using a target size {t.shape} that is different to the input size {x.shape}. This will "
            "likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning, stacklevel=5,  # the caller of loss_fn(input, target)
        )
    return np.broadcast_arrays(x, t)


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """g summed over the axes it was broadcast along from ``shape`` (g itself when it has that shape):
    the gradient of an input that entered a computation broadcast, as torch's autograd sums it."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def check_in_unit_interval(x: np.ndarray, who: str, what: str) -> None:
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{who}: expected {what} in [0, 1], got values in [{x.min()}, {x.max()}]")


def check_class_scores(input: np.ndarray, who: str, what: str) -> tuple[np.ndarray, bool]:
    """(z, unbatched): floating per-class scores as (N, C, *d), finite or -inf (a masked class, as a
    log_softmax of a logit masked with -inf gives: torch takes it); an unbatched (C,) input as (1, C)."""
    z = as_floating(input, who)
    if z.ndim == 0:
        raise ValueError(
            f"{who}: expected {what} (N, C), (N, C, d1, ...) or unbatched (C,), got shape {z.shape}"
        )
    if not np.isfinite(z).all() and (np.isnan(z).any() or np.isposinf(z).any()):
        raise ValueError(
            f"{who}: input contains NaN or +inf (expected finite values, or -inf for a masked class)"
        )
    return (z[None], True) if z.ndim == 1 else (z, False)


def check_class_indices(y: np.ndarray, z_shape: tuple[int, ...], ignore_index: int, who: str) -> np.ndarray:
    """Integer class indices (N, *d) for scores (N, C, *d), each in [0, C) or equal to ``ignore_index``."""
    expected = (z_shape[0],) + z_shape[2:]
    if y.shape != expected:
        raise ValueError(f"{who}: expected target class indices {expected}, got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{who}: expected integer class indices, got dtype {y.dtype} "
            "(convert with y.astype(int) if the values are whole numbers)"
        )
    c = z_shape[1]
    counted = y[y != ignore_index]
    if counted.size and not (counted.min() >= 0 and counted.max() < c):
        raise ValueError(
            f"{who}: class indices must lie in [0, {c}), got values in [{counted.min()}, {counted.max()}] "
            f"(targets equal to ignore_index={ignore_index} are skipped)"
        )
    return y


def check_class_weight(weight: object, who: str) -> np.ndarray | None:
    """A constructor's ``weight``: None, or a finite 1-D float array of one weight per class (a copy)."""
    if weight is None:
        return None
    check_not_bool(weight, who, "weight")
    w = np.array(as_floating(weight, who))
    if w.ndim != 1:  # empty for an input of no classes, as torch
        raise ValueError(f"{who}: weight must be a 1-D array of one weight per class, got shape {w.shape}")
    check_finite(w, who, "weight")
    return w


register_step_class(LossValue)  # what mt.fit's whole-step kernel (kernels/step.py) returns


def _positional_torch_habit(cls: type, reduction: object, choices: tuple[str, ...]) -> str:
    """The error for a loss given a non-string first argument: torch's losses take ``weight`` (a
    class-weight array) or the deprecated ``size_average`` / ``reduce`` before ``reduction``."""
    name = cls.__name__
    fix = (f"pass class weights by keyword, {name}(weight=w)" if "weight" in inspect.signature(cls).parameters
           else f"{name} takes no weight, and torch's size_average / reduce are reduction=")
    return (f"{name}: reduction must be one of {choices}, got {reduction!r} (the first argument; "
            f"torch's first positional arguments are weight / size_average: {fix})")
