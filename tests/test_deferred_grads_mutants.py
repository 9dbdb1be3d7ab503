"""Holes that mutation testing found around the deferred weight-gradient product
(``Parameter.defer_matmul``) and plain SGD's update folded into one BLAS gemm
(``kernels/gemm_update.py``): each test here fails on a mutant of that code that the other tests let
pass (the mutant is named in the test's docstring).

- ``defer_matmul`` is ``accumulate_matmul`` but for when the product is computed: a frozen
  Parameter, a written gradient, operands of another dtype and column-major data give what
  ``accumulate_matmul`` gives, bitwise, dtype and layout included;
- ``zero_grad(set_to_none=False)`` on a deferred product leaves what it leaves on the written
  gradient (its dtype, shape and layout, not data's);
- ``gemm_update.takes`` declines (returns False, raises nothing) for arrays its gemm cannot read;
- the thresholds: a weight of ``SMALL_WEIGHT_BYTES`` or more is deferred, a smaller one is not;
  plain SGD's update marks a weight of ``BLAS_MIN`` elements or more (``_folds``), a smaller one not;
  the chain's first Linear is deferred where its input's copy is at most half the weight;
- the large-chain kernel's list of deferred weights: emptied by ``settle`` and at each call;
- ``mt.fit`` computes a product deferred over its batch however its step ends (an error too).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from bitwise import assert_bitwise

import minitorch as mt
from minitorch.kernels import containers, flat, gemm_update, step_large, step_update
from minitorch.kernels import optimizers as optimizer_kernels

pytestmark = pytest.mark.skipif(not gemm_update._get_gemm().routines, reason="NumPy's BLAS is not OpenBLAS")


def _operands(dtype=np.float32, shape=(6, 5), n=4, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, shape[0])).astype(dtype)
    dy = rng.standard_normal((n, shape[1])).astype(dtype)
    return x, dy


def _twins(data):
    """Two Parameters of the same data: the first gets ``defer_matmul``, the second ``accumulate_matmul``."""
    return mt.Parameter(data.copy()), mt.Parameter(data.copy())


# -------------------------------------------------------------- defer_matmul as accumulate_matmul


def test_a_frozen_parameter_keeps_no_product():
    """Mutant: defer_matmul without its ``requires_grad`` test (a frozen weight got a gradient)."""
    p = mt.Parameter(np.ones((6, 5), np.float32), requires_grad=False)
    x, dy = _operands()
    p.defer_matmul(x.T, dy)
    assert p.grad is None and p.deferred_product is None and p.grad_is_zero


def test_a_product_after_a_written_gradient_is_added_to_it():
    """Mutant: defer_matmul without its ``_grad is None`` test (the product replaced the gradient)."""
    x, dy = _operands()
    g0 = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    p, q = _twins(np.ones((6, 5), np.float32))
    for r, add in ((p, p.defer_matmul), (q, q.accumulate_matmul)):
        r.grad = g0.copy()
        add(x.T, dy)
    assert p.deferred_product is None
    assert_bitwise(p.grad, q.grad)


@pytest.mark.parametrize("operands", [np.float64, np.float16])
def test_operands_of_another_dtype_give_the_gradient_in_datas_dtype(operands):
    """Mutants: defer_matmul without its dtype test, or comparing a's and b's dtypes only (a
    float64 product kept: read as a float64 gradient of a float32 weight)."""
    x, dy = _operands(operands)
    p, q = _twins(np.ones((6, 5), np.float32))
    p.defer_matmul(x.T, dy)
    q.accumulate_matmul(x.T, dy)
    assert p.deferred_product is None
    assert_bitwise(p.grad, q.grad)
    assert p.grad.dtype == np.float32


def test_column_major_data_gets_a_column_major_gradient():
    """Mutant: defer_matmul without its row-major test (the product, read, is row-major where
    accumulate_matmul lays the gradient out as data: torch's gradient layout contract)."""
    x, dy = _operands()
    data = np.asfortranarray(np.ones((6, 5), np.float32))
    p, q = _twins(data)
    p.data, q.data = np.asfortranarray(p.data), np.asfortranarray(q.data)
    p.defer_matmul(x.T, dy)
    q.accumulate_matmul(x.T, dy)
    assert p.deferred_product is None
    assert p.grad.flags.f_contiguous and not p.grad.flags.c_contiguous
    assert_bitwise(p.grad, q.grad)


@pytest.mark.parametrize("change", ["data cast", "data of another shape", "none"])
def test_zero_grad_keeping_a_product_leaves_what_it_leaves_of_a_written_gradient(change):
    """zero_grad(set_to_none=False) after the data changed: zeros of the gradient's dtype, shape
    and layout (a written gradient is filled in place), bitwise. Mutants: zeros of data's dtype,
    of data's shape, column-major, or np.empty."""
    x, dy = _operands()
    p, q = _twins(np.ones((6, 5), np.float32))
    p.defer_matmul(x.T, 1e3 * dy)
    q.accumulate_matmul(x.T, 1e3 * dy)
    for r in (p, q):
        if change == "data cast":
            r.data = r.data.astype(np.float64)
        elif change == "data of another shape":
            r.data = np.ones((3, 2), np.float32)
        r.zero_grad(set_to_none=False)
    assert p.deferred_product is None
    assert p.grad.flags.c_contiguous == q.grad.flags.c_contiguous
    assert_bitwise(p.grad, q.grad)


# --------------------------------------------------------------------------- gemm_update.takes


def _arrays(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal((4, 6)).astype(dtype).T,
            rng.standard_normal((4, 5)).astype(dtype))


@pytest.mark.parametrize("case", ["a strided", "a strided transposed", "a 1-D", "b 1-D", "W 3-D", "W rows"])
def test_takes_declines_arrays_the_gemm_cannot_read(case):
    """Mutants: takes without its test that a or a.T is C-contiguous (the gemm then read a's
    memory with the wrong strides), without its 2-D test (an IndexError, not False), or without
    its test of W's shape (a W of fewer rows than a: the gemm wrote past its end)."""
    W, a, b = _arrays()
    if case == "a strided":
        a = np.zeros((6, 8), np.float32)[:, ::2]
    elif case == "a strided transposed":
        a = np.zeros((8, 6), np.float32)[::2].T[::-1]
    elif case == "a 1-D":
        a = np.zeros(6, np.float32)
    elif case == "b 1-D":
        b = np.zeros(5, np.float32)
    elif case == "W rows":
        W = W[:5]
    else:
        W = W[None]
    assert not gemm_update.takes(W, a, b, 0.1)


def test_a_product_over_a_strided_a_steps_as_the_plain_update(monkeypatch):
    """The update kernel, given a deferred product whose a is neither row- nor column-major:
    takes declines, the gradient is computed and the step is the plain update (the mutant without
    the contiguity test folds it, reading a's memory as if contiguous)."""
    _patch(monkeypatch, 64, 16)
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 7)).astype(np.float32)  # (more than flat.MAX_ELEMENTS: no flat group)
    a = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]
    b = rng.standard_normal((4, 7)).astype(np.float32)
    p = mt.Parameter(W.copy())
    p.defer_matmul(a, b)
    assert p.deferred_product is not None
    assert step_update.sgd_step(mt.SGD([p], lr=0.1)) is True
    np.testing.assert_allclose(p.data, W - np.float32(0.1) * np.matmul(a, b), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------- thresholds


def _chain():
    mt.manual_seed(0)  # W: (20, 24) 1920 bytes, (24, 16) 1536 bytes, (16, 5) 320 bytes (80 numbers)
    return mt.Sequential(mt.Linear(20, 24), mt.ReLU(), mt.Linear(24, 16), mt.ReLU(), mt.Linear(16, 5))


def _data(n, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 20)).astype(np.float32), rng.integers(0, 5, n)


