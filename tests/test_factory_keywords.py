"""PyTorch's factory keywords ``device=`` and ``dtype=`` on every parameterised module's constructor.

The modules are found in the registries of tests/cases.py, so a new layer registered there is covered
here without a line of its own: every module class in a registered model whose constructor takes
``dtype`` is rebuilt with ``dtype=np.float64`` and compared with its PyTorch twin built with
``dtype=torch.float64`` (tests/oracle.py) from the same weights, output, input gradients and every
parameter gradient; a class that owns Parameters or floating buffers but lacks the keywords fails.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
import torch
from cases import INPUT_CASES, INPUT_ORACLE, MODULE_CASES, ORACLE, TRANSFORMER_CASES
from oracle import compare_inputs, compare_module

import minitorch as mt
from minitorch.layers.out_projection import OutProjection

F64 = np.dtype(np.float64)


def _takes_dtype(cls: type) -> bool:
    return "dtype" in inspect.signature(cls).parameters


def _owns_floats(module: mt.Module) -> bool:
    return bool(module._parameters) or any(b.dtype.kind == "f" for b in module._buffers.values())


def _registered_instances() -> dict[type, mt.Module]:
    """One instance of every module class found in the registered models (the first one met)."""
    found: dict[type, mt.Module] = {}
    for _, factory, *_ in [*MODULE_CASES, *INPUT_CASES]:
        mt.manual_seed(0)
        for _, module in factory().named_modules():
            found.setdefault(type(module), module)
    return found


INSTANCES = _registered_instances()
FACTORY_CLASSES = sorted((cls for cls in INSTANCES if _takes_dtype(cls)), key=lambda c: c.__name__)
ARGS = {cls: {k: v for k, v in INSTANCES[cls]._init_args.items() if k not in ("device", "dtype")}
        for cls in FACTORY_CLASSES}


def _ids(classes):
    return [cls.__name__ for cls in classes]


def built_in(model: mt.Module, dtype: object) -> mt.Module:
    """``model`` with every module whose constructor takes ``dtype`` rebuilt from its recorded
    arguments with ``dtype=dtype`` (checked to hold only float64 Parameters and floating buffers
    before anything is loaded), then given the original's weights, buffers and mode."""
    cls = type(model)
    if _takes_dtype(cls):
        args = {k: v for k, v in model._init_args.items() if k not in ("device", "dtype")}
        new = cls(**args, dtype=dtype)
        for name in [name for name, b in model._buffers.items() if b is None]:  # emptied by hand
            setattr(new, name, None)
        floats = [(n, p.data) for n, p in new.named_parameters()]
        floats += [(n, b) for n, b in new.named_buffers() if b.dtype.kind == "f"]
        assert all(a.dtype == F64 for _, a in floats), [(n, a.dtype) for n, a in floats]
        new.load_state_dict(model.state_dict())
        return new.train(model.training)
    for name, child in list(model.named_children()):
        setattr(model, name, built_in(child, dtype))
    return model


def _has_factory_module(model: mt.Module) -> bool:
    return any(_takes_dtype(type(m)) for m in model.modules())


# ------------------------------------------------------------------- coverage of the registries
def test_every_parameterised_module_takes_the_factory_keywords():
    """A module class (in any registered model) owning Parameters or floating buffers takes both."""
    lacking = sorted(cls.__name__ for cls, m in INSTANCES.items() if _owns_floats(m)
                     and not {"device", "dtype"} <= set(inspect.signature(cls).parameters))
    assert not lacking, f"constructors without device=/dtype=: {lacking}"
    exported = {getattr(mt, n) for n in mt.__all__}
    taking = {c for c in exported if isinstance(c, type) and issubclass(c, mt.Module) and _takes_dtype(c)}
    assert taking <= set(FACTORY_CLASSES), f"not in tests/cases.py: {_ids(taking - set(FACTORY_CLASSES))}"
    assert {mt.Linear, mt.Conv2d, mt.BatchNorm2d, mt.LSTM, mt.MultiheadAttention,
            mt.TransformerEncoderLayer, mt.Embedding} <= set(FACTORY_CLASSES)


