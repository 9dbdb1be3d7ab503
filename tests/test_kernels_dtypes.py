"""Mixed parameter dtypes: the kernels and the plain formulas give one answer.

A float64 bias on a float32 Linear made a float64 output on the plain formula (NumPy promotes
``y + b``) and a float32 one in the kernel (``y += b`` casts b): two answers. PyTorch raises for
mixed parameter dtypes, and so does every layer now, on both paths, naming the module and the fix.
The registry test casts each Parameter of every module case (tests/cases.py) to float64 in turn and
runs the module kernels on and off: the same error, or the same dtypes (output, every input
gradient, every parameter gradient) and the same values; and the error whenever the layer holding
that Parameter holds another (a module of single-parameter children may mix: each child casts).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from cases import INPUT_CASES, MODULE_CASES
from oracle import tensor, torch_loss
from test_losses import WEIGHTED_LOSS_CASES, make_data

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _flat(v)]
    return [value]


def _ones_like(out):
    if isinstance(out, tuple):
        return tuple(_ones_like(o) for o in out)
    return None if out is None else np.random.default_rng(1).standard_normal(np.shape(out)).astype(out.dtype)


def _run(factory, make_inputs, index, enabled):
    """(error message, None) or (None, [output, input gradients, parameter gradients]) for the
    module with Parameter ``index`` cast to float64, kernels on or off, and whether the module
    that holds that Parameter holds another one (then the dtypes mix: an error is due)."""
    before = kernels_enabled()
    use_kernels(enabled)
    try:
        mt.manual_seed(0)
        module = factory()
        params = list(module.parameters())
        params[index].data = params[index].data.astype(np.float64)
        owner = next(m for m in module.modules() if any(p is params[index] for p in m._parameters.values()))
        mixed = sum(p is not None for p in owner._parameters.values()) > 1
        inputs = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                       for a in make_inputs(np.random.default_rng(0)))
        try:
            out = module(*inputs)
        except TypeError as error:
            return str(error), None, mixed
        dx = module.backward(_ones_like(out))
        return None, [*_flat(out), *_flat(dx), *(p.grad for p in params)], mixed
    finally:
        use_kernels(before)


def _single(shape):
    return lambda rng: (rng.standard_normal(shape),)


CASES = [(cid, factory, _single(shape)) for cid, factory, shape in MODULE_CASES] + list(INPUT_CASES)
MIXED = [(cid, factory, inputs, i) for cid, factory, inputs in CASES
         for i in range(len(list(factory().parameters())))]


@pytest.mark.parametrize("factory, make_inputs, index", [m[1:] for m in MIXED],
                         ids=[f"{m[0]}-param{m[3]}" for m in MIXED])
def test_one_float64_parameter_gives_one_answer_kernels_on_and_off(factory, make_inputs, index):
    (error_on, on, mixed), (error_off, off, _) = (_run(factory, make_inputs, index, k) for k in (True, False))
    assert error_on == error_off
    if mixed:  # a layer's own parameters of two dtypes: refused, as torch refuses them
        assert error_on is not None and "expected one dtype for all its parameters" in error_on
    if error_on is not None:
        return
    assert len(on) == len(off)
    for a, b in zip(on, off, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("where", ["b", "W"])
def test_linear_refuses_parameters_of_two_dtypes(kernels, where):
    use_kernels(kernels)
    layer = mt.Linear(3, 2)
    p = getattr(layer, where)
    p.data = p.data.astype(np.float64)
    message = r"Linear: expected one dtype .*W float(32|64), b float(64|32).*\.to\(np"
    with pytest.raises(TypeError, match=message):
        layer(np.ones((4, 3), np.float32))
    layer.to(np.float32)  # the fix the message names
    assert layer(np.ones((4, 3), np.float32)).dtype == np.float32


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("grad", [True, False], ids=["train", "no_grad"])
@pytest.mark.parametrize("width", [16, 512], ids=["small-chain", "large-chain"])
def test_a_linear_relu_chain_refuses_a_bias_of_another_dtype(kernels, grad, width):
    """The chain kernel (kernels/containers.py) and one-row inference (kernels/inference.py) inline
    Linear's forward: they refuse as the layer does, whatever the path."""
    use_kernels(kernels)
    model = mt.Sequential(mt.Linear(784, width), mt.ReLU(), mt.Linear(width, 10))
    model[2].b.data = model[2].b.data.astype(np.float64)
    x = np.ones((1, 784), np.float32)
    with mt.enable_grad() if grad else mt.no_grad():
        for _ in range(3):  # (one-row inference makes its plan on the first call)
            with pytest.raises(TypeError, match="Linear: expected one dtype"):
                model(x)


