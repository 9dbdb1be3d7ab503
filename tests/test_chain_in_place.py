"""The automatic backward of a module without its own: the recorded chain must be what forward computed.

The recording checks which arrays link the children (identity); arithmetic done to those arrays in
place (``y *= 2``, ``x *= 2``, ``np.maximum(y, 0, out=y)``) keeps the links and changes the numbers.
Such a forward is refused (NotImplementedError naming the module and the fix), never a wrong
gradient; ``interop.to_torch`` refuses it the same way. The expected gradients are central
differences of the module's own forward, run on fresh copies of the input.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt
from minitorch.gradcheck import _numerical_gradient


class _Two(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b = mt.Linear(3, 4), mt.Tanh(), mt.Linear(4, 2)


class Chain(_Two):
    def forward(self, x):
        return self.b(self.act(self.a(x)))


class ScaledBetween(_Two):
    def forward(self, x):
        y = self.act(self.a(x))
        y *= 2.0
        return self.b(y)


class ClippedBetween(_Two):
    def forward(self, x):
        y = self.a(x)
        np.maximum(y, 0, out=y)
        return self.b(self.act(y))


class ScalesItsInput(_Two):
    def forward(self, x):
        x *= 2.0
        return self.b(self.act(self.a(x)))


class ShiftsItsInput(_Two):  # the gradient happens to be right; the chain still is not the forward
    def forward(self, x):
        x += 1.0
        return self.b(self.act(self.a(x)))


class ScalesItsOutput(_Two):
    def forward(self, x):
        out = self.b(self.act(self.a(x)))
        out *= 3.0
        return out


class ShiftsItsOutput(_Two):
    def forward(self, x):
        out = self.b(self.act(self.a(x)))
        out += 1.0
        return out


class Nested(mt.Module):  # the in-place arithmetic one level down
    def __init__(self) -> None:
        super().__init__()
        self.inner, self.act = ScaledBetween(), mt.Sigmoid()

    def forward(self, x):
        return self.act(self.inner(x))


class InPlaceInsideSequentialChild(mt.Module):  # a Sequential child's output changed in place
    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = mt.Sequential(mt.Linear(3, 4), mt.Tanh()), mt.Linear(4, 2)

    def forward(self, x):
        y = self.body(x)
        y *= 2.0
        return self.head(y)


IN_PLACE = [ScaledBetween, ClippedBetween, ScalesItsInput, ShiftsItsInput, ScalesItsOutput, ShiftsItsOutput,
            Nested, InPlaceInsideSequentialChild]


class ReusesAChild(_Two):  # one instance called twice (Tanh), a plain chain
    def forward(self, x):
        return self.act(self.b(self.act(self.a(x))))


class Residual(_Two):
    def forward(self, x):
        return self.b(self.act(self.a(x))) + x[:, :2]


class Branches(_Two):  # a plain chain on each path: backward follows the path this call took
    def forward(self, x):
        h = self.a(x)
        return self.b(self.act(h) if x.mean() > 0 else h)


class WithSequentialChild(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = mt.Sequential(mt.Linear(3, 4), mt.Tanh()), mt.Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x))


def _expected(model: mt.Module, x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dx and the first Linear's dW by central differences of forward on copies of x."""
    def f():
        with mt.no_grad():
            return float(np.sum(model(x.copy()) * dy))

    first = next(m for m in model.modules() if isinstance(m, mt.Linear))
    return _numerical_gradient(f, x, 1e-6), _numerical_gradient(f, first.W.data, 1e-6)


def _data(seed: int = 0, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 2))


@pytest.mark.parametrize("cls", IN_PLACE, ids=lambda c: c.__name__)
def test_in_place_arithmetic_on_the_chain_is_refused_not_a_wrong_gradient(float64, cls):
    model = cls()
    x, dy = _data()
    model(x.copy())
    name = "ScaledBetween" if cls is Nested else cls.__name__
    with pytest.raises(NotImplementedError, match=rf"{name}\.backward: .*changed .* in place.*"
                                                  rf"write {name}\.backward\(dy\)"):
        model.backward(dy)


@pytest.mark.parametrize("cls", [ScaledBetween, ScalesItsInput, ScalesItsOutput, Nested],
                         ids=lambda c: c.__name__)
def test_backward_params_refuses_too(float64, cls):
    model = cls()
    x, dy = _data()
    model(x.copy())
    with pytest.raises(NotImplementedError, match="in place"):
        model.backward_params(dy)


