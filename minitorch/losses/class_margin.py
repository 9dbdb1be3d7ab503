"""Losses over C class scores per sample, one loss per sample: the multi-class hinge
(MultiMarginLoss), the multi-label hinge (MultiLabelMarginLoss) and the multi-label logistic loss
(MultiLabelSoftMarginLoss). Each "mean" divides by the number of samples."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_choice, check_number
from minitorch.dtypes import as_floating
from minitorch.functional import sigmoid, softplus_of_neg_abs
from minitorch.losses.base import (
    Loss,
    check_finite,
    check_not_bool,
    check_target_shape,
    sum_to,
)


class MultiLabelSoftMarginLoss(Loss):
    """Logistic loss of each class score against a 0 / 1 label, averaged over the classes, as
    torch.nn.MultiLabelSoftMarginLoss (BCEWithLogitsLoss's mean over the last axis).

    Shapes:   x (*, C) scores   y (*, C) labels in [0, 1] (any finite number is read by the formula, as
              torch), same shape   l (*) one loss per sample
              (l is 0-d for an unbatched x (C,))   w: weight, broadcastable to x's shape (None: 1)
              a y of another shape that broadcasts with x is taken, as torch (no warning): x and y
              are broadcast to B, w must broadcast to B, and the class axis is k = x.ndim - 1 of B
              (torch's input.dim() - 1: not B's last axis when y adds leading axes), C = x.shape[-1]
    Forward:  l = -sum(w * (y * log(sigmoid(x)) + (1 - y) * log(sigmoid(-x))), axis=k) / C
                = sum(w * (softplus(-x) + (1 - y) * x), axis=k) / C
              softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) (stable); reduced: mean over the
              samples (default), sum or none (see ``Loss``)
    Backward: dx = expand_dims(dl, k) * w * (sigmoid(x) - y) / C      B, summed to x's shape (*, C)
    dtypes: l in the promoted dtype of x, a floating y and w (as torch); dx in x's dtype.
    Example:
        loss_fn = MultiLabelSoftMarginLoss()
        loss = loss_fn(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))   # log 2 = 0.693
        dx = loss_fn.backward()                                         # [[-0.25, 0.25]]
    """

    def __init__(self, reduction: str = "mean", *, weight: np.ndarray | None = None) -> None:
        super().__init__(reduction)
        if weight is None:  # an empty buffer slot, as torch's
            self.register_buffer("weight", None)
        else:
            check_not_bool(weight, "MultiLabelSoftMarginLoss", "weight")
            w = np.array(as_floating(weight, "MultiLabelSoftMarginLoss"))
            check_finite(w, "MultiLabelSoftMarginLoss", "weight")
            self.register_buffer("weight", w)
        self._slope: np.ndarray | None = None
        self._input_dtype: np.dtype | None = None
        self._input_shape: tuple[int, ...] | None = None  # dx's (the slope's may be broadcast)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = "MultiLabelSoftMarginLoss"
        x = as_floating(input, who)
        if x.ndim == 0:
            raise ValueError(f"{who}: expected scores (N, C) or (C,) with a class axis, got shape ()")
        y = np.asarray(target)
        if y.shape != x.shape:
            check_target_shape(x.shape, y.shape, who, "broadcast")
        self._input_shape, k = x.shape, x.ndim - 1  # torch's class_dim = input.dim() - 1
        x, y = np.broadcast_arrays(x, y)
        y = y if y.dtype.kind in "biu" else as_floating(y, who)
        w = 1.0 if self.weight is None else _weight_for(self.weight, x.shape, who)
        given = (x, y) if self.weight is None else (x, y, w)
        dtype = np.result_type(*(a.dtype for a in given if a.dtype.kind == "f"))
        self._input_dtype = x.dtype
        x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
        w = w if self.weight is None else w.astype(dtype, copy=False)
        check_finite(x, who, "input")
        check_finite(y, who, "target")  # any finite label is read by the formula, as torch
        c = dtype.type(self._input_shape[-1])
        losses = np.sum(w * (np.maximum(-x, 0) + softplus_of_neg_abs(x) + (1 - y) * x), axis=k) / c
        self._slope = w * (sigmoid(x) - y) / c
        return self._reduce(losses)

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        slope = self._cached(self._slope)
        # w.r.t. input (in the loss's dtype, returned in the input's; summed over the axes a target
        # broadcast x along)
        dl = self._upstream(dloss, slope.dtype, 0)
        dx = (np.expand_dims(dl, len(self._input_shape) - 1) if dl.ndim else dl) * slope
        return sum_to(dx, self._input_shape).astype(self._input_dtype, copy=False)

    def extra_repr(self) -> str:
        return "" if self.weight is None else f"weight={np.array2string(self.weight, precision=4)}"


def _weight_for(w: np.ndarray, shape: tuple[int, ...], who: str) -> np.ndarray:
    try:
        fits = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{who}: weight of shape {w.shape} does not broadcast to the input's shape {shape}")
    return w


class MultiMarginLoss(Loss):
    """Multi-class hinge loss of class scores against a class index, as torch.nn.MultiMarginLoss.

    Shapes:   x (N, C) scores, or unbatched (C,)   y (N,) class indices in [0, C) (() or (1,) for
              an unbatched x)   w (C,) class weights (weight=None: 1), in x's dtype (as torch)
              l (N,) one loss per sample (l has y's shape)
    Forward:  z = margin - x[n, y] + x                          (N, C)   z[n, y] is left out
              h = max(z, 0) ** p                                p = 1 or 2
              l = w[y] * sum(h over i != y, axis=1) / C         (torch's code: w[y] multiplies h)
              reduced: mean over the samples (default), sum or none (see ``Loss``)
    Backward: g = dl * w[y] * (1 if p == 1 else 2 * z) * (z > 0) / C   at i != y (0 at i = y)
              dx = g,  dx[n, y] = -sum(g, axis=1)               (N, C)   subgradient 0 at z = 0, as torch
    An empty batch: "mean" is nan (0 / 0), "sum" 0 (torch 2.13 returns an uninitialised number for both).
    Example:
        loss_fn = MultiMarginLoss()
        loss = loss_fn(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3]))   # (0.3 + 0.4 + 0.6) / 4
        dx = loss_fn.backward()                                          # [[0.25, 0.25, 0.25, -0.75]]
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: np.ndarray | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.p = check_choice(p, "MultiMarginLoss", "p", (1, 2))
        self.margin = check_number(margin, "MultiMarginLoss", "margin")
        if weight is None:
            self.register_buffer("weight", None)
        else:
            check_not_bool(weight, "MultiMarginLoss", "weight")
            w = np.array(as_floating(weight, "MultiMarginLoss"))
            if w.ndim != 1:
                raise ValueError(f"MultiMarginLoss: expected weight to be None or 1-D (one per class), "
                                 f"got shape {w.shape}")
            check_finite(w, "MultiMarginLoss", "weight")
            self.register_buffer("weight", w)
        self._grad: np.ndarray | None = None  # dl/dx per sample (N, C)
        self._x_shape: tuple[int, ...] | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = "MultiMarginLoss"
        p = check_choice(self.p, who, "p", (1, 2))  # read at every call, with the checks
        margin = check_number(self.margin, who, "margin")
        x, y, out_shape = _scores_and_indices(input, target, who)
        self._x_shape = np.shape(input)
        w = self._class_weights(x)
        rows = np.arange(x.shape[0])
        z = x.dtype.type(margin) - x[rows, y][:, None] + x
        others = np.ones(x.shape, dtype=bool)
        others[rows, y] = False
        active = others & (z > 0)
        c = x.dtype.type(x.shape[1])
        h = np.where(active, z if p == 1 else z * z, 0)
        losses = w[y] * h.sum(axis=1) / c
        g = (w[y][:, None] * np.where(active, 1 if p == 1 else 2 * z, 0) / c).astype(x.dtype, copy=False)
        g[rows, y] = -g.sum(axis=1)
        self._grad = g
        return self._reduce(losses.astype(x.dtype, copy=False).reshape(out_shape))

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        g = self._cached(self._grad)
        # w.r.t. input
        dl = np.reshape(self._upstream(dloss, g.dtype, 0), (-1, 1))  # (N, 1), or (1, 1) for a scalar
        return (dl * g).reshape(self._x_shape)

    def _class_weights(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[1]
        if self.weight is None:
            return np.ones(c, dtype=x.dtype)
        w = self.weight
        if w.shape != (c,):
            raise ValueError(f"MultiMarginLoss: weight has shape {w.shape}, the input has {c} classes "
                             "(expected one weight per class)")
        if w.dtype != x.dtype:
            raise TypeError(
                f"MultiMarginLoss: weight is {w.dtype}, the input is {x.dtype} (PyTorch raises too); "
                f"call loss_fn.to(np.{x.dtype}) or give the input as {w.dtype}"
            )
        return w

    def extra_repr(self) -> str:
        w = "" if self.weight is None else f", weight={np.array2string(self.weight, precision=4)}"
        return f"p={self.p}, margin={self.margin}{w}"


def _check_scores(input: np.ndarray, who: str) -> np.ndarray:
    """Finite floating scores (N, C) or (C,), C >= 1 (torch: "non-empty vector or matrix"), or a 0-d
    score (one class, unbatched: torch takes it).
    """
    x = as_floating(input, who)
    if x.ndim not in (0, 1, 2) or (x.ndim and x.shape[-1] == 0):
        raise ValueError(f"{who}: expected scores (N, C) or unbatched (C,) with C >= 1, got shape {x.shape} "
                         "(a 0-d score is one class, as torch)")
    check_finite(x, who, "input")
    return x


def _scores_and_indices(input: np.ndarray, target: np.ndarray, who: str
                        ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(x (N, C), y (N,), the loss's shape): finite scores and integer class indices in [0, C)."""
    x = _check_scores(input, who)
    y = np.asarray(target)
    expected = ((x.shape[0],),) if x.ndim == 2 else ((), (1,))  # (a 0-d x is one sample of one class)
    if y.shape not in expected:
        shown = " or ".join(str(s) for s in expected)
        raise ValueError(f"{who}: expected target class indices of shape {shown} for input {x.shape}, "
                         f"got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{who}: expected integer class indices, got dtype {y.dtype} "
                         "(convert with y.astype(int) if the values are whole numbers)")
    c = x.shape[-1] if x.ndim else 1
    if y.size and not (y.min() >= 0 and y.max() < c):
        raise ValueError(f"{who}: class indices must lie in [0, {c}), got values in [{y.min()}, {y.max()}]")
    return x.reshape(-1, c), y.reshape(-1), y.shape


class MultiLabelMarginLoss(Loss):
    """Multi-label hinge loss: each target class scores at least 1 above each other class, as
    torch.nn.MultiLabelMarginLoss.

    Shapes:   x (N, C) scores, or unbatched (C,)   y: x's shape, integer; each row lists its target
              classes in [0, C) and ends at its first -1 (what follows the -1 is not read, but must
              lie in [-1, C) too, as torch checks)   l (N,) one loss per sample (() unbatched)
    Forward:  T_n = y[n, :k] (k: the position of row n's first -1, else C), a list (a class listed
              twice counts twice, as torch);  others_n = the classes not in T_n
              l = sum(max(0, 1 - (x[n, j] - x[n, i])) for j in T_n for i in others_n) / C
              computed as count (N, C) (how often each class is listed) and the hinges h (N, C, C):
              h[n, j, i] = max(0, 1 - x[n, j] + x[n, i]) * count[n, j] * (i not in T_n)
              reduced: mean over the samples (default), sum or none (see ``Loss``)
    Backward: a = (1 - x[n, j] + x[n, i] > 0) * count[n, j] * (i not in T_n) / C   (N, C, C)
              dx = dl[:, None] * (a.sum(axis=1) - a.sum(axis=2))   (N, C)   subgradient 0 at the
              hinge's corner, as torch
    An empty batch: "mean" is nan (0 / 0), "sum" 0 (torch 2.13 returns an uninitialised number for both).
    Example:
        loss_fn = MultiLabelMarginLoss()
        loss = loss_fn(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]]))   # 0.85
        dx = loss_fn.backward()                                # [[-0.5, 0.5, 0.5, -0.5]] for T = [3, 0]
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._active: np.ndarray | None = None  # a (N, C, C) above: which hinges are open
        self._x_shape: tuple[int, ...] | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = "MultiLabelMarginLoss"
        x = _check_scores(input, who)
        count, listed = _listed_classes(np.asarray(target), x.shape, who)
        self._x_shape = x.shape
        x2 = x.reshape(count.shape)
        c = x.dtype.type(x2.shape[1])
        margins = 1 - x2[:, :, None] + x2[:, None, :]  # [n, j, i] = 1 - x[n, j] + x[n, i]
        pairs = count[:, :, None].astype(x.dtype) * (~listed)[:, None, :]
        losses = np.sum(np.maximum(margins, 0) * pairs, axis=(1, 2)) / c
        self._active = (margins > 0) * pairs / c
        return self._reduce(losses.reshape(x.shape[:-1]))

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        a = self._cached(self._active)
        # w.r.t. input
        dl = np.reshape(self._upstream(dloss, a.dtype, 0), (-1, 1))  # (N, 1), or (1, 1) for a scalar
        return (dl * (a.sum(axis=1) - a.sum(axis=2))).reshape(self._x_shape)


def _listed_classes(y: np.ndarray, x_shape: tuple[int, ...], who: str) -> tuple[np.ndarray, np.ndarray]:
    """(count (N, C): how often each class is listed before the row's first -1, listed: count > 0).
    An unbatched x (C,) or 0-d x (C = 1) takes any y of C entries and at most 1 dim, as torch."""
    c = x_shape[-1] if x_shape else 1
    if y.shape != x_shape and not (len(x_shape) <= 1 and y.ndim <= 1 and y.size == c):
        raise ValueError(f"{who}: expected target of the input's shape {x_shape} (class indices ending "
                         f"at -1), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{who}: expected integer class indices, got dtype {y.dtype} "
                         "(convert with y.astype(int) if the values are whole numbers)")
    if y.size and not (y.min() >= -1 and y.max() < c):
        raise ValueError(f"{who}: target values must lie in [-1, {c}) (class indices, -1 ending the list), "
                         f"got values in [{y.min()}, {y.max()}]")
    y2 = y.reshape(-1, c)
    before_end = np.cumsum(y2 == -1, axis=1) == 0  # True up to the row's first -1
    count = np.zeros(y2.shape, dtype=np.int64)
    rows = np.repeat(np.arange(y2.shape[0]), c)
    np.add.at(count, (rows[before_end.ravel()], y2[before_end]), 1)
    return count, count > 0
