"""Clipping as torch 2.13: clip_grad_norm_ takes every order torch.linalg.vector_norm takes (0, -inf,
negative and fractional ones) over all gradients; get_total_norm and clip_grads_with_norm_ are its
two halves, as torch's; clip_grad_value_ clamps as torch's, clip_value = inf included."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

ORDERS = [0, 0.0, 1, 2.0, 3, 0.5, math.inf, -math.inf, -1.0, -0.5, "inf", "-inf"]
KINDS = ["normal", "normal", "sparse", "zero", "none"]     # sparse: about half its elements are 0
DTYPES = [(np.float64, 1e-12), (np.float32, 2e-6)]


def build(kinds, shapes, dtype, scale, seed, nonfinite=None):
    """MiniTorch Parameters and torch tensors with the same gradients (None for kind "none")."""
    rng = np.random.default_rng(seed)
    params, tensors = [], []
    for kind, shape in zip(kinds, shapes, strict=True):
        g = (scale * rng.standard_normal(shape)).astype(dtype)
        if kind == "sparse":
            g[rng.random(shape) < 0.5] = 0
        elif kind == "zero":
            g[...] = 0
        if nonfinite is not None and kind != "none":
            g.flat[0] = nonfinite
        p, t = mt.Parameter(np.zeros(shape, dtype)), torch.zeros(shape, dtype=torch.from_numpy(g).dtype)
        p.grad, t.grad = (None, None) if kind == "none" else (g.copy(), torch.from_numpy(g.copy()))
        params.append(p)
        tensors.append(t)
    return params, tensors


def assert_same_number(ours: np.floating, theirs: torch.Tensor, rtol: float) -> None:
    """The same total norm, as a NumPy scalar of torch's 0-d tensor's dtype."""
    assert isinstance(ours, np.floating) and str(theirs.dtype) == f"torch.{ours.dtype.name}", (ours, theirs)
    theirs, ours = theirs.item(), float(ours)
    assert (math.isnan(ours) and math.isnan(theirs)) or math.isclose(ours, theirs, rel_tol=rtol), \
        (ours, theirs)


def assert_same_grads(params, tensors, rtol: float) -> None:
    for p, t in zip(params, tensors, strict=True):
        if t.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == t.grad.numpy().dtype
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("name", ["clip_grad_norm_", "get_total_norm", "clip_grads_with_norm_",
                                  "clip_grad_value_"])
def test_signature_is_torchs(name):
    """Same parameter names, order and defaults as torch.nn.utils', so keyword calls written for torch
    (``clip_grad_norm_(parameters=model.parameters(), max_norm=1.0)``) work unchanged."""
    ours, theirs = inspect.signature(getattr(mt, name)), inspect.signature(getattr(torch.nn.utils, name))
    assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
        [(p.name, p.default, p.kind) for p in theirs.parameters.values()]


def test_nonfinite_norm_is_returned_by_default_as_torch():
    """error_if_nonfinite defaults to False everywhere: a NaN or inf total norm is returned."""
    assert math.isnan(mt.get_total_norm([np.array([1.0, np.nan])]))
    assert math.isnan(torch.nn.utils.get_total_norm([torch.tensor([1.0, math.nan])]).item())
    p = mt.Parameter(np.zeros(2))
    p.grad = np.array([np.inf, 1.0])
    assert mt.clip_grad_norm_([p], 1.0) == math.inf


@st.composite
def gradient_sets(draw):
    k = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=k, max_size=k))
    shapes = draw(st.lists(st.sampled_from([(3,), (2, 4), (5, 1), (1,)]), min_size=k, max_size=k))
    return kinds, shapes


@settings(max_examples=150, deadline=None)
@given(spec=gradient_sets(), norm_type=st.sampled_from(ORDERS),
       max_norm=st.sampled_from([1e-3, 0.1, 0.5, 2.0, 1e3, math.inf]), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1e-2, 1.0, 30.0]), seed=st.integers(0, 10_000))
def test_clip_grad_norm_matches_torch_for_every_order(spec, norm_type, max_norm, dtype, scale, seed):
    """Order 0 counts the gradients with a nonzero element (a norm of norms: torch's), -inf is the
    smallest |g| anywhere, a negative order is 0 once any element is 0; None gradients stay None."""
    (kinds, shapes), (dtype, rtol) = spec, dtype
    params, tensors = build(kinds, shapes, dtype, scale, seed)
    total = mt.clip_grad_norm_(params, max_norm, norm_type)
    assert_same_number(total, torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type), rtol)
    assert_same_grads(params, tensors, rtol)


def test_order_zero_and_minus_inf_by_hand():
    """[1, 0, 3], [0, 0], [2, -4]: two gradients have a nonzero element; the smallest |g| is 0."""
    params, _ = build(["normal", "zero", "normal"], [(3,), (2,), (2,)], np.float64, 1.0, 0)
    params[0].grad[:], params[2].grad[:] = [1.0, 0.0, 3.0], [2.0, -4.0]
    assert mt.clip_grad_norm_(params, 1.0, 0) == 2.0
    np.testing.assert_allclose(params[0].grad, np.array([1.0, 0.0, 3.0]) / (2 + 1e-6), rtol=1e-15)
    params[0].grad[:] = [1.0, -0.5, 3.0]
    params[1].grad = None
    assert mt.clip_grad_norm_(params, 0.1, -math.inf) == 0.5        # min |g| over all gradients
    np.testing.assert_allclose(params[2].grad, np.array([2.0, -4.0]) / (2 + 1e-6) * 0.1 / (0.5 + 1e-6))


@pytest.mark.parametrize("norm_type", [0, -math.inf, -2.0, 2.0, math.inf], ids=str)
@pytest.mark.parametrize("nonfinite", [math.nan, math.inf], ids=["nan", "inf"])
def test_nonfinite_gradients_as_torch(norm_type, nonfinite):
    """NaN counts as nonzero for order 0; -inf and negative orders look past an inf element."""
    kinds, shapes = ["normal", "normal"], [(3,), (2, 2)]
    params, tensors = build(kinds, shapes, np.float64, 1.0, 3, nonfinite)
    total = mt.clip_grad_norm_(params, 1.0, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(tensors, 1.0, norm_type)
    assert_same_number(total, theirs, 1e-12)
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, equal_nan=True)
    params, tensors = build(kinds, shapes, np.float64, 1.0, 3, nonfinite)
    finite = math.isfinite(theirs.item())
    if not finite:
        with pytest.raises(RuntimeError):
            torch.nn.utils.clip_grad_norm_(tensors, 1.0, norm_type, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm of order .* not finite"):
            mt.clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)
    else:
        torch.nn.utils.clip_grad_norm_(tensors, 1.0, norm_type, error_if_nonfinite=True)
        mt.clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)


@pytest.mark.parametrize("norm_type", [0, 1.0, 2.0, 0.5, math.inf, -math.inf, -1.0], ids=str)
def test_mixed_dtypes_as_torch(norm_type):
    """float32 and float64 gradients: total_norm in float64, each gradient scaled in its own dtype."""
    params, tensors = build(["normal", "sparse"], [(4,), (3, 2)], np.float64, 5.0, 8)
    params[0].data = params[0].data.astype(np.float32)  # (first: a grad takes its Parameter's dtype)
    params[0].grad = params[0].grad.astype(np.float32)
    tensors[0] = torch.zeros(4)
    tensors[0].grad = torch.from_numpy(params[0].grad.copy())
    total = mt.clip_grad_norm_(params, 0.5, norm_type)
    assert_same_number(total, torch.nn.utils.clip_grad_norm_(tensors, 0.5, norm_type), 1e-7)
    assert_same_grads(params, tensors, 2e-7)


# ---- get_total_norm and clip_grads_with_norm_ ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(spec=gradient_sets(), norm_type=st.sampled_from(ORDERS), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 10_000))
def test_get_total_norm_matches_torch(spec, norm_type, dtype, seed):
    (kinds, shapes), (dtype, rtol) = spec, dtype
    params, tensors = build(kinds, shapes, dtype, 2.0, seed)
    arrays = [p.grad for p in params if p.grad is not None]
    theirs = torch.nn.utils.get_total_norm([t.grad for t in tensors if t.grad is not None], norm_type)
    assert_same_number(mt.get_total_norm(arrays, norm_type), theirs, rtol)
    assert all(np.array_equal(p.grad, t.grad.numpy()) for p, t in zip(params, tensors, strict=True)
               if p.grad is not None)                                 # measured, not changed


@settings(max_examples=60, deadline=None)
@given(spec=gradient_sets(), norm_type=st.one_of(st.floats(-3, 6), st.sampled_from([4.0, 4, -2.0, 1.5])),
       seed=st.integers(0, 10_000))
def test_get_total_norm_matches_torch_for_any_real_order(spec, norm_type, seed):
    """Any real order, not only the named ones (2, 1, inf...): (sum |t|**p)**(1/p) for the rest."""
    params, tensors = build(*spec, np.float64, 2.0, seed)
    theirs = torch.nn.utils.get_total_norm([t.grad for t in tensors if t.grad is not None], norm_type)
    assert_same_number(mt.get_total_norm([p.grad for p in params if p.grad is not None], norm_type),
                       theirs, 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16], ids=["f64", "f32", "f16"])
def test_a_single_element_norm_is_its_absolute_value_as_torchs(dtype):
    """torch's vector_norm of one element is |x| for every order but 0, with no power taken: tiny
    orders (|x|**1e-17 rounds to 1), large ones (overflow) and the norm of a single tensor's norm
    (one gradient: the outer norm has one element) are |x| exactly, as torch's."""
    for value in [0.25, -3.0, 0.0, 1e-30, 6e4, math.inf, math.nan]:
        for norm_type in [1e-17, -1e-17, 0.3, 3.0, 40.0, -40.0, 0, 2.0, math.inf, -math.inf]:
            x = np.array([value], dtype)
            theirs = torch.nn.utils.get_total_norm([torch.from_numpy(x)], norm_type).item()
            ours = mt.get_total_norm([x], norm_type)
            assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), (value, norm_type, ours)
    params, tensors = build(["normal"], [(2, 3)], dtype, 2.0, 9)
    for norm_type in [3.0, 0.5, -1.0]:
        theirs = torch.nn.utils.get_total_norm([tensors[0].grad], norm_type).item()
        assert mt.get_total_norm([params[0].grad], norm_type) == theirs, norm_type


