"""kernels/zeros.py: zero arrays made ahead on another core are fresh, all zeros, never handed out
twice, and Embedding's gradients built on them equal the plain ones."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels
from minitorch.kernels import zeros as ahead

SHAPE = (4096, 64)  # 1 MB of float32: the smallest size made ahead


@pytest.fixture
def made_ahead(monkeypatch):
    """Arrays made ahead whatever this machine's thread count; ``_top_up`` (the maker's one round)
    run here too, so the tests do not wait on the idle-priority thread of a busy machine."""
    monkeypatch.setattr(ahead, "_allowed", lambda: True)
    ahead.zeros(SHAPE, np.float32)
    ahead._top_up()
    yield


def _check_fresh(a: np.ndarray, shape, dtype) -> None:
    assert a.shape == shape and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata
    assert not a.any()


def test_arrays_made_ahead_are_fresh_zeros_and_never_shared(made_ahead):
    held, given = [], 0
    for _ in range(12):
        given += len(ahead._ready.get((SHAPE, np.dtype(np.float32)), [])) > 1  # one is handed out
        a = ahead.zeros(SHAPE, np.float32)
        _check_fresh(a, SHAPE, np.float32)
        a[:] = 7.0  # the caller's writes never reach a later array
        held.append(a)
        ahead._top_up()
    assert given == 12
    assert len({a.ctypes.data for a in held}) == len(held)
    assert all((a == 7.0).all() for a in held)
    given = ahead.zeros(SHAPE, np.float32)
    _check_fresh(given, SHAPE, np.float32)


def test_every_size_dtype_and_shape_gives_fresh_zeros(made_ahead):
    for shape, dtype in [((3, 4), np.float32), ((ahead.MAX_BYTES // 8 + 1,), np.float64),
                         ((1 << 17, 2), np.float64), ((512, 1024), np.int32), ((2, 1024, 128), np.float32)]:
        for _ in range(3):
            _check_fresh(ahead.zeros(shape, dtype), shape, np.dtype(dtype))
            ahead._top_up()
    assert len(ahead._ready) <= ahead.SHAPES  # the least recently asked-for shapes were dropped


def test_callers_in_several_threads_never_get_the_same_array(made_ahead):
    got: list[np.ndarray] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(20):
            a = ahead.zeros(SHAPE, np.float32)
            assert not a.any()
            a[0, 0] = 1.0
            with lock:
                got.append(a)

    workers = [threading.Thread(target=take) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(got) == 80 and len({a.ctypes.data for a in got}) == 80


def test_one_thread_makes_nothing_ahead(monkeypatch):
    monkeypatch.setattr(ahead, "_check", [0, False])  # the thread count is read at the next call
    monkeypatch.setattr(ahead.threads, "get_num_threads", lambda: 1)
    ahead._ready.clear()
    for _ in range(3):
        _check_fresh(ahead.zeros(SHAPE, np.float32), SHAPE, np.float32)
    assert not ahead._ready  # not even asked for
    monkeypatch.setattr(ahead, "_check", [0, False])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_starts_afresh(made_ahead):
    ahead.zeros(SHAPE, np.float32)
    pid = os.fork()
    if pid == 0:  # the child: no maker thread, nothing ready; its arrays are still fresh zeros
        ok = not ahead._ready and not ahead._thread
        for _ in range(4):
            a = ahead.zeros(SHAPE, np.float32)
            ok = ok and not a.any()
            a[:] = 1
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_embedding_gradients_on_arrays_made_ahead_equal_the_plain_ones(monkeypatch):
    """Embedding(10000, 64) over steps: each fresh gradient (a 2.56 MB array made ahead) equals the
    plain np.zeros + np.add.at gradient, also when the previous one was kept and written to."""
    monkeypatch.setattr(ahead, "_allowed", lambda: True)
    rng = np.random.default_rng(3)
    steps = [(rng.integers(0, 10000, (16, 64)), rng.standard_normal((16, 64, 64)).astype(np.float32))
             for _ in range(6)]

    def gradients() -> list[np.ndarray]:
        mt.manual_seed(0)
        emb = mt.Embedding(10000, 64, padding_idx=5)
        kept = []
        for ids, dy in steps:
            emb.zero_grad()
            emb(ids)
            emb.backward(dy)
            kept.append(emb.weight.grad)
            emb.weight.grad[::97] += 1.0  # the user writes into a gradient it keeps
            ahead._top_up()
        return kept

    before = kernels_enabled()
    use_kernels(False)
    try:
        expected = gradients()
    finally:
        use_kernels(before)
    got = gradients()
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
