"""Small data sets that ship with the package (no network needed)."""

from minitorch.datasets.iris import IRIS_CLASSES, IRIS_FEATURES, load_iris

__all__ = ["IRIS_CLASSES", "IRIS_FEATURES", "load_iris"]
