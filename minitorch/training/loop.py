"""fit: the explicit training loop of the examples, with history, metrics, callbacks and progress."""

from __future__ import annotations

import contextlib
import inspect
import math
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np

from minitorch.callbacks import Callback, CallbackList
from minitorch.checks import check_choice, check_positive_int
from minitorch.kernels import kernels_enabled
from minitorch.kernels import step as fast_step
from minitorch.kernels import step_large as fast_large
from minitorch.metrics import default_metrics
from minitorch.module import Module
from minitorch.parameter import data_of
from minitorch.training.history import History
from minitorch.training.inference import (
    Metrics,
    add_loss,
    as_batches,
    check_mean_reduction,
    in_model_dtype,
    loss_weight,
    mean_loss,
    metric_logs,
    resolve_metrics,
    run_eval,
    switched_mode,
)
from minitorch.training.progress import make_progress

VAL_BATCH_SIZE = 256  # validation needs no gradients: larger batches are cheaper per sample


class NonFiniteLossError(ValueError):
    """Training met a NaN or infinite loss. ``epoch`` and ``batch`` (from 0) say where; ``inputs``
    is that batch's input and ``step`` the batches before it in this fit run, across epochs (both set
    by ``fit`` before the model's caches are discarded)."""

    def __init__(self, message: str, epoch: int, batch: int) -> None:
        super().__init__(message)
        self.epoch, self.batch = epoch, batch
        self.inputs: Any = None
        self.step: int | None = None


