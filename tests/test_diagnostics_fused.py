"""A ``Diagnostics`` check step of a Linear/ReLU ``Sequential`` runs the chain kernel
(``kernels/containers.py``), which hands back each child's output and incoming gradient: its
reports, findings and training must be bitwise those of the walk that calls the children one by one."""

from __future__ import annotations

import dataclasses

import diagnostics_problems as problems
import numpy as np
import pytest

import minitorch as mt
from minitorch.diagnostics import callback as diag_callback
from minitorch.kernels import containers as chain_kernel
from minitorch.kernels import flat, kernels_enabled


def _encode(value):
    """A value with arrays as (dtype, shape, bytes) and NaN as a marker: == is then bitwise."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _fields(stats):
    return {f.name: _encode(getattr(stats, f.name)) for f in dataclasses.fields(stats)}


def _run(setup, seed, epochs, every, walk, monkeypatch):
    """Train with ``Diagnostics(every)``; ``walk``: the check steps call the children one by one."""
    with monkeypatch.context() as patch:
        if walk:
            begin = diag_callback.Diagnostics.on_train_begin

            def on_train_begin(self, logs=None):
                begin(self, logs)
                self._chain = False

            patch.setattr(diag_callback.Diagnostics, "on_train_begin", on_train_begin)
        model, optimizer, loader = setup(seed)
        diag = mt.Diagnostics(every=every, verbose=False)
        with np.errstate(all="ignore"):
            mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=epochs, metrics=(),
                   callbacks=[diag], verbose=0, stop_on_nan=False)
    reports = [(r.step, _encode(r.loss), [_fields(s) for s in r.layers], [_fields(s) for s in r.params],
                [(f.kind, f.layer, _encode(f.evidence)) for f in r.findings]) for r in diag.history]
    weights = [_encode(p.data) for p in model.parameters()]
    return reports, [(f.kind, f.layer) for f in diag.findings], weights, diag._chain


CASES = {**{kind: (setup, 1, 5) for kind, setup in problems.PROBLEMS.items()},
         "iris": (problems.iris, 12, 9)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_check_steps_report_bitwise_what_the_walk_reports(name, monkeypatch):
    setup, epochs, every = CASES[name]
    for seed in range(2):
        *fused, chained = _run(setup, seed, epochs, every, False, monkeypatch)
        *walked, _ = _run(setup, seed, epochs, every, True, monkeypatch)
        assert fused[0], "no check ran"
        assert chained == (name in ("dead_relu", "lr_too_high", "iris"))  # Linear/ReLU chains only
        assert fused == walked


def test_a_check_step_of_the_small_model_runs_the_chain_kernel_and_the_flat_update(monkeypatch):
    """Iris (Linear-ReLU-Linear, SGD): each check's forward and backward are the chain kernel's,
    handing back the lists, and the check step's update is the flat one (its gradients are
    the flat buffer's views), as on the steps between checks."""
    if not kernels_enabled():
        pytest.skip("kernels off: the check walks the children (tested above)")
    calls = {"forward": 0, "backward": 0}
    forward, backward, update = chain_kernel.sequential_forward, chain_kernel.sequential_backward, flat.update

    def counted_forward(model, x, outputs=None):
        result = forward(model, x, outputs)
        calls["forward"] += outputs is not None and result is not NotImplemented
        return result

    def counted_backward(model, dy, params_only, incoming=None):
        result = backward(model, dy, params_only, incoming)
        calls["backward"] += incoming is not None and result is not NotImplemented
        return result

    flat_steps = []
    monkeypatch.setattr(chain_kernel, "sequential_forward", counted_forward)
    monkeypatch.setattr(chain_kernel, "sequential_backward", counted_backward)
    monkeypatch.setattr(flat, "update", lambda *args: flat_steps.append(update(*args)) or flat_steps[-1])
    model, optimizer, loader = problems.iris(0)
    diag = mt.Diagnostics(every=5, verbose=False)
    mt.fit(model, mt.CrossEntropyLoss(), optimizer, loader, epochs=3, metrics=(), callbacks=[diag], verbose=0)
    checks = len(diag.history)
    assert checks == 5 and calls == {"forward": checks, "backward": checks}
    assert flat_steps[0] is False and all(flat_steps[1:])  # the first step adopts the group
