"""Stateless math shared by layers and losses (PyTorch's ``nn.functional``, Cornell's ``operators``).

Pure NumPy functions of arrays: no Module, no cache, no state. A layer or a loss calls them in its
``forward``/``backward``; nobody imports another family's private helpers. Each function computes
in its input's dtype and states the trick that keeps it stable. ``from minitorch import functional
as F`` gives torch.nn.functional's names: softmax, log_softmax, softmin, one_hot, gelu, rms_norm
(here), the activations (functional_activations.py: piecewise-linear; functional_smooth.py) and
pad (functional_pad.py). Each takes torch's arguments and defaults and gives torch's result, or an
error where torch refuses or where its implicit choice would differ silently. They compute
forward values only (arrays carry no gradient): a layer's backward gives the gradient. The
``*_and_slope`` forms return (y, dy/dx), what a layer caches for its backward.
"""

from __future__ import annotations

import math

import numpy as np

from minitorch.functional_activations import (
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    relu,
    relu6,
    softshrink,
    threshold,
)
from minitorch.functional_pad import pad
from minitorch.functional_smooth import (
    celu,
    elu,
    glu,
    logsigmoid,
    mish,
    selu,
    sigmoid,
    silu,
    softplus,
    softplus_of_neg_abs,
    softsign,
    tanh,
    tanhshrink,
)

__all__ = [  # torch.nn.functional's names first, then the helpers layers and losses share
    "celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
    "log_softmax", "logsigmoid", "mish", "one_hot", "pad", "relu", "relu6", "rms_norm", "selu", "sigmoid",
    "silu", "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh", "tanhshrink", "threshold",
    "erf", "gelu_and_slope", "gelu_tanh_and_slope", "huber", "log_of_sum", "rms_norm_core", "shifted_exp",
    "softmax_backward", "softplus_of_neg_abs", "standardize", "standardize_backward",
]


# ------------------------------------------------------------------------- softmax family
def shifted_exp(z: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, exp(s), sum(exp(s), axis)) with s = z - z.max(axis); reduced axes kept (size 1).

    The max shift changes neither softmax nor log-softmax but keeps exp(s) <= 1 (no overflow) and
    the sum >= 1 (its log is finite). An empty axis gives empty results, as torch (initial=-inf: the
    max of no values; it changes no other max).
    """
    # a row holding +inf: inf - inf = nan; -max - max: -inf (its exp 0); as torch (no warning)
    with np.errstate(invalid="ignore", over="ignore"):
        s = z - z.max(axis=axis, keepdims=True, initial=-np.inf)
    exp_s = np.exp(s)
    return s, exp_s, exp_s.sum(axis=axis, keepdims=True)


def log_of_sum(sum_exp: np.ndarray) -> np.ndarray:
    """log(sum(exp(s))) of ``shifted_exp``'s sum: >= 0 (or nan) along a non-empty axis, whose sum is
    >= 1. An empty axis sums to 0: its log is -inf, taken without NumPy's divide warning, and meets
    only an empty s, so log-softmax gives torch's empty output."""
    with np.errstate(divide="ignore"):
        return np.log(sum_exp)


def softmax(z: np.ndarray, axis: int | None = None, *, dim: int | None = None,
            dtype: np.dtype | type | None = None) -> np.ndarray:
    """exp(s) / sum(exp(s), axis), s = z - z.max(axis), as torch.nn.functional.softmax.

    ``axis`` or torch's ``dim`` (one of them); neither: the last axis of a 0-D, 1-D or 2-D z, where
    torch's implicit choice agrees, a ValueError for more dims (``_softmax_axis``). ``dtype``: z is
    cast to it first, as torch's.
    """
    _, exp_s, sum_exp = shifted_exp(*_softmax_input(z, axis, dim, dtype, "softmax"))
    return exp_s / sum_exp


def softmin(input: np.ndarray, dim: int | None = None, _stacklevel: int = 3,
            dtype: np.dtype | type | None = None) -> np.ndarray:
    """softmax(-x, dim): weights that favour the smallest entries, as torch.nn.functional.softmin
    (``dim`` / ``dtype`` as ``softmax``'s: x is cast to dtype before it is negated; _stacklevel is
    torch's warning depth, accepted and unused)."""
    z, axis = _softmax_input(input, None, dim, dtype, "softmin")
    _, exp_s, sum_exp = shifted_exp(-z, axis)
    return exp_s / sum_exp


