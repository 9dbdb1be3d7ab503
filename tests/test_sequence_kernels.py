"""The LSTM time-loop kernels equal the plain loops (outputs, caches, every gradient), and mix with them."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from bitwise import assert_bitwise
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import embedding as fast_emb
from minitorch.kernels import grouping, kernels_enabled, use_kernels
from minitorch.kernels import sequences as fast
from minitorch.layers import _recurrence as plain


@contextlib.contextmanager
def plain_only():
    before = kernels_enabled()
    use_kernels(False)
    try:
        yield
    finally:
        use_kernels(before)


def _case(T, N, H, dtype, seed):
    rng = np.random.default_rng(seed)
    xw = rng.standard_normal((T, N, 4 * H)).astype(dtype)
    h0, c0 = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    W_hh = rng.standard_normal((4 * H, H)).astype(dtype) / np.sqrt(H)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    dh_n, dc_n = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    return xw, h0, c0, W_hh, dhs, dh_n, dc_n


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 6), N=st.integers(1, 4), H=st.integers(1, 5), float32=st.booleans(),
       seed=st.integers(0, 2**31))
def test_lstm_kernels_equal_the_plain_loops(T, N, H, float32, seed):
    dtype = np.float32 if float32 else np.float64
    tol = dict(rtol=1e-5, atol=1e-6) if float32 else dict(rtol=1e-13, atol=1e-14)
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(T, N, H, dtype, seed)
    with plain_only():
        hs_p, c_p, cache_p = plain.lstm_forward(xw, h0, c0, W_hh, None)
    hs_f, c_f, cache_f = fast.lstm_forward(xw, h0, c0, W_hh, None)
    for a, b in zip((hs_p, c_p, *cache_p), (hs_f, c_f, *cache_f), strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(b, a, **tol)
    with plain_only():
        back_p = plain.lstm_backward(dhs, dh_n, dc_n, cache_p, W_hh)
    back_f = fast.lstm_backward(dhs, dh_n, dc_n, cache_f, W_hh)
    mixed = fast.lstm_backward(dhs, dh_n, dc_n, cache_p, W_hh)  # a plain forward, a fast backward
    for a, b, c in zip(back_p, back_f, mixed, strict=True):
        np.testing.assert_allclose(b, a, **tol)
        np.testing.assert_allclose(c, a, **tol)


@settings(max_examples=6, deadline=None)
@given(N=st.sampled_from([0, 1, 8, 30, 32, 48]), H=st.sampled_from([64, 128]), float32=st.booleans(),
       seed=st.integers(0, 2**31))
def test_lstm_kernels_with_products_in_row_blocks_equal_the_plain_loops(N, H, float32, seed):
    """Batches large enough that the kernels cut the per-step products into row blocks (and ones
    that cannot be cut: prime or small N). Tolerances as above: a row block may reach a different
    BLAS kernel than the whole product, so sums may round differently (float32 rtol 1e-5)."""
    dtype = np.float32 if float32 else np.float64
    tol = dict(rtol=1e-5, atol=1e-6) if float32 else dict(rtol=1e-12, atol=1e-13)
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(3, N, H, dtype, seed)
    with plain_only():
        hs_p, c_p, cache_p = plain.lstm_forward(xw, h0, c0, W_hh, None)
        back_p = plain.lstm_backward(dhs, dh_n, dc_n, cache_p, W_hh)
    hs_f, c_f, cache_f = fast.lstm_forward(xw, h0, c0, W_hh, None)
    back_f = fast.lstm_backward(dhs, dh_n, dc_n, cache_f, W_hh)
    for a, b in zip((hs_p, c_p, *cache_p, *back_p), (hs_f, c_f, *cache_f, *back_f), strict=True):
        assert b.dtype == dtype and b.shape == a.shape
        np.testing.assert_allclose(b, a, **tol)


def test_row_blocks_and_aligned_weights():
    """Blocks divide the batch and stay within the direct kernel's size, or the product stays whole."""
    assert fast._rows_per_product(32, 128, 512) == 4  # 4 * 128 * 512 <= 2 * 350 * 512 < 8 * 128 * 512
    assert fast._rows_per_product(30, 128, 512) == 5
    assert fast._rows_per_product(31, 128, 512) == 31  # prime: no block of >= 4 rows, one product
    assert fast._rows_per_product(3, 128, 512) == 3 and fast._rows_per_product(0, 128, 512) == 1
    assert fast._rows_per_product(64, 1024, 4096) == 64  # no block fits: one product
    W = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
    for a in (W, W.T, W[1:, 1:]):
        copy = fast._aligned_copy(a)
        assert copy.ctypes.data % 64 == 0 and copy.flags.c_contiguous and copy.dtype == a.dtype
        np.testing.assert_array_equal(copy, a)
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(3, 2, 16, np.float32, 0)
    hs, c_n, cache = fast.lstm_forward(xw, h0, c0, W_hh, None)
    da_all, _, dh, dc = fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)
    for a in (hs, c_n, *cache, da_all, dh, dc):
        assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous


