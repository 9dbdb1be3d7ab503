"""Odd inputs the adversarial audit found mishandled (issue 11, items 10-12), each against PyTorch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from cases import (
    ATTENTION_CASES,
    DECODER_CASES,
    INPUT_CASES,
    INPUT_ORACLE,
    MODULE_CASES,
    ORACLE,
    TRANSFORMER_CASES,
    UNBATCHED,
)
from oracle import _flat, _map, compare_inputs, torch_grads, torch_twin
from test_attention import compare_mha
from test_losses import LOSS_CASES
from test_losses import make_data as make_loss_data

import minitorch as mt


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("output_size", [(2, 3), (3, 2), 4, (None, 2)])
def test_adaptive_avg_pool_keeps_a_nonfinite_pixel_in_its_own_bins(bad, output_size):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    x[1, 2, 4, 1] = bad
    ours = mt.AdaptiveAvgPool2d(output_size)
    y = ours(x)
    expected = torch.nn.AdaptiveAvgPool2d(output_size)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)  # equal_nan: the same bins only
    assert np.isfinite(y[0]).all() and np.isfinite(y[1, :2]).all()  # other images and channels untouched
    assert 0 < (~np.isfinite(y[1, 2])).sum() < y[1, 2].size


@pytest.mark.parametrize("magnitude", [1e19, 1e25, 1e36])
def test_layer_norm_float32_rows_of_huge_values_are_standardised(magnitude):
    """The exact answer is finite (float32 torch returns zeros for some rows); float64 computes it."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 8)) * magnitude).astype(np.float32)
    ln = mt.LayerNorm(8)
    y = ln(x)
    twin = torch.nn.LayerNorm(8).double()
    expected = twin(torch.from_numpy(x.astype(np.float64))).detach().numpy()
    assert y.dtype == np.float32 and np.isfinite(y).all()
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=1), 1.0, rtol=1e-3)  # not zeros: a standardised row
    dx = ln.backward(np.ones_like(y))
    assert np.isfinite(dx).all()


def test_layer_norm_huge_float64_rows_are_standardised():
    x = np.array([[1e200, -1e200, 3e200, 0.0]])
    y = mt.LayerNorm(4, elementwise_affine=False)(x)
    xc = x / 1e200 - (x / 1e200).mean()
    np.testing.assert_allclose(y, xc / xc.std(), rtol=1e-12)


def test_layer_norm_small_values_are_unchanged_by_the_scaling():
    """|x - mean| <= 1: the scale is 1, the same numbers as the plain two-pass formula."""
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 6))
    y = mt.LayerNorm(6, elementwise_affine=False)(x)
    xc = x - x.mean(axis=1, keepdims=True)
    np.testing.assert_array_equal(y, xc * (1 / np.sqrt(np.mean(xc * xc, axis=1, keepdims=True) + 1e-5)))


@pytest.mark.parametrize("start_dim, end_dim, shape, expected", [
    (1, -1, (0, 3, 4, 5), (0, 60)),
    (0, -1, (0, 3, 4), (0,)),
    (1, 2, (0, 3, 4, 5), (0, 12, 5)),
    (1, -1, (2, 0, 4), (2, 0)),
])
def test_flatten_of_an_empty_batch_matches_torch(start_dim, end_dim, shape, expected):
    x = np.zeros(shape, np.float32)
    flat = mt.Flatten(start_dim, end_dim)
    y = flat(x)
    assert y.shape == expected == tuple(torch.nn.Flatten(start_dim, end_dim)(torch.zeros(shape)).shape)
    assert flat.backward(np.zeros(expected, np.float32)).shape == shape


_BATCHED = [(i, f, s) for i, f, s in MODULE_CASES if i in ORACLE and i not in UNBATCHED]


@pytest.mark.parametrize("case_id, factory, shape", _BATCHED, ids=[c[0] for c in _BATCHED])
def test_an_empty_batch_runs_as_in_torch(float64, case_id, factory, shape):
    """Every registry module with a torch twin, on a batch of 0: torch's output shape and an empty dx,
    or an error where torch raises one (BatchNorm training: no values to take statistics of)."""
    module = factory()
    x = np.zeros((0, *shape[1:]))
    x_t = torch.tensor(x, requires_grad=True)
    try:
        y_t = torch_twin(module)(x_t)
        y_t.backward(torch.ones_like(y_t))
    except (RuntimeError, ValueError):
        with pytest.raises(ValueError, match=type(module).__name__):
            module(x)
        return
    y = module(x)
    assert y.shape == tuple(y_t.shape) and y.dtype == x.dtype
    dx = module.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == x.dtype


