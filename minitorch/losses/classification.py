"""Losses over C classes: cross-entropy of logits and NLL of log-probabilities, as torch.nn.

Both take scores (N, C) or (N, C, d1, ...) (one score per class along axis 1, as torch), or one
unbatched sample (C,); optional class ``weight`` (C,) and an ``ignore_index`` target that counts
for nothing. Binary cross-entropy is in ``binary``.
"""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_int, check_number
from minitorch.functional import log_of_sum, shifted_exp
from minitorch.kernels import kernels_enabled
from minitorch.kernels import losses as fast
from minitorch.kernels.step import register_step_class
from minitorch.losses.base import (
    Loss,
    LossValue,
    check_class_indices,
    check_class_scores,
    check_class_weight,
    check_finite,
)


class CrossEntropyLoss(Loss):
    """Softmax + negative log-likelihood, fused, as torch.nn.CrossEntropyLoss.

    Shapes:   z (N, C, *d) logits (d: none, or extra axes d1, ...; an unbatched z (C,) is N = 1)
              y (N, *d) class indices in [0, C) or ignore_index, or (N, C, *d) class probabilities
              w (C,) class weights (weight=None: all 1)   l (N, *d)   (class axis 1 throughout)
              dtypes as torch: w of z's dtype for class indices (else TypeError); for probabilities
              l in the promoted dtype of z, y and w, dz in z's dtype
    Forward:  s = z - z.max(axis=1)                 (row max keeps exp(s) <= 1: no overflow)
              lse = log(sum(exp(s), axis=1))        log-sum-exp: never log(p + eps)
              log_p = s - lse                       (N, C, *d) log-softmax
              class indices: onehot = onehot(y)     (N, C, *d), a zero row where y == ignore_index
                             q = (1 - eps) * onehot + eps / C * onehot.sum(axis=1)
              probabilities: q = (1 - eps) * y + eps / C                  eps = label_smoothing
              wq = w * q                            (N, C, *d), w along the class axis
              l = -sum(wq * log_p, axis=1)          (N, *d) = w[y] * (lse - s[y]) for an index, eps = 0;
                                                    +0.0 where y == ignore_index (torch's); with class
                                                    indices a class of q = 0 adds nothing where its
                                                    log_p is -inf (a logit masked with -inf: z may hold
                                                    -inf, not NaN or +inf)
              loss = l reduced (see ``Loss``): "mean" divides l.sum() by sum(w * onehot) (the
              weights of the counted targets) for class indices, by N * prod(d) for probabilities,
              as torch; sum(w * onehot) = 0 (every target ignored or weighing 0): mean = nan, as torch
              no classes (C = 0; every class index then ignored): the all-ignored answer (mean nan,
              sum 0, l = 0), but with eps > 0 nan throughout (torch adds eps / C * a sum of no terms,
              inf * 0), and a mean of probability targets is nan (torch's 0 / 0 over z.size)
    Backward: dz = dl * (p * sum(wq, axis=1) - wq)  (N, C, *d), p = softmax(z) = exp(s) / sum(exp(s))
                                                    = dl * (p - onehot(y)) without weights and eps
              "mean" with sum(w * onehot) = 0: dl = dloss / 0 = nan, so dz is nan on the counted
              samples and 0 on the ignored ones (torch's result)
    Example:
        loss_fn = CrossEntropyLoss()
        loss = loss_fn(np.array([[2.0, 0.0, -1.0]]), np.array([0]))   # 0.1698...
        dz = loss_fn.backward()                                       # p - onehot(y)
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0, *,
                 weight: np.ndarray | None = None, ignore_index: int = -100) -> None:
        super().__init__(reduction)
        self._counted: np.ndarray | None = None  # "mean" over targets weighing 0 in all: where dz is nan
        weight = check_class_weight(weight, "CrossEntropyLoss")
        if weight is None:  # an empty buffer slot, as torch's: a weight set later is a buffer too
            self.register_buffer("weight", None)
        else:  # a buffer, as torch: in state_dict, cast by to(dtype)
            self.register_buffer("weight", weight)
        self.ignore_index = check_int(ignore_index, "CrossEntropyLoss", "ignore_index")
        self.label_smoothing = check_number(label_smoothing, "CrossEntropyLoss", "label_smoothing", 0, 1)
        self._probs: np.ndarray | None = None
        self._wq: np.ndarray | None = None
        self._unbatched: bool | None = None
        self._dlogits: np.ndarray | None = None  # the fast room's cache

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        # read at every call, with torch's checks (torch refuses a label_smoothing above 1 here;
        # MiniTorch one below 0 too, as its constructor does)
        check_number(self.label_smoothing, "CrossEntropyLoss", "label_smoothing", 0, 1)
        check_int(self.ignore_index, "CrossEntropyLoss", "ignore_index")
        if kernels_enabled():  # fast room: the same loss for (N, C) logits and plain class indices
            loss = fast.cross_entropy_forward(self, input, target)
            if loss is not None:
                return loss if self._reduction == "none" else LossValue(loss)
        z, unbatched = check_class_scores(input, "CrossEntropyLoss", "logits")
        y = self._check_target(np.asarray(target), z, unbatched)
        eps, c, indices = self.label_smoothing, z.shape[1], y.ndim < z.ndim
        s, exp_s, sum_exp = shifted_exp(z, axis=1)
        log_p = s - log_of_sum(sum_exp)  # (no classes: an empty log_p, as torch)
        w = _along_class_axis(self, z, indices)
        smooth = eps / c if c else 0.0  # C = 0: q is empty, eps / C multiplies nothing
        if indices:
            onehot = _one_hot(y, c, z.dtype, self.ignore_index)
            q = (1 - eps) * onehot + smooth * onehot.sum(axis=1, keepdims=True)
        else:
            q = (1 - eps) * y + smooth
        wq = w * q
        self._probs, self._wq, self._unbatched = exp_s / sum_exp, wq, unbatched
        # finite logits whose range passes the dtype's: s overflows to -inf (0 * -inf where q = 0), and
        # a weight or a smoothed sum past 1 can take w * q * log_p or its sum past the dtype's range:
        # inf, as torch's, which warns of neither
        with np.errstate(invalid="ignore", over="ignore"):
            terms = wq * log_p
            if indices:  # torch gathers the target's log_p: a class of q = 0 adds nothing, even
                terms[(q == 0) & np.isinf(log_p)] = 0.0  # where its log_p is -inf (a masked logit)
            losses = -np.sum(terms, axis=1)
        if indices:  # an ignored target's loss is torch's +0.0 (-(a sum of zeros) is -0.0)
            losses[y == self.ignore_index] = 0.0
        # no classes, label smoothing and class indices: torch adds eps / C * (a sum of no terms)
        # to each loss and to their sum, inf * 0 = nan
        no_classes_smoothed = c == 0 and indices and eps > 0
        if no_classes_smoothed:
            losses = np.full_like(losses, np.nan)
        if indices:
            count = None if self._plain_targets(y, False) else np.sum(w * onehot)
        else:  # no classes: torch's mean of probability targets is nan (its 0 / 0 over z.size)
            count = 0 if z.size == 0 and losses.size else None
        self._counted = onehot.any(axis=1, keepdims=True) if count == 0 and indices else None
        loss = self._reduce(losses.reshape(()) if unbatched else losses, count)
        return LossValue(math.nan) if no_classes_smoothed and self._reduction != "none" else loss

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        if self._dlogits is not None:  # forward ran in the fast room: its partner kernel, the same dz
            return fast.cross_entropy_backward(self, dloss)
        p = self._cached(self._probs)
        wq = self._wq
        dl = _per_class(self._upstream(dloss, wq.dtype, 0))  # in the loss's dtype
        # w.r.t. input (in z's dtype: wq is float64 for float32 z with a float64 weight or float64
        # probabilities, as torch)
        dz = (dl * (p * wq.sum(axis=1, keepdims=True) - wq)).astype(p.dtype, copy=False)
        if self._counted is not None:  # dl = nan: torch's nan on the counted samples, 0 on the ignored
            dz = np.where(self._counted, dz, 0).astype(p.dtype, copy=False)
        return dz[0] if self._unbatched else dz

    def _plain_targets(self, y: np.ndarray, unbatched: bool) -> bool:
        """No weight, no ignored target, batched: "mean" divides by l.size."""
        return self.weight is None and not unbatched and not (y == self.ignore_index).any()

    def _check_target(self, y: np.ndarray, z: np.ndarray, unbatched: bool) -> np.ndarray:
        """Probabilities (N, C, *d) if y is floating with the logits' shape, else class indices (N, *d)."""
        if unbatched:
            _check_unbatched_target(y, ((), z.shape[1:]), "CrossEntropyLoss")
            y = y[None]
        if y.shape == z.shape:
            if y.dtype.kind != "f":
                raise ValueError(
                    f"CrossEntropyLoss: (N, C) targets are class probabilities and must be floating (any "
                    f"target of the logits' shape {z.shape}), got dtype {y.dtype}"
                )
            if self.ignore_index >= 0:  # torch refuses it too (a negative one cannot name a class: unused)
                raise ValueError(
                    f"CrossEntropyLoss: ignore_index={self.ignore_index} applies to class indices, not to "
                    "class probability targets (as torch, which takes a negative one and ignores it)"
                )
            check_finite(y, "CrossEntropyLoss", "target")
            return y.astype(np.promote_types(z.dtype, y.dtype), copy=False)  # never rounded, as torch
        return check_class_indices(y, z.shape, self.ignore_index, "CrossEntropyLoss")

    def extra_repr(self) -> str:
        return _extra_repr(self, f"label_smoothing={self.label_smoothing}" if self.label_smoothing else "")


