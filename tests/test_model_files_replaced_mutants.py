"""Budget.new_array (the arrays a file's ``replaced`` section asks for): the cases a mutation run of
minitorch/model_files/budget.py and replaced.py found no test for."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt
from minitorch.model_files.budget import Budget
from minitorch.model_files.format import ModelFileError


def test_new_array_takes_exactly_the_limit_and_refuses_one_more() -> None:
    """The limit is the most a rebuild may allocate (as charge_built and the draws count it)."""
    budget = Budget(10)
    array = budget.new_array((2, 5), np.dtype(np.float32), "m.replaced.W")
    assert array.shape == (2, 5) and array.dtype == np.float32 and not array.any()
    assert budget.built == 10
    with pytest.raises(ModelFileError, match=r"m\.replaced\.b: an array of 1 elements"):
        budget.new_array((1,), np.dtype(np.float32), "m.replaced.b")


def test_an_array_new_array_made_is_not_charged_again_by_charge_built() -> None:
    budget = Budget(10)
    lin = mt.Linear(5, 2, bias=False)
    lin.W = mt.Parameter(budget.new_array((5, 2), np.dtype(np.float32), "m.replaced.W"))
    budget.charge_built(lin, "m")
    assert budget.built == 10


def test_a_replaced_array_with_a_zero_size_dimension_round_trips(tmp_path) -> None:
    """A shape's sizes are >= 0: an empty array put in a slot (a bias of 0 elements) is saved and
    loaded back as it was."""
    model = mt.Sequential(mt.Linear(2, 3))
    model[0].b = mt.Parameter(np.zeros((0,), np.float32))
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded[0].b.data.shape == (0,) and loaded[0].b.data.dtype == np.float32
