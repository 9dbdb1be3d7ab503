"""A target of another shape than the input, as each torch 2.13 loss takes it: MSELoss, L1Loss,
SmoothL1Loss and HuberLoss broadcast with a UserWarning ("Using a target size ... that is different
to the input size ..."); KLDivLoss, PoissonNLLLoss, HingeEmbeddingLoss and MultiLabelSoftMarginLoss
broadcast silently (MultiLabelSoftMarginLoss summing over the broadcast's axis input.dim() - 1 and
dividing by the input's C); SoftMarginLoss only to the input's own shape; BCELoss and
BCEWithLogitsLoss refuse. Oracle: torch on the same arrays: the loss (each reduction, its shape for
"none"), the input's gradient (summed back to the input's shape, as torch's autograd) and the
warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minitorch as mt

SHAPES = [((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 1), (3, 4)), ((4,), (3, 4)), ((3, 4), ()), ((), (3,)),
          ((2, 1, 4), (3, 1)), ((0, 4), (4,))]


def _data(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "probabilities":
        return rng.uniform(0.1, 0.9, shape)
    if kind == "labels":
        return np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    if kind == "counts":
        return rng.integers(0, 4, shape).astype(float)
    return rng.standard_normal(shape)


# (name, settings, input kind, target kind, warns)
BROADCASTING = [
    ("MSELoss", {}, "normal", "normal", True),
    ("L1Loss", {}, "normal", "normal", True),
    ("SmoothL1Loss", {"beta": 0.7}, "normal", "normal", True),
    ("HuberLoss", {"delta": 0.8}, "normal", "normal", True),
    ("KLDivLoss", {}, "normal", "probabilities", False),
    ("KLDivLoss", {"log_target": True}, "normal", "normal", False),
    ("PoissonNLLLoss", {"full": True}, "normal", "counts", False),
    ("HingeEmbeddingLoss", {"margin": 0.5}, "normal", "labels", False),
    ("MultiLabelSoftMarginLoss", {}, "normal", "probabilities", False),
]


def _ours(name, settings, x, t, dl):
    loss_fn = getattr(mt, name)(**settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = loss_fn(x, t)
    dx = loss_fn.backward(dl)
    return np.asarray(loss), dx, [w for w in caught if "Using a target size" in str(w.message)]


def _theirs(name, settings, x, t, seed):
    x_t = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = getattr(torch.nn, name)(**settings)(x_t, torch.tensor(t))
    dl = np.random.default_rng(seed).standard_normal(tuple(loss.shape))
    loss.backward(torch.tensor(dl))
    theirs = [w for w in caught if "Using a target size" in str(w.message)]
    return loss.detach().numpy(), x_t.grad.numpy(), theirs, dl


@pytest.mark.parametrize("name, settings, x_kind, t_kind, warns", BROADCASTING,
                         ids=[f"{c[0]}-{c[1]}" for c in BROADCASTING])
def test_a_broadcastable_target_is_taken_as_torch(name, settings, x_kind, t_kind, warns):
    rng = np.random.default_rng(0)
    reductions = ["mean", "sum", "none"] + (["batchmean"] if name == "KLDivLoss" else [])
    for x_shape, t_shape in SHAPES:
        if name == "MultiLabelSoftMarginLoss" and x_shape == ():
            continue  # a score needs its class axis (torch: IndexError; MiniTorch: a ValueError)
        x, t = _data(x_kind, rng, x_shape), _data(t_kind, rng, t_shape)
        for reduction in reductions:
            what = f"{name} x{x_shape} t{t_shape} {reduction}"
            kw = {**settings, "reduction": reduction}
            their_loss, their_dx, their_warnings, dl = _theirs(name, kw, x, t, len(what))
            loss, dx, our_warnings = _ours(name, kw, x, t, dl if reduction == "none" else float(dl))
            assert loss.shape == their_loss.shape, what
            np.testing.assert_allclose(loss, their_loss, rtol=1e-12, atol=1e-14, err_msg=what)
            assert dx.shape == their_dx.shape == x_shape, what
            np.testing.assert_allclose(dx, their_dx, rtol=1e-12, atol=1e-14, err_msg=what)
            assert len(their_warnings) == len(our_warnings) == int(warns), what
            for w in our_warnings:
                assert w.category is UserWarning and w.filename == __file__
                assert str(w.message) == (
                    f"Using a target size {t_shape} that is different to the input size {x_shape}. This "
                    "will likely lead to incorrect results due to broadcasting. Please ensure they have "
                    "the same size.")


@pytest.mark.parametrize("name, settings, x_kind, t_kind, warns", BROADCASTING,
                         ids=[f"{c[0]}-{c[1]}" for c in BROADCASTING])
def test_the_broadcast_gradient_passes_gradcheck(name, settings, x_kind, t_kind, warns):
    rng = np.random.default_rng(1)
    for x_shape, t_shape in [((3, 1), (3, 4)), ((4,), (2, 4))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the broadcast's warning, at every evaluation
            for reduction in ("sum", "none"):
                loss_fn = getattr(mt, name)(reduction=reduction, **settings)
                assert mt.gradcheck(loss_fn, _data(x_kind, rng, x_shape), _data(t_kind, rng, t_shape),
                                    atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name, t_shape, torch_error", [
    ("BCELoss", (4,), "Using a target size"), ("BCEWithLogitsLoss", (4,), "Target size"),
    ("SoftMarginLoss", (3, 4), "doesn't match the broadcast shape"),
    ("MSELoss", (2, 4), "must match the size"), ("KLDivLoss", (2, 4), "must match the size")])
def test_a_target_torch_refuses_is_refused(name, t_shape, torch_error):
    x_shape = (3, 1) if name == "SoftMarginLoss" else (3, 4)
    x, t = np.full(x_shape, 0.5), np.full(t_shape, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's MSELoss warns before it fails
        with pytest.raises((ValueError, RuntimeError), match=torch_error):
            getattr(torch.nn, name)()(torch.tensor(x), torch.tensor(t))
        with pytest.raises(ValueError, match=rf"{name}: expected target of the input's shape"):
            getattr(mt, name)()(x, t)


def test_softmargin_takes_a_target_that_broadcasts_to_the_inputs_shape():
    x, t = np.random.default_rng(2).standard_normal((3, 4)), np.array([1.0, -1.0, 1.0, -1.0])
    loss, dx, _ = _ours("SoftMarginLoss", {"reduction": "sum"}, x, t, 1.0)
    x_t = torch.tensor(x, requires_grad=True)
    their = torch.nn.SoftMarginLoss(reduction="sum")(x_t, torch.tensor(t))
    their.backward()
    np.testing.assert_allclose(loss, their.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12)
