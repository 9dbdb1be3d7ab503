"""Embedding training with the twin grouping ids and zero-filling gradients ahead
(minitorch/kernels/embedding_ahead.py): every gradient the session touches equals the plain formula
(zeros, then np.add.at) bitwise, whatever the user does between forward and backward."""

from __future__ import annotations

import contextlib
import gc
import os
import select
import time

import numpy as np
import pytest
from forking import in_forked_child

import minitorch as mt
from minitorch.kernels import embedding_ahead as ahead
from minitorch.kernels import twin
from minitorch.kernels.embedding_twin import GROUPED, READY
from minitorch.kernels.twin_session import ALIVE, REQ, STOP


@pytest.fixture
def session(monkeypatch):
    """Kernels on, the twin allowed, sessions that stay 1 s without a job and a backward that waits
    for the twin's grouping up to 5 s (a busy machine then delays the twin but never sends the work
    back to the caller, so the test sees the twin's numbers). The session is stopped at the end."""
    if twin._state["dead"] or not ahead._X86:
        pytest.skip("the sessions need the twin (Linux) on x86-64")
    monkeypatch.setattr(twin, "available", lambda: True)
    monkeypatch.setattr(ahead, "IDLE_S", 1.0)
    monkeypatch.setattr(ahead, "WAIT_S", 5.0)
    monkeypatch.setitem(ahead._state, "backoff", 0.0)
    monkeypatch.setitem(ahead._state, "spell", ahead.SPELL_S[0])
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(True)
    yield ahead
    mt.kernels.use_kernels(before)
    _stop()


def _stop() -> None:
    job, plan = ahead._state["job"], ahead._state["plan"]
    if job is not None and not job.done:
        plan.ctrl[STOP] = 1
        ahead._collect(job, wait=True)
    ahead._state.update(job=None, plan=None, streak=0)