def test_kernels_leave_their_inputs_alone():
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(3, 2, 4, np.float64, 0)
    copies = [a.copy() for a in (xw, h0, c0, W_hh, dhs, dh_n, dc_n)]
    _, _, cache = fast.lstm_forward(xw, h0, c0, W_hh, None)
    fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)
    for a, b in zip((xw, h0, c0, W_hh, dhs, dh_n, dc_n), copies, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(V=st.integers(1, 12), D=st.integers(1, 4), n=st.integers(0, 40), float32=st.booleans(),
       seed=st.integers(0, 2**31))
def test_scatter_add_kernel_equals_add_at(V, D, n, float32, seed):
    """Repeated ids add up, into a target that already holds a gradient (accumulation)."""
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, n)
    rows = rng.standard_normal((n, D)).astype(dtype)
    target = rng.standard_normal((V, D)).astype(dtype)
    expected = target.copy()
    np.add.at(expected, ids, rows)
    fast_emb.scatter_add_rows(target, ids, rows)
    np.testing.assert_array_equal(target, expected)  # repeats added in np.add.at's order: bitwise
    wide = rng.standard_normal((V, D + 1)).astype(dtype)
    strided, expected = wide[:, :D], wide[:, :D].copy()  # a target that is not one block of rows
    np.add.at(expected, ids, rows)
    fast_emb.scatter_add_rows(strided, ids, rows)
    np.testing.assert_array_equal(strided, expected)


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(0, 9), min_size=1, max_size=30),
       offset=st.sampled_from([0, 250, 1 << 16, 1 << 40, 1 << 61, (1 << 63) - 10]),
       dtype=st.sampled_from([np.int64, np.uint16, np.int32]))
def test_runs_keep_positions_in_order_on_every_sort_path(ids, offset, dtype):
    """The stable order (uint8/uint16 radix sort, (id << b) | position keys, or a stable argsort for
    huge ids) and the grouping by rank: every occurrence once, an id's occurrences in order of position."""
    ids = np.array(ids, dtype=dtype)
    if np.dtype(dtype) == np.int64:
        ids = ids + offset
    high = int(ids.max())
    np.testing.assert_array_equal(grouping.stable_order(ids, high), np.argsort(ids, kind="stable"))
    grouped = grouping.runs(ids, high, 16)
    longest = int(np.unique(ids, return_counts=True)[1].max())
    if longest > grouping.MAX_RANKS and longest * 512 > len(ids) * 16:
        assert grouped is None  # the callers use np.add.at
        return
    uniq, positions = grouped
    assert sorted(uniq.tolist()) == np.unique(ids).tolist()
    seen: dict[int, list[int]] = {int(v): [] for v in uniq}
    for pos in positions:
        assert 0 < len(pos) <= len(uniq)
        for v, p in zip(uniq[:len(pos)], pos, strict=False):  # rank r: a prefix of uniq
            seen[int(v)].append(int(p))
    for v, found in seen.items():
        assert found == [p for p, w in enumerate(ids.tolist()) if w == v]  # each once, in order


@settings(max_examples=40, deadline=None)
@given(V=st.integers(1, 12), D=st.integers(1, 4), n=st.integers(0, 40), float32=st.booleans(),
       seed=st.integers(0, 2**31))
def test_fresh_scatter_and_lookup_kernels_equal_the_plain_forms(V, D, n, float32, seed):
    """scatter_rows (zeros, then the scatter-add) and lookup_rows (weight[ids], ids of any shape)."""
    from minitorch.layers import embedding

    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, n)
    rows = rng.standard_normal((n, D)).astype(dtype)
    weight = rng.standard_normal((V, D)).astype(dtype)
    shaped_ids = ids.reshape(-1, 2) if n % 2 == 0 else ids
    with plain_only():
        expected = embedding.scatter_rows(V, ids, rows)
        looked_up = embedding.lookup_rows(weight, shaped_ids)
    got = fast_emb.scatter_rows(V, ids, rows)
    assert got.shape == (V, D) and got.dtype == dtype
    assert_bitwise(got, expected)  # to the bit, the sign of every zero too
    fast_looked_up = fast_emb.lookup_rows(weight, shaped_ids)
    assert fast_looked_up.shape == looked_up.shape == shaped_ids.shape + (D,)
    assert fast_looked_up.dtype == dtype
    np.testing.assert_array_equal(fast_looked_up, looked_up)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_scatter_kernel_keeps_the_plain_sign_of_zero(dtype):
    """The plain form adds every id's first row to +0.0, so a row of -0.0 (or -0.0 + -0.0 over a
    repeated id) comes out +0.0; the kernel, which starts each sum from the first row, must too."""
    from minitorch.layers import embedding

    ids = np.array([3, 1, 3, 0, 1, 1])
    rows = np.array([[-0.0, 1.0], [-0.0, -0.0], [-0.0, 2.0], [-0.0, -0.0], [-0.0, -0.0], [-0.0, 0.0]], dtype)
    for n in (6, 2):  # with repeats; without
        with plain_only():
            expected = embedding.scatter_rows(5, ids[:n], rows[:n])
        assert not np.signbit(expected).any()
        assert_bitwise(fast_emb.scatter_rows(5, ids[:n], rows[:n]), expected)


