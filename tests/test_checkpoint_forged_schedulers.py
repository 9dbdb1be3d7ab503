"""Every scheduler's checkpoint state, and the epoch, forged to values of the wrong type: refused
with a ModelFileError (naming the epoch), the model, optimizer and scheduler left as they were; a
forged value of a type the field takes is loaded as it is."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from model_helpers import read_header, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt

L = mt.lr_scheduler
MAKERS = {
    "StepLR": lambda o: L.StepLR(o, 2),
    "MultiStepLR": lambda o: L.MultiStepLR(o, [1, 3]),
    "ExponentialLR": lambda o: L.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, 5),
    "LinearLR": lambda o: L.LinearLR(o),
    "ReduceLROnPlateau": lambda o: L.ReduceLROnPlateau(o),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 3),
    "OneCycleLR": lambda o: L.OneCycleLR(o, 1.0, total_steps=10),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.LinearLR(o), L.StepLR(o, 2)], milestones=[2]),
}
WRONG_TYPES = ["x", None, [], True, {"__float__": "nan"}]


def _objects(name, steps):
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(2, 2))
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = MAKERS[name](opt)
    for _ in range(steps):
        model(np.ones((1, 2), np.float32))
        model.backward(np.ones((1, 2), np.float32))
        opt.step()
        sched.step(1.0) if name == "ReduceLROnPlateau" else sched.step()
    return model, opt, sched


def _places(obj, path=()):
    if path:
        yield path
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _places(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _places(value, (*path, i))


def _snapshot(model, opt, sched):
    return copy.deepcopy((model.state_dict(), opt.state_dict(), sched.state_dict()))


@pytest.mark.parametrize("name", list(MAKERS))
def test_forged_scheduler_state_and_epoch_are_refused_and_change_nothing(tmp_path, name):
    model, opt, sched = _objects(name, 3)
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=sched, epoch=3)
    header = read_header(tmp_path / "c.npz")
    arrays = {k: v for k, v in np.load(tmp_path / "c.npz").items() if k != fmt.HEADER_KEY}
    forged = 0
    for path in [("epoch",), *((("scheduler", "state", *p)) for p in _places(header["scheduler"]["state"]))]:
        if path[-1] == "__dict__" or (len(path) > 3 and path[-1] == 0 and path[-3] == "__dict__"):
            continue  # the list of pairs, or a key: the structure, which the decoder checks anyway
        for value in WRONG_TYPES:
            if value is None and path == ("epoch",):  # no epoch: null is allowed
                continue
            edited = copy.deepcopy(header)
            place = edited
            for key in path[:-1]:
                place = place[key]
            place[path[-1]] = value
            write_with_header(tmp_path / "f.npz", edited, arrays)
            model, opt, sched = _objects(name, 1)
            before = _snapshot(model, opt, sched)
            try:
                mt.load_checkpoint(tmp_path / "f.npz", model=model, optimizer=opt, scheduler=sched)
            except mt.ModelFileError as err:
                if path == ("epoch",):
                    assert "epoch: expected int or null" in str(err)
                np.testing.assert_equal(_snapshot(model, opt, sched), before)
                forged += 1
            else:  # a value of the right type after all (milestones [], three_phase True): loaded as is
                assert path != ("epoch",) and value in ([], True)
                saved = mt.load_checkpoint(tmp_path / "f.npz")["scheduler_state"]
                np.testing.assert_equal(sched.state_dict(), saved)
    assert forged > 10
