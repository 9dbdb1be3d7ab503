"""Losses of several inputs compared with each other: MarginRankingLoss (x1, x2, y),
CosineEmbeddingLoss (x1, x2, y) and TripletMarginLoss (anchor, positive, negative).

``backward`` returns one gradient per graded input, a tuple in the forward's order: (dx1, dx2) for
the two with a label y (the label gets none, as every loss's target), (danchor, dpositive,
dnegative) for the triplet. Each gradient comes back in its own input's dtype; the loss is computed
in the promoted dtype of the floating inputs (an integer label takes the first input's dtype).
"""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_bool, check_number
from minitorch.dtypes import as_floating
from minitorch.losses.base import Loss, check_finite, check_not_bool_labels, sum_to


class _SeveralInputs(Loss):
    """A loss of three arrays; backward returns the gradients of the first ``_graded_inputs``."""

    _graded_inputs = 2

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._dtypes: tuple[np.dtype, ...] | None = None  # each graded input's dtype

    def __call__(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float | np.ndarray:  # type: ignore[override]
        return self.forward(a, b, c)

    def _read(self, arrays: tuple, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """The arrays, finite, in their promoted floating dtype (an integer one takes the first's)."""
        who = type(self).__name__
        read = [a if np.asarray(a).dtype.kind in "biu" else as_floating(a, who) for a in arrays]
        read = [np.asarray(a) for a in read]
        floats = [a.dtype for a in read if a.dtype.kind == "f"]
        dtype = np.result_type(*floats) if floats else as_floating(read[0], who).dtype
        self._dtypes = tuple(a.dtype if a.dtype.kind == "f" else dtype for a in read[:self._graded_inputs])
        read = [a.astype(dtype, copy=False) for a in read]
        for a, name in zip(read, names, strict=True):
            check_finite(a, who, name)
        return tuple(read)

    def _returned(self, grads: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        return tuple(g.astype(dt, copy=False) for g, dt in zip(grads, self._dtypes, strict=True))


class MarginRankingLoss(_SeveralInputs):
    """Hinge loss asking x1 to rank above x2 by ``margin`` where y = 1 (below where y = -1), as
    torch.nn.MarginRankingLoss.

    Shapes:   x1 (*)   x2 (*)   y (*) labels +1 / -1 (any number is read by the formula; a bool y is
              a TypeError, as torch's -y), all one ndim and broadcastable to one shape B (as torch)
              l B
    Forward:  u = -y * (x1 - x2) + margin
              l = max(u, 0)                 reduced: mean (default), sum or none (see ``Loss``)
    Backward: (dx1, dx2) = loss_fn.backward(dloss)
              g = dl * -y * (u >= 0)        B   subgradient at u = 0: the slope, as torch's clamp_min
              dx1 = g, dx2 = -g, each summed to its input's shape (where it was broadcast)
    Example:
        loss_fn = MarginRankingLoss(margin=0.5)
        loss = loss_fn(np.array([1.0, 0.0]), np.array([0.8, 0.0]), np.array([1.0, -1.0]))  # 0.4
        dx1, dx2 = loss_fn.backward()                        # [-0.5, 0.5], [0.5, -0.5]
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = check_number(margin, "MarginRankingLoss", "margin")
        self._slope: np.ndarray | None = None
        self._shapes: tuple[tuple[int, ...], ...] | None = None  # x1's and x2's (dx1's and dx2's)

    def forward(self, input1: np.ndarray, input2: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = "MarginRankingLoss"
        margin = check_number(self.margin, who, "margin")  # read at every call
        shapes = tuple(np.shape(a) for a in (input1, input2, target))
        if len({len(s) for s in shapes}) != 1 or _broadcast(shapes) is None:
            raise ValueError(f"{who}: expected input1, input2 and target of one shape, got {shapes[0]}, "
                             f"{shapes[1]} and {shapes[2]} (or shapes of one ndim that broadcast, as torch)")
        check_not_bool_labels(target, who)
        x1, x2, y = self._read((input1, input2, target), ("input1", "input2", "target"))
        u = -y * (x1 - x2) + x1.dtype.type(margin)
        self._slope, self._shapes = -y * (u >= 0), shapes[:2]
        return self._reduce(np.maximum(u, 0))

    def backward(self, dloss: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        slope = self._cached(self._slope)
        # w.r.t. inputs (each summed over the axes it was broadcast along)
        g = self._upstream(dloss, slope.dtype, slope.ndim) * slope
        return self._returned((sum_to(g, self._shapes[0]), sum_to(-g, self._shapes[1])))

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


# torch's EPSILON in cosine_embedding_loss, added to each squared norm: a float32 constant (9.99999996e-13),
# which a zero vector's gradient (x2 / sqrt(m1 * m2)) reads to the last digits
_COSINE_EPS = float(np.float32(1e-12))


class CosineEmbeddingLoss(_SeveralInputs):
    """Cosine similarity pulled to 1 where y = 1 and pushed below ``margin`` where y = -1, as
    torch.nn.CosineEmbeddingLoss.

    Shapes:   x1 (N, D)   x2 (N, D)   y (N,) labels +1 / -1 (another value: loss 0, as torch), or
              unbatched x1, x2 (D,) and y ()   l (N,) (() unbatched)
              as torch, x1, x2 (and y with cos) broadcast: x1 (1, D) or x2 (N, 1) or y (1,) are taken
              (each norm is its own input's), and l has the broadcast shape; x1 and x2 of another
              ndim than y's + 1 are refused (torch's "1D target tensor expects 2D input tensors")
    Forward:  m1 = sum(x1 * x1, axis=-1) + eps;  m2 = sum(x2 * x2, axis=-1) + eps
              (eps = float32(1e-12) = 9.99999996e-13, torch's constant)
              cos = sum(x1 * x2, axis=-1) / sqrt(m1 * m2)
              l = where(y == 1, 1 - cos, 0) + where(y == -1, max(cos - margin, 0), 0)
              reduced: mean (default), sum or none (see ``Loss``)
    Backward: (dx1, dx2) = loss_fn.backward(dloss)
              dcos = dl * (where(y == 1, -1, 0) + where((y == -1) & (cos - margin >= 0), 1, 0))  (N,)
              dx1 = dcos[:, None] * x2 / sqrt(m1 * m2)[:, None] - (dcos * cos / m1)[:, None] * x1
              dx2 = dcos[:, None] * x1 / sqrt(m1 * m2)[:, None] - (dcos * cos / m2)[:, None] * x2
              (N, D) each; a broadcast input's terms summed to its shape, each term apart (the norm
              term reads the input's own elements, the product term the broadcast ones)
    Example:
        loss_fn = CosineEmbeddingLoss()
        loss = loss_fn(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]]), np.array([1]))   # 1 - 0.7071
        dx1, dx2 = loss_fn.backward()                           # [[0, -0.7071]], [[-0.3536, 0.3536]]
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = check_number(margin, "CosineEmbeddingLoss", "margin")
        self._cache: tuple[np.ndarray, ...] | None = None  # (x1, x2, cos, m1, m2, root, dl/dcos)

    def forward(self, input1: np.ndarray, input2: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        who = "CosineEmbeddingLoss"
        margin = check_number(self.margin, who, "margin")  # read at every call
        s1, s2, sy = (np.shape(a) for a in (input1, input2, target))
        if (len(sy) not in (0, 1) or len(s1) != len(s2) or len(s1) != len(sy) + 1
                or _broadcast((s1[:-1], s2[:-1], sy)) is None or _broadcast((s1, s2)) is None):
            raise ValueError(f"{who}: expected input1 and input2 (N, D) with target (N,), or (D,) with "
                             f"target (), got {s1}, {s2} and target {sy} (or shapes that broadcast, as "
                             "torch)")
        x1, x2, y = self._read((input1, input2, target), ("input1", "input2", "target"))
        eps = x1.dtype.type(_COSINE_EPS)
        m1, m2 = np.sum(x1 * x1, axis=-1) + eps, np.sum(x2 * x2, axis=-1) + eps
        root = np.sqrt(m1 * m2)
        cos = np.sum(x1 * x2, axis=-1) / root
        margin = x1.dtype.type(margin)
        losses = np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)
        slope = -1.0 * (y == 1) + 1.0 * ((y == -1) & (cos - margin >= 0))
        self._cache = (x1, x2, cos, m1, m2, root, slope.astype(x1.dtype))
        return self._reduce(losses.astype(x1.dtype, copy=False))

    def backward(self, dloss: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        x1, x2, cos, m1, m2, root, slope = self._cached(self._cache)
        # w.r.t. inputs (summed to each input's shape: a no-op unless they were broadcast)
        dcos = self._upstream(dloss, x1.dtype, slope.ndim) * slope
        by_root = (dcos / root)[..., None]
        dx1 = _summed_to(by_root * x2, x1.shape) - sum_to(dcos * cos / m1, m1.shape)[..., None] * x1
        dx2 = _summed_to(by_root * x1, x2.shape) - sum_to(dcos * cos / m2, m2.shape)[..., None] * x2
        return self._returned((dx1, dx2))

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


class TripletMarginLoss(_SeveralInputs):
    """Anchor nearer its positive than its negative by ``margin``, in the p-norm, as
    torch.nn.TripletMarginLoss.

    Shapes:   a, pos, neg: (N, D) each, or unbatched (D,) each   l (N,) (() unbatched)
              as torch, any one ndim (the distance runs over the last axis; 0-d: |u - v + eps|) and
              shapes that broadcast (a (N, 1), pos (1, D), ...): l has the broadcast shape without
              its last axis; each gradient is summed to its input's shape
    Forward:  dist(u, v) = ||u - v + eps||_p = sum(|u - v + eps|**p, axis=-1) ** (1 / p)
              p = inf: max(|u - v + eps|, axis=-1)
              (torch's pairwise_distance: eps is added to the difference)
              d_pos = dist(a, pos);  d_neg = dist(a, neg)
              swap=True: d_neg = min(d_neg, dist(pos, neg))   (torch's minimum: a tie splits the
                                                               gradient in halves)
              l = max(margin + d_pos - d_neg, 0)   reduced: mean (default), sum or none (see ``Loss``)
    Backward: (da, dpos, dneg) = loss_fn.backward(dloss)
              g = dl * (margin + d_pos - d_neg >= 0)     (N,)  subgradient at 0: the slope, as torch
              ddist(u, v)/du = sign(w) * |w|**(p - 1) / dist**(p - 1),  w = u - v + eps   (N, D)
              (0 where dist = 0, as torch's norm); d/dv = -d/du
              p = inf: sign(w) * (|w| == dist) / count(|w| == dist)   (torch's: ties share the slope)
              da = g * (ddist_pos/du - ddist_neg/du);  dpos = -g * ddist_pos/du;  dneg = g * ddist_neg/du
              (with swap, d_neg's share that came from dist(pos, neg) goes to pos and neg instead)
    p: a real number >= 1, or inf (MiniTorch's restriction: the p-norm's gradient is unbounded at 0 for
    p < 1).
    Example:
        loss_fn = TripletMarginLoss(margin=1.0)
        a, pos, neg = np.zeros((1, 2)), np.array([[1.0, 0.0]]), np.array([[0.0, 1.5]])
        loss = loss_fn(a, pos, neg)                              # max(1 + 1 - 1.5, 0) = 0.5
        da, dpos, dneg = loss_fn.backward()
    """

    _graded_inputs = 3

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = check_number(margin, "TripletMarginLoss", "margin", 0, low_open=True)
        self.p = _check_p(p)
        self.eps = check_number(eps, "TripletMarginLoss", "eps")
        self.swap = check_bool(swap, "TripletMarginLoss", "swap")
        self._cache: tuple | None = None  # (g, slopes of the distances, their shares)
        self._shapes: tuple[tuple[int, ...], ...] | None = None  # the inputs' (their gradients')

    def forward(self, anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float | np.ndarray:
        who = "TripletMarginLoss"
        # read at every call, with the checks (torch: "margin must be greater than 0")
        margin = check_number(self.margin, who, "margin", 0, low_open=True)
        p, eps = _check_p(self.p), check_number(self.eps, who, "eps")
        swap = check_bool(self.swap, who, "swap")
        shapes = tuple(np.shape(a) for a in (anchor, positive, negative))
        if len({len(s) for s in shapes}) != 1 or _broadcast(shapes) is None:
            raise ValueError(f"{who}: expected anchor, positive and negative of one shape, (N, D) or (D,), "
                             f"got {shapes[0]}, {shapes[1]} and {shapes[2]} (or shapes of one ndim that "
                             "broadcast, as torch)")
        # a 0-d triplet as (1,): its distance is |u - v + eps| (torch's norm over dim -1 of a scalar)
        a, pos, neg = (np.atleast_1d(t) for t in
                       self._read((anchor, positive, negative), ("anchor", "positive", "negative")))
        self._shapes = shapes
        d_pos, s_pos = _distance(a, pos, p, eps)
        d_neg, s_neg = _distance(a, neg, p, eps)
        share = np.ones_like(d_neg)  # d_neg's share from dist(a, neg); the rest is dist(pos, neg)'s
        s_swap = None
        if swap:
            d_swap, s_swap = _distance(pos, neg, p, eps)
            share = np.where(d_neg < d_swap, 1, np.where(d_neg == d_swap, 0.5, 0)).astype(a.dtype)
            d_neg = np.minimum(d_neg, d_swap)
        u = a.dtype.type(margin) + d_pos - d_neg
        self._cache = ((u >= 0).astype(a.dtype), s_pos, s_neg, s_swap, share)
        return self._reduce(np.maximum(u, 0))

    def backward(self, dloss: float | np.ndarray = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[override]
        open_, s_pos, s_neg, s_swap, share = self._cached(self._cache)
        # w.r.t. inputs
        g = self._upstream(dloss, s_pos.dtype, open_.ndim) * open_
        g_neg, g_swap = (g * share)[..., None], (g * (1 - share))[..., None]
        g = g[..., None]
        da = g * s_pos - g_neg * s_neg
        dpos = -g * s_pos
        dneg = g_neg * s_neg
        if s_swap is not None:  # d_neg = dist(pos, neg) where it was smaller
            dpos = dpos - g_swap * s_swap
            dneg = dneg + g_swap * s_swap
        return self._returned(tuple(sum_to(d, shape) for d, shape in zip((da, dpos, dneg), self._shapes,
                                                                         strict=True)))

    def extra_repr(self) -> str:
        return f"margin={self.margin}, p={self.p}, eps={self.eps}, swap={self.swap}"


def _check_p(p: object) -> float:
    """TripletMarginLoss's p: a number >= 1, or inf (the max norm)."""
    if isinstance(p, (float, np.floating)) and p == math.inf:
        return math.inf
    return check_number(p, "TripletMarginLoss", "p", 1)


def _summed_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """g, broadcast with an array of ``shape`` (the other input's product term: x2 (N, 1) meets x1's
    D features), summed back to ``shape``."""
    return sum_to(np.broadcast_to(g, np.broadcast_shapes(g.shape, shape)), shape)


def _broadcast(shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...] | None:
    """The shape the given shapes broadcast to, None if they do not."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return None


def _distance(u: np.ndarray, v: np.ndarray, p: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(||u - v + eps||_p over the last axis, its slope d/du = -d/dv (0 where the distance is 0))."""
    w = u - v + u.dtype.type(eps)
    abs_w = np.abs(w)
    if p == 2:
        dist = np.sqrt(np.sum(w * w, axis=-1))
        safe = np.where(dist > 0, dist, 1)[..., None]
        return dist, np.where(dist[..., None] > 0, w / safe, 0)
    if p == 1:
        return np.sum(abs_w, axis=-1), np.sign(w)
    if p == math.inf:  # torch's slope of amax: the entries at the max share it
        dist = np.max(abs_w, axis=-1, initial=0.0)
        at_max = abs_w == dist[..., None]
        return dist, np.sign(w) * at_max / np.maximum(at_max.sum(axis=-1, keepdims=True), 1)
    dist = np.sum(abs_w ** p, axis=-1) ** (1 / p)
    safe = np.where(dist > 0, dist, 1)[..., None]
    return dist, np.where(dist[..., None] > 0, np.sign(w) * (abs_w / safe) ** (p - 1), 0)
