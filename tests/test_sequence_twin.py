"""The LSTM loop kernels with half of the batch in the kernels' twin process (minitorch/kernels/twin.py).

The cut falls between two of the products' row blocks and every element-wise call is per element,
so the results equal the one-process kernels BITWISE (outputs, caches, dh0, dc0, and through the
layer every gradient), whichever process ran which half and whether the twin ran at all.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import types
import warnings

import numpy as np
import pytest
from forking import child_answer, in_forked_child

import minitorch as mt
from minitorch.kernels import sequences as fast
from minitorch.kernels import twin
from minitorch.layers import _recurrence as plain

pytestmark = pytest.mark.skipif(twin._state["dead"], reason="the twin needs Linux (fork, memfd)")

# (T, N, H): products cut into row blocks of 4 (N = 32, 36: the twin's 20 rows keep blocks of 4),
# 5 (N = 30) and 12 (N = 24, H = 64)
SHAPES = [(3, 32, 128), (2, 36, 128), (4, 30, 128), (3, 24, 64)]


def _case(T, N, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    xw = rng.standard_normal((T, N, 4 * H)).astype(dtype)
    h0, c0 = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    W_hh = (rng.standard_normal((4 * H, H)) / np.sqrt(H)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    dh_n, dc_n = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    return xw, h0, c0, W_hh, dhs, dh_n, dc_n


def _one_process(monkeypatch, fn, *args):
    with monkeypatch.context() as m:
        m.setattr(twin, "available", lambda: False)
        return fn(*args)


def _loops(case):
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = case
    hs, c_n, cache = fast.lstm_forward(xw, h0, c0, W_hh, None)
    back = fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)
    return [a.copy() for a in (hs, c_n, *cache, *back)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_twin_halves_equal_one_process_bitwise(twin_jobs, monkeypatch, shape, dtype):
    case = _case(*shape, dtype)
    expected = _one_process(monkeypatch, _loops, case)
    got = _loops(case)
    assert len(twin_jobs) == 2 and all(job.sent for job in twin_jobs)  # both loops ran half in the twin
    for a, b in zip(expected, got, strict=True):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_array_equal(b, a)


def test_twin_loops_equal_the_plain_loops(twin_jobs, monkeypatch):
    """Against the plain formulas (kernels off), at the tolerance of the one-process kernels; a
    backward from the plain cache (copied to the twin) bitwise the one-process kernel's from that
    cache. (Not bitwise the backward from the kernels' own cache: the kernels' forward computes
    h @ W_hh.T in row blocks, the plain one in one product, and whether OpenBLAS rounds the two
    alike depends on its kernels: alike for SkylakeX's, not for Haswell's.)"""
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(3, 32, 128, np.float32)
    mt.kernels.use_kernels(False)
    try:
        hs_p, c_p, cache_p = plain.lstm_forward(xw, h0, c0, W_hh, None)
        back_p = plain.lstm_backward(dhs, dh_n, dc_n, cache_p, W_hh)
    finally:
        mt.kernels.use_kernels(True)
    hs, c_n, cache = fast.lstm_forward(xw, h0, c0, W_hh, None)
    back = fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)
    mixed = fast.lstm_backward(dhs, dh_n, dc_n, cache_p, W_hh)  # a plain cache: copied to the twin
    assert len(twin_jobs) == 3
    for a, b in zip((hs_p, c_p, *cache_p, *back_p), (hs, c_n, *cache, *back), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(back, mixed, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    alone = _one_process(monkeypatch, fast.lstm_backward, dhs, dh_n, dc_n, cache_p, W_hh)
    assert len(twin_jobs) == 3
    for a, b in zip(alone, mixed, strict=True):
        np.testing.assert_array_equal(b, a)


def _lstm_step(bidirectional=False):
    mt.manual_seed(0)
    lstm = mt.LSTM(16, 128, num_layers=2, bidirectional=bidirectional)
    rng = np.random.default_rng(1)
    dtype = mt.get_default_dtype()
    x = rng.standard_normal((3, 32, 16)).astype(dtype)
    h0 = rng.standard_normal((2 * (1 + bidirectional), 32, 128)).astype(dtype)
    out, (h_n, c_n) = lstm(x, (h0, np.zeros_like(h0)))
    assert not twin.shares(out)  # what the user gets is never in shared memory
    dx, (dh0, dc0) = lstm.backward((np.cos(out), (np.sin(h_n), None)))
    return [a.copy() for a in (out, h_n, c_n, dx, dh0, dc0)] + [p.grad.copy() for p in lstm.parameters()]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_layer_with_the_twin_equals_one_process_bitwise(twin_jobs, monkeypatch, bidirectional):
    expected = _one_process(monkeypatch, _lstm_step, bidirectional)
    got = _lstm_step(bidirectional)
    assert len(twin_jobs) == 4 * (1 + bidirectional)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(b, a)


def _raises_in_the_twin(message):
    raise ValueError(message)


def test_an_error_in_the_twin_is_raised_by_wait(twin_jobs):
    assert twin.acquire()
    try:
        job = twin.run(_raises_in_the_twin, "from the twin")
        assert job.sent
        with pytest.raises(ValueError, match="from the twin"):
            job.wait()
        job.wait()  # once only
        twin.run(twin.noop).wait()  # the twin serves on
    finally:
        twin.release()


def test_a_lost_twin_leaves_the_results_alone(twin_jobs, kill_twin, monkeypatch):
    """The twin killed: its half runs here (the same bits), and no twin is forked again."""
    case = _case(3, 32, 128, np.float32)
    expected = _one_process(monkeypatch, _loops, case)
    _loops(case)  # a twin exists now
    kill_twin()
    got = _loops(case)
    assert twin._state["dead"] and twin._state["sock"] is None
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_hung_twin_is_killed_and_its_part_runs_here(twin_jobs, monkeypatch):
    """A twin that never answers (stopped here with SIGSTOP) is killed after its patience runs out;
    the caller runs its part (the same bits) and no twin is forked again."""
    case = _case(3, 32, 128, np.float32)
    expected = _one_process(monkeypatch, _loops, case)
    _loops(case)  # a twin exists now
    pid = twin._state["pid"]
    monkeypatch.setattr(twin, "HUNG_GRACE", 0.2)
    monkeypatch.setattr(twin, "HUNG_FACTOR", 0.0)
    os.kill(pid, signal.SIGSTOP)
    try:
        got = _loops(case)
        assert twin._state["dead"] and twin._state["sock"] is None and twin._state["pid"] is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
    finally:
        twin._state.update(dead=False, sock=None, pid=None)  # later tests may fork a new one
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(b, a)


def _serve_until_stopped(ctrl, stop, caller, delay):
    """A twin task shaped as a session: runs until ``ctrl[stop]`` is set (its ``stop``), then, in
    the twin (not in the ``caller`` process, which runs it after a lost twin), takes ``delay``
    seconds more before it returns."""
    while ctrl[stop] == 0:
        time.sleep(0.001)
    if os.getpid() != caller:
        time.sleep(delay)


def _session_stopped_after(monkeypatch, delay, queued):
    """A session-shaped job (``_serve_until_stopped``) with inference's stop, stopped by the next
    ``run`` (as another task stops a session), the twin taking ``delay`` s to answer the stop,
    ``queued(pid)`` the twin's seconds spent waiting for a CPU (None: the real reading), HUNG_GRACE
    0.2 s, HUNG_FACTOR 0. Returns (the next job, the twin's pid, seconds the next run took)."""
    import functools
    import weakref

    from minitorch.kernels import inference

    if queued is not None:
        monkeypatch.setattr(twin, "_queued", queued, raising=False)
    twin.run(twin.noop).wait()  # a twin exists
    monkeypatch.setattr(twin, "HUNG_GRACE", 0.2)
    monkeypatch.setattr(twin, "HUNG_FACTOR", 0.0)
    ctrl = twin.empty((inference.STOP + 1,), np.int64)
    ctrl[...] = 0
    a = twin.empty((4,), np.float64)
    a[...] = 0.0
    job = twin.run(_serve_until_stopped, ctrl, inference.STOP, os.getpid(), delay)
    job.stop = functools.partial(inference._tell_stop, ctrl, weakref.ref(job))
    time.sleep(0.3)  # the session serves: its patience (0.2 s) has run out before the stop
    start = time.monotonic()
    later = twin.run(_write_after, a, 2.0, 0.0)  # stops the session, takes its reply first
    later.wait()
    assert (a == 2.0).all()
    return later, twin._state["pid"], time.monotonic() - start


def test_a_twin_kept_off_its_core_after_a_stop_is_waited_for(monkeypatch):
    """After a stop the twin has HUNG_GRACE to answer, then HUNG_GRACE more of its own time: the
    seconds a loaded machine keeps it waiting for a CPU do not count (/proc/<pid>/schedstat; here
    it waits for one all along, ``twin._queued``), so a slow answer is no hang (it was killed after
    HUNG_GRACE, and the twin was gone for the rest of the process)."""
    assert twin.acquire()
    try:
        pid = twin._state["pid"]
        later, after, took = _session_stopped_after(monkeypatch, 1.0, lambda pid: time.monotonic())
        assert later.sent and after is not None and not twin._state["dead"], "the twin was taken as hung"
        assert pid is None or after == pid
        assert took >= 1.0  # it waited for the answer
        twin.run(twin.noop).wait()  # replies and tasks in step again
    finally:
        twin.release()
        if twin._state["dead"]:
            twin._state.update(dead=False, sock=None, pid=None)  # later tests may fork a new one


def test_a_twin_silent_after_a_stop_without_waiting_for_a_cpu_is_killed(monkeypatch):
    """The other side: a twin that stays silent (asleep here: on no run queue) for HUNG_GRACE, and
    HUNG_GRACE of its own time after that, is hung: killed, and the next task runs here."""
    assert twin.acquire()
    try:
        later, after, took = _session_stopped_after(monkeypatch, 30.0, None)
        assert not later.sent and twin._state["dead"] and after is None
        assert took < 10.0  # (not the 30 s of the answer: killed after about 0.4 s)
    finally:
        twin.release()
        twin._state.update(dead=False, sock=None, pid=None)  # later tests may fork a new one


def test_queued_reads_the_time_a_process_waited_for_a_cpu():
    """``twin._queued``: this process, sharing one CPU with a process that never stops running,
    waits for it about half the time; a process that is gone reads None."""
    if twin._queued(os.getpid()) is None:
        pytest.skip("no /proc/<pid>/schedstat (a kernel without scheduler statistics)")
    cpus = os.sched_getaffinity(0)
    cpu = min(cpus)
    spinner = os.fork()
    if spinner == 0:
        try:
            os.sched_setaffinity(0, {cpu})
            while True:
                pass
        finally:
            os._exit(0)
    try:
        os.sched_setaffinity(0, {cpu})
        begun = time.monotonic()
        before = twin._queued(os.getpid())
        while time.monotonic() - begun < 0.4:
            pass
        waited = twin._queued(os.getpid()) - before
        took = time.monotonic() - begun
    finally:
        os.sched_setaffinity(0, cpus)
        os.kill(spinner, signal.SIGKILL)
        os.waitpid(spinner, 0)
    assert 0.05 < waited <= took  # (seconds: a wait no longer than the time it was measured over)
    assert twin._queued(spinner) is None


def test_minitorch_twin_0_turns_the_twin_off():
    import subprocess
    import sys

    code = "from minitorch.kernels import twin; print(twin._state['dead'])"
    env = {**os.environ, "MINITORCH_TWIN": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_shared_arrays_are_never_handed_out_while_anything_holds_them():
    a = twin.empty((3, 4), np.float32)
    view = a[1:]
    del a
    b = twin.empty((3, 4), np.float32)
    assert b.base is not view.base  # the view holds the first one
    base_at = b.ctypes.data
    del b
    assert twin.empty((3, 4), np.float32).ctypes.data == base_at  # freed: reused
    c = twin.empty((5,), np.float64)
    assert c.ctypes.data % 4096 == 0 and c.flags.c_contiguous and c.flags.writeable


def test_no_twin_with_one_thread(monkeypatch):
    saved = mt.threads._state["explicit"]
    try:
        mt.set_num_threads(1)
        assert not twin.available()
        assert fast._cut(64, 32, 128, 512) == 0
    finally:
        mt.set_num_threads(saved)


def test_a_forked_process_hands_out_none_of_its_parents_shared_buffers(twin_jobs):
    """Shared buffers stay shared across a fork: a child reusing them would write into its parent's."""
    _loops(_case(3, 32, 128, np.float32))  # a twin and shared buffers exist now
    a = twin.empty((3, 4), np.float32)

    def child() -> bool:
        ok = not twin._buffers and twin._state["sock"] is None and not twin.shares(a)
        return ok and twin.empty((3, 4), np.float32).ctypes.data != a.ctypes.data

    assert in_forked_child(child) and twin.shares(a)


def test_a_forked_child_writes_into_none_of_its_parents_shared_arrays(twin_jobs):
    """A forked child's in-place writes to arrays in the twin's shared buffers (an LSTM's outputs, a
    fresh shared array) stay in the child: it turned the buffers into private memory at fork."""
    xw, h0, c0, W_hh, *_ = _case(3, 32, 128, np.float32)
    hs, c_n, _ = fast.lstm_forward(xw, h0, c0, W_hh, None)
    a = twin.empty((3, 4), np.float32)
    a[...] = 1.0
    assert twin.shares(c_n) and twin.shares(a)
    arrays = (hs, c_n, a)
    kept = [b.copy() for b in arrays]

    def child() -> bool:
        same = all(np.array_equal(b, k) for b, k in zip(arrays, kept, strict=True))
        for b in arrays:
            b[...] = 7.0
        return same

    assert in_forked_child(child)
    for b, k in zip(arrays, kept, strict=True):
        np.testing.assert_array_equal(b, k)


def test_a_child_forked_by_another_thread_while_the_twin_is_forked_shares_nothing(twin_jobs, monkeypatch):
    """One thread forks the twin (the twin's child keeps the shared buffers shared) while another
    thread forks a child of its own (a multiprocessing pool started in a thread): that child is no
    twin, so it turns the shared buffers into private memory like any other child (it took the
    forking thread's flag as its own, and its writes reached the parent's arrays)."""
    xw, h0, c0, W_hh, *_ = _case(3, 32, 128, np.float32)
    _, c_n, _ = fast.lstm_forward(xw, h0, c0, W_hh, None)
    assert twin.shares(c_n)
    kept = c_n.copy()
    inside, leave = threading.Event(), threading.Event()

    def held_fork():  # the twin's fork, held at the moment it begins
        inside.set()
        leave.wait(10)
        raise OSError("the twin's fork, refused for this test")

    monkeypatch.setattr(twin, "os", types.SimpleNamespace(**{**vars(os), "fork": held_fork}))
    monkeypatch.setitem(twin._state, "dead", False)  # (the refused fork marks the twin dead)
    forking = threading.Thread(target=twin._fork)
    forking.start()
    try:
        assert inside.wait(10)

        def child() -> bool:
            c_n[...] = 7.0  # in the child's own memory
            return True

        assert in_forked_child(child)
    finally:
        leave.set()
        forking.join()
    np.testing.assert_array_equal(c_n, kept)


def test_a_child_that_cannot_make_a_buffer_private_never_shares_it(twin_jobs, monkeypatch):
    """A forked child that cannot copy a shared buffer into private memory (no memory for the copy)
    exits at once (status 70) rather than run on sharing it: an error raised in an at-fork handler
    is only printed, and the child ran on with the buffer shared, its writes reaching the parent's
    array."""
    xw, h0, c0, W_hh, *_ = _case(3, 32, 128, np.float32)
    _, c_n, _ = fast.lstm_forward(xw, h0, c0, W_hh, None)
    assert twin.shares(c_n)
    kept = c_n.copy()

    def no_memory(*args):
        raise MemoryError

    refusing = types.SimpleNamespace(**{**vars(twin.ctypes), "string_at": no_memory})
    monkeypatch.setattr(twin, "ctypes", refusing)
    def child() -> bool:
        c_n[...] = 7.0
        return True

    reply, code = child_answer(child)
    np.testing.assert_array_equal(c_n, kept)
    assert reply == b"" and code == 70


def _write_after(a, value, delay):
    """A twin task: a[...] = value after ``delay`` seconds."""
    time.sleep(delay)
    a[...] = value


def test_a_ctrl_c_just_after_a_task_is_sent_never_shifts_the_replies(twin_jobs, monkeypatch):
    """A Ctrl-C landing once the task is sent but before run() returns its Job: the next wait must
    not take that task's reply for its own (it returned at once, before the twin had written the
    next task's results, and every later wait read the reply of the task before it)."""
    assert twin.acquire()
    try:
        twin.run(twin.noop).wait()  # a twin exists
        a, b = twin.empty((4,), np.float64), twin.empty((4,), np.float64)
        a[...] = b[...] = 0.0
        real = twin.socket

        def send_then_interrupted(*args, **kwargs):
            real.send_fds(*args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(twin, "socket", types.SimpleNamespace(send_fds=send_then_interrupted))
        with pytest.raises(KeyboardInterrupt):
            twin.run(_write_after, a, 1.0, 0.0)
        monkeypatch.setattr(twin, "socket", real)
        job = twin.run(_write_after, b, 2.0, 0.3)
        assert job.sent
        job.wait()
        assert (b == 2.0).all() and (a == 1.0).all()
        twin.run(twin.noop).wait()  # replies and tasks in step again
    finally:
        twin.release()


class _InterruptedAfterRecv:
    """The twin's socket, with a Ctrl-C landing just after its ``calls``-th ``recv`` has returned
    (the reply taken from the socket, nothing done with it yet)."""

    def __init__(self, sock, calls):
        self.sock, self.calls = sock, calls

    def recv(self, *args):
        got = self.sock.recv(*args)
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return got

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_ctrl_c_just_after_the_reply_is_received_costs_the_next_run_no_wait(twin_jobs):
    """A Ctrl-C landing in ``wait`` after a ``recv`` returned, before the job is marked done (at
    each recv the wait makes, until one wait runs through): the next run must neither wait for a
    reply the socket no longer holds (it waited HUNG_GRACE, then killed the twin as hung) nor take
    a reply of the interrupted job for its own."""
    assert twin.acquire()
    try:
        twin.run(twin.noop).wait()  # a twin exists
        pid = twin._state["pid"]
        a, b = twin.empty((4,), np.float64), twin.empty((4,), np.float64)
        for calls in range(1, 5):
            a[...] = b[...] = 0.0
            job = twin.run(_write_after, a, 1.0, 0.0)
            sock = twin._state["sock"]
            twin._state["sock"] = _InterruptedAfterRecv(sock, calls)
            try:
                job.wait()
                interrupted = False
            except KeyboardInterrupt:
                interrupted = True
            finally:
                twin._state["sock"] = sock
            start = time.monotonic()
            twin.run(_write_after, b, 2.0, 0.05).wait()
            waited = time.monotonic() - start
            assert twin._state["pid"] == pid and not twin._state["dead"], "the twin was taken as hung"
            assert waited < twin.HUNG_GRACE / 2 and (a == 1.0).all() and (b == 2.0).all()
            if not interrupted:
                break
        assert not interrupted and calls > 1
        twin.run(twin.noop).wait()  # replies and tasks in step again
    finally:
        twin.release()
        if twin._state["dead"]:
            twin._state.update(dead=False, sock=None, pid=None)  # later tests may fork a new one


def test_a_run_after_an_interrupted_wait_whose_twin_hung_runs_its_task_here(twin_jobs, monkeypatch):
    """The twin hangs while a job's wait is interrupted: the next run's wait for that job kills it
    (the hung-twin limit), and the new task runs here (it sent it to the closed socket: an
    AttributeError out of ``run``)."""
    assert twin.acquire()
    try:
        twin.run(twin.noop).wait()  # a twin exists
        pid = twin._state["pid"]
        monkeypatch.setattr(twin, "HUNG_GRACE", 0.2)
        monkeypatch.setattr(twin, "HUNG_FACTOR", 0.0)
        a = twin.empty((4,), np.float64)
        a[...] = 0.0
        os.kill(pid, signal.SIGSTOP)
        job = twin.run(_write_after, a, 1.0, 0.0)
        with monkeypatch.context() as m:  # a Ctrl-C while the wait sleeps in select
            m.setattr(twin.select, "select", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                job.wait()
        later = twin.run(_write_after, a, 2.0, 0.0)
        later.wait()
        assert not later.sent and (a == 2.0).all() and twin._state["dead"]
    finally:
        twin.release()
        if twin._state["pid"] == pid:  # (not killed and reaped by the wait: the test failed first)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        twin._state.update(dead=False, sock=None, pid=None)  # later tests may fork a new one


def _fresh_twin_forked_under(**errstate):
    """The twin ended and a new one forked under ``np.errstate(**errstate)``, which it inherits."""
    pid = twin._state["pid"]
    twin._close()  # the twin exits at the end of its messages
    if pid is not None:
        os.waitpid(pid, 0)
    twin._state.update(dead=False, sock=None, pid=None, pending=None)
    assert twin.acquire()
    try:
        with np.errstate(**errstate):
            job = twin.run(twin.noop)
            job.wait()
        assert job.sent
    finally:
        twin.release()


def _overflow_in_the_twins_rows():
    """A loop whose product h0 @ W_hh.T overflows float32 in rows the twin runs only (N = 32: the
    cut is at row 16). Every term of those rows' sums is positive (W_hh > 0), so each partial sum
    a BLAS kernel forms grows to +inf and none meets a -inf: an overflow and never an invalid value
    (inf - inf), in whatever order and blocks the kernel adds (with terms of both signs OpenBLAS's
    Haswell kernels met inf - inf in one product shape and not the other)."""
    xw, h0, c0, W_hh, *_ = _case(3, 32, 128, np.float32)
    W_hh = np.abs(W_hh) + np.float32(0.01)
    h0[20:] = 3e38
    return xw, h0, c0, W_hh


@pytest.mark.parametrize("forked, called", [("ignore", "raise"), ("raise", "ignore"), ("ignore", "warn")])
def test_the_twins_half_follows_the_callers_errstate(twin_jobs, monkeypatch, forked, called):
    """np.errstate is the caller's at every call: the twin's half raises, warns or keeps quiet as the
    plain loop does, whatever state the twin was forked under (it kept that state for its life: an
    overflow in its rows went unreported under the caller's over="raise", or raised under "ignore")."""
    xw, h0, c0, W_hh = _overflow_in_the_twins_rows()
    _fresh_twin_forked_under(all=forked)
    with np.errstate(over=called), warnings.catch_warnings(record=True) as plain_warned:
        warnings.simplefilter("always")
        try:
            _plain_lstm_forward(xw, h0, c0, W_hh)
            plain_raised = None
        except FloatingPointError as error:
            plain_raised = error
    with np.errstate(over=called), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            fast.lstm_forward(xw, h0, c0, W_hh, None)
            raised = None
        except FloatingPointError as error:
            raised = error
    assert len(twin_jobs) == 2 and twin_jobs[1].sent  # (the first: the fork's no-op)
    assert type(raised) is type(plain_raised) and (called == "raise") == (raised is not None)
    assert {str(w.message) for w in warned} == {str(w.message) for w in plain_warned}
    heard = {"overflow encountered in matmul"} if called == "warn" else set()
    assert {str(w.message) for w in warned} == heard


def _plain_lstm_forward(xw, h0, c0, W_hh):
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(False)
    try:
        return plain.lstm_forward(xw, h0, c0, W_hh, None)
    finally:
        mt.kernels.use_kernels(before)


@pytest.mark.parametrize("loop", ["forward", "backward"])
def test_a_loop_failing_as_it_claims_the_twin_gives_the_twin_back(twin_jobs, monkeypatch, loop):
    """An array that cannot be made (no memory; memfd refused: too many open files) or a Ctrl-C
    just after the loop claimed the twin: the error reaches the caller, and the twin is free again
    (it stayed claimed: no later loop or inference call of the process could use it)."""
    xw, h0, c0, W_hh, dhs, dh_n, dc_n = _case(3, 32, 128, np.float32)
    cache = fast.lstm_forward(xw, h0, c0, W_hh, None)[2]

    def run():
        if loop == "forward":
            return fast.lstm_forward(xw, h0, c0, W_hh, None)[0]
        return fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)[0]

    made = fast._aligned_empty

    def refused(*args, **kwargs):
        if twin._lock.locked():  # the first array made once the twin is claimed
            raise MemoryError("refused")
        return made(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(fast, "_aligned_empty", refused)
        with pytest.raises(MemoryError, match="refused"):
            run()
    assert twin.acquire(), "the twin stayed claimed"
    twin.release()
    expected = _one_process(monkeypatch, run).copy()
    sent = len(twin_jobs)
    np.testing.assert_array_equal(run(), expected)
    assert len(twin_jobs) == sent + 1 and twin_jobs[-1].sent  # the next loop used the twin again
