"""The kernels' twin: a forked copy of this process that runs one part of a task on the second core.

A time loop (an LSTM's forward or backward through time) is a long chain of small NumPy calls, and
each call holds the GIL for its Python dispatch (about a microsecond). Two Python threads that each
run half of the batch through such a chain hand the GIL to each other at every call, and each hand-
over waits for a thread wake-up on the other core (tens of microseconds on a VM): together they are
slower than one thread (docs/sequences.md). A second PROCESS has its own interpreter and GIL, so
the two halves run side by side; they exchange one message when the part starts and one when it
ends, and share the arrays, which live in shared memory (``empty``).

``run(task, *args)`` starts ``task(*args)`` in the twin (a module-level function, found by name
there; the args' arrays that lie in the shared buffers are passed by reference, others by value) and
returns a ``Job``; ``job.wait()`` waits for it. Meanwhile the caller runs its own part. The task
must not modify its array arguments except where it writes its results, so that the caller can run
it again itself (``Job.wait`` does, bitwise the same) if the twin died or could not be reached; an
exception raised by the task in the twin is raised again by ``wait``. The task runs under the
caller's ``np.errstate`` of the ``run`` call (each category the caller does not ignore raises in the
twin); a floating-point error there makes ``wait`` run the task here, so that this process's NumPy
raises, warns or calls back as the plain code would (the twin's own state is the one it was forked
under, and its warnings would reach neither the caller's filters nor its errstate callbacks).

The twin is forked on first use (Linux only: ``available()``), one per process, with SIGINT ignored
(a Ctrl-C belongs to the parent); it exits when the parent's end of its socket closes (the parent
exited or was killed). It runs only while ``mt.get_num_threads()`` (the BLAS thread count, which the
kernels' thread pool follows too) is at least 2: the twin counts as the second thread. A process
forked from a process that has a twin starts without one. One caller at a time: ``acquire()``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import itertools
import mmap
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch import threads
from minitorch.kernels import parallel, pool

BY_VALUE_MAX = 1 << 14  # bytes: a larger array argument outside the shared buffers is copied into one
_MESSAGE_MAX = 1 << 18  # bytes of one message (descriptors and small arrays) or reply

_CPUS = os.cpu_count() or 1  # os.cpu_count() reads a file on Linux: once
# s: a twin silent HUNG_FACTOR times as long as the caller's own part took, plus HUNG_GRACE, and then
# HUNG_GRACE more seconds of its own time (``_answers``), is hung
HUNG_FACTOR, HUNG_GRACE = 20.0, 5.0
_state: dict[str, Any] = {"sock": None, "pid": None, "pending": None,
                          "dead": (not sys.platform.startswith("linux") or not hasattr(os, "memfd_create")
                                   or os.environ.get("MINITORCH_TWIN", "1") == "0")}
_pool: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
_buffers: dict[int, tuple[int, int]] = {}  # buffer id -> (start address, nbytes), live shared buffers
_unsent: list[tuple[int, int, int]] = []  # (buffer id, fd, nbytes) the twin has not mapped yet
_dropped: list[int] = []  # buffer ids the twin may unmap
_freed: list[int] = []  # buffer ids whose arrays were freed, not yet collected (weakref.finalize)
_lock = threading.Lock()  # held by the one caller using the twin
_next_id = itertools.count(1)  # next() is one step under the GIL: two threads' buffers never share an id


def _reset_after_fork() -> None:
    """A forked child (a twin, or any process forked from this one) has no twin of its own, and never
    hands out this process's shared buffers (they would stay shared with it). A child other than the
    twin also turns every live shared buffer into private memory of its own, at the same address
    with the same contents (``_make_private``): an array it holds there (an LSTM's output, a weight
    moved for one-row inference) is then its own, as every other array of a forked child is."""
    global _lock
    if not _forking_the_twin():
        freed = set(_freed)
        try:
            for buffer_id, (start, nbytes) in _buffers.items():
                if buffer_id not in freed:  # a freed buffer's memory is unmapped already
                    _make_private(start, nbytes)
        except BaseException:  # (no memory for the copy): an at-fork handler's error is only printed,
            _shared_after_fork()  # and the child would run on sharing the buffer with its parent
    _state.update(sock=None, pid=None, pending=None)
    _lock = threading.Lock()
    _pool.clear()
    _buffers.clear()
    for _, fd, _ in _unsent:
        os.close(fd)
    _unsent.clear()
    _dropped.clear()
    _freed.clear()


_libc: list[Any] = []


def _make_private(start: int, nbytes: int) -> None:
    """Replace the shared mapping at ``start`` by private anonymous memory holding the same bytes."""
    if not _libc:
        _libc.append(ctypes.CDLL(None, use_errno=True))
        _libc[0].mmap.restype = ctypes.c_void_p
        _libc[0].mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long]
    length = -(-nbytes // mmap.PAGESIZE) * mmap.PAGESIZE
    saved = ctypes.string_at(start, nbytes)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x10  # MAP_FIXED: over the shared mapping
    got = _libc[0].mmap(start, length, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
    if got != start:
        _shared_after_fork()
    ctypes.memmove(start, saved, nbytes)


def _shared_after_fork() -> None:
    """The forked child exits (status 70): staying shared would be a silent error (parent and child
    writing one array)."""
    os.write(2, b"minitorch: could not make the twin's shared buffers private after fork\n")
    os._exit(70)


def _forget_pool_after_fork() -> None:
    """In the parent of a fork other than the twin's: the child shares every buffer that exists now
    until it has copied each into private memory (``_reset_after_fork``, which runs in the child
    while this process goes on), and its arrays there may be read later (a layer's cache from a
    forward before the fork, read by the child's backward); so none of them is handed out again
    here, where a new call would write into it; new ones are made from now on."""
    if not _forking_the_twin():
        _pool.clear()


def _forking_the_twin() -> bool:
    """Whether this fork is the twin's: made by the thread that set the flag (another thread may
    fork a child of its own meanwhile; the child keeps the forking thread's id)."""
    return _state.get("forking_twin") == threading.get_ident()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork, after_in_parent=_forget_pool_after_fork)


