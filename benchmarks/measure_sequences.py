"""Until the harness runs it: time benchmarks/workloads/sequences.py, each contender in its own process.

Run: python benchmarks/measure_sequences.py [--rounds 3] [--steps 30] [--threads 1]
Prints, per workload, each round's median step time (wall clock and process CPU time) and the
MiniTorch / torch ratios; contenders alternate round by round, so load changes hit both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(workload: str, contender: str, steps: int) -> None:
    import time

    import numpy as np

    sys.path.insert(0, str(HERE / "workloads"))
    import sequences

    if contender == "torch":
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    step = sequences.WORKLOADS[workload][contender]()
    for _ in range(3):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    print(json.dumps({"wall": float(np.median(wall)), "cpu": float(np.median(cpu))}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        return child(*args.child, args.steps)
    sys.path.insert(0, str(HERE / "workloads"))
    import sequences

    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    for workload, contenders in sequences.WORKLOADS.items():
        times: dict[str, list[dict]] = {c: [] for c in contenders}
        for _ in range(args.rounds):
            for contender in contenders:
                out = subprocess.run([sys.executable, __file__, "--child", workload, contender,
                                      "--steps", str(args.steps)], env=env, capture_output=True, text=True,
                                     check=True).stdout
                times[contender].append(json.loads(out.strip().splitlines()[-1]))
        print(workload)
        for contender, rounds in times.items():
            print(f"  {contender:10s} wall ms {[round(r['wall'] * 1e3, 3) for r in rounds]}  "
                  f"cpu ms {[round(r['cpu'] * 1e3, 3) for r in rounds]}")
        for clock in ("wall", "cpu"):
            ratios = [m[clock] / t[clock] for m, t in zip(times["minitorch"], times["torch"], strict=True)]
            print(f"  minitorch/torch ({clock}): {[round(r, 2) for r in ratios]}")


if __name__ == "__main__":
    main()
