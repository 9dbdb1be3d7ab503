"""Edges of the Parameter-input rule (minitorch/leaf_inputs.py, call_frames._leaf_backward): a refused
backward that changes nothing, a module with backward_params alone, gradcheck of a leaf, a None input
given by position or by keyword, and a Parameter in several roles at once; torch 2.13 as the oracle.

torch's ``loss.backward()`` fills ``p.grad`` for a leaf p (the sum over every use) and leaves every
grad alone when it raises. MiniTorch's backward that consumes a call given p adds p's gradient into
``p.grad`` and returns None in p's slot; one that is refused leaves the call waiting and every grad
as it was, so the retry gives torch's gradients once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import tensor

import minitorch as mt
from minitorch import call_frames
from minitorch.leaf_inputs import LEAVES

TOL = {"rtol": 1e-10, "atol": 1e-12}
KERNELS = pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])


def _close(ours, theirs, what):
    assert ours is not None, f"{what}: no gradient"
    np.testing.assert_allclose(ours, np.asarray(theirs), err_msg=what, **TOL)


# ------------------------------------------------------------------ 1. a refused backward changes nothing
class Scaled(mt.Module):
    """y = lin(x) * scale * w + inner(memory): its own Parameter w, a child lin, and a child inner given
    the module's own Parameter memory (inner's leaf). Its backward returns dx only: no gradient for
    scale, so a Parameter scale is refused after the children's backwards ran."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(5)
        self.lin, self.inner = mt.Linear(3, 3), mt.Linear(3, 3)
        self.w = mt.Parameter(rng.standard_normal(3))
        self.memory = mt.Parameter(rng.standard_normal((2, 3)))

    def forward(self, x, scale):
        self._scale, self._h = np.asarray(scale), self.lin(x)
        return self._h * self._scale * self.w.data + self.inner(self.memory)

    def backward(self, dy):
        self.w.accumulate_grad((dy * self._h * self._scale).sum(axis=0))
        assert self.inner.backward(dy) is None  # memory is inner's leaf: its gradient is in its grad
        return self.lin.backward(dy * self._scale * self.w.data)


class FixedScaled(Scaled):
    """Scaled whose backward also returns scale's gradient (dx, dscale)."""

    def backward(self, dy):
        dscale = (dy * self._h * self.w.data).sum(axis=0)
        return super().backward(dy), dscale


def _torch_scaled(m, x, scale, dy):
    """torch's gradients of sum(dy * y) for Scaled's y, every Parameter of m and scale a leaf."""
    W, b, Wi, bi, w, mem, s = (tensor(a, requires_grad=True) for a in (
        m.lin.W.data, m.lin.b.data, m.inner.W.data, m.inner.b.data, m.w.data, m.memory.data, scale))
    y = (tensor(x) @ W + b) * s * w + (mem @ Wi + bi)
    (y * tensor(dy)).sum().backward()
    return {"lin.W": W.grad, "lin.b": b.grad, "inner.W": Wi.grad, "inner.b": bi.grad, "w": w.grad,
            "memory": mem.grad, "scale": s.grad}


def _grads(m, scale):
    found = {name: p.grad for name, p in m.named_parameters()}
    found["scale"] = scale.grad
    return found


@KERNELS
@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("earlier", [False, True], ids=["grads-None", "grads-held"])
def test_a_refused_leaf_leaves_every_grad_and_every_waiting_call(float64, kernels_on, method, earlier):
    """Scaled(x, scale=Parameter) refused (no gradient for scale): every grad (its own w, its children's,
    the child's leaf memory, scale) is what it was, the same arrays; the call waits with its leaf and
    so do its children's calls, so the retry (the class given scale's gradient) adds torch's gradients
    once."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(6)
    m, x, dy = Scaled(), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    scale = mt.Parameter(rng.standard_normal(3))
    if earlier:  # gradients accumulated before (a step of accumulation): kept, values and arrays
        for p in (*m.parameters(), scale):
            p.grad = rng.standard_normal(p.data.shape)
    before = {k: (g, None if g is None else g.copy()) for k, g in _grads(m, scale).items()}
    m(x, scale)
    with pytest.raises(RuntimeError, match=r"Scaled\.backward.*: input 1 .*returned no gradient"):
        getattr(m, method)(dy)
    for name, g in _grads(m, scale).items():
        array, values = before[name]
        assert g is array, name
        if values is not None:
            np.testing.assert_array_equal(g, values, err_msg=name)
    assert len(m.__dict__["_stack"]) == 1 and LEAVES in m.__dict__["_stack"][-1]
    assert len(m.inner.__dict__["_stack"]) == 1 and LEAVES in m.inner.__dict__["_stack"][-1]
    assert len(m.lin.__dict__["_stack"]) == 1
    m.__class__ = FixedScaled
    ret = getattr(m, method)(dy)
    if method == "backward_params":
        assert ret is None
    else:
        assert ret[1] is None and ret[0].shape == x.shape
    expected = _torch_scaled(m, x, scale.data, dy)
    for name, g in _grads(m, scale).items():
        held = before[name][1]
        _close(g, expected[name].numpy() + (0 if held is None else held), name)
    for child in (m, m.lin, m.inner):
        assert not child.__dict__["_stack"]


class WrongShape(mt.Module):
    """forward(x, y) -> x + y with a backward that gives y's gradient the wrong shape."""

    def __init__(self) -> None:
        super().__init__()
        self.w = mt.Parameter(np.ones(3))

    def forward(self, x, y):
        return np.asarray(x) + np.asarray(y) * self.w.data

    def backward(self, dy):
        self.w.accumulate_grad(dy.sum(axis=0))
        return dy, dy.sum(axis=0)


