"""The losses beyond the first ten: PoissonNLLLoss, GaussianNLLLoss, SoftMarginLoss,
HingeEmbeddingLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, MultiLabelMarginLoss,
MarginRankingLoss, CosineEmbeddingLoss, TripletMarginLoss.

Each over a hypothesis grid of shapes, reductions and options: torch 2.13 as the oracle of the value
and of every graded input's gradient (a random upstream gradient; float64 tight, float32 with the
dtypes kept), a float64 gradcheck of every element of every graded input, the edge cases torch
defines (the clamp of var, the -1 that ends a label list, ties, kinks), and bad input refused with
what was expected and what came.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

nn = torch.nn
TOL = {np.float64: (1e-10, 1e-12), np.float32: (2e-5, 2e-6)}
reductions = st.sampled_from(["mean", "sum", "none"])
dtypes = st.sampled_from([np.float64, np.float32])
grid = settings(max_examples=25, deadline=None)


def oracle(ours: mt.Loss, theirs: nn.Module, arrays: tuple, graded: int, dtype: type, seed: int = 0) -> None:
    """Our loss and the gradients of the first ``graded`` arrays against torch's, dtypes kept.

    Floating arrays are given in ``dtype``, integer ones as they are (torch: int64)."""
    arrays = tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in arrays)  # rng's 0-d draws
    arrays = tuple(a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                   for a in arrays)
    rtol, atol = TOL[dtype]
    tensors = [torch.tensor(a, requires_grad=i < graded) if isinstance(a, np.ndarray) else a
               for i, a in enumerate(arrays)]
    loss_t = theirs(*tensors)
    dloss = np.random.default_rng(seed).standard_normal(tuple(loss_t.shape)).astype(dtype)
    loss_t.backward(torch.tensor(dloss))
    loss = ours(*arrays)
    grads = ours.backward(dloss if ours.reduction == "none" else float(dloss))
    grads = (grads,) if graded == 1 else grads
    assert isinstance(grads, tuple) and len(grads) == graded
    if ours.reduction == "none":
        # (a 0-d "none" loss is a NumPy scalar, as the first ten losses give it)
        assert isinstance(loss, (np.ndarray, np.generic)) and loss.dtype == dtype
        assert loss.shape == tuple(loss_t.shape)
    else:
        assert type(loss).__name__ == "LossValue"
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=rtol, atol=atol, err_msg="loss")
    for i, (g, t, a) in enumerate(zip(grads, tensors, arrays, strict=False)):
        assert g.dtype == a.dtype and g.shape == a.shape, f"gradient {i}"
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient {i}")


def gradcheck(loss_fn: mt.Loss, *arrays: np.ndarray) -> None:
    assert mt.gradcheck(loss_fn, *arrays, atol=1e-7, rtol=1e-6)


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


# --- PoissonNLLLoss -------------------------------------------------------------------------------
def _poisson_data(rng, shape, log_input):
    x = rng.standard_normal(shape) * 1.5 if log_input else rng.uniform(0, 3, shape)
    t = rng.choice([0.0, 1.0, 2.0, 3.0, 0.5, 1.7, 7.0], shape)  # t = 1 and t <= 1: Stirling's mask
    return x, t


@grid
@given(seed=seeds, shape=shapes, log_input=st.booleans(), full=st.booleans(),
       eps=st.sampled_from([1e-8, 0.5]), reduction=reductions, dtype=dtypes)
def test_poisson_nll_matches_torch(seed, shape, log_input, full, eps, reduction, dtype):
    x, t = _poisson_data(np.random.default_rng(seed), shape, log_input)
    oracle(mt.PoissonNLLLoss(log_input, full, reduction, eps=eps),
           nn.PoissonNLLLoss(log_input, full, eps=eps, reduction=reduction), (x, t), 1, dtype, seed)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_poisson_nll_gradcheck(log_input, full, reduction):
    x, t = _poisson_data(np.random.default_rng(1), (3, 4), log_input)
    gradcheck(mt.PoissonNLLLoss(log_input, full, reduction), x + (0 if log_input else 0.1), t)


def test_poisson_nll_rate_zero_and_empty_batch_as_torch():
    x, t = np.array([0.0, 0.0, 2.0]), np.array([0.0, 3.0, 2.0])  # log(0 + eps): finite, as torch
    oracle(mt.PoissonNLLLoss(False, True, "none"), nn.PoissonNLLLoss(False, True, reduction="none"),
           (x, t), 1, np.float64)
    assert math.isnan(mt.PoissonNLLLoss()(np.zeros((0, 3)), np.zeros((0, 3))))


# --- GaussianNLLLoss ------------------------------------------------------------------------------
@st.composite
def gaussian_problems(draw):
    """(x, t, var) with var in each shape torch accepts and t broadcastable to x."""
    rng = np.random.default_rng(draw(seeds))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    x = rng.standard_normal(shape)
    first_1 = tuple(1 if i == 0 else n for i, n in enumerate(shape))
    t_shape = draw(st.sampled_from([shape, shape[1:], first_1]))
    t = rng.standard_normal(t_shape)
    kind = draw(st.sampled_from(["same", "last-dropped", "one-axis-1"]))
    if kind == "last-dropped":
        v_shape = shape[:-1]
    elif kind == "one-axis-1":
        axis = draw(st.integers(0, len(shape) - 1))
        v_shape = tuple(1 if i == axis else n for i, n in enumerate(shape))
    else:
        v_shape = shape
    var = rng.uniform(0.05, 2.0, v_shape)
    if var.size > 1:  # some variances under eps (clamped: torch's straight-through slope) and 0
        var.flat[0], var.flat[-1] = 0.0, 1e-9
    return x, t, var


@grid
@given(problem=gaussian_problems(), full=st.booleans(), eps=st.sampled_from([1e-6, 0.1]),
       reduction=reductions, dtype=dtypes)
def test_gaussian_nll_matches_torch(problem, full, eps, reduction, dtype):
    oracle(mt.GaussianNLLLoss(full=full, eps=eps, reduction=reduction),
           nn.GaussianNLLLoss(full=full, eps=eps, reduction=reduction), problem, 3, dtype)


@grid
@given(problem=gaussian_problems(), reduction=reductions)
def test_gaussian_nll_gradcheck(problem, reduction):
    x, t, var = problem
    gradcheck(mt.GaussianNLLLoss(reduction=reduction), x, t, np.maximum(var, 0.05))  # no clamp kink


def test_gaussian_nll_clamped_var_gets_torchs_straight_through_gradient():
    x, t, var = np.array([1.0, 2.0]), np.zeros(2), np.array([0.0, 1e-9])
    loss_fn = mt.GaussianNLLLoss(reduction="sum")
    loss_fn(x, t, var)
    _, _, dvar = loss_fn.backward()
    eps = 1e-6  # the slope at var = eps, not 0: torch clamps a copy under no_grad
    np.testing.assert_allclose(dvar, 0.5 * (1 / eps - x ** 2 / eps ** 2), rtol=1e-12)


def test_gaussian_nll_float_var_integer_target_and_mixed_dtypes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2))
    loss_fn = mt.GaussianNLLLoss(reduction="none")
    loss = loss_fn(x, np.array([[1, 0]] * 3), 0.5)
    expected = nn.GaussianNLLLoss(reduction="none")(torch.tensor(x), torch.tensor([[1, 0]] * 3), 0.5)
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-12)
    dx, dt, dvar = loss_fn.backward(np.ones((3, 2)))
    assert dx.shape == (3, 2) and dt is None and dvar is None
    x32 = x.astype(np.float32)  # float32 input, float64 target and var: a float64 loss, dx float32
    loss_fn = mt.GaussianNLLLoss(reduction="none")
    loss = loss_fn(x32, x, np.ones(3))
    expected = nn.GaussianNLLLoss(reduction="none")(torch.tensor(x32), torch.tensor(x),
                                                    torch.ones(3, dtype=torch.float64))
    assert loss.dtype == np.float64 and expected.dtype == torch.float64
    dx, dt, dvar = loss_fn.backward(np.ones((3, 2)))
    assert (dx.dtype, dt.dtype, dvar.dtype, dvar.shape) == (np.float32, np.float64, np.float64, (3,))


def test_gaussian_nll_parameters_given_as_inputs_get_their_gradients():
    rng = np.random.default_rng(0)
    mu, var = mt.Parameter(rng.standard_normal((4, 2))), mt.Parameter(rng.uniform(0.5, 1, (4, 1)))
    loss_fn = mt.GaussianNLLLoss()
    loss_fn(mu, np.zeros((4, 2)), var)
    dx, dt, dvar = loss_fn.backward()
    assert dx is None and dvar is None and dt.shape == (4, 2)
    mu_t = torch.tensor(mu.data, requires_grad=True)
    var_t = torch.tensor(var.data, requires_grad=True)
    nn.GaussianNLLLoss()(mu_t, torch.zeros(4, 2, dtype=torch.float64), var_t).backward()
    np.testing.assert_allclose(mu.grad, mu_t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var.grad, var_t.grad.numpy(), rtol=1e-12)


# --- SoftMarginLoss, HingeEmbeddingLoss, MarginRankingLoss -----------------------------------------
def _labels(rng, shape):
    return rng.choice([-1.0, 1.0, 1.0, -1.0, 0.5, 0.0], shape)  # torch reads any value by its formula


@grid
@given(seed=seeds, shape=shapes, reduction=reductions, dtype=dtypes, scale=st.sampled_from([1.0, 12.0]))
def test_soft_margin_matches_torch(seed, shape, reduction, dtype, scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    oracle(mt.SoftMarginLoss(reduction), nn.SoftMarginLoss(reduction=reduction), (x, _labels(rng, shape)),
           1, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_margin_is_finite_where_torchs_overflows(dtype):
    """torch 2.13 computes log1p(exp(-y * x)) as written: inf past -y * x = 88.7 in float32 (709.8
    in float64), and a nan gradient; here the stable form gives the asymptote |x| and slope -y."""
    x, y = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), np.array([-1.0, 1.0, 1.0, -1.0], dtype=dtype)
    loss_fn = mt.SoftMarginLoss("none")
    np.testing.assert_array_equal(loss_fn(x, y), [1e4, 1e4, 0, 0])
    np.testing.assert_array_equal(loss_fn.backward(np.ones(4, dtype=dtype)), [1, -1, 0, 0])
    assert torch.isinf(nn.SoftMarginLoss(reduction="none")(torch.tensor(x), torch.tensor(y))[0]).item()


@grid
@given(seed=seeds, shape=shapes, margin=st.sampled_from([1.0, 0.5, 0.0, -0.5]), reduction=reductions,
       dtype=dtypes)
def test_hinge_embedding_matches_torch(seed, shape, margin, reduction, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if x.size:
        x.flat[0] = margin  # the kink: torch's clamp_min passes the slope there
    oracle(mt.HingeEmbeddingLoss(margin, reduction), nn.HingeEmbeddingLoss(margin, reduction=reduction),
           (x, _labels(rng, shape)), 1, dtype)


@grid
@given(seed=seeds, shape=shapes, margin=st.sampled_from([0.0, 0.5, -0.3]), reduction=reductions,
       dtype=dtypes)
def test_margin_ranking_matches_torch(seed, shape, margin, reduction, dtype):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
    if x1.size:
        x2.flat[0] = x1.flat[0]  # u = margin: the kink for margin 0
    y = _labels(rng, shape)
    oracle(mt.MarginRankingLoss(margin, reduction), nn.MarginRankingLoss(margin, reduction=reduction),
           (x1, x2, y), 2, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_soft_margin_hinge_ranking_gradcheck(reduction):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 4)), rng.choice([-1.0, 1.0], (3, 4))
    gradcheck(mt.SoftMarginLoss(reduction), x, y)
    gradcheck(mt.HingeEmbeddingLoss(0.3, reduction), x, y)
    gradcheck(mt.MarginRankingLoss(0.2, reduction), x, rng.standard_normal((3, 4)), y)


# --- MultiLabelSoftMarginLoss, MultiMarginLoss, MultiLabelMarginLoss -----------------------------------
@grid
@given(seed=seeds, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       weight=st.sampled_from([None, "class", "full"]), soft=st.booleans(), reduction=reductions,
       dtype=dtypes)
def test_multilabel_soft_margin_matches_torch(seed, shape, weight, soft, reduction, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    y = rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape).astype(float)
    w = None if weight is None else rng.uniform(0.1, 2, shape[-1:] if weight == "class" else shape)
    theirs = nn.MultiLabelSoftMarginLoss(weight=None if w is None else torch.tensor(w, dtype=torch.float64
                                         if dtype == np.float64 else torch.float32), reduction=reduction)
    ours = mt.MultiLabelSoftMarginLoss(reduction, weight=None if w is None else w.astype(dtype))
    oracle(ours, theirs, (x, y), 1, dtype)


@st.composite
def class_scores(draw):
    """(x (N, C) or unbatched (C,), N or None)."""
    rng = np.random.default_rng(draw(seeds))
    c = draw(st.integers(1, 5))
    n = draw(st.one_of(st.none(), st.integers(1, 4)))
    return rng, (rng.standard_normal((c,) if n is None else (n, c)) * 0.7), n, c


@grid
@given(problem=class_scores(), p=st.sampled_from([1, 2]), margin=st.sampled_from([1.0, 0.3, 0.0, -0.5]),
       weighted=st.booleans(), unbatched_target=st.sampled_from([(), (1,)]), reduction=reductions,
       dtype=dtypes)
def test_multi_margin_matches_torch(problem, p, margin, weighted, unbatched_target, reduction, dtype):
    rng, x, n, c = problem
    y = rng.integers(0, c, unbatched_target if n is None else (n,))
    w = rng.uniform(0.1, 2, c).astype(dtype) if weighted else None
    theirs = nn.MultiMarginLoss(p, margin, None if w is None else torch.tensor(w), reduction=reduction)
    oracle(mt.MultiMarginLoss(p, margin, w, reduction), theirs, (x, y), 1, dtype)


def _label_lists(rng, n, c):
    """Rows of class indices, each ended by -1 (and junk in [-1, C) after it), some with repeats."""
    rows = []
    for _ in range(n):
        k = rng.integers(0, c + 1)
        listed = rng.integers(0, c, k)  # repeats allowed: torch counts a repeat twice
        rows.append(np.concatenate([listed, [-1], rng.integers(-1, c, c)])[:c])
    return np.array(rows, dtype=np.int64).reshape(n, c)


@grid
@given(problem=class_scores(), reduction=reductions, dtype=dtypes)
def test_multilabel_margin_matches_torch(problem, reduction, dtype):
    rng, x, n, c = problem
    y = _label_lists(rng, 1 if n is None else n, c)
    oracle(mt.MultiLabelMarginLoss(reduction), nn.MultiLabelMarginLoss(reduction=reduction),
           (x, y[0] if n is None else y), 1, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_margin_losses_gradcheck(reduction):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5))
    gradcheck(mt.MultiLabelSoftMarginLoss(reduction, weight=rng.uniform(0.5, 2, 5)), x,
              rng.integers(0, 2, (4, 5)).astype(float))
    for p in (1, 2):
        gradcheck(mt.MultiMarginLoss(p, 0.8, rng.uniform(0.5, 2, 5), reduction), x, np.array([0, 4, 2, 2]))
    gradcheck(mt.MultiLabelMarginLoss(reduction), x, _label_lists(rng, 4, 5))
    gradcheck(mt.MultiLabelMarginLoss(reduction), x[0], np.array([3, 1, -1, 0, 0]))


def test_class_margin_edges_as_torch():
    # the hinge's corner z = 0 has slope 0 in both
    oracle(mt.MultiMarginLoss(reduction="none"), nn.MultiMarginLoss(reduction="none"),
           (np.array([[1.0, 0.0]]), np.array([0])), 1, np.float64)
    oracle(mt.MultiLabelMarginLoss("none"), nn.MultiLabelMarginLoss(reduction="none"),
           (np.array([[1.0, 0.0]]), np.array([[0, -1]])), 1, np.float64)
    # every class listed: no other class, loss 0; a leading -1: no class listed, loss 0
    oracle(mt.MultiLabelMarginLoss("none"), nn.MultiLabelMarginLoss(reduction="none"),
           (np.array([[0.3, 0.1], [0.2, 0.5]]), np.array([[1, 0], [-1, 1]])), 1, np.float64)
    # an empty batch: "mean" is 0 / 0 = nan (torch 2.13 returns an uninitialised number here)
    assert math.isnan(mt.MultiMarginLoss()(np.zeros((0, 3)), np.zeros(0, dtype=int)))
    assert math.isnan(mt.MultiLabelMarginLoss()(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)))
    assert mt.MultiMarginLoss(reduction="sum")(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0.0
    assert mt.MultiLabelMarginLoss("sum")(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)) == 0.0
    loss_fn = mt.MultiLabelSoftMarginLoss(reduction="sum")
    assert loss_fn(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0 and loss_fn.backward().shape == (0, 3)


# --- CosineEmbeddingLoss, TripletMarginLoss ---------------------------------------------------------
@grid
@given(problem=class_scores(), margin=st.sampled_from([0.0, 0.4, -0.5]), int_target=st.booleans(),
       reduction=reductions, dtype=dtypes)
def test_cosine_embedding_matches_torch(problem, margin, int_target, reduction, dtype):
    rng, x1, n, _ = problem
    x2 = rng.standard_normal(x1.shape)
    if n is not None and n > 1:
        x1[0] = 0.0  # a zero vector: torch's 1e-12 in each squared norm keeps cos finite
    y = rng.choice([-1, 1, 1, -1, 0], () if n is None else (n,))
    y = y if int_target else y.astype(float)
    oracle(mt.CosineEmbeddingLoss(margin, reduction), nn.CosineEmbeddingLoss(margin, reduction=reduction),
           (x1, x2, y), 2, dtype)


@grid
@given(problem=class_scores(), margin=st.sampled_from([1.0, 0.2]), p=st.sampled_from([1.0, 2.0, 3.0, 1.5]),
       eps=st.sampled_from([1e-6, 0.1]), swap=st.booleans(), reduction=reductions, dtype=dtypes)
def test_triplet_margin_matches_torch(problem, margin, p, eps, swap, reduction, dtype):
    rng, a, _, _ = problem
    pos, neg = rng.standard_normal(a.shape), rng.standard_normal(a.shape)
    oracle(mt.TripletMarginLoss(margin, p, eps, swap, reduction),
           nn.TripletMarginLoss(margin, p, eps, swap, reduction=reduction), (a, pos, neg), 3, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
def test_cosine_and_triplet_gradcheck(reduction, p, swap):
    rng = np.random.default_rng(5)
    a, pos, neg = rng.standard_normal((3, 4, 3))
    gradcheck(mt.TripletMarginLoss(2.0, p, 1e-6, swap, reduction), a, pos, neg)
    gradcheck(mt.CosineEmbeddingLoss(-0.9, reduction), a, pos, np.array([1, -1, 1, -1]))


def test_triplet_swap_tie_splits_the_gradient_as_torch():
    neg = np.array([[0.5, -1.0], [1.0, 2.0]])
    a, pos = np.zeros((2, 2)), 2 * neg  # dist(a, neg) == dist(pos, neg) exactly (eps = 0)
    oracle(mt.TripletMarginLoss(1.0, 2.0, 0.0, True, "none"), nn.TripletMarginLoss(1.0, 2.0, 0.0, True,
           reduction="none"), (a, pos, neg), 3, np.float64)


def test_several_input_losses_refuse_a_parameter_label():
    y = mt.Parameter(np.ones(3))
    with pytest.raises(TypeError, match=r"MarginRankingLoss: 'target' is a Parameter that requires grad"):
        mt.MarginRankingLoss()(np.zeros(3), np.ones(3), y)


# --- fit ------------------------------------------------------------------------------------------
def test_fit_trains_with_a_single_input_loss_as_the_written_loop():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.poisson(2.0, (8, 2)).astype(float)
    mt.manual_seed(0)
    model = mt.Linear(3, 2).to(np.float64)
    twin = mt.Linear(3, 2).to(np.float64)
    twin.load_state_dict(model.state_dict())
    mt.fit(model, mt.PoissonNLLLoss(), mt.SGD(model.parameters(), lr=0.1), [(X, y)], epochs=2, verbose=0)
    loss_fn, opt = mt.PoissonNLLLoss(), mt.SGD(twin.parameters(), lr=0.1)
    for _ in range(2):
        loss_fn(twin(X), y)
        twin.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    np.testing.assert_allclose(model.W.data, twin.W.data, rtol=1e-12)
    assert not np.allclose(model.W.data, mt.Linear(3, 2).W.data)


@pytest.mark.parametrize("loss_fn, names", [
    (mt.GaussianNLLLoss(), "input, target, var"), (mt.MarginRankingLoss(), "input1, input2, target"),
    (mt.CosineEmbeddingLoss(), "input1, input2, target"),
    (mt.TripletMarginLoss(), "anchor, positive, negative"),
], ids=lambda v: type(v).__name__ if isinstance(v, mt.Loss) else "")
def test_fit_and_evaluate_refuse_a_loss_of_three_inputs_by_name(loss_fn, names):
    model, X, y = mt.Linear(3, 1), np.zeros((4, 3)), np.zeros((4, 1))
    cls = type(loss_fn).__name__
    with pytest.raises(TypeError, match=rf"^fit: {cls} takes 3 inputs \({names}\) and fit calls "
                                        r"loss_fn\(output, yb\) with two"):
        mt.fit(model, loss_fn, mt.SGD(model.parameters(), lr=0.1), [(X, y)], epochs=1, verbose=0)
    with pytest.raises(TypeError, match=rf"^evaluate: {cls} takes 3 inputs"):
        mt.evaluate(model, loss_fn, X, y)


# --- bad input ------------------------------------------------------------------------------------
Z = np.zeros
BAD = [
    (lambda: mt.PoissonNLLLoss(log_input=False)(np.array([-0.5, 1.0]), Z(2)), ValueError,
     r"PoissonNLLLoss: expected input rates >= 0 with log_input=False .*got a minimum of -0.5"),
    (lambda: mt.PoissonNLLLoss()(Z((2, 3)), Z((3, 2))), ValueError,
     r"PoissonNLLLoss: expected target of the input's shape \(2, 3\), got \(3, 2\)"),
    (lambda: mt.PoissonNLLLoss(log_input=1), TypeError, r"PoissonNLLLoss: log_input must be True or False"),
    (lambda: mt.GaussianNLLLoss()(Z((4, 3)), Z((4, 3)), np.ones((1, 1, 3))), ValueError,
     r"GaussianNLLLoss: var is of incorrect size: expected the input's shape \(4, 3\).*got \(1, 1, 3\)"),
    (lambda: mt.GaussianNLLLoss()(Z((4, 3)), Z((4, 3)), np.ones(3)), ValueError,
     r"GaussianNLLLoss: var is of incorrect size.* or \(4,\) \(one variance per row\), got \(3,\)"),
    (lambda: mt.GaussianNLLLoss()(Z((4, 3)), Z((4, 3)), np.array([[-1.0]] * 4)), ValueError,
     r"GaussianNLLLoss: expected var >= 0 \(variances\), got a minimum of -1.0"),
    (lambda: mt.GaussianNLLLoss()(Z((4, 3)), Z((4, 3)), np.ones((4, 3), dtype=int)), TypeError,
     r"GaussianNLLLoss: expected a floating var \(variances\), got dtype int64"),
    (lambda: mt.GaussianNLLLoss()(Z((4, 3)), Z((5, 3)), np.ones((4, 3))), ValueError,
     r"GaussianNLLLoss: expected a target broadcastable to the input's shape \(4, 3\), got \(5, 3\)"),
    (lambda: mt.GaussianNLLLoss()(Z(3), Z(3), np.array([1.0, np.nan, 1.0])), ValueError,
     r"GaussianNLLLoss: var contains NaN or inf"),
    (lambda: mt.SoftMarginLoss()(Z(3), Z(4)), ValueError,
     r"SoftMarginLoss: expected target of the input's shape \(3,\), got \(4,\)"),
    (lambda: mt.HingeEmbeddingLoss(margin="1"), TypeError, r"HingeEmbeddingLoss: margin must be a number"),
    (lambda: mt.MultiLabelSoftMarginLoss()(Z(()), Z(())), ValueError,
     r"MultiLabelSoftMarginLoss: expected scores \(N, C\) or \(C,\) with a class axis, got shape \(\)"),
    (lambda: mt.MultiLabelSoftMarginLoss(weight=np.ones(4))(Z((2, 3)), Z((2, 3))), ValueError,
     r"MultiLabelSoftMarginLoss: weight of shape \(4,\) does not broadcast to the input's shape \(2, 3\)"),
    (lambda: mt.MultiMarginLoss(p=3), ValueError, r"MultiMarginLoss: p must be one of \(1, 2\), got 3"),
    (lambda: mt.MultiMarginLoss(weight=np.ones((2, 2))), ValueError,
     r"MultiMarginLoss: expected weight to be None or 1-D \(one per class\), got shape \(2, 2\)"),
    (lambda: mt.MultiMarginLoss(weight=np.ones(3))(Z((2, 4)), np.array([0, 1])), ValueError,
     r"MultiMarginLoss: weight has shape \(3,\), the input has 4 classes"),
    (lambda: mt.MultiMarginLoss(weight=np.ones(4))(Z((2, 4), dtype=np.float32), np.array([0, 1])), TypeError,
     r"MultiMarginLoss: weight is float64, the input is float32"),
    (lambda: mt.MultiMarginLoss()(Z((2, 4)), np.array([0, 4])), ValueError,
     r"MultiMarginLoss: class indices must lie in \[0, 4\), got values in \[0, 4\]"),
    (lambda: mt.MultiMarginLoss()(Z((2, 4)), np.array([0.0, 1.0])), ValueError,
     r"MultiMarginLoss: expected integer class indices, got dtype float64"),
    (lambda: mt.MultiMarginLoss()(Z((2, 4)), np.array([0, 1, 2])), ValueError,
     r"MultiMarginLoss: expected target class indices of shape \(2,\) for input \(2, 4\), got \(3,\)"),
    (lambda: mt.MultiMarginLoss()(Z((2, 3, 4)), Z((2, 3), dtype=int)), ValueError,
     r"MultiMarginLoss: expected scores \(N, C\) or unbatched \(C,\) with C >= 1, got shape \(2, 3, 4\)"),
    (lambda: mt.MultiLabelMarginLoss()(Z((1, 3)), np.array([[0, -1, 3]])), ValueError,
     r"MultiLabelMarginLoss: target values must lie in \[-1, 3\) .*got values in \[-1, 3\]"),
    (lambda: mt.MultiLabelMarginLoss()(Z((1, 3)), np.array([[-2, 0, 1]])), ValueError,
     r"MultiLabelMarginLoss: target values must lie in \[-1, 3\)"),
    (lambda: mt.MultiLabelMarginLoss()(Z((1, 3)), np.array([0, 1, -1])), ValueError,
     r"MultiLabelMarginLoss: expected target of the input's shape \(1, 3\) .*got \(3,\)"),
    (lambda: mt.MarginRankingLoss()(Z(3), Z(3), Z(2)), ValueError,
     r"MarginRankingLoss: expected input1, input2 and target of one shape, got \(3,\), \(3,\) and \(2,\)"),
    (lambda: mt.CosineEmbeddingLoss()(Z((2, 3)), Z((2, 3)), Z((2, 1))), ValueError,
     r"CosineEmbeddingLoss: expected input1 and input2 \(N, D\) with target \(N,\).*target \(2, 1\)"),
    (lambda: mt.TripletMarginLoss(margin=0.0), ValueError,
     r"TripletMarginLoss: margin must be a number in \(0, inf\), got 0.0"),
    (lambda: mt.TripletMarginLoss(p=0.5), ValueError, r"TripletMarginLoss: p must be a number in \[1, inf\)"),
    (lambda: mt.TripletMarginLoss()(Z((2, 3)), Z((2, 3)), Z((2, 4))), ValueError,
     r"TripletMarginLoss: expected anchor, positive and negative of one shape.*\(2, 4\)"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_names_what_was_expected_and_what_came(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_torch_refuses_what_is_refused_here():
    """The refusals that mirror torch's own: each raises in torch 2.13 too."""
    for call in (lambda: nn.GaussianNLLLoss()(torch.zeros(4, 3), torch.zeros(4, 3), torch.ones(1, 1, 3)),
                 lambda: nn.GaussianNLLLoss()(torch.zeros(3), torch.zeros(3), -torch.ones(3)),
                 lambda: nn.MultiMarginLoss(p=3),
                 lambda: nn.MultiMarginLoss()(torch.zeros(2, 4), torch.tensor([0, 4])),
                 lambda: nn.MultiMarginLoss(weight=torch.ones(4, dtype=torch.float64))(torch.zeros(2, 4),
                                                                                       torch.tensor([0, 1])),
                 lambda: nn.MultiLabelMarginLoss()(torch.zeros(1, 3), torch.tensor([[0, -1, 3]])),
                 lambda: nn.TripletMarginLoss(margin=0.0)(*torch.zeros(3, 2, 3))):
        with pytest.raises((ValueError, RuntimeError)):
            call()


