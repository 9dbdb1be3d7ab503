"""Review of the convolution and pooling layers against torch 2.13: attributes a user edits after
construction (stride, padding, dilation), which torch reads at every forward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt


def _torch_twin(m: mt.Module) -> torch.nn.Module:
    """torch's layer of the same class and constructor arguments, holding m's weights."""
    t = getattr(torch.nn, type(m).__name__)(**m._init_args, dtype=torch.float64)
    if getattr(m, "weight", None) is not None:
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(m.weight.data))
            if m.bias is not None:
                t.bias.copy_(torch.from_numpy(m.bias.data))
    return t


def _edit(modules: tuple, **edits: object) -> None:
    for m in modules:
        for name, value in edits.items():
            setattr(m, name, value)


def _compare(m: mt.Module, t: torch.nn.Module, shape: tuple[int, ...], seed: int = 0) -> None:
    """m and t agree on y, dx and every parameter gradient (float64, tight)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        ty = t(tx)
    y = m(x)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(m.backward(dy), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name in ("weight", "bias"):
        if getattr(m, name, None) is not None:
            np.testing.assert_allclose(getattr(m, name).grad, getattr(t, name).grad.numpy(),
                                       rtol=1e-10, atol=1e-12)


pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
pad2 = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("valid"))


@settings(max_examples=30, deadline=None)
@given(stride=st.one_of(st.integers(1, 3), pair), dilation=st.one_of(st.integers(1, 2), pair),
       padding=pad2, seed=st.integers(0, 2**16))
def test_conv2d_reads_stride_padding_dilation_edited_after_construction(stride, dilation, padding, seed):
    mt.manual_seed(seed)
    m = mt.Conv2d(2, 3, (3, 2), dtype=np.float64)
    t = _torch_twin(m)
    _edit((m, t), stride=stride, dilation=dilation, padding=padding)
    _compare(m, t, (2, 2, 9, 8), seed)


@pytest.mark.parametrize("kernels", [True, False])
def test_conv2d_same_padding_follows_an_edited_dilation(kernels, monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    m = mt.Conv2d(2, 3, 4, padding="same", dtype=np.float64)
    t = _torch_twin(m)
    _edit((m, t), dilation=(2, 3))
    _compare(m, t, (2, 2, 9, 10))
    assert m(np.zeros((1, 2, 9, 10))).shape == (1, 3, 9, 10)


def test_conv2d_same_padding_refuses_a_stride_set_later_as_torch():
    m = mt.Conv2d(2, 3, 3, padding="same")
    m.stride = (2, 2)
    with pytest.raises(ValueError, match="Conv2d: padding='same' needs stride 1"):
        m(np.zeros((1, 2, 5, 5), np.float32))


def test_conv2d_refuses_a_bad_attribute_set_later_by_name():
    m = mt.Conv2d(2, 3, 3)
    m.padding = -1
    with pytest.raises(ValueError, match="Conv2d: padding must be"):
        m(np.zeros((1, 2, 5, 5), np.float32))


@settings(max_examples=30, deadline=None)
@given(stride=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3))),
       dilation=st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2))),
       padding=st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2)), st.just("valid")),
       seed=st.integers(0, 2**16))
def test_conv1d_reads_stride_padding_dilation_edited_after_construction(stride, dilation, padding, seed):
    mt.manual_seed(seed)
    m = mt.Conv1d(2, 3, 3, dtype=np.float64)
    t = _torch_twin(m)
    _edit((m, t), stride=stride, dilation=dilation, padding=padding)
    _compare(m, t, (2, 2, 11), seed)


def test_conv1d_same_padding_follows_an_edited_dilation():
    m = mt.Conv1d(2, 3, 4, padding="same", dtype=np.float64)
    t = _torch_twin(m)
    _edit((m, t), dilation=(3,))
    _compare(m, t, (2, 2, 13))


