"""The PyTorch options of the class losses (issue 15): weight, ignore_index, (N, C, d1, ...) and
unbatched inputs, pos_weight, KLDivLoss; each over a hypothesis grid of its options, proven by a
float64 gradcheck and the PyTorch oracle (tests/oracle.py ``compare_loss``, float64 tight and
float32 with the dtype kept)."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracle import compare_loss

import minitorch as mt

TOLERANCES = [(np.float64, 1e-10, 1e-12), (np.float32, 2e-5, 2e-6)]
reductions = st.sampled_from(["mean", "sum", "none"])
grid = settings(max_examples=40, deadline=None)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


@st.composite
def class_problems(draw, probabilities_allowed: bool = True):
    """(options, scores (N, C, *d) or (C,), target) for CrossEntropyLoss / NLLLoss."""
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    c = draw(st.integers(1, 4))
    unbatched = draw(st.booleans())
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    shape = (c,) if unbatched else (draw(st.integers(1, 3)), c, *extra)
    z = rng.standard_normal(shape) * draw(st.sampled_from([0.5, 3.0]))
    probabilities = probabilities_allowed and draw(st.booleans())
    # probabilities: torch takes any negative ignore_index (and ignores it), refuses one >= 0
    ignore_index = draw(st.sampled_from([-100, -1] if probabilities else [-100, 0, c - 1, 7]))
    weight = rng.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    if weight is not None:  # zero weights: a batch whose counted targets all weigh 0 (mean = nan)
        weight[rng.random(c) < draw(st.sampled_from([0.0, 0.5]))] = 0.0
    options = {"reduction": draw(reductions), "weight": weight, "ignore_index": ignore_index}
    if probabilities:
        target = rng.dirichlet(np.ones(c), size=shape[:1] + shape[2:] if not unbatched else None)
        target = np.moveaxis(target, -1, 1) if not unbatched else target
    else:
        index_shape = () if unbatched else shape[:1] + shape[2:]
        target = rng.integers(0, c, index_shape)
        ignored = rng.random(index_shape) < draw(st.sampled_from([0.0, 0.3, 1.0]))
        target = np.where(ignored, ignore_index, target)
    return options, z, target


def _all_ignored(options: dict, target: np.ndarray) -> bool:
    """No class-index target counts: each is ignored or weighs 0 (mean = 0 / 0 = nan, no slope)."""
    if target.dtype.kind not in "iu":
        return False
    counted = target[target != options["ignore_index"]]
    weight = options["weight"]
    return counted.size == 0 or (weight is not None and not weight[counted].any())


@grid
@given(problem=class_problems(), smoothing=st.sampled_from([0.0, 0.1, 0.6]))
@pytest.mark.parametrize("dtype, rtol, atol", TOLERANCES)
def test_cross_entropy_options_match_torch(problem, smoothing, dtype, rtol, atol):
    options, z, target = problem
    loss_fn = mt.CrossEntropyLoss(label_smoothing=smoothing, **options).to(dtype)  # weight in z's dtype
    target = target.astype(dtype) if target.dtype.kind == "f" else target
    compare_loss(loss_fn, z.astype(dtype), target, rtol, atol)


@grid
@given(problem=class_problems(), smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_options_gradcheck(problem, smoothing):
    options, z, target = problem
    assume(not (options["reduction"] == "mean" and _all_ignored(options, target)))  # nan: no slope
    assert mt.gradcheck(mt.CrossEntropyLoss(label_smoothing=smoothing, **options), z, target,
                        atol=1e-7, rtol=1e-6)


@grid
@given(problem=class_problems(probabilities_allowed=False))
@pytest.mark.parametrize("dtype, rtol, atol", TOLERANCES)
def test_nll_options_match_torch(problem, dtype, rtol, atol):
    options, z, target = problem
    x = _log_softmax(z[None] if z.ndim == 1 else z)
    x = (x[0] if z.ndim == 1 else x).astype(dtype)
    compare_loss(mt.NLLLoss(**options).to(dtype), x, target, rtol, atol)


@grid
@given(problem=class_problems(probabilities_allowed=False))
def test_nll_options_gradcheck(problem):
    options, z, target = problem
    assume(not (options["reduction"] == "mean" and _all_ignored(options, target)))
    assert mt.gradcheck(mt.NLLLoss(**options), z, target, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("cls", [mt.CrossEntropyLoss, mt.NLLLoss])
def test_weighted_mean_divides_by_the_weights_of_the_counted_targets(cls):
    """torch's 'mean' with weights: sum(w[y] * l) / sum(w[y]) over the targets not ignored."""
    z = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]))
    y = np.array([0, 1, 2])
    w = np.array([1.0, 2.0, 5.0])
    loss_fn = cls(weight=w, ignore_index=2)
    expected = (1.0 * -np.log(0.7) + 2.0 * -np.log(0.8)) / (1.0 + 2.0)
    assert loss_fn(z, y) == pytest.approx(expected, rel=1e-12)
    assert cls(weight=w)(z, y) == pytest.approx(
        (-np.log(0.7) - 2 * np.log(0.8) - 5 * np.log(0.4)) / 8.0, rel=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls", ["CrossEntropyLoss", "NLLLoss"])
def test_every_target_ignored_gives_nan_mean_and_zero_gradient_as_torch(cls, weighted, smoothing):
    z = np.random.default_rng(0).standard_normal((3, 4))
    y = np.full(3, -100)
    options = {"weight": np.arange(1.0, 5.0)} if weighted else {}
    if cls == "CrossEntropyLoss":
        options["label_smoothing"] = smoothing
    loss_fn = getattr(mt, cls)(**options)
    loss = loss_fn(z, y)
    assert math.isnan(loss)
    np.testing.assert_array_equal(loss_fn.backward(), np.zeros((3, 4)))
    assert getattr(mt, cls)(reduction="sum", **options)(z, y) == 0.0
    compare_loss(getattr(mt, cls)(**options), z, y, 1e-12, 1e-12)


@pytest.mark.parametrize("cls, smoothing",
                         [("CrossEntropyLoss", 0.0), ("CrossEntropyLoss", 0.3), ("NLLLoss", 0.0)])
def test_counted_targets_that_all_weigh_zero_give_torchs_nan_mean_and_nan_gradient(cls, smoothing):
    """sum(w[y]) = 0 with targets counted: torch's mean is nan (never the smoothing term's x / 0 = inf)
    and its gradient nan on the counted samples (CrossEntropy: the whole row; NLL: the target entry),
    0 on the ignored ones; not the all-ignored case's 0 gradient."""
    z = np.random.default_rng(0).standard_normal((4, 3, 2))
    y = np.array([[0, 0], [2, 0], [0, 2], [2, 2]])  # class 2 ignored, class 0 weighs 0
    options = {"weight": np.array([0.0, 1.0, 3.0]), "ignore_index": 2}
    if cls == "CrossEntropyLoss":
        options["label_smoothing"] = smoothing
    loss_fn = getattr(mt, cls)(**options)
    assert math.isnan(loss_fn(z, y))
    dz = loss_fn.backward()
    counted = np.broadcast_to((y != 2)[:, None, :], z.shape)
    assert np.isnan(dz[counted]).any() and (dz[~counted] == 0).all()
    compare_loss(getattr(mt, cls)(**options), z, y, 1e-12, 1e-12)


def test_ignored_targets_get_no_gradient_and_other_targets_keep_theirs():
    z = np.random.default_rng(1).standard_normal((4, 3, 2))
    y = np.array([[0, -1], [2, 1], [-1, -1], [1, 0]])
    loss_fn = mt.CrossEntropyLoss(ignore_index=-1, reduction="sum")
    loss_fn(z, y)
    dz = loss_fn.backward()
    np.testing.assert_array_equal(dz[2], 0.0)
    np.testing.assert_array_equal(dz[0, :, 1], 0.0)
    assert np.abs(dz[1]).min() > 0


def test_kernel_and_plain_forms_agree_for_the_options():
    """With weight or ignored targets the loss leaves the fast room; both forms give one answer."""
    z = np.random.default_rng(2).standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    plain = mt.CrossEntropyLoss(weight=np.ones(4), ignore_index=7)
    fast = mt.CrossEntropyLoss()
    assert plain(z, y) == pytest.approx(fast(z, y), rel=1e-15)
    np.testing.assert_allclose(plain.backward(), fast.backward(), rtol=1e-15, atol=1e-17)


@pytest.mark.parametrize("call, message", [
    (lambda: mt.CrossEntropyLoss(weight=np.ones(3))(np.zeros((2, 4)), np.array([0, 1])),
     r"CrossEntropyLoss: weight has 3 entries, the input has 4 classes"),
    (lambda: mt.NLLLoss(weight=np.ones((2, 2))), r"NLLLoss: weight must be a 1-D array"),
    (lambda: mt.NLLLoss(weight=np.array([1.0, np.nan])), r"NLLLoss: weight contains NaN"),
    (lambda: mt.CrossEntropyLoss(ignore_index=1.5), r"ignore_index must be an integer"),
    (lambda: mt.CrossEntropyLoss(ignore_index=0)(np.zeros((2, 3)), np.full((2, 3), 1 / 3)),
     r"ignore_index=0 applies to class indices, not to class probability targets \(as torch, which takes a "
     r"negative one"),
    (lambda: mt.CrossEntropyLoss()(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)),
     r"expected target class indices \(2, 4\), got shape \(2, 3\)"),
    (lambda: mt.NLLLoss(ignore_index=5)(np.zeros((2, 3)), np.array([5, -100])),
     r"class indices must lie in \[0, 3\), got values in \[-100, -100\] \(targets equal to ignore_index=5"),
    (lambda: mt.NLLLoss()(np.zeros(3), np.array([0])), r"unbatched \(C,\) input takes a class index \(\)"),
    (lambda: mt.BCEWithLogitsLoss(pos_weight=np.ones(3))(np.zeros((2, 4)), np.zeros((2, 4))),
     r"BCEWithLogitsLoss: pos_weight of shape \(3,\) does not broadcast to the input's shape \(2, 4\)"),
    (lambda: mt.BCELoss(weight=np.ones((3, 1, 1)))(np.zeros((2, 4)), np.zeros((2, 4))),
     r"BCELoss: weight of shape \(3, 1, 1\) does not broadcast"),
    (lambda: mt.BCELoss(weight=np.array([1.0, np.nan])), r"BCELoss: weight contains NaN or inf"),
    (lambda: mt.BCEWithLogitsLoss(pos_weight=np.array([np.inf])),
     r"BCEWithLogitsLoss: pos_weight contains NaN"),
    (lambda: mt.KLDivLoss()(np.zeros(2), np.array([0.5, -0.5])),
     r"KLDivLoss: expected target probabilities >= 0"),
    (lambda: mt.KLDivLoss(reduction="avg"),
     r"reduction must be one of \('mean', 'sum', 'none', 'batchmean'\)"),
    (lambda: mt.MSELoss(reduction="batchmean"),
     r"MSELoss: reduction must be one of \('mean', 'sum', 'none'\)"),
    (lambda: mt.KLDivLoss(log_target=1), r"KLDivLoss: log_target must be True or False"),
])
def test_option_errors_name_the_loss_and_what_came(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_class_weights_are_buffers_as_in_torch():
    loss_fn = mt.CrossEntropyLoss(weight=[1, 2, 3])
    assert list(loss_fn.state_dict()) == list(torch.nn.CrossEntropyLoss(weight=torch.ones(3)).state_dict())
    assert loss_fn.weight.dtype == np.float32  # integers become the default dtype, as a new tensor would
    assert loss_fn.to(np.float64).weight.dtype == np.float64
    loss_fn = mt.NLLLoss(weight=np.array([1.0, 0.5]), ignore_index=0)
    assert repr(loss_fn) == "NLLLoss(weight=[1.  0.5], ignore_index=0)"


def test_binary_weights_show_in_the_repr_only_when_given():
    """mutants2: _weights_repr could lose its getattr or invert its ``is None`` unnoticed."""
    assert repr(mt.BCELoss()) == "BCELoss()"
    assert repr(mt.BCELoss(weight=np.array([2.0, 0.5]))) == "BCELoss(weight=[2.  0.5])"
    assert repr(mt.BCEWithLogitsLoss(pos_weight=np.array([3.0]))) == "BCEWithLogitsLoss(pos_weight=[3.])"
    both = mt.BCEWithLogitsLoss(weight=np.array([1.0, 2.0]), pos_weight=np.array([3.0]))
    assert repr(both) == "BCEWithLogitsLoss(weight=[1. 2.], pos_weight=[3.])"


# --- binary cross-entropy with weights, KLDivLoss -------------------------------------------------
@st.composite
def binary_problems(draw):
    """(options, x, t) for BCELoss / BCEWithLogitsLoss with weight / pos_weight broadcast as torch."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    per_sample = shape[:1] + (1,) * (len(shape) - 1)
    weight_shape = draw(st.sampled_from([None, shape, shape[-1:], (1,) * len(shape), per_sample, ()]))
    pos_shape = draw(st.sampled_from([None, shape[-1:], shape, ()]))
    options = {"reduction": draw(reductions)}
    if weight_shape is not None:
        options["weight"] = rng.uniform(0.0, 2.0, weight_shape)
    x = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 5.0]))
    t = np.where(rng.random(shape) < 0.5, rng.uniform(0, 1, shape), rng.integers(0, 2, shape).astype(float))
    return options, pos_shape, rng, x, t


@grid
@given(problem=binary_problems())
@pytest.mark.parametrize("dtype, rtol, atol", TOLERANCES)
def test_bce_with_logits_weights_match_torch(problem, dtype, rtol, atol):
    options, pos_shape, rng, x, t = problem
    if pos_shape is not None:
        options["pos_weight"] = rng.uniform(0.1, 4.0, pos_shape)
    compare_loss(mt.BCEWithLogitsLoss(**options), x.astype(dtype), t.astype(dtype), rtol, atol)


@grid
@given(problem=binary_problems())
def test_bce_with_logits_weights_gradcheck(problem):
    options, pos_shape, rng, x, t = problem
    if pos_shape is not None:
        options["pos_weight"] = rng.uniform(0.1, 4.0, pos_shape)
    assert mt.gradcheck(mt.BCEWithLogitsLoss(**options), x, t, atol=1e-7, rtol=1e-6)


@grid
@given(problem=binary_problems())
@pytest.mark.parametrize("dtype, rtol, atol", TOLERANCES)
def test_bce_weight_matches_torch_and_gradcheck(problem, dtype, rtol, atol):
    options, _, _, x, t = problem
    p = 1 / (1 + np.exp(-x))
    p = np.clip(p, 0.01, 0.99)  # the slope of log(p) near 0 and 1 is too steep for central differences
    compare_loss(mt.BCELoss(**options), p.astype(dtype), t.astype(dtype), rtol * 10, atol)
    if dtype == np.float64:
        assert mt.gradcheck(mt.BCELoss(**options), p, t, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("options", [{"weight": np.array(0.5)}, {"pos_weight": np.array(3.0)},
                                     {"weight": np.array(2.0), "pos_weight": np.array(0.25)},
                                     {"weight": np.array(0.5), "pos_weight": np.array([1.0, 2.0, 3.0])}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_0d_weights_match_torch(options, reduction):
    """A 0-d weight or pos_weight is one weight for every element, as torch broadcasts it (it was
    taken for the absent weight, 1, and the loss came out unweighted)."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)) * 2, rng.random((4, 3))
    compare_loss(mt.BCEWithLogitsLoss(reduction=reduction, **options), x, t, 1e-12, 1e-12)
    compare_loss(mt.BCELoss(reduction=reduction, weight=np.array(0.5)), 1 / (1 + np.exp(-x)), t, 1e-10, 1e-12)


def test_bce_with_logits_pos_weight_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
    t = np.array([[1.0, 0.0, 0.5], [1.0, 0.0, 1.0]])
    loss_fn = mt.BCEWithLogitsLoss(pos_weight=np.array([2.0, 0.5, 3.0]), weight=np.array([1.0, 2.0, 0.5]))
    compare_loss(loss_fn, x, t, 1e-12, 1e-12)
    compare_loss(mt.BCEWithLogitsLoss(pos_weight=np.array([2.0, 0.5, 3.0])), x.astype(np.float32),
                 t.astype(np.float32), 1e-6, 1e-7)


@grid
@given(seed=st.integers(0, 2**16), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       reduction=st.sampled_from(["mean", "sum", "none", "batchmean"]), log_target=st.booleans(),
       zeros=st.booleans())
@pytest.mark.parametrize("dtype, rtol, atol", TOLERANCES)
def test_kl_div_matches_torch_and_gradcheck(seed, shape, reduction, log_target, zeros, dtype, rtol, atol):
    rng = np.random.default_rng(seed)
    x = np.log(rng.dirichlet(np.ones(shape[-1]), size=tuple(shape[:-1])))
    t = rng.dirichlet(np.ones(shape[-1]), size=tuple(shape[:-1]))
    if zeros:  # xlogy(0, 0) = 0: a zero target contributes nothing, and no NaN
        t = np.where(rng.random(t.shape) < 0.4, 0.0, t)
    t = np.log(t + 0.1) if log_target else t
    loss_fn = mt.KLDivLoss(reduction=reduction, log_target=log_target)
    compare_loss(loss_fn, x.astype(dtype), t.astype(dtype), rtol, atol)
    if dtype == np.float64:
        assert mt.gradcheck(mt.KLDivLoss(reduction=reduction, log_target=log_target), x, t,
                            atol=1e-7, rtol=1e-6)


def test_kl_div_batchmean_is_the_kl_divergence_per_sample():
    p, q = np.array([[0.9, 0.1], [0.5, 0.5]]), np.array([[0.5, 0.5], [0.5, 0.5]])
    loss_fn = mt.KLDivLoss(reduction="batchmean")
    expected = (0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5)) / 2
    assert loss_fn(np.log(q), p) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(), -p / 2, rtol=1e-15)


