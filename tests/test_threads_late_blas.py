"""A BLAS loaded after the thread policy's first use (SciPy imported after training began, with its
own OpenBLAS) comes under ``mt.set_num_threads`` and the default policy too; a step that imports
nothing lists no library again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import minitorch as mt
from minitorch import threads

pytest.importorskip("threadpoolctl")
pytest.importorskip("scipy")

# run in a fresh interpreter: the test session may have imported SciPy already
_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import minitorch as mt
    from threadpoolctl import threadpool_info

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    assert "scipy" not in sys.modules
    started = max(blas().values())
    if sys.argv[1] == "explicit":
        mt.set_num_threads(1)
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 3))  # a small model: the policy's 1 thread
    opt = mt.SGD(model.parameters(), lr=0.1)
    loss_fn = mt.MSELoss()
    x, t = np.ones((5, 4), np.float32), np.zeros((5, 3), np.float32)

    def step():
        loss_fn(model(x), t)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()

    step()
    before = blas()
    import scipy.linalg  # noqa: F401  (SciPy's own OpenBLAS)
    if sys.argv[1] == "read":
        mt.get_num_threads()  # (the kernels read it per task)
    else:
        step()
    print(json.dumps({"started": started, "before": before, "after": blas()}))
""")


@pytest.mark.parametrize("how", ["policy", "explicit", "read"])
def test_a_blas_loaded_after_first_use_gets_the_count_in_force(how):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    env.pop("MINITORCH_NUM_THREADS", None)
    env.pop("MINITORCH_KERNELS", None)  # the thread policy under test is the kernels'
    # 2 BLAS threads to start with, whatever an earlier test left in the environment
    env.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", _SCRIPT, how], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    if seen["started"] < 2:
        pytest.skip("the BLAS starts with 1 thread here: nothing to tell apart")
    assert set(seen["before"].values()) == {1}
    assert len(seen["after"]) > len(seen["before"]), "SciPy loaded no BLAS of its own"
    assert set(seen["after"].values()) == {1}, seen["after"]  # SciPy's library too


def test_steps_that_import_nothing_list_no_library_again(monkeypatch):
    """The per-step check is one len(sys.modules): no listing (milliseconds) while it stays the same."""
    mt.get_num_threads()  # listed once
    listings = []
    real = threads._scan
    monkeypatch.setattr(threads, "_scan", lambda: listings.append(1) or real())
    params = list(mt.Linear(3, 2).parameters())
    for _ in range(20):
        threads.apply_policy_for(params)
        mt.get_num_threads()
    assert listings == []
    sys.modules["_minitorch_test_new_module"] = sys.modules[__name__]  # an import that loads no library
    try:
        threads.apply_policy_for(params)
        assert listings == ([1] if threads._library_count() is None else [])
    finally:
        del sys.modules["_minitorch_test_new_module"]