def test_get_total_norm_takes_arrays_and_parameters_as_torch_takes_tensors():
    """A Parameter counts as its data (torch's get_total_norm(model.parameters()) is the weights' norm)."""
    model = mt.Linear(4, 3, dtype=np.float64)
    twin = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(model.W.data.T))
        twin.bias.copy_(torch.from_numpy(model.b.data))
    for p in (2.0, 0, -math.inf):
        assert_same_number(mt.get_total_norm(model.parameters(), p),
                           torch.nn.utils.get_total_norm(twin.parameters(), p), 1e-12)
    x = np.array([3.0, -4.0])
    assert mt.get_total_norm(x) == 5.0 == torch.nn.utils.get_total_norm(torch.from_numpy(x)).item()
    assert mt.get_total_norm([]) == 0.0 == torch.nn.utils.get_total_norm([]).item()


@pytest.mark.parametrize("norm_type", ORDERS, ids=str)
def test_zero_size_gradients_are_left_out_for_every_order(norm_type):
    """A zero-size array adds nothing: torch's norm with it (orders it takes on an empty tensor) and
    without it (inf, -inf and p < 0, which torch refuses on an empty tensor) is ours, for
    get_total_norm and for clip_grad_norm_ (whose zero-size gradients stay as they are)."""
    params, tensors = build(["normal", "normal", "sparse", "normal"], [(0,), (3,), (2, 4), (2, 0)],
                            np.float64, 2.0, 5)
    sized = [t for t in tensors if t.numel() > 0]
    theirs = torch.nn.utils.get_total_norm([t.grad for t in sized], norm_type)
    if float(norm_type) >= 0 and math.isfinite(float(norm_type)):
        with_empty = torch.nn.utils.get_total_norm([t.grad for t in tensors], norm_type)
        torch.testing.assert_close(theirs, with_empty)
    assert_same_number(mt.get_total_norm([p.grad for p in params], norm_type), theirs, 1e-12)
    total = mt.clip_grad_norm_(params, 0.5, norm_type)
    assert_same_number(total, torch.nn.utils.clip_grad_norm_(sized, 0.5, norm_type), 1e-12)
    assert_same_grads(params, tensors, 1e-12)