def _torch_class(cls: type) -> type:
    if cls is OutProjection:  # attention's out_proj, torch's NonDynamicallyQuantizableLinear
        return torch.nn.modules.linear.NonDynamicallyQuantizableLinear
    return getattr(torch.nn, cls.__name__)


def _torch_positional(cls: type) -> list[str]:
    """torch's positional arguments of ``cls``, up to and including device and dtype."""
    t = _torch_class(cls)
    if t in (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU):  # *args, read by RNNBase(mode, ...)
        names = list(inspect.signature(torch.nn.RNNBase.__init__).parameters)[2:]
        if t is torch.nn.RNN:  # RNN takes nonlinearity fourth, then RNNBase's order
            names.insert(3, "nonlinearity")
    else:
        names = [n for n, p in inspect.signature(t.__init__).parameters.items()
                 if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    return names[: names.index("dtype") + 1]


@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
def test_keywords_sit_where_torch_has_them_or_are_keyword_only(cls):
    """Positional as torch's when every argument before them is torch's, in torch's order;
    keyword-only otherwise, so a positional torch call never binds device or dtype to another slot."""
    params = inspect.signature(cls).parameters
    ours = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    theirs = _torch_positional(cls)
    assert params["device"].default is None and params["dtype"].default is None
    if ours[: len(theirs)] == theirs:
        assert ours.index("device") == theirs.index("device") and ours[-2:] == ["device", "dtype"]
    else:
        assert params["device"].kind is params["dtype"].kind is inspect.Parameter.KEYWORD_ONLY, ours


@pytest.mark.parametrize("name, args", [
    ("Linear", (4, 3, True)), ("LayerNorm", (5, 1e-5, True, True)), ("GroupNorm", (2, 4, 1e-5, True)),
    ("PReLU", (3, 0.25)), ("RNNCell", (3, 2, True, "relu")), ("GRUCell", (3, 2, True)),
    ("LSTM", (3, 4, 2, True, False, 0.0, True, 2)),
    ("TransformerEncoderLayer", (4, 2, 6, 0.0, "gelu", 1e-5, True, True, True)),
])
def test_a_positional_torch_call_works_in_both(name, args):
    """Where they are positional, torch's full positional call means the same in both libraries."""
    ours = getattr(mt, name)(*args, "cpu", torch.float64)
    theirs = getattr(torch.nn, name)(*args, "cpu", torch.float64)
    assert {p.dtype for p in ours.parameters()} == {F64}
    assert {p.dtype for p in theirs.parameters()} == {torch.float64}
    assert sum(p.size for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_a_positional_torch_call_past_our_arguments_fails_loudly():
    with pytest.raises(TypeError, match=r"^Conv2d\(\): too many positional arguments$"):
        mt.Conv2d(1, 2, 3, 1, 0, 1, 1, True, "zeros", "cpu", torch.float64)  # groups, padding_mode: torch's


# ------------------------------------------------------------------- made in the dtype, drawn as documented
@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
@pytest.mark.parametrize("dtype", [np.float64, "float64", torch.float64, np.dtype("float64"), float],
                         ids=["np", "str", "torch", "np.dtype", "float"])
def test_made_in_the_dtype_as_under_set_default_dtype(cls, dtype):
    """Parameters and floating buffers are float64 from the start, with exactly the values of a build
    after ``set_default_dtype(np.float64)`` with the same seed; integer buffers keep their dtype."""
    mt.manual_seed(3)
    made = cls(**ARGS[cls], dtype=dtype)
    mt.set_default_dtype(np.float64)
    mt.manual_seed(3)
    reference = cls(**ARGS[cls])
    mt.set_default_dtype(np.float32)
    assert mt.get_default_dtype() == np.float32  # the keyword never touches the default
    ours, theirs = made.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    for name, value in ours.items():
        assert value.dtype == theirs[name].dtype and (value.dtype == F64 or value.dtype.kind != "f"), name
        np.testing.assert_array_equal(value, theirs[name], err_msg=name)
    assert mt.dtypes.parameter_dtype(made, recurse=True) == F64


@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
def test_float32_and_none_and_the_cpu(cls):
    mt.set_default_dtype(np.float64)
    for dtype in (np.float32, "float32", torch.float32):
        assert mt.dtypes.parameter_dtype(cls(**ARGS[cls], dtype=dtype), recurse=True) == np.float32
    assert mt.dtypes.parameter_dtype(cls(**ARGS[cls], dtype=None), recurse=True) == F64  # the default
    mt.set_default_dtype(np.float32)
    for device in (None, "cpu", "cpu:0", torch.device("cpu"), torch.device("cpu", 0)):
        assert mt.dtypes.parameter_dtype(cls(**ARGS[cls], device=device), recurse=True) == np.float32


def test_batchnorm_buffers_are_made_in_the_dtype_too():
    bn = mt.BatchNorm2d(3, dtype=torch.float64)
    assert bn.running_mean.dtype == bn.running_var.dtype == bn.weight.dtype == F64
    assert bn.num_batches_tracked.dtype == np.int64
    t = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    for name, value in t.state_dict().items():
        assert getattr(bn, name).dtype == value.numpy().dtype, name


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", torch.device("meta"), 0, "cpux"])
def test_another_device_says_cpu_only(cls, device):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: MiniTorch runs on the CPU \(NumPy\) only, "
                                         rf"so device .* is not available; 'cpu' \(or None\) is accepted"):
        cls(**ARGS[cls], device=device)


@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
@pytest.mark.parametrize("dtype, shown", [
    (np.int64, "int64"), ("int32", "int32"), (torch.float16, "float16"), (np.float16, "float16"),
    (torch.bfloat16, r"(torch\.)?bfloat16"),  # NumPy knows bfloat16 once ml_dtypes (onnx) is imported
    (torch.int64, "int64"), (bool, "bool"), ("cpu", "'cpu'"),
    ("float128", "'float128'"), (np.complex128, "complex128"),
])
def test_an_unsupported_dtype_names_what_was_expected_and_what_came(cls, dtype, shown):
    expected = (rf"^{cls.__name__}: expected a floating dtype MiniTorch computes in, float32 or float64 "
                rf"\(np.float32, 'float64', torch.float64\), got {shown}$")
    if dtype == "float128" and hasattr(np, "float128"):
        expected = expected.replace("'float128'", "float128")
    with pytest.raises(TypeError, match=expected):
        cls(**ARGS[cls], dtype=dtype)


def test_module_to_reads_dtypes_and_devices_the_same_way():
    model = mt.Sequential(mt.Linear(2, 3), mt.BatchNorm1d(3))
    with pytest.raises(TypeError, match=r"^Sequential.to: expected a floating dtype .* got int64$"):
        model.to(np.int64)
    assert model.to(np.float16)[0].W.dtype == np.float16  # as before: to() takes any floating dtype
    with pytest.raises(ValueError, match=r"^Sequential.to: MiniTorch runs on the CPU .* a dtype "):
        model.to("cuda")
    model.to("cpu:0").to(torch.device("cpu", 0))
    with pytest.raises(ValueError, match=r"^Sequential.to: MiniTorch runs on the CPU .* device 'float64' "):
        model.to(device="float64")  # device= takes a device only, as torch's
    with pytest.raises(TypeError, match=r"^Sequential.to: expected a floating dtype .* got 'cpu'$"):
        model.to(dtype="cpu")
    before = model[0].W.dtype
    with pytest.raises(ValueError, match="device 'cuda'"):
        model.to(np.float64, "cuda")  # read before anything is cast
    assert model[0].W.dtype == before != F64
    assert model.to(torch.float64)[1].running_var.dtype == F64


def test_minitorch_never_imports_torch_for_the_keywords():
    code = ("import sys, numpy as np, minitorch as mt\n"
            "m = mt.Sequential(mt.Linear(2, 3, device='cpu', dtype='float64'),\n"
            "                  mt.LSTM(3, 2, dtype=np.float64))\n"
            "m.to('cpu')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------- against torch, from the registries
def _no_dropout_draws(case_id: str) -> bool:
    return "dropout-train" not in case_id and case_id != "Deep-net-train"


_TRANSFORMERS = {c.id for c in TRANSFORMER_CASES}
MODULE_ORACLE = [c for c in MODULE_CASES if (c[0] in ORACLE or c[0] in _TRANSFORMERS)
                 and _no_dropout_draws(c[0]) and _has_factory_module(c[1]())]
INPUT_ORACLES = [c for c in INPUT_CASES if c[0] in INPUT_ORACLE and _has_factory_module(c[1]())]


@pytest.mark.parametrize("factory, shape", [c[1:] for c in MODULE_ORACLE], ids=[c[0] for c in MODULE_ORACLE])
def test_built_in_float64_matches_torch_built_in_float64(factory, shape):
    """The default stays float32: only the dtype= keyword makes these float64, and torch's twin is
    built with dtype=torch.float64 and given the same weights (tests/oracle.py)."""
    model = built_in(factory(), torch.float64)
    x = np.random.default_rng(2).standard_normal(shape)
    compare_module(model, x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in INPUT_ORACLES],
                         ids=[c[0] for c in INPUT_ORACLES])
def test_several_inputs_built_in_float64_match_torch_built_in_float64(factory, make_inputs):
    model = built_in(factory(), np.float64)
    compare_inputs(model, make_inputs(np.random.default_rng(2)), rtol=1e-10, atol=1e-12)


_DRAWING = [c for c in [*MODULE_CASES, *INPUT_CASES]
            if not _no_dropout_draws(c[0]) and _has_factory_module(c[1]())]


@pytest.mark.parametrize("case", _DRAWING, ids=[c[0] for c in _DRAWING])
def test_models_with_dropout_draws_run_in_float64(case):
    """No twin (torch draws other masks): the float64-built model computes in float64."""
    _, factory, spec = case
    model = built_in(factory(), "float64")
    rng = np.random.default_rng(2)
    inputs = (rng.standard_normal(spec),) if isinstance(spec, tuple) else spec(rng)
    out = model(*inputs)
    first = out[0] if isinstance(out, tuple) else out
    assert first.dtype == F64
    model.backward(np.ones_like(first))
    assert all(p.grad is None or p.grad.dtype == F64 for p in model.parameters())


# ------------------------------------------------------------------- the rest of the library
def _mlp() -> mt.Module:
    return mt.Sequential(mt.Linear(4, 8, dtype=np.float64), mt.BatchNorm1d(8, dtype=np.float64), mt.Tanh(),
                         mt.Linear(8, 3, dtype="float64"))


def test_to_state_dict_and_optimizers_of_a_float64_built_model():
    model = _mlp()
    assert mt.dtypes.parameter_dtype(model, recurse=True) == F64
    assert {v.dtype for k, v in model.state_dict().items() if "num_batches" not in k} == {F64}
    model.to(np.float32)
    floats = {v.dtype for k, v in model.state_dict().items() if "num_batches" not in k}
    assert floats == {np.dtype(np.float32)}
    model.double()
    x = np.random.default_rng(0).standard_normal((5, 4))
    opt = mt.Adam(model.parameters(), lr=0.01)
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(model(x), np.array([0, 1, 2, 1, 0]))
    model.backward(loss_fn.backward())
    opt.step()
    assert all(p.dtype == F64 and p.grad.dtype == F64 for p in model.parameters())


def test_fit_trains_a_float64_built_model():
    model = _mlp()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32)
    loader = mt.DataLoader(mt.TensorDataset(x, y), batch_size=8)
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), loader, epochs=2,
                     verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert mt.dtypes.parameter_dtype(model, recurse=True) == F64


