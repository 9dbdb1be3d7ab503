"""mt.explain (the chain rule printed with real shapes and norms) and mt.check_backward."""

from __future__ import annotations

import inspect
import io

import numpy as np
import pytest

import minitorch as mt
from minitorch.diagnostics.explain import backward_lines

HOLDERS = {mt.Module, mt.ModuleList, mt.ModuleDict, mt.Loss}  # no computation of their own


def _exported_modules():
    return sorted(
        (getattr(mt, name) for name in mt.__all__
         if inspect.isclass(getattr(mt, name)) and issubclass(getattr(mt, name), mt.Module)
         and getattr(mt, name) not in HOLDERS),
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("cls", _exported_modules(), ids=lambda cls: cls.__name__)
def test_every_exported_layer_has_parseable_backward_lines(cls):
    lines = backward_lines(cls)
    assert lines, f"{cls.__name__}: no Backward: lines in its docstring (or a base class's)"
    assert all(line and line == line.strip() for line in lines)
    assert any(("=" in line or "backward" in line) for line in lines), lines


def test_backward_lines_stop_at_the_next_section():
    class Toy(mt.Module):
        """Toy.

        Backward: dx = 2 * dy      (*)
                  dW = x.T @ dy
        Init:     nothing
        """

    assert backward_lines(Toy) == ["dx = 2 * dy      (*)", "dW = x.T @ dy"]


def _net():
    mt.manual_seed(0)
    return mt.Sequential(mt.Linear(4, 8), mt.Tanh(), mt.Linear(8, 3))


def test_explain_prints_each_layer_from_the_loss_back_with_real_shapes_and_norms():
    model = _net()
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    out = io.StringIO()
    text = mt.explain(model, X, y, mt.CrossEntropyLoss(), file=out)
    assert out.getvalue() == text
    order = [text.index(marker) for marker in ("loss: CrossEntropyLoss", "layer 2: Linear", "layer 1: Tanh",
                                                "layer 0: Linear")]
    assert order == sorted(order)
    assert "dx = dy * (1 - y**2)" in text and "dW = x.T @ dy" in text
    assert "W.grad       (8, 3)" in text and "dx leaving   (5, 4)" in text
    # the printed norm of layer 0's W.grad is the real one
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    expected = f"{np.linalg.norm(model[0].W.grad):.4g}"
    block = text[text.index("layer 0: Linear"):]
    assert f"W.grad       (4, 8)  norm {expected}" in block


def test_explain_leaves_gradients_and_frames_as_they_were():
    model = _net()
    X, y = np.ones((3, 4), np.float32), np.array([0, 1, 2])
    mt.explain(model, X, y, mt.CrossEntropyLoss(), file=io.StringIO())
    assert all(p.grad is None for p in model.parameters())
    assert all(not m.__dict__["_stack"] for m in model.modules())


class MyLinear(mt.Module):
    """A learner's Linear with a switchable mistake in db."""

    def __init__(self, n_in, n_out, mistake=False):
        super().__init__()
        rng = np.random.default_rng(1)
        self.W = mt.Parameter(rng.normal(size=(n_in, n_out)))
        self.b = mt.Parameter(rng.normal(size=n_out))
        self.mistake = mistake

    def forward(self, x):
        self._x = x
        return x @ self.W.data + self.b.data

    def backward(self, dy):
        self.W.accumulate_grad(self._x.T @ dy)
        self.b.accumulate_grad(dy.mean(axis=0) if self.mistake else dy.sum(axis=0))
        return dy @ self.W.data.T


def test_check_backward_against_a_minitorch_reference(float64):
    x = np.random.default_rng(0).normal(size=(6, 4))
    good = mt.check_backward(MyLinear(4, 3), mt.Linear(4, 3), x)
    assert good.ok and {c.name for c in good.checks} == {"output", "dx", "W", "b"}
    assert all(c.status in ("exact", "close") for c in good.checks)
    bad = mt.check_backward(MyLinear(4, 3, mistake=True), mt.Linear(4, 3), x)
    assert not bad.ok and bad["b"].status == "wrong" and bad["W"].status != "wrong"
    assert bad["b"].where is not None and "wrong" in str(bad)


def test_check_backward_against_torch_transposes_linear_weights_even_when_square(float64):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(6, 4))
    result = mt.check_backward(MyLinear(4, 4), torch.nn.Linear(4, 4).double(), x)
    assert result.ok, str(result)
    bad = mt.check_backward(MyLinear(4, 3, mistake=True), torch.nn.Linear(4, 3).double(), x)
    assert [c.name for c in bad.checks if c.status == "wrong"] == ["b"]


def test_check_backward_leaves_the_modules_gradients_and_names_a_shape_mismatch():
    module = MyLinear(4, 3)
    mt.check_backward(module, mt.Linear(4, 3), np.ones((2, 4)))
    assert module.W.grad is None and module.b.grad is None
    with pytest.raises(ValueError, match="Parameter 'W' has shape"):
        mt.check_backward(MyLinear(4, 3), mt.Linear(3, 5), np.ones((2, 4)))


def test_check_backward_leaves_running_statistics_of_both_modules_as_they_were(float64):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 5)) * 3 + 1
    module, reference = mt.BatchNorm1d(5), mt.BatchNorm1d(5)
    before = [{k: np.array(v) for k, v in m.state_dict().items()} for m in (module, reference)]
    result = mt.check_backward(module, reference, x)
    assert result.ok, str(result)
    for m, state in zip((module, reference), before, strict=True):
        assert m.training
        for key, value in m.state_dict().items():
            np.testing.assert_array_equal(value, state[key], err_msg=key)


def test_check_backward_leaves_a_torch_references_running_statistics(float64):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).normal(size=(8, 5)) * 3 + 1
    reference = torch.nn.BatchNorm1d(5).double()
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    result = mt.check_backward(mt.BatchNorm1d(5), reference, x)
    assert result.ok, str(result)
    for key, value in reference.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_check_backward_judges_a_float32_layer_at_float32_tolerance_against_a_float64_reference():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 64)).astype(np.float32)
    for reference in (torch.nn.Linear(64, 32).double(), mt.Linear(64, 32, dtype=np.float64)):
        result = mt.check_backward(mt.Linear(64, 32), reference, x)
        assert result.ok, str(result)
        assert any(check.status == "close" for check in result.checks)
    wrong = mt.check_backward(MyLinear(64, 32, mistake=True), torch.nn.Linear(64, 32).double(),
                              x.astype(np.float64))
    assert [c.name for c in wrong.checks if c.status == "wrong"] == ["b"]
