"""ConvTranspose2d.forward(x, output_size=...) against torch 2.13: the output padding chosen from the
requested size (spatial or full), its range checks, and the gradients of that forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

pair = st.tuples(st.integers(1, 3), st.integers(1, 3))


def _twin(m: mt.ConvTranspose2d) -> torch.nn.ConvTranspose2d:
    dtype = torch.float64 if m.weight.dtype == np.float64 else torch.float32
    t = torch.nn.ConvTranspose2d(**m._init_args, dtype=dtype)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
        if m.bias is not None:
            t.bias.copy_(torch.from_numpy(m.bias.data))
    return t


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@settings(max_examples=30, deadline=None)
@given(kernel=pair, stride=pair, dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.tuples(st.integers(0, 1), st.integers(0, 1)), hw=pair,
       extra=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       form=st.sampled_from(["spatial", "full", "list"]),
       unbatched=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_output_size_matches_torch_forward_and_gradients(dtype, tol, kernel, stride, dilation, padding, hw,
                                                         extra, form, unbatched, bias, seed):
    mt.manual_seed(seed)
    m = mt.ConvTranspose2d(2, 3, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias,
                           dtype=dtype)
    t = _twin(m)
    smallest = [(n - 1) * s - 2 * p + d * (k - 1) + 1
                for n, s, p, d, k in zip(hw, stride, padding, dilation, kernel, strict=True)]
    if min(smallest) < 1:
        return  # the output would be empty whatever the output padding (tested below)
    size = [low + e % s for low, e, s in zip(smallest, extra, stride, strict=True)]
    shape = ((2,) if unbatched else (2, 2)) + hw  # (C, H, W) or (N, C, H, W)
    output_size = {"spatial": tuple(size), "list": list(size),
                   "full": ((3,) if unbatched else (2, 3)) + tuple(size)}[form]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx, output_size=output_size)
    y = m(x, output_size=output_size)
    assert y.dtype == dtype and y.shape == tuple(ty.shape) and list(y.shape[-2:]) == size
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(dy))
    dx = m.backward(dy)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=tol, atol=tol)
    if bias:
        np.testing.assert_allclose(m.bias.grad, t.bias.grad.numpy(), rtol=tol, atol=tol)


@settings(max_examples=30, deadline=None)
@given(stride=pair, padding=st.tuples(st.integers(0, 1), st.integers(0, 1)), hw=pair,
       size=st.tuples(st.integers(0, 12), st.integers(0, 12)))
def test_output_size_out_of_range_raises_as_torch(stride, padding, hw, size):
    m = mt.ConvTranspose2d(1, 1, 3, stride=stride, padding=padding, dtype=np.float64)
    t = _twin(m)
    x = np.zeros((1, 1) + hw)
    try:
        expected = tuple(t(torch.from_numpy(x), output_size=size).shape)
    except ValueError as error:
        assert "requested an output size of" in str(error)
        with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \[.*valid sizes"):
            m(x, output_size=size)
        return
    except RuntimeError:  # torch's empty output
        with pytest.raises(ValueError, match="empty"):
            m(x, output_size=size)
        return
    assert m(x, output_size=size).shape == expected


@pytest.mark.parametrize("shape, size", [((1, 1, 3, 3), (1, 6, 6)), ((1, 1, 3, 3), (1, 1, 1, 6, 6)),
                                         ((1, 3, 3), (1, 1, 6, 6)), ((1, 1, 3, 3), 6)])
def test_output_size_of_the_wrong_length_raises_as_torch(shape, size):
    m = mt.ConvTranspose2d(1, 1, 2, stride=2)
    t = torch.nn.ConvTranspose2d(1, 1, 2, stride=2)
    with pytest.raises((ValueError, TypeError)):
        t(torch.zeros(shape), output_size=size)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: for \dD input, output_size must have 2 or \d"):
        m(np.zeros(shape, np.float32), output_size=size)


def test_output_size_ignores_the_output_padding_setting_as_torch():
    """torch computes the output padding from output_size alone: an output_padding setting torch would
    refuse (not below stride or dilation) is not read."""
    m = mt.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1, dtype=np.float64)
    t = _twin(m)
    m.output_padding = t.output_padding = (2, 2)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    y = m(x, output_size=(9, 10))
    np.testing.assert_allclose(y, t(torch.from_numpy(x), output_size=(9, 10)).detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        m(x)


def test_the_backward_uses_its_own_forwards_output_size():
    """Two calls waiting (one with output_size, one without): each backward gets its own geometry."""
    m = mt.ConvTranspose2d(1, 1, 3, stride=2, dtype=np.float64)
    t = _twin(m)
    x = np.random.default_rng(1).standard_normal((1, 1, 3, 3))
    y1, y2 = m(x, output_size=(8, 8)), m(x)
    assert y1.shape == (1, 1, 8, 8) and y2.shape == (1, 1, 7, 7)
    dx2, dx1 = m.backward(np.ones_like(y2)), m.backward(np.ones_like(y1))
    for dx, size in ((dx1, (8, 8)), (dx2, None)):
        tx = torch.tensor(x, requires_grad=True)
        t(tx, output_size=size).sum().backward()
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)


def test_a_chain_calling_it_with_output_size_is_refused_by_to_torch_and_onnx(tmp_path):
    """output_size is a call argument, not a setting: a model whose forward passes it is not a plain
    chain of its children, which is what to_torch and onnx.export convert."""

    class Up(mt.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = mt.ConvTranspose2d(1, 1, 2, stride=2)

        def forward(self, x: np.ndarray) -> np.ndarray:
            return self.up(x, output_size=(2 * x.shape[2] + 1, 2 * x.shape[3] + 1))

    x = np.zeros((1, 1, 3, 3), np.float32)
    assert Up()(x).shape == (1, 1, 7, 7)
    with pytest.raises(TypeError, match="chain"):
        mt.interop.to_torch(Up(), x)
    pytest.importorskip("onnx")
    with pytest.raises(TypeError, match="chain"):
        mt.onnx.export(Up(), x, tmp_path / "up.onnx")