def test_interop_keeps_the_dtype_both_ways():
    model = mt.Sequential(mt.Linear(4, 3, dtype=torch.float64), mt.LayerNorm(3, dtype=torch.float64)).eval()
    t = mt.interop.to_torch(model)
    assert {p.dtype for p in t.parameters()} == {torch.float64}
    x = np.random.default_rng(0).standard_normal((2, 4))
    with torch.no_grad():
        np.testing.assert_allclose(t(torch.from_numpy(x)).numpy(), model(x), rtol=1e-12, atol=1e-14)
    back = mt.interop.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 3, dtype=torch.float64)))
    assert back[0].W.dtype == F64


def test_onnx_export_of_a_float64_built_model(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = mt.Sequential(mt.Linear(3, 4, dtype=np.float64), mt.Tanh(), mt.Linear(4, 2, dtype=np.float64))
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 3))
    x = np.random.default_rng(0).standard_normal((2, 3))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert y.dtype == F64
    np.testing.assert_allclose(y, model(x), rtol=1e-12, atol=1e-14)


def test_model_files_rebuild_in_the_weights_dtype(tmp_path):
    """The keywords are not recorded: a file rebuilds in its weights' dtype, even after a cast."""
    model = mt.Sequential(mt.Linear(4, 3, device="cpu", dtype=torch.float64),
                          mt.TransformerEncoderLayer(3, 1, 5, dtype=np.float64))
    assert model[0]._init_args == {"in_features": 4, "out_features": 3, "bias": True}
    mt.save_model(model, tmp_path / "m64.npz")
    loaded = mt.load_model(tmp_path / "m64.npz")
    assert mt.dtypes.parameter_dtype(loaded, recurse=True) == F64
    model.to(np.float32)
    mt.save_model(model, tmp_path / "m32.npz")
    assert mt.dtypes.parameter_dtype(mt.load_model(tmp_path / "m32.npz"), recurse=True) == np.float32


