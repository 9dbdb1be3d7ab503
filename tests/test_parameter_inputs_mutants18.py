"""Mutation survivors of leaf_inputs (a Parameter input as torch's leaf), each killed by a test here."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


@pytest.mark.parametrize("by_keyword", [False, True], ids=["positional", "keyword"])
def test_a_leaf_two_tuples_deep_is_refused_naming_its_argument(by_keyword):
    # the error names the argument ('hx'), not its position ('1')
    x, c0 = np.ones((4, 1, 2)), np.ones((1, 1, 3))
    hx = ((mt.Parameter(np.ones((1, 1, 3))),), c0)
    lstm = mt.LSTM(2, 3)
    with pytest.raises(TypeError, match=r"^LSTM: 'hx' is a Parameter that requires grad \(inside a tuple "
                                        r"inside a tuple\)"):
        lstm(x, hx=hx) if by_keyword else lstm(x, hx)


class Rest(mt.Module):
    """forward(x, *rest): the inputs after x have no name in the signature."""

    def forward(self, x, *rest):
        return np.asarray(x) + sum(np.asarray(r[0][0]) for r in rest)

    def backward(self, dy):
        return dy


def test_a_nameless_leaf_two_tuples_deep_is_refused_naming_its_position():
    leaf = mt.Parameter(np.ones(3))
    with pytest.raises(TypeError, match=r"^Rest: input 2 is a Parameter that requires grad \(inside a tuple"):
        Rest()(np.ones(3), ((np.ones(3),),), ((leaf,),))


@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_refused_backward_leaves_the_newest_of_two_leaf_calls_waiting_with_its_leaf(float64, method):
    # the leaves go back on the call that raised (the newest), not on the oldest waiting call
    lin = mt.Linear(3, 2)
    p = mt.Parameter(np.arange(12.0).reshape(4, 3))
    lin(p)
    lin(p)
    with pytest.raises(ValueError):
        getattr(lin, method)(np.ones((5, 2)))  # a dy of the wrong shape: refused, the call waits
    dy = np.ones((4, 2))
    assert getattr(lin, method)(dy) is None  # the leaf's slot
    np.testing.assert_allclose(p.grad, dy @ lin.W.data.T, rtol=1e-12)
    assert lin.backward(dy) is None  # the older call kept its leaf too
    np.testing.assert_allclose(p.grad, 2 * dy @ lin.W.data.T, rtol=1e-12)


def test_a_leaf_given_twice_for_one_argument_is_pythons_type_error():
    # the leaves of one slot sort by (slot, item), a whole-slot leaf's item None as -1 (None
    # compared with a tuple's item 0 raised "'<' not supported" before Python's own error)
    x, c0 = np.ones((4, 1, 2)), np.ones((1, 1, 3))
    p = mt.Parameter(np.ones((1, 1, 3)))
    with pytest.raises(TypeError, match="got multiple values for argument 'hx'"):
        mt.LSTM(2, 3)(x, (p, c0), hx=p)


class PairState(mt.Module):
    """forward(state, scale=None, *, note=None) with state a pair (h, c): one input whose gradient is
    the pair (dh, dc), as an LSTM's (h0, c0) alone."""

    def forward(self, state, scale=None, *, note=None):
        self._h, self._c = (np.asarray(a) for a in state)
        return self._h * self._c * (1.0 if scale is None else scale)

    def backward(self, dy):
        return dy * self._c, dy * self._h


@pytest.mark.parametrize("kwargs", [{"scale": None}, {"note": "x"}, {}],
                         ids=["scale-None", "keyword-only", "none"])
def test_a_one_input_call_with_a_pair_gradient_counts_only_inputs_given(float64, kwargs):
    # a keyword given None, or one with no slot, is no input: the call keeps one input, its
    # backward's pair the gradient of that one tuple
    h, c = mt.Parameter(np.full(3, 2.0)), mt.Parameter(np.full(3, 5.0))
    m = PairState()
    m((h, c), **kwargs)
    assert m.backward(np.ones(3)) == (None, None)
    np.testing.assert_array_equal(h.grad, np.full(3, 5.0))
    np.testing.assert_array_equal(c.grad, np.full(3, 2.0))


class Twice(mt.Module):
    """A composite without a backward of its own (its backward is its children's chain)."""

    def __init__(self):
        super().__init__()
        self.fc = mt.Linear(3, 3)
        self.act = mt.Tanh()

    def forward(self, x):
        self._seen = np.shape(x)  # a cache of this call: kept in its frame
        return self.act(self.fc(x))


class TwiceAgain(Twice):
    def forward(self, x):
        return super().forward(x)  # the subclass's call records; the re-entered one does not


@pytest.mark.parametrize("cls", [Twice, TwiceAgain])
def test_a_recording_composite_keeps_one_frame_per_call(float64, cls):
    m = cls()
    p = mt.Parameter(np.ones((2, 3)))
    m(np.ones((4, 3)))
    m(p)  # the newest call, with a leaf
    assert len(m._stack) == 2 and m._stack[-1]["_seen"] == (2, 3)
    assert m.backward(np.ones((2, 3))) is None  # the leaf's call first
    assert p.grad is not None and p.grad.shape == (2, 3)
    assert m.backward(np.ones((4, 3))).shape == (4, 3)
    with pytest.raises(RuntimeError, match="no forward call is waiting"):
        m.backward(np.ones((4, 3)))
