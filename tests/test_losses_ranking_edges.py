"""The several-input and class-margin losses where torch 2.13 computes what MiniTorch refused: the
max norm (p = inf) and inputs of any one ndim that broadcast in TripletMarginLoss, broadcast inputs
and targets in CosineEmbeddingLoss and MarginRankingLoss, a 0-d score in MultiMarginLoss and
MultiLabelMarginLoss (one class), labels outside [0, 1] in MultiLabelSoftMarginLoss and
BCEWithLogitsLoss; and where torch refuses what MiniTorch computed: a bool target of +1 / -1 labels
in MarginRankingLoss and SoftMarginLoss (False is no -1). Oracle: torch on the same arrays, the
loss with each reduction and every graded input's gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import minitorch as mt

REDUCTIONS = ["mean", "sum", "none"]


def _compare(name, settings, arrays, graded, seed=0):
    """Loss and the first ``graded`` inputs' gradients, MiniTorch against torch, each reduction."""
    for reduction in REDUCTIONS:
        kw = {**settings, "reduction": reduction}
        tensors = [torch.tensor(a, requires_grad=i < graded) for i, a in enumerate(arrays)]
        their = getattr(torch.nn, name)(**kw)(*tensors)
        dl = np.random.default_rng(seed).standard_normal(tuple(their.shape))
        their.backward(torch.tensor(dl))
        loss_fn = getattr(mt, name)(**kw)
        loss = np.asarray(loss_fn(*arrays))
        grads = loss_fn.backward(dl if reduction == "none" else float(dl))
        grads = grads if isinstance(grads, tuple) else (grads,)
        what = f"{name} {settings} {[np.shape(a) for a in arrays]} {reduction}"
        assert loss.shape == tuple(their.shape), what
        np.testing.assert_allclose(loss, their.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=what)
        for g, t in zip(grads, tensors[:graded], strict=True):
            assert g.shape == tuple(t.shape), what
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=what)


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_max_norm_as_torch(swap):
    rng = np.random.default_rng(1)
    triplet = [rng.standard_normal((4, 3)) for _ in range(3)]
    _compare("TripletMarginLoss", {"p": math.inf, "swap": swap}, triplet, 3)
    # ties at the max share its slope, as torch's amax backward
    _compare("TripletMarginLoss", {"p": math.inf, "eps": 0.0, "margin": 5.0, "swap": swap},
             [np.zeros((1, 2)), np.array([[1.0, -1.0]]), np.array([[3.0, 3.0]])], 3)


@pytest.mark.parametrize("shapes", [((2, 3, 4),) * 3, ((3, 4), (1, 4), (3, 4)), ((3, 1), (3, 4), (3, 4)),
                                    ((2, 1, 4), (1, 3, 4), (2, 3, 1)), ((), (), ()), ((4,), (4,), (1,))])
@pytest.mark.parametrize("p", [2.0, 1.0, math.inf])
def test_triplet_of_any_one_ndim_broadcast_as_torch(shapes, p):
    rng = np.random.default_rng(2)
    _compare("TripletMarginLoss", {"p": p, "swap": True}, [rng.standard_normal(s) for s in shapes], 3)


@pytest.mark.parametrize("shapes", [((3, 4), (1, 4), (3,)), ((3, 4), (3, 4), (1,)), ((1, 4), (1, 4), (3,)),
                                    ((3, 4), (3, 1), (3,)), ((3, 1), (1, 4), (3,)), ((4,), (1,), ())])
def test_cosine_embedding_broadcast_as_torch(shapes):
    rng = np.random.default_rng(3)
    s1, s2, sy = shapes
    y = np.where(rng.random(sy) < 0.5, -1.0, 1.0)
    x1, x2 = rng.standard_normal(s1), rng.standard_normal(s2)
    _compare("CosineEmbeddingLoss", {"margin": -0.5}, [x1, x2, y], 2)


@pytest.mark.parametrize("shapes", [((3,), (1,), (3,)), ((3, 4), (3, 1), (1, 4)), ((), (), ())])
def test_margin_ranking_broadcast_as_torch(shapes):
    rng = np.random.default_rng(4)
    s1, s2, sy = shapes
    y = np.where(rng.random(sy) < 0.5, -1.0, 1.0)
    _compare("MarginRankingLoss", {"margin": 0.3}, [rng.standard_normal(s1), rng.standard_normal(s2), y], 2)


