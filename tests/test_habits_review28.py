"""PyTorch habits that gave silent wrong answers (review28), each against torch 2.13 in float64.

Weight tying by torch's names: ``b.weight = a.weight`` ties two Linears in torch (one Parameter,
its gradient the sum of both uses); here it ties them too. Where one Parameter cannot serve both
layouts (an Embedding's (V, D) table as a Linear's W (D, V), a Linear's ``weight`` view registered
elsewhere), MiniTorch refuses, naming the module and the fix, instead of training two copies or
stepping one Parameter twice.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt

torch = pytest.importorskip("torch")


def _sgd_steps(model: mt.Module, t_model, x: np.ndarray, steps: int = 3) -> None:
    """``steps`` SGD steps (momentum) on sum(model(x) * c) in both libraries."""
    c = np.random.default_rng(3).standard_normal(model(x).shape)
    model.discard_caches()
    opt = mt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        model(x)
        model.backward(c)
        opt.step()
        opt.zero_grad()
        (t_model(torch.from_numpy(x)) * torch.from_numpy(c)).sum().backward()
        t_opt.step()
        t_opt.zero_grad()


def test_linear_weight_assigned_another_linears_weight_ties_them_as_torch(float64) -> None:
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 4), mt.Tanh(), mt.Linear(4, 4))
    model[2].weight = model[0].weight  # torch's tie, by torch's name
    assert model[2].W is model[0].W
    assert len(list(model.parameters())) == 3
    t = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4)).double()
    with torch.no_grad():
        t[0].weight.copy_(torch.from_numpy(model[0].weight.data))
        t[0].bias.copy_(torch.from_numpy(model[0].b.data))
        t[2].bias.copy_(torch.from_numpy(model[2].b.data))
    t[2].weight = t[0].weight
    assert len(list(t.parameters())) == 3
    x = np.random.default_rng(1).standard_normal((5, 4))
    _sgd_steps(model, t, x)
    np.testing.assert_allclose(model[0].weight.data, t[0].weight.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model[2].weight.data, t[2].weight.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model[2].b.data, t[2].bias.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_linear_weight_assigned_an_embeddings_table_is_refused_not_copied() -> None:
    """torch ties GPT's head to the token table (``head.weight = emb.weight``); a copy would train apart."""
    emb, head = mt.Embedding(5, 4), mt.Linear(4, 5, bias=False)
    before = head.W.data.copy()
    with pytest.raises(ValueError, match=r"Linear.*weight.*Embedding.*gpt\.py"):
        head.weight = emb.weight
    np.testing.assert_array_equal(head.W.data, before)


def test_a_fresh_parameter_assigned_as_linear_weight_is_still_copied_in() -> None:
    head = mt.Linear(4, 5, bias=False)
    w = np.arange(20.0).reshape(5, 4).astype(np.float32)
    head.weight = mt.Parameter(w)
    np.testing.assert_array_equal(head.weight.data, w)


@pytest.mark.parametrize("make", [
    lambda: mt.Embedding(5, 4),  # emb.weight = head.weight: the other direction of GPT's tie
    lambda: mt.LayerNorm(4),
], ids=["Embedding.weight", "LayerNorm.weight"])
def test_registering_a_linears_weight_view_elsewhere_is_refused(make) -> None:
    """The view is not the Parameter: registered, the optimizer would step W twice (view and base)."""
    module, head = make(), mt.Linear(5, 4, bias=False)
    with pytest.raises(TypeError, match=rf"{type(module).__name__}.*'weight'.*Linear"):
        module.weight = head.weight
    assert all(type(p) is mt.Parameter for p in module.parameters())


def test_a_custom_module_holding_a_linears_weight_is_refused() -> None:
    class Head(mt.Module):
        def __init__(self, emb: mt.Linear) -> None:
            super().__init__()
            self.w = emb.weight

    with pytest.raises(TypeError, match=r"Head.*'w'.*Linear.*W"):
        Head(mt.Linear(3, 4))


