"""The standardisation shared by BatchNorm and LayerNorm: x_hat = (x - mean) / sqrt(var + eps).

The two layers differ only in the axes the statistics run over (the batch for BatchNorm, the last
dims for LayerNorm); forward and backward through the statistics are written once, here.
"""

from __future__ import annotations

import numpy as np


def standardize(
    x: np.ndarray, axes: tuple[int, ...], eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_hat, inv_std, mean, var): x standardised with its own mean and biased variance over ``axes``.

    Forward:  mean    = x.mean(axes)                  (keepdims)
              xc      = x - mean
              var     = (xc**2).mean(axes)            biased (divides by m, the count over axes)
              inv_std = 1 / sqrt(var + eps)
              x_hat   = xc * inv_std
    The mean is subtracted before squaring (two passes), which stays accurate when |mean| >> std.
    """
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
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