def _expected(emb: mt.Embedding, ids: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The plain formula: zeros, then np.add.at of every non-padding position's row."""
    flat, rows = ids.reshape(-1), dy.reshape(-1, emb.embedding_dim)
    if emb.padding_idx is not None:
        keep = flat != emb.padding_idx
        flat, rows = flat[keep], rows[keep]
    out = np.zeros(emb.weight.data.shape, emb.weight.data.dtype)
    np.add.at(out, flat, rows)
    return out


def _step(emb: mt.Embedding, ids: np.ndarray, dy: np.ndarray) -> np.ndarray:
    emb.zero_grad()
    emb(ids)
    emb.backward(dy)
    return emb.weight.grad


def _served_step(emb: mt.Embedding, ids: np.ndarray, dy: np.ndarray, timeout: float = 30.0) -> np.ndarray:
    """Steps until one backward used the twin's grouping; that step's gradient. The steps go on until
    ``timeout`` seconds have passed, not for a number of steps: a busy machine keeps the twin off its
    core for a while (its session wakes, and goes ALIVE, that much later), while the caller's steps
    run on."""
    deadline = time.monotonic() + timeout
    while True:
        before = ahead._state["served"]
        grad = _step(emb, ids, dy)
        if ahead._state["served"] > before:
            return grad
        if time.monotonic() > deadline:
            raise AssertionError(f"no backward used the twin's grouping in {timeout} s")


def _serving(seed: int) -> tuple:
    """An Embedding(300, 8) trained until a backward was served: (rng, layer, ids, dy)."""
    rng = np.random.default_rng(seed)
    emb = mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    _served_step(emb, ids, dy)
    return rng, emb, ids, dy


def _another_task() -> None:
    """A task sent to the twin (as an LSTM's loop sends one): it stops a live session first."""
    assert twin.acquire()
    try:
        twin.run(twin.noop).wait()
    finally:
        twin.release()


def _data(rng, vocab, shape, dim, dtype, id_dtype=np.int64, repeated=0.3):
    n = int(np.prod(shape))
    distinct = rng.choice(vocab, max(1, int(n * (1 - repeated))), replace=False)
    ids = np.concatenate([distinct, rng.choice(distinct, n - len(distinct))])
    rng.shuffle(ids)
    return ids.reshape(shape).astype(id_dtype), rng.standard_normal(shape + (dim,)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("id_dtype", [np.int64, np.int32, np.uint16])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_gradients_of_a_session_equal_the_plain_formula(session, dtype, id_dtype, padding_idx):
    """Served gradients (the twin's grouping and zero fill) equal zeros + np.add.at bitwise, step
    after step, the ids changing every step (padding rows are left out: grouped here)."""
    rng = np.random.default_rng(0)
    mt.manual_seed(0)
    mt.set_default_dtype(dtype)  # (restored by the suite's fixture)
    emb = mt.Embedding(500, 16, padding_idx=padding_idx)
    ids, dy = _data(rng, 500, (12, 8), 16, dtype, id_dtype)
    if padding_idx is None:
        np.testing.assert_array_equal(_served_step(emb, ids, dy), _expected(emb, ids, dy))
    else:
        _step(emb, ids, dy)
    for _ in range(20):
        ids, dy = _data(rng, 500, (12, 8), 16, dtype, id_dtype)
        grad = _step(emb, ids, dy)
        assert grad.dtype == dtype
        np.testing.assert_array_equal(grad, _expected(emb, ids, dy))


def test_ids_changed_in_place_after_the_forward_are_grouped_here(session):
    """The backward reads the ids as they are then (the plain layer's cache is the same array): ids
    changed in place after a forward whose ids the twin grouped are not served the stale grouping."""
    rng = np.random.default_rng(1)
    emb = mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (10, 6), 8, np.float32)
    _served_step(emb, ids, dy)
    for k in range(10):
        emb.zero_grad()
        emb(ids)
        ids[k % 10, 0] = (ids[k % 10, 0] + 1) % 300
        before = ahead._state["served"]
        emb.backward(dy)
        assert ahead._state["served"] == before
        np.testing.assert_array_equal(emb.weight.grad, _expected(emb, ids, dy))


def test_two_embeddings_in_turn(session):
    """Two layers of one shape, forwards then backwards in reverse order: a job posted for the second
    forward is never taken as the first's grouping."""
    rng = np.random.default_rng(2)
    a, b = mt.Embedding(400, 8), mt.Embedding(400, 8)
    ids_a, dy_a = _data(rng, 400, (9, 7), 8, np.float32)
    ids_b, dy_b = _data(rng, 400, (9, 7), 8, np.float32)
    _served_step(a, ids_a, dy_a)
    for _ in range(30):
        a.zero_grad()
        b.zero_grad()
        a(ids_a)
        b(ids_b)
        b.backward(dy_b)
        a.backward(dy_a)
        np.testing.assert_array_equal(a.weight.grad, _expected(a, ids_a, dy_a))
        np.testing.assert_array_equal(b.weight.grad, _expected(b, ids_b, dy_b))


def _kept_gradients(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(gradient, its plain value) of steps whose gradients a user keeps after zero_grad, between
    steps whose gradients are dropped (their arrays free to be filled again)."""
    rng = np.random.default_rng(seed)
    emb = mt.Embedding(200, 8)
    kept = []
    ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
    _served_step(emb, ids, dy)
    for _ in range(3 * ahead.ARRAYS):
        ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
        kept.append((_step(emb, ids, dy), _expected(emb, ids, dy)))
        _step(emb, ids, dy)
    return kept


def test_gradients_a_user_keeps_are_never_filled_again(session):
    """Gradients kept after zero_grad (their shared arrays still referenced) keep their values while
    the session fills arrays for later steps."""
    kept = _kept_gradients(3)
    for grad, expected in kept:
        np.testing.assert_array_equal(grad, expected)
    assert any(twin.shares(grad) for grad, _ in kept)  # (the session's arrays were among them)


def test_counts_that_tell_nothing_fill_no_gradient_again(session, monkeypatch):
    """Where reference counts do not rise with a reference more (an interpreter that defers or skips
    increments, simulated), no array is filled a second time: every kept gradient keeps its values."""
    monkeypatch.setattr(ahead, "_getrefcount", lambda a: 3)
    for grad, expected in _kept_gradients(13):
        np.testing.assert_array_equal(grad, expected)


def test_heavy_repeats_and_a_larger_batch(session):
    """A character-level batch (the twin leaves np.add.at's case to the caller), then more ids than
    the session's arrays hold (a new session): both equal the plain formula."""
    rng, emb, _, _ = _serving(4)
    letters = rng.integers(0, 3, (40, 8))
    dy_letters = rng.standard_normal((40, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(_step(emb, letters, dy_letters), _expected(emb, letters, dy_letters))
    big, dy_big = _data(rng, 300, (16, 16), 8, np.float32)
    np.testing.assert_array_equal(_served_step(emb, big, dy_big), _expected(emb, big, dy_big))


def test_two_shapes_taking_turns_do_not_restart_sessions_every_step(session):
    """Two Embeddings of different shapes in one fast loop: each wants a session of its own; after
    a short one the next waits a spell (doubling), so sessions do not restart at every step."""
    rng = np.random.default_rng(10)
    a, b = mt.Embedding(300, 8), mt.Embedding(200, 4)
    started = ahead._state["session"]
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        ids_a, dy_a = _data(rng, 300, (8, 8), 8, np.float32)
        ids_b, dy_b = _data(rng, 200, (8, 8), 4, np.float32)
        np.testing.assert_array_equal(_step(a, ids_a, dy_a), _expected(a, ids_a, dy_a))
        np.testing.assert_array_equal(_step(b, ids_b, dy_b), _expected(b, ids_b, dy_b))
    assert ahead._state["session"] - started <= 12  # spells of 10, 20, 40 ... ms in 0.5 s


def test_a_killed_twin_leaves_every_gradient_right(session, kill_twin, monkeypatch):
    rng, emb, ids, dy = _serving(5)
    kill_twin()
    monkeypatch.setattr(ahead, "WAIT_S", 0.01)  # (the dead twin's job is noticed on the first miss)
    for _ in range(20):
        ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
        np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))


def test_another_task_stops_the_session_and_holds_off_the_next(session, monkeypatch):
    """A task sent to the twin (an LSTM's loop) stops the session; no new one starts for BACKOFF_S,
    and the gradients stay right. (BACKOFF_S is made longer than the steps below take on a busy
    machine: with its 1 s they may outlast it, and a session then rightly starts.)"""
    monkeypatch.setattr(ahead, "BACKOFF_S", 60.0)
    rng, emb, ids, dy = _serving(6)
    job = ahead._state["job"]
    stopped = time.monotonic()
    _another_task()
    assert job.done and ahead._state["backoff"] >= stopped + ahead.BACKOFF_S
    session_count = ahead._state["session"]
    for _ in range(3 * ahead.STREAK):
        ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
        np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))
    assert ahead._state["session"] == session_count
    assert time.monotonic() < ahead._state["backoff"]  # (the steps ran within the hold-off)


def test_a_job_the_last_session_left_untaken_blocks_nothing(session, monkeypatch):
    """A session stopped right after a forward posted its ids leaves that job untaken; the next
    session of the same arrays is served all the same."""
    monkeypatch.setattr(ahead, "BACKOFF_S", 0.0)
    _, emb, ids, dy = _serving(11)
    plan = ahead._state["plan"]
    _another_task()
    plan.ctrl[REQ] += 1  # as if a forward had posted as the session left
    monkeypatch.setitem(ahead._state, "backoff", 0.0)
    monkeypatch.setitem(ahead._state, "served_at_start", ahead._state["served"] - ahead.SHORT)
    np.testing.assert_array_equal(_served_step(emb, ids, dy), _expected(emb, ids, dy))
    assert ahead._state["plan"] is plan


def test_a_new_session_fills_gradients_again(session, monkeypatch):
    """After a session ends, the next one fills the gradient arrays again: the ended session's job,
    which held the arrays as its arguments, is gone at once (no reference cycle keeps it until the
    garbage collector runs), so the arrays count as free."""
    monkeypatch.setattr(ahead, "BACKOFF_S", 0.0)
    gc.disable()
    try:
        rng, emb, ids, dy = _serving(12)
        _another_task()
        monkeypatch.setitem(ahead._state, "served_at_start", ahead._state["served"] - ahead.SHORT)
        monkeypatch.setitem(ahead._state, "backoff", 0.0)
        sessions = ahead._state["session"]
        deadline = time.monotonic() + 30.0  # (a time, not a step count: the twin may wake late)
        while True:
            ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
            grad = _step(emb, ids, dy)
            np.testing.assert_array_equal(grad, _expected(emb, ids, dy))
            if ahead._state["session"] > sessions and twin.shares(grad):
                break
            if time.monotonic() > deadline:
                raise AssertionError("no gradient came from the new session's arrays in 30 s")
    finally:
        gc.enable()


def test_a_forked_child_trains_without_a_session(session):
    """A child forked during a session has no session; its gradients are right, and its writes stay
    in its own memory (the parent's kept gradient, a shared array, is unchanged)."""
    rng = np.random.default_rng(7)
    emb = mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    kept = _served_step(emb, ids, dy)
    kept_copy = kept.copy()
    assert twin.shares(kept) or ahead._state["plan"] is not None

    def child() -> bool:
        ok = ahead._state["plan"] is None
        for _ in range(2 * ahead.STREAK):
            new_ids, new_dy = _data(rng, 300, (8, 8), 8, np.float32)
            ok = ok and np.array_equal(_step(emb, new_ids, new_dy), _expected(emb, new_ids, new_dy))
        kept[...] = 7.0
        return ok

    assert in_forked_child(child)
    np.testing.assert_array_equal(kept, kept_copy)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))


