"""Tests that kill mutants of this round's leaf-input and ParameterView code which the other tests let live.

Each test names the behaviour it pins; torch is the oracle where torch has the behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def test_a_loss_target_that_requires_grad_is_refused_naming_why_and_the_fix():
    """The default reason and fix of the leaf refusal (torch fills the target's .grad; the explicit
    backward would not)."""
    target = torch.zeros(3, requires_grad=True)
    torch.nn.MSELoss()(torch.ones(3), target).backward()
    assert target.grad is not None  # torch trains a target: MiniTorch refuses it rather than skip it
    p = mt.Parameter(np.zeros(3))
    with pytest.raises(TypeError) as err:
        mt.MSELoss()(np.ones(3), p)
    message = str(err.value)
    assert "'target' is a Parameter that requires grad, and MSELoss.backward gives no gradient for it " \
           "(torch's autograd would fill its .grad)" in message
    assert message.endswith("to train it, write a module whose backward returns its gradient")
    assert p.grad is None


def test_an_int_index_of_a_1d_parameter_is_a_0d_view_as_torchs():
    """p[1] of a 1-D Parameter: a 0-d view sharing p's memory (torch's p[1] is a 0-d tensor)."""
    tp = torch.arange(3.0, requires_grad=True)
    assert tp[1].shape == ()
    p = mt.Parameter(np.arange(3.0))
    v = p[1]
    assert v.shape == () and float(v) == 1.0
    assert np.shares_memory(v.data, p.data)