def _batch_axis(module: mt.Module, first: np.ndarray) -> int | None:
    """The batch axis of a several-input case's first input (None: unbatched, no batch to empty)."""
    if isinstance(module, (mt.RNN, mt.LSTM, mt.GRU, mt.MultiheadAttention)):
        return None if first.ndim == 2 else (0 if module.batch_first else 1)
    if isinstance(module, (mt.RNNCell, mt.LSTMCell, mt.GRUCell)):
        return None if first.ndim == 1 else 0
    if isinstance(module, mt.MaxUnpool2d):
        return None if first.ndim == 3 else 0
    if isinstance(module, (mt.TransformerDecoderLayer, mt.TransformerDecoder, mt.Transformer)):
        layer = module.layers[0] if isinstance(module, mt.TransformerDecoder) else module
        return None if first.ndim == 2 else (0 if layer.batch_first else 1)
    return 0 if first.ndim >= 1 else None  # Embedding: ids (N, ...)


_INPUTS = [c for c in INPUT_CASES if c[0] in INPUT_ORACLE]


@pytest.mark.parametrize("case_id, factory, make_inputs", _INPUTS, ids=[c[0] for c in _INPUTS])
def test_an_empty_batch_of_several_inputs_runs_as_in_torch(float64, case_id, factory, make_inputs):
    """The several-input registry (sequences, attention, unpooling, ids) on a batch of 0: torch's output
    shapes, and gradients of the inputs' shapes (hidden states keep their batch axis at 1)."""
    module = factory()
    inputs = make_inputs(np.random.default_rng(0))
    axis = _batch_axis(module, np.asarray(inputs[0]))
    if axis is None:
        pytest.skip("unbatched input")

    def empty(a: np.ndarray, i: int) -> np.ndarray:
        recurrent_state = i > 0 and isinstance(module, (mt.RNN, mt.LSTM, mt.GRU))
        return np.take(a, np.arange(0), axis=1 if recurrent_state else axis)

    inputs = tuple(tuple(empty(h, i) for h in a) if isinstance(a, tuple) else empty(a, i)
                   for i, a in enumerate(inputs))
    floating = lambda a: a.dtype.kind == "f"  # noqa: E731
    out_t = torch_twin(module)(*_map(lambda a: torch.tensor(a, requires_grad=floating(a)), inputs))
    out = module(*inputs)
    shapes = [o.shape for o in _flat(out) if o is not None]
    assert shapes == [tuple(o.shape) for o in _flat(out_t) if o is not None]
    grads = module.backward(_map(lambda o: np.zeros(o.shape) if floating(o) else None, out))
    grads = (grads,) if len(inputs) == 1 else grads
    for a, g in zip(_flat(inputs), _flat(grads), strict=True):
        assert g is None if not floating(a) else g.shape == a.shape


@pytest.mark.parametrize("cls", [mt.RNN, mt.LSTM, mt.GRU])
def test_batch_first_refuses_an_empty_sequence_not_an_empty_batch(cls):
    """batch_first=True: L is axis 1. The check read axis 0, so an empty sequence gave h0 back (torch:
    "Expected sequence length to be larger than 0") and an empty batch was refused (torch runs it)."""
    layer = cls(2, 3, batch_first=True)
    with pytest.raises(ValueError, match=r"expected input \(N, L, 2\) .* L >= 1, got \(2, 0, 2\)"):
        layer(np.zeros((2, 0, 2)))
    out, _ = layer(np.zeros((0, 4, 2)))
    assert out.shape == (0, 4, 3)


