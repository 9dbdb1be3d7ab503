"""Loss kernels: the same results as the plain loss code, with fewer passes and allocations.

Each function takes the loss object and the arguments of the method it replaces, sets the caches
its partner kernel reads, and returns what that method returns. tests/test_kernels.py checks every
kernel against the plain method (bitwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def cross_entropy_indices_forward(loss_fn: Any, z: np.ndarray, y: np.ndarray) -> float | np.ndarray:
    """``CrossEntropyLoss.forward`` for class indices y without label smoothing (after its checks).

    Plain: q = onehot(y);  l = -sum(q * log_p, axis=1),  log_p = s - lse.
    Here:  l = lse - s[n, y_n], reading s at the N targets: the same numbers (q * log_p is log_p
    at the target and zeros elsewhere), without onehot(y), log_p and q * log_p: three (N, C)
    arrays and their passes saved; p = exp(s) / sum(exp(s)) is divided in place (one more).
    s and its sums are ``functional.shifted_exp``'s, bitwise.
    Caches p and y for ``cross_entropy_indices_backward``.
    """
    # shifted_exp(z, axis=1) with the reductions called as ufuncs (what ndarray.max/.sum run
    # underneath): the same numbers without two Python wrapper layers
    s = z - np.maximum.reduce(z, axis=1, keepdims=True)
    exp_s = np.exp(s)
    sum_exp = np.add.reduce(exp_s, axis=1, keepdims=True)
    lse = np.log(sum_exp)
    loss_fn._probs = np.divide(exp_s, sum_exp, out=exp_s)
    loss_fn._q = None
    loss_fn._y = y
    return loss_fn._reduce(lse[:, 0] - s[np.arange(len(y)), y])


def cross_entropy_indices_backward(loss_fn: Any, dloss: float | np.ndarray) -> np.ndarray:
    """``CrossEntropyLoss.backward`` after ``cross_entropy_indices_forward``.

    Plain: dz = dl * (p * sum(q, axis=1) - q)   (q = onehot(y); its rows sum to exactly 1)
    Here:  dz = p.copy();  dz[n, y_n] -= 1;  dz *= dl:  the same numbers, without q and its row
    sums: two (N, C) arrays and three passes saved. Indexing (not a reshape) writes into dz itself
    whatever the layout of the logits.
    """
    p = loss_fn._cached(loss_fn._probs)
    y = loss_fn._y
    dl = loss_fn._upstream(dloss, p.dtype, 2)
    dz = p.copy()
    dz[np.arange(len(y)), y] -= 1
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
    if loss_fn.reduction == "none":
        return losses
    if losses.size == 0 and loss_fn.reduction == "mean":
        raise ValueError(f"{type(loss_fn).__name__}: reduction='mean' needs at least one element, got none")
    total = np.add.reduce(losses, axis=None)
    return float(total / losses.size) if loss_fn.reduction == "mean" else float(total)


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