def test_pooled_arrays_are_never_shared_while_anything_holds_them():
    """Two pending forwards (and an output kept by the user) keep their own arrays; a freed one is reused."""
    xw, h0, c0, W_hh, *_ = _case(4, 3, 5, np.float64, 0)
    hs1, _, cache1 = fast.lstm_forward(xw, h0, c0, W_hh, None)
    kept = hs1.copy()
    hs2, _, cache2 = fast.lstm_forward(xw * 2, h0, c0, W_hh, None)
    assert hs1 is not hs2 and not any(a is b for a, b in zip(cache1, cache2, strict=True))
    np.testing.assert_array_equal(hs1, kept)
    output = hs2[1:]  # a view the user keeps: hs2 must not be handed out again
    del hs2, cache2
    hs3, _, _ = fast.lstm_forward(xw * 3, h0, c0, W_hh, None)
    assert hs3.base is not output.base and hs3 is not output.base
    gates_at = fast.lstm_forward(xw, h0, c0, W_hh, None)[2][1].ctypes.data
    again = fast.lstm_forward(xw, h0, c0, W_hh, None)[2][1].ctypes.data
    assert again == gates_at  # freed: reused, no new pages
    lstm = mt.LSTM(3, 4)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    first, _ = lstm(x)
    keep = first.copy()
    lstm.backward(np.ones_like(first))
    lstm(x * 2)
    np.testing.assert_array_equal(first, keep)  # the user's output survives later calls



def _embedding_steps(id_sets, padding_idx=None, accumulate=False):
    """Gradients of Embedding(40, 3) over steps (zero_grad, forward, backward; optionally a second
    forward/backward before the next zero_grad), each gradient copied when its step ends."""
    mt.manual_seed(0)
    emb = mt.Embedding(40, 3, padding_idx=padding_idx)
    rng = np.random.default_rng(1)
    grads = []
    for ids in id_sets:
        emb.zero_grad()
        for _ in range(2 if accumulate else 1):
            emb(ids)
            emb.backward(rng.standard_normal(ids.shape + (3,)).astype(np.float32))
        grads.append(emb.weight.grad.copy())
    return grads


@settings(max_examples=25, deadline=None)
@given(id_sets=st.lists(st.lists(st.integers(0, 39), min_size=0, max_size=12), min_size=1, max_size=5),
       padding=st.booleans(), accumulate=st.booleans())
def test_embedding_gradient_kernels_equal_the_plain_ones_over_steps(id_sets, padding, accumulate):
    """Over steps (with two backwards accumulated into one gradient, with padding) the kernels'
    gradients equal the plain ones bitwise."""
    id_sets = [np.array(ids, dtype=np.int64) for ids in id_sets]
    with plain_only():
        expected = _embedding_steps(id_sets, 0 if padding else None, accumulate)
    got = _embedding_steps(id_sets, 0 if padding else None, accumulate)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("longest", [1, 2, grouping.MAX_RANKS, 64, 65, 300])
def test_scatter_kernels_equal_add_at_with_ids_repeated_often(longest):
    """One id repeated many times among 2048 (a character-level text): the loop over ranks up to
    n * width / 512 ranks, np.add.at beyond; both equal to the plain form bitwise."""
    rng = np.random.default_rng(longest)
    ids = np.concatenate([np.full(longest, 7), rng.choice(np.arange(8, 3000), 2048 - longest, replace=False)])
    rng.shuffle(ids)
    rows = rng.standard_normal((2048, 4, 4)).astype(np.float32)  # width 16
    expected = np.zeros((3000, 4, 4), np.float32)
    np.add.at(expected, ids, rows)
    assert (grouping.runs(ids, int(ids.max()), 16) is None) == (longest > 64)  # 2048 * 16 / 512
    np.testing.assert_array_equal(fast_emb.scatter_rows(3000, ids, rows), expected)
    target = rng.standard_normal((3000, 4, 4)).astype(np.float32)
    added = target.copy()
    np.add.at(added, ids, rows)
    fast_emb.scatter_add_rows(target, ids, rows)
    np.testing.assert_array_equal(target, added)


