"""History: what ``fit`` returns, one value per epoch for every logged quantity (as Keras)."""

from __future__ import annotations

import math
from typing import Any


class History:
    """Per-epoch record of a ``fit`` run.

    ``history.history`` maps each key to a list with one value per recorded epoch:
    ``"loss"`` and each training metric (``"accuracy"``...), ``"val_loss"`` and ``"val_<metric>"``
    when validation data is given, and ``"lr"`` (the learning rate the epoch trained with, from
    ``optimizer.param_groups[0]["lr"]``). ``history.epoch`` lists the recorded epochs' indices,
    counting from 0 as Keras does (the progress lines count from 1). Lists always have the length
    of ``history.epoch``: a key missing in some epoch holds NaN there.

    ``stop_training``: set it to True (e.g. from a Callback) to end ``fit`` after the current epoch.
    ``interrupted``: True when Ctrl-C ended the run. ``params``: ``{"epochs", "steps", "verbose",
    "metrics"}`` of the run.
    Example:
        history = mt.fit(model, loss_fn, opt, loader, epochs=20, val_data=(X_val, y_val))
        history.history["val_accuracy"][-1], history.epoch, history["loss"]
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = dict(params or {})
        self.stop_training = False
        self.interrupted = False

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record the logs of ``epoch`` (0-based)."""
        for key in logs:
            if key not in self.history:
                self.history[key] = [math.nan] * len(self.epoch)
        for key, values in self.history.items():
            values.append(float(logs.get(key, math.nan)))
        self.epoch.append(int(epoch))

    def __getitem__(self, key: str) -> list[float]:
        if key not in self.history:
            raise KeyError(f"History: no key {key!r}; recorded keys are {sorted(self.history)}")
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
