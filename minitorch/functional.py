"""Stateless math shared by layers and losses (PyTorch's ``nn.functional``, Cornell's ``operators``).

Pure NumPy functions of arrays: no Module, no cache, no state. A layer or a loss calls them in its
``forward``/``backward``; nobody imports another family's private helpers. Each function computes
in its input's dtype and states the trick that keeps it stable.
"""

from __future__ import annotations

import math

import numpy as np


# ------------------------------------------------------------------------- logistic and softmax
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), element-wise, without overflow.

    e = exp(-|x|) <= 1 never overflows;
    sigmoid(x) = 1 / (1 + e)  for x >= 0,   e / (1 + e)  for x < 0   (tiny outputs keep full precision)
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def softplus_of_neg_abs(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(-|x|)), element-wise: exp(-|x|) <= 1, and log1p keeps its tiny values exact."""
    return np.log1p(np.exp(-np.abs(x)))


def shifted_exp(z: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, exp(s), sum(exp(s), axis)) with s = z - z.max(axis); reduced axes kept (size 1).

    The max shift changes neither softmax nor log-softmax but keeps exp(s) <= 1 (no overflow) and
    the sum >= 1 (its log is finite). An empty axis gives empty results, as torch (initial=-inf: the
    max of no values; it changes no other max).
    """
    s = z - z.max(axis=axis, keepdims=True, initial=-np.inf)
    exp_s = np.exp(s)
    return s, exp_s, exp_s.sum(axis=axis, keepdims=True)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(s) / sum(exp(s), axis), s = z - z.max(axis)."""
    _, exp_s, sum_exp = shifted_exp(z, axis)
    return exp_s / sum_exp


def softmax_backward(y: np.ndarray, dy: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """dx = y * (dy - sum(dy * y, axis)): the softmax Jacobian diag(y) - y y.T applied to dy, from the
    forward's output y (axis None: the whole array, a 0-D input's one entry)."""
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """s - log(sum(exp(s), axis)), s = z - z.max(axis): log-sum-exp, never log(softmax)."""
    s, _, sum_exp = shifted_exp(z, axis)
    return s - np.log(sum_exp)


def one_hot(y: np.ndarray, num_classes: int, dtype: np.dtype) -> np.ndarray:
    """onehot (N, C) in ``dtype``: onehot[n, y[n]] = 1, every other entry 0."""
    onehot = np.zeros((len(y), num_classes), dtype=dtype)
    onehot[np.arange(len(y)), y] = 1
    return onehot


# ------------------------------------------------------------------------- standardisation
def standardize(
    x: np.ndarray, axes: tuple[int, ...], eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_hat, inv_std, mean, var): x standardised with its own mean and biased variance over ``axes``.

    Forward:  mean    = x.mean(axes)                            (keepdims)
              xc      = x - mean
              scale   = max(max(|xc|, axes), 1)
              var_s   = ((xc / scale)**2).mean(axes)             = var / scale**2
              inv_std = 1 / (scale * sqrt(var_s + eps / scale / scale))    = 1 / sqrt(var + eps)
              x_hat   = xc * inv_std
              var     = var_s * scale * scale                    biased (divides by m, the count);
                                                                 inf if var itself does not fit
    Two passes (the mean is subtracted before squaring) stay accurate when |mean| >> std. The
    scale keeps the squares <= 1, so float32 rows of values ~1e19 do not overflow (xc**2 would
    pass 3.4e38); for |xc| <= 1 it is 1 and changes nothing.
    """
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    scale = np.maximum(np.abs(xc).max(axis=axes, keepdims=True, initial=0), 1)
    xs = xc / scale
    var_s = np.mean(xs * xs, axis=axes, keepdims=True)
    inv_std = 1 / (scale * np.sqrt(var_s + eps / scale / scale))
    with np.errstate(over="ignore"):  # var of float32 values ~1e19 is past 3.4e38: inf, as torch
        var = var_s * scale * scale
    return xc * inv_std, inv_std, mean, var


