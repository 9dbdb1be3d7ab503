"""What the checks of mt.fit's whole-step kernel cost in place, on the benchmark's Iris step.

Run (from a checkout, with that tree first on the path):
    PYTHONPATH=$PWD OPENBLAS_NUM_THREADS=1 python benchmarks/measure_iris_checks.py [--rounds 15]
Times ``minitorch.kernels.step.fit_step`` on the benchmark's 4-16-3 model and batch of 16
(``workloads/small.py``), in one process, beside a copy of it whose every check block is cut
(source edited at the block markers below): the copy runs the same NumPy arithmetic with
nothing checked. Then cuts the blocks one after another, so each block's cost is the difference
of two medians. The two forms rotate loop by loop (process CPU time), so a change of load hits
both. A block that is not found (the kernel was rewritten) stops the run with its name: edit
``BLOCKS`` to the new code. Compare two trees by running this once per tree, alternating.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# (name, the block's first line, the first line after it, what stands in for it: the names the
# arithmetic reads)
BLOCKS = [
    ("the arguments' classes", "    if (type(model) is not Sequential", "    setup = _last[0]", ""),
    ("the setup and the copied dicts", "    if setup is None or not setup.current", "    # every step:", ""),
    ("patches, options, x, children's classes", "    if (x.shape[1] != setup.width", "    try:  # what SGD",
     ""),
    ("settings and Parameters", "    try:  # what SGD", "    slots = flat",
     "    lr, maximize = float(group['lr']), bool(group['maximize'])\n"),
    ("the gradient slots", "    slots = flat.slots_if_free", "    if _registrations[0]",
     "    slots = setup.flat.grads\n"),
    ("other owners' forwards", "    if _registrations[0]", "    # the targets", ""),
    ("the targets", "    if not (y.ndim == 1 and len(y) == n", "    # forward:", "    unsigned = None\n"),
]


def variants(fit_step: Any, namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    """The kernel itself, then copies with one block more cut each."""
    source, out = inspect.getsource(fit_step), [("as is", fit_step)]
    for name, first, after, stand_in in BLOCKS:
        if first not in source or after not in source:
            sys.exit(f"measure_iris_checks: block {name!r} not found in fit_step; edit BLOCKS")
        i, j = source.index(first), source.index(after)
        source = source[:i] + stand_in + source[j:]
        scope = dict(namespace)
        exec(source, scope)
        out.append((name, scope["fit_step"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=3000, help="steps per timed loop")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from workloads._common import minitorch_step
    from workloads.small import IRIS

    from minitorch.kernels import step as fast_step

    step = minitorch_step(IRIS, 16)
    for _ in range(300):  # (the first step adopts the flat group; the kernel takes the rest)
        step()
    cells = dict(zip(step.__code__.co_freevars, (c.cell_contents for c in step.__closure__), strict=True))
    model, loss_fn, optimizer = cells["model"], cells["loss_fn"], cells["opt"]
    x, y = next(cells["data"])
    forms = variants(fast_step.fit_step, vars(fast_step))
    for name, form in forms:
        if form(model, loss_fn, optimizer, x, y) is NotImplemented:
            sys.exit(f"measure_iris_checks: the kernel declined with {name!r} cut")
    times: dict[str, list[float]] = {name: [] for name, _ in forms}
    for _ in range(args.rounds):
        for name, form in forms:
            t0 = time.process_time()
            for _ in range(args.steps):
                form(model, loss_fn, optimizer, x, y)
            times[name].append((time.process_time() - t0) / args.steps * 1e6)
    median = {name: statistics.median(t) for name, t in times.items()}
    names = [name for name, _ in forms]
    whole, bare = median[names[0]], median[names[-1]]
    print(f"fit_step {whole:.2f} us, its arithmetic alone {bare:.2f} us: checks {whole - bare:.2f} us "
          f"(process CPU time, medians of {args.rounds})")
    for before, name in itertools.pairwise(names):
        print(f"  {name:42s} {median[before] - median[name]:5.2f} us")


if __name__ == "__main__":
    main()
