"""ONNX emitters of the 1-D pools: MaxPool1d, AvgPool1d, AdaptiveMaxPool1d, AdaptiveAvgPool1d.

Each layer computes as its 2-D twin on (N, C, 1, L) with a (1, k) window (pooling1d.py), and so does
its graph: Unsqueeze to (N, C, 1, L), the 2-D twin's emitter (torch's padding, ceil_mode overhang and
divisors, written once there), Squeeze back to (N, C, OL). MaxUnpool1d stays in ``NOT_EXPORTABLE``: it
takes the indices as a second input, and a graph here has one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.layers.adaptive_max_pool import AdaptiveMaxPool2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minitorch.layers.pooling1d import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, MaxPool1d
from minitorch.module import Module
from minitorch.onnx.graph import _Graph
from minitorch.onnx.registry import EMITTERS, emitter
from minitorch.onnx.validation import _BATCHED_RANK

# an unbatched (C, L) input is refused: the graph's first axis is the batch
_BATCHED_RANK.update({MaxPool1d: 3, AvgPool1d: 3, AdaptiveMaxPool1d: 3, AdaptiveAvgPool1d: 3})


def _twin(m: Any) -> Module:
    """The 2-D pool m's forward runs on (N, C, 1, L), built from m's settings as they are now."""
    who = type(m).__name__
    if getattr(m, "return_indices", False):  # ONNX's Indices count across N and C too; one graph output
        raise TypeError(f"onnx.export: {who}(return_indices=True) has no ONNX form here (its output is a "
                        f"tuple); export the model with return_indices=False")
    if isinstance(m, MaxPool1d):
        k, s, p, d = m._geometry()
        return MaxPool2d((1, k), (1, s), (0, p), (1, d), False, m.ceil_mode)
    if isinstance(m, AvgPool1d):
        k, s, p, _ = m._geometry()
        return AvgPool2d((1, k), (1, s), (0, p), m.ceil_mode, m.count_include_pad)
    if isinstance(m, AdaptiveMaxPool1d):
        return AdaptiveMaxPool2d((1, m._size()))
    return AdaptiveAvgPool2d((1, m._size()))


@emitter(MaxPool1d, AvgPool1d, AdaptiveMaxPool1d, AdaptiveAvgPool1d)
def _pool1d(g: _Graph, m: Any, x: str, shape: tuple[int, ...]) -> str:
    plane = _twin(m)
    height = g.const([2], "height_axis", np.int64)
    x4 = g.op("Unsqueeze", [x, height], "pool1d")  # (N, C, 1, L)
    y4 = EMITTERS[type(plane)](g, plane, x4, (*shape[:2], 1, shape[2]))
    return g.op("Squeeze", [y4, height], "pool1d")  # (N, C, OL)
