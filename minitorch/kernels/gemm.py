"""Two forms of a Linear's products for OpenBLAS: ``matmul`` (the forward's ``x @ W``, cut along K so
that each core reads its own rows of W) and ``data_grad`` (the input gradient ``dy @ W.T`` of a short
dy, asked of OpenBLAS with its operands' roles swapped where that was checked bitwise; see its
docstring).

``matmul`` replaces the product ``x @ W`` of ``Linear.forward`` (``layers.linear_forward`` calls it).

Why it pays. OpenBLAS runs one product on t threads by cutting its *output* into t blocks of columns:
the thread of block j reads W[:, block j] (every row of W, part of each row), and the threads share
the packed x. The SGD update (``kernels/optimizers.py``: one BLAS ``axpy``) cuts W's flat storage into
t contiguous blocks, that is into blocks of *rows*. So after each update about (t - 1) / t of the
lines every thread reads in the next forward were last written by another core and move between the
cores' caches (half of W with 2 threads: 0.8 MB for a 784x512 float32 weight, every step).

Here the product is cut along the inner dimension K instead, one BLAS call that runs t independent
products at once (OpenBLAS's strided batch GEMM, one per thread):

    P[i] = x[:, Ki] @ W[Ki, :]      Ki = the i-th of t equal blocks of rows of W (the update's blocks)
    y    = P[0] + P[1] + ... + P[t-1]

so thread i reads only the rows of W its own core updated, and no thread waits for another's packing.
It costs t partial outputs and one pass to add them, which is small while the output is small against
W: it is used when N * SHORT <= K rows (N the rows of x, K = in_features; a batch-32 or batch-128 step
of a 784-wide layer), W has at least ``MIN_ELEMENTS`` elements, the BLAS runs t >= 2 threads now and
t divides K. Anything else (or no OpenBLAS batch routine) is the plain ``x @ W``.

Rounding: y's elements are sums over K grouped as (sum over K0) + (sum over K1) + ...; OpenBLAS blocks
a long K the same way inside one product only for some shapes, so the result equals ``x @ W`` to
float rounding (tests/test_kernels.py states the tolerance), bitwise for many shapes.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

from minitorch.kernels import openblas

SHORT = 4  # the split is used while rows * SHORT <= in_features (the partial outputs stay small)
MIN_ELEMENTS = 65536  # below this a weight is too small for its lines' moves to matter
# OpenBLAS sends a batch item of at most 100**3 multiply-adds to its small-matrix kernels, and that path
# of the batch routine crashed (segmentation fault) in OpenBLAS 0.3.31: only larger items are sent
SMALL_ITEM = 100 ** 3
# The OpenBLAS releases whose batch routine was checked here, small items and all (major, minor, patch):
# another release may move the small-item bound or crash elsewhere, so it gets the plain product
CHECKED_OPENBLAS = {(0, 3, 31)}
_ROW_MAJOR, _NO_TRANS = 101, 111


class _Batch:
    """OpenBLAS's ``cblas_?gemm_batch_strided`` and its thread count, found through threadpoolctl."""

    def __init__(self) -> None:
        self.routines: dict[np.dtype, Any] = {}
        self.num_threads: Any = None
        blas = openblas.find()
        if blas is None or blas.release not in CHECKED_OPENBLAS:
            return
        get = blas.symbol("openblas_get_num_threads")
        if get is None:
            return
        get.restype, get.argtypes = ctypes.c_int, []
        index = blas.index
        self.routines = blas.typed("cblas_{}gemm_batch_strided", lambda real: [
            ctypes.c_int, ctypes.c_int, ctypes.c_int, index, index, index, real, ctypes.c_void_p, index,
            index, ctypes.c_void_p, index, index, real, ctypes.c_void_p, index, index, index])
        if self.routines:
            self.num_threads = get


@functools.cache
def _get_batch() -> _Batch:
    """The routines, looked up once (at the first call, when NumPy's BLAS is loaded)."""
    return _Batch()


