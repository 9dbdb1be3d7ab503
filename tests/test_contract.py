"""The Module contract's safety (issue 10, parts B and C): each scenario is correct or a clear error.

Every scenario here gave a silently wrong gradient (or failed) under the old contract, where a
module kept one cache slot that the next forward overwrote and ``Parameter.grad``'s getter
cleared a lazy-zero flag.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import minitorch as mt
from minitorch.gradcheck import _numerical_gradient


class TwiceTanh(mt.Module):
    """One activation instance used twice: y = act(l2(act(l1(x)))), a plain chain."""

    def __init__(self) -> None:
        super().__init__()
        self.l1, self.l2, self.act = mt.Linear(3, 4), mt.Linear(4, 4), mt.Tanh()  # equal widths

    def forward(self, x):
        return self.act(self.l2(self.act(self.l1(x))))


def test_one_instance_used_twice_gets_both_gradients(float64):
    rng = np.random.default_rng(0)
    model = TwiceTanh()
    x = rng.standard_normal((5, 3))
    dy = rng.standard_normal((5, 4))
    act, l1, l2 = model.act, model.l1, model.l2
    act(l2(act(l1(x))))
    dx = l1.backward(act.backward(l2.backward(act.backward(dy))))  # the chain, by hand, in reverse

    def objective():  # the same function in plain NumPy: no module state involved
        h = np.tanh(x @ l1.W.data + l1.b.data)
        return float(np.sum(np.tanh(h @ l2.W.data + l2.b.data) * dy))

    np.testing.assert_allclose(dx, _numerical_gradient(objective, x, 1e-6), rtol=1e-6, atol=1e-8)
    dw = _numerical_gradient(objective, l1.W.data, 1e-6)
    np.testing.assert_allclose(l1.W.grad, dw, rtol=1e-6, atol=1e-8)
    assert mt.gradcheck(model, x)  # and the recorded chain gives the same backward


def test_second_forward_before_backward_is_refused_by_the_optimizer():
    rng = np.random.default_rng(0)
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
    opt = mt.SGD(model.parameters(), lr=0.1)
    x, x_log = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    model(x)
    model(x_log)  # logging on another batch mid-step, without no_grad
    model.backward(np.ones((6, 2)))  # consumes the newest call: the logging batch's
    with pytest.raises(RuntimeError, match=r"Linear\(.*has 1 forward call.*mt.no_grad\(\)"):
        opt.step()
    model.discard_caches()
    opt.step()  # the way out the message names


def test_logging_forward_under_no_grad_leaves_the_gradient_exact():
    rng = np.random.default_rng(0)
    x, x_log, dy = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    grads = []
    for log in (False, True):
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
        model(x)
        if log:
            with mt.no_grad():
                model(x_log)
        model.backward(dy)
        grads.append([p.grad.copy() for p in model.parameters()])
    for clean, logged in zip(*grads, strict=True):
        np.testing.assert_array_equal(clean, logged)


@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_backward_twice_for_one_forward_raises(method):
    model = mt.Sequential(mt.Linear(3, 2))
    model(np.ones((2, 3)))
    getattr(model, method)(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match=r"Linear\.\w+\(\) called before forward.*Run forward first"):
        getattr(model, method)(np.ones((2, 2)))


def test_a_refused_backward_leaves_its_forward_waiting():
    layer = mt.Linear(3, 2)
    layer(np.ones((4, 3)))
    with pytest.raises(ValueError, match="expected dy"):
        layer.backward(np.ones((4, 5)))
    layer.backward(np.ones((4, 2)))  # the retry consumes the call, and it counts once
    np.testing.assert_allclose(layer.b.grad, [4.0, 4.0])
    assert not layer._stack


def test_backward_under_no_grad_forward_raises():
    layer = mt.Linear(3, 2)
    with mt.no_grad():
        layer(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"Linear\.backward"):
        layer.backward(np.ones((2, 2)))


def test_one_loss_object_for_two_terms_backpropagates_both_newest_first(float64):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    ta, tb = rng.integers(0, 3, 4), rng.integers(0, 3, 4)
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(a, ta)
    loss_fn(b, tb)
    db = loss_fn.backward()  # the newest term first
    da = loss_fn.backward()
    for z, t, got in ((a, ta, da), (b, tb, db)):
        separate = mt.CrossEntropyLoss()
        separate(z, t)
        np.testing.assert_array_equal(got, separate.backward())
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss\.backward"):
        loss_fn.backward()


@pytest.mark.parametrize("make_opt", [lambda ps: mt.Adam(ps, lr=0.1),
                                      lambda ps: mt.SGD(ps, lr=0.1, weight_decay=0.5)],
                         ids=["Adam", "SGD-weight-decay"])
def test_reading_a_gradient_never_changes_a_step(make_opt):
    layer = mt.Linear(3, 2)
    opt = make_opt(layer.parameters())
    layer(np.ones((2, 3)))
    layer.backward(np.ones((2, 2)))
    opt.step()
    opt.zero_grad()
    before = [p.data.copy() for p in layer.parameters()]
    norms = [float(np.linalg.norm(p.grad)) for p in layer.parameters() if p.grad is not None]  # a logger
    opt.step()  # no backward since zero_grad: nothing moves, whoever read the gradients
    for p, old in zip(layer.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, old)
    assert norms == [] and layer.W.grad is None and layer.b.grad is None


def test_no_grad_inference_keeps_no_cache():
    layer = mt.Linear(100, 1000)
    x = np.random.default_rng(0).standard_normal((5000, 100)).astype(np.float32)
    tracemalloc.start()
    with mt.no_grad():
        y = layer(x)
    del y
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kept < 100_000, f"no_grad forward left {kept} bytes behind"
    assert layer._x is None and not layer._stack
    layer(x)  # with gradients: the call waits for its backward
    assert layer._x is x or layer._x.base is x or len(layer._stack) == 1


def test_no_grad_is_a_decorator_and_nests_with_enable_grad():
    layer = mt.ReLU()

    @mt.no_grad()
    def infer(x):
        return layer(x), mt.is_grad_enabled()

    assert infer(np.ones(3))[1] is False and mt.is_grad_enabled()
    with mt.no_grad():
        with mt.enable_grad():
            layer(np.ones(3))
        assert not mt.is_grad_enabled()
    assert len(layer._stack) == 1


class QuickstartNet(mt.Module):
    """PyTorch's Quickstart model (smaller images): flatten, then a Sequential stack."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = mt.Flatten()
        self.stack = mt.Sequential(mt.Linear(6 * 6, 16), mt.ReLU(), mt.Linear(16, 16), mt.ReLU(),
                                   mt.Linear(16, 10))

    def forward(self, x):
        x = self.flatten(x)
        logits = self.stack(x)
        return logits


