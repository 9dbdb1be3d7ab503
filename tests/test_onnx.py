"""ONNX export: onnxruntime runs every module case and composite as MiniTorch does in eval mode."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from cases import UNBATCHED
from model_helpers import CASE_ARGS, CASE_IDS, randomize_state, sample_input

import minitorch as mt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


# an ONNX graph takes a batch (its first axis is free): the unbatched cases have none
BATCHED = [(i, args) for i, args in zip(CASE_IDS, CASE_ARGS, strict=True) if i not in UNBATCHED]


@pytest.mark.parametrize("factory, shape", [args for _, args in BATCHED], ids=[i for i, _ in BATCHED])
def test_every_case_runs_the_same_in_onnxruntime(tmp_path, factory, shape):
    model = randomize_state(factory(), seed=6).train()
    if any(type(m) in mt.onnx.NOT_EXPORTABLE for m in model.modules()):
        pytest.skip("a layer with no ONNX form yet (mt.onnx.NOT_EXPORTABLE)")
    modes = [m.training for m in model.modules()]
    mt.onnx.export(model, tmp_path / "m.onnx", input_shape=shape)
    assert [m.training for m in model.modules()] == modes  # exporting does not switch modes
    onnx.checker.check_model(str(tmp_path / "m.onnx"))
    model.eval()
    for batch in (shape[0], shape[0] + 2):  # the batch dimension is free
        x = sample_input((batch, *shape[1:]), seed=batch)
        y = run(tmp_path / "m.onnx", x)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, model(x), rtol=1e-5, atol=1e-5)
    # an inf and a -inf stay where MiniTorch keeps them (no 0 * inf = nan spread by a MatMul of bins)
    x = sample_input(shape, seed=3)
    x.flat[[x.size // 3, 2 * x.size // 3]] = np.inf, -np.inf
    with np.errstate(all="ignore"):
        y_graph, y = run(tmp_path / "m.onnx", x), model(x)
    if any(isinstance(m, mt.Upsample) and m.mode == "bilinear" for m in model.modules()):
        # the known difference (mt.onnx's docstring): Resize's inf where torch's tap of weight 0 gives nan
        np.testing.assert_array_equal(np.isfinite(y_graph), np.isfinite(y))
        y = np.where(np.isnan(y) & np.isinf(y_graph), y_graph, y)
    np.testing.assert_allclose(y_graph, y, rtol=1e-5, atol=1e-5)


def run_float64(path, x):
    """onnxruntime, or where it has no float64 kernel (Conv, pools, Erf...) ONNX's reference evaluator."""
    try:
        return run(path, x), 1e-10
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        from onnx.reference import ReferenceEvaluator

        model = onnx.load(str(path))
        # the reference's Erf computes in float32 (np.vectorize(math.erf, otypes="f"))
        tol = 1e-7 if any(n.op_type == "Erf" for n in model.graph.node) else 1e-10
        return ReferenceEvaluator(model).run(None, {"input": x})[0], tol


