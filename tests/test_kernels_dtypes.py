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

import numpy as np
import pytest
from cases import INPUT_CASES, MODULE_CASES

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
            for name, b in owner._buffers.items() if b.dtype.kind == "f"]


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
