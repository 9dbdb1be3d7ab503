"""Ctrl-C at every line: a call run again and again, a KeyboardInterrupt raised at its first, second,
third ... line inside the code under test, until one run finishes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any


def interrupted_at_each_line(setup: Callable[[], Any], call: Callable[[Any], Any],
                             traced: Callable[[Any], bool],
                             skip: frozenset[int] = frozenset()) -> Iterator[tuple[int, Any, bool]]:
    """Per run: ``state = setup()``, then ``call(state)`` with a KeyboardInterrupt at the n-th line
    run in code for which ``traced(code)`` holds (n = 1, 2, ...; lines in ``skip`` not counted);
    yields (n, state, whether the run finished) after each run, the last one finished."""
    lines = [0, 0]  # the line to interrupt at, the lines run

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if not traced(frame.f_code):
            return None
        if event == "line" and frame.f_lineno not in skip:
            lines[1] += 1
            if lines[1] == lines[0]:
                raise KeyboardInterrupt
        return tracer

    finished = False
    while not finished:
        lines[:] = [lines[0] + 1, 0]
        state = setup()
        sys.settrace(tracer)
        try:
            call(state)
            finished = True
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)
        yield lines[0], state, finished
