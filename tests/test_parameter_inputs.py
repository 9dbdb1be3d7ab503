"""A Parameter given as a module's input is torch's leaf, for every module (minitorch/leaf_inputs.py).

torch's ``loss.backward()`` fills ``p.grad`` for a leaf p that requires grad, wherever p entered the
graph: the sum over every use. Here the module's backward that consumes the call adds the input's
gradient into ``p.grad`` and returns None in p's slot (a caller adding it again by hand fails
loudly instead of counting it twice); ``backward_params`` fills it too. Checked against torch 2.13
over every layer of the registries (tests/cases.py) and every loss, in composites (Sequential, the
encoder layer's residual + attention paths, user modules), under ``no_grad``, after a failed
forward, with the kernels on and off, and through ``mt.fit``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cases import INPUT_CASES, INPUT_ORACLE, MODULE_CASES, ORACLE
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import _flat, _map, tensor, torch_grads, torch_parameter_name, torch_twin
from test_losses import LOSS_CASES, make_data

import minitorch as mt

SINGLE = [c for c in MODULE_CASES if c[0] in ORACLE]
SEVERAL = [c for c in INPUT_CASES if c[0] in INPUT_ORACLE
           and any(np.asarray(a).dtype.kind == "f" for a in _flat(c[2](np.random.default_rng(0))))]
TOL = {"rtol": 1e-9, "atol": 1e-11}


def _close(ours, theirs, what):
    assert ours is not None, f"{what}: no gradient"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL)


def _torch_leaf_run(twin, inputs_t, dys, calls):
    """torch: ``calls`` forward + backward passes, each output weighted by its upstream gradient."""
    for _ in range(calls):
        out = twin(*inputs_t)
        flat = [t for t in _flat(out) if t is not None]
        torch.autograd.backward(flat, [tensor(d) for d in dys])
    return out


# ----------------------------------------------------------------------------- every layer, one input
@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(SINGLE), seed=st.integers(0, 2**16), calls=st.integers(1, 2),
       method=st.sampled_from(["backward", "backward_params"]), in_sequential=st.booleans())
def test_every_layer_gives_a_parameter_input_torchs_leaf_gradient(kernels_on, case, seed, calls,
                                                                  method, in_sequential):
    """y = m(p); m.backward(dy) (or backward_params), once or twice: p.grad is torch's x.grad after
    as many loss.backward() calls, the slot returned is None, every parameter's grad is torch's;
    also with m inside a Sequential (the chain kernel's case)."""
    mt.set_default_dtype(np.float64)  # (the autouse fixture puts float32 back)
    mt.kernels.use_kernels(kernels_on)
    _, factory, shape = case
    rng = np.random.default_rng(seed)
    module = factory()
    twin = torch_twin(module)
    x = rng.standard_normal(shape)
    p = mt.Parameter(x.copy())
    x_t = tensor(x, requires_grad=True)
    y_t = twin(x_t)
    dy = rng.standard_normal(tuple(y_t.shape))
    _torch_leaf_run(twin, (x_t,), [dy], calls)
    model = mt.Sequential(module) if in_sequential else module
    for _ in range(calls):
        y = model(p)
        np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
        assert getattr(model, method)(dy) is None
    _close(p.grad, x_t.grad.numpy(), f"{case[0]}: p.grad")
    for name, g in torch_grads(module, twin).items():
        _close(dict(module.named_parameters())[name].grad, g, name)


# --------------------------------------------------------------------- several inputs (sequences, attention)
@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(SEVERAL), seed=st.integers(0, 2**16), calls=st.integers(1, 2),
       method=st.sampled_from(["backward", "backward_params"]), data=st.data())
