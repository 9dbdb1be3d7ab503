"""mt.fit, mt.evaluate, mt.predict: the loop, its History, modes, schedulers, progress, Ctrl-C and NaN."""

from __future__ import annotations

import io
import os
import re
import signal
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from training_helpers import FakeTTY, Recorder, blobs, mlp

import minitorch as mt


def setup(batch_size=16, lr=0.1, n=60):
    X, y = blobs(n)
    model = mlp()
    return model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=lr), mt.DataLoader(
        X, y, batch_size=batch_size, shuffle=True), X, y


# ----------------------------------------------------------------- the loop and its History
def test_fit_trains_exactly_like_the_explicit_loop():
    mt.manual_seed(1)
    model, loss_fn, opt, loader, *_ = setup()
    history = mt.fit(model, loss_fn, opt, loader, epochs=3, metrics=(), verbose=0)
    mt.manual_seed(1)
    twin, loss_fn, opt, loader, X, _ = setup()
    losses = []
    for _ in range(3):
        total = 0.0
        for xb, yb in loader:
            total += loss_fn(twin(xb), yb) * len(xb)
            twin.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        losses.append(total / len(X))
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)


def test_history_holds_every_epoch_of_every_key():
    model, loss_fn, opt, loader, X, y = setup()
    history = mt.fit(model, loss_fn, opt, loader, epochs=4, val_data=(X[:20], y[:20]),
                     metrics=("accuracy", "f1"), verbose=0)
    assert list(history.history) == ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"]
    assert history.epoch == [0, 1, 2, 3] and len(history) == 4
    assert all(len(values) == 4 for values in history.history.values())
    assert history["lr"] == [0.1] * 4
    assert history["loss"][-1] < history["loss"][0]
    assert history.params == {"epochs": 4, "steps": 4, "verbose": 0, "metrics": ["accuracy", "f1"]}
    assert not history.interrupted and not history.stop_training
    # the last validation logs are the model as fit left it
    final = mt.evaluate(model, loss_fn, X[:20], y[:20], metrics=("accuracy", "f1"))
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == final["accuracy"]
    assert history["val_f1"][-1] == pytest.approx(final["f1"])
    assert "val_loss" in history and "History(epochs=4" in repr(history)
    with pytest.raises(KeyError, match="recorded keys"):
        history["val_acc"]


def test_epoch_loss_is_the_sample_weighted_mean_and_metrics_cover_every_sample():
    # lr=0 keeps the weights: the epoch's training logs must equal evaluate on the same data
    model, loss_fn, opt, _, X, y = setup(lr=0.0, n=10)
    recorder = Recorder()
    loader = mt.DataLoader(X, y, batch_size=4)  # batches of 4, 4, 2
    history = mt.fit(model, loss_fn, opt, loader, epochs=1, metrics=("accuracy", "precision"),
                     callbacks=[recorder], verbose=0)
    sizes = [logs["size"] for logs in recorder.batch_logs]
    batch_losses = [logs["loss"] for logs in recorder.batch_logs]
    assert sizes == [4, 4, 2]
    assert history["loss"][0] == pytest.approx(np.dot(batch_losses, sizes) / 10, rel=1e-12)
    assert history["loss"][0] != pytest.approx(np.mean(batch_losses), rel=1e-6)  # not the plain mean
    expected = mt.evaluate(model, loss_fn, X, y, metrics=("accuracy", "precision"))
    assert history["loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
    assert history["accuracy"][0] == expected["accuracy"]
    assert history["precision"][0] == pytest.approx(expected["precision"])


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 23), batch_size=st.integers(1, 9), shuffle=st.booleans())
def test_frozen_weights_give_the_full_data_loss_for_any_batching(n, batch_size, shuffle):
    model, loss_fn, opt, _, X, y = setup(lr=0.0, n=n)
    history = mt.fit(model, loss_fn, opt, mt.DataLoader(X, y, batch_size=batch_size, shuffle=shuffle), 2,
                     val_data=(X, y), verbose=0)
    full = model(X)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], loss_fn(full, y), rtol=1e-5)
    assert history["accuracy"] == history["val_accuracy"] == [mt.metrics.accuracy(y, full)] * 2


def test_metric_functions_and_loaders_as_validation_data():
    model, loss_fn, opt, loader, X, y = setup()

    def errors(y_true, y_pred):
        return float(np.sum(np.argmax(y_pred, axis=1) != y_true))

    history = mt.fit(model, loss_fn, opt, loader, epochs=2, metrics=[errors],
                     val_data=mt.DataLoader(X, y, batch_size=7), verbose=0)
    assert history["val_errors"][-1] == mt.evaluate(model, None, X, y, metrics=[errors])["errors"]
    assert history["val_errors"][-1] == pytest.approx(len(X) * (1 - mt.metrics.accuracy(y, model(X))))