@pytest.mark.parametrize("factory, shape", [args for _, args in BATCHED], ids=[i for i, _ in BATCHED])
def test_every_case_keeps_float64_precision(tmp_path, float64, factory, shape):
    """A float64 model's graph computes in float64 to float64's precision: no number of it (an alpha,
    an epsilon, Resize's scales) goes through one of ONNX's float32 attributes or inputs."""
    model = randomize_state(factory(), seed=6).eval()
    if any(type(m) in mt.onnx.NOT_EXPORTABLE for m in model.modules()):
        pytest.skip("a layer with no ONNX form yet (mt.onnx.NOT_EXPORTABLE)")
    mt.onnx.export(model, tmp_path / "m.onnx", input_shape=shape)
    for batch in (shape[0], shape[0] + 2):
        x = sample_input((batch, *shape[1:]), np.float64, seed=batch)
        y, tol = run_float64(tmp_path / "m.onnx", x)
        assert y.dtype == np.float64
        np.testing.assert_allclose(y, model(x), rtol=tol, atol=tol)
    if not any(isinstance(m, mt.Upsample) for m in model.modules()):
        return
    # Upsample's float64 taps: an inf, a -inf and a nan stay exactly where the layer (as torch) puts them
    x = sample_input(shape, np.float64, seed=3)
    x.flat[[x.size // 4, x.size // 2, 3 * x.size // 4]] = np.inf, -np.inf, np.nan
    with np.errstate(all="ignore"):
        y_graph, y = run_float64(tmp_path / "m.onnx", x)[0], model(x)
    np.testing.assert_array_equal(np.isnan(y_graph), np.isnan(y))
    np.testing.assert_allclose(y_graph, y, rtol=tol, atol=tol)


# --- what export must refuse (TypeError naming the module), never writing a graph that computes
# something else. A custom module is exported as its children when its forward is a plain chain of
# them; the chain's recording sees which arrays are passed, not arithmetic done to them in place.
class _Two(mt.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = mt.Linear(3, 4), mt.Linear(4, 2)


class ScaledInPlaceBetween(_Two):
    def forward(self, x):
        y = self.a(x)
        y *= 2.0
        return self.b(y)


class ShiftsItsInputInPlace(_Two):
    def forward(self, x):
        x += 1.0
        return self.b(self.a(x))


class ClipsItsOutputInPlace(_Two):
    def forward(self, x):
        y = self.b(self.a(x))
        np.maximum(y, 0, out=y)
        return y


class Residual(_Two):
    def forward(self, x):
        return self.b(x @ np.ones((3, 4), x.dtype) + self.a(x))


class BranchesOnItsInput(mt.Module):  # a plain chain for every input, of other children
    def __init__(self) -> None:
        super().__init__()
        self.a, self.up, self.down = mt.Linear(3, 4), mt.ReLU(), mt.Tanh()

    def forward(self, x):
        return (self.up if x.mean() > 0 else self.down)(self.a(x))


class Outer(mt.Module):  # the in-place arithmetic one level down
    def __init__(self) -> None:
        super().__init__()
        self.inner, self.act = ScaledInPlaceBetween(), mt.ReLU()

    def forward(self, x):
        return self.act(self.inner(x))


REFUSED = [
    ("in-place-between-children", ScaledInPlaceBetween, (2, 3), "ScaledInPlaceBetween is not a.*in place"),
    ("in-place-on-the-input", ShiftsItsInputInPlace, (2, 3), "ShiftsItsInputInPlace is not a.*in place"),
    ("in-place-on-the-output", ClipsItsOutputInPlace, (2, 3), "ClipsItsOutputInPlace is not a.*in place"),
    ("nested-in-place", lambda: mt.Sequential(mt.Tanh(), Outer()), (2, 3), "ScaledInPlaceBetween is not a"),
    ("not-a-chain", Residual, (2, 3), "Residual is not a plain chain"),
    ("branches-on-its-input", BranchesOnItsInput, (2, 3), "BranchesOnItsInput's forward calls other"),
    # one unbatched sample: the graph's first axis is the batch it lacks
    ("Conv2d-unbatched", lambda: mt.Conv2d(2, 3, 3), (2, 5, 4),
     r"Conv2d gets an unbatched input \(2, 5, 4\)"),
    ("MaxPool2d-unbatched", lambda: mt.MaxPool2d(2), (3, 4, 6), "MaxPool2d gets an unbatched input"),
    ("AvgPool2d-unbatched", lambda: mt.AvgPool2d(2), (3, 4, 6), "AvgPool2d gets an unbatched input"),
    ("AdaptiveAvgPool2d-unbatched", lambda: mt.AdaptiveAvgPool2d(2), (3, 4, 6), "AdaptiveAvgPool2d gets an"),
    ("AdaptiveMaxPool2d-unbatched", lambda: mt.AdaptiveMaxPool2d(2), (3, 4, 6), "AdaptiveMaxPool2d gets an"),
    ("Conv1d-unbatched", lambda: mt.Conv1d(2, 3, 3), (2, 7), "Conv1d gets an unbatched input"),
    ("ConvTranspose2d-unbatched", lambda: mt.ConvTranspose2d(2, 3, 2), (2, 3, 4), "ConvTranspose2d gets an"),
    ("Linear-unbatched", lambda: mt.Linear(3, 2), (3,), r"takes input_shape \(3,\) but not \(4,\)"),
]


@pytest.mark.parametrize("factory, shape, match", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_export_refuses_what_its_graph_would_not_compute(tmp_path, factory, shape, match):
    with pytest.raises(TypeError, match=match):
        mt.onnx.export(factory(), tmp_path / "m.onnx", shape)
    assert not list(tmp_path.iterdir())


def test_graph_uses_the_named_operators(tmp_path):
    model = mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3, bias=False), mt.Sigmoid(),
                          mt.Identity(), mt.Flatten())
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 4))
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [n.op_type for n in graph.node] == [
        "MatMul", "Add", "Relu", "MatMul", "Sigmoid", "Identity", "Flatten", "Identity"]
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 4]


