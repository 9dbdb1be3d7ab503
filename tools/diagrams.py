"""Diagrams for the docs, drawn with matplotlib when the pages run (tests and the site build).

Called from invisible code blocks of the pages that show them, so a picture is redrawn from code
every time and never goes stale as a pasted image would.
"""

from __future__ import annotations

import os
from pathlib import Path

FORWARD, BACKWARD, PARAM = "#1f77b4", "#d62728", "#2ca02c"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _save(fig, path: str | os.PathLike[str]) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    return os.fspath(path)


def _box(ax, x: float, y: float, text: str, width: float = 1.5, color: str = "#f2f2f2") -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.35), width, 0.7, boxstyle="round,pad=0.05",
                                facecolor=color, edgecolor="#333333"))
    ax.text(x, y, text, ha="center", va="center", fontsize=12, family="monospace")


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], color: str, label: str = "",
           offset: float = 0.0) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": color, "lw": 1.6})
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + offset, label, ha="center",
                va="center", fontsize=10.5, color=color, family="monospace")


def training_step_diagram(path: str | os.PathLike[str]) -> str:
    """One step of Linear-ReLU-Linear + CrossEntropyLoss: forward values, backward gradients, update."""
    fig, ax = _figure(10.0, 5.2)
    xs = [0.7, 2.9, 5.0, 7.1, 9.2]
    names = ["x (N, 4)", "Linear\nW1, b1", "ReLU", "Linear\nW2, b2", "Cross-\nEntropy"]
    y_mid = 2.9
    for x, name in zip(xs, names, strict=True):
        _box(ax, x, y_mid, name, width=1.25, color="#ffffff" if x == xs[0] else "#f2f2f2")
    forward = ["x", "h=x@W1+b1", "a=max(h,0)", "z=a@W2+b2"]
    backward = ["dx=dh@W1.T", "dh=da*(h>0)", "da=dz@W2.T", "dz=(p-onehot)/N"]
    for i in range(4):
        left, right = xs[i] + 0.65, xs[i + 1] - 0.65
        _arrow(ax, (left, y_mid + 0.55), (right, y_mid + 0.55), FORWARD, forward[i], 0.3)
        _arrow(ax, (right, y_mid - 0.55), (left, y_mid - 0.55), BACKWARD, backward[i], -0.3)
    for x, grads in ((xs[1], "dW1 = x.T@dh\ndb1 = dh.sum(0)"), (xs[3], "dW2 = a.T@dz\ndb2 = dz.sum(0)")):
        _arrow(ax, (x, y_mid - 1.05), (x, 1.05), PARAM)
        ax.text(x, 0.6, grads, ha="center", va="center", fontsize=11, color=PARAM, family="monospace")
    ax.text(0.1, 4.75, "forward: z = model(x); L = loss_fn(z, y)", color=FORWARD, fontsize=12)
    ax.text(0.1, 4.35, "backward: model.backward(loss_fn.backward())", color=BACKWARD, fontsize=12)
    ax.text(5.6, 4.75, "update: opt.step()  W -= lr * W.grad", color=PARAM, fontsize=12)
    ax.text(xs[2], 0.6, "added into\nW.grad, b.grad", ha="center", va="center", fontsize=11, color=PARAM)
    return _save(fig, path)


def im2col_diagram(path: str | os.PathLike[str]) -> str:
    """A 3x3 image, its four 2x2 windows, and cols: one column per window, one row per kernel tap."""
    from matplotlib.patches import Rectangle

    fig, ax = _figure(11.0, 5.0)
    letters = "abcdefghi"
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    windows = [(0, 0), (0, 1), (1, 0), (1, 1)]
    x0, y0, cell = 0.6, 3.9, 0.8
    for r in range(3):
        for c in range(3):
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 1) * cell), cell, cell, facecolor="white",
                                   edgecolor="#333333"))
            ax.text(x0 + (c + 0.5) * cell, y0 - (r + 0.5) * cell, letters[3 * r + c], ha="center",
                    va="center", fontsize=13, family="monospace")
    for k, (r, c) in enumerate(windows):
        pad = 0.05 + 0.04 * k
        ax.add_patch(Rectangle((x0 + c * cell + pad, y0 - (r + 2) * cell + pad), 2 * cell - 2 * pad,
                               2 * cell - 2 * pad, fill=False, edgecolor=colors[k], lw=2))
    ax.text(x0 + 1.5 * cell, 1.0, "x (1, 1, 3, 3)\n2x2 kernel, stride 1", ha="center", fontsize=10)
    _arrow(ax, (3.4, 2.6), (5.0, 2.6), "#333333", "im2col", 0.3)
    cx, cy = 6.4, 4.3
    for k, (r, c) in enumerate(windows):
        taps = [letters[3 * (r + i) + (c + j)] for i in (0, 1) for j in (0, 1)]
        ax.text(cx + k * cell + 0.5 * cell, cy + 0.25, f"({r},{c})", ha="center", fontsize=9,
                color=colors[k])
        for t, letter in enumerate(taps):
            ax.add_patch(Rectangle((cx + k * cell, cy - (t + 1) * cell), cell, cell, facecolor="white",
                                   edgecolor=colors[k], lw=1.5))
            ax.text(cx + (k + 0.5) * cell, cy - (t + 0.5) * cell, letter, ha="center", va="center",
                    fontsize=13, family="monospace")
    for t, tap in enumerate(["(0,0)", "(0,1)", "(1,0)", "(1,1)"]):
        ax.text(cx - 0.15, cy - (t + 0.5) * cell, f"tap {tap}", ha="right", va="center", fontsize=9)
    ax.text(cx + 2 * cell, 0.3, "cols (K = 4 taps, M = 4 windows)\nY = weight.reshape(O, K) @ cols",
            ha="center", fontsize=10, family="monospace")
    return _save(fig, path)
