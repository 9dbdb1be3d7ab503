"""Small data, models and stand-ins shared by the fit, callback and summary tests."""

from __future__ import annotations

import io

import numpy as np

import minitorch as mt


def blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated 2-D clusters: X (n, 2) float32, y (n,) int64."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    X = centres[y] + 0.5 * rng.standard_normal((n, 2))
    return X.astype(np.float32), y.astype(np.int64)


def mlp() -> mt.Sequential:
    return mt.Sequential(mt.Linear(2, 8), mt.ReLU(), mt.Linear(8, 3))


def setup(batch_size=16, lr=0.1, n=60):
    """model, loss_fn, optimizer, shuffled loader, X, y for the blobs."""
    X, y = blobs(n)
    model = mlp()
    return model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=lr), mt.DataLoader(
        X, y, batch_size=batch_size, shuffle=True), X, y


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal, so fit draws tqdm bars into it."""

    def isatty(self) -> bool:
        return True


class Recorder(mt.Callback):
    """Records every hook call as (hook, index or None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.batch_logs: list[dict] = []
        self.epoch_logs: list[dict] = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch))
        self.epoch_logs.append(dict(logs))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))
        self.batch_logs.append(dict(logs))


class ScriptedOptimizer:
    """Sets the single weight of ``Linear(1, 1, bias=False)`` to the next value of a script per step.

    With one batch per epoch and val_data X = [[1]], y = [[0]] under MSELoss, the validation loss
    of epoch k is script[k] ** 2: callbacks can be tested on a known sequence of losses.
    """

    def __init__(self, model: mt.Module, script: list[float]) -> None:
        self.weight = next(model.parameters())
        self.script = list(script)
        self.param_groups = [{"params": [self.weight], "lr": 0.0}]
        self.steps = 0

    def step(self) -> None:
        self.weight.data[...] = self.script[self.steps]
        self.steps += 1

    def zero_grad(self) -> None:
        self.weight.zero_grad()


def scripted_run(script, callbacks, epochs=None, **kwargs):
    """fit a 1-weight model whose epoch-k val_loss is script[k]**2; returns (model, history)."""
    model = mt.Linear(1, 1, bias=False)
    X = np.ones((1, 1), dtype=np.float32)
    history = mt.fit(model, mt.MSELoss(), ScriptedOptimizer(model, script), mt.DataLoader(X, X),
                     epochs or len(script), val_data=(X, np.zeros((1, 1), np.float32)), metrics=(),
                     callbacks=callbacks, verbose=0, **kwargs)
    return model, history
