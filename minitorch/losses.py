"""Losses: ``loss_fn(input, target)`` returns the loss; ``loss_fn.backward()`` returns dL/d(input)."""

from __future__ import annotations

import numpy as np

from minitorch.dtypes import as_floating
from minitorch.module import Module


class Loss(Module):
    """Base class of losses: ``forward(input, target) -> float``, ``backward(dloss=1.0) -> dinput``.

    ``backward`` takes the gradient of the final objective w.r.t. the loss value (1.0 when the loss
    is the objective) and returns the gradient w.r.t. ``input``; targets get no gradient.
    """

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")


def _check_finite(x: np.ndarray, who: str, what: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{who}: {what} contains NaN or inf")


class MSELoss(Loss):
    """Mean squared error over all elements.

    Shapes:   x (*)   t (*) same shape   loss scalar
    Forward:  loss = mean((x - t)**2)              (mean over all x.size elements)
    Backward: dx = dloss * 2 * (x - t) / x.size    (*)
    Example:
        loss_fn = MSELoss()
        loss = loss_fn(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 2.0
        dx = loss_fn.backward()                                      # [0, -2]
    """

    def __init__(self) -> None:
        super().__init__()
        self._diff: np.ndarray | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        x = as_floating(input, "MSELoss")
        t = np.asarray(target)
        if t.shape != x.shape:
            raise ValueError(f"MSELoss: expected target of the input's shape {x.shape}, got {t.shape}")
        t = as_floating(t, "MSELoss").astype(x.dtype, copy=False)
        _check_finite(x, "MSELoss", "input")
        _check_finite(t, "MSELoss", "target")
        diff = x - t
        self._diff = diff
        return float(np.mean(diff * diff))

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        diff = self._cached(self._diff)
        # w.r.t. input
        return diff * diff.dtype.type(2.0 * dloss / diff.size)


class CrossEntropyLoss(Loss):
    """Softmax + negative log-likelihood, fused, averaged over the batch.

    Shapes:   z (N, C) logits   y (N,) class indices in [0, C) or (N, C) class probabilities
    Forward:  s = z - z.max(axis=1)                 (row max keeps exp(s) <= 1: no overflow)
              lse = log(sum(exp(s), axis=1))        (log-sum-exp, never log(p + eps))
              log_p = s - lse                       (N, C) log-softmax
              loss = mean(-log_p[n, y_n])           indices
                   = mean(-sum(y * log_p, axis=1))  probabilities
    Backward: dz = dloss * (p - onehot(y)) / N                (N, C), p = softmax(z) = exp(log_p)
                 = dloss * (p * y.sum(axis=1) - y) / N        probabilities (p - y when rows sum to 1)
    Example:
        loss_fn = CrossEntropyLoss()
        loss = loss_fn(np.array([[2.0, 0.0, -1.0]]), np.array([0]))   # 0.1698...
        dz = loss_fn.backward()                                       # p - onehot(y)
    """

    def __init__(self) -> None:
        super().__init__()
        self._probs: np.ndarray | None = None
        self._target: np.ndarray | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        z = as_floating(input, "CrossEntropyLoss")
        if z.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: expected logits (N, C), got shape {z.shape}")
        _check_finite(z, "CrossEntropyLoss", "input")
        y = self._check_target(np.asarray(target), z)
        s = z - z.max(axis=1, keepdims=True)
        exp_s = np.exp(s)
        sum_exp = exp_s.sum(axis=1, keepdims=True)
        log_p = s - np.log(sum_exp)
        self._probs = exp_s / sum_exp
        self._target = y
        if y.ndim == 1:
            return float(-np.mean(log_p[np.arange(len(y)), y]))
        return float(-np.mean(np.sum(y * log_p, axis=1)))

    def backward(self, dloss: float = 1.0) -> np.ndarray:
        p = self._cached(self._probs)
        y = self._target
        n = p.shape[0]
        if y.ndim == 1:
            dz = p.copy()
            dz[np.arange(n), y] -= 1
        else:
            dz = p * y.sum(axis=1, keepdims=True) - y
        # w.r.t. input
        dz *= p.dtype.type(dloss / n)
        return dz

    @staticmethod
    def _check_target(y: np.ndarray, z: np.ndarray) -> np.ndarray:
        n, c = z.shape
        if y.shape == z.shape:
            if y.dtype.kind != "f":
                raise ValueError(
                    f"CrossEntropyLoss: (N, C) targets are class probabilities and must be floating, "
                    f"got dtype {y.dtype}"
                )
            _check_finite(y, "CrossEntropyLoss", "target")
            return y.astype(z.dtype, copy=False)
        if y.shape != (n,):
            raise ValueError(
                f"CrossEntropyLoss: expected target class indices ({n},) or probabilities {z.shape}, "
                f"got shape {y.shape}"
            )
        if y.dtype.kind not in "iu":
            raise ValueError(
                f"CrossEntropyLoss: expected integer class indices, got dtype {y.dtype} "
                "(convert with y.astype(int) if the values are whole numbers)"
            )
        if n and (y.min() < 0 or y.max() >= c):
            raise ValueError(
                f"CrossEntropyLoss: class indices must lie in [0, {c}), got values in "
                f"[{y.min()}, {y.max()}]"
            )
        return y