def test_several_input_layers_give_each_parameter_input_its_leaf_gradient(kernels_on, case, seed,
                                                                          calls, method, data):
    """RNN/LSTM/GRU (x, h0 or (h0, c0)), the cells, attention (query, key, value), MaxUnpool2d:
    any subset of the floating inputs given as Parameters (an item of the (h0, c0) pair too): each
    gets torch's leaf gradient, its slot of the returned gradients is None, the others are
    returned as before."""
    mt.set_default_dtype(np.float64)  # (the autouse fixture puts float32 back)
    mt.kernels.use_kernels(kernels_on)
    _, factory, make_inputs = case
    rng = np.random.default_rng(seed)
    module = factory()
    inputs = make_inputs(rng)
    floating = [i for i, a in enumerate(_flat(inputs)) if np.asarray(a).dtype.kind == "f"]
    chosen = set(data.draw(st.lists(st.sampled_from(floating), min_size=1, unique=True)))
    counter = iter(range(len(_flat(inputs))))
    ours = _map(lambda a: mt.Parameter(a.copy()) if next(counter) in chosen else a, inputs)
    twin = torch_twin(module)
    inputs_t = _map(lambda a: torch.tensor(np.asarray(a), requires_grad=np.asarray(a).dtype.kind == "f"),
                    inputs)
    probe = twin(*inputs_t)
    dys = [rng.standard_normal(tuple(t.shape)) for t in _flat(probe) if t is not None]
    for t in _flat(inputs_t):  # (the probe's graph is dropped: only the runs below count)
        t.grad = None
    _torch_leaf_run(twin, inputs_t, dys, calls)
    for _ in range(calls):
        out = module(*ours)
        upstream = iter(dys)
        grad = _map(lambda t, given=upstream: next(given), out)
        result = getattr(module, method)(grad)
    if method == "backward_params":
        assert result is None
    else:
        result = (result,) if len(ours) == 1 else result
        for a, g, t in zip(_flat(ours), _flat(result), _flat(inputs_t), strict=True):
            if isinstance(a, mt.Parameter):
                assert g is None, "a leaf's slot must be None"
            elif t.requires_grad:
                _close(g, t.grad.numpy() / calls, "returned gradient")  # the last call's own
    for a, t in zip(_flat(ours), _flat(inputs_t), strict=True):
        if isinstance(a, mt.Parameter):
            _close(a.grad, t.grad.numpy(), f"{case[0]}: leaf grad")
    theirs = dict(twin.named_parameters())
    for name, p in module.named_parameters():
        torch_name, transpose = torch_parameter_name(module, name)  # a Linear's W is torch's weight.T
        g = theirs[torch_name].grad.numpy()
        _close(p.grad, g.T if transpose else g, name)


# ------------------------------------------------------------------------------------------ losses
@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(LOSS_CASES), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=st.integers(0, 2**16))
def test_a_loss_input_parameter_gets_torchs_leaf_gradient(case, reduction, seed):
    mt.set_default_dtype(np.float64)  # (the autouse fixture puts float32 back)
    _, ours, theirs, kind = case
    x, target = make_data(kind, np.random.default_rng(seed))
    loss_fn, p = ours(reduction), mt.Parameter(x.copy())
    x_t = tensor(x, requires_grad=True)
    t_t = torch.tensor(target) if target.dtype.kind in "iu" else tensor(target)
    value_t = theirs(reduction)(x_t, t_t)
    dloss = np.random.default_rng(seed).standard_normal(tuple(value_t.shape)) if reduction == "none" else 1.0
    value_t.backward(tensor(np.asarray(dloss)))
    loss_fn(p, target)
    assert loss_fn.backward(dloss) is None
    _close(p.grad, x_t.grad.numpy(), f"{case[0]}: p.grad")


@pytest.mark.parametrize("case", [c for c in LOSS_CASES if not c[3].endswith("index")], ids=lambda c: c[0])
def test_a_loss_target_parameter_that_requires_grad_is_refused(case):
    """torch would fill target.grad; a loss's backward returns dinput only: a TypeError at forward,
    naming the loss and the fix, before anything is kept. A frozen target, or under no_grad, is data."""
    _, ours, _, kind = case
    x, target = make_data(kind, np.random.default_rng(0))
    loss_fn = ours("mean")
    with pytest.raises(TypeError, match=rf"{type(loss_fn).__name__}: 'target' is a Parameter that requires "
                                        r"grad.*p\.data"):
        loss_fn(x, mt.Parameter(target))
    assert not loss_fn.__dict__["_stack"]
    want = float(loss_fn(x, target))
    loss_fn.backward()
    assert float(loss_fn(x, mt.Parameter(target, requires_grad=False))) == pytest.approx(want, rel=1e-12)
    loss_fn.backward()
    with mt.no_grad():
        assert float(loss_fn(x, mt.Parameter(target))) == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------------------- composites
