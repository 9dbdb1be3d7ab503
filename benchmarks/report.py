"""Tables and verdicts from a bench.py run: per-row medians and spread, paired ratios, the issue's targets."""

from __future__ import annotations

import statistics
from typing import Any

KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")  # what picks BLAS kernels

# (key, issue, label, goal, "min"|"max"): "min" = the ratio must be at least goal, "max" = at most.
TARGETS = [
    ("fit_vs_torch_b32", 12, "MLP 784-512-256-10 step, mt.fit path vs PyTorch, b32 (x faster)", 1.10, "min"),
    ("fit_vs_torch_b128", 12, "the same, batch 128", 1.0, "min"),
    ("fit_vs_torch_b512", 12, "the same, batch 512", 1.0, "min"),
    ("fit_vs_numpy_b32", 12, "MLP step, mt.fit path vs hand-written NumPy, b32 (x faster)", 1.0, "min"),
    ("fit_vs_numpy_b128", 12, "the same, batch 128", 1.0, "min"),
    ("fit_vs_numpy_b512", 12, "the same, batch 512", 1.0, "min"),
    ("readme_over_fit_b32", 12, "README loop / (fit path + data-gradient product), batch 32", 1.05, "max"),
    ("readme_over_fit_b128", 12, "the same, batch 128", 1.05, "max"),
    ("readme_over_fit_b512", 12, "the same, batch 512", 1.05, "max"),
    ("step_over_gemm_b32", 12, "step time / its GEMMs alone (breakdown), batch 32", 1.4, "max"),
    ("step_over_gemm_b128", 12, "the same, batch 128", 1.25, "max"),
    ("step_over_gemm_b512", 12, "the same, batch 512", 1.2, "max"),
    ("iris_vs_torch", 12, "Iris-size step (4-16-3, batch 16) vs PyTorch (x faster)", 6.0, "min"),
    ("infer_vs_torch", 12, "single-sample inference, 784 model, vs PyTorch (x faster)", 1.2, "min"),
    ("conv_over_torch", 12, "Conv2d(32->64, 3x3) fwd+bwd on (64,32,14,14), time / PyTorch's", 1.5, "max"),
    ("threads_default_over_one", 12, "small MLP, default threads / 1 thread, 1 core busy (time)", 1.1, "max"),
    ("lstm_over_torch", 13, "LSTM(64, 128) fwd+bwd on (T=64, N=32), time / PyTorch's", 1.5, "max"),
    ("embedding_over_torch", 13, "Embedding backward, 30 % repeated ids, time / PyTorch's", 1.0, "max"),
    ("transformer_over_torch", 14, "TransformerEncoderLayer d128 fwd+bwd, time / PyTorch's", 1.5, "max"),
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
        out[f"step_over_gemm_b{b}"] = paired([r[f"mlp b{b}"].get("fit", r[f"mlp b{b}"]["plain"]) for r in br],
                                             [r[f"mlp b{b}"]["gemm"] for r in br])
    iris, infer = rows.get("iris 4-16-3 sgd b16", {}), rows.get("infer 784-512-256-10 n1", {})
    out["iris_vs_torch"] = paired(iris.get("torch", []), iris.get("mt-fit", []))
    out["infer_vs_torch"] = paired(infer.get("torch", []), infer.get("mt", []))
    conv = next((v for k, v in rows.items() if k.startswith("conv2d 32->64")), {})
    out["conv_over_torch"] = paired(conv.get("mt", []), conv.get("torch", []))
    small = next((v for k, v in rows.items() if k.startswith("mlp 64-128-128-10")), {})
    out["threads_default_over_one"] = paired(small.get("mt-default", []), small.get("mt-1thread", []))
    for key, prefix in (("lstm", "lstm-"), ("embedding", "embedding-"), ("transformer", "transformer-")):
        row = next((v for k, v in rows.items() if k.startswith(prefix)), {})
        out[f"{key}_over_torch"] = paired(row.get("minitorch", []), row.get("torch", []))
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


def targets_table(results: dict[str, Any], *others: dict[str, Any]) -> str:
    """Markdown: every target of issues 12-14 with its goal, this run's ratio and the verdict ("n/a"
    where the run did not measure its rows); each of ``others`` (runs on other CPUs) adds a measured
    and a verdict column headed by its CPU."""
    runs = (results, *others)
    values = [ratios(run) for run in runs]
    if others:
        heads = [f"{cpu_label(run['machine'])}: measured | verdict" for run in runs]
        lines = ["| issue | target | goal | " + " | ".join(heads) + " |",
                 "|---:|---|---:|" + "---:|---|" * len(runs)]
    else:
        lines = ["| issue | target | goal | measured | verdict |", "|---:|---|---:|---:|---|"]
    for key, issue, label, goal, kind in TARGETS:
        sign = ">=" if kind == "min" else "<="
        cells = []
        for run_values in values:
            v = run_values.get(key)
            cells.append(f"{'n/a' if v is None else f'{v:.2f}'} | {verdict(v, goal, kind)}")
        lines.append(f"| {issue} | {label} | {sign} {goal:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_label(machine: dict[str, Any]) -> str:
    """The CPU's name with its model number where the run recorded it ("Intel(R) Xeon(R) Processor
    model 167"), and the run's date."""
    ident = machine.get("cpu_id", {})
    model = f" model {ident['model']}" if "model" in ident else ""
    return f"{machine['cpu']}{model}, {machine.get('date', '?')[:10]}"


def breakdown_table(results: dict[str, Any]) -> str:
    """Markdown: median over rounds of each part of the mt.fit step (µs), the GEMM floor, the extra
    product."""
    br = results.get("breakdown", [])
    if not br:
        return "(no breakdown in this run)"
    parts = ["forward", "loss", "backward_params", "update", "zero_grad"]
    fit = "fit" in next(iter(br[0].values()))  # (runs before the whole-step kernel timed no "fit")
    cols = (["fit"] if fit else []) + ["plain"] + [f"plain:{p}" for p in parts] + [
        "fast:update", "fast", "gemm", "data_grad"]
    head = (["mt.fit's step"] if fit else []) + ["five calls (SGD.step)"] + parts + [
        "update, kernel", "five calls with kernel", "GEMM floor", "data-grad product", "step / GEMM"]
    lines = ["| size | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for size in br[0]:
        med = {c: statistics.median(r[size][c] for r in br) for c in cols}
        ratio = statistics.median(r[size]["fit" if fit else "plain"] / r[size]["gemm"] for r in br)
        lines.append(f"| {size} | " + " | ".join(_us(med[c]) for c in cols) + f" | {ratio:.2f} |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "-" if value != value else str(value) if isinstance(value, int) else f"{value:.1f}"


def quiet_estimate_s(process: dict[str, Any], settings: dict[str, Any]) -> float:
    """What one process would take on a quiet machine, from what it spent under load.

    Start-up, imports and building are CPU-bound on one thread: their CPU seconds. Warm-up and timed
    blocks are wall-clock budgets (``warm_s``, ``blocks`` x ``block_s``) unless their minimum calls
    take longer: the larger of the budget and their CPU seconds. At 1 thread this is close to the
    quiet wall time; at 2 threads the CPU includes pool threads spinning, so it errs high.
    """
    rows = process.get("rows", {}).values()
    if not rows:  # breakdown.py: 4 sizes x 5 timed steps, each warm-up + blocks
        return max(process["cpu_s"], 20 * (settings["warm_s"] + settings["blocks"] * settings["block_s"]))
    budget_cpu = sum(r.get("warm_cpu_s", 0.0) + r.get("timed_cpu_s", 0.0) for r in rows)
    budgets = sum(max(settings["warm_s"], r.get("warm_cpu_s", 0.0))
                  + max(settings["blocks"] * settings["block_s"], r.get("timed_cpu_s", 0.0)) for r in rows)
    return process["cpu_s"] - budget_cpu + budgets


def cost_table(results: dict[str, Any]) -> str:
    """Markdown: where the run's wall time went, per family: processes, wall and CPU seconds, inside
    the processes start-up (interpreter, imports, exit), building, warm-up and timed blocks (wall),
    and the quiet-machine estimate (``quiet_estimate_s``) where the run recorded per-phase CPU."""
    settings = results.get("settings")
    lines = ["| family | processes | wall s | CPU s (all threads) | start-up + exit s | build s | warm-up s "
             "| timed s | quiet-machine estimate s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    nan = float("nan")
    totals = [0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    for family, cost in results.get("cost", {}).items():
        procs = cost["processes"]
        rows = [r for p in procs for r in p.get("rows", {}).values()]
        inside = [p["in_worker_s"] for p in procs if "in_worker_s" in p]
        estimate = (sum(quiet_estimate_s(p, settings) for p in procs)
                    if settings and all("warm_cpu_s" in r for r in rows) else nan)
        parts = [sum(p["wall_s"] for p in procs) - sum(inside), sum(r["build_s"] for r in rows),
                 sum(r["warm_s"] for r in rows), sum(r["timed_s"] for r in rows)] if rows else [nan] * 4
        cells = [len(procs), cost["wall_s"], sum(p["cpu_s"] for p in procs), *parts, estimate]
        # the parts add up over the families that have them; the estimate only if every family has one
        totals = [t + (c if c == c or i == 7 else 0)
                  for i, (t, c) in enumerate(zip(totals, cells, strict=True))]
        lines.append(f"| {family} | " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("| all | " + " | ".join(_cell(c) for c in totals) + " |")
    return "\n".join(lines)


def machine_table(machine: dict[str, Any], settings: dict[str, Any] | None = None) -> str:
    ident = machine.get("cpu_id", {})
    lines = [f"- CPU: {machine['cpu']} ({machine['cpus']} CPUs); Python {machine['python']}, "
             f"NumPy {machine['numpy']}, PyTorch {machine.get('torch')}"]
    if ident:
        lines.append(f"- CPU identity: {ident.get('vendor')} family {ident.get('family')} model "
                     f"{ident.get('model')} stepping {ident.get('stepping')}; kernel-choosing flags "
                     f"{', '.join(ident.get('flags', [])) or 'none of ' + ', '.join(KERNEL_FLAGS)}; caches "
                     + ", ".join(f"{k} {v}" for k, v in ident.get("caches", {}).items()))
    lines += [f"- threads per library: {machine['threads']} "
             "(OPENBLAS/OMP/MKL_NUM_THREADS in every timed process)",
             f"- load average (1 min) at start / end: {machine['loadavg_start'][0]:.2f} / "
             f"{machine.get('loadavg_end', [float('nan')])[0]:.2f}; busy-loop processes: only in the "
             "threads family",
             f"- kernel-changing environment variables as the timed processes saw them: {machine['env']}"]
    if settings:
        quick = " (--quick)" if settings.get("quick") else ""
        left_out = f"; contenders left out: {', '.join(settings['skip'])}" if settings.get("skip") else ""
        lines.append(f"- settings{quick}: {settings['rounds']} rounds (a fresh process per contender each), "
                     f"{settings['blocks']} timed blocks of ~{settings['block_s']} s per row and process "
                     f"after >= {settings['warm_s']} s of warm-up"
                     + left_out)
    if "seconds" in machine:
        lines.append(f"- wall time {machine['seconds']} s; CPU time of the timed processes "
                     f"{machine.get('timed_cpu_s', float('nan'))} s (with the busy-loop processes "
                     f"{machine.get('children_cpu_s', float('nan'))} s)")
    for name, pools in machine.get("pools", {}).items():
        lines.append(f"- pools in a `{name}` process (threadpoolctl): " + "; ".join(
            ", ".join(f"{k}={v}" for k, v in pool.items()) for pool in pools))
    return "\n".join(lines)


if __name__ == "__main__":  # python benchmarks/report.py RUN.json [OTHER_CPU_RUN.json ...]: the targets
    import json
    import sys

    print(targets_table(*(json.loads(open(path).read()) for path in sys.argv[1:])))
