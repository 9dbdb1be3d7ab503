"""lr_find: the learning-rate range test (Smith 2015; fastai's ``lr_find``), leaving everything as it was."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from minitorch.diagnostics.lr_curve import lr_curve
from minitorch.diagnostics.probe import SavedState
from minitorch.edit_marks import Dropped
from minitorch.module import Module


@dataclass
class LRFinderResult:
    """The sweep: ``lrs[i]`` was used for step i, whose batch loss was ``losses[i]``.

    ``smoothed``: the exponentially smoothed losses (bias-corrected, as fastai); ``suggestion``:
    the suggested learning rate (see ``lr_find``); ``stopped_early``: the sweep diverged;
    ``flat``: the smoothed loss never fell clearly, so ``suggestion`` means nothing (``lr_find``
    warned; ``flat_curve`` says what "clearly" is).
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    stopped_early: bool
    flat: bool = False

    def plot(self, path: str | None = None) -> Any:
        """The loss against the learning rate (log axis) with the suggestion marked; saved to ``path``
        as PNG when given (needs matplotlib); returns the path, or the matplotlib Figure."""
        return lr_curve(self, path)


def lr_find(
    model: Module,
    loss_fn: Any,
    optimizer: Any,
    loader: Iterable[Any],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smoothing: float = 0.98,
    diverge: float = 4.0,
    rule: str = "valley",
) -> LRFinderResult:
    """Train on batches of ``loader`` while the learning rate grows from ``start_lr`` to ``end_lr``.

    Step i uses lr_i = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1)), set in every
    parameter group of ``optimizer``; the loader is cycled if it runs out. The sweep stops early
    once the smoothed loss exceeds ``diverge`` times its minimum (or is not finite).
    Suggestion (``rule``):
      "valley" (fastai's default rule, as its ``lr_find`` applies it): drop the first
               ``num_iter // 10`` and the last 5 points of the curve (the noisy start, the blow-up),
               find the longest run of steps over which the smoothed loss keeps falling (a longest
               decreasing subsequence, L points ending at index e) and suggest the rate at index
               (e - L) + floor(L / 3) + floor(L / 6), about halfway into the run;
      "steepest": where the smoothed loss falls fastest, d(loss)/d(log lr) most negative,
               searched from 1/10 of the sweep (earlier smoothed values rest on a few batches)
               up to the minimum of the smoothed loss (past it a slope only means divergence).
    A flat curve (the model did not respond: too few steps, a range far too low, frozen parameters;
    see ``flat_curve``) has no valley: any rule then picks noise, so ``lr_find`` warns (UserWarning)
    and sets ``flat=True``; the suggestion is still computed by the rule, but do not use it.

    An optimizer with a ``maximize=True`` group (an ascent) is refused (ValueError) before anything
    changes: sweep the negated objective with maximize=False instead.
    Afterwards the Parameters (the model's and the optimizer's others, such as a Parameter batch:
    their arrays, bit for bit), their gradients, the buffers, the
    optimizer's ``state_dict()`` and the library's random generator are as they were before
    the call, and so are the model's train/eval modes and the forward calls waiting for a backward
    in the model and the loss (set aside during the sweep, so its steps see none; the sweep leaves
    none of its own), as a torch graph built before a sweep is still there after it.
    Example:
        result = mt.lr_find(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1), loader)
        result.suggestion; result.plot("outputs/lr_find.png")
    """
    if not isinstance(model, Module):
        raise TypeError(f"lr_find: expected a Module as model, got {type(model).__name__}")
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: expected 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if rule not in ("valley", "steepest"):
        raise ValueError(f"lr_find: expected rule 'valley' or 'steepest', got {rule!r}")
    if not isinstance(num_iter, int) or num_iter < 2:
        raise ValueError(f"lr_find: expected num_iter an int >= 2, got {num_iter!r}")
    _refuse_ascent(optimizer)
    from minitorch.training.inference import in_model_dtype  # a float64 model sweeps on float64 data

    loader = in_model_dtype(loader, model)
    saved = _Saved(model, optimizer, loss_fn)
    try:
        model.train()
        lrs, losses, smoothed, stopped = _sweep(model, loss_fn, optimizer, loader, start_lr, end_lr,
                                                num_iter, smoothing, diverge)
    finally:
        saved.restore()
    suggestion = valley(lrs, smoothed, num_iter) if rule == "valley" else _steepest(lrs, smoothed)
    flat = flat_curve(losses, smoothed, num_iter)
    if flat is not None:
        warnings.warn(f"lr_find: the loss did not fall clearly ({flat}) between lr {lrs[0]:.2g} and "
                      f"{lrs[-1]:.2g}, so the suggestion {suggestion:.2g} is noise: sweep longer "
                      "(num_iter), widen the range (end_lr), or check that the model trains at all "
                      "(frozen parameters, zero gradients); look at result.plot()", stacklevel=2)
    return LRFinderResult(lrs, losses, smoothed, suggestion, stopped, flat is not None)