def test_a_leaf_gradient_of_the_wrong_shape_is_refused_before_any_leaf_gets_one(float64):
    """Two leaves, the second's gradient of the wrong shape: neither leaf nor w gets anything (the
    first leaf's gradient is not added before the second is found wrong)."""
    m = WrongShape()
    a, b = mt.Parameter(np.ones((2, 3))), mt.Parameter(np.ones((2, 3)))
    m(a, b)
    with pytest.raises(RuntimeError, match=r"input 1 .*shape \(3,\) \(expected \(2, 3\)\)"):
        m.backward(np.ones((2, 3)))
    assert a.grad is None and b.grad is None and m.w.grad is None
    assert LEAVES in m.__dict__["_stack"][-1]


def test_library_layers_give_leaves_without_keeping_grads(float64, monkeypatch):
    """The per-call path of the library's own layers given a Parameter keeps no copy of any grad (a
    refusal comes before they add anything): ``_Undo`` is never built for them."""

    def no_undo(*_):
        raise AssertionError("a library layer's leaf call kept grads")

    monkeypatch.setattr(call_frames, "_Undo", no_undo)
    rng = np.random.default_rng(7)
    p = mt.Parameter(rng.standard_normal((2, 4)))
    for m in (mt.Linear(4, 3), mt.TransformerEncoderLayer(4, 2, 6, dropout=0.0), mt.LayerNorm(4)):
        m.zero_grad()
        y = m(p)
        assert m.backward(np.ones_like(y)) is None


# ------------------------------------------------------------------ 2. backward_params alone
class OnlyParams(mt.Module):
    """y = x * w with backward_params alone (no input gradient anywhere)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = mt.Parameter(np.full(3, 2.0))

    def forward(self, x):
        self._x = np.asarray(x)
        return self._x * self.w.data

    def backward_params(self, dy):
        self.w.accumulate_grad((dy * self._x).sum(axis=0))


class ForwardOnly(mt.Module):
    def forward(self, x):
        return np.asarray(x) * 2.0


@pytest.mark.parametrize("cls", [OnlyParams, ForwardOnly])
@pytest.mark.parametrize("by_keyword", [False, True], ids=["positional", "keyword"])
def test_a_module_without_an_input_backward_refuses_a_leaf_naming_it(cls, by_keyword):
    """Given a Parameter that requires grad, a module whose backward cannot return an input gradient
    is a TypeError at forward naming the module, the input and the fix; nothing waits, nothing
    changes; as data (p.data, requires_grad=False, no_grad) it runs."""
    m, p = cls(), mt.Parameter(np.ones((2, 3)))
    with pytest.raises(TypeError, match=rf"{cls.__name__}: 'x' is a Parameter that requires grad, and "
                                        rf"{cls.__name__} defines no backward\(dy\).*p\.data.*define "
                                        r"backward\(dy\)"):
        m(x=p) if by_keyword else m(p)
    assert not m.__dict__["_stack"] and p.grad is None
    m(p.data)
    with mt.no_grad():
        m(p)
    if cls is OnlyParams:
        m.backward_params(np.ones((2, 3)))
        np.testing.assert_array_equal(m.w.grad, np.full(3, 2.0))


class ParamsOnlyChain(mt.Module):
    """A chain of children with backward_params of its own: Module.backward follows the chain."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = mt.Linear(3, 4), mt.Linear(4, 2)

    def forward(self, x):
        return self.b(self.a(x))

    def backward_params(self, dy):
        self.a.backward_params(self.b.backward(dy))


