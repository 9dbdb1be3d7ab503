"""Measurement for docs/diagnostics.md: the cost of mt.Diagnostics(every=50) inside mt.fit.

Each configuration trains the same set-up (same seed) in its own fresh process at 1 BLAS thread
and reports the process CPU time of ``fit`` alone; the configurations alternate process by
process, the order rotating each round. Configurations: no callback; ``Diagnostics(every=50)``;
``Diagnostics(every=10**9)`` (one check, at step 0: the steps between checks). Per round the
ratios to "no callback" are taken; the medians are printed. Inside each process a callback
records the CPU time of every step: a check costs (median check step - median other step), the
step right after a check (median after-check step - median other step: it finds its code and
data evicted), a step between checks (its median in the "between" run - the median step without
the callback); from these, the share a check would take of 50 steps half as long as today's,
and the ratio the clocks imply, 1 + (check + after) / (50 steps) + between / step, which is
steadier than the processes' totals when other jobs share the machine.
``--base DIR`` adds the same callback from another source tree (e.g. an older commit unpacked
with ``git archive``), run against that tree's library.
``--cold``: how much one check's statistics cost depends on what ran before them (see cold_caches);
``--between``: the steps between checks against a no-op callback, in one process (between_checks);
``--loop``: the same with a check at every step (the check's cost with its code warm); run it with
PYTHONPATH set to another tree to compare callbacks.
Run: python tests/measure_diagnostics_overhead.py [--rounds 7] [--only iris] [--base DIR] [--cold]
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
EPOCHS = {"iris": 600, "spirals_modern": 15, "digits": 3}

CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r})
import diagnostics_problems as problems
import minitorch as mt
import numpy as np


class Clock(mt.Callback):  # in every configuration: the CPU time at the start of each step
    def __init__(self):
        self.t = []

    def on_batch_begin(self, batch, logs=None):
        self.t.append(time.process_time())


setup = problems.EXAMPLES[{name!r}][0]
model, optimizer, loader = setup(0)
every = {every!r}
clock = Clock()
callbacks = [clock] + ([] if every is None else [mt.Diagnostics(every=every, verbose=False)])
loss_fn = mt.CrossEntropyLoss()
start = time.process_time()
mt.fit(model, loss_fn, optimizer, loader, epochs={epochs}, callbacks=callbacks, verbose=0, metrics=())
cpu = time.process_time() - start
d = np.diff(clock.t)
i = np.arange(len(d))
inner = ((i + 1) % len(loader) != 0) & (i > 0)  # steps that do not cross an epoch's end
check = inner & (i % 50 == 0)
after = inner & (i % 50 == 1)
plain = inner & ~check & ~after
print(json.dumps({{"cpu": cpu, "steps": {epochs} * len(loader), "step": float(np.median(d[plain])),
                  "check_step": float(np.median(d[check])), "after_step": float(np.median(d[after]))}}))
"""


def child(name: str, every: int | None, tree: Path) -> dict[str, float]:
    # fixed malloc thresholds: glibc's dynamic ones move with the first large free, and a check's
    # buffers would otherwise change how every later step allocates (it made spirals_modern ~10 %
    # *faster* with the callback)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(tree), MALLOC_MMAP_THRESHOLD_="4194304", MALLOC_TRIM_THRESHOLD_="67108864")
    code = CHILD.format(tests=str(ROOT / "tests"), name=name, every=every, epochs=EPOCHS[name])
    # cwd=tree: ``python -c`` puts the working directory first on sys.path, so another tree's
    # minitorch in the directory the script runs from would shadow PYTHONPATH
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_caches() -> None:
    """The statistics of one iris check (``CheckStats``), CPU time, median of 150: right after the
    previous one, after 49 training steps, after the process slept 5 ms (other jobs run), after
    a pure-Python loop of about the same length (no NumPy, no sleep)."""
    import time

    import diagnostics_problems as problems

    import minitorch as mt
    from minitorch.diagnostics import probe, stats

    model, optimizer, loader = problems.iris(0)
    xb, yb = next(iter(loader))
    loss_fn = mt.CrossEntropyLoss()
    units, out = probe.units_forward(model, xb)
    loss_fn(out, yb)
    probe.units_backward_params(units, loss_fn.backward())
    named = list(model.named_parameters())
    grads = [p.grad for _, p in named]
    layout = stats.Layout([(unit.name, unit.module) for unit in units], named)
    ys, dys = [unit.y for unit in units], [unit.dy for unit in units]

    def steps() -> None:
        for _ in range(49):
            loss_fn(model(xb), yb)
            model.backward_params(loss_fn.backward())
            optimizer.step()
            optimizer.zero_grad()

    def python_loop() -> None:
        total = 0
        for i in range(20000):
            total += i

    between = {"nothing": lambda: None, "49 steps": steps, "sleep 5 ms": lambda: time.sleep(0.005),
               "pure-Python loop": python_loop}
    for label, work in between.items():
        times = []
        for _ in range(150):
            work()
            start = time.process_time()
            stats.CheckStats(layout, ys, dys, grads)
            times.append(time.process_time() - start)
        print(f"CheckStats after {label}: {np.median(times) * 1e6:.0f} us", flush=True)


