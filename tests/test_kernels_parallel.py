"""The kernels' pool (minitorch/kernels/parallel.py) and the Conv2d kernels that cut their batch into chunks.

Chunked == whole batch, within rtol 1e-5, atol 1e-6 (float32; 1e-12, 1e-13 float64), the tolerance
the kernel already has against the plain layer (tests/test_kernels.py), with atol scaled by the
array's largest entry (an entry that cancels to near 0 keeps the rounding of its large terms): the
weight gradient is a sum
over samples, computed as the chunks' products added in chunk order, so its sum is regrouped; the
output and the input gradient take each sample's rows of a product from a product of the chunk's
rows, which a BLAS may compute with another kernel than the whole batch's (OpenBLAS switches to its
small-matrix kernels below 100^3 multiply-adds); the bias gradient is the same sum, bitwise. With a
given chunk count, every result is bitwise the same at 1 thread and at 2, and from run to run: the
chunks are fixed by the batch, never by the threads or by timing.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import minitorch as mt
from minitorch import threads
from minitorch.kernels import layers, parallel

DTYPES = [np.float32, np.float64]
CONVS = [  # (constructor arguments, input shape): big enough to be cut, odd sizes, every geometry knob
    ({"in_channels": 5, "out_channels": 7, "kernel_size": 3}, (9, 5, 8, 7)),
    ({"in_channels": 3, "out_channels": 4, "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 2)},
     (6, 3, 9, 8)),
    ({"in_channels": 2, "out_channels": 3, "kernel_size": 2, "dilation": (2, 1), "padding": "same"},
     (5, 2, 7, 6)),
    ({"in_channels": 4, "out_channels": 2, "kernel_size": 1, "bias": False}, (3, 4, 5, 5)),
]


@pytest.fixture
def pool(monkeypatch):
    """Every conv is cut into chunks (no size threshold), on 2 threads where the machine allows."""
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    mt.kernels.use_kernels(True)
    saved = threads._state["explicit"]
    yield
    threads.set_num_threads(saved)


def _conv_run(kwargs, shape, dtype, chunks=None, monkeypatch=None):
    mt.set_default_dtype(dtype)
    mt.manual_seed(0)
    rng = np.random.default_rng(1)
    layer = mt.Conv2d(**kwargs)
    x = rng.standard_normal(shape).astype(dtype)
    if chunks is not None:
        monkeypatch.setattr(parallel, "MAX_CHUNKS", chunks)
    y = layer(x)
    dx = layer.backward(np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype))
    return [y, dx] + [p.grad for p in layer.parameters()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs, shape", CONVS)
def test_conv_chunked_equals_whole_batch(pool, monkeypatch, kwargs, shape, dtype):
    mt.set_num_threads(2)
    chunked = _conv_run(kwargs, shape, dtype, chunks=3, monkeypatch=monkeypatch)
    whole = _conv_run(kwargs, shape, dtype, chunks=1, monkeypatch=monkeypatch)
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-13)
    for a, b in zip(chunked[:3], whole[:3], strict=True):  # y, dx, dW
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, np.abs(b).max()))
    for a, b in zip(chunked[3:], whole[3:], strict=True):  # db
        np.testing.assert_array_equal(a, b)
    assert all(a.dtype == dtype for a in chunked)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs, shape", CONVS)
def test_conv_chunks_give_the_same_bits_at_1_and_2_threads_every_run(pool, monkeypatch, kwargs, shape, dtype):
    runs = []
    for n in (1, 2, 2, 1, 2):
        mt.set_num_threads(n)
        runs.append(_conv_run(kwargs, shape, dtype, chunks=4, monkeypatch=monkeypatch))
    for run in runs[1:]:
        for a, b in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(a, b)


def test_conv_batch_is_cut_only_from_min_work_up(monkeypatch):
    calls = []
    real = parallel.split

    def split(task, n, count, *args):
        calls.append(count)
        return real(task, n, count, *args)

    monkeypatch.setattr(parallel, "split", split)
    mt.kernels.use_kernels(True)
    layer = mt.Conv2d(2, 3, 3)
    layer.backward(np.ones_like(layer(np.ones((4, 2, 6, 6), np.float32))))
    assert calls == [1, 1, 1]
    calls.clear()
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    layer.backward(np.ones_like(layer(np.ones((4, 2, 6, 6), np.float32))))
    assert calls == [parallel.MAX_CHUNKS] * 3
    assert parallel.chunks(10**12, 1) == 1  # one sample: nothing to cut
    monkeypatch.setattr(parallel, "MIN_WORK", 100)
    assert [parallel.chunks(w, 64) for w in (0, 99, 100, 10**9)] == [1, 1, 4, 4]
    assert [parallel.chunks(100, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 4]


def test_issue_12s_conv_is_cut_and_the_same_on_48_samples_is_not():
    layer = mt.Conv2d(32, 64, 3)  # on (N, 32, 14, 14): rows (N*12*12, 3*3*32)
    assert [layers._conv_chunks(layer, np.empty((n * 144, 288), np.float32), n) for n in (64, 48)] == [4, 1]


def _ranges(lo, hi, log):
    log.append((lo, hi, threading.get_ident()))
    time.sleep(0.002)  # long enough for a worker to take some chunks
    return lo * 1000 + hi


def test_split_covers_the_range_in_order_and_the_results_come_back_in_order(pool):
    mt.set_num_threads(2)
    log = []
    results = parallel.split(_ranges, 10, 4, log)
    assert results == [0 * 1000 + 2, 2 * 1000 + 5, 5 * 1000 + 7, 7 * 1000 + 10]
    assert sorted((lo, hi) for lo, hi, _ in log) == [(0, 2), (2, 5), (5, 7), (7, 10)]


def test_one_thread_runs_every_chunk_in_the_caller(pool):
    mt.set_num_threads(1)
    log = []
    assert parallel.split(_ranges, 8, 4, log) == [2, 2004, 4006, 6008]
    assert {ident for _, _, ident in log} == {threading.get_ident()}
    assert [lo for lo, _, _ in log] == [0, 2, 4, 6]


def test_two_threads_share_the_chunks_with_one_blas_thread_each_then_restore_it(pool):
    mt.set_num_threads(2)
    seen = []

    def task(lo, hi):
        seen.append((threading.get_ident(), mt.get_num_threads()))
        time.sleep(0.01)

    for _ in range(5):  # a worker the OS does not run soon may find every chunk taken: try a few times
        seen.clear()
        parallel.split(task, 8, 8)
        if len({ident for ident, _ in seen}) == 2:
            break
    assert len({ident for ident, _ in seen}) == 2
    assert {count for _, count in seen} == {1}
    assert mt.get_num_threads() == 2


def test_a_chunks_exception_reaches_the_caller_after_every_chunk_stopped(pool):
    mt.set_num_threads(2)
    running = []

    def task(lo, hi):
        running.append(lo)
        time.sleep(0.005)
        if lo in (2, 4):
            raise ValueError(f"chunk {lo}")
        running.remove(lo)

    with pytest.raises(ValueError, match="chunk 2"):  # the first in range order, whoever ran it
        parallel.split(task, 8, 4)
    assert sorted(running) in ([2], [2, 4])  # only the chunks that raised stopped early; none still runs
    assert mt.get_num_threads() == 2  # the BLAS count is restored when a chunk raises
    assert parallel.split(lambda lo, hi: hi - lo, 8, 4) == [2, 2, 2, 2]  # and the pool still works


def test_a_split_inside_a_chunk_runs_inline(pool):
    mt.set_num_threads(2)

    def outer(lo, hi):
        return parallel.split(lambda a, b: (a, b, threading.get_ident()), 4, 2)

    for inner in parallel.split(outer, 4, 2):
        assert len({ident for _, _, ident in inner}) == 1
        assert [(a, b) for a, b, _ in inner] == [(0, 2), (2, 4)]


def test_blas_threads_restores_the_count_when_the_block_raises():
    start = mt.get_num_threads()
    with pytest.raises(RuntimeError), threads.blas_threads(1):
        assert mt.get_num_threads() == 1
        raise RuntimeError
    assert mt.get_num_threads() == start


@pytest.mark.parametrize("enabled", [True, False])
def test_conv_of_an_empty_batch_gives_empty_outputs_and_zero_gradients(enabled):
    mt.kernels.use_kernels(enabled)
    layer = mt.Conv2d(2, 3, 3, padding=1)
    y = layer(np.ones((0, 2, 5, 5), np.float32))
    dx = layer.backward(np.ones_like(y))
    assert y.shape == (0, 3, 5, 5) and dx.shape == (0, 2, 5, 5)
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def _split_in_child(queue):
    queue.put(parallel.split(lambda lo, hi: (lo, hi), 4, 2))


def test_a_forked_child_starts_its_own_workers(pool):
    import multiprocessing

    mt.set_num_threads(2)
    parallel.split(lambda lo, hi: None, 4, 2)  # the parent's workers exist before the fork
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_split_in_child, args=(results,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert results.get(timeout=5) == [(0, 2), (2, 4)]