def test_quickstart_net_gets_backward_from_its_chain(float64):
    rng = np.random.default_rng(0)
    model = QuickstartNet()
    x, dy = rng.standard_normal((4, 6, 6)), rng.standard_normal((4, 10))
    model(x)
    dx = model.backward(dy)
    plain = mt.Sequential(mt.Flatten(), *model.stack)
    got = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    plain(x)
    np.testing.assert_array_equal(plain.backward(dy), dx)
    for g, p in zip(got, plain.parameters(), strict=True):
        np.testing.assert_array_equal(g, p.grad)
    assert mt.gradcheck(model, x)


def test_quickstart_net_trains_with_fit():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 6, 6)).astype(np.float32), rng.integers(0, 10, 64)
    model = QuickstartNet()
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
                     mt.DataLoader(X, y, batch_size=16), epochs=3, val_data=(X, y), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not m._stack for m in model.modules())  # fit leaves no call waiting


class Residual(mt.Module):
    """y = x + f(x): not a chain, so backward must be written."""

    def __init__(self) -> None:
        super().__init__()
        self.f = mt.Sequential(mt.Linear(3, 3), mt.Tanh())

    def forward(self, x):
        return x + self.f(x)


class ResidualWritten(Residual):
    def backward(self, dy):
        return dy + self.f.backward(dy)  # the two paths' gradients add


def test_a_forward_that_is_not_a_chain_says_how_to_write_backward(float64):
    model = Residual()
    model(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match=r"Residual.backward.*Write Residual.backward\(dy\)"):
        model.backward(np.ones((2, 3)))
    assert mt.gradcheck(ResidualWritten(), np.random.default_rng(0).standard_normal((2, 3)))