class ModeSpy(mt.Module):
    """Identity that records the training flag of every forward call."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return x

    def backward(self, dy):
        return dy


def test_fit_trains_in_train_mode_validates_in_eval_mode_and_restores_modes():
    model, loss_fn, opt, _, X, y = setup()
    spy = ModeSpy()
    model = mt.Sequential(spy, *model)
    opt = mt.SGD(model.parameters(), lr=0.1)
    model.eval()
    model[2].train()  # a mixed state must come back exactly
    mt.fit(model, loss_fn, opt, mt.DataLoader(X, y, batch_size=30), epochs=2, val_data=(X, y), verbose=0)
    assert spy.seen == [True, True, False, True, True, False]  # 2 batches, then validation
    assert [m.training for m in model] == [False, False, True, False]
    assert model.training is False


def test_evaluate_and_predict_batch_run_in_eval_mode_and_restore_it():
    model, loss_fn, *_, X, y = setup(n=25)
    model.append(mt.Dropout(0.5))  # in eval mode a no-op, so batches and full pass agree
    full = model.eval()(X)
    model.train()
    np.testing.assert_allclose(mt.predict(model, X, batch_size=4), full, rtol=1e-6)
    results = mt.evaluate(model, loss_fn, X, y, metrics=("accuracy",), batch_size=4)
    assert results["loss"] == pytest.approx(loss_fn(full, y), rel=1e-6)
    assert results["accuracy"] == mt.metrics.accuracy(y, full)
    assert model.training and model[3].training
    assert mt.evaluate(model, loss_fn, mt.DataLoader(X, y, batch_size=6))["loss"] == pytest.approx(
        results["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="at least one sample"):
        mt.predict(model, np.zeros((0, 2), np.float32))
    with pytest.raises(ValueError, match="reduction='mean'"):
        mt.evaluate(model, mt.CrossEntropyLoss(reduction="sum"), X, y)


# ----------------------------------------------------------------- schedulers
class HalvingScheduler:
    """Stand-in for StepLR(step_size=1, gamma=0.5): step() takes no value."""

    def __init__(self, optimizer):
        self.optimizer, self.calls = optimizer, 0

    def step(self, epoch=None):
        self.calls += 1
        for group in self.optimizer.param_groups:
            group["lr"] *= 0.5


class PlateauScheduler:
    """Stand-in for ReduceLROnPlateau: step(metrics) needs the monitored value."""

    def __init__(self):
        self.values = []

    def step(self, metrics, epoch=None):
        self.values.append(metrics)


def test_scheduler_steps_once_per_epoch_and_history_records_each_epochs_lr():
    model, loss_fn, opt, loader, *_ = setup()
    scheduler = HalvingScheduler(opt)
    out = io.StringIO()
    history = mt.fit(model, loss_fn, opt, loader, epochs=3, scheduler=scheduler, file=out)
    assert scheduler.calls == 3
    assert history["lr"] == [0.1, 0.05, 0.025]
    assert opt.param_groups[0]["lr"] == 0.0125
    assert "lr: 0.025" in out.getvalue().splitlines()[2]  # a scheduler puts lr in the progress line


class ReduceLROnPlateau(PlateauScheduler):
    """Named like torch's class, with an optional value: recognised by its name."""

    def step(self, metrics=None, epoch=None):
        self.values.append(metrics)


def test_plateau_scheduler_gets_val_loss_or_else_the_training_loss():
    model, loss_fn, opt, loader, X, y = setup()
    scheduler = PlateauScheduler()
    history = mt.fit(model, loss_fn, opt, loader, epochs=2, val_data=(X, y), scheduler=scheduler, verbose=0)
    assert scheduler.values == history["val_loss"]
    scheduler = PlateauScheduler()
    history = mt.fit(model, loss_fn, opt, loader, epochs=2, scheduler=scheduler, verbose=0)
    assert scheduler.values == history["loss"]
    scheduler = ReduceLROnPlateau()
    history = mt.fit(model, loss_fn, opt, loader, epochs=2, scheduler=scheduler, verbose=0)
    assert scheduler.values == history["loss"]


# ----------------------------------------------------------------- progress output
LINE = re.compile(r"^Epoch (\d)/3 - loss: \d+\.\d{4} - accuracy: [01]\.\d{4} - val_loss: \d+\.\d{4} - "
                  r"val_accuracy: [01]\.\d{4}$")


