"""Measurement for docs/diagnostics.md: the cost of mt.Diagnostics(every=50) inside mt.fit.

Each configuration trains the same set-up (same seed) in its own fresh process at 1 BLAS thread
and reports the process CPU time of ``fit`` alone; the configurations alternate process by
process, the order rotating each round. Configurations: no callback; ``Diagnostics(every=50)``;
``Diagnostics(every=10**9)`` (one check, at step 0: the steps between checks). Per round the
ratios to "no callback" are taken; the medians are printed, with the cost per check
((with - without) / number of checks) and the cost per step between checks.
``--base DIR`` adds the same callback from another source tree (e.g. an older commit unpacked
with ``git archive``), run against that tree's library.
Run: python tests/measure_diagnostics_overhead.py [--rounds 7] [--only iris] [--base DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = {"iris": 300, "spirals_modern": 15, "digits": 3}

CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r})
import diagnostics_problems as problems
import minitorch as mt
setup = problems.EXAMPLES[{name!r}][0]
model, optimizer, loader = setup(0)
every = {every!r}
callbacks = [] if every is None else [mt.Diagnostics(every=every, verbose=False)]
loss_fn = mt.CrossEntropyLoss()
start = time.process_time()
mt.fit(model, loss_fn, optimizer, loader, epochs={epochs}, callbacks=callbacks, verbose=0, metrics=())
print(json.dumps({{"cpu": time.process_time() - start, "steps": {epochs} * len(loader)}}))
"""


def child(name: str, every: int | None, tree: Path) -> dict[str, float]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(tree))
    code = CHILD.format(tests=str(ROOT / "tests"), name=name, every=every, epochs=EPOCHS[name])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=list(EPOCHS))
    parser.add_argument("--base", type=Path, default=None)
    args = parser.parse_args()
    configs = [("none", None, ROOT), ("every50", 50, ROOT), ("between", 10**9, ROOT)]
    if args.base is not None:
        configs += [("base_none", None, args.base), ("base_every50", 50, args.base)]
    for name in args.only:
        times: dict[str, list[float]] = {label: [] for label, _, _ in configs}
        steps = 0
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[: r % len(configs)]
            for label, every, tree in order:
                result = child(name, every, tree)
                times[label].append(result["cpu"])
                steps = int(result["steps"])
        checks = -(-steps // 50)
        none = np.array(times["none"])
        ratio = np.median(np.array(times["every50"]) / none)
        between = np.median((np.array(times["between"]) - none) / steps) * 1e6
        per_check = np.median((np.array(times["every50"]) - np.array(times["between"])) / (checks - 1)) * 1e6
        line = (f"{name}: {steps} steps, {checks} checks; with/without Diagnostics(every=50) median ratio "
                f"{ratio:.3f} (rounds: {', '.join(f'{x:.3f}' for x in np.array(times['every50']) / none)}); "
                f"per check {per_check:.0f} us; between checks {between:+.2f} us/step; "
                f"a step without {np.median(none) / steps * 1e6:.0f} us")
        if args.base is not None:
            base = np.array(times["base_every50"]) / np.array(times["base_none"])
            line += f"; base tree ratio {np.median(base):.3f} (rounds: {', '.join(f'{x:.3f}' for x in base)})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
