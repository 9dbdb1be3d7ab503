"""No test leaks global state into the next: the first test leaves every setting changed (as a test
that forgets its cleanup would), the second, which pytest runs right after it, finds the defaults.
The autouse fixture in tests/conftest.py is what puts them back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from leaks import LEAK_EVERY_SETTING

import minitorch as mt
from minitorch import threads

KERNELS_AT_START = mt.kernels.kernels_enabled()  # collection runs before any test: the run's switch
_leaked: list[str] = []  # what the first test changed; the second checks it ran


def test_a_test_that_changes_every_global_setting_and_leaves_it_changed():
    pytest.importorskip("threadpoolctl")
    exec(LEAK_EVERY_SETTING, {})
    _leaked[:] = ["dtype", "kernels", "threads", "grad", "torch", "seed"]
    assert mt.get_default_dtype() == np.float64 and not mt.is_grad_enabled()


def test_the_next_test_starts_from_the_defaults():
    if not _leaked:
        pytest.skip("the leaking test above did not run first")
    first_draws = mt.random.generator().random(3)
    assert mt.get_default_dtype() == np.float32
    assert mt.kernels.kernels_enabled() == KERNELS_AT_START
    assert threads._state["explicit"] is None
    assert mt.is_grad_enabled()
    assert torch.get_default_dtype() == torch.float32
    np.testing.assert_array_equal(first_draws, mt.manual_seed(0).random(3))
