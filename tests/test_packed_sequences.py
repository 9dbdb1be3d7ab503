"""Packed sequences against torch 2.13: the four torch.nn.utils.rnn functions, and RNN, LSTM and GRU
taking a PackedSequence (output, h_n, c_n, the input's gradient, dh0, dc0 and every Parameter's
gradient, float64), gradchecked; bad input refused naming what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn
from hypothesis import given, settings
from hypothesis import strategies as st
from recurrent_pairs import recurrent_pair
from suite_marks import KERNELS_THEN_PLAIN_SLOW

import minitorch as mt
from minitorch.kernels import use_kernels

KINDS = ["RNN-tanh", "RNN-relu", "LSTM", "LSTM-proj", "GRU"]


def _same(ours, theirs, what: str) -> None:
    """Exactly equal (the functions only move values), None for None."""
    if theirs is None:
        assert ours is None, what
        return
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours, theirs, err_msg=what)


def _close(ours, theirs, what: str) -> None:
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


@st.composite
def _lengths(draw, max_batch: int = 5, max_steps: int = 5):
    """(lengths, T, enforce_sorted): lengths in [1, T], sorted (either flag) or not (enforce_sorted False)."""
    steps = draw(st.integers(1, max_steps))
    lengths = draw(st.lists(st.integers(1, steps), min_size=1, max_size=max_batch))
    if draw(st.booleans()):
        lengths = sorted(lengths, reverse=True)
        return lengths, steps, draw(st.booleans())
    return lengths, steps, False


# ------------------------------------------------------------------------------ the four functions
@settings(max_examples=120, deadline=None)
@given(case=_lengths(), batch_first=st.booleans(), trailing=st.sampled_from([(), (3,), (2, 2)]),
       ints=st.booleans(), seed=st.integers(0, 2**31))
def test_pack_padded_sequence_matches_torch(case, batch_first, trailing, ints, seed):
    lengths, steps, enforce_sorted = case
    rng = np.random.default_rng(seed)
    lead = (len(lengths), steps) if batch_first else (steps, len(lengths))
    x = rng.standard_normal(lead + trailing)
    x = (x * 10).astype(np.int64) if ints else x
    ours = mt.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = trnn.pack_padded_sequence(torch.tensor(x), lengths, batch_first, enforce_sorted)
    assert isinstance(ours, mt.PackedSequence) and isinstance(ours, tuple)
    assert ours._fields == theirs._fields
    for name in theirs._fields:
        _same(getattr(ours, name), getattr(theirs, name), name)


@settings(max_examples=120, deadline=None)
@given(case=_lengths(), batch_first=st.booleans(), pack_batch_first=st.booleans(),
       padding_value=st.sampled_from([0.0, -1.5, 7.0]), extra=st.sampled_from([None, 0, 2]),
       seed=st.integers(0, 2**31))
def test_pad_packed_sequence_matches_torch(case, batch_first, pack_batch_first, padding_value, extra, seed):
    lengths, steps, enforce_sorted = case
    lead = (len(lengths), steps) if pack_batch_first else (steps, len(lengths))
    x = np.random.default_rng(seed).standard_normal(lead + (2,))
    ours = mt.pack_padded_sequence(x, lengths, pack_batch_first, enforce_sorted)
    theirs = trnn.pack_padded_sequence(torch.tensor(x), lengths, pack_batch_first, enforce_sorted)
    total = None if extra is None else max(lengths) + extra
    padded, lens = mt.pad_packed_sequence(ours, batch_first, padding_value, total)
    padded_t, lens_t = trnn.pad_packed_sequence(theirs, batch_first, padding_value, total)
    _same(padded, padded_t, "padded")
    _same(lens, lens_t, "lengths")


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5),
       trailing=st.sampled_from([(), (3,), (1, 2)]), batch_first=st.booleans(),
       padding_value=st.sampled_from([0.0, 2.5]),
       side=st.sampled_from(["right", "left"]), float32=st.booleans(), seed=st.integers(0, 2**31))
def test_pad_sequence_matches_torch(lengths, trailing, batch_first, padding_value, side, float32, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if float32 else np.float64
    seqs = [rng.standard_normal((n,) + trailing).astype(dtype) for n in lengths]
    ours = mt.pad_sequence(seqs, batch_first, padding_value, side)
    theirs = trnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, padding_value, side)
    _same(ours, theirs, "padded")


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=6), sort=st.booleans(),
       enforce_sorted=st.booleans(), seed=st.integers(0, 2**31))
def test_pack_sequence_matches_torch(lengths, sort, enforce_sorted, seed):
    lengths = sorted(lengths, reverse=True) if sort else lengths
    enforce_sorted = enforce_sorted and lengths == sorted(lengths, reverse=True)
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, 2)) for n in lengths]
    ours = mt.pack_sequence(seqs, enforce_sorted)
    theirs = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted)
    for name in theirs._fields:
        _same(getattr(ours, name), getattr(theirs, name), name)


def test_packed_sequence_is_torchs_named_tuple():
    """PackedSequence(data, batch_sizes, sorted_indices): unsorted_indices is the inverse; torch's
    (data, batch_sizes) pair form too."""
    data = np.arange(6.0)
    ps = mt.PackedSequence(data, [3, 2, 1], [2, 0, 1])
    theirs = trnn.PackedSequence(torch.tensor(data), torch.tensor([3, 2, 1]), torch.tensor([2, 0, 1]))
    for name in theirs._fields:
        _same(getattr(ps, name), getattr(theirs, name), name)
    pair = mt.PackedSequence((data, np.array([3, 2, 1])))
    assert pair.sorted_indices is None and pair.unsorted_indices is None
    np.testing.assert_array_equal(pair.batch_sizes, [3, 2, 1])
    data2, batch_sizes, *_ = ps
    assert data2 is ps.data and batch_sizes.dtype == np.int64


def test_ties_above_16_sequences_are_packed_stably_and_agree_with_torch_once_unpacked():
    """torch's sort is stable for up to 16 lengths only; ours always: with ties among 20 sequences the
    packed order may differ, the padded results and h_n in the caller's order do not."""
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(1, 4, 20)]
    x = rng.standard_normal((3, 20, 2))
    ours = mt.pack_padded_sequence(x, lengths, enforce_sorted=False)
    np.testing.assert_array_equal(ours.sorted_indices, np.argsort(-np.array(lengths), kind="stable"))
    rnn = mt.GRU(2, 3, dtype=np.float64)
    theirs = torch.nn.GRU(2, 3, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in rnn.state_dict().items()})
    out, h_n = rnn(ours)
    out_t, h_n_t = theirs(trnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False))
    _close(mt.pad_packed_sequence(out)[0], trnn.pad_packed_sequence(out_t)[0], "padded output")
    _close(h_n, h_n_t, "h_n")