def test_forwards_under_no_grad_post_no_job(session):
    """Evaluation between training steps (forwards under no_grad, whose ids no backward will use)
    gives the twin nothing to group; the next training step is served as before."""
    _, emb, ids, dy = _serving(12)
    plan = ahead._state["plan"]
    posted = ahead._state["k"]
    with mt.no_grad():
        for _ in range(5):
            emb(ids)
            deadline = time.monotonic() + 5.0  # (the twin done with any job, so a post could be made)
            while plan.flags[GROUPED] != plan.flags[REQ] and time.monotonic() < deadline:
                time.sleep(0.001)
    assert ahead._state["k"] == posted and plan.flags[REQ] == posted
    np.testing.assert_array_equal(_served_step(emb, ids, dy), _expected(emb, ids, dy))


def test_no_session_with_one_thread(monkeypatch):
    """With one BLAS thread (no twin) the Embedding never starts a session."""
    monkeypatch.setattr(twin, "available", lambda: False)
    monkeypatch.setitem(ahead._state, "backoff", 0.0)
    _stop()
    sessions = ahead._state["session"]
    rng = np.random.default_rng(8)
    emb = mt.Embedding(300, 8)
    for _ in range(3 * ahead.STREAK):
        ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
        np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))
    assert ahead._state["session"] == sessions and ahead._state["job"] is None


