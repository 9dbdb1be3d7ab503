"""RNN, LSTM, GRU and their cells: PyTorch over hypothesis grids, dropout, contract, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_inputs, torch_twin

import minitorch as mt

KINDS = ["RNN-tanh", "RNN-relu", "LSTM", "GRU"]


def _build(kind: str, *args, **kwargs) -> mt.Module:
    if kind.startswith("RNN"):
        return mt.RNN(*args, nonlinearity=kind[4:], **kwargs)
    return getattr(mt, kind)(*args, **kwargs)


@st.composite
def _layer_cases(draw):
    kind = draw(st.sampled_from(KINDS))
    size = dict(input_size=draw(st.integers(1, 3)), hidden_size=draw(st.integers(1, 3)))
    options = dict(num_layers=draw(st.integers(1, 3)), bias=draw(st.booleans()),
                   batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()))
    T, N = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batched, with_hx = draw(st.booleans()), draw(st.booleans())
    return kind, size, options, T, N, batched, with_hx, draw(st.integers(0, 2**31))


def _inputs(kind, size, options, T, N, batched, with_hx, seed, dtype):
    rng = np.random.default_rng(seed)
    shape = ((N, T) if options["batch_first"] else (T, N)) if batched else (T,)
    x = rng.standard_normal(shape + (size["input_size"],)).astype(dtype)
    if not with_hx:
        return (x,)
    D = 2 if options["bidirectional"] else 1
    state = (D * options["num_layers"],) + ((N,) if batched else ()) + (size["hidden_size"],)
    hx = tuple(rng.standard_normal(state).astype(dtype) for _ in range(2 if kind == "LSTM" else 1))
    return (x, hx if kind == "LSTM" else hx[0])


@settings(max_examples=60, deadline=None)
@given(case=_layer_cases())
def test_layers_match_torch_float64(case):
    kind, size, options, *rest = case
    mt.set_default_dtype(np.float64)
    mt.manual_seed(rest[-1] % 1000)
    module = _build(kind, **size, **options)
    compare_inputs(module, _inputs(kind, size, options, *rest, np.float64), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(case=_layer_cases())
def test_layers_match_torch_float32_and_stay_float32(case):
    kind, size, options, *rest = case
    module = _build(kind, **size, **options)
    compare_inputs(module, _inputs(kind, size, options, *rest, np.float32), rtol=1e-4, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"]),
       in_size=st.integers(1, 4), hidden=st.integers(1, 4), N=st.integers(1, 3), bias=st.booleans(),
       batched=st.booleans(), with_hx=st.booleans(), float32=st.booleans(), seed=st.integers(0, 2**31))
def test_cells_match_torch(kind, in_size, hidden, N, bias, batched, with_hx, float32, seed):
    dtype = np.float32 if float32 else np.float64
    mt.set_default_dtype(dtype)
    if kind.startswith("RNNCell"):
        module = mt.RNNCell(in_size, hidden, bias, nonlinearity=kind[8:])
    else:
        module = getattr(mt, kind)(in_size, hidden, bias)
    rng = np.random.default_rng(seed)
    lead = (N,) if batched else ()
    inputs = (rng.standard_normal(lead + (in_size,)).astype(dtype),)
    if with_hx:
        states = tuple(rng.standard_normal(lead + (hidden,)).astype(dtype) for _ in range(2))
        inputs += (states if kind == "LSTMCell" else states[0],)
    tol = dict(rtol=1e-4, atol=1e-5) if float32 else dict(rtol=1e-10, atol=1e-12)
    compare_inputs(module, inputs, **tol)


# ------------------------------------------------------------------ parameters, init, shapes
def test_parameter_names_shapes_and_order_are_torchs():
    for kind in ("RNN-tanh", "LSTM", "GRU"):
        m = _build(kind, 3, 5, num_layers=2, bidirectional=True)
        t = torch_twin(m)
        assert [(n, p.shape) for n, p in m.named_parameters()] == [
            (n, tuple(p.shape)) for n, p in t.named_parameters()]
    cell = mt.LSTMCell(3, 5)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (20, 3)), ("weight_hh", (20, 5)), ("bias_ih", (20,)), ("bias_hh", (20,))]


def test_init_is_uniform_in_one_over_sqrt_hidden_and_seeded():
    mt.manual_seed(5)
    a = mt.LSTM(30, 64, num_layers=2)
    mt.manual_seed(5)
    b = mt.LSTM(30, 64, num_layers=2)
    k = 1 / np.sqrt(64)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
        assert p.dtype == np.float32 and np.all(np.abs(p.data) <= k), name
    w = a.weight_hh_l1.data
    assert w.max() > 0.9 * k and w.min() < -0.9 * k and abs(w.mean()) < 0.01


@pytest.mark.parametrize("batch_first", [False, True])
def test_h_n_is_layers_by_batch_whatever_batch_first_says(batch_first):
    lstm = mt.LSTM(4, 6, num_layers=3, bidirectional=True, batch_first=batch_first)
    x = np.zeros((2, 5, 4), np.float32)  # (L=2, N=5) or (N=2, L=5)
    out, (h_n, c_n) = lstm(x)
    N = 2 if batch_first else 5
    assert out.shape == (2, 5, 12) and h_n.shape == c_n.shape == (6, N, 6)


def test_unbatched_input_gives_unbatched_outputs():
    gru = mt.GRU(3, 4, num_layers=2)
    out, h_n = gru(np.ones((5, 3)))
    assert out.shape == (5, 4) and h_n.shape == (2, 4)
    assert gru.backward(np.ones((5, 4), np.float32)).shape == (5, 3)


def test_backward_follows_the_inputs_structure():
    lstm = mt.LSTM(2, 3)
    x, h0 = np.ones((4, 1, 2)), np.zeros((1, 1, 3))
    out, _ = lstm(x)
    dx = lstm.backward(np.ones_like(out))  # a bare array is the gradient of the output
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape
    lstm(x, (h0, h0))
    dx, (dh0, dc0) = lstm.backward((None, (np.ones((1, 1, 3)), None)))  # None = zero
    assert dx.shape == x.shape and dh0.shape == dc0.shape == (1, 1, 3)
    rnn = mt.RNN(2, 3)
    rnn(x, h0)
    dx, dh0 = rnn.backward((None, np.ones((1, 1, 3))))
    assert dh0.shape == (1, 1, 3)


def test_gradient_of_h_n_only_equals_gradient_of_last_output():
    """h_n is the last output step (one layer, one direction): both routes give one gradient."""
    mt.set_default_dtype(np.float64)
    lstm = mt.LSTM(3, 4)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    g = np.random.default_rng(1).standard_normal((2, 4))
    out, _ = lstm(x)
    dout = np.zeros_like(out)
    dout[-1] = g
    lstm.zero_grad()
    dx1 = lstm.backward(dout)
    grads1 = [p.grad.copy() for p in lstm.parameters()]
    lstm(x)
    lstm.zero_grad()
    dx2 = lstm.backward((None, (g[None], None)))
    np.testing.assert_allclose(dx1, dx2, rtol=1e-12, atol=1e-14)
    for a, b in zip(grads1, [p.grad for p in lstm.parameters()], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("proj_size", [0, 2])
def test_carried_state_continues_the_sequence_truncated_bptt(proj_size):
    """Two halves with the state carried equal one pass over the whole sequence (forward)."""
    mt.set_default_dtype(np.float64)
    lstm = mt.LSTM(3, 4, num_layers=2, proj_size=proj_size)
    x = np.random.default_rng(0).standard_normal((8, 2, 3))
    whole, (h, c) = lstm(x)
    first, state = lstm(x[:4])
    second, (h2, c2) = lstm(x[4:], state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    np.testing.assert_allclose(h2, h, rtol=1e-12)
    np.testing.assert_allclose(c2, c, rtol=1e-12)
    dx, (dh0, dc0) = lstm.backward(np.ones_like(second))  # the constant input's gradient: unused
    assert dx.shape == (4, 2, 3) and dh0.shape == (2, 2, proj_size or 4) and dc0.shape == (2, 2, 4)


# ------------------------------------------------------------------------------ dropout
def test_dropout_between_layers_uses_the_librarys_seeded_generator():
    """Layer by layer by hand, with the mask drawn from mt's generator, gives the same result."""
    mt.set_default_dtype(np.float64)
    lstm = mt.LSTM(3, 4, num_layers=2, dropout=0.5)
    first, second = mt.LSTM(3, 4), mt.LSTM(4, 4)
    for name, p in lstm.named_parameters():
        target = first if name.endswith("l0") else second
        getattr(target, name[:-1] + "0").data[...] = p.data
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    mt.manual_seed(11)
    out, _ = lstm(x)
    mt.manual_seed(11)
    h1, _ = first(x)
    mask = (mt.random.generator().random(h1.shape) >= 0.5) / 0.5
    expected, _ = second(h1 * mask)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert not np.allclose(out, lstm.eval()(x)[0])  # eval: no dropout, equal to torch's
    compare_inputs(lstm, (x,), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [mt.RNN, mt.LSTM, mt.GRU])
