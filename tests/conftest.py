"""Every test starts from float32 defaults and a fixed seed, and leaves them so."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


@pytest.fixture(autouse=True)
def _fresh_defaults():
    mt.set_default_dtype(np.float32)
    mt.manual_seed(0)
    yield
    mt.set_default_dtype(np.float32)


@pytest.fixture
def float64():
    """Create modules in float64 (for gradchecks and tight oracle comparisons)."""
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)