def test_a_session_leaves_after_its_idle_time(session, monkeypatch):
    """Without a job for IDLE_S the twin leaves the session (its core is free again)."""
    monkeypatch.setattr(ahead, "IDLE_S", 0.05)
    _serving(9)
    plan, job = ahead._state["plan"], ahead._state["job"]
    deadline = time.monotonic() + 5.0
    while plan.flags[ALIVE] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plan.flags[ALIVE] == 0 and plan.flags[STOP] == 0
    assert ahead._collect(job, wait=True)
    assert job.done


def test_a_stopped_twin_is_never_waited_for(session, monkeypatch):
    """A twin kept off its core during each backward (SIGSTOP here, SIGCONT after it; a busy machine
    alike): no backward waits for it more than a moment, also the one whose miss stops the session
    (its reply is taken once it comes), every gradient is right, and the twin is not killed."""
    import signal

    rng = np.random.default_rng(11)
    emb = mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    _served_step(emb, ids, dy)
    monkeypatch.setattr(ahead, "WAIT_S", 1e-3)
    pid, plan, slowest = twin._state["pid"], ahead._state["plan"], 0.0
    for _ in range(2 * ahead.MISSES):
        assert twin._state["pid"] == pid, f"the twin was killed as hung (a backward took {slowest:.1f} s)"
        ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
        emb.zero_grad()
        os.kill(pid, signal.SIGSTOP)
        try:
            emb(ids)
            start = time.perf_counter()
            emb.backward(dy)
            slowest = max(slowest, time.perf_counter() - start)
        finally:
            with contextlib.suppress(ProcessLookupError):  # (killed as hung: the next assertion says so)
                os.kill(pid, signal.SIGCONT)
        np.testing.assert_array_equal(emb.weight.grad, _expected(emb, ids, dy))
        deadline = time.monotonic() + 5.0  # (the twin groups the job it missed, or leaves)
        while plan.flags[GROUPED] != plan.flags[REQ] and plan.flags[ALIVE] and time.monotonic() < deadline:
            time.sleep(1e-3)
    # (a wait for the reply lasted HUNG_GRACE, 5 s, then killed the twin; quiet, milliseconds: the
    # bound is as far under HUNG_GRACE as it can be while a loaded machine's stalls fit in it)
    assert slowest < 0.8 * twin.HUNG_GRACE
    assert twin._state["pid"] == pid and not twin._state["dead"]
    monkeypatch.setattr(ahead, "WAIT_S", 5.0)
    monkeypatch.setitem(ahead._state, "backoff", 0.0)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    np.testing.assert_array_equal(_served_step(emb, ids, dy), _expected(emb, ids, dy))