@pytest.mark.parametrize("layer, attrs", [
    (mt.Conv2d(2, 3, 3, stride=2, dilation=2, padding=1),
     {"kernel_shape": [3, 3], "strides": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]}),
    (mt.Conv2d(2, 3, (3, 2), stride=(1, 2), dilation=(2, 1)),
     {"kernel_shape": [3, 2], "strides": [1, 2], "dilations": [2, 1], "pads": [0, 0, 0, 0]}),
    (mt.MaxPool2d(3, stride=2, padding=1, dilation=(1, 2)),
     {"kernel_shape": [3, 3], "strides": [2, 2], "dilations": [1, 2], "pads": [1, 1, 1, 1]}),
    (mt.AvgPool2d((2, 3)), {"kernel_shape": [2, 3], "strides": [2, 3], "pads": [0, 0, 0, 0]}),
], ids=["conv-ints", "conv-pairs", "maxpool", "avgpool"])
def test_window_attributes_are_the_layers_pairs(tmp_path, layer, attrs):
    """kernel_shape, strides, dilations and pads are the layer's own (h, w) pairs, whether it was given
    ints or pairs."""
    mt.onnx.export(layer, tmp_path / "m.onnx", (1, 2, 9, 9))
    (node,) = [n for n in onnx.load(str(tmp_path / "m.onnx")).graph.node if n.op_type != "Identity"]
    got = {a.name: list(onnx.helper.get_attribute_value(a)) for a in node.attribute if a.name in attrs}
    assert got == attrs


def test_float64_models_export_in_float64_or_as_asked(tmp_path, float64):
    model = randomize_state(mt.Sequential(mt.Linear(3, 2), mt.Sigmoid()))
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 3))
    x = sample_input((2, 3), np.float64)
    np.testing.assert_allclose(run(tmp_path / "m.onnx", x), model(x), rtol=1e-12, atol=1e-14)
    mt.onnx.export(model, tmp_path / "m32.onnx", (2, 3), dtype=np.float32)
    y = run(tmp_path / "m32.onnx", x.astype(np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, model(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="float32 or float64"):
        mt.onnx.export(model, tmp_path / "m16.onnx", (2, 3), dtype=np.float16)


def test_every_exported_layer_has_an_emitter():
    """A layer added to minitorch fails here until it has an emitter (or is listed NOT_EXPORTABLE)."""
    layers = {getattr(mt, name) for name in mt.__all__ if isinstance(getattr(mt, name), type)
              and issubclass(getattr(mt, name), mt.Module)
              and not issubclass(getattr(mt, name), mt.Loss)
              and name not in ("Module", "Sequential", "ModuleList", "ModuleDict")}
    missing = sorted(cls.__name__ for cls in layers - set(mt.onnx.EMITTERS) - set(mt.onnx.NOT_EXPORTABLE))
    assert not missing, f"no ONNX emitter in minitorch/onnx/emitters*.py for {missing}"


def test_errors(tmp_path, monkeypatch):
    class Mine(mt.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="no ONNX form for Mine"):
        mt.onnx.export(mt.Sequential(mt.ReLU(), Mine()), tmp_path / "m.onnx", (1, 2))
    with pytest.raises(ValueError, match="Linear"):
        mt.onnx.export(mt.Linear(3, 2), tmp_path / "m.onnx", (1, 4))
    with pytest.raises(ValueError, match="positive sizes"):
        mt.onnx.export(mt.Linear(3, 2), tmp_path / "m.onnx", (0, 3))
    assert not list(tmp_path.iterdir())
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'minitorch-numpy\[onnx\]'"):
        mt.onnx.export(mt.ReLU(), tmp_path / "m.onnx", (1, 2))


def test_a_repeated_layer_stores_its_weights_once(tmp_path):
    """``model *= 2`` runs one Linear twice: the graph has one W and one b (tied weights, as torch's
    export of a module called twice), used by both MatMuls, and the same output."""
    model = randomize_state(mt.Sequential(mt.Linear(3, 3), mt.Tanh()))
    model *= 2
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 3))
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert len(graph.initializer) == 2
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    assert len(matmuls) == 2 and matmuls[0].input[1] == matmuls[1].input[1]
    x = sample_input((2, 3))
    np.testing.assert_allclose(run(tmp_path / "m.onnx", x), model(x), rtol=1e-5, atol=1e-6)


