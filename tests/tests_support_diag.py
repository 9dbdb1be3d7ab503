"""A small diagnostics run shared by the plotting tests."""

from __future__ import annotations

import diagnostics_problems as problems

import minitorch as mt


def small_problem_run():
    diag = problems.train_with_diagnostics(problems.saturated_tanh, 0, epochs=2, every=3)
    model, optimizer, loader = problems.saturated_tanh(0)
    xb, yb = next(iter(loader))
    return diag, mt.diagnose(model, mt.CrossEntropyLoss(), xb, yb, optimizer=optimizer)