def softmax_backward(y: np.ndarray, dy: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """dx = y * (dy - sum(dy * y, axis)): the softmax Jacobian diag(y) - y y.T applied to dy, from the
    forward's output y (axis None: the whole array, a 0-D input's one entry)."""
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(z: np.ndarray, axis: int | None = None, *, dim: int | None = None,
                dtype: np.dtype | type | None = None) -> np.ndarray:
    """s - log(sum(exp(s), axis)), s = z - z.max(axis): log-sum-exp, never log(softmax), as
    torch.nn.functional.log_softmax (``axis`` / ``dim`` / ``dtype`` as ``softmax``'s)."""
    s, _, sum_exp = shifted_exp(*_softmax_input(z, axis, dim, dtype, "log_softmax"))
    return s - log_of_sum(sum_exp)


def _softmax_input(z: np.ndarray, axis: int | None, dim: int | None, dtype: np.dtype | type | None,
                   who: str) -> tuple[np.ndarray, int | None]:
    """(z in ``dtype``, the axis to reduce; None for a 0-D z, its one entry) for softmax / log_softmax.

    Neither axis nor dim: torch's implicit (deprecated) choice is dim 0 for 0-D, 1-D and 3-D inputs
    and 1 otherwise, the last axis for up to 2 dims only: other inputs need the axis (a silently
    different axis else).
    """
    if axis is not None and dim is not None:
        raise TypeError(f"{who}: give axis or dim (torch's name), not both; got axis={axis}, dim={dim}")
    z = np.asarray(z) if dtype is None else np.asarray(z).astype(dtype)
    if z.dtype.kind != "f":  # torch's softmax kernels take floating tensors only
        raise TypeError(f"{who}: expected a floating array (float32 or float64), got dtype {z.dtype} (torch "
                        f"refuses it too); cast it, or pass dtype=np.float32")
    axis = dim if axis is None else axis
    if axis is None and z.ndim > 2:
        torch_dim = 0 if z.ndim == 3 else 1
        raise ValueError(
            f"{who}: no axis given, and the input is {z.ndim}-D {z.shape}: torch's {who} would take "
            f"dim={torch_dim} there (its deprecated implicit choice), not the last axis; pass it, e.g. "
            f"{who}(z, dim=-1) or {who}(z, dim={torch_dim})"
        )
    return z, (None if z.ndim == 0 else -1 if axis is None else axis)


def one_hot(y: np.ndarray, num_classes: int = -1, dtype: np.dtype | type = np.int64) -> np.ndarray:
    """onehot (*y.shape, C): onehot[..., y[...]] = 1, every other entry 0, as torch.nn.functional.one_hot.

    y: integer class indices in [0, C), any shape. num_classes = -1 (torch's default): C = y.max() + 1.
    dtype: int64 as torch's; a float dtype gives the float one-hot rows a loss multiplies by.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {y.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < -1:
        raise ValueError(
            f"one_hot: num_classes must be -1 (from the data) or a count >= 0, got {num_classes!r}"
        )
    if num_classes == -1:
        if y.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty y (as torch); pass num_classes")
        num_classes = int(y.max()) + 1
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot: class indices must lie in [0, {num_classes}), got values in [{y.min()}, {y.max()}]"
        )
    return (y[..., None] == np.arange(num_classes)).astype(dtype)


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


def rms_norm(input: np.ndarray, normalized_shape: tuple[int, ...] | list[int],
             weight: np.ndarray | None = None, eps: float | None = None) -> np.ndarray:
    """y = x * r (times weight), r = 1 / sqrt(mean(x**2, last len(normalized_shape) axes) + eps), as
    torch.nn.functional.rms_norm.

    x (*, *S), S = normalized_shape (a tuple or list of ints, as torch's), weight S or None.
    dtypes as torch's: x_hat = x * r is computed in x's dtype; y = (x_hat * weight) in the wider of
    the two dtypes, then cast back to x's dtype (so y always has x's dtype). eps=None: the machine
    epsilon of x's dtype; any number (torch does not check it: a negative eps can give nan).
    """
    x = np.asarray(input)
    if x.dtype.kind != "f":
        raise TypeError(f"rms_norm: expected a floating array (float32 or float64), got dtype {x.dtype} "
                        "(torch refuses it too)")
    if not isinstance(normalized_shape, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in normalized_shape):
        raise TypeError(f"rms_norm: normalized_shape must be a tuple of ints, got {normalized_shape!r}")
    shape = tuple(int(d) for d in normalized_shape)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        expected = ", ".join(map(str, shape))
        raise ValueError(f"rms_norm: normalized_shape={shape} expects input (*, {expected}), got {x.shape}")
    if weight is not None:
        weight = np.asarray(weight)
        if weight.shape != shape or weight.dtype.kind != "f":
            raise ValueError(f"rms_norm: expected a floating weight of the shape normalized_shape={shape}, "
                             f"got {weight.dtype} {weight.shape}")
    eps = np.finfo(x.dtype).eps if eps is None else eps
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"rms_norm: eps must be a number or None, got {eps!r}")
    x_hat, _ = rms_norm_core(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return x_hat if weight is None else (x_hat * weight).astype(x.dtype, copy=False)


def rms_norm_core(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x_hat, r): r = 1 / sqrt(mean(x**2, axes) + eps) (keepdims), x_hat = x * r, in x's dtype.

    As torch, no rescaling guards x**2: in float32 |x| above ~1.8e19 overflows it (x_hat = 0 there).
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf / nan as torch's
        r = 1 / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + x.dtype.type(eps))
    return x * r, r


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


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """y = x * cdf(x) (approximate="none") or its tanh form ("tanh"), as torch.nn.functional.gelu:
    the first of ``gelu_and_slope`` / ``gelu_tanh_and_slope``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = np.asarray(x)
    return (gelu_tanh_and_slope(x) if approximate == "tanh" else gelu_and_slope(x))[0]


def gelu_and_slope(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, dy/dx) of the exact GELU: y = x * cdf(x), dy/dx = cdf(x) + x * pdf(x).

    cdf = 0.5 * (1 + erf(x / sqrt(2)));  pdf = exp(-x**2 / 2) / sqrt(2 pi)
    """
    cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF))
    # |x| > 40 has pdf = 0 in float64; the clip keeps x**2 finite for any float
    pdf = np.exp(-0.5 * np.square(np.clip(x, -40.0, 40.0))) * _INV_SQRT_2PI
    return x * cdf, cdf + x * pdf


def gelu_tanh_and_slope(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
