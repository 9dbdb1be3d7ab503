"""Nesting at any depth: a Sequential inside a user Module inside a Sequential.

parameters(), named_parameters(), state_dict()/load_state_dict(), train()/eval(), zero_grad(),
to() and repr must reach every descendant, and forward/backward must chain through all of them.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


class Residual(mt.Module):
    """y = body(x) + x: a user module holding a Sequential."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = mt.Sequential(mt.Linear(width, width), mt.BatchNorm1d(width), mt.Tanh())
        self.gate = mt.Dropout(0.25)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.gate(self.body(x)) + x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self.body.backward(self.gate.backward(dy)) + dy


def build() -> mt.Sequential:
    return mt.Sequential(
        mt.Linear(3, 4),
        Residual(4),
        mt.Sequential(Residual(4), mt.Sequential(mt.LayerNorm(4), mt.GELU())),
        mt.Linear(4, 2),
    )


EXPECTED_PARAMETERS = [
    "0.W", "0.b",
    "1.body.0.W", "1.body.0.b", "1.body.1.weight", "1.body.1.bias",
    "2.0.body.0.W", "2.0.body.0.b", "2.0.body.1.weight", "2.0.body.1.bias",
    "2.1.0.weight", "2.1.0.bias",
    "3.W", "3.b",
]
BUFFERS = ["running_mean", "running_var", "num_batches_tracked"]


def test_named_parameters_and_state_dict_reach_every_depth():
    model = build()
    assert [name for name, _ in model.named_parameters()] == EXPECTED_PARAMETERS
    assert len(list(model.parameters())) == len(EXPECTED_PARAMETERS)
    assert list(model.parameters())[5] is model[1].body[1].bias
    expected_state = [
        *EXPECTED_PARAMETERS[:2],
        *EXPECTED_PARAMETERS[2:6], *(f"1.body.1.{b}" for b in BUFFERS),
        *EXPECTED_PARAMETERS[6:10], *(f"2.0.body.1.{b}" for b in BUFFERS),
        *EXPECTED_PARAMETERS[10:],
    ]
    assert sorted(model.state_dict()) == sorted(expected_state)
    assert dict(model.named_buffers())["2.0.body.1.running_var"] is model[2][0].body[1].running_var


def test_state_dict_roundtrip_restores_the_whole_tree():
    mt.manual_seed(0)
    model = build()
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    for _ in range(3):
        model(x)  # moves every BatchNorm's running statistics
    mt.manual_seed(1)
    other = build()
    other.load_state_dict(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[name], value, err_msg=name)
    model.eval(), other.eval()
    np.testing.assert_array_equal(other(x), model(x))
    bad = model.state_dict()
    bad["2.0.body.1.running_mean"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"'2.0.body.1.running_mean' expected shape \(4,\), got \(5,\)"):
        other.load_state_dict(bad)


def test_train_and_eval_reach_every_descendant():
    model = build()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(model(x), model(x))  # no dropout, running stats: deterministic
    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(model(x), model(x))  # both deep Dropouts draw fresh masks
    assert len(list(model.modules())) == 19  # root, 2 Linear, 2 Residual x 6, 2 Sequential, LN, GELU


def test_zero_grad_and_backward_reach_every_parameter():
    model = build()
    x = np.random.default_rng(0).standard_normal((5, 3))
    model(x)
    dx = model.backward(np.random.default_rng(1).standard_normal((5, 2)))
    assert dx.shape == x.shape
    assert all(np.abs(p.grad).sum() > 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradcheck_through_the_nested_tree(float64):
    x = np.random.default_rng(0).standard_normal((5, 3))
    assert mt.gradcheck(build(), x)


def test_to_casts_every_descendant():
    model = build().to(np.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[2][0].body[1].running_mean.dtype == np.float64
    assert model[2][0].body[1].num_batches_tracked.dtype == np.int64
    assert model(np.ones((2, 3), dtype=np.float32)).dtype == np.float64  # the parameters' dtype


def test_repr_indents_every_level():
    model = mt.Sequential(mt.Linear(3, 4), mt.Sequential(Residual(4), mt.LayerNorm(4)))
    assert repr(model) == "\n".join([
        "Sequential(",
        "  (0): Linear(in_features=3, out_features=4, bias=True)",
        "  (1): Sequential(",
        "    (0): Residual(",
        "      (body): Sequential(",
        "        (0): Linear(in_features=4, out_features=4, bias=True)",
        "        (1): BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True)",
        "        (2): Tanh()",
        "      )",
        "      (gate): Dropout(p=0.25)",
        "    )",
        "    (1): LayerNorm((4,), eps=1e-05, elementwise_affine=True)",
        "  )",
        ")",
    ])
