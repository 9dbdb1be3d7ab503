"""mt.fit, mt.evaluate, mt.predict: the loop, its History, modes, schedulers, progress, Ctrl-C and NaN."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from training_helpers import FakeTTY, Recorder, setup

import minitorch as mt


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


def test_predict_and_evaluate_name_a_model_with_several_outputs():
    """An LSTM returns (output, (h_n, c_n)): concatenating such batches is not an array of outputs."""
    lstm = mt.LSTM(3, 4, batch_first=True)
    X = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(TypeError, match=r"predict: expected the model to return one array.*tuple of 2"):
        mt.predict(lstm, X)
    with pytest.raises(TypeError, match=r"evaluate: expected the model to return one array.*tuple of 2"):
        mt.evaluate(lstm, None, X, np.zeros(5, np.int64), metrics=["accuracy"])


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


def test_the_librarys_step_lr():
    model, loss_fn, opt, loader, *_ = setup()
    history = mt.fit(model, loss_fn, opt, loader, epochs=4, scheduler=mt.lr_scheduler.StepLR(opt, 2, 0.5),
                     verbose=0)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05]


@pytest.mark.parametrize("make", [
    lambda opt: mt.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100),
    lambda opt: type("CyclicLR", (), {"step": lambda self: None})(),  # torch's other per-batch schedule
])
def test_a_scheduler_counted_in_batches_is_refused_not_stepped_per_epoch(make):
    """fit steps scheduler= once per epoch: a OneCycleLR would take epochs of its epochs * batches
    steps, never anneal, and train quietly with the wrong rates."""
    model, loss_fn, opt, loader, *_ = setup()
    weights = model.state_dict()
    with pytest.raises(ValueError, match="on_batch_end"):
        mt.fit(model, loss_fn, opt, loader, epochs=2, scheduler=make(opt), verbose=0)
    after = model.state_dict()
    assert all(np.array_equal(v, after[k]) for k, v in weights.items())  # refused before training


class ScriptedSGD(mt.SGD):
    """An SGD whose step sets the single weight from a script (val_loss of epoch k: script[k]**2)."""

    def __init__(self, params, script, lr):
        super().__init__(params, lr=lr)
        self.script = iter(script)

    def step(self):
        self.param_groups[0]["params"][0].data[...] = next(self.script)


def test_reduce_lr_on_plateau_is_given_the_validation_loss():
    model = mt.Linear(1, 1, bias=False)
    opt = ScriptedSGD(model.parameters(), [3.0, 2.0, 1.0, 1.5, 2.5, 0.5], lr=0.1)
    plateau = mt.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    X = np.ones((1, 1), np.float32)
    history = mt.fit(model, mt.MSELoss(), opt, mt.DataLoader(X, X), 6, val_data=(X, 0 * X), metrics=(),
                     scheduler=plateau, verbose=0)
    np.testing.assert_allclose(history["val_loss"], [9.0, 4.0, 1.0, 2.25, 6.25, 0.25])
    assert history["lr"] == [0.1, 0.1, 0.1, 0.1, 0.05, 0.025]  # halved after epochs 3 and 4
    assert plateau.best == 0.25


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


def test_callback_messages_during_an_epoch_print_above_the_bar():
    pytest.importorskip("tqdm")

    class Chatty(mt.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.log(f"batch {batch} done")

    model, loss_fn, opt, loader, *_ = setup()
    tty = FakeTTY()
    history = mt.fit(model, loss_fn, opt, loader, epochs=2, callbacks=[Chatty()], file=tty)
    out = tty.getvalue()
    assert out.count("batch 1 done\n") == 2 and "4/4" in out and len(history) == 2


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    model, loss_fn, opt, loader, X, y = setup()
    tty = FakeTTY()
    mt.fit(model, loss_fn, opt, loader, epochs=3, val_data=(X, y), file=tty)
    assert len([line for line in tty.getvalue().splitlines() if LINE.match(line)]) == 3


# ----------------------------------------------------------------- arguments
def test_fit_rejects_bad_arguments():
    model, loss_fn, opt, loader, X, y = setup()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        mt.fit(model, loss_fn, opt, loader, 0)
    with pytest.raises(ValueError, match=r"fit: verbose must be one of \(0, 1, 2\)"):
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
