"""pytest collects the Python blocks of README.md and docs/**/*.md (rules in tools/docblocks.py), and
puts the run's temporary files (tmp_path, the pages' folders) in memory where it can.

Saving a model file syncs it to disk (os.fsync, twice a save); a test run saves about 1,300 files into
tmp_path, and on a disk that other processes keep busy those syncs were most of the model-file tests'
time. On a tmpfs the same calls run (the code path is unchanged) and return at once. The slow tests
(`make test-slow`) keep the disk: a save killed part-way is checked where a sync means something."""

from __future__ import annotations

import gc
import os
import tempfile

import pytest

from tools.docblocks import make_sybil

pytest_collect_file = make_sybil(patterns=["README.md", "docs/*.md", "docs/*/*.md", "docs/*/*/*.md"]).pytest()

MEMORY_TMP = "/dev/shm"  # Linux's tmpfs; a run writes well under 100 MB there (pytest keeps 3 runs)
MEMORY_TMP_MIN_FREE = 1 << 30  # a small /dev/shm (a container's default 64 MB) is left alone


def pytest_configure(config: pytest.Config) -> None:
    # the slow tests (`-m slow`: saves killed part-way, the wheel in a fresh venv) keep the disk
    fast_run = "not slow" in (config.option.markexpr or "")
    if fast_run and config.option.basetemp is None and "PYTEST_DEBUG_TEMPROOT" not in os.environ:
        tempfile.tempdir = memory_tmp() or tempfile.tempdir


def pytest_collection_finish(session: pytest.Session) -> None:
    # what collection made (about 700,000 objects: every test item and its parameters, each test module)
    # lives for the whole run: moved out of the garbage collector's reach, a full collection (each
    # gc.collect() of a test that checks what is freed, and Python's own) no longer walks it again
    # (0.7 s each in a worker; objects the tests make are collected as before)
    gc.collect()
    gc.freeze()


def memory_tmp() -> str | None:
    """MEMORY_TMP if it is a writable folder with MEMORY_TMP_MIN_FREE free, else None."""
    try:
        stat = os.statvfs(MEMORY_TMP)
    except OSError:
        return None
    enough = stat.f_bavail * stat.f_frsize >= MEMORY_TMP_MIN_FREE
    return MEMORY_TMP if enough and os.access(MEMORY_TMP, os.W_OK | os.X_OK) else None
