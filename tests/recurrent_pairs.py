"""A MiniTorch recurrent layer and torch's, built alike with the same weights (float64)."""

from __future__ import annotations

import numpy as np
import torch

import minitorch as mt


def recurrent_pair(kind: str, input_size: int, hidden_size: int, proj_size: int = 0, **options):
    """(MiniTorch module, torch module) of one kind ("RNN-tanh", "RNN-relu", "LSTM", "LSTM-proj",
    "GRU"), float64, torch's weights copied from ours."""
    kwargs = dict(input_size=input_size, hidden_size=hidden_size, **options)
    if kind.startswith("RNN"):
        kwargs["nonlinearity"] = kind[4:]
    if kind == "LSTM-proj":
        kwargs["proj_size"] = proj_size
    name = kind.split("-")[0]
    ours = getattr(mt, name)(**kwargs, dtype=np.float64)
    theirs = getattr(torch.nn, name)(**kwargs, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs
