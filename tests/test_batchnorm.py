"""BatchNorm1d / BatchNorm2d: running statistics against PyTorch over many steps, both modes, errors.

Gradcheck and the one-step PyTorch oracle (output, dx, dweight, dbias) of both modes run from
tests/cases.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from oracle import compare_module, torch_twin

import minitorch as mt

LAYOUTS = [(mt.BatchNorm1d, (8, 3)), (mt.BatchNorm1d, (4, 3, 5)), (mt.BatchNorm2d, (4, 3, 2, 3))]


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, shape", LAYOUTS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_running_stats_follow_torch_over_several_steps(cls, shape, momentum, dtype, rtol):
    """Six training steps (biased variance normalises, unbiased enters running_var), then eval."""
    mt.set_default_dtype(dtype)
    bn = cls(shape[1], momentum=momentum)
    twin = torch_twin(bn)
    rng = np.random.default_rng(0)
    for step in range(6):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        x_t = torch.tensor(x, requires_grad=True)
        twin(x_t).backward(torch.tensor(dy))
        bn(x)
        dx = bn.backward(dy)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=rtol * 10, atol=rtol)
    for name, value in twin.state_dict().items():
        ours = bn.state_dict()[name]
        assert ours.dtype == value.numpy().dtype, name
        np.testing.assert_allclose(ours, value.numpy(), rtol=rtol, err_msg=name)
    assert int(bn.num_batches_tracked) == 6
    bn.eval(), twin.eval()
    x = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(bn(x), twin(torch.tensor(x)).detach().numpy(), rtol=rtol * 10, atol=rtol)


def test_eval_uses_running_stats_and_a_single_sample_is_fine():
    bn = mt.BatchNorm1d(2)
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.eval()
    y = bn(np.array([[3.0, -2.0]]))
    np.testing.assert_allclose(y, [[2 / np.sqrt(4 + 1e-5), 0.0]], rtol=1e-6)
    inv_std = 1 / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(bn.backward(np.ones((1, 2))), [inv_std], rtol=1e-6)
    assert int(bn.num_batches_tracked) == 0  # eval never touches the statistics


def test_backward_follows_the_mode_of_forward():
    """Forward in training, eval() before backward: the gradient still runs through the batch stats."""
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    a, b = mt.BatchNorm1d(3), mt.BatchNorm1d(3)
    a(x), b(x)
    b.eval()
    np.testing.assert_array_equal(a.backward(dy), b.backward(dy))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 6), c=st.integers(1, 4), length=st.integers(1, 3), seed=st.integers(0, 2**16))
@example(n=2, c=4, length=1, seed=8506)  # two nearly equal values in a channel: std tiny
def test_training_output_is_standardised_per_channel(n, c, length, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, length)) * rng.uniform(0.5, 3, (1, c, 1)) + rng.uniform(-5, 5, (1, c, 1))
    mt.set_default_dtype(np.float64)
    bn = mt.BatchNorm1d(c, eps=1e-300)  # var + eps == var here: exact standardisation (eps = 0 is refused)
    y = bn(x)
    # rounding in x - mean grows with |mean| / std (two nearly equal values: std tiny), and dx with
    # 1 / std: the tolerances scale with each channel's conditioning (a wrong formula is off by O(1))
    std = x.std(axis=(0, 2))
    kappa = 1 + np.abs(x.mean(axis=(0, 2))) / std
    assert np.all(np.abs(y.mean(axis=(0, 2))) <= 1e-12 * kappa)
    assert np.all(np.abs(y.var(axis=(0, 2)) - 1) <= 1e-10 * kappa)
    dx = bn.backward(rng.standard_normal(x.shape))
    # dx is orthogonal to shifts and scalings of each channel: the output cannot see them
    dx_tol = 1e-10 * kappa * np.maximum(1, 1 / std)
    assert np.all(np.abs(dx.sum(axis=(0, 2))) <= dx_tol)
    assert np.all(np.abs((dx * y).sum(axis=(0, 2))) <= dx_tol)


def test_huge_offset_and_constant_channel_stay_finite_and_match_torch(float64):
    """Two-pass variance: |mean| = 1e8 with std 1 keeps full precision; a constant channel gives bias."""
    rng = np.random.default_rng(0)
    x = np.stack([1e8 + rng.standard_normal(6), np.full(6, 3.0), 1e4 * rng.standard_normal(6)], axis=1)
    bn = mt.BatchNorm1d(3)
    twin = torch_twin(bn)
    dy = rng.standard_normal(x.shape)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = twin(x_t)
    y_t.backward(torch.tensor(dy))
    y, dx = bn(x), bn.backward(dy)
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bn.running_var, twin.running_var.numpy(), rtol=1e-7)
    assert (y[:, 1] == 0).all()


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1)])
def test_one_value_per_channel_in_training_is_an_error_like_torch(shape):
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training.*\(1, 3"):
        mt.BatchNorm1d(3)(np.ones(shape))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(3)(torch.ones(shape))
    assert mt.BatchNorm1d(3)(np.ones((1, 3, 2))).shape == (1, 3, 2)  # two values per channel are enough


@pytest.mark.parametrize(
    "layer, shape, expected",
    [(mt.BatchNorm1d(3), (4, 2),
      r"BatchNorm1d\(num_features=3\): expected input \(N, 3\) or \(N, 3, L\), got \(4, 2\)"),
     (mt.BatchNorm1d(3), (2, 3, 4, 4), r"\(N, 3\) or \(N, 3, L\), got \(2, 3, 4, 4\)"),
     (mt.BatchNorm2d(3), (2, 3, 4),
      r"BatchNorm2d\(num_features=3\): expected input \(N, 3, H, W\), got \(2, 3, 4\)"),
     (mt.BatchNorm2d(3), (2, 4, 4, 4), r"\(N, 3, H, W\), got \(2, 4, 4, 4\)")],
)
def test_wrong_shapes_name_the_expected_layout(layer, shape, expected):
    with pytest.raises(ValueError, match=expected):
        layer(np.zeros(shape))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_features": 0}, "num_features"), ({"num_features": 2.0}, "num_features"),
     ({"num_features": 2, "eps": -1e-5}, "eps"), ({"num_features": 2, "momentum": 1.5}, "momentum"),
     ({"num_features": 2, "momentum": "0.1"}, "momentum")],
)
def test_constructor_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mt.BatchNorm2d(**kwargs)


def test_state_layout_matches_torch_and_buffers_are_not_parameters():
    bn = mt.BatchNorm2d(4)
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm2d(4).state_dict())
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    bare = mt.BatchNorm1d(4, affine=False)
    assert list(bare.parameters()) == [] and bare.weight is None
    assert list(bare.state_dict()) == list(torch.nn.BatchNorm1d(4, affine=False).state_dict())


def test_state_dict_roundtrip_dtype_cast_and_float32_discipline():
    bn = mt.BatchNorm1d(3)
    for _ in range(3):
        bn(np.random.default_rng(0).standard_normal((5, 3)))  # float64 data into a float32 layer
    assert bn.running_mean.dtype == np.float32 and bn(np.ones((2, 3))).dtype == np.float32
    fresh = mt.BatchNorm1d(3)
    fresh.load_state_dict(bn.state_dict())
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[name], value)
    fresh.to(np.float64)
    assert fresh.running_var.dtype == np.float64 and fresh.num_batches_tracked.dtype == np.int64
    assert int(fresh.num_batches_tracked) == 4  # three loops and the dtype check
    fresh(np.ones((2, 3)))
    assert int(fresh.state_dict()["num_batches_tracked"]) == 5  # the registered buffer is the live one


def test_repr_and_backward_errors():
    assert repr(mt.BatchNorm1d(3)) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True)"
    assert repr(mt.BatchNorm2d(2, momentum=None, affine=False)) == (
        "BatchNorm2d(2, eps=1e-05, momentum=None, affine=False)")
    bn = mt.BatchNorm2d(2)
    with pytest.raises(RuntimeError, match="before forward"):
        bn.backward(np.ones((2, 2, 1, 1)))
    bn(np.ones((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="expected dy of the output's shape"):
        bn.backward(np.ones((2, 2)))


def test_model_files_carry_the_running_statistics(tmp_path):
    model = mt.Sequential(mt.Linear(3, 4), mt.BatchNorm1d(4))
    model(np.random.default_rng(0).standard_normal((5, 3)))
    mt.save_model(model, tmp_path / "bn.npz")
    loaded = mt.Sequential(mt.Linear(3, 4), mt.BatchNorm1d(4))
    mt.load_model(loaded, tmp_path / "bn.npz")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)
    assert int(loaded[1].num_batches_tracked) == 1


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("cls, shape", [(mt.BatchNorm1d, (4, 3)), (mt.BatchNorm2d, (4, 3, 2, 2))])
def test_parameters_of_another_dtype_than_the_running_statistics_are_refused_as_torch(
        cls, shape, training, kernels):
    """weight and bias cast to float64 one by one (``p.data = p.data.astype(np.float64)``, the
    PyTorch habit), the running statistics still float32: torch raises ("mixed dtype"); the layer
    gave a float64 output and dx for a float32 input (x_hat in float32, scaled by float64 weights).
    Now a TypeError naming the module, each dtype and the fix, which then works."""
    from minitorch.kernels import kernels_enabled, use_kernels

    before = kernels_enabled()
    use_kernels(kernels)
    try:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        twin = getattr(torch.nn, cls.__name__)(3).train(training)
        for p in twin.parameters():
            p.data = p.data.double()
        with pytest.raises(RuntimeError, match="mixed dtype"):
            twin(torch.from_numpy(x))
        bn = cls(3).train(training)
        for p in bn.parameters():
            p.data = p.data.astype(np.float64)
        message = (rf"^{cls.__name__}: expected one dtype for its parameters and running statistics, got "
                   r"weight float64, bias float64, running_mean float32, running_var float32 .*\.to\(np")
        with pytest.raises(TypeError, match=message):
            bn(x)
        bn.to(np.float64)  # the fix the message names
        y = bn(x)
        assert y.dtype == np.float64 and bn.backward(np.ones_like(y)).dtype == np.float64
    finally:
        use_kernels(before)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_running_statistics_of_two_dtypes_are_refused_as_torch(training):
    """affine=False, running_var made float64 (assigned): torch raises; the layer gave float64."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    twin = torch.nn.BatchNorm1d(3, affine=False).train(training)
    twin.running_var = twin.running_var.double()
    with pytest.raises(RuntimeError, match="Double"):
        twin(torch.from_numpy(x))
    bn = mt.BatchNorm1d(3, affine=False).train(training)
    bn.running_var = bn.running_var.astype(np.float64)
    with pytest.raises(TypeError, match=r"^BatchNorm1d: .* got running_mean float32, running_var float64 "):
        bn(x)
    assert bn.to(np.float32)(x).dtype == np.float32


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_loaded_running_statistics_take_the_layers_dtype_like_torch(kernels):
    """load_state_dict copies into the buffers (torch's copy_): float64 statistics loaded into a
    float32 BatchNorm stay float32, and so does its output."""
    mt.kernels.use_kernels(kernels)
    bn = mt.BatchNorm1d(3)
    bn.load_state_dict({k: v.astype(np.float64) if v.dtype.kind == "f" else v
                        for k, v in mt.BatchNorm1d(3).state_dict().items()})
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    assert bn.eval()(np.ones((2, 3), np.float32)).dtype == np.float32


