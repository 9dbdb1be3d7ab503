"""inf, -inf and nan stay where torch puts them: in the outputs and input gradients, elementwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cases import MODULE_CASES, ORACLE, UNBATCHED
from oracle import torch_twin

import minitorch as mt

BAD = [np.inf, -np.inf, np.nan]


def assert_same_nonfinite(ours: np.ndarray, theirs: np.ndarray, tol: float, what: str) -> None:
    """nan where torch has nan, +-inf where torch has it, the finite values to ``tol``."""
    assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: nan positions")
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs), err_msg=f"{what}: inf positions")
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs), err_msg=f"{what}: -inf positions")
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, equal_nan=True, err_msg=what)


def run_both(module: mt.Module, x: np.ndarray, dy: np.ndarray | None = None, seed: int = 0):
    """(y, dx) of MiniTorch and (y, dx) of the torch twin, for input x and upstream gradient dy."""
    twin = torch_twin(module)
    x_t = torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        y_t = twin(x_t)
        if dy is None:
            dy = np.random.default_rng(seed).standard_normal(tuple(y_t.shape)).astype(x.dtype)
        y_t.backward(torch.tensor(dy))
        y = module(x)
        dx = module.backward(dy)
    return (y, dx), (y_t.detach().numpy(), x_t.grad.numpy())


UPSAMPLES = {
    "nearest-x2": lambda: mt.Upsample(scale_factor=2),
    "nearest-x1.5": lambda: mt.Upsample(scale_factor=1.5),
    "nearest-size": lambda: mt.Upsample(size=(5, 9)),
    "nearest-same-and-down": lambda: mt.Upsample(size=(4, 3)),
    "nearest-lands-on-H-2H": lambda: mt.Upsample(scale_factor=(1.3, 2.2)),
    "bilinear-x2": lambda: mt.Upsample(scale_factor=2, mode="bilinear"),
    "bilinear-x2-align": lambda: mt.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
    "bilinear-size": lambda: mt.Upsample(size=(7, 11), mode="bilinear"),
    "bilinear-size-align": lambda: mt.Upsample(size=(7, 11), mode="bilinear", align_corners=True),
    "bilinear-down": lambda: mt.Upsample(scale_factor=(0.5, 1.5), mode="bilinear"),
    "bilinear-same-size": lambda: mt.Upsample(size=(4, 6), mode="bilinear"),
    "bilinear-to-one-row": lambda: mt.Upsample(size=(1, 3), mode="bilinear", align_corners=True),
    "bilinear-lands-on-2H-H": lambda: mt.Upsample(scale_factor=(2.2, 1.2), mode="bilinear"),
}
SPOTS = [(1, 2), (0, 0), (3, 5), (2, 0)]  # inside, both corners, an edge: (H, W) = (4, 6)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("bad", BAD, ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", list(UPSAMPLES))
def test_upsample_keeps_a_nonfinite_pixel_where_torch_puts_it(name, bad, dtype, tol):
    """One bad pixel reaches only the outputs that read it (about 4 bilinear, 1-4 nearest), as in torch:
    a matrix product Ph @ x @ Pw.T spread it as 0 * inf = nan to every output of its row and column."""
    rng = np.random.default_rng(0)
    for spot in SPOTS:
        x = rng.standard_normal((2, 2, 4, 6)).astype(dtype)
        x[1, 0, spot[0], spot[1]] = bad
        (y, dx), (y_t, dx_t) = run_both(UPSAMPLES[name](), x)
        assert_same_nonfinite(y, y_t, tol, f"{name} y, bad at {spot}")
        assert_same_nonfinite(dx, dx_t, tol, f"{name} dx, bad at {spot}")
        assert np.isfinite(y[0]).all() and np.isfinite(y[1, 1]).all()  # other images and channels


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("bad", BAD, ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", list(UPSAMPLES))
def test_upsample_backward_keeps_a_nonfinite_gradient_where_torch_puts_it(name, bad, dtype, tol):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 4, 6)).astype(dtype)
    oh, ow = UPSAMPLES[name]()(x).shape[2:]
    for spot in [(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 2), (oh - 1, 0)]:
        dy = rng.standard_normal((2, 2, oh, ow)).astype(dtype)
        dy[1, 0, spot[0], spot[1]] = bad
        (_, dx), (_, dx_t) = run_both(UPSAMPLES[name](), x, dy)
        assert_same_nonfinite(dx, dx_t, tol, f"{name} dx, bad dy at {spot}")


# (ReLU'(nan) passes dy, as torch's threshold_backward: the ReLU, CNN-small and MLP-sliced cases check it)
_BATCHED = [pytest.param(i, f, s, id=i) for i, f, s in MODULE_CASES if i in ORACLE and i not in UNBATCHED]


@pytest.mark.parametrize("case_id, factory, shape", _BATCHED)
def test_every_case_puts_an_inf_and_a_nan_where_torch_does(float64, case_id, factory, shape):
    """Every registry module with a torch twin, float64, with an inf, a -inf and (separately) a nan in
    its input: the same nan and inf positions as torch in y and dx (layers that mix every input, Linear,
    convolutions, norms, spread them in torch too: the rule is torch's own output, not locality)."""
    rng = np.random.default_rng(2)
    for bad in ([np.inf, -np.inf], [np.nan]):
        x = rng.standard_normal(shape)
        spots = [x.size // 3, 2 * x.size // 3][:len(bad)]
        x.flat[spots] = bad
        module = factory()
        (y, dx), (y_t, dx_t) = run_both(module, x, seed=3)
        assert_same_nonfinite(y, y_t, 1e-8, f"{case_id} y, input {bad}")
        assert_same_nonfinite(dx, dx_t, 1e-8, f"{case_id} dx, input {bad}")


@pytest.mark.parametrize("kernels", [False, True], ids=["plain", "kernels"])
@pytest.mark.parametrize("rows", [3, 2000], ids=["small", "pooled"])  # 2000 x 8 floats: the pooled masks
@pytest.mark.parametrize("chain", [False, True], ids=["ReLU", "Sequential"])
def test_relu_passes_the_gradient_at_a_nan_input_as_torch(float64, kernels, rows, chain):
    """torch's ReLU backward is threshold_backward(dy, y, 0): dy is zeroed where y <= 0, so a nan input
    (y = nan) passes dy and x = -0.0, 0, -inf do not; the plain layer, its kernel and the chain kernel's
    small and pooled masks all give torch's dx (and Linear's gradients behind them)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((rows, 8))
    x[0, :5] = [np.nan, -0.0, 0.0, -np.inf, np.inf]
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(kernels)
    try:
        module = mt.Sequential(mt.ReLU(), mt.Linear(8, 3)) if chain else mt.ReLU()
        (y, dx), (y_t, dx_t) = run_both(module, x, seed=5)
    finally:
        mt.kernels.use_kernels(before)
    assert_same_nonfinite(y, y_t, 1e-12, "y")
    assert_same_nonfinite(dx, dx_t, 1e-12, "dx")
    if not chain:
        dy = np.random.default_rng(5).standard_normal(x.shape)
        np.testing.assert_array_equal(dx[0, :5], [dy[0, 0], 0, 0, 0, dy[0, 4]])


@pytest.mark.parametrize("make", [lambda: mt.RNNCell(3, 4, nonlinearity="relu"),
                                  lambda: mt.RNN(3, 4, nonlinearity="relu")], ids=["RNNCell", "RNN"])
def test_rnn_relu_passes_the_gradient_at_a_nan_state_as_torch(float64, make):
    """relu'(nan) = 1 inside the recurrence too (torch's threshold_backward on h_t): a nan in one
    sample's input makes its row of h nan, and dx of the other samples stays torch's."""
    x = np.random.default_rng(6).standard_normal((2, 3) if make().__class__ is mt.RNNCell else (3, 2, 3))
    x[..., 0, 1] = np.nan
    module = make()
    twin = torch_twin(module)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = twin(x_t)
    out_t = out_t[0] if isinstance(out_t, tuple) else out_t
    dy = np.random.default_rng(7).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(dy))
    with np.errstate(all="ignore"):
        out = module(x)
        out = out[0] if isinstance(out, tuple) else out
        dx = module.backward(dy)
    dx = dx[0] if isinstance(dx, tuple) else dx
    assert_same_nonfinite(out, out_t.detach().numpy(), 1e-10, "y")
    assert_same_nonfinite(dx, x_t.grad.numpy(), 1e-10, "dx")
    for p, (name, p_t) in zip(module.parameters(), twin.named_parameters(), strict=True):
        assert_same_nonfinite(p.grad, p_t.grad.numpy(), 1e-10, name)
