"""Every loss, every reduction: float64 gradcheck, PyTorch oracle (value and gradient), properties, errors.

The first part checks the core losses (MSE, fused cross-entropy) in detail. Losses are not in
tests/cases.py (they take a target), so the LOSS_CASES table below plays that role: one line per
loss configuration, with its PyTorch twin and the kind of data it takes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor
from strategies import batch_sizes, features

import minitorch as mt


def torch_cross_entropy(logits, target):
    z = tensor(logits, requires_grad=True)
    t = torch.tensor(target) if np.asarray(target).dtype.kind in "iu" else tensor(target)
    loss = torch.nn.functional.cross_entropy(z, t)
    loss.backward()
    return loss.item(), z.grad.numpy()


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_matches_torch_float64(scale, target_kind):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)) * scale
    target = rng.integers(0, 4, 6) if target_kind == "indices" else rng.dirichlet(np.ones(4), 6)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, target)
    dz = loss_fn.backward()
    expected_loss, expected_dz = torch_cross_entropy(logits, target)
    assert isinstance(loss, float) and np.isfinite(loss)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-10)
    np.testing.assert_allclose(dz, expected_dz, rtol=1e-10, atol=1e-14)


def test_cross_entropy_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((8, 5)) * 1e4).astype(np.float32)
    y = rng.integers(0, 5, 8)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, y)
    dz = loss_fn.backward()
    expected_loss, expected_dz = torch_cross_entropy(logits, y)
    assert dz.dtype == np.float32
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(dz, expected_dz, rtol=1e-5, atol=1e-6)


def test_cross_entropy_gradient_is_p_minus_onehot_over_n():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    y = np.array([0, 2])
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(logits, y)
    loss_fn(logits, y)  # two calls: two backwards
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss_fn.backward(), (p - np.eye(3)[y]) / 2, rtol=1e-14)
    np.testing.assert_allclose(loss_fn.backward(3.0), 3 * (p - np.eye(3)[y]) / 2, rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.floats(-1e3, 1e3), n=st.integers(1, 5), c=st.integers(1, 5))
def test_cross_entropy_is_nonnegative_and_shift_invariant(seed, shift, n, c):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 5
    y = rng.integers(0, c, n)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(logits, y)
    assert loss >= 0
    np.testing.assert_allclose(loss_fn(logits + shift, y), loss, rtol=1e-9, atol=1e-9)
    dz = loss_fn.backward()  # (p - onehot(y)) / n: softmax rows sum to 1, so dz rows sum to 0
    np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "target, message",
    [
        (np.array([0, 3]), r"class indices must lie in \[0, 3\), got values in \[0, 3\]"),
        (np.array([-1, 0]), r"must lie in \[0, 3\)"),
        (np.array([0.0, 1.0]), "expected integer class indices, got dtype float64"),
        (np.array([0, 1, 2]), r"expected target class indices \(2,\)"),
        (np.array([[0, 1, 0], [1, 0, 0]]), "must be floating"),
    ],
)
def test_cross_entropy_rejects_bad_labels(target, message):
    with pytest.raises(ValueError, match=message):
        mt.CrossEntropyLoss()(np.zeros((2, 3)), target)


@pytest.mark.parametrize("bad", [np.nan, np.inf])  # (-inf, a masked class: test_losses_masked_classes.py)
def test_cross_entropy_rejects_non_finite_logits(bad):
    logits = np.zeros((2, 3))
    logits[1, 2] = bad
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        mt.CrossEntropyLoss()(logits, np.array([0, 1]))


def test_cross_entropy_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"expected logits \(N, C\), \(N, C, d1, ...\) or unbatched \(C,"):
        mt.CrossEntropyLoss()(np.zeros(()), np.array(0))
    with pytest.raises(ValueError, match=r"takes a class index \(\) or probabilities \(3,\) as target, got"):
        mt.CrossEntropyLoss()(np.zeros(3), np.array([0]))  # unbatched logits (C,) take one index ()


def test_mse_matches_torch():
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss_fn = mt.MSELoss()
    loss = loss_fn(x, t)
    dx = loss_fn.backward()
    xt = tensor(x, requires_grad=True)
    expected = torch.nn.functional.mse_loss(xt, tensor(t))
    expected.backward()
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12)


def test_mse_float32_gradient_stays_float32():
    loss_fn = mt.MSELoss()
    loss_fn(np.ones(3, dtype=np.float32), np.zeros(3))
    assert loss_fn.backward().dtype == np.float32


def test_mse_rejects_shape_mismatch_and_nan():
    with pytest.raises(ValueError, match=r"expected target of the input's shape \(2, 3\), got \(3, 2\)"):
        mt.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="target contains NaN"):
        mt.MSELoss()(np.zeros(2), np.array([0.0, np.nan]))


@pytest.mark.parametrize("loss_fn", [mt.MSELoss(), mt.CrossEntropyLoss()], ids=lambda m: type(m).__name__)
def test_loss_backward_before_forward_says_so(loss_fn):
    with pytest.raises(RuntimeError, match="before forward"):
        loss_fn.backward()


# --- every loss x every reduction ------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]
nn = torch.nn

# (id, MiniTorch loss given a reduction, torch loss given a reduction, data kind)
LOSS_CASES = [
    ("MSELoss", lambda r: mt.MSELoss(reduction=r), lambda r: nn.MSELoss(reduction=r), "regression"),
    ("L1Loss", lambda r: mt.L1Loss(reduction=r), lambda r: nn.L1Loss(reduction=r), "regression"),
    ("HuberLoss", lambda r: mt.HuberLoss(reduction=r), lambda r: nn.HuberLoss(reduction=r), "regression"),
    ("HuberLoss-delta-0.5", lambda r: mt.HuberLoss(reduction=r, delta=0.5),
     lambda r: nn.HuberLoss(reduction=r, delta=0.5), "regression"),
    ("SmoothL1Loss", lambda r: mt.SmoothL1Loss(reduction=r), lambda r: nn.SmoothL1Loss(reduction=r),
     "regression"),
    ("SmoothL1Loss-beta-2", lambda r: mt.SmoothL1Loss(reduction=r, beta=2.0),
     lambda r: nn.SmoothL1Loss(reduction=r, beta=2.0), "regression"),
    ("SmoothL1Loss-beta-0", lambda r: mt.SmoothL1Loss(reduction=r, beta=0.0),
     lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0), "regression"),
    ("BCELoss", lambda r: mt.BCELoss(reduction=r), lambda r: nn.BCELoss(reduction=r), "probabilities"),
    ("BCEWithLogitsLoss", lambda r: mt.BCEWithLogitsLoss(reduction=r),
     lambda r: nn.BCEWithLogitsLoss(reduction=r), "logits-binary"),
    ("NLLLoss", lambda r: mt.NLLLoss(reduction=r), lambda r: nn.NLLLoss(reduction=r), "log-probs-index"),
    ("CrossEntropyLoss", lambda r: mt.CrossEntropyLoss(reduction=r),
     lambda r: nn.CrossEntropyLoss(reduction=r), "logits-index"),
    ("CrossEntropyLoss-probs", lambda r: mt.CrossEntropyLoss(reduction=r),
     lambda r: nn.CrossEntropyLoss(reduction=r), "logits-probs"),
    ("CrossEntropyLoss-smoothing", lambda r: mt.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
     lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1), "logits-index"),
    ("CrossEntropyLoss-probs-smoothing", lambda r: mt.CrossEntropyLoss(reduction=r, label_smoothing=0.3),
     lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.3), "logits-probs"),
]
LOSS_CASES += [  # more losses (tests/test_losses_more.py has their grids)
    ("SoftMarginLoss", lambda r: mt.SoftMarginLoss(reduction=r), lambda r: nn.SoftMarginLoss(reduction=r),
     "regression"),
    ("MultiLabelSoftMarginLoss", lambda r: mt.MultiLabelSoftMarginLoss(reduction=r),
     lambda r: nn.MultiLabelSoftMarginLoss(reduction=r), "logits-binary"),
    ("MultiMarginLoss", lambda r: mt.MultiMarginLoss(reduction=r), lambda r: nn.MultiMarginLoss(reduction=r),
     "logits-index"),
    ("MultiMarginLoss-p-2", lambda r: mt.MultiMarginLoss(p=2, margin=0.5, reduction=r),
     lambda r: nn.MultiMarginLoss(p=2, margin=0.5, reduction=r), "logits-index"),
]
IDS = [case[0] for case in LOSS_CASES]

# Every loss with a weight-like buffer, one line per buffer set: (id, MiniTorch loss given a
# reduction, data kind). tests/test_kernels_dtypes.py casts each floating buffer to the other dtype
# than the input's and holds MiniTorch to torch's answer (its error, or its result dtype).
_W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])
WEIGHTED_LOSS_CASES = [
    ("CrossEntropyLoss-weight", lambda r: mt.CrossEntropyLoss(reduction=r, weight=_W5), "logits-index"),
    ("CrossEntropyLoss-weight-smoothing",
     lambda r: mt.CrossEntropyLoss(reduction=r, weight=_W5, label_smoothing=0.1), "logits-index"),
    ("CrossEntropyLoss-weight-probs", lambda r: mt.CrossEntropyLoss(reduction=r, weight=_W5), "logits-probs"),
    ("CrossEntropyLoss-weight-probs-smoothing",
     lambda r: mt.CrossEntropyLoss(reduction=r, weight=_W5, label_smoothing=0.3), "logits-probs"),
    ("NLLLoss-weight", lambda r: mt.NLLLoss(reduction=r, weight=_W5), "log-probs-index"),
    ("BCELoss-weight", lambda r: mt.BCELoss(reduction=r, weight=_W5), "probabilities"),
    ("BCEWithLogitsLoss-weight", lambda r: mt.BCEWithLogitsLoss(reduction=r, weight=_W5), "logits-binary"),
    ("BCEWithLogitsLoss-pos_weight", lambda r: mt.BCEWithLogitsLoss(reduction=r, pos_weight=_W5),
     "logits-binary"),
    ("BCEWithLogitsLoss-weight-pos_weight",
     lambda r: mt.BCEWithLogitsLoss(reduction=r, weight=_W5, pos_weight=_W5[::-1].copy()), "logits-binary"),
]
WEIGHTED_LOSS_CASES += [  # more losses
    ("MultiLabelSoftMarginLoss-weight", lambda r: mt.MultiLabelSoftMarginLoss(reduction=r, weight=_W5),
     "logits-binary"),
    ("MultiMarginLoss-weight", lambda r: mt.MultiMarginLoss(weight=_W5, reduction=r), "logits-index"),
]


def make_data(kind: str, rng: np.random.Generator, n: int = 4, c: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) in float64 for a data kind; class indices are int64."""
    if kind == "regression":  # spread 2: |x - t| on both sides of delta / beta
        return rng.standard_normal((n, c)) * 2, rng.standard_normal((n, c))
    if kind == "probabilities":
        return rng.uniform(0.05, 0.95, (n, c)), rng.uniform(0, 1, (n, c))
    if kind == "logits-binary":
        return rng.standard_normal((n, c)) * 3, rng.uniform(0, 1, (n, c))
    z = rng.standard_normal((n, c)) * 2
    if kind == "log-probs-index":
        z = z - z.max(axis=1, keepdims=True)
        z = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log-probabilities: <= 0 exactly
    if kind.endswith("probs"):
        return z, rng.dirichlet(np.ones(c), size=n)
    return z, rng.integers(0, c, n)