BAD = [  # (call, what our message says, whether torch raises too)
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [2, 3, 1]), r"expected lengths sorted in "
     r"decreasing order with enforce_sorted=True, got \[2, 3, 1\]; pass enforce_sorted=False", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [3, 2, 0]),
     r"expected every length in \[1, 4\] .*got \[3, 2, 0\]", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [3, -1, 1], enforce_sorted=False),
     r"expected every length in \[1, 4\] .*got \[3, -1, 1\]", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [5, 2, 1]),  # torch reads past the end
     r"expected every length in \[1, 4\] \(1 <= length <= the padded input's 4 steps\), got \[5, 2, 1\]",
     False),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [3, 2]),
     r"expected len\(lengths\) equal to the batch size 3, got 2", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), np.array([[3, 2, 1]])),
     r"expected lengths a 1-D list or array of integers, got 2-D int64", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [3, 2, 1.5]),  # torch truncates to 1
     r"expected whole-number lengths, got \[3.0, 2.0, 1.5\]", False),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), ["3", "2", "1"]),
     r"expected lengths a 1-D list or array of integers, got 1-D <U1", True),
    (lambda f: f.pack_padded_sequence(np.zeros((3, 0, 2)), []),
     r"^pack_padded_sequence: expected at least one sequence, got an input of batch size 0$", True),
    (lambda f: f.pack_padded_sequence(np.zeros(4), [4]),
     r"expected input \(T, B, \*\) .*got shape \(4,\)", True),
    (lambda f: f.pad_sequence([np.ones((2, 1)), np.ones((3, 1))], padding_side="middle"),
     r"expected padding_side 'left' or 'right', got 'middle'", True),
    (lambda f: f.pad_sequence([]), r"expected at least one sequence, got an empty list", True),
    (lambda f: f.pad_sequence([np.ones((2, 1)), np.ones((3, 2))]),
     r"expected sequences \(L, \*\) with the same trailing shape, got shapes \[\(2, 1\), \(3, 2\)\]", True),
    (lambda f: f.pad_sequence(3), r"expected a list of arrays \(L, \*\), got int", True),
    (lambda f: f.pack_sequence([np.ones((2, 1)), np.ones((3, 1))]), r"sorted in decreasing order", True),
    (lambda f: f.pack_padded_sequence(np.zeros((4, 3, 2)), [3, 2, 1], batch_first="yes"),
     r"^pack_padded_sequence: batch_first must be True or False", True),
    (lambda f: f.pad_sequence([np.ones((2, 1))], batch_first=None),
     r"^pad_sequence: batch_first must be True or False", True),
]


