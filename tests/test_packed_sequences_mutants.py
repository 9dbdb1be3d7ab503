"""Packed sequences: the cases a mutation run of rnn_utils.py, layers/rnn_packed.py and the packed
dispatch in layers/rnn_base.py found no test for, each against torch 2.13 (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn
from recurrent_pairs import recurrent_pair

import minitorch as mt

KINDS = ["RNN-tanh", "LSTM", "LSTM-proj", "GRU"]


def _close(ours, theirs, what: str) -> None:
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


def _states(out):
    """h_n, or (h_n, c_n) for an LSTM, as a tuple."""
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_training_dropout_one_matches_torch(kind):
    """dropout=1.0 between two layers in training: every packed row of layer 0's output is zeroed
    (torch's too, deterministic), so layer 1 runs on zeros; eval mode would not zero them."""
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2, num_layers=2, dropout=1.0)
    ours.train(), theirs.train()
    x = np.random.default_rng(1).standard_normal((4, 3, 3))
    lengths = [4, 2, 1]
    out, states = ours(mt.pack_padded_sequence(x, lengths))
    out_t, states_t = theirs(trnn.pack_padded_sequence(torch.tensor(x), lengths))
    _close(out.data, out_t.data, "output")
    for s, s_t in zip(_states(states), _states(states_t), strict=True):
        _close(s, s_t, "h_n / c_n")


@pytest.mark.parametrize("kind", KINDS)
def test_a_padded_call_after_a_packed_one_backpropagates_as_padded(kind):
    """forward(packed), backward, then forward(padded): the padded call's backward is the padded
    one (the packed layout is not kept from the call before), as torch's."""
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 3))
    out, _ = ours(mt.pack_padded_sequence(x, [4, 3]))
    ours.backward(np.ones_like(out.data))
    ours.zero_grad()
    out, _ = ours(x)
    dy = rng.standard_normal(out.shape)
    dx = ours.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    out_t, _ = theirs(xt)
    out_t.backward(torch.tensor(dy))
    _close(out, out_t, "output")
    _close(dx, xt.grad, "dinput")
    for name, p in theirs.named_parameters():
        _close(getattr(ours, name).grad, p.grad, name)


@pytest.mark.parametrize("data", [np.array([[1.0, 2.0], [1, 1]]), (np.ones(2), [1, 1], None)],
                         ids=["array-of-two-rows", "tuple-of-three"])
def test_packed_sequence_of_one_argument_not_a_pair_is_refused(data):
    """PackedSequence(x) alone takes only torch's (data, batch_sizes) pair form (torch asserts a list or
    tuple of two): an array of two rows or a triple is refused, not split into data and sizes."""
    with pytest.raises(ValueError, match=r"PackedSequence: expected \(data, batch_sizes\)"):
        mt.PackedSequence(data)


@pytest.mark.parametrize("total_length", [2.0, True, "3"])
def test_pad_packed_sequence_refuses_a_total_length_that_is_no_integer(total_length):
    """total_length an int >= the longest length: a float, a bool or a string is refused by name."""
    packed = mt.pack_padded_sequence(np.ones((2, 1, 3)), [1])
    with pytest.raises(TypeError, match=r"pad_packed_sequence: total_length must be a non-negative integer"):
        mt.pad_packed_sequence(packed, total_length=total_length)