def _torch_loaded_count(value: torch.Tensor) -> int:
    """num_batches_tracked after torch's load_state_dict (its copy_) of ``value``."""
    t = torch.nn.BatchNorm1d(3)
    state = t.state_dict()
    state["num_batches_tracked"] = value
    t.load_state_dict(state)
    return int(t.num_batches_tracked)


@pytest.mark.parametrize("value", [3.7, -3.7, 3.0, 0.5, -0.0, 2.0**62, True, np.int32(7), np.int64(2**40),
                                   np.float16(-65504)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, None], ids=["float64", "float32", "own"])
def test_a_float_count_loads_truncated_as_torchs_copy(value, dtype):
    """torch's load_state_dict copies with a cast (copy_): a float num_batches_tracked is truncated
    toward zero (3.7 -> 3, -3.7 -> -3); MiniTorch refused any float value for the int64 buffer."""
    array = np.asarray(value)
    array = array if dtype is None or array.dtype.kind in "biu" else array.astype(dtype)
    expected = _torch_loaded_count(torch.tensor(array))
    bn = mt.BatchNorm1d(3)
    state = bn.state_dict()
    state["num_batches_tracked"] = array
    bn.load_state_dict(state)
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == expected
    bn.load_state_dict({**state, "num_batches_tracked": torch.tensor(array)})  # a tensor: the same
    assert int(bn.num_batches_tracked) == expected