def _torch_functions():
    """torch.nn.utils.rnn's functions taking the same NumPy arguments (as tensors)."""
    class Torch:
        @staticmethod
        def pack_padded_sequence(x, lengths, **kw):
            lengths = torch.as_tensor(lengths) if isinstance(lengths, np.ndarray) else lengths
            return trnn.pack_padded_sequence(torch.tensor(x), lengths, **kw)

        @staticmethod
        def pad_sequence(seqs, **kw):
            return trnn.pad_sequence(seqs if isinstance(seqs, int) else [torch.tensor(s) for s in seqs], **kw)

        @staticmethod
        def pack_sequence(seqs, **kw):
            return trnn.pack_sequence([torch.tensor(s) for s in seqs], **kw)
    return Torch


@pytest.mark.parametrize("call, match, torch_raises", BAD)
def test_bad_input_is_refused_naming_what_was_expected_and_what_came(call, match, torch_raises):
    with pytest.raises((ValueError, TypeError), match=match):
        call(mt)
    if torch_raises:
        with pytest.raises(Exception):  # noqa: B017 - torch's RuntimeError, IndexError or ValueError
            call(_torch_functions())


def test_pad_packed_sequence_refuses_a_total_length_below_the_longest():
    packed = mt.pack_sequence([np.ones((3, 1)), np.ones((2, 1))])
    with pytest.raises(ValueError, match=r"^pad_packed_sequence: expected total_length at least the "
                                         r"longest sequence's length 3, got total_length=2$"):
        mt.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(ValueError, match="total_length"):
        trnn.pad_packed_sequence(trnn.pack_sequence([torch.ones(3, 1), torch.ones(2, 1)]), total_length=2)
    with pytest.raises(TypeError, match=r"^pad_packed_sequence: expected a PackedSequence, got ndarray$"):
        mt.pad_packed_sequence(np.ones((3, 2, 1)))


# -------------------------------------------------------------------------------- the layers