def _patch(monkeypatch, small, blas_min):
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", small)
    monkeypatch.setattr(optimizer_kernels, "BLAS_MIN", blas_min)
    monkeypatch.setattr(flat, "MAX_ELEMENTS", 32)
    monkeypatch.setattr(mt.kernels, "_enabled", True)


def _first_step(model, n=8):
    """One README step of plain SGD (nothing deferred yet): the update kernel marks the weights."""
    opt, loss_fn = mt.SGD(model.parameters(), lr=0.05), mt.CrossEntropyLoss()
    x, y = _data(n, seed=7)
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    opt.step()
    opt.zero_grad()
    return opt


def _deferred_weights(model):
    return [m.W.deferred_product is not None for m in model if isinstance(m, mt.Linear)]


THRESHOLDS = [  # (SMALL_WEIGHT_BYTES, BLAS_MIN, which weights are deferred)
    (320, 16, [True, True, True]),  # the last weight holds SMALL_WEIGHT_BYTES exactly
    (321, 16, [True, True, False]),  # one byte short
    (64, 80, [True, True, True]),  # the last weight holds BLAS_MIN numbers exactly: marked
    (64, 81, [True, True, False]),  # one number short: not marked, so not deferred
]


@pytest.mark.parametrize(("small", "blas_min", "expected"), THRESHOLDS)
def test_the_chain_kernel_defers_a_weight_from_the_thresholds_on(monkeypatch, small, blas_min, expected):
    """model.backward (kernels/containers.py). Mutants: the ``nbytes >= SMALL_WEIGHT_BYTES`` test
    dropped or made ``>``; the update kernel's ``size >= BLAS_MIN`` made ``>`` or dropped."""
    _patch(monkeypatch, small, blas_min)
    model = _chain()
    opt = _first_step(model)
    loss_fn = mt.CrossEntropyLoss()
    x, y = _data(8)
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    assert _deferred_weights(model) == expected
    opt.zero_grad()


