"""Classification losses: cross-entropy and NLL over C classes, binary cross-entropy (BCE)."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_number
from minitorch.functional import one_hot, shifted_exp, sigmoid, softplus_of_neg_abs
from minitorch.kernels import kernels_enabled
from minitorch.kernels import losses as fast
from minitorch.losses.base import (
    ElementwiseLoss,
    Loss,
    check_class_indices,
    check_finite,
    check_in_unit_interval,
    check_scores,
)


class CrossEntropyLoss(Loss):
    """Softmax + negative log-likelihood, fused, as torch.nn.CrossEntropyLoss.

    Shapes:   z (N, C) logits   y (N,) class indices in [0, C) or (N, C) class probabilities   l (N,)
    Forward:  s = z - z.max(axis=1)                 (row max keeps exp(s) <= 1: no overflow)
              lse = log(sum(exp(s), axis=1))        (N, 1) log-sum-exp: never log(p + eps)
              log_p = s - lse                       (N, C) log-softmax
              q = onehot(y)  for class indices,  q = y  for probabilities     (N, C)
              q = (1 - eps) * q + eps / C           smoothed target, eps = label_smoothing (if eps > 0)
              l = -sum(q * log_p, axis=1)           (N,)  = lse - s[n, y_n] for an index and eps = 0
              loss = l reduced: mean over N (default), sum or none (see ``Loss``)
    Backward: dz = dl * (p * sum(q, axis=1) - q)    (N, C), p = softmax(z) = exp(s) / sum(exp(s))
                                                    = dl * (p - q) when rows of q sum to 1
    Example:
        loss_fn = CrossEntropyLoss()
        loss = loss_fn(np.array([[2.0, 0.0, -1.0]]), np.array([0]))   # 0.1698...
        dz = loss_fn.backward()                                       # p - onehot(y)
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.label_smoothing = check_number(label_smoothing, "CrossEntropyLoss", "label_smoothing", 0, 1)
        self._probs: np.ndarray | None = None
        self._q: np.ndarray | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        z = check_scores(input, "CrossEntropyLoss", "logits")
        y = self._check_target(np.asarray(target), z)
        eps, c = self.label_smoothing, z.shape[1]
        if kernels_enabled() and y.ndim == 1 and not eps:  # fast room: the same loss, no (N, C) q
            return fast.cross_entropy_indices_forward(self, z, y)
        s, exp_s, sum_exp = shifted_exp(z, axis=1)
        log_p = s - np.log(sum_exp)
        q = one_hot(y, c, z.dtype) if y.ndim == 1 else y
        if eps:
            q = (1 - eps) * q + eps / c
        self._probs, self._q = exp_s / sum_exp, q
        return self._reduce(-np.sum(q * log_p, axis=1))

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        p = self._cached(self._probs)
        q = self._q
        if q is None:  # forward ran in the fast room: its partner kernel, the same dz
            return fast.cross_entropy_indices_backward(self, dloss)
        dl = self._upstream(dloss, p.dtype, 2)
        # w.r.t. input
        return dl * (p * q.sum(axis=1, keepdims=True) - q)

    @staticmethod
    def _check_target(y: np.ndarray, z: np.ndarray) -> np.ndarray:
        if y.shape == z.shape and y.ndim == 2:
            if y.dtype.kind != "f":
                raise ValueError(
                    f"CrossEntropyLoss: (N, C) targets are class probabilities and must be floating, "
                    f"got dtype {y.dtype}"
                )
            check_finite(y, "CrossEntropyLoss", "target")
            return y.astype(z.dtype, copy=False)
        if y.ndim != 1:
            raise ValueError(
                f"CrossEntropyLoss: expected target class indices ({z.shape[0]},) or probabilities "
                f"{z.shape}, got shape {y.shape}"
            )
        return check_class_indices(y, *z.shape, "CrossEntropyLoss")

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""


