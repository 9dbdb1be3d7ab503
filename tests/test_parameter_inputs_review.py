"""Review of the Parameter-input rule (minitorch/leaf_inputs.py): where a Parameter that requires grad
enters through the data utilities, not a module call.

torch 2.13: ``TensorDataset(p, y)`` / ``DataLoader`` index and stack p differentiably, so a training
loop over its batches fills ``p.grad``. MiniTorch's datasets hold NumPy arrays (no backward), so such a
Parameter would silently get no gradient: each entry point refuses it, naming itself and the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def test_torch_fills_the_grad_of_a_parameter_given_to_its_tensor_dataset():
    """The oracle: torch's DataLoader batches of a Parameter carry its gradient (so MiniTorch must not
    silently drop it)."""
    p = torch.nn.Parameter(torch.ones(4, 3))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(p, torch.zeros(4)), batch_size=2)
    xb, _ = next(iter(loader))
    xb.sum().backward()
    assert p.grad is not None and p.grad.abs().sum() > 0


CALLS = {
    "TensorDataset": lambda p, y: mt.TensorDataset(p, y),
    "DataLoader": lambda p, y: mt.DataLoader(p, y, batch_size=2),
    "DataLoader((X, y))": lambda p, y: mt.DataLoader((p, y), batch_size=2),
    "DataLoader(y=p)": lambda p, y: mt.DataLoader(y.astype(float)[:, None], p, batch_size=2),
    "default_collate": lambda p, y: mt.data.default_collate([p, p]),
    "train_test_split": lambda p, y: mt.train_test_split(p, y, test_size=2, random_state=0),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_data_utilities_refuse_a_parameter_that_requires_grad(call):
    """Each entry point raises a TypeError naming itself, p.data and the fix, instead of training
    with a Parameter whose grad silently stays None."""
    p, y = mt.Parameter(np.ones((4, 3))), np.zeros(4, dtype=np.int64)
    who = call.split("(")[0]
    with pytest.raises(TypeError, match=rf"{who}: .*Parameter that requires grad.*p\.data"):
        CALLS[call](p, y)
    assert p.grad is None


@pytest.mark.parametrize("call", sorted(CALLS))
def test_data_utilities_take_a_frozen_parameter_as_data(call):
    """A Parameter with requires_grad=False is data (the Module contract's rule): read as its array."""
    p, y = mt.Parameter(np.ones((4, 3)), requires_grad=False), np.zeros(4, dtype=np.int64)
    CALLS[call](p, y)


def test_fit_on_a_tensor_dataset_of_a_parameter_is_refused_before_training():
    """mt.fit over TensorDataset(p, y): refused at the dataset, before any step; p and the model's
    weights are untouched."""
    p = mt.Parameter(np.random.default_rng(0).standard_normal((6, 3)))
    with pytest.raises(TypeError, match="TensorDataset"):
        mt.fit(mt.Linear(3, 4), mt.CrossEntropyLoss(), mt.SGD([p], lr=0.1),
               mt.DataLoader(mt.TensorDataset(p, np.zeros(6, dtype=np.int64)), batch_size=3),
               epochs=1, verbose=0, metrics=())