def fit(
    model: Module,
    loss_fn: Any,
    optimizer: Any,
    train_loader: Iterable[tuple[np.ndarray, np.ndarray]],
    epochs: int,
    val_data: Any = None,
    metrics: Metrics | str = "auto",
    scheduler: Any = None,
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    *,
    stop_on_nan: bool = True,
    file: TextIO | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return a ``History`` of per-epoch logs.

    Each batch runs the loop the examples spell out, in training mode:
        output = model(xb); loss = loss_fn(output, yb)
        model.backward_params(loss_fn.backward()); optimizer.step(); optimizer.zero_grad()
    Per epoch: ``loss`` is the mean of the batch losses weighted as their means divide (by the
    batch size; by the counted targets' class weights for CrossEntropyLoss / NLLLoss with ``weight``
    or ``ignore_index``: the full-data loss, as ``evaluate`` reports it; an empty batch, whose loss
    is torch's nan with zero gradients, still steps the optimizer and weighs 0), each metric is computed
    on all of the epoch's outputs (made while the weights moved, as Keras reports them), then
    ``val_data`` — (X_val, y_val) or a DataLoader — is evaluated in eval mode (``val_loss``,
    ``val_<metric>``), ``lr`` records ``optimizer.param_groups[0]["lr"]`` of the epoch, callbacks'
    ``on_epoch_end`` run, and ``scheduler.step()`` — ``scheduler.step(val_loss or loss)`` for a
    scheduler whose step needs a value (ReduceLROnPlateau) — moves the learning rate. A schedule
    counted in batches (OneCycleLR, torch's CyclicLR) is refused: step it from a callback's
    ``on_batch_end``.

    Threads: the optimizer's step sets NumPy's BLAS threads by the default policy (1 thread for a
    model under 100k parameters; a larger one keeps the count its timed steps favour), unless
    ``mt.set_num_threads(n)`` fixed a count (docs/how-to/speed.md).

    train_loader: an ``mt.DataLoader`` or any re-iterable of (xb, yb) batches.
    metrics:  names (``"accuracy"``, ``"f1"``, ``"mse"``... see ``mt.metrics``) or functions
              ``fn(y_true, y_pred)``; () for none; "auto" (the default) follows the loss
              (``mt.metrics.default_metrics``: accuracy for classification losses, none for regression).
    verbose:  0 silent; 1 a tqdm bar per epoch with the running loss when tqdm is installed and
              ``file`` is a terminal, else one line per epoch; 2 always one line per epoch:
              ``Epoch 3/20 - loss: 0.4123 - accuracy: 0.8810 - val_loss: ... - val_accuracy: ...``
    file:     where progress goes (default ``sys.stdout``).
    stop_on_nan: raise ``NonFiniteLossError`` (a ValueError naming epoch and batch) as soon as a
              batch loss is NaN or inf (but for the nan of a batch whose targets are all ignored,
              ignore_index, which counts for nothing in the epoch loss); False records it and goes
              on. A loss that itself refuses NaN input (CrossEntropyLoss, MSELoss) raises
              NonFiniteLossError either way.
    Ctrl-C:   the batch being trained finishes, the epoch ends with the batches done so far (and
              its validation), callbacks' ``on_train_end`` run and the history so far is returned
              with ``history.interrupted = True``. A second Ctrl-C interrupts at once, except
              inside ``optimizer.step()``, which it lets finish (no parameter is left a step behind
              the others). Where fit cannot defer it (its handler is not installed: another thread,
              a custom SIGINT handler), a Ctrl-C inside the step stops fit at once with no callback
              and a KeyboardInterrupt saying the model may be torn.
    The model's train/eval modes are restored when fit returns.
    Example:
        loader = mt.DataLoader(X_train, y_train, batch_size=16, shuffle=True)
        history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), loader,
                         epochs=50, val_data=(X_val, y_val), callbacks=[mt.EarlyStopping(patience=5)])
    """
    _check_args(model, loss_fn, optimizer, train_loader, epochs, scheduler, verbose)
    trainer = _Trainer(model, loss_fn, optimizer, train_loader, int(epochs), val_data, metrics, scheduler,
                       callbacks, verbose, stop_on_nan, sys.stdout if file is None else file)
    return trainer.run()


class _Trainer:
    """State of one fit run; each method is one level of the loop (run > epoch > batches > step)."""

    def __init__(self, model, loss_fn, optimizer, train_loader, epochs, val_data, metrics, scheduler,
                 callbacks, verbose, stop_on_nan, file) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.epochs, self.scheduler = epochs, scheduler
        self.train_loader = in_model_dtype(train_loader, model)  # a float64 model trains on float64 data
        self.stop_on_nan = stop_on_nan
        auto = isinstance(metrics, str) and metrics == "auto"
        self.metrics = resolve_metrics(default_metrics(loss_fn) if auto else metrics)
        self.val_batches = (None if val_data is None
                            else as_batches(val_data, VAL_BATCH_SIZE, "fit: val_data", model))
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        self.history = History({"epochs": epochs, "steps": steps, "verbose": verbose,
                                "metrics": [name for name, _ in self.metrics]})
        self.progress = make_progress(verbose, epochs, file, show_lr=scheduler is not None)
        # a callback may skip batches (Callback.idle_batches); a NaN/inf loss that training goes on
        # past (stop_on_nan=False) wakes it at once (_train_batches)
        self.callbacks = CallbackList(callbacks, model, self.history, self.progress.message,
                                      allow_idle=True)
        self.global_step = 0  # batches begun in this run, across epochs
        self.ctrl_c = _CtrlC()

    def run(self) -> History:
        logs: dict[str, float] = {}
        self.optimizer.zero_grad()  # gradients left over from before fit must not leak into step 1
        try:
            with switched_mode(self.model, True), self.ctrl_c:
                self.callbacks.call("on_train_begin", {})
                try:
                    for epoch in range(self.epochs):
                        logs = self._epoch(epoch) or logs
                        if self.ctrl_c.pressed and not self.history.interrupted:  # pressed after the batches
                            self._interrupted(f"Interrupted after epoch {epoch + 1}/{self.epochs}")
                        if self.history.stop_training or self.history.interrupted:
                            break
                except KeyboardInterrupt:  # a second Ctrl-C, or one outside the batch loop
                    self._interrupted(f"Interrupted: returning the history of {len(self.history)} epochs")
                self.callbacks.call("on_train_end", logs)
        except _TornStep:
            raise KeyboardInterrupt(
                "fit: interrupted inside optimizer.step(): some parameters may have taken this step and "
                "others not, so the model may be torn; no callback ran after it (reload a checkpoint)"
            ) from None
        finally:
            self.progress.close()
        return self.history

    def _epoch(self, epoch: int) -> dict[str, float] | None:
        self.callbacks.call("on_epoch_begin", epoch, {})
        lr = self._lr()
        self.progress.epoch_begin(epoch, self.history.params["steps"])
        logs = self._train_batches(epoch)
        if logs is None:
            return None  # interrupted before a batch finished: nothing to record
        if self.val_batches is not None:
            val_logs = run_eval(self.model, self.loss_fn, self.val_batches, self.metrics, "fit: val_data")
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        if lr is not None:
            logs["lr"] = lr
        self.history.append(epoch, logs)
        self.progress.epoch_end(epoch, logs)
        self.callbacks.call("on_epoch_end", epoch, logs)
        if self.scheduler is not None:
            self._step_scheduler(logs)
        return logs

    def _train_batches(self, epoch: int) -> dict[str, float] | None:
        """Train on every batch; {"loss", <metric>...} of the epoch, or None if no batch finished."""
        total, weight, count, done = 0.0, 0.0, 0, 0
        targets, outputs = [], []
        callbacks = self.callbacks
        listens = callbacks.listens
        try:
            for batch, item in enumerate(self.train_loader):
                xb, yb = _pair(item)
                step = self.global_step
                self.global_step = step + 1
                if step == callbacks.wake_step:
                    callbacks.wake(step)
                if listens["on_batch_begin"]:
                    callbacks.call("on_batch_begin", batch, {"inputs": xb})
                output, loss = self._step(xb, yb, epoch, batch)
                # a Parameter batch (a leaf: the model's backward fills its grad) counts its data's rows
                size = len(data_of(xb))
                batch_weight = loss_weight(self.loss_fn, output, yb, size)
                total, weight = add_loss(total, batch_weight, loss), weight + batch_weight
                count, done = count + size, done + 1
                if self.metrics:  # a copy: nothing promises the next forward leaves this output alone
                    outputs.append(np.array(output, copy=True))
                    targets.append(np.asarray(yb))
                self.progress.batch_end(mean_loss(total, weight))
                if callbacks.wake_step >= 0 and not math.isfinite(loss) and callbacks.wake_all():
                    # stop_on_nan=False: the callbacks that rested through this batch see its loss,
                    # and its inputs and step (their on_batch_begin was skipped)
                    callbacks.call("on_batch_end", batch, {"loss": loss, "size": size, "inputs": xb,
                                                          "step": step})
                elif listens["on_batch_end"]:
                    callbacks.call("on_batch_end", batch, {"loss": loss, "size": size})
                if callbacks.asks_idle:
                    callbacks.rest(step)
                if self.ctrl_c.pressed:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            self._interrupted(f"Interrupted in epoch {epoch + 1}/{self.epochs} after {done} batches")
        if count == 0:
            if self.history.interrupted:
                return None
            if done:  # every batch was empty: the epoch loss would be 0 / 0, not a training loss
                raise ValueError(
                    f"fit: train_loader yielded only empty batches (0 samples) in epoch {epoch + 1}: "
                    "nothing to train on or to report a loss of; check the data and the loader"
                )
            raise ValueError(
                f"fit: train_loader yielded no batches in epoch {epoch + 1} (an empty loader, or a "
                "one-shot iterator used up by an earlier epoch: pass an mt.DataLoader or a list)"
            )
        return {"loss": mean_loss(total, weight), **metric_logs(self.metrics, targets, outputs)}

    def _step(self, xb: np.ndarray, yb: np.ndarray, epoch: int, batch: int) -> tuple[np.ndarray, float]:
        try:
            done = NotImplemented
            if kernels_enabled():  # fast room: a small Linear/ReLU chain, cross-entropy, SGD in one loop
                done = fast_step.fit_step(self.model, self.loss_fn, self.optimizer, xb, yb)
                if done is not NotImplemented:  # (the same five calls' effects: the step is taken)
                    return done[0], float(done[1])
                # a large chain: the three calls before the update in one function (kernels/step_large.py)
                done = fast_large.forward_backward(self.model, self.loss_fn, xb, yb)
            if done is NotImplemented:
                output = self.model(xb)
                loss = self._loss(output, yb, epoch, batch)
                self.model.backward_params(self.loss_fn.backward())
            else:  # (the same three calls' effects; the loss is finite)
                output, loss = done[0], float(done[1])
        except BaseException as error:  # NaN loss, Ctrl-C: no forward may stay waiting for a backward
            fast_large.settle()  # (a product deferred over xb before the error: computed now)
            if isinstance(error, NonFiniteLossError):
                # a callback that skipped this batch (idle_batches) can still walk it and name it
                error.inputs, error.step = xb, self.global_step - 1
            for module in (self.model, self.loss_fn):
                if isinstance(module, Module):
                    module.discard_caches()
            raise
        try:
            with self.ctrl_c.deferred():  # a second Ctrl-C waits until every parameter has its update
                try:
                    self.optimizer.step()  # (plain SGD's tries kernels/step_update.py first)
                except KeyboardInterrupt:  # could not be deferred (fit's handler is not installed)
                    raise _TornStep from None
            self.optimizer.zero_grad()
        finally:  # a gradient product the large-chain kernel deferred over xb is computed by now
            fast_large.settle()
        return output, loss

    def _loss(self, output: np.ndarray, yb: np.ndarray, epoch: int, batch: int) -> float:
        where = f"epoch {epoch + 1}/{self.epochs}, batch {batch + 1}"
        try:
            loss = float(self.loss_fn(output, yb))
        except ValueError as err:
            culprit = _non_finite(output, "the model's output") or _non_finite(yb, "the targets")
            if culprit is None:
                raise
            raise NonFiniteLossError(
                f"fit: {culprit} holds NaN or inf in {where} ({err}); check the data for NaN/inf "
                "and try a lower learning rate", epoch, batch
            ) from err
        # every target ignored: the loss is nan = 0 / 0 (as torch) with a zero gradient, not a divergence
        if self.stop_on_nan and not math.isfinite(loss) and loss_weight(self.loss_fn, output, yb, len(yb)):
            raise NonFiniteLossError(
                f"fit: the loss is {loss} in {where}; check the data for NaN/inf, try a lower "
                "learning rate, or pass stop_on_nan=False to keep training", epoch, batch
            )
        return loss

    def _lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        lr = groups[0].get("lr") if groups else None
        return None if lr is None else float(lr)

    def _step_scheduler(self, logs: dict[str, float]) -> None:
        if _step_takes_value(self.scheduler):
            self.scheduler.step(logs.get("val_loss", logs["loss"]))
        else:
            self.scheduler.step()

    def _interrupted(self, text: str) -> None:
        self.history.interrupted = True
        self.progress.message(text)


class _TornStep(BaseException):
    """A KeyboardInterrupt raised inside ``optimizer.step()``: fit stops without callbacks."""


class _CtrlC:
    """While fit runs: the first Ctrl-C sets ``pressed`` (the batch finishes), a second interrupts,
    except inside ``deferred()`` (the optimizer step), where it waits for the block to end.

    Installed only in the main thread and only over Python's default handler; otherwise Ctrl-C
    raises KeyboardInterrupt at once, which fit handles the same way (inside the optimizer step:
    fit stops at once and says the model may be torn).
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: Any = None
        self._deferring = self._deferred = False

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._deferred:
            self._deferred = False
            raise KeyboardInterrupt

    def __enter__(self) -> _CtrlC:
        self.pressed = False
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pressed and self._deferring:
            self._deferred = True
        elif self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


_PER_BATCH_SCHEDULERS = ("OneCycleLR", "CyclicLR")  # by class name: MiniTorch's or torch's


def _per_batch_scheduler(scheduler: Any, where: str = "", seen: frozenset[int] = frozenset()) -> str | None:
    """The first scheduler stepped per batch in ``scheduler`` or, recursively, in the ``_schedulers``
    of a composite one (ChainedScheduler, SequentialLR: MiniTorch's or torch's), named with where it
    sits ("CyclicLR (in ChainedScheduler._schedulers[1])"); None if there is none."""
    if scheduler is None or id(scheduler) in seen:
        return None
    names = [cls.__name__ for cls in type(scheduler).__mro__ if cls.__name__ in _PER_BATCH_SCHEDULERS]
    if names:
        return f"{names[0]} (in {where})" if where else names[0]
    inner = getattr(scheduler, "_schedulers", None)
    if not isinstance(inner, (list, tuple)):
        return None
    for i, sched in enumerate(inner):
        path = f"{where or type(scheduler).__name__}._schedulers[{i}]"
        found = _per_batch_scheduler(sched, path, seen | {id(scheduler)})
        if found:
            return found
    return None


def _step_takes_value(scheduler: Any) -> bool:
    """True for schedulers stepped with a metric: a ReduceLROnPlateau (by class name, so no import of
    any scheduler module), or any scheduler whose ``step`` has a required positional argument."""
    if any(cls.__name__ == "ReduceLROnPlateau" for cls in type(scheduler).__mro__):
        return True
    try:
        parameters = inspect.signature(scheduler.step).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume the plain step()
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional and p.default is inspect.Parameter.empty for p in parameters)


