"""onnx.export takes PyTorch's argument order with an example input too (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_pytorch_order_with_an_example_input(tmp_path):
    model = mt.Sequential(mt.Linear(4, 3), mt.SiLU())
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    mt.onnx.export(model, x, tmp_path / "torch_order.onnx")                 # torch.onnx.export(model, x, f)
    mt.onnx.export(model, tmp_path / "example.onnx", x)                     # an example input as the shape
    for name in ("torch_order.onnx", "example.onnx"):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model(x), rtol=1e-5, atol=1e-6)


def test_a_missing_shape_names_both_orders(tmp_path):
    with pytest.raises(TypeError, match=r"export\(model, path, input_shape\) or PyTorch's order"):
        mt.onnx.export(mt.Linear(2, 2), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="PyTorch's order"):
        mt.onnx.export(mt.Linear(2, 2), np.zeros((1, 2)), (1, 2))
