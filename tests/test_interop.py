"""PyTorch exchange: every module case and composite converts both ways with the same function."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from model_helpers import (
    CASE_ARGS,
    CASE_IDS,
    assert_same_state,
    freeze_every_other,
    frozen_names,
    randomize_state,
    sample_input,
)

import minitorch as mt
from minitorch.interop import ATTENTION_LAYERS, LAYERS, NOT_CONVERTIBLE


def torch_out(t, x):
    with torch.no_grad():
        return t(torch.from_numpy(x)).numpy()


# float32 outputs that cancel much larger terms, where atol 1e-6 is below one rounding: the
# Generator-net's last Linear sums 27 terms whose magnitudes add to about 20 into outputs near 0.04,
# so a single rounding of that sum is 20 * 6e-8 = 1.2e-6 (MiniTorch and torch land within about 1e-6
# of the float64 result each, in either direction, by BLAS kernel)
FLOAT32_ATOL = {"Generator-net": 1e-5}
_ATOL_BY_FACTORY = {args[0]: FLOAT32_ATOL[name] for name, args in zip(CASE_IDS, CASE_ARGS, strict=True)
                    if name in FLOAT32_ATOL}


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float32, 1e-5, 1e-6), (np.float64, 1e-12, 1e-13)])
@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_every_case_converts_both_ways(factory, shape, dtype, rtol, atol):
    if dtype == np.float32:
        atol = _ATOL_BY_FACTORY.get(factory, atol)
    mt.set_default_dtype(dtype)
    model = randomize_state(factory(), seed=5).eval()
    t = mt.interop.to_torch(model)
    torch_dtype = torch.from_numpy(np.zeros(0, dtype)).dtype
    assert not t.training and all(p.dtype == torch_dtype for p in t.parameters())
    assert type(t).__name__ == type(model).__name__
    x = sample_input(shape, dtype)
    y = torch_out(t, x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, model(x), rtol=rtol, atol=atol)

    back = mt.interop.from_torch(t)
    assert [type(m) for m in back.modules()] == [type(m) for m in model.modules()]
    assert not back.training
    assert_same_state(back, model)
    np.testing.assert_array_equal(back(x), model(x))


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_training_flags_travel(factory, shape):
    model = factory().train()
    model_modes = [m.training for m in model.modules()]
    t = mt.interop.to_torch(model)
    assert [m.training for m in t.modules()] == model_modes
    t.eval()
    assert not any(m.training for m in mt.interop.from_torch(t).modules())


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_frozen_parameters_stay_frozen_both_ways(factory, shape):
    """requires_grad is carried as the training flags are: a frozen layer must not train after a trip."""
    model = freeze_every_other(factory())
    ours = {id(p): p.data.size for p in model.parameters() if not p.requires_grad}
    t = mt.interop.to_torch(model)
    theirs = [p.numel() for p in t.parameters() if not p.requires_grad]
    assert sorted(theirs) == sorted(ours.values())
    back = mt.interop.from_torch(t)
    assert frozen_names(back) == frozen_names(model)
    assert len(frozen_names(model)) > 0 or not list(model.parameters())


def test_a_frozen_torch_layer_comes_over_frozen():
    t = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    t[0].requires_grad_(False)
    model = mt.interop.from_torch(t)
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]


def _tied_pair():
    model = mt.Sequential(mt.Linear(3, 3), mt.ReLU(), mt.Linear(3, 3), mt.LSTM(3, 3), mt.LSTM(3, 3))
    model[2].W = model[0].W  # a Parameter shared by two layers (not one layer used twice)
    model[4].weight_hh_l0 = model[3].weight_hh_l0
    return model


def test_a_parameter_shared_by_two_layers_stays_shared_both_ways():
    """Untied by the trip, the copies would train apart: each gets half of the gradient."""
    model = _tied_pair()
    t = mt.interop.to_torch(model)
    assert t[2].weight is t[0].weight and t[4].weight_hh_l0 is t[3].weight_hh_l0
    assert len(list(t.parameters())) == len(list(model.parameters()))
    back = mt.interop.from_torch(t)
    assert back[2].W is back[0].W and back[4].weight_hh_l0 is back[3].weight_hh_l0
    assert len(list(back.parameters())) == len(list(model.parameters()))
    x = sample_input((2, 3, 3))
    np.testing.assert_allclose(torch_out(t[:3], x[0]), model[:3](x[0]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factory, shape", CASE_ARGS, ids=CASE_IDS)
def test_every_case_tied_to_its_twin_stays_tied_both_ways(factory, shape):
    """Two instances of every module case, the second's Parameters all the first's (module by module)."""
    first, second = factory(), factory()
    if not list(first.parameters()) or type(first) is mt.Sequential:
        return  # nothing to tie; a Sequential's layers are cases of their own
    subs = dict(second.named_modules())
    for path, sub in first.named_modules():
        for name, p in sub._parameters.items():
            setattr(subs[path], name, p)
    model = mt.Sequential(first, second)
    n = len(list(model.parameters()))
    t = mt.interop.to_torch(model)
    assert len(list(t.parameters())) == n
    assert len(list(mt.interop.from_torch(t).parameters())) == n


def test_a_tie_across_layouts_is_refused_not_untied():
    """torch ties an Embedding to the output Linear (GPT's head): here the Linear's W is the transpose,
    so one Parameter cannot hold both; from_torch says so instead of training two copies."""
    emb, head = torch.nn.Embedding(5, 5), torch.nn.Linear(5, 5, bias=False)
    head.weight = emb.weight
    with pytest.raises(ValueError, match="tied"):
        mt.interop.from_torch(torch.nn.Sequential(emb, head))


def test_torch_built_model_comes_over():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2, bias=False),
                            torch.nn.Sigmoid(), torch.nn.Flatten(0), torch.nn.Identity())
    model = mt.interop.from_torch(t)
    np.testing.assert_array_equal(model[0].W.data, t[0].weight.detach().numpy().T)
    assert model[2].b is None
    x = sample_input((3, 4))
    np.testing.assert_allclose(model(x), torch_out(t, x), rtol=1e-5, atol=1e-6)


def test_conversion_leaves_both_generators_alone():
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU())
    before = (mt.random.generator().bit_generator.state, torch.random.get_rng_state())
    t = mt.interop.to_torch(model)
    mt.interop.from_torch(t)
    assert mt.random.generator().bit_generator.state == before[0]
    assert torch.equal(torch.random.get_rng_state(), before[1])


def test_every_exported_layer_has_a_converter():
    """A layer added to minitorch fails here until it has a converter (or is listed NOT_CONVERTIBLE)."""
    layers = {getattr(mt, name) for name in mt.__all__ if isinstance(getattr(mt, name), type)
              and issubclass(getattr(mt, name), mt.Module)
              and not issubclass(getattr(mt, name), mt.Loss)
              and name not in ("Module", "Sequential", "ModuleList", "ModuleDict")}
    convertible = set(LAYERS) | set(ATTENTION_LAYERS) | set(NOT_CONVERTIBLE)
    missing = sorted(cls.__name__ for cls in layers - convertible)
    assert not missing, f"no PyTorch converter in minitorch/interop/layer_table.py for {missing}"


def test_unconvertible_modules_are_named():
    class Mine(mt.Module):
        pass

    with pytest.raises(TypeError, match=r"model\.1 is a Mine, which has no PyTorch counterpart"):
        mt.interop.to_torch(mt.Sequential(mt.ReLU(), Mine()))
    with pytest.raises(TypeError, match=r"module\.0 is a RReLU"):
        mt.interop.from_torch(torch.nn.Sequential(torch.nn.RReLU()))
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        mt.interop.from_torch(mt.ReLU())


@pytest.mark.parametrize("module, message", [
    (lambda: torch.nn.Conv2d(2, 4, 3, groups=2), "groups=2"),
    (lambda: torch.nn.Conv2d(2, 4, 3, padding_mode="reflect"), "padding_mode='reflect'"),
])
def test_torch_settings_minitorch_lacks_are_refused(module, message):
    with pytest.raises(ValueError, match=message):
        mt.interop.from_torch(module())


@pytest.mark.filterwarnings("ignore:Implicit dimension choice:UserWarning")  # torch's, on dim=None
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_softmax_without_dim_converts_to_torchs_result_or_a_clear_error(cls):
    """torch's Softmax() (dim=None) takes dim 0 of a 0-, 1- or 3-D input and dim 1 otherwise
    (_get_softmax_dim). Converted, it is MiniTorch's Softmax() with no dim: torch's values and
    gradients for 1-D and 2-D inputs (the last axis there), and for 3-D and more a ValueError that
    names torch's dim, never a silent other axis. from_torch refused the module outright."""
    theirs = getattr(torch.nn, cls)().double()
    ours = mt.interop.from_torch(theirs)
    assert ours.dim is None
    rng = np.random.default_rng(0)
    for shape in ((5,), (3, 4), (1, 6)):
        x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
        x_t = torch.tensor(x, requires_grad=True)
        theirs(x_t).backward(torch.tensor(dy))
        np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(ours.backward(dy), x_t.grad.numpy(), rtol=1e-13, atol=1e-15)
    for shape, torch_dim in (((2, 3, 4), 0), ((2, 3, 4, 5), 1)):
        with pytest.raises(ValueError, match=rf"{cls}: no dim given, .* would take dim={torch_dim} there"):
            ours(np.zeros(shape))


def test_missing_torch_gives_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="needs PyTorch"):
        mt.interop.to_torch(mt.ReLU())
