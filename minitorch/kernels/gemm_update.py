"""Plain SGD's update of a weight whose gradient is a deferred product: ``W -= lr * (a @ b)`` as one
BLAS ``gemm``, C = alpha * A @ B + beta * C with alpha = -lr, beta = 1, C = W.

The plain form computes the gradient G = a @ b into a fresh (in, out) array (OpenBLAS first zeroes
it: beta = 0), then the update W -= lr * G reads G and reads and writes W. Here the product's
micro-kernel adds its results into W directly: no gradient array is written, and the update's
pass over G and W is gone (for the 784x512 weight of the benchmark MLP, 1.6 MB written and two 1.6
MB passes a step). The gradient itself stays the deferred product (``Parameter.defer_matmul``): a
read of ``p.grad`` still computes ``np.matmul(a, b)``, the same numbers as the plain backward's.

Rounding: each element is W + (-lr) * s with s the dot product the plain G holds, accumulated in the
same order; the plain form rounds s to G first and computes W - lr * G (one fused multiply-add in
OpenBLAS's axpy). So the results agree to float rounding, not bitwise (tests/test_gemm_update.py
states the tolerance).

Floating-point warnings: a BLAS call through ctypes sets no flag NumPy reads, so where the plain
product would warn ("overflow encountered in matmul": a gradient element past the dtype's range)
this update does not, as the axpy update of ``kernels/optimizers.py`` does not; the weight holds
the same inf or nan either way, and the next forward's loss shows it (``mt.fit`` stops with its
NonFiniteLossError). A read of ``p.grad`` computes the product with NumPy, warnings and all.
``takes`` declines under an error state other than NumPy's default (``np.errstate(over="raise")``:
then the product is computed by NumPy, which raises).
"""

from __future__ import annotations

import ctypes
import functools
import math
from typing import Any

import numpy as np

from minitorch.kernels import openblas
from minitorch.parameter import NUMPY_DEFAULT_ERR

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


class _Gemm:
    """OpenBLAS's ``cblas_sgemm`` and ``cblas_dgemm``, found through threadpoolctl."""

    def __init__(self) -> None:
        self.routines: dict[np.dtype, Any] = {}
        blas = openblas.find()
        if blas is None:
            return
        index, address, flag = blas.index, ctypes.c_void_p, ctypes.c_int  # (order, transA, transB)
        self.routines = blas.typed("cblas_{}gemm", lambda real: [
            flag, flag, flag, index, index, index, real, address, index, address, index, real, address,
            index])


@functools.cache
def _get_gemm() -> _Gemm:
    """The routines, looked up once (at the first call, when NumPy's BLAS is loaded)."""
    return _Gemm()


def takes(W: np.ndarray, a: np.ndarray, b: np.ndarray, lr: float) -> bool:
    """Whether ``update_(W, a, b, lr)`` computes ``W -= lr * (a @ b)``: W an aligned, writable,
    C-contiguous ndarray of a dtype with a BLAS routine; a (in, N) with a or a.T C-contiguous, b
    (N, out) C-contiguous, N >= 1, all of W's dtype and shapes; lr finite and not 0 (a BLAS gemm
    with alpha 0 leaves W as it is, where the plain W - 0 * G turns W nan at an inf in G); NumPy's
    default error state."""
    return (type(W) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray
            and W.ndim == a.ndim == b.ndim == 2 and W.dtype == a.dtype == b.dtype
            and W.flags.carray and b.flags.c_contiguous and (a.flags.c_contiguous or a.T.flags.c_contiguous)
            and W.shape == (a.shape[0], b.shape[1]) and a.shape[1] == b.shape[0] >= 1
            and math.isfinite(lr) and lr != 0 and W.dtype in _get_gemm().routines
            and np.geterr() == NUMPY_DEFAULT_ERR)


def update_(W: np.ndarray, a: np.ndarray, b: np.ndarray, lr: float) -> None:
    """W -= lr * (a @ b) in place, one BLAS gemm (alpha = -lr, beta = 1); only where ``takes``."""
    (m, k), n = a.shape, b.shape[1]
    if a.flags.c_contiguous:
        trans, source, lda = _NO_TRANS, a, k
    else:  # a is the transpose of a C-contiguous (k, m) array: that array, transposed by BLAS
        trans, source, lda = _TRANS, a.T, m
    _get_gemm().routines[W.dtype](_ROW_MAJOR, trans, _NO_TRANS, m, n, k, -lr, source.ctypes.data, lda,
                                  b.ctypes.data, n, 1.0, W.ctypes.data, n)
