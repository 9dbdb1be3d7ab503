"""The losses as a PyTorch user drives them by habit: a target of another floating dtype than the
input (torch promotes: a float32 input with float64 targets gives a float64 loss and a float32
gradient), integer targets of a float64 input, and SmoothL1Loss / HuberLoss at the edge of the
float range. Oracle: torch 2.13 on the same arrays; where torch itself refuses the pair (HuberLoss,
BCELoss: "Found dtype Double but expected Float") or answers in the target's dtype
(BCEWithLogitsLoss with float64 logits and float32 targets), torch on the pair promoted to the
wider dtype, which is MiniTorch's rule for every elementwise loss (docs/concepts/math.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

grid = settings(max_examples=60, deadline=None)


def _data(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    if kind == "regression":
        return rng.standard_normal(shape) * 2, rng.standard_normal(shape)
    if kind == "probabilities":  # BCELoss: p in (0, 1), t in [0, 1]
        return rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)
    if kind == "logits-binary":
        return rng.standard_normal(shape) * 3, rng.uniform(0, 1, shape)
    if kind == "log-probs":  # KLDivLoss, log_target=False: t probabilities, some exactly 0
        t = np.where(rng.random(shape) < 0.2, 0, rng.uniform(0, 1, shape))
        return np.log(rng.uniform(0.05, 1, shape)), t
    if kind == "log-probs-log-target":
        return np.log(rng.uniform(0.05, 1, shape)), np.log(rng.uniform(0.05, 1, shape))
    raise AssertionError(kind)


# (id, MiniTorch loss for a reduction, torch function for a reduction, data kind, torch computes the pair)
_W = np.array([0.5, 2.0, 1.0])
ELEMENTWISE = [
    ("MSELoss", lambda r: mt.MSELoss(r), lambda r: lambda x, t: F.mse_loss(x, t, reduction=r), "regression"),
    ("L1Loss", lambda r: mt.L1Loss(r), lambda r: lambda x, t: F.l1_loss(x, t, reduction=r), "regression"),
    ("SmoothL1Loss", lambda r: mt.SmoothL1Loss(r, beta=0.7),
     lambda r: lambda x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.7), "regression"),
    ("SmoothL1Loss-beta0", lambda r: mt.SmoothL1Loss(r, beta=0.0),
     lambda r: lambda x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.0), "regression"),
    ("HuberLoss", lambda r: mt.HuberLoss(r, delta=1.3),
     lambda r: lambda x, t: F.huber_loss(x, t, reduction=r, delta=1.3), "regression"),
    ("BCELoss", lambda r: mt.BCELoss(r), lambda r: lambda x, t: F.binary_cross_entropy(x, t, reduction=r),
     "probabilities"),
    ("BCELoss-weight", lambda r: mt.BCELoss(r, weight=_W),
     lambda r: lambda x, t: F.binary_cross_entropy(x, t, reduction=r,
                                                   weight=torch.tensor(_W).to(x.dtype)),
     "probabilities"),
    ("BCEWithLogitsLoss", lambda r: mt.BCEWithLogitsLoss(r),
     lambda r: lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r), "logits-binary"),
    ("BCEWithLogitsLoss-weights", lambda r: mt.BCEWithLogitsLoss(r, weight=_W, pos_weight=_W[::-1].copy()),
     lambda r: lambda x, t: F.binary_cross_entropy_with_logits(
         x, t, reduction=r, weight=torch.tensor(_W).to(x.dtype),
         pos_weight=torch.tensor(_W[::-1].copy()).to(x.dtype)),
     "logits-binary"),
    ("KLDivLoss", lambda r: mt.KLDivLoss(r), lambda r: lambda x, t: F.kl_div(x, t, reduction=r), "log-probs"),
    ("KLDivLoss-log_target", lambda r: mt.KLDivLoss(r, log_target=True),
     lambda r: lambda x, t: F.kl_div(x, t, reduction=r, log_target=True), "log-probs-log-target"),
]
# the pairs torch itself computes in the promoted dtype (the others: see the module docstring)
_TORCH_PROMOTES = {"MSELoss", "L1Loss", "SmoothL1Loss", "SmoothL1Loss-beta0", "KLDivLoss",
                   "KLDivLoss-log_target"}


def _torch(theirs, x: np.ndarray, t: np.ndarray, dloss: np.ndarray | float):
    """(loss, dx) of torch's function on x and t (as arrays of their own dtypes)."""
    x_t = torch.tensor(x, requires_grad=True)
    loss = theirs(x_t, torch.tensor(t))
    (dx,) = torch.autograd.grad(loss, x_t, torch.tensor(dloss, dtype=loss.dtype))
    return loss.detach().numpy(), dx.numpy()