@pytest.mark.parametrize(("small", "blas_min", "expected"), THRESHOLDS)
def test_the_large_chain_kernel_defers_a_weight_from_the_thresholds_on(monkeypatch, small, blas_min,
                                                                       expected):
    """step_large.forward_backward (mt.fit's path), the same cases; the weights it deferred are
    listed for ``settle``. Mutants: its ``nbytes >= SMALL_WEIGHT_BYTES`` dropped or made ``>``."""
    _patch(monkeypatch, small, blas_min)
    model = _chain()
    opt = _first_step(model)
    x, y = _data(8)
    assert step_large.forward_backward(model, mt.CrossEntropyLoss(), x, y) is not NotImplemented
    try:
        assert _deferred_weights(model) == expected
        assert len(step_large._deferred.weights) == sum(expected)
    finally:
        step_large.settle()
    opt.zero_grad()


@pytest.mark.parametrize(("n", "first_deferred"), [(12, True), (13, False), (1, True)])
def test_the_first_linear_is_deferred_where_its_inputs_copy_is_at_most_half_the_weight(monkeypatch, n,
                                                                                      first_deferred):
    """model.backward copies the chain's input for the first Linear's product: deferred where
    2 * x.size <= W.size (x (n, 20), W (20, 24): n <= 12), else computed at the backward. Mutants:
    the factor 2 changed, ``<=`` made ``<``, the test dropped or applied to every Linear."""
    _patch(monkeypatch, 64, 16)
    model = _chain()
    opt = _first_step(model, n)
    loss_fn = mt.CrossEntropyLoss()
    x, y = _data(n)
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    # the later Linears' inputs are made by the chain: deferred whatever their size
    assert _deferred_weights(model) == [first_deferred, True, True]
    opt.zero_grad()


# ---------------------------------------------------------------- the large-chain kernel's list


def test_each_large_chain_call_lists_only_its_own_weights(monkeypatch):
    """A caller that calls forward_backward twice without settle: the second call settles the
    first's products first, so the list holds the three weights once (mutant: no settle at the
    start of the call, the list grows with every call)."""
    _patch(monkeypatch, 64, 16)
    model = _chain()
    opt = _first_step(model)
    x, y = _data(8)
    try:
        for _ in range(2):
            step_large.forward_backward(model, mt.CrossEntropyLoss(), x, y)
            opt.zero_grad()
        assert len(step_large._deferred.weights) == 3
    finally:
        step_large.settle()
    assert step_large._deferred.weights == []


def test_fit_leaves_no_weight_listed(monkeypatch):
    """After mt.fit nothing stays in the kernel's list (mutant: settle computes the products but
    never clears the list, which then holds every weight of every step: a leak)."""
    _patch(monkeypatch, 64, 16)
    model = _chain()
    _first_step(model)
    x, y = _data(48)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.05),
           mt.DataLoader(x, y, batch_size=8, shuffle=False), epochs=2, verbose=0)
    assert step_large._deferred.weights == []


# ---------------------------------------------------------------- mt.fit's step ending in an error


class _BoomError(Exception):
    pass