def between_checks(pairs: int = 12, loop: bool = False) -> None:
    """Iris steps between checks: in one process, fit with a no-op callback and with
    ``Diagnostics(every=10**9)`` (one check, at step 0) in turn; per pair the difference of the
    median step CPU times. ``loop``: ``every=1`` instead (every step a check, its code warm)."""
    import time

    import diagnostics_problems as problems

    import minitorch as mt

    class Clock(mt.Callback):
        def __init__(self) -> None:
            self.t: list[float] = []

        def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
            self.t.append(time.process_time())

    def run(extra: mt.Callback) -> float:
        model, optimizer, loader = problems.iris(0)
        clock = Clock()
        mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=150, callbacks=[clock, extra],
               verbose=0, metrics=())
        d = np.diff(clock.t)
        i = np.arange(len(d))
        return float(np.median(d[((i + 1) % len(loader) != 0) & (i > 0)])) * 1e6

    every = 1 if loop else 10**9
    diffs = []
    for r in range(pairs):
        if r % 2:  # the order alternates
            nop = run(mt.Callback())
            diag = run(mt.Diagnostics(every=every, verbose=False))
        else:
            diag = run(mt.Diagnostics(every=every, verbose=False))
            nop = run(mt.Callback())
        diffs.append(diag - nop)
    what = "a check in a loop of checks (every=1)" if loop else "a step between checks"
    print(f"iris, {what}, minus a step with a no-op callback: median {np.median(diffs):+.2f} us "
          f"(pairs: {', '.join(f'{x:+.1f}' for x in diffs)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=list(EPOCHS))
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--cold", action="store_true", help="only the cold-cache comparison (1 BLAS thread)")
    parser.add_argument("--between", action="store_true", help="only the steps between checks, in-process")
    parser.add_argument("--loop", action="store_true", help="only checks at every step (every=1), in-process")
    args = parser.parse_args()
    if args.cold:
        return cold_caches()
    if args.between or args.loop:
        return between_checks(loop=args.loop)
    configs = [("none", None, ROOT), ("every50", 50, ROOT), ("between", 10**9, ROOT)]
    if args.base is not None:
        configs += [("base_none", None, args.base), ("base_every50", 50, args.base),
                    ("base_between", 10**9, args.base)]
    for name in args.only:
        times: dict[str, list[float]] = {label: [] for label, _, _ in configs}
        inside: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _ in configs}
        steps = 0
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[: r % len(configs)]
            for label, every, tree in order:
                result = child(name, every, tree)
                times[label].append(result["cpu"])
                inside[label].append((result["step"], result["check_step"], result["after_step"]))
                steps = int(result["steps"])
        none = np.array(times["none"])
        ratio = np.median(np.array(times["every50"]) / none)
        step = np.median([s for s, _, _ in inside["none"]]) * 1e6
        # inside one process: a check step's median CPU time minus an ordinary step's, and the same
        # for the step right after a check (it finds its code and data evicted by the check)
        per_check = np.median([c - s for s, c, _ in inside["every50"]]) * 1e6
        after = np.median([a - s for s, _, a in inside["every50"]]) * 1e6
        between = (np.median([s for s, _, _ in inside["between"]]) * 1e6 - step)
        # the ratio these per-step clocks imply: steadier than the processes' totals on a busy machine
        implied = 1 + (per_check + after) / (50 * step) + between / step
        line = (f"{name}: {steps} steps; with/without Diagnostics(every=50) median ratio "
                f"{ratio:.3f} (rounds: {', '.join(f'{x:.3f}' for x in np.array(times['every50']) / none)}); "
                f"a check costs {per_check:.0f} us = {per_check / step:.2f} steps, the step after it "
                f"{after:+.0f} us, so with a step half as long its share would be "
                f"{per_check / (50 * step / 2):.1%}; a step between checks {between:+.2f} us (two "
                f"processes' medians: their noise is larger than this); implied ratio {implied:.3f}")
        if args.base is not None:
            base = np.array(times["base_every50"]) / np.array(times["base_none"])
            base_step = np.median([s for s, _, _ in inside["base_none"]]) * 1e6
            base_check = np.median([c - s for s, c, _ in inside["base_every50"]]) * 1e6
            base_after = np.median([a - s for s, _, a in inside["base_every50"]]) * 1e6
            base_between = np.median([s for s, _, _ in inside["base_between"]]) * 1e6 - base_step
            base_implied = 1 + (base_check + base_after) / (50 * base_step) + base_between / base_step
            rounds = ", ".join(f"{x:.3f}" for x in base)
            line += (f"; base tree: ratio {np.median(base):.3f} (rounds: {rounds}), a check "
                     f"{base_check:.0f} us = {base_check / base_step:.2f} steps, the step after it "
                     f"{base_after:+.0f} us, a step between checks {base_between:+.2f} us, implied ratio "
                     f"{base_implied:.3f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