@mt.register_module(name="FactoryKeywordsNet")  # the registry is global: a name of its own
class _Net(mt.Module):
    """A custom model taking device/dtype as torch code does, and giving them to its layers."""

    def __init__(self, n: int, device=None, dtype=None) -> None:
        super().__init__()
        self.fc = mt.Linear(n, 2, device=device, dtype=dtype)

    def forward(self, x):
        return self.fc(x)


def test_a_torch_style_model_passes_the_keywords_through(tmp_path):
    Net = _Net
    net = Net(3, dtype="float64")
    assert net.fc.W.dtype == F64 and "dtype" not in net.fc._init_args
    mt.save_model(net, tmp_path / "net.npz")  # Net's own arguments are recorded as given: "float64"
    assert mt.load_model(tmp_path / "net.npz").fc.W.dtype == F64
    mt.save_model(Net(3, dtype=np.float64), tmp_path / "type.npz")  # a dtype object: stored by name
    loaded = mt.load_model(tmp_path / "type.npz")
    assert loaded.fc.W.dtype == F64 and loaded._init_args["dtype"] is np.float64


@pytest.mark.parametrize("cls", FACTORY_CLASSES, ids=_ids(FACTORY_CLASSES))
def test_our_positional_arguments_are_a_prefix_of_torchs(cls):
    """A positional torch call binds each value to the slot torch binds it to, or fails loudly
    (too many positional arguments): an argument torch has that MiniTorch lacks makes every later
    one keyword-only (``Conv2d(4, 8, 3, 1, 1, 1, 2)``, torch's groups=2, must not read as bias=2)."""
    params = inspect.signature(cls).parameters
    ours = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    theirs = _torch_positional(cls)
    assert ours == theirs[: len(ours)], f"{cls.__name__}: ours {ours}, torch's {theirs}"


def test_set_default_dtype_reads_a_dtype_as_the_constructors_do():
    """One reading of a dtype: ``set_default_dtype`` takes torch's by name too (torch's own
    ``torch.set_default_dtype(torch.float64)`` habit) and refuses float16 with the same error."""
    mt.set_default_dtype(torch.float64)  # (the autouse fixture puts float32 back)
    assert mt.get_default_dtype() == F64
    with pytest.raises(TypeError, match=r"^set_default_dtype: expected a floating dtype .* got float16"):
        mt.set_default_dtype(np.float16)
    assert mt.get_default_dtype() == F64