@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("stack", [False, True], ids=["layer", "encoder"])
def test_encoder_src_parameter_gets_the_total_of_residual_and_attention(float64, kernels_on, norm_first,
                                                                        stack):
    """src a Parameter: torch's src.grad sums the residual path and self-attention's query, key and
    value; MiniTorch gives that total once, at the level src was given (the layer's backward returns
    None); a learned float src_mask (trained by self_attn) gets torch's gradient too."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(3)
    layer = mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first)
    for q in layer.parameters():
        q.data[...] = rng.uniform(-1, 1, q.shape)
    module = mt.TransformerEncoder(layer, 2) if stack else layer
    twin = torch_twin(module)
    x, mask = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 3))
    src, learned = mt.Parameter(x.copy()), mt.Parameter(mask.copy())
    x_t, mask_t = tensor(x, requires_grad=True), tensor(mask, requires_grad=True)
    y_t = twin(x_t, mask_t)
    dy = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(tensor(dy))
    y = module(src, learned)
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    assert module.backward(dy) is None
    _close(src.grad, x_t.grad.numpy(), "src.grad")
    _close(learned.grad, mask_t.grad.numpy(), "src_mask.grad")


class Residual(mt.Module):
    """y = x + lin(x), its backward written: dx = dy + lin.backward(dy)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = mt.Linear(3, 3)

    def forward(self, x):
        return x + self.lin(x)

    def backward(self, dy):
        return dy + self.lin.backward(dy)


class Chain(mt.Module):
    """A user module without a backward: its plain chain is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b = mt.Linear(3, 4), mt.Tanh(), mt.Linear(4, 3)

    def forward(self, x):
        return self.b(self.act(self.a(x)))


class Add(mt.Module):
    """a + b: two inputs, backward returns (da, db)."""

    def forward(self, a, b):
        return np.asarray(a) + np.asarray(b)

    def backward(self, dy):
        return dy, dy


def _torch_of(module):
    """The torch function of Residual / Chain with the same weights."""
    if isinstance(module, Residual):
        lin = torch_twin(module.lin)
        return lambda x: x + lin(x), [lin]
    a, b = torch_twin(module.a), torch_twin(module.b)
    return lambda x: b(torch.tanh(a(x))), [a, b]


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("kind", [Residual, Chain])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_user_module_passes_its_parameter_input_to_children_once(float64, kernels_on, kind, method):
    """A user module (its own backward with a residual sum, or a recorded chain) given a Parameter:
    p.grad is torch's total, the children see its data (none returns None to the parent), the
    module's slot is None; in a Sequential too."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(5)
    module = kind()
    f, _ = _torch_of(module)
    x, dy = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x_t = tensor(x, requires_grad=True)
    (f(x_t) * tensor(dy)).sum().backward()
    for model in (module, mt.Sequential(module)):
        p = mt.Parameter(x.copy())
        model.zero_grad()
        model(p)
        assert getattr(model, method)(dy) is None
        _close(p.grad, x_t.grad.numpy(), "p.grad")


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("first", ["ReLU", "Flatten", "nested"])
def test_sequential_with_a_parameter_free_first_child_still_fills_the_leaf(float64, kernels_on, method,
                                                                           first):
    """backward_params skips the parameter-free children below the first layer with parameters (their
    dx reaches only the data): not when the chain's input is a leaf, whose gradient needs them."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(6)
    head = {"ReLU": mt.ReLU(), "Flatten": mt.Flatten(), "nested": mt.Sequential(mt.Tanh(), mt.ReLU())}[first]
    model = mt.Sequential(head, mt.Linear(4, 5), mt.ReLU(), mt.Linear(5, 2))
    x, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    model(x)
    want = model.backward(dy)
    grads = [q.grad.copy() for q in model.parameters()]
    model.zero_grad()
    p = mt.Parameter(x.copy())
    model(p)
    assert getattr(model, method)(dy) is None
    np.testing.assert_array_equal(p.grad, want)
    for q, g in zip(model.parameters(), grads, strict=True):
        np.testing.assert_array_equal(q.grad, g)


def test_the_same_parameter_in_two_slots_and_two_calls_sums(float64):
    """add(p, p): p.grad = 2 dy, both slots None; lin(p) twice, two backwards: the sum."""
    rng = np.random.default_rng(1)
    p, dy = mt.Parameter(rng.standard_normal((2, 3))), rng.standard_normal((2, 3))
    add = Add()
    add(p, p)
    assert add.backward(dy) == (None, None)
    np.testing.assert_array_equal(p.grad, 2 * dy)
    lin, q = mt.Linear(3, 2), mt.Parameter(rng.standard_normal((2, 3)))
    lin(q)
    lin(q)
    d1, d2 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    assert lin.backward(d1) is None and lin.backward(d2) is None
    np.testing.assert_allclose(q.grad, (d1 + d2) @ lin.W.data.T, rtol=1e-12)


def test_backward_params_and_backward_input_fill_the_leaf(float64):
    """torch's loss.backward() fills every leaf: backward_params fills p.grad with the layer's
    parameters frozen; backward_input fills p.grad and leaves the parameters' grads alone."""
    rng = np.random.default_rng(2)
    lin, x, dy = mt.Linear(3, 2), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    lin.requires_grad_(False)
    p = mt.Parameter(x.copy())
    lin(p)
    assert lin.backward_params(dy) is None
    np.testing.assert_allclose(p.grad, dy @ lin.W.data.T, rtol=1e-12)
    lin.requires_grad_(True)
    p.grad = None
    lin(p)
    assert lin.backward_input(dy) is None
    np.testing.assert_allclose(p.grad, dy @ lin.W.data.T, rtol=1e-12)
    assert lin.W.grad is None and lin.b.grad is None


