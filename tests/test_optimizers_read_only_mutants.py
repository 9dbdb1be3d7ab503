"""The read-only check of a step (``Optimizer._check_writable``) and mt.fit's step kernel: the cases
a mutation run of that code found no test for."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels


def _one_step_model():
    model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
    loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
    return model, loss_fn, opt, x, y


@pytest.mark.parametrize("name", ["_check_writable", "_params_with_grad", "_match_state_dtypes",
                                  "_check_no_waiting_forward", "zero_grad"])
def test_fit_step_kernel_declines_an_instance_patched_optimizer_method(name) -> None:
    """A probe set on the optimizer instance over a method the five calls run (the read-only check
    among them) makes the kernel decline, as for the other methods: the five calls then call it."""
    from minitorch.kernels import step as fast_step

    was = kernels_enabled()
    use_kernels(True)
    try:
        model, loss_fn, opt, x, y = _one_step_model()
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is not NotImplemented  # its case
        calls = []
        method = getattr(opt, name)
        setattr(opt, name, lambda *a, **k: (calls.append(1), method(*a, **k))[1])
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
        loss_fn(model(x), y), model.backward_params(loss_fn.backward()), opt.step(), opt.zero_grad()
        assert calls
    finally:
        use_kernels(was)


def test_the_sgd_step_kernel_called_alone_declines_a_read_only_parameter() -> None:
    """``sgd_step`` is whole on its own (a caller outside SGD.step gets SGD.step's checks): a
    Parameter with a gradient whose data is read-only declines, nothing written, so that step()
    raises its ValueError."""
    from minitorch.kernels import step_update

    was = kernels_enabled()
    use_kernels(True)
    try:
        p = mt.Parameter(np.ones(3))
        p.grad = np.full(3, 0.5)
        p.data.flags.writeable = False
        opt = mt.SGD([p], lr=0.1)
        assert step_update.sgd_step(opt) is NotImplemented
        np.testing.assert_array_equal(p.data, np.ones(3))
        assert opt.state == {} or all(not s for s in opt.state.values())
    finally:
        use_kernels(was)


def test_the_sgd_step_kernel_called_alone_declines_a_gradient_of_another_shape() -> None:
    """A gradient (1,) for a Parameter (3,) would broadcast: the kernel declines (step() raises).
    (``p.grad`` refuses one; ``p.data`` given another shape afterwards makes one.)"""
    from minitorch.kernels import step_update

    was = kernels_enabled()
    use_kernels(True)
    try:
        p = mt.Parameter(np.ones(1))
        p.grad = np.full(1, 0.5)
        p.data = np.ones(3)
        assert step_update.sgd_step(mt.SGD([p], lr=0.1)) is NotImplemented
        np.testing.assert_array_equal(p.data, np.ones(3))
    finally:
        use_kernels(was)


@pytest.mark.parametrize("owner, name", [("loss", "forward"), ("loss", "backward"), ("model", "forward"),
                                         ("model", "backward_params")])
def test_fit_step_kernel_declines_a_method_patched_on_the_model_or_loss_instance(owner, name) -> None:
    """A probe on the model's or the loss's instance (the five calls would run it): the kernel
    declines, nothing done."""
    from minitorch.kernels import step as fast_step

    was = kernels_enabled()
    use_kernels(True)
    try:
        model, loss_fn, opt, x, y = _one_step_model()
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is not NotImplemented  # its case
        target = loss_fn if owner == "loss" else model
        method = getattr(target, name)
        setattr(target, name, lambda *a, **k: method(*a, **k))
        before = [p.data.copy() for p in model.parameters()]
        assert fast_step.fit_step(model, loss_fn, opt, x, y) is NotImplemented
        for p, b in zip(model.parameters(), before, strict=True):
            np.testing.assert_array_equal(p.data, b)
    finally:
        use_kernels(was)
