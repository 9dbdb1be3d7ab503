"""``step()`` on a Parameter holding a read-only array: a ValueError naming the optimizer, the
Parameter and the fix, before anything is written or any state changes, kernels on or off (the
speed paths decline, so the plain step raises: ``Optimizer._check_writable``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import flat, use_kernels

OPTIMIZERS = [("SGD", {}), ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
              ("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}),
              ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}), ("NAdam", {}), ("RAdam", {})]
OPTIMIZERS += [("Adamax", {}), ("Adadelta", {}), ("Rprop", {}), ("ASGD", {})]
MESSAGE = (r"^{name}\.step: param_groups\[1\]\['params'\]\[0\] \(a Parameter of shape {shape}\) is a "
           r"read-only array .* give it a writable copy first: p\.data = p\.data\.copy\(\)$")


def _read_only(a: np.ndarray, how: str) -> np.ndarray:
    if how == "flag":
        a = a.copy()
        a.flags.writeable = False
        return a
    return np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape)  # (a read-only buffer)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("how", ["flag", "buffer"])
# large: past flat.MAX_ELEMENTS, the SGD step kernel's inline case (kernels/step_update.py)
@pytest.mark.parametrize("size", [(3, 4), (200, 100)], ids=["small", "large"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: f"{o[0]}-{len(o[1])}")
def test_a_step_on_a_read_only_parameter_raises_before_anything_changes(optimizer, size, how, kernels):
    name, options = optimizer
    rng = np.random.default_rng(0)
    was = mt.kernels.kernels_enabled()
    use_kernels(kernels)
    try:
        first, second = (mt.Parameter(rng.standard_normal(size)) for _ in range(2))
        frozen = mt.Parameter(_read_only(rng.standard_normal(size), how))  # no gradient: never written
        opt = getattr(mt, name)([{"params": [first]}, {"params": [second, frozen]}], lr=0.01, **options)
        for p in (first, second):
            p.grad = rng.standard_normal(size)
        opt.step()  # (state to keep; the read-only Parameter without a gradient is skipped)
        second.data = _read_only(second.data, how)
        for p in (first, second):
            p.grad = rng.standard_normal(size)
        data = [first.data.copy(), second.data.copy()]
        state = {p: {k: np.copy(v) for k, v in entry.items()} for p, entry in opt.state.items()}
        with pytest.raises(ValueError, match=MESSAGE.format(name=name, shape=re.escape(str(size)))):
            opt.step()
        np.testing.assert_array_equal(first.data, data[0])  # (group 0 comes first in the update)
        np.testing.assert_array_equal(second.data, data[1])
        assert opt.state.keys() == state.keys()
        for p in state:
            assert opt.state[p].keys() == state[p].keys()
            for key, value in state[p].items():
                np.testing.assert_array_equal(opt.state[p][key], value)
        second.data = second.data.copy()  # the fix
        opt.step()
        assert not np.array_equal(second.data, data[1])
    finally:
        use_kernels(was)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_fit_on_a_read_only_parameter_raises_as_the_step_does(kernels):
    """A small Linear/ReLU chain under plain SGD, whose whole-step kernel (kernels/step.py) updates
    the flat buffer the Parameters view: a view made read-only after a first epoch declines it."""
    was = mt.kernels.kernels_enabled()
    use_kernels(kernels)
    try:
        rng = np.random.default_rng(0)
        X, Y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32)
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        opt = mt.SGD(model.parameters(), lr=0.1)
        loader = mt.DataLoader(X, Y, batch_size=8, shuffle=False)
        mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=1, verbose=0)
        weight = model[2].W
        weight.data.flags.writeable = False
        before = [p.data.copy() for p in model.parameters()]
        with pytest.raises(ValueError, match=r"^SGD\.step: param_groups\[0\]\['params'\]\[2\] \(a Parameter "
                                             r"of shape \(8, 3\)\) is a read-only array"):
            mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=1, verbose=0)
        for p, b in zip(model.parameters(), before, strict=True):
            np.testing.assert_array_equal(p.data, b)
    finally:
        use_kernels(was)


def test_sgd_step_on_a_flat_group_view_made_read_only_raises_before_the_flat_update():
    """kernels/flat.py's ``update`` (P -= lr * G over the flat buffer the Parameters view) reads no
    writable flag: ``SGD.step`` refuses a view made read-only in place before the update runs."""
    was = mt.kernels.kernels_enabled()
    use_kernels(True)
    try:
        rng = np.random.default_rng(0)
        params = [mt.Parameter(rng.standard_normal((3, 4))), mt.Parameter(rng.standard_normal(4))]
        opt = mt.SGD(params, lr=0.1)
        for _ in range(3):  # the first step adopts the Parameters into a flat group, the next update it
            for p in params:
                p.grad = rng.standard_normal(p.shape)
            opt.step()
        assert flat.group_holding(params[0]) is not None
        for p in params:  # the gradients in the group's slots, as the layers write them
            home = flat.grad_home(p)
            home[...] = rng.standard_normal(p.shape)
            p.grad = home
        params[1].data.flags.writeable = False
        before = [p.data.copy() for p in params]
        with pytest.raises(ValueError, match=r"^SGD\.step: param_groups\[0\]\['params'\]\[1\] \(a Parameter "
                                             r"of shape \(4,\)\) is a read-only array"):
            opt.step()
        for p, b in zip(params, before, strict=True):
            np.testing.assert_array_equal(p.data, b)
    finally:
        use_kernels(was)