def test_dropout_1_drops_every_unit_between_layers_as_torch(float64, cls):
    """dropout=1 (torch accepts [0, 1]): the upper layer reads zeros, so its output is its response to a
    zero sequence, as torch's; the mask keep / (1 - p) was 0 / 0 = nan in the output and gradients."""
    layer = cls(2, 3, num_layers=2, dropout=1.0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    out, _ = layer(x)
    dx = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(dx, np.zeros_like(x))  # nothing reaches the lower layer
    upper = cls(3, 3)
    for name, p in layer.named_parameters():
        if name.endswith("_l1"):
            getattr(upper, name[:-1] + "0").data[...] = p.data
    np.testing.assert_allclose(out, upper(np.zeros((4, 2, 3)))[0], rtol=1e-12, atol=1e-15)
    twin = torch_twin(layer)
    np.testing.assert_allclose(out, twin(torch.tensor(x))[0].detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_draws_from_the_generator_where_torch_draws(kind, p, bidirectional):
    """torch's recurrent layers (train mode, num_layers=2) draw from its generator for 0 < p < 1 and
    not at p = 0 or p = 1 (zeros, as Dropout's p = 1: ``dropout_mask``); MiniTorch's draw from
    mt.random.generator() by the same rule, so the next draw is the same with or without the layer."""
    nonlinearity = {"nonlinearity": kind[4:]} if kind.startswith("RNN") else {}
    t_layer = getattr(torch.nn, kind[:3] if kind.startswith("RNN") else kind)(
        3, 4, num_layers=2, dropout=p, bidirectional=bidirectional, **nonlinearity).double().train()
    t_x = torch.randn(5, 2, 3, dtype=torch.float64)
    before = torch.get_rng_state()
    t_layer(t_x)
    torch_draws = not torch.equal(before, torch.get_rng_state())
    layer = _build(kind, 3, 4, num_layers=2, dropout=p, bidirectional=bidirectional).to(np.float64)
    mt.manual_seed(5)
    state = mt.random.generator().bit_generator.state
    out, _ = layer(np.random.default_rng(0).standard_normal((5, 2, 3)))
    assert (mt.random.generator().bit_generator.state != state) == torch_draws == (0 < p < 1)
    assert np.all(np.isfinite(out))


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        mt.GRU(2, 3, dropout=0.2)


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("x, hx, match, proj_size", [
    (np.zeros((5, 2, 4)), None, r"LSTM\(input_size=3\): expected input \(L, N, 3\) or unbatched \(L, 3\)", 0),
    (np.zeros((2, 1, 1, 3)), None, r"expected input .* got \(2, 1, 1, 3\)$", 0),
    (np.zeros((0, 2, 3)), None, "L >= 1", 0),
    (np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((1, 2, 4))),
     r"expected h0 of shape \(2, 2, 4\), got \(1, 2, 4\)", 0),
    (np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((2, 3, 4))),
     r"expected c0 of shape \(2, 2, 4\), got \(2, 3, 4\)", 0),
    (np.zeros((5, 3)), (np.zeros((2, 1, 4)), np.zeros((2, 1, 4))), r"expected h0 of shape \(2, 4\)", 0),
    (np.zeros((5, 2, 3)), np.zeros((2, 2, 4)), r"expected hx = \(h0, c0\)", 0),
    (np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((2, 2, 4))),
     r"^LSTM: expected h0 of shape \(2, 2, 2\), got \(2, 2, 4\)$", 2),
    (np.zeros((5, 2, 3)), (np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
     r"^LSTM: expected c0 of shape \(2, 2, 4\), got \(2, 2, 2\)$", 2),
    (np.zeros((5, 3)), (np.zeros((2, 4)), None), r"^LSTM: expected h0 of shape \(2, 2\), got \(2, 4\)$", 2),
    (np.zeros((5, 2, 4)), None, r"LSTM\(input_size=3\): expected input \(L, N, 3\)", 2),
])
def test_bad_inputs_raise_and_change_nothing(x, hx, match, proj_size):
    lstm = mt.LSTM(3, 4, num_layers=2, proj_size=proj_size)
    good = np.ones((2, 1, 3), np.float32)
    out, _ = lstm(good)
    before = {n: p.data.copy() for n, p in lstm.named_parameters()}
    with pytest.raises(ValueError, match=match):
        lstm(x, hx)
    for n, p in lstm.named_parameters():
        np.testing.assert_array_equal(p.data, before[n])
    assert lstm.backward(np.ones_like(out)).shape == good.shape  # the earlier forward's cache is intact


