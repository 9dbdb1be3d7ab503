"""Every test starts from MiniTorch's defaults and a fixed seed, and leaves the process's global state as it
found it (tests/test_global_state.py proves it on purpose-made leaks)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import minitorch as mt
from tools.global_state import fresh_defaults


@pytest.fixture(autouse=True)
def _fresh_defaults():
    """float32, seed 0 and the run's kernels switch; afterwards every global setting put back
    (tools/global_state.py, shared with the doc pages' runner)."""
    with fresh_defaults():
        yield


@pytest.fixture
def float64():
    """Create modules in float64 (for gradchecks and tight oracle comparisons)."""
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)


@pytest.fixture(params=[True, False], ids=["kernels", "plain"])
def kernels(request):
    """The kernels on, then off, for one test (a kernel may key a plan on a setting: a stale plan is
    a bug both runs must show); yields the switch's value."""
    was = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(request.param)
    yield request.param
    mt.kernels.use_kernels(was)


@pytest.fixture
def twin_jobs(monkeypatch):
    """Every LSTM loop that can be cut goes to the kernels' twin (where the machine has one), kernels
    on (also under MINITORCH_KERNELS=0); returns the list of jobs sent to it. The list keeps each
    job, and a job its shared arrays: a test of shared-buffer reuse must not use this fixture."""
    from minitorch.kernels import sequences, twin

    jobs = []
    run = twin.run

    def recording_run(*args):
        job = run(*args)
        jobs.append(job)
        return job

    monkeypatch.setattr(sequences, "TWIN_MIN_WORK", 0)
    monkeypatch.setattr(twin, "available", lambda: True)
    monkeypatch.setattr(twin, "run", recording_run)
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(True)
    yield jobs
    mt.kernels.use_kernels(before)


@pytest.fixture
def kill_twin():
    """A function that kills the kernels' twin (SIGKILL) and reaps it. At the end the twin's record is
    cleared, so that later tests may fork a new one."""
    from minitorch.kernels import twin

    def kill() -> None:
        pid = twin._state["pid"]
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            time.sleep(0.01)

    yield kill
    twin._state.update(dead=False, sock=None, pid=None)


@pytest.fixture
def infer_twin(monkeypatch):
    """The one-row inference kernel (minitorch/kernels/inference.py) with the twin on, kernels on,
    a caller that waits for the twin's halves up to 5 s (a busy machine then delays the twin but
    never sends the work back to the caller, so the test sees the twin's numbers), and sessions
    that stay 1 s without a job. Yields the kernel module; ``served(model, x)`` in it calls until
    a call was shared with the twin (up to 30 s). The session is stopped at the end: later tests
    find the twin idle."""
    from minitorch.kernels import inference, twin

    if twin._state["dead"] or not inference._X86:
        pytest.skip("the shared inference needs the twin (Linux) on x86-64")
    monkeypatch.setattr(twin, "available", lambda: True)
    monkeypatch.setattr(inference, "_threads_ok", lambda: True)
    monkeypatch.setattr(inference, "WAIT_S", 5.0)
    monkeypatch.setattr(inference, "TAKE_S", 5.0)
    monkeypatch.setattr(inference, "IDLE_S", 1.0)  # a session outlives the test's own pauses
    monkeypatch.setitem(inference._state, "cool", 0.0)
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(True)
    yield inference
    inference._stop_session()
    mt.kernels.use_kernels(before)


@pytest.fixture
def restore_registry():
    """The model-file registry of user classes as it was before the test (tests register their own)."""
    from minitorch.model_files import registry

    saved = dict(registry._registered)
    yield
    registry._registered.clear()
    registry._registered.update(saved)
