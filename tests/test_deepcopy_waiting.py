"""``copy.deepcopy`` of a module with a forward call waiting for its backward: the copy starts clean.

torch's deepcopy of a module copies its parameters and buffers; the autograd graph of a forward
is not part of the module, so that forward's backward fills the original's gradients only and the
copy has nothing to backpropagate. MiniTorch's per-call caches play the graph's part: the original
keeps its waiting calls (its backward gives what it would have given with no copy), the copy has
none (no cache, no frame, no edit's mark) and its backward raises the usual "no forward call is
waiting" error before writing anything, until its own forward. Checked on every registry case.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from test_contract_registry import ARGS, IDS, _assert_same, _build, _call, _data, _grads, _pair
from test_contract_registry import float64 as float64  # the registry's cases run in float64

import minitorch as mt

WAITING = r"no forward call is waiting"


def _caches(module):
    """Every submodule's ``_`` attributes that hold something other than the machinery's own."""
    skip = {"_parameters", "_modules", "_buffers", "_frame", "_stack", "_shown", "_busy"}
    return {f"{name}.{k}": v for name, m in module.named_modules() for k, v in vars(m).items()
            if k.startswith("_") and k not in skip and isinstance(v, (np.ndarray, tuple, list))
            and not isinstance(v, (mt.Parameter, mt.Module))}


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_made_while_a_call_waits_starts_clean_and_the_original_keeps_its_call(
        factory, make_inputs, how):
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    module, twin = _build(factory), _build(factory)
    before = _caches(module)
    y = _call(module, inputs, 10)
    duplicate = copy.deepcopy(module) if how == "deepcopy" else pickle.loads(pickle.dumps(module))
    assert not any(m._stack for m in duplicate.modules()), "the copy holds a waiting call"
    assert _caches(duplicate).keys() <= before.keys(), "the copy holds the call's caches"
    with pytest.raises(RuntimeError, match=WAITING):
        duplicate.backward(upstream)
    assert all(p.grad is None for p in duplicate.parameters()), "the copy's refused backward wrote a grad"
    # the original: its waiting call is untouched by the copy
    dx = module.backward(upstream)
    y_twin, dx_twin = _pair(twin, inputs, upstream, 10)
    _assert_same(y, y_twin, "output")
    _assert_same(dx, dx_twin, "input gradient")
    _assert_same(_grads(module), _grads(twin), "parameter gradients")
    # the copy: its own forward and backward work as a fresh module's
    twin.zero_grad()
    _assert_same(_pair(duplicate, inputs, upstream, 10), _pair(twin, inputs, upstream, 10), "copy's pair")
    _assert_same(_grads(duplicate), _grads(twin), "copy's parameter gradients")


def test_a_copy_made_during_forward_holds_nothing_of_that_call():
    class Copier(mt.Module):
        def __init__(self):
            super().__init__()
            self.fc = mt.Linear(3, 2)
            self.copies = []

        def forward(self, x):
            y = self.fc(x)
            self.copies.append(copy.deepcopy(self.fc))  # the child has a call waiting now
            return y

    model = Copier()
    x = np.ones((4, 3))
    y = model(x)
    (child_copy,) = model.copies
    assert not child_copy._stack and getattr(child_copy, "_x", None) is None
    with pytest.raises(RuntimeError, match=WAITING):
        child_copy.backward(np.ones_like(y))
    model.fc.backward(np.ones_like(y))
    assert model.fc.W.grad is not None and child_copy.W.grad is None
