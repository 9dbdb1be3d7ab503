"""Kernels of the sequence family: the recurrent layers' input projection and the LSTM time loops
(``minitorch/layers/_recurrence.py``); same signatures, same results to rounding, fewer passes.
An LSTM with projections (proj_size > 0, a W_hr argument) has no kernel: the plain loops run it.
(Embedding's kernels: ``kernels/embedding.py``.)
With 2+ threads a large LSTM loop runs half of its batch in the kernels' twin process
(``kernels/twin.py``), bitwise as in one process (see ``_cut``).

The plain loops read as their equations and allocate each intermediate; inside a Python loop of
L steps over small (N, 4H) blocks the NumPy calls per step are the cost, and a call on a column
slice or with a broadcast row costs several times one on a contiguous block (NumPy's general
iterator against its flat loop). These kernels write every step into preallocated arrays
(``out=``), merge element-wise passes and run each call on contiguous blocks: about 12 calls
forward and 17 backward per step, all flat, instead of about 25 and 30.
The caches are the plain ones, so a forward from one and a backward from the other agree.
The loops' large arrays come from the kernels' small pool (``kernels/pool.py``): an array is
reused once nothing holds it, which saves the page faults of fresh memory on every call. Every
array of the loops starts on a 64-byte boundary (``_aligned_empty``), and the per-step products
run in row blocks that OpenBLAS's direct kernel takes (``_rows_per_product``).
"""

from __future__ import annotations

import math

import numpy as np

from minitorch.kernels import twin
from minitorch.kernels.pool import empty as _empty

# OpenBLAS (the BLAS of NumPy's Linux and Windows wheels) runs a row-major float32 product with
# M * N * K <= 2 * 350 * 512 through its direct AVX-512 kernel (no packing, one thread) whatever its
# thread count; a larger one goes, with 2+ threads, to its packed threaded gemm, which gains little
# on the loops' (32, 128) @ (128, 512) products and waits for a busy core. The kernels cut the
# per-step products into row blocks under that size and give them a 64-byte-aligned right-hand
# matrix: the 64 products of a loop then take about 0.7x the time of 64 whole-block products at 1
# thread (float64, through OpenBLAS's small-matrix kernels, gains about as much). Another BLAS just
# sees N // r calls instead of one.
_DIRECT_MNK = 2 * 350 * 512
_MIN_BLOCK_ROWS = 4  # fewer rows per call: the calls cost more than the kernel saves
_ALIGN = 64  # bytes: one cache line, one AVX-512 vector


