"""CrossEntropyLoss and NLLLoss over zero classes (C = 0), an empty batch and all-ignored targets, with
each reduction. Oracle: torch 2.13 on the same arrays. With no classes every class-index target must be
ignore_index; torch then answers as for any all-ignored batch ("mean" nan, "sum" 0, "none" zeros), with
label smoothing nan (torch adds eps / C times a sum of no terms, inf * 0), and for probability targets
a "mean" of nan (0 / 0 over an empty input). NumPy must not warn on the way (a divide-by-zero in log)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minitorch as mt

REDUCTIONS = ["mean", "sum", "none"]
OPTIONS = [{}, {"weight": "empty"}, {"label_smoothing": 0.1}, {"label_smoothing": 0.1, "weight": "ones"},
           {"ignore_index": 5}]


def _settings(options: dict, c: int) -> dict:
    weight = {"empty": np.zeros(c), "ones": np.ones(c)}
    return {k: (weight[v] if k == "weight" else v) for k, v in options.items()}


def _ours(name: str, z: np.ndarray, y: np.ndarray, reduction: str, settings: dict):
    loss_fn = getattr(mt, name)(reduction, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's RuntimeWarning would be a failure
        loss = loss_fn(z, y)
        dz = loss_fn.backward(np.ones(np.shape(loss)) if reduction == "none" else 1.0)
    return np.asarray(loss), dz


def _torch(name: str, z: np.ndarray, y: np.ndarray, reduction: str, settings: dict):
    theirs = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in settings.items()}
    tz = torch.tensor(z, requires_grad=True)
    loss = getattr(torch.nn, name)(reduction=reduction, **theirs)(tz, torch.tensor(y))
    loss.backward(torch.ones_like(loss))
    return loss.detach().numpy(), tz.grad.numpy()


def _check(ours, theirs) -> None:
    assert ours[0].shape == theirs[0].shape
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True)
    assert ours[1].shape == theirs[1].shape and ours[1].dtype == theirs[1].dtype


def _cases(name: str, options_list: list[dict]):
    """(reduction, options) pairs: NLLLoss has no label smoothing."""
    return [(r, o) for r in REDUCTIONS for o in options_list
            if not (name == "NLLLoss" and "label_smoothing" in o)]


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
@pytest.mark.parametrize("z_shape", [(3, 0), (0,), (0, 0), (2, 0, 1, 4), (0, 3), (3, 3), (2, 3, 0)])
def test_no_classes_empty_batch_and_all_ignored_targets_as_torch(name, z_shape):
    c = z_shape[1] if len(z_shape) > 1 else z_shape[0]
    z = np.random.default_rng(0).standard_normal(z_shape)
    y_shape = () if len(z_shape) == 1 else (z_shape[0],) + z_shape[2:]
    for reduction, options in _cases(name, OPTIONS):
        settings = _settings(options, c)
        y = np.full(y_shape, options.get("ignore_index", -100))
        _check(_ours(name, z, y, reduction, settings), _torch(name, z, y, reduction, settings))


@pytest.mark.parametrize("z_shape", [(3, 0), (0,), (0, 0), (2, 0, 4)])
def test_probability_targets_over_no_classes_as_torch(z_shape):
    z = np.zeros(z_shape)
    for reduction, options in _cases("CrossEntropyLoss", OPTIONS[:3]):
        settings = _settings(options, z_shape[1] if len(z_shape) > 1 else 0)
        _check(_ours("CrossEntropyLoss", z, z.copy(), reduction, settings),
               _torch("CrossEntropyLoss", z, z.copy(), reduction, settings))


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_no_classes_with_one_extra_axis_answers_as_torchs_two_axis_path(name):
    # torch 2.13 fails on (N, 0, d) itself (its reshape to (N, 0, 1, -1) cannot infer -1 of an empty
    # tensor: "size mismatch"); (N, 0, 1, d) is the same loss on the same targets, which torch computes
    z, y = np.zeros((2, 0, 4)), np.full((2, 4), -100)
    for reduction, options in _cases(name, OPTIONS[:3]):
        settings = _settings(options, 0)
        loss, dz = _ours(name, z, y, reduction, settings)
        their_loss, their_dz = _torch(name, z[:, :, None], y[:, None], reduction, settings)
        _check((loss, dz), (their_loss.reshape(loss.shape), their_dz.reshape(dz.shape)))
        with pytest.raises(RuntimeError, match="size mismatch"):  # if torch fixes it, compare directly
            _torch(name, z, y, reduction, settings)
