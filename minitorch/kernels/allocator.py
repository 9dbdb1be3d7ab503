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
environment (or the kernels off at import) leaves the allocator as it was.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20  # glibc's dynamic maxima on 64-bit systems


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to the maxima its dynamic rule reaches; True if set
    (False on another C library, or with MINITORCH_MALLOC=0)."""
    if os.environ.get("MINITORCH_MALLOC", "1").strip() == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