def test_backward_checks_gradient_shapes():
    gru = mt.GRU(2, 3, batch_first=True)
    gru(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=r"GRU.backward: expected dy of the output's shape \(4, 5, 3\)"):
        gru.backward(np.ones((5, 4, 3)))
    gru(np.ones((4, 5, 2)))  # a refused backward may have consumed its forward (the renovated contract)
    with pytest.raises(ValueError, match=r"GRU.backward: expected dy of the output's shape \(1, 4, 3\)"):
        gru.backward((None, np.ones((1, 5, 3))))


def test_cell_errors():
    cell = mt.LSTMCell(3, 2)
    with pytest.raises(ValueError, match=r"LSTMCell\(input_size=3\): expected input \(N, 3\) or \(3,\)"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(2, 2\), got \(3, 2\)"):
        cell(np.zeros((2, 3)), (np.zeros((2, 2)), np.zeros((3, 2))))


@pytest.mark.parametrize("make, match", [
    (lambda: mt.LSTM(0, 3), "input_size must be a positive integer"),
    (lambda: mt.GRU(3, 2, num_layers=0), "num_layers"),
    (lambda: mt.RNN(3, 2, nonlinearity="sigmoid"), "nonlinearity must be one of"),
    (lambda: mt.LSTM(3, 2, dropout=1.5), r"dropout must be a number in \[0, 1\]"),
    (lambda: mt.LSTM(3, 2, bidirectional=1), "bidirectional must be True or False"),
    (lambda: mt.GRUCell(3, 0), "hidden_size"),
])
def test_constructor_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_repr_reads_like_torchs():
    lstm = mt.LSTM(10, 20, num_layers=2, batch_first=True)
    assert repr(lstm) == "LSTM(10, 20, num_layers=2, batch_first=True)"
    assert repr(mt.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(mt.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch_gives_empty_outputs_as_torch(kind):
    m = _build(kind, 3, 4, num_layers=2, bidirectional=True)
    out, hidden = m(np.zeros((5, 0, 3)))
    h_n = hidden[0] if kind == "LSTM" else hidden
    assert out.shape == (5, 0, 8) and h_n.shape == (4, 0, 4)
    assert m.backward(np.zeros((5, 0, 8), np.float32)).shape == (5, 0, 3)
