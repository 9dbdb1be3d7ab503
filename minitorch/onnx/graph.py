"""An ONNX graph under construction (opset 17): its nodes, its initializers (constants) and its dtype.

Every emitter writes into one ``_Graph`` through ``op`` (a node) and ``const`` (an initializer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

OPSET = 17
IR_VERSION = 8  # the IR of opset 17's ONNX release: read by every runtime since 2022


class _Graph:
    """Nodes and initializers under construction; every name made unique."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0
        # (id of an array given, dtype) -> (its initializer, the array, kept alive so its id is
        # not reused): a layer repeated in the model (model *= 2) stores its weights once
        self._arrays: dict[tuple[int, str], tuple[str, np.ndarray]] = {}

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        dtype = np.dtype(self.dtype if dtype is None else dtype)
        key = (id(value), dtype.str)
        if isinstance(value, np.ndarray) and key in self._arrays:
            return self._arrays[key][0]
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        if isinstance(value, np.ndarray):
            self._arrays[key] = (name, value)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, out: str | None = None, **attrs: Any) -> str:
        out = out or self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


# ONNX keeps a float attribute (alpha, epsilon) as a float32: a float64 graph takes such a number as
# a constant of its own dtype and writes the op out from its formula, else it computes at float32's 1e-8
def _is_float64(g: _Graph) -> bool:
    return np.dtype(g.dtype) == np.float64
