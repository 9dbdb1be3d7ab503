"""Deferred weight-gradient products (``Parameter.defer_matmul``) against what a caller may do between
backward and step: the gradients read, the weights stepped, are those of the plain path.

The chain kernels keep a large Linear's first weight gradient after ``zero_grad()`` as the pair
(a, b) once plain SGD's update kernel has marked the weight (``Parameter._folds``); here every
weight counts as large (``SMALL_WEIGHT_BYTES``) and every SGD group is updated by that kernel
(``BLAS_MIN``, ``flat.MAX_ELEMENTS``), so that the deferral is taken on tiny chains. Each test
compares with the same calls with the kernels off (the plain formulas) or with a run where the
caller does not write its arrays.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch import kernels
from minitorch.kernels import containers, flat, gemm_update, step_large, step_update
from minitorch.kernels import optimizers as optimizer_kernels
from minitorch.parameter import Parameter


@pytest.fixture(autouse=True)
def deferrable(monkeypatch):
    """Tiny chains take the deferral: every weight large, every SGD group updated inline."""
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    monkeypatch.setattr(optimizer_kernels, "BLAS_MIN", 16)
    monkeypatch.setattr(flat, "MAX_ELEMENTS", 32)
    enabled = kernels.kernels_enabled()
    kernels.use_kernels(True)
    yield
    kernels.use_kernels(enabled)


def _model(dtype):
    rng = np.random.default_rng(0)
    model = mt.Sequential(mt.Linear(6, 8), mt.ReLU(), mt.Linear(8, 5))
    for p in model.parameters():
        p.data = rng.standard_normal(p.data.shape).astype(dtype)
    return model


def _batch(seed, dtype, n=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)).astype(dtype), rng.standard_normal((n, 5)).astype(dtype)


def _primed(dtype):
    """The model after one plain-SGD step (README loop): its weights marked for deferral."""
    model = _model(dtype)
    optimizer = mt.SGD(model.parameters(), lr=0.1)
    x, dy = _batch(1, dtype)
    model(x)
    model.backward(dy)
    optimizer.step()
    optimizer.zero_grad()
    return model, optimizer


def _grads(model):
    return [None if p.grad is None else p.grad.copy() for p in model.parameters()]


def _same_bits(got, expected):
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert (a is None) == (b is None), i
        if a is not None:
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"gradient {i} changed"


def _memmap(a):
    path = Path(tempfile.mkdtemp()) / "dy.bin"
    mm = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    mm[...] = a
    return mm


class _Tagged(np.ndarray):
    """An ndarray subclass (astropy's Quantity, xarray's wrappers, np.memmap pass the same way)."""


def _grads_after_backward(dtype, wrap, write):
    model, _ = _primed(dtype)
    x, dy = _batch(2, dtype)
    dy = wrap(dy)
    model(x)
    model.backward(dy)
    assert any(p.deferred_product is not None for p in model.parameters())  # the case under test
    if write:
        x[...] = 7.0
        dy[...] = 9.0
    return _grads(model)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_arrays_written_after_backward_leave_the_gradients(dtype):
    kept = _grads_after_backward(dtype, lambda a: a, write=False)
    _same_bits(_grads_after_backward(dtype, lambda a: a, write=True), kept)


@pytest.mark.parametrize("wrap", [_memmap, lambda a: a.view(_Tagged)], ids=["memmap", "subclass"])
def test_a_dy_subclass_written_after_backward_leaves_the_gradients(wrap):
    kept = _grads_after_backward(np.float32, lambda a: a, write=False)
    _same_bits(_grads_after_backward(np.float32, wrap, write=True), kept)


def test_the_plain_path_keeps_the_gradients_of_a_dy_subclass_written_after_backward():
    kernels.use_kernels(False)
    kept = _grads_after_backward_plain(np.float32, lambda a: a)
    _same_bits(_grads_after_backward_plain(np.float32, lambda a: a.view(_Tagged)), kept)


def _grads_after_backward_plain(dtype, wrap):
    model, _ = _primed(dtype)
    x, dy = _batch(2, dtype)
    dy = wrap(dy)
    model(x)
    model.backward(dy)
    dy[...] = 9.0
    return _grads(model)


# --- TransposedView (Linear.weight): the Parameter methods it inherits ------------------------------
@pytest.mark.parametrize("call", ["grad_is_zero", "zero_grad_set_to_none_false", "optimizer_zero_grad"])
def test_linear_weight_view_keeps_the_parameter_methods(call):
    layer = mt.Linear(3, 4)
    layer(np.ones((2, 3), np.float32))
    layer.backward(np.ones((2, 4), np.float32))
    view = layer.weight
    if call == "grad_is_zero":
        assert view.grad_is_zero is False
    elif call == "optimizer_zero_grad":  # PyTorch's spelling of the parameters: weight, bias
        mt.SGD([view, layer.bias], lr=0.1).zero_grad(set_to_none=False)
        assert layer.W.grad is not None and not layer.W.grad.any()
    else:
        view.zero_grad(set_to_none=False)
        assert view.grad.shape == (4, 3) and not view.grad.any()
        assert layer.W.grad is not None and not layer.W.grad.any()


# --- between backward and step: the kernels' result is the plain one --------------------------------
def _after(scenario, dtype, on):
    kernels.use_kernels(on)
    model, optimizer = _primed(dtype)
    scenario(model, optimizer, dtype)
    return [p.data.copy() for p in model.parameters()] + _grads(model)


def _accumulate(model, optimizer, dtype):
    for seed in (2, 3):
        x, dy = _batch(seed, dtype)
        model(x)
        model.backward(dy)
        x[...] = 5.0
        dy[...] = 5.0
    optimizer.step()


def _step_twice_then_accumulate(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    x[...] = 5.0
    optimizer.step()
    optimizer.step()
    x, dy = _batch(3, dtype)
    model(x)
    model.backward(dy)
    optimizer.step()


def _zero_grad_to_zeros(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    optimizer.zero_grad(set_to_none=False)
    x, dy = _batch(3, dtype)
    model(x)
    model.backward(dy)
    optimizer.step()


def _clip_then_step(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    mt.clip_grad_norm_(model.parameters(), 0.1)
    optimizer.step()


def _lr_zero(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    optimizer.step()


def _maximize(model, optimizer, dtype):
    for group in optimizer.param_groups:
        group["maximize"] = True
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    optimizer.step()


def _then_adam(model, optimizer, dtype):
    adam = mt.Adam(model.parameters(), lr=0.01)
    for seed in (2, 3):
        x, dy = _batch(seed, dtype)
        model(x)
        model.backward(dy)
        x[...] = 3.0
        adam.step()
        adam.zero_grad()


def _cast_between(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    model.to(np.float64)
    optimizer.step()


def _data_replaced_between(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    for p in model.parameters():
        p.data = np.asfortranarray(p.data * 1.5)
    optimizer.step()
    x, dy = _batch(3, dtype)
    model(x)
    model.backward(dy)
    optimizer.step()


def _view_grad_scaled(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    view = model[2].weight
    view.grad = view.grad * 2
    optimizer.step()
    optimizer.step()


def _errstate_raise_at_step(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    with np.errstate(all="raise"):
        optimizer.step()


def _eval_between(model, optimizer, dtype):
    x, dy = _batch(2, dtype)
    model(x)
    model.backward(dy)
    model.eval()
    with mt.no_grad():
        model(_batch(4, dtype)[0])
    model.train()
    optimizer.step()


SCENARIOS = [_accumulate, _step_twice_then_accumulate, _zero_grad_to_zeros, _clip_then_step, _lr_zero,
             _maximize, _then_adam, _cast_between, _data_replaced_between, _view_grad_scaled,
             _errstate_raise_at_step, _eval_between]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__.strip("_") for s in SCENARIOS])
def test_what_a_caller_does_between_backward_and_step_gives_the_plain_result(scenario, dtype):
    got, plain = _after(scenario, dtype, True), _after(scenario, dtype, False)
    rtol = 1e-5 if dtype == np.float32 else 1e-12  # the folded update rounds once less (gemm_update.py)
    for i, (a, b) in enumerate(zip(got, plain, strict=True)):
        assert (a is None) == (b is None), i
        if a is not None:
            assert a.dtype == b.dtype, i
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"array {i}")


# --- mt.fit's large-chain path: x not copied, settled at the step's end --------------------------------
class _RefilledLoader:
    """One (x, y) pair of arrays refilled in place for every batch (a loader reusing its buffers)."""

    def __init__(self, dtype):
        rng = np.random.default_rng(5)
        self.xs = rng.standard_normal((4, 3, 6)).astype(dtype)
        self.ys = rng.integers(0, 5, (4, 3))
        self.x, self.y = np.empty((3, 6), dtype), np.empty(3, np.int64)

    def __iter__(self):
        for xb, yb in zip(self.xs, self.ys, strict=True):
            self.x[...] = xb
            self.y[...] = yb
            yield self.x, self.y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_with_a_refilled_batch_array_trains_as_the_plain_path(dtype):
    results = []
    for on in (True, False):
        kernels.use_kernels(on)
        model = _model(dtype)
        mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), _RefilledLoader(dtype),
               epochs=3, verbose=0)
        results.append([p.data.copy() for p in model.parameters()])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


# --- two threads, two models: step_large's one list of deferred weights -----------------------------
def _large_fit_step_ready(seed):
    """A model whose weights a first large-chain step marked, and its batch."""
    model = _model(np.float32)
    loss_fn, optimizer = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((3, 6)).astype(np.float32), rng.integers(0, 5, 3)
    assert step_large.forward_backward(model, loss_fn, x, y) is not NotImplemented
    optimizer.step()
    optimizer.zero_grad()
    step_large.settle()
    return model, loss_fn, optimizer, x, y


def test_a_fit_step_in_another_thread_leaves_this_threads_gradients_alone():
    model_a, loss_a, opt_a, xa, ya = _large_fit_step_ready(1)
    model_b, loss_b, _, xb, yb = _large_fit_step_ready(2)
    assert step_large.forward_backward(model_a, loss_a, xa, ya) is not NotImplemented  # A deferred
    inside, go, errors = threading.Event(), threading.Event(), []

    def tracer(frame, event, arg):
        if frame.f_code is Parameter._take_product.__code__ and event == "line" and not inside.is_set():
            inside.set()  # thread B computes a product: held there while thread A steps
            go.wait(10)
        return tracer

    def thread_b():
        sys.settrace(tracer)
        try:
            step_large.forward_backward(model_b, loss_b, xb, yb)
        except Exception as error:
            errors.append(error)
        finally:
            sys.settrace(None)

    worker = threading.Thread(target=thread_b)
    worker.start()
    inside.wait(2)  # (B may never compute one of A's products: then there is nothing to wait for)
    opt_a.step()  # thread A's fit step goes on: its update, then zero_grad
    opt_a.zero_grad()
    go.set()
    worker.join()
    step_large.settle()
    assert not errors, f"thread B's step failed: {errors[0]!r}"
    assert all(p.grad is None for p in model_a.parameters()), "a gradient came back after zero_grad"


# --- a KeyboardInterrupt at any line of the step (fit's handler not installed) --------------------------
def test_no_product_over_the_loaders_array_survives_an_interrupted_fit():
    from interrupts import interrupted_at_each_line

    files = {m.__file__ for m in (step_large, step_update, gemm_update, sys.modules[Parameter.__module__])}

    def setup():
        model, loss_fn, optimizer, _, _ = _large_fit_step_ready(1)
        loader = _RefilledLoader(np.float32)
        loader.xs, loader.ys = loader.xs[:2], loader.ys[:2]
        return model, loss_fn, optimizer, loader

    def call(state):
        history = mt.fit(*state, epochs=1, verbose=0)
        if history is None or history.interrupted:
            raise KeyboardInterrupt  # (fit stopped early: the run was interrupted)

    survivors = []
    runs = interrupted_at_each_line(setup, call, lambda c: c.co_filename in files)
    for line, (model, _, _, loader), _ in runs:
        step_large.settle()  # (what the next fit step would do first: too late, the array is refilled)
        survivors += [line for p in model.parameters()
                      if p.deferred_product is not None and np.shares_memory(p.deferred_product[0], loader.x)]
    assert line > 100, line  # (every line of two fit steps, the last run not interrupted)
    assert not survivors, f"a product over the loader's array after an interrupt at traced lines {survivors}"


def test_an_interrupted_step_leaves_each_weight_stepped_or_not_and_its_gradient_whole():
    from interrupts import interrupted_at_each_line

    files = {m.__file__ for m in (step_update, gemm_update, sys.modules[Parameter.__module__])}

    def setup():
        model, optimizer = _primed(np.float32)
        x, dy = _batch(2, np.float32)
        model(x)
        model.backward(dy)
        return model, optimizer

    model, _ = setup()
    assert any(p.deferred_product is not None for p in model.parameters())
    before = [p.data.copy() for p in model.parameters()]
    grads = _grads(model)
    for p, g in zip(model.parameters(), grads, strict=True):
        p.data -= 0.1 * g
    after = [p.data.copy() for p in model.parameters()]
    runs = interrupted_at_each_line(setup, lambda state: state[1].step(), lambda c: c.co_filename in files)
    for line, (model, _), _ in runs:
        for i, p in enumerate(model.parameters()):
            assert p.grad.tobytes() == grads[i].tobytes(), f"line {line}: gradient {i}"
            stepped = np.allclose(p.data, after[i], rtol=1e-6, atol=1e-6)
            assert stepped or np.array_equal(p.data, before[i]), f"line {line}: weight {i} half stepped"
    assert line > 10


# --- the PyTorch oracle: SGD trajectories with every product deferred ------------------------------
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_readme_loop_with_deferred_products_follows_torch(dtype, maximize):
    torch = pytest.importorskip("torch")
    model = _model(dtype)
    twin = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5)).to(
        torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        for layer, ours in ((twin[0], model[0]), (twin[2], model[2])):
            layer.weight.copy_(torch.from_numpy(ours.W.data.T.copy()))
            layer.bias.copy_(torch.from_numpy(ours.b.data.copy()))
    optimizer = mt.SGD(model.parameters(), lr=0.05, maximize=maximize)
    theirs = torch.optim.SGD(twin.parameters(), lr=0.05, maximize=maximize)
    deferred = 0
    for step in range(12):
        x, dy = _batch(10 + step, dtype)
        (twin(torch.from_numpy(x)) * torch.from_numpy(dy)).sum().backward()
        model(x)
        model.backward(dy)
        deferred += sum(p.deferred_product is not None for p in model.parameters())
        x[...] = 0.0  # the caller's arrays reused: the gradients are already taken
        dy[...] = 0.0
        optimizer.step()
        theirs.step()
        optimizer.zero_grad()
        theirs.zero_grad()
    assert deferred >= 20  # (both weights, every step after the first)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for layer, ours in ((twin[0], model[0]), (twin[2], model[2])):
        np.testing.assert_allclose(ours.W.data, layer.weight.detach().numpy().T, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(ours.b.data, layer.bias.detach().numpy(), rtol=rtol, atol=rtol)
