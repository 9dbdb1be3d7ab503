"""Settings edited after construction, against torch 2.13 itself: every edit of registry promise 13
(tests/test_contract_registry.py: SETTINGS, LOSS_SETTINGS) made on MiniTorch's module and on its
PyTorch twin alike, before a forward (torch reads the setting at that forward) and between a
forward and its backward (torch's autograd differentiates the forward that ran, with the values it
read). The output, every input gradient, every parameter gradient and the buffers must be torch's,
or both libraries must refuse the edit.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from oracle import TWINS, tensor, torch_twin
from test_contract_registry import (
    CASE_ARGS,
    LOSS_CASE_ARGS,
    LOSS_SETTINGS,
    SETTINGS,
    _edit_id,
    make_data,
)
from test_losses import LOSS_CASES

import minitorch as mt

# table entries with no torch twin that can run them: why, and where they are checked instead
NO_TWIN = {
    "Dropout": "a training-mode mask torch cannot draw (the registry compares with a fresh module)",
    "Dropout2d": "a training-mode mask torch cannot draw (the registry compares with a fresh module)",
    "Dropout2d-p1-train": "no Dropout2d twin in tests/oracle.py (test_layers_habits.py checks p = 1)",
    "Dropout-p1-train": "p = 0.5 in training mode: a mask torch cannot draw",
    "MultiheadAttention-dropout-train": "a training-mode mask torch cannot draw",
    "LSTM-dropout-train": "a training-mode mask torch cannot draw",
    "MaxPool2d-return-indices": "its tuple output's twin lives in test_pooling_indices.py",
    "MaxUnpool2d": "no twin in tests/oracle.py: test_max_unpool_settings_read_at_forward_are_torchs below",
    "MaxUnpool2d-pad-unbatched": "no twin in tests/oracle.py: see the MaxUnpool2d test below",
    "Unflatten": "no twin in tests/oracle.py: test_unflatten_settings_are_torchs below",
    "Unflatten-minus-one": "no twin in tests/oracle.py: test_unflatten_settings_are_torchs below",
}


@pytest.fixture(autouse=True)
def float64():
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)


def _leaves(tree):
    return [leaf for item in tree for leaf in _leaves(item)] if isinstance(tree, tuple) else [tree]


def _tree(f, tree):
    return tuple(_tree(f, t) for t in tree) if isinstance(tree, tuple) else None if tree is None else f(tree)


def _torch_value(value):
    if isinstance(value, mt.Module):
        return torch_twin(value).double()
    if isinstance(value, np.ndarray):
        return tensor(value)
    return value


def _edit(ours, theirs, edits):
    for name, value in edits.items():
        setattr(ours, name, copy.deepcopy(value))
        setattr(theirs, name, _torch_value(copy.deepcopy(value)))


def _close(got, expected, what):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=what)


def _run_both(case_id, edits, between):
    """(ours, theirs, our output, torch's output, our input grads, torch's inputs): forward, the
    edit (before the forward, or between it and its backward), backward."""
    factory, make_inputs = CASE_ARGS[case_id]
    mt.manual_seed(0)
    ours = factory()
    theirs = torch_twin(ours).double()
    inputs = make_inputs(np.random.default_rng(1))
    inputs_t = _tree(lambda a: torch.tensor(np.asarray(a), requires_grad=np.asarray(a).dtype.kind == "f"),
                     inputs)
    if not between:
        _edit(ours, theirs, edits)
    try:
        out_t = theirs(*inputs_t)
    except (RuntimeError, ValueError, AssertionError, TypeError) as error:  # torch refuses the edit
        with pytest.raises((ValueError, TypeError)):
            ours(*inputs)
        return None, str(error)
    out = ours(*inputs)
    if between:
        _edit(ours, theirs, edits)
    rng = np.random.default_rng(2)
    floating = [t for t in _leaves(out_t if isinstance(out_t, tuple) else (out_t,))
                if t is not None and t.dtype.is_floating_point]
    upstream_t = [torch.tensor(rng.standard_normal(tuple(t.shape))) for t in floating]
    torch.autograd.backward(floating, upstream_t)
    upstream = _tree(lambda t: t.detach().numpy() if t.dtype.is_floating_point else None, out_t)
    ups = iter(u.numpy() for u in upstream_t)
    upstream = _tree(lambda u: next(ups), upstream)
    try:
        grads = ours.backward(upstream)
    except ValueError as error:  # MiniTorch's refusal where its backward cannot use the forward's values
        message = str(error)
        assert between and type(ours).__name__ in message and all(n in message for n in edits), message
        return None, message
    return (ours, theirs, out, out_t, grads, inputs_t), None


TWINNED = [s for s in SETTINGS if s[0] not in NO_TWIN]


def test_every_table_entry_is_checked_against_torch_or_says_where():
    for case_id, _ in SETTINGS:
        factory, _ = CASE_ARGS[case_id]
        assert case_id in NO_TWIN or type(factory()) in TWINS, case_id
    assert set(NO_TWIN) <= {c for c, _ in SETTINGS}


@pytest.mark.parametrize("between", [False, True], ids=["before-forward", "between-forward-and-backward"])
@pytest.mark.parametrize("case_id, edits", TWINNED, ids=[_edit_id(*s) for s in TWINNED])
def test_an_edited_setting_gives_torchs_numbers(case_id, edits, between, kernels):
    ran, _ = _run_both(case_id, edits, between)
    if ran is None:
        return  # both refused the edit, or MiniTorch's backward refused it naming module and setting
    ours, theirs, out, out_t, grads, inputs_t = ran
    for i, (a, b) in enumerate(zip(_leaves(out if isinstance(out, tuple) else (out,)),
                                   _leaves(out_t if isinstance(out_t, tuple) else (out_t,)), strict=True)):
        _close(a, b.detach().numpy(), f"output {i}")
    grads = grads if isinstance(inputs_t, tuple) and len(inputs_t) > 1 else (grads,)
    for i, (x, g) in enumerate(zip(_leaves(inputs_t), _leaves(grads), strict=True)):
        if x.requires_grad:
            _close(g, x.grad.numpy(), f"d input {i}")
    theirs_params = dict(theirs.named_parameters())
    linear = {id(m.W) for m in ours.modules() if isinstance(m, mt.Linear)}
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        g = tp.grad.numpy()
        _close(p.grad, g.T if id(p) in linear else g, name)
    assert len(theirs_params) == len(list(ours.parameters()))
    theirs_state = theirs.state_dict()
    for name, buffer in ours.named_buffers():
        if buffer is not None and name in theirs_state:
            _close(np.asarray(buffer, float), theirs_state[name].double().numpy(), f"buffer {name}")


_MORE_TORCH_LOSSES = {  # tests/test_contract_registry.py's MORE_LOSS_CASES
    "PoissonNLLLoss": lambda: torch.nn.PoissonNLLLoss(),
    "PoissonNLLLoss-rates-full": lambda: torch.nn.PoissonNLLLoss(log_input=False, full=True),
    "HingeEmbeddingLoss": lambda: torch.nn.HingeEmbeddingLoss(),
    "MultiLabelMarginLoss": lambda: torch.nn.MultiLabelMarginLoss(),
}


def _torch_loss(case_id):
    if case_id.startswith("KLDivLoss"):
        return torch.nn.KLDivLoss(reduction="mean", log_target=case_id.endswith("log-target"))
    if case_id in _MORE_TORCH_LOSSES:
        return _MORE_TORCH_LOSSES[case_id]()
    return next(c[2] for c in LOSS_CASES if c[0] == case_id)("mean")


@pytest.mark.filterwarnings("ignore:KLDivLoss with reduction='mean'")
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("between", [False, True], ids=["before-forward", "between-forward-and-backward"])
@pytest.mark.parametrize("case_id, edits", LOSS_SETTINGS, ids=[_edit_id(*s) for s in LOSS_SETTINGS])
def test_an_edited_loss_setting_gives_torchs_numbers(case_id, edits, between, kernels):
    ours_factory, kind = LOSS_CASE_ARGS[case_id]
    ours, theirs = ours_factory("mean"), _torch_loss(case_id)
    x, t = make_data(kind, np.random.default_rng(0))
    x_t = torch.tensor(x, requires_grad=True)
    if not between:
        _edit(ours, theirs, edits)
    loss_t = theirs(x_t, torch.tensor(t))
    loss = ours(x, t)
    if between:
        _edit(ours, theirs, edits)
    dloss = np.random.default_rng(3).standard_normal(tuple(loss_t.shape))
    loss_t.backward(torch.tensor(dloss))
    dx = ours.backward(dloss if dloss.ndim else float(dloss))
    _close(np.asarray(loss), loss_t.detach().numpy(), "loss")
    _close(dx, x_t.grad.numpy(), "dx")
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())  # a weight set later is a buffer


@pytest.mark.parametrize("edits", [{"kernel_size": 3}, {"stride": 3}, {"kernel_size": (3, 2), "stride": None},
                                   {"padding": 1, "kernel_size": 4}])
def test_max_unpool_settings_read_at_forward_are_torchs(edits):
    """MaxUnpool2d reads kernel_size, stride and padding at every call (an int for both axes, stride
    None the kernel size), as torch's F.max_unpool2d."""
    rng = np.random.default_rng(0)
    _, indices = mt.MaxPool2d(2, return_indices=True)(rng.standard_normal((2, 2, 4, 6)))
    x = rng.standard_normal(indices.shape)
    ours, theirs = mt.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    _edit(ours, theirs, edits)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t, torch.tensor(indices))
    dy = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(torch.tensor(dy))
    y = ours(x, indices)
    _close(y, y_t.detach().numpy(), "output")
    _close(ours.backward(dy)[0], x_t.grad.numpy(), "dx")


