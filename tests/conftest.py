"""Every test starts from float32 defaults, a fixed seed and the run's kernels switch, and leaves them so."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


@pytest.fixture(autouse=True)
def _fresh_defaults():
    """Also the kernels switch as the run started (MINITORCH_KERNELS=0 runs the plain path throughout)."""
    kernels = mt.kernels.kernels_enabled()
    mt.set_default_dtype(np.float32)
    mt.manual_seed(0)
    yield
    mt.set_default_dtype(np.float32)
    mt.kernels.use_kernels(kernels)


@pytest.fixture
def float64():
    """Create modules in float64 (for gradchecks and tight oracle comparisons)."""
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)
