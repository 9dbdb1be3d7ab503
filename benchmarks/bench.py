"""MiniTorch vs PyTorch CPU vs scikit-learn vs the bare matrix products, side by side (issue 5).

    make bench                                   # creates .venv with the [bench] extra, runs this
    python benchmarks/bench.py --json out.json   # the same, in an environment you made yourself

Everything timed in this process is interleaved: each round times every contender for about
``--block`` seconds, in rotating order. Times are medians over ``--repeats`` rounds; each ratio is
the median over rounds of that round's ratio, so a burst of machine load, which slows a whole
round, hits both sides of a ratio alike. Import time and
peak memory are measured in fresh subprocesses. PyTorch and scikit-learn are optional: without
them their columns read n/a. Both NumPy's BLAS and PyTorch use 2 threads.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders as c
import fresh
import prototypes
import report

import minitorch as mt

THREADS = 2
MLP = (784, 512, 256, 10)
IRIS = (4, 16, 3)
BATCHES = (32, 128, 512)
HERE = Path(__file__).resolve().parent
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
SETTLE_S = 0.1  # pause between timed blocks (see interleaved)


def optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"note: {name} is not installed, its columns read n/a "
              "(pip install -e '.[bench]', or run `make bench`)")
        return None


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, block: float) -> dict[str, dict]:
    """Seconds per call of each function: median (and quartiles) over ``repeats`` interleaved blocks.

    Warm-up: each function runs for ~0.2 s first, which also calibrates how many calls fill a block.
    The garbage collector is paused inside a block (as ``timeit`` does) and run between blocks.
    Between blocks the process sleeps SETTLE_S: OpenBLAS's and PyTorch's OpenMP worker threads
    spin-wait for a while after their last job, and on 2 cores a spinning pool of one library would
    otherwise steal a core from the block of the other.
    """
    calls = {}
    for name, fn in fns.items():
        fn()
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < max(0.2, 2 * block) or n < 3:
            fn()
            n += 1
        calls[name] = max(1, round(block * n / (time.perf_counter() - start)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, n = fns[name], calls[name]
            gc.collect()
            time.sleep(SETTLE_S)
            gc.disable()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - start) / n)
            gc.enable()
    out = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        out[name] = {"median_s": statistics.median(ts), "q1_s": q[0], "q3_s": q[2], "min_s": min(ts),
                     "calls_per_block": calls[name], "rounds_s": ts}
    return out


def bench_mlp(torch: ModuleType | None, nn: ModuleType | None, args: argparse.Namespace) -> dict:
    """The 784-512-256-10 training step at each batch size, up to four contenders interleaved."""
    results = {}
    for batch in BATCHES:
        pool = c.batch_pool(MLP, batch)
        fns: dict[str, Callable[[], Any]] = {
            "minitorch": c.minitorch_step(MLP, pool),
            "gemm": c.gemm_step(MLP, batch),
        }
        if torch is not None:
            fns["torch"] = c.torch_step(torch, MLP, pool)
        if nn is not None:
            fns["sklearn"] = c.sklearn_step(nn, MLP, pool)
        print(f"  MLP step, batch {batch}: {', '.join(fns)}", flush=True)
        results[batch] = interleaved(fns, args.repeats, args.block)
    return results


def bench_adam(torch: ModuleType | None, args: argparse.Namespace) -> dict | None:
    if not hasattr(mt, "Adam"):
        print("  Adam: n/a (this minitorch has no mt.Adam yet)")
        return None
    batch = 128
    pool = c.batch_pool(MLP, batch)
    fns = {"minitorch": c.minitorch_step(MLP, pool, optimizer="adam")}
    if torch is not None:
        fns["torch"] = c.torch_step(torch, MLP, pool, optimizer="adam")
    print(f"  MLP step with Adam, batch {batch}: {', '.join(fns)}", flush=True)
    return {batch: interleaved(fns, args.repeats, args.block)}


def bench_small(torch: ModuleType | None, args: argparse.Namespace) -> dict:
    """The Iris-size step (4-16-3, batch 16) and one-sample inference of the 784 model."""
    pool = c.batch_pool(IRIS, 16)
    fns = {"minitorch": c.minitorch_step(IRIS, pool),
           "minitorch_proposed": c.minitorch_step(IRIS, pool, loss_fn=prototypes.FastCrossEntropyLoss())}
    if torch is not None:
        fns["torch"] = c.torch_step(torch, IRIS, pool)
    print(f"  Iris-size step (4-16-3, batch 16): {', '.join(fns)}", flush=True)
    iris = interleaved(fns, args.repeats, args.block)
    fns = {"minitorch": c.minitorch_infer(MLP)}
    if torch is not None:
        fns["torch"] = c.torch_infer(torch, MLP)
    print("  single-sample inference, 784 model", flush=True)
    return {"iris_step": iris, "inference": interleaved(fns, args.repeats, args.block)}


def bench_loss(args: argparse.Namespace) -> dict:
    """Cross-entropy forward + backward alone: mt.CrossEntropyLoss vs the prototype (recommendation)."""
    results = {}
    rng = np.random.default_rng(0)
    for n, classes in ((16, 3), (32, 10), (128, 10), (512, 10)):
        z, y = rng.standard_normal((n, classes), dtype=np.float32), rng.integers(0, classes, n)
        fns = {}
        for name, loss_fn in (("minitorch", mt.CrossEntropyLoss()),
                              ("minitorch_proposed", prototypes.FastCrossEntropyLoss())):
            fns[name] = lambda loss_fn=loss_fn, z=z, y=y: (loss_fn(z, y), loss_fn.backward())
        results[f"{n}x{classes}"] = interleaved(fns, args.repeats, args.block / 4)
    print("  cross-entropy alone: minitorch vs the prototype of benchmarks/prototypes.py", flush=True)
    return results


def bench_conv(args: argparse.Namespace) -> dict | None:
    path = HERE / "bench_conv.py"
    if not path.exists():
        print("  convolutions: skipped (benchmarks/bench_conv.py does not exist yet)")
        return None
    print("  convolutions: benchmarks/bench_conv.py run()", flush=True)
    spec = importlib.util.spec_from_file_location("bench_conv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        result = module.run()
    except Exception as error:  # report it and go on: the other numbers are still worth having
        print(f"  convolutions: bench_conv.run() failed: {error!r}")
        return {"error": repr(error)}
    return result if isinstance(result, dict) else {"result": repr(result)}


def machine(torch: ModuleType | None, nn: ModuleType | None) -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas: list[dict] = []
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "prefix")}
                for info in threadpool_info() if info.get("user_api") == "blas"]
    except ImportError:
        blas = [{"note": "threadpoolctl not installed: kernel unknown"}]
    sklearn = sys.modules.get("sklearn")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "minitorch": mt.__version__,
        "torch": torch.__version__ if torch else None,
        "sklearn": sklearn.__version__ if sklearn and nn else None,
        "blas": blas,
        "env": {k: os.environ.get(k) for k in ENV_VARS},
        "loadavg_start": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    parser.add_argument("--repeats", type=int, default=21, help="interleaved rounds per comparison")
    parser.add_argument("--block", type=float, default=0.04, help="seconds per contender per round")
    parser.add_argument("--fresh-runs", type=int, default=5, help="fresh processes per import/memory figure")
    parser.add_argument("--threads", type=int, default=THREADS, help="BLAS and torch threads (2 = the cores)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 rounds of 10 ms, 1 fresh run")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.block, args.fresh_runs = 3, 0.01, 1

    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(args.threads)
    nn = optional("sklearn.neural_network")
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads, user_api="blas")  # noqa: F841 - kept for the whole run
    except ImportError:
        print("note: threadpoolctl is not installed; NumPy's BLAS threads follow OPENBLAS_NUM_THREADS")

    results: dict[str, Any] = {"machine": machine(torch, nn) | {"threads": args.threads}}
    print(f"Benchmarking on {results['machine']['cpu']} ({results['machine']['cpus']} CPUs), "
          f"numpy {np.__version__}, BLAS {results['machine']['blas']}", flush=True)
    results["mlp_sgd"] = bench_mlp(torch, nn, args)
    results["mlp_adam"] = bench_adam(torch, args)
    results.update(bench_small(torch, args))
    results["cross_entropy"] = bench_loss(args)
    print("  fresh processes: import time and peak memory", flush=True)
    results["fresh"] = fresh.measure(args.fresh_runs, with_torch=torch is not None)
    results["conv"] = bench_conv(args)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["summary"] = report.summarise(results)
    print(report.table(results))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"results written to {args.json}")
    return results


if __name__ == "__main__":
    main()
