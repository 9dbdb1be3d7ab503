"""Shared by the model-file, interop and ONNX tests: every module case plus composite models.

``ALL_CASES`` is tests/cases.py's ``MODULE_CASES`` (so a layer added there is covered here with no
edit) plus composite models built by class name; a composite whose layers this MiniTorch does not
have yet is skipped, never a case whose classes exist.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import MODULE_CASES

import minitorch as mt


def _layers(*specs):
    """Sequential of (class name, args, kwargs); pytest.skip if a class does not exist yet."""
    missing = [name for name, *_ in specs if not hasattr(mt, name)]
    if missing:
        pytest.skip(f"MiniTorch has no {missing} yet")
    return mt.Sequential(*(getattr(mt, name)(*args, **kwargs) for name, args, kwargs in specs))


def _mlp_norm():
    return _layers(
        ("Linear", (6, 8), {}), ("LayerNorm", (8,), {}), ("Tanh", (), {}), ("Dropout", (0.3,), {}),
        ("Linear", (8, 8), {}), ("BatchNorm1d", (8,), {}), ("LeakyReLU", (0.2,), {}),
        ("Linear", (8, 4), {"bias": False}), ("ELU", (0.5,), {}), ("GELU", ("tanh",), {}),
        ("Softmax", (), {"dim": 1}),
    )


def _cnn():
    return _layers(
        ("Conv2d", (2, 4, 3), {"padding": 1}), ("BatchNorm2d", (4,), {}), ("ReLU", (), {}),
        ("MaxPool2d", (2,), {}), ("Conv2d", (4, 6, 3), {"padding": "same", "dilation": 2, "bias": False}),
        ("GELU", (), {}), ("AvgPool2d", (2,), {"stride": 1, "padding": 1}),
        ("AdaptiveAvgPool2d", ((2, 3),), {}), ("Flatten", (), {}), ("Linear", (36, 5), {}),
        ("LogSoftmax", (), {"dim": 1}),
    )


COMPOSITES = [("MLP-norm", _mlp_norm, (5, 6)), ("CNN", _cnn, (3, 2, 9, 9))]
ALL_CASES = list(MODULE_CASES) + COMPOSITES
CASE_IDS = [case[0] for case in ALL_CASES]
CASE_ARGS = [case[1:] for case in ALL_CASES]


def randomize_state(model: mt.Module, seed: int = 0) -> mt.Module:
    """Give every Parameter and buffer random values (variances positive), so copies are visible."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in model.state_dict().items():
        if value.dtype.kind == "f":
            new = rng.standard_normal(value.shape)
            state[name] = np.abs(new) + 0.5 if name.endswith("var") else new
        else:
            state[name] = rng.integers(0, 100, value.shape)
    model.load_state_dict(state)
    return model


def assert_same_state(a: mt.Module, b: mt.Module) -> None:
    """Same names, dtypes and bitwise-equal values."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


def sample_input(shape, dtype=np.float32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