def test_the_largest_float64_below_2_to_the_63_loads_exactly():
    value = np.float64(2.0**63 - 1024)
    bn = mt.BatchNorm1d(3)
    bn.load_state_dict({**bn.state_dict(), "num_batches_tracked": value})
    assert int(bn.num_batches_tracked) == _torch_loaded_count(torch.tensor(value)) == 2**63 - 1024


@pytest.mark.parametrize("value", [np.float64(-2.0**63), np.int64(-2**63), np.int64(2**63 - 1)], ids=str)
def test_the_int64_extremes_load_exactly_as_torch(value):
    """-2**63 (a float or an int) and 2**63 - 1 fit int64: loaded as torch loads them, not refused."""
    bn = mt.BatchNorm1d(3)
    bn.load_state_dict({**bn.state_dict(), "num_batches_tracked": np.asarray(value)})
    assert int(bn.num_batches_tracked) == _torch_loaded_count(torch.tensor(value)) == int(value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 2.0**63, -2.0**64, 1e20])
def test_a_count_torch_cannot_represent_is_refused_and_nothing_changes(value):
    """nan, +-inf and floats beyond int64: torch's copy_ writes an undefined value (-2**63 here), a
    silent wrong count; MiniTorch raises, naming the buffer, and loads nothing."""
    bn = mt.BatchNorm1d(3)
    bn.num_batches_tracked[...] = 5
    state = {k: v + 1 for k, v in bn.state_dict().items()}
    state["num_batches_tracked"] = np.asarray(value)
    with pytest.raises(ValueError, match=r"BatchNorm1d.load_state_dict: 'num_batches_tracked' is int64 and "
                                         r"takes whole numbers in \[-9223372036854775808, "
                                         r"9223372036854775807\] \(a float is truncated toward zero, as "
                                         r"torch's copy_\), got"):
        bn.load_state_dict(state)
    assert int(bn.num_batches_tracked) == 5
    np.testing.assert_array_equal(bn.running_var, 1)  # nothing loaded: every check runs before a copy