def _cast(kind: str, x: np.ndarray, t: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    return x.astype(dtype), t if kind.endswith("index") else t.astype(dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ours, theirs, kind", [c[1:] for c in LOSS_CASES], ids=IDS)
def test_gradcheck(ours, theirs, kind, reduction):
    x, t = make_data(kind, np.random.default_rng(1))
    assert mt.gradcheck(ours(reduction), x, t, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-5, 1e-6)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ours, theirs, kind", [c[1:] for c in LOSS_CASES], ids=IDS)
def test_matches_torch(ours, theirs, kind, reduction, dtype, rtol, atol):
    """Value and input gradient, with a random upstream gradient, dtype preserved."""
    rng = np.random.default_rng(2)
    x, t = _cast(kind, *make_data(kind, rng), dtype)
    loss_fn = ours(reduction)
    loss = loss_fn(x, t)
    x_t = torch.tensor(x, requires_grad=True)
    loss_t = theirs(reduction)(x_t, torch.tensor(t))
    dloss = rng.standard_normal(tuple(loss_t.shape)).astype(dtype)
    loss_t.backward(torch.tensor(dloss))
    dx = loss_fn.backward(dloss if reduction == "none" else float(dloss))

    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype and loss.shape == tuple(loss_t.shape)
    else:
        assert isinstance(loss, mt.losses.LossValue) and type(loss.item()) is float
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=rtol, atol=atol, err_msg="loss")
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol, atol=atol, err_msg="dx")


