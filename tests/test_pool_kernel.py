"""kernels/pool.py: an array of the pool is handed out again only once nothing else holds it, on any
interpreter (reference counts read otherwise on CPython 3.14), from several threads, and in a
process forked while another thread was taking one."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
from forking import child_answer

import minitorch as mt
from minitorch.kernels import pool

SHAPE = (64, 32)


def borrowed_counts(monkeypatch, lower: int = 1) -> None:
    """Reference counts that read ``lower`` less than this interpreter's, as on CPython 3.14 (a local
    passed as an argument is borrowed, not counted); the pool's probe runs again under them."""
    real = sys.getrefcount
    # (real(a) in the lambda counts the lambda's own argument too: one more than a direct call)
    fake = (lambda a: real(a) - 1 - lower) if lower is not None else (lambda a: 1)
    monkeypatch.setattr(sys, "getrefcount", fake)
    monkeypatch.setattr(pool, "_getrefcount", fake, raising=False)
    monkeypatch.setattr(pool, "_sole", [], raising=False)


@pytest.mark.parametrize("lower", [0, 1, 2, None], ids=["this-interpreter", "one-lower", "two-lower",
                                                         "meaningless"])
def test_an_array_someone_holds_is_never_handed_out_again(monkeypatch, lower):
    if lower:
        borrowed_counts(monkeypatch, lower)
    elif lower is None:
        borrowed_counts(monkeypatch, None)
    held = pool.empty(SHAPE, np.float32)
    held[...] = 1.0
    second = pool.empty(SHAPE, np.float32)
    assert not np.shares_memory(second, held)
    second[...] = 2.0
    view = second[1:]  # only a view of the second is alive
    del second
    for _ in range(3):
        a = pool.empty(SHAPE, np.float32)
        assert not np.shares_memory(a, held) and not np.shares_memory(a, view)
        a[...] = 3.0
    assert (held == 1.0).all() and (view == 2.0).all()


@pytest.mark.parametrize("lower", [0, 1], ids=["this-interpreter", "one-lower"])
def test_a_freed_array_is_reused(monkeypatch, lower):
    """The probe finds the count of a free array on this interpreter and on one counting lower: the
    pool still saves its page faults there."""
    if lower:
        borrowed_counts(monkeypatch, lower)
    a = pool.empty(SHAPE, np.float64)
    address = a.ctypes.data
    del a
    assert pool.empty(SHAPE, np.float64).ctypes.data == address


def _lstm_outputs(n_calls=3):
    """Outputs of an LSTM under no_grad, each held by the caller while the next call runs."""
    mt.manual_seed(0)
    lstm = mt.LSTM(4, 8)
    rng = np.random.default_rng(0)
    with mt.no_grad():
        return [lstm(rng.standard_normal((5, 3, 4)).astype(np.float32))[0] for _ in range(n_calls)]


def test_lstm_outputs_held_across_calls_with_borrowed_counts(monkeypatch):
    """The loop's output lies in a pooled array: with counts one lower the pool took it for the next
    call while the caller held it, so every output held in a list became the last one."""
    mt.kernels.use_kernels(False)
    try:
        expected = _lstm_outputs()
    finally:
        mt.kernels.use_kernels(True)
    borrowed_counts(monkeypatch)
    for got, want in zip(_lstm_outputs(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _child_answer(check, timeout=20.0) -> bytes:
    """check() in a forked child: b"1"/b"0", or b"" if it did not answer within timeout (killed)."""
    return child_answer(check, timeout)[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_child_forked_while_another_thread_takes_an_array_can_take_one():
    """Another thread inside the pool (holding its lock) when the process forks: the child has no
    such thread, so it must not wait for the lock (it waited forever)."""
    inside, leave = threading.Event(), threading.Event()

    def inside_the_pool() -> None:
        with pool._POOL_LOCK:  # as a thread in empty() holds it
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=inside_the_pool)
    worker.start()
    try:
        assert inside.wait(10)
        reply = _child_answer(lambda: pool.empty((5,), np.float32).shape == (5,), timeout=5.0)
    finally:
        leave.set()
        worker.join()
    assert reply == b"1"


def test_the_rule_serves_several_threads_at_once():
    """``twin.empty`` (called by ``project`` in any thread) shares the rule with ``empty``: four
    threads asking for more shapes than a pool keeps, switching as often as the interpreter allows,
    never get one array twice nor an error (unlocked, the eviction of the oldest shape met another
    thread's change of the dict: RuntimeError)."""
    interval = sys.getswitchinterval()
    pools: dict = {}
    errors: list[str] = []
    taken: list[list[np.ndarray]] = [[] for _ in range(4)]

    def work(k: int) -> None:
        try:
            for i in range(20000):
                key = ((i * 7 + k) % 40 + 1,), np.dtype(np.float32)
                a = pool.reuse_or_make(pools, key, lambda key=key: np.empty(*key))
                taken[k] = [a] + taken[k][:3]  # the newest four held, each marked by its holder
                a[...] = k
                if any((b != k).any() for b in taken[k]):
                    errors.append(f"thread {k}: an array it holds was handed to another")
                    return
        except Exception as error:  # any error is the finding
            errors.append(repr(error))

    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
