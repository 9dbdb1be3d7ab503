"""Signed zeros of every element-wise activation against torch: at x = -0.0 and +0.0 (and upstream
gradients +-0.0) the sign bits of y and dx are torch's, or the difference is listed here with torch's
value and why it stays.

``np.testing`` cannot see a zero's sign (-0.0 == 0.0), so these compare ``np.signbit``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch import functional
from minitorch.layers import activations, activations_more, activations_piecewise, activations_smooth

TF = torch.nn.functional

# id -> (ours, torch's twin)
LAYERS = {
    "Sigmoid": (lambda: mt.Sigmoid(), lambda: torch.nn.Sigmoid()),
    "ReLU": (lambda: mt.ReLU(), lambda: torch.nn.ReLU()),
    "Tanh": (lambda: mt.Tanh(), lambda: torch.nn.Tanh()),
    "LeakyReLU": (lambda: mt.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    "LeakyReLU-negative": (lambda: mt.LeakyReLU(-0.3), lambda: torch.nn.LeakyReLU(-0.3)),
    "ELU": (lambda: mt.ELU(), lambda: torch.nn.ELU()),
    "ELU-negative-alpha": (lambda: mt.ELU(alpha=-0.7), lambda: torch.nn.ELU(alpha=-0.7)),
    "GELU": (lambda: mt.GELU(), lambda: torch.nn.GELU()),
    "GELU-tanh": (lambda: mt.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    "SiLU": (lambda: mt.SiLU(), lambda: torch.nn.SiLU()),
    "Softplus": (lambda: mt.Softplus(), lambda: torch.nn.Softplus()),
    "Mish": (lambda: mt.Mish(), lambda: torch.nn.Mish()),
    "Hardtanh": (lambda: mt.Hardtanh(), lambda: torch.nn.Hardtanh()),
    "PReLU": (lambda: mt.PReLU(), lambda: torch.nn.PReLU()),
    "ReLU6": (lambda: mt.ReLU6(), lambda: torch.nn.ReLU6()),
    "Hardsigmoid": (lambda: mt.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    "Hardswish": (lambda: mt.Hardswish(), lambda: torch.nn.Hardswish()),
    "Threshold": (lambda: mt.Threshold(0.0, -0.0), lambda: torch.nn.Threshold(0.0, -0.0)),
    "Softshrink": (lambda: mt.Softshrink(), lambda: torch.nn.Softshrink()),
    "Hardshrink": (lambda: mt.Hardshrink(), lambda: torch.nn.Hardshrink()),
    "SELU": (lambda: mt.SELU(), lambda: torch.nn.SELU()),
    "CELU": (lambda: mt.CELU(), lambda: torch.nn.CELU()),
    "CELU-negative-alpha": (lambda: mt.CELU(-0.7), lambda: torch.nn.CELU(-0.7)),
    "LogSigmoid": (lambda: mt.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    "Softsign": (lambda: mt.Softsign(), lambda: torch.nn.Softsign()),
    "Tanhshrink": (lambda: mt.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
}

FUNCTIONS = {  # name -> extra arguments (the same for both)
    "celu": (), "elu": (), "gelu": (), "hardshrink": (), "hardsigmoid": (), "hardswish": (),
    "hardtanh": (), "leaky_relu": (), "logsigmoid": (), "mish": (), "relu": (), "relu6": (),
    "selu": (), "sigmoid": (), "silu": (), "softplus": (), "softshrink": (), "softsign": (),
    "tanh": (), "tanhshrink": (), "threshold": (0.0, -0.0),
}
NOT_ELEMENTWISE = {"glu", "log_softmax", "one_hot", "pad", "rms_norm", "softmax", "softmin"}

_SOFTSHRINK = ("torch's own sign depends on where the element sits: inside the band its vectorized "
               "body gives +0.0 (ours), its scalar tail x's sign (-0.0 for -0.0)")
DIFFERENCES = {  # (id, "y" or "dx") -> torch's value and why ours stays
    ("ReLU", "dx"): "torch: dx = +0.0 where x <= 0 and dy = -0.0 (threshold_backward selects 0); ours "
                    "dy * mask = -0.0, the timed MLP path (a select is slower than the product)",
    ("Softsign", "dx"): "torch: +0.0 for dy = -0.0 (autograd sums the terms of x / (1 + |x|)); "
                        "ours dy / (1 + |x|)**2 = -0.0",
    ("Tanhshrink", "dx"): "torch: +0.0 for dy = -0.0 (autograd's dy - dy * (1 - tanh(x)**2)); ours "
                          "dy * tanh(x)**2 = -0.0, which does not cancel",
    ("Softshrink", "y"): _SOFTSHRINK,
    ("softshrink", "y"): _SOFTSHRINK,
}

# every (x, dy) sign pair: x = -0.0, +0.0 under dy = 1, -0.0, +0.0
X = np.array([-0.0, 0.0, -0.0, 0.0, -0.0, 0.0])
DY = np.array([1.0, 1.0, -0.0, -0.0, 0.0, 0.0])
DTYPES = [np.float32, np.float64]


def _params(ids, part):
    out = []
    for i in ids:
        reason = DIFFERENCES.get((i, part))
        marks = [pytest.mark.skip(reason=reason)] if reason == _SOFTSHRINK else (
            [pytest.mark.xfail(strict=True, reason=reason)] if reason else [])
        out.append(pytest.param(i, marks=marks, id=i))
    return out


def _signs_equal(ours, theirs, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    bad = np.flatnonzero(np.signbit(ours) != np.signbit(theirs))
    assert bad.size == 0, (f"{what}: sign of zero differs at x={X[bad].tolist()}, dy={DY[bad].tolist()}: "
                           f"ours {ours[bad].tolist()}, torch {theirs[bad].tolist()}")


def _run_layer(name, dtype):
    ours, theirs = LAYERS[name]
    m = ours()
    for p in m.parameters():  # PReLU's weight in x's dtype
        p.data = p.data.astype(dtype)
    x, dy = X.astype(dtype), DY.astype(dtype)
    y = m(x.copy())
    dx = m.backward(dy.copy())
    t = theirs().to(torch.float32 if dtype == np.float32 else torch.float64)
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    yt.backward(torch.tensor(dy))
    return (y, dx), (yt.detach().numpy(), xt.grad.numpy())


def test_every_elementwise_activation_is_listed():
    modules = (activations, activations_more, activations_piecewise, activations_smooth)
    classes = {n for mod in modules for n, c in vars(mod).items()
               if inspect.isclass(c) and issubclass(c, mt.Module) and c.__module__ == mod.__name__
               and not n.startswith("_")}
    assert classes <= {i.split("-")[0] for i in LAYERS}, classes - {i.split("-")[0] for i in LAYERS}
    torch_named = {n for n in functional.__all__ if hasattr(TF, n)}
    assert torch_named - NOT_ELEMENTWISE == set(FUNCTIONS)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", _params(LAYERS, "y"))
def test_layer_output_sign_of_zero_as_torch(name, dtype):
    (y, _), (ty, _) = _run_layer(name, dtype)
    _signs_equal(y, ty, f"{name} y ({dtype.__name__})")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", _params(LAYERS, "dx"))
def test_layer_grad_sign_of_zero_as_torch(name, dtype):
    (_, dx), (_, tdx) = _run_layer(name, dtype)
    _signs_equal(dx, tdx, f"{name} dx ({dtype.__name__})")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", _params(FUNCTIONS, "y"))
def test_function_sign_of_zero_as_torch(name, dtype):
    x = X.astype(dtype)
    y = getattr(functional, name)(x.copy(), *FUNCTIONS[name])
    ty = getattr(TF, name)(torch.tensor(x), *FUNCTIONS[name]).numpy()
    _signs_equal(y, ty, f"functional.{name} ({dtype.__name__})")


def test_elu_negative_alpha_keeps_positive_zero():
    # torch: elu(+0.0, alpha=-0.7) = +0.0 and elu(-0.0, alpha=-0.7) = -0.0 (the old formula gave -0.0, +0.0)
    y = functional.elu(np.array([0.0, -0.0]), alpha=-0.7)
    assert np.signbit(y).tolist() == [False, True]


def test_piecewise_grad_ignores_nan_upstream_where_slope_is_zero():
    # torch's relu6 / threshold backward select 0 where the slope is 0: a nan dy there gives 0, not nan
    x = np.array([-1.0, 3.0])
    pairs = [(mt.ReLU6(), torch.nn.ReLU6()), (mt.Threshold(0.0, 0.0), torch.nn.Threshold(0.0, 0.0))]
    for ours, theirs in pairs:
        ours(x)
        dx = ours.backward(np.array([np.nan, 1.0]))
        xt = torch.tensor(x, requires_grad=True)
        theirs(xt).backward(torch.tensor([np.nan, 1.0], dtype=torch.float64))
        np.testing.assert_array_equal(dx, xt.grad.numpy())


# ------------------------------------------------------------- a relu inside a recurrent layer
# id -> (ours, torch's twin, packed): relu RNNs of 2 features and 2 units, every bias -0.0, input and h0
# signed zeros, so every pre-activation is a zero; each signed zero of y, h_n, dx, dh0 and every
# parameter's grad is compared with torch's (upstream +1, -0.0, +0.0). The loop's relu is F.relu's
# ``relu_maximum`` (relu(-0.0) = -0.0); a pre-activation reaches it as +0.0 here, in ours and in torch,
# since the products accumulate from +0.0. (Torch's product into ONE unit keeps -0.0, its Linear's too:
# a 1-unit RNN gives -0.0 where ours gives +0.0, a difference of the product, not of relu.)
RECURRENT = {
    "RNN-relu": (lambda: mt.RNN(2, 2, nonlinearity="relu"),
                 lambda: torch.nn.RNN(2, 2, nonlinearity="relu"), False),
    "RNN-relu-2-layers-bidirectional": (
        lambda: mt.RNN(2, 2, num_layers=2, nonlinearity="relu", bidirectional=True),
        lambda: torch.nn.RNN(2, 2, num_layers=2, nonlinearity="relu", bidirectional=True), False),
    "RNN-relu-packed": (lambda: mt.RNN(2, 2, nonlinearity="relu"),
                        lambda: torch.nn.RNN(2, 2, nonlinearity="relu"), True),
    "RNNCell-relu": (lambda: mt.RNNCell(2, 2, nonlinearity="relu"),
                     lambda: torch.nn.RNNCell(2, 2, nonlinearity="relu"), False),
}
_LENGTHS = [3, 3, 2, 2, 1, 1]  # packed: six sequences of 3 steps at most


def _zeros_like_signs(shape, dtype, seed):
    """An array of -0.0 and +0.0 (a fixed draw)."""
    negative = np.random.default_rng(seed).random(shape) < 0.5
    return np.where(negative, -0.0, 0.0).astype(dtype)


def _run_recurrent(name, dtype):
    ours, theirs, packed = RECURRENT[name]
    t = theirs().to(torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        for n, p in t.named_parameters():
            if n.startswith("bias"):
                p.fill_(-0.0)
    m = ours()
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    cell = isinstance(m, mt.RNNCell)
    x_shape, h_shape = ((6, 2), (6, 2)) if cell else ((3, 6, 2), (2 * t.num_layers if t.bidirectional
                                                                  else t.num_layers, 6, 2))
    x, h0 = _zeros_like_signs(x_shape, dtype, 0), _zeros_like_signs(h_shape, dtype, 1)
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    if packed:
        y, h_n = m(mt.pack_padded_sequence(x, _LENGTHS), h0.copy())
        yt, h_nt = t(torch.nn.utils.rnn.pack_padded_sequence(xt, _LENGTHS), h0t)
        y, yt = y.data, yt.data
    elif cell:
        y = h_n = m(x.copy(), h0.copy())
        yt = h_nt = t(xt, h0t)
    else:
        y, h_n = m(x.copy(), h0.copy())
        yt, h_nt = t(xt, h0t)
    dy = np.resize(DY, y.shape).astype(dtype)  # upstream +1, -0.0, +0.0
    dx, dh0 = m.backward(dy.copy() if cell else (dy.copy(), None))
    yt.backward(torch.tensor(dy))
    dxt = xt.grad
    if packed:  # ours a PackedSequence, as the input; torch's the padded x's grad, packed here alike
        dx, dxt = dx.data, torch.nn.utils.rnn.pack_padded_sequence(dxt, _LENGTHS).data
    ours_all = {"y": y, "h_n": h_n, "dx": dx, "dh0": dh0} | {n: p.grad for n, p in m.named_parameters()}
    torch_all = {"y": yt, "h_n": h_nt, "dx": dxt, "dh0": h0t.grad} | dict(t.named_parameters())
    torch_all = {k: (v.grad if isinstance(v, torch.nn.Parameter) else v).detach().numpy()
                 for k, v in torch_all.items()}
    return ours_all, torch_all


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_relu_sign_of_zero_as_torch(name, dtype, kernels):
    ours, theirs = _run_recurrent(name, dtype)
    for what, value in ours.items():
        got, expected = np.asarray(value), theirs[what]
        assert got.shape == expected.shape, (what, got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=f"{name} {what}")  # all zeros: relu'(0) = 0
        bad = np.flatnonzero(np.signbit(got) != np.signbit(expected))
        assert bad.size == 0, (f"{name} {what} ({dtype.__name__}): sign of zero differs at flat index "
                               f"{bad.tolist()}: ours {got.ravel()[bad].tolist()}, torch "
                               f"{expected.ravel()[bad].tolist()}")