def test_attentions_output_projection_called_alone_refuses_parameters_of_two_dtypes():
    """``mha.out_proj`` is no registry case (MultiheadAttention checks it with its own)."""
    proj = mt.MultiheadAttention(4, 2).out_proj
    proj.bias.data = proj.bias.data.astype(np.float64)
    with pytest.raises(TypeError, match=r"OutProjection: expected one dtype .*weight float32, bias float64"):
        proj(np.ones((2, 4), np.float32))


def _float_buffers(module):
    return [(owner, name) for owner in module.modules()
            for name, b in owner._buffers.items() if b is not None and b.dtype.kind == "f"]


BUFFERS = [(cid, factory, inputs, i) for cid, factory, inputs in CASES
           for i in range(len(_float_buffers(factory())))]


@pytest.mark.parametrize("factory, make_inputs, index", [m[1:] for m in BUFFERS],
                         ids=[f"{m[0]}-buffer{m[3]}" for m in BUFFERS])
@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
def test_one_float64_buffer_is_refused_kernels_on_and_off(factory, make_inputs, index, kernels):
    """A floating buffer (BatchNorm's running statistics) of another dtype than its module's
    parameters and other buffers: refused on both paths, naming it (torch raises too); before, the
    float32 layer computed and answered in float64."""
    use_kernels(kernels)
    mt.manual_seed(0)
    module = factory()
    owner, name = _float_buffers(module)[index]
    setattr(owner, name, getattr(owner, name).astype(np.float64))
    inputs = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                   for a in make_inputs(np.random.default_rng(0)))
    message = rf"expected one dtype for its parameters and running statistics, .*{name} float64"
    with pytest.raises(TypeError, match=message):
        module(*inputs)


def _loss_buffers(loss_fn):
    return [name for name, b in loss_fn._buffers.items() if b is not None and b.dtype.kind == "f"]


WEIGHTED = [(cid, ours, kind, name, x_dtype) for cid, ours, kind in WEIGHTED_LOSS_CASES
            for name in _loss_buffers(ours("mean")) for x_dtype in (np.float32, np.float64)]


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ours, kind, name, x_dtype", [w[1:] for w in WEIGHTED],
                         ids=[f"{w[0]}-{w[3]}-x_{np.dtype(w[4]).name}" for w in WEIGHTED])
def test_a_loss_weight_of_another_dtype_gives_torchs_answer(ours, kind, name, x_dtype, reduction, kernels):
    """A loss's weight buffer (weight, pos_weight) in the other dtype than the input's: torch's answer,
    kernels on and off. Where torch raises (the class-index losses: "expected scalar type Float but
    found Double"), a TypeError naming the loss, both dtypes and the fix; where it computes, its
    result dtype (the input's for the binary losses; promoted for probability targets) and values.
    Before, every loss cast its weights to the input's dtype."""
    use_kernels(kernels)
    x, t = make_data(kind, np.random.default_rng(0))
    x, t = x.astype(x_dtype), (t if t.dtype.kind in "iu" else t.astype(x_dtype))
    loss_fn = ours(reduction)
    other = np.float64 if x_dtype == np.float32 else np.float32
    setattr(loss_fn, name, getattr(loss_fn, name).astype(other))
    twin = torch_loss(loss_fn, tensor(x).dtype)
    for buffer in _loss_buffers(loss_fn):
        setattr(twin, buffer, torch.tensor(getattr(loss_fn, buffer)))
    x_t = torch.tensor(x, requires_grad=True)
    try:
        loss_t = twin(x_t, torch.tensor(t))
    except RuntimeError:
        who = type(loss_fn).__name__
        message = (rf"{who}: .*{name} is {np.dtype(other).name}.*input is {np.dtype(x_dtype).name}"
                   rf".*\.to\(np\.{np.dtype(x_dtype).name}\)")
        with pytest.raises(TypeError, match=message):
            loss_fn(x, t)
        return
    dloss = np.random.default_rng(1).standard_normal(tuple(loss_t.shape))
    loss_t.backward(torch.tensor(dloss).to(loss_t.dtype))
    loss = loss_fn(x, t)
    loss_dtype = loss_t.detach().numpy().dtype
    dx = loss_fn.backward(dloss.astype(loss_dtype) if reduction == "none" else float(dloss))
    if reduction == "none":
        assert loss.dtype == loss_dtype
    assert dx.dtype == x_dtype
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_every_loss_with_a_weight_buffer_has_a_weighted_case():
    """A loss class taking ``weight`` or ``pos_weight`` is in WEIGHTED_LOSS_CASES, each such buffer."""
    covered = {(type(ours("mean")).__name__, name) for _, ours, _ in WEIGHTED_LOSS_CASES
               for name in _loss_buffers(ours("mean"))}
    wanted = {(cls.__name__, name) for cls in vars(mt).values()
              if isinstance(cls, type) and issubclass(cls, mt.losses.Loss)
              for name in ("weight", "pos_weight") if name in inspect.signature(cls).parameters}
    assert wanted and wanted <= covered, f"no weighted loss case for {sorted(wanted - covered)}"


