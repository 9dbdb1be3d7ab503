"""Gradient mode: ``no_grad`` runs forward passes that keep no caches (inference), as torch.no_grad.

Under ``with mt.no_grad():`` every ``forward`` still computes its output, but the values it would
keep for ``backward`` are dropped when it returns, so nothing waits for a backward: inference holds
no per-call memory, and a ``backward`` afterwards raises (there is no pending forward to consume).
The mode is per thread, as in PyTorch. ``set_grad_enabled(mode)`` and ``inference_mode()`` are
torch's other spellings of the same switch.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradState(threading.local):
    enabled = True  # class default: every new thread starts with gradients enabled


_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether forward calls keep their caches for a backward (True unless inside ``no_grad``)."""
    return _state.enabled


class _GradMode:
    """Sets gradient mode to ``_mode`` inside a ``with`` block or a decorated function, then restores it.

    As torch's: a decorated generator function runs each of its resumes in the mode (the caller's
    mode comes back at every ``yield``); ``@no_grad`` / ``@enable_grad`` / ``@inference_mode``
    work without parentheses too.
    """

    _mode = True
    _bare = True  # usable as a decorator without parentheses

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._bare and len(args) == 1 and not kwargs and callable(args[0]):  # @no_grad, no ()
            return cls()(args[0])
        return super().__new__(cls)

    def __init__(self) -> None:
        self._saved: list[bool] = []  # a stack: the same object may be entered again while active

    def __enter__(self) -> None:
        self._saved.append(_state.enabled)
        _state.enabled = self._mode

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _state.enabled = self._saved.pop()

    def _clone(self) -> _GradMode:
        """A fresh context of the same mode, for one call of a decorated function."""
        return type(self)()

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _wrap_generator(self, func: F) -> F:
        """Each resume of the generator (next, send, throw, close) in the mode, as torch's."""

        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                gen = func(*args, **kwargs)
            try:
                with self._clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._clone():
                            gen.close()
                        raise
                    except BaseException:
                        with self._clone():
                            response = gen.throw(*sys.exc_info())
                    else:
                        with self._clone():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return generator  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Context manager and decorator: forward calls inside keep no caches (inference).

    Example:
        with mt.no_grad():
            logits = model(X_test)        # no cache kept; model.backward(...) would raise
        @mt.no_grad()                     # (or @mt.no_grad)
        def predict(x): return model(x)
    """

    _mode = False


class enable_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Context manager and decorator: caches are kept again inside a ``no_grad`` block."""

    _mode = True


class inference_mode(_GradMode):  # noqa: N801 (PyTorch's name)
    """``no_grad`` under torch's other name: ``inference_mode()`` (or ``inference_mode(True)``)
    keeps no caches; ``inference_mode(False)`` keeps them (as ``enable_grad``: torch's sets grad
    mode to ``not mode``).

    Example:
        with mt.inference_mode():
            logits = model(X_test)
    """

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self._mode = not _checked_bool(mode, "inference_mode")

    def _clone(self) -> _GradMode:
        return type(self)(not self._mode)


class set_grad_enabled(_GradMode):  # noqa: N801 (PyTorch's name)
    """Turn caching on or off, as ``torch.set_grad_enabled``: a plain call switches at once; as a
    ``with`` block (``with mt.set_grad_enabled(phase == "train"):``) the mode before the call comes
    back at the end; as a decorator (``@mt.set_grad_enabled(False)``) each call runs in the mode.
    """

    _bare = False

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = _checked_bool(mode, "set_grad_enabled")
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __enter__(self) -> None:
        self._saved.append(self._prev)  # the mode before the call that made this object
        _state.enabled = self._mode

    def __call__(self, func: F) -> F:
        _state.enabled = self._prev  # decorating changes no mode now, as torch's
        return super().__call__(func)

    def _clone(self) -> _GradMode:
        return type(self)(bool(self._mode))


def _checked_bool(mode: object, who: str) -> bool:
    if not isinstance(mode, bool):
        raise TypeError(f"{who}: expected a bool mode, got {type(mode).__name__} {mode!r}")
    return mode
