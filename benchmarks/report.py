"""Ratios against the issue's targets, and the printed table."""

from __future__ import annotations

import statistics
from typing import Any

TARGETS = {  # name: (comparison, threshold)
    "mlp_vs_torch": (">=", 1.05), "mlp_vs_sklearn": (">=", 2.0), "step_over_gemm": ("<=", 1.3),
    "adam_vs_torch": (">=", 1.05), "iris_vs_torch": (">=", 5.0), "inference_vs_torch": (">=", 1.0),
    "import_minitorch_s": ("<=", 0.15), "peak_rss_vs_torch": ("<=", 0.25),
}


def _median(entry: dict | None, name: str) -> float | None:
    return entry[name]["median_s"] if entry and name in entry else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def _paired(entry: dict | None, a: str, b: str) -> float | None:
    """Median over rounds of time(a) / time(b), both timed in the same round (seconds apart)."""
    if not entry or a not in entry or b not in entry:
        return None
    return statistics.median(x / y for x, y in zip(entry[a]["rounds_s"], entry[b]["rounds_s"], strict=True))


def _verdict(target: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, threshold = TARGETS[target]
    ok = value >= threshold if op == ">=" else value <= threshold
    return "met" if ok else "MISSED"


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Every target ratio with its verdict; ratios of times, so > 1 means MiniTorch is faster."""
    rows: list[dict[str, Any]] = []

    def add(target: str, where: str, value: float | None, variant: str = "minitorch") -> None:
        rows.append({"target": target, "where": where, "variant": variant, "value": value,
                     "goal": " ".join(map(str, TARGETS[target])), "verdict": _verdict(target, value)})

    for batch, entry in results["mlp_sgd"].items():
        add("mlp_vs_torch", f"batch {batch}", _paired(entry, "torch", "minitorch"))
        add("mlp_vs_sklearn", f"batch {batch}", _paired(entry, "sklearn", "minitorch"))
        add("step_over_gemm", f"batch {batch}", _paired(entry, "minitorch", "gemm"))
    for batch, entry in (results["mlp_adam"] or {128: None}).items():
        add("adam_vs_torch", f"batch {batch}", _paired(entry, "torch", "minitorch"))
    iris = results["iris_step"]
    for variant in ("minitorch", "minitorch_proposed"):
        add("iris_vs_torch", "4-16-3, batch 16", _paired(iris, "torch", variant), variant)
    add("inference_vs_torch", "1 sample", _paired(results["inference"], "torch", "minitorch"))
    fresh = results["fresh"]
    add("import_minitorch_s", "fresh process", fresh.get("import_minitorch_s"))
    add("peak_rss_vs_torch", "200 steps, batch 128",
        _ratio(fresh.get("peak_rss_minitorch_mb"), fresh.get("peak_rss_torch_mb")))
    return {"targets": rows}


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def table(results: dict[str, Any]) -> str:
    lines = ["", "MLP 784-512-256-10, ReLU, softmax cross-entropy, float32: one training step with SGD",
             "samples/s (median over interleaved rounds); ratios: median over rounds of the same round's",
             "ratio. GEMMs = the 8 matrix products of the step alone (contenders.gemm_products)", ""]
    head = f"{'batch':>6} {'MiniTorch':>10} {'PyTorch':>10} {'sklearn':>10} {'GEMMs':>10}"
    lines.append(head + f" | {'MT/PyTorch':>10} {'MT/sklearn':>10} {'step/GEMM':>10}")
    for batch, entry in results["mlp_sgd"].items():
        b = int(batch)
        cols = [_num(_ratio(b, _median(entry, k))) for k in ("minitorch", "torch", "sklearn", "gemm")]
        ratios = [_paired(entry, "torch", "minitorch"), _paired(entry, "sklearn", "minitorch"),
                  _paired(entry, "minitorch", "gemm")]
        lines.append(f"{b:>6} " + " ".join(f"{x:>10}" for x in cols) + " | "
                     + " ".join(f"{_num(r, '{:.2f}'):>10}" for r in ratios))
    lines.append(f"{'target':>6} {'':>43} | {'>= 1.05':>10} {'>= 2':>10} {'<= 1.3':>10}")
    lines += ["", "Other targets (ratios of times: > 1 means MiniTorch is faster)", ""]
    lines.append(f"{'target':<20} {'where':<22} {'variant':<20} {'value':>8} {'goal':>8}  verdict")
    for row in results["summary"]["targets"]:
        lines.append(f"{row['target']:<20} {row['where']:<22} {row['variant']:<20} "
                     f"{_num(row['value'], '{:.3f}'):>8} {row['goal']:>8}  {row['verdict']}")
    lines += ["", "Times (median per call):"]
    timed = {"Iris step": results["iris_step"], "inference": results["inference"]}
    timed |= {f"cross-entropy fwd+bwd {shape}": entry for shape, entry in results["cross_entropy"].items()}
    for name, entry in timed.items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v['median_s'] * 1e6:,.1f} us"
                                                for k, v in entry.items()))
    if results["mlp_adam"]:
        for batch, entry in results["mlp_adam"].items():
            lines.append(f"  Adam step, batch {batch}: "
                         + ", ".join(f"{k} {v['median_s'] * 1e6:,.0f} us" for k, v in entry.items()))
    else:
        lines.append("  Adam step, batch 128: n/a (no mt.Adam in this minitorch)")
    fresh = results["fresh"]
    lines.append(f"  fresh processes (median of {fresh['runs']}): "
                 + ", ".join(f"{k} {v:.3f}" for k, v in fresh.items() if k != "runs"))
    machine = results["machine"]
    lines.append(f"  load average at start {machine['loadavg_start']}, at end {machine.get('loadavg_end')}")
    return "\n".join(lines)