@pytest.mark.parametrize("ours, theirs, kind", [c[1:] for c in LOSS_CASES], ids=IDS)
def test_reductions_agree_with_each_other(ours, theirs, kind):
    x, t = make_data(kind, np.random.default_rng(3))
    per_element = ours("none")
    losses = per_element(x, t)
    total, mean = ours("sum"), ours("mean")
    total(x, t)  # total.backward runs twice below: one forward call each
    np.testing.assert_allclose(total(x, t), losses.sum(), rtol=1e-14)
    np.testing.assert_allclose(mean(x, t), losses.mean(), rtol=1e-14)
    dl = np.full(losses.shape, 0.7)
    np.testing.assert_allclose(total.backward(0.7), per_element.backward(dl), rtol=1e-14)
    np.testing.assert_allclose(mean.backward(0.7), total.backward(0.7 / losses.size), rtol=1e-14)
    assert (losses >= 0).all()


@settings(max_examples=15, deadline=None)
@given(n=batch_sizes, c=features, seed=st.integers(0, 2**16), scale=st.sampled_from([1e-3, 1.0, 50.0]))
def test_losses_are_non_negative_for_any_batch(n, c, seed, scale):
    rng = np.random.default_rng(seed)
    for _, ours, _, kind in LOSS_CASES:
        x, t = make_data(kind, rng, n, c)
        if kind != "probabilities":
            x = x * scale
        loss_fn = ours("none")
        losses = loss_fn(x, t)
        assert losses.shape == (x.shape if losses.ndim == 2 else (n,))
        assert (losses >= 0).all() and np.isfinite(losses).all()
        assert loss_fn.backward(np.ones(losses.shape)).shape == x.shape