NEW_LOSSES = [mt.PoissonNLLLoss, mt.GaussianNLLLoss, mt.SoftMarginLoss, mt.HingeEmbeddingLoss,
              mt.MultiLabelSoftMarginLoss, mt.MultiMarginLoss, mt.MultiLabelMarginLoss, mt.MarginRankingLoss,
              mt.CosineEmbeddingLoss, mt.TripletMarginLoss]


@pytest.mark.parametrize("cls", NEW_LOSSES, ids=lambda c: c.__name__)
def test_defaults_are_torchs(cls):
    ours, theirs = cls(), getattr(nn, cls.__name__)()
    assert ours.reduction == theirs.reduction == "mean"
    for name in ("log_input", "full", "eps", "margin", "p", "swap"):
        if hasattr(theirs, name):
            assert getattr(ours, name) == getattr(theirs, name), name
    with pytest.raises(RuntimeError, match="before forward"):
        cls().backward()


# --- the contract of the losses of three inputs (tests/test_contract_registry.py checks the others) ---
def _three(cls, rng, n):
    if cls is mt.GaussianNLLLoss:
        return rng.standard_normal((n, 3)), rng.standard_normal((n, 3)), rng.uniform(0.5, 2, (n, 1))
    if cls is mt.TripletMarginLoss:
        return tuple(rng.standard_normal((3, n, 3)))
    if cls is mt.CosineEmbeddingLoss:
        return rng.standard_normal((n, 3)), rng.standard_normal((n, 3)), rng.choice([-1, 1], n)
    return rng.standard_normal(n), rng.standard_normal(n), rng.choice([-1.0, 1.0], n)


