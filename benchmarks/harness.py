"""The measurement: every contender timed in a fresh process of its own, contenders alternating by round.

    python benchmarks/harness.py worker FAMILY CONTENDER [--rows ...]   # what bench.py runs per process

A workload family is a file ``benchmarks/workloads/<family>.py`` defining
``WORKLOADS: dict[row, dict[contender, builder]]``; a builder (called once, in a fresh process, after the
thread settings are applied) makes its data and model and returns ``step()``, one timed iteration.
Optional module attributes: ``BASELINE`` (the contender each ratio divides by) and ``BUSY_CORES``
(how many busy-loop processes run while the family is measured).

One round = one fresh process per contender of a family, in an order that rotates from round to round;
the process times every row of the family that contender has, one after the other, and never loads
the other library. Inside it each row is built, warmed up (``warm_s`` seconds and at least 3 calls),
then timed in ``blocks`` blocks of about ``block_s`` seconds each (at least one call; garbage
collector paused inside a block, as ``timeit`` does), and the process reports its blocks. Across
rounds: the median and spread of the per-round values (each the median of that process's blocks),
and each ratio as the median of the per-round ratios (a burst of load on the shared machine slows
one round, and both sides of its ratio alike).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import resource
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


def load_family(path: Path) -> ModuleType:
    """The workload module at ``path``, checked to define a WORKLOADS dict."""
    if str(path.parent.parent) not in sys.path:
        sys.path.insert(0, str(path.parent.parent))
    module = importlib.import_module(f"{path.parent.name}.{path.stem}")
    if not isinstance(getattr(module, "WORKLOADS", None), dict):
        raise TypeError(f"{path}: expected a module-level WORKLOADS dict, got "
                        f"{type(getattr(module, 'WORKLOADS', None)).__name__}")
    return module


def discover(directory: Path = HERE / "workloads") -> dict[str, ModuleType]:
    """Every ``<family>.py`` with a WORKLOADS dict, by family name (files starting with _ are helpers)."""
    return {path.stem: load_family(path) for path in sorted(directory.glob("*.py"))
            if not path.name.startswith("_")}


def contenders(module: ModuleType) -> list[str]:
    """The family's contenders in first-seen order over its rows."""
    names: list[str] = []
    for row in module.WORKLOADS.values():
        names += [name for name in row if name not in names]
    return names


def time_blocks(step: Callable[[], Any], blocks: int, block_s: float, warm_s: float = 0.05,
                spent: dict[str, float] | None = None) -> list[float]:
    """Seconds per call of ``step``, one value per block of about ``block_s`` seconds (>= 1 call).

    Warm-up: at least 3 calls and ``warm_s`` seconds, and on until the last call is within 1.5x of
    the fastest so far (a library's first calls can be much slower), but past 3 calls for at most
    ``max(0.25, 10 * warm_s)`` seconds in all; the fastest call sets the calls per block. A step
    longer than a block is timed one call per block. ``spent`` (if given) receives the wall and
    CPU seconds (this process, all threads) of warm-up and of timed blocks, and the calls of each.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    fastest, last, n = float("inf"), float("inf"), 0
    while True:
        start = time.perf_counter()
        step()
        last = time.perf_counter() - start
        fastest, n = min(fastest, last), n + 1
        elapsed = time.perf_counter() - t0
        if n >= 2 and (elapsed >= max(0.25, 10 * warm_s) or (elapsed >= warm_s and last <= 1.5 * fastest)):
            break
    t1, c1 = time.perf_counter(), time.process_time()
    calls = max(1, round(block_s / fastest))
    times = []
    gc.collect()
    gc.freeze()  # what exists now is never garbage: the collect before each block scans only the rest
    for _ in range(blocks):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        for _ in range(calls):
            step()
        times.append((time.perf_counter() - start) / calls)
        gc.enable()
    if spent is not None:
        spent.update(warm_s=t1 - t0, timed_s=time.perf_counter() - t1, warm_calls=n + 1,
                     calls_per_block=calls, warm_cpu_s=c1 - c0, timed_cpu_s=time.process_time() - c1)
    return times


def blas_info() -> list[dict]:
    """The thread pools loaded in this process (threadpoolctl): BLAS library, version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl is not installed: BLAS kernel unknown"}]
    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: info.get(k) for k in keys if k in info} for info in threadpool_info()]


