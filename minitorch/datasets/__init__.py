"""Small data sets that ship with the package (no network needed)."""

from minitorch.datasets.digits import DIGITS_CLASSES, load_digits
from minitorch.datasets.iris import IRIS_CLASSES, IRIS_FEATURES, load_iris
from minitorch.datasets.mnist import load_mnist
from minitorch.datasets.synthetic import make_spirals
from minitorch.datasets.text import load_text

__all__ = ["DIGITS_CLASSES", "IRIS_CLASSES", "IRIS_FEATURES", "load_digits", "load_iris", "load_mnist",
           "make_spirals"]
__all__ += ["load_text"]