THREE = [mt.GaussianNLLLoss, mt.MarginRankingLoss, mt.CosineEmbeddingLoss, mt.TripletMarginLoss]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("cls", THREE, ids=lambda c: c.__name__)
def test_one_loss_of_three_inputs_for_two_terms_gives_both_gradients_newest_first(cls, reduction):
    rng = np.random.default_rng(0)
    first, second = _three(cls, rng, 4), _three(cls, rng, 3)
    loss_fn = cls(reduction=reduction)
    l1, l2 = loss_fn(*first), loss_fn(*second)
    dl1, dl2 = (rng.standard_normal(np.shape(loss)) if reduction == "none" else 0.7 for loss in (l1, l2))
    g2, g1 = loss_fn.backward(dl2), loss_fn.backward(dl1)
    for inputs, dl, got in ((first, dl1, g1), (second, dl2, g2)):
        alone = cls(reduction=reduction)
        alone(*inputs)
        for a, b in zip(got, alone.backward(dl), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}\.backward\(\) called before forward"):
        loss_fn.backward(dl1)


@pytest.mark.parametrize("cls", THREE, ids=lambda c: c.__name__)
def test_a_loss_of_three_inputs_under_no_grad_keeps_nothing(cls):
    loss_fn = cls()
    with mt.no_grad():
        loss_fn(*_three(cls, np.random.default_rng(0), 4))
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}\.backward"):
        loss_fn.backward()


