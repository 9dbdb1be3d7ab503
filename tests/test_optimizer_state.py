"""Optimizer state: torch's names and values, state_dict layout and copies, bitwise resume, validation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from trajectories import CONFIG_IDS, CONFIGS, OPTIMIZERS, as_ours, batches, groups, make_model, train_both

import minitorch as mt


@pytest.mark.parametrize("name, config, first_group", CONFIGS[1::2], ids=CONFIG_IDS[1::2])
def test_state_has_torchs_names_and_values(float64, name, config, first_group):
    model, opt, _, topt = train_both(name, config, first_group, np.float64, steps=5)
    ours, theirs = opt.state_dict(), topt.state_dict()
    params = list(model.parameters())
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, entry in ours["state"].items():
        assert set(entry) == set(theirs["state"][i])
        for key, value in entry.items():
            expected = theirs["state"][i][key]
            if key == "step":
                assert value == int(expected.item())
            else:
                np.testing.assert_allclose(value, as_ours(expected, params[i]), rtol=1e-12, atol=1e-14)
    for group, t_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group["params"] == t_group["params"]
        for key, value in group.items():
            assert value == t_group[key], key


def _run(model, opt, data):
    loss_fn = mt.CrossEntropyLoss()
    for x, y in data:
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("name, config, first_group", CONFIGS[1::3], ids=CONFIG_IDS[1::3])
def test_resume_from_state_dict_is_bitwise_identical(name, config, first_group):
    cls = OPTIMIZERS[name][0]
    data = batches(12, np.float32)
    model = make_model()
    opt = cls(groups(model, config, first_group), **config)
    _run(model, opt, data[:6])
    saved_model, saved_opt = model.state_dict(), opt.state_dict()
    _run(model, opt, data[6:])

    mt.manual_seed(99)                                   # different weights, different lr: all get loaded
    resumed = make_model()
    resumed_opt = cls(groups(resumed, config, first_group), **{**config, "lr": 0.5})
    resumed.load_state_dict(saved_model)
    resumed_opt.load_state_dict(saved_opt)
    _run(resumed, resumed_opt, data[6:])
    for p, q in zip(model.parameters(), resumed.parameters(), strict=True):
        assert np.array_equal(p.data, q.data)
    ours, theirs = opt.state_dict(), resumed_opt.state_dict()
    for i, entry in ours["state"].items():
        for key, value in entry.items():
            assert np.array_equal(value, theirs["state"][i][key]), key


def test_state_dict_layout_is_torchs_and_holds_copies():
    model = make_model()
    opt = mt.Adam([{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters()}],
                  amsgrad=True)
    _run(model, opt, batches(2, np.float32))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][0]["lr"] == 0.1 and sd["param_groups"][1]["lr"] == 1e-3
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 2
    sd["state"][0]["exp_avg"][...] = 123.0                # a copy: the optimizer must not see this
    assert not np.any(opt.state[model[0].W]["exp_avg"] == 123.0)


def test_load_state_dict_copies_arrays():
    model = make_model()
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _run(model, opt, batches(1, np.float32))
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][...] = 7.0
    assert not np.any(opt.state[model[0].W]["momentum_buffer"] == 7.0)


def _bad_state_dicts(sd):
    """(description, corrupted copy of sd) pairs that load_state_dict must refuse."""
    def changed(fn):
        bad = copy.deepcopy(sd)
        fn(bad)
        return bad
    yield "one group too many", changed(lambda d: d["param_groups"].append(dict(d["param_groups"][0])))
    yield "parameter missing", changed(lambda d: d["param_groups"][0]["params"].pop())
    yield "wrong shape", changed(lambda d: d["state"][0].update(exp_avg=np.zeros((2, 2))))
    yield "unknown state", changed(lambda d: d["state"][0].update(velocity=np.zeros(1)))
    yield "missing state", changed(lambda d: d["state"][0].pop("exp_avg_sq"))
    yield "negative step", changed(lambda d: d["state"][0].update(step=-1))
    yield "unknown setting", changed(lambda d: d["param_groups"][0].update(momentum=0.9))
    yield "missing setting", changed(lambda d: d["param_groups"][0].pop("eps"))
    yield "bad lr", changed(lambda d: d["param_groups"][1].update(lr=-1.0))
    yield "unknown index", changed(lambda d: d["state"].update({9: {}}))
    yield "repeated index", changed(lambda d: d["param_groups"][1].update(params=[0, 1]))
    yield "extra key", changed(lambda d: d.update(extra=1))


def test_load_state_dict_checks_everything_before_changing_anything():
    model = make_model()
    opt = mt.Adam([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.01)
    _run(model, opt, batches(2, np.float32))
    sd = opt.state_dict()
    for what, bad in _bad_state_dicts(sd):
        with pytest.raises(ValueError):
            opt.load_state_dict(bad)
        after = opt.state_dict()
        assert after["param_groups"] == sd["param_groups"], what
        for i, entry in sd["state"].items():
            for key, value in entry.items():
                assert np.array_equal(after["state"][i][key], value), what


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_grad_of_another_shape_is_refused_before_anything_changes(name, kernels):
    """``p.grad`` refuses a gradient of another shape, as torch's, but ``p.data`` may be given another
    shape after the gradient was written (torch's step then fails); NumPy would broadcast a (1,)
    gradient over every element. The step refuses it, naming the optimizer and both shapes, with
    no Parameter updated (the other's grad is right, so a partial step would show)."""
    ours, _ = OPTIMIZERS[name]
    good, bad = mt.Parameter(np.ones(3, np.float32)), mt.Parameter(np.ones(1, np.float32))
    good.grad, bad.grad = np.ones(3, np.float32), np.ones(1, np.float32)
    bad.data = np.ones(3, np.float32)
    opt = ours([good, bad], lr=0.1)
    mt.kernels.use_kernels(kernels)  # (the fixture puts the run's switch back)
    with pytest.raises(ValueError, match=rf"{name}\.step: .*\(3,\).*\(1,\)"):
        opt.step()
    np.testing.assert_array_equal(good.data, np.ones(3, np.float32))
    np.testing.assert_array_equal(bad.data, np.ones(3, np.float32))
    assert not opt.state or all(not state for state in opt.state.values())
