"""Integer settings (sizes, counts, periods) and choices (reduction, mode...) of the wrong kind.

A string, a float, None, a bool or an array where an integer or one of a few choices is expected is
``checks.SettingTypeError`` (a TypeError and a ValueError) naming the function, the setting, the
kind expected and the value; torch 2.13 raises a TypeError or a ValueError for most of them (which
one is an accident of its code: Linear's empty(), RNN's isinstance check, OneCycleLR's ValueError),
and ours is an instance of each type torch raises. A value of the right kind out of range stays a
plain ValueError (never a TypeError), as before.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch.checks import SettingTypeError


def _raised(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as err:  # the exception itself is what is compared
        return err
    return None


def _torch_opt():
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _opt():
    return mt.SGD([mt.Parameter(np.zeros(1))], lr=0.1)


def _mt_sched(name, **kwargs):
    return lambda: getattr(mt.lr_scheduler, name)(_opt(), **kwargs)


def _torch_sched(name, **kwargs):
    return lambda: getattr(torch.optim.lr_scheduler, name)(_torch_opt(), **kwargs)


# (who, setting, "positive" or "non-negative", build(value, namespace)): the namespace is torch.nn or mt
LAYER_INTS = [
    ("Linear", "in_features", "positive", lambda v, nn: nn.Linear(v, 2)),
    ("Linear", "out_features", "positive", lambda v, nn: nn.Linear(2, v)),
    ("BatchNorm1d", "num_features", "positive", lambda v, nn: nn.BatchNorm1d(v)),
    ("Conv2d", "in_channels", "positive", lambda v, nn: nn.Conv2d(v, 2, 3)),
    ("Conv2d", "out_channels", "positive", lambda v, nn: nn.Conv2d(2, v, 3)),
    ("Conv1d", "in_channels", "positive", lambda v, nn: nn.Conv1d(v, 2, 3)),
    ("ConvTranspose2d", "out_channels", "positive", lambda v, nn: nn.ConvTranspose2d(2, v, 3)),
    ("RNN", "input_size", "positive", lambda v, nn: nn.RNN(v, 4)),
    ("GRU", "hidden_size", "positive", lambda v, nn: nn.GRU(3, v)),
    ("LSTM", "num_layers", "positive", lambda v, nn: nn.LSTM(3, 4, num_layers=v)),
    ("LSTM", "proj_size", "non-negative", lambda v, nn: nn.LSTM(3, 4, proj_size=v)),
    ("RNNCell", "input_size", "positive", lambda v, nn: nn.RNNCell(v, 4)),
    ("Embedding", "num_embeddings", "positive", lambda v, nn: nn.Embedding(v, 4)),
    ("MultiheadAttention", "embed_dim", "positive", lambda v, nn: nn.MultiheadAttention(v, 1)),
    ("MultiheadAttention", "num_heads", "positive", lambda v, nn: nn.MultiheadAttention(4, v)),
    ("GroupNorm", "num_groups", "positive", lambda v, nn: nn.GroupNorm(v, 6)),
    ("GroupNorm", "num_channels", "positive", lambda v, nn: nn.GroupNorm(3, v)),
    ("PReLU", "num_parameters", "positive", lambda v, nn: nn.PReLU(v)),
    ("TransformerEncoderLayer", "d_model", "positive", lambda v, nn: nn.TransformerEncoderLayer(v, 1)),
    ("TransformerEncoderLayer", "dim_feedforward", "positive",
     lambda v, nn: nn.TransformerEncoderLayer(4, 1, v)),
    ("TransformerEncoder", "num_layers", "positive",
     lambda v, nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1), v)),
]
# (who, setting, "positive" or "non-negative", ours(value), torch's(value) or None)
OTHER_INTS = [
    ("StepLR", "step_size", "positive", lambda v: _mt_sched("StepLR", step_size=v)(),
     lambda v: _torch_sched("StepLR", step_size=v)()),
    ("CosineAnnealingLR", "T_max", "positive", lambda v: _mt_sched("CosineAnnealingLR", T_max=v)(),
     lambda v: _torch_sched("CosineAnnealingLR", T_max=v)()),
    ("CosineAnnealingWarmRestarts", "T_0", "positive",
     lambda v: _mt_sched("CosineAnnealingWarmRestarts", T_0=v)(),
     lambda v: _torch_sched("CosineAnnealingWarmRestarts", T_0=v)()),
    ("CosineAnnealingWarmRestarts", "T_mult", "positive",
     lambda v: _mt_sched("CosineAnnealingWarmRestarts", T_0=2, T_mult=v)(),
     lambda v: _torch_sched("CosineAnnealingWarmRestarts", T_0=2, T_mult=v)()),
    ("OneCycleLR", "total_steps", "positive", lambda v: _mt_sched("OneCycleLR", max_lr=1.0, total_steps=v)(),
     lambda v: _torch_sched("OneCycleLR", max_lr=1.0, total_steps=v)()),
    ("OneCycleLR", "epochs", "positive",
     lambda v: _mt_sched("OneCycleLR", max_lr=1.0, epochs=v, steps_per_epoch=2)(),
     lambda v: _torch_sched("OneCycleLR", max_lr=1.0, epochs=v, steps_per_epoch=2)()),
    ("ReduceLROnPlateau", "patience", "non-negative", lambda v: _mt_sched("ReduceLROnPlateau", patience=v)(),
     lambda v: _torch_sched("ReduceLROnPlateau", patience=v)()),
    ("ReduceLROnPlateau", "cooldown", "non-negative", lambda v: _mt_sched("ReduceLROnPlateau", cooldown=v)(),
     lambda v: _torch_sched("ReduceLROnPlateau", cooldown=v)()),
    ("dirac_", "groups", "positive", lambda v: mt.init.dirac_(mt.Parameter(np.zeros((4, 2, 3))), groups=v),
     lambda v: torch.nn.init.dirac_(torch.zeros(4, 2, 3), groups=v)),
    ("manual_seed", "seed", "non-negative", lambda v: mt.manual_seed(v), lambda v: torch.manual_seed(v)),
    ("EarlyStopping", "patience", "non-negative", lambda v: mt.EarlyStopping(patience=v), None),
]
WRONG_INTS = ["3", 3.0, None, True, np.array(3)]


def _shown(value):
    return repr(value) if not isinstance(value, np.ndarray) else f"ndarray {value!r}"


def _check_ours(ours, torch_error, who, name, sign, value):
    assert type(ours) is SettingTypeError, repr(ours)
    if isinstance(torch_error, (TypeError, ValueError)):
        assert isinstance(ours, type(torch_error)), (repr(ours), repr(torch_error))
    assert re.fullmatch(rf"{who}: {name} must be a {sign} integer, got {re.escape(_shown(value))}",
                        str(ours)), str(ours)


@pytest.mark.parametrize("value", WRONG_INTS, ids=repr)
@pytest.mark.parametrize("who, name, sign, build", LAYER_INTS, ids=[f"{w}.{n}" for w, n, *_ in LAYER_INTS])
def test_a_layer_size_of_the_wrong_kind_is_a_setting_type_error_as_torchs(who, name, sign, build, value):
    ours = _raised(lambda: build(value, mt))
    _check_ours(ours, _raised(lambda: build(value, torch.nn)), who, name, sign, value)


@pytest.mark.parametrize("value", WRONG_INTS, ids=repr)
@pytest.mark.parametrize("who, name, sign, ours, theirs", OTHER_INTS,
                         ids=[f"{w}.{n}" for w, n, *_ in OTHER_INTS])
def test_a_count_of_the_wrong_kind_is_a_setting_type_error_as_torchs(who, name, sign, ours, theirs, value):
    if who == "OneCycleLR" and value is None:
        pytest.skip("None is OneCycleLR's 'not given' (total_steps or epochs), as torch's")
    torch_error = None if theirs is None else _raised(lambda: theirs(value))
    _check_ours(_raised(lambda: ours(value)), torch_error, who, name, sign, value)


@pytest.mark.parametrize("build, message", [
    (lambda: mt.Linear(0, 2), "Linear: in_features must be a positive integer, got 0"),
    (lambda: mt.LSTM(3, 4, proj_size=-1), "LSTM: proj_size must be a non-negative integer, got -1"),
    (lambda: mt.manual_seed(-1), "manual_seed: seed must be a non-negative integer, got -1"),
    (lambda: mt.Embedding(np.int64(-2), 3),
     "Embedding: num_embeddings must be a positive integer, got np.int64(-2)"),
])
def test_an_integer_out_of_range_stays_a_plain_value_error(build, message):
    error = _raised(build)
    assert type(error) is ValueError and str(error) == message


# (who, setting, expected kind, ours(value), torch's(value) or None)
CHOICES = [
    ("CrossEntropyLoss", "reduction", "str",
     lambda v: _set_later(mt.CrossEntropyLoss(), "reduction", v)(np.zeros((2, 3)), np.zeros(2, np.int64)),
     lambda v: torch.nn.CrossEntropyLoss(reduction=v)(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))),
    ("RNN", "nonlinearity", "str", lambda v: mt.RNN(3, 4, nonlinearity=v),
     lambda v: torch.nn.RNN(3, 4, nonlinearity=v)),
    ("RNNCell", "nonlinearity", "str", lambda v: mt.RNNCell(3, 4, nonlinearity=v), None),
    ("Upsample", "mode", "str", lambda v: mt.Upsample(scale_factor=2, mode=v), None),
    ("kaiming_uniform_", "mode", "str",
     lambda v: mt.init.kaiming_uniform_(mt.Parameter(np.zeros((3, 3))), mode=v), None),
    ("ReduceLROnPlateau", "mode", "str", lambda v: _mt_sched("ReduceLROnPlateau", mode=v)(),
     lambda v: _torch_sched("ReduceLROnPlateau", mode=v)()),
    ("ReduceLROnPlateau", "threshold_mode", "str",
     lambda v: _mt_sched("ReduceLROnPlateau", threshold_mode=v)(),
     lambda v: _torch_sched("ReduceLROnPlateau", threshold_mode=v)()),
    ("OneCycleLR", "anneal_strategy", "str",
     lambda v: _mt_sched("OneCycleLR", max_lr=1.0, total_steps=5, anneal_strategy=v)(),
     lambda v: _torch_sched("OneCycleLR", max_lr=1.0, total_steps=5, anneal_strategy=v)()),
    ("EarlyStopping", "mode", "str", lambda v: mt.EarlyStopping(mode=v), None),
    ("load_mnist", "kind", "str", lambda v: mt.datasets.load_mnist("no-such-folder", kind=v), None),
    ("fit", "verbose", "int", lambda v: mt.fit(mt.Linear(2, 1), mt.MSELoss(), _opt(), [], 1, verbose=v),
     None),
]
WRONG_CHOICES = [3, None, 1.5, True]


def _set_later(module, name, value):
    setattr(module, name, value)
    return module


@pytest.mark.parametrize("value", WRONG_CHOICES, ids=repr)
@pytest.mark.parametrize("who, name, kind, ours, theirs", CHOICES, ids=[f"{w}.{n}" for w, n, *_ in CHOICES])
def test_a_choice_of_the_wrong_kind_is_a_setting_type_error_as_torchs(who, name, kind, ours, theirs, value):
    if kind == "int" and type(value) is int:
        value = "1"  # of another kind than the int choices
    error = _raised(lambda: ours(value))
    torch_error = None if theirs is None else _raised(lambda: theirs(value))
    assert type(error) is SettingTypeError, repr(error)
    if isinstance(torch_error, (TypeError, ValueError)):
        assert isinstance(error, type(torch_error)), (repr(error), repr(torch_error))
    assert re.match(rf"{who}: {name} must be one of \(.*\) \(an? {kind}\), got {re.escape(repr(value))}",
                    str(error)), str(error)


@pytest.mark.parametrize("value", WRONG_CHOICES, ids=repr)
def test_an_activation_of_the_wrong_kind_is_a_setting_type_error(value):
    """Neither a name nor a Module (torch takes any callable, and calls 3 at its forward)."""
    error = _raised(lambda: mt.TransformerEncoderLayer(4, 1, activation=value))
    assert type(error) is SettingTypeError
    head = "TransformerEncoderLayer: activation must be 'relu', 'gelu' or an element-wise MiniTorch Module"
    assert str(error).startswith(head) and f"got {value!r}" in str(error)


@pytest.mark.parametrize("build, message", [
    (lambda: mt.MSELoss(reduction="avg"),
     r"MSELoss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"),
    (lambda: mt.RNN(3, 4, nonlinearity="sigmoid"), r"RNN: nonlinearity must be one of \('tanh', 'relu'\)"),
    (lambda: mt.fit(mt.Linear(2, 1), mt.MSELoss(), _opt(), [], 1, verbose=3), r"fit: verbose must be one of"),
])
def test_a_choice_of_the_right_kind_but_unknown_stays_a_plain_value_error(build, message):
    error = _raised(build)
    assert type(error) is ValueError and re.match(message, str(error)), repr(error)
