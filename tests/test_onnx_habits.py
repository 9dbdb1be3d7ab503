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


def _declared(path):
    """The dtypes the graph declares for its input and its output."""
    graph = onnx.load(str(path)).graph
    values = (*graph.input, *graph.output)
    return [onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type) for v in values]


@pytest.mark.parametrize("default", [np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["torch", "example"])
def test_a_model_without_parameters_follows_its_example_inputs_dtype(tmp_path, default, dtype, order):
    """A model with no Parameters computes in its input's dtype: its graph declares the example input's
    dtype, whatever the default dtype, and onnxruntime gives the module's numbers in that dtype."""
    model = mt.Sequential(mt.ReLU(), mt.Sigmoid(), mt.Softmax(dim=-1))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
    path = tmp_path / "m.onnx"
    mt.set_default_dtype(default)
    try:
        mt.onnx.export(model, x, path) if order == "torch" else mt.onnx.export(model, path, x)
    finally:
        mt.set_default_dtype(np.float32)
    assert _declared(path) == [np.dtype(dtype)] * 2
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = session.run(None, {"input": x})[0]
    assert y.dtype == model(x).dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(y, model(x), rtol=tol, atol=tol)


def test_a_model_without_parameters_given_a_shape_or_integers_uses_the_default_dtype(tmp_path, float64):
    """With only a shape (no input to follow) or an integer example (which the module turns into the
    default dtype), the graph is in the default dtype; dtype= still says otherwise."""
    model = mt.Sequential(mt.ReLU())
    mt.onnx.export(model, tmp_path / "shape.onnx", (2, 3))
    mt.onnx.export(model, np.arange(6).reshape(2, 3), tmp_path / "ints.onnx")
    mt.onnx.export(model, np.zeros((2, 3)), tmp_path / "asked.onnx", dtype=np.float32)
    assert model(np.arange(6).reshape(2, 3)).dtype == np.float64
    assert _declared(tmp_path / "shape.onnx") == [np.dtype(np.float64)] * 2
    assert _declared(tmp_path / "ints.onnx") == [np.dtype(np.float64)] * 2
    assert _declared(tmp_path / "asked.onnx") == [np.dtype(np.float32)] * 2


def test_a_model_without_parameters_refuses_an_example_in_a_dtype_onnx_export_does_not_write(tmp_path):
    expected = r"Sequential has no Parameters or buffers.*example input is float16.*dtype=np.float32"
    with pytest.raises(ValueError, match=expected):
        mt.onnx.export(mt.Sequential(mt.ReLU()), np.zeros((2, 3), np.float16), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("buffers", [np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["torch", "shape"])
def test_a_model_with_buffers_but_no_parameters_keeps_the_buffers_dtype(tmp_path, buffers, dtype, order):
    """BatchNorm1d(affine=False) has no Parameters but its running statistics, and computes in their
    dtype whatever the input's or the default dtype (float32 here): so does its graph."""
    model = mt.Sequential(mt.BatchNorm1d(3, affine=False, dtype=buffers)).eval()
    model[0].running_mean[:], model[0].running_var[:] = [0.5, -1.0, 2.0], [0.25, 4.0, 1.5]
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    mt.onnx.export(model, *((x, tmp_path / "m.onnx") if order == "torch" else (tmp_path / "m.onnx", (4, 3))))
    assert model(x).dtype == buffers
    assert _declared(tmp_path / "m.onnx") == [np.dtype(buffers)] * 2
    y = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.astype(buffers)})[0]
    tol = 1e-6 if buffers == np.float32 else 1e-14
    np.testing.assert_allclose(y, model(x), rtol=tol, atol=tol)


@pytest.mark.parametrize("args, expected", [
    (lambda x, path: ((x, x), path), r"PyTorch's order .* takes one NumPy array as the example \(the graph "
                                     r"has one input\), got tuple \(ndarray, ndarray\); pass the array"),
    (lambda x, path: ((x,), path), r"PyTorch's order .* got tuple \(ndarray\)"),
    (lambda x, path: ([x], path), r"PyTorch's order .* got list \(ndarray\)"),
    (lambda x, path: (path, (x,)), r"expected input_shape a tuple of ints, .* got tuple \(ndarray\)"),
    (lambda x, path: (path, (2, 4.5)), r"expected input_shape a tuple of ints, .* got tuple \(int, float\)"),
    (lambda x, path: (path, [2, "4"]), r"expected input_shape a tuple of ints, .* got list \(int, str\)"),
], ids=["two inputs", "one input in a tuple", "a list", "a tuple as the shape", "a float size", "a str size"])
def test_a_tuple_example_or_a_shape_of_non_ints_names_what_export_takes(tmp_path, args, expected):
    """torch's tuple of inputs is not an example (the graph has one input), and a shape holds ints:
    each a TypeError naming what came, and no file written (a float size was truncated before)."""
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(TypeError, match=rf"^onnx\.export: {expected}"):
        mt.onnx.export(mt.Linear(4, 3), *args(x, tmp_path / "m.onnx"))
    assert not list(tmp_path.iterdir())
    mt.onnx.export(mt.Linear(4, 3), tmp_path / "m.onnx", (2, np.int64(4)))  # NumPy ints are ints