@st.composite
def _layer_cases(draw):
    kind = draw(st.sampled_from(KINDS))
    hidden = draw(st.integers(2, 4))
    sizes = dict(input_size=draw(st.integers(1, 3)), hidden_size=hidden,
                 proj_size=draw(st.integers(1, hidden - 1)))
    num_layers = draw(st.integers(1, 3))
    options = dict(num_layers=num_layers, bias=draw(st.booleans()), batch_first=draw(st.booleans()),
                   bidirectional=draw(st.booleans()),
                   dropout=draw(st.sampled_from([0.0, 0.5])) if num_layers > 1 else 0.0)
    training = draw(st.booleans()) if options["dropout"] == 0 else False  # torch's masks cannot be matched
    run = dict(lengths=draw(_lengths()), hx=draw(st.booleans()), packed_grad=draw(st.booleans()),
               upstream=draw(st.tuples(st.booleans(), st.booleans(), st.booleans())),
               seed=draw(st.integers(0, 2**31)))
    return kind, sizes, options, training, run


@settings(max_examples=150, deadline=None)
@given(case=_layer_cases(), kernels=st.booleans())
def test_packed_input_matches_torch_forward_and_backward(case, kernels):
    """Output (data, batch_sizes, indices), h_n, c_n, the packed input's gradient, dh0, dc0 and every
    Parameter's gradient: lengths sorted or not, batch_first (which packed input ignores, as torch),
    bidirectional, 1-3 layers, bias, proj_size, dropout in eval, hx None or given (the caller's order),
    an upstream gradient for any subset of (output, h_n, c_n), doutput packed or its data array."""
    kind, sizes, options, training, run = case
    use_kernels(kernels)
    ours, theirs = recurrent_pair(kind, **sizes, **options)
    ours.train(training), theirs.train(training)
    rng = np.random.default_rng(run["seed"])
    (lengths, steps, enforce_sorted), B = run["lengths"], len(run["lengths"][0])
    bf = options["batch_first"]
    x = rng.standard_normal(((B, steps) if bf else (steps, B)) + (sizes["input_size"],))
    packed = mt.pack_padded_sequence(x, lengths, bf, enforce_sorted)
    x_t = torch.tensor(x, requires_grad=True)
    packed_t = trnn.pack_padded_sequence(x_t, lengths, bf, enforce_sorted)
    is_lstm = kind.startswith("LSTM")
    D = 2 if options["bidirectional"] else 1
    H, R = sizes["hidden_size"], sizes["proj_size"] if kind == "LSTM-proj" else sizes["hidden_size"]
    states = D * options["num_layers"]
    h0, c0 = rng.standard_normal((states, B, R)), rng.standard_normal((states, B, H))
    hx = None if not run["hx"] else (h0, c0) if is_lstm else h0
    hx_t = None if hx is None else tuple(torch.tensor(s, requires_grad=True) for s in hx) if is_lstm \
        else torch.tensor(h0, requires_grad=True)

    out, hidden = ours(packed, hx)
    out_t, hidden_t = theirs(packed_t, hx_t)
    h_n, c_n = hidden if is_lstm else (hidden, None)
    h_n_t, c_n_t = hidden_t if is_lstm else (hidden_t, None)
    assert isinstance(out, mt.PackedSequence)
    _close(out.data, out_t.data, "output")
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        _same(getattr(out, name), getattr(out_t, name), name)
    _close(h_n, h_n_t, "h_n")
    if is_lstm:
        _close(c_n, c_n_t, "c_n")

    douts = [rng.standard_normal(a.shape) if want and a is not None else None
             for a, want in zip((out.data, h_n, c_n), run["upstream"], strict=True)]
    dout = out._replace(data=douts[0]) if run["packed_grad"] and douts[0] is not None else douts[0]
    grads = ours.backward((dout, (douts[1], douts[2])) if is_lstm else (dout, douts[1]))
    loss = sum(((o * torch.tensor(g)).sum() for o, g in zip((out_t.data, h_n_t, c_n_t), douts, strict=True)
                if g is not None), torch.zeros((), dtype=torch.float64, requires_grad=True))
    loss.backward()

    def torch_grad(t: torch.Tensor) -> np.ndarray:
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()

    dinput = grads if hx is None else grads[0]
    assert isinstance(dinput, mt.PackedSequence)
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        _same(getattr(dinput, name), getattr(packed, name), name)
    _close(mt.pad_packed_sequence(dinput, bf, total_length=steps)[0], torch_grad(x_t), "dinput")
    if hx is not None:
        for name, d, t in zip(("dh0", "dc0"), grads[1] if is_lstm else (grads[1],),
                              hx_t if is_lstm else (hx_t,), strict=False):
            _close(d, torch_grad(t), name)
    torch_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad if p.grad is not None else 0 * p.data, torch_grad(torch_params[name]), name)


