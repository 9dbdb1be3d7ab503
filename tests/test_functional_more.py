"""minitorch.functional's forms of the activations, pad and rms_norm, called as a PyTorch user calls
torch.nn.functional's: the same arguments and defaults, the same output and dtype (float32 and
float64, 0-D and empty arrays, kinks, +-inf and nan), and an error wherever torch refuses.
Oracle: torch 2.13's functions on the same arrays."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch import functional

grid = settings(max_examples=25, deadline=None)
shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from([np.float32, np.float64])
SPECIAL = np.array([0.0, -0.0, 3.0, -3.0, 6.0, 0.5, -0.5, 1.0, -1.0, 20.0, -1e4, 1e4,
                    np.inf, -np.inf, np.nan])

# name: (a strategy of torch's keyword arguments, whether it takes inplace)
ELEMENTWISE = {
    "relu": (st.just({}), True),
    "relu6": (st.just({}), True),
    "hardtanh": (st.tuples(st.floats(-3, 3), st.floats(0, 3)).map(
        lambda t: {"min_val": t[0], "max_val": t[0] + t[1]}), True),
    "leaky_relu": (st.fixed_dictionaries({"negative_slope": st.floats(-1, 1)}), True),
    "threshold": (st.fixed_dictionaries({"threshold": st.sampled_from([0.0, 0.5, -3.0, 1.7]),
                                         "value": st.floats(-5, 5)}), True),
    "hardsigmoid": (st.just({}), True),
    "hardswish": (st.just({}), True),
    "softshrink": (st.fixed_dictionaries({"lambd": st.sampled_from([0.0, 0.5, 1.0, 3.0])}), False),
    "hardshrink": (st.fixed_dictionaries({"lambd": st.sampled_from([-1.0, 0.0, 0.5, 3.0])}), False),
    "elu": (st.fixed_dictionaries({"alpha": st.floats(-2, 2)}), True),
    "selu": (st.just({}), True),
    "celu": (st.fixed_dictionaries({"alpha": st.floats(0.1, 2) | st.floats(-2, -0.1)}), True),
    "softplus": (st.fixed_dictionaries({"beta": st.sampled_from([1.0, 0.5, 2.0, -1.0]),
                                        "threshold": st.sampled_from([20.0, 1.0, -2.0])}), False),
    "silu": (st.just({}), True),
    "mish": (st.just({}), True),
    "softsign": (st.just({}), False),
    "tanhshrink": (st.just({}), False),
    "logsigmoid": (st.just({}), False),
    "sigmoid": (st.just({}), False),
    "tanh": (st.just({}), False),
}


def _x(shape: tuple[int, ...], dtype: type, seed: int) -> np.ndarray:
    """Random values with torch's kinks and +-inf/nan mixed in."""
    rng = np.random.default_rng(seed)
    x = np.array(rng.standard_normal(shape) * 4, ndmin=0)
    pick = rng.random(shape) < 0.4
    x[pick] = rng.choice(SPECIAL, size=int(pick.sum()))
    return np.asarray(x, dtype)


def _close(ours: np.ndarray, expected: torch.Tensor, dtype: type) -> None:
    expected = expected.numpy()
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    rtol, atol = (2e-6, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=atol, equal_nan=True)


@grid
@given(name=st.sampled_from(sorted(ELEMENTWISE)), shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16),
       inplace=st.booleans(), data=st.data())
def test_elementwise_functions_match_torch(name, shape, dtype, seed, inplace, data):
    """Every option, 0-D and empty inputs, the kinks, +-inf and nan; inplace=True writes into the
    input and returns it, as torch's."""
    options, takes_inplace = ELEMENTWISE[name]
    kwargs = data.draw(options)
    x = _x(shape, dtype, seed)
    expected = getattr(F, name)(torch.tensor(x), **kwargs)
    _close(getattr(functional, name)(x.copy(), **kwargs), expected, dtype)
    if takes_inplace and inplace:
        mine, theirs = x.copy(), torch.tensor(x)
        out = getattr(functional, name)(mine, **kwargs, inplace=True)
        getattr(F, name)(theirs, **kwargs, inplace=True)
        assert out is mine
        _close(mine, theirs, dtype)