def _rows_per_product(rows: int, k: int, m: int) -> int:
    """Rows per block for the products (rows, k) @ (k, m) of the time loops: the largest divisor of
    rows whose block has M * N * K <= _DIRECT_MNK, or all rows when no divisor of at least
    _MIN_BLOCK_ROWS rows qualifies (then the product is one call, as in the plain loop)."""
    if rows * k * m <= _DIRECT_MNK:
        return max(rows, 1)  # an empty batch: blocks of 1 row, none of them
    for r in range(min(_DIRECT_MNK // (k * m), rows - 1), _MIN_BLOCK_ROWS - 1, -1):
        if rows % r == 0:
            return r
    return rows


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype, pooled: bool = True) -> np.ndarray:
    """np.empty(shape, dtype) starting on a 64-byte boundary (malloc and the pool give 16 bytes);
    a view of a pooled buffer unless pooled=False.

    On 64-byte-aligned blocks NumPy's AVX-512 loops run about twice as fast as on blocks 16 bytes
    off (each vector load then spans two cache lines), and the direct kernel of the per-step
    products reads its right-hand matrix faster too. Each step's slice of the (L, N, .) arrays
    stays aligned when a step's block is a whole number of 64 bytes (N * H * itemsize).
    """
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    pad = _ALIGN // dtype.itemsize
    buffer = _empty((n + pad,), dtype) if pooled else np.empty(n + pad, dtype)
    start = (-buffer.ctypes.data % _ALIGN) // dtype.itemsize
    return buffer[start:start + n].reshape(shape)


def _aligned_copy(a: np.ndarray, pooled: bool = True) -> np.ndarray:
    """A C-contiguous, 64-byte-aligned copy of a (see _aligned_empty)."""
    out = _aligned_empty(a.shape, a.dtype, pooled)
    np.copyto(out, a)
    return out


PROJECT_SHARED_MIN = 1 << 16  # elements of an input projection: from here on it goes to shared memory
# when the twin may run (the loop kernels then hand the twin its rows without copying them)


def project(x, W, b):
    """Kernel of ``_recurrence.project`` (same formula: xw = x @ W.T + b).

    Saves: the pass that adds b to every row of the (L * N, G) product (a read and a write of the
    whole array). b enters the product as one more column of x (all ones) and one more row of W.T:
    each element's dot product ends with + 1 * b, where the plain form adds b after it; the copy of
    x into the wider array is a fifth of that pass for the LSTM layer's (2048, 64) input. With the
    twin available (and a large product) the result lies in shared memory (``twin.empty``), so the
    loop kernels hand the twin its half without copying it.
    """
    rows, k = x.shape
    G = W.shape[0]
    dtype = np.result_type(x, W)  # as the plain form's in-place += b
    shared = rows * G >= PROJECT_SHARED_MIN and twin.available()
    # not pooled otherwise: as the plain form's, the array is freed after the forward, and that free
    # of a large block is what keeps glibc's malloc from returning (and faulting in again) the
    # memory of every gradient array below its size (its dynamic mmap and trim thresholds)
    out = twin.empty((rows, G), dtype) if shared else np.empty((rows, G), dtype)
    if b is None:
        np.matmul(x, W.T, out=out)
        return out
    xb = _empty((rows, k + 1), dtype)
    xb[:, :k] = x
    xb[:, k] = 1
    Wb = np.empty((k + 1, G), dtype)
    Wb[:k] = W.T
    Wb[k] = b
    np.matmul(xb, Wb, out=out)
    return out


# Both time loops run on a part of the batch at a time: the recurrence of one sample never reads
# another's. With 2+ threads and a large enough loop, the kernels' twin process (kernels/twin.py) runs
# the second half of the batch's rows while this process runs the first: one message each way per
# loop, the arrays in shared memory. The cut (``_cut``) depends on the shapes only and falls between
# two of the products' row blocks, so every product and every element-wise call sees the same rows
# as in the uncut loop: the results are bitwise those of one process, whoever ran which half.
TWIN_MIN_WORK = 64 * 16 * 512 * 128  # multiply-adds of a loop's products: below, one process


def _cut(T: int, N: int, H: int, G: int) -> int:
    """The first row of the twin's half of the batch (a multiple of the products' row block), or 0:
    no twin (fewer than 2 blocks, a loop below TWIN_MIN_WORK, or no twin available now)."""
    r = _rows_per_product(N, H, G)
    if N // r < 2 or T * N * G * H < TWIN_MIN_WORK or not twin.available():
        return 0
    return (N // r) // 2 * r


def _forward_rows(xw, W_hhT, hs, cs, gates, tanh_cs, r):
    """The forward loop on some rows of the batch: xw (T, n, G) and the caches' rows, hs[0] and cs[0]
    given; writes hs[1:], cs[1:], gates, tanh_cs (see ``lstm_forward``); products in blocks of r rows
    (r divides n)."""
    T, N, G = xw.shape
    H = G // 4
    dtype = xw.dtype
    scale = _aligned_empty((N, G), dtype, pooled=False)
    scale.fill(0.5)
    scale[:, 2 * H:3 * H] = 1.0  # g is a tanh: not halved
    shift = _aligned_empty((N, G), dtype, pooled=False)
    shift.fill(0.5)
    shift[:, 2 * H:3 * H] = 0.0
    step = _aligned_empty((4, N, H), dtype, pooled=False)  # this step's gates, gate-major
    i, f, g, o = step
    ig = _aligned_empty((N, H), dtype, pooled=False)
    # per-step views made once (a view per call otherwise), ufuncs bound locally, out= positional:
    # a keyword out= costs a ufunc call about a third more Python-side time
    matmul, tanh, multiply, copyto = np.matmul, np.tanh, np.multiply, np.copyto
    hs_rows, gates_rows = hs.reshape(T + 1, N // r, r, H), gates.reshape(T, N // r, r, G)
    gate_major = gates.reshape(T, N, 4, H).transpose(0, 2, 1, 3)
    for t in range(T):
        a = gates[t]
        matmul(hs_rows[t], W_hhT, gates_rows[t])  # N // r products of r rows
        a += xw[t]
        a *= scale
        tanh(a, a)
        a *= scale
        a += shift  # i, f, o = 0.5 tanh(0.5 a) + 0.5;  g = tanh(a)
        copyto(step, gate_major[t])
        c = cs[t + 1]
        multiply(f, cs[t], c)
        multiply(i, g, ig)
        c += ig
        tanh(c, tanh_cs[t])
        multiply(o, tanh_cs[t], hs[t + 1])


def lstm_forward(xw, h0, c0, W_hh, b_hh):
    """Kernel of ``_recurrence.lstm_forward`` (same formula: a = xw_t + h_{t-1} @ W_hh.T;
    i, f, o = sigmoid, g = tanh; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t)).

    Saves: sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5 is taken for the whole (N, 4H) block at once:
    a's i, f, o columns are halved (one multiply by a column-scale block), one tanh covers all four
    gates, and one multiply-add maps the i, f, o columns to 0.5 u + 0.5 (g's columns: u * 1 + 0).
    The scale and shift are full (N, 4H) blocks, not (4H,) rows: NumPy runs a ufunc over operands of
    one contiguous shape in one flat loop, but a broadcast or a column slice goes through its general
    iterator, several times slower on these small blocks. For the same reason the step's gates are
    copied once into a gate-major (4, N, H) block (a plain copy is cheap; each gate is then one
    contiguous array), so the c and h updates are flat loops too. The product h @ W_hh.T is written
    straight into the gate array, c_t and tanh(c_t) into their caches (no temporaries), in row
    blocks of r rows (N // r products, one call) on a 64-byte-aligned copy of W_hh.T.
    With 2+ threads a large loop runs half of the batch in the kernels' twin process (see ``_cut``):
    the caches then live in shared memory; the twin's half of xw is copied there first unless it
    lies there already (``project``).
    """
    T, N, G = xw.shape
    H = G // 4
    dtype = xw.dtype
    cut = _cut(T, N, H, G)
    if not (cut > 0 and twin.acquire()):
        hs, cs = _aligned_empty((T + 1, N, H), dtype), _aligned_empty((T + 1, N, H), dtype)
        gates, tanh_cs = _aligned_empty((T, N, G), dtype), _aligned_empty((T, N, H), dtype)
        hs[0], cs[0] = h0, c0
        W_hhT = _aligned_copy(W_hh.T)  # BLAS runs the small per-step product faster on it
        _forward_rows(xw, W_hhT, hs, cs, gates, tanh_cs, _rows_per_product(N, H, G))
        return hs, cs[T], (cs, gates, tanh_cs)
    try:  # the twin is claimed: given back however this ends (an array refused, a Ctrl-C)
        new = twin.empty
        # the output: never in shared memory (see below), and not pooled either: with the input
        # projection in a pooled shared buffer it is the step's one large block that is freed
        # (which keeps glibc's malloc thresholds high, see ``project``)
        hs = _aligned_empty((T + 1, N, H), dtype, pooled=False)
        cs, gates, tanh_cs = new((T + 1, N, H), dtype), new((T, N, G), dtype), new((T, N, H), dtype)
        hs[0], cs[0] = h0, c0
        W_hhT = new((H, G), dtype)  # page-aligned
        np.copyto(W_hhT, W_hh.T)
        if twin.shares(xw):
            xw_twin = xw[:, cut:]
        else:
            xw_twin = new((T, N - cut, G), dtype)
            np.copyto(xw_twin, xw[:, cut:])
        # the twin's rows of h go through a shared scratch: the layer returns hs (as its output), and
        # a process forked later from this one would share a shared buffer's later contents with it
        hs_twin = new((T + 1, N - cut, H), dtype)
        hs_twin[0] = h0[cut:]
        r = _rows_per_product(N, H, G)
        job = twin.run(_forward_rows, xw_twin, W_hhT, hs_twin, cs[:, cut:], gates[:, cut:],
                       tanh_cs[:, cut:], r)
        try:
            _forward_rows(xw[:, :cut], W_hhT, hs[:, :cut], cs[:, :cut], gates[:, :cut], tanh_cs[:, :cut], r)
        finally:
            job.wait()
        hs[:, cut:] = hs_twin
    finally:
        twin.release()
    return hs, cs[T], (cs, gates, tanh_cs)


def _backward_rows(dhs, dh_n, dc_n, cs, gates, tanh_cs, W, da_all, dh0, dc0, dtanh_c, r):
    """The backward loop on some rows of the batch (see ``lstm_backward``): reads dhs, dh_n, dc_n and
    the caches' rows; writes da_all's rows and the final dh, dc into dh0, dc0 (dtanh_c: scratch of
    tanh_cs's shape); products in blocks of r rows (r divides n)."""
    T, N, G = gates.shape
    H = G // 4
    dtype = gates.dtype
    np.square(tanh_cs, out=dtanh_c)
    np.subtract(1, dtanh_c, out=dtanh_c)
    step = _aligned_empty((4, N, H), dtype, pooled=False)  # this step's gates, gate-major
    i, f, g, o = step
    deriv = _aligned_empty((4, N, H), dtype, pooled=False)
    da = _aligned_empty((4, N, H), dtype, pooled=False)
    dh, dc = _aligned_copy(dh_n, pooled=False), _aligned_copy(dc_n, pooled=False)
    tmp = _aligned_empty((N, H), dtype, pooled=False)
    # per-step views made once, ufuncs bound locally, out= positional (as in _forward_rows)
    matmul, multiply, subtract, square, copyto = np.matmul, np.multiply, np.subtract, np.square, np.copyto
    gate_major = gates.reshape(T, N, 4, H).transpose(0, 2, 1, 3)
    da_rows = da_all.reshape(T, N // r, r, G)
    da_into = da_all.reshape(T, N, 4, H).transpose(0, 2, 1, 3)  # da_all[t] seen gate-major
    dh_rows = dh.reshape(N // r, r, H)
    da_i, da_f, da_g, da_o = da
    deriv_g = deriv[2]
    for t in reversed(range(T)):
        copyto(step, gate_major[t])
        dh += dhs[t]
        multiply(dh, o, tmp)
        tmp *= dtanh_c[t]
        dc += tmp
        multiply(dc, g, da_i)
        multiply(dc, cs[t], da_f)
        multiply(dc, i, da_g)
        multiply(dh, tanh_cs[t], da_o)
        subtract(1, step, deriv)
        deriv *= step  # sigmoid' = y (1 - y) for i, f, o ...
        square(g, deriv_g)
        subtract(1, deriv_g, deriv_g)  # ... tanh' = 1 - g**2 for g
        da *= deriv
        copyto(da_into[t], da)
        matmul(da_rows[t], W, dh_rows)  # N // r products of r rows
        dc *= f
    dh0[...], dc0[...] = dh, dc


def lstm_backward(dhs, dh_n, dc_n, cache, W_hh):
    """Kernel of ``_recurrence.lstm_backward`` (same formula, step t = L-1 ... 0:
    dh += dhs[t]; dc += dh * o * (1 - tanh(c_t)**2);
    da = [dc g, dc c_{t-1}, dc i, dh tanh(c_t)] * [i(1-i), f(1-f), 1-g**2, o(1-o)];
    dh = da @ W_hh; dc = dc * f).

    Saves: every element-wise call of a step runs on whole contiguous blocks. The step's gates are
    copied once into a gate-major (4, N, H) block, da is built there (the four products into its
    four gate blocks, one (4, N, H) multiply by the derivatives [i(1-i), f(1-f), 1-g**2, o(1-o)],
    themselves two whole-block passes and two on g) and copied once into da_all's (N, 4H) rows;
    column slices of the (N, 4H) arrays would send each of those calls through NumPy's general
    iterator. 1 - tanh(c_t)**2 is taken for all L steps before the loop; da @ W_hh goes straight
    into dh's buffer, in row blocks on a 64-byte-aligned copy of W_hh (as in the forward).
    With 2+ threads a large loop runs half of the batch in the kernels' twin process (see ``_cut``;
    a cache from a one-process forward, or the plain one, is copied into shared memory first).
    """
    cs, gates, tanh_cs = cache
    T, N, G = gates.shape
    H = G // 4
    dtype = gates.dtype
    cut = _cut(T, N, H, G)
    dh0, dc0 = _aligned_empty((N, H), dtype, pooled=False), _aligned_empty((N, H), dtype, pooled=False)
    claimed = cut > 0 and twin.acquire()  # (then given back in the finally below, however it ends)
    if not claimed:
        da_all = _aligned_empty(gates.shape, dtype)
        _backward_rows(dhs, dh_n, dc_n, cs, gates, tanh_cs, _aligned_copy(W_hh), da_all, dh0, dc0,
                       _aligned_empty(tanh_cs.shape, dtype), _rows_per_product(N, G, H))
        return da_all, da_all, dh0, dc0
    try:
        n = N - cut
        W, da_all = twin.empty(W_hh.shape, dtype), twin.empty(gates.shape, dtype)
        np.copyto(W, W_hh)
        dhs_twin, dtanh_twin = twin.empty((T, n, H), dtype), twin.empty((T, n, H), dtype)
        dh0_twin, dc0_twin = twin.empty((n, H), dtype), twin.empty((n, H), dtype)
        np.copyto(dhs_twin, dhs[:, cut:])
        r = _rows_per_product(N, G, H)
        job = twin.run(_backward_rows, dhs_twin, dh_n[cut:], dc_n[cut:], cs[:, cut:], gates[:, cut:],
                       tanh_cs[:, cut:], W, da_all[:, cut:], dh0_twin, dc0_twin, dtanh_twin, r)
        try:
            _backward_rows(dhs[:, :cut], dh_n[:cut], dc_n[:cut], cs[:, :cut], gates[:, :cut],
                           tanh_cs[:, :cut], W, da_all[:, :cut], dh0[:cut], dc0[:cut],
                           _aligned_empty((T, cut, H), dtype), r)
        finally:
            job.wait()
        dh0[cut:], dc0[cut:] = dh0_twin, dc0_twin
    finally:
        twin.release()
    return da_all, da_all, dh0, dc0