# ----------------------------------------------------------------- freezing half-way, as torch steps
OPTIMIZERS = {
    "SGD": dict(lr=0.1, momentum=0.9, weight_decay=0.1),
    "Adam": dict(lr=0.01, weight_decay=0.1),
    "AdamW": dict(lr=0.01, amsgrad=True),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    "Adagrad": dict(lr=0.1, weight_decay=0.1, lr_decay=0.01),
    "NAdam": dict(lr=0.01, weight_decay=0.1),
    "RAdam": dict(lr=0.01, weight_decay=0.1),
    "Adamax": dict(lr=0.01, weight_decay=0.1),
    "Adadelta": dict(lr=0.5, weight_decay=0.1),
    "Rprop": dict(lr=0.01),
    "ASGD": dict(lr=0.05, weight_decay=0.1, t0=2.0),
}


def _frozen_half_way(lib, name, set_to_none, when):
    """8 steps on a 3-layer tanh net, its first layer frozen at step 3, after that step's zero_grad
    or between its backward and its step (the gradients held). Returns the parameters in PyTorch's
    layout and each Parameter's step count."""
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(3, 4), mt.Tanh(), mt.Linear(4, 2))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    if lib == "torch":
        model = mt.interop.to_torch(model).double()
        opt = getattr(torch.optim, name)(model.parameters(), **OPTIMIZERS[name])
    else:
        opt = getattr(mt, name)(model.parameters(), **OPTIMIZERS[name])
    loss_fn = mt.MSELoss()
    for step in range(8):
        opt.zero_grad(set_to_none=set_to_none)
        if step == 3 and when == "after-zero-grad":
            model[0].requires_grad_(False)
        if lib == "torch":
            torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        else:
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
        if step == 3 and when == "before-step":
            model[0].requires_grad_(False)
        opt.step()
    if lib == "torch":
        params = [p.detach().numpy() for p in model.parameters()]
    else:
        params = [model[0].weight.data, model[0].b.data, model[2].weight.data, model[2].b.data]
    steps = [opt.state.get(p, {}).get("step") for p in model.parameters()]  # (SGD keeps none)
    return params, [None if s is None else float(s) for s in steps]


@pytest.mark.parametrize("when", ["after-zero-grad", "before-step"])
@pytest.mark.parametrize("set_to_none", [True, False], ids=["set-to-none", "zeros"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_layer_frozen_half_way_is_stepped_as_torch_steps_it(float64, kernels, name, set_to_none, when):
    """torch's optimizers read ``p.grad is not None``, never ``requires_grad``: a frozen layer whose
    gradient was zeroed, not set to None (``zero_grad(set_to_none=False)``), keeps its weight decay,
    momentum and moments moving it, and its step count goes on; with None it stops. Frozen between
    a backward and its step, the gradient held is stepped, as torch's."""
    torch.set_default_dtype(torch.float64)  # torch's step counts in float64, as ours
    try:
        expected, t_steps = _frozen_half_way("torch", name, set_to_none, when)
    finally:
        torch.set_default_dtype(torch.float32)
    got, steps = _frozen_half_way("mt", name, set_to_none, when)
    assert steps == t_steps
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)

# ----------------------------------------------------------------- an optimizer given torch's names
def test_an_optimizer_given_linear_weight_by_torchs_name_checks_for_a_waiting_forward() -> None:
    """``SGD([lin.weight, lin.bias])`` (torch's names: the weight is a view of W) steps as torch's, and
    refuses a step while the Linear has a forward whose backward never ran, as with ``lin.W``."""
    lin = mt.Linear(3, 2)
    opt = mt.SGD([lin.weight], lr=0.1)
    lin(np.ones((1, 3)))
    lin.backward(np.ones((1, 2)))
    lin(np.ones((1, 3)))  # (an evaluation outside no_grad: the next backward would take it)
    with pytest.raises(RuntimeError, match=r"SGD\.step: Linear\(.*\) has 1 forward call"):
        opt.step()
