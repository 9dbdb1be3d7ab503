"""Callbacks: hook order, stopping, EarlyStopping restoring the best weights, checkpoints that load."""

from __future__ import annotations

import io

import numpy as np
import pytest
from training_helpers import Recorder, ScriptedOptimizer, blobs, mlp, scripted_run

import minitorch as mt

# validation loss per epoch is script[k] ** 2: best at epoch 2 (weight 1.0)
SCRIPT = [3.0, 2.0, 1.0, 1.5, 2.5, 3.5, 4.0, 4.5]


def test_hooks_run_in_order_with_their_indices():
    X, y = blobs(12)
    model = mlp()
    recorder = Recorder()
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters()), mt.DataLoader(X, y, batch_size=6), 2,
           callbacks=[recorder], verbose=0)
    batches = [("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1), ("batch_end", 1)]
    assert recorder.calls == [
        ("train_begin", None),
        ("epoch_begin", 0), *batches, ("epoch_end", 0),
        ("epoch_begin", 1), *batches, ("epoch_end", 1),
        ("train_end", None),
    ]
    assert set(recorder.epoch_logs[0]) == {"loss", "accuracy", "lr"}
    assert recorder.model is model and recorder.history.params["epochs"] == 2


def test_each_hook_calls_only_the_callbacks_that_override_it_in_order():
    X, y = blobs(12)
    model = mlp()
    calls = []

    class Begins(mt.Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("class", batch, sorted(logs)))

    on_instance = mt.Callback()
    on_instance.on_batch_end = lambda batch, logs=None: calls.append(("instance", batch, sorted(logs)))
    callbacks = [Begins(), on_instance, mt.Callback()]
    hooks = mt.callbacks.CallbackList(callbacks, model, mt.History(), print).listens
    assert hooks == {"on_train_begin": False, "on_train_end": False, "on_epoch_begin": False,
                     "on_epoch_end": False, "on_batch_begin": True, "on_batch_end": True}
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters()), mt.DataLoader(X, y, batch_size=6), 1,
           callbacks=callbacks, verbose=0)
    assert calls == [("class", 0, ["inputs"]), ("instance", 0, ["loss", "size"]),
                     ("class", 1, ["inputs"]), ("instance", 1, ["loss", "size"])]


def test_a_callback_stops_training_through_the_history():
    class StopAfter(mt.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.history.stop_training = epoch == 1

    _, history = scripted_run(SCRIPT, [StopAfter()])
    assert history.epoch == [0, 1] and history.stop_training


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    stopper = mt.EarlyStopping(monitor="val_loss", patience=2)
    model, history = scripted_run(SCRIPT, [stopper])
    np.testing.assert_allclose(history["val_loss"], np.square(SCRIPT[:5]))
    assert history.epoch == [0, 1, 2, 3, 4]  # epochs 3 and 4 did not improve: stop after 4
    assert (stopper.best_epoch, stopper.stopped_epoch, stopper.best) == (2, 4, 1.0)
    assert next(model.parameters()).data[0, 0] == 1.0  # the weights of epoch 2, not the last ones (2.5)


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, _ = scripted_run(SCRIPT, [mt.EarlyStopping(patience=2, restore_best=False)])
    assert next(model.parameters()).data[0, 0] == 2.5


def test_early_stopping_restores_even_when_all_epochs_ran_or_training_was_interrupted():
    model, history = scripted_run(SCRIPT[:5], [mt.EarlyStopping(patience=10)])
    assert len(history) == 5 and next(model.parameters()).data[0, 0] == 1.0

    class Interrupt(mt.Callback):
        def on_batch_end(self, batch, logs=None):
            if self.history.epoch == [0, 1, 2, 3]:
                raise KeyboardInterrupt

    model, history = scripted_run(SCRIPT, [mt.EarlyStopping(patience=10), Interrupt()])
    assert history.interrupted and next(model.parameters()).data[0, 0] == 1.0


def test_min_delta_and_max_mode():
    # improvements of 0.01 in weight are below min_delta=0.5 in loss: patience runs out at epoch 2
    stopper = mt.EarlyStopping(patience=2, min_delta=0.5)
    _, history = scripted_run([3.0, 2.99, 2.98, 2.97, 2.0], [stopper])
    assert history.epoch == [0, 1, 2] and stopper.best_epoch == 0

    def neg_weight(y_true, y_pred):  # larger is better for "acc"-like names only; here mode="max"
        return float(-np.abs(y_pred).sum())

    stopper = mt.EarlyStopping(monitor="val_neg_weight", patience=1, mode="max")
    model = mt.Linear(1, 1, bias=False)
    X = np.ones((1, 1), np.float32)
    mt.fit(model, mt.MSELoss(), ScriptedOptimizer(model, SCRIPT), mt.DataLoader(X, X), 8,
           val_data=(X, X), metrics=[neg_weight], callbacks=[stopper], verbose=0)
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 3
    assert mt.callbacks.Monitor("t", "val_accuracy").mode == "max"
    assert mt.callbacks.Monitor("t", "val_mae").mode == "min"


SMALLER_IS_BETTER = {"loss", "mse", "mae", "mean_squared_error", "mean_absolute_error"}


@pytest.mark.parametrize("name", ["loss", *sorted(mt.metrics.METRICS)])
@pytest.mark.parametrize("prefix", ["", "val_"])
def test_auto_mode_knows_the_direction_of_every_named_metric(name, prefix):
    """mode="auto" on a metric fit logs by name: binary_accuracy minimised would stop on improvement
    and restore the worst weights."""
    expected = "min" if name in SMALLER_IS_BETTER else "max"
    assert mt.callbacks.Monitor("t", prefix + name).mode == expected
    assert mt.EarlyStopping(monitor=prefix + name)._monitor.mode == expected


@pytest.mark.parametrize("monitor", ["val_neg_weight", "auc", "val_my_score"])
def test_auto_mode_refuses_a_name_it_cannot_read(monitor):
    with pytest.raises(ValueError, match="mode='max'"):
        mt.EarlyStopping(monitor=monitor)
    with pytest.raises(ValueError, match="mode='max'"):
        mt.ModelCheckpoint("m.npz", monitor=monitor)
    assert mt.EarlyStopping(monitor=monitor, mode="max")._monitor.mode == "max"
    assert mt.callbacks.Monitor("t", "val_my_loss").mode == "min"  # a loss or an error: smaller is better
    assert mt.callbacks.Monitor("t", "val_squared_error").mode == "min"


def test_early_stopping_reports_through_fit_output():
    out = io.StringIO()
    X = np.ones((1, 1), np.float32)
    model = mt.Linear(1, 1, bias=False)
    mt.fit(model, mt.MSELoss(), ScriptedOptimizer(model, SCRIPT), mt.DataLoader(X, X), 8,
           val_data=(X, 0 * X), metrics=(), callbacks=[mt.EarlyStopping(patience=2)], file=out)
    lines = out.getvalue().splitlines()
    assert lines[-2] == "EarlyStopping: val_loss has not improved for 2 epochs; stopping after epoch 5"
    assert lines[-1] == "EarlyStopping: restored the weights of epoch 3 (val_loss 1.0000)"


def test_monitoring_a_missing_log_is_a_clear_error():
    X, y = blobs(12)
    model = mlp()
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in the epoch logs.*pass val_data"):
        mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters()), mt.DataLoader(X, y), 2,
               callbacks=[mt.EarlyStopping()], verbose=0)