def _refuse_ascent(optimizer: Any) -> None:
    """A group with ``maximize=True`` climbs its loss, while the sweep reads divergence from a loss
    that falls: refused before anything changes."""
    for i, group in enumerate(getattr(optimizer, "param_groups", [])):
        if group.get("maximize", False):
            raise ValueError(
                f"lr_find: the optimizer's param_groups[{i}] has maximize=True, an ascent, but the sweep "
                "reads divergence from a loss that falls; sweep with maximize=False and a loss_fn "
                "returning the negated objective (the same update)"
            )


def _sweep(model, loss_fn, optimizer, loader, start_lr, end_lr, num_iter, smoothing, diverge):
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, best = 0.0, math.inf
    batches = _cycle(loader)
    for i in range(num_iter):
        lr = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        xb, yb = next(batches)
        optimizer.zero_grad()
        loss = float(np.sum(loss_fn(model(xb), yb)))
        model.backward_params(loss_fn.backward())
        if not math.isfinite(loss):
            return lrs, losses, smoothed, True
        optimizer.step()
        average = smoothing * average + (1 - smoothing) * loss
        value = average / (1 - smoothing ** (i + 1))  # bias correction: early averages start from 0
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(value)
        best = min(best, value)
        if value > diverge * best:
            return lrs, losses, smoothed, True
    return lrs, losses, smoothed, False


def flat_curve(losses: list[float], smoothed: list[float], num_iter: int) -> str | None:
    """Why the curve is flat, or None when its smoothed loss falls clearly.

    From ``smoothed[num_iter // 10]`` (past the noisy start, as ``valley`` trims it) to the smoothed
    minimum after it, the loss must fall by more than 1 % of its level AND by more than the
    batch-to-batch noise, sigma = 1.4826 * MAD(diff(losses)) / sqrt(2) over the same steps (the
    median absolute deviation of step-to-step changes: a trend or a blow-up barely moves it).
    Measured (docs/diagnostics.md's sweeps, seeds 0, 1, 3): frozen or far-too-low sweeps and the
    100-step digits sweeps that the page calls flat fall by 0.2-0.4 sigma and under 0.8 %; the
    sweeps whose suggestion trains well (spirals at 100 and 300 steps, digits at 300) by 2.1-9.5
    sigma and over 2.7 %.
    Fewer than 3 points (a sweep that diverged at once): None, it is not flat.
    """
    lo = num_iter // 10 if len(smoothed) - num_iter // 10 >= 3 else 0
    if len(smoothed) - lo < 3:
        return None
    start, lowest = smoothed[lo], min(smoothed[lo:])
    steps = np.diff(np.asarray(losses[lo:], dtype=np.float64))
    noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / math.sqrt(2)
    drop = start - lowest
    if drop > 0.01 * abs(start) and drop > noise:
        return None
    return f"smoothed loss {start:.4g} -> lowest {lowest:.4g}, batch noise {noise:.2g}"


def _cycle(loader: Iterable[Any]) -> Any:
    while True:
        empty = True
        for item in loader:
            empty = False
            yield item
        if empty:
            raise ValueError("lr_find: the loader yielded no batches")


