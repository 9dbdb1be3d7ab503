"""MiniTorch against PyTorch CPU and a hand-written NumPy step, each in a fresh process of its own (issue 12).

    make bench                                  # isolated processes, ~4 minutes; --quick: under 1 minute
    python benchmarks/bench.py --only mlp,small # some families; --in-process: also the one-process check

Workloads are discovered in ``benchmarks/workloads/*.py`` (see ``harness.py``). Every timed process gets
the same thread settings (``--threads``, default 2 = this machine's cores) through OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS, and builds the same data from the same seeds. Each round starts one
process per contender, in an order that rotates; the table reports medians over rounds, the min-max
spread and every ratio as the median of per-round ratios. ``breakdown.py`` runs once per round too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
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


def machine(threads: int) -> dict[str, Any]:
    import numpy as np

    env = harness.child_env(threads)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
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


def run_breakdown(threads: int, blocks: int, block_s: float) -> dict:
    cmd = [sys.executable, str(HERE / "breakdown.py"), "--blocks", str(blocks), "--block-s", str(block_s)]
    done = subprocess.run(cmd, env=harness.child_env(threads), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"breakdown.py failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_process_check(families: dict, results: dict, args: argparse.Namespace) -> list[dict]:
    """Each family once more with all contenders in ONE process (alternating blocks), against the
    isolated figures: the ratio to the baseline in each mode, and whether they agree within 5 %."""
    rows = []
    for name, module in families.items():
        base = getattr(module, "BASELINE", None)
        if base is None or not getattr(module, "IN_PROCESS", True):
            continue
        print(f"  in-process check: {name}", flush=True)
        blocks = harness.measure_family_in_process(module, name, args.threads, 3 * args.blocks, args.block_s)
        for row, by_name in blocks.items():
            for contender, values in by_name.items():
                if contender == base or base not in by_name:
                    continue
                one = report.paired(by_name[base], values)
                iso = report.paired(results["families"][name]["rounds"][row].get(base, []),
                                    results["families"][name]["rounds"][row].get(contender, []))
                agree = one is not None and iso is not None and abs(one / iso - 1) <= 0.05
                rows.append({"row": row, "contender": contender, "baseline": base, "in_process": one,
                             "isolated": iso, "agree_5pct": agree})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (one fresh process per contender each)")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks per process and row")
    parser.add_argument("--block-s", type=float, default=0.04, help="seconds per block")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library (2 = the cores)")
    parser.add_argument("--only", default="", help="comma-separated families (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    parser.add_argument("--in-process", action="store_true", help="also time all contenders in one process")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 3 short blocks")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.blocks, args.block_s = 2, 3, 0.01
    start = time.perf_counter()
    families = harness.discover()
    if args.only:
        families = {k: v for k, v in families.items() if k in args.only.split(",")}
    results: dict[str, Any] = {"machine": machine(args.threads), "families": {}, "breakdown": []}
    print(f"Benchmarking on {results['machine']['cpu']}, {args.threads} threads, {args.rounds} rounds; "
          f"families: {', '.join(families)}", flush=True)
    pools: dict[str, Any] = {}
    for name, module in families.items():
        rounds = harness.measure_family(module, name, args.rounds, args.threads, args.blocks, args.block_s,
                                        skip=args.skip.split(","))
        pools.update(rounds.pop("_pools", {}))
        results["families"][name] = {"baseline": getattr(module, "BASELINE", None),
                                     "busy_cores": getattr(module, "BUSY_CORES", 0), "rounds": rounds}
    if not args.only or "breakdown" in args.only:
        for r in range(args.rounds):
            print(f"  breakdown round {r + 1}/{args.rounds}", flush=True)
            results["breakdown"].append(run_breakdown(args.threads, args.blocks, args.block_s))
    if args.in_process:
        results["in_process"] = in_process_check(families, results, args)
    results["machine"]["pools"] = {k: v for k, v in pools.items() if k in ("mt-fit", "torch")}
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["machine"]["seconds"] = round(time.perf_counter() - start, 1)
    results["ratios"] = report.ratios(results)
    text = [report.machine_table(results["machine"]), report.rows_table(results),
            report.breakdown_table(results), report.targets_table(results)]
    if args.in_process:
        lines = ["| row | contender | in one process | isolated | within 5 % |", "|---|---|---:|---:|---|"]
        lines += [f"| {r['row']} | {r['contender']} vs {r['baseline']} | {r['in_process'] or 0:.2f} | "
                  f"{r['isolated'] or 0:.2f} | {'yes' if r['agree_5pct'] else 'NO'} |"
                  for r in results["in_process"]]
        text.append("\n".join(lines))
    print(*text, sep="\n\n")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    Path(args.json).with_suffix(".md").write_text("\n\n".join(text) + "\n")
    print(f"\n{results['machine']['seconds']} s; results written to {args.json} and its .md twin")
    return results


if __name__ == "__main__":
    main()