def test_a_reply_is_never_taken_while_another_caller_holds_the_twin(session):
    """The twin's replies are read by the caller that holds it (``twin.acquire``): a session that
    has replied while another caller holds the twin (an LSTM's ``run`` taking the session's reply
    as its pending job) is collected by a later backward, once the twin is free. Before, a
    backward read that reply too: the other caller then waited forever on an empty socket, or took
    the next reply for this one (the twin declared lost)."""
    rng = np.random.default_rng(12)
    emb = mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    _served_step(emb, ids, dy)
    job, plan, sock = ahead._state["job"], ahead._state["plan"], twin._state["sock"]
    assert twin.acquire()
    try:
        plan.ctrl[STOP] = 1
        assert select.select([sock], [], [], 5.0)[0]  # (the session has replied)
        for _ in range(2 * ahead.STREAK):
            ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
            np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))
        assert not job.done and select.select([sock], [], [], 0)[0]
    finally:
        twin.release()
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    np.testing.assert_array_equal(_served_step(emb, ids, dy), _expected(emb, ids, dy))
    assert job.done and not twin._state["dead"]


def test_a_backward_in_another_thread_never_changes_the_tables_mid_hand_out(session, monkeypatch):
    """Two threads training two layers of one shape: one thread's backward hands out a zero array
    (``zeros``, under the module's lock) while the other's backward finds the session ended and
    collects it (which updates the same tables). The switch between the threads is made here at
    the worst moment, just before the array moves from "filling" to "ready": the collect waits
    for the lock (it is left to a later backward), so no array is listed twice or lost. Before,
    the collect ran without the lock: the hand-out failed with a KeyError, or listed the array
    twice (two gradients over one array)."""
    import threading

    monkeypatch.setattr(ahead, "STREAK", 1)
    rng = np.random.default_rng(13)
    a, b = mt.Embedding(300, 8), mt.Embedding(300, 8)
    ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
    _served_step(a, ids, dy)
    plan, job = ahead._state["plan"], ahead._state["job"]
    for _ in range(100):  # a forward that names an array to fill, filled by the twin
        a.zero_grad()
        ids, dy = _data(rng, 300, (8, 8), 8, np.float32)
        a(ids)
        if plan.filling:
            break
        a.backward(dy)
    assert plan.filling
    deadline = time.monotonic() + 5.0
    while any(plan.flags[READY + j] != k for j, k in plan.filling.items()) and time.monotonic() < deadline:
        time.sleep(1e-3)
    ids_b, dy_b = _data(rng, 300, (8, 8), 8, np.float32)
    grads_b, switched = [], []

    class Switch(dict):
        def __delitem__(self, j: int) -> None:  # the other thread runs here, then this one goes on
            if not switched:
                switched.append(j)
                plan.ctrl[STOP] = 1  # the session ends (its reply comes) ...
                select.select([twin._state["sock"]], [], [], 5.0)
                other = threading.Thread(target=lambda: grads_b.append(_step(b, ids_b, dy_b)))
                other.start()  # ... and b's backward, in another thread, finds it ended
                other.join(10.0)
            super().__delitem__(j)

    plan.filling = Switch(plan.filling)
    a.backward(dy)
    np.testing.assert_array_equal(a.weight.grad, _expected(a, ids, dy))
    np.testing.assert_array_equal(grads_b[0], _expected(b, ids_b, dy_b))
    assert switched and len(plan.ready) == len(set(plan.ready))
    del job