@pytest.mark.parametrize("cls", [ScaledBetween, ClippedBetween, ScalesItsInput, ScalesItsOutput],
                         ids=lambda c: c.__name__)
def test_the_refused_chain_would_have_been_wrong(float64, cls):
    """Why refuse: the chain of children, run by hand in reverse, is not the forward's gradient."""
    model = cls()
    x, dy = _data()
    dx_true, _ = _expected(model, x, dy)
    model(x.copy())
    chained = model.a.backward(model.act.backward(model.b.backward(dy)))
    assert not np.allclose(chained, dx_true, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("cls", [Chain, ReusesAChild, WithSequentialChild], ids=lambda c: c.__name__)
def test_plain_chains_still_get_the_right_backward(float64, cls):
    model = cls()
    x, dy = _data()
    dx_true, dW_true = _expected(model, x, dy)
    model(x.copy())
    dx = model.backward(dy)
    first = next(m for m in model.modules() if isinstance(m, mt.Linear))
    np.testing.assert_allclose(dx, dx_true, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(first.W.grad, dW_true, rtol=1e-6, atol=1e-8)
    assert mt.gradcheck(cls(), x)


def test_a_child_called_twice_on_the_same_value_is_a_chain(float64):
    class Twice(mt.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = mt.Tanh()

        def forward(self, x):
            return self.act(self.act(x))

    x, _ = _data()
    assert mt.gradcheck(Twice(), x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_forward_branching_on_its_input_follows_the_path_taken(float64, sign):
    x, dy = _data()
    x = sign * np.abs(x)
    model = Branches()
    dx_true, dW_true = _expected(model, x, dy)
    model(x.copy())
    np.testing.assert_allclose(model.backward(dy), dx_true, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.a.W.grad, dW_true, rtol=1e-6, atol=1e-8)


def test_a_residual_is_refused_as_not_a_chain(float64):
    model = Residual()
    x, dy = _data()
    model(x)
    with pytest.raises(NotImplementedError, match=r"Residual\.backward: .*did not return the last child"):
        model.backward(dy)


def test_each_waiting_call_keeps_its_own_verdict(float64):
    """Two calls, then two backwards: the refusal belongs to the call that wrote in place."""
    class SometimesInPlace(_Two):
        def __init__(self) -> None:
            super().__init__()
            self.scale = True

        def forward(self, x):
            y = self.act(self.a(x))
            if self.scale:
                y *= 2.0
            return self.b(y)

    model = SometimesInPlace()
    x, dy = _data()
    model(x.copy())  # in place: waits, refused when its turn comes
    model.scale = False
    dx_true, _ = _expected(model, x, dy)
    model(x.copy())
    np.testing.assert_allclose(model.backward(dy), dx_true, rtol=1e-6, atol=1e-8)
    with pytest.raises(NotImplementedError, match="in place"):
        model.backward(dy)


def test_no_grad_forward_records_nothing(float64):
    model = ScaledBetween()
    x, _ = _data()
    with mt.no_grad():
        model(x)
    with pytest.raises(RuntimeError, match="no forward call is waiting"):
        model.backward(np.zeros((5, 2)))


@pytest.mark.parametrize("cls", [ScaledBetween, ScalesItsInput, ScalesItsOutput, Nested],
                         ids=lambda c: c.__name__)
def test_to_torch_refuses_in_place_arithmetic(cls):
    pytest.importorskip("torch")
    model = cls()
    x, _ = _data()
    with pytest.raises(TypeError, match=r"to_torch: .*is not a plain chain.*in place"):
        mt.interop.to_torch(model, x.astype(np.float32))


def test_to_torch_of_a_plain_chain_still_matches():
    torch = pytest.importorskip("torch")
    model = Chain()
    x = _data()[0].astype(np.float32)
    t = mt.interop.to_torch(model, x)
    with torch.no_grad():
        np.testing.assert_allclose(t(torch.from_numpy(x)).numpy(), model(x), rtol=1e-5, atol=1e-6)


def test_to_torch_refuses_a_forward_branching_on_its_input():
    pytest.importorskip("torch")
    x = np.abs(_data()[0]).astype(np.float32)
    with pytest.raises(TypeError, match=r"to_torch: model \(Branches\) calls other children"):
        mt.interop.to_torch(Branches(), x)