@pytest.mark.parametrize("cls, shape", [(mt.BatchNorm1d, (4, 3)), (mt.BatchNorm1d, (2, 3, 5)),
                                        (mt.BatchNorm2d, (2, 3, 2, 2)), (mt.BatchNorm1d, (0, 3))])
def test_eps_zero_is_refused_while_training_and_computes_in_eval_as_torch(float64, cls, shape):
    """torch's batch_norm raises ValueError for eps <= 0 while training (a constant channel's batch
    variance is 0: 0 / sqrt(0)), even on an empty batch; eval with eps = 0 computes. MiniTorch
    trained with eps = 0."""
    x = np.random.default_rng(0).standard_normal(shape)
    bn = cls(3, eps=0.0)
    rng = np.random.default_rng(1)
    bn.running_mean[...], bn.running_var[...] = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    with pytest.raises(ValueError):
        torch_twin(bn)(torch.tensor(x))
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: eps must be positive while training, got "
                                         r"eps=0.0 \(PyTorch raises too.*eps=0 works in eval\(\)"):
        bn(x)
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # nothing counted or updated
    bn.eval()
    compare_module(bn, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("cls, shape", [(mt.BatchNorm1d, (6, 3)), (mt.BatchNorm1d, (6, 3, 2)),
                                        (mt.BatchNorm2d, (6, 3, 2, 1))])
def test_eval_with_eps_0_and_a_zero_running_var_gives_torchs_nan_and_inf(float64, cls, shape, affine):
    """torch's eval computes y = x * scale + shift, scale = weight / sqrt(var + eps), shift = bias -
    mean * scale: with var + eps = 0, scale is +-inf (nan for weight 0) and shift nan where mean is
    0, so y is nan there and inf - inf = nan elsewhere; (x - mean) / sqrt(var + eps) * weight + bias
    gave +-inf instead. The input gradient dy * weight / sqrt(var + eps) has torch's pattern too."""
    values = np.array([0.0, 1.0, -1.0, 2.0, np.inf, -np.inf])
    x = np.broadcast_to(values.reshape(6, *(1,) * (len(shape) - 1)), shape).copy()
    x[:, 1] = x[:, 1] - 0.5  # a channel where x never equals its running mean
    bn = cls(3, eps=0.0, affine=affine).eval()
    bn.running_mean[...], bn.running_var[...] = [0.0, 1.0, -2.0], [0.0, 0.0, 4.0]
    if affine:
        bn.weight.data[...], bn.bias.data[...] = [1.0, -2.0, 0.0], [0.5, 0.0, 1.0]
    twin = torch_twin(bn)
    t_x = torch.tensor(x, requires_grad=True)
    t_y = twin(t_x)
    dy = np.ones(shape)
    t_y.backward(torch.tensor(dy))
    with np.errstate(all="ignore"):  # inf * 0, inf - inf: the nans under test
        y = bn(x)
        dx = bn.backward(dy)
    np.testing.assert_array_equal(y, t_y.detach().numpy())
    np.testing.assert_array_equal(dx, t_x.grad.numpy())
    if affine:  # dweight: torch's only in the channel with running_var > 0 (the docstring's deviation)
        np.testing.assert_array_equal(bn.bias.grad, twin.bias.grad.numpy())
        np.testing.assert_allclose(bn.weight.grad[2], twin.weight.grad.numpy()[2], rtol=1e-12)


def _twin_pair(cls, num_features: int, kind: dict, training: bool):
    """A MiniTorch BatchNorm in float64 with non-trivial weights and statistics, and its torch twin."""
    rng = np.random.default_rng(3)
    ours = cls(num_features, dtype=np.float64, **kind)
    if ours.weight is not None:
        ours.weight.data[...] = rng.uniform(0.5, 1.5, num_features)
        ours.bias.data[...] = rng.standard_normal(num_features)
    if ours.running_mean is not None:
        ours.running_mean[...] = rng.standard_normal(num_features)
        ours.running_var[...] = rng.uniform(0.5, 2, num_features)
    ours.train(training)
    return ours, torch_twin(ours).double()


def _same_step(ours, theirs, x) -> None:
    """One forward and backward on both: output, dx, weight and bias gradients, running statistics."""
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    dy = np.random.default_rng(4).standard_normal(tuple(y_t.shape))
    y_t.backward(torch.tensor(dy))
    np.testing.assert_allclose(ours(x), y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(dy), x_t.grad.numpy(), rtol=1e-12, atol=1e-12)
    for name in ("weight", "bias"):
        if getattr(ours, name) is not None:
            ours_grad, their_grad = getattr(ours, name).grad, getattr(theirs, name).grad
            np.testing.assert_allclose(ours_grad, their_grad.numpy(), rtol=1e-12, atol=1e-12)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        if getattr(ours, name) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name).numpy(), rtol=1e-12)


