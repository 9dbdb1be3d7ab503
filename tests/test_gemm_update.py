"""A weight gradient kept as its product (``Parameter.defer_matmul``) and plain SGD's update folded
into one BLAS gemm (``minitorch/kernels/gemm_update.py``).

The fused update W -= lr * (a @ b) equals the plain G = a @ b; W -= lr * G to float rounding: both
sum each element's products in the same order, the plain form rounds the sum to G first. The bound
used here, 4 eps (|W| + |lr| (|a| @ |b|)), is a few roundings of the largest quantity either form
holds (a K-blocked product adds a partial sum into W more than once); a wrong sign, a missed
transpose or a missed update exceeds it by orders of magnitude.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from bitwise import assert_bitwise
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import containers, flat, gemm_update, step_large, step_update
from minitorch.kernels import optimizers as optimizer_kernels

pytestmark = pytest.mark.skipif(not gemm_update._get_gemm().routines, reason="NumPy's BLAS is not OpenBLAS")


def _bound(W, a, b, lr):
    eps = np.finfo(W.dtype).eps
    return 4 * eps * (np.abs(W.astype(np.float64)) + abs(lr) * (np.abs(a.astype(np.float64)) @ np.abs(b)))


def _plain(W, a, b, lr):
    out = W.copy()
    out -= np.asarray(lr, W.dtype) * np.matmul(a, b)
    return out


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64]), m=st.integers(1, 70), n=st.integers(1, 70),
       k=st.sampled_from([1, 3, 16, 129, 700]), transposed=st.booleans(),
       lr=st.sampled_from([0.01, -0.5, 3.0, 1e-6]), seed=st.integers(0, 2**16))
def test_update_is_the_plain_update_to_rounding(dtype, m, n, k, transposed, lr, seed):
    """update_(W, a, b, lr) against W - lr * (a @ b) computed as the plain lines do, a given
    C-contiguous or as the transpose of a C-contiguous (k, m) batch (the backward's x.T)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n)).astype(dtype)
    a = rng.standard_normal((k, m) if transposed else (m, k)).astype(dtype)
    a = a.T if transposed else a
    b = rng.standard_normal((k, n)).astype(dtype)
    assert gemm_update.takes(W, a, b, lr)
    expected = _plain(W, a, b, lr)
    got = W.copy()
    gemm_update.update_(got, a, b, lr)
    assert np.all(np.abs(got.astype(np.float64) - expected) <= _bound(W, a, b, lr))
    if not np.array_equal(expected, W):  # (a step under half an ulp of every element moves nothing)
        assert not np.array_equal(got, W)


def _arrays(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal((4, 6)).astype(dtype).T,
            rng.standard_normal((4, 5)).astype(dtype))


@pytest.mark.parametrize("case", ["lr 0", "lr nan", "lr inf", "W float16", "dtypes differ", "W Fortran",
                                  "W strided", "W read-only", "b strided", "shapes", "no rows", "errstate"])
def test_takes_declines_what_update_cannot_compute(case):
    """The cases the gemm does not take (the caller then computes the gradient and steps with it)."""
    W, a, b = _arrays()
    lr = 0.1
    if case == "lr 0":
        lr = 0.0  # (alpha 0: OpenBLAS leaves W as it is, where W - 0 * inf is nan)
    elif case == "lr nan":
        lr = float("nan")
    elif case == "lr inf":
        lr = float("inf")
    elif case == "W float16":
        W, a, b = _arrays(np.float16)
    elif case == "dtypes differ":
        b = b.astype(np.float64)
    elif case == "W Fortran":
        W = np.asfortranarray(W)
    elif case == "W strided":
        W = np.zeros((6, 10), np.float32)[:, ::2]
    elif case == "W read-only":
        W.flags.writeable = False
    elif case == "b strided":
        b = np.zeros((4, 10), np.float32)[:, ::2]
    elif case == "shapes":
        b = b[:, :4]
    elif case == "no rows":
        a, b = a[:, :0], b[:0]
    if case == "errstate":
        with np.errstate(over="raise"):
            assert not gemm_update.takes(W, a, b, lr)
    else:
        assert not gemm_update.takes(W, a, b, lr)


# ----------------------------------------------------------------------------- Parameter.defer_matmul

def _deferred(dtype=np.float32):
    """A Parameter whose first gradient is deferred, and the two arrays of its product."""
    rng = np.random.default_rng(1)
    p = mt.Parameter(rng.standard_normal((6, 5)).astype(dtype))
    x, dy = rng.standard_normal((4, 6)).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    p.defer_matmul(x.T, dy)
    return p, x, dy


def test_a_deferred_product_reads_as_the_eager_gradient_bitwise():
    p, x, dy = _deferred()
    assert p.deferred_product is not None and p.grad_is_zero is False
    assert_bitwise(p.grad, np.matmul(x.T, dy))
    assert p.deferred_product is None


def test_a_second_product_accumulates_as_accumulate_matmul():
    p, x, dy = _deferred()
    q = mt.Parameter(p.data.copy())
    q.accumulate_matmul(x.T, dy)
    for r in (p, q):
        r.defer_matmul(x.T, 2 * dy)
    assert_bitwise(p.grad, q.grad)


def test_zero_grad_keeps_none_or_zeros_as_for_a_written_gradient():
    p, _, _ = _deferred()
    p.zero_grad(set_to_none=False)
    assert_bitwise(p.grad, np.zeros((6, 5), np.float32))
    p, _, _ = _deferred()
    p.zero_grad()
    assert p.grad is None and p.deferred_product is None


def test_assigning_grad_drops_the_product():
    p, _, _ = _deferred()
    p.grad = np.ones((6, 5), np.float32)
    assert p.deferred_product is None
    assert_bitwise(p.grad, np.ones((6, 5), np.float32))


def test_a_product_is_not_deferred_under_another_error_state():
    """Under np.errstate(over="raise") the product is computed at once, and raises there."""
    p = mt.Parameter(np.zeros((2, 2), np.float32))
    big = np.full((3, 2), 3e30, np.float32)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        p.defer_matmul(big.T, big)
    assert p.deferred_product is None


def test_a_product_read_later_warns_as_at_its_backward_not_under_the_readers_error_state():
    """Deferred under NumPy's default state, it is computed under it: an overflow warns (as the
    backward would have) even where the reader raises on overflow."""
    p = mt.Parameter(np.zeros((2, 2), np.float32))
    big = np.full((3, 2), 3e30, np.float32)
    p.defer_matmul(big.T, big)
    with np.errstate(over="raise"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        g = p.grad
    assert np.isinf(g).all() and any("overflow" in str(w.message) for w in seen)


def test_a_data_cast_after_the_backward_keeps_the_gradients_dtype():
    """As for a written gradient: the dtype it was computed in (``Parameter`` docstring)."""
    p, x, dy = _deferred()
    p.data = p.data.astype(np.float64)
    assert p.grad.dtype == np.float32
    assert_bitwise(p.grad, np.matmul(x.T, dy))


def test_a_deepcopy_keeps_the_product():
    p, x, dy = _deferred()
    q = copy.deepcopy(p)
    assert_bitwise(q.grad, np.matmul(x.T, dy))
    assert p.deferred_product is not None


# ------------------------------------------------------------------------------- the training loops

def _large_chain(dtype=np.float32):
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(20, 24), mt.ReLU(), mt.Linear(24, 16), mt.ReLU(), mt.Linear(16, 5))
    return model.to(dtype)


@pytest.fixture
def small_is_large(monkeypatch):
    """The chain kernels and the update kernel treat the 20-24-16-5 chain as large."""
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 64)
    monkeypatch.setattr(optimizer_kernels, "BLAS_MIN", 16)
    monkeypatch.setattr(flat, "MAX_ELEMENTS", 32)
    monkeypatch.setattr(mt.kernels, "_enabled", True)


