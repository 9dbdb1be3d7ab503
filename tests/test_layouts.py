"""Inputs with any memory layout give the same numbers (issue 11, item 1).

A transposed score matrix, ``.numpy()`` of a transposed torch tensor, a reversed or strided view:
NumPy hands these over without copying, and a write through ``reshape``/``ravel`` of such an
array lands in a copy and is lost. Every module case (tests/cases.py) and every loss case
(tests/test_losses.py) is run with its input and upstream gradient in each of ``LAYOUTS`` and
compared with the C-contiguous run: output, input gradient, every parameter gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import INPUT_CASES, LAYOUTS, MODULE_CASES
from test_losses import LOSS_CASES, make_data

import minitorch as mt
from minitorch.gradcheck import _upstream


@pytest.fixture(autouse=True)
def float64():
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)


def _run_module(factory, x, dy):
    mt.manual_seed(0)  # the same weights and dropout masks for both runs
    module = factory()
    y = module(x)
    dx = module.backward(dy)
    return y, dx, [p.grad.copy() for p in module.parameters()]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("factory, shape", [c[1:] for c in MODULE_CASES], ids=[c[0] for c in MODULE_CASES])
def test_module_gives_the_same_numbers_for_any_layout(factory, shape, layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    mt.manual_seed(0)
    dy = rng.standard_normal(factory()(x).shape)
    y, dx, grads = _run_module(factory, x, dy)
    y2, dx2, grads2 = _run_module(factory, LAYOUTS[layout](x), LAYOUTS[layout](dy))
    np.testing.assert_allclose(y2, y, rtol=1e-12, atol=1e-14, err_msg="output")
    np.testing.assert_allclose(dx2, dx, rtol=1e-12, atol=1e-14, err_msg="dx")
    for g2, g in zip(grads2, grads, strict=True):
        np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-14, err_msg="parameter gradient")


def _relayout(tree, layout):
    """Every floating array of a nested tuple laid out by ``layout`` (integer ids stay as they are)."""
    if isinstance(tree, tuple):
        return tuple(_relayout(item, layout) for item in tree)
    if isinstance(tree, np.ndarray) and tree.dtype.kind == "f" and tree.ndim:
        return layout(tree)
    return tree


def _leaves(tree):
    if isinstance(tree, tuple):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [] if tree is None else [np.asarray(tree)]


def _run_several(factory, inputs, upstream):
    mt.manual_seed(0)
    module = factory()
    out = module(*inputs)
    grads = module.backward(upstream)
    return _leaves(out) + _leaves(grads) + [p.grad.copy() for p in module.parameters()]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in INPUT_CASES],
                         ids=[c[0] for c in INPUT_CASES])
def test_several_input_module_gives_the_same_numbers_for_any_layout(factory, make_inputs, layout):
    inputs = make_inputs(np.random.default_rng(1))
    mt.manual_seed(0)
    upstream = _upstream(factory()(*inputs), np.random.default_rng(2), False)
    plain = _run_several(factory, inputs, upstream)
    relaid = LAYOUTS[layout]
    laid_out = _run_several(factory, _relayout(inputs, relaid), _relayout(upstream, relaid))
    assert len(laid_out) == len(plain)
    for a, b in zip(laid_out, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("ours, kind", [(c[1], c[3]) for c in LOSS_CASES], ids=[c[0] for c in LOSS_CASES])
def test_loss_gives_the_same_numbers_for_any_layout(ours, kind, reduction, layout):
    rng = np.random.default_rng(0)
    x, t = make_data(kind, rng)
    loss_fn = ours(reduction)
    loss = loss_fn(x, t)
    dloss = 1.0 if reduction == "mean" else rng.standard_normal(np.shape(loss))
    dx = loss_fn.backward(dloss)
    t2 = LAYOUTS[layout](t) if t.ndim == 2 else t
    loss2, dx2 = loss_fn(LAYOUTS[layout](x), t2), loss_fn.backward(dloss)
    np.testing.assert_allclose(loss2, loss, rtol=1e-12, atol=1e-14, err_msg="loss")
    np.testing.assert_allclose(dx2, dx, rtol=1e-12, atol=1e-14, err_msg="dinput")


def test_cross_entropy_of_transposed_scores_keeps_the_target_term():
    """The audit's case: (C, N) scores transposed; the target class's -1 must not be lost."""
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((3, 5))     # (C, N)
    y = np.array([0, 2, 1, 1, 0])
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(scores.T, y)
    dz = loss_fn.backward()
    p = np.exp(scores.T) / np.exp(scores.T).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dz, (p - np.eye(3)[y]) / 5, rtol=1e-12)
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-15)
