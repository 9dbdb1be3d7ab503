"""Issue 15: PyTorch habits that work (Parameters, freezing, dtype/device, PyTorch names, loss value)."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


def _net(seed: int = 0, dtype: type = np.float32) -> mt.Module:
    mt.manual_seed(seed)
    model = mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3))
    return model.to(dtype)


def _batch(dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 4)).astype(dtype), rng.integers(0, 3, 6)


def _grads(model: mt.Module, loss_fn: mt.Module, x: np.ndarray, y: np.ndarray) -> None:
    model.zero_grad()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())


# ----------------------------------------------------------------- Parameter as an array
def test_parameter_acts_as_its_array() -> None:
    p = mt.Parameter(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert p.numel() == 6 and p.ndim == 2
    np.testing.assert_array_equal(p[1], [3.0, 4.0, 5.0])
    assert p[0, 2] == 2.0
    a = np.asarray(p)
    assert a is p.data
    assert np.asarray(p, dtype=np.float32).dtype == np.float32
    assert np.array(p, copy=True) is not p.data
    one = mt.Parameter(np.array([2.5]))
    assert one.item() == 2.5 and isinstance(one.item(), float)
    with pytest.raises(ValueError, match=r"one element, got shape \(2, 3\)"):
        p.item()


def test_parameter_in_place_update_keeps_the_object_and_array() -> None:
    model = _net(dtype=np.float64)
    loss_fn = mt.CrossEntropyLoss()
    x, y = _batch(np.float64)
    _grads(model, loss_fn, x, y)
    expected = [p.data - 0.1 * p.grad for p in model.parameters()]
    arrays = [p.data for p in model.parameters()]
    for p in model.parameters():  # the loop of a hand-written PyTorch training step
        p -= 0.1 * p.grad
    for p, a, e in zip(model.parameters(), arrays, expected, strict=True):
        assert isinstance(p, mt.Parameter) and p.data is a
        np.testing.assert_array_equal(p.data, e)
    assert model[0].W in model.parameters()


# ----------------------------------------------------------------- freezing
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam"]
OPTIMIZERS += ["Adamax", "Adadelta", "Rprop", "ASGD"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_frozen_parameters_get_no_gradient_and_no_step(name: str) -> None:
    model = _net(dtype=np.float64)
    model[0].requires_grad_(False)
    opt = getattr(mt, name)(model.parameters(), lr=0.1)
    before = [p.data.copy() for p in model.parameters()]
    x, y = _batch(np.float64)
    _grads(model, mt.CrossEntropyLoss(), x, y)
    assert model[0].W.grad is None and model[0].b.grad is None
    assert model[2].W.grad is not None
    opt.step()  # (a frozen Parameter holding a gradient is stepped, as torch's: test_habits_review28.py)
    np.testing.assert_array_equal(model[0].W.data, before[0])
    np.testing.assert_array_equal(model[0].b.data, before[1])
    assert not np.array_equal(model[2].W.data, before[2])
    assert model[0].W not in opt.state


def test_frozen_first_layer_is_not_backpropagated_for_parameters() -> None:
    """backward_params (training) stops at the first trainable module: a frozen first layer is skipped."""
    model = _net(dtype=np.float64)
    model[0].requires_grad_(False)
    calls = []
    original = type(model[0]).backward_params

    def spy(self: mt.Module, dy: np.ndarray) -> None:
        calls.append(self)
        return original(self, dy)

    x, y = _batch(np.float64)
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(model(x), y)
    type(model[0]).backward_params = spy
    try:
        model.backward_params(loss_fn.backward())
    finally:
        type(model[0]).backward_params = original
    assert model[0] not in calls and model[2] in calls
    assert not model[0]._stack  # its forward call was consumed


def test_frozen_gradients_match_torch() -> None:
    torch = pytest.importorskip("torch")
    model = _net(dtype=np.float64)
    model[2].W.requires_grad = False
    t = mt.interop.to_torch(model)
    t[2].weight.requires_grad_(False)
    x, y = _batch(np.float64)
    _grads(model, mt.CrossEntropyLoss(), x, y)
    torch.nn.functional.cross_entropy(t(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    assert model[2].W.grad is None and t[2].weight.grad is None
    np.testing.assert_allclose(model[2].b.grad, t[2].bias.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(model[0].W.grad, t[0].weight.grad.numpy().T, rtol=1e-12)


def test_summary_counts_frozen_parameters_as_non_trainable() -> None:
    model = _net()
    model[0].requires_grad_(False)
    s = mt.summary(model, (4,))
    assert s.trainable_params == 5 * 3 + 3
    assert s.non_trainable_params == 4 * 5 + 5
    assert s.total_params == 4 * 5 + 5 + 5 * 3 + 3


# ----------------------------------------------------------------- dtype and device
def test_double_float_and_cpu() -> None:
    model = _net()
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    before = [p.data for p in model.parameters()]
    assert model.to("cpu") is model and model.cpu() is model and model.to(device="cpu") is model
    assert all(p.data is b for p, b in zip(model.parameters(), before, strict=True))
    with pytest.raises(ValueError, match=r"CPU .* only.*'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="floating dtype"):
        model.to(np.int64)
    model.to("float64")
    assert model[0].W.dtype == np.float64


def test_to_torch_dtype_and_device() -> None:
    torch = pytest.importorskip("torch")
    model = _net()
    model.to(torch.device("cpu"), dtype=torch.float64)
    assert model[0].W.dtype == np.float64
    with pytest.raises(ValueError, match="device"):
        model.to(torch.device("meta"))


@pytest.mark.parametrize("make", [
    lambda ps: mt.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: mt.SGD(ps, lr=0.01, momentum=0.9),
    lambda ps: mt.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: mt.AdamW(ps, lr=0.01),
    lambda ps: mt.Adagrad(ps, lr=0.01),
    lambda ps: mt.NAdam(ps, lr=0.01),
    lambda ps: mt.RAdam(ps, lr=0.01),
    lambda ps: mt.Adamax(ps, lr=0.01, weight_decay=0.1),
    lambda ps: mt.Adadelta(ps, lr=0.5),
    lambda ps: mt.Rprop(ps, lr=0.01),
    lambda ps: mt.ASGD(ps, lr=0.01, t0=2.0),
])
@pytest.mark.parametrize("cast_by", ["to", "data", "weight.data"])
def test_optimizer_state_follows_a_later_cast(make, cast_by) -> None:
    """model.to(float64) after steps: the state is cast too, so the run equals one done in float64.
    So does the PyTorch habit ``p.data = p.data.astype(np.float64)`` (or assigning a Linear's
    ``weight.data`` a float64 array): the state stayed float32 and rounded every float64 update."""
    x, y = _batch(np.float64)
    loss_fn = mt.CrossEntropyLoss()
    cast = _net()
    opt = make(cast.parameters())
    _grads(cast, loss_fn, x.astype(np.float32), y)
    opt.step()
    reference = _net(dtype=np.float64)
    reference.load_state_dict(cast.state_dict())
    ref_opt = make(reference.parameters())
    ref_opt.load_state_dict(opt.state_dict())
    if cast_by == "to":
        cast.double()
    elif cast_by == "data":
        for p in cast.parameters():
            p.data = p.data.astype(np.float64)
    else:
        for layer in (cast[0], cast[2]):
            layer.weight.data = layer.weight.data.astype(np.float64)
            layer.bias.data = layer.bias.data.astype(np.float64)
    assert all(v.dtype == np.float64 for s in opt.state_dict()["state"].values()
               for v in s.values() if isinstance(v, np.ndarray))
    for _ in range(3):
        for model, o in ((cast, opt), (reference, ref_opt)):
            _grads(model, loss_fn, x, y)
            o.step()
    for p in opt.state:
        assert all(v.dtype == np.float64 for v in opt.state[p].values() if isinstance(v, np.ndarray))
    for a, b in zip(cast.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


# ----------------------------------------------------------------- PyTorch's names
def test_linear_weight_is_a_transposed_view_and_bias_is_b() -> None:
    layer = mt.Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias is layer.b
    np.testing.assert_array_equal(layer.weight.data, layer.W.data.T)
    layer.weight.data[0, 1] = 7.0  # writes through
    assert layer.W.data[1, 0] == 7.0
    assert layer.weight.grad is None
    layer(np.ones((2, 4), np.float32))
    layer.backward(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(layer.weight.grad, layer.W.grad.T)
    w = layer.W.data
    view = layer.weight
    view -= 0.5 * view.grad  # the hand-written step, through the view
    assert layer.W.data is w
    np.testing.assert_allclose(w, np.asarray(view).T)
    layer.weight.requires_grad = False
    assert not layer.W.requires_grad
    assert [name for name, _ in layer.named_parameters()] == ["W", "b"]
    layer.weight = mt.Parameter(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(layer.W.data, np.arange(12.0).reshape(3, 4).T)
    assert "weight" not in layer._parameters and layer.W in layer.parameters()
    layer.bias = None
    assert layer.b is None and layer.bias is None
    with pytest.raises(TypeError, match=r"Parameter of shape \(out_features, in_features\) = \(3, 4\)"):
        layer.weight = mt.Parameter(np.zeros((4, 3), np.float32))


def test_init_on_the_weight_view_uses_torch_fans() -> None:
    layer = mt.Linear(100, 3)
    assert mt.init.calculate_fan_in_and_fan_out(layer.weight) == (100, 3)
    mt.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    bound = np.sqrt(6 / 100)
    assert np.abs(layer.W.data).max() <= bound and np.abs(layer.W.data).max() > bound / 2


def test_load_state_dict_takes_a_pytorch_state_dict() -> None:
    torch = pytest.importorskip("torch")
    model = _net(dtype=np.float64)
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    result = model.load_state_dict(t.state_dict())
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    x, _ = _batch(np.float64)
    np.testing.assert_allclose(model(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
    mixed = {"0.W": model[0].W.data, "0.bias": model[0].b.data, "2.weight": model[2].weight.data,
             "2.b": model[2].b.data}
    assert model.load_state_dict(mixed) == ([], [])


def test_load_state_dict_strict_false_reports_keys() -> None:
    torch = pytest.importorskip("torch")
    model = _net(dtype=np.float64)
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    state = {k: v for k, v in t.state_dict().items() if k != "2.bias"}
    state["head.weight"] = torch.zeros(2)
    before = model[2].b.data.copy()
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["head.weight"]
    missing, unexpected = result  # PyTorch's names given: the missing one in PyTorch's spelling
    assert (missing, unexpected) == (["2.bias"], ["head.weight"])
    ours = {k: v for k, v in model.state_dict().items() if k != "2.b"}
    assert model.load_state_dict(ours, strict=False).missing_keys == ["2.b"]  # ours given: ours
    np.testing.assert_array_equal(model[2].b.data, before)
    np.testing.assert_array_equal(model[2].W.data, t[2].weight.detach().numpy().T)
    t_result = t.load_state_dict(
        {k: v for k, v in t.state_dict().items() if k != "2.bias"} | {"head.weight": torch.zeros(2)},
        strict=False)
    assert (t_result.missing_keys, t_result.unexpected_keys) == (["2.bias"], ["head.weight"])


def test_failed_strict_load_leaves_the_model_untouched() -> None:
    torch = pytest.importorskip("torch")
    model = _net(dtype=np.float64)
    before = model.state_dict()
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    with pytest.raises(ValueError, match="missing"):
        model.load_state_dict({k: v for k, v in t.state_dict().items() if k != "2.bias"})
    bad = dict(t.state_dict())
    bad["2.weight"] = torch.zeros(3, 6, dtype=torch.float64)  # the last entry has the wrong shape
    with pytest.raises(ValueError, match="expected shape"):
        model.load_state_dict(bad)
    with pytest.raises(ValueError, match="expected shape"):
        model.load_state_dict(bad, strict=False)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# ----------------------------------------------------------------- the loss value
@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_value_is_a_float_with_item(kernels: bool, reduction: str) -> None:
    x, y = _batch(np.float64)
    loss_fn = mt.CrossEntropyLoss(reduction=reduction)
    mt.kernels.use_kernels(kernels)
    try:
        loss = loss_fn(x[:, :3], y)
        mse = mt.MSELoss(reduction=reduction)(x, np.zeros_like(x))
    finally:
        mt.kernels.use_kernels(True)
    for value in (loss, mse):
        assert isinstance(value, float) and isinstance(value.item(), float)
        assert type(value.item()) is float and value.item() == value
        assert value + 1.0 == float(value) + 1.0 and f"{value:.3f}" == f"{float(value):.3f}"
        assert repr(value) == repr(float(value))
    with pytest.raises(RuntimeError, match=r"model\.backward\(loss_fn\.backward\(\)\)"):
        loss.backward()
    assert isinstance(mt.MSELoss(reduction="none")(x, x), np.ndarray)


def test_arithmetic_on_loss_values_keeps_the_pytorch_habit_error() -> None:
    x, _ = _batch(np.float64)
    l1, l2 = (mt.MSELoss()(x, np.full_like(x, c)) for c in (0.0, 1.0))
    for total in (l1 + l2, l1 + 0.5 * l2, sum([l1, l2]), l1 - l2, l1 / 2, 2 / l1, -l1, +l1, l1 * 3):
        assert type(total).__name__ == "LossValue"
        with pytest.raises(RuntimeError, match=r"loss_fn1\.backward\(a\), loss_fn2\.backward\(b\)"):
            total.backward()
    assert l1 + 0.5 * l2 == float(l1) + 0.5 * float(l2) and type(float(l1 + l2)) is float
    assert (l1 + l2).item() == float(l1) + float(l2) and type((l1 + l2).item()) is float


# ----------------------------------------------------------------- exchange of chain models
class _Block(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = mt.Linear(5, 5)
        self.norm = mt.BatchNorm1d(5)
        self.act = mt.ReLU()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.act(self.norm(self.fc(x)))


class _Net(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = mt.Linear(4, 5)
        self.blocks = mt.ModuleList([_Block(), _Block()])
        self.drop = mt.Dropout(0.5)
        self.head = mt.Sequential(mt.Tanh(), mt.Linear(5, 3))

    def forward(self, x: np.ndarray) -> np.ndarray:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(self.drop(h))


class _Residual(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = mt.Linear(4, 4)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + self.fc(x)


def _chain_net() -> mt.Module:
    mt.manual_seed(3)
    model = _Net().double()
    for module in model.modules():
        if isinstance(module, mt.BatchNorm1d):
            module.running_mean[:] = np.linspace(-1, 1, 5)
            module.running_var[:] = np.linspace(0.5, 2, 5)
    return model


def test_to_torch_converts_a_chain_model() -> None:
    torch = pytest.importorskip("torch")
    model = _chain_net()
    x, _ = _batch(np.float64)
    with pytest.raises(TypeError, match=r"example input, to_torch\(model, x\)"):
        mt.interop.to_torch(model)
    rng_before = mt.random.generator().bit_generator.state
    stats = [np.array(b) for _, b in model.named_buffers()]
    t = mt.interop.to_torch(model, x)
    assert mt.random.generator().bit_generator.state == rng_before  # dropout ran in eval mode
    assert all(np.array_equal(a, np.array(b)) for a, (_, b) in zip(stats, model.named_buffers(), strict=True))
    assert all(not m._stack for m in model.modules())  # the recording left no waiting call
    assert [name for name, _ in t.named_children()] == ["stem", "blocks_0", "blocks_1", "drop", "head"]
    assert t.training and model.training
    model.eval()
    t.eval()
    with mt.no_grad():
        ours = model(x)
    np.testing.assert_allclose(ours, t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-14)
    back = mt.interop.from_torch(t)
    with mt.no_grad():
        np.testing.assert_allclose(back(x), ours, rtol=1e-12, atol=1e-14)


def test_to_torch_refuses_a_module_that_is_not_a_chain() -> None:
    pytest.importorskip("torch")
    x = np.ones((2, 4))
    with pytest.raises(TypeError, match="_Residual is not a plain chain"):
        mt.interop.to_torch(_Residual().double(), x)


def test_from_torch_converts_a_chain_module() -> None:
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 6)
            self.body = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(6, 6))
            self.out = torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.out(self.body(self.fc1(x)))

    class Skip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return x + self.fc(x)

    torch.manual_seed(0)
    t = Net().double()
    model = mt.interop.from_torch(t)
    # torch.fx traces through torch.nn.Sequential too: one flat chain
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Linear"]
    x, _ = _batch(np.float64)
    np.testing.assert_allclose(model(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="not a plain chain"):
        mt.interop.from_torch(Skip())


def test_onnx_export_of_a_chain_model(tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = _chain_net().float()
    model.eval()
    x, _ = _batch(np.float32)
    mt.onnx.export(model, tmp_path / "m.onnx", input_shape=x.shape)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    with mt.no_grad():
        np.testing.assert_allclose(got, model(x), rtol=1e-5, atol=1e-6)
    assert all(not m._stack for m in model.modules())
    with pytest.raises(TypeError, match="not a plain chain"):
        mt.onnx.export(_Residual(), tmp_path / "r.onnx", input_shape=(2, 4))


def test_frozen_embedding_gets_no_gradient() -> None:
    emb = mt.Embedding(10, 3)
    emb.requires_grad_(False)
    out = emb(np.array([[1, 2, 2]]))
    emb.backward(np.ones_like(out))
    assert emb.weight.grad is None


def _frozen_case_ids() -> list[str]:
    """The registry cases whose module has Parameters (freezing the others changes nothing)."""
    from cases import INPUT_CASES, MODULE_CASES

    return [cid for cid, factory, _ in MODULE_CASES + INPUT_CASES
            if next(factory().parameters(), None) is not None]


@pytest.mark.parametrize("case_id", _frozen_case_ids())
def test_every_registered_module_leaves_frozen_parameters_alone(case_id: str) -> None:
    """Each module of the registries, frozen: backward runs, no Parameter gets a gradient."""
    from cases import INPUT_CASES, MODULE_CASES

    rng = np.random.default_rng(0)
    default = mt.get_default_dtype()
    mt.set_default_dtype(np.float64)
    try:
        for cid, factory, shape_or_inputs in MODULE_CASES + INPUT_CASES:
            if cid == case_id:
                module = factory()
                inputs = (shape_or_inputs(rng) if callable(shape_or_inputs)
                          else (rng.standard_normal(shape_or_inputs),))
    finally:
        mt.set_default_dtype(default)
    assert next(module.parameters(), None) is not None
    module.requires_grad_(False)
    out = module(*inputs)
    grad = _ones_like_output(out)
    module.backward(grad)
    assert all(p.grad is None for p in module.parameters())


def _ones_like_output(out):
    """Ones in the output's structure (tuples nested as the module returns them)."""
    if isinstance(out, tuple):
        return tuple(_ones_like_output(o) for o in out)
    return None if out is None else np.ones_like(out)


def test_gradcheck_checks_only_trainable_parameters() -> None:
    model = _net(dtype=np.float64)
    model[0].W.requires_grad = False
    x, _ = _batch(np.float64)
    mt.gradcheck(model, x)