def _no_running_stats(cls, by_hand, affine):
    """A BatchNorm normalising with each batch's own statistics in eval: track_running_stats=False, or a
    tracking one whose running statistics were set to None."""
    m = cls(3, affine=affine, track_running_stats=by_hand)
    if by_hand:
        m.running_mean = m.running_var = None
    return randomize_state(m, seed=4).eval()


# (N, C, *rest) with rest's size 1: a batch of one is one value per channel
ONE_VALUE_PER_SAMPLE = [(mt.BatchNorm1d, (3,)), (mt.BatchNorm1d, (3, 1)), (mt.BatchNorm2d, (3, 1, 1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("by_hand", [False, True], ids=["untracked", "stats-set-to-None"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
@pytest.mark.parametrize("cls, rest", ONE_VALUE_PER_SAMPLE, ids=["1d", "1d-L1", "2d-1x1"])
def test_batch_statistics_of_one_value_per_channel_are_an_error_in_the_graph_as_in_the_module(
        tmp_path, cls, rest, affine, by_hand, dtype):
    """Without running statistics eval normalises with the batch's own, and a batch of one has a single
    value per channel: the module raises (torch too), and the graph must not answer (it gave beta).
    ONNX has no assert: its guard node fails instead, named for the module and the fix."""
    m = _no_running_stats(cls, by_hand, affine).to(dtype)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        mt.onnx.export(m, tmp_path / "m.onnx", (1, *rest), dtype=dtype)  # the sample runs the module
    mt.onnx.export(m, tmp_path / "m.onnx", (4, *rest), dtype=dtype)
    x = sample_input((1, *rest), dtype, seed=1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        m(x)
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument,
                       match=f"{cls.__name__}_with_no_running_statistics_needs_a_batch_of_2_or_more"):
        run(tmp_path / "m.onnx", x)
    for batch in (0, 2, 3, 4, 7):  # every other batch: the module's numbers (an empty one too)
        x = sample_input((batch, *rest), dtype, seed=batch)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(run(tmp_path / "m.onnx", x), m(x), rtol=tol, atol=tol)


@pytest.mark.parametrize("cls, rest", [(mt.BatchNorm1d, (3, 2)), (mt.BatchNorm2d, (3, 1, 2))],
                         ids=["1d", "2d"])
def test_batch_statistics_of_a_single_sample_with_several_positions_need_no_guard(tmp_path, cls, rest):
    """A sample of several positions has several values per channel: a batch of one is normalised."""
    m = _no_running_stats(cls, False, True)
    mt.onnx.export(m, tmp_path / "m.onnx", (1, *rest))
    assert "Gather" not in [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    for batch in (1, 3):
        x = sample_input((batch, *rest), seed=batch)
        np.testing.assert_allclose(run(tmp_path / "m.onnx", x), m(x), rtol=1e-5, atol=1e-5)
