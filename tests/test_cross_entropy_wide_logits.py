"""CrossEntropyLoss on finite logits whose range passes the dtype's (z - max(z) overflows to -inf in
a class the target does not hold): torch gathers the target's log-probability, so that class adds
nothing, and warns of nothing. Before, the plain code gave NaN (0 * -inf) with a warning, and the
kernel torch's loss with an overflow warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels
from minitorch.kernels import losses as fast_losses

OPTIONS = [{}, {"weight": [0.0, 1.0, 1.0]}, {"weight": [1.0, 0.0, 1.0]}, {"label_smoothing": 0.1},
           {"ignore_index": 1}, {"reduction": "sum"}, {"reduction": "none"}]


def loss_and_grad(kernels, z, y, cls=mt.CrossEntropyLoss, **options):
    """The loss (as float64) and dz of ``cls(**options)`` (kernels on or off), any warning an error."""
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        loss_fn = cls(**options)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = np.asarray(loss_fn(z, y), dtype=np.float64)
            return loss, loss_fn.backward(np.ones_like(loss, z.dtype) if loss.ndim else 1.0)
    finally:
        use_kernels(before)


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("dtype,big", [(np.float32, 3e38), (np.float64, 1e308)])
def test_logits_past_the_dtypes_range_give_torchs_loss_and_gradient(kernels, options, dtype, big):
    z = np.array([[-big, big, 0.0], [1.0, 2.0, 3.0], [big, -big, 0.0]], dtype)
    y = np.array([1, 0, 0])
    ours_options = {k: (np.array(v, dtype) if k == "weight" else v) for k, v in options.items()}
    torch_options = {k: (torch.tensor(v, dtype=torch.float64 if dtype == np.float64 else torch.float32)
                         if k == "weight" else v) for k, v in options.items()}
    zt = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(y), **torch_options)
    grad, = torch.autograd.grad(expected.sum(), zt)
    loss, dz = loss_and_grad(kernels, z, y, **ours_options)
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(dz, grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype,big", [(np.float32, 3e38), (np.float64, 1e308)])
def test_the_loss_kernel_leaves_such_logits_to_the_plain_code(dtype, big):
    """The kernel's probe declines logits whose magnitudes could overflow z - max(z) (the plain
    code computes it without a warning) and still takes large logits that cannot."""
    y = np.array([1, 0])
    loss_fn = mt.CrossEntropyLoss()
    wide = np.array([[-big, big, 0.0], [1, 2, 3]], dtype)
    assert fast_losses.cross_entropy_forward(loss_fn, wide, y) is None
    safe = np.array([[-big / 16, big / 16, 0.0], [1, 2, 3]], dtype)
    assert fast_losses.cross_entropy_forward(loss_fn, safe, y) is not None
    half = np.finfo(dtype).max / 2  # the bound: z - max(z) reaches -max, finite
    edge = np.array([[-half, half, 0.0], [1, 2, 3]], dtype)
    assert fast_losses.cross_entropy_forward(loss_fn, edge, y) is not None


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype,big", [(np.float32, 3.3e38), (np.float64, 1.7e308)])
def test_a_weighted_loss_past_the_dtypes_range_is_torchs_inf_without_a_warning(kernels, label_smoothing,
                                                                             reduction, dtype, big):
    """A weight above 1 (or the smoothed sum over classes) takes w * q * log_p, or its sum, past the
    dtype's range: torch's loss is inf, with no warning (before: an overflow warning from the
    product or the sum, the same inf)."""
    z, y = np.array([[big, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype), np.array([1, 2])
    w = np.array([1.0, 1.1, 1.1], dtype)
    zt = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(y), weight=torch.tensor(w),
                                                 label_smoothing=label_smoothing, reduction=reduction)
    grad, = torch.autograd.grad(expected.sum(), zt)
    loss, dz = loss_and_grad(kernels, z, y, weight=w, label_smoothing=label_smoothing, reduction=reduction)
    assert np.isinf(expected.detach().numpy()).any()
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(dz, grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("case", ["zero-weight-target", "zero-probability"])
def test_a_target_term_of_weight_or_probability_zero_at_minus_inf_is_torchs_nan(kernels, case):
    """Only a class index's non-target classes are dropped where log_p is -inf: a target class of
    weight 0, or a probability target of 0, at log_p = -inf gives torch's NaN (0 * -inf), silently."""
    big = 3e38
    z = np.array([[-big, big, 0.0], [1.0, 2.0, 3.0]], np.float32)
    if case == "zero-weight-target":
        y, options = np.array([0, 1]), {"weight": [0.0, 1.0, 1.0]}
    else:
        y, options = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]], np.float32), {}
    zt = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(
        zt, torch.tensor(y), **{k: torch.tensor(v) for k, v in options.items()}, reduction="none")
    grad, = torch.autograd.grad(expected.sum(), zt)
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        ours = {k: np.array(v, np.float32) for k, v in options.items()}
        loss_fn = mt.CrossEntropyLoss(reduction="none", **ours)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = loss_fn(z, y)
            dz = loss_fn.backward(np.ones(2, np.float32))
    finally:
        use_kernels(before)
    assert np.isnan(expected[0].item())
    np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(dz, grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("scale,taken", [(0.3, True), (0.6, False)])
def test_the_step_kernels_take_large_logits_and_leave_wide_ones(monkeypatch, large, scale, taken):
    """The whole-step kernels (kernels/step.py; kernels/step_large.py with ``large``) take logits
    past the probe's limit whose shift cannot overflow (|z| at most half the largest value) and
    leave wider ones to the plain code, which computes them without a warning."""
    from minitorch.kernels import containers, step_large
    from minitorch.kernels import step as fast_step

    big = float(np.finfo(np.float32).max) * scale
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(1, 2))
    model[0].W.data[...] = [[big, -big]]
    model[0].b.data[...] = 0.0
    x, y = np.ones((1, 1), np.float32), np.array([0])
    name, module = ("forward_backward", step_large) if large else ("fit_step", fast_step)
    original, seen = getattr(module, name), []
    monkeypatch.setattr(module, name, lambda *a: seen.append(original(*a)) or seen[-1])
    if large:
        monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 8)
    before = kernels_enabled()
    use_kernels(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), [(x, y)], 3, verbose=0)
    finally:
        use_kernels(before)
    assert (seen[-1] is not NotImplemented) == taken