def test_no_grad_frozen_and_failed_forwards_leave_p_alone(float64):
    """Under no_grad nothing is kept (the Parameter is data); a frozen Parameter is data (dx is
    returned); a forward that raises keeps nothing and the next call is a leaf as usual; a refused
    dy leaves the call waiting with its leaf, and the retry fills it once."""
    rng = np.random.default_rng(3)
    lin, x, dy = mt.Linear(3, 2), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    p = mt.Parameter(x.copy())
    with mt.no_grad():
        np.testing.assert_array_equal(lin(p), lin(x))
    with pytest.raises(RuntimeError, match="no forward call is waiting"):
        lin.backward(dy)
    frozen = mt.Parameter(x.copy(), requires_grad=False)
    lin(frozen)
    np.testing.assert_allclose(lin.backward(dy), dy @ lin.W.data.T, rtol=1e-12)
    assert frozen.grad is None
    with pytest.raises(ValueError):
        lin(mt.Parameter(rng.standard_normal((4, 5))))
    assert not lin.__dict__["_stack"]
    lin(p)
    with pytest.raises(ValueError):
        lin.backward(np.ones((4, 5)))
    assert p.grad is None
    assert lin.backward(dy) is None
    np.testing.assert_allclose(p.grad, dy @ lin.W.data.T, rtol=1e-12)


class TwoInputsOneGradient(mt.Module):
    """forward(x, scale) with a backward that returns dx only (scale gets no gradient)."""

    def forward(self, x, scale):
        self._scale = np.asarray(scale)
        return np.asarray(x) * self._scale

    def backward(self, dy):
        return dy * self._scale


class KeywordOnly(mt.Module):
    def forward(self, x, *, shift):
        return np.asarray(x) + np.asarray(shift)

    def backward(self, dy):
        return dy


def test_a_leaf_whose_gradient_the_backward_does_not_give_raises(float64):
    """Never a silent None gradient where torch gives one: a backward returning fewer gradients than
    the leaves need raises RuntimeError naming the module and the fix; a keyword-only Parameter (no
    gradient slot) and a leaf nested two tuples deep are TypeErrors at forward."""
    m = TwoInputsOneGradient()
    m(np.ones(3), mt.Parameter(np.full(3, 2.0)))
    with pytest.raises(RuntimeError, match=r"TwoInputsOneGradient.backward: input 1 .*returned no gradient"):
        m.backward(np.ones(3))
    with pytest.raises(TypeError, match=r"KeywordOnly: 'shift' is a Parameter that requires grad"):
        KeywordOnly()(np.ones(3), shift=mt.Parameter(np.ones(3)))
    with pytest.raises(TypeError, match="inside a tuple inside a tuple"):
        mt.LSTM(2, 3)(np.ones((4, 1, 2)), ((mt.Parameter(np.ones((1, 1, 3))),), np.ones((1, 1, 3))))


