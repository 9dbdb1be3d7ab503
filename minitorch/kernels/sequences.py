"""Kernels of the sequence family: the LSTM time loops (``minitorch/layers/_recurrence.py``) and
Embedding's lookup and scatter-add (``minitorch/layers/embedding.py``); same signatures, same results to
rounding, fewer passes.

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
    """
    T, N, G = xw.shape
    H = G // 4
    dtype = xw.dtype
    scale = _aligned_empty((N, G), dtype, pooled=False)
    scale.fill(0.5)
    scale[:, 2 * H:3 * H] = 1.0  # g is a tanh: not halved
    shift = _aligned_empty((N, G), dtype, pooled=False)
    shift.fill(0.5)
    shift[:, 2 * H:3 * H] = 0.0
    hs = _aligned_empty((T + 1, N, H), dtype)
    cs = _aligned_empty((T + 1, N, H), dtype)
    gates = _aligned_empty((T, N, G), dtype)
    tanh_cs = _aligned_empty((T, N, H), dtype)
    step = _aligned_empty((4, N, H), dtype, pooled=False)  # this step's gates, gate-major
    i, f, g, o = step
    ig = _aligned_empty((N, H), dtype, pooled=False)
    hs[0], cs[0] = h0, c0
    W_hhT = _aligned_copy(W_hh.T)  # BLAS runs the small per-step product faster on it
    r = _rows_per_product(N, H, G)
    for t in range(T):
        a = gates[t]
        if r == N:
            np.matmul(hs[t], W_hhT, out=a)
        else:  # N // r products
            np.matmul(hs[t].reshape(-1, r, H), W_hhT, out=a.reshape(-1, r, G))
        a += xw[t]
        a *= scale
        np.tanh(a, out=a)
        a *= scale
        a += shift  # i, f, o = 0.5 tanh(0.5 a) + 0.5;  g = tanh(a)
        np.copyto(step, a.reshape(N, 4, H).transpose(1, 0, 2))
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])
    return hs, cs[T], (cs, gates, tanh_cs)


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
    """
    cs, gates, tanh_cs = cache
    T, N, G = gates.shape
    H = G // 4
    dtype = gates.dtype
    dtanh_c = _aligned_empty(tanh_cs.shape, dtype)
    np.square(tanh_cs, out=dtanh_c)
    np.subtract(1, dtanh_c, out=dtanh_c)
    da_all = _aligned_empty(gates.shape, dtype)
    step = _aligned_empty((4, N, H), dtype, pooled=False)  # this step's gates, gate-major
    i, f, g, o = step
    deriv = _aligned_empty((4, N, H), dtype, pooled=False)
    da = _aligned_empty((4, N, H), dtype, pooled=False)
    dh, dc = _aligned_copy(dh_n, pooled=False), _aligned_copy(dc_n, pooled=False)
    tmp = _aligned_empty((N, H), dtype, pooled=False)
    W = _aligned_copy(W_hh)
    r = _rows_per_product(N, G, H)
    for t in reversed(range(T)):
        np.copyto(step, gates[t].reshape(N, 4, H).transpose(1, 0, 2))
        dh += dhs[t]
        np.multiply(dh, o, out=tmp)
        tmp *= dtanh_c[t]
        dc += tmp
        np.multiply(dc, g, out=da[0])
        np.multiply(dc, cs[t], out=da[1])
        np.multiply(dc, i, out=da[2])
        np.multiply(dh, tanh_cs[t], out=da[3])
        np.subtract(1, step, out=deriv)
        deriv *= step  # sigmoid' = y (1 - y) for i, f, o ...
        np.square(g, out=deriv[2])
        np.subtract(1, deriv[2], out=deriv[2])  # ... tanh' = 1 - g**2 for g
        da *= deriv
        np.copyto(da_all[t].reshape(N, 4, H), da.transpose(1, 0, 2))
        if r == N:
            np.matmul(da_all[t], W, out=dh)
        else:  # N // r products
            np.matmul(da_all[t].reshape(-1, r, G), W, out=dh.reshape(-1, r, H))
        dc *= f
    return da_all, da_all, dh, dc


def lookup_rows(weight, ids):
    """Kernel of ``embedding.lookup_rows`` (same formula: y = weight[ids]).

    Saves: ``np.take(weight, ids, axis=0)`` copies whole rows in one loop; fancy indexing sets up
    NumPy's general advanced-indexing machinery for the same copy. (``out=`` into a reused buffer was
    tried and is slower: take then buffers its output.) Returns a fresh array, as the plain form does
    for array ids.
    """
    return np.take(weight, ids, axis=0)


def _rank_within_repeats(ids):
    """(sorted_ids, order, first, rank) for 1-D integer ids in [0, some bound): ids sorted STABLY
    (order = the positions, ascending within a run of equal ids), first[j] = position j of the
    sorted ids starts a run, rank[j] = its place within its run.

    The stable order comes from one sort of the keys (id << b) | position, b = bits of n (no two
    equal), cheaper than a stable argsort; keys that could overflow int64 fall back to
    ``argsort(kind="stable")``.
    """
    n = len(ids)
    bits = n.bit_length()
    if int(ids.max()) < 1 << (62 - bits):
        key = ids.astype(np.int64)
        key <<= bits
        key |= np.arange(n)
        key.sort()
        sorted_ids = key >> bits
        order = key & ((1 << bits) - 1)
    else:
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
    first = np.empty(n, dtype=bool)  # where a run of equal ids starts
    first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    rank = np.arange(n) - starts[np.cumsum(first) - 1]  # place within its run
    return sorted_ids, order, first, rank


def _add_by_rank(target, ids, rows, assign_first):
    """target[ids[k]] += rows[k] rank by rank (see scatter_add_rows); with assign_first, rank 0 is
    assigned (target's rows there are zeros). Repeats of one id are added in the order of their
    positions, as ``np.add.at`` adds them, so the sums are the same to the bit. Returns the distinct
    ids, sorted."""
    sorted_ids, order, first, rank = _rank_within_repeats(ids)
    for r in range(int(rank.max()) + 1):
        at = first if r == 0 else rank == r
        if r == 0 and assign_first:
            into, source = _rows_of(target), _rows_of(rows)
            if into.dtype != source.dtype:  # one of them is not one block of rows: element-wise
                into, source = target, rows
            into[sorted_ids[at]] = source[order[at]]
        else:
            target[sorted_ids[at]] += rows[order[at]]
    return sorted_ids[first]


def _rows_of(a):
    """a's rows as single items of row-size bytes (a view) when a is one C-contiguous block, else a:
    fancy indexing then copies each row as one item instead of walking it element by element."""
    if a.ndim < 2 or not a.flags.c_contiguous or a.size == 0:
        return a
    return a.reshape(len(a), -1).view(np.dtype((np.void, a[0].nbytes))).reshape(len(a))


def scatter_rows(num_rows, ids, rows):
    """Kernel of ``embedding.scatter_rows`` (same formula: zeros (num_rows, dim), then
    out[ids[k]] += rows[k] for every k, repeated ids adding up).

    Saves: the gather of zeros and the add for most rows. The ids are ranked within their repeats
    and rank 0 (every id's first occurrence, most rows) is ASSIGNED, ``out[ids_0] = rows_0``; each
    further rank is one vectorised gather-add-scatter. Equal to the plain form bitwise.
    The gradient is always a fresh ``np.zeros`` array: recycling the last one would save its zero
    fill, but rows written into it in place by other code since could not be ruled out without
    reading all of it.
    """
    out = np.zeros((num_rows,) + rows.shape[1:], dtype=rows.dtype)
    if len(ids):
        _add_by_rank(out, ids, rows, assign_first=True)
    return out


def scatter_add_rows(target, ids, rows):
    """Kernel of ``embedding.scatter_add_rows`` (same formula: target[ids[k]] += rows[k] for every k,
    repeated ids adding up; the plain form is ``np.add.at(target, ids, rows)``).

    Saves: ``np.add.at`` handles one row at a time. Here the ids are ranked within their repeats
    (one sort): rank 0 is every id's first occurrence, rank 1 its second, ... Within a rank no id
    repeats, so ``target[ids_r] += rows_r`` is an ordinary buffered gather-add-scatter: one
    vectorised update per rank (a handful with 30 % repeated ids) instead of one small update per
    row. Equal to ``np.add.at`` bitwise (repeats are added in the order of their positions).
    """
    if len(ids):
        _add_by_rank(target, ids, rows, assign_first=False)
