"""minitorch.functional's names that torch.nn.functional shares (sigmoid, softmax, log_softmax,
one_hot, gelu), called as a PyTorch user calls them: torch's keywords (dim, num_classes,
approximate, dtype), torch's defaults, and torch's result, or a ValueError where torch's implicit
choice would differ. Oracle: torch 2.13's functions on the same arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch import functional

grid = settings(max_examples=60, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@grid
@given(shape=shapes, seed=st.integers(0, 2**16), name=st.sampled_from(["softmax", "log_softmax"]),
       dtype=st.sampled_from([None, np.float32, np.float64]), data=st.data())
def test_softmax_and_log_softmax_take_torchs_dim_and_dtype(shape, seed, name, dtype, data):
    """``dim=`` (torch's keyword) and ``dtype=`` as torch's; before, dim was a TypeError."""
    z = np.random.default_rng(seed).standard_normal(shape) * 10
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    ours = getattr(functional, name)(z, dim=dim, dtype=dtype)
    expected = getattr(F, name)(torch.tensor(z), dim=dim, dtype=None if dtype is None else torch.from_numpy(
        np.zeros(0, dtype)).dtype).numpy()
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    tolerances = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(ours, expected, **tolerances)
    np.testing.assert_allclose(getattr(functional, name)(z, dim), expected, **tolerances)  # dim positional


@grid
@given(shape=shapes, seed=st.integers(0, 2**16), name=st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_without_a_dim_is_torchs_implicit_choice_or_a_value_error(shape, seed, name):
    """No dim: torch's implicit (deprecated) choice is dim 0 for 0-D, 1-D and 3-D inputs and 1 for
    the others. Up to 2-D that is the last axis, MiniTorch's; beyond, a ValueError naming both
    choices. Before, a 3-D or 4-D input silently took the last axis where torch takes 0 or 1."""
    z = np.random.default_rng(seed).standard_normal(shape)
    if len(shape) > 2:
        with pytest.raises(ValueError, match=rf"{name}: no axis given, and the input is {len(shape)}-D"):
            getattr(functional, name)(z)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of the implicit dim
        expected = getattr(F, name)(torch.tensor(z)).numpy()
    np.testing.assert_allclose(getattr(functional, name)(z), expected, rtol=1e-12, atol=1e-15)


def test_softmax_refuses_axis_and_dim_together():
    with pytest.raises(TypeError, match="softmax: give axis or dim"):
        functional.softmax(np.zeros((2, 3)), 1, dim=1)


@grid
@given(shape=st.lists(st.integers(0, 3), max_size=3).map(tuple), c=st.integers(1, 5),
       seed=st.integers(0, 2**16), given_classes=st.booleans())
def test_one_hot_is_torchs(shape, c, seed, given_classes):
    """Any shape of class indices, int64 output of shape (*y.shape, C), C = y.max() + 1 by default
    (torch's num_classes=-1). Before: num_classes and dtype were required and y had to be 1-D."""
    y = np.random.default_rng(seed).integers(0, c, shape)
    num_classes = c + 1 if given_classes else -1
    if y.size == 0 and not given_classes:
        with pytest.raises(ValueError, match="one_hot: cannot infer num_classes"):
            functional.one_hot(y)
        return
    ours = functional.one_hot(y, num_classes)
    expected = F.one_hot(torch.tensor(y), num_classes).numpy()
    assert ours.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(ours, expected)
    assert functional.one_hot(y, num_classes, np.float32).dtype == np.float32


@pytest.mark.parametrize("y, num_classes",
                         [(np.array([0, -1, 2]), 3), (np.array([0, 3]), 3), (np.array([-2]), -1)])
def test_one_hot_refuses_indices_out_of_range_as_torch(y, num_classes):
    """torch raises for a negative class or one >= num_classes; before, -1 silently set the last class."""
    with pytest.raises(RuntimeError):
        F.one_hot(torch.tensor(y), num_classes)
    with pytest.raises(ValueError, match=r"one_hot: class indices must lie in \[0, "):
        functional.one_hot(y, num_classes)


def test_one_hot_refuses_float_indices():
    with pytest.raises(TypeError, match="one_hot: expected integer class indices, got dtype float64"):
        functional.one_hot(np.array([0.0, 1.0]), 2)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_returns_torchs_output(approximate, dtype):
    """functional.gelu(x, approximate) is torch's F.gelu: the output alone. Before, it returned the
    (y, slope) pair a layer caches (now ``gelu_and_slope`` / ``gelu_tanh_and_slope``)."""
    x = np.linspace(-6, 6, 41).astype(dtype)
    ours = functional.gelu(x, approximate=approximate)
    expected = F.gelu(torch.tensor(x), approximate=approximate).numpy()
    assert isinstance(ours, np.ndarray) and ours.dtype == dtype
    tolerances = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}
    np.testing.assert_allclose(ours, expected, **tolerances)  # float32: the GELU layer's own tolerance
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        functional.gelu(x, approximate="erf")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_torchs(dtype):
    x = np.array([-1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4], dtype)
    np.testing.assert_allclose(functional.sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-6)