def test_learned_initial_state_and_keyword_inputs(float64):
    """lstm(x, hx=(h0, c0)) with h0 a Parameter passed by keyword, mha(query=q, key=x, value=x): the
    keyword inputs are the same slots as the positional ones."""
    rng = np.random.default_rng(4)
    lstm, x = mt.LSTM(2, 3), rng.standard_normal((4, 1, 2))
    h0, c0 = rng.standard_normal((1, 1, 3)), rng.standard_normal((1, 1, 3))
    out, _ = lstm(x, (h0, c0))
    dout = rng.standard_normal(out.shape)
    dx, (dh0, dc0) = lstm.backward(dout)
    p = mt.Parameter(h0.copy())
    lstm(x, hx=(p, c0))
    got_dx, (none, got_dc0) = lstm.backward(dout)
    assert none is None
    np.testing.assert_array_equal(p.grad, dh0)
    np.testing.assert_array_equal(got_dx, dx)
    np.testing.assert_array_equal(got_dc0, dc0)
    mha, q = mt.MultiheadAttention(4, 2, batch_first=True), rng.standard_normal((2, 3, 4))
    kv = rng.standard_normal((2, 5, 4))
    y, _ = mha(q, kv, kv)
    dq = mha.backward(np.ones_like(y))[0]
    leaf = mt.Parameter(q.copy())
    mha(query=leaf, key=kv, value=kv)
    assert mha.backward(np.ones_like(y))[0] is None
    np.testing.assert_array_equal(leaf.grad, dq)


class LearnedInput(mt.Module):
    """y = encoder(self.memory) + lin(x): a registered Parameter fed to a child as its input."""

    def __init__(self, encoder, shape):
        super().__init__()
        self.encoder, self.lin = encoder, mt.Linear(shape[-1], shape[-1])
        self.memory = mt.Parameter(np.random.default_rng(8).standard_normal(shape))

    def forward(self, x):
        return self.encoder(self.memory) + self.lin(x)

    def backward(self, dy):
        assert self.encoder.backward(dy) is None  # went to self.memory.grad
        return self.lin.backward(dy)


@pytest.mark.parametrize("encoder", ["TransformerEncoderLayer", "MLP", "LayerNorm"])
def test_gradcheck_a_parameter_fed_to_a_child(float64, encoder):
    """float64 central differences on every element of the Parameter fed as a child's input."""
    child = {"TransformerEncoderLayer": lambda: mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0,
                                                                           batch_first=True),
             "MLP": lambda: mt.Sequential(mt.Linear(4, 5), mt.Tanh(), mt.Linear(5, 4)),
             "LayerNorm": lambda: mt.LayerNorm(4)}[encoder]()
    model = LearnedInput(child, (2, 3, 4))
    assert mt.gradcheck(model, np.random.default_rng(9).standard_normal((2, 3, 4)))


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_fit_trains_a_parameter_batch_as_torchs_loop(float64, kernels_on):
    """mt.fit on batches (p, y), the optimizer holding p too: each step's backward fills p.grad, as
    torch's loop (out = model(p); loss.backward(); opt.step()) does; p and the weights move alike."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(10)
    model = mt.Sequential(mt.Linear(3, 8), mt.ReLU(), mt.Linear(8, 4))
    twin = torch_twin(model)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    opt = mt.SGD([p, *model.parameters()], lr=0.2)
    topt = torch.optim.SGD([p_t, *twin.parameters()], lr=0.2)
    mt.fit(model, mt.CrossEntropyLoss(), opt, [(p, y)], epochs=4, verbose=0, metrics=())
    for _ in range(4):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(twin(p_t), torch.tensor(y)).backward()
        topt.step()
    _close(p.data, p_t.detach().numpy(), "p after fit")
    assert np.abs(p.data - x).max() > 1e-3


def test_a_packed_call_gives_a_parameter_h0_torchs_gradient(float64):
    """lstm(packed, (h0, c0)) with h0 a Parameter: h0.grad is torch's, the slot (dpacked, (None, dc0))."""
    rng = np.random.default_rng(11)
    lstm, x = mt.LSTM(2, 3), rng.standard_normal((4, 2, 2))
    h0, c0 = mt.Parameter(rng.standard_normal((1, 2, 3))), rng.standard_normal((1, 2, 3))
    out, _ = lstm(mt.pack_padded_sequence(x, [4, 2]), (h0, c0))
    dout = rng.standard_normal(out.data.shape)
    dpacked, (none, dc0) = lstm.backward(dout)
    assert none is None and dc0 is not None and dpacked is not None
    twin = torch_twin(lstm)
    h0_t = tensor(h0.data, requires_grad=True)
    out_t, _ = twin(torch.nn.utils.rnn.pack_padded_sequence(tensor(x), [4, 2]), (h0_t, tensor(c0)))
    out_t.data.backward(tensor(dout))
    _close(h0.grad, h0_t.grad.numpy(), "h0.grad")


