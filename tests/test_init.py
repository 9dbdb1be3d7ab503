"""mt.init: torch's gains, torch's fans for the same layer (W is (in, out) here), the right laws, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch import init

GAINS = [("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0),
         ("leaky_relu", 3)]


@pytest.mark.parametrize("nonlinearity, param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_gain_refuses_unknown_nonlinearity_and_bad_slope():
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")
    for bad in ("0.2", True):
        with pytest.raises(ValueError, match="negative_slope"):
            init.calculate_gain("leaky_relu", bad)


def torch_fans(weight: torch.Tensor) -> tuple[int, int]:
    return torch.nn.init._calculate_fan_in_and_fan_out(weight)


def test_linear_fans_are_torchs_for_the_same_layer():
    """Linear(5, 7): W is (5, 7) here, weight (7, 5) in torch; both give fan_in 5, fan_out 7."""
    layer = mt.Linear(5, 7)
    assert init.calculate_fan_in_and_fan_out(layer.W) == torch_fans(torch.nn.Linear(5, 7).weight) == (5, 7)


@pytest.mark.parametrize("shape", [(6, 3, 5, 4), (6, 3, 5), (2, 4, 3, 3, 3), (4, 1, 1, 1)], ids=str)
def test_conv_fans_are_torchs(shape):
    """>= 3-D weights are stored (out, in, *kernel) as in torch: the same rule."""
    assert init.calculate_fan_in_and_fan_out(np.zeros(shape)) == torch_fans(torch.zeros(shape))


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.calculate_fan_in_and_fan_out(np.zeros(5))
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.xavier_uniform_(mt.Linear(3, 2).b)


def _check_law(x: np.ndarray, std: float, mean: float = 0.0, bound: float | None = None) -> None:
    """Mean and std within 5 standard errors (a normal sample's, the larger); uniform draws in bounds."""
    n = x.size
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n), (x.mean(), mean)
    assert abs(x.std() / std - 1) < 5 / math.sqrt(2 * n), (x.std(), std)
    if bound is not None:
        assert np.all(np.abs(x - mean) <= bound)
        assert np.abs(x - mean).max() > 0.99 * bound       # and they do reach out to the bounds


# (our init, kwargs, torch-style std as a function of the torch layer's weight)
LAWS = [
    ("xavier_uniform_", {}, lambda w: math.sqrt(2.0 / sum(torch_fans(w))), True),
    ("xavier_uniform_", {"gain": 2.0}, lambda w: 2 * math.sqrt(2.0 / sum(torch_fans(w))), True),
    ("xavier_normal_", {"gain": 0.5}, lambda w: 0.5 * math.sqrt(2.0 / sum(torch_fans(w))), False),
    ("kaiming_uniform_", {}, lambda w: math.sqrt(2.0) / math.sqrt(torch_fans(w)[0]), True),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, lambda w: math.sqrt(2 / 6) / math.sqrt(torch_fans(w)[0]), True),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"},
     lambda w: math.sqrt(2.0) / math.sqrt(torch_fans(w)[1]), True),
    ("kaiming_normal_", {"nonlinearity": "relu"},
     lambda w: math.sqrt(2.0) / math.sqrt(torch_fans(w)[0]), False),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"},
     lambda w: 5 / 3 / math.sqrt(torch_fans(w)[1]), False),
]


