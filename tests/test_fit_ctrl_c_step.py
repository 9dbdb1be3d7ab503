"""A Ctrl-C landing inside optimizer.step() never leaves a torn model behind a normal return."""

from __future__ import annotations

import os
import signal

import pytest
from training_helpers import Recorder, setup

import minitorch as mt

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")


class CountingSGD:
    """Plain SGD, one parameter at a time, counting each parameter's updates; ``during`` runs
    after the first parameter's update of step number ``at``."""

    def __init__(self, params, at, during):
        self.params, self.at, self.during = list(params), at, during
        self.param_groups = [{"params": self.params, "lr": 0.1}]
        self.updates = [0] * len(self.params)
        self.steps = 0

    def step(self):
        self.steps += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:
                p.data -= 0.1 * p.grad
            self.updates[i] += 1
            if i == 0 and self.steps == self.at:
                self.during()

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()


@pytest.fixture
def default_sigint():
    # a background job inherits SIGINT ignored, which fit leaves alone: give the test Python's default
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_a_second_ctrl_c_inside_the_step_lets_the_step_finish(default_sigint):
    model, loss_fn, _, loader, *_ = setup()

    class FirstPress(mt.Callback):
        def on_batch_begin(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the first press: the batch will finish

    opt = CountingSGD(model.parameters(), at=2, during=lambda: os.kill(os.getpid(), signal.SIGINT))
    recorder = Recorder()
    history = mt.fit(model, loss_fn, opt, loader, epochs=3, callbacks=[FirstPress(), recorder], verbose=0)
    assert history.interrupted
    assert opt.updates == [2] * len(opt.params)  # every parameter took the second step
    assert recorder.calls[-1][0] == "train_end"


def test_ctrl_c_inside_a_step_fit_cannot_defer_stops_without_callbacks():
    model, loss_fn, _, loader, *_ = setup()

    def interrupt():
        raise KeyboardInterrupt  # what Ctrl-C does where fit's handler is not installed

    opt = CountingSGD(model.parameters(), at=2, during=interrupt)
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt, match="may be torn"):
        mt.fit(model, loss_fn, opt, loader, epochs=3, callbacks=[recorder], verbose=0)
    assert recorder.calls[-1] == ("batch_begin", 1)  # nothing ran after the torn step
    assert model.training
