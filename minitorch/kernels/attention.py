"""Kernels of the attention family: the attention core and its dropout mask (the plain forms are in
``minitorch/layers/attention_core.py``); same signatures, bitwise the same results, fewer arrays.

The plain core allocates every (N, H, L, S) intermediate afresh: the scores, s - max, exp, the
dropped weights, and in backward dpd, pd, dp, dp * p, their difference and ds, each 2 MB for the
benchmark's layer (N=32, H=4, L=S=64, float32). Freed at backward, such blocks go back to the
system and the next step faults them in again, page by page. Here the (N, H, L, S) arrays come from
the kernels' small pool (``kernels/pool.py``) and each pass writes in place or into a pooled array
(``out=``): the same operations on the same numbers, in the same order.
"""

from __future__ import annotations

import numpy as np

from minitorch.kernels.pool import empty
from minitorch.random import generator


def dropout_mask(shape, p, dtype):
    """Kernel of ``attention.dropout_mask`` (same formula: keep = U(0, 1) >= p; drop = keep / (1 - p);
    zeros for p = 1).

    Saves: the float64 uniforms, the bool keep and the float keep are pooled arrays (the draw fills
    the pooled array with ``out=``: the same numbers from the generator), and the division writes
    the mask straight from keep into a pooled array (no float copy of keep: one pass fewer).
    """
    dtype = np.dtype(dtype)
    if p == 1:  # as the plain form: zeros, nothing drawn (keep / (1 - p) would be 0 / 0 = nan)
        drop = empty(shape, dtype)
        drop.fill(0)
        return drop
    uniform = empty(shape, np.float64)
    generator().random(out=uniform)
    keep = empty(shape, np.bool_)
    np.greater_equal(uniform, p, out=keep)
    drop = empty(shape, dtype)
    np.divide(keep, dtype.type(1.0 - p), out=drop)
    return drop


def attention_core(qh, kh, vh, mask, drop):
    """Kernel of ``attention.attention_core`` (same formula: s = qh @ kh.T + mask;
    p = softmax(s) with a fully masked row giving 0; pd = p * drop; oh = pd @ vh).

    Saves: the scores are computed into a pooled array and the softmax runs in place on it
    (s - max, exp, / sum: three (N, H, L, S) arrays fewer); pd goes into a pooled array.
    """
    shape = qh.shape[:3] + kh.shape[2:3]
    s = empty(shape, np.result_type(qh, kh))
    np.matmul(qh, kh.swapaxes(-1, -2), out=s)
    if mask is not None:
        s += mask
    m = s.max(axis=-1, keepdims=True, initial=-np.inf)  # no keys (S = 0): -inf, as an all-masked row
    m[np.isneginf(m)] = 0.0
    s -= m
    np.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    z[z == 0] = 1.0
    s /= z
    p = s
    pd = p
    if drop is not None:
        pd = empty(shape, p.dtype)
        np.multiply(p, drop, out=pd)
    return pd @ vh, p, pd


def attention_core_backward(doh, dpd_extra, qh, kh, vh, p, drop, scale, with_ds=False):
    """Kernel of ``attention.attention_core_backward`` (same formula: dpd = doh @ vh.T + extra;
    dvh = pd.T @ doh; dp = dpd * drop; ds = p * (dp - sum(dp * p)); dqh = ds @ kh * scale;
    dkh = ds.T @ qh; ds too with ``with_ds``, the pooled array itself).

    Saves: dpd is computed into a pooled array and becomes dp, then ds, in place; pd and dp * p
    share one pooled array (pd is done with once dvh is computed): two pooled (N, H, L, S) arrays
    instead of six fresh ones.
    """
    dpd = empty(p.shape, p.dtype)
    np.matmul(doh, vh.swapaxes(-1, -2), out=dpd)
    if dpd_extra is not None:
        dpd += dpd_extra
    work = None
    if drop is None:
        dvh = p.swapaxes(-1, -2) @ doh
    else:
        work = empty(p.shape, p.dtype)
        np.multiply(p, drop, out=work)  # pd
        dvh = work.swapaxes(-1, -2) @ doh
        dpd *= drop  # dp
    if work is None:
        work = empty(p.shape, p.dtype)
    np.multiply(dpd, p, out=work)
    row = np.sum(work, axis=-1, keepdims=True)
    del work
    dpd -= row
    dpd *= p  # ds
    dqh = dpd @ kh
    dqh *= scale
    dkh = dpd.swapaxes(-1, -2) @ qh
    return (dqh, dkh, dvh, dpd) if with_ds else (dqh, dkh, dvh)