@pytest.mark.parametrize("call", ["PackedSequence", "pack_padded_sequence", "pad_sequence", "pack_sequence"])
def test_packing_functions_refuse_a_parameter_that_requires_grad(call):
    """Functions, not modules: they have no backward, so a Parameter requiring grad would lose its
    gradient (torch's packing passes it on): a TypeError naming the function and the fix; a frozen
    Parameter is data."""
    def run(wrap):
        if call == "PackedSequence":
            return mt.rnn_utils.PackedSequence(wrap(np.ones((3, 2))), np.array([1, 1, 1]))
        if call == "pack_padded_sequence":
            return mt.pack_padded_sequence(wrap(np.ones((3, 2, 2))), [3, 2])
        return getattr(mt, call)([wrap(np.ones((3, 2))), np.ones((2, 2))])

    with pytest.raises(TypeError, match=rf"{call}: got a Parameter that requires grad.*p\.data"):
        run(mt.Parameter)
    frozen = run(lambda a: mt.Parameter(a, requires_grad=False))
    np.testing.assert_array_equal(_flat(frozen)[0], _flat(run(np.asarray))[0])


class ScaledPair(mt.Module):
    """forward(pair) = pair.a * pair.b for a named tuple pair; backward returns (da, db)."""

    def forward(self, pair):
        assert type(pair).__name__ == "Pair"  # the named tuple reaches forward as one
        self._a, self._b = np.asarray(pair.a), np.asarray(pair.b)
        return self._a * self._b

    def backward(self, dy):
        return dy * self._b, dy * self._a


def test_a_leaf_inside_a_named_tuple_input(float64):
    """One input, a named tuple holding a Parameter: the tuple keeps its type (its leaf replaced by
    the data), the Parameter gets its item's gradient, the returned pair holds None there."""
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    rng = np.random.default_rng(12)
    a, b, dy = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    p = mt.Parameter(a.copy())
    m = ScaledPair()
    m(Pair(p, b))
    da, db = m.backward(dy)
    assert da is None
    np.testing.assert_array_equal(p.grad, dy * b)
    np.testing.assert_array_equal(db, dy * a)


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("case", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_every_registered_module_gives_the_leaf_the_gradient_it_returns_for_an_array(kernels_on, case):
    """Every case of the registry, those without a torch twin too (dropout while training, the
    encoder layers), in its float32: with the same random draws, p.grad after m(p); m.backward(dy)
    is bit for bit the dx that m(x); m.backward(dy) returns, and the backward returns None."""
    mt.kernels.use_kernels(kernels_on)
    _, factory, shape = case
    module = factory()
    rng = np.random.default_rng(13)
    x = rng.standard_normal(shape).astype(np.float32)
    mt.manual_seed(1)
    y = module(x)
    dy = rng.standard_normal(y.shape).astype(y.dtype)
    dx = module.backward(dy)
    p = mt.Parameter(x.copy())
    mt.manual_seed(1)
    np.testing.assert_array_equal(module(p), y)
    assert module.backward(dy) is None
    np.testing.assert_array_equal(p.grad, dx)