def test_scatter_kernels_treat_ids_out_of_range_as_np_add_at_does():
    """Negative ids wrap (-1 is the last row, also when the last row is named too), too large ones
    raise IndexError: the kernels hand such ids to np.add.at itself."""
    rows = np.arange(12.0).reshape(4, 3)
    for ids in (np.array([-1, 4, 0, -1]), np.array([4, -5, 1, 4])):
        expected = np.zeros((5, 3))
        np.add.at(expected, ids, rows)
        np.testing.assert_array_equal(fast_emb.scatter_rows(5, ids, rows), expected)
        target, added = np.ones((5, 3)), np.ones((5, 3))
        np.add.at(added, ids, rows)
        fast_emb.scatter_add_rows(target, ids, rows)
        np.testing.assert_array_equal(target, added)
    mask = np.array([True, False, True, True])  # a boolean index selects rows, as in np.add.at
    expected = np.zeros((4, 3))
    np.add.at(expected, mask, rows[:3])
    np.testing.assert_array_equal(fast_emb.scatter_rows(4, mask, rows[:3]), expected)
    with pytest.raises(IndexError):
        fast_emb.scatter_rows(4, np.array([0, 4, 1, 1]), rows)
    with pytest.raises(IndexError):
        fast_emb.scatter_add_rows(np.zeros((4, 3)), np.array([0, -5, 1, 1]), rows)


def test_fresh_scatter_takes_rows_of_any_layout():
    rng = np.random.default_rng(0)
    ids = np.array([4, 1, 4, 0, 2, 4])
    wide = rng.standard_normal((6, 7))
    for rows in (wide[:, :3], wide[:, ::2], np.asfortranarray(wide[:, :3]), wide[::-1, :3]):
        expected = np.zeros((5,) + rows.shape[1:])
        np.add.at(expected, ids, rows)
        np.testing.assert_array_equal(fast_emb.scatter_rows(5, ids, rows), expected)


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_of_the_benchmark_size_equals_the_plain_gradient(padding_idx):
    """The benchmark's shape (Embedding(10000, 64), 2,048 ids, 30 % of them repeats) with the first
    and the last row among the ids and as padding: the fresh gradient and one accumulated on it are
    equal with kernels on and off, through the grouped kernel path (not its np.add.at fallback)."""
    rng = np.random.default_rng(13)
    distinct = np.concatenate([[0, 9999], rng.choice(np.arange(1, 9999), 1432, replace=False)])
    ids = np.concatenate([distinct, rng.choice(distinct, 2048 - len(distinct))])
    rng.shuffle(ids)
    ids = ids.reshape(32, 64)
    dys = [rng.standard_normal((32, 64, 64)).astype(np.float32) for _ in range(2)]
    assert fast_emb._runs_in_range(ids.reshape(-1), 10000, dys[0].reshape(-1, 64)) is not None

    def gradients():
        mt.manual_seed(0)
        emb = mt.Embedding(10000, 64, padding_idx=padding_idx)
        emb(ids)
        emb.backward(dys[0])
        fresh = emb.weight.grad.copy()
        emb(ids)
        emb.backward(dys[1])
        return fresh, emb.weight.grad

    with plain_only():
        expected = gradients()
    got = gradients()
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
        if padding_idx is not None:
            assert not a[padding_idx].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, k, G", [(0, 3, 8), (1, 1, 4), (7, 5, 12), (2048, 64, 512)])
def test_projection_kernel_equals_the_plain_form(rows, k, G, dtype):
    """x @ W.T + b with b as one more column of the product: the dot product of each element ends
    with + 1 * b instead of adding b after it, so sums may round differently (rtol 1e-6 float32,
    1e-14 float64, atol scaled by the terms' size); with no b the product itself, bitwise."""
    rng = np.random.default_rng(rows + k)
    x = rng.standard_normal((rows, k)).astype(dtype)
    W, b = rng.standard_normal((G, k)).astype(dtype), rng.standard_normal(G).astype(dtype)
    tol = dict(rtol=1e-6, atol=1e-6 * k) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-14 * k)
    for x_in in (x, x[::-1], np.asfortranarray(x)):
        with plain_only():
            expected, expected_nobias = plain.project(x_in, W, b), plain.project(x_in, W, None)
        got, got_nobias = fast.project(x_in, W, b), fast.project(x_in, W, None)
        assert got.dtype == dtype and got.shape == (rows, G)
        np.testing.assert_allclose(got, expected, **tol)
        np.testing.assert_array_equal(got_nobias, expected_nobias)
