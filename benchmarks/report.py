"""Tables and verdicts from a bench.py run: per-row medians and spread, paired ratios, the issue's targets."""

from __future__ import annotations

import statistics
from typing import Any

# (key, label, goal, "min"|"max"): "min" = the ratio must be at least goal, "max" = at most.
TARGETS = [
    ("fit_vs_torch_b32", "MLP step, mt.fit path vs PyTorch, batch 32 (x faster)", 1.10, "min"),
    ("fit_vs_torch_b128", "MLP step, mt.fit path vs PyTorch, batch 128", 1.0, "min"),
    ("fit_vs_torch_b512", "MLP step, mt.fit path vs PyTorch, batch 512", 1.0, "min"),
    ("fit_vs_numpy_b32", "MLP step, mt.fit path vs hand-written NumPy, batch 32", 1.0, "min"),
    ("fit_vs_numpy_b128", "MLP step, mt.fit path vs hand-written NumPy, batch 128", 1.0, "min"),
    ("fit_vs_numpy_b512", "MLP step, mt.fit path vs hand-written NumPy, batch 512", 1.0, "min"),
    ("readme_over_fit_b32", "README loop / (fit path + data-gradient product), batch 32", 1.05, "max"),
    ("readme_over_fit_b128", "README loop / (fit path + data-gradient product), batch 128", 1.05, "max"),
    ("readme_over_fit_b512", "README loop / (fit path + data-gradient product), batch 512", 1.05, "max"),
    ("step_over_gemm_b32", "step time / its GEMMs alone, batch 32", 1.4, "max"),
    ("step_over_gemm_b128", "step time / its GEMMs alone, batch 128", 1.25, "max"),
    ("step_over_gemm_b512", "step time / its GEMMs alone, batch 512", 1.2, "max"),
    ("iris_vs_torch", "Iris-size step (4-16-3, batch 16) vs PyTorch (x faster)", 6.0, "min"),
    ("infer_vs_torch", "single-sample inference, 784 model, vs PyTorch (x faster)", 1.2, "min"),
    ("conv_over_torch", "Conv2d(32->64, 3x3) fwd+bwd on (64,32,14,14), time / PyTorch's", 1.5, "max"),
    ("threads_default_over_one", "small MLP, default threads / 1 thread, one core busy", 1.1, "max"),
]


def paired(num: list[float], den: list[float]) -> float | None:
    """Median over rounds of num[r] / den[r] (None without data)."""
    if not num or not den:
        return None
    return statistics.median(a / b for a, b in zip(num, den, strict=False))


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """The targets' ratios, each the median of per-round ratios."""
    rows: dict[str, dict[str, list[float]]] = {}
    for family in results["families"].values():
        rows.update(family["rounds"])
    br = results.get("breakdown", [])
    out: dict[str, float | None] = {}
    for b in (32, 128, 512):
        row = rows.get(f"mlp 784-512-256-10 sgd b{b}", {})
        fit = row.get("mt-fit", [])
        out[f"fit_vs_torch_b{b}"] = paired(row.get("torch", []), fit)
        out[f"fit_vs_numpy_b{b}"] = paired(row.get("numpy-hand", []), fit)
        dx = [r[f"mlp b{b}"]["data_grad"] for r in br]
        n = min(len(fit), len(dx))
        out[f"readme_over_fit_b{b}"] = paired(row.get("mt-readme", [])[:n],
                                              [f + d for f, d in zip(fit[:n], dx[:n], strict=True)])
        out[f"step_over_gemm_b{b}"] = paired([r[f"mlp b{b}"]["plain"] for r in br],
                                             [r[f"mlp b{b}"]["gemm"] for r in br])
    iris, infer = rows.get("iris 4-16-3 sgd b16", {}), rows.get("infer 784-512-256-10 n1", {})
    out["iris_vs_torch"] = paired(iris.get("torch", []), iris.get("mt-fit", []))
    out["infer_vs_torch"] = paired(infer.get("torch", []), infer.get("mt", []))
    conv = next((v for k, v in rows.items() if k.startswith("conv2d 32->64")), {})
    out["conv_over_torch"] = paired(conv.get("mt", []), conv.get("torch", []))
    small = next((v for k, v in rows.items() if k.startswith("mlp 64-128-128-10")), {})
    out["threads_default_over_one"] = paired(small.get("mt-default", []), small.get("mt-1thread", []))
    return out


