"""Module, Parameter and Sequential: registration, gradients, state, modes, repr, errors."""

from __future__ import annotations

import types
from collections.abc import Mapping

import numpy as np
import pytest

import minitorch as mt


class TwoLayer(mt.Module):
    """A user-defined module holding a Sequential and its own Parameter."""

    def __init__(self):
        super().__init__()
        self.scale = mt.Parameter(np.ones(3, dtype=np.float32))
        self.body = mt.Sequential(mt.Linear(2, 3), mt.ReLU())
        self.cache = np.zeros(5)  # a plain attribute: never registered

    def forward(self, x):
        return self.body(x) * self.scale.data


def test_parameter_requires_floating_data():
    with pytest.raises(TypeError, match="floating"):
        mt.Parameter(np.arange(3))


def test_parameter_grad_starts_as_none_and_zero_grad_can_fill_zeros():
    p = mt.Parameter(np.ones((2, 3), dtype=np.float32))
    assert p.grad is None
    p.zero_grad(set_to_none=False)
    assert p.grad is None  # as torch: no gradient yet stays no gradient
    p.accumulate_grad(np.ones((2, 3), dtype=np.float32))
    g = p.grad
    p.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.shape == (2, 3) and p.grad.dtype == np.float32
    np.testing.assert_array_equal(p.grad, 0)


def test_parameter_grad_accumulates_until_zero_grad_then_is_written():
    p = mt.Parameter(np.zeros(3))
    p.accumulate_grad(np.array([1.0, 2.0, 3.0]))
    p.accumulate_grad(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(p.grad, [2.0, 3.0, 4.0])
    p.zero_grad()
    assert p.grad is None
    g = np.array([5.0, 5.0, 5.0])
    p.accumulate_grad(g)
    np.testing.assert_array_equal(p.grad, [5.0, 5.0, 5.0])
    assert p.grad is not g  # a copy: the caller keeps its array
    p.zero_grad()
    assert p.grad is None  # not stale values


def test_accumulate_grad_checks_shape():
    p = mt.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"expected shape \(3,\), got \(4,\)"):
        p.accumulate_grad(np.zeros(4))


@pytest.mark.parametrize("order", ["C", "F"])
def test_a_first_gradient_that_fails_to_cast_leaves_no_gradient(order):
    """accumulate_grad's copy into the data's layout is made before it becomes ``grad``: a cast
    that raises (overflow under np.errstate, text) leaves grad None, not an uninitialised array."""
    p = mt.Parameter(np.zeros((2, 3), np.float32, order=order))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        p.accumulate_grad(np.full((2, 3), 1e300))
    assert p.grad is None
    with pytest.raises(ValueError):
        p.accumulate_grad(np.full((2, 3), "a"))
    assert p.grad is None


def test_registration_order_and_dotted_names():
    model = mt.Sequential(TwoLayer(), mt.Linear(3, 1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.scale", "0.body.0.W", "0.body.0.b", "1.W", "1.b"]
    assert list(model.parameters())[1] is model[0].body[0].W
    assert list(model.state_dict()) == names


def test_caches_are_not_registered_and_reassignment_unregisters():
    m = TwoLayer()
    assert "cache" not in dict(m.named_parameters())
    m.scale = None
    assert [name for name, _ in m.named_parameters()] == ["body.0.W", "body.0.b"]


def test_unknown_attribute_raises_attribute_error():
    layer = mt.Linear(2, 2)
    with pytest.raises(AttributeError):
        _ = layer.weight_typo


def test_subclass_forgetting_super_init_gets_a_clear_error():
    class Broken(mt.Module):
        def __init__(self):
            self.W = mt.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_shared_parameter_is_listed_once():
    shared = mt.Linear(2, 2)
    model = mt.Sequential(shared, mt.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_state_dict_is_a_copy():
    layer = mt.Linear(2, 2)
    state = layer.state_dict()
    state["W"][...] = 99
    assert not np.any(layer.W.data == 99)


def test_load_state_dict_round_trip_in_place():
    a, b = mt.Linear(3, 2), mt.Linear(3, 2)
    W_array = b.W.data
    b.load_state_dict(a.state_dict())
    assert b.W.data is W_array  # copied into the existing array: optimizers keep their references
    np.testing.assert_array_equal(b.W.data, a.W.data)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("b"), "missing"),
        (lambda s: s.update(extra=np.zeros(1)), "unexpected"),
        (lambda s: s.update(W=np.zeros((2, 3))), r"'W' expected shape \(3, 2\), got \(2, 3\)"),
        (lambda s: s.update(b=np.array(["a", "b"])), "numeric"),
    ],
)
def test_load_state_dict_rejects_mismatch_and_changes_nothing(change, message):
    model = mt.Linear(3, 2)
    before = model.state_dict()
    state = mt.Linear(3, 2).state_dict()
    change(state)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


class _ReadOnlyState(Mapping):
    """A Mapping that is not a dict; reading ``fail_on`` raises (a store failing half-way)."""

    def __init__(self, state, fail_on=None):
        self._state, self._fail_on = dict(state), fail_on

    def __getitem__(self, key):
        if key == self._fail_on:
            raise KeyError(f"{key} could not be read")
        return self._state[key]

    def __iter__(self):
        return iter(self._state)

    def __len__(self):
        return len(self._state)


