"""Tests that kill mutants of Adamax, Adadelta, Rprop and ASGD which tests/test_optimizers_more.py lets live.

The functional forms (torch.optim's ``adamax``, ``adadelta``, ``rprop``, ``asgd``) pair each Parameter
with its own gradient and state by position: lists of different lengths are refused, not cut short.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt
from minitorch.optimizers.adadelta import adadelta
from minitorch.optimizers.adamax import adamax
from minitorch.optimizers.asgd import asgd
from minitorch.optimizers.rprop import rprop


def _two():
    return [mt.Parameter(np.ones(3)), mt.Parameter(np.ones(2))]


def _calls():
    z = np.zeros
    return {
        "adamax": lambda ps, n: adamax(ps, [z(3), z(2)][:n], [z(3), z(2)], [z(3), z(2)], [1, 1], beta1=0.9,
                                       beta2=0.999, lr=0.1, weight_decay=0.0, eps=1e-8),
        "adadelta": lambda ps, n: adadelta(ps, [z(3), z(2)][:n], [z(3), z(2)], [z(3), z(2)], lr=1.0, rho=0.9,
                                           eps=1e-6, weight_decay=0.0),
        "rprop": lambda ps, n: rprop(ps, [z(3), z(2)][:n], [z(3), z(2)], [np.full(3, 0.1), np.full(2, 0.1)],
                                     eta_minus=0.5, eta_plus=1.2, step_size_min=1e-6, step_size_max=50.0),
        "asgd": lambda ps, n: asgd(ps, [z(3), z(2)][:n], [z(3), z(2)], [np.array(1.0)] * 2,
                                   [np.array(0.1), np.array(0.1)], [1, 1], lambd=1e-4, lr=0.1, t0=1e6,
                                   alpha=0.75, weight_decay=0.0),
    }


@pytest.mark.parametrize("name", ["adamax", "adadelta", "rprop", "asgd"])
def test_functional_form_refuses_a_gradient_list_shorter_than_the_parameters(name):
    call = _calls()[name]
    call(_two(), 2)  # the lists of equal length run
    params = _two()
    with pytest.raises(ValueError, match="zip"):
        call(params, 1)