def valley(lrs: list[float], smoothed: list[float], num_iter: int) -> float:
    """fastai's "valley" suggestion on a sweep of ``num_iter`` planned steps (see ``lr_find``).

    The trimmed curve is ``smoothed[num_iter // 10 : -5]``; when the sweep stopped so early that
    fewer than 2 points remain, the whole curve is used instead.
    """
    lo, hi = num_iter // 10, len(smoothed) - 5
    if hi - lo < 2:
        lo, hi = 0, len(smoothed)
    if hi <= 0:
        return math.nan
    lrs, smoothed = lrs[lo:hi], smoothed[lo:hi]
    end, length = longest_decrease(smoothed)
    return float(lrs[max(end - length + length // 3 + length // 6, 0)])


def longest_decrease(values: list[float]) -> tuple[int, int]:
    """(end, length) of the longest strictly decreasing subsequence of ``values``: the first index
    where such a subsequence of the greatest length ends, and that length (1 for a rising curve)."""
    run = [1] * len(values)  # run[i]: the longest decreasing subsequence ending at step i
    end = 0
    for i in range(1, len(values)):
        for j in range(i):
            if values[i] < values[j] and run[j] + 1 > run[i]:
                run[i] = run[j] + 1
        if run[i] > run[end]:
            end = i
    return end, run[end]


def _steepest(lrs: list[float], smoothed: list[float]) -> float:
    skip = len(lrs) // 10  # the first smoothed values rest on a handful of batches: noise
    if len(lrs) - skip < 3:
        return lrs[0] if lrs else math.nan
    end = skip + int(np.argmin(smoothed[skip:])) + 1
    if end - skip < 3:
        return lrs[skip]
    slopes = np.gradient(np.asarray(smoothed[skip:end]), np.log(np.asarray(lrs[skip:end])))
    return float(lrs[skip + int(np.argmin(slopes))])


class _Saved:
    """Everything a sweep changes: Parameters (same arrays, values copied back), grads, buffers,
    optimizer state and settings, the random generator, the train/eval modes, and the forward
    calls waiting for a backward in the model and the loss (the sweep's own are dropped, the
    user's stay waiting, as a pending torch graph survives)."""

    def __init__(self, model: Module, optimizer: Any, loss_fn: Any) -> None:
        self.model, self.optimizer = model, optimizer
        modules = [*model.modules(), *(loss_fn.modules() if isinstance(loss_fn, Module) else ())]
        self.frames = [(m.__dict__, list(m.__dict__["_stack"]), m.__dict__["_shown"]) for m in modules]
        for d, _, shown in self.frames:  # set aside: the sweep's steps see no waiting call
            _drop_frames(d)
            if type(shown) is Dropped:  # an edit's mark stays for the sweep's backward to refuse
                d["_shown"] = shown
        # the model's Parameters and the optimizer's others (a Parameter batch, a leaf, trains too)
        others = (q for group in optimizer.param_groups for q in group["params"])
        params = list({id(p): p for p in (*model.parameters(), *others)}.values())
        self.params = [(p, p.data, p.data.copy()) for p in params]
        self.state = SavedState(model)  # gradients, buffers, the random generator
        self.grads = [(p, p.grad) for p in params]
        self.modes = [(m, m.training) for m in model.modules()]
        self.optimizer_state = optimizer.state_dict()

    def restore(self) -> None:
        for d, stack, shown in self.frames:
            current = d["_shown"]
            _drop_frames(d)
            d["_stack"][:] = stack
            if type(shown) is Dropped:  # an edit's mark, unless a forward of the sweep answered it
                d["_shown"] = shown if current is shown else None
            elif shown is not None:
                d.update(shown)
                d["_shown"] = shown
        for p, array, copy in self.params:
            np.copyto(array, copy)
            p.data = array
        self.state.restore()
        for p, grad in self.grads:
            p._restore_grad(grad)
        for module, mode in self.modes:
            object.__setattr__(module, "training", mode)
        self.optimizer.load_state_dict(self.optimizer_state)


def _drop_frames(d: dict[str, Any]) -> None:
    """No forward call waiting and no cache attribute shown, in the module whose ``__dict__`` is d."""
    d["_stack"].clear()
    shown = d["_shown"]
    if shown is not None:
        for name in shown:
            d[name] = None
        d["_shown"] = None
