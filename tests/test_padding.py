"""The padding layers against torch 2.13: hypothesis grids over every mode, padding (negative: crops),
value and input rank (outputs and dx, border gradients accumulated), torch's refusals refused by name,
float64 gradchecks, reprs, and a model file / interop round trip."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

CLASSES = ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]


def _pair(name: str, dims: int, padding, value: float):
    """(ours, torch's) of class ``name`` + ``dims`` d."""
    cls = f"{name}{dims}d"
    args = (padding, value) if name == "ConstantPad" else (padding,)
    return getattr(mt, cls)(*args), getattr(torch.nn, cls)(*args)


@st.composite
def pads(draw):
    name, dims = draw(st.sampled_from(CLASSES)), draw(st.sampled_from([1, 2]))
    sizes = [draw(st.integers(1, 6)) for _ in range(dims)]
    sides = tuple(draw(st.integers(-4, 6)) for _ in range(2 * dims))
    padding = draw(st.sampled_from([sides, sides[0]]))
    constant = name in ("ZeroPad", "ConstantPad")
    lead = draw(st.sampled_from([(), (2,), (2, 3)] + [(2, 1, 2)] if constant else [(3,), (2, 3)]))
    value = draw(st.sampled_from([0.0, -1.5, 2.0, float("-inf")]))
    return name, dims, padding, value, (*lead, *sizes[::-1])


def _wraps_past_the_crop(shape, padding):
    """Circular: an axis cropped past nothing, or padded by more than the crop leaves (where y has
    elements, torch raises or gives undefined values, ours raises; an empty y is torch's); cropped to
    exactly nothing and not padded, it is empty, as torch."""
    pairs = list(zip(padding[::2], padding[1::2], strict=True))
    kept = [shape[-1 - a] - max(-left, 0) - max(-right, 0) for a, (left, right) in enumerate(pairs)]
    return any(k < 0 or max(left, right) > k for k, (left, right) in zip(kept, pairs, strict=True))


@settings(max_examples=400, deadline=None)
@given(case=pads(), seed=st.integers(0, 2**16))
def test_padding_matches_torch(case, seed):
    name, dims, padding, value, shape = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x_t = torch.tensor(x, requires_grad=True)
    ours, theirs = _pair(name, dims, padding, value)
    try:
        y_t = theirs(x_t)
    except (RuntimeError, ValueError, NotImplementedError):
        y_t = None
    if y_t is None or (name == "CircularPad" and y_t.numel() and _wraps_past_the_crop(shape, ours.padding)):
        with pytest.raises(ValueError, match=f"{name}{dims}d"):
            ours(x)
        return
    y = ours(x)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    y_t.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module, shape", [
    (lambda: mt.ReflectionPad1d((3, -1)), (2, 3, 5)),
    (lambda: mt.ReflectionPad2d((1, 2, 2, 1)), (2, 2, 3, 4)),
    (lambda: mt.ReplicationPad2d((3, -1, 2, 4)), (2, 3, 4)),
    (lambda: mt.CircularPad2d((2, -1, 1, 3)), (1, 2, 3, 4)),
    (lambda: mt.ConstantPad2d((2, -1, 1, 3), 0.5), (2, 3, 4)),
    (lambda: mt.ZeroPad1d((-2, 3)), (2, 5)),
])
def test_gradcheck_of_every_element_float64(float64, module, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    assert mt.gradcheck(module(), x)


def test_border_gradients_accumulate():
    """ReplicationPad1d((2, 1)) on [a, b, c]: a is read 3 times, c twice (the docstring's example)."""
    pad = mt.ReplicationPad1d((2, 1))
    y = pad(np.arange(3.0).reshape(1, 1, 3))
    np.testing.assert_array_equal(y, [[[0, 0, 0, 1, 2, 2]]])
    np.testing.assert_array_equal(pad.backward(np.ones_like(y)), [[[3, 1, 2]]])
    pad = mt.ReflectionPad1d(2)
    y = pad(np.arange(4.0).reshape(1, 1, 4))
    np.testing.assert_array_equal(y, [[[2, 1, 0, 1, 2, 3, 2, 1]]])
    np.testing.assert_array_equal(pad.backward(np.ones_like(y)), [[[1, 3, 3, 1]]])


@pytest.mark.parametrize("make, shape, match", [
    (lambda: mt.ReflectionPad1d(5), (1, 1, 5),
     r"ReflectionPad1d: padding \(5, 5\) must be less than the input size 5 of axis 2 \(input \(1, 1, 5\)\)"),
    (lambda: mt.ReflectionPad2d((0, 0, 3, 0)), (1, 1, 3, 4),
     r"ReflectionPad2d: padding \(3, 0\) must be less than the input size 3 of axis 2"),
    (lambda: mt.CircularPad1d(6), (1, 1, 5), r"CircularPad1d: padding \(6, 6\) wraps around axis 2 .* more "
                                             r"than once"),
    (lambda: mt.ConstantPad1d(-3, 0.0), (1, 5), r"ConstantPad1d: padding \(-3, -3\) crops more than axis 1"),
    (lambda: mt.ReplicationPad1d((-3, -2)), (1, 5), r"ReplicationPad1d: padding \(-3, -2\) leaves input"),
    (lambda: mt.ReplicationPad1d((-3, -3)), (1, 5), r"ReplicationPad1d: padding \(-3, -3\) crops more"),
    (lambda: mt.ReflectionPad2d(-1), (3, 2, 2), r"ReflectionPad2d: padding \(-1, -1, -1, -1\) leaves input"),
    (lambda: mt.ReflectionPad1d(1), (5,),
     r"ReflectionPad1d: expected input \(N, C, L\) or unbatched \(C, L\), got \(5,\)"),
    (lambda: mt.ReplicationPad2d(1), (1, 1, 1, 3, 4), r"ReplicationPad2d: expected input \(N, C, H, W\) or "
                                                      r"\(C, H, W\), got \(1, 1, 1, 3, 4\)"),
    (lambda: mt.ZeroPad2d(1), (5,), r"ZeroPad2d: expected input at least 2 axes, got \(5,\)"),
])
def test_bad_inputs_are_refused_naming_expected_and_got(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.zeros(shape))


@pytest.mark.parametrize("make, match", [
    (lambda: mt.ReflectionPad1d((1, 2, 3)),
     r"ReflectionPad1d: padding must be an int or a tuple \(left, right\) of ints, got \(1, 2, 3\)"),
    (lambda: mt.CircularPad2d((1, 2)),
     r"CircularPad2d: padding must be an int or a tuple \(left, right, top, bottom\) of ints, got \(1, 2\)"),
    (lambda: mt.ZeroPad1d(1.5), r"ZeroPad1d: padding must be an int"),
    (lambda: mt.ConstantPad1d(1, "a"), r"ConstantPad1d: value must be a real number, got 'a'"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_padding_set_to_an_int_after_construction_is_refused_as_torch():
    x = np.zeros((1, 2, 5))
    theirs, ours = torch.nn.ReflectionPad1d(1), mt.ReflectionPad1d(1)
    theirs.padding, ours.padding = 2, 2
    with pytest.raises((TypeError, RuntimeError, ValueError)):
        theirs(torch.tensor(x))
    with pytest.raises(ValueError, match=r"ReflectionPad1d: padding set after construction must be a tuple"):
        ours(x)
    ours.padding = (2, 0)
    assert ours(x).shape == (1, 2, 7)


def test_reprs_and_attributes_are_torchs():
    for name in CLASSES:
        for dims in (1, 2):
            ours, theirs = _pair(name, dims, 2, 1.5)
            assert repr(ours) == repr(theirs)
            assert ours.padding == theirs.padding
            ours, theirs = _pair(name, dims, (1, 2) * dims, 1.5)
            assert repr(ours) == repr(theirs)


def test_model_file_and_interop_round_trip(tmp_path):
    model = mt.Sequential(mt.ReflectionPad2d((1, 0, 2, 1)), mt.Conv2d(2, 3, 3), mt.ReplicationPad2d(1),
                          mt.CircularPad2d((1, 1, 0, 0)), mt.ZeroPad2d((0, 1, -1, 0)),
                          mt.ConstantPad2d(1, -2.0), mt.Flatten())
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 6)).astype(np.float32)
    mt.save_model(model, tmp_path / "pads.npz")
    loaded = mt.load_model(tmp_path / "pads.npz")
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded(x), model(x))
    twin = mt.interop.to_torch(model)
    np.testing.assert_allclose(twin(torch.tensor(x)).detach().numpy(), model(x), rtol=1e-5, atol=1e-6)
    back = mt.interop.from_torch(twin)
    assert repr(back) == repr(model)
    np.testing.assert_array_equal(back(x), model(x))


def test_the_docstring_examples_hold():
    pad = mt.ReflectionPad2d(1)
    y = pad(np.zeros((1, 2, 3, 4)))
    np.testing.assert_array_equal(pad.backward(np.ones_like(y))[0, 1], np.outer([1, 3, 1], [1, 2, 2, 1]))
    pad = mt.CircularPad1d(1)
    y = pad(np.arange(3.0).reshape(1, 1, 3))
    np.testing.assert_array_equal(y, [[[2, 0, 1, 2, 0]]])
    np.testing.assert_array_equal(pad.backward(np.ones_like(y)), [[[2, 1, 2]]])
    pad = mt.CircularPad2d(1)
    y = pad(np.zeros((1, 2, 3, 4)))
    np.testing.assert_array_equal(pad.backward(np.ones_like(y))[0, 0], np.outer([2, 1, 2], [2, 1, 1, 2]))


@pytest.mark.parametrize("module", [mt.ReflectionPad1d(1), mt.ZeroPad2d(1), mt.MaxPool1d(2), mt.AvgPool1d(2),
                                    mt.AdaptiveAvgPool1d(2)])
def test_onnx_export_writes_them(tmp_path, module):
    """Each exports (tests/test_onnx_pool1d_pad.py has the grids; MaxUnpool1d alone is refused)."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    shape = (2, 3, 4, 4) if "2d" in type(module).__name__ else (2, 3, 6)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    mt.onnx.export(mt.Sequential(module), x, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], module(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, dims, padding, shape", [
    ("ConstantPad", 1, (2, 1), (2, 3, 0)),
    ("ZeroPad", 1, 1, (3, 0)),
    ("ConstantPad", 1, (0, 0), (2, 0)),
    ("ZeroPad", 2, (1, 2, 0, 1), (2, 2, 0, 3)),
    ("ConstantPad", 2, (1, 0, 2, 1), (2, 3, 0)),
    ("ConstantPad", 2, (0, 1, 1, 0), (1, 2, 0, 0)),
    ("CircularPad", 2, (1, 1, 0, 0), (2, 0, 3)),
    ("CircularPad", 2, (0, 0, 1, 2), (1, 2, 3, 0)),
    ("CircularPad", 1, (1, -3), (0, 2)),             # a crop past the axis, then a wrap: y (0, 0)
    ("CircularPad", 1, (-1, 3), (2, 0, 3)),          # a wrap past the crop: y (2, 0, 5)
    ("CircularPad", 2, (-1, 3, 2, -1), (0, 1, 2, 3)),
    ("CircularPad", 1, (1, -3), (1, 2, 2)),          # x has elements, y none: dx zeros
])
def test_an_empty_axis_is_padded_as_torch(name, dims, padding, shape):
    """torch pads an empty axis with the fill value (nothing is read), and its circular pad passes an
    empty axis it does not pad through; where x or y has no elements, circular padding takes the crops
    and wraps torch's checks take (against the uncropped axis), y empty; dx is torch's (empty or zeros)."""
    ours, theirs = _pair(name, dims, padding, -1.5)
    x = np.zeros(shape)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    dy = np.random.default_rng(0).standard_normal(tuple(y_t.shape))
    y_t.backward(torch.tensor(dy))
    y = ours(x)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    dx = ours.backward(dy)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    np.testing.assert_array_equal(dx, x_t.grad.numpy())


@pytest.mark.parametrize("dims, padding, shape", [
    (1, (1, -4), (0, 3)),
    (1, (-4, 3), (2, 0, 3)),
    (2, (2, -4, 1, -3), (0, 1, 2, 3)),
])
def test_circular_padding_of_nothing_refuses_what_torch_refuses(dims, padding, shape):
    """An empty x: torch refuses a crop past the axis where its kept slice cannot fill y's (its copy's
    shapes); ours names the module, the crop and the input."""
    ours, theirs = _pair("CircularPad", dims, padding, 0.0)
    with pytest.raises(RuntimeError):
        theirs(torch.zeros(shape))
    left, right = padding[:2]
    expected = (rf"CircularPad{dims}d: padding \({left}, {right}\) crops more than axis {len(shape) - 1} "
                rf"of input {re.escape(str(shape))}")
    with pytest.raises(ValueError, match=expected):
        ours(np.zeros(shape))


@pytest.mark.parametrize("name, dims, padding, shape", [
    ("ReplicationPad", 1, (1, 2), (2, 3, 0)),
    ("ReplicationPad", 2, (1, 1, 1, 1), (2, 2, 0, 3)),
    ("ReplicationPad", 2, (1, 1, 1, 1), (2, 3, 0)),
    ("ReflectionPad", 1, 1, (3, 0)),
    ("CircularPad", 1, 1, (2, 3, 0)),
    ("CircularPad", 2, (1, 1, 1, 0), (2, 0, 3)),
    ("ReplicationPad", 2, (1, 1, 0, 0), (2, 0, 3)),
])
def test_the_edge_modes_refuse_an_empty_padded_axis_naming_the_module_as_torch(name, dims, padding, shape):
    """Reflection, replication and circular padding read the input's edge: torch refuses an empty
    axis; ours names the module, the axis and the input (not NumPy's IndexError of an empty take)."""
    ours, theirs = _pair(name, dims, padding, 0.0)
    with pytest.raises(RuntimeError):
        theirs(torch.zeros(shape))
    expected = rf"{name}{dims}d: .*axis \d of input {re.escape(str(shape))} is empty"
    with pytest.raises(ValueError, match=expected):
        ours(np.zeros(shape))
