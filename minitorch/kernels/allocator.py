"""The C allocator told to keep freed memory for reuse (glibc only), so that a training step does not
fault its arrays' pages in again at every step.

NumPy allocates an array's memory with the C library's malloc. glibc's malloc gives memory at the
top of its heap back to the system once more than its trim threshold is free there, and serves
requests from its mmap threshold up with fresh mappings; both thresholds start at 128 kB and rise
(to at most 32 MB and 64 MB) only after a large mapped block has been freed. Until something has
raised them, a step whose temporaries come and go (an LSTM's step allocates and frees about 3 MB)
has its heap top trimmed after each step and faults every page in again at the next (hundreds of
page faults a step, 5-10 % of an LSTM(64, 128) step here); whether it happens depends on what the
process happened to free before. ``keep_freed_memory`` sets the two thresholds to those maxima once,
at import, with ``mallopt``: the steady state glibc itself reaches after a 32 MB block is freed.
A process then keeps up to 64 MB of freed heap for reuse. ``MINITORCH_MALLOC=0`` in the
environment (or the kernels off at import) leaves the allocator as it was, and so does a threshold
the user set in the environment (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, or either
in ``GLIBC_TUNABLES``): the user's setting wins. (A ``mallopt`` call made in the process before
MiniTorch's import cannot be seen: glibc has no getter; set ``MINITORCH_MALLOC=0`` then.)
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20  # glibc's dynamic maxima on 64-bit systems
# the environment's ways of setting the two thresholds (glibc reads them at the process's start)
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
USER_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")


def _set_by_user() -> bool:
    """The user set a threshold in the environment: glibc applied it at start, and it stays."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(name in os.environ for name in USER_SETTINGS) or any(t in tunables for t in USER_TUNABLES)


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to the maxima its dynamic rule reaches; True if set
    (False on another C library, with MINITORCH_MALLOC=0, or with a threshold the user set)."""
    if (os.environ.get("MINITORCH_MALLOC", "1").strip() == "0" or platform.libc_ver()[0] != "glibc"
            or _set_by_user()):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