def test_a_subclass_calling_super_forward_and_backward_keeps_one_frame(float64):
    class Doubled(mt.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

        def backward(self, dy):
            return super().backward(2 * dy)

    layer = Doubled(3, 2)
    x = np.random.default_rng(0).standard_normal((4, 3))
    layer(x)
    layer(2 * x)
    assert len(layer._stack) == 2
    layer.backward(np.ones((4, 2)))
    layer.backward(np.ones((4, 2)))
    assert not layer._stack
    assert mt.gradcheck(Doubled(3, 2), x)


def test_sequential_backward_params_consumes_the_skipped_modules_calls():
    model = mt.Sequential(mt.Flatten(), mt.Linear(6, 2))
    model(np.ones((2, 2, 3)))
    model.backward_params(np.ones((2, 2)))
    assert all(not m._stack for m in model.modules())


def test_predict_evaluate_and_summary_leave_no_call_waiting():
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
    X, y = np.ones((10, 3), np.float32), np.zeros(10, dtype=int)
    mt.predict(model, X)
    mt.evaluate(model, mt.CrossEntropyLoss(), X, y)
    mt.summary(model, (3,))
    assert all(not m._stack for m in model.modules())


def test_forward_takes_keyword_arguments():
    class Scale(mt.Module):
        def forward(self, x, *, factor=1.0):
            self._factor = factor
            return x * factor

        def backward(self, dy):
            return dy * self._factor

    scale = Scale()
    np.testing.assert_array_equal(scale(np.ones(2), factor=3.0), [3.0, 3.0])
    np.testing.assert_array_equal(scale.backward(np.ones(2)), [3.0, 3.0])


class Tower(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = mt.ModuleList([mt.Linear(3, 3), mt.Dropout(0.5), mt.Linear(3, 3)])
        self.heads = mt.ModuleDict({"cls": mt.Linear(3, 2), "reg": mt.Linear(3, 1)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["cls"](x)


def test_module_list_and_dict_are_registered_and_chain(float64):
    model = Tower()
    names = list(model.state_dict())
    assert names[:2] == ["layers.0.W", "layers.0.b"] and "heads.cls.W" in names and "heads.reg.b" in names
    assert len(list(model.parameters())) == 8
    model.eval()
    assert not model.layers[1].training and not model.heads["cls"].training
    model.to(np.float32)
    assert model.heads["reg"].W.dtype == np.float32
    model.to(np.float64)
    assert mt.gradcheck(model, np.random.default_rng(0).standard_normal((4, 3)))
    assert len(model.layers) == 3 and list(model.heads) == ["cls", "reg"] and "cls" in model.heads
    with pytest.raises(KeyError):
        model.heads["a.b"] = mt.ReLU()
    with pytest.raises(NotImplementedError, match="ModuleList holds modules"):
        model.layers(np.ones((1, 3)))


def test_zero_grad_set_to_none_false_fills_zeros_and_optimizers_skip_none():
    layer = mt.Linear(2, 2)
    layer.zero_grad(set_to_none=False)
    assert layer.W.grad is None  # as torch: only a written gradient is zeroed
    layer.W.accumulate_grad(np.ones((2, 2)))
    layer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.W.grad, 0)
    opt = mt.SGD(layer.parameters(), lr=1.0, weight_decay=0.5)
    layer.zero_grad()
    before = layer.W.data.copy()
    opt.step()
    np.testing.assert_array_equal(layer.W.data, before)
    assert mt.clip_grad_norm_(layer.parameters(), 1.0) == 0.0


def test_module_list_and_dict_round_trip_through_model_files(tmp_path):
    holder = mt.ModuleList(mt.Linear(2, 2) for _ in range(2))  # a generator, used up by the constructor
    holder.append(mt.Linear(2, 1))
    heads = mt.ModuleDict({"a": mt.Linear(2, 2)})
    heads["b"] = mt.ReLU()
    for model in (holder, heads):
        mt.save_model(model, tmp_path / "m.npz")
        loaded = mt.load_model(tmp_path / "m.npz")
        assert repr(loaded) == repr(model)
        for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_sequential_subclass_keeps_frames_and_chains(float64):
    class Stack(mt.Sequential):
        pass

    class Net(mt.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body, self.head = Stack(mt.Linear(3, 4), mt.Tanh()), mt.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body(x))

    model = Net()
    model(np.ones((2, 3)))
    assert len(model.body._stack) == 1  # a subclass of Sequential keeps its frame again
    model.discard_caches()
    assert mt.gradcheck(model, np.random.default_rng(0).standard_normal((2, 3)))


@pytest.mark.parametrize("first, dx_dtype", [("relu", np.float64), ("linear", np.float32)])
def test_a_containers_dx_has_the_dtype_its_first_child_computed_in(first, dx_dtype):
    """docs/concepts/module-contract.md: a float32 layer gives a float32 dx; a parameterless first
    child computes in the data's float64 and widens the gradient it gets back."""
    rng = np.random.default_rng(0)
    layers = [mt.ReLU(), mt.Linear(4, 2, dtype=np.float32)]
    model = mt.Sequential(*(layers if first == "relu" else [mt.Linear(4, 4, dtype=np.float32), mt.ReLU()]))
    x = rng.standard_normal((3, 4))
    y = model(x)
    dx = model.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == dx_dtype
    y32 = model(x.astype(np.float32))  # the float32 data's numbers, in dx's dtype
    np.testing.assert_array_equal(model.backward(np.ones_like(y32)), dx.astype(np.float32))


def test_a_module_class_defined_by_exec_without_a_module_name_runs():
    """Methods exec'd in a namespace without __name__ (the docs' blocks) have __module__ None."""
    namespace = {"mt": mt, "np": np}
    exec("class Double(mt.Module):\n"
         "    def forward(self, x):\n        return 2 * x\n"
         "    def backward(self, dy):\n        return 2 * dy\n", namespace)
    w = mt.Parameter(np.ones((3, 2)))
    head = mt.Linear(2, 1, dtype=np.float64)
    model = mt.Sequential(namespace["Double"](), head)
    y = model(w[:2])
    assert model.backward(np.ones_like(y)) is None
    np.testing.assert_allclose(w.grad[:2], 2 * np.broadcast_to(head.W.data.sum(axis=1), (2, 2)))
