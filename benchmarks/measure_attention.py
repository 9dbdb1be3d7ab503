"""Until the harness runs it: time benchmarks/workloads/attention.py, each contender in a fresh process.

Run: python benchmarks/measure_attention.py [--rounds 3] [--steps 20] [--threads 1]
Prints each round's median step time (wall clock and process CPU time) per contender and the
MiniTorch / torch ratios; the contenders alternate round by round, so a change of load hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(workload: str, contender: str, steps: int, threads: int) -> None:
    sys.path.insert(0, str(HERE / "workloads"))
    import attention

    if contender == "torch":
        import torch

        torch.set_num_threads(threads)
    step = attention.WORKLOADS[workload][contender]()
    for _ in range(3):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    print(json.dumps({"wall": statistics.median(wall), "cpu": statistics.median(cpu)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        return child(*args.child, args.steps, args.threads)
    sys.path.insert(0, str(HERE / "workloads"))
    import attention

    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # see the Makefile's bench target
        env.pop(name, None)
    for workload, row in attention.WORKLOADS.items():
        print(workload, f"({args.threads} thread(s))")
        for r in range(args.rounds):
            order = list(row) if r % 2 == 0 else list(row)[::-1]
            result = {}
            for contender in order:
                out = subprocess.run([sys.executable, __file__, "--child", workload, contender,
                                      "--steps", str(args.steps), "--threads", str(args.threads)],
                                     env=env, capture_output=True, text=True, check=True).stdout
                result[contender] = json.loads(out)
            mt_, th = result["minitorch"], result["torch"]
            print(f"  round {r + 1}: minitorch {mt_['wall'] * 1e3:7.1f} ms (cpu {mt_['cpu'] * 1e3:7.1f})  "
                  f"torch {th['wall'] * 1e3:7.1f} ms (cpu {th['cpu'] * 1e3:7.1f})  "
                  f"ratio wall {mt_['wall'] / th['wall']:.2f}  cpu {mt_['cpu'] / th['cpu']:.2f}")


if __name__ == "__main__":
    main()
