"""A view of a Parameter given to a module is torch's differentiable view (minitorch/parameter_views.py).

torch's ``p[index]``, ``p.T``, ``p.mT`` and ``p.reshape(...)`` of a leaf p carry the gradient back into
``p.grad`` (zeros outside the view, repeated indices adding up). Here those return a
``ParameterView`` while p requires grad in grad mode; the leaf rule (tests/test_parameter_inputs.py)
takes it as a Parameter input and its ``accumulate_grad`` carries the gradient into p. The oracle
for every view f is torch's gather of the same positions, ``p_t.reshape(-1)[f(arange)]``
(independent of the scatter under test, and of torch's own slicing, which refuses negative steps);
``test_the_position_oracle_is_torchs_own_view`` checks it against torch's slicing where torch has it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracle import tensor, torch_grads, torch_twin

import minitorch as mt

TOL = {"rtol": 1e-9, "atol": 1e-11}


def _close(ours, theirs, what):
    assert ours is not None, f"{what}: no gradient"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL)


def _torch_view(p_t, f):
    """torch's differentiable view of p_t at the positions f takes from an array of p_t's shape."""
    positions = f(np.arange(p_t.numel()).reshape(tuple(p_t.shape)))
    return p_t.reshape(-1)[torch.as_tensor(np.array(positions, dtype=np.int64, order="C"))]


# ------------------------------------------------------------------------------ index strategies
def _axis_index(n):
    """One axis's index for an axis of length n: int, slice (negative steps too), int array with
    repeats, boolean mask."""
    bound = st.one_of(st.none(), st.integers(-n - 1, n))
    return st.one_of(
        st.integers(-n, n - 1),
        st.builds(slice, bound, bound, st.sampled_from([None, 1, 2, 3, -1, -2])),
        st.lists(st.integers(-n, n - 1), min_size=1, max_size=6).map(np.array),
        st.lists(st.booleans(), min_size=n, max_size=n).map(np.array),
    )


SHAPE = (4, 5, 6)  # the last axis (6 features) is kept whole, so every view is a Linear's input


@st.composite
def indices(draw):
    """An index into SHAPE's first two axes: one component alone, or a tuple with an optional
    leading None and trailing Ellipsis."""
    first = draw(_axis_index(SHAPE[0]))
    if draw(st.booleans()):
        return first
    parts = [first, draw(_axis_index(SHAPE[1]))] if draw(st.booleans()) else [first]
    if draw(st.booleans()):
        parts.insert(0, None)
    if draw(st.booleans()):
        parts.append(Ellipsis)
    return tuple(parts)


MODULES = {
    "Linear": lambda: mt.Linear(6, 3),
    "LayerNorm": lambda: mt.LayerNorm(6),
    "Sequential": lambda: mt.Sequential(mt.Linear(6, 4), mt.Tanh(), mt.Linear(4, 2)),
}


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@settings(max_examples=150, deadline=None)
@given(index=indices(), module=st.sampled_from(sorted(MODULES)), seed=st.integers(0, 2**16),
       method=st.sampled_from(["backward", "backward_params"]))
def test_an_indexed_parameter_gets_torchs_gradient(kernels_on, index, module, seed, method):
    """y = m(p[index]) for int, slice (steps, negatives), int arrays with repeats, boolean masks,
    None and Ellipsis: y, p.grad (zeros outside, repeats summed) and the weights' grads are torch's;
    the slot returned is None."""
    mt.set_default_dtype(np.float64)  # (the autouse fixture puts float32 back)
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(SHAPE)
    try:
        picked = x[index]
    except IndexError:  # arrays that do not broadcast, a mask and an array of other lengths
        assume(False)
    assume(picked.ndim >= 2 and picked.size > 0)
    m = MODULES[module]()
    twin = torch_twin(m)
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    y_t = twin(_torch_view(p_t, lambda a: a[index]))
    dy = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(tensor(dy))
    view = p[index]
    assert isinstance(view, mt.ParameterView) and view.base is p
    y = m(view)
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    assert getattr(m, method)(dy) is None
    _close(p.grad, p_t.grad.numpy(), f"p[{index!r}].grad")
    for name, g in torch_grads(m, twin).items():
        _close(dict(m.named_parameters())[name].grad, g, name)


# --------------------------------------------------------------------------- transposes, reshapes
VIEWS = {  # name: (p's shape, the view, as code that runs on a Parameter and on an ndarray alike)
    "T": ((6, 4), lambda a: a.T),
    "T 3-D": ((6, 2, 3), lambda a: a.T),
    "mT": ((2, 6, 4), lambda a: a.mT),
    "reshape": ((3, 12), lambda a: a.reshape(-1, 6)),
    "reshape tuple": ((2, 3, 6), lambda a: a.reshape((6, 6))),
    "slice then T": ((6, 5), lambda a: a[:, 1:].T),
    "T then rows": ((6, 5), lambda a: a.T[[0, 0, 3]]),
    "rows then reshape": ((4, 3, 2), lambda a: a[[0, 0, 2]].reshape(-1, 6)),
    "mT then reversed": ((3, 6, 2), lambda a: a.mT[::-1, :, ::-2]),
    "0-d item of T": ((6, 4), lambda a: a.T[1, 2].reshape(1, 1)),
}


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_transposed_and_reshaped_parameters_get_torchs_gradient(float64, kernels_on, view):
    """m(f(p)) for .T, .mT, .reshape and their compositions with indexing: torch's p.grad."""
    mt.kernels.use_kernels(kernels_on)
    shape, f = VIEWS[view]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    width = f(x).shape[-1]
    m = mt.Sequential(mt.Linear(width, 3), mt.Tanh())
    twin = torch_twin(m)
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    y_t = twin(_torch_view(p_t, f))
    dy = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(tensor(dy))
    y = m(f(p))
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    assert m.backward(dy) is None
    _close(p.grad, p_t.grad.numpy(), f"{view}: p.grad")