# Every loss, on a batch of 0. torch: reduction="mean" (and "batchmean") is 0 / 0 = nan, "sum" 0,
# "none" an empty array; the input gradient is empty (nothing for nan to reach), so a model's
# parameter gradients are zeros. (id, ours given a reduction, theirs given a reduction, data kind)
_W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])
_EMPTY_LOSSES = [c for c in LOSS_CASES] + [
    ("CrossEntropyLoss-weight", lambda r: mt.CrossEntropyLoss(weight=_W5, reduction=r),
     lambda r: torch.nn.CrossEntropyLoss(weight=torch.tensor(_W5), reduction=r), "logits-index"),
    ("CrossEntropyLoss-weight-probs-smoothing",
     lambda r: mt.CrossEntropyLoss(weight=_W5, reduction=r, label_smoothing=0.3),
     lambda r: torch.nn.CrossEntropyLoss(weight=torch.tensor(_W5), reduction=r, label_smoothing=0.3),
     "logits-probs"),
    ("CrossEntropyLoss-ignore-index", lambda r: mt.CrossEntropyLoss(ignore_index=1, reduction=r),
     lambda r: torch.nn.CrossEntropyLoss(ignore_index=1, reduction=r), "logits-index"),
    ("NLLLoss-weight", lambda r: mt.NLLLoss(weight=_W5, reduction=r),
     lambda r: torch.nn.NLLLoss(weight=torch.tensor(_W5), reduction=r), "log-probs-index"),
    ("BCELoss-weight", lambda r: mt.BCELoss(weight=_W5, reduction=r),
     lambda r: torch.nn.BCELoss(weight=torch.tensor(_W5), reduction=r), "probabilities"),
    ("BCEWithLogitsLoss-pos_weight", lambda r: mt.BCEWithLogitsLoss(pos_weight=_W5, reduction=r),
     lambda r: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(_W5), reduction=r), "logits-binary"),
    ("KLDivLoss", lambda r: mt.KLDivLoss(reduction=r), lambda r: torch.nn.KLDivLoss(reduction=r),
     "probabilities"),
    ("KLDivLoss-log-target", lambda r: mt.KLDivLoss(reduction=r, log_target=True),
     lambda r: torch.nn.KLDivLoss(reduction=r, log_target=True), "regression"),
]


_EMPTY_LOSS_RUNS = [(*case, r) for case in _EMPTY_LOSSES
                    for r in ("mean", "sum", "none") + (("batchmean",) * case[0].startswith("KLDiv"))]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")  # torch's KLDiv
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case_id, ours, theirs, kind, reduction", _EMPTY_LOSS_RUNS,
                         ids=[f"{c[0]}-{c[4]}" for c in _EMPTY_LOSS_RUNS])
