"""A packed batch of equal lengths runs the same arithmetic as the padded one: the same bits.

RNN, LSTM and GRU share one loop over layers and directions (``rnn_base.py``), run once on a padded
batch and once per stretch of a packed one (``_stretches.py``). With every length equal a packed
batch is one stretch, so output, h_n, c_n, dinput, dh0, dc0 and every Parameter's gradient must
equal the padded call's bit for bit, over kinds (RNN tanh/relu, LSTM, LSTM with proj_size, GRU) and
stacks (layers, directions, dropout between layers, bias, hx), in both kernel modes.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt

KINDS = ("RNN-tanh", "RNN-relu", "LSTM", "LSTM-proj", "GRU")
# (num_layers, bidirectional, dropout, training, bias, hx given, gradient given)
STACKS = {
    "one": (1, False, 0.0, True, True, False, "full"),
    "two-bi-dropout-hx": (2, True, 0.5, True, True, True, "full"),
    "two-nobias-hx-eval": (2, False, 0.3, False, False, True, "out"),
    "three-bi-dropout": (3, True, 0.4, True, True, False, "out"),
}
IN, H, P, L, N = 3, 4, 2, 5, 4
LENGTHS = {"packed-equal": [L] * N}


def _module(kind: str, stack: str, dtype: str, batch_first: bool) -> mt.Module:
    layers, bidirectional, dropout, training, bias, _, _ = STACKS[stack]
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, dropout=dropout, bias=bias,
                  batch_first=batch_first, dtype=np.dtype(dtype))
    if kind.startswith("RNN"):
        kwargs["nonlinearity"] = kind[4:]
    if kind == "LSTM-proj":
        kwargs["proj_size"] = P
    mt.manual_seed(1)
    module = getattr(mt, kind.split("-")[0])(IN, H, **kwargs)
    module.train(training)
    return module


def run(case: str) -> dict[str, np.ndarray]:
    """The case's forward and backward: every array a user sees, by name."""
    kind, stack, layout, dtype = case.split("/")
    layers, bidirectional, _, _, _, hx_given, grad_given = STACKS[stack]
    module = _module(kind, stack, dtype, layout == "batch_first")
    rng = np.random.default_rng(7)
    D, R, lstm = 2 if bidirectional else 1, P if kind == "LSTM-proj" else H, kind.startswith("LSTM")
    B = 1 if layout == "unbatched" else N
    x = rng.standard_normal((L, B, IN)).astype(dtype)
    if layout == "batch_first":
        x = x.swapaxes(0, 1).copy()
    elif layout == "unbatched":
        x = x[:, 0]
    elif layout.startswith("packed"):
        x = mt.pack_padded_sequence(x, LENGTHS[layout], enforce_sorted=False)
    state_shape = (D * layers, B) if layout != "unbatched" else (D * layers,)
    h0 = rng.standard_normal(state_shape + (R,)).astype(dtype)
    c0 = rng.standard_normal(state_shape + (H,)).astype(dtype)
    hx = None if not hx_given else (h0, c0) if lstm else h0
    mt.manual_seed(2)  # the dropout masks
    module.zero_grad()
    output, hidden = module(x, hx)
    out = output.data if layout.startswith("packed") else output
    dout = rng.standard_normal(out.shape).astype(dtype)
    if layout.startswith("packed") and grad_given == "full":
        dout = mt.PackedSequence(dout, output.batch_sizes, output.sorted_indices, output.unsorted_indices)
    states = hidden if lstm else (hidden,)
    dstates = tuple(rng.standard_normal(s.shape).astype(dtype) for s in states)
    grad = dout if grad_given == "out" else (dout, dstates if lstm else dstates[0])
    dinput = module.backward(grad)
    arrays = {"output": out, "h_n": states[0]}
    if lstm:
        arrays["c_n"] = states[1]
    if hx_given:
        dinput, dstate = dinput
        arrays |= dict(zip(("dh0", "dc0"), dstate if lstm else (dstate,), strict=False))
    arrays["dinput"] = dinput.data if layout.startswith("packed") else dinput
    arrays |= {f"grad {name}": p.grad for name, p in module.named_parameters()}
    return arrays


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stack", list(STACKS))
def test_packed_equal_lengths_is_the_padded_arithmetic(kind, stack, kernels):
    padded = run(f"{kind}/{stack}/padded/float64")
    packed = run(f"{kind}/{stack}/packed-equal/float64")
    assert padded.keys() == packed.keys()
    for name in padded:
        got = packed[name]
        expected = padded[name].reshape(got.shape)  # (L, N, .) as the packed rows (L * N, .)
        np.testing.assert_array_equal(got, expected, err_msg=name)
        assert got.tobytes() == np.ascontiguousarray(expected).tobytes(), name