@pytest.mark.parametrize("name, shapes, torch_error", [
    ("TripletMarginLoss", ((3, 4), (4,), (3, 4)), "same number of dimensions"),
    ("TripletMarginLoss", ((3, 4), (3, 4), (2, 4)), "must match the size"),
    ("CosineEmbeddingLoss", ((2, 3, 4), (2, 3, 4), (2, 3)), "multi-target not supported"),
    ("CosineEmbeddingLoss", ((3, 4), (4,), (3,)), "1D target tensor expects 2D input tensors"),
    ("MarginRankingLoss", ((3, 4), (3, 4), (4,)), "should have same dimension")])
def test_shapes_torch_refuses_are_refused(name, shapes, torch_error):
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises(RuntimeError, match=torch_error):
        getattr(torch.nn, name)()(*(torch.tensor(a) for a in arrays))
    with pytest.raises(ValueError, match=rf"{name}: expected"):
        getattr(mt, name)()(*arrays)


def test_a_bool_label_target_is_refused_as_torch():
    """MarginRankingLoss's -target refuses a bool tensor in torch's forward; MiniTorch read False as 0
    (not -1): a silently other loss."""
    arrays = [np.ones(3), np.zeros(3), np.array([True, False, True])]
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        torch.nn.MarginRankingLoss()(*(torch.tensor(a) for a in arrays))
    with pytest.raises(TypeError, match=r"MarginRankingLoss: target is bool.*np.where\(target, 1, -1\)"):
        mt.MarginRankingLoss()(*arrays)


def test_softmargin_with_a_bool_target_computes_the_loss_and_refuses_the_gradient_as_torch():
    """torch's forward reads False as 0 (log 2 where x = 0); its backward's -target refuses the bool."""
    x, y = np.array([1.0, 0.0, -2.0]), np.array([True, False, True])
    x_t = torch.tensor(x, requires_grad=True)
    their = torch.nn.SoftMarginLoss(reduction="none")(x_t, torch.tensor(y))
    loss_fn = mt.SoftMarginLoss(reduction="none")
    np.testing.assert_allclose(loss_fn(x, y), their.detach().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        their.sum().backward()
    with pytest.raises(TypeError, match=r"SoftMarginLoss.backward: target is bool.*np.where\(target, 1"):
        loss_fn.backward(np.ones(3))


@pytest.mark.parametrize("name, target", [
    ("MultiMarginLoss", np.array(0)), ("MultiMarginLoss", np.array([0])),
    ("MultiLabelMarginLoss", np.array(0)), ("MultiLabelMarginLoss", np.array([-1]))])
def test_a_0d_score_is_one_class_as_torch(name, target):
    _compare(name, {}, [np.array(0.7), target], 1)


def test_an_unbatched_one_class_multilabel_margin_takes_a_0d_target_as_torch():
    _compare("MultiLabelMarginLoss", {}, [np.array([0.7]), np.array(0)], 1)


@pytest.mark.parametrize("name", ["MultiLabelSoftMarginLoss", "BCEWithLogitsLoss"])
def test_labels_outside_0_1_are_read_by_the_formula_as_torch(name):
    rng = np.random.default_rng(5)
    _compare(name, {}, [rng.standard_normal((2, 3)), np.array([[2.0, -0.5, 1.0], [0.0, 3.0, -1.0]])], 1)


def test_the_new_gradient_paths_pass_gradcheck():
    rng = np.random.default_rng(6)
    for p in (math.inf, 2.0):
        triplet = rng.standard_normal((3, 1)), rng.standard_normal((1, 4)), rng.standard_normal((3, 4))
        loss_fn = mt.TripletMarginLoss(p=p, swap=True, reduction="sum")
        assert mt.gradcheck(loss_fn, *triplet, atol=1e-7, rtol=1e-6)
    y = np.array([1.0, -1.0, 1.0])
    assert mt.gradcheck(mt.CosineEmbeddingLoss(-0.9, "none"), rng.standard_normal((3, 1)),
                        rng.standard_normal((1, 4)), y, atol=1e-7, rtol=1e-6)
    x1, x2 = rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    y = np.where(rng.random((1, 4)) < 0.5, -1.0, 1.0)
    assert mt.gradcheck(mt.MarginRankingLoss(0.3, "sum"), x1, x2, y, atol=1e-7, rtol=1e-6)