class NLLLoss(Loss):
    """Negative log-likelihood of log-probabilities, as torch.nn.NLLLoss (LogSoftmax + NLLLoss = CE).

    Shapes:   x (N, C, *d) log-probabilities (e.g. LogSoftmax(dim=1)'s output; unbatched (C,): N = 1)
              y (N, *d) class indices in [0, C) or ignore_index   w (C,) class weights   l (N, *d)
              w of x's dtype, as torch (a TypeError otherwise)
    Forward:  wq = w * onehot(y)                 (N, C, *d): w[y] at the target class, 0 elsewhere and
                                                 in the whole row of an ignored target
              l = -sum(wq * x, axis=1)           (N, *d) = -w[y] * x[n, y]; +0.0 where y == ignore_index
                                                 (x may hold -inf, a masked class: read at the target only)
              loss = l reduced (see ``Loss``): "mean" divides l.sum() by sum(wq), the weights of the
              counted targets, as torch; sum(wq) = 0 (every target ignored or weighing 0): mean = nan
    Backward: dx = -dl * wq                      (N, C, *d): only the target class gets a gradient
                                                 (+0.0 elsewhere, as torch, never -0.0)
              "mean" with sum(wq) = 0: dl = nan, so dx is nan at the counted targets, 0 elsewhere (torch's)
    Example:
        loss_fn = NLLLoss()
        loss = loss_fn(np.log(np.array([[0.7, 0.2, 0.1]])), np.array([0]))   # -log 0.7 = 0.357
        dx = loss_fn.backward()                                                # [[-1, 0, 0]]
    """

    def __init__(self, reduction: str = "mean", *, weight: np.ndarray | None = None,
                 ignore_index: int = -100) -> None:
        super().__init__(reduction)
        weight = check_class_weight(weight, "NLLLoss")
        if weight is None:  # an empty buffer slot, as torch's: a weight set later is a buffer too
            self.register_buffer("weight", None)
        else:  # a buffer, as torch: in state_dict, cast by to(dtype)
            self.register_buffer("weight", weight)
        self.ignore_index = check_int(ignore_index, "NLLLoss", "ignore_index")
        self._wq: np.ndarray | None = None
        self._counted: np.ndarray | None = None  # "mean" over targets weighing 0 in all: where dx is nan
        self._unbatched: bool | None = None
        self._y: np.ndarray | None = None  # the fast room's caches
        self._x_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        check_int(self.ignore_index, "NLLLoss", "ignore_index")  # read at every call, as torch
        x, unbatched = check_class_scores(input, "NLLLoss", "log-probabilities")
        y = np.asarray(target)
        if unbatched:
            _check_unbatched_target(y, ((),), "NLLLoss")
            y = y[None]
        y = check_class_indices(y, x.shape, self.ignore_index, "NLLLoss")
        plain = self.weight is None and not unbatched and not (y == self.ignore_index).any()
        if kernels_enabled() and plain and x.ndim == 2:  # fast room: the same loss, no (N, C) onehot
            return fast.nll_indices_forward(self, x, y)
        onehot = _one_hot(y, x.shape[1], x.dtype, self.ignore_index)
        wq = _along_class_axis(self, x, True) * onehot
        count = None if plain else np.sum(wq)
        self._wq, self._unbatched = wq, unbatched
        self._counted = onehot.astype(bool) if count == 0 else None
        with np.errstate(invalid="ignore"):  # 0 * -inf: a masked class the target does not hold
            terms = wq * x
        terms[(onehot == 0) & np.isinf(x)] = 0.0  # torch reads x at the target only
        losses = -np.sum(terms, axis=1)
        losses[y == self.ignore_index] = 0.0  # torch's +0.0 (-(a sum of zeros) is -0.0)
        return self._reduce(losses.reshape(()) if unbatched else losses, count)

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        wq = self._wq
        if wq is None:  # forward ran in the fast room (or never ran: its kernel says so)
            return fast.nll_indices_backward(self, dloss)
        dl = _per_class(self._upstream(dloss, wq.dtype, 0))
        # w.r.t. input (+0.0 off the targets, as torch writes them: -dl * 0 would be -0.0 where dl > 0;
        # dl = nan when the counted targets weigh 0 in all: nan at those targets, as torch)
        dx = np.where(wq != 0 if self._counted is None else self._counted, -dl * wq, 0)
        return dx[0] if self._unbatched else dx

    def extra_repr(self) -> str:
        return _extra_repr(self, "")