def test_gradients_kept_across_a_new_session_are_never_filled(session):
    """A gradient kept while the session leaves (the user pauses for longer than its idle time) and a
    new one starts over the same arrays: the new session never zero-fills it. (Its "unreferenced"
    count was read on array 0 when the session started, counting whatever held it then: the
    previous session's job, a gradient the user kept; arrays the user held were then filled.)"""
    rng = np.random.default_rng(12)
    emb = mt.Embedding(200, 8)
    ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
    _served_step(emb, ids, dy)
    plan, first = ahead._state["plan"], ahead._state["job"]
    for _ in range(ahead.SHORT):  # a session that served enough to be started again at once
        ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
        _step(emb, ids, dy)
    ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
    kept, expected = _step(emb, ids, dy), _expected(emb, ids, dy)
    emb.zero_grad()
    assert any(np.shares_memory(kept, b) for b in plan.buffers)
    deadline = time.monotonic() + 10
    while not first.done and time.monotonic() < deadline:  # the session leaves after IDLE_S
        time.sleep(0.05)
        ahead._stream(200, 64, 8, np.dtype(np.float32))  # (a backward's look: collects the reply)
    assert first.done
    for _ in range(4 * ahead.STREAK):
        ids, dy = _data(rng, 200, (8, 8), 8, np.float32)
        np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))
    assert ahead._state["plan"] is plan and ahead._state["job"] is not first  # a new session, same arrays
    np.testing.assert_array_equal(kept, expected)


def test_a_session_that_cannot_get_shared_memory_leaves_training_alone(session, monkeypatch):
    """No file descriptor left for a session's shared arrays (memfd_create fails, EMFILE): the
    backward that would start the session runs as without one, and every gradient is right.
    Before, the OSError came out of the user's backward."""
    import errno

    def no_fd(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    _stop()
    monkeypatch.setattr(os, "memfd_create", no_fd)
    rng = np.random.default_rng(14)
    emb = mt.Embedding(310, 8)
    for _ in range(3 * ahead.STREAK):
        ids, dy = _data(rng, 310, (8, 8), 8, np.float32)
        np.testing.assert_array_equal(_step(emb, ids, dy), _expected(emb, ids, dy))
    assert ahead._state["job"] is None
