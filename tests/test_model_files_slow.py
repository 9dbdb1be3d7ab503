"""Saves killed mid-way, as the audit did it (run by ``make test-slow`` and CI, not by ``make test``).

A child process saves a model of a few MB over and over; it is killed with SIGKILL or SIGINT at
random moments. After each kill the file at the path is the previous complete save (or absent before
the first), and once one more save has run, no temporary file is left in the folder.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import minitorch as mt

pytestmark = pytest.mark.slow

_SAVER = textwrap.dedent("""
    import signal, sys
    import minitorch as mt
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits it ignored
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(1000, 1000), mt.ReLU(), mt.Linear(1000, 10))  # ~4 MB float32
    print("ready", flush=True)
    while True:
        mt.save_model(model, sys.argv[1])
""")


@pytest.mark.parametrize("sig, kills", [(signal.SIGKILL, 30), (signal.SIGINT, 15)])
def test_killed_saves_leave_the_previous_file_and_no_temporary_files(tmp_path, sig, kills):
    path = tmp_path / "model.npz"
    rng = np.random.default_rng(0)
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)  # SIGINT prints a traceback
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))  # a few saves in: the kill lands anywhere in one
        child.send_signal(sig)
        child.wait(timeout=30)
        child.stdout.close()
        if path.exists():
            assert mt.load_model(path)[0].W.shape == (1000, 1000)  # never a torn file
    mt.save_model(mt.Sequential(mt.Linear(2, 2)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