def verdict(value: float | None, goal: float, kind: str) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= goal if kind == "min" else value <= goal) else "MISSED"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}" if seconds >= 1e-4 else f"{seconds * 1e6:,.1f}"


def rows_table(results: dict[str, Any]) -> str:
    """Markdown: per row and contender, median µs per step [min-max over rounds], ratio to the baseline."""
    lines = ["| workload | contender | median µs [min-max over rounds] | baseline time / this time |",
             "|---|---|---:|---:|"]
    for family in results["families"].values():
        base = family.get("baseline")
        for row, by_name in family["rounds"].items():
            for name, values in by_name.items():
                spread = f"{_us(statistics.median(values))} [{_us(min(values))}-{_us(max(values))}]"
                ratio = paired(by_name.get(base, []), values) if base and name != base else None
                shown = "baseline" if name == base else (f"{ratio:.2f}x" if ratio else "")
                lines.append(f"| {row} | {name} | {spread} | {shown} |")
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> str:
    values = ratios(results)
    lines = ["| target | goal | measured | verdict |", "|---|---:|---:|---|"]
    for key, label, goal, kind in TARGETS:
        v = values.get(key)
        sign = ">=" if kind == "min" else "<="
        lines.append(f"| {label} | {sign} {goal:g} | {'n/a' if v is None else f'{v:.2f}'} | "
                     f"{verdict(v, goal, kind)} |")
    return "\n".join(lines)


def breakdown_table(results: dict[str, Any]) -> str:
    """Markdown: median over rounds of each part of the mt.fit step (µs), the GEMM floor, the extra
    product."""
    br = results.get("breakdown", [])
    if not br:
        return "(no breakdown in this run)"
    parts = ["forward", "loss", "backward_params", "update", "zero_grad"]
    cols = ["plain"] + [f"plain:{p}" for p in parts] + ["fast:update", "fast", "gemm", "data_grad"]
    head = ["step (SGD.step)"] + parts + ["update, kernel", "step with kernel", "GEMM floor",
                                          "data-grad product", "step / GEMM"]
    lines = ["| size | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for size in br[0]:
        med = {c: statistics.median(r[size][c] for r in br) for c in cols}
        ratio = statistics.median(r[size]["plain"] / r[size]["gemm"] for r in br)
        lines.append(f"| {size} | " + " | ".join(_us(med[c]) for c in cols) + f" | {ratio:.2f} |")
    return "\n".join(lines)


def machine_table(machine: dict[str, Any]) -> str:
    lines = [f"- CPU: {machine['cpu']} ({machine['cpus']} CPUs); Python {machine['python']}, "
             f"NumPy {machine['numpy']}, PyTorch {machine.get('torch')}",
             f"- threads per library: {machine['threads']} "
             "(OPENBLAS/OMP/MKL_NUM_THREADS in every timed process)",
             f"- load average (1 min) at start / end: {machine['loadavg_start'][0]:.2f} / "
             f"{machine.get('loadavg_end', [float('nan')])[0]:.2f}; busy-loop processes: only in the "
             "threads family",
             f"- kernel-changing environment variables as the timed processes saw them: {machine['env']}"]
    for name, pools in machine.get("pools", {}).items():
        lines.append(f"- pools in a `{name}` process (threadpoolctl): " + "; ".join(
            ", ".join(f"{k}={v}" for k, v in pool.items()) for pool in pools))
    return "\n".join(lines)