def test_the_position_oracle_is_torchs_own_view(float64):
    """torch's own p_t.T, .mT, .reshape and indexing give the gradient the position oracle gives."""
    rng = np.random.default_rng(2)
    cases = [((6, 4), lambda t: t.T, lambda a: a.T), ((2, 6, 4), lambda t: t.mT, lambda a: a.mT),
             ((3, 12), lambda t: t.reshape(-1, 6), lambda a: a.reshape(-1, 6)),
             ((4, 5, 6), lambda t: t[None, torch.tensor([0, 0, -1]), 1:4:2, ...],
              lambda a: a[None, np.array([0, 0, -1]), 1:4:2, ...]),
             ((4, 5, 6), lambda t: t[torch.tensor([True, False, True, True])],
              lambda a: a[np.array([True, False, True, True])])]
    for shape, torch_f, f in cases:
        x = rng.standard_normal(shape)
        a_t, b_t = tensor(x, requires_grad=True), tensor(x, requires_grad=True)
        own, ours = torch_f(a_t), _torch_view(b_t, f)
        dy = tensor(rng.standard_normal(tuple(own.shape)))
        (own * dy).sum().backward()
        (ours * dy).sum().backward()
        _close(b_t.grad.numpy(), a_t.grad.numpy(), "oracle")