KINKS = [  # (name, torch's keyword arguments): every kink of each function, its options at the kinks
    ("hardshrink", {"lambd": 0.5}), ("hardshrink", {"lambd": 0.0}), ("softshrink", {"lambd": 0.5}),
    ("softshrink", {"lambd": 0.0}), ("threshold", {"threshold": 0.5, "value": -2.0}),
    ("threshold", {"threshold": -3.0, "value": 7.0}), ("hardtanh", {"min_val": -0.5, "max_val": 3.0}),
    ("hardtanh", {"min_val": 0.5, "max_val": 0.5}), ("relu6", {}), ("relu", {}), ("hardsigmoid", {}),
    ("hardswish", {}), ("leaky_relu", {"negative_slope": -0.5}), ("elu", {"alpha": 0.5}),
    ("celu", {"alpha": -0.5}), ("selu", {}), ("softplus", {"beta": 2.0, "threshold": 1.0}),
    ("softplus", {"beta": -1.0, "threshold": 3.0}),
]


@pytest.mark.parametrize("name, kwargs", KINKS, ids=[f"{n}{list(k.values())}" for n, k in KINKS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_function_at_its_kinks_and_their_neighbours_matches_torch(name, kwargs, dtype):
    """x exactly at each kink (+-lambd, threshold, the clip bounds, +-3, 6, 0, threshold / beta) and one
    step of the dtype to either side: which side of each comparison a kink falls on is torch's."""
    kinks = np.array([0.0, 0.5, -0.5, 3.0, -3.0, 6.0, 1.0, -1.0, 0.25, 0.5 / 2.0, -3.0, 1.5], dtype)
    x = np.concatenate([kinks, np.nextafter(kinks, np.inf), np.nextafter(kinks, -np.inf)]).astype(dtype)
    expected = getattr(F, name)(torch.tensor(x), **kwargs)
    _close(getattr(functional, name)(x.copy(), **kwargs), expected, dtype)
    if name not in ("softshrink", "hardshrink", "softplus"):
        mine = x.copy()
        assert getattr(functional, name)(mine, **kwargs, inplace=True) is mine
        _close(mine, expected, dtype)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(ELEMENTWISE)), kind=st.sampled_from(["int64", "int32", "bool"]),
       data=st.data())
def test_integer_and_bool_inputs_are_kept_promoted_or_refused_as_torch(name, kind, data):
    """relu, relu6, hardtanh, threshold keep an integer dtype; sigmoid, tanh (bool too), softsign and
    tanhshrink compute in the default dtype (float32, torch's); the rest refuse, as torch."""
    kwargs = data.draw(ELEMENTWISE[name][0])
    x = np.array([3, -2, 0, 1, 7, -5]).astype(kind)
    try:
        expected = getattr(F, name)(torch.from_numpy(x), **kwargs)
    except (RuntimeError, NotImplementedError, TypeError):
        with pytest.raises(TypeError, match=rf"{name}: expected a floating array .*got (integer|bool) dtype"):
            getattr(functional, name)(x, **kwargs)
        return
    ours = getattr(functional, name)(x, **kwargs)
    assert ours.dtype == expected.numpy().dtype
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name, kwargs, error, message", [
    ("celu", {"alpha": 0.0}, ValueError, "celu: alpha cannot be 0"),
    ("softshrink", {"lambd": -0.5}, ValueError, r"softshrink: lambd must be a number in \[0"),
    ("hardtanh", {"min_val": 1.0, "max_val": 0.5}, ValueError,
     "hardtanh: min_val cannot be greater than max_val"),
    ("leaky_relu", {"negative_slope": "a"}, TypeError, "leaky_relu: negative_slope must be a number"),
    ("elu", {"alpha": None}, TypeError, "elu: alpha must be a number"),
    ("threshold", {"threshold": 0.0, "value": "x"}, TypeError, "threshold: value must be a number"),
    ("softplus", {"beta": [1.0]}, TypeError, "softplus: beta must be a number"),
])
def test_arguments_torch_refuses_are_refused_naming_the_function(name, kwargs, error, message):
    x = np.array([-1.0, 0.0, 2.0])
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        getattr(F, name)(torch.tensor(x), **kwargs)
    with pytest.raises(error, match=message):
        getattr(functional, name)(x, **kwargs)