@grid
@given(case=st.sampled_from(ELEMENTWISE), reduction=st.sampled_from(["mean", "sum", "none"]),
       dtypes=st.sampled_from([(np.float32, np.float64), (np.float64, np.float32), (np.float32, np.float32),
                               (np.float64, np.float64)]),
       shape=st.sampled_from([(4, 3), (2, 3), (3,), (0, 3)]), seed=st.integers(0, 2**16))
def test_a_target_of_another_floating_dtype_is_promoted_as_torch(case, reduction, dtypes, shape, seed):
    """Loss in the promoted dtype of input and target, dx in the input's: torch's answer. Before, the
    target was cast to the input's dtype: a float32 input computed with float32-rounded float64
    targets, "none" gave float32 losses where torch gives float64."""
    name, ours, theirs, kind = case
    if reduction == "mean" and name.startswith("KLDivLoss"):
        reduction = "batchmean"  # (mean warns, as torch)
    x_dtype, t_dtype = dtypes
    rng = np.random.default_rng(seed)
    x, t = _data(kind, rng, shape)
    x, t = x.astype(x_dtype), t.astype(t_dtype)
    wide = np.promote_types(x_dtype, t_dtype)
    loss_fn = ours(reduction)
    loss = loss_fn(x, t)
    dloss = rng.standard_normal(np.shape(loss)).astype(wide) if reduction == "none" else 0.7
    dx = loss_fn.backward(dloss)
    torch_computes = name in _TORCH_PROMOTES or (name.startswith("BCEWithLogits") and x_dtype == np.float32)
    if x_dtype == t_dtype or torch_computes:
        expected, expected_dx = _torch(theirs(reduction), x, t, dloss)  # torch's own answer for the pair
    else:  # torch refuses the pair (or answers in the narrower target dtype): the promoted pair's answer
        expected, expected_dx = _torch(theirs(reduction), x.astype(wide), t.astype(wide), dloss)
        expected_dx = expected_dx.astype(x_dtype)
    rtol, atol = (1e-5, 1e-6) if np.float32 in dtypes else (1e-10, 1e-12)
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == wide and expected.dtype == wide
    np.testing.assert_allclose(loss, expected, rtol=rtol, atol=atol)
    assert dx.dtype == x_dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, expected_dx, rtol=rtol, atol=atol)


@pytest.mark.parametrize("loss_fn, theirs", [
    (mt.MSELoss(), F.mse_loss), (mt.L1Loss(), F.l1_loss),
    (mt.SmoothL1Loss(beta=0.5), lambda x, t: F.smooth_l1_loss(x, t, beta=0.5)),
])
def test_a_float64_target_is_not_rounded_to_a_float32_inputs_dtype(loss_fn, theirs):
    """2**24 + 1 has no float32: rounded to the input's dtype the target equals the input, and the
    loss and its gradient were silently 0; torch computes them in float64 (loss 1, dx -1 / -2)."""
    x = np.array([2.0**24], np.float32)
    t = np.array([2.0**24 + 1])
    loss = loss_fn(x, t)
    dx = loss_fn.backward()
    expected, expected_dx = _torch(theirs, x, t, 1.0)
    assert loss == expected != 0
    assert dx.dtype == np.float32 and dx[0] == expected_dx[0] != 0


