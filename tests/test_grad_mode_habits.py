"""Gradient mode as torch's: ``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` / ``inference_mode``
as context managers and decorators (bare ``@mt.no_grad`` too, generators kept in the mode at each
resume), per thread, restored after an exception. Each is compared with torch's own answer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minitorch as mt

torch = pytest.importorskip("torch")


def _twins():
    """(ours, torch's) for each way of turning gradients off."""
    return [
        (mt.no_grad, torch.no_grad),
        (lambda: mt.set_grad_enabled(False), lambda: torch.set_grad_enabled(False)),
        (mt.inference_mode, torch.inference_mode),
    ]


@pytest.mark.parametrize("pair", range(3), ids=["no_grad", "set_grad_enabled", "inference_mode"])
def test_a_decorated_generator_runs_each_resume_in_the_mode_as_torch(pair):
    ours_ctx, theirs_ctx = _twins()[pair]

    def body(is_enabled):
        seen = [is_enabled()]
        sent = yield seen[-1]
        seen.append((is_enabled(), sent))
        yield seen[-1]

    ours_gen = ours_ctx()(lambda: (yield from body(mt.is_grad_enabled)))
    theirs_gen = theirs_ctx()(lambda: (yield from body(torch.is_grad_enabled)))
    for make, enabled in ((ours_gen, mt.is_grad_enabled), (theirs_gen, torch.is_grad_enabled)):
        g = make()
        assert next(g) is False and enabled()  # the caller's mode between resumes
        assert g.send("x") == (False, "x") and enabled()
        g.close()
        assert enabled()


def test_bare_decorators_work_as_torch():
    @mt.no_grad
    def f(x):
        return mt.is_grad_enabled(), x

    @mt.inference_mode
    def g():
        return mt.is_grad_enabled()

    assert f(3) == (False, 3) and g() is False and mt.is_grad_enabled()
    assert f.__name__ == "f"

    @torch.no_grad
    def t():
        return torch.is_grad_enabled()

    assert t() is False


def test_set_grad_enabled_as_a_call_a_block_and_a_decorator_as_torch():
    for lib in (mt, torch):
        lib.set_grad_enabled(False)  # a plain call switches at once
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        with lib.no_grad():
            with lib.set_grad_enabled(True):
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()

        @lib.set_grad_enabled(False)  # the decorator form leaves the mode as it was until the call
        def off(lib=lib):
            return lib.is_grad_enabled()

        assert lib.is_grad_enabled() and off() is False and lib.is_grad_enabled()
        with pytest.raises(KeyError):
            with lib.set_grad_enabled(False):
                raise KeyError
        assert lib.is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled: expected a bool"):
        mt.set_grad_enabled("False")


def test_inference_mode_false_turns_gradients_on_as_torch():
    for lib in (mt, torch):
        with lib.no_grad():
            with lib.inference_mode(False):
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        with lib.inference_mode(False):
            assert lib.is_grad_enabled()


def test_no_grad_in_a_decorated_generator_keeps_no_forward_call_waiting():
    layer = mt.Linear(2, 2)

    @mt.no_grad()
    def batches():
        for _ in range(2):
            yield layer(np.ones((1, 2)))

    assert len(list(batches())) == 2
    with pytest.raises(RuntimeError):
        layer.backward(np.ones((1, 2)))  # nothing waits: both forwards ran under no_grad


def test_the_mode_is_per_thread_and_each_new_thread_starts_enabled():
    seen = []
    with mt.set_grad_enabled(False):
        worker = threading.Thread(target=lambda: seen.append(mt.is_grad_enabled()))
        worker.start()
        worker.join()
        assert not mt.is_grad_enabled()
    assert seen == [True] and mt.is_grad_enabled()
