"""A tuple of arrays (a module's several outputs) given to a layer is refused, not stacked by NumPy."""

import numpy as np
import pytest

import minitorch as mt


@pytest.mark.parametrize("layer", [mt.ReLU(), mt.Linear(3, 2), mt.Tanh()])
def test_a_tuple_of_outputs_is_refused(layer: mt.Module) -> None:
    pool = mt.MaxPool2d(1, return_indices=True)
    y, indices = pool(np.ones((1, 1, 1, 3)))
    with pytest.raises(TypeError, match=r"tuple of 2 items holding arrays.*MaxPool2d"):
        layer((y[0, 0], indices[0, 0]))


def test_a_nested_list_still_converts() -> None:
    np.testing.assert_array_equal(mt.ReLU()([[-1.0, 2.0]]), [[0.0, 2.0]])