# --- fit's default metric follows the loss's class axis and ignore_index ---------------------------
def test_default_accuracy_reads_the_class_axis_and_skips_ignored_targets():
    scores = np.zeros((2, 3, 4))  # (N, C, d): class 1 wins everywhere but at [0, :, 0] (class 2)
    scores[:, 1] = 1.0
    scores[0, 2, 0] = 2.0
    y = np.array([[2, 1, 0, -100], [1, 1, -100, -100]])
    (accuracy,) = mt.metrics.default_metrics(mt.CrossEntropyLoss())
    assert accuracy.__name__ == "accuracy"
    assert accuracy(y, scores) == pytest.approx(4 / 5)  # 5 counted targets, the class-0 one is wrong
    (accuracy,) = mt.metrics.default_metrics(mt.NLLLoss(ignore_index=1))
    assert accuracy(np.array([0, 1, 1]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])) == 1.0
    assert math.isnan(accuracy(np.array([1]), np.array([[1.0, 0.0]])))
    plain = mt.metrics.accuracy
    z, t = np.array([[0.2, 0.8], [0.1, 0.9]]), np.array([1, 0])
    assert accuracy(t, z) == 0.0 and plain(t, z) == 0.5  # the right class-1 target is ignored
    (accuracy,) = mt.metrics.default_metrics(mt.CrossEntropyLoss())
    assert accuracy(t, z) == plain(t, z)  # (N, C) with nothing ignored: the plain accuracy


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [mt.NLLLoss, mt.CrossEntropyLoss])
def test_fast_room_equals_the_plain_formula(cls, dtype, reduction):
    """The class-index kernels (no weight, nothing ignored) give the plain formula's numbers."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 5)).astype(dtype), rng.integers(0, 5, 7)
    dloss = rng.standard_normal(7).astype(dtype) if reduction == "none" else 0.7
    results = []
    for enabled in (True, False):
        mt.kernels.use_kernels(enabled)
        try:
            loss_fn = cls(reduction=reduction)
            loss = loss_fn(x, y)
            assert (loss_fn._wq is None) == enabled  # the kernel ran, or the plain formula did
            results.append((loss, loss_fn.backward(dloss)))
        finally:
            mt.kernels.use_kernels(True)
    (fast_loss, fast_dx), (plain_loss, plain_dx) = results
    np.testing.assert_array_equal(fast_loss, plain_loss)
    np.testing.assert_array_equal(fast_dx, plain_dx)
    assert fast_dx.dtype == plain_dx.dtype == dtype


def test_kl_div_warns_about_mean_as_torch_does() -> None:
    x, t = np.log(np.array([[0.5, 0.5]])), np.array([[0.9, 0.1]])
    with pytest.warns(UserWarning, match=r"reduction='batchmean' divides by the batch size only"):
        mt.KLDivLoss()(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("batchmean", "sum", "none"):
            mt.KLDivLoss(reduction=reduction)(x, t)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
                                  "L1Loss"])
def test_a_torch_positional_first_argument_names_the_keyword(name):
    """torch's ``nn.CrossEntropyLoss(w)`` passes class weights first; MiniTorch's losses take
    reduction first: the error names both and the keyword to use."""
    cls = getattr(mt, name)
    with pytest.raises(ValueError, match=rf"^{name}: reduction .*got array.*torch's first positional") as err:
        cls(np.ones(3))
    has_weight = "weight" in inspect.signature(cls).parameters
    assert (f"{name}(weight=w)" in str(err.value)) == has_weight
    with pytest.raises(ValueError, match=rf"^{name}: reduction .*got True"):
        cls(True)  # torch's deprecated size_average