@pytest.mark.parametrize("name", [n for n, (_, takes) in sorted(ELEMENTWISE.items()) if takes])
def test_inplace_needs_a_writable_array_of_the_results_dtype(name):
    """torch writes into the tensor it is given; a list, a read-only array or an integer array whose
    result is of another dtype has nowhere to take the result: a TypeError naming the fix."""
    frozen = np.array([-1.0, 0.5, 2.0])
    frozen.flags.writeable = False
    kwargs = {"threshold": 0.0, "value": 1.0} if name == "threshold" else {}
    for x, got in (([-1.0, 0.5, 2.0], "got list"), (frozen, "got a read-only array")):
        with pytest.raises(TypeError, match=rf"{name}: inplace=True writes the result into the input.*{got}"):
            getattr(functional, name)(x, **kwargs, inplace=True)
    assert functional.relu([-1.0, 2.0]).tolist() == [0.0, 2.0]  # inplace=False takes any array-like


# --- softmin and glu -------------------------------------------------------------------------------
@grid
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**16),
       dtype=dtypes, cast=st.sampled_from([None, np.float32, np.float64]), data=st.data())
def test_softmin_matches_torch(shape, seed, dtype, cast, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = (np.random.default_rng(seed).standard_normal(shape) * 10).astype(dtype)
    torch_dtype = None if cast is None else torch.from_numpy(np.zeros(0, cast)).dtype
    expected = F.softmin(torch.tensor(x), dim=dim, dtype=torch_dtype)
    _close(functional.softmin(x, dim=dim, dtype=cast), expected, cast or dtype)
    _close(functional.softmin(x, dim), expected, cast or dtype) if cast is None else None


def test_softmin_refuses_what_softmax_refuses():
    with pytest.raises(ValueError, match="softmin: no axis given, and the input is 3-D"):
        functional.softmin(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="softmin: expected a floating array"):
        functional.softmin(np.arange(3), 0)  # torch: "not implemented for 'Long'"
    np.testing.assert_allclose(functional.softmin(np.arange(3), 0, dtype=np.float64),
                               F.softmin(torch.arange(3), 0, dtype=torch.float64).numpy(), rtol=1e-12)


@grid
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**16),
       dtype=dtypes, data=st.data())
def test_glu_matches_torch_or_is_refused_as_torch(shape, seed, dtype, data):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x = _x(shape, dtype, seed)
    try:
        expected = F.glu(torch.tensor(x), dim)
    except (RuntimeError, IndexError):
        with pytest.raises(ValueError, match=r"glu(\(dim=-?\d+\))?: expected"):
            functional.glu(x, dim)
        return
    _close(functional.glu(x, dim), expected, dtype)


def test_glu_refuses_a_0d_input_and_integers():
    with pytest.raises(ValueError, match="glu: expected an input of at least 1 dim"):
        functional.glu(np.float64(1.0))
    with pytest.raises(TypeError, match="glu: expected a floating array"):
        functional.glu(np.arange(4))


