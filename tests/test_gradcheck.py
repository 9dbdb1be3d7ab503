"""Every registered module passes a float64 gradcheck; gradcheck itself catches wrong backwards."""

from __future__ import annotations

import numpy as np
import pytest
from cases import INPUT_CASES, MODULE_CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import batch_sizes, features, seeds

import minitorch as mt


@pytest.mark.parametrize("factory, shape", [c[1:] for c in MODULE_CASES], ids=[c[0] for c in MODULE_CASES])
def test_module_gradcheck(float64, factory, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    assert mt.gradcheck(factory(), x)


@pytest.mark.parametrize("factory, make_inputs", [
    pytest.param(*c[1:], id=c[0], marks=[pytest.mark.slow] if c[0].startswith("Transformer-") else [])
    for c in INPUT_CASES])  # nn.Transformer: `make test-slow` (time); its own file gradchecks it by default
def test_module_gradcheck_several_inputs(float64, factory, make_inputs):
    assert mt.gradcheck(factory(), *make_inputs(np.random.default_rng(1)))


@settings(max_examples=25, deadline=None)
@given(n=batch_sizes, fan_in=features, fan_out=features, seed=seeds)
def test_linear_gradcheck_any_shape(n, fan_in, fan_out, seed):
    mt.set_default_dtype(np.float64)
    mt.manual_seed(seed % 1000)
    x = np.random.default_rng(seed).standard_normal((n, fan_in))
    model = mt.Sequential(mt.Linear(fan_in, fan_out), mt.Sigmoid(), mt.Linear(fan_out, 2))
    assert mt.gradcheck(model, x)


@settings(max_examples=25, deadline=None)
@given(n=batch_sizes, c=features, seed=seeds)
def test_cross_entropy_gradcheck_any_shape(n, c, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 3
    assert mt.gradcheck(mt.CrossEntropyLoss(), logits, rng.integers(0, c, n))
    probs = rng.dirichlet(np.ones(c), size=n)
    assert mt.gradcheck(mt.CrossEntropyLoss(), logits, probs)


@settings(max_examples=25, deadline=None)
@given(n=batch_sizes, d=features, seed=seeds)
def test_mse_gradcheck_any_shape(n, d, seed):
    rng = np.random.default_rng(seed)
    assert mt.gradcheck(mt.MSELoss(), rng.standard_normal((n, d)), rng.standard_normal((n, d)))


def test_gradcheck_checks_float64_copy_and_leaves_module_alone():
    layer = mt.Linear(3, 2)  # float32
    before = layer.W.data.copy()
    assert mt.gradcheck(layer, np.random.default_rng(0).standard_normal((2, 3)))
    assert layer.W.dtype == np.float32
    np.testing.assert_array_equal(layer.W.data, before)


class _WrongLinear(mt.Linear):
    """dW off by a factor on one element: a bug gradcheck must find and locate."""

    def backward_params(self, dy):
        dy = super().backward_params(dy)
        g = self.W.grad
        g[1, 0] *= 1.01
        return dy


class _WrongSigmoid(mt.Sigmoid):
    def backward(self, dy):
        return dy * self._out  # forgot the (1 - y) factor


def test_gradcheck_names_parameter_index_and_values():
    mt.set_default_dtype(np.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(mt.GradcheckError, match=r"gradient of W at index \(1, 0\): analytic .*numerical"):
        mt.gradcheck(_WrongLinear(3, 2), x)


def test_gradcheck_catches_wrong_input_gradient():
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(mt.GradcheckError, match="gradient of input at index"):
        mt.gradcheck(_WrongSigmoid(), x)


def test_gradcheck_rejects_missing_input():
    with pytest.raises(ValueError, match="input"):
        mt.gradcheck(mt.ReLU())


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=seeds)
def test_elementwise_activations_gradcheck_any_shape(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    for module in (mt.Sigmoid(), mt.ReLU(), mt.Identity()):
        assert mt.gradcheck(module, x)


def test_every_exported_layer_has_a_gradcheck_case():
    """A new layer exported from minitorch without a MODULE_CASES line fails here, not silently."""
    covered = set()
    for _, factory, _ in MODULE_CASES + INPUT_CASES:
        covered |= {type(m) for m in factory().modules()}
    exported = {getattr(mt, name) for name in mt.__all__}
    layers = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, mt.Module)
              and not issubclass(obj, mt.Loss) and obj is not mt.Module
              and not obj._is_container}  # ModuleList/ModuleDict hold modules, are not called
    missing = sorted(cls.__name__ for cls in layers - covered)
    assert not missing, f"no gradcheck case in tests/cases.py for {missing}"


def test_case_ids_are_unique_across_the_family_registries():
    from cases import FAMILIES, INPUT_FAMILIES

    families = {**FAMILIES, **INPUT_FAMILIES}
    ids = [case.id for cases in families.values() for case in cases]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(cases for cases in families.values())