@KERNELS_THEN_PLAIN_SLOW
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_gradcheck_every_element_with_training_dropout(kind, bidirectional, kernels):
    """float64 central differences of the packed path: the packed data, h0 (c0) and every Parameter,
    unsorted lengths with a tie, 2 layers with training dropout (the same draws each evaluation)."""
    ours, packed, h0, c0 = _packed_dropout_case(kind, bidirectional)
    assert mt.gradcheck(ours, packed, (h0, c0) if kind.startswith("LSTM") else h0)


def _packed_dropout_case(kind: str, bidirectional: bool):
    mt.manual_seed(5)
    ours, _ = recurrent_pair(kind, 2, 3, proj_size=2, num_layers=2, dropout=0.3, bidirectional=bidirectional)
    rng = np.random.default_rng(1)
    packed = mt.pack_padded_sequence(rng.standard_normal((4, 4, 2)), [2, 4, 1, 2], enforce_sorted=False)
    D, R = 2 if bidirectional else 1, 2 if kind == "LSTM-proj" else 3
    return ours, packed, rng.standard_normal((2 * D, 4, R)), rng.standard_normal((2 * D, 4, 3))


# by default one LSTM (projected, both directions) and one RNN: the zero initial state is one branch for
# every kind, and test_packed_input_matches_torch_forward_and_backward compares it with torch's for all
DEFAULT_STATE_BY_DEFAULT = {("LSTM-proj", True), ("RNN-tanh", False)}


@KERNELS_THEN_PLAIN_SLOW
@pytest.mark.parametrize("kind, bidirectional", [
    pytest.param(kind, bidirectional, marks=[] if (kind, bidirectional) in DEFAULT_STATE_BY_DEFAULT
                 else pytest.mark.slow) for kind in KINDS for bidirectional in (False, True)])
def test_packed_gradcheck_every_element_from_the_default_state(kind, bidirectional, kernels):
    """The same gradcheck with no h0 (c0): the packed path from the zero initial state."""
    ours, packed, _, _ = _packed_dropout_case(kind, bidirectional)
    assert mt.gradcheck(ours, packed)


def test_gradcheck_sees_a_wrong_packed_backward(monkeypatch):
    """The tester: a packed backward that drops the input-side gradient (dxw) fails gradcheck, naming
    a tensor it reaches (the packed data, weight_ih or bias_ih)."""
    from minitorch.layers._stretches import Packed

    gru = mt.GRU(2, 3, bidirectional=True, dtype=np.float64)
    packed = mt.pack_sequence([np.ones((3, 2)), np.full((1, 2), 0.5)])
    assert mt.gradcheck(gru, packed)
    real = Packed.backward

    def wrong(*args):
        dxw, *rest = real(*args)
        return (np.zeros_like(dxw), *rest)

    monkeypatch.setattr(Packed, "backward", wrong)
    with pytest.raises(mt.GradcheckError, match=r"gradient of (input\.data|weight_ih|bias_ih)"):
        mt.gradcheck(gru, packed)