@pytest.mark.parametrize("wrap", [types.MappingProxyType, _ReadOnlyState], ids=["proxy", "Mapping"])
@pytest.mark.parametrize("assign", [False, True])
def test_load_state_dict_takes_any_mapping_as_torch(wrap, assign):
    """torch's load_state_dict takes any Mapping (it checks ``isinstance(state_dict, Mapping)``)."""
    torch = pytest.importorskip("torch")
    t_layer = torch.nn.Linear(3, 2).double()
    t_layer.load_state_dict(wrap(dict(torch.nn.Linear(3, 2).double().state_dict())))  # torch takes it
    theirs = {name: value.detach().numpy().copy() for name, value in t_layer.state_dict().items()}
    layer = mt.Linear(3, 2).to(np.float64)
    result = layer.load_state_dict(wrap(theirs), assign=assign)  # torch's names, through the Mapping
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(layer.W.data, theirs["weight"].T)
    np.testing.assert_array_equal(layer.b.data, theirs["bias"])
    partial = layer.load_state_dict(wrap({"b": np.zeros(2)}), strict=False)
    assert partial.missing_keys == ["W"] and not np.any(layer.b.data)


def test_load_state_dict_from_a_mapping_that_fails_half_way_changes_nothing():
    model = mt.Sequential(mt.Linear(3, 2), mt.Linear(2, 1))
    before = {name: value.copy() for name, value in model.state_dict().items()}
    state = {name: value + 1 for name, value in before.items()}
    with pytest.raises(KeyError, match="could not be read"):
        model.load_state_dict(_ReadOnlyState(state, fail_on="1.W"))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_refuses_what_is_not_a_mapping():
    with pytest.raises(ValueError, match=r"Linear\.load_state_dict: state_dict must be a dict or another "
                                         r"Mapping, got list"):
        mt.Linear(3, 2).load_state_dict(list(mt.Linear(3, 2).state_dict().items()))


def test_buffers_are_state_but_not_parameters_and_follow_to():
    m = mt.Module()
    m.register_buffer("running", np.ones(3, dtype=np.float32))
    m.W = mt.Parameter(np.zeros(2, dtype=np.float32))
    m.W.accumulate_grad(np.zeros(2, dtype=np.float32))
    assert list(m.state_dict()) == ["W", "running"]
    assert len(list(m.parameters())) == 1
    m.to(np.float64)
    assert m.running.dtype == np.float64 and m.W.dtype == np.float64 and m.W.grad.dtype == np.float64


def test_train_and_eval_reach_every_descendant():
    model = mt.Sequential(TwoLayer(), mt.Linear(3, 1))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_reaches_every_descendant():
    model = mt.Sequential(TwoLayer(), mt.Linear(3, 1))
    for p in model.parameters():
        p.accumulate_grad(np.ones_like(p.data))
    model.zero_grad()
    assert all(p.grad_is_zero for p in model.parameters())


def test_repr_indents_children_like_pytorch():
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Sequential(mt.Linear(16, 3)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=16, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=16, out_features=3, bias=True)\n"
        "  )\n"
        ")"
    )


def test_sequential_indexing_slicing_len_iter():
    layers = [mt.Linear(2, 3), mt.ReLU(), mt.Linear(3, 1)]
    model = mt.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    head = model[1:]
    assert isinstance(head, mt.Sequential) and list(head) == layers[1:]
    with pytest.raises(TypeError, match="Module"):
        mt.Sequential(mt.Linear(2, 2), "relu")


def test_empty_sequential_is_identity():
    x = np.ones((2, 3))
    assert mt.Sequential()(x) is x
    model = mt.Sequential()
    model(x)
    assert model.backward(x) is x


def test_sequential_backward_runs_the_chain_in_reverse():
    rng = np.random.default_rng(0)
    model = mt.Sequential(mt.Linear(3, 4), mt.Sigmoid(), mt.Linear(4, 2))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    dy = rng.standard_normal((5, 2)).astype(np.float32)
    model(x)
    dx = model.backward(dy)
    model(x)  # each backward consumes one forward call
    expected = model[0].backward(model[1].backward(model[2].backward(dy)))
    np.testing.assert_allclose(dx, expected, rtol=1e-6)


def test_backward_params_gives_the_same_gradients_without_input_gradient():
    rng = np.random.default_rng(1)
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    dy = rng.standard_normal((5, 2)).astype(np.float32)
    model(x)
    model.backward(dy)
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    assert model.backward_params(dy) is None
    for p, g in zip(model.parameters(), full, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_backward_params_skips_the_first_layers_input_product(monkeypatch):
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 2))
    calls = []
    original = mt.Linear.backward
    monkeypatch.setattr(mt.Linear, "backward", lambda self, dy: calls.append(self) or original(self, dy))
    model(np.ones((2, 3), dtype=np.float32))
    model.backward_params(np.ones((2, 2), dtype=np.float32))
    assert calls == [model[2]]  # the first Linear ran backward_params only


@pytest.mark.parametrize("module", [mt.Linear(2, 2), mt.ReLU(), mt.Sigmoid(), mt.Flatten()],
                         ids=lambda m: type(m).__name__)
def test_backward_before_forward_says_so(module):
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        module.backward(np.ones((2, 2), dtype=np.float32))


def test_backward_checks_the_upstream_gradient_shape():
    act = mt.ReLU()
    act(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"expected dy of the output's shape \(2, 3\), got \(3, 2\)"):
        act.backward(np.ones((3, 2)))
