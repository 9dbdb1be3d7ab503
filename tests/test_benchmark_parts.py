"""The benchmark's parts run and measure what they claim (no timing asserted: shapes, counts and maths)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import breakdown
import harness
import report
from workloads import _common, mlp


def test_every_workload_file_is_discovered_with_callable_builders():
    families = harness.discover()
    assert {"mlp", "small", "conv", "threads", "gemm"} <= set(families)
    for module in families.values():
        for row, builders in module.WORKLOADS.items():
            assert builders and all(callable(b) for b in builders.values()), row
        base = getattr(module, "BASELINE", None)
        assert base is None or base in harness.contenders(module)
    assert harness.contenders(families["mlp"])[:4] == ["mt-fit", "mt-kernel", "mt-readme", "torch"]


def test_layer_times_names_every_child_the_loss_the_update_and_the_products_alone():
    times = breakdown.layer_times((8, 6, 4, 3), batch=5, steps=3)
    children = ["0:Linear", "1:ReLU", "2:Linear", "3:ReLU", "4:Linear"]
    expected = {f"forward {c}" for c in children}
    expected |= {f"backward {c}" for c in children[1:]} | {"backward_params 0:Linear"}
    expected |= {"loss forward", "loss backward", "update", "zero_grad"}
    expected |= {f"alone {name}" for name, _, _ in breakdown.gemm_products((8, 6, 4, 3), 5)}
    assert set(times) == expected
    assert all(t > 0 for t in times.values())


def test_discover_rejects_a_file_without_workloads(tmp_path):
    (tmp_path / "broken.py").write_text("X = 1\n")
    with pytest.raises(TypeError, match="WORKLOADS"):
        harness.discover(tmp_path)


def test_gemm_floor_is_the_eight_products_of_a_step_without_the_data_gradient():
    products = breakdown.gemm_products((784, 512, 256, 10), batch=32)
    shapes = {name: (a.shape, b.shape) for name, a, b in products}
    assert shapes == {
        "h0@W1": ((32, 784), (784, 512)), "h1@W2": ((32, 512), (512, 256)), "h2@W3": ((32, 256), (256, 10)),
        "h0.T@d1": ((784, 32), (32, 512)), "h1.T@d2": ((512, 32), (32, 256)),
        "h2.T@d3": ((256, 32), (32, 10)),
        "d2@W2.T": ((32, 256), (256, 512)), "d3@W3.T": ((32, 10), (10, 256)),
    }
    assert all(a.dtype == b.dtype == np.float32 for _, a, b in products)


def test_every_contender_trains_the_same_model_on_the_same_data():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    sizes = (6, 8, 3)
    steps = {"mt-fit": _common.minitorch_step(sizes, 16),
             "mt-readme": _common.minitorch_step(sizes, 16, readme=True),
             "mt-kernel": _common.minitorch_step(sizes, 16, kernel=True),
             "torch": _common.torch_step(sizes, 16), "numpy-hand": mlp.numpy_step(sizes, 16)}
    losses = {name: [float(step()) for _ in range(6)] for name, step in steps.items()}
    for name, values in losses.items():
        np.testing.assert_allclose(values, losses["torch"], rtol=1e-4, err_msg=name)
    assert losses["torch"][-1] < losses["torch"][0]


def test_numpy_hand_step_keeps_parameters_in_one_flat_buffer():
    step = mlp.NumpyStep((5, 4, 3), batch=2)
    assert all(np.shares_memory(p, step.flat) for p in step.params)
    assert all(np.shares_memory(g, step.grad) for g in step.grads)
    assert sum(p.size for p in step.params) == step.flat.size


def test_time_blocks_warms_up_then_counts_every_block():
    calls: list[int] = []
    spent: dict[str, float] = {}
    times = harness.time_blocks(lambda: calls.append(1), blocks=4, block_s=0.001, warm_s=0.0, spent=spent)
    assert len(times) == 4 and all(t > 0 for t in times)
    assert spent["warm_calls"] >= 3 and len(calls) == spent["warm_calls"] + 4 * spent["calls_per_block"]
    assert spent["warm_s"] >= 0 and spent["timed_s"] > 0


def test_worker_runs_in_a_fresh_process_with_the_thread_settings():
    answer = harness.run_worker("small", "mt-fit", threads=1, blocks=2, block_s=0.002, warm_s=0.0,
                                rows=["iris 4-16-3 sgd b16"])
    assert list(answer["rows"]) == ["iris 4-16-3 sgd b16"]
    assert len(answer["rows"]["iris 4-16-3 sgd b16"]) == 2
    blas = [p for p in answer["pools"] if p.get("user_api") == "blas"]
    assert all(p["num_threads"] == 1 for p in blas)
    assert "torch_threads" not in answer  # a MiniTorch process never loads torch
    spent = answer["spent"]
    assert spent["wall_s"] >= spent["in_worker_s"] > 0 and spent["cpu_s"] > 0
    assert set(spent["rows"]["iris 4-16-3 sgd b16"]) >= {"build_s", "warm_s", "timed_s"}


def test_child_env_sets_the_same_threads_for_every_library():
    env = harness.child_env(3)
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"


def test_ratios_pair_rounds_so_a_slow_round_slows_both_sides():
    assert report.paired([2.0, 20.0, 2.0], [1.0, 10.0, 1.0]) == 2.0
    assert report.paired([], [1.0]) is None
    assert report.verdict(1.04, 1.10, "min") == "MISSED"
    assert report.verdict(1.3, 1.4, "max") == "met"
    assert report.verdict(None, 6.0, "min") == "n/a"


def test_report_computes_every_target_from_a_fake_run():
    rounds = {"mlp 784-512-256-10 sgd b32": {"mt-fit": [1.0, 2.0], "mt-readme": [1.2, 2.4],
                                             "torch": [1.1, 2.2], "numpy-hand": [1.0, 2.0]},
              "iris 4-16-3 sgd b16": {"mt-fit": [1.0], "torch": [7.0]},
              "lstm-in64-h128-T64-N32 fwd+bwd": {"minitorch": [3.0, 4.0], "torch": [2.0, 2.0]}}
    part = {"plain": 1.0, "gemm": 0.8, "data_grad": 0.2}
    results = {"families": {"f": {"baseline": "torch", "rounds": rounds}},
               "breakdown": [{"mlp b32": part, "mlp b128": part, "mlp b512": part}] * 2}
    values = report.ratios(results)
    assert values["fit_vs_torch_b32"] == pytest.approx(1.1)
    assert values["fit_vs_numpy_b32"] == pytest.approx(1.0)
    assert values["readme_over_fit_b32"] == pytest.approx(1.2 / 1.2, abs=0.1)
    assert values["step_over_gemm_b32"] == pytest.approx(1.25)
    assert values["iris_vs_torch"] == pytest.approx(7.0)
    assert values["lstm_over_torch"] == pytest.approx(1.75)
    assert values["conv_over_torch"] is None and values["transformer_over_torch"] is None


def test_targets_table_has_every_target_with_goal_value_and_verdict():
    rounds = {"iris 4-16-3 sgd b16": {"mt-fit": [1.0], "torch": [7.0]},
              "embedding-10000x64 2048 ids 30% repeated fwd+bwd": {"minitorch": [1.4], "torch": [1.0]}}
    table = report.targets_table({"families": {"f": {"baseline": "torch", "rounds": rounds}}})
    lines = table.splitlines()[2:]
    assert len(lines) == len(report.TARGETS) == 19
    by_label = {line.split(" | ")[1]: line.split(" | ")[2:] for line in lines}
    assert by_label["Iris-size step (4-16-3, batch 16) vs PyTorch (x faster)"] == [">= 6", "7.00", "met |"]
    assert by_label["Embedding backward, 30 % repeated ids, time / PyTorch's"] == ["<= 1", "1.40", "MISSED |"]
    assert by_label["Conv2d(32->64, 3x3) fwd+bwd on (64,32,14,14), time / PyTorch's"][1:] == ["n/a", "n/a |"]


def test_cost_table_sums_where_each_process_spent_its_time():
    row = {"build_s": 0.5, "warm_s": 0.1, "timed_s": 0.2, "warm_cpu_s": 0.01, "timed_cpu_s": 0.3}
    proc = {"wall_s": 2.0, "cpu_s": 1.5, "in_worker_s": 1.0, "rows": {"a": row, "b": row}}
    settings = {"warm_s": 0.05, "blocks": 5, "block_s": 0.04}
    # a row: CPU outside its budgets, then the larger of each budget and its CPU
    assert report.quiet_estimate_s(proc, settings) == pytest.approx(1.5 - 2 * 0.31 + 2 * (0.05 + 0.3))
    breakdown = {"wall_s": 3.0, "cpu_s": 2.5}
    assert report.quiet_estimate_s(breakdown, settings) == pytest.approx(20 * 0.25)
    table = report.cost_table({"settings": settings,
                               "cost": {"mlp": {"wall_s": 4.5, "processes": [proc, proc]},
                                        "breakdown": {"wall_s": 3.0, "processes": [breakdown]}}})
    assert "| mlp | 2 | 4.5 | 3.0 | 2.0 | 2.0 | 0.4 | 0.8 | 3.2 |" in table
    assert "| breakdown | 1 | 3.0 | 2.5 | - | - | - | - | 5.0 |" in table
    assert "| all | 3 | 7.5 | 5.5 | 2.0 | 2.0 | 0.4 | 0.8 | 8.2 |" in table


def test_busy_cores_starts_and_stops_its_processes():
    with harness.busy_cores(1):
        pass  # leaving the block must not hang: the busy process is ended by its own pid


def test_adam_contenders_follow_the_same_trajectory():
    pytest.importorskip("torch")
    sizes = (6, 8, 3)
    steps = {"mt-fit": _common.minitorch_step(sizes, 16, optimizer="adam"),
             "mt-kernel": _common.minitorch_step(sizes, 16, optimizer="adam", kernel=True),
             "torch": _common.torch_step(sizes, 16, optimizer="adam")}
    losses = {name: [float(step()) for _ in range(6)] for name, step in steps.items()}
    for name, values in losses.items():
        np.testing.assert_allclose(values, losses["torch"], rtol=1e-4, err_msg=name)


def test_the_gemm_family_times_the_same_products_in_both_libraries():
    from workloads import gemm

    for builders in gemm.WORKLOADS.values():
        ours, theirs = builders["numpy"]()(), builders["torch"]()()
        assert len(ours) == len(theirs) == 8
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-4)


def test_targets_table_puts_a_run_on_another_cpu_beside_this_one_headed_by_each_cpu():
    def run(iris_torch: float, model: str) -> dict:
        rounds = {"iris 4-16-3 sgd b16": {"mt-fit": [1.0], "torch": [iris_torch]}}
        return {"families": {"f": {"baseline": "torch", "rounds": rounds}},
                "machine": {"cpu": "Intel(R) Xeon(R) Processor", "date": "2026-12-01T05:00:00+00:00",
                            "cpu_id": {"model": model}}}
    table = report.targets_table(run(7.0, "167"), run(5.0, "207"))
    head, *lines = table.splitlines()
    assert "model 167, 2026-12-01: measured | verdict" in head and "model 207" in head
    iris = next(line for line in lines if line.startswith("| 12 | Iris"))
    assert iris.endswith("| >= 6 | 7.00 | met | 5.00 | MISSED |")


def test_the_cpu_is_recorded_beyond_its_name():
    import bench

    ident = bench.cpu_id()
    if not Path("/proc/cpuinfo").exists():
        assert ident == {}
        return
    assert {"vendor", "family", "model", "flags", "caches"} <= ident.keys()
    text = report.machine_table({"cpu": "x", "cpus": 2, "python": "3", "numpy": "2", "threads": 2,
                                 "loadavg_start": [0.0], "env": {}, "cpu_id": ident})
    assert f"model {ident['model']} stepping" in text