def test_one_layer_called_packed_then_padded_gives_each_call_its_gradients():
    """Each forward call's cache is its own (LIFO): a padded call after a packed one does not disturb it."""
    ours, theirs = recurrent_pair("LSTM", 2, 3, 0, bidirectional=True)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 2, 2))
    packed = mt.pack_padded_sequence(x, [3, 1])
    out1, _ = ours(packed)
    out2, _ = ours(y)
    g1, g2 = rng.standard_normal(out1.data.shape), rng.standard_normal(out2.shape)
    dy = ours.backward(g2)
    dx = ours.backward(out1._replace(data=g1))
    x_t, y_t = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    o1, _ = theirs(trnn.pack_padded_sequence(x_t, [3, 1]))
    o2, _ = theirs(y_t)
    ((o1.data * torch.tensor(g1)).sum() + (o2 * torch.tensor(g2)).sum()).backward()
    _close(dy, y_t.grad, "padded dx")
    _close(mt.pad_packed_sequence(dx)[0], x_t.grad, "packed dx")
    for name, p in theirs.named_parameters():
        _close(getattr(ours, name).grad, p.grad, name)


def test_a_torch_packed_sequence_is_taken_as_its_arrays():
    ours, theirs = recurrent_pair("GRU", 3, 4, 0)
    packed_t = trnn.pack_padded_sequence(torch.randn(5, 2, 3, dtype=torch.float64), [5, 3])
    out, h_n = ours(packed_t)
    out_t, h_n_t = theirs(packed_t)
    assert isinstance(out, mt.PackedSequence)
    _close(out.data, out_t.data, "output")
    _close(h_n, h_n_t, "h_n")


def _bad_packed():
    good = mt.pack_padded_sequence(np.zeros((3, 2, 2)), [3, 1])
    return [
        (good._replace(data=np.zeros((4, 3))), r"^GRU\(input_size=2\): expected a PackedSequence's data "
                                               r"\(4, 2\) \(sum\(batch_sizes\), input_size\), got \(4, 3\)$"),
        (good._replace(batch_sizes=np.array([1, 2, 1])), r"^GRU: expected a PackedSequence's batch_sizes "
                                                         r"non-increasing positive integers"),
        (good._replace(batch_sizes=np.array([2.0, 1.0, 1.0])),
         r"batch_sizes non-increasing positive integers"),
        (good._replace(sorted_indices=np.array([0, 0]), unsorted_indices=np.array([0, 1])),
         r"^GRU: expected a PackedSequence's sorted_indices a permutation of range\(2\) and unsorted_indices "
         r"its inverse \(or both None\)"),
        (good._replace(unsorted_indices=np.array([1, 0])), r"sorted_indices a permutation of range\(2\)"),
    ]


@pytest.mark.parametrize("index", range(5))
def test_a_malformed_packed_sequence_is_refused_naming_the_layer(index):
    packed, match = _bad_packed()[index]
    with pytest.raises(ValueError, match=match):
        mt.GRU(2, 3)(packed)


def test_backward_refuses_a_gradient_packed_otherwise_or_of_the_wrong_shape():
    lstm = mt.LSTM(2, 3)
    out, _ = lstm(mt.pack_padded_sequence(np.zeros((3, 2, 2)), [3, 1]))
    with pytest.raises(ValueError, match=r"^LSTM.backward: expected doutput packed as the output "
                                         r"\(batch_sizes \[2, 1, 1\], sorted_indices None\), got batch_sizes "
                                         r"\[2, 2\], sorted_indices None$"):
        lstm.backward(mt.PackedSequence(np.zeros((4, 3)), [2, 2]))
    with pytest.raises(ValueError, match=r"^LSTM.backward: expected doutput packed as the output "
                                         r"\(batch_sizes \[2, 1, 1\], sorted_indices None\), got batch_sizes "
                                         r"\[2, 1, 1\], sorted_indices \[1, 0\]$"):
        lstm.backward(mt.PackedSequence(np.zeros((4, 3)), [2, 1, 1], [1, 0]))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        lstm.backward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^LSTM.backward: expected \(doutput, \(dh_n, dc_n\)\), got nd"):
        lstm.backward((out.data, np.zeros((1, 2, 3))))
    dx = lstm.backward((out.data, (None, np.zeros((1, 2, 3)))))  # the refusals left the call waiting
    assert dx.data.shape == (4, 2)


