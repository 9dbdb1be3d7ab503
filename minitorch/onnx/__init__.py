"""ONNX export: ``mt.onnx.export(model, path, input_shape)`` (needs the optional ``onnx`` package).

``exporter.py`` walks the model and writes the file; ``graph.py`` is the graph under construction,
``registry.py`` the emitters by class, ``validation.py`` the checks around them; ``emitters*.py`` hold
the emitters themselves (imported here, which registers them).
"""

from minitorch.onnx import (  # noqa: F401  (registration)
    emitters,
    emitters_activations,
    emitters_conv,
    emitters_more,
    emitters_norm,
    emitters_pad,
    emitters_pool1d,
)
from minitorch.onnx.exporter import EMITTERS, NOT_EXPORTABLE, export

__all__ = ["EMITTERS", "NOT_EXPORTABLE", "export"]
