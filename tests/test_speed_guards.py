"""Guards for the fast paths (issue 5): no timing here, the benchmark is the judge of speed.

These check what the speed work must never change: a float32 step stays float32 in every array,
the data's gradient is never computed by ``backward_params``, a gradient written right after
``zero_grad`` is a value and not a sum, and no module writes into an array its caller owns.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import MODULE_CASES

import minitorch as mt


def _mlp() -> mt.Sequential:
    return mt.Sequential(mt.Linear(6, 5), mt.ReLU(), mt.Linear(5, 4), mt.Sigmoid(), mt.Linear(4, 3))


def _spy_outputs(model: mt.Sequential) -> list[np.ndarray]:
    """Record every array each child's forward and backward returns (instance-level wrappers)."""
    seen: list[np.ndarray] = []
    for module in model:
        for name in ("forward", "backward"):
            method = getattr(module, name)

            def spy(*args, _method=method):
                out = _method(*args)
                seen.append(out)
                return out

            setattr(module, name, spy)
    return seen


def _floating_arrays(model: mt.Module, loss_fn: mt.Loss) -> list[tuple[str, np.ndarray]]:
    """(name, array) for every cache, parameter and gradient of the model, and the loss's caches."""
    arrays = []
    for owner in [*model.modules(), loss_fn]:
        arrays += [(f"{type(owner).__name__}.{k}", v)
                   for k, v in vars(owner).items() if isinstance(v, np.ndarray)]
    for name, p in model.named_parameters():
        arrays += [(f"{name}.data", p.data), (f"{name}.grad", p.grad)]
    return [(name, a) for name, a in arrays if a is not None and a.dtype.kind == "f"]


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64, np.int64])
def test_float32_training_step_keeps_every_array_float32(x_dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 6)) * 3).astype(x_dtype)  # float64 or integer data: still float32 work
    y = rng.integers(0, 3, 8)
    model, loss_fn = _mlp(), mt.CrossEntropyLoss()
    opt = mt.SGD(model.parameters(), lr=0.1)
    returned = _spy_outputs(model)

    loss = loss_fn(model(x), y)
    caches = _floating_arrays(model, loss_fn)  # the caches live until their backward
    dz = loss_fn.backward()
    model.backward_params(dz)
    opt.step()

    assert isinstance(loss, float)
    assert dz.dtype == np.float32
    assert len(returned) == 5 + 4  # every forward, and every backward but the first layer's
    assert [a.dtype for a in returned] == [np.float32] * len(returned)
    arrays = caches + _floating_arrays(model, loss_fn)
    names = {n for n, _ in arrays}
    assert {"Linear._x", "ReLU._mask", "Sigmoid._out"} <= names
    assert names & {"CrossEntropyLoss._probs", "CrossEntropyLoss._dlogits"}  # plain / fast-room cache
    assert [(n, a.dtype) for n, a in arrays if a.dtype != np.float32] == []


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, np.ndarray) else a


class _MatmulSpy(np.ndarray):
    """An array that counts the matrix products it takes part in (matmul is a ufunc)."""

    matmuls = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul:
            _MatmulSpy.matmuls += 1
        inputs = tuple(_plain(i) for i in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)


@pytest.mark.parametrize("prefix", [[], [mt.Flatten()], [mt.Identity(), mt.Flatten()]])
def test_backward_params_skips_the_data_gradient(prefix):
    """W takes part in y = x @ W and in dx = dy @ W.T, never in dW = x.T @ dy: count its products."""
    model = mt.Sequential(*prefix, mt.Linear(6, 5), mt.ReLU(), mt.Linear(5, 3))
    first = model[len(prefix)]
    first.W.data = first.W.data.view(_MatmulSpy)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)

    _MatmulSpy.matmuls = 0
    model(x)
    model.backward_params(dy)
    assert _MatmulSpy.matmuls == 1  # the forward product only
    assert np.abs(first.W.grad).sum() > 0

    model(x)
    model.backward(dy)
    assert _MatmulSpy.matmuls == 3  # backward does compute dx: the spy does see it


def test_backward_params_gives_the_same_gradients_as_backward():
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((5, 6)), rng.standard_normal((5, 3))
    a = _mlp()
    b = _mlp()
    b.load_state_dict(a.state_dict())
    a(x)
    a.backward(dy)
    b(x)
    b.backward_params(dy)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.grad, pb.grad, err_msg=name)