def _pair(item: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(
            f"fit: expected train_loader to yield (xb, yb) pairs, got {type(item).__name__} "
            "(an mt.DataLoader built with y yields pairs)"
        )
    return item[0], item[1]


def _non_finite(values: Any, name: str) -> str | None:
    values = np.asarray(values)
    if values.dtype.kind in "fc" and not np.isfinite(values).all():
        return name
    return None


def _check_args(model, loss_fn, optimizer, train_loader, epochs, scheduler, verbose) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"fit: expected model to be an mt.Module, got {type(model).__name__}")
    if not callable(loss_fn) or not hasattr(loss_fn, "backward"):
        raise TypeError(f"fit: expected loss_fn to be a loss such as mt.CrossEntropyLoss(), got {loss_fn!r}")
    check_mean_reduction(loss_fn, "fit")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(
            f"fit: expected an optimizer with step() and zero_grad(), got {type(optimizer).__name__}"
        )
    if isinstance(train_loader, tuple) or not isinstance(train_loader, Iterable):
        raise TypeError(
            f"fit: expected train_loader to be an mt.DataLoader of (xb, yb) batches, got "
            f"{type(train_loader).__name__} (wrap arrays: mt.DataLoader(X, y, batch_size=32, shuffle=True))"
        )
    check_positive_int(epochs, "fit", "epochs")
    if epochs > 1 and iter(train_loader) is train_loader:
        raise ValueError(
            "fit: train_loader is a one-shot iterator; several epochs need an mt.DataLoader or a list"
        )
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"fit: expected a scheduler with step(), got {type(scheduler).__name__}")
    per_batch = _per_batch_scheduler(scheduler)
    if per_batch:  # stepped once per epoch, it would run a fraction of its schedule, silently
        raise ValueError(
            f"fit: {per_batch} counts batches, but fit steps scheduler= once per epoch; step it after "
            "each batch from a callback instead: class StepPerBatch(mt.Callback): def on_batch_end(self, "
            "batch, logs): sched.step()  ->  fit(..., callbacks=[StepPerBatch()])"
        )
    check_choice(verbose, "fit", "verbose", (0, 1, 2))