def worker(family: str, name: str, rows: list[str] | None, blocks: int, block_s: float,
           warm_s: float = 0.05, pools: bool = True) -> dict:
    """In this process: build and time contender ``name`` on each row of ``family`` it has.

    Answers per row the per-block seconds and where this process's time went (build, warm-up and
    timed blocks); with ``pools``, the thread pools threadpoolctl sees at the end.
    """
    t0 = time.perf_counter()
    module = load_family(HERE / "workloads" / f"{family}.py")
    out: dict[str, Any] = {"rows": {}, "spent": {"rows": {}}}
    for row, builders in module.WORKLOADS.items():
        if name not in builders or (rows is not None and row not in rows):
            continue
        t1, c1 = time.perf_counter(), time.process_time()
        step = builders[name]()
        spent = out["spent"]["rows"][row] = {"build_s": time.perf_counter() - t1,
                                             "build_cpu_s": time.process_time() - c1}
        out["rows"][row] = time_blocks(step, blocks, block_s, warm_s, spent)
    out["spent"]["in_worker_s"] = time.perf_counter() - t0
    if pools:
        out["pools"] = blas_info()
    if "torch" in sys.modules:  # only where a builder loaded it (importing it here would cost ~1.5 s)
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


def child_env(threads: int) -> dict[str, str]:
    """The environment of every timed process: the same thread count for every library."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    return env


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_script(cmd: list[str], threads: int) -> tuple[dict, dict[str, float]]:
    """Run ``cmd`` (a fresh interpreter printing one JSON line last) with the timed environment:
    its answer, and its wall and CPU seconds (all its threads, start-up and exit included)."""
    t0, c0 = time.perf_counter(), children_cpu_s()
    done = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True, check=False)
    cost = {"wall_s": time.perf_counter() - t0, "cpu_s": children_cpu_s() - c0}
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:4])} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), cost


def run_worker(family: str, name: str, threads: int, blocks: int, block_s: float, warm_s: float = 0.05,
               rows: list[str] | None = None, pools: bool = True) -> dict:
    """One fresh interpreter running ``worker``: its answer, with ``spent`` holding its wall and CPU
    seconds as seen from outside (``wall_s``, ``cpu_s``)."""
    cmd = [sys.executable, str(HERE / "harness.py"), "worker", family, name, "--blocks", str(blocks),
           "--block-s", str(block_s), "--warm-s", str(warm_s)]
    if rows:
        cmd += ["--rows", json.dumps(rows)]
    if not pools:
        cmd.append("--no-pools")
    answer, cost = run_script(cmd, threads)
    answer["spent"].update(cost)
    return answer


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


def measure_family(module: ModuleType, family: str, rounds: int, threads: int, blocks: int, block_s: float,
                   warm_s: float = 0.05, log: Callable[[str], None] = print,
                   skip: list[str] | None = None) -> dict[str, Any]:
    """Every contender of ``family`` in its own fresh process, ``rounds`` times, the order rotating.

    Returns ``rounds``: per row and contender the per-round seconds per call (each the median of
    that process's blocks); ``pools``: what threadpoolctl saw in each contender's first process;
    ``processes``: per process its round, contender, wall and CPU seconds and where they went.
    """
    names = [name for name in contenders(module) if name not in (skip or [])]
    out: dict[str, Any] = {"rounds": {row: {} for row in module.WORKLOADS}, "pools": {}, "processes": []}
    with busy_cores(getattr(module, "BUSY_CORES", 0)):
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            log(f"  {family} round {r + 1}/{rounds}: {', '.join(order)}")
            for name in order:
                answer = run_worker(family, name, threads, blocks, block_s, warm_s, pools=r == 0)
                for row, times in answer["rows"].items():
                    out["rounds"][row].setdefault(name, []).append(statistics.median(times))
                if "pools" in answer:
                    out["pools"][name] = answer["pools"]
                out["processes"].append({"round": r, "contender": name, **answer["spent"]})
    return out


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="time one contender of one family in this process")
    parser.add_argument("mode", choices=["worker"])
    parser.add_argument("family")
    parser.add_argument("name")
    parser.add_argument("--rows", type=json.loads, default=None)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--block-s", type=float, default=0.04)
    parser.add_argument("--warm-s", type=float, default=0.05)
    parser.add_argument("--no-pools", action="store_true", help="skip the threadpoolctl report")
    args = parser.parse_args(argv)
    print(json.dumps(worker(args.family, args.name, args.rows, args.blocks, args.block_s, args.warm_s,
                            pools=not args.no_pools)), flush=True)
    os._exit(0)  # the answer is out: skip the interpreter's teardown (~0.4 s of CPU once torch is loaded)


if __name__ == "__main__":
    _main()