@pytest.mark.parametrize("between", [False, True])
@pytest.mark.parametrize("edits", [{"unflattened_size": (3, 2)}, {"dim": 0, "unflattened_size": (2, 2)},
                                   {"unflattened_size": [6, -1]}])
def test_unflatten_settings_are_torchs(edits, between):
    x = np.random.default_rng(0).standard_normal((4, 6))
    ours, theirs = mt.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))
    x_t = torch.tensor(x, requires_grad=True)
    if not between:
        _edit(ours, theirs, edits)
    y_t, y = theirs(x_t), ours(x)
    if between:
        _edit(ours, theirs, edits)
    dy = np.random.default_rng(1).standard_normal(tuple(y_t.shape))
    y_t.backward(torch.tensor(dy))
    _close(y, y_t.detach().numpy(), "output")
    _close(ours.backward(dy), x_t.grad.numpy(), "dx")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["BatchNorm1d", "BatchNorm2d"])
def test_track_running_stats_edited_is_torchs(kind, training):
    """track_running_stats=False set on a module that has running statistics: torch keeps them, does
    not update them while training and still normalises with them in eval (so the edited module is
    not one built with False, which has none): the registry cannot compare it with a fresh module."""
    rng = np.random.default_rng(0)
    shape = (5, 3) if kind == "BatchNorm1d" else (4, 3, 2, 2)
    ours = getattr(mt, kind)(3)
    ours.running_mean[...] = rng.standard_normal(3)
    ours.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    ours.train(training)
    theirs = torch_twin(ours).double()
    _edit(ours, theirs, {"track_running_stats": False})
    x = rng.standard_normal(shape)
    x_t = torch.tensor(x, requires_grad=True)
    for _ in range(2):  # the second forward: the statistics not updated by the first
        y_t = theirs(x_t)
        dy = rng.standard_normal(tuple(y_t.shape))
        y_t.backward(torch.tensor(dy))
        ours.zero_grad()
        x_t.grad = None
        for p in theirs.parameters():
            p.grad = None
        y_t = theirs(x_t)
        y_t.backward(torch.tensor(dy))
        _close(ours(x), y_t.detach().numpy(), "output")
        _close(ours.backward(dy), x_t.grad.numpy(), "dx")
        _close(ours.weight.grad, theirs.weight.grad.numpy(), "weight")
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            _close(getattr(ours, name), getattr(theirs, name).numpy(), name)


