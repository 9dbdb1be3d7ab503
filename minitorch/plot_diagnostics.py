"""Pictures of backprop: ``diagnostics`` (activation and gradient histograms, per-layer curves,
update:data ratios), ``lr_curve`` (lr_find's sweep, drawn in ``diagnostics/lr_curve.py``) and
``graph`` (the module graph as SVG text).

``diagnostics`` and ``lr_curve`` need matplotlib (drawn as ``minitorch.plot`` draws, on the Agg
canvas); ``graph`` writes SVG by hand and needs nothing but NumPy. Re-exported by ``minitorch.plot``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from minitorch.diagnostics.findings import Report
from minitorch.diagnostics.lr_curve import lr_curve  # noqa: F401 (drawn in diagnostics/, shown here)
from minitorch.diagnostics.probe import (
    SavedState,
    Unit,
    drop_new_frames,
    frame_depths,
    units_backward,
    units_forward,
)
from minitorch.module import Module
from minitorch.parameter import data_of
from minitorch.plot_common import figure, save

PathLike = str | os.PathLike[str]


def diagnostics(source: Any, path: PathLike, title: str | None = None) -> str:
    """Draw a diagnose ``Report``, a list of them, or a ``Diagnostics`` callback's history, as PNG.

    Four panels, from the newest report: the distribution of each layer's outputs (activations:
    look for spikes at 0 or at +-1) and of the gradient entering each layer; per layer, the
    output's std and the gradient's norm (log scale: a steady fall through depth is vanishing);
    and the update:data ratio of each weight (log10) per check, with the healthy ~1e-3 marked.
    Returns the path written.
    Example:
        mt.plot.diagnostics(diag, "outputs/diagnostics.png")   # diag = mt.Diagnostics(every=50)
    """
    reports = _reports(source)
    last = reports[-1]

    fig = figure(figsize=(12, 8))
    axes = [fig.add_subplot(2, 2, i + 1) for i in range(4)]
    shown = [s for s in last.layers if not s.has_params] or last.layers
    for s in shown:
        _density(axes[0], s.values, f"{s.name} {s.kind}")
        _density(axes[1], s.grads, f"{s.name} {s.kind}")
    axes[0].set_title("layer outputs (forward)")
    axes[1].set_title("gradient entering each layer (backward)")
    for ax in axes[:2]:
        if shown:
            ax.legend(fontsize=7)
    names = [s.name or "<model>" for s in last.layers]
    index = np.arange(len(names))
    axes[2].plot(index, [s.std for s in last.layers], "o-", label="output std")
    axes[2].plot(index, [np.nan if s.grad_norm is None else s.grad_norm for s in last.layers], "s-",
                 label="|dy| entering")
    axes[2].set_yscale("log")
    axes[2].set_xticks(index, [f"{n}\n{s.kind}" for n, s in zip(names, last.layers, strict=True)], fontsize=7)
    axes[2].set_title("per layer, forward order")
    axes[2].legend(fontsize=7)
    _update_ratios(axes[3], reports)
    kinds = sorted({f"{f.kind} ({f.layer})" for r in reports for f in r.findings})
    fig.suptitle(title or ("findings: " + ", ".join(kinds) if kinds else "no findings"))
    return save(fig, path)


def _reports(source: Any) -> list[Report]:
    if isinstance(source, Report):
        return [source]
    history = getattr(source, "history", source)
    reports = list(history) if isinstance(history, Sequence) else []
    if not reports or not all(isinstance(r, Report) for r in reports):
        raise ValueError(
            "plot.diagnostics: expected a Report (mt.diagnose), a list of Reports, or an mt.Diagnostics "
            f"callback that has run, got {type(source).__name__}"
        )
    return reports


def _density(ax: Any, values: np.ndarray | None, label: str) -> None:
    if values is None or not np.isfinite(values).all() or values.size < 2:
        return
    counts, edges = np.histogram(values, bins=50, density=True)
    ax.plot((edges[:-1] + edges[1:]) / 2, counts, label=label)


def _update_ratios(ax: Any, reports: list[Report]) -> None:
    steps = [r.step if r.step is not None else i for i, r in enumerate(reports)]
    names = [p.name for p in reports[-1].params if len(p.shape) >= 2]
    for name in names:
        ratios = []
        for r in reports:
            found = next((p.update_ratio for p in r.params if p.name == name), None)
            ratios.append(np.log10(found) if found else np.nan)
        ax.plot(steps, ratios, "o-" if len(steps) < 20 else "-", label=name)
    ax.axhline(-3, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("log10 update:data")
    ax.set_title("update:data per weight (healthy ~ -3)")
    if names:
        ax.legend(fontsize=7)


# --------------------------------------------------------------------------- graph
BOX_W, BOX_H, GAP, MARGIN = 440, 46, 46, 20


def graph(
    model: Module,
    input_shape: tuple[int, ...],
    path: PathLike | None = None,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    loss_fn: Any = None,
) -> str:
    """The module graph of ``model`` as SVG text: one box per layer (walked as ``mt.diagnose`` walks
    it), the forward shape on each edge, and each Parameter's shape (with its gradient norm when
    it has a gradient, e.g. after a backward). With ``loss_fn`` and targets ``y``, a backward is
    run too: each edge also shows the norm of the gradient flowing back along it (|dL/d.|, the
    gradient of the loss w.r.t. that tensor) and each Parameter its gradient's norm.

    The input is ``x``, or N(0, 1) values of ``input_shape`` from ``np.random.default_rng(0)``.
    Nothing is changed (gradients, buffers, the random generator; no forward call left waiting).
    Written without graphviz; saved to ``path`` when given. Returns the SVG text.
    Example:
        svg = mt.plot.graph(model, (8, 4), "outputs/model.svg")
    """
    if x is None:
        dtype = next((p.dtype for p in model.parameters()), np.dtype(np.float32))
        x = np.random.default_rng(0).standard_normal(tuple(input_shape)).astype(dtype)
    x = data_of(x)  # a Parameter input: its data (the walk's backward fills no grad of it)
    units, dx, params = _walk(model, x, y, loss_fn)
    svg = _svg(units, x, dx, params)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
    return svg


def _walk(model: Module, x: np.ndarray, y: Any, loss_fn: Any) -> tuple[list[Unit], Any, list[list[str]]]:
    """The units on x (and, with a loss, their backward); each unit's Parameter lines, read before
    the gradients are put back."""
    saved = SavedState(model, loss_fn)
    depths = frame_depths(model, loss_fn)
    try:
        dx = None
        if loss_fn is None:
            units, _ = units_forward(model, x)
        else:
            for p in model.parameters():
                p.grad = None
            units, out = units_forward(model, x)
            loss_fn(out, y)
            dx = units_backward(units, loss_fn.backward())
        return units, dx, [_param_lines(unit.module) for unit in units]
    finally:
        drop_new_frames(depths)
        saved.restore()


def _svg(units: list[Unit], x: np.ndarray, dx: Any, params: list[list[str]]) -> str:
    """A vertical chain of boxes: input, each unit, output; edge i carries the tensor between them."""
    boxes = [("input", f"x {_shape(x)}", [])]
    boxes += [(unit.name or "<model>", _title(unit.module), lines)
              for unit, lines in zip(units, params, strict=True)]
    boxes.append(("output", f"y {_shape(units[-1].y) if units else _shape(x)}", []))
    edges = [(x, dx)] + [(unit.y, unit.dy if dx is not None else None) for unit in units]
    tall = [BOX_H + 14 * len(lines) for _, _, lines in boxes]
    height = MARGIN * 2 + sum(tall) + GAP * (len(boxes) - 1)
    width = BOX_W + 2 * MARGIN + 240
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
             '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
             '<path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>']
    top = MARGIN
    for i, ((title, subtitle, lines), h) in enumerate(zip(boxes, tall, strict=True)):
        fill = "#eef3fb" if i in (0, len(boxes) - 1) else ("#fdf1e6" if lines else "#f4f4f4")
        parts.append(f'<rect x="{MARGIN}" y="{top}" width="{BOX_W}" height="{h}" rx="6" '
                     f'fill="{fill}" stroke="#555"/>')
        parts.append(_text(MARGIN + 10, top + 18, title, bold=True))
        parts.append(_text(MARGIN + 10, top + 34, subtitle))
        for j, line in enumerate(lines):
            parts.append(_text(MARGIN + 10, top + 48 + 14 * j, line, size=11))
        if i < len(edges):
            tensor, grad = edges[i]
            below, mid = top + h, MARGIN + BOX_W // 2
            parts.append(f'<line x1="{mid}" y1="{below}" x2="{mid}" y2="{below + GAP}" stroke="#444" '
                         'marker-end="url(#arrow)"/>')
            label = _shape(tensor) + (f"   |dL/d.| {_norm(grad)}" if grad is not None else "")
            parts.append(_text(mid + 10, below + GAP // 2 + 4, label, size=11, color="#205"))
        top += h + GAP
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _title(module: Module) -> str:
    text = f"{type(module).__name__}({module.extra_repr()})"
    return text if len(text) <= 58 else text[:55] + "..."


def _param_lines(module: Module) -> list[str]:
    lines = []
    for name, p in module.named_parameters():
        line = f"{name} {tuple(p.shape)}"
        if p.grad is not None:
            line += f"  |grad| {_norm(p.grad)}"
        lines.append(line)
    return lines


def _text(x: int, y: int, text: str, bold: bool = False, size: int = 12, color: str = "#111") -> str:
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x}" y="{y}" font-size="{size}" fill="{color}"{weight}>{escape(text)}</text>'


def _shape(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return "(" + ", ".join(str(n) for n in a.shape) + ")"
    if isinstance(a, tuple):
        return "(" + ", ".join(_shape(item) for item in a) + ")"
    return type(a).__name__


def _norm(a: Any) -> str:
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            return f"{float(np.linalg.norm(a.ravel())):.3g}"
    return "-"