@settings(max_examples=30, deadline=None)
@given(stride=st.one_of(st.integers(1, 3), pair), dilation=st.one_of(st.integers(1, 2), pair),
       padding=st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 1), st.integers(0, 1))),
       ceil_mode=st.booleans(), seed=st.integers(0, 2**16))
def test_maxpool2d_reads_stride_padding_dilation_edited_after_construction(stride, dilation, padding,
                                                                           ceil_mode, seed):
    m = mt.MaxPool2d(3)
    t = torch.nn.MaxPool2d(3)  # no parameters: torch's twin keeps no dtype
    _edit((m, t), stride=stride, dilation=dilation, padding=padding, ceil_mode=ceil_mode)
    _compare(m, t, (2, 2, 9, 10), seed)


@settings(max_examples=30, deadline=None)
@given(stride=st.one_of(st.integers(1, 3), pair),
       padding=st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 1), st.integers(0, 1))),
       ceil_mode=st.booleans(), count_include_pad=st.booleans(), seed=st.integers(0, 2**16))
def test_avgpool2d_reads_stride_and_padding_edited_after_construction(stride, padding, ceil_mode,
                                                                      count_include_pad, seed):
    m = mt.AvgPool2d(3)
    t = torch.nn.AvgPool2d(3)
    _edit((m, t), stride=stride, padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    _compare(m, t, (2, 2, 9, 10), seed)


@pytest.mark.parametrize("cls", [mt.MaxPool2d, mt.AvgPool2d])
def test_pooling_refuses_padding_over_half_the_kernel_set_later_as_torch(cls):
    m = cls(3)
    m.padding = (2, 2)
    with pytest.raises(ValueError, match=f"{cls.__name__}: padding must be at most half the kernel size"):
        m(np.zeros((1, 1, 7, 7)))


@settings(max_examples=30, deadline=None)
@given(stride=pair, padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
       output_padding=st.tuples(st.integers(0, 1), st.integers(0, 1)), dilation=pair,
       seed=st.integers(0, 2**16))
def test_conv_transpose2d_reads_its_geometry_edited_after_construction(stride, padding, output_padding,
                                                                      dilation, seed):
    mt.manual_seed(seed)
    m = mt.ConvTranspose2d(2, 3, (3, 2), dtype=np.float64)
    t = _torch_twin(m)
    _edit((m, t), stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        with pytest.raises(RuntimeError, match="output padding must be smaller"):
            t(torch.zeros(1, 2, 4, 5, dtype=torch.float64))
        with pytest.raises(ValueError, match="ConvTranspose2d: output_padding must be smaller"):
            m(np.zeros((1, 2, 4, 5)))
        return
    _compare(m, t, (2, 2, 4, 5), seed)


@pytest.mark.parametrize("cls", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
@pytest.mark.parametrize("size", [3, (2, None), (5, 1)])
def test_adaptive_pools_read_an_output_size_edited_after_construction(cls, size):
    m, t = getattr(mt, cls)(2), getattr(torch.nn, cls)(2)
    _edit((m, t), output_size=size)
    _compare(m, t, (2, 2, 7, 6))


@pytest.mark.parametrize("edits", [dict(scale_factor=3.0), dict(scale_factor=(1.5, 2.5), mode="bilinear"),
                                   dict(size=(8, 3), scale_factor=None),
                                   dict(mode="bilinear", align_corners=True)])
def test_upsample_reads_size_scale_factor_and_mode_edited_after_construction(edits):
    m, t = mt.Upsample(scale_factor=2.0), torch.nn.Upsample(scale_factor=2.0)
    _edit((m, t), **edits)
    _compare(m, t, (2, 2, 5, 4))


def test_upsample_refuses_size_and_scale_factor_both_set_later():
    m = mt.Upsample(scale_factor=2.0)
    m.size = (4, 4)
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        m(np.zeros((1, 1, 2, 2)))


def test_avgpool2d_refuses_a_zero_divisor_override_set_later_as_torch():
    m = mt.AvgPool2d(2)
    m.divisor_override = 0
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override"):
        m(np.ones((1, 1, 4, 4)))


def _conv_pair(cls: str, **kwargs: object) -> tuple[mt.Module, torch.nn.Module]:
    m = getattr(mt, cls)(1, 1, 1, dtype=np.float64, **kwargs)
    return m, _torch_twin(m)


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("make, shape, edits", [
    (lambda: (mt.MaxPool2d(1, 3), torch.nn.MaxPool2d(1, 3)), (1, 1, 5, 5), dict(stride=(4, 4))),
    (lambda: (mt.AvgPool2d(1, 3), torch.nn.AvgPool2d(1, 3)), (1, 1, 5, 5), dict(stride=(4, 4))),
    (lambda: _conv_pair("Conv2d", stride=3), (1, 1, 5, 5), dict(stride=(4, 4))),
    (lambda: _conv_pair("Conv1d", stride=3), (1, 1, 5), dict(stride=4)),
    (lambda: _conv_pair("Conv2d", padding=1), (1, 1, 5, 5), dict(padding=(0, 0))),
    (lambda: (mt.MaxPool2d(2, 1, dilation=2), torch.nn.MaxPool2d(2, 1, dilation=2)), (1, 1, 5, 5),
     dict(dilation=(1, 1), stride=(2, 2))),
    (lambda: _conv_pair("ConvTranspose2d", stride=2, output_padding=1), (1, 1, 3, 3),
     dict(stride=(3, 3), output_padding=(0, 0))),
])
def test_a_setting_changed_between_forward_and_backward_raises_instead_of_a_wrong_dx(
        kernels, make, shape, edits, monkeypatch):
    """Same output size, other windows: torch's backward uses the forward's settings; ours refuses."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    m, t = make()
    y = m(np.ones(shape))
    _edit((m,), **edits)
    with pytest.raises(ValueError, match=f"{type(m).__name__}.backward: .* was set between forward"):
        m.backward(np.ones_like(y))
    _edit((m,), **{k: getattr(t, k) for k in edits})  # set back in torch's form: the forward's values
    tx = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    t(tx).backward(torch.ones(y.shape, dtype=torch.float64))
    np.testing.assert_allclose(m.backward(np.ones_like(y)), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("make, shape, derive", [
    (lambda: mt.Conv2d(2, 3, 3, padding="same", dtype=np.float64), (4, 2, 6, 5), "_read_geometry"),
    (lambda: mt.Conv1d(2, 3, 3, padding=1, dtype=np.float64), (4, 2, 7), "_read_geometry"),
    (lambda: mt.ConvTranspose2d(2, 3, 3, stride=2, dtype=np.float64), (4, 2, 3, 3), "_read_geometry"),
    (lambda: mt.MaxPool2d(3, 2, padding=1, ceil_mode=True), (4, 2, 6, 5), "pads_for"),
    (lambda: mt.AvgPool2d(3, 2, padding=1, ceil_mode=True), (4, 2, 6, 5), "pads_for"),
])
def test_the_pads_are_derived_once_per_forward_call_and_reused_by_its_backward(kernels, make, shape, derive,
                                                                              monkeypatch):
    """A forward derives its pads from the settings once (the frame keeps them); backward reads them."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    m = make()
    calls = []
    plain = getattr(type(m), derive)
    monkeypatch.setattr(type(m), derive, lambda self, *a, **kw: calls.append(derive) or plain(self, *a, **kw))
    x = np.random.default_rng(0).standard_normal(shape)
    y1, y2 = m(x), m(x[:2])  # two calls waiting: each backward gets its own forward's pads
    assert len(calls) == 2
    dx2, dx1 = m.backward(np.ones_like(y2)), m.backward(np.ones_like(y1))
    assert len(calls) == 2 and dx1.shape == x.shape and dx2.shape == x[:2].shape
    np.testing.assert_allclose(dx1[:2], dx2, rtol=1e-12)
