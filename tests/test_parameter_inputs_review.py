"""Review of the Parameter-input rule (minitorch/leaf_inputs.py): where a Parameter that requires grad
enters through the data utilities, not a module call.

torch 2.13: ``TensorDataset(p, y)`` / ``DataLoader`` index and stack p differentiably, so a training
loop over its batches fills ``p.grad``. MiniTorch's datasets hold NumPy arrays (no backward), so such a
Parameter would silently get no gradient: each entry point refuses it, naming itself and the fix.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import minitorch as mt


def test_torch_fills_the_grad_of_a_parameter_given_to_its_tensor_dataset():
    """The oracle: torch's DataLoader batches of a Parameter carry its gradient (so MiniTorch must not
    silently drop it)."""
    p = torch.nn.Parameter(torch.ones(4, 3))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(p, torch.zeros(4)), batch_size=2)
    xb, _ = next(iter(loader))
    xb.sum().backward()
    assert p.grad is not None and p.grad.abs().sum() > 0


CALLS = {
    "TensorDataset": lambda p, y: mt.TensorDataset(p, y),
    "DataLoader": lambda p, y: mt.DataLoader(p, y, batch_size=2),
    "DataLoader((X, y))": lambda p, y: mt.DataLoader((p, y), batch_size=2),
    "DataLoader(y=p)": lambda p, y: mt.DataLoader(y.astype(float)[:, None], p, batch_size=2),
    "default_collate": lambda p, y: mt.data.default_collate([p, p]),
    "train_test_split": lambda p, y: mt.train_test_split(p, y, test_size=2, random_state=0),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_data_utilities_refuse_a_parameter_that_requires_grad(call):
    """Each entry point raises a TypeError naming itself, p.data and the fix, instead of training
    with a Parameter whose grad silently stays None."""
    p, y = mt.Parameter(np.ones((4, 3))), np.zeros(4, dtype=np.int64)
    who = call.split("(")[0]
    with pytest.raises(TypeError, match=rf"{who}: .*Parameter that requires grad.*p\.data"):
        CALLS[call](p, y)
    assert p.grad is None


@pytest.mark.parametrize("call", sorted(CALLS))
def test_data_utilities_take_a_frozen_parameter_as_data(call):
    """A Parameter with requires_grad=False is data (the Module contract's rule): read as its array."""
    p, y = mt.Parameter(np.ones((4, 3)), requires_grad=False), np.zeros(4, dtype=np.int64)
    CALLS[call](p, y)


def test_fit_on_a_tensor_dataset_of_a_parameter_is_refused_before_training():
    """mt.fit over TensorDataset(p, y): refused at the dataset, before any step; p and the model's
    weights are untouched."""
    p = mt.Parameter(np.random.default_rng(0).standard_normal((6, 3)))
    with pytest.raises(TypeError, match="TensorDataset"):
        mt.fit(mt.Linear(3, 4), mt.CrossEntropyLoss(), mt.SGD([p], lr=0.1),
               mt.DataLoader(mt.TensorDataset(p, np.zeros(6, dtype=np.int64)), batch_size=3),
               epochs=1, verbose=0, metrics=())


# ------------------------------------------------------------------ Diagnostics' stand-in step
class _TanhThenLinear(mt.Module):
    """A plain-chain composite (backward derived from the recorded chain) whose first child has no
    Parameters: Diagnostics walks its children as units."""

    def __init__(self) -> None:
        super().__init__()
        self.act = mt.Tanh()
        self.lin = mt.Linear(3, 4)

    def forward(self, x):
        return self.lin(self.act(x))


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("build", ["Sequential(ReLU, Linear)", "chain composite"])
def test_diagnostics_check_steps_give_a_parameter_batch_its_leaf_gradient(float64, kernels_on, build):
    """mt.fit on batches (p, y) with a Diagnostics callback checking every step: its stand-in
    forward/backward_params (walked unit by unit) fill p.grad as the model's own would, though the
    first unit has no Parameters (whose call the plain walk drops): p moves as under torch's loop."""
    from oracle import tensor, torch_twin

    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(4)
    if build == "chain composite":
        model = _TanhThenLinear()
        lin_t = torch_twin(model.lin)
        twin = lambda z: lin_t(torch.tanh(z))  # noqa: E731
        params_t = list(lin_t.parameters())
    else:
        model = mt.Sequential(mt.ReLU(), mt.Linear(3, 4))
        twin = torch_twin(model)
        params_t = list(twin.parameters())
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    opt = mt.SGD([p, *model.parameters()], lr=0.5)
    topt = torch.optim.SGD([p_t, *params_t], lr=0.5)
    mt.fit(model, mt.CrossEntropyLoss(), opt, [(p, y)], epochs=3, verbose=0, metrics=(),
           callbacks=[mt.Diagnostics(every=1, verbose=False)])
    for _ in range(3):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(twin(p_t), torch.tensor(y)).backward()
        topt.step()
    np.testing.assert_allclose(p.data, p_t.detach().numpy(), rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------ diagnostic passes change nothing
DIAGNOSTIC_PASSES = {
    "diagnose": lambda model, x, y: mt.diagnose(model, mt.CrossEntropyLoss(), x, y).loss,
    "explain": lambda model, x, y: mt.explain(model, x, y, mt.CrossEntropyLoss(), file=io.StringIO()),
    "plot.graph": lambda model, x, y: mt.plot.graph(model, (6, 3), x=x, y=y, loss_fn=mt.CrossEntropyLoss()),
}


@pytest.mark.parametrize("name", sorted(DIAGNOSTIC_PASSES))
def test_diagnostic_passes_on_a_parameter_input_leave_its_grad_alone(float64, name):
    """diagnose, explain and plot.graph promise to change nothing (gradients included): given a
    Parameter as the input (a fit batch), they read its data; its grad stays None (a gradient left
    there would be added to the next training step's) and the result is the one on p.data."""
    rng = np.random.default_rng(5)
    model = mt.Sequential(mt.Linear(3, 4), mt.ReLU(), mt.Linear(4, 4))
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    p = mt.Parameter(x.copy())
    on_array = DIAGNOSTIC_PASSES[name](model, x, y)
    assert DIAGNOSTIC_PASSES[name](model, p, y) == on_array
    assert p.grad is None
    np.testing.assert_array_equal(p.data, x)


@pytest.mark.filterwarnings("ignore:lr_find")  # (a short sweep's curve may be flat: not the point here)
def test_lr_find_puts_back_a_parameter_batch_its_optimizer_trains(float64):
    """lr_find promises the Parameters and their gradients as they were: a Parameter batch (a leaf)
    that the optimizer also holds is stepped by the sweep like the model's weights, and is put back
    bit for bit (the same array), its grad too."""
    rng = np.random.default_rng(6)
    model = mt.Sequential(mt.Linear(3, 8), mt.ReLU(), mt.Linear(8, 4))
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    p = mt.Parameter(x.copy())
    array = p.data
    opt = mt.SGD([p, *model.parameters()], lr=0.1)
    mt.lr_find(model, mt.CrossEntropyLoss(), opt, [(p, y)], num_iter=8, start_lr=1e-3, end_lr=1.0)
    assert p.data is array
    np.testing.assert_array_equal(p.data, x)
    assert p.grad is None


def test_inference_passes_read_a_parameter_as_its_data(float64):
    """predict, evaluate and fit's val_data run under no_grad, where a Parameter input is data (as
    torch's no_grad): their loaders take it as its array (the refusal above is for training data)."""
    rng = np.random.default_rng(7)
    model = mt.Sequential(mt.Linear(3, 8), mt.ReLU(), mt.Linear(8, 4))
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    p = mt.Parameter(x.copy())
    np.testing.assert_array_equal(mt.predict(model, p), mt.predict(model, x))
    loss_fn = mt.CrossEntropyLoss()
    assert mt.evaluate(model, loss_fn, p, y) == mt.evaluate(model, loss_fn, x, y)
    history = mt.fit(model, loss_fn, mt.SGD(model.parameters(), lr=0.0), [(x, y)], epochs=1, verbose=0,
                     metrics=(), val_data=(p, y))
    assert history.history["val_loss"] == [mt.evaluate(model, loss_fn, x, y)["loss"]]
    assert p.grad is None


def test_adding_a_leafs_none_by_hand_names_the_rule(float64):
    """A hand-written backward that still adds a child's returned gradient to a Parameter it gave the
    child (``self.h.accumulate_grad(self.lin.backward(dy))``) gets None (the child already filled
    h.grad): the ValueError says so, instead of only 'got shape ()'."""

    class LearnedInput(mt.Module):
        def __init__(self):
            super().__init__()
            self.h = mt.Parameter(np.ones((2, 3)))
            self.lin = mt.Linear(3, 4)

        def forward(self, x):
            return self.lin(self.h) + x

        def backward(self, dy):
            self.h.accumulate_grad(self.lin.backward(dy))  # the old hand-made leaf: counts it twice
            return dy

    model = LearnedInput()
    model(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"got None.*already in its grad"):
        model.backward(np.ones((2, 4)))
    np.testing.assert_allclose(model.h.grad, np.ones((2, 4)) @ model.lin.W.data.T)  # once, by lin
