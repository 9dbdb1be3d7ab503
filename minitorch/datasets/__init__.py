"""Small data sets that ship with the package (no network needed)."""

from minitorch.datasets.iris import IRIS_CLASSES, IRIS_FEATURES, load_iris
from minitorch.datasets.synthetic import make_spirals

__all__ = ["IRIS_CLASSES", "IRIS_FEATURES", "load_iris", "make_spirals"]
