"""Convolution speed: MiniTorch vs PyTorch CPU, forward + backward, side by side in one process.

Three float32 workloads of a small image CNN, each a forward and a full backward (input gradient
included, on both sides):

    Conv2d(1->32, 3x3, pad 1)   on (64, 1, 28, 28)
    Conv2d(32->64, 3x3, pad 1)  on (64, 32, 14, 14)
    MaxPool2d(2)                on (64, 32, 28, 28)

PyTorch runs on the CPU with ``torch.set_num_threads(threads)``; NumPy's BLAS uses its own default
(all cores). After a warm-up, the libraries take turns: in every round each one runs every case
``per_round`` times (which library goes first alternates), so both see the same machine load, and
the medians over all rounds are compared. The first call after a switch is not timed: the other
library's idle worker threads keep spinning for a while (OpenBLAS for up to ~0.1 s, OpenMP
briefly) and would slow it by up to half. torch is optional: without it only MiniTorch is timed.

Run:    python benchmarks/bench_conv.py [--rounds 10] [--per-round 4] [--threads 2] [--json out.json]
        without OPENBLAS_CORETYPE in the environment (it can pin NumPy to slower kernels)
Import: from bench_conv import run; results = run(rounds=5)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np

import minitorch as mt

CASES: list[tuple[str, tuple[int, int, int, int], Callable[[], mt.Module]]] = [
    ("Conv2d(1->32, 3x3, pad 1)", (64, 1, 28, 28), lambda: mt.Conv2d(1, 32, 3, padding=1)),
    ("Conv2d(32->64, 3x3, pad 1)", (64, 32, 14, 14), lambda: mt.Conv2d(32, 64, 3, padding=1)),
    ("MaxPool2d(2)", (64, 32, 28, 28), lambda: mt.MaxPool2d(2)),
]


def _minitorch_step(module: mt.Module, x: np.ndarray, dy: np.ndarray) -> Callable[[], None]:
    def step() -> None:
        module.zero_grad()
        module(x)
        module.backward(dy)

    return step


def _torch_step(torch, module: mt.Module, x: np.ndarray, dy: np.ndarray) -> Callable[[], None]:
    """The same layer in torch, with the same weights, timed the same way."""
    if isinstance(module, mt.Conv2d):
        twin = torch.nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                               stride=module.stride, padding=module.padding)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(module.weight.data))
            twin.bias.copy_(torch.from_numpy(module.bias.data))
    else:
        twin = torch.nn.MaxPool2d(module.kernel_size, stride=module.stride, padding=module.padding)
    x_t = torch.from_numpy(x).requires_grad_(True)
    dy_t = torch.from_numpy(dy)

    def step() -> None:
        x_t.grad = None
        twin.zero_grad()
        twin(x_t).backward(dy_t)

    return step


def _import_torch(threads: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _blas_kernels() -> str | None:
    """The kernel family NumPy's BLAS runs, via threadpoolctl if installed (the bench extra has it).

    OpenBLAS "Haswell" means AVX2 kernels, "SkylakeX"/"Cooperlake" AVX-512: on a CPU with AVX-512
    that alone is up to a 2x difference in every matrix product. OPENBLAS_CORETYPE overrides the
    automatic choice, so the benchmark should run without it (``make bench`` unsets it).
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    return ", ".join(f"{info['internal_api']} {info.get('architecture')}" for info in blas) or None


def _machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1min": load,
            "python": platform.python_version(), "numpy": np.__version__, "blas_kernels": _blas_kernels()}


def run(rounds: int = 10, per_round: int = 4, warmup: int = 3, threads: int = 2, seed: int = 0) -> dict:
    """Time every case; returns {"cases": [{name, shape, minitorch_ms, torch_ms, ratio}], ...}.

    ``minitorch_ms``/``torch_ms`` are medians of ``rounds * per_round`` timed runs, ``ratio`` is
    minitorch_ms / torch_ms (None without torch). The machine, versions and date are included.
    """
    torch = _import_torch(threads)
    rng = np.random.default_rng(seed)
    mt.manual_seed(seed)
    steps = []
    for name, shape, factory in CASES:
        module = factory()
        x = rng.standard_normal(shape).astype(np.float32)
        dy = rng.standard_normal(module(x).shape).astype(np.float32)
        theirs = _torch_step(torch, module, x, dy) if torch is not None else None
        steps.append((name, shape, _minitorch_step(module, x, dy), theirs))

    for _, _, ours, theirs in steps:
        for _ in range(warmup):
            ours()
            if theirs is not None:
                theirs()
    times: dict[str, dict[str, list[float]]] = {name: {"minitorch": [], "torch": []} for name, *_ in steps}
    for r in range(rounds):
        libraries = ["minitorch", "torch"] if r % 2 == 0 else ["torch", "minitorch"]
        for lib in libraries:
            for name, _, ours, theirs in steps:
                step = ours if lib == "minitorch" else theirs
                if step is None:
                    continue
                step()  # settles the switch, untimed (see the module docstring)
                for _ in range(per_round):
                    start = time.perf_counter()
                    step()
                    times[name][lib].append(time.perf_counter() - start)

    cases = []
    for name, shape, _, _ in steps:
        ours_ms = 1e3 * float(np.median(times[name]["minitorch"]))
        theirs_ms = 1e3 * float(np.median(times[name]["torch"])) if torch is not None else None
        cases.append({"name": name, "shape": list(shape), "minitorch_ms": ours_ms, "torch_ms": theirs_ms,
                      "ratio": ours_ms / theirs_ms if theirs_ms else None})
    machine = _machine()
    machine["torch"] = torch.__version__ if torch is not None else None
    return {"benchmark": "conv", "date": datetime.date.today().isoformat(), "rounds": rounds,
            "per_round": per_round, "warmup": warmup, "torch_threads": threads, "dtype": "float32",
            "machine": machine, "cases": cases}


def format_table(results: dict) -> str:
    """The results as a Markdown table: case, input, MiniTorch ms, PyTorch ms, ratio."""
    lines = ["| forward + backward, float32 | input | MiniTorch (ms) | PyTorch (ms) | ratio |",
             "|---|---|---:|---:|---:|"]
    for case in results["cases"]:
        theirs = "n/a" if case["torch_ms"] is None else f"{case['torch_ms']:.2f}"
        ratio = "n/a" if case["ratio"] is None else f"{case['ratio']:.2f}x"
        shape = "x".join(str(n) for n in case["shape"])
        lines.append(f"| {case['name']} | {shape} | {case['minitorch_ms']:.2f} | {theirs} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    results = run(args.rounds, args.per_round, args.warmup, args.threads)
    m = results["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, load {m['load_average_1min']:.2f}; numpy {m['numpy']} "
          f"(BLAS kernels: {m['blas_kernels']}), "
          f"torch {m['torch']} ({results['torch_threads']} threads); "
          f"medians of {results['rounds']} x {results['per_round']}")
    print(format_table(results))
    if results["cases"][0]["ratio"] is None:
        print("PyTorch is not installed: pip install torch for the comparison")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"results written to {args.json}")