def _readme_loop(model, data, opt, fold=True, between=None):
    """The README's loop; ``fold`` False: every deferred product computed before the step (the
    plain update on the eager gradient's numbers); ``between(x, dy)``: run after the backward."""
    loss_fn = mt.CrossEntropyLoss()
    for x, y in data:
        loss_fn(model(x), y)
        dy = loss_fn.backward()
        model.backward(dy)
        if between is not None:
            between(x, dy)
        if not fold:
            for p in model.parameters():
                p.grad  # noqa: B018
        opt.step()
        opt.zero_grad()


def _data(n=8, steps=5, seed=3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n, 20)).astype(dtype), rng.integers(0, 5, n)) for _ in range(steps)]


def _close(got, expected, rtol):
    for p, q in zip(got, expected, strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("maximize", [False, True])
def test_the_readme_loop_folds_the_update_and_trains_as_the_plain_update(small_is_large, monkeypatch, dtype,
                                                                      maximize):
    """The README loop, kernels on: from the second step the chain kernel defers the three
    weights' products and the update folds them (counted); the Parameters stay within float rounding of the
    same loop stepping on the computed gradients."""
    folded = []
    update = gemm_update.update_
    monkeypatch.setattr(gemm_update, "update_", lambda *args: folded.append(args[0].shape) or update(*args))
    models = [_large_chain(dtype), _large_chain(dtype)]
    for model, fold in zip(models, (True, False), strict=True):
        opt = mt.SGD(model.parameters(), lr=0.05, maximize=maximize)
        _readme_loop(model, _data(dtype=dtype), opt, fold=fold)
    assert folded == [(20, 24), (24, 16), (16, 5)] * 4
    _close(models[0].parameters(), models[1].parameters(), 1e-5 if dtype == np.float32 else 1e-12)


def test_a_batch_written_after_the_backward_does_not_reach_the_gradient(small_is_large):
    """The chain's input and the dy given are the caller's: written in place between backward and
    step, the folded update still steps with the gradient of the batch the forward saw (a chain
    whose last Linear is large too, so that its product holds the dy given)."""
    def scribble(x, dy):
        x[...] = 1e3
        dy[...] = -7.0

    results = []
    for between in (scribble, None):
        model = mt.Sequential(*_large_chain(), mt.Linear(5, 24), mt.ReLU(), mt.Linear(24, 16))
        opt, loss = mt.SGD(model.parameters(), lr=0.05), mt.MSELoss()
        rng = np.random.default_rng(4)
        deferred = []
        for _ in range(4):
            x = rng.standard_normal((8, 20)).astype(np.float32)
            t = rng.standard_normal((8, 16)).astype(np.float32)
            loss(model(x), t)
            dy = loss.backward()
            model.backward(dy)
            deferred.append(sum(p.deferred_product is not None for p in model.parameters()))
            if between is not None:
                between(x, dy)
            opt.step()
            opt.zero_grad()
        assert deferred == [0, 5, 5, 5]
        results.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b)


