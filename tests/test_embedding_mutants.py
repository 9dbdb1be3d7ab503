"""Holes that mutation testing found in Embedding's kernels (``minitorch/kernels/embedding.py``): each
test here fails on a mutant of that code that the other tests let pass (the mutant is named in the
test's docstring).

- ``scatter_rows`` takes rows of no elements (dim 0, or a 0 in a trailing axis) as the plain form does:
  zeros of the plain shape, not an error from the row-as-one-item view (``_rows_of``);
- ``scatter_rows`` with no ids gives zeros of the rows' dtype and trailing shape, as the plain form;
- ``scatter_rows`` of 1-D rows (one number per id) scatters numbers: neither array is viewed as rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from bitwise import assert_bitwise

from minitorch.kernels import embedding as fast


def _plain_scatter(num_rows, ids, rows):
    out = np.zeros((num_rows,) + rows.shape[1:], dtype=rows.dtype)
    np.add.at(out, ids, rows)
    return out


@pytest.mark.parametrize("trailing", [(0,), (2, 0), (0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_scatter_takes_rows_of_no_elements(trailing, dtype):
    """Mutant: ``_rows_of``'s ``or a.size == 0`` dropped (then a (5, 0) gradient is reshaped to
    (5, -1), a ValueError). The kernel gives the plain form's zeros of shape (num_rows,) + trailing;
    scatter_add_rows leaves such a target as np.add.at does."""
    ids = np.array([0, 3, 3, 1])
    rows = np.zeros((len(ids),) + trailing, dtype)
    assert_bitwise(fast.scatter_rows(5, ids, rows), _plain_scatter(5, ids, rows))
    target = np.zeros((5,) + trailing, dtype)
    fast.scatter_add_rows(target, ids, rows)
    assert_bitwise(target, _plain_scatter(5, ids, rows))


@pytest.mark.parametrize("trailing", [(3,), (2, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_scatter_with_no_ids_gives_zeros_of_the_rows_dtype(trailing, dtype):
    """Mutant: the no-ids return's ``dtype=rows.dtype`` -> ``np.float64``. An empty batch's gradient
    is zeros (num_rows,) + trailing in the rows' dtype (a float32 Embedding keeps a float32 gradient)."""
    ids = np.zeros(0, dtype=np.int64)
    rows = np.zeros((0,) + trailing, dtype)
    assert_bitwise(fast.scatter_rows(5, ids, rows), _plain_scatter(5, ids, rows))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_scatter_takes_one_number_per_id(dtype):
    """rows of shape (len(ids),): _rows_of leaves both the gradient and the sums element-wise (no
    row view for 1-D arrays), so the scatter assigns numbers, as the plain form adds them."""
    ids = np.array([0, 3, 3, 1])
    rows = np.array([1.5, -0.0, 2.0, -0.0], dtype)
    assert_bitwise(fast.scatter_rows(5, ids, rows), _plain_scatter(5, ids, rows))