@KERNELS
def test_backward_params_alone_over_a_chain_still_fills_a_leaf(float64, kernels_on):
    """With children to follow (its inherited backward is their chain), the module takes the leaf and
    its backward_params fills p.grad as torch does."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(8)
    m, x, dy = ParamsOnlyChain(), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    p = mt.Parameter(x.copy())
    m(p)
    assert m.backward_params(dy) is None
    xt = tensor(x, requires_grad=True)
    ((xt @ tensor(m.a.W.data) + tensor(m.a.b.data)) @ tensor(m.b.W.data) + tensor(m.b.b.data)
     ).mul(tensor(dy)).sum().backward()
    _close(p.grad, xt.grad, "p")


# ------------------------------------------------------------------ 3. gradcheck of a leaf
class LearnedBias(mt.Module):
    """y = lin(x) + bias, bias given by keyword and trained here (``_leaf_keywords``); ``factor``
    scales its gradient (1: right)."""

    _leaf_keywords = ("bias",)

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.lin, self.factor = mt.Linear(3, 2), factor

    def forward(self, x, bias=None):
        self._bias = (bias,)  # (a Parameter assigned alone would register as the module's own)
        return self.lin(x) + (0.0 if bias is None else np.asarray(bias))

    def backward(self, dy):
        if isinstance(self._bias[0], mt.Parameter):
            self._bias[0].accumulate_grad(self.factor * dy.sum(axis=0))
        return self.lin.backward(dy)


def test_gradcheck_checks_a_keyword_leaf_a_module_trains(float64):
    """A Parameter given by keyword to an argument the module trains itself is differentiated: its
    gradient (the one in its grad) against central differences; a wrong one is a GradcheckError
    naming it."""
    rng = np.random.default_rng(9)
    x, bias = rng.standard_normal((4, 3)), mt.Parameter(rng.standard_normal(2))
    assert mt.gradcheck(LearnedBias(), x, bias=bias)
    with pytest.raises(mt.GradcheckError, match=r"LearnedBias gradient of bias at index"):
        mt.gradcheck(LearnedBias(factor=1.5), x, bias=bias)


class BadMaskAttention(mt.MultiheadAttention):
    """MultiheadAttention whose learned masks get 1.5 times their gradient."""

    def _accumulate_mask_grads(self, ds):
        super()._accumulate_mask_grads(1.5 * ds)


@pytest.mark.parametrize("mask", ["attn_mask", "key_padding_mask"])
def test_gradcheck_checks_a_learned_attention_mask(float64, mask):
    """MultiheadAttention's learned float mask by keyword is gradchecked (a wrong mask gradient is
    caught by name), and p, its data and its grad (held before) are as they were after gradcheck."""
    rng = np.random.default_rng(10)
    q = rng.standard_normal((2, 3, 4))
    shape = (3, 3) if mask == "attn_mask" else (2, 3)
    p = mt.Parameter(rng.standard_normal(shape))
    p.grad = rng.standard_normal(shape)
    data, grad, array = p.data.copy(), p.grad.copy(), p.grad
    assert mt.gradcheck(mt.MultiheadAttention(4, 2, batch_first=True), q, q, q, **{mask: p})
    with pytest.raises(mt.GradcheckError, match=rf"gradient of {mask} at index"):
        mt.gradcheck(BadMaskAttention(4, 2, batch_first=True), q, q, q, **{mask: p})
    np.testing.assert_array_equal(p.data, data)
    assert p.grad is array
    np.testing.assert_array_equal(p.grad, grad)


class Doubled(mt.Module):
    """forward(x) = 2 x with a wrong backward (3 dy): caught whether x is an array or a leaf."""

    def forward(self, x):
        return 2.0 * np.asarray(x)

    def backward(self, dy):
        return 3.0 * dy


def test_gradcheck_of_a_parameter_input_and_of_a_layers_own_weight(float64):
    """gradcheck(m, p): p's gradient is checked where it goes (its grad), p's float32 data and its
    grad are unchanged; lin(lin.W): W's one gradient (its weight path plus its input path, the sum
    torch gives) is checked, a wrong backward caught by the input's name."""
    rng = np.random.default_rng(11)
    p = mt.Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    data = p.data.copy()
    assert mt.gradcheck(mt.Linear(3, 3), p)
    assert p.grad is None and p.data.dtype == np.float32
    np.testing.assert_array_equal(p.data, data)
    with pytest.raises(mt.GradcheckError, match=r"Doubled gradient of input at index"):
        mt.gradcheck(Doubled(), p)
    lin = mt.Linear(3, 3)
    assert mt.gradcheck(lin, lin.W)
    assert lin.W.grad is None


