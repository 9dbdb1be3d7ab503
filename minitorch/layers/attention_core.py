"""The scaled dot-product core of attention, on heads already split: scores, softmax, dropout, weights @ V.

Plain NumPy functions that ``MultiheadAttention`` calls through the fast room's dispatcher
(``fast_or_plain("attention", ...)``): ``minitorch/kernels/attention.py`` has a kernel of each with the
same signature and name.
"""

from __future__ import annotations

import numpy as np

from minitorch.functional import softmax_backward
from minitorch.layers.dropout import dropout_mask  # the attention weights' mask (zeros for p = 1)

__all__ = ["attention_core", "attention_core_backward", "dropout_mask", "masked_softmax", "nan_empty_rows"]


def masked_softmax(s: np.ndarray) -> np.ndarray:
    """softmax(s) along the last axis, where a row whose scores are all -inf gives zeros (not NaN).

    Forward:  m = max(s) (0 where the row is all -inf);  e = exp(s - m);  p = e / sum(e)  (0 / 1 if sum = 0)
    The max shift keeps exp() <= 1. A fully masked row has e = 0 everywhere, so its weights are 0 and
    nothing flows back through it (as torch 2.13 gives with need_weights=False and autograd; its
    need_weights=True path and its eval fast path give NaN: ``nan_empty_rows`` gives the former).
    """
    m = s.max(axis=-1, keepdims=True, initial=-np.inf)  # no keys (S = 0): -inf, as an all-masked row
    m[np.isneginf(m)] = 0.0
    e = np.exp(s - m)
    z = e.sum(axis=-1, keepdims=True)
    z[z == 0] = 1.0
    e /= z
    return e


def attention_core(
    qh: np.ndarray, kh: np.ndarray, vh: np.ndarray, mask: np.ndarray | None, drop: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(oh, p, pd): the heads' attention, qh already scaled by 1/sqrt(D).

    Shapes:   qh (N, H, L, D)   kh (N, H, S, D)   vh (N, H, S, Dv)   mask broadcasting to (N, H, L, S)
              drop (N, H, L, S) or None   oh (N, H, L, Dv)   p, pd (N, H, L, S)
    Forward:  s = qh @ kh.T + mask;  p = softmax(s, axis=-1);  pd = p * drop;  oh = pd @ vh
    """
    s = qh @ kh.swapaxes(-1, -2)
    if mask is not None:
        s += mask
    p = masked_softmax(s)
    pd = p if drop is None else p * drop
    return pd @ vh, p, pd


def attention_core_backward(
    doh: np.ndarray, dpd_extra: np.ndarray | None, qh: np.ndarray, kh: np.ndarray, vh: np.ndarray,
    p: np.ndarray, drop: np.ndarray | None, scale: float, with_ds: bool = False,
) -> tuple[np.ndarray, ...]:
    """(dqh, dkh, dvh) from doh (and dpd_extra, a gradient reaching pd directly, or None); with
    ``with_ds`` also ds, the scores' gradient (N, H, L, S): a learned additive mask's.

    Backward: dpd = doh @ vh.T + dpd_extra;  dvh = pd.T @ doh;  dp = dpd * drop
              ds  = p * (dp - sum(dp * p, axis=-1))          the softmax Jacobian; 0 on masked entries
              dqh = ds @ kh * scale;  dkh = ds.T @ qh         (qh was cached already scaled)
    """
    pd = p if drop is None else p * drop
    dpd = doh @ vh.swapaxes(-1, -2)
    if dpd_extra is not None:
        dpd += dpd_extra
    dvh = pd.swapaxes(-1, -2) @ doh
    dp = dpd if drop is None else dpd * drop
    ds = softmax_backward(p, dp)  # p * (dp - sum(dp * p, axis=-1))
    dqh = (ds @ kh) * scale
    dkh = ds.swapaxes(-1, -2) @ qh
    return (dqh, dkh, dvh, ds) if with_ds else (dqh, dkh, dvh)


def nan_empty_rows(
    mask: np.ndarray | None, oh: np.ndarray, p: np.ndarray, pd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(oh, p, pd) with NaN in every row whose keys ``mask`` masks all (-inf), in place: torch's plain
    softmax, which its need_weights=True path uses (exp(-inf - -inf) = NaN), where ``masked_softmax``
    gives that row 0 (torch's fused attention, its need_weights=False path).

    Shapes:   mask broadcasting to (N, H, L, S) or None   oh (N, H, L, Dv)   p, pd (N, H, L, S)
    The backward formulas then carry the NaN where torch's autograd carries it (0 * NaN = NaN).
    No keys (S = 0) masks nothing: torch's rows of no weights give 0 there, and so does ``masked_softmax``.
    """
    if mask is None or p.shape[-1] == 0:
        return oh, p, pd
    empty = np.broadcast_to(np.isneginf(mask).all(axis=-1), p.shape[:3])
    if empty.any():
        for a in (oh, p) if pd is p else (oh, p, pd):
            a[empty] = np.nan
    return oh, p, pd