# --- the layers take their y from the functions ---------------------------------------------------
LAYERS = [
    (lambda: mt.ReLU6(), "relu6", {}), (lambda: mt.Hardsigmoid(), "hardsigmoid", {}),
    (lambda: mt.Hardswish(), "hardswish", {}), (lambda: mt.Threshold(0.5, -2.0), "threshold",
                                                   {"threshold": 0.5, "value": -2.0}),
    (lambda: mt.Softshrink(0.7), "softshrink", {"lambd": 0.7}), (lambda: mt.Hardshrink(), "hardshrink", {}),
    (lambda: mt.SELU(), "selu", {}), (lambda: mt.CELU(0.3), "celu", {"alpha": 0.3}),
    (lambda: mt.Softsign(), "softsign", {}), (lambda: mt.Tanhshrink(), "tanhshrink", {}),
    (lambda: mt.LogSigmoid(), "logsigmoid", {}), (lambda: mt.SiLU(), "silu", {}),
    (lambda: mt.Mish(), "mish", {}),
    (lambda: mt.Softplus(2.0, 3.0), "softplus", {"beta": 2.0, "threshold": 3.0}),
    (lambda: mt.Hardtanh(-2.0, 0.5), "hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    (lambda: mt.LeakyReLU(0.2), "leaky_relu", {"negative_slope": 0.2}),
    (lambda: mt.ELU(0.5), "elu", {"alpha": 0.5}),
    (lambda: mt.ReLU(), "relu", {}), (lambda: mt.Tanh(), "tanh", {}), (lambda: mt.Sigmoid(), "sigmoid", {}),
    (lambda: mt.GLU(), "glu", {}), (lambda: mt.Softmin(dim=-1), "softmin", {"dim": -1}),
]


@pytest.mark.parametrize("factory, name, kwargs", LAYERS, ids=[name for _, name, _ in LAYERS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_layer_gives_its_functions_output_bit_for_bit(factory, name, kwargs, dtype):
    x = _x((3, 4), dtype, 7)
    y = factory()(x)
    expected = getattr(functional, name)(x, **kwargs)
    assert y.dtype == expected.dtype and y.tobytes() == expected.tobytes()


# --- pad --------------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       shape=st.lists(st.integers(0, 3), min_size=0, max_size=5).map(tuple),
       pads=st.lists(st.integers(-4, 4), min_size=0, max_size=8).map(tuple),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       value=st.sampled_from([None, 0.0, 2.5, -1.5]), seed=st.integers(0, 2**16))
def test_pad_matches_torch_or_refuses_what_torch_refuses(mode, shape, pads, dtype, value, seed):
    """Every mode, pad lengths 0..8 on 0-D to 5-D inputs, negative pads (crops), empty axes, a fill
    value (or one where a mode takes none), integer inputs. Where torch's circular pad reads memory it
    does not own (a crop leaving fewer elements than a side pads: garbage values), pad refuses."""
    x = (np.random.default_rng(seed).standard_normal(shape) * 5).astype(dtype)
    try:
        expected = F.pad(torch.tensor(x), pads, mode=mode, value=value).numpy()
    except (RuntimeError, NotImplementedError, ValueError):
        with pytest.raises(ValueError, match="pad: "):
            functional.pad(x, pads, mode, value)
        return
    k = len(pads) // 2
    wraps_twice = mode == "circular" and expected.size > 0 and any(  # (an empty y: torch's, nothing read)
        max(pads[2 * a], pads[2 * a + 1]) > shape[-1 - a] - max(-pads[2 * a], 0) - max(-pads[2 * a + 1], 0)
        for a in range(k))
    if wraps_twice:
        with pytest.raises(ValueError, match=r"pad: padding .* (wraps around|crops more than axis)"):
            functional.pad(x, pads, mode, value)
        return
    ours = functional.pad(x, pads, mode, value)
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


CIRCULAR_OF_NOTHING = [  # (shape, pads, torch's y shape, or None where torch refuses)
    ((0, 2), (1, -3), (0, 0)),                   # a crop past the axis, then a wrap (hypothesis's case)
    ((2, 0, 3), (-1, 3), (2, 0, 5)),             # a wrap past the crop
    ((0, 2, 3), (3, -2), (0, 2, 4)),
    ((0, 1, 2, 3), (-1, 3, 2, -1), (0, 1, 3, 5)),
    ((1, 2, 2), (1, -3), (1, 2, 0)),             # x has elements, y none
    ((1, 1, 2), (-3, 1), (1, 1, 0)),
    ((0, 3), (-4, 3), None),                     # torch: its kept slice (1) cannot fill y's (0)
    ((0, 3), (1, -4), None),                     # torch: its kept slice (2) cannot fill y's (0)
    ((0, 1, 2, 3), (2, -4, 1, -3), None),
    ((2, 0), (0, 1), None),                      # an empty padded axis: nothing to wrap
]


@pytest.mark.parametrize("batch", [0, 1])
def test_circular_pad_of_nothing_over_every_pair_of_sides_matches_torch(batch):
    """Every (left, right) in -6..6 on an axis of 0..4 of x (batch, L): where x or y has no
    elements, ours takes and refuses exactly what torch does (y empty); where y has elements, torch's
    values wherever torch checks what it reads (else ours refuses: the other tests)."""
    for L, left, right in itertools.product(range(5), range(-6, 7), range(-6, 7)):
        x = np.arange(batch * L, dtype=np.float64).reshape(batch, L)
        try:
            expected = F.pad(torch.from_numpy(x), (left, right), mode="circular").numpy()
        except RuntimeError:
            expected = None
        if expected is not None and expected.size and max(left, right) > L - max(-left, 0) - max(-right, 0):
            continue  # torch reads what it never wrote: garbage values
        if expected is None:
            with pytest.raises(ValueError, match="pad: "):
                functional.pad(x, (left, right), "circular")
            continue
        np.testing.assert_array_equal(functional.pad(x, (left, right), "circular"), expected,
                                      err_msg=str((L, left, right)))
        assert functional.pad(x, (left, right), "circular").shape == expected.shape, (L, left, right)


@pytest.mark.parametrize("shape, pads, y_shape", CIRCULAR_OF_NOTHING, ids=str)
def test_circular_pad_where_nothing_is_read_takes_what_torch_takes(shape, pads, y_shape):
    """x or y without elements: torch's circular pad checks each side against the uncropped axis and
    its slice copies' shapes, not what the crops leave, and returns an empty y (nothing is read).
    Before, pad refused each crop past the axis and wrap past the crop here, as where y holds values."""
    x = np.zeros(shape, np.float32)
    if y_shape is None:
        with pytest.raises(RuntimeError):
            F.pad(torch.tensor(x), pads, mode="circular")
        with pytest.raises(ValueError, match=r"^pad: (padding .* crops more than axis|axis 1 .* no element)"):
            functional.pad(x, pads, "circular")
        return
    expected = F.pad(torch.tensor(x), pads, mode="circular").numpy()
    y = functional.pad(x, pads, "circular")
    assert expected.shape == y_shape and y.shape == y_shape and y.dtype == x.dtype


@pytest.mark.parametrize("pads, mode, value, error, message", [
    ((1,), "constant", None, ValueError, "pad: pad must hold pairs"),
    ((1, 1, 1, 1), "constant", None, ValueError, "pad: pad .* pads 2 axes, but the input has only 1"),
    ((1.0, 1), "constant", None, TypeError, "pad: pad must be a tuple of ints"),
    ((True, 1), "constant", None, TypeError, "pad: pad must be a tuple of ints"),
    (2, "constant", None, TypeError, "pad: pad must be a tuple of ints"),
    ((1, 1), "zeros", None, ValueError, "pad: mode must be one of"),
    ((1, 1), "reflect", 1.0, ValueError, "pad: mode 'reflect' takes no fill value"),
    ((1, 1), "constant", "a", TypeError, "pad: value must be a real number or None"),
])
def test_pad_refuses_bad_arguments_as_torch(pads, mode, value, error, message):
    x = np.zeros((2, 3))
    with pytest.raises((RuntimeError, NotImplementedError, TypeError, ValueError)):
        F.pad(torch.tensor(x[0]) if "only 1" in message else torch.tensor(x), pads, mode=mode, value=value)
    with pytest.raises(error, match=message):
        functional.pad(x[0] if "only 1" in message else x, pads, mode, value)


FILLS = [(np.uint8, -0.5), (np.uint8, 255.5), (np.uint8, 256), (np.uint8, 255), (np.uint8, -2.7),
         (np.int8, -128.9), (np.int8, -128), (np.int32, np.nan), (np.int64, np.inf), (np.int64, 9.3e18),
         (np.float32, 1e300), (np.float32, -3.5e38), (np.float32, np.inf), (np.float32, np.nan),
         (np.float64, 1e300), (np.bool_, 2.5), (np.bool_, np.nan)]


@pytest.mark.parametrize("dtype, value", FILLS, ids=[f"{d.__name__}{v}" for d, v in FILLS])
@pytest.mark.parametrize("shape, pads", [((2,), (1, 1)), ((0,), (2, 0)), ((0, 2), (1, 0)), ((3,), (-1, 0))])
def test_pad_refuses_a_fill_value_its_dtype_cannot_hold_as_torch(dtype, value, shape, pads):
    """torch's "value cannot be converted to type ... without overflow" wherever a position is
    filled (an empty output too); NumPy wrapped -2.7 to 254 in uint8, nan to int64's minimum and
    1e300 to inf in float32."""
    x = np.ones(shape, dtype)
    try:
        expected = F.pad(torch.from_numpy(x), pads, value=value).numpy()
    except RuntimeError as error:
        assert "without overflow" in str(error)
        with pytest.raises(ValueError, match=r"pad: the fill value .* cannot be converted to dtype .* "
                                             r"without overflow"):
            functional.pad(x, pads, value=value)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = functional.pad(x, pads, value=value)
    assert ours.dtype == expected.dtype
    np.testing.assert_array_equal(ours, expected)


def test_constant_pad_layers_refuse_a_fill_their_input_dtype_cannot_hold_as_torch():
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.nn.ConstantPad1d(1, 1e300)(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"ConstantPad1d: the fill value 1e\+300 cannot be converted to "
                                         r"dtype float32"):
        mt.ConstantPad1d(1, 1e300)(np.zeros((1, 2, 2), np.float32))
    np.testing.assert_array_equal(mt.ConstantPad1d(1, 1e300)(np.zeros((1, 1, 1))), [[[1e300, 0.0, 1e300]]])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_over_every_pair_of_sides_of_an_axis_matches_torch(mode):
    """Every (left, right) in -3..3 on the last axis of 3, with a pad and a crop of the axis of 4
    before it: torch's output bit for bit, or a ValueError where torch refuses.
    Circular, where torch is inconsistent: a wrap wider than what its crop leaves (left 1, right -3
    on 3 elements) passes torch's check, made against the uncropped length, and reads memory it never
    wrote; ours refuses it."""
    x = np.arange(24.0).reshape(2, 4, 3)
    for left, right in itertools.product(range(-3, 4), repeat=2):
        pads = (left, right, 2, -1)
        kept = 3 - max(-left, 0) - max(-right, 0)
        try:
            if mode == "circular" and kept >= 0 and max(left, right) > kept:
                raise RuntimeError("torch's unchecked wrap")
            expected = F.pad(torch.from_numpy(x), pads, mode).numpy()
        except (RuntimeError, NotImplementedError, IndexError):
            with pytest.raises(ValueError, match="pad: "):
                functional.pad(x, pads, mode)
            continue
        np.testing.assert_array_equal(functional.pad(x, pads, mode), expected, err_msg=str(pads))


def test_pad_keeps_bool_in_constant_mode_and_its_docstring_examples():
    x = np.array([True, False])
    assert functional.pad(x, (1, 1), value=1.0).tolist() == F.pad(torch.tensor(x), (1, 1), value=1.0).tolist()
    assert functional.pad(np.arange(3.0), (1, 2)).tolist() == [0, 0, 1, 2, 0, 0]
    y = functional.pad(np.arange(6.0).reshape(1, 2, 3), (1, 1), "reflect")
    assert y.tolist() == [[[1, 0, 1, 2, 1], [4, 3, 4, 5, 4]]]


# --- rms_norm and RMSNorm's dtypes -------------------------------------------------------------------
@grid
@given(lead=st.lists(st.integers(0, 3), min_size=0, max_size=2).map(tuple),
       norm=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple), seed=st.integers(0, 2**16),
       x_dtype=dtypes, w_dtype=st.sampled_from([None, np.float32, np.float64]),
       eps=st.sampled_from([None, 1e-5, 0.5]), as_list=st.booleans())
def test_rms_norm_matches_torch_with_mixed_dtypes(lead, norm, seed, x_dtype, w_dtype, eps, as_list):
    """y has x's dtype, x_hat is computed in it, whatever the weight's (torch's rule)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(lead + norm) * 3).astype(x_dtype)
    w = None if w_dtype is None else rng.standard_normal(norm).astype(w_dtype)
    shape = list(norm) if as_list else norm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "Mismatch dtype between input and weight"
        expected = F.rms_norm(torch.tensor(x), shape, None if w is None else torch.tensor(w), eps)
    _close(functional.rms_norm(x, shape, w, eps), expected, x_dtype)


@pytest.mark.parametrize("args, error, message", [
    (((3,),), TypeError, None),  # int x below
    ((3,), TypeError, "rms_norm: normalized_shape must be a tuple of ints"),
    (((2,),), ValueError, r"rms_norm: normalized_shape=\(2,\) expects input \(\*, 2\)"),
    (((3,), np.ones(2)), ValueError, "rms_norm: expected a floating weight of the shape"),
])
def test_rms_norm_refuses_what_torch_refuses(args, error, message):
    x = np.ones((2, 3), np.int64 if message is None else np.float64)
    with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
        F.rms_norm(torch.tensor(x), *[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    with pytest.raises(error, match=message or "rms_norm: expected a floating array"):
        functional.rms_norm(x, *args)


@pytest.mark.parametrize("x_dtype, w_dtype", [(np.float64, np.float32), (np.float32, np.float64)])
@pytest.mark.parametrize("affine", [True, False])
def test_rmsnorm_layer_computes_in_the_inputs_dtype_as_torch(x_dtype, w_dtype, affine):
    """torch's RMSNorm given data of another dtype than its weight: y and dx in the data's dtype, the
    weight's gradient in its own. Before, MiniTorch cast the data to the weight's dtype: a float32
    RMSNorm returned float32 for float64 data, where torch returns float64."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(x_dtype)
    dy = rng.standard_normal((2, 3, 4)).astype(x_dtype)
    ours = mt.RMSNorm((3, 4), elementwise_affine=affine, dtype=w_dtype)
    torch_dtype = torch.from_numpy(np.zeros(0, w_dtype)).dtype
    theirs = torch.nn.RMSNorm((3, 4), elementwise_affine=affine, dtype=torch_dtype)
    if affine:
        w = rng.standard_normal((3, 4)).astype(w_dtype)
        ours.weight.data[...] = w
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
    x_t = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "Mismatch dtype between input and weight"
        y_t = theirs(x_t)
    y_t.backward(torch.tensor(dy))
    y, dx = ours(x), ours.backward(dy)
    _close(y, y_t.detach(), x_dtype)
    _close(dx, x_t.grad, x_dtype)
    if affine:
        _close(ours.weight.grad, theirs.weight.grad, w_dtype)


# --- the public names -------------------------------------------------------------------------------
def test_every_torch_name_in_functional_all_is_torchs():
    torch_names = [n for n in functional.__all__ if hasattr(F, n)]
    assert len(torch_names) == 28 and all(callable(getattr(functional, n)) for n in functional.__all__)


TORCH_LAYERS = {
    "relu6": torch.nn.ReLU6(), "hardsigmoid": torch.nn.Hardsigmoid(), "hardswish": torch.nn.Hardswish(),
    "threshold": torch.nn.Threshold(0.5, -2.0), "softshrink": torch.nn.Softshrink(0.7),
    "hardshrink": torch.nn.Hardshrink(), "selu": torch.nn.SELU(), "celu": torch.nn.CELU(0.3),
    "softsign": torch.nn.Softsign(), "tanhshrink": torch.nn.Tanhshrink(), "logsigmoid": torch.nn.LogSigmoid(),
    "silu": torch.nn.SiLU(), "mish": torch.nn.Mish(), "softplus": torch.nn.Softplus(2.0, 3.0),
    "hardtanh": torch.nn.Hardtanh(-2.0, 0.5), "leaky_relu": torch.nn.LeakyReLU(0.2), "elu": torch.nn.ELU(0.5),
    "relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(), "glu": torch.nn.GLU(),
    "softmin": torch.nn.Softmin(-1),
}


EXTRA = [(lambda: mt.CELU(-0.5), "celu", {"alpha": -0.5}), (lambda: mt.LeakyReLU(0.0), "leaky_relu",
                                                              {"negative_slope": 0.0})]


@pytest.mark.parametrize("factory, name, kwargs", LAYERS + EXTRA,
                         ids=[name for _, name, _ in LAYERS] + ["celu-negative-alpha", "leaky_relu-slope-0"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_inputs_give_torchs_values_without_a_numpy_warning(factory, name, kwargs, dtype):
    """x = +-inf (and huge values): torch's y and dx, silently as torch (the suite turns warnings into
    errors). Before, Hardswish, Softsign, SiLU, Mish, GLU, Softmin, CELU(alpha < 0) and LeakyReLU(0)
    warned ("invalid value encountered in multiply" / "overflow encountered in exp") on their way to
    torch's nan or inf."""
    x = np.array([[-np.inf, np.inf, -1e4, 1e4], [0.0, 1.0, -np.inf, np.inf]], dtype)
    module = factory()
    theirs = {"celu-0.5": torch.nn.CELU(-0.5), "leaky_relu0.0": torch.nn.LeakyReLU(0.0)}.get(
        f"{name}{next(iter(kwargs.values()), '')}", TORCH_LAYERS[name])
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    dy = np.full(y_t.shape, 0.3, dtype)
    y_t.backward(torch.tensor(dy))
    y = module(x)
    dx = module.backward(dy)
    _close(y, y_t.detach(), dtype)
    _close(dx, x_t.grad, dtype)
    _close(getattr(functional, name)(x, **kwargs), y_t.detach(), dtype)


HUGE = [(lambda: mt.LeakyReLU(2.0), torch.nn.LeakyReLU(2.0), "leaky_relu", {"negative_slope": 2.0}),
        (lambda: mt.Softplus(2.0, -2.0), torch.nn.Softplus(2.0, -2.0), "softplus",
         {"beta": 2.0, "threshold": -2.0})]


@pytest.mark.parametrize("factory, theirs, name, kwargs",
                         [(f, TORCH_LAYERS[n], n, kw) for f, n, kw in LAYERS] + HUGE,
                         ids=[n for _, n, _ in LAYERS] + ["leaky_relu-slope-2", "softplus-beta-2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_finite_inputs_give_torchs_values_without_a_numpy_warning(factory, theirs, name, kwargs, dtype):
    """x = +-the dtype's max, its half, subnormals, +-0: torch's y and dx, silently as torch (the suite
    turns warnings into errors). Before, Hardswish, Softmin, Softsign's slope, LeakyReLU(2) and
    Softplus(beta=2) warned "overflow encountered" on their way to torch's +-inf or 0."""
    big, tiny = np.finfo(dtype).max, np.finfo(dtype).tiny / 4
    x = np.array([[big, -big, big / 2, -big / 2, tiny, -tiny, -0.0, 0.0],
                  [1e30, -1e30, 3.0, -3.0, 20.0, -20.0, 1.0, -1.0]], dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    dy = np.full(y_t.shape, 0.3, dtype)
    y_t.backward(torch.tensor(dy))
    module = factory()
    y = module(x)
    dx = module.backward(dy)
    _close(y, y_t.detach(), dtype)
    _close(dx, x_t.grad, dtype)
    _close(getattr(functional, name)(x, **kwargs), y_t.detach(), dtype)


PAD_LAYERS = [("ConstantPad1d", ((1, 2), 2.5)), ("ZeroPad2d", ((1, 0, 2, 1),)),
              ("ConstantPad2d", ((0, 0, 1, 1), -1.0)), ("CircularPad1d", ((-2, -1),)),
              ("CircularPad2d", ((0, 0, -2, 0),)), ("ReflectionPad1d", ((1, 1),)),
              ("ReplicationPad2d", ((1, 1, 0, 0),)), ("CircularPad1d", ((1, 1),))]


@pytest.mark.parametrize("name, args", PAD_LAYERS, ids=[f"{n}{a[0]}" for n, a in PAD_LAYERS])
@pytest.mark.parametrize("shape", [(1, 2, 0), (2, 0, 3), (0, 2, 3), (1, 2, 3), (1, 1, 2, 3)])
def test_padding_layers_take_torchs_empty_axes_and_crops(name, args, shape):
    """The layers check as F.pad (``functional_pad.pad_maps``): an axis of size 0 padded with a
    constant is all fill (before: an IndexError from np.take); a circular crop leaving 0 elements
    gives an empty axis (before: refused); reflection / replication of an input with an empty
    channel axis is refused (before: an empty result where torch raises)."""
    module, theirs = getattr(mt, name)(*args), getattr(torch.nn, name)(*args)
    x = np.arange(float(np.prod(shape)), dtype=np.float32).reshape(shape)
    x_t = torch.tensor(x, requires_grad=True)
    try:
        y_t = theirs(x_t)
    except (RuntimeError, NotImplementedError, ValueError):
        with pytest.raises(ValueError, match=name):
            module(x)
        return
    y_t.backward(torch.ones_like(y_t))
    y = module(x)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    np.testing.assert_array_equal(module.backward(np.ones_like(y)), x_t.grad.numpy())