def test_get_total_norm_errors():
    with pytest.raises(RuntimeError, match=r"get_total_norm: the total norm of order 2\.0 is nan"):
        mt.get_total_norm([np.array([1.0, np.nan])], error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.get_total_norm([torch.tensor([1.0, math.nan])], error_if_nonfinite=True)
    for bad in ([None], [np.array([1, 2])], [[1.0, 2.0]]):
        with pytest.raises(TypeError, match="get_total_norm: expected floating arrays or Parameters"):
            mt.get_total_norm(bad)
    with pytest.raises(ValueError, match="get_total_norm: norm_type must be a number"):
        mt.get_total_norm([np.ones(2)], math.nan)


TOTALS = [0.0, 0.5, 3.0, 1e6, math.inf, math.nan]


@pytest.mark.parametrize("total_norm", TOTALS, ids=str)
@pytest.mark.parametrize("max_norm", [0.0, 1.0, math.inf], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16], ids=["f64", "f32", "f16"])
def test_clip_grads_with_norm_equals_torchs_bitwise(total_norm, max_norm, dtype):
    """The factor min(max_norm / (total_norm + 1e-6), 1) is computed in the gradients' dtype, as
    torch computes it in its total_norm tensor's: the clipped gradients are torch's to the bit."""
    params, tensors = build(["normal", "none", "sparse"], [(3, 2), (2,), (5,)], dtype, 3.0, 1)
    assert mt.clip_grads_with_norm_(params, max_norm, total_norm) is None
    t_dtype = tensors[0].grad.dtype
    torch.nn.utils.clip_grads_with_norm_(tensors, max_norm, torch.tensor(total_norm, dtype=t_dtype))
    for p, t in zip(params, tensors, strict=True):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_clip_grad_norm_is_get_total_norm_then_clip_grads_with_norm():
    for norm_type in ORDERS:
        params, _ = build(["normal", "sparse", "none"], [(4,), (2, 3), (1,)], np.float32, 4.0, 2)
        twins, _ = build(["normal", "sparse", "none"], [(4,), (2, 3), (1,)], np.float32, 4.0, 2)
        total = mt.clip_grad_norm_(params, 0.3, norm_type)
        same = mt.get_total_norm([p.grad for p in twins if p.grad is not None], norm_type)
        mt.clip_grads_with_norm_(twins, 0.3, same)
        assert total == same
        for p, q in zip(params, twins, strict=True):
            assert (p.grad is None and q.grad is None) or np.array_equal(p.grad, q.grad)