def test_gradcheck_of_one_parameter_in_three_slots(float64):
    """mha(p, p, p): one leaf, its gradient the sum of the three paths, checked as one."""
    p = mt.Parameter(np.random.default_rng(12).standard_normal((2, 3, 4)))
    assert mt.gradcheck(mt.MultiheadAttention(4, 2, batch_first=True), p, p, p)


# ------------------------------------------------------------------ 4. a None input by position or keyword
class PairState(mt.Module):
    """forward(state, scale=None) with state a pair (h, c): one input, its gradient (dh, dc)."""

    def forward(self, state, scale=None):
        self._h, self._c = (np.asarray(a) for a in state)
        return self._h * self._c * (1.0 if scale is None else scale)

    def backward(self, dy):
        return dy * self._c, dy * self._h


class FixedArity(mt.Module):
    """forward(x, h=None) -> x * w (+ h): its backward always returns (dx, dh), dh None without h."""

    def __init__(self) -> None:
        super().__init__()
        self.w = mt.Parameter(np.array([1.5, -2.0, 0.5]))

    def forward(self, x, h=None):
        self._given = h is not None
        return np.asarray(x) * self.w.data + (0.0 if h is None else np.asarray(h))

    def backward(self, dy):
        return dy * self.w.data, (dy if self._given else None)


@pytest.mark.parametrize("call", ["positional", "keyword", "absent"])
def test_a_pair_input_with_a_none_beside_it(float64, call):
    """PairState((h, c), None): one pair gradient, read as such whether None came by position or by
    keyword (by position it counted as a second input and the pair was refused)."""
    rng = np.random.default_rng(13)
    h, c = mt.Parameter(rng.standard_normal(3)), mt.Parameter(rng.standard_normal(3))
    dy = rng.standard_normal(3)
    m = PairState()
    {"positional": lambda: m((h, c), None), "keyword": lambda: m((h, c), scale=None),
     "absent": lambda: m((h, c))}[call]()
    assert m.backward(dy) == (None, None)
    ht, ct = tensor(h.data, requires_grad=True), tensor(c.data, requires_grad=True)
    (ht * ct * tensor(dy)).sum().backward()
    _close(h.grad, ht.grad, "h")
    _close(c.grad, ct.grad, "c")


@pytest.mark.parametrize("call", ["positional", "keyword", "absent"])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_fixed_arity_backward_with_a_none_input(float64, call, method):
    """FixedArity(p, None) / (p, h=None) / (p): its backward's (dx, None) gives p dx wherever None came
    from (by keyword, the call counted one input and read the pair as p's gradient: an error)."""
    rng = np.random.default_rng(14)
    p, dy = mt.Parameter(rng.standard_normal((2, 3))), rng.standard_normal((2, 3))
    m = FixedArity()
    {"positional": lambda: m(p, None), "keyword": lambda: m(p, h=None), "absent": lambda: m(p)}[call]()
    ret = getattr(m, method)(dy)
    assert ret is None if method == "backward_params" else ret == (None, None)
    xt = tensor(p.data, requires_grad=True)
    (xt * tensor(m.w.data) * tensor(dy)).sum().backward()
    _close(p.grad, xt.grad, "p")


@pytest.mark.parametrize("mask", ["none-positional", "none-keyword", "array-keyword"])
def test_attention_counts_its_inputs_alike_with_a_mask_or_none(float64, mask):
    """mha(q, k, v, None) / key_padding_mask=None / a bool mask: (None, dk, dv) with q a leaf, and
    q.grad the same in each."""
    rng = np.random.default_rng(15)
    mha = mt.MultiheadAttention(4, 2, batch_first=True)
    q, kv = mt.Parameter(rng.standard_normal((2, 3, 4))), rng.standard_normal((2, 5, 4))
    pad = np.zeros((2, 5), dtype=bool)
    args, kwargs = {"none-positional": ((None,), {}), "none-keyword": ((), {"key_padding_mask": None}),
                    "array-keyword": ((), {"key_padding_mask": pad})}[mask]
    y, _ = mha(q, kv, kv, *args, **kwargs)
    dy = rng.standard_normal(y.shape)
    dq, dk, dv = mha.backward(dy)
    assert dq is None and dk.shape == kv.shape and dv.shape == kv.shape
    mha(q.data, kv, kv)
    np.testing.assert_array_equal(q.grad, mha.backward(dy)[0])