@pytest.mark.parametrize("cls, edits", [
    (mt.GaussianNLLLoss, {"full": True, "eps": 0.9}), (mt.MarginRankingLoss, {"margin": 0.4}),
    (mt.CosineEmbeddingLoss, {"margin": -0.3}),
    (mt.TripletMarginLoss, {"margin": 0.3, "p": 1.0, "swap": True}),
], ids=lambda v: v.__name__ if isinstance(v, type) else ",".join(v))
def test_a_setting_of_a_three_input_loss_edited_after_construction_is_read_at_the_call(cls, edits):
    inputs = _three(cls, np.random.default_rng(0), 4)
    edited, fresh = cls(), cls(**edits)
    for name, value in edits.items():
        setattr(edited, name, value)
    assert edited(*inputs) == fresh(*inputs)
    for a, b in zip(edited.backward(), fresh.backward(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_gradcheck_of_a_three_input_loss_names_the_input_whose_gradient_is_wrong():
    class WrongSecond(mt.MarginRankingLoss):
        def backward(self, dloss=1.0):
            dx1, dx2 = super().backward(dloss)
            return dx1, 0.5 * dx2

    rng = np.random.default_rng(0)
    x1, x2, y = rng.standard_normal(4), rng.standard_normal(4), np.ones(4)
    gradcheck(mt.MarginRankingLoss(margin=5.0), x1, x2, y)
    with pytest.raises(mt.GradcheckError, match=r"WrongSecond gradient of inputs\[1\] at index"):
        gradcheck(WrongSecond(margin=5.0), x1, x2, y)
