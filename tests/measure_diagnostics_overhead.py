"""Measurement for docs/diagnostics.md: the cost of mt.Diagnostics(every=50) inside mt.fit.

Trains the same set-up (same seed) with and without the callback, alternating the order each
round, and prints the median ratio of process CPU time (less sensitive than wall time to other
processes). Run: OPENBLAS_NUM_THREADS=1 python tests/measure_diagnostics_overhead.py
"""

from __future__ import annotations

import time

import diagnostics_problems as problems
import numpy as np

import minitorch as mt


def run(setup, epochs, with_callback):
    model, optimizer, loader = setup(0)
    callbacks = [mt.Diagnostics(every=50, verbose=False)] if with_callback else []
    start = time.process_time()
    mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=epochs, callbacks=callbacks, verbose=0)
    return time.process_time() - start


def main(rounds=6):
    for name, epochs in (("digits", 3), ("spirals_modern", 15), ("iris", 100)):
        setup = problems.EXAMPLES[name][0]
        ratios = []
        for i in range(rounds):
            order = (False, True) if i % 2 == 0 else (True, False)
            times = {flag: run(setup, epochs, flag) for flag in order}
            ratios.append(times[True] / times[False])
        print(f"{name}: with/without Diagnostics(every=50), CPU time ratio median {np.median(ratios):.3f} "
              f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})", flush=True)


if __name__ == "__main__":
    main()