def test_clip_grads_with_norm_errors():
    params, _ = build(["normal"], [(3,)], np.float64, 1.0, 0)
    with pytest.raises(ValueError, match="clip_grads_with_norm_: total_norm must be a real number"):
        mt.clip_grads_with_norm_(params, 1.0, "2")
    with pytest.raises(ValueError, match=r"clip_grads_with_norm_: max_norm must be a number in \[0, inf\]"):
        mt.clip_grads_with_norm_(params, -1.0, 2.0)
    with pytest.raises(TypeError, match="clip_grads_with_norm_: expected Parameters"):
        mt.clip_grads_with_norm_([np.ones(3)], 1.0, 2.0)


# ---- clip_grad_value_ ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(spec=gradient_sets(), clip_value=st.sampled_from([0.0, 1e-8, 1e-5, 0.5, 3.0, math.inf, "inf"]),
       dtype=st.sampled_from([np.float64, np.float32, np.float16]), seed=st.integers(0, 10_000),
       nonfinite=st.sampled_from([None, math.nan, math.inf, -math.inf]))
def test_clip_grad_value_equals_torchs_bitwise(spec, clip_value, dtype, seed, nonfinite):
    """NaN stays NaN, inf is clamped, clip_value = inf clamps nothing (torch takes it; 0 zeros all)."""
    kinds, shapes = spec
    params, tensors = build(kinds, shapes, dtype, 2.0, seed, nonfinite)
    assert mt.clip_grad_value_(params, clip_value) is None
    if any(t.grad is not None for t in tensors):        # torch fails on a list without gradients
        torch.nn.utils.clip_grad_value_(tensors, float(clip_value))
    for p, t in zip(params, tensors, strict=True):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            assert p.grad.dtype == dtype
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", ["norm", "value"])
def test_a_numpy_scalar_grad_is_clipped_as_torchs_0d_tensor(dtype, clip):
    """``p.grad = p.grad / 2`` makes a 0-D Parameter's grad a NumPy scalar, where torch makes a 0-D
    tensor: the assignment keeps it as a 0-D array, which clipping scales in place as torch's."""
    p, q = mt.Parameter(np.array(1.0, dtype)), mt.Parameter(np.zeros(2, dtype))
    p.grad = np.zeros((), dtype) + dtype(4.0)  # a NumPy scalar, not an array
    q.grad = np.array([3.0, 0.0], dtype)
    assert isinstance(p.grad, np.ndarray) and p.grad.shape == () and p.grad.dtype == dtype
    torch_dtype = torch.from_numpy(q.grad).dtype
    tp, tq = torch.zeros((), dtype=torch_dtype), torch.zeros(2, dtype=torch_dtype)
    tp.grad, tq.grad = torch.tensor(4.0, dtype=torch_dtype), torch.from_numpy(q.grad.copy())
    if clip == "norm":
        norm = mt.clip_grad_norm_([p, q], 1.0)
        assert_same_number(norm, torch.nn.utils.clip_grad_norm_([tp, tq], 1.0), 1e-6)
    else:
        mt.clip_grad_value_([p, q], 0.5)
        torch.nn.utils.clip_grad_value_([tp, tq], 0.5)
    assert isinstance(p.grad, np.ndarray) and p.grad.shape == ()
    assert_same_grads([p, q], [tp, tq], 1e-6)


@pytest.mark.parametrize("grad", [4.0, np.array([1, 2]), [1.0, 2.0]])
def test_a_grad_that_is_no_floating_array_is_refused_at_assignment_as_torch(grad):
    """A Python float or list (torch: "assigned grad expected to be a Tensor or None") or an integer
    array (torch: a gradient of another dtype) is refused when assigned, naming the Parameter's
    shape and dtype and the fix; clipping never meets it."""
    p, t = mt.Parameter(np.zeros(2)), torch.zeros(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises((TypeError, RuntimeError)):
        t.grad = torch.as_tensor(grad) if isinstance(grad, np.ndarray) else grad
    with pytest.raises(TypeError, match=r"^Parameter\.grad: expected None or an np\.ndarray of the "
                                        r"Parameter's shape \(2,\) and dtype float64, got .*; assign "):
        p.grad = grad
    assert p.grad is None
