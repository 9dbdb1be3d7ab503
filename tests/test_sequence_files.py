"""Sequence layers in model files and through interop: rebuilt from the file alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def _models():
    return [
        mt.Embedding(11, 4, padding_idx=2),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_model_file_rebuilds_sequence_layers(tmp_path, model):
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    for (name, p), (name2, q) in zip(model.named_parameters(), loaded.named_parameters(), strict=True):
        assert name == name2
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_interop_round_trip_is_bit_for_bit(model):
    t = mt.interop.to_torch(model)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(dict(t.named_parameters())[name].detach().numpy(), p.data)
    back = mt.interop.from_torch(t)
    assert repr(back) == repr(model)
    for (name, p), (_, q) in zip(model.named_parameters(), back.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_embedding_from_torch_gives_torch_outputs():
    t = torch.nn.Embedding(9, 3, padding_idx=4)
    m = mt.interop.from_torch(t)
    ids = np.array([[4, 1], [8, 0]])
    np.testing.assert_array_equal(m(ids), t(torch.from_numpy(ids)).detach().numpy())
    assert m.padding_idx == 4


def test_from_torch_refuses_unsupported_embedding_options():
    with pytest.raises(ValueError, match="max_norm"):
        mt.interop.from_torch(torch.nn.Embedding(3, 2, max_norm=1.0))
