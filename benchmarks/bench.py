"""MiniTorch against PyTorch CPU and a hand-written NumPy step, each in a fresh process of its own (issue 12).

    make bench                                  # every family, isolated processes (budget: 5 minutes)
    make bench BENCH_ARGS=--quick               # the same method, 2 rounds of short blocks (budget: 1 minute)
    python benchmarks/bench.py --only mlp,small # some families (``breakdown`` names the per-part run)
    make bench BENCH_ARGS="--json benchmarks/results.json"   # a run of record (the committed results)

Results go to benchmarks/runs/results.json and .md (untracked) unless ``--json`` names another file.

Workloads are discovered in ``benchmarks/workloads/*.py`` (see ``harness.py``). Every timed process gets
the same thread settings (``--threads``, default 2 = this machine's cores) through OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS, and builds the same data from the same seeds. Each round starts one
process per contender, in an order that rotates; the table reports medians over rounds, the min-max
spread and every ratio as the median of per-round ratios. ``breakdown.py`` runs once per round too.
The settings a run used, and where its wall and CPU time went, are written with its results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
import report

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_id() -> dict[str, Any]:
    """The CPU beyond its marketing name (two Xeons here both say "Intel(R) Xeon(R) Processor"):
    vendor, family / model / stepping, the instruction sets that choose BLAS kernels, cache sizes."""
    out: dict[str, Any] = {}
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0]
                      .splitlines() if ":" in line)
    except OSError:
        return out
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    for key, name in (("vendor_id", "vendor"), ("cpu family", "family"), ("model", "model"),
                      ("stepping", "stepping")):
        if key in fields:
            out[name] = fields[key]
    flags = set(fields.get("flags", "").split())
    out["flags"] = [f for f in report.KERNEL_FLAGS if f in flags]
    caches = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            if kind != "Instruction":
                caches[f"L{(index / 'level').read_text().strip()}"] = (index / "size").read_text().strip()
        except OSError:
            pass
    out["caches"] = caches  # as cpu0 sees them (the last level is shared)
    return out


def machine(threads: int) -> dict[str, Any]:
    import numpy as np

    env = harness.child_env(threads)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cpu_id": cpu_id(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "torch": _torch_version(), "threads": threads,
        "env": {k: env.get(k) for k in harness.KERNEL_ENV},
        "loadavg_start": list(os.getloadavg()),
    }


def _torch_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:
        return None


# The method's settings: the default run and --quick (the same method, smaller budgets). 6 rounds give
# every order of a 2- or 3-contender family equally often; --quick leaves out mt-kernel (in no target).
FULL = {"rounds": 6, "blocks": 5, "block_s": 0.04, "warm_s": 0.05, "skip": []}
QUICK = {"rounds": 2, "blocks": 3, "block_s": 0.01, "warm_s": 0.01, "skip": ["mt-kernel"]}


def run_breakdown(threads: int, blocks: int, block_s: float, warm_s: float) -> tuple[dict, dict]:
    """``breakdown.py`` in a fresh process: its parts, and its wall and CPU seconds."""
    cmd = [sys.executable, str(HERE / "breakdown.py"), "--blocks", str(blocks), "--block-s", str(block_s),
           "--warm-s", str(warm_s)]
    return harness.run_script(cmd, threads)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # a plain run goes to an untracked folder: benchmarks/results.json is the committed run of record,
    # replaced only when --json names it
    parser.add_argument("--json", default=str(HERE / "runs" / "results.json"),
                        help="where to write the results (default: benchmarks/runs/, untracked; the run "
                             "of record: --json benchmarks/results.json)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smaller budgets: {QUICK} instead of {FULL}")
    parser.add_argument("--rounds", type=int, help="rounds (one fresh process per contender each)")
    parser.add_argument("--blocks", type=int, help="timed blocks per process and row")
    parser.add_argument("--block-s", type=float, help="seconds per timed block (>= 1 call)")
    parser.add_argument("--warm-s", type=float, help="warm-up seconds per row (>= 3 calls)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library (2 = the cores)")
    parser.add_argument("--only", default="", help="comma-separated families and/or breakdown (default: all)")
    parser.add_argument("--skip", help="comma-separated contenders to leave out")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "blocks", "block_s", "warm_s"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.skip is not None:
        settings["skip"] = [name for name in args.skip.split(",") if name]
    start, cpu0 = time.perf_counter(), harness.children_cpu_s()
    families = harness.discover()
    only = [name for name in args.only.split(",") if name]
    if only:
        families = {k: v for k, v in families.items() if k in only}
    settings.update(threads=args.threads, quick=args.quick, families=list(families),
                    breakdown=not only or "breakdown" in only)
    results: dict[str, Any] = {"machine": machine(args.threads), "settings": settings, "families": {},
                               "breakdown": [], "cost": {}}
    print(f"Benchmarking on {results['machine']['cpu']}, {args.threads} threads, {settings['rounds']} rounds "
          f"of {settings['blocks']} blocks x {settings['block_s']} s; families: {', '.join(families)}",
          flush=True)
    pools: dict[str, Any] = {}
    timing = (settings["blocks"], settings["block_s"], settings["warm_s"])
    for name, module in families.items():
        t0 = time.perf_counter()
        measured = harness.measure_family(module, name, settings["rounds"], args.threads, *timing,
                                          skip=settings["skip"])
        pools.update(measured["pools"])
        results["families"][name] = {"baseline": getattr(module, "BASELINE", None),
                                     "busy_cores": getattr(module, "BUSY_CORES", 0),
                                     "rounds": measured["rounds"]}
        results["cost"][name] = {"wall_s": time.perf_counter() - t0, "processes": measured["processes"]}
    if settings["breakdown"]:
        t0, processes = time.perf_counter(), []
        for r in range(settings["rounds"]):
            print(f"  breakdown round {r + 1}/{settings['rounds']}", flush=True)
            parts, cost = run_breakdown(args.threads, *timing)
            results["breakdown"].append(parts)
            processes.append({"round": r, "contender": "breakdown", **cost})
        results["cost"]["breakdown"] = {"wall_s": time.perf_counter() - t0, "processes": processes}
    results["machine"]["pools"] = {k: v for k, v in pools.items() if k in ("mt-fit", "torch")}
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["machine"]["seconds"] = round(time.perf_counter() - start, 1)
    results["machine"]["children_cpu_s"] = round(harness.children_cpu_s() - cpu0, 1)  # busy loops too
    results["machine"]["timed_cpu_s"] = round(sum(p["cpu_s"] for c in results["cost"].values()
                                                  for p in c["processes"]), 1)
    results["ratios"] = report.ratios(results)
    text = [report.machine_table(results["machine"], settings), report.rows_table(results),
            report.breakdown_table(results), report.targets_table(results), report.cost_table(results)]
    print(*text, sep="\n\n")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    Path(args.json).with_suffix(".md").write_text("\n\n".join(text) + "\n")
    print(f"\n{results['machine']['seconds']} s; results written to {args.json} and its .md twin")
    return results


if __name__ == "__main__":
    main()