def test_after_a_folded_step_the_gradient_still_reads_and_a_second_step_applies_it_again(small_is_large):
    """The update leaves the gradient as its product: read after the step it is the eager
    gradient, bitwise; a second step without zero_grad steps with it again, as the plain loop."""
    results = []
    for fold in (True, False):
        model = _large_chain()
        opt = mt.SGD(model.parameters(), lr=0.05)
        loss_fn = mt.CrossEntropyLoss()
        for x, y in _data(steps=2):
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            if not fold:
                for p in model.parameters():
                    p.grad  # noqa: B018
            opt.step()
            opt.step()
            grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
            opt.zero_grad()
        results.append((model, grads))
    (m1, g1), (m2, g2) = results
    for a, b in zip(g1, g2, strict=True):
        assert_bitwise(a, b)
    _close(m1.parameters(), m2.parameters(), 1e-5)


def test_adam_after_sgd_steps_with_the_eager_gradients_bitwise(small_is_large, monkeypatch):
    """A weight whose products plain SGD folded, then trained by Adam: its first Adam backward may
    still defer (Adam reads the gradient: computed, bitwise), and no later one does."""
    results, counts = [], []
    for defer in (True, False):
        with monkeypatch.context() as patch:
            if not defer:
                patch.setattr(mt.Parameter, "defer_matmul", mt.Parameter.accumulate_matmul)
            model = _large_chain()
            _readme_loop(model, _data(steps=3), mt.SGD(model.parameters(), lr=0.05), fold=False)
            deferred = []
            opt = mt.Adam(model.parameters(), lr=1e-3)
            loss_fn = mt.CrossEntropyLoss()
            for x, y in _data(steps=3, seed=9):
                loss_fn(model(x), y)
                model.backward(loss_fn.backward())
                deferred.append(sum(p.deferred_product is not None for p in model.parameters()))
                opt.step()
                opt.zero_grad()
            results.append([p.data.copy() for p in model.parameters()])
            counts.append(deferred)
    assert counts == [[3, 0, 0], [0, 0, 0]]
    for a, b in zip(*results, strict=True):
        assert_bitwise(a, b)