KINDS = [{}, {"affine": False}, {"track_running_stats": False},
         {"affine": False, "track_running_stats": False}]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, shape", LAYOUTS)
def test_num_features_edited_after_construction_changes_nothing_as_torch(cls, shape, training):
    """torch's forward is F.batch_norm(x, running_mean, running_var, weight, bias, ...): the channel
    count is the input's, checked against those arrays; an edited num_features is never read (it was
    refused before: 'expected input (N, 7)')."""
    for kind in KINDS:
        ours, theirs = _twin_pair(cls, shape[1], kind, training)
        ours.num_features = theirs.num_features = 7
        _same_step(ours, theirs, np.random.default_rng(5).standard_normal(shape))


@pytest.mark.parametrize("training", [True, False])
def test_without_weights_or_running_statistics_any_channel_count_is_taken_as_torch(training):
    ours, theirs = _twin_pair(mt.BatchNorm1d, 3, {"affine": False, "track_running_stats": False}, training)
    _same_step(ours, theirs, np.random.default_rng(6).standard_normal((4, 6)))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 0), (0, 5), (2, 5, 0)])
def test_an_empty_batch_of_any_channel_count_as_torch(shape, training):
    """torch returns the empty batch before reading any per-channel size; the weights' gradients are
    zeros of their own shape, and num_batches_tracked counts the batch while training."""
    for kind in KINDS:
        ours, theirs = _twin_pair(mt.BatchNorm1d, 3, kind, training)
        _same_step(ours, theirs, np.zeros(shape))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name, size", [("weight", 4), ("bias", 2), ("running_mean", 1), ("running_var", 4)])
def test_a_per_channel_array_of_another_size_is_refused_naming_it_as_torch(name, size, training):
    ours, theirs = _twin_pair(mt.BatchNorm1d, 3, {}, training)
    value = np.ones(size)
    if name in ("weight", "bias"):
        setattr(ours, name, mt.Parameter(value))
        setattr(theirs, name, torch.nn.Parameter(torch.tensor(value)))
    else:
        setattr(ours, name, value)
        setattr(theirs, name, torch.tensor(value))
    x = np.random.default_rng(7).standard_normal((4, 3))
    with pytest.raises(RuntimeError, match=f"{name} should contain 3 elements not {size}"):
        theirs(torch.tensor(x))
    with pytest.raises(ValueError, match=rf"{name} \({size},\).*got input \(4, 3\)"):
        ours(x)