@settings(max_examples=15, deadline=None)
@given(n=batch_sizes, c=features, seed=st.integers(0, 2**16), shift=st.floats(-1e3, 1e3))
def test_cross_entropy_is_shift_invariant(n, c, seed, shift):
    z, y = make_data("logits-index", np.random.default_rng(seed), n, c)
    loss_fn = mt.CrossEntropyLoss(reduction="none", label_smoothing=0.2)
    np.testing.assert_allclose(loss_fn(z + shift, y), loss_fn(z, y), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huge_logits_are_finite_and_match_torch(dtype, reduction):
    """±1e4 logits: fused log-sum-exp and log1p(exp(-|x|)) never overflow (warnings are errors)."""
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0.0, 0.0, 0.0]], dtype=dtype)
    cases = [
        (mt.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
         nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), np.array([1, 2, 0])),
        (mt.BCEWithLogitsLoss(reduction=reduction), nn.BCEWithLogitsLoss(reduction=reduction),
         np.array([[1.0, 0.0, 0.5], [1.0, 0.3, 1.0], [0.0, 1.0, 0.5]], dtype=dtype)),
    ]
    for ours, theirs, t in cases:
        x_t = torch.tensor(z, requires_grad=True)
        loss_t = theirs(x_t, torch.tensor(t))
        loss_t.backward(torch.ones_like(loss_t) * 0.5)
        loss = ours(z, t)
        dx = ours.backward(np.full(np.shape(loss), 0.5, dtype) if reduction == "none" else 0.5)
        assert np.isfinite(loss).all() and np.isfinite(dx).all()
        np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_bce_clamps_log_at_minus_100_and_matches_torch_at_the_edges():
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.25])
    p_t = torch.tensor(p, requires_grad=True)
    loss_t = nn.BCELoss(reduction="none")(p_t, torch.tensor(t))
    loss_t.backward(torch.ones_like(loss_t))
    loss_fn = mt.BCELoss(reduction="none")
    losses = loss_fn(p, t)
    np.testing.assert_allclose(losses, [100.0, 100.0, 0.0, 0.0, 100.0, np.log(2.0)])
    np.testing.assert_allclose(losses, loss_t.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(loss_fn.backward(np.ones(6)), p_t.grad.numpy(), rtol=1e-15)


def test_l1_subgradient_is_zero_where_input_equals_target():
    x = np.array([1.0, 2.0, -3.0])
    for ours, theirs in [(mt.L1Loss("sum"), nn.L1Loss(reduction="sum")),
                         (mt.SmoothL1Loss("sum", beta=0.0), nn.SmoothL1Loss(reduction="sum", beta=0.0))]:
        x_t = torch.tensor(x, requires_grad=True)
        theirs(x_t, torch.tensor([1.0, 0.0, -3.0])).backward()
        ours(x, np.array([1.0, 0.0, -3.0]))
        np.testing.assert_array_equal(ours.backward(1.0), [0.0, 1.0, 0.0])
        np.testing.assert_array_equal(x_t.grad.numpy(), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("ours, theirs", [
    (mt.HuberLoss("none", delta=0.5), nn.HuberLoss(reduction="none", delta=0.5)),
    (mt.SmoothL1Loss("none", beta=0.5), nn.SmoothL1Loss(reduction="none", beta=0.5)),
])
def test_huber_and_smooth_l1_at_the_switch_point(ours, theirs):
    x = np.array([0.5, -0.5, 0.0, 0.25, 3.0])  # |x - 0| = delta exactly, on both sides, and 0
    x_t = torch.tensor(x, requires_grad=True)
    loss_t = theirs(x_t, torch.zeros(5, dtype=torch.float64))
    loss_t.backward(torch.ones(5, dtype=torch.float64))
    np.testing.assert_allclose(ours(x, np.zeros(5)), loss_t.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(ours.backward(np.ones(5)), x_t.grad.numpy(), rtol=1e-15)


def test_cross_entropy_with_full_smoothing_ignores_the_labels():
    z = np.random.default_rng(0).standard_normal((3, 4))
    loss_fn = mt.CrossEntropyLoss(label_smoothing=1.0)
    assert loss_fn(z, np.array([0, 1, 2])) == pytest.approx(loss_fn(z, np.array([3, 3, 3])), rel=1e-15)


def test_nll_after_log_softmax_is_cross_entropy(float64):
    z, y = make_data("logits-index", np.random.default_rng(0))
    log_softmax, nll, ce = mt.LogSoftmax(dim=1), mt.NLLLoss(), mt.CrossEntropyLoss()
    assert nll(log_softmax(z), y) == pytest.approx(ce(z, y), rel=1e-14)
    np.testing.assert_allclose(log_softmax.backward(nll.backward(1.3)), ce.backward(1.3), atol=1e-15)


BAD_INPUTS = [
    (lambda: mt.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2))), r"MSELoss: expected target of the input's"),
    (lambda: mt.L1Loss()(np.array([1.0, np.nan]), np.zeros(2)), r"L1Loss: input contains NaN or inf"),
    (lambda: mt.HuberLoss()(np.zeros(2), np.array([np.inf, 0.0])), r"HuberLoss: target contains NaN or inf"),
    (lambda: mt.BCELoss()(np.array([0.5, 1.5]), np.array([0.0, 1.0])),
     r"BCELoss: expected input probabilities in \[0, 1\], got values in \[0.5, 1.5\]"),
    (lambda: mt.BCELoss()(np.array([0.5, 0.5]), np.array([0.0, 2.0])), r"BCELoss: expected targets in \["),
    (lambda: mt.BCEWithLogitsLoss()(np.zeros(2), np.zeros(3)), r"expected target of the input's shape \(2"),
    (lambda: mt.NLLLoss()(np.zeros((2, 3)), np.array([0, 3])), r"NLLLoss: class indices must lie in \[0, 3"),
    (lambda: mt.NLLLoss()(np.zeros((2, 3)), np.array([0.0, 1.0])), r"NLLLoss: expected integer class"),
    (lambda: mt.NLLLoss()(np.zeros(()), np.array(0)), r"NLLLoss: expected log-probabilities \(N, C\)"),
    (lambda: mt.CrossEntropyLoss()(np.zeros((2, 3)), np.zeros((2, 3), dtype=int)),
     r"\(N, C\) targets are class probabilities and must be floating"),
    (lambda: mt.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 1, 2])), r"expected target class indices"),
    (lambda: mt.CrossEntropyLoss()(np.full((1, 2), np.nan), np.array([0])), "input contains NaN or \\+inf"),
    (lambda: mt.MSELoss(reduction="avg"), r"reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"),
    (lambda: mt.CrossEntropyLoss(reduction=None), "reduction must be"),
    (lambda: mt.HuberLoss(delta=0.0), r"HuberLoss: delta must be a number in \(0"),
    (lambda: mt.SmoothL1Loss(beta=-1.0), r"SmoothL1Loss: beta must be a number in \[0"),
    (lambda: mt.CrossEntropyLoss(label_smoothing=1.5), r"label_smoothing must be a number in \[0, 1\]"),
]


@pytest.mark.parametrize("call, message", BAD_INPUTS)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("ours, theirs, kind", [c[1:] for c in LOSS_CASES], ids=IDS)
def test_backward_checks_dloss_against_the_reduction(ours, theirs, kind):
    x, t = make_data(kind, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="before forward"):
        ours("mean").backward()
    mean = ours("mean")
    mean(x, t)
    with pytest.raises(ValueError, match="reduction='mean' gives a scalar loss, so dloss must be a scalar"):
        mean.backward(np.ones(3))
    per_element = ours("none")
    losses = per_element(x, t)
    with pytest.raises(ValueError, match=rf"dloss must have their shape \({losses.shape[0]},"):
        per_element.backward(1.0)


def test_default_backward_keeps_the_training_loop_idiom():
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(np.array([[2.0, 0.0, -1.0]]), np.array([0]))
    assert loss == pytest.approx(0.16984, abs=1e-5)
    p = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    np.testing.assert_allclose(loss_fn.backward(), [p - [1, 0, 0]], rtol=1e-6)
    assert repr(loss_fn) == "CrossEntropyLoss()"
    assert repr(mt.HuberLoss(delta=2.0)) == "HuberLoss(delta=2.0)"
