"""A check run in a forked child of the test process, for the kernels' fork rules."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable


def in_forked_child(check: Callable[[], bool]) -> bool:
    """check() run in a forked child (which then exits): its answer, through a pipe."""
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
    reply = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    return reply == b"1"
