"""fit's safety: Ctrl-C returns the history so far; NaN or inf losses stop with epoch and batch."""

from __future__ import annotations

import io
import os
import signal

import numpy as np
import pytest
from training_helpers import Recorder, setup

import minitorch as mt


# ----------------------------------------------------------------- Ctrl-C
class InterruptAt(mt.Callback):
    def __init__(self, epoch, batch):
        self.at, self.epoch = (epoch, batch), None
        self.ended = False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt

    def on_train_end(self, logs=None):
        self.ended = True


def test_ctrl_c_ends_the_epoch_with_the_batches_done_and_returns_the_history():
    model, loss_fn, opt, loader, X, y = setup()
    interrupt, recorder = InterruptAt(epoch=1, batch=1), Recorder()
    out = io.StringIO()
    history = mt.fit(model, loss_fn, opt, loader, epochs=5, val_data=(X, y), callbacks=[recorder, interrupt],
                     file=out)
    assert history.interrupted and interrupt.ended
    assert history.epoch == [0, 1]  # the interrupted epoch is kept, with validation
    assert len(history["val_loss"]) == 2
    partial = recorder.batch_logs[4:6]  # epoch 1's two finished batches
    expected = sum(b["loss"] * b["size"] for b in partial) / sum(b["size"] for b in partial)
    assert history["loss"][1] == pytest.approx(expected, rel=1e-12)
    assert "Interrupted in epoch 2/5 after 2 batches" in out.getvalue()
    assert model.training


def test_ctrl_c_before_a_batch_finishes_records_nothing_more():
    model, loss_fn, opt, _, X, y = setup()

    class Loader:
        def __init__(self):
            self.epochs = 0

        def __iter__(self):
            self.epochs += 1
            if self.epochs == 3:
                raise KeyboardInterrupt
            yield X, y

    history = mt.fit(model, loss_fn, opt, Loader(), epochs=5, verbose=0)
    assert history.epoch == [0, 1] and history.interrupted


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="needs POSIX signals")
def test_a_real_sigint_lets_the_batch_finish_then_stops():
    # a process started in the background (CI, `cmd &`) inherits SIGINT ignored; fit leaves an
    # ignored or custom SIGINT alone, so give this test the interactive default Python installs
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _sigint_during_fit()
    finally:
        signal.signal(signal.SIGINT, inherited)


