"""Callbacks for ``mt.fit``: hooks into the loop, early stopping and model checkpoints (as Keras)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_choice, check_nonnegative_int, check_number
from minitorch.model_files import save_model
from minitorch.module import Module

# logged quantities where larger is better; every other one (loss, mse, mae...) is minimised
# mode="auto": the direction of each metric fit logs by name (mt.metrics.METRICS) and of the
# scikit-learn-style scores; a name ending in "loss" or "error" is smaller-is-better; others are refused
_LARGER_IS_BETTER = {"accuracy", "acc", "binary_accuracy", "accuracy_score", "precision", "precision_score",
                     "recall", "recall_score", "f1", "f1_score", "r2", "r2_score", "roc_auc_score"}
_SMALLER_IS_BETTER = {"mse", "mae"}


class Callback:
    """Base class of callbacks: override the hooks you need; each does nothing by default.

    ``fit`` calls, in order: ``on_train_begin(logs)``; per epoch ``on_epoch_begin(epoch, logs)``,
    per batch ``on_batch_begin(batch, logs)`` (logs: ``"inputs"``, the batch the model is about to
    see) / ``on_batch_end(batch, logs)`` (logs: the batch's ``"loss"`` and ``"size"``), then
    ``on_epoch_end(epoch, logs)`` with the epoch's logs (``"loss"``, metrics, ``"val_*"``, ``"lr"``);
    finally ``on_train_end(logs)`` with the last epoch's logs.
    ``epoch`` and ``batch`` count from 0, as Keras.

    Before ``on_train_begin`` fit sets ``self.model``, ``self.history`` (the ``History`` it will
    return) and ``self.params``. Set ``self.history.stop_training = True`` to end training after the
    current epoch. ``self.log(text)`` prints a line where fit prints (nothing with ``verbose=0``).
    Example:
        class StopAtAccuracy(mt.Callback):
            def on_epoch_end(self, epoch, logs):
                self.history.stop_training = logs["accuracy"] >= 0.99
    """

    model: Module | None = None
    history: Any = None
    params: dict[str, Any] | None = None

    def set_context(self, model: Module, history: Any, log: Callable[[str], None] | None = None) -> None:
        self.model, self.history, self.params = model, history, history.params
        self._log = log

    def log(self, text: str) -> None:
        log = getattr(self, "_log", None)
        if log is not None:
            log(text)

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        pass

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def idle_batches(self) -> int:
        """How many of the next batches need neither ``on_batch_begin`` nor ``on_batch_end``.

        A callback that acts only now and then (``mt.Diagnostics``) overrides it: ``fit`` asks
        right after the batch hooks of a batch the callback was called for, and skips both hooks
        of this callback for that many batches (across epochs). A NaN/inf loss is never skipped:
        with ``stop_on_nan=True`` it stops fit (``NonFiniteLossError`` carries the batch's
        ``inputs`` and ``step``); with ``stop_on_nan=False`` fit wakes every resting callback at
        once and calls its ``on_batch_end`` for that batch (without the ``on_batch_begin`` it
        rested through), the logs of that call (to every callback called for that batch) also
        holding the batch's ``inputs`` and its ``step`` (counted from 0 across epochs), then asks
        again. 0 (the default): every batch.
        """
        return 0


class CallbackList:
    """The callbacks of one fit run, called in the order given.

    Each hook's listeners are listed once, when fit starts: the bound methods of the callbacks that
    override it (on their class or as an instance attribute), so a hook nobody overrides costs no
    call per step, and ``listens[hook]`` lets fit skip building its logs. With ``allow_idle``, a
    callback overriding ``Callback.idle_batches`` is taken off the batch hooks' lists for the
    batches it names (``rest``) and put back when they have passed (``wake``), or at once for a
    NaN/inf loss (``wake_all``): fit compares its step with ``wake_step`` and looks at
    ``asks_idle`` once per batch, nothing more."""

    HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
             "on_batch_end")
    BATCH_HOOKS = ("on_batch_begin", "on_batch_end")

    def __init__(self, callbacks: Iterable[Callback], model: Module, history: Any, log: Callable,
                 allow_idle: bool = False) -> None:
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"fit: expected callbacks to be mt.Callback instances, got {type(callback).__name__}"
                )
            callback.set_context(model, history, log)
        self._methods = {hook: [getattr(c, hook) for c in self.callbacks if _overrides(c, hook)]
                         for hook in self.HOOKS}
        self.listens = {hook: bool(methods) for hook, methods in self._methods.items()}
        self._idlers = [i for i, c in enumerate(self.callbacks) if allow_idle
                        and _overrides(c, "idle_batches") and any(_overrides(c, h) for h in self.BATCH_HOOKS)]
        self._asleep: dict[int, int] = {}  # index of a resting callback -> the step it is called again
        self._lists: dict[tuple[int, ...], tuple[list[Callable], list[Callable]]] = {}  # by who rests
        self.wake_step = -1  # the first step at which a resting callback is called again (-1: none rests)
        self.asks_idle = bool(self._idlers)  # a callback that may rest is being called

    def call(self, hook: str, *args: Any) -> None:
        for method in self._methods[hook]:
            method(*args)

    def rest(self, step: int) -> None:
        """After the batch hooks of ``step``: each called callback that may rest says for how many
        batches it needs no batch hook (``idle_batches``); those are skipped."""
        asleep, resting = self._asleep, False
        for i in self._idlers:
            if i not in asleep:
                idle = self.callbacks[i].idle_batches()
                if idle > 0:
                    asleep[i], resting = step + 1 + idle, True
        if resting:
            self._relist()

    def wake_all(self) -> bool:
        """Every resting callback is called again from now on (a NaN/inf loss that fit trains
        past: the callbacks that rest must see it). Whether any was resting."""
        if not self._asleep:
            return False
        self._asleep.clear()
        self._relist()
        return True

    def wake(self, step: int) -> None:
        """Before the batch hooks of ``step``: the callbacks resting until this step are called again."""
        asleep = self._asleep
        for i, wake in list(asleep.items()):
            if wake <= step:
                del asleep[i]
        self._relist()

    def _relist(self) -> None:
        """The batch hooks' lists without the resting callbacks (listed once per set of them)."""
        asleep = self._asleep
        key = tuple(asleep)
        lists = self._lists.get(key)
        if lists is None:
            awake = [c for i, c in enumerate(self.callbacks) if i not in asleep]
            lists = self._lists[key] = tuple([getattr(c, hook) for c in awake if _overrides(c, hook)]
                                             for hook in self.BATCH_HOOKS)
        methods, listens = self._methods, self.listens
        methods["on_batch_begin"], methods["on_batch_end"] = lists
        listens["on_batch_begin"], listens["on_batch_end"] = bool(lists[0]), bool(lists[1])
        self.wake_step = min(asleep.values()) if asleep else -1
        self.asks_idle = len(asleep) < len(self._idlers)


def _overrides(callback: Callback, hook: str) -> bool:
    return hook in callback.__dict__ or getattr(type(callback), hook) is not getattr(Callback, hook)


class Monitor:
    """Which logged quantity to watch and which direction is better."""

    def __init__(self, who: str, monitor: str, mode: str = "auto", min_delta: float = 0.0) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"{who}: monitor must be a log name such as 'val_loss', got {monitor!r}")
        check_choice(mode, who, "mode", ("auto", "min", "max"))
        min_delta = check_number(min_delta, who, "min_delta", 0)
        if mode == "auto":
            name = monitor.removeprefix("val_")
            if name in _LARGER_IS_BETTER:
                mode = "max"
            elif name in _SMALLER_IS_BETTER or name.endswith(("loss", "error")):
                mode = "min"
            else:  # guessing "min" would stop on improvements and keep the worst weights
                raise ValueError(
                    f"{who}: mode='auto' cannot tell whether a larger or a smaller {monitor!r} is better; "
                    "pass mode='max' or mode='min'"
                )
        self.who, self.monitor, self.mode, self.min_delta = who, monitor, mode, float(min_delta)

    def value(self, logs: dict[str, float] | None) -> float:
        logs = logs or {}
        if self.monitor not in logs:
            hint = ""
            if self.monitor.startswith("val_"):
                hint = " (pass val_data to fit, or monitor a training log)"
            raise ValueError(
                f"{self.who}: monitor {self.monitor!r} is not in the epoch logs {sorted(logs)}{hint}"
            )
        return float(logs[self.monitor])

    def improved(self, value: float, best: float | None) -> bool:
        """value beats best by more than min_delta (NaN never improves; anything beats None)."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; restore the best weights.

    Improvement: value < best - min_delta (mode "min") or value > best + min_delta ("max"); "auto"
    maximises accuracy, binary_accuracy, precision, recall, f1, r2 and roc_auc_score (with or without
    "val_"), minimises mse, mae and names ending in "loss" or "error", and refuses any other name
    (a ValueError asking for mode="max" or "min": a wrong guess would keep the worst weights).
    The epoch with the ``patience``-th non-improving epoch in a row is the last one.
    ``restore_best=True`` keeps a copy of the best epoch's ``state_dict()`` in memory and loads it
    at the end of training, whether training stopped early, ran all epochs or was interrupted
    (Keras restores only on an early stop). After training: ``best``, ``best_epoch``,
    ``stopped_epoch`` (None if it never stopped training), all epochs counted from 0.
    Example:
        stopper = mt.EarlyStopping(monitor="val_loss", patience=10)
        mt.fit(model, loss_fn, opt, loader, epochs=500, val_data=(X_val, y_val), callbacks=[stopper])
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ) -> None:
        self.patience = check_nonnegative_int(patience, "EarlyStopping", "patience")
        self.restore_best = check_bool(restore_best, "EarlyStopping", "restore_best")
        self._monitor = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor = monitor
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_state: dict[str, np.ndarray] | None = None
        self._last_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = self._monitor.value(logs)
        self._last_epoch = epoch
        if self._monitor.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_state = self.model.state_dict()  # copies
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.history.stop_training = True
            self.log(
                f"EarlyStopping: {self.monitor} has not improved for {self.wait} epochs; "
                f"stopping after epoch {epoch + 1}"
            )

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._best_state is None or self.best_epoch == self._last_epoch:
            return
        self.model.load_state_dict(self._best_state)
        self.log(
            f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1} "
            f"({self.monitor} {self.best:.4f})"
        )


class ModelCheckpoint(Callback):
    """Save the model with ``mt.save_model`` (atomic .npz) at the end of epochs.

    ``save_best_only=True``: only when ``monitor`` improved (direction as EarlyStopping's ``mode``);
    False: every epoch. ``path`` may hold format fields filled from the epoch (counted from 1)
    and its logs, e.g. ``"ckpt/model_{epoch:03d}_{val_loss:.3f}.npz"``; a plain path is
    overwritten. The file is ``mt.save_model``'s: ``mt.load_model(path)`` rebuilds the model, and
    ``architecture=False`` (needed for unregistered classes of your own) stores the weights alone,
    for ``mt.load_model(build_model(), path)``. After training: ``best``, ``best_epoch`` (from 0)
    and ``last_saved`` (the path written last, or None). The folder is created when the callback is
    (as the plot functions do), so a bad path fails at once, not after an epoch of training.
    Example:
        checkpoint = mt.ModelCheckpoint("best_model.npz", monitor="val_accuracy")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = True,
        mode: str = "auto",
        architecture: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.save_best_only = check_bool(save_best_only, "ModelCheckpoint", "save_best_only")
        # saving every epoch reads no direction: any monitor name will do then
        unused = not self.save_best_only and mode == "auto" and isinstance(monitor, str)
        self._monitor = Monitor("ModelCheckpoint", monitor, "min" if unused else mode)
        self.monitor = monitor
        self.architecture = check_bool(architecture, "ModelCheckpoint", "architecture")
        if "{" not in os.path.dirname(self.path):  # a folder with format fields is made when filled in
            _make_folder(self.path)
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = self._monitor.value(logs)
            if not self._monitor.improved(value, self.best):
                return
            self.best, self.best_epoch = value, epoch
        path = self._format_path(epoch, logs)
        _make_folder(path)
        save_model(self.model, path, architecture=self.architecture)
        self.last_saved = path

    def _format_path(self, epoch: int, logs: dict[str, float]) -> str:
        if "{" not in self.path:
            return self.path
        try:
            return self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot fill path {self.path!r} from epoch and logs {sorted(logs)}: {err}"
            ) from None


def _make_folder(path: str) -> None:
    """Create the folder ``path`` goes into, or raise a ValueError naming it and why it cannot be."""
    folder = os.path.dirname(path)
    if not folder:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"ModelCheckpoint: cannot create the folder {folder!r} for {path!r}: {err.strerror or err}"
        ) from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"ModelCheckpoint: the folder {folder!r} for {path!r} is not writable")
