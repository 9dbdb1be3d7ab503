"""Shared by the model-file, interop and ONNX tests: every module case plus composite models.

``ALL_CASES`` is tests/cases.py's ``MODULE_CASES`` (so a layer added there is covered here with no
edit) plus composite models built by class name; a composite whose layers this MiniTorch does not
have yet is skipped, never a case whose classes exist. Also: reading and writing file headers
directly (to forge files), and a stand-in optimizer with PyTorch's state_dict layout.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cases import MODULE_CASES

import minitorch as mt
from minitorch.model_files import format as fmt


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


def freeze_every_other(model: mt.Module) -> mt.Module:
    """Freeze the 1st, 3rd, ... Parameter (``requires_grad = False``), so a copy must carry a mix of flags."""
    for i, p in enumerate(model.parameters()):
        p.requires_grad = i % 2 == 1
    return model


def frozen_names(model: mt.Module) -> list[str]:
    """The state names of the frozen Parameters of ``model`` (a tied Parameter under each of its names)."""
    return [f"{path}.{name}" if path else name
            for path, sub in model.named_modules()
            for name, p in sub._parameters.items() if p is not None and not p.requires_grad]


def assert_same_state(a: mt.Module, b: mt.Module) -> None:
    """Same names, dtypes and bitwise-equal values."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


def sample_input(shape, dtype=np.float32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def read_header(path) -> dict:
    """The JSON header of a MiniTorch file."""
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive[fmt.HEADER_KEY].tobytes())


def write_with_header(path, header: dict, arrays: dict) -> None:
    fmt.atomic_write_npz(path, {fmt.HEADER_KEY: fmt.header_array(header), **arrays})


def weights(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k != fmt.HEADER_KEY}


class StandInMomentum:
    """A stand-in optimizer with PyTorch's state_dict layout (the real ones land on main later).

    State per parameter: a momentum_buffer array, an int step and a numpy float64 scalar, so
    every kind of value the layout allows makes the trip; groups carry floats, a tuple, a bool.
    """

    def __init__(self, params, lr=0.05, momentum=0.9, betas=(0.9, 0.999), nesterov=False):
        params = list(params)
        self.param_groups = [
            {"params": params[:2], "lr": lr, "momentum": momentum, "betas": betas, "nesterov": nesterov},
            {"params": params[2:], "lr": lr / 2, "momentum": momentum, "betas": betas, "nesterov": True},
        ]
        self.state = {}

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.setdefault(p, {"momentum_buffer": np.zeros_like(p.data), "step": 0,
                                              "scale": np.float64(1.0)})
                s["step"] += 1
                s["scale"] = s["scale"] * np.float64(0.99)
                s["momentum_buffer"] = group["momentum"] * s["momentum_buffer"] + p.grad
                p.data -= (group["lr"] * s["scale"]).astype(p.dtype) * s["momentum_buffer"]

    def zero_grad(self):
        for p in self._params():
            p.zero_grad()

    def state_dict(self):
        index = {id(p): i for i, p in enumerate(self._params())}
        return {
            "state": {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                      for p, s in self.state.items()},
            "param_groups": [{**{k: v for k, v in g.items() if k != "params"},
                              "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups],
        }

    def load_state_dict(self, state):
        params = self._params()
        if [len(g["params"]) for g in state["param_groups"]] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("parameter groups differ")
        for i, s in state["state"].items():
            if s["momentum_buffer"].shape != params[i].shape:
                raise ValueError(f"state {i} has the wrong shape")
        self.state = {params[i]: dict(s) for i, s in state["state"].items()}
        for group, saved in zip(self.param_groups, state["param_groups"], strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})


def refuse_default_dtype_switch(monkeypatch) -> None:
    """Make every call to ``set_default_dtype`` fail, wherever MiniTorch imported it from."""
    import sys

    real = mt.dtypes.set_default_dtype

    def refuse(dtype):
        raise AssertionError(f"set_default_dtype({dtype!r}) was called")

    for name, module in list(sys.modules.items()):
        if (name == "minitorch" or name.startswith("minitorch.")) and getattr(
                module, "set_default_dtype", None) is real:
            monkeypatch.setattr(module, "set_default_dtype", refuse)