def _close() -> None:
    """At exit: close the twin's socket, which ends the twin (it exits at the end of its messages)."""
    sock, _state["sock"] = _state["sock"], None
    if sock is not None:
        sock.close()


atexit.register(_close)


def available() -> bool:
    """Whether ``run`` can use a twin now: Linux with shared memory (memfd), 2+ CPUs, the BLAS
    thread count at least 2."""
    if _state["dead"] or _CPUS < 2:
        return False
    if "memfd" not in _state:  # once: a sandbox may refuse memfd_create
        try:
            os.close(os.memfd_create("minitorch-twin-probe", os.MFD_CLOEXEC))
            _state["memfd"] = True
        except OSError:
            _state["dead"] = True
            return False
    try:
        return threads.get_num_threads() >= 2
    except ImportError:  # no threadpoolctl: the thread count is unknown, so one thread
        return False


def acquire() -> bool:
    """Claim the twin for one caller (run/wait pairs); False if another caller holds it."""
    return _lock.acquire(blocking=False)


def release() -> None:
    _lock.release()


def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """np.empty(shape, dtype) in shared memory that the twin sees too (page-aligned), reusing an array
    of a previous call that nothing references any more (the rule of ``kernels/pool.py``)."""
    key = (tuple(int(s) for s in shape), np.dtype(dtype))
    return pool.reuse_or_make(_pool, key, lambda: _new_buffer(key[0], key[1])).reshape(key[0])