class NLLLoss(Loss):
    """Negative log-likelihood of log-probabilities, as torch.nn.NLLLoss (LogSoftmax + NLLLoss = CE).

    Shapes:   x (N, C) log-probabilities (e.g. LogSoftmax's output)   y (N,) class indices   l (N,)
    Forward:  l = -x[n, y_n]                     reduced: mean over N (default), sum or none
    Backward: dx = -dl * onehot(y)               (N, C): only the target class gets a gradient
    Example:
        loss_fn = NLLLoss()
        loss = loss_fn(np.log(np.array([[0.7, 0.2, 0.1]])), np.array([0]))   # -log 0.7 = 0.357
        dx = loss_fn.backward()                                                # [[-1, 0, 0]]
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._target: np.ndarray | None = None
        self._input_shape: tuple[int, int] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, input: np.ndarray, target: np.ndarray) -> float | np.ndarray:
        x = check_scores(input, "NLLLoss", "log-probabilities")
        y = check_class_indices(np.asarray(target), *x.shape, "NLLLoss")
        self._target, self._input_shape, self._dtype = y, x.shape, x.dtype
        return self._reduce(-x[np.arange(len(y)), y])

    def backward(self, dloss: float | np.ndarray = 1.0) -> np.ndarray:
        shape = self._cached(self._input_shape)
        y = self._target
        dx = np.zeros(shape, dtype=self._dtype)
        # w.r.t. input
        dx[np.arange(len(y)), y] = -self._upstream(dloss, self._dtype, 1)
        return dx


class BCELoss(ElementwiseLoss):
    """Binary cross-entropy of probabilities, as torch.nn.BCELoss (prefer BCEWithLogitsLoss).

    Shapes:   p (*) probabilities in [0, 1]   t (*) targets in [0, 1], same shape   l (*)
    Forward:  l = -(t * max(log(p), -100) + (1 - t) * max(log(1 - p), -100))
              (the logs are clamped at -100 as PyTorch does, so p = 0 or 1 gives a finite loss)
    Backward: dx = dl * (p - t) / max(p * (1 - p), 1e-12)    (*)   PyTorch's formula: the exact
              derivative for p in (0, 1), bounded instead of infinite at p = 0 or 1
    Example:
        loss_fn = BCELoss()
        loss = loss_fn(np.array([0.9, 0.2]), np.array([1.0, 0.0]))   # mean(-log .9, -log .8) = 0.164
        dp = loss_fn.backward()                                      # [-0.556, 0.625]
    """

    def _check_values(self, p: np.ndarray, t: np.ndarray) -> None:
        check_in_unit_interval(p, "BCELoss", "input probabilities")
        check_in_unit_interval(t, "BCELoss", "targets")

    def _losses_and_slope(self, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100 on the next lines
            log_p, log_1mp = np.log(p), np.log(1 - p)
        losses = -(t * np.maximum(log_p, -100) + (1 - t) * np.maximum(log_1mp, -100))
        slope = (p - t) / np.maximum(p * (1 - p), _BCE_EPSILON)
        return losses, slope


_BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's bound, a float32 constant (9.99999996e-13)


class BCEWithLogitsLoss(ElementwiseLoss):
    """Sigmoid + binary cross-entropy, fused and stable for any logit, as torch.nn.BCEWithLogitsLoss.

    Shapes:   x (*) logits   t (*) targets in [0, 1], same shape   l (*)
    Forward:  l = -(t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))
                = max(x, 0) - x * t + log1p(exp(-|x|))        computed so: exp(-|x|) <= 1 never
                                                               overflows, log1p keeps tiny terms
    Backward: dx = dl * (sigmoid(x) - t)                      (*)   ``functional.sigmoid``, stable
    Example:
        loss_fn = BCEWithLogitsLoss()
        loss = loss_fn(np.array([1e4, -1e4]), np.array([1.0, 0.0]))   # 0.0, no overflow
        dx = loss_fn.backward()                                       # [0, 0]
    """

    def _check_values(self, x: np.ndarray, t: np.ndarray) -> None:
        check_in_unit_interval(t, "BCEWithLogitsLoss", "targets")

    def _losses_and_slope(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        losses = np.maximum(x, 0) - x * t + softplus_of_neg_abs(x)
        return losses, sigmoid(x) - t