def test_every_loss_of_an_empty_batch_is_torchs(case_id, ours, theirs, kind, reduction, dtype, kernels,
                                                monkeypatch):
    """MiniTorch refused reduction='mean' on an empty batch ("needs at least one element"); torch
    gives nan, and an empty input gradient."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    x, t = make_loss_data(kind, np.random.default_rng(0), n=0)
    x = x.astype(dtype)
    t = t if t.dtype.kind in "iu" else t.astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    loss_t = theirs(reduction).to(torch_dtype)(x_t, torch.tensor(t))
    loss_t.backward(torch.ones_like(loss_t))
    loss_fn = ours(reduction).to(dtype)  # a weight in the input's dtype, as torch's .to gives
    loss = loss_fn(x, t)
    dx = loss_fn.backward(np.ones(np.shape(loss), dtype) if reduction == "none" else 1.0)
    if reduction == "none":
        assert loss.shape == tuple(loss_t.shape) and loss.dtype == dtype
    elif case_id.startswith("MultiMarginLoss"):  # torch 2.13 returns an uninitialised number here
        np.testing.assert_array_equal(loss, math.nan if reduction == "mean" else 0.0)
    else:
        assert isinstance(loss, float)
        np.testing.assert_array_equal(loss, loss_t.item())  # nan for mean / batchmean, 0 for sum
    assert dx.shape == x.shape == tuple(x_t.grad.shape) and dx.dtype == dtype


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_a_model_trained_on_an_empty_batch_gets_torchs_nan_loss_and_zero_gradients(float64, kernels,
                                                                                   monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    model = mt.Sequential(mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 3))
    twin = torch_twin(model)
    x, y = np.zeros((0, 4)), np.zeros(0, np.int64)
    loss_fn = mt.CrossEntropyLoss()
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    loss_t = torch.nn.CrossEntropyLoss()(twin(torch.tensor(x)), torch.tensor(y))
    loss_t.backward()
    assert np.isnan(loss) and np.isnan(loss_t.item())
    for p, p_t in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, 0)
        np.testing.assert_array_equal(p_t.grad.numpy(), 0)


_AXES = [(i, f, s, axis) for i, f, s in _BATCHED for axis in range(1, len(s))]


def _class_names(module: mt.Module) -> set[str]:
    return {type(m).__name__ for m in module.modules()}


@pytest.mark.parametrize("case_id, factory, shape, axis", _AXES, ids=[f"{c[0]}-axis{c[3]}" for c in _AXES])
def test_an_empty_non_batch_axis_runs_as_in_torch_or_is_refused_by_name(float64, case_id, factory, shape,
                                                                        axis):
    """Every registry module with a torch twin, with one non-batch axis of size 0 (channels, a length,
    a height...). Where torch answers, ours gives its output and dx, or refuses by name where torch's
    answer holds nothing (an empty or all-nan output); where torch raises, ours raises a ValueError
    naming the module or one of its parts (or returns an empty output: no number to be wrong).
    Never a number read from padding alone, a NumPy IndexError or a 'Mean of empty slice' warning."""
    module = factory()
    x = np.random.default_rng(0).standard_normal(tuple(0 if a == axis else n for a, n in enumerate(shape)))
    x_t = torch.tensor(x, requires_grad=True)
    try:
        y_t = torch_twin(module)(x_t)
        y_t.backward(torch.ones_like(y_t))
    except (RuntimeError, ValueError, IndexError):
        y_t = None
    if y_t is None or y_t.numel() == 0 or torch.isnan(y_t).all():
        try:
            y = module(x)
        except ValueError as error:
            assert any(name in str(error) for name in _class_names(module)), str(error)
            return
        if y_t is None:
            assert y.size == 0, f"torch refuses input {x.shape}; ours answered {y.shape} numbers"
            return
    y = module(x)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    dx = module.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 4, 0, 3), (3, 4, 2, 0), (0, 4, 0, 3)])
@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm_of_an_empty_image_gives_torchs_parameter_gradients(float64, shape, groups):
    """An empty spatial axis: no values to standardise (NumPy warned 'Mean of empty slice'); torch gives
    an empty output and dx, dbias = 0, and dweight nan (its statistics of no values), 0 for an empty batch."""
    gn = mt.GroupNorm(groups, 4)
    twin = torch_twin(gn)
    x_t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    twin(x_t).sum().backward()
    y = gn(np.zeros(shape))
    dx = gn.backward(np.ones_like(y))
    assert y.shape == dx.shape == shape
    for p, p_t in zip(gn.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, p_t.grad.numpy())
    np.testing.assert_array_equal(gn.weight.grad, np.nan if shape[0] else 0)


@pytest.mark.parametrize("shape, dim", [((4, 0), 1), ((2, 0, 3), 1), ((2, 3, 0), -1)])
def test_log_softmax_over_an_empty_dim_is_torchs_empty_output_without_a_warning(shape, dim):
    """log of a sum of no terms is -inf: NumPy warned 'divide by zero' where torch is silent."""
    expected = torch.log_softmax(torch.zeros(shape, dtype=torch.float64), dim).numpy()
    assert mt.functional.log_softmax(np.zeros(shape), dim=dim).shape == expected.shape == shape
    assert mt.LogSoftmax(dim)(np.zeros(shape)).shape == shape


@pytest.mark.parametrize("shape", [(0, 0, 3, 4), (2, 0, 3, 4), (0, 2, 0, 4), (2, 0, 5)])
def test_upsample_refuses_empty_channels_or_image_by_name_as_torch(shape):
    with pytest.raises(RuntimeError):
        torch.nn.Upsample(scale_factor=2)(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"Upsample: expected non-empty channels and image .*, got input"):
        mt.Upsample(scale_factor=2)(np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 2, 0, 4), (2, 3, 0), (0, 2, 3, 0)])
def test_conv_transpose2d_refuses_an_empty_image_by_name(shape):
    """torch refuses it for a batch (an empty batch gets an empty output: nothing to lose by refusing)."""
    with pytest.raises(ValueError, match=r"ConvTranspose2d: expected a non-empty image \(H, W >= 1\), got"):
        mt.ConvTranspose2d(2, 3, 3)(np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 3, 0, 4), (3, 4, 0)])
@pytest.mark.parametrize("output_size", [None, (1, 9)])
def test_max_unpool2d_refuses_an_empty_image_as_torch(shape, output_size):
    """torch refuses an empty image; ours named it (or, given an output_size, answered with zeros)."""
    with pytest.raises((RuntimeError, ValueError)):  # (its output_size check may come first)
        torch.nn.MaxUnpool2d(2)(torch.zeros(shape), torch.zeros(shape, dtype=torch.int64), output_size)
    with pytest.raises(ValueError, match=r"MaxUnpool2d: expected a non-empty image \(H, W >= 1\), got input"):
        mt.MaxUnpool2d(2)(np.zeros(shape), np.zeros(shape, dtype=np.int64), output_size)


# Attention over no keys (S = 0): key and value (MultiheadAttention), the memory (TransformerDecoder*)
# or the source (Transformer) of length 0. torch answers: each query's weighted sum of no values is 0
# (the output is out_proj's bias), the weights are (N, L, 0), and the gradients are torch's (zeros
# through the attention). The core's max over no scores was NumPy's "zero-size array" ValueError.
_NO_KEYS = [c for c in ATTENTION_CASES + DECODER_CASES + TRANSFORMER_CASES if c.oracle]


def _without_keys(module: mt.Module, inputs: tuple) -> tuple:
    """``inputs`` with the keys' sequence emptied: key and value (MultiheadAttention), the memory
    (TransformerDecoder*) or the source (Transformer); the query or target kept."""
    batch = _batch_axis(module, np.asarray(inputs[0]))
    axis = 0 if batch is None else 1 - batch  # sequence-first (S, N, E) or batch-first (N, S, E)
    if isinstance(module, mt.MultiheadAttention):
        emptied = {1, 2}
    else:
        emptied = {0} if isinstance(module, mt.Transformer) else {1}
    return tuple(np.take(a, np.arange(0), axis=axis) if i in emptied else a for i, a in enumerate(inputs))


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("case_id, factory, make_inputs", [c[:3] for c in _NO_KEYS],
                         ids=[c.id for c in _NO_KEYS])
def test_attention_over_no_keys_is_torchs(float64, case_id, factory, make_inputs, kernels, monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    module = factory()
    compare_inputs(module, _without_keys(module, make_inputs(np.random.default_rng(0))), rtol=1e-12,
                   atol=1e-12)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("kwargs", [{"need_weights": False}, {"key_padding_mask": np.zeros((2, 0), bool)},
                                    {"attn_mask": np.zeros((3, 0))}],
                         ids=["no-weights", "padding", "attn-mask"])
def test_attention_over_no_keys_without_weights_or_with_empty_masks_is_torchs(float64, kwargs, kernels,
                                                                             monkeypatch):
    """An empty key_padding_mask or attn_mask masks nothing: no row counts as fully masked (NaN)."""
    monkeypatch.setattr(mt.kernels, "_enabled", kernels)
    rng = np.random.default_rng(1)
    m = mt.MultiheadAttention(4, 2, batch_first=True)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 0, 4)), rng.standard_normal((2, 0, 4))
    compare_mha(m, q, k, v, rtol=1e-12, atol=1e-12, **kwargs)


_ALL_ORACLE = [(i, f, s) for i, f, s in MODULE_CASES if i in ORACLE]
# torch takes these on a 0-d input with a deprecation warning; ours refuses it with an error
_REFUSED_0D = {"Dropout2d": "torch: 'Received a 0-D input to dropout2d, which is deprecated'"}


@pytest.mark.parametrize("case_id, factory, shape", _ALL_ORACLE, ids=[c[0] for c in _ALL_ORACLE])
def test_a_0d_input_runs_as_in_torch(float64, case_id, factory, shape):
    """Every registry module with a torch twin, on a 0-d input: torch's output and dx, 0-d where
    torch's are (an elementwise module keeps the input's shape; PReLU's (1,) weight broadcast gave
    (1,)), or an error where torch raises one."""
    module = factory()
    x, dy = np.array(-0.75), np.array(1.5)
    if type(module).__name__ in _REFUSED_0D:
        with pytest.raises(ValueError, match=type(module).__name__):
            module(x)
        return
    x_t = torch.tensor(x, requires_grad=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: "Implicit dimension choice ..."
            twin = torch_twin(module)
            y_t = twin(x_t)
    except (RuntimeError, ValueError, IndexError):
        with pytest.raises(ValueError):
            module(x)
        return
    y_t.backward(torch.tensor(dy).reshape(y_t.shape))
    module.zero_grad()
    y = module(x)
    assert y.shape == tuple(y_t.shape) and y.dtype == x.dtype
    dx = module.backward(dy.reshape(y.shape))
    assert dx.shape == x.shape and dx.dtype == x.dtype
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-14)
    for name, g in torch_grads(module, twin).items():
        np.testing.assert_allclose(dict(module.named_parameters())[name].grad, g, rtol=1e-12, atol=1e-14)
