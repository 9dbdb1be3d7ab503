"""Fisher's Iris data (150 flowers, 4 measurements, 3 species), shipped as a CSV file."""

from __future__ import annotations

from importlib import resources

import numpy as np

from minitorch.dtypes import get_default_dtype

IRIS_FEATURES = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
IRIS_CLASSES = ("setosa", "versicolor", "virginica")


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Return X (150, 4) in the default dtype and y (150,) int64 class indices into IRIS_CLASSES."""
    text = resources.files("minitorch.datasets").joinpath("data/iris.csv").read_text()
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    X = np.array([row[:4] for row in rows], dtype=np.float64).astype(get_default_dtype())
    y = np.array([IRIS_CLASSES.index(row[4]) for row in rows], dtype=np.int64)
    return X, y
