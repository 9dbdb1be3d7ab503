"""Sequence layers in model files and through interop: rebuilt from the file alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt


def _models():
    return [
        mt.Embedding(11, 4, padding_idx=2),
        mt.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False, batch_first=True),
        mt.LSTM(3, 4, num_layers=2, dropout=0.25, bidirectional=True),
        mt.LSTM(3, 4, num_layers=2, batch_first=True, proj_size=2),  # weight_hr_l{k}
        mt.GRU(2, 5, bidirectional=True).eval(),
        mt.RNNCell(3, 2, nonlinearity="relu"),
        mt.LSTMCell(3, 2, bias=False),
        mt.GRUCell(2, 3),
        mt.Sequential(mt.Embedding(5, 3), mt.LSTMCell(3, 4)),
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


@pytest.mark.parametrize("model", _models()[1:8], ids=lambda m: type(m).__name__)
def test_converted_recurrent_layers_give_torchs_outputs(model):
    """to_torch of a MiniTorch layer computes what the layer computes (eval: no dropout draws)."""
    model.eval()
    t = mt.interop.to_torch(model)
    x = np.random.default_rng(0).standard_normal((2, 3, model.input_size)).astype(np.float32)
    x = x[0] if "Cell" in type(model).__name__ else x
    ours, theirs = model(x), t(torch.from_numpy(x))
    flat = lambda v: [a for item in v for a in flat(item)] if isinstance(v, tuple) else [v]  # noqa: E731
    for a, b in zip(flat(ours), flat(theirs), strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert t.training is False

