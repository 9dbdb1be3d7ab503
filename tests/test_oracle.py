"""Every registered module with a PyTorch twin matches it: output, dx and every parameter gradient."""

from __future__ import annotations

import numpy as np
import pytest
from cases import INPUT_CASES, INPUT_ORACLE, MODULE_CASES, ORACLE
from oracle import compare_inputs, compare_module

import minitorch as mt

CASES = [c for c in MODULE_CASES if c[0] in ORACLE]


@pytest.mark.parametrize("factory, shape", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_torch_float64(float64, factory, shape):
    x = np.random.default_rng(2).standard_normal(shape)
    compare_module(factory(), x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factory, shape", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_torch_float32_and_stays_float32(factory, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    module = factory()
    assert all(p.dtype == np.float32 for p in module.parameters())
    compare_module(module, x, rtol=1e-5, atol=1e-6)


INPUTS = [c for c in INPUT_CASES if c[0] in INPUT_ORACLE]


@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in INPUTS], ids=[c[0] for c in INPUTS])
def test_several_inputs_match_torch_float64(float64, factory, make_inputs):
    inputs = make_inputs(np.random.default_rng(2))
    compare_inputs(factory(), inputs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factory, make_inputs", [c[1:] for c in INPUTS], ids=[c[0] for c in INPUTS])
def test_several_inputs_match_torch_float32_and_stay_float32(factory, make_inputs):
    f32 = lambda a: a.astype(np.float32) if a.dtype.kind == "f" else a  # noqa: E731
    inputs = _map_arrays(f32, make_inputs(np.random.default_rng(3)))
    module = factory()
    assert all(p.dtype == np.float32 for p in module.parameters())
    compare_inputs(module, inputs, rtol=1e-4, atol=1e-5)


def _map_arrays(f, value):
    if isinstance(value, tuple):
        return tuple(_map_arrays(f, v) for v in value)
    return None if value is None else f(np.asarray(value))


def test_oracle_registry_covers_every_exported_module():
    """A new layer exported from minitorch without a twin fails here, not silently."""
    from oracle import TWINS

    exported = {getattr(mt, name) for name in mt.__all__}
    layers = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, mt.Module)
              and not issubclass(obj, mt.Loss) and obj is not mt.Module
              and not obj._is_container}  # ModuleList/ModuleDict hold modules, are not called
    missing = sorted(cls.__name__ for cls in layers - set(TWINS))
    assert not missing, f"no PyTorch twin in tests/oracle.py for {missing}"
