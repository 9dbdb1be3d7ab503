"""from_torch builds each module in the torch module's dtype, through the constructors' ``dtype=``.

A float64 torch model becomes a float64 MiniTorch model, bit for bit its weights, and
``mt.set_default_dtype``'s global state is never touched (not even for a moment: another thread
building a layer meanwhile would get the wrong dtype). A module whose own floating arrays mix
dtypes is refused, naming them and the fix; modules of different dtypes keep each its own.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import (
    CASE_ARGS,
    CASE_IDS,
    assert_same_state,
    randomize_state,
    refuse_default_dtype_switch,
    sample_input,
)

import minitorch as mt


@pytest.fixture
def default_dtype_untouched(monkeypatch):
    refuse_default_dtype_switch(monkeypatch)
    yield
    assert mt.get_default_dtype() == np.float32


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_a_float64_torch_model_comes_over_in_float64_without_the_default_dtype(
        factory, shape, default_dtype_untouched):
    model = randomize_state(factory(), seed=5).eval()
    t = mt.interop.to_torch(model).double()
    back = mt.interop.from_torch(t)
    assert_same_state(back, model.to(np.float64))  # torch's float64 weights, bit for bit
    x = sample_input(shape, np.float64)
    y = back(x)
    assert (y[0] if isinstance(y, tuple) else y).dtype == np.float64
    for name, value in back.state_dict().items():
        assert value.dtype.kind != "f" or value.dtype == np.float64, name


def test_a_float32_torch_model_comes_over_in_float32_when_the_default_is_float64():
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LSTM(4, 2, batch_first=True))
    mt.set_default_dtype(np.float64)
    try:
        back = mt.interop.from_torch(t)
    finally:
        mt.set_default_dtype(np.float32)
    assert back[0].W.dtype == np.float32 and back[1].weight_ih_l0.dtype == np.float32
    np.testing.assert_array_equal(back[0].W.data, t[0].weight.detach().numpy().T)


@pytest.mark.parametrize("build, message", [
    (lambda: torch.nn.Linear(3, 2).double(), r"module \(Linear\) holds weight float64, bias float32"),
    (lambda: torch.nn.BatchNorm1d(3), r"module \(BatchNorm1d\) holds weight float32, bias float32, "
                                      r"running_mean float64"),
    (lambda: torch.nn.MultiheadAttention(4, 2).double(),
     r"module \(MultiheadAttention\) holds in_proj_weight float64"),
])
def test_a_module_mixing_dtypes_is_refused_naming_them(build, message):
    t = build()
    flip = {"Linear": "bias", "BatchNorm1d": "running_mean", "MultiheadAttention": "in_proj_bias"}
    key = flip[type(t).__name__]
    flipped = torch.float32 if getattr(t, key).dtype == torch.float64 else torch.float64
    setattr(t, key, torch.nn.Parameter(getattr(t, key).detach().to(flipped))
            if isinstance(getattr(t, key), torch.nn.Parameter) else getattr(t, key).to(flipped))
    with pytest.raises(TypeError, match=message + r".*\.float\(\) or \.double\(\)"):
        mt.interop.from_torch(t)


def test_modules_of_different_dtypes_keep_each_its_own(default_dtype_untouched):
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2).double())
    back = mt.interop.from_torch(t)
    assert back[0].W.dtype == np.float32 and back[2].W.dtype == np.float64
    np.testing.assert_array_equal(back[2].W.data, t[2].weight.detach().numpy().T)
    again = mt.interop.to_torch(back)
    assert [p.dtype for p in again.parameters()] == [p.dtype for p in t.parameters()]