def standardize_backward(
    dx_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]
) -> np.ndarray:
    """dx from dx_hat when mean and var were computed from x itself (over ``axes``).

    Backward: dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))   means over axes
    The first term is the direct path; the mean's path subtracts mean(dx_hat); the variance's path
    subtracts x_hat * mean(dx_hat * x_hat) (derivation in docs/concepts/math.md).
    """
    mean_dx_hat = dx_hat.mean(axis=axes, keepdims=True)
    mean_dx_hat_x_hat = np.mean(dx_hat * x_hat, axis=axes, keepdims=True)
    return inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)


# ------------------------------------------------------------------------- robust regression
def huber(d: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """(l, dl/dd) of the Huber loss of the residual d.

    l     = 0.5 * d**2                    where |d| < delta
          = delta * (|d| - 0.5 * delta)   elsewhere
    dl/dd = clip(d, -delta, delta)
    """
    abs_d = np.abs(d)
    with np.errstate(over="ignore"):  # inf where l passes the dtype's max, as torch (no warning)
        losses = np.where(abs_d < delta, 0.5 * d * d, delta * (abs_d - 0.5 * delta))
    return losses, np.clip(d, -delta, delta)


# ------------------------------------------------------------------------- erf and GELU
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def gelu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, dy/dx) of the exact GELU: y = x * cdf(x), dy/dx = cdf(x) + x * pdf(x).

    cdf = 0.5 * (1 + erf(x / sqrt(2)));  pdf = exp(-x**2 / 2) / sqrt(2 pi)
    """
    cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF))
    # |x| > 40 has pdf = 0 in float64; the clip keeps x**2 finite for any float
    pdf = np.exp(-0.5 * np.square(np.clip(x, -40.0, 40.0))) * _INV_SQRT_2PI
    return x * cdf, cdf + x * pdf


def gelu_tanh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, dy/dx) of GELU's tanh approximation, as torch.nn.GELU(approximate='tanh').

    t     = tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))
    y     = 0.5 * x * (1 + t)
    dy/dx = 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x**2)
    """
    t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
    y = 0.5 * x * (1.0 + t)
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return y, slope


def erf(z: np.ndarray) -> np.ndarray:
    """The error function erf(z) = 2/sqrt(pi) * integral_0^z exp(-t**2) dt, element-wise, in z's dtype.

    NumPy has no erf. With a = |z| and erf(-a) = -erf(a):
      a <  2.5: erf(a)  = 2/sqrt(pi) * exp(-a**2) * sum_n a (2 a**2)**n / (1*3*...*(2n+1))   (35 terms)
                every term is positive, so the sum has no cancellation;
      a >= 2.5: erfc(a) = exp(-a**2)/sqrt(pi) / (a + (1/2)/(a + (2/2)/(a + (3/2)/(a + ...))))  (33 levels)
                a continued fraction, evaluated from the bottom; erf(a) = 1 - erfc(a).
    Both stay within ~1e-15 relative error of the true erf (tests/test_activations.py checks).
    """
    a = np.abs(z)
    out = np.empty_like(a)
    small = a < 2.5
    out[small] = _erf_series(a[small])
    # beyond a = 6, 1 - erfc(a) rounds to 1 anyway: clipping at 27 keeps a**2 finite for any input
    out[~small] = 1.0 - _erfc_continued_fraction(np.minimum(a[~small], 27.0))
    return np.copysign(out, z)


def _erf_series(a: np.ndarray) -> np.ndarray:
    two_a2 = 2.0 * a * a
    term = a.copy()
    total = a.copy()
    for n in range(1, 35):
        term *= two_a2 / (2 * n + 1)
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-a * a) * total


def _erfc_continued_fraction(a: np.ndarray) -> np.ndarray:
    f = a.copy()
    for k in range(33, 0, -1):
        f = a + (0.5 * k) / f
    return np.exp(-a * a) * _INV_SQRT_PI / f
