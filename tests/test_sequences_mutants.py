"""Holes that mutation testing found in the sequence kernels (``minitorch/kernels/sequences.py``): each
test here fails on a mutant of that code that the other tests let pass (the mutant is named in the
test's docstring).

- ``_rows_per_product`` follows its docstring's rule at the boundary M * N * K == _DIRECT_MNK too;
- ``project`` gives the plain form's dtype (NumPy's result type of x and W) for operands of two dtypes;
- ``project`` puts a product of PROJECT_SHARED_MIN elements or more in shared memory, a smaller one not.
"""

from __future__ import annotations

import numpy as np
import pytest

from minitorch.kernels import kernels_enabled, twin, use_kernels
from minitorch.kernels import sequences as fast
from minitorch.layers import _recurrence as plain


def _rule(rows: int, k: int, m: int) -> int:
    """_rows_per_product's docstring, by brute force: the largest divisor of rows whose block has
    M * N * K <= _DIRECT_MNK, or all rows when no divisor of at least _MIN_BLOCK_ROWS rows qualifies."""
    if rows == 0:
        return 1
    fits = [d for d in range(1, rows + 1)
            if rows % d == 0 and d * k * m <= fast._DIRECT_MNK and (d >= fast._MIN_BLOCK_ROWS or d == rows)]
    return max(fits, default=rows)


@pytest.mark.parametrize("k, m", [(350, 128), (70, 512), (100, 512), (128, 512), (64, 256), (350, 512),
                                  (1024, 4096), (1, 1)])
def test_rows_per_product_follows_its_rule_at_the_boundary(k, m):
    """Mutant: ``rows * k * m <= _DIRECT_MNK`` -> ``<``. With k * m = 350 * 128, 8 rows make a block of
    exactly _DIRECT_MNK multiply-adds: it qualifies (one product of 8 rows), not 2 blocks of 4."""
    assert 8 * 350 * 128 == 10 * 70 * 512 == 7 * 100 * 512 == fast._DIRECT_MNK  # boundaries in the grid
    for rows in range(0, 80):
        assert fast._rows_per_product(rows, k, m) == _rule(rows, k, m), (rows, k, m)


@pytest.mark.parametrize("x_dtype, w_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_projection_kernel_takes_the_plain_result_type_of_two_dtypes(x_dtype, w_dtype, with_bias):
    """Mutant: ``dtype = np.result_type(x, W)`` -> ``x.dtype``. A float32 x with float64 weights gives a
    float64 product in the plain form (x @ W.T); the kernel gives the same dtype and values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 5)).astype(x_dtype)
    W, b = rng.standard_normal((12, 5)).astype(w_dtype), rng.standard_normal(12).astype(w_dtype)
    b = b if with_bias else None
    before = kernels_enabled()
    use_kernels(False)
    try:
        expected = plain.project(x, W, b)
    finally:
        use_kernels(before)
    got = fast.project(x, W, b)
    assert got.dtype == expected.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14 * 5)


@pytest.mark.skipif(twin._state["dead"], reason="the twin needs Linux (fork, memfd)")
def test_projection_goes_to_shared_memory_from_project_shared_min_elements(monkeypatch):
    """Mutant: ``rows * G >= PROJECT_SHARED_MIN`` -> ``>``. With the twin available, a projection of
    exactly PROJECT_SHARED_MIN elements lies in shared memory (the loops hand the twin its rows without
    a copy); one row fewer lies in private memory."""
    monkeypatch.setattr(twin, "available", lambda: True)
    G, k = 512, 3
    rows = fast.PROJECT_SHARED_MIN // G
    assert rows * G == fast.PROJECT_SHARED_MIN
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((G, k)).astype(np.float32), rng.standard_normal(G).astype(np.float32)
    for n, shared in ((rows, True), (rows - 1, False)):
        for bias in (b, None):
            out = fast.project(rng.standard_normal((n, k)).astype(np.float32), W, bias)
            assert twin.shares(out) is shared, (n, bias is None)
