"""A Parameter given to MultiheadAttention as query, key or value (learned queries, a learned memory):
its gradient is accumulated into it by ``backward``, as torch's autograd accumulates it into a leaf
that requires grad, so ``backward`` then ``optimizer.step()`` trains it; its slot in the returned
(dquery, dkey, dvalue) is None (the gradient went to the Parameter: a caller adding it again would
count it twice). A frozen Parameter is a constant array, as in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_twin
from test_attention import build, inputs

import minitorch as mt

LEAVES = ["q", "k", "v", "qk", "kv", "qkv-one", "qkv-three", "none"]


def leaves_for(which, q, k, v):
    """(query, key, value) with the named ones as Parameters; "qkv-one": one Parameter fed all three
    (self-attention); "kv": one Parameter fed key and value (a learned memory)."""
    if which == "qkv-one":
        p = mt.Parameter(q)
        return p, p, p
    if which == "kv":
        p = mt.Parameter(k)
        return q, p, p
    names = {"qkv-three": "qkv", "none": ""}.get(which, which)
    return tuple(mt.Parameter(a) if n in names else a for n, a in zip("qkv", (q, k, v), strict=True))


options = st.fixed_dictionaries({
    "heads": st.sampled_from([1, 2]),
    "head_dim": st.integers(1, 3),
    "batch_first": st.booleans(),
    "bias": st.booleans(),
    "leaves": st.sampled_from(LEAVES),
    "need_weights": st.booleans(),
    "N": st.integers(1, 3),
    "L": st.integers(1, 4),
    "batched": st.booleans(),
    "seed": st.integers(0, 2**16),
})


def torch_run(t, args, dy, kwargs):
    """torch's forward and backward with each distinct MiniTorch argument as one leaf tensor."""
    leaves = {}
    for a in args:
        if id(a) not in leaves:
            leaves[id(a)] = tensor(np.asarray(a), requires_grad=True)
    y = t(*(leaves[id(a)] for a in args), **kwargs)[0]
    (y * tensor(dy)).sum().backward()
    return y.detach().numpy(), [leaves[id(a)].grad.numpy() for a in args]


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=50, deadline=None)
@given(o=options)
def test_parameter_inputs_get_torchs_leaf_gradients(kernels_on, o):
    """float64, against torch: each Parameter input's grad is torch's leaf gradient (summed over the
    slots it fills), twice after two backwards; an array input's gradient is returned as before."""
    mt.kernels.use_kernels(kernels_on)  # (the autouse fixture puts the run's switch back)
    m, rng = build({**o, "kv": "same"})
    N, L = o["N"], o["L"]
    q, k, v = inputs(rng, m, N, L, L, o["batched"])
    if o["leaves"] in ("qkv-one",):
        k = v = q
    args = leaves_for(o["leaves"], q, k, v)
    kwargs = {"need_weights": o["need_weights"]}
    t = torch_twin(m)
    y = m(*args, **kwargs)[0]
    dy = rng.standard_normal(y.shape)
    ty, tgrads = torch_run(t, args, dy, kwargs)
    np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-12)
    for _ in range(2):  # the second call accumulates, as torch's second backward
        m(*args, **kwargs)
        grads = m.backward(dy)
    for arg, g, tg in zip(args, grads, tgrads, strict=True):
        if isinstance(arg, mt.Parameter):
            assert g is None
            np.testing.assert_allclose(arg.grad, 2 * tg, rtol=1e-10, atol=1e-12)
        else:
            np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12)
    theirs = dict(t.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * theirs[name].grad.numpy(), rtol=1e-10, atol=1e-12)


class LearnedQueries(mt.Module):
    """mha(queries, x, x) with the queries a Parameter of this module: its backward returns dx only."""

    def __init__(self, mha: mt.MultiheadAttention, queries: np.ndarray) -> None:
        super().__init__()
        self.mha = mha
        self.queries = mt.Parameter(queries)

    def forward(self, x):
        return self.mha(self.queries, x, x)[0]

    def backward(self, dy):
        dq, dk, dv = self.mha.backward(dy)
        assert dq is None  # went to self.queries.grad
        return dk + dv


def test_gradcheck_learned_queries(float64):
    mha = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 4})[0]
    rng = np.random.default_rng(4)
    model = LearnedQueries(mha, rng.standard_normal((2, 3, 4)))
    assert mt.gradcheck(model, rng.standard_normal((2, 5, 4)))


def test_sgd_trains_learned_queries_as_torch(float64):
    """The PyTorch loop, mha(q, x, x); loss.backward(); opt.step(), five steps, same trajectory."""
    m = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 7})[0]
    rng = np.random.default_rng(7)
    x, target = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    queries = mt.Parameter(rng.standard_normal((2, 4)))  # unbatched: (L, E) beside x (S, E)
    start = queries.data.copy()
    t = torch_twin(m)
    tq = tensor(queries.data.copy(), requires_grad=True)
    opt, topt = mt.SGD([queries, *m.parameters()], lr=0.1), torch.optim.SGD([tq, *t.parameters()], lr=0.1)
    loss_fn = mt.MSELoss()
    for _ in range(5):
        opt.zero_grad()
        loss_fn(m(queries, x, x)[0], target)
        m.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(t(tq, tensor(x), tensor(x))[0], tensor(target)).backward()
        topt.step()
    np.testing.assert_allclose(queries.data, tq.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(queries.data - start).max() > 1e-3  # they moved


def test_a_frozen_parameter_input_is_a_constant_array(float64):
    m = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 1})[0]
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    frozen = mt.Parameter(x.copy(), requires_grad=False)
    m(frozen, x, x)
    dq, dk, dv = m.backward(np.ones((2, 3, 4)))
    m(x, x, x)
    want = m.backward(np.ones((2, 3, 4)))
    assert frozen.grad is None
    for g, w in zip((dq, dk, dv), want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_backward_params_fills_learned_queries_of_a_frozen_attention(float64):
    """mt.fit's form, backward_params: the queries learn though every parameter of the layer is frozen."""
    m = build({"heads": 2, "head_dim": 2, "bias": True, "batch_first": True, "kv": "same", "seed": 2})[0]
    m.requires_grad_(False)
    rng = np.random.default_rng(2)
    queries, x = mt.Parameter(rng.standard_normal((2, 4))), rng.standard_normal((3, 4))
    m(queries, x, x)
    m.backward_params(np.ones((2, 4)))
    m(queries, x, x)
    m.requires_grad_(True)
    m.backward(np.ones((2, 4)))  # the same gradient again, through backward
    assert queries.grad is not None
    m.zero_grad()
    y = m(queries.data, x, x)[0]
    dq = m.backward(np.ones_like(y))[0]
    np.testing.assert_allclose(queries.grad, 2 * dq, rtol=1e-12)
