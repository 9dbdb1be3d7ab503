"""A numeric setting of the wrong kind (a string, None, an array), given to the constructor or set
after it, against torch 2.13: torch's exception type (a TypeError where torch raises one, at its
constructor or at the forward that reads the setting), with a message naming the module, the setting,
the kind expected and the value that came, never a raw NumPy error or a silent cast. Softmax's dim
set after construction is read as torch reads it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import minitorch as mt

_X = np.random.default_rng(0).standard_normal((4, 5))
# (class name, setting): the activations' numeric settings (PReLU's slope is a Parameter)
ACTIVATION_SETTINGS = [
    ("LeakyReLU", "negative_slope"),
    ("ELU", "alpha"),
    ("Softplus", "beta"),
    ("Softplus", "threshold"),
    ("Hardtanh", "min_val"),
    ("Hardtanh", "max_val"),
]
ACTIVATION_SETTINGS += [("CELU", "alpha"), ("Softshrink", "lambd"), ("Hardshrink", "lambd")]
WRONG_KINDS = ["0.1", None, np.array(0.2), np.array([0.1, 0.2])]


def _torch_value(value):
    """The value as given to torch: as it came (torch's argument parser refuses a NumPy array as a
    number, as MiniTorch does; it takes a 0-D tensor as one, which MiniTorch has no twin of)."""
    return value


def _raised(call):
    try:
        call()
    except Exception as err:  # the exception itself is what is compared
        return err
    return None


@pytest.mark.parametrize("value", WRONG_KINDS, ids=repr)
@pytest.mark.parametrize("cls, name", ACTIVATION_SETTINGS, ids=[f"{c}.{n}" for c, n in ACTIVATION_SETTINGS])
def test_an_activation_setting_of_the_wrong_kind_set_later_is_torchs_error_naming_it(cls, name, value,
                                                                                     kernels):
    theirs = getattr(torch.nn, cls)()
    setattr(theirs, name, _torch_value(value))
    torch_error = _raised(lambda: theirs(torch.tensor(_X)))
    assert torch_error is not None
    ours = getattr(mt, cls)()
    ours(_X)  # a first forward with the constructed value
    setattr(ours, name, value)
    with pytest.raises(type(torch_error), match=rf"^{cls}: {name} must be a number in .*, got "):
        ours(_X)
    assert isinstance(_raised(lambda: ours(_X)), TypeError)  # the kind is wrong, whatever torch's type


@pytest.mark.parametrize("value", WRONG_KINDS, ids=repr)
@pytest.mark.parametrize("cls, name", ACTIVATION_SETTINGS, ids=[f"{c}.{n}" for c, n in ACTIVATION_SETTINGS])
def test_an_activation_setting_of_the_wrong_kind_is_refused_by_the_constructor(cls, name, value):
    """torch builds most of these and raises at the forward (Hardtanh's constructor compares them):
    MiniTorch raises the same type at once."""
    torch_error = _raised(lambda: getattr(torch.nn, cls)(**{name: _torch_value(value)})(torch.tensor(_X)))
    assert torch_error is not None
    with pytest.raises(type(torch_error), match=rf"^{cls}: {name} must be a number in .*, got "):
        getattr(mt, cls)(**{name: value})


@pytest.mark.parametrize("cls, name", ACTIVATION_SETTINGS, ids=[f"{c}.{n}" for c, n in ACTIVATION_SETTINGS])
def test_a_bool_setting_is_refused_not_read_as_one(cls, name):
    """torch reads True as 1 here; MiniTorch's constructor refuses a bool for a number, and so does
    its forward for one set later (a TypeError naming the setting, never a silent 1.0)."""
    ours = getattr(mt, cls)()
    setattr(ours, name, True)
    with pytest.raises(TypeError, match=rf"^{cls}: {name} must be a number in .*, got True"):
        ours(_X)


def test_the_message_names_the_kind_that_came():
    ours = mt.ELU()
    ours.alpha = np.array([0.1, 0.2])
    with pytest.raises(TypeError, match=r"^ELU: alpha must be a number in \(-inf, inf\), got ndarray array"):
        ours(_X)
    ours.alpha = "0.1"
    with pytest.raises(TypeError, match=r"^ELU: alpha must be a number in \(-inf, inf\), got '0.1'$"):
        ours(_X)


# --- Softmax's dim, read at every call as torch's -------------------------------------------------
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("dim", [-1, 1])
def test_a_dim_set_after_a_construction_without_one_is_given_for_any_input(cls, shape, dim, kernels):
    """Softmax() then m.dim = -1: torch's F.softmax takes the implicit choice only for dim None, so
    -1 set later is the last axis of a 3-D or 4-D input (MiniTorch refused it as "no dim given")."""
    ours, theirs = getattr(mt, cls)(), getattr(torch.nn, cls)()
    assert ours.dim is None and theirs.dim is None and repr(ours) == repr(theirs)
    ours.dim = theirs.dim = dim
    x, dy = np.random.default_rng(1).standard_normal((2, *shape))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    y_t.backward(torch.tensor(dy))
    np.testing.assert_allclose(ours(x), y_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.backward(dy), x_t.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert repr(ours) == repr(theirs)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")  # torch's, for dim None
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_a_dim_set_back_to_none_is_the_implicit_choice_again(cls):
    ours = getattr(mt, cls)(dim=-1)
    ours.dim = None
    x = np.random.default_rng(2).standard_normal((3, 4))
    theirs = getattr(torch.nn, cls)(dim=None)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=rf"^{cls}: no dim given, and the input is 3-D"):
        ours(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("value", ["1", 1.0, np.array(1)], ids=repr)
def test_a_dim_of_the_wrong_kind_is_torchs_type_error(value):
    ours, theirs = mt.Softmax(), torch.nn.Softmax()
    ours.dim, theirs.dim = value, _torch_value(value)
    torch_error = _raised(lambda: theirs(torch.tensor(_X)))
    assert isinstance(torch_error, TypeError)
    with pytest.raises(TypeError, match=r"^Softmax: dim must be an integer, got "):
        ours(_X)
    with pytest.raises(TypeError, match=r"^Softmax: dim must be an integer, got "):
        mt.Softmax(dim=value)


# --- the losses' settings -------------------------------------------------------------------------
def _loss_data(cls):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    if cls in ("CrossEntropyLoss", "NLLLoss"):
        return x, np.array([0, 1, 2, 3])
    if cls == "BCELoss":
        return 1 / (1 + np.exp(-x)), rng.random((4, 5))
    return x, rng.random((4, 5))


# (loss, setting, a value of the wrong kind): torch raises a TypeError for each (at its constructor
# or at the forward that reads it); SmoothL1Loss's beta as a 2-entry array is left out: torch's
# error there is its constructor's `beta < 0` on a tensor (a RuntimeError), no check of the kind
LOSS_WRONG_KINDS = [
    *[("HuberLoss", "delta", v) for v in ("0.5", None, np.array([0.5, 1.0]))],
    *[("SmoothL1Loss", "beta", v) for v in ("0.5", None)],
    *[("CrossEntropyLoss", "label_smoothing", v) for v in ("0.1", None, np.array([0.1, 0.2]))],
    *[("CrossEntropyLoss", "ignore_index", v) for v in ("1", None, 1.5, True, np.array([1]))],
    *[("NLLLoss", "ignore_index", v) for v in ("1", None, 1.5, True)],
    *[("KLDivLoss", "log_target", v) for v in ("yes", None, 1, np.array([True]))],
]


@pytest.mark.filterwarnings("ignore:KLDivLoss with reduction='mean'")
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("cls, name, value", LOSS_WRONG_KINDS,
                         ids=[f"{c}.{n}={v!r}" for c, n, v in LOSS_WRONG_KINDS])
def test_a_loss_setting_of_the_wrong_kind_is_torchs_type_error_naming_it(cls, name, value, kernels):
    x, t = _loss_data(cls)
    theirs = getattr(torch.nn, cls)()
    setattr(theirs, name, _torch_value(value))
    assert isinstance(_raised(lambda: theirs(torch.tensor(x), torch.tensor(t))), TypeError)
    assert isinstance(_raised(lambda: getattr(torch.nn, cls)(**{name: _torch_value(value)})(
        torch.tensor(x), torch.tensor(t))), TypeError)
    ours = getattr(mt, cls)()
    ours(x, t)
    setattr(ours, name, value)
    with pytest.raises(TypeError, match=rf"^{cls}: {name} must be "):
        ours(x, t)
    with pytest.raises(TypeError, match=rf"^{cls}: {name} must be "):
        getattr(mt, cls)(**{name: value})


@pytest.mark.parametrize("cls", ["CrossEntropyLoss", "NLLLoss"])
@pytest.mark.parametrize("weight", [np.array(0.5), np.float64(0.5), np.ones((5, 1))],
                         ids=["0-D", "scalar", "5x1"])
def test_a_class_weight_set_later_that_is_not_1d_is_named(cls, weight, kernels):
    """torch raises a RuntimeError ("weight tensor should be defined either for all 5 classes"),
    MiniTorch a ValueError naming the weight's shape (it raised a raw IndexError for a 0-D one)."""
    x, t = _loss_data(cls)
    theirs = getattr(torch.nn, cls)()
    theirs.weight = torch.tensor(weight)
    assert _raised(lambda: theirs(torch.tensor(x), torch.tensor(t))) is not None
    ours = getattr(mt, cls)()
    ours.weight = np.asarray(weight)
    shape = re.escape(str(np.shape(weight)))
    with pytest.raises(ValueError, match=rf"^{cls}: weight of shape {shape} is not 1-D, the input has 5 "
                                         r"classes \(expected one weight per class\)"):
        ours(x, t)


@pytest.mark.parametrize("cls, name", [("BCELoss", "weight"), ("BCEWithLogitsLoss", "weight"),
                                       ("BCEWithLogitsLoss", "pos_weight"), ("CrossEntropyLoss", "weight"),
                                       ("NLLLoss", "weight")])
def test_a_bool_weight_is_torchs_type_error_not_a_weight_of_one(cls, name):
    with pytest.raises(TypeError, match="object to buffer"):
        getattr(torch.nn, cls)(**{name: True})
    with pytest.raises(TypeError, match=rf"^{cls}: {name} must be an array of numbers or None, got True"):
        getattr(mt, cls)(**{name: True})


# --- the norm layers' eps and momentum, read at every forward --------------------------------------
NORM_SETTINGS = [
    (lambda: mt.BatchNorm1d(6), lambda: torch.nn.BatchNorm1d(6), "eps"),
    (lambda: mt.BatchNorm1d(6), lambda: torch.nn.BatchNorm1d(6), "momentum"),
    (lambda: mt.BatchNorm1d(6).eval(), lambda: torch.nn.BatchNorm1d(6).eval(), "eps"),
    (lambda: mt.LayerNorm(3), lambda: torch.nn.LayerNorm(3), "eps"),
    (lambda: mt.GroupNorm(2, 6), lambda: torch.nn.GroupNorm(2, 6), "eps"),
]


@pytest.mark.parametrize("value", ["0.1", np.array([0.1, 0.2])], ids=repr)
@pytest.mark.parametrize("ours, theirs, name", NORM_SETTINGS,
                         ids=["BatchNorm1d.eps", "BatchNorm1d.momentum", "BatchNorm1d-eval.eps",
                              "LayerNorm.eps", "GroupNorm.eps"])
def test_a_norm_setting_of_the_wrong_kind_set_later_is_torchs_error_naming_it(ours, theirs, name, value,
                                                                              kernels):
    """torch raises a TypeError (its argument parser's, or a comparison's) or, for a 2-entry array
    its `eps <= 0` check reads, a ValueError; MiniTorch raised raw NumPy errors (a broadcast of the
    array against the input)."""
    x = np.random.default_rng(4).standard_normal((4, 6, 3))
    ours, theirs = ours().to(np.float64), theirs().double()
    setattr(theirs, name, value)
    torch_error = _raised(lambda: theirs(torch.tensor(x)))
    assert torch_error is not None
    setattr(ours, name, value)
    who = type(ours).__name__
    with pytest.raises(type(torch_error), match=rf"^{who}: {name} must be a number in .*, got "):
        ours(x)
    assert isinstance(_raised(lambda: ours(x)), TypeError)
