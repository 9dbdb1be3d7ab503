"""RNN, LSTM and GRU give the same bits as the code these pins were recorded from (main at 2d42f94).

The pins guard a rewrite that must not change a result: every forward value, h_n, c_n, dinput, dh0,
dc0 and every Parameter's gradient, over a grid of kinds (RNN tanh/relu, LSTM, LSTM with proj_size,
GRU), stacks (layers, directions, dropout between layers, bias, hx), layouts (padded, batch_first,
unbatched, packed with unequal and with equal lengths), dtypes and both kernel modes. Each case's
arrays are hashed (their dtype, shape and bytes) into one digest, pinned in
``recurrent_pins.json``. The bits are this machine's (its NumPy and BLAS): after a change that
is meant to change results, or on another machine, record them again from the code to compare with:
``PYTHONPATH=<that code> python tests/test_recurrent_pins.py --write``.

A portable companion: a packed batch of equal lengths runs the same arithmetic as the padded one,
so the two give the same bits (output, states and every gradient).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt

PINS = Path(__file__).with_name("recurrent_pins.json")
KINDS = ("RNN-tanh", "RNN-relu", "LSTM", "LSTM-proj", "GRU")
# (num_layers, bidirectional, dropout, training, bias, hx given, gradient given)
STACKS = {
    "one": (1, False, 0.0, True, True, False, "full"),
    "two-bi-dropout-hx": (2, True, 0.5, True, True, True, "full"),
    "two-nobias-hx-eval": (2, False, 0.3, False, False, True, "out"),
    "three-bi-dropout": (3, True, 0.4, True, True, False, "out"),
}
LAYOUTS = ("padded", "batch_first", "unbatched", "packed", "packed-equal")
IN, H, P, L, N = 3, 4, 2, 5, 4
LENGTHS = {"packed": [3, 5, 1, 3], "packed-equal": [L] * N}


def cases() -> list[str]:
    """Every case's name: kind/stack/layout/dtype."""
    names = [f"{k}/{s}/{lay}/float64" for k in KINDS for s in STACKS for lay in LAYOUTS]
    return names + [f"{k}/{s}/{lay}/float32" for k in KINDS for s in ("one", "two-bi-dropout-hx")
                    for lay in LAYOUTS]


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


def digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of every array's name, dtype, shape and bytes, in order."""
    h = hashlib.sha256()
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        h.update(f"{name} {a.dtype.str} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def _record() -> dict[str, str]:
    pins = {}
    for mode in ("kernels", "plain"):
        mt.kernels.use_kernels(mode == "kernels")
        pins |= {f"{case}/{mode}": digest(run(case)) for case in cases()}
    return pins


@pytest.mark.parametrize("case", cases())
def test_every_array_has_the_pinned_bits(case, kernels):
    pinned = json.loads(PINS.read_text())[f"{case}/{'kernels' if kernels else 'plain'}"]
    assert digest(run(case)) == pinned, f"{case}: an output, state or gradient changed its bits"


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


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    PINS.write_text(json.dumps(_record(), indent=0, sort_keys=True) + "\n")