@pytest.mark.parametrize("name, kwargs, torch_std, uniform", LAWS, ids=[f"{n}-{k}" for n, k, _, _ in LAWS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_linear_weight_follows_torchs_law_for_the_same_layer(name, kwargs, torch_std, uniform, dtype):
    """A non-square Linear(100, 400): swapped fans would change fan_in-based stds by a factor 2."""
    mt.set_default_dtype(dtype)
    layer = mt.Linear(100, 400)
    std = torch_std(torch.nn.Linear(100, 400).weight)
    out = getattr(init, name)(layer.W, **kwargs)
    assert out is layer.W and layer.W.dtype == dtype and layer.W.shape == (100, 400)
    _check_law(layer.W.data, std, bound=math.sqrt(3) * std * (1 + 1e-6) if uniform else None)


def test_conv_weight_follows_torchs_law():
    w = np.zeros((32, 16, 3, 3), np.float32)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    _check_law(w, math.sqrt(2.0) / math.sqrt(torch_fans(torch.zeros(32, 16, 3, 3))[1]))
    init.xavier_uniform_(w)
    std = math.sqrt(2.0 / sum(torch_fans(torch.zeros(32, 16, 3, 3))))
    _check_law(w, std, bound=math.sqrt(3) * std * (1 + 1e-6))


def test_uniform_normal_and_constants():
    x = np.empty((300, 200), np.float32)
    init.uniform_(x, -2.0, 5.0)
    assert x.min() >= -2.0 and x.max() <= 5.0
    _check_law(x, 7 / math.sqrt(12), mean=1.5, bound=3.5)
    init.normal_(x, mean=3.0, std=0.5)
    _check_law(x, 0.5, mean=3.0)
    assert x.dtype == np.float32
    p = mt.Parameter(np.empty((3, 4)))
    assert init.constant_(p, 0.25) is p and np.all(p.data == 0.25)
    assert np.all(init.zeros_(p).data == 0) and np.all(init.ones_(p).data == 1)


def test_non_contiguous_view_is_filled_in_place():
    x = np.zeros((4, 6))
    view = x[:, ::2]
    init.normal_(view)
    assert np.all(x[:, ::2] != 0) and np.all(x[:, 1::2] == 0)


@pytest.mark.parametrize("law", ["uniform_", "normal_"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["fortran", "strided", "parameter"])
def test_a_fill_draws_the_same_values_whatever_the_memory_layout(layout, dtype, law):
    """The same generator state gives the same values element for element, in the array's dtype
    (float32's own draws, not float64's rounded), contiguous or not."""
    contiguous = np.zeros((4, 6), dtype)
    getattr(init, law)(contiguous, generator=np.random.default_rng(5))
    if layout == "fortran":
        target = x = np.zeros((4, 6), dtype, order="F")
    elif layout == "strided":
        target = x = np.zeros((4, 12), dtype)[:, ::2]
    else:
        target = mt.Parameter(np.zeros((6, 4), dtype).T)
        x = target.data
    getattr(init, law)(target, generator=np.random.default_rng(5))
    assert x.dtype == dtype
    np.testing.assert_array_equal(x, contiguous)


def test_zero_size_arrays_are_a_no_op():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_, init.xavier_uniform_, init.xavier_normal_):
        assert fn(np.zeros((0, 5))).shape == (0, 5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), name=st.sampled_from(["xavier_uniform_", "xavier_normal_",
                                                              "kaiming_uniform_", "kaiming_normal_",
                                                              "uniform_", "normal_"]))
def test_manual_seed_makes_init_reproducible(seed, name):
    draws = []
    for s in (seed, seed, seed + 1):
        mt.manual_seed(s)
        draws.append(getattr(init, name)(np.empty((6, 5), np.float32)).copy())
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


@pytest.mark.parametrize("call, error", [
    (lambda: init.normal_(np.zeros(3, np.int64)), TypeError),
    (lambda: init.normal_([0.0, 1.0]), TypeError),
    (lambda: init.normal_(np.zeros(3), std=-1.0), ValueError),
    (lambda: init.uniform_(np.zeros(3), a=1.0, b=0.0), ValueError),
    (lambda: init.kaiming_uniform_(np.zeros((3, 3)), mode="fan"), ValueError),
    (lambda: init.kaiming_normal_(np.zeros((3, 3)), nonlinearity="swish"), ValueError),
    (lambda: init.xavier_normal_(np.zeros((3, 3)), gain=-1.0), ValueError),
    (lambda: init.constant_(np.zeros(3), "1"), ValueError),
], ids=["int-array", "list", "std<0", "b<a", "mode", "nonlinearity", "gain<0", "val-str"])
def test_bad_arguments_are_refused(call, error):
    with pytest.raises(error):
        call()


def _every_module():
    from cases import INPUT_CASES, MODULE_CASES
    return [(case_id, factory) for case_id, factory, _ in MODULE_CASES + INPUT_CASES]


@pytest.mark.parametrize("case_id, factory", _every_module(), ids=[c[0] for c in _every_module()])
def test_every_layers_weights_get_torchs_fans(case_id, factory):
    """Every Parameter of 2+ dims of every registered module has the fans torch gives its twin:
    Linear's W is (in, out) here, but an Embedding's, an RNN's or attention's weights are stored in
    torch's (out, in) layout, so kaiming_*_(lstm.weight_ih_l0) must read fan_in = in, as torch."""
    from minitorch.interop import _torch_state_names

    model = factory()
    theirs = dict(mt.interop.to_torch(model).named_parameters()) if list(model.parameters()) else {}
    names = _torch_state_names(model)
    for path, sub in model.named_modules():
        for name, p in sub._parameters.items():
            key = f"{path}.{name}" if path else name
            if p.ndim < 2 or names[key][0] not in theirs:
                continue
            assert init.calculate_fan_in_and_fan_out(p) == torch_fans(theirs[names[key][0]]), key
    # the same layers as subclasses of theirs (class MyLSTM(mt.LSTM): pass): the weights the layer
    # makes keep its layout, so their fans stay torch's
    for sub in model.modules():
        sub.__class__ = type(f"My{type(sub).__name__}", (type(sub),), {})
    for path, sub in model.named_modules():
        for name, p in sub._parameters.items():
            key = f"{path}.{name}" if path else name
            if p.ndim < 2 or names[key][0] not in theirs:
                continue
            fans = torch_fans(theirs[names[key][0]])
            assert init.calculate_fan_in_and_fan_out(p) == fans, f"subclass: {key}"


def test_a_parameter_a_subclass_adds_is_read_as_your_own():
    """A subclass's own 2-D Parameters (a low-rank A (in, r) beside a Linear's W) are (in, out), as
    every Parameter of your own module; the layer's weights keep the layer's layout."""

    class LowRankLinear(mt.Linear):
        def __init__(self, n_in, n_out, rank):
            super().__init__(n_in, n_out)
            self.A = mt.Parameter(np.zeros((n_in, rank), np.float32))

    class TaggedLSTM(mt.LSTM):
        def __init__(self, n_in, hidden):
            super().__init__(n_in, hidden)
            self.extra = mt.Parameter(np.zeros((n_in, hidden), np.float32))

    lora, lstm = LowRankLinear(6, 4, 2), TaggedLSTM(3, 5)
    assert init.calculate_fan_in_and_fan_out(lora.W) == (6, 4)
    assert init.calculate_fan_in_and_fan_out(lora.A) == (6, 2)
    fans = torch_fans(torch.nn.LSTM(3, 5).weight_ih_l0)
    assert init.calculate_fan_in_and_fan_out(lstm.weight_ih_l0) == fans == (3, 20)
    assert init.calculate_fan_in_and_fan_out(lstm.extra) == (3, 5)


@pytest.mark.parametrize("fill", [
    lambda x, **k: mt.init.uniform_(x, -1, 2, **k), lambda x, **k: mt.init.normal_(x, 1, 3, **k),
    lambda x, **k: mt.init.xavier_uniform_(x, **k), lambda x, **k: mt.init.xavier_normal_(x, **k),
    lambda x, **k: mt.init.kaiming_uniform_(x, **k), lambda x, **k: mt.init.kaiming_normal_(x, **k),
    lambda x, **k: mt.init.trunc_normal_(x, 0.5, 2.0, -1.0, 3.0, **k),
    lambda x, **k: mt.init.orthogonal_(x, **k), lambda x, **k: mt.init.sparse_(x, 0.5, **k),
], ids=["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
        "trunc_normal", "orthogonal", "sparse"])
def test_generator_argument_draws_from_it_and_leaves_the_library_stream_alone(fill):
    """torch's init functions take generator=; ours a NumPy Generator (the same law as manual_seed's).
    The library's stream gives the same fill after the same seed, and another one after it."""
    mt.manual_seed(5)
    expected = fill(np.zeros((4, 3), np.float32))
    mt.manual_seed(5)
    np.testing.assert_array_equal(fill(np.zeros((4, 3), np.float32)), expected)
    assert not np.array_equal(fill(np.zeros((4, 3), np.float32)), expected)
    mt.manual_seed(11)
    untouched = mt.random.generator().bit_generator.state
    got = fill(np.zeros((4, 3), np.float32), generator=np.random.default_rng(5))
    np.testing.assert_array_equal(got, expected)
    assert mt.random.generator().bit_generator.state == untouched
    with pytest.raises(TypeError, match="expected generator=None or a NumPy Generator"):
        fill(np.zeros((4, 3)), generator=torch.Generator().manual_seed(0))