def _sigint_during_fit():
    model, loss_fn, opt, loader, *_ = setup()

    class PressCtrlC(mt.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    recorder = Recorder()
    history = mt.fit(model, loss_fn, opt, loader, epochs=5, callbacks=[recorder, PressCtrlC()], verbose=0)
    assert history.interrupted and history.epoch == [0]
    assert ("batch_end", 1) in recorder.calls and ("batch_begin", 2) not in recorder.calls
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


# ----------------------------------------------------------------- NaN / inf
def test_nan_in_the_data_stops_with_an_error_naming_epoch_and_batch():
    model, loss_fn, opt, _, X, y = setup()
    X = X.copy()
    X[5, 0] = np.nan  # in the second batch of 4
    with pytest.raises(mt.NonFiniteLossError, match=r"output holds NaN or inf in epoch 1/3, batch 2") as err:
        mt.fit(model, loss_fn, opt, mt.DataLoader(X, y, batch_size=4), epochs=3, verbose=0)
    assert isinstance(err.value, ValueError) and (err.value.epoch, err.value.batch) == (0, 1)
    assert "CrossEntropyLoss" in str(err.value)  # the loss's own message is kept
    with pytest.raises(mt.NonFiniteLossError, match="epoch 1/3, batch 2"):  # opting out cannot help here
        mt.fit(model, loss_fn, opt, mt.DataLoader(X, y, batch_size=4), epochs=3, verbose=0, stop_on_nan=False)


def test_nan_targets_are_named():
    model = mt.Linear(2, 1)
    X, t = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    t[3] = np.inf
    with pytest.raises(mt.NonFiniteLossError, match="targets holds NaN or inf in epoch 1/1, batch 2"):
        mt.fit(model, mt.MSELoss(), mt.SGD(model.parameters()), mt.DataLoader(X, t, batch_size=2), 1,
               metrics=(), verbose=0)


class LenientLoss(mt.Loss):
    """A loss that does not check its input: NaN in, NaN out."""

    def forward(self, input, target):
        self._shape = input.shape
        return float(np.mean(input) * np.nan if input.shape[0] == 2 else np.mean(input))

    def backward(self, dloss=1.0):
        return np.zeros(self._shape, np.float32)


def test_a_nan_loss_stops_training_unless_stop_on_nan_is_false():
    model = mt.Linear(2, 1)
    X = np.ones((6, 2), np.float32)
    loader = mt.DataLoader(X, X[:, :1], batch_size=4)  # batches of 4 and 2: the second one is NaN
    opt = mt.SGD(model.parameters())
    with pytest.raises(mt.NonFiniteLossError, match=r"loss is nan in epoch 1/2, batch 2.*stop_on_nan=False"):
        mt.fit(model, LenientLoss(), opt, loader, 2, metrics=(), verbose=0)
    history = mt.fit(model, LenientLoss(), opt, loader, 2, metrics=(), verbose=0, stop_on_nan=False)
    assert len(history) == 2 and np.isnan(history["loss"]).all()


# ----------------------------------------------------------------- empty batches
# relu-plain-sgd is the case of fit's whole-step kernel (kernels/step.py), which declines a batch of 0
@pytest.mark.parametrize("act, momentum, weight_decay", [(mt.Tanh, 0.9, 0.01), (mt.ReLU, 0.0, 0.0)],
                         ids=["tanh-momentum", "relu-plain-sgd"])
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_an_empty_batch_trains_as_torchs_loop_and_counts_nothing_in_the_epoch_loss(float64, kernels, act,
                                                                                   momentum, weight_decay,
                                                                                   monkeypatch):
    """A batch of 0 samples: torch's loop gets loss nan (0 / 0), zero gradients, and its optimizer
    still steps (momentum, weight decay); fit does the same, and the empty batch weighs 0 in the
    epoch loss (no nan logged, no NonFiniteLossError). MiniTorch's loss refused the empty batch."""
    import torch
    from oracle import torch_twin

    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
    batches = [(X[:4], y[:4]), (X[:0], y[:0]), (X[4:], y[4:])]
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 5), act(), mt.Linear(5, 3))
    twin = torch_twin(model)
    opt_t = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    losses = []
    for _ in range(2):
        for xb, yb in batches:
            loss_t = torch.nn.CrossEntropyLoss()(twin(torch.tensor(xb)), torch.tensor(yb))
            loss_t.backward()
            opt_t.step()
            opt_t.zero_grad()
            losses.append(loss_t.item())
    assert np.isnan(losses[1]) and np.isnan(losses[4])
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1, momentum=momentum,
                                                          weight_decay=weight_decay), batches, epochs=2,
                     verbose=0)
    for epoch in range(2):
        first, _, last = losses[3 * epoch:3 * epoch + 3]
        np.testing.assert_allclose(history.history["loss"][epoch], (4 * first + 3 * last) / 7, rtol=1e-12)
    for p, p_t in zip(model.parameters(), twin.parameters(), strict=True):
        expected = p_t.detach().numpy()
        np.testing.assert_allclose(p.data, expected.T if p.data.shape != expected.shape else expected,
                                   rtol=1e-12, atol=1e-14)


def test_an_epoch_of_empty_batches_only_is_a_clear_error_not_a_nan_loss():
    X, y = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    model = mt.Sequential(mt.Linear(4, 3))
    with pytest.raises(ValueError, match=r"yielded only empty batches \(0 samples\) in epoch 1"):
        mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), [(X, y), (X, y)], epochs=1,
               verbose=0)