def parts(x: np.ndarray, W: np.ndarray) -> int:
    """Into how many blocks of K ``matmul`` cuts ``x @ W`` now: the BLAS's thread count t when the
    rule of the module docstring holds, else 0 (the plain product)."""
    if not (x.ndim == 2 and W.ndim == 2 and W.size >= MIN_ELEMENTS and x.shape[0] * SHORT <= W.shape[0]
            and x.dtype == W.dtype and x.flags.c_contiguous and W.flags.c_contiguous):
        return 0
    batch = _get_batch()
    if W.dtype not in batch.routines:
        return 0
    t = batch.num_threads()
    (n, k), out = x.shape, W.shape[1]
    if t < 2 or k % t or n * out * (k // t) <= SMALL_ITEM:
        return 0
    return t


def matmul(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``x @ W`` (a fresh (N, out) array), computed as t partial products over blocks of K when that
    keeps each thread on its own rows of W (``parts``; see the module docstring), else as ``x @ W``.

    The BLAS call through ctypes leaves no floating-point flag that NumPy reads, so a y that is not
    all finite is computed again as ``x @ W``: its overflow or invalid value then warns or raises
    under the caller's ``np.errstate`` exactly as the plain product does; and under an errstate that
    does not ignore underflow (NumPy's default ignores it) the product is ``x @ W`` itself."""
    t = parts(x, W)
    if not t or np.geterr()["under"] != "ignore":  # an underflow the caller asked to hear of: only
        return x @ W  # x @ W reports it (the BLAS call through ctypes sets no flag NumPy reads)
    (n, k), out = x.shape, W.shape[1]
    part = k // t
    partial = np.empty((t, n, out), dtype=W.dtype)
    routine = _get_batch().routines[W.dtype]
    routine(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, n, out, part, 1.0, x.ctypes.data, k, part,
            W.ctypes.data, out, part * out, 0.0, partial.ctypes.data, out, n * out, t)
    with np.errstate(all="ignore"):
        y = np.add(partial[0], partial[1])
        for i in range(2, t):
            y += partial[i]
        flat = y.reshape(-1)
        finite = np.isfinite(np.dot(flat, flat))  # one BLAS pass: inf or nan anywhere makes it so
        # (as does a sum of squares beyond the dtype's range: then x @ W is merely computed again)
    return y if finite else x @ W


# data_grad swaps the operands for a dy of at most DATA_GRAD_ROWS rows, a reduction (out_features) of
# at least DATA_GRAD_MIN_K, and a product past OpenBLAS's small-matrix kernels (SMALL_ITEM)
DATA_GRAD_ROWS = 32
DATA_GRAD_MIN_K = 256
# The OpenBLAS cores (``openblas.OpenBlas.core``, of a release in CHECKED_OPENBLAS) on whose kernels the
# swapped product was checked bitwise equal to dy @ W.T: another core's kernels sum some elements
# in another order in one form than in the other (OpenBLAS 0.3.31's Haswell kernels do, by one
# rounding), so there data_grad is dy @ W.T itself
SWAP_CHECKED_CORES = frozenset({"SkylakeX"})


@functools.cache
def _core() -> str | None:
    """The core of NumPy's OpenBLAS, if it is a release in CHECKED_OPENBLAS; else None. Looked up once:
    OpenBLAS chooses its kernels when it is loaded."""
    blas = openblas.find()
    return blas.core if blas is not None and blas.release in CHECKED_OPENBLAS else None


def swap_checked() -> bool:
    """Whether NumPy's BLAS is one on which ``data_grad``'s swapped product was checked bitwise
    (an OpenBLAS release in CHECKED_OPENBLAS running the kernels of a core in SWAP_CHECKED_CORES)."""
    return _core() in SWAP_CHECKED_CORES


def swaps(dy: np.ndarray, W: np.ndarray) -> bool:
    """Whether ``data_grad`` computes ``dy @ W.T`` as the swapped product (its docstring's rule)."""
    return (swap_checked() and type(dy) is np.ndarray and type(W) is np.ndarray and dy.ndim == 2
            and W.ndim == 2 and dy.dtype == W.dtype == np.float32 and dy.flags.c_contiguous
            and W.flags.c_contiguous
            and dy.shape[0] <= DATA_GRAD_ROWS and dy.shape[1] == W.shape[1] >= DATA_GRAD_MIN_K
            and dy.shape[0] * W.shape[0] * W.shape[1] > SMALL_ITEM)


def data_grad(dy: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``dy @ W.T`` (a fresh C-contiguous (N, in) array: a Linear's dx, W stored (in, out)), computed
    as ``(W @ dy.T).T`` copied into C order when ``swaps(dy, W)``, else as ``dy @ W.T``.

    Replaces ``dx = dy @ W.T`` in the chain kernels' backward (``containers.sequential_backward``,
    ``step_large``); ``Linear.backward_input`` keeps the formula.

    What it saves. NumPy hands ``dy @ W.T`` (C-contiguous out) to OpenBLAS as the column-major
    product dx.T = W @ dy.T: W is its first operand A (m = in_features rows), dy its second B
    (n = N columns). OpenBLAS packs a block of A (up to 448 x 448 float32) into a buffer that lives
    in L2 and runs its micro-kernel over slivers of B of 4 columns, sweeping the whole packed block
    once per sliver: a short dy sweeps the large W's blocks N/4 times out of L2.
    ``W @ dy.T`` is the same product with the roles swapped (A = dy, m = N; B = W, n = in): each
    sliver of W is packed and used at once, and the sweeps are over dy's packed panel (N rows of a
    block of K), small enough for L1 while N is small. OpenBLAS blocks K by K alone, so each output
    element is a sum over the same blocks of K in both forms; whether the micro-kernel then adds
    each block's terms in the same order in both forms is a property of the kernel, not of BLAS:
    it holds for OpenBLAS 0.3.31's SkylakeX kernels (the values are bitwise ``dy @ W.T``'s,
    checked there by tests/test_kernels.py) and fails for its Haswell kernels (about 2 elements in 5
    differ, by a rounding or so). So the swap is made only where it was checked (``swap_checked``:
    the release in CHECKED_OPENBLAS, the core in SWAP_CHECKED_CORES); on any other BLAS or core
    ``data_grad`` is ``dy @ W.T`` itself. The swapped product's result is the transpose of dx's
    layout, so dx costs one more pass: a transposing copy of N x in elements.
    The thread count is not what differs: with 2 threads OpenBLAS cuts in_features between them in
    both forms (as its m in the plain call, as its n in the swapped one; level3_thread.c), and the
    swapped form is as much faster on 1 thread.

    When it is used (``swaps``): a checked OpenBLAS core (above); float32; N <= DATA_GRAD_ROWS and
    K (out_features) >= DATA_GRAD_MIN_K, where the copy costs less than the sweeps save;
    N * in * K > SMALL_ITEM, past OpenBLAS's small-matrix kernels (another kernel per form, not
    checked bitwise); dy and W C-contiguous (the forms NumPy hands to BLAS without a copy).
    Measured on one Intel Xeon (AVX-512, OpenBLAS 0.3.31 SkylakeX) only, copy included, at 1 and 2
    threads: the product with its copy at 0.5-0.8 of ``dy @ W.T``'s time for N 8-32 and K 256-1024
    (in 256-2048); 0.9-1.3 at N 48-64 or K 128; float64 at best 0.9 at N <= 16, slower from N 24
    (not used).
    """
    if not swaps(dy, W):
        return dy @ W.T
    return np.matmul(W, dy.T).T.copy()
