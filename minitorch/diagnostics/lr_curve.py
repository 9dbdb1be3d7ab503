"""The picture of ``lr_find``'s sweep: the loss against the learning rate, the suggestion marked.

Needs matplotlib (``minitorch.plot_common``: the optional extra, imported when drawn). Re-exported
by ``minitorch.plot`` as ``lr_curve``; ``LRFinderResult.plot`` draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.plot_common import PathLike, figure, save


def lr_curve(result: Any, path: PathLike | None = None) -> Any:
    """lr_find's losses (raw and smoothed) against the learning rate on a log axis, the suggestion
    marked; saved as PNG to ``path`` (returns the path) or returned as a matplotlib Figure."""

    fig = figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(result.lrs, result.losses, color="0.7", label="batch loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed")
    label = f"suggestion {result.suggestion:.2g}" + (" (flat curve: noise)" if result.flat else "")
    ax.axvline(result.suggestion, color="C3", linestyle="--", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    finite = [v for v in result.smoothed if np.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, max(finite[0], min(finite)) * 1.5)
    ax.legend()
    return fig if path is None else save(fig, path)
