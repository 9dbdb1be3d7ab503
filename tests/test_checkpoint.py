"""Checkpoints: training resumed from a file is bitwise equal to training that never stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_helpers import StandInMomentum, assert_same_state, read_header, write_with_header

import minitorch as mt
from minitorch.model_files import format as fmt

X = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 40)


def build():
    return mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))


def train(model, opt, epochs):
    loss_fn = mt.CrossEntropyLoss()
    for _ in range(epochs):
        for xb, yb in mt.DataLoader(X, Y, batch_size=8, shuffle=True):  # shuffling draws from the RNG
            loss_fn(model(xb), yb)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()


def reference(epochs=4):
    mt.manual_seed(0)
    model = build()
    opt = StandInMomentum(model.parameters())
    train(model, opt, epochs)
    return model, opt


def interrupted(tmp_path, epochs=2):
    mt.manual_seed(0)
    model = build()
    opt = StandInMomentum(model.parameters())
    train(model, opt, epochs)
    mt.save_checkpoint(tmp_path / "ckpt.npz", model=model, optimizer=opt, epoch=epochs,
                       best=0.5, tags=("a", 1), history=np.arange(3.0))
    mt.manual_seed(123)  # whatever happens in between must not matter
    mt.DataLoader(X, Y, shuffle=True).__iter__().__next__()
    return model, opt


def test_resume_into_built_objects_is_bitwise_equal(tmp_path):
    ref_model, ref_opt = reference()
    interrupted(tmp_path)
    model = build()
    opt = StandInMomentum(model.parameters())
    ckpt = mt.load_checkpoint(tmp_path / "ckpt.npz", model=model, optimizer=opt)
    assert ckpt["model"] is model and ckpt["optimizer"] is opt and ckpt["optimizer_state"] is None
    assert ckpt["epoch"] == 2 and ckpt["best"] == 0.5 and ckpt["tags"] == ("a", 1)
    np.testing.assert_array_equal(ckpt["history"], np.arange(3.0))
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.param_groups[1]["nesterov"] is True
    first = opt.state[next(model.parameters())]
    assert type(first["step"]) is int and type(first["scale"]) is np.float64
    train(model, opt, 2)
    assert_same_state(model, ref_model)
    for a, b in zip(opt.state_dict()["state"].values(), ref_opt.state_dict()["state"].values(), strict=True):
        np.testing.assert_array_equal(a["momentum_buffer"], b["momentum_buffer"])
        assert a["step"] == b["step"] == 20 and a["scale"] == b["scale"]


def test_resume_with_a_rebuilt_model_is_bitwise_equal(tmp_path):
    ref_model, _ = reference()
    interrupted(tmp_path)
    ckpt = mt.load_checkpoint(tmp_path / "ckpt.npz")
    model = ckpt["model"]
    opt = StandInMomentum(model.parameters())
    opt.load_state_dict(ckpt["optimizer_state"])
    mt.load_checkpoint(tmp_path / "ckpt.npz", optimizer=opt, model=model)  # the RNG, once more
    train(model, opt, 2)
    assert_same_state(model, ref_model)


def test_restore_rng_false_leaves_the_generator(tmp_path):
    interrupted(tmp_path)
    before = mt.random.generator().bit_generator.state
    mt.load_checkpoint(tmp_path / "ckpt.npz", restore_rng=False)
    assert mt.random.generator().bit_generator.state == before


def test_checkpoint_without_model_or_optimizer(tmp_path):
    mt.save_checkpoint(tmp_path / "c.npz", epoch=7, note="just metadata")
    ckpt = mt.load_checkpoint(tmp_path / "c.npz")
    assert ckpt == {"model": None, "optimizer": None, "optimizer_state": None, "scheduler": None,
                    "scheduler_state": None, "epoch": 7, "note": "just metadata"}
    with pytest.raises(mt.ModelFileError, match="holds no model"):
        mt.load_checkpoint(tmp_path / "c.npz", model=build())
    with pytest.raises(mt.ModelFileError, match="holds no optimizer"):
        mt.load_checkpoint(tmp_path / "c.npz", optimizer=StandInMomentum(build().parameters()))


def test_save_checkpoint_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="integer epoch"):
        mt.save_checkpoint(tmp_path / "c.npz", epoch=1.5)
    with pytest.raises(TypeError, match="reserved"):
        mt.save_checkpoint(tmp_path / "c.npz", optimizer_state=1)
    with pytest.raises(TypeError, match="has no state_dict"):
        mt.save_checkpoint(tmp_path / "c.npz", optimizer=object())
    with pytest.raises(TypeError, match="metadata 'fn'"):
        mt.save_checkpoint(tmp_path / "c.npz", fn=print)
    assert not list(tmp_path.iterdir())


def _state_of(model, opt):
    return model.state_dict(), json.dumps(opt.state_dict(), default=lambda a: np.asarray(a).tolist()), \
        mt.random.generator().bit_generator.state


def _assert_untouched(model, opt, before):
    after = _state_of(model, opt)
    for key in before[0]:
        np.testing.assert_array_equal(after[0][key], before[0][key])
    assert after[1:] == before[1:]


def test_refusals_leave_model_optimizer_and_rng_untouched(tmp_path):
    interrupted(tmp_path)
    model = build()
    opt = StandInMomentum(model.parameters())
    for p in model.parameters():  # zero gradients, so the step below creates state
        p.accumulate_grad(np.zeros_like(p.data))
    opt.step()  # state to protect
    small = mt.Sequential(mt.Linear(4, 3))
    before = _state_of(model, opt)

    class OtherOptimizer(StandInMomentum):
        pass

    with pytest.raises(mt.ModelFileError, match="holds StandInMomentum state, not OtherOptimizer"):
        mt.load_checkpoint(tmp_path / "ckpt.npz", model=model, optimizer=OtherOptimizer(model.parameters()))
    with pytest.raises(mt.ModelFileError, match="parameter groups differ"):
        mt.load_checkpoint(tmp_path / "ckpt.npz", model=model, optimizer=StandInMomentum(small.parameters()))
    _assert_untouched(model, opt, before)

    # the optimizer itself refuses after the model was loaded: the model is put back
    wrong = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
    wrong_opt = StandInMomentum([*wrong[0].parameters(), *reversed(list(wrong[2].parameters()))])
    snapshot = wrong.state_dict()
    with pytest.raises(mt.ModelFileError, match="optimizer refused"):
        mt.load_checkpoint(tmp_path / "ckpt.npz", model=wrong, optimizer=wrong_opt)
    for key, value in wrong.state_dict().items():
        np.testing.assert_array_equal(value, snapshot[key])
    assert wrong_opt.state == {}


def test_checkpoint_files_are_strict(tmp_path):
    interrupted(tmp_path)
    path = tmp_path / "ckpt.npz"
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(arrays.pop(fmt.HEADER_KEY).tobytes())
    for edit, message in [
        (lambda h, a: a.update({"stray": np.zeros(1)}), "unknown entries"),
        (lambda h, a: a.update({"optimizer/99": np.zeros(1)}), "nobody refers to"),
        (lambda h, a: a.pop("metadata/0"), "missing array entry"),
        (lambda h, a: h["rng"].update({"__dict__": [["bit_generator", "MT19937"]]}), "rng"),
        (lambda h, a: h.update(epoch="two"), "epoch"),
        (lambda h, a: h["optimizer"].update({"class": 3}), "optimizer.class"),
        (lambda h, a: h.update(kind="model"), "not a checkpoint"),
    ]:
        h, a = json.loads(json.dumps(header)), dict(arrays)
        edit(h, a)
        fmt.atomic_write_npz(tmp_path / "bad.npz", {fmt.HEADER_KEY: fmt.header_array(h), **a})
        with pytest.raises(mt.ModelFileError, match=message):
            mt.load_checkpoint(tmp_path / "bad.npz")
    with pytest.raises(mt.ModelFileError, match="not a checkpoint"):
        mt.save_model(build(), tmp_path / "m.npz")
        mt.load_checkpoint(tmp_path / "m.npz")


@pytest.mark.parametrize("name, settings", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True}),
])
def test_library_optimizers_resume_bitwise(tmp_path, name, settings):
    """Runs once the library's optimizers have state_dict() (PyTorch's layout), as the stand-in."""
    opt_class = getattr(mt, name, None)
    if opt_class is None or not hasattr(opt_class, "state_dict"):
        pytest.skip(f"mt.{name} has no state_dict() yet")
    mt.manual_seed(0)
    ref = build()
    train(ref, opt_class(ref.parameters(), **settings), 4)
    mt.manual_seed(0)
    model = build()
    opt = opt_class(model.parameters(), **settings)
    train(model, opt, 2)
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, epoch=2)
    mt.manual_seed(7)
    resumed = build()
    opt = opt_class(resumed.parameters(), **settings)
    mt.load_checkpoint(tmp_path / "c.npz", model=resumed, optimizer=opt)
    train(resumed, opt, 2)
    assert_same_state(resumed, ref)


def _scheduled_run(make_sched, epochs, start=None, path=None, stop_at=None):
    """Train with Adam and a scheduler stepped each epoch (ReduceLROnPlateau on the epoch's loss).

    ``start``: a checkpoint to resume from (into fresh objects); ``stop_at``: save there and stop.
    Returns (model, opt, sched, lrs seen after each epoch).
    """
    mt.manual_seed(0)
    model = build()
    opt = mt.Adam(model.parameters(), lr=0.05)
    sched = make_sched(opt)
    first = 0
    if start is not None:
        first = mt.load_checkpoint(start, model=model, optimizer=opt, scheduler=sched)["epoch"]
    loss_fn, lrs = mt.CrossEntropyLoss(), []
    for epoch in range(first, epochs):
        if epoch == stop_at:
            mt.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=epoch)
            mt.manual_seed(99)  # whatever happens in between must not matter
            return model, opt, sched, lrs
        total = 0.0
        for xb, yb in mt.DataLoader(X, Y, batch_size=8, shuffle=True):
            total += loss_fn(model(xb), yb)
            model.backward(loss_fn.backward())
            opt.step()
            opt.zero_grad()
        if isinstance(sched, mt.lr_scheduler.ReduceLROnPlateau):
            sched.step(1.0 if epoch % 3 else total)  # plateaus, so the lr drops and cooldown runs
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
    return model, opt, sched, lrs


@pytest.mark.parametrize("make_sched", [
    lambda opt: mt.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    lambda opt: mt.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1),
], ids=["StepLR", "ReduceLROnPlateau"])
def test_scheduler_resume_is_bitwise(tmp_path, make_sched):
    ref_model, ref_opt, ref_sched, ref_lrs = _scheduled_run(make_sched, 8)
    path = tmp_path / "c.npz"
    _, _, _, first_lrs = _scheduled_run(make_sched, 8, path=path, stop_at=3)
    model, opt, sched, later_lrs = _scheduled_run(make_sched, 8, start=path)
    assert first_lrs + later_lrs == ref_lrs
    assert len(set(map(tuple, ref_lrs))) > 2  # the schedule did change the lr
    assert sched.state_dict() == ref_sched.state_dict()
    assert opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]
    assert_same_state(model, ref_model)


def test_scheduler_state_is_checked_on_load(tmp_path):
    mt.manual_seed(0)
    model = build()
    opt = mt.SGD(model.parameters(), lr=0.1)
    sched = mt.lr_scheduler.StepLR(opt, step_size=2)
    sched.step()
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=sched, epoch=1)
    ckpt = mt.load_checkpoint(tmp_path / "c.npz")
    assert ckpt["scheduler"] is None and ckpt["scheduler_state"]["last_epoch"] == 1
    fresh_model = build()
    fresh = mt.SGD(fresh_model.parameters(), lr=0.3)
    with pytest.raises(mt.ModelFileError, match="StepLR state, not ExponentialLR"):
        mt.load_checkpoint(tmp_path / "c.npz", model=fresh_model, optimizer=fresh,
                           scheduler=mt.lr_scheduler.ExponentialLR(fresh, gamma=0.9))
    with pytest.raises(TypeError, match="needs the optimizer it schedules"):
        mt.load_checkpoint(tmp_path / "c.npz", scheduler=mt.lr_scheduler.StepLR(fresh, step_size=2))
    # a forged state: the scheduler refuses, and model and optimizer are left as they were
    header = read_header(tmp_path / "c.npz")
    assert header["scheduler"]["state"]["__dict__"][0][0] == "last_epoch"
    header["scheduler"]["state"]["__dict__"][0][1] = -4
    arrays = {k: v for k, v in np.load(tmp_path / "c.npz").items() if k != fmt.HEADER_KEY}
    write_with_header(tmp_path / "forged.npz", header, arrays)
    target = mt.lr_scheduler.StepLR(fresh, step_size=2)
    before, opt_before = fresh_model.state_dict(), fresh.state_dict()
    with pytest.raises(mt.ModelFileError, match=r"scheduler refused .*last_epoch"):
        mt.load_checkpoint(tmp_path / "forged.npz", model=fresh_model, optimizer=fresh, scheduler=target)
    assert_same_state_dict(fresh_model.state_dict(), before)
    assert fresh.state_dict()["param_groups"] == opt_before["param_groups"]
    assert target.last_epoch == 0
    with pytest.raises(mt.ModelFileError, match="holds no scheduler"):
        mt.save_checkpoint(tmp_path / "plain.npz", model=model, optimizer=opt)
        mt.load_checkpoint(tmp_path / "plain.npz", model=fresh_model, optimizer=fresh,
                           scheduler=mt.lr_scheduler.StepLR(fresh, step_size=2))


def assert_same_state_dict(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_a_file_from_before_scheduler_support_keeps_its_scheduler_metadata(tmp_path):
    """Files that kept a scheduler's state as metadata named "scheduler" still load, as before."""
    mt.save_checkpoint(tmp_path / "c.npz", epoch=3, old_name={"last_epoch": 3, "gamma": 0.5})
    header = read_header(tmp_path / "c.npz")
    header["metadata"] = {"scheduler": header["metadata"]["old_name"]}
    arrays = {k: v for k, v in np.load(tmp_path / "c.npz").items() if k != fmt.HEADER_KEY}
    write_with_header(tmp_path / "old.npz", header, arrays)
    ckpt = mt.load_checkpoint(tmp_path / "old.npz")
    assert ckpt["scheduler"] == {"last_epoch": 3, "gamma": 0.5} and ckpt["scheduler_state"] is None


@pytest.mark.parametrize("role", ["optimizer", "scheduler"])
def test_an_object_without_state_dict_or_load_state_dict_is_refused_by_name(tmp_path, role):
    """The optimizer's and the scheduler's sections are written and read by one pair of functions:
    both refuse an object that cannot give or take its state, naming its class."""

    class NoState:
        pass

    mt.manual_seed(0)
    model = build()
    opt = mt.SGD(model.parameters(), lr=0.1)
    sched = mt.lr_scheduler.StepLR(opt, step_size=2)
    objects = {"optimizer": opt, "scheduler": sched}
    with pytest.raises(TypeError, match="save_checkpoint: NoState has no state_dict"):
        mt.save_checkpoint(tmp_path / "c.npz", model=model, **{**objects, role: NoState()})
    mt.save_checkpoint(tmp_path / "c.npz", model=model, **objects)
    with pytest.raises(TypeError, match="load_checkpoint: NoState has no load_state_dict"):
        stand_in = NoState()
        stand_in.optimizer = opt  # a scheduler names the optimizer it schedules
        given = {"optimizer": stand_in} if role == "optimizer" else {"optimizer": opt, "scheduler": stand_in}
        mt.load_checkpoint(tmp_path / "c.npz", model=build(), **given)
    header = read_header(tmp_path / "c.npz")
    assert header[role]["class"] == type(objects[role]).__name__
    assert set(header[role]) == {"class", "state"}
