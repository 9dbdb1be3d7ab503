"""Recurrent layers' and cells' backward given a list where a pair is expected: ``[doutput, dh_n]``
is read as ``(doutput, dh_n)`` when it cannot be the values of one array (its first item is None or
already has the output's shape), as ``hx`` takes a list for its pair; any other list is an
array-like (as every module's ``dy``), and a list that is neither is refused naming the structure."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import use_kernels

LAYERS = {
    "RNN": lambda **kw: mt.RNN(3, 4, **kw, dtype=np.float64),
    "GRU": lambda **kw: mt.GRU(3, 4, **kw, dtype=np.float64),
    "LSTM": lambda **kw: mt.LSTM(3, 4, **kw, dtype=np.float64),
    "LSTM-proj": lambda **kw: mt.LSTM(3, 4, proj_size=2, **kw, dtype=np.float64),
}


def _run(make, x, hx, grad):
    """(what backward returned, every Parameter's gradient) of a fresh module (seeded weights)."""
    mt.manual_seed(0)
    module = make()
    out = module(x, hx)
    result = module.backward(grad(out))
    return result, {name: p.grad.copy() for name, p in module.named_parameters()}


def _assert_same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    else:
        np.testing.assert_array_equal(a, b)


def _layer_case(kind, batched, batch_first, bidirectional):
    rng = np.random.default_rng(1)
    make = lambda: LAYERS[kind](num_layers=2, batch_first=batch_first, bidirectional=bidirectional)  # noqa: E731
    shape = ((2, 5, 3) if batch_first else (5, 2, 3)) if batched else (5, 3)
    x = rng.standard_normal(shape)
    mt.manual_seed(0)
    out, state = make()(x)
    states = state if isinstance(state, tuple) else (state,)
    upstream = [rng.standard_normal(out.shape)] + [rng.standard_normal(s.shape) for s in states]
    hx = tuple(rng.standard_normal(s.shape) for s in states)
    return make, x, (hx if kind.startswith("LSTM") else hx[0]), upstream


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("batched, batch_first", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kernels", [False, True])
def test_a_layers_list_pair_is_its_tuple_pair(kind, batched, batch_first, bidirectional, kernels):
    use_kernels(kernels)
    make, x, hx, (dout, *dstate) = _layer_case(kind, batched, batch_first, bidirectional)
    lstm = kind.startswith("LSTM")
    state_tuple = tuple(dstate) if lstm else dstate[0]
    state_list = list(dstate) if lstm else dstate[0]
    expected = _run(make, x, hx, lambda out: (dout, state_tuple))
    _assert_same(_run(make, x, hx, lambda out: [dout, state_tuple]), expected)
    _assert_same(_run(make, x, hx, lambda out: [dout, state_list]), expected)
    # None in either place: zeros, as in the tuple
    _assert_same(_run(make, x, hx, lambda out: [None, state_tuple]),
                 _run(make, x, hx, lambda out: (None, state_tuple)))
    _assert_same(_run(make, x, hx, lambda out: [dout, None]), _run(make, x, hx, lambda out: (dout, None)))


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("batched", [False, True])
def test_a_layers_doutput_given_as_nested_lists_is_still_its_values(kind, batched):
    # L = 2: a list of two arrays, each a time step's (N, D * H), is doutput's values, not a pair
    make = lambda: LAYERS[kind]()  # noqa: E731
    x = np.random.default_rng(3).standard_normal((2, 2, 3) if batched else (2, 3))
    dout = np.random.default_rng(4).standard_normal((2, 2, 4 if kind != "LSTM-proj" else 2)[-(batched + 2):])
    expected = _run(make, x, None, lambda out: dout)
    _assert_same(_run(make, x, None, lambda out: [dout[0], dout[1]]), expected)
    _assert_same(_run(make, x, None, lambda out: dout.tolist()), expected)


@pytest.mark.parametrize("kind", LAYERS)
def test_a_layers_list_that_is_neither_is_refused_naming_the_structure(kind):
    make, x, hx, (dout, *dstate) = _layer_case(kind, True, False, False)
    pair = r"\(doutput, \(dh_n, dc_n\)\)" if kind.startswith("LSTM") else r"\(doutput, dh_n\)"
    with pytest.raises(ValueError, match=rf"^{kind[:4].rstrip('-')}.backward: expected doutput or {pair}, "
                                         r"got a list of 2 that is neither one array nor a pair whose "
                                         r"first item is None or an array of shape \(5, 2, \d\)$"):
        _run(make, x, hx, lambda out: [dout[:, :1], dstate[0]])  # doutput of the wrong shape


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("kernels", [False, True])
def test_an_lstm_cells_list_pair_is_its_tuple_pair(batched, kernels):
    use_kernels(kernels)
    rng = np.random.default_rng(5)
    lead = (2,) if batched else ()
    make = lambda: mt.LSTMCell(3, 4, dtype=np.float64)  # noqa: E731
    x = rng.standard_normal(lead + (3,))
    hx = (rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (4,)))
    dh, dc = rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (4,))
    _assert_same(_run(make, x, hx, lambda out: [dh, dc]), _run(make, x, hx, lambda out: (dh, dc)))
    _assert_same(_run(make, x, hx, lambda out: [None, dc]), _run(make, x, hx, lambda out: (None, dc)))
    _assert_same(_run(make, x, hx, lambda out: [dh, None]), _run(make, x, hx, lambda out: (dh, None)))


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_a_cells_dh_given_as_nested_lists_is_still_its_values(name):
    # N = 2: a list of two rows is dh' (2, H), not a pair
    make = lambda: getattr(mt, name)(3, 4, dtype=np.float64)  # noqa: E731
    x = np.random.default_rng(6).standard_normal((2, 3))
    dh = np.random.default_rng(7).standard_normal((2, 4))
    expected = _run(make, x, None, lambda out: dh)
    _assert_same(_run(make, x, None, lambda out: [dh[0], dh[1]]), expected)
    _assert_same(_run(make, x, None, lambda out: dh.tolist()), expected)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell"])
@pytest.mark.parametrize("first", ["array", "None"])
def test_a_one_state_cell_refuses_a_list_pair_naming_what_it_expected(name, first):
    cell = getattr(mt, name)(3, 4)
    h = cell(np.zeros((2, 3)))
    grad = [np.ones_like(h) if first == "array" else None, np.ones_like(h)]
    with pytest.raises(ValueError, match=rf"^{name}.backward: expected dh', one array \(an LSTMCell's pair "
                                         rf"\(dh', dc'\) is not {name}'s\), got a list of 2$"):
        cell.backward(grad)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_a_cells_list_that_is_neither_is_refused_naming_the_structure(name):
    cell = getattr(mt, name)(3, 4)
    cell(np.zeros((2, 3)))
    expected = r"dh' or \(dh', dc'\)" if name == "LSTMCell" else "dh', one array"
    with pytest.raises(ValueError, match=rf"^{name}.backward: expected {expected}, got a list of 2 that is "
                                         r"neither one array nor a pair whose first item is None or an "
                                         r"array of shape \(2, 4\)$"):
        cell.backward([np.ones((2, 3)), np.ones((2, 4))])  # dh' of the wrong shape
