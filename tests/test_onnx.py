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


def test_graph_uses_the_named_operators(tmp_path):
    model = mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3, bias=False), mt.Sigmoid(),
                          mt.Identity(), mt.Flatten())
    mt.onnx.export(model, tmp_path / "m.onnx", (2, 4))
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [n.op_type for n in graph.node] == [
        "MatMul", "Add", "Relu", "MatMul", "Sigmoid", "Identity", "Flatten", "Identity"]
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 4]


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
    assert not missing, f"no ONNX emitter in minitorch/onnx/exporter.py for {missing}"


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