def test_integer_targets_take_the_inputs_dtype_without_a_default_dtype_detour():
    """An int64 target of a float64 input is read in float64, as torch's promotion: before, it went
    through the default dtype (float32) first, and 2**40 + 1 came back as 2**40."""
    x = np.array([2.0**40, 3.0])
    t = np.array([2**40 + 1, 3])
    loss_fn = mt.MSELoss("none")
    loss = loss_fn(x, t)
    expected, expected_dx = _torch(lambda a, b: F.mse_loss(a, b, reduction="none"), x, t, np.ones(2))
    assert loss.dtype == np.float64 and loss.tolist() == expected.tolist() == [1.0, 0.0]
    np.testing.assert_array_equal(loss_fn.backward(np.ones(2)), expected_dx)


@pytest.mark.parametrize("dtype, big", [(np.float32, 3e38), (np.float64, 1.5e308)])
@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_smooth_l1_far_from_the_target_is_finite_as_torch(dtype, big, beta):
    """|d| - beta / 2 is finite for every finite d; Huber(d, beta) / beta went through beta * |d|,
    which overflows for beta > 1 (inf where torch gives 3e38), and warned for the square of the
    branch not taken."""
    x = np.array([big, -big, 0.25, 1e-3], dtype)
    t = np.zeros(4, dtype)
    loss_fn = mt.SmoothL1Loss("none", beta=beta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = loss_fn(x, t)
    expected, expected_dx = _torch(lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=beta), x, t,
                                   np.ones(4, dtype))
    assert np.isfinite(loss).all()
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_array_equal(loss_fn.backward(np.ones(4, dtype)), expected_dx)


@pytest.mark.parametrize("dtype, big", [(np.float32, 3e38), (np.float64, 1.5e308)])
def test_huber_far_from_the_target_gives_torchs_inf_without_a_warning(dtype, big):
    """delta * (|d| - delta / 2) overflows where torch's overflows too (delta > 1): inf, as torch, and
    no RuntimeWarning for the square of the branch not taken (torch warns of nothing)."""
    x = np.array([big, 1e-3], dtype)
    t = np.zeros(2, dtype)
    for delta in (0.5, 2.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = mt.HuberLoss("none", delta=delta)(x, t)
        expected, _ = _torch(lambda a, b, d=delta: F.huber_loss(a, b, reduction="none", delta=d), x, t,
                             np.ones(2, dtype))
        np.testing.assert_allclose(loss, expected, rtol=1e-6)


@grid
@given(reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0.0, 0.2]),
       weighted=st.booleans(), dtypes=st.sampled_from([(np.float32, np.float64), (np.float64, np.float32)]),
       shape=st.sampled_from([(4, 3), (2, 3, 2), (3,)]), seed=st.integers(0, 2**16))
def test_cross_entropy_probability_targets_of_another_dtype_promote_as_torch(reduction, smoothing, weighted,
                                                                              dtypes, shape, seed):
    """Class-probability targets in the other dtype than the logits: torch's loss in the promoted
    dtype, dz in the logits'. Before, float64 probabilities were rounded to float32 logits' dtype."""
    z_dtype, y_dtype = dtypes
    rng = np.random.default_rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    z = (rng.standard_normal(shape) * 2).astype(z_dtype)
    y = rng.dirichlet(np.ones(c), size=None if len(shape) == 1 else (shape[0],) + shape[2:])
    y = (y if len(shape) == 1 else np.moveaxis(y, -1, 1)).astype(y_dtype)
    w = rng.uniform(0.5, 2, c).astype(z_dtype) if weighted else None
    loss_fn = mt.CrossEntropyLoss(reduction, smoothing, weight=w)
    loss = loss_fn(z, y)
    wide = np.promote_types(z_dtype, y_dtype)
    dloss = rng.standard_normal(np.shape(loss)).astype(wide) if reduction == "none" else 0.7
    dz = loss_fn.backward(dloss)
    expected, expected_dz = _torch(
        lambda a, b: F.cross_entropy(a, b, weight=None if w is None else torch.tensor(w), reduction=reduction,
                                     label_smoothing=smoothing), z, y, dloss)
    if reduction == "none":
        assert loss.dtype == expected.dtype == wide
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    assert dz.dtype == z_dtype
    np.testing.assert_allclose(dz, expected_dz, rtol=1e-5, atol=1e-6)
