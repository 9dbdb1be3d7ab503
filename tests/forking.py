"""A check run in a forked child of the test process, for the kernels' fork rules."""

from __future__ import annotations

import os
import select
import signal
import warnings
from collections.abc import Callable


def child_answer(check: Callable[[], bool], timeout: float = 20.0) -> tuple[bytes, int]:
    """check() run in a forked child (which then exits): (b"1" or b"0" through a pipe, or b"" if it
    did not answer within ``timeout``, when it is killed; its exit code)."""
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            os.write(write, b"1" if check() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], timeout)
        reply = os.read(read, 1) if ready else b""
        if not ready:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    return reply, os.waitstatus_to_exitcode(status)


def in_forked_child(check: Callable[[], bool]) -> bool:
    """check() run in a forked child (which then exits): its answer."""
    return child_answer(check)[0] == b"1"
