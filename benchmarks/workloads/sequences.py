"""Sequence workloads (issue 13): an LSTM's forward+backward and Embedding's backward, vs PyTorch.

Each builder is called once in a fresh process (after the harness applies its thread settings),
makes the same seeded data and model as the other contender, and returns ``step()``, one timed
iteration. PyTorch is imported inside the torch builders only.

Goals (issue 13): LSTM(64, 128) fwd+bwd on (T=64, N=32) within 1.5x of PyTorch's time; Embedding
backward with 30 % repeated ids at least as fast as PyTorch's. A MiniTorch backward consumes the
cache of its forward (CONTRACT §2), so the Embedding step is forward + backward for both
contenders; the forward is a gather of the same rows, small beside the scatter-add.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[], Any]
BASELINE = "torch"

T, N, IN, HIDDEN = 64, 32, 64, 128
VOCAB, DIM, IDS, REPEATED = 10_000, 64, T * N, 0.3


def _lstm_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((T, N, IN), dtype=np.float32),
            rng.standard_normal((T, N, HIDDEN), dtype=np.float32))


def _lstm_mt() -> Step:
    import minitorch as mt

    mt.manual_seed(0)
    lstm = mt.LSTM(IN, HIDDEN)
    x, dout = _lstm_data()

    def step() -> Any:
        lstm.zero_grad()
        lstm(x)
        return lstm.backward(dout)  # dx and every weight gradient, as torch with x.requires_grad

    return step


def _lstm_torch() -> Step:
    import torch

    import minitorch as mt

    mt.manual_seed(0)
    source = mt.LSTM(IN, HIDDEN)
    lstm = torch.nn.LSTM(IN, HIDDEN)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(torch.from_numpy(getattr(source, name).data))
    x, dout = (torch.from_numpy(a) for a in _lstm_data())
    x.requires_grad_(True)

    def step() -> Any:
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = lstm(x)
        out.backward(dout)
        return x.grad

    return step


def _ids() -> tuple[np.ndarray, np.ndarray]:
    """(T, N) ids, 70 % distinct and 30 % repeats of those, shuffled; the upstream gradient."""
    rng = np.random.default_rng(0)
    distinct = rng.choice(VOCAB, int(IDS * (1 - REPEATED)), replace=False)
    ids = np.concatenate([distinct, rng.choice(distinct, IDS - len(distinct))])
    rng.shuffle(ids)
    return ids.reshape(T, N), rng.standard_normal((T, N, DIM), dtype=np.float32)


def _embedding_mt() -> Step:
    import minitorch as mt

    mt.manual_seed(0)
    emb = mt.Embedding(VOCAB, DIM)
    ids, dy = _ids()

    def step() -> Any:
        emb.zero_grad()
        emb(ids)
        return emb.backward(dy)

    return step


def _embedding_torch() -> Step:
    import torch

    emb = torch.nn.Embedding(VOCAB, DIM)
    ids, dy = (torch.from_numpy(a) for a in _ids())

    def step() -> Any:
        emb.weight.grad = None
        emb(ids).backward(dy)
        return emb.weight.grad

    return step


WORKLOADS: dict[str, dict[str, Callable[[], Step]]] = {
    f"lstm-in{IN}-h{HIDDEN}-T{T}-N{N} fwd+bwd": {"minitorch": _lstm_mt, "torch": _lstm_torch},
    f"embedding-{VOCAB}x{DIM} {IDS} ids 30% repeated fwd+bwd": {"minitorch": _embedding_mt,
                                                                 "torch": _embedding_torch},
}