def _extra_repr(loss_fn: CrossEntropyLoss | NLLLoss, more: str) -> str:
    parts = [] if loss_fn.weight is None else [f"weight={np.array2string(loss_fn.weight, precision=4)}"]
    parts += [] if loss_fn.ignore_index == -100 else [f"ignore_index={loss_fn.ignore_index}"]
    return ", ".join(parts + ([more] if more else []))


def _check_unbatched_target(y: np.ndarray, shapes: tuple[tuple[int, ...], ...], who: str) -> None:
    if y.shape not in shapes:
        expected = " or ".join(["a class index ()"] + [f"probabilities {s}" for s in shapes[1:]])
        raise ValueError(f"{who}: unbatched (C,) input takes {expected} as target, got shape {y.shape}")


def _one_hot(y: np.ndarray, c: int, dtype: np.dtype, ignore_index: int) -> np.ndarray:
    """onehot (N, C, *d) of class indices y (N, *d) along axis 1; all zeros where y == ignore_index."""
    classes = np.arange(c).reshape((1, c) + (1,) * (y.ndim - 1))
    return ((y[:, None] == classes) & (y != ignore_index)[:, None]).astype(dtype)


def _along_class_axis(loss_fn: CrossEntropyLoss | NLLLoss, z: np.ndarray,
                      indices: bool) -> np.ndarray | float:
    """Class weights (C,) shaped (1, C, 1, ...) to broadcast along z's axis 1; 1.0 if None.

    As torch: class-index targets need the weight in z's dtype (a TypeError otherwise, where torch
    raises "expected scalar type Float but found Double"); probability targets promote (float32 z
    with a float64 weight: a float64 loss).
    """
    weight = loss_fn.weight
    if weight is None:
        return 1.0
    c, who = z.shape[1], type(loss_fn).__name__
    if weight.shape != (c,):
        got = f"has {weight.shape[0]} entries" if weight.ndim == 1 else f"of shape {weight.shape} is not 1-D"
        raise ValueError(f"{who}: weight {got}, the input has {c} classes (expected one weight per class)")
    if indices and weight.dtype != z.dtype:
        raise TypeError(
            f"{who}: weight is {weight.dtype}, the input is {z.dtype}; class-index targets need one "
            f"dtype (PyTorch raises too); call loss_fn.to(np.{z.dtype}) or give the input as {weight.dtype}"
        )
    return weight.reshape((1, c) + (1,) * (z.ndim - 2))


def _per_class(dl: np.ndarray) -> np.ndarray:
    """dl (N, *d) as (N, 1, *d), to broadcast over the class axis; a scalar dl stays as it is."""
    return np.expand_dims(dl, 1) if dl.ndim else dl


register_step_class(CrossEntropyLoss)  # mt.fit's whole-step kernel (kernels/step.py) runs its case