def test_gradient_after_zero_grad_is_written_not_added():
    rng = np.random.default_rng(0)
    layer = mt.Linear(4, 3)
    x1, dy1 = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    x2, dy2 = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    layer(x1)
    layer.backward(dy1)
    layer(x2)
    layer.backward(dy2)  # no zero_grad: the two gradients add up
    np.testing.assert_allclose(layer.W.grad, x1.T @ dy1 + x2.T @ dy2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.b.grad, dy1.sum(0) + dy2.sum(0), rtol=1e-5, atol=1e-6)

    layer.zero_grad()
    layer(x2)
    layer.backward(dy2)  # written into the old buffer, whose stale sum must not leak in
    np.testing.assert_allclose(layer.W.grad, x2.T @ dy2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.b.grad, dy2.sum(0), rtol=1e-5, atol=1e-6)


def test_accumulate_matmul_writes_then_adds_and_respects_a_read_grad():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    p = mt.Parameter(np.full((3, 2), 7.0))
    p.grad = np.full((3, 2), 9.0)
    p.zero_grad()
    p.accumulate_matmul(a, b)
    np.testing.assert_allclose(p.grad, a @ b, rtol=1e-12)
    p.accumulate_matmul(a, b)
    np.testing.assert_allclose(p.grad, 2 * (a @ b), rtol=1e-12)
    p.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, 0)  # zeros when asked for ...
    p.accumulate_matmul(a, b)
    np.testing.assert_allclose(p.grad, a @ b, rtol=1e-12)  # ... and the next product adds to them


@pytest.mark.parametrize("factory, shape", [c[1:] for c in MODULE_CASES], ids=[c[0] for c in MODULE_CASES])
def test_modules_never_write_into_arrays_they_are_given(factory, shape):
    """The ownership rule: forward(x) and backward(dy) leave x and dy as they were."""
    rng = np.random.default_rng(0)
    module = factory()
    x = rng.standard_normal(shape).astype(np.float32)
    x_before = x.copy()
    y = module(x)
    module(x)  # one forward call for each of the two backwards below
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy_before = dy.copy()
    module.backward(dy)
    module.backward_params(dy)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dy, dy_before)


def test_relu_and_sigmoid_edge_values_without_warnings():
    x = np.array([-np.inf, -1e4, -1.0, 0.0, 1.0, 1e4, np.inf], dtype=np.float32)
    relu, sigmoid = mt.ReLU(), mt.Sigmoid()
    np.testing.assert_array_equal(relu(x), [0, 0, 0, 0, 1, 1e4, np.inf])
    np.testing.assert_array_equal(relu.backward(np.full(7, 2, np.float32)), [0, 0, 0, 0, 2, 2, 2])
    np.testing.assert_array_equal(sigmoid(x)[[0, 1, 3, 5, 6]], [0, 0, 0.5, 1, 1])
    assert np.isnan(relu(np.array([np.nan], np.float32))[0])
    assert np.isnan(sigmoid(np.array([np.nan], np.float32))[0])
    assert relu(np.float32(3.0)) == 3.0 and relu(np.float32(-3.0)) == 0.0  # 0-d input


def test_leaky_relu_and_elu_edge_values_and_subgradients_at_zero():
    x = np.array([-np.inf, -1e4, -1.0, 0.0, 1.0, 1e4, np.inf], dtype=np.float32)
    dy = np.arange(1, 8, dtype=np.float32)
    leaky = mt.LeakyReLU(0.25)
    np.testing.assert_array_equal(leaky(x), [-np.inf, -2500, -0.25, 0, 1, 1e4, np.inf])
    np.testing.assert_array_equal(leaky.backward(dy), dy * [0.25, 0.25, 0.25, 0.25, 1, 1, 1])
    elu = mt.ELU(alpha=0.5)
    np.testing.assert_array_equal(elu(x)[[0, 1, 3, 4, 5, 6]], [-0.5, -0.5, 0, 1, 1e4, np.inf])
    assert elu(x)[2] == np.float32(0.5 * np.expm1(np.float32(-1.0)))
    np.testing.assert_array_equal(elu.backward(dy)[[0, 3, 4, 6]], [0, 4 * 0.5, 5, 7])  # slope alpha at 0