def test_callback_arguments_are_checked():
    with pytest.raises(ValueError, match="patience"):
        mt.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode must be one of"):
        mt.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="min_delta"):
        mt.EarlyStopping(min_delta=-0.1)
    with pytest.raises(TypeError, match="monitor"):
        mt.ModelCheckpoint("m.npz", monitor=None)
    with pytest.raises(ValueError, match="save_best_only must be True or False"):
        mt.ModelCheckpoint("m.npz", save_best_only="yes")


def test_checkpoint_saves_the_best_model_and_the_file_loads(tmp_path):
    path = tmp_path / "best.npz"
    checkpoint = mt.ModelCheckpoint(path)
    scripted_run(SCRIPT, [checkpoint])
    assert (checkpoint.best_epoch, checkpoint.best, checkpoint.last_saved) == (2, 1.0, str(path))
    loaded = mt.load_model(mt.Linear(1, 1, bias=False), path)
    assert next(loaded.parameters()).data[0, 0] == 1.0
    rebuilt = mt.load_model(path)  # the file describes the model too
    assert isinstance(rebuilt, mt.Linear) and next(rebuilt.parameters()).data[0, 0] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz"]  # atomic: no temporary files left


def test_checkpoint_every_epoch_fills_the_path_from_epoch_and_logs(tmp_path):
    checkpoint = mt.ModelCheckpoint(tmp_path / "w_{epoch:02d}_{val_loss:.2f}.npz", save_best_only=False)
    scripted_run(SCRIPT[:3], [checkpoint])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["w_01_9.00.npz", "w_02_4.00.npz", "w_03_1.00.npz"]
    for name, weight in zip(names, SCRIPT[:3], strict=True):
        loaded = mt.load_model(mt.Linear(1, 1, bias=False), tmp_path / name)
        assert next(loaded.parameters()).data[0, 0] == weight
    with pytest.raises(ValueError, match="cannot fill path"):
        scripted_run(SCRIPT[:1], [mt.ModelCheckpoint(tmp_path / "{val_f1}.npz", save_best_only=False)])


class Unregistered(mt.Module):
    def __init__(self):
        super().__init__()
        self.fc = mt.Linear(1, 1, bias=False)

    def forward(self, x):
        return self.fc(x)

    def backward(self, dy):
        return self.fc.backward(dy)


def test_checkpoint_of_an_unregistered_module_needs_architecture_false(tmp_path):
    X = np.ones((1, 1), np.float32)

    def run(checkpoint):
        model = Unregistered()
        mt.fit(model, mt.MSELoss(), ScriptedOptimizer(model, SCRIPT), mt.DataLoader(X, X), 4,
               val_data=(X, 0 * X), metrics=(), callbacks=[checkpoint], verbose=0)

    with pytest.raises(TypeError, match="Unregistered"):
        run(mt.ModelCheckpoint(tmp_path / "m.npz"))
    run(mt.ModelCheckpoint(tmp_path / "m.npz", architecture=False))
    assert mt.load_model(Unregistered(), tmp_path / "m.npz").fc.W.data[0, 0] == 1.0


def test_checkpoint_of_a_real_run_restores_its_validation_score(tmp_path):
    X, y = blobs(30)
    model = mlp()
    checkpoint = mt.ModelCheckpoint(tmp_path / "m.npz", monitor="val_accuracy")
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
                     mt.DataLoader(X, y, batch_size=8), 5, val_data=(X, y), callbacks=[checkpoint], verbose=0)
    assert history["val_accuracy"][checkpoint.best_epoch] == max(history["val_accuracy"])
    loaded = mt.load_model(mlp(), tmp_path / "m.npz")
    assert mt.evaluate(loaded, None, X, y)["accuracy"] == checkpoint.best