def _fit_then_scribble(monkeypatch, where, scribble):
    """fit over one refilled batch array whose step raises ``where`` ("backward": inside the
    large-chain kernel, after its backward; "step": in the optimizer's step); the first weight is
    in no optimizer, so its gradient (deferred over the batch array) stays. ``scribble``: the
    batch array written after fit raised. Returns the first weight's gradient."""
    model = _chain()
    first = model[0].W
    _first_step(model)
    others = [p for p in model.parameters() if p is not first]
    opt = mt.SGD(others, lr=0.05)
    x, y = _data(16)
    xb, yb = np.empty((8, 20), np.float32), np.empty(8, np.int64)

    def loader():
        xb[...], yb[...] = x[:8], y[:8]
        yield xb, yb

    with monkeypatch.context() as patch:
        if where == "backward":
            backward = step_large._backward_params

            def raising(*args):
                backward(*args)
                raise _BoomError

            patch.setattr(step_large, "_backward_params", raising)
        else:
            def step():
                raise _BoomError

            patch.setattr(opt, "step", step)
        with pytest.raises(_BoomError):
            mt.fit(model, mt.CrossEntropyLoss(), opt, loader(), epochs=1, verbose=0)
    if scribble:
        xb[...] = 1e3
    g = first.grad.copy()
    model.zero_grad()
    return g


@pytest.mark.parametrize("where", ["backward", "step"])
def test_fit_computes_the_product_of_a_step_that_raised(monkeypatch, where):
    """A step ending in an error: fit has computed the deferred product before it returns, so the
    batch array written afterwards does not reach the gradient. Mutants: no settle in the handler
    of an error before the step, or settle only when the step returns."""
    _patch(monkeypatch, 64, 16)
    got = _fit_then_scribble(monkeypatch, where, scribble=True)
    expected = _fit_then_scribble(monkeypatch, where, scribble=False)
    assert_bitwise(got, expected)


# ------------------------------------------------------------------------------ the update kernel


def test_a_folded_product_leaves_the_weight_marked(monkeypatch):
    """A product deferred by a direct defer_matmul call (no mark yet) and folded by the update
    kernel: the weight is marked, so the next chain backward may defer (mutant: the mark set only
    where the kernel computed the gradient)."""
    _patch(monkeypatch, 64, 16)
    p = mt.Parameter(np.ones((6, 7), np.float32))
    x, dy = _operands(shape=(6, 7))
    p.defer_matmul(x.T, dy)
    assert p.deferred_product is not None and not p._folds
    assert step_update.sgd_step(mt.SGD([p], lr=0.1)) is True
    assert p._folds and p.deferred_product is not None
    np.testing.assert_allclose(p.data, 1 - np.float32(0.1) * np.matmul(x.T, dy), rtol=1e-6)


# ---------------------------------------------------------------------- products nobody computes


def test_zero_grad_keeping_a_product_does_not_compute_it():
    """zero_grad(set_to_none=False) writes the zeros without the product (mutant: the branch
    dropped, so the product is computed, and warns of its overflow, only to be filled with 0)."""
    p = mt.Parameter(np.zeros((2, 2), np.float32))
    big = np.full((3, 2), 3e30, np.float32)
    p.defer_matmul(big.T, big)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p.zero_grad(set_to_none=False)
    assert_bitwise(p.grad, np.zeros((2, 2), np.float32))


def test_fit_with_plain_sgd_computes_no_weight_gradient_product(monkeypatch):
    """mt.fit, plain SGD on every Parameter of a large chain: from the second step every weight's
    product is folded into its update and dropped by zero_grad, none is computed (the saving the
    fold exists for). Mutants: fit's settle before its zero_grad, or before the step."""
    _patch(monkeypatch, 64, 16)
    computed = []
    take = mt.Parameter._take_product
    monkeypatch.setattr(mt.Parameter, "_take_product", lambda p: computed.append(p.shape) or take(p))
    folded = []
    update = gemm_update.update_
    monkeypatch.setattr(gemm_update, "update_", lambda *args: folded.append(1) or update(*args))
    model = _chain()
    x, y = _data(48)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.05),
           mt.DataLoader(x, y, batch_size=8, shuffle=False), epochs=2, verbose=0)
    assert computed == [] and len(folded) == 3 * 11  # (every weight, from the second of 12 steps)
    assert all(p.grad is None for p in model.parameters())
