"""The measurement: every contender timed in a fresh process of its own, contenders alternating by round.

    python benchmarks/harness.py worker FAMILY CONTENDER [--rows ...]   # what bench.py runs per process

A workload family is a file ``benchmarks/workloads/<family>.py`` defining
``WORKLOADS: dict[row, dict[contender, builder]]``; a builder (called once, in a fresh process, after the
thread settings are applied) makes its data and model and returns ``step()``, one timed iteration.
Optional module attributes: ``BASELINE`` (the contender each ratio divides by), ``BUSY_CORES``
(how many busy-loop processes run while the family is measured) and ``IN_PROCESS = False`` (a family
whose builders change process-wide settings, left out of the one-process check).

One round = one fresh process per contender of a family, in an order that rotates from round to round;
inside a process each row is built, warmed up, then timed in ``blocks`` blocks (garbage collector
paused inside a block, as ``timeit`` does) and the process reports the median of its blocks. Across
rounds: the median and spread of the per-round values, and each ratio as the median of the per-round
ratios (a burst of load on the shared machine slows one round, and both sides of its ratio alike).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
# Environment variables that change which kernels or how many threads the libraries use: recorded.
KERNEL_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OPENBLAS_VERBOSE",
              "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE",
              "ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "MINITORCH_KERNELS",
              "MINITORCH_NUM_THREADS", "MINITORCH_BENCH_UNSET")


def discover(directory: Path = HERE / "workloads") -> dict[str, ModuleType]:
    """Every ``<family>.py`` with a WORKLOADS dict, by family name (files starting with _ are helpers)."""
    sys.path.insert(0, str(directory.parent)) if str(directory.parent) not in sys.path else None
    families = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(f"{directory.name}.{path.stem}")
        if not isinstance(getattr(module, "WORKLOADS", None), dict):
            raise TypeError(f"{path}: expected a module-level WORKLOADS dict, got "
                            f"{type(getattr(module, 'WORKLOADS', None)).__name__}")
        families[path.stem] = module
    return families


def contenders(module: ModuleType) -> list[str]:
    """The family's contenders in first-seen order over its rows."""
    names: list[str] = []
    for row in module.WORKLOADS.values():
        names += [name for name in row if name not in names]
    return names


def time_blocks(steps: dict[str, Callable[[], Any]], blocks: int, block_s: float) -> dict[str, list[float]]:
    """Seconds per call of each step, one value per block; several steps alternate block by block.

    Warm-up: each step runs for ~max(0.05 s, block_s) first, which also sets how many calls fill a block.
    """
    calls = {}
    for name, step in steps.items():
        step()
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < max(0.05, block_s) or n < 3:
            step()
            n += 1
        calls[name] = max(1, round(block_s * n / (time.perf_counter() - start)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for b in range(blocks):
        for name in names[b % len(names):] + names[: b % len(names)]:
            step, n = steps[name], calls[name]
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            for _ in range(n):
                step()
            times[name].append((time.perf_counter() - start) / n)
            gc.enable()
    return times


def blas_info() -> list[dict]:
    """The thread pools loaded in this process (threadpoolctl): BLAS library, version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl is not installed: BLAS kernel unknown"}]
    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: info.get(k) for k in keys if k in info} for info in threadpool_info()]


def worker(family: str, names: list[str], rows: list[str] | None, blocks: int, block_s: float) -> dict:
    """Build and time ``names`` (one contender: isolated; several: in-process, alternating) on each row."""
    module = discover()[family]
    out: dict[str, Any] = {"rows": {}}
    for row, builders in module.WORKLOADS.items():
        if rows is not None and row not in rows:
            continue
        steps = {name: builders[name]() for name in names if name in builders}
        if steps:
            out["rows"][row] = time_blocks(steps, blocks, block_s)
    out["pools"] = blas_info()
    try:
        import torch
        if "torch" in sys.modules:
            out["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return out


def child_env(threads: int) -> dict[str, str]:
    """The environment of every timed process: the same thread count for every library."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    return env


def run_worker(family: str, names: list[str], threads: int, blocks: int, block_s: float,
               rows: list[str] | None = None) -> dict:
    """One fresh interpreter running ``worker``; its JSON answer."""
    cmd = [sys.executable, str(HERE / "harness.py"), "worker", family, *names,
           "--blocks", str(blocks), "--block-s", str(block_s)]
    if rows:
        cmd += ["--rows", json.dumps(rows)]
    done = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {family}/{names} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """``n`` processes spinning in a Python loop for the duration (another user keeping cores busy)."""
    # the loop ends by itself when this process is gone (even if it is killed before ``finally``)
    loop = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    procs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(n)]
    try:
        time.sleep(0.2 if n else 0)
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def median_ratio(num: list[float], den: list[float]) -> float:
    """The median over rounds of num[r] / den[r]: paired round by round."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def summarise(values: list[float]) -> dict[str, float]:
    """Median, min and max of per-round (or per-block) seconds."""
    return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values)}


def measure_family(module: ModuleType, family: str, rounds: int, threads: int, blocks: int, block_s: float,
                   log: Callable[[str], None] = print,
                   skip: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    """Per row and contender, the list of per-round seconds per call (isolated processes)."""
    names = [name for name in contenders(module) if name not in (skip or [])]
    per_round: dict[str, dict[str, list[float]]] = {row: {} for row in module.WORKLOADS}
    with busy_cores(getattr(module, "BUSY_CORES", 0)):
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            log(f"  {family} round {r + 1}/{rounds}: {', '.join(order)}")
            for name in order:
                answer = run_worker(family, [name], threads, blocks, block_s)
                for row, times in answer["rows"].items():
                    per_round[row].setdefault(name, []).append(statistics.median(times[name]))
                per_round.setdefault("_pools", {})[name] = answer["pools"]
    return per_round


def measure_family_in_process(module: ModuleType, family: str, threads: int, blocks: int,
                              block_s: float) -> dict[str, dict[str, list[float]]]:
    """Per row and contender, per-block seconds per call with all contenders in ONE process."""
    with busy_cores(getattr(module, "BUSY_CORES", 0)):
        answer = run_worker(family, contenders(module), threads, blocks, block_s)
    return answer["rows"]


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="time one family's contenders in this process")
    parser.add_argument("mode", choices=["worker"])
    parser.add_argument("family")
    parser.add_argument("names", nargs="+")
    parser.add_argument("--rows", type=json.loads, default=None)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--block-s", type=float, default=0.04)
    args = parser.parse_args(argv)
    print(json.dumps(worker(args.family, args.names, args.rows, args.blocks, args.block_s)))


if __name__ == "__main__":
    _main()