def _new_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A flat array of prod(shape) elements over a new memfd mapping, registered for the twin."""
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = max(1, count * dtype.itemsize)
    fd = os.memfd_create("minitorch-twin", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, nbytes)
        buffer = mmap.mmap(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise
    # the pool keeps the array that owns the view of the buffer: every view of it (the reshaped
    # array handed out, its slices) has it as .base, so its reference count counts them all
    base = np.frombuffer(buffer, dtype, count)
    buffer_id = next(_next_id)  # (project() makes shared arrays without holding the twin: any thread)
    _buffers[buffer_id] = (base.ctypes.data, nbytes)
    _unsent.append((buffer_id, fd, nbytes))
    weakref.finalize(base, _freed.append, buffer_id)  # list.append: safe whenever GC runs it
    return base


def _collect_freed() -> None:
    """Forget the buffers whose arrays are gone: the twin may unmap them, an unsent one is closed."""
    while _freed:
        buffer_id = _freed.pop()
        _buffers.pop(buffer_id, None)
        for k, (unsent_id, fd, _) in enumerate(_unsent):
            if unsent_id == buffer_id:
                os.close(fd)
                del _unsent[k]
                break
        else:
            _dropped.append(buffer_id)


def pooled(base: np.ndarray) -> int:
    """How many times the shared arrays' pool holds ``base`` (0 or 1): the references to a shared
    buffer's base that are not its users'."""
    return sum(held is base for arrays in list(_pool.values()) for held in arrays)


def shares(a: np.ndarray) -> bool:
    """Whether a lies in a shared buffer (``empty``), so the twin reads it without a copy."""
    return a.size > 0 and isinstance(_encode(a, None), tuple)


def _encode(arg: Any, keep: list[np.ndarray] | None) -> Any:
    """An array in a shared buffer as ("shared", id, offset, shape, strides, dtype); a large other
    array copied into one first (kept alive in ``keep``); anything else (small arrays too) by value."""
    if not isinstance(arg, np.ndarray) or arg.size == 0:
        return arg
    address = arg.ctypes.data
    _collect_freed()
    # newest first: a buffer freed since the last collection may still be listed, and a newer buffer
    # may have been mapped at its addresses
    for buffer_id, (start, nbytes) in reversed(list(_buffers.items())):
        if start <= address < start + nbytes:
            return ("shared", buffer_id, address - start, arg.shape, arg.strides, arg.dtype.str)
    if arg.nbytes <= BY_VALUE_MAX or keep is None:
        return arg
    copy = empty(arg.shape, arg.dtype)
    np.copyto(copy, arg)
    keep.append(copy)
    return _encode(copy, keep)


class Job:
    """One ``run``: ``wait()`` returns when the task has finished (in the twin, or here)."""

    def __init__(self, task: Callable[..., Any], args: tuple[Any, ...], sent: bool,
                 keep: list[np.ndarray] | None = None) -> None:
        self.task, self.args, self.sent, self.keep = task, args, sent, keep
        self.done, self.started = False, time.monotonic()
        self.reply: bytes | None = None  # the twin's reply once read (b"": none will come)
        if sent:
            _state["pending"] = self

    def wait(self) -> None:
        """Until the task has run; the twin's exception raised here; the task run here if the twin is
        gone (it writes only its results, so running it again gives the same ones). Once only. If the
        wait itself is interrupted (Ctrl-C), the job stays pending: the next ``run`` first takes
        its reply (``_reply``: read once, wherever the interruption landed)."""
        if self.done:
            return
        if self.sent:
            reply = self._reply()
            self.done, self.keep, _state["pending"] = True, None, None
            if reply[:1] == b"\x00":
                return
            if reply[:1] == b"\x01":
                raise pickle.loads(reply[1:])
            if reply[:1] != b"\x02":  # b"\x02": a floating-point error, for this NumPy to report (below)
                _lost()
        self.done, self.keep = True, None
        self.task(*self.args)

    def _reply(self) -> bytes:
        """The twin's reply, b"" if it is gone or hung (then killed). The reply is kept on the job
        before it is taken off the socket (read with MSG_PEEK, then taken without waiting), so a
        Ctrl-C landing anywhere here leaves it on the socket or on the job, never lost: a wait that
        lost it waited for the hung-twin limit and killed the twin."""
        sock = _state["sock"]
        try:
            if self.reply is None:
                # the twin's part is as large as the caller's, which is done by now: a twin that stays
                # silent HUNG_FACTOR times as long (plus HUNG_GRACE, and the time a loaded machine kept
                # it off a core: ``_answers``) is taken as hung, killed, and its part runs here (it
                # wrote only the task's results, and writes nothing after the kill)
                patience = HUNG_GRACE + HUNG_FACTOR * (time.monotonic() - self.started)
                ready = _answers(sock, patience)
                if not ready:
                    _kill()
                self.reply = sock.recv(_MESSAGE_MAX, socket.MSG_PEEK) if ready else b""
            if self.reply:  # (one reply per job, and no job is sent while this one is pending)
                with contextlib.suppress(BlockingIOError):  # taken already by an interrupted wait
                    sock.recv(_MESSAGE_MAX, socket.MSG_DONTWAIT)
        except OSError:
            self.reply = b""
        return self.reply


def _answers(sock: socket.socket, patience: float) -> bool:
    """Whether the twin's reply reaches ``sock`` before the twin is taken as hung: silent for
    ``patience`` seconds, then for HUNG_GRACE more seconds not counting those it spent waiting for
    a CPU (``_queued``). A twin that other processes keep off its core (a loaded machine)
    is waited for as long as they do; a stopped, blocked or endlessly running one is hung. Where
    the wait for a CPU cannot be read, the ``patience`` alone. (The task's own work is counted in
    ``patience``, the caller's time for its part; the wait for a CPU only once that has run out, so
    an answer in time costs no read.)"""
    if select.select([sock], [], [], patience)[0]:
        return True
    pid = _state["pid"]
    queued = None if pid is None else _queued(pid)
    begun, left = time.monotonic(), HUNG_GRACE
    while queued is not None and left > 0:
        if select.select([sock], [], [], left)[0]:
            return True
        now_queued = _queued(pid)
        if now_queued is None:
            return False
        left = HUNG_GRACE - ((time.monotonic() - begun) - (now_queued - queued))
    return False


def _queued(pid: int) -> float | None:
    """Seconds the main thread of process ``pid`` has spent runnable but not running (waiting for a
    CPU) since it started: the second field of Linux's /proc/<pid>/schedstat (ns); None where it
    cannot be read (no such file: a kernel without scheduler statistics, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as file:
            return int(file.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _quiet_blas() -> None:
    """Stop the BLAS's idle worker threads, which would take the twin's core.

    After each threaded call OpenBLAS (pthreads build) keeps its workers spinning on sched_yield for
    about 0.1 s; such a worker shares a core with the twin and slows it by about half. Its own fork
    handler stops them the same way (``blas_thread_shutdown_``), and the next threaded call starts
    them again. Done only when no other Python thread can be inside a BLAS call (the other threads are
    the kernels' pool's workers, idle: their chunks run single-threaded BLAS anyway); a no-op for
    another BLAS or when the workers are stopped already.
    """
    if "shutdown" not in _state:
        _state["shutdown"] = None
        try:
            for controller in threads._controllers():
                if controller.internal_api == "openblas" and controller.threading_layer == "pthreads":
                    _state["shutdown"] = getattr(controller.dynlib, "blas_thread_shutdown_", None)
        except Exception:  # no threadpoolctl, or a controller without these attributes: leave them
            pass
    if _state["shutdown"] is None:
        return
    if threading.active_count() != 1 + len(parallel._queues) or parallel._busy.locked():
        return
    _state["shutdown"]()


def run(task: Callable[..., Any], *args: Any) -> Job:
    """Start task(*args) in the twin (forked now if there is none); the caller holds ``acquire()``."""
    if _state["dead"] or (_state["sock"] is None and not _fork()):
        return Job(task, args, sent=False)
    _quiet_blas()
    pending = _state["pending"]
    if pending is not None:  # a job whose wait was interrupted: its reply comes first
        if getattr(pending, "stop", None) is not None:  # a task that serves until told: told now
            pending.stop()
        try:
            pending.wait()
        except Exception:  # its caller has gone: nobody wants its error
            pass
        if _state["dead"]:  # (that wait found the twin gone or hung)
            return Job(task, args, sent=False)
    _collect_freed()  # before the args are looked up: a freed buffer's addresses may be reused
    keep: list[np.ndarray] = []
    encoded = tuple(_encode(arg, keep) for arg in args)  # may add buffers: before the fds are listed
    new, dropped = list(_unsent), list(_dropped)
    # the caller's errstate, each reported category raising in the twin (it is reported here)
    errstate = {name: "ignore" if mode == "ignore" else "raise" for name, mode in np.geterr().items()}
    message = pickle.dumps((task.__module__, task.__qualname__, encoded,
                            [(buffer_id, nbytes) for buffer_id, _, nbytes in new], dropped, errstate),
                           protocol=pickle.HIGHEST_PROTOCOL)
    sock, messages, fds = _state["sock"], [message], [fd for _, fd, _ in new]
    # pending from just before the send (no Python call between): a Ctrl-C landing after the send
    # leaves the job pending, and its reply is taken first (by the next wait it was taken for its own)
    job = Job(task, args, sent=True, keep=keep)
    try:
        socket.send_fds(sock, messages, fds)
    except OSError:
        _state["pending"] = None
        _lost()
        return Job(task, args, sent=False)
    for buffer_id, fd, nbytes in new:
        _unsent.remove((buffer_id, fd, nbytes))  # before the close: a closed fd is never sent again
        os.close(fd)
    del _dropped[:len(dropped)]
    return job


def _kill() -> None:
    """Stop a hung twin for good (SIGKILL, then reaped: it writes nothing after this returns)."""
    if _state["pid"] is not None:
        try:
            os.kill(_state["pid"], signal.SIGKILL)
            os.waitpid(_state["pid"], 0)
        except OSError:
            pass
        _state["pid"] = None


def _lost() -> None:
    """The twin is gone (killed, out of memory): no twin from now on; its tasks run here."""
    sock, _state["sock"], _state["dead"] = _state["sock"], None, True
    if sock is not None:
        sock.close()
    if _state["pid"] is not None:
        try:
            os.waitpid(_state["pid"], os.WNOHANG)
        except OSError:
            pass


def _fork() -> bool:
    """Fork the twin; False (and no twin from now on) if that fails."""
    _collect_freed()
    inherited = dict(_buffers)  # mapped in the twin already, at the same addresses...
    pooled = [list(arrays) for arrays in _pool.values()]  # ... and kept mapped there by these (the
    # twin's reset after the fork empties its pool; the other arrays are held by the caller's frames)
    try:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        _state["dead"] = True
        return False
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            # the twin keeps mapping the pool's buffers: keep them (this thread's fork only)
            _state["forking_twin"] = threading.get_ident()
            try:
                pid = os.fork()
            finally:
                _state["forking_twin"] = None
    except OSError:
        ours.close()
        theirs.close()
        _state["dead"] = True
        return False
    if pid == 0:  # the twin: serve until the parent goes, never return into the parent's code
        status = 0
        try:
            ours.close()
            _serve(theirs, inherited, pooled)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    theirs.close()
    _state.update(sock=ours, pid=pid)
    for _, fd, _ in _unsent:
        os.close(fd)
    _unsent.clear()
    return True


def _serve(sock: socket.socket, inherited: dict[int, tuple[int, int]], pooled: list) -> None:
    """The twin's loop: map new buffers, run each task, reply b"\\x00", b"\\x01" + the exception, or
    b"\\x02" for a floating-point error under the caller's errstate (the caller runs the task).
    ``inherited``: the buffers that existed at the fork, mapped here at the parent's addresses (they
    stay mapped in the twin for its life, held by the forked copies of their arrays: ``pooled``, and
    the caller's frames above the fork, which never return here)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # one BLAS thread: the parent has the other core (and an idle worker would spin on it)
        for controller in threads._controllers():
            controller.set_num_threads(1)
    except Exception:  # no threadpoolctl: the BLAS keeps its count
        pass
    maps: dict[int, Any] = {buffer_id: (ctypes.c_char * nbytes).from_address(start)
                            for buffer_id, (start, nbytes) in inherited.items()}
    while True:
        message, fds, _, _ = socket.recv_fds(sock, _MESSAGE_MAX, 64)
        if not message:
            return  # the parent closed its end
        module, name, encoded, new, dropped, errstate = pickle.loads(message)
        for (buffer_id, nbytes), fd in zip(new, fds, strict=True):
            maps[buffer_id] = mmap.mmap(fd, nbytes)
            os.close(fd)
        for buffer_id in dropped:
            maps.pop(buffer_id, None)  # unmapped once no array of this task refers to it
        try:
            task = importlib.import_module(module)
            for part in name.split("."):
                task = getattr(task, part)
            with np.errstate(**errstate):
                task(*(_decode(arg, maps) for arg in encoded))
            reply = b"\x00"
        except FloatingPointError:  # under the caller's errstate: the caller runs the task and reports it
            reply = b"\x02"
        except BaseException as error:  # every other error goes back to the caller
            try:
                reply = b"\x01" + pickle.dumps(error)
            except Exception:  # an exception that does not pickle
                reply = b"\x01" + pickle.dumps(RuntimeError(f"in the kernels' twin: {error!r}"))
        sock.send(reply)


def _decode(arg: Any, maps: dict[int, mmap.mmap]) -> Any:
    if isinstance(arg, tuple) and len(arg) == 6 and arg[0] == "shared":
        _, buffer_id, offset, shape, strides, dtype = arg
        return np.ndarray(shape, np.dtype(dtype), buffer=maps[buffer_id], offset=offset, strides=strides)
    return arg


def noop() -> None:
    """A task that does nothing (measures the round trip)."""
