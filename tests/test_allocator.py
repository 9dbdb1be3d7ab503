"""The C allocator keeps freed memory (minitorch/kernels/allocator.py): a training step does not fault
its temporaries' pages in again at every step."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LSTM_STEPS = """
import resource
import numpy as np
import minitorch as mt

lstm = mt.LSTM(64, 128)
x = np.random.default_rng(0).standard_normal((64, 32, 64)).astype(np.float32)
dout = np.ones((64, 32, 128), np.float32)

def step():
    lstm.zero_grad()
    lstm(x)
    lstm.backward(dout)

for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _run(code: str, **env: str) -> str:
    # the library's defaults unless a test sets them: not this run's kernels switch or allocator opt-out
    inherited = {k: v for k, v in os.environ.items() if k not in ("MINITORCH_KERNELS", "MINITORCH_MALLOC")}
    environment = {**inherited, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_an_lstm_step_faults_almost_no_pages_in():
    """About 3 MB of temporaries come and go each step; with glibc's default thresholds (and the
    twin's loops, as on 2+ CPUs) the heap top was given back after each step and faulted in again:
    about 550 faults a step, 8 % of the step."""
    assert float(_run(LSTM_STEPS)) < 50


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_the_thresholds_are_set_once_at_import_and_can_be_left_alone():
    code = "from minitorch.kernels import allocator; print(allocator.keep_freed_memory())"
    assert _run(code) == "True"
    assert _run(code, MINITORCH_MALLOC="0") == "False"


MAPPED_MB_AFTER_8_MB = """
import ctypes
import numpy as np
import minitorch  # noqa: F401  (its import is what must leave the user's threshold alone)

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
block = np.empty(8 << 20, np.uint8)
print(mallinfo2().hblkhd >> 20)
"""


def _glibc_at_least(version: tuple[int, int]) -> bool:
    name, found = platform.libc_ver()
    return name == "glibc" and tuple(int(part) for part in found.split(".")[:2]) >= version


@pytest.mark.skipif(not _glibc_at_least((2, 33)),
                    reason="the thresholds are glibc's; mallinfo2 is glibc 2.33's")
@pytest.mark.parametrize("env", [{"MALLOC_MMAP_THRESHOLD_": "4194304"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4194304"},
                                 {"MINITORCH_MALLOC": "0"}, {"MINITORCH_KERNELS": "0"}],
                         ids=["MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "opt-out", "kernels-off"])
def test_the_import_leaves_the_allocator_alone_when_asked(env):
    """A user (or a benchmark script: tests/measure_diagnostics_overhead.py) who set glibc's mmap
    threshold keeps it: an 8 MB array is still a mapping of its own after MiniTorch's import (the
    import set 32 MB over the user's setting, so the array came from the heap); so does a user who
    opted out (glibc's default threshold, 128 kB, maps it too). Without either, the import's 32 MB."""
    assert _run(MAPPED_MB_AFTER_8_MB, **env) == "8"
    assert _run(MAPPED_MB_AFTER_8_MB) == "0"
    code = "from minitorch.kernels import allocator; print(allocator.keep_freed_memory())"
    assert _run(code, **env) == ("True" if "MINITORCH_KERNELS" in env else "False")