# ------------------------------------------------------------------ 5. a Parameter in several roles
@KERNELS
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_layer_given_its_own_weight(float64, kernels_on, method):
    """lin(lin.W): W.grad is its weight path plus its input path, torch's y = W @ W + b."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(16)
    lin, dy = mt.Linear(3, 3), rng.standard_normal((3, 3))
    W, b = tensor(lin.W.data, requires_grad=True), tensor(lin.b.data, requires_grad=True)
    ((W @ W + b) * tensor(dy)).sum().backward()
    y = lin(lin.W)
    np.testing.assert_allclose(y, (W @ W + b).detach().numpy(), **TOL)
    assert getattr(lin, method)(dy) is None
    _close(lin.W.grad, W.grad, "W")
    _close(lin.b.grad, b.grad, "b")


def test_requires_grad_switched_between_forward_and_backward(float64):
    """As torch: a leaf switched off after forward gets no gradient (grad stays None, the slot is
    None); a frozen input switched on after forward was data at forward: dx is returned, grad None."""
    rng = np.random.default_rng(17)
    lin, x, dy = mt.Linear(3, 2), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    t = torch.nn.Linear(3, 2, dtype=torch.float64)
    for on_at_forward in (True, False):
        p, pt = mt.Parameter(x.copy(), requires_grad=on_at_forward), torch.nn.Parameter(tensor(x))
        pt.requires_grad_(on_at_forward)
        yt = t(pt)
        pt.requires_grad_(not on_at_forward)
        yt.sum().backward()
        assert pt.grad is None
        lin(p)
        p.requires_grad = not on_at_forward
        ret = lin.backward(dy)
        assert p.grad is None
        assert ret is None if on_at_forward else ret.shape == x.shape


class DxOnly(mt.Module):
    """forward(x, scale) -> x * scale with a backward that returns dx alone (no gradient for scale)."""

    def forward(self, x, scale):
        self._scale = np.asarray(scale)
        return np.asarray(x) * self._scale

    def backward(self, dy):
        return dy * self._scale


def test_a_leaf_switched_off_before_backward_needs_no_gradient(float64):
    """torch needs no gradient for a leaf switched off after forward: a backward that gives none for
    its slot is not refused (its result, dx, is returned), and scale's grad stays None."""
    rng = np.random.default_rng(19)
    m, x, dy = DxOnly(), rng.standard_normal(3), rng.standard_normal(3)
    scale = mt.Parameter(rng.standard_normal(3))
    m(x, scale)
    scale.requires_grad = False
    np.testing.assert_array_equal(m.backward(dy), dy * scale.data)
    assert scale.grad is None and not m.__dict__["_stack"]


class ListChain(mt.Module):
    """A ModuleList called as a chain (no backward of its own: the recorded chain is its backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = mt.ModuleList([mt.Linear(3, 4), mt.Tanh(), mt.Linear(4, 2)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class DictHeads(mt.Module):
    """Two heads of a ModuleDict, summed, with a backward of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.heads = mt.ModuleDict({"a": mt.Linear(3, 2), "b": mt.Linear(3, 2)})

    def forward(self, x):
        return self.heads["a"](x) + self.heads["b"](x)

    def backward(self, dy):
        return self.heads["b"].backward(dy) + self.heads["a"].backward(dy)


def _torch_linear(lin, x):
    return x @ tensor(lin.W.data) + tensor(lin.b.data)


@KERNELS
@pytest.mark.parametrize("kind", [ListChain, DictHeads])
@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_user_containers_give_a_leaf_its_gradient_once(float64, kernels_on, kind, method):
    """A module holding a ModuleList (chain) or a ModuleDict (two paths), given p: p.grad is torch's,
    the module's backward returns None (backward_params too) and every child's call is consumed."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(18)
    m, x, dy = kind(), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    p = mt.Parameter(x.copy())
    m(p)
    assert getattr(m, method)(dy) is None
    xt = tensor(x, requires_grad=True)
    if kind is ListChain:
        a, _, c = m.layers
        yt = _torch_linear(c, torch.tanh(_torch_linear(a, xt)))
    else:
        yt = _torch_linear(m.heads["a"], xt) + _torch_linear(m.heads["b"], xt)
    (yt * tensor(dy)).sum().backward()
    _close(p.grad, xt.grad, "p")
    assert all(not c.__dict__["_stack"] for c in m.modules())

