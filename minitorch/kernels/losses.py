"""Loss kernels: the same results as the plain loss code, with fewer passes and allocations.

Each function takes the loss object and the arguments of the method it replaces, sets the caches
its partner kernel reads, and returns what that method returns, except that a reduced loss comes
back as a number the loss wraps in its ``LossValue`` (the fast room imports no loss class).
tests/test_kernels.py checks every kernel against the plain method (bitwise).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_UNSIGNED = {np.dtype(t): np.dtype(u) for t, u in ((np.int8, np.uint8), (np.int16, np.uint16),
                                                   (np.int32, np.uint32), (np.int64, np.uint64))}
_ONES = {np.dtype(t): np.ones((), t) for t in (np.float32, np.float64)}  # read-only 0-d ones
for _one in _ONES.values():
    _one.flags.writeable = False


def _range_by_unsigned(yt: np.dtype, c: int) -> bool:
    """Whether max(y seen as unsigned) < C tells that every y of dtype ``yt`` is in [0, C): a
    negative y wraps to 2**(bits - 1) or more, so a signed ``yt`` only while C <= 2**(bits - 1)
    (int8 targets of 200 classes: -100 would read as class 156)."""
    return yt.kind == "u" or c <= 1 << (8 * yt.itemsize - 1)


def cross_entropy_forward(
    loss_fn: Any, input: np.ndarray, target: np.ndarray
) -> np.generic | np.ndarray | None:
    """``CrossEntropyLoss.forward`` for its common case, or None: then the plain code runs (and checks).
    Returns the per-sample losses (reduction "none") or the reduced loss as a NumPy scalar, which
    the layer wraps in its ``LossValue``.

    The case: ndarray logits z (N, C), N > 0, float32 or float64; ndarray class indices y (N,) of an
    integer dtype; both in native byte order; no weight, no label smoothing, a negative
    ignore_index (the default -100).
    Plain: the checks (finite z; y in [0, C) or ignore_index), then
           l = -sum(q * log_p, axis=1) = -(s[n, y_n] - lse),  s = z - max(z),  lse = log(sum(exp(s)))
           and caches p = exp(s) / sum(exp(s)) and q = onehot(y) for dz = dl * (p - q).
    Here:  what depends only on the shapes, strides and dtypes of z and y (the case test, the
           probe below, the row starts, y's unsigned twin) is looked up once per layout
           (``_ce_plan``). The checks are three cheap calls: the dot product
           |z|.ravel() @ (2**-64, ...) (one BLAS call) is finite exactly when every z is (a NaN or
           an inf makes the sum NaN or inf; the terms are >= 0, so +inf and -inf never meet as
           inf - inf, which would warn; the scale, a power of two, keeps a sum of finite values
           from overflowing: 2**-512 in float64), and max(y seen as unsigned) < C holds exactly
           when every y is in [0, C) (a negative y wraps to 2**(bits - 1) or more: a signed y
           of at most 16 bits with more classes than that is left to the plain code), which
           with a negative ignore_index also means no target is ignored.
           The N targets are read at the flat positions y + n * C; forward caches p - onehot(y)
           itself (p with 1 taken off at the targets), so backward is one product. The same
           numbers as the plain code, bitwise, without onehot(y), log_p, q * log_p, the
           ignored-target mask and its sums: about ten NumPy calls and four (N, C) arrays fewer
           per forward.
    """
    z, y = input, target
    if type(z) is not np.ndarray or type(y) is not np.ndarray:
        return None
    plan = _CE_PLANS.get((z.shape, z.strides, z.dtype, y.shape, y.dtype))
    if plan is None:
        plan = _ce_plan(z, y)
        if plan is None:
            return None
    if loss_fn.weight is not None or loss_fn.label_smoothing or loss_fn.ignore_index >= 0:
        return None
    n, c, probe, _, unsigned, _, _, _, limit = plan
    if (np.maximum.reduce(y if unsigned is None else y.view(unsigned)) >= c
            or not (np.abs(z).ravel().dot(probe) < limit or shift_in_range(z))):
        return None  # out of range, ignored, not finite or too wide: the plain code handles it
    losses, dz = _ce_arithmetic(z, y, plan)
    # the cache, as call_frames.keep writes it (inline: one call fewer); _count stays None: the
    # frame system hides every other call's cache while this one is shown
    d = loss_fn.__dict__
    frame = d["_frame"]
    if frame is not None:
        frame["_dlogits"], frame["_loss_shape"] = dz, (n,)
    d["_dlogits"], d["_loss_shape"] = dz, (n,)
    reduction = loss_fn._read_reduction()
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, None)
    return total / n if reduction == "mean" else total


def _ce_arithmetic(z: np.ndarray, y: np.ndarray, plan: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The per-sample losses l (N,) and p - onehot(y) (N, C) of checked (finite) logits z and
    targets y (``cross_entropy_forward``'s arithmetic; also the whole-step kernels', kernels/step.py
    and kernels/step_large.py).

    A C-contiguous z goes to ``_ce_rows``; another layout runs the calls below."""
    n, _, _, starts, _, cast, one, rows, _ = plan
    at = starts + (y.astype(starts.dtype) if cast else y)
    if rows:
        return _ce_rows(z, at, plan)
    s = z - np.maximum.reduce(z, 1).reshape(n, 1)         # row max keeps exp(s) <= 1
    exp_s = np.exp(s)
    sum_exp = np.add.reduce(exp_s, 1).reshape(n, 1)
    losses = s.take(at)                                   # -(s[n, y_n] - lse): the plain -log_p[y]
    losses -= np.log(sum_exp).reshape(n)                  # bit for bit (lse - s[n, y_n] gave +0.0
    np.negative(losses, out=losses)                       # for one class where -log_p is -0.0)
    dz = exp_s / sum_exp                                  # p ... (a new array: NumPy's in-place
    #                                                       broadcast divide is the slower call here)
    if dz.flags.c_contiguous:                             # ... - onehot(y) (a view: written in place)
        dz.reshape(-1)[at] -= one
    else:  # s, exp(s), p keep z's layout (as in the plain code, which sums its rows in that order)
        dz[np.arange(n), y] -= one
    return losses, dz


# Below this many classes a row's sum is taken column by column (see _ce_rows).
SHORT_ROWS = 8


def _ce_rows(z: np.ndarray, at: np.ndarray, plan: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``_ce_arithmetic`` of a C-contiguous z, its N * C values as one flat row zf (row n at
    starts[n] = n * C), ``at`` the targets' flat positions starts + y.

    Plain: m = z.max(axis=1); s = z - m; e = exp(s); sum(e, axis=1); p = e / sum(e); l; p - onehot.
    Here:  the same operations on the same numbers, in calls that are cheaper for short rows:
           m = maximum.reduceat(zf, starts) (one call over the rows, where the max along axis 1
           sets NumPy's reduction up once per row): a max is exact in any order; in a row holding
           both zeros as its max, +0.0 and -0.0 (the only equal values of other bits: z is finite)
           give s values that differ only in a zero's sign, whose exp is 1 either way, and the
           row's sum is >= 2, so lse > 0 and -(s[y] - lse) is the same: no output bit changes;
           s = zf - m.repeat(C) and p = e / sum(e).repeat(C): flat element-wise calls in place of
           (N, C) against (N, 1) broadcasts (the same subtractions and divisions, the same exp and
           log of contiguous arrays);
           below ``SHORT_ROWS`` classes sum(e) = ((e[:, 0] + e[:, 1]) + e[:, 2]) + ...: the order
           of NumPy's row sum, whose pairwise sum adds a row of fewer than 8 values one by one,
           left to right (``pairwise_sum`` in numpy/_core/src/umath/loops_utils.h.src); from 8 on
           it sums in 8 lanes, and the plain reduction runs.
    Saves: the reduction's per-row set-up of the max (and below ``SHORT_ROWS`` classes of the sum,
    for C - 1 column calls) and the iterators of two broadcasts: about a sixth of the arithmetic
    for (N, C) = (16, 3), a third for (512, 10)."""
    n, c, _, starts, _, _, one, _, _ = plan
    zf = z.reshape(-1)
    s = zf - np.maximum.reduceat(zf, starts).repeat(c)  # row max keeps exp(s) <= 1
    exp_s = np.exp(s)
    if c < SHORT_ROWS:
        sum_exp = exp_s if c == 1 else exp_s[0::c] + exp_s[1::c]
        for k in range(2, c):
            sum_exp += exp_s[k::c]
    else:
        sum_exp = np.add.reduce(exp_s.reshape(n, c), 1)
    losses = s.take(at)                                   # -(s[n, y_n] - lse): the plain -log_p[y]
    losses -= np.log(sum_exp)                             # bit for bit (lse - s[n, y_n] gave +0.0
    np.negative(losses, out=losses)                       # for one class where -log_p is -0.0)
    dz = exp_s / sum_exp.repeat(c)                        # p ...
    dz[at] -= one                                         # ... - onehot(y)
    return losses, dz.reshape(n, c)


def shift_in_range(z: np.ndarray) -> bool:
    """Every |z| at most half the dtype's largest value, so that z - max(z) cannot overflow: the
    check of logits whose probe reached its limit (large, or not finite: a NaN or an inf fails).
    Logits whose range passes the dtype's go to the plain code, which computes that shift without
    a warning, as torch."""
    return bool(np.abs(z).max() <= np.finfo(z.dtype).max / 2)


# (z.shape, z.strides, z.dtype, y.shape, y.dtype) -> (N, C, the finiteness probe, the row starts
# arange(N) * C (row n's start in z.ravel()), y's unsigned twin dtype or None (y unsigned), whether
# y is cast for the positions, a read-only 0-d one of z's dtype, whether z is C-contiguous, the
# probe's limit: |z| @ probe below it means z finite and z - max(z) within the dtype's range)
_CE_PLANS: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _ce_plan(z: np.ndarray, y: np.ndarray) -> tuple[Any, ...] | None:
    """What ``cross_entropy_forward`` needs that depends on the layouts and dtypes alone, or None
    outside its case (then nothing is kept). The probe is (2**-64, ...) in float32, (2**-512, ...)
    in float64: |z| @ probe is finite exactly when z is (the scale keeps a sum of finite terms
    finite), and below the limit, a quarter of the dtype's largest value at the probe's scale,
    only where every |z| is below half of it (with room for the sum's rounding), so that z - max(z)
    cannot overflow; at or past the limit ``shift_in_range`` decides."""
    zt, yt = z.dtype, y.dtype
    if not (z.ndim == 2 and y.ndim == 1 and zt.char in "fd" and yt.kind in "iu" and zt.isnative
            and yt.isnative and len(y) == len(z) != 0 and z.shape[1] != 0):
        return None  # (a swapped byte order: the unsigned view below would misread y)
    n, c = z.shape
    unsigned = _UNSIGNED.get(yt)
    if (unsigned is None and yt.kind != "u") or not _range_by_unsigned(yt, c):
        return None
    if len(_CE_PLANS) > 64:
        _CE_PLANS.clear()
    probe = np.full(n * c, 2.0 ** (-64 if zt.char == "f" else -512), zt)
    starts = np.arange(0, n * c, c)
    probe.flags.writeable = starts.flags.writeable = False
    limit = float(np.finfo(zt).max) / 4 * (2.0 ** (-64 if zt.char == "f" else -512))
    plan = (n, c, probe, starts, unsigned, yt != starts.dtype, _ONES[np.dtype(zt.char)], z.flags.c_contiguous,
            limit)
    _CE_PLANS[(z.shape, z.strides, zt, y.shape, yt)] = plan
    return plan


def cross_entropy_backward(loss_fn: Any, dloss: float | np.ndarray) -> np.ndarray:
    """``CrossEntropyLoss.backward`` after ``cross_entropy_forward``: dz = dl * (p - onehot(y)).

    The cached p - onehot(y) is multiplied by dl in place (it is this call's own array, consumed
    here): one NumPy call, and for the default dloss = 1.0 with "mean" or "sum" dl is made
    without ``Loss._upstream``'s array checks (the same rounding of dloss / N to z's dtype).
    """
    dz = loss_fn._cached(loss_fn._dlogits)
    reduction = loss_fn._reduction  # the forward call's
    if type(dloss) is float and reduction != "none":
        dl = np.array(dloss / len(dz) if reduction == "mean" else dloss, dz.dtype)
    else:
        dl = loss_fn._upstream(dloss, dz.dtype, 2)
    dz *= dl
    return dz


def reduce_losses(loss_fn: Any, losses: np.ndarray) -> float | np.ndarray:
    """``Loss._reduce``: the per-element losses reduced by mean (default), sum or none.

    Plain: float(losses.mean()) or float(losses.sum()).
    Here:  np.add.reduce(losses) (divided by the count for mean): the same sum and the same
    division in the losses' dtype, so the same float, without ndarray.mean's and ndarray.sum's
    Python wrappers (no pass saved: a call layer and its argument handling, per loss).
    """
    loss_fn._loss_shape = losses.shape
    reduction = loss_fn._reduction  # as Loss._reduce read it for this call
    if reduction == "none":
        return losses
    if losses.size == 0 and reduction == "mean":  # as the plain form: 0 / 0 = nan, as torch
        return math.nan
    total = np.add.reduce(losses, axis=None)
    return float(total / losses.size) if reduction == "mean" else float(total)


def nll_indices_forward(loss_fn: Any, x: np.ndarray, y: np.ndarray) -> float | np.ndarray:
    """``NLLLoss.forward`` for (N, C) log-probabilities, no weight, no ignored target (after its checks).

    Plain: wq = w * onehot(y);  l = -sum(wq * x, axis=1).
    Here:  l = -x[n, y_n], reading x at the N targets: the same numbers (wq * x is x at the target
    and zeros elsewhere, w = 1), without onehot(y), wq and wq * x: three (N, C) arrays and their
    passes saved. Caches y and x's shape and dtype for ``nll_indices_backward``.
    """
    loss_fn._y, loss_fn._x_shape, loss_fn._dtype = y, x.shape, x.dtype
    return loss_fn._reduce(-x[np.arange(len(y)), y])


def nll_indices_backward(loss_fn: Any, dloss: float | np.ndarray) -> np.ndarray:
    """``NLLLoss.backward`` after ``nll_indices_forward``.

    Plain: dx = -dl * wq   (wq = onehot(y) here)
    Here:  dx = zeros;  dx[n, y_n] = -dl:  the same numbers, written at the N targets only, without
    the (N, C) product pass.
    """
    shape = loss_fn._cached(loss_fn._x_shape)
    y = loss_fn._y
    dx = np.zeros(shape, dtype=loss_fn._dtype)
    dx[np.arange(len(y)), y] = -loss_fn._upstream(dloss, loss_fn._dtype, 1)
    return dx
