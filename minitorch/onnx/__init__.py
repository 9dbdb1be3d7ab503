"""ONNX export: ``mt.onnx.export(model, path, input_shape)`` (needs the optional ``onnx`` package)."""

from minitorch.onnx import emitters_more  # noqa: F401  (registers the issue-15 layers' emitters)
from minitorch.onnx.exporter import EMITTERS, NOT_EXPORTABLE, export

__all__ = ["EMITTERS", "NOT_EXPORTABLE", "export"]
