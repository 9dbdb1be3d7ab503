"""Shared hypothesis strategies: shapes and float arrays for property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

batch_sizes = st.integers(min_value=1, max_value=6)
features = st.integers(min_value=1, max_value=6)


def float_arrays(shape, dtype=np.float64, bound: float = 10.0) -> st.SearchStrategy:
    """Finite arrays of ``shape`` with values in [-bound, bound]."""
    width = 64 if dtype == np.float64 else 32
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=width)
    return hnp.arrays(dtype, shape, elements=elements)


seeds = st.integers(min_value=0, max_value=2**32 - 1)