def test_a_loss_weight_set_after_construction_is_a_buffer_as_torchs():
    """CrossEntropyLoss().weight = w: torch's buffer slot, so the weight is in state_dict and cast by to()."""
    ours, theirs = mt.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    w = np.array([0.5, 1.0, 2.0])
    ours.weight, theirs.weight = w, tensor(w)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert ours.to(np.float32).weight.dtype == np.float32


_X = np.random.default_rng(0).standard_normal((4, 5))
# (ours, torch's, attribute, a value torch refuses at its forward): refused here too, at the forward
REFUSED = [
    (lambda: mt.Dropout(0.3), lambda: torch.nn.Dropout(0.3), "p", 1.5),
    (lambda: mt.Dropout(0.3).eval(), lambda: torch.nn.Dropout(0.3).eval(), "p", -0.1),
    (lambda: mt.GELU(), lambda: torch.nn.GELU(), "approximate", "foo"),
    (lambda: mt.Hardtanh(), lambda: torch.nn.Hardtanh(), "min_val", 2.0),
    (lambda: mt.Softmax(1), lambda: torch.nn.Softmax(1), "dim", 1.0),
    (lambda: mt.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), "num_groups", 3),
    (lambda: mt.LayerNorm(5), lambda: torch.nn.LayerNorm(5), "normalized_shape", (4, 5)),
    (lambda: mt.MultiheadAttention(4, 2), lambda: torch.nn.MultiheadAttention(4, 2), "num_heads", 3),
]
LOSS_REFUSED = [
    (mt.CrossEntropyLoss, torch.nn.CrossEntropyLoss, "label_smoothing", 2.0),
    (mt.CrossEntropyLoss, torch.nn.CrossEntropyLoss, "ignore_index", 1.5),
    (mt.NLLLoss, torch.nn.NLLLoss, "ignore_index", 1.5),
    (mt.HuberLoss, torch.nn.HuberLoss, "delta", 0.0),
    (mt.SmoothL1Loss, torch.nn.SmoothL1Loss, "beta", -1.0),
    (mt.KLDivLoss, torch.nn.KLDivLoss, "log_target", "yes"),
    (mt.MSELoss, torch.nn.MSELoss, "reduction", "average"),
]