# ----------------------------------------------------------------- convolutions, attention, LSTM
@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("case", ["Conv1d", "Conv2d"])
def test_convolutions_of_parameter_views(float64, kernels_on, case):
    """Conv1d(p[rows, :, ::2]) and Conv2d(p[:, :, 1:, ::-1]): torch's p.grad and weight grads."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(3)
    if case == "Conv1d":
        m, shape = mt.Conv1d(2, 3, 3, padding=1), (3, 2, 9)
        f = lambda a: a[np.array([2, 0, 2]), :, ::2]  # noqa: E731
    else:
        m, shape = mt.Conv2d(3, 2, 3, stride=2), (2, 3, 7, 7)
        f = lambda a: a[:, :, 1:, ::-1]  # noqa: E731
    twin = torch_twin(m)
    x = rng.standard_normal(shape)
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    y_t = twin(_torch_view(p_t, f))
    dy = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(tensor(dy))
    y = m(f(p))
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    assert m.backward(dy) is None
    _close(p.grad, p_t.grad.numpy(), "p.grad")
    for name, g in torch_grads(m, twin).items():
        _close(dict(m.named_parameters())[name].grad, g, name)


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_attention_query_key_value_views_of_one_parameter(float64, kernels_on):
    """mha(p[:, :2], p[:, ::-1], p.T-of-a-second-Parameter's view, x): each view's gradient goes into
    its Parameter, the sum of the query's and key's for p; the slots are None."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(4)
    mha = mt.MultiheadAttention(8, 2, batch_first=True)
    twin = torch_twin(mha)
    x, w = rng.standard_normal((2, 4, 8)), rng.standard_normal((8, 4, 2))
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    v, v_t = mt.Parameter(w.copy()), tensor(w, requires_grad=True)
    fq, fk, fv = (lambda a: a[:, :2]), (lambda a: a[:, ::-1]), (lambda a: a.T)
    out_t, _ = twin(_torch_view(p_t, fq), _torch_view(p_t, fk), _torch_view(v_t, fv))
    dy = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(tensor(dy))
    out, _ = mha(fq(p), fk(p), fv(v))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    assert mha.backward(dy) == (None, None, None)
    _close(p.grad, p_t.grad.numpy(), "p.grad")
    _close(v.grad, v_t.grad.numpy(), "v.grad")


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_lstm_initial_state_views(float64, kernels_on):
    """lstm(x, (s[:1], s[1:])): both halves of one Parameter s, torch's s.grad and dx."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(5)
    lstm = mt.LSTM(3, 4)
    twin = torch_twin(lstm)
    x, s = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 2, 4))
    p, p_t = mt.Parameter(s.copy()), tensor(s, requires_grad=True)
    x_t = tensor(x, requires_grad=True)
    out_t, _ = twin(x_t, (p_t[:1], p_t[1:]))
    dy = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(tensor(dy))
    out, _ = lstm(x, (p[:1], p[1:]))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    dx, states = lstm.backward(dy)
    assert states == (None, None)
    _close(dx, x_t.grad.numpy(), "dx")
    _close(p.grad, p_t.grad.numpy(), "p.grad")


# ---------------------------------------------------------------- one step: whole and viewed, SGD
@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_whole_and_viewed_in_one_step_then_sgd_moves_p_as_torch(float64, kernels_on):
    """a(p) + b(p[[2, 0, 2]].T.T) backward, three SGD steps (momentum): p and the weights as torch's."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(6)
    a, b = mt.Linear(6, 2), mt.Sequential(mt.Linear(6, 4), mt.ReLU(), mt.Linear(4, 2))
    a_t, b_t = torch_twin(a), torch_twin(b)
    x = rng.standard_normal((4, 6))
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    f = lambda t: t[[2, 0, 2]].T.T  # noqa: E731
    opt = mt.SGD([p, *a.parameters(), *b.parameters()], lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD([p_t, *a_t.parameters(), *b_t.parameters()], lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        ya, yb = a(p), b(f(p))
        assert a.backward(np.ones_like(ya)) is None and b.backward(2 * yb) is None
        opt.step()
        opt_t.zero_grad()
        ya_t, yb_t = a_t(p_t), b_t(_torch_view(p_t, lambda v: v[[2, 0, 2]].T.T))
        (ya_t.sum() + (yb_t**2).sum()).backward()
        opt_t.step()
        _close(p.data, p_t.detach().numpy(), "p after the step")
    assert np.abs(p.data - x).max() > 1e-3
    for m, t in ((a, a_t), (b, b_t)):
        for (name, q), q_t in zip(torch_twin(m).state_dict().items(), t.state_dict().values(), strict=True):
            _close(q.numpy(), q_t.numpy(), name)


# ----------------------------------------------------------------------------- gradcheck (float64)
class ViewedMemory(mt.Module):
    """y = child(f(self.memory)) + lin(x): a view of a registered Parameter fed to a child."""

    def __init__(self, child, shape, f):
        super().__init__()
        self.child, self.lin, self.f = child, mt.Linear(shape[-1], 4), f
        self.memory = mt.Parameter(np.random.default_rng(8).standard_normal(shape))

    def forward(self, x):
        return self.child(self.f(self.memory)) + self.lin(x)

    def backward(self, dy):
        self.child.backward(dy)  # None: the memory's share went into self.memory.grad
        return self.lin.backward(dy)


@pytest.mark.parametrize("view", ["rows", "T", "reshape"])
def test_gradcheck_a_view_of_a_parameter_fed_to_a_child(float64, view):
    """float64 central differences on every element of the Parameter whose view a child gets."""
    shape, f = {"rows": ((5, 4), lambda a: a[[4, 0, 0]]),
                "T": ((4, 3), lambda a: a.T),
                "reshape": ((2, 6), lambda a: a.reshape(3, 4))}[view]
    child = mt.Sequential(mt.Linear(4, 5), mt.Tanh(), mt.Linear(5, 4))
    model = ViewedMemory(child, shape, f)
    assert mt.gradcheck(model, np.random.default_rng(9).standard_normal((3, shape[-1])))


# ------------------------------------------------------------------ data, refusals, array behaviour
def test_frozen_and_no_grad_read_data_and_requires_grad_gives_a_view(float64):
    """p[idx], p.T, p.reshape: a ParameterView of p while p requires grad in grad mode; the plain
    data array (no gradient, as torch's) for a frozen p or under no_grad."""
    p = mt.Parameter(np.arange(12.0).reshape(3, 4))
    for f in (lambda a: a[1:], lambda a: a.T, lambda a: a.mT, lambda a: a.reshape(4, 3)):
        assert type(f(p)) is mt.ParameterView and f(p).base is p
        with mt.no_grad():
            assert type(f(p)) is np.ndarray
        p.requires_grad = False
        assert type(f(p)) is np.ndarray
        lin = mt.Linear(3 if f(p).shape[-1] == 3 else 4, 2)
        y = lin(f(p))
        assert lin.backward(np.ones_like(y)).shape == f(p).shape and p.grad is None
        p.requires_grad = True


def test_a_view_acts_as_its_data_array_and_arithmetic_carries_no_gradient(float64):
    """float, item, len, iteration, ==, printing, np.asarray, array methods: as data's. Arithmetic
    and array methods give plain arrays: a module given them leaves p.grad alone (the documented
    rule: only indexing, .T, .mT and .reshape carry a gradient into p)."""
    p = mt.Parameter(np.arange(12.0).reshape(3, 4))
    v = p[:2]
    assert isinstance(v, mt.ParameterView)
    assert float(p[1, 2]) == 6.0 and p[1, 2].item() == 6.0 and int(p[0, 3]) == 3
    assert len(v) == 2 and [row.tolist() for row in v] == p.data[:2].tolist()
    assert all(type(row) is mt.ParameterView for row in v)  # rows as views, as torch's (and p's)
    rows = list(p)
    lin = mt.Linear(4, 2)
    y = lin(rows[2][None])
    assert lin.backward(np.ones_like(y)) is None and p.grad[2].any() and not p.grad[:2].any()
    p.grad = None
    assert str(v) == str(p.data[:2]) and "ParameterView" in repr(v)
    assert (v == p.data[:2]).all() and v.sum() == p.data[:2].sum() and v.shape == (2, 4)
    assert np.asarray(v) is v.data and np.shares_memory(v.data, p.data)
    for plain in (v * 2, 2 * v, v + v, -v, v @ np.ones(4), np.exp(v), v.copy(), v.astype(np.float32)):
        assert type(plain) is np.ndarray
    y = lin(v * 2)
    assert lin.backward(np.ones_like(y)) is not None and p.grad is None
    v.data[0, 0] = 100.0  # basic indexing: a NumPy view, writes reach p, as torch's view
    assert p.data[0, 0] == 100.0
    v -= 1.0
    assert p.data[0, 0] == 99.0


def test_uncarried_view_methods_and_registering_a_view_are_refused(float64):
    """v.squeeze(), v.transpose(), v.flatten()... (ndarray views that would drop the gradient) are
    refused naming the fix; so are registering a view as a module's Parameter, giving one to an
    optimizer (as torch's non-leaf), and a view as a loss's target (the loss gives no gradient for it)."""
    p = mt.Parameter(np.ones((1, 3, 4)))
    for name in ("squeeze", "transpose", "flatten", "ravel", "swapaxes", "view"):
        with pytest.raises(AttributeError, match=rf"ParameterView\.{name}: .*\.reshape"):
            getattr(p[0:1], name)
    assert p.reshape(3, 4).shape == (3, 4)
    model = mt.Linear(4, 2)
    with pytest.raises(TypeError, match="cannot register 'part' = a view of a Parameter"):
        model.part = p[0]
    with pytest.raises(ValueError, match="SGD: can't optimize a view of a Parameter"):
        mt.SGD([p.T], lr=0.1)
    with pytest.raises(RuntimeError, match="follows its base's requires_grad"):
        p[0].requires_grad_(False)
    with pytest.raises(TypeError, match="'target' is a Parameter that requires grad"):
        mt.MSELoss()(np.zeros((3, 4)), p[0])


class CachesRows(mt.Module):
    """y = self.table[ids] with its own backward: a view of its own Parameter in its own forward."""

    def __init__(self):
        super().__init__()
        self.table = mt.Parameter(np.arange(10.0).reshape(5, 2))

    def forward(self, ids):
        self._ids, self._rows = ids, self.table[ids]
        return self._rows * 1.0

    def backward(self, dy):
        dtable = np.zeros_like(self.table.data)
        np.add.at(dtable, self._ids, dy)
        self.table.accumulate_grad(dtable)


def test_a_module_indexing_its_own_parameter_in_forward_keeps_it_a_cache(float64):
    """self._rows = self.table[ids] inside forward is the call's cache (a ParameterView, not a
    registered Parameter), and the module's own backward trains the table as before."""
    m = CachesRows()
    assert isinstance(m.table[[0]], mt.ParameterView)
    y = m(np.array([1, 1, 4]))
    assert type(y) is np.ndarray
    assert [n for n, _ in m.named_parameters()] == ["table"]
    m.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(m.table.grad[:, 0], [0, 2, 0, 0, 1])


# ------------------------------------------------ the index kept, a replaced base, casts, copies
def test_writing_the_index_array_after_taking_the_view_moves_nothing(float64):
    """v = p[idx]; idx[:] = other: torch copies the index into its own tensor, so data and
    gradient stay at idx's positions when the view was taken (a list index too)."""
    x = np.random.default_rng(3).standard_normal((5, 3))
    for make in (lambda: np.array([0, 0, 3]), lambda: [0, 0, 3], lambda: (np.array([0, 0, 3]), slice(None))):
        idx = make()
        p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
        lin = mt.Linear(3, 2)
        twin = torch_twin(lin)
        v = p[idx]
        rows = idx[0] if isinstance(idx, tuple) else idx
        rows[:] = [1, 2, 4]  # after the view was taken
        y = lin(v)
        y_t = twin(p_t[torch.tensor([0, 0, 3])])
        np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
        dy = np.ones_like(y)
        y_t.backward(tensor(dy))
        lin.backward(dy)
        _close(p.grad, p_t.grad.numpy(), f"p[{make()!r}] with its index written after")


def test_a_view_of_a_parameter_whose_data_changed_shape_since_is_refused(float64):
    """p.data replaced by another shape between forward and backward: the view's gradient has no
    place in p (torch's reshape backward raises; its index backward would give a gradient of the
    old shape): a ValueError naming the view and the fix, and p.grad stays None."""
    replaced = ((lambda a: a[[0, 1]], (6, 3)), (lambda a: a.reshape(3, 4), (2, 6)), (lambda a: a.T, (3, 4)))
    for f, shape in replaced:
        p = mt.Parameter(np.ones((4, 3)))
        v = f(p)
        lin = mt.Linear(v.shape[-1], 2)
        y = lin(v)
        p.data = np.zeros(shape)
        with pytest.raises(ValueError, match=r"ParameterView.accumulate_grad: .*p.data replaced since"):
            lin.backward(np.ones_like(y))
        assert p.grad is None
    p = mt.Parameter(np.ones((4, 3)))  # the same shape: torch's view keeps the old storage, as here
    v = p[[0, 1]]
    p.data = np.full((4, 3), 2.0)
    lin = mt.Linear(3, 2)
    y = lin(v)
    np.testing.assert_allclose(y, lin(np.ones((2, 3))))
    lin.backward(np.ones_like(y))
    lin.backward(np.ones_like(y))
    assert p.grad.shape == (4, 3) and p.grad[:2].any() and not p.grad[2:].any()


def test_to_of_a_view_is_a_cast_view_and_leaves_the_view_as_it_was(float64):
    """v.to(float32) is a new view (v itself unchanged, still a NumPy view of p.data, as torch's
    v.to); a module given it computes in float32 and p.grad is torch's, cast back to float64."""
    x = np.random.default_rng(4).standard_normal((4, 3))
    p, p_t = mt.Parameter(x.copy()), tensor(x, requires_grad=True)
    v = p[1:]
    c = v.to(np.float32)
    assert v.dtype == np.float64 and np.shares_memory(v.data, p.data)
    assert type(c) is mt.ParameterView and c.dtype == np.float32 and c.base is v and v.to("float64") is v
    lin = mt.Linear(3, 2).to(np.float32)
    twin = torch_twin(lin)
    y = lin(c)
    y_t = twin(p_t[1:].to(torch.float32))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6)
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
    y_t.backward(torch.tensor(dy))
    assert lin.backward(dy) is None
    assert p.grad.dtype == np.float64
    np.testing.assert_allclose(p.grad, p_t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_copies_and_pickles_of_a_view_are_views_of_the_copied_parameter(float64):
    """copy.copy(v) is a view of p; copy.deepcopy and pickle copy p and take the view of the copy
    (a module deep-copied with p keeps one p); each carries its gradient into its own base."""
    import copy
    import pickle

    p = mt.Parameter(np.arange(12.0).reshape(4, 3))
    v = p[[2, 2]].T
    assert copy.copy(v).base is v.base
    for c in (copy.deepcopy(v), pickle.loads(pickle.dumps(v))):
        assert type(c) is mt.ParameterView and c.base.base is not p
        np.testing.assert_array_equal(c.data, v.data)
        lin = mt.Linear(2, 1)
        y = lin(c)
        lin.backward(np.ones_like(y))
        assert p.grad is None and c.base.base.grad[2].any() and not c.base.base.grad[:2].any()
    pair = copy.deepcopy((p, p[1:]))
    assert pair[1].base is pair[0]


def test_a_replaced_base_is_refused_before_any_leaf_of_the_call_is_added(float64):
    """mha(q, v, v), v a view of p whose data was replaced by another shape since forward: the
    refusal comes before the backward runs (no gradient of q or of mha's weights is added), and the
    call still waits (retry after putting p's data back)."""
    rng = np.random.default_rng(6)
    mha = mt.MultiheadAttention(4, 2, batch_first=True)
    q = mt.Parameter(rng.standard_normal((1, 3, 4)))
    p = mt.Parameter(rng.standard_normal((3, 4)))
    v = p[None]
    y, _ = mha(q, v, v)
    old = p.data
    p.data = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"p\.data replaced since"):
        mha.backward(np.ones_like(y))
    assert q.grad is None and p.grad is None and all(w.grad is None for w in mha.parameters())
    p.data = old
    assert mha.backward(np.ones_like(y)) == (None, None, None)
    assert q.grad.shape == (1, 3, 4) and p.grad.shape == (3, 4) and mha.in_proj_weight.grad is not None


@pytest.mark.parametrize("kernels_on", [True, False], ids=["kernels", "plain"])
def test_a_learned_attention_mask_given_as_a_view(float64, kernels_on):
    """mha(x, x, x, attn_mask=P[:3, 1:4]) and key_padding_mask=K[::2] (views of float masks that
    MultiheadAttention trains itself): y and P.grad, K.grad are torch's (the backward tested the
    masks with != against None, which a view answers elementwise)."""
    mt.kernels.use_kernels(kernels_on)
    rng = np.random.default_rng(5)
    mha = mt.MultiheadAttention(4, 2, batch_first=True)
    twin = torch_twin(mha)
    M, Kp, x = rng.standard_normal((4, 5)), rng.standard_normal((4, 3)), rng.standard_normal((2, 3, 4))
    P, K = mt.Parameter(M.copy()), mt.Parameter(Kp.copy())
    P_t, K_t = tensor(M, requires_grad=True), tensor(Kp, requires_grad=True)
    y, _ = mha(x, x, x, attn_mask=P[:3, 1:4], key_padding_mask=K[::2])
    y_t, _ = twin(tensor(x), tensor(x), tensor(x), attn_mask=P_t[:3, 1:4], key_padding_mask=K_t[::2])
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    dy = rng.standard_normal(y.shape)
    y_t.backward(tensor(dy))
    mha.backward(dy)
    _close(P.grad, P_t.grad.numpy(), "attn_mask view")
    _close(K.grad, K_t.grad.numpy(), "key_padding_mask view")


def test_assigned_view_grad_stays_on_the_view_as_torch(float64):
    """view.grad = g is kept on the view and leaves p.grad alone; a backward through the view fills
    p.grad and leaves the view's assigned grad as it was: torch's non-leaf .grad, not its base's."""
    rng = np.random.default_rng(11)
    w, g = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    p, p_t = mt.Parameter(w.copy()), tensor(w, requires_grad=True)
    v, v_t = p[0:2], p_t[0:2]
    v.grad, v_t.grad = g.copy(), tensor(g)
    assert p.grad is None and p_t.grad is None
    lin = mt.Linear(2, 1)
    lin(v)
    lin.backward(np.ones((2, 1)))
    torch_twin(lin)(v_t).sum().backward()
    np.testing.assert_array_equal(v.grad, v_t.grad.numpy())
    _close(p.grad, p_t.grad.numpy(), "base grad")
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        v.grad = np.ones((3, 2))