def test_onnx_export_refuses_a_packed_example_input(tmp_path):
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    packed = mt.pack_sequence([np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(TypeError, match=r"^onnx.export: a PackedSequence input has no ONNX form"):
        mt.onnx.export(mt.GRU(2, 3), packed, tmp_path / "gru.onnx")


def _torch_run(theirs, x, lengths, enforce_sorted, dout, dh_n):
    """torch's (output data, h_n, dx padded, {name: grad}) for one packed call with these upstreams."""
    x_t = torch.tensor(x, requires_grad=True)
    out_t, hidden_t = theirs(trnn.pack_padded_sequence(x_t, lengths, enforce_sorted=enforce_sorted))
    h_n_t = hidden_t[0] if isinstance(hidden_t, tuple) else hidden_t
    ((out_t.data * torch.tensor(dout)).sum() + (h_n_t * torch.tensor(dh_n)).sum()).backward()
    return out_t.data, h_n_t, x_t.grad, {n: p.grad for n, p in theirs.named_parameters()}


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN-tanh"])
def test_float32_packed_input_keeps_float32_and_matches_torch(kind, kernels):
    ours, _ = recurrent_pair(kind, 3, 4, 0, bidirectional=True, num_layers=2)
    ours.to(np.float32)
    theirs = getattr(torch.nn, kind.split("-")[0])(3, 4, bidirectional=True, num_layers=2)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(4)
    x, lengths = rng.standard_normal((5, 3, 3)).astype(np.float32), [3, 5, 2]
    out, hidden = ours(mt.pack_padded_sequence(x, lengths, enforce_sorted=False))
    h_n = hidden[0] if isinstance(hidden, tuple) else hidden
    dout, dh_n = rng.standard_normal(out.data.shape), rng.standard_normal(h_n.shape)
    dx = ours.backward((out._replace(data=dout.astype(np.float32)),
                        (dh_n.astype(np.float32), None) if kind == "LSTM" else dh_n.astype(np.float32)))
    out_t, h_n_t, dx_t, grads_t = _torch_run(theirs, x, lengths, False, dout.astype(np.float32),
                                             dh_n.astype(np.float32))
    padded_dx = mt.pad_packed_sequence(dx, total_length=5)[0]
    for what, a, b in [("output", out.data, out_t), ("h_n", h_n, h_n_t), ("dx", padded_dx, dx_t)] + [
            (n, p.grad, grads_t[n]) for n, p in ours.named_parameters()]:
        assert a.dtype == np.float32, what
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=what)


def test_a_packed_lstm_cut_between_the_process_and_its_twin_matches_torch(twin_jobs):
    """Batches large enough for the LSTM kernels to cut (40 and 32 running sequences, H = 64): the
    segments' loops run half in the kernels' twin and the answer is still torch's."""
    ours, theirs = recurrent_pair("LSTM", 8, 64, 0, bidirectional=True)
    rng = np.random.default_rng(6)
    lengths = [3] * 32 + [1] * 8
    x = rng.standard_normal((3, 40, 8))
    out, (h_n, _) = ours(mt.pack_padded_sequence(x, lengths))
    dout, dh_n = rng.standard_normal(out.data.shape), rng.standard_normal(h_n.shape)
    dx = ours.backward((dout, (dh_n, None)))
    out_t, h_n_t, dx_t, grads_t = _torch_run(theirs, x, lengths, True, dout, dh_n)
    assert len(twin_jobs) == 8  # 2 directions x 2 segments (40, 32 rows) x forward and backward
    _close(out.data, out_t, "output")
    _close(h_n, h_n_t, "h_n")
    _close(mt.pad_packed_sequence(dx)[0], dx_t, "dx")
    for name, p in ours.named_parameters():
        _close(p.grad, grads_t[name], name)
