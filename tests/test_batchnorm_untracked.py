"""BatchNorm without running statistics, as torch 2.13: ``track_running_stats=False`` (running_mean,
running_var and num_batches_tracked None, out of state_dict, batch statistics in eval too), and
running statistics set to None by hand (both: batch statistics in eval, the count still kept; one:
a ValueError, torch raises too). One-step forward/backward oracles and gradchecks of these layers
run from tests/cases.py (the ``untracked`` and ``set-to-None`` cases); here: several steps in both
modes against torch, the errors, state_dict, interop and model files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import torch_twin

import minitorch as mt
from minitorch.interop import from_torch, to_torch

LAYOUTS = [(mt.BatchNorm1d, (6, 3)), (mt.BatchNorm1d, (4, 3, 5)), (mt.BatchNorm2d, (4, 3, 2, 3))]
STATS = ("running_mean", "running_var", "num_batches_tracked")


def _emptied(bn: mt.Module) -> mt.Module:
    bn.running_mean = bn.running_var = None
    return bn


@pytest.mark.parametrize("cls, shape", LAYOUTS)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
def test_the_constructor_keyword_gives_torchs_buffers_state_dict_and_repr(cls, shape, affine, track):
    ours = cls(shape[1], 1e-5, 0.1, affine, track)  # torch's positional order
    theirs = getattr(torch.nn, cls.__name__)(shape[1], 1e-5, 0.1, affine, track)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name in STATS:
        assert (getattr(ours, name) is None) == (getattr(theirs, name) is None) == (not track), name
    assert ours.track_running_stats is track
    assert ("track_running_stats=False" in repr(ours)) == (not track)


@settings(max_examples=15, deadline=None)
@given(layout=st.sampled_from(LAYOUTS), emptied=st.booleans(), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.7, None]), modes=st.lists(st.booleans(), min_size=1, max_size=5),
       seed=st.integers(0, 2**16))
def test_several_steps_in_both_modes_follow_torch(layout, emptied, affine, momentum, modes, seed):
    """Batch statistics in every mode, the state (None, or the count) as torch's, over several
    forward/backward steps in training and eval, float64."""
    cls, shape = layout
    if emptied:  # tracking, both statistics set to None by hand
        bn = _emptied(cls(shape[1], momentum=momentum, affine=affine, dtype=np.float64))
    else:
        bn = cls(shape[1], momentum=momentum, affine=affine, track_running_stats=False, dtype=np.float64)
    twin = torch_twin(bn)
    rng = np.random.default_rng(seed)
    for step, training in enumerate(modes):
        bn.train(training), twin.train(training)
        x, dy = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
        bn.zero_grad(), twin.zero_grad()
        x_t = torch.tensor(x, requires_grad=True)
        y_t = twin(x_t)
        y_t.backward(torch.tensor(dy))
        np.testing.assert_allclose(bn(x), y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bn.backward(dy), x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
        if affine:
            np.testing.assert_allclose(bn.weight.grad, twin.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(bn.bias.grad, twin.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name in STATS:
            ours, theirs = getattr(bn, name), getattr(twin, name)
            assert (ours is None) == (theirs is None), name
            if ours is not None:  # the count of a layer emptied by hand: its training steps
                assert int(ours) == int(theirs) == sum(modes[: step + 1]), name


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("which", ["running_mean", "running_var"])
def test_one_running_statistic_set_to_none_is_refused_as_torch_and_changes_nothing(which, track, training):
    bn = mt.BatchNorm1d(3).train(training)
    twin = torch_twin(bn)
    other = ({"running_mean", "running_var"} - {which}).pop()
    if not track:
        bn = mt.BatchNorm1d(3, track_running_stats=False).train(training)
        twin = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=torch.float64).train(training)
        setattr(bn, other, np.ones(3, np.float32))
        setattr(twin, other, torch.ones(3, dtype=torch.float64))
    setattr(bn, which, None)
    setattr(twin, which, None)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    if training and not track:  # not read while training: batch statistics, as torch
        np.testing.assert_allclose(bn(x), twin(torch.tensor(x, dtype=torch.float64)).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        return
    with pytest.raises((ValueError, RuntimeError)):
        twin(torch.tensor(x, dtype=torch.float64))
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    with pytest.raises(ValueError, match=rf"^BatchNorm1d: {which} is None but {other} is not \(PyTorch "
                                         rf"raises too\); set both to None .* give {which} an array of "
                                         r"shape \(3,\)"):
        bn(x)
    after = bn.state_dict()
    assert list(after) == list(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


@pytest.mark.parametrize("cls, shape", [(mt.BatchNorm1d, (1, 3)), (mt.BatchNorm2d, (1, 3, 1, 1))])
@pytest.mark.parametrize("emptied", [False, True], ids=["untracked", "set-to-None"])
def test_eval_without_running_statistics_needs_two_values_per_channel_and_eps_as_torch(cls, shape, emptied):
    bn = _emptied(cls(3)) if emptied else cls(3, track_running_stats=False)
    twin = torch_twin(bn.eval())
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        twin(torch.tensor(x))
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: expected more than 1 value per channel with no "
                                         r"running statistics"):
        bn(x)
    bn.eps = twin.eps = 0.0
    x = np.ones((2, *shape[1:]), np.float32)
    with pytest.raises(ValueError, match="eps must be positive"):
        twin(torch.tensor(x))
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: eps must be positive with no running stat"):
        bn(x)


def test_statistics_given_by_hand_to_an_untracked_layer_are_used_in_eval_never_updated_as_torch():
    bn = mt.BatchNorm1d(3, track_running_stats=False, dtype=np.float64)
    twin = torch_twin(bn)
    bn.running_mean, bn.running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    twin.running_mean = torch.tensor(bn.running_mean.copy())
    twin.running_var = torch.tensor(bn.running_var.copy())
    x = np.random.default_rng(1).standard_normal((5, 3))
    for training in (True, False, True):
        bn.train(training), twin.train(training)
        np.testing.assert_allclose(bn(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(bn.running_mean, twin.running_mean.numpy())
        np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0, 0.5])
    assert bn.num_batches_tracked is None and twin.num_batches_tracked is None


def test_a_tracking_state_dict_is_refused_by_an_untracked_layer_as_torch():
    full = mt.BatchNorm1d(3).state_dict()
    bn = mt.BatchNorm1d(3, track_running_stats=False)
    with pytest.raises(ValueError, match=r"unexpected \['running_mean', 'running_var', 'num_batches_tracked"):
        bn.load_state_dict(full)
    missing, unexpected = bn.load_state_dict(full, strict=False)
    assert (missing, unexpected) == ([], ["running_mean", "running_var", "num_batches_tracked"])
    assert bn.running_mean is None


@pytest.mark.parametrize("cls", [mt.BatchNorm1d, mt.BatchNorm2d])
def test_interop_and_model_files_keep_the_setting(tmp_path, cls):
    theirs = getattr(torch.nn, cls.__name__)(3, track_running_stats=False)
    ours = from_torch(theirs)
    assert type(ours) is cls and ours.track_running_stats is False and ours.running_mean is None
    back = to_torch(ours)
    assert back.track_running_stats is False and back.running_mean is None
    mt.save_model(ours, tmp_path / "bn.npz")
    loaded = mt.load_model(tmp_path / "bn.npz")
    assert loaded.track_running_stats is False
    assert all(getattr(loaded, name) is None for name in STATS)


def test_the_keyword_is_checked():
    with pytest.raises(ValueError, match="BatchNorm1d: track_running_stats must be True or False, got 'no'"):
        mt.BatchNorm1d(3, track_running_stats="no")