def test_plain_progress_prints_one_line_per_epoch_and_verbose_0_prints_nothing():
    model, loss_fn, opt, loader, X, y = setup()
    out = io.StringIO()
    history = mt.fit(model, loss_fn, opt, loader, epochs=3, val_data=(X, y), file=out)
    lines = out.getvalue().splitlines()
    assert [LINE.match(line)[1] for line in lines] == ["1", "2", "3"]
    assert f"loss: {history['loss'][1]:.4f}" in lines[1]
    assert f"val_accuracy: {history['val_accuracy'][2]:.4f}" in lines[2]
    quiet = FakeTTY()
    mt.fit(model, loss_fn, opt, loader, epochs=2, val_data=(X, y), verbose=0, file=quiet)
    assert quiet.getvalue() == ""
    tty = FakeTTY()  # verbose=2 prints lines even on a terminal
    mt.fit(model, loss_fn, opt, loader, epochs=3, val_data=(X, y), verbose=2, file=tty)
    assert all(LINE.match(line) for line in tty.getvalue().splitlines())


def test_progress_defaults_to_stdout(capsys):
    model, loss_fn, opt, loader, *_ = setup()
    mt.fit(model, loss_fn, opt, loader, epochs=1, metrics=())
    assert re.fullmatch(r"Epoch 1/1 - loss: \d\.\d{4}\n", capsys.readouterr().out)


def test_tqdm_bars_on_a_terminal_show_running_loss_and_final_logs():
    pytest.importorskip("tqdm")
    model, loss_fn, opt, loader, X, y = setup()
    tty = FakeTTY()
    history = mt.fit(model, loss_fn, opt, loader, epochs=2, val_data=(X, y), file=tty)
    out = tty.getvalue()
    assert "\r" in out and "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "4/4" in out and "batch" in out  # 4 batches per epoch, counted by the bar
    assert f"val_accuracy: {history['val_accuracy'][1]:.4f}" in out
    assert not LINE.search(out)  # no plain lines in bar mode


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    model, loss_fn, opt, loader, X, y = setup()
    tty = FakeTTY()
    mt.fit(model, loss_fn, opt, loader, epochs=3, val_data=(X, y), file=tty)
    assert len([line for line in tty.getvalue().splitlines() if LINE.match(line)]) == 3


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


# ----------------------------------------------------------------- arguments
def test_fit_rejects_bad_arguments():
    model, loss_fn, opt, loader, X, y = setup()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        mt.fit(model, loss_fn, opt, loader, 0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        mt.fit(model, loss_fn, opt, loader, 1, verbose=3)
    with pytest.raises(TypeError, match=r"mt.DataLoader\(X, y"):
        mt.fit(model, loss_fn, opt, (X, y), 1)
    with pytest.raises(ValueError, match="one-shot iterator"):
        mt.fit(model, loss_fn, opt, iter(loader), 2)
    with pytest.raises(TypeError, match=r"yield \(xb, yb\) pairs, got ndarray"):
        mt.fit(model, loss_fn, opt, mt.DataLoader(X, batch_size=8), 1)
    with pytest.raises(ValueError, match="yielded no batches in epoch 1"):
        mt.fit(model, loss_fn, opt, [], 1)
    with pytest.raises(ValueError, match="reduction='mean'"):
        mt.fit(model, mt.CrossEntropyLoss(reduction="none"), opt, loader, 1)
    with pytest.raises(ValueError, match="distinct"):
        mt.fit(model, loss_fn, opt, loader, 1, metrics=("accuracy", "accuracy"))
    with pytest.raises(ValueError, match="unknown metric"):
        mt.fit(model, loss_fn, opt, loader, 1, metrics=("top5",))
    with pytest.raises(TypeError, match=r"mt\.Callback"):
        mt.fit(model, loss_fn, opt, loader, 1, callbacks=[print])
    with pytest.raises(TypeError, match="optimizer"):
        mt.fit(model, loss_fn, model, loader, 1)
    with pytest.raises(TypeError, match=r"mt\.Module"):
        mt.fit(lambda x: x, loss_fn, opt, loader, 1)
    with pytest.raises(TypeError, match="scheduler"):
        mt.fit(model, loss_fn, opt, loader, 1, scheduler=object())
    with pytest.raises(ValueError, match=r"expected \(X, y\)"):
        mt.fit(model, loss_fn, opt, loader, 1, val_data=(X, y, y))