_CONTAINERS = (mt.Sequential, mt.ModuleList, mt.ModuleDict)
CHILDREN = [(cid, factory, inputs, name) for cid, factory, inputs in CASES
            if not isinstance(factory(), _CONTAINERS)
            for name, child in factory().named_modules() if name and child._parameters]


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "plain"])
@pytest.mark.parametrize("factory, make_inputs, child", [c[1:] for c in CHILDREN],
                         ids=[f"{c[0]}-{c[3]}" for c in CHILDREN])
def test_a_layer_whose_child_has_another_dtype_is_refused(factory, make_inputs, child, kernels):
    """A layer built of children (a transformer block, attention) with one child in float64: torch
    raises ("mat1 and mat2 must have the same dtype", "mixed dtype (CPU)"), and so does MiniTorch,
    kernels on and off. Before, TransformerEncoderLayer with norm1 in float64 returned a float32 y
    and a float64 dx for a float32 input. (Containers keep casting at each child's door, as
    documented: Sequential(Linear, Linear.to(np.float64)) is no case here.)"""
    use_kernels(kernels)
    mt.manual_seed(0)
    module = factory()
    dict(module.named_modules())[child].to(np.float64)
    inputs = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                   for a in make_inputs(np.random.default_rng(0)))
    with pytest.raises(TypeError, match=rf"{type(module).__name__}: expected one dtype for all its parameters"
                                        rf", .*{child}\.\w+ float64"):
        module(*inputs)


def _retype_then_accumulate(kernels, optimizer):
    """Two SGD/Adam steps on an Iris-sized MLP, a backward, every p.data assigned float64 (as
    ``p.data = p.data.astype(np.float64)``), a second backward without zero_grad, a step: the
    gradients' dtypes and values, and the parameters after the step."""
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        opt = optimizer(model.parameters())
        x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
        loss_fn, y = mt.CrossEntropyLoss(), np.arange(8) % 3
        for _ in range(2):  # the SGD kernel makes its flat buffers on its first step
            opt.zero_grad()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            opt.step()
        opt.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        grads = [p.grad.copy() for p in model.parameters()]
        opt.step()
        return grads, [p.data.copy() for p in model.parameters()]
    finally:
        use_kernels(before)


def _torch_retype_then_accumulate(optimizer):
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    layers = [model[0], model[2]]
    twin = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for t, m in zip((twin[0], twin[2]), layers, strict=True):
            t.weight.copy_(torch.tensor(m.W.data.T))
            t.bias.copy_(torch.tensor(m.b.data))
    params = [twin[0].weight, twin[0].bias, twin[2].weight, twin[2].bias]
    opt = optimizer(params)
    x = torch.tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    y = torch.tensor(np.arange(8) % 3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(2):
        opt.zero_grad()
        loss_fn(twin(x), y).backward()
        opt.step()
    opt.zero_grad()
    loss_fn(twin(x), y).backward()
    for p in params:
        p.data = p.data.double()
    loss_fn(twin(x.double()), y).backward()
    grads = [p.grad.clone() for p in params]
    opt.step()
    as_mt = lambda ts: [ts[0].T.numpy(), ts[1].numpy(), ts[2].T.numpy(), ts[3].numpy()]  # noqa: E731
    return as_mt([g.detach() for g in grads]), as_mt([p.detach() for p in params])


# plain SGD: the kernel's flat buffers (kernels/flat.py); momentum and Adam: their state too
_RETYPE_OPTIMIZERS = {
    "SGD": (lambda ps: mt.SGD(ps, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "SGD-momentum": (lambda ps: mt.SGD(ps, lr=0.1, momentum=0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "Adam": (lambda ps: mt.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
}


@pytest.mark.parametrize("name", list(_RETYPE_OPTIMIZERS))
def test_a_parameter_retyped_with_a_gradient_kept_gives_torchs_answer_kernels_on_and_off(name):
    """``p.data = p.data.astype(np.float64)`` while p.grad (float32) is kept, then a backward without
    zero_grad and a step: torch keeps the gradient's dtype (the new float64 gradient is added into
    it) and steps the float64 parameter with it; MiniTorch does the same on both paths, the flat
    buffers of the SGD kernel (kernels/flat.py) included."""
    mt_opt, t_opt = _RETYPE_OPTIMIZERS[name]
    on, off = _retype_then_accumulate(True, mt_opt), _retype_then_accumulate(False, mt_opt)
    expected = _torch_retype_then_accumulate(t_opt)
    for ours in (on, off):
        for got, want in zip([*ours[0], *ours[1]], [*expected[0], *expected[1]], strict=True):
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
