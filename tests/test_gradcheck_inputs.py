"""gradcheck with several inputs, integer inputs, keyword arguments and tuple outputs (CONTRACT §4)."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


class _Bilinear(mt.Module):
    """(a * b * w, (a + s, None)) from a, a pair (b, ids) and a keyword scale s: every §4 case at once."""

    def __init__(self, wrong: str = "") -> None:
        super().__init__()
        self.w = mt.Parameter(np.linspace(0.5, 1.5, 3))
        self.wrong = wrong

    def forward(self, a, pair, scale=1.0):
        b, ids = pair
        self._a, self._b = a, b
        return a * b * self.w.data * scale, (a[ids] + scale, None)

    def backward(self, grads):
        dy, (dz, none) = grads
        assert none is None
        a, b = self._a, self._b
        dw = (dy * a * b).sum(axis=0)
        if self.wrong == "w":
            dw = dw * 1.01
        self.w.accumulate_grad(dw)
        da = dy * b * self.w.data
        np.add.at(da, self._ids, dz)
        db = dy * a * self.w.data
        if self.wrong == "b":
            db[1, 2] += 0.1
        return da, (db, np.zeros(3) if self.wrong == "ids" else None)

    def __call__(self, a, pair, scale=1.0):
        self._ids = pair[1]
        return self.forward(a, pair, scale)


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3)), (rng.standard_normal((2, 3)), np.array([1, 1, 0]))


def test_several_inputs_tuple_outputs_and_integer_input_pass():
    a, pair = _inputs()
    assert mt.gradcheck(_Bilinear(), a, pair)


def test_wrong_gradient_of_a_nested_input_is_named_with_its_index():
    a, pair = _inputs()
    with pytest.raises(mt.GradcheckError, match=r"gradient of inputs\[1\]\[0\] at index \(1, 2\): analytic"):
        mt.gradcheck(_Bilinear("b"), a, pair)


def test_wrong_parameter_gradient_is_named():
    a, pair = _inputs()
    with pytest.raises(mt.GradcheckError, match=r"gradient of w at index \(\d,\): analytic .* numerical"):
        mt.gradcheck(_Bilinear("w"), a, pair)


def test_integer_input_must_get_none():
    a, pair = _inputs()
    with pytest.raises(mt.GradcheckError, match=r"inputs\[1\]\[1\], an integer input .*expected None"):
        mt.gradcheck(_Bilinear("ids"), a, pair)


class _Scaled(mt.Module):
    def forward(self, x, *, scale):
        self._scale = scale
        return x * scale

    def backward(self, dy):
        return dy * self._scale

    def __call__(self, x, **kwargs):
        return self.forward(x, **kwargs)


def test_keyword_arguments_reach_forward_and_are_not_differentiated():
    x = np.random.default_rng(0).standard_normal((3, 2))
    assert mt.gradcheck(_Scaled(), x, scale=np.array(2.5))


class _WrongEmbedding(mt.Embedding):
    def backward_params(self, dy):
        super().backward_params(dy)
        self.weight.grad[2, 1] += 0.5


def test_embedding_wrong_scatter_is_caught():
    mt.set_default_dtype(np.float64)
    with pytest.raises(mt.GradcheckError, match=r"gradient of weight at index \(2, 1\)"):
        mt.gradcheck(_WrongEmbedding(4, 2), np.array([[2, 2], [0, 3]]))


def test_inputs_are_not_modified():
    a, pair = _inputs()
    before = a.copy(), pair[0].copy()
    mt.gradcheck(_Bilinear(), a, pair)
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(pair[0], before[1])
