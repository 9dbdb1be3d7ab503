"""Gradient mode: ``no_grad`` runs forward passes that keep no caches (inference), as torch.no_grad.

Under ``with mt.no_grad():`` every ``forward`` still computes its output, but the values it would
keep for ``backward`` are dropped when it returns, so nothing waits for a backward: inference holds
no per-call memory, and a ``backward`` afterwards raises (there is no pending forward to consume).
The mode is per thread, as in PyTorch.
"""

from __future__ import annotations

import functools
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
    """Sets gradient mode to ``_mode`` inside a ``with`` block or a decorated function, then restores it."""

    _mode = True

    def __init__(self) -> None:
        self._saved: list[bool] = []  # a stack: the same object may be entered again while active

    def __enter__(self) -> None:
        self._saved.append(_state.enabled)
        _state.enabled = self._mode

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _state.enabled = self._saved.pop()

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Context manager and decorator: forward calls inside keep no caches (inference).

    Example:
        with mt.no_grad():
            logits = model(X_test)        # no cache kept; model.backward(...) would raise
        @mt.no_grad()
        def predict(x): return model(x)
    """

    _mode = False


class enable_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Context manager and decorator: caches are kept again inside a ``no_grad`` block."""

    _mode = True