def test_mt_fit_folds_the_update_and_trains_as_with_kernels_off(small_is_large, monkeypatch):
    """mt.fit on a large chain: the large-chain kernel defers, the update folds (counted), and the
    result is within float rounding of fit with the kernels off (the plain formulas)."""
    folded = []
    update = gemm_update.update_
    monkeypatch.setattr(gemm_update, "update_", lambda *args: folded.append(1) or update(*args))
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((64, 20)).astype(np.float32), rng.integers(0, 5, 64)
    results = []
    for on in (True, False):
        monkeypatch.setattr(mt.kernels, "_enabled", on)
        model = _large_chain()
        h = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.05),
                   mt.DataLoader(X, Y, batch_size=16, shuffle=False), epochs=2, verbose=0)
        results.append((h["loss"], list(model.parameters())))
        assert all(p.grad is None and p.deferred_product is None for p in model.parameters())
    assert len(folded) == 3 * 7  # (every weight, from the second step)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    _close(results[0][1], results[1][1], 1e-5)


def test_fit_computes_a_product_left_deferred_before_its_loader_refills_the_batch(small_is_large):
    """A weight fit's optimizer does not hold keeps its gradient across steps; where the large-chain
    kernel deferred it over the loader's batch, fit computes it when the step ends: a loader that
    refills one array for each batch gives the gradient of the batches it gave, bitwise."""
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((48, 20)).astype(np.float32), rng.integers(0, 5, 48)

    def refilled():
        xb, yb = np.empty((16, 20), np.float32), np.empty(16, np.int64)
        for i in range(0, 48, 16):
            xb[...], yb[...] = X[i:i + 16], Y[i:i + 16]
            yield xb, yb

    grads = []
    for loader in (refilled, lambda: [(X[i:i + 16].copy(), Y[i:i + 16].copy()) for i in range(0, 48, 16)]):
        model = _large_chain()
        first = model[0].W
        # a step of plain SGD on every Parameter first: the first weight's products may be deferred
        _readme_loop(model, _data(steps=1), mt.SGD(model.parameters(), lr=0.05))
        others = [p for p in model.parameters() if p is not first]
        mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(others, lr=0.05), loader(), epochs=1, verbose=0)
        grads.append(first.grad.copy())
    assert_bitwise(grads[0], grads[1])


def test_settle_computes_what_is_left_and_forgets_it():
    p, x, dy = _deferred()
    step_large._deferred.weights[:] = [p]
    step_large.settle()
    assert p.deferred_product is None and not step_large._deferred.weights
    assert_bitwise(p.grad, np.matmul(x.T, dy))


def test_the_update_kernel_marks_a_weight_it_could_fold_and_a_read_clears_it(small_is_large):
    p = mt.Parameter(np.ones((6, 7), np.float32))  # (more than flat.MAX_ELEMENTS: no flat group)
    p.grad = np.ones((6, 7), np.float32)
    opt = mt.SGD([p], lr=0.1)
    assert not p._folds
    assert step_update.sgd_step(opt) is True and p._folds
    p.grad = None
    p.defer_matmul(np.ones((6, 3), np.float32), np.ones((3, 7), np.float32))
    assert p._folds and p.deferred_product is not None
    p.grad  # noqa: B018
    assert not p._folds
