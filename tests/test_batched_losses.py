"""Losses reported over several batches (evaluate, fit's loss and val_loss) equal the full-data loss.

A "mean" loss divides by what PyTorch divides by: the number of elements, but the sum of the counted
targets' class weights for CrossEntropyLoss / NLLLoss with ``weight`` or ``ignore_index``. Averaging
batch means by their sample counts then gives another number than the loss of the whole data (and
nan as soon as one batch has only ignored targets). Every loss of tests/test_losses.py's registries
(LOSS_CASES, WEIGHTED_LOSS_CASES) and the ignore_index cases below is held to the full-data value
and to torch's, over uneven batches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_losses import LOSS_CASES, WEIGHTED_LOSS_CASES, make_data

import minitorch as mt

_W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])
IGNORE_CASES = [  # (id, MiniTorch loss given a reduction, torch loss given a reduction, data kind)
    ("CrossEntropyLoss-ignore", lambda r: mt.CrossEntropyLoss(reduction=r),
     lambda r: torch.nn.CrossEntropyLoss(reduction=r), "logits-index"),
    ("CrossEntropyLoss-ignore-weight-smoothing",
     lambda r: mt.CrossEntropyLoss(reduction=r, weight=_W5, label_smoothing=0.2, ignore_index=3),
     lambda r: torch.nn.CrossEntropyLoss(reduction=r, weight=torch.from_numpy(_W5), label_smoothing=0.2,
                                         ignore_index=3), "logits-index"),
    ("NLLLoss-ignore-weight", lambda r: mt.NLLLoss(reduction=r, weight=_W5),
     lambda r: torch.nn.NLLLoss(reduction=r, weight=torch.from_numpy(_W5)), "log-probs-index"),
]
CASES = ([(case_id, ours, theirs, kind) for case_id, ours, theirs, kind in LOSS_CASES]
         + [(case_id, ours, None, kind) for case_id, ours, kind in WEIGHTED_LOSS_CASES] + IGNORE_CASES)


def _data(case_id: str, ours, kind: str):
    x, t = make_data(kind, np.random.default_rng(7), n=11)
    if "ignore" in case_id:
        t[[0, 1, 2, 3, 5, 9]] = ours("mean").ignore_index  # a first batch of 3 or 4: ignored targets only
    return x, t


@pytest.mark.parametrize("case_id, ours, theirs, kind", CASES, ids=[c[0] for c in CASES])
def test_batched_loss_is_the_full_data_loss(float64, case_id, ours, theirs, kind):
    x, t = _data(case_id, ours, kind)
    loss_fn = ours("mean")
    full = float(loss_fn(x, t))
    if theirs is not None:
        np.testing.assert_allclose(full, float(theirs("mean")(torch.from_numpy(x), torch.from_numpy(t))),
                                   rtol=1e-12)
    for batch_size in (3, 4, 11):
        got = mt.evaluate(mt.Identity(), loss_fn, x, t, batch_size=batch_size, metrics=())["loss"]
        np.testing.assert_allclose(got, full, rtol=1e-12, err_msg=f"batch_size={batch_size}")


@pytest.mark.parametrize("case_id", ["CrossEntropyLoss-ignore", "NLLLoss-ignore-weight"])
def test_fit_logs_the_full_data_loss_and_val_loss(float64, case_id):
    _, ours, _, kind = next(c for c in CASES if c[0] == case_id)
    x, t = _data(case_id, ours, kind)
    model = mt.Sequential(mt.Linear(5, 5))
    opt = mt.SGD(model.parameters(), lr=0.0)  # the weights stay: every batch sees the same model
    loader = mt.DataLoader(x, t, batch_size=4)
    loss_fn = ours("mean")
    # the first batch's targets are all ignored: its loss is nan (0 / 0, as torch), no divergence to stop
    history = mt.fit(model, loss_fn, opt, loader, epochs=1, val_data=(x, t), metrics=(), verbose=0)
    full = float(loss_fn(model(x), t))
    np.testing.assert_allclose(history["loss"][0], full, rtol=1e-12)
    np.testing.assert_allclose(history["val_loss"][0], full, rtol=1e-12)


def test_every_target_ignored_gives_nan_as_torch(float64):
    x, t = make_data("logits-index", np.random.default_rng(0), n=6)
    t[:] = -100
    got = mt.evaluate(mt.Identity(), mt.CrossEntropyLoss(), x, t, batch_size=4, metrics=())["loss"]
    assert np.isnan(got)
    assert np.isnan(float(torch.nn.CrossEntropyLoss()(torch.from_numpy(x), torch.from_numpy(t))))
