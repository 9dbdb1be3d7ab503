"""benchmarks/bench_conv.py stays runnable: one tiny timing pass returns a well-formed result."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_conv.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_conv", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_times_every_case_against_torch(bench):
    threads = torch.get_num_threads()
    try:
        results = bench.run(rounds=1, per_round=1, warmup=0)
    finally:
        torch.set_num_threads(threads)  # the rest of the suite runs torch single-threaded
    names = [case["name"] for case in results["cases"]]
    assert names == ["Conv2d(1->32, 3x3, pad 1)", "Conv2d(32->64, 3x3, pad 1)", "MaxPool2d(2)"]
    for case in results["cases"]:
        assert case["minitorch_ms"] > 0 and case["torch_ms"] > 0
        assert case["ratio"] == pytest.approx(case["minitorch_ms"] / case["torch_ms"])
    assert results["machine"]["torch"].startswith("2.") and results["dtype"] == "float32"
    table = bench.format_table(results)
    assert table.count("\n") == 4 and "| MaxPool2d(2) | 64x32x28x28 |" in table
