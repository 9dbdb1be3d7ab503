"""The convolutions read the weight's shape at forward, as torch 2.13's: kernel_size, in_channels and
out_channels edited after construction change nothing (in the forward, the gradients, reset_parameters,
to_torch / from_torch and ONNX), a new weight of another shape counts, and groups / padding_mode,
which torch's forward reads and MiniTorch does not compute, are refused when set to another value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

CASES = {  # class: (constructor arguments, input shape)
    "Conv2d": ((2, 3, (3, 2)), (2, 2, 7, 6)),
    "Conv1d": ((2, 3, 3), (2, 2, 9)),
    "ConvTranspose2d": ((2, 3, (3, 2)), (2, 2, 4, 5)),
}


def _pair(cls: str, dtype: type = np.float64, **kwargs: object) -> tuple[mt.Module, torch.nn.Module]:
    args, _ = CASES[cls]
    m = getattr(mt, cls)(*args, dtype=dtype, **kwargs)
    t = getattr(torch.nn, cls)(*args, dtype=torch.float64 if dtype == np.float64 else torch.float32, **kwargs)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
        t.bias.copy_(torch.from_numpy(m.bias.data))
    return m, t


def _compare(m: mt.Module, t: torch.nn.Module, shape: tuple[int, ...], seed: int, tol: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(m.weight.dtype)
    tx = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        ty = t(tx)
    y = m(x)
    assert y.shape == tuple(ty.shape) and y.dtype == x.dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(x.dtype)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(m.backward(dy), tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=tol, atol=tol)
    if m.bias is not None:
        np.testing.assert_allclose(m.bias.grad, t.bias.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("cls", list(CASES))
@settings(max_examples=15, deadline=None)
@given(kernel=st.one_of(st.integers(1, 6), st.tuples(st.integers(1, 6), st.integers(1, 6))),
       channels=st.tuples(st.integers(1, 9), st.integers(1, 9)), same=st.booleans(),
       seed=st.integers(0, 2**16))
def test_kernel_size_and_channels_edited_after_construction_change_nothing_as_torch(
        dtype, tol, kernels, cls, kernel, channels, same, seed):
    mt.kernels._enabled, enabled = kernels, mt.kernels._enabled
    try:
        padding = "same" if same and cls != "ConvTranspose2d" else 0
        mt.manual_seed(seed)
        m, t = _pair(cls, dtype, padding=padding)
        for module in (m, t):
            module.in_channels, module.out_channels = channels
            module.kernel_size = kernel if cls != "Conv1d" or isinstance(kernel, int) else kernel[:1]
        _compare(m, t, CASES[cls][1], seed, tol)
    finally:
        mt.kernels._enabled = enabled


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("cls, weight_shape, x_shape", [
    ("Conv2d", (4, 2, 1, 3), (2, 2, 7, 6)), ("Conv1d", (5, 2, 2), (2, 2, 9)),
    ("ConvTranspose2d", (2, 4, 2, 3), (2, 2, 4, 5)),
])
def test_a_new_weight_of_another_shape_counts_as_torch(kernels, cls, weight_shape, x_shape, monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    m, t = _pair(cls, padding="same" if cls == "Conv1d" else 0)
    w = np.random.default_rng(0).standard_normal(weight_shape)
    out = weight_shape[1] if cls == "ConvTranspose2d" else weight_shape[0]
    m.weight, t.weight = mt.Parameter(w.copy()), torch.nn.Parameter(torch.from_numpy(w.copy()))
    m.bias, t.bias = mt.Parameter(np.arange(out, dtype=np.float64)), torch.nn.Parameter(
        torch.arange(out, dtype=torch.float64))
    _compare(m, t, x_shape, 1, 1e-10)


@pytest.mark.parametrize("cls", list(CASES))
def test_reset_parameters_draws_with_the_weights_fan_in_as_torch(cls):
    m, _ = _pair(cls)
    m.kernel_size, m.in_channels, m.out_channels = (40, 40) if cls != "Conv1d" else 40, 50, 50
    m.reset_parameters()
    fan_in = m.weight.shape[1] * int(np.prod(m.weight.shape[2:]))  # torch's fan_in
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > bound / 3


@pytest.mark.parametrize("cls", list(CASES))
@pytest.mark.parametrize("setting, value", [("groups", 2), ("padding_mode", "reflect")])
def test_groups_and_padding_mode_set_later_are_refused(cls, setting, value):
    m, _ = _pair(cls)
    assert getattr(m, setting) == getattr(torch.nn, cls)(1, 1, 1).__dict__[setting]  # torch's default, read
    setattr(m, setting, value)
    with pytest.raises(ValueError, match=f"{cls}: {setting}={value!r} was set, but MiniTorch's convolutions"):
        m(np.zeros(CASES[cls][1]))
    with pytest.raises(ValueError, match=f"to_torch: model \\({cls}\\) has {setting}="):
        mt.interop.to_torch(m)
    setattr(m, setting, 1 if setting == "groups" else "zeros")
    assert m(np.zeros(CASES[cls][1])).ndim == len(CASES[cls][1])


@pytest.mark.parametrize("cls", list(CASES))
def test_interop_converts_a_layer_whose_sizes_were_edited_both_ways(cls):
    m, _ = _pair(cls)
    kernel = 5 if cls == "Conv1d" else (5, 4)
    m.kernel_size, m.in_channels, m.out_channels = kernel, 7, 8
    x = np.random.default_rng(2).standard_normal(CASES[cls][1])
    t = mt.interop.to_torch(m)
    assert tuple(t.weight.shape) == m.weight.shape
    assert (t.kernel_size, t.in_channels, t.out_channels) == (
        (5,) if cls == "Conv1d" else (5, 4), 7, 8)  # the edited values kept
    np.testing.assert_allclose(t(torch.from_numpy(x)).detach().numpy(), m(x), rtol=1e-12)
    back = mt.interop.from_torch(t)
    assert (back.kernel_size, back.in_channels, back.out_channels) == (kernel, 7, 8)
    np.testing.assert_allclose(back(x), m(x), rtol=1e-12)


@pytest.mark.parametrize("cls", list(CASES))
def test_onnx_export_reads_the_weights_shape(cls, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m, _ = _pair(cls, np.float32, stride=2)
    m.kernel_size, m.in_channels, m.out_channels = (5 if cls == "Conv1d" else (5, 4)), 7, 8
    m.stride = 1  # an int set later: the export reads it as the forward does
    x = np.random.default_rng(3).standard_normal(CASES[cls][1]).astype(np.float32)
    mt.onnx.export(m, tmp_path / "m.onnx", input_shape=x.shape)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], m(x), rtol=1e-5, atol=1e-5)