def _inputs_for(module):
    if isinstance(module, (mt.GroupNorm, torch.nn.GroupNorm)):
        return (np.random.default_rng(0).standard_normal((2, 4, 3)),)
    if isinstance(module, (mt.MultiheadAttention, torch.nn.MultiheadAttention)):
        return (np.random.default_rng(0).standard_normal((3, 2, 4)),) * 3
    return (_X,)


@pytest.mark.parametrize("ours, theirs, name, value", REFUSED,
                         ids=[f"{r[2]}={r[3]!r}" for r in REFUSED])
def test_a_value_torch_refuses_at_forward_is_refused_here_naming_the_setting(ours, theirs, name, value):
    ours, theirs = ours(), theirs().double()
    _edit(ours, theirs, {name: value})
    with pytest.raises((RuntimeError, ValueError, TypeError, AssertionError)):
        theirs(*(torch.tensor(a) for a in _inputs_for(theirs)))
    with pytest.raises(ValueError, match=rf"^{type(ours).__name__}: .*{name}"):
        ours(*_inputs_for(ours))


@pytest.mark.filterwarnings("ignore:KLDivLoss with reduction='mean'")
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("ours, theirs, name, value", LOSS_REFUSED,
                         ids=[f"{r[0].__name__}-{r[2]}={r[3]!r}" for r in LOSS_REFUSED])
def test_a_loss_value_torch_refuses_is_refused_here_naming_the_setting(ours, theirs, name, value):
    kind = {mt.CrossEntropyLoss: "logits-index", mt.NLLLoss: "log-probs-index",
            mt.KLDivLoss: "log-probs-probs"}.get(ours, "regression")
    x, t = make_data(kind, np.random.default_rng(0))
    ours, theirs = ours(), theirs()
    _edit(ours, theirs, {name: value})
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        theirs(torch.tensor(x), torch.tensor(t))
    for use_kernels in (True, False):
        mt.kernels.use_kernels(use_kernels)
        with pytest.raises(ValueError, match=rf"^{type(ours).__name__}: .*{name}"):
            ours(x, t)
    mt.kernels.use_kernels(True)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")  # torch's, for dim None
@pytest.mark.parametrize("dim", [None, 0, 1, 2, -1])
def test_a_softmax_dim_set_after_construction_is_torchs(dim):
    """Softmax() (dim None) given a dim afterwards reads it (a 3-D input then needs no refusal);
    dim set back to None is torch's implicit choice, the last axis of a 2-D input."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4) if dim not in (None, -1) else (3, 4))
    for ours, theirs in ((mt.Softmax(), torch.nn.Softmax()), (mt.LogSoftmax(), torch.nn.LogSoftmax())):
        _edit(ours, theirs, {"dim": dim})
        x_t = torch.tensor(x, requires_grad=True)
        y_t = theirs(x_t)
        dy = np.random.default_rng(1).standard_normal(x.shape)
        y_t.backward(torch.tensor(dy))
        _close(ours(x), y_t.detach().numpy(), "output")
        _close(ours.backward(dy), x_t.grad.numpy(), "dx")
