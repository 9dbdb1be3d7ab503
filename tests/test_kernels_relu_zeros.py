"""The kernels' ReLU operand (``kernels/relu_zeros.py``) and the ReLUs that write into
the product they follow (``kernels/containers.py`` chain forward, ``kernels/step_large.py``).

``np.maximum(relu_zero(x), x)`` must be ``np.maximum(0, x)``, the plain ReLU's, in every bit (NaN
kept, -0.0 kept as torch keeps it, infinities, subnormals) for every dtype, shape and layout, on
both sides of the row threshold; a ReLU may write into a product only where nothing else holds
it: never the caller's input, never an output a walk keeps (``mt.Diagnostics``'s ``outputs``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import containers, kernels_enabled, use_kernels
from minitorch.kernels import relu_zeros as zeros
from minitorch.kernels.relu_zeros import ROW_ZERO_FROM, relu_zero

SPECIALS = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 5e-324, -5e-324, 1.0, -2.5, 3e38]


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([np.float16, np.float32, np.float64]),
       shape=st.lists(st.integers(1, 70), min_size=1, max_size=3).map(tuple),
       layout=st.sampled_from(["c", "fortran", "strided", "reversed"]),
       row_from=st.sampled_from([ROW_ZERO_FROM, 1]), seed=st.integers(0, 2**16))
def test_relu_zero_gives_the_plain_relu_bitwise(dtype, shape, layout, row_from, seed):
    before, zeros.ROW_ZERO_FROM = zeros.ROW_ZERO_FROM, row_from
    try:
        _same_as_plain_relu(dtype, shape, layout, seed)
    finally:
        zeros.ROW_ZERO_FROM = before


def _same_as_plain_relu(dtype, shape, layout, seed):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore", under="ignore"):
        values = np.array(SPECIALS + list(rng.standard_normal(16)), dtype)
    x = rng.choice(values, size=shape)
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    elif layout == "reversed":
        x = x[..., ::-1]
    zero = relu_zero(x)
    got, plain = np.maximum(zero, x), np.maximum(0, x)
    assert got.dtype == plain.dtype and got.shape == plain.shape
    assert got.tobytes() == plain.tobytes()
    assert not zero.flags.writeable


def test_relu_zero_is_a_row_of_the_inputs_width_from_the_threshold():
    small = np.ones((1, ROW_ZERO_FROM - 1), np.float32)
    large = np.ones((2, ROW_ZERO_FROM // 2), np.float32)
    assert relu_zero(small).shape == ()
    assert relu_zero(large).shape == (ROW_ZERO_FROM // 2,) and relu_zero(large).dtype == np.float32
    assert relu_zero(large) is relu_zero(large.astype(np.float32))  # kept per dtype and width
    assert relu_zero(large.astype(np.float64)).dtype == np.float64
    assert relu_zero(np.float32(-1.0)).shape == ()  # 0-d: the 0-d zero


def _chain(width=80):
    mt.manual_seed(0)
    return mt.Sequential(mt.Linear(width, width), mt.ReLU(), mt.Linear(width, width), mt.ReLU())


@pytest.mark.parametrize("kernels", [True, False])
def test_a_walk_keeping_every_output_sees_the_linear_output_before_its_relu(kernels):
    """The chain kernel's ReLU writes into the product before it only where no one keeps that
    product: with ``outputs`` (what ``mt.Diagnostics`` reads) each Linear's output keeps its
    negative values; the chain's numbers are the plain ones either way."""
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        model, x = _chain(), np.random.default_rng(1).standard_normal((64, 80)).astype(np.float32)
        outputs: list = []
        y = containers.sequential_forward(model, x, outputs) if kernels else model(x)
        if kernels:
            assert len(outputs) == 4 and (outputs[0] < 0).any() and (outputs[1] >= 0).all()
            assert outputs[3] is y
        use_kernels(False)
        plain = _chain()(x)
        assert y.tobytes() == plain.tobytes()
    finally:
        use_kernels(before)


@pytest.mark.parametrize("first", ["relu", "linear"])
def test_a_chain_never_writes_into_the_callers_input(first):
    """The caller's array is never written: a chain whose first child is a ReLU (the five calls'
    chain forward: the large-chain step takes a chain from a Linear only) or a Linear (the
    large-chain step, whose ReLUs write into the products before them)."""
    from minitorch.kernels import step_large

    width = 130  # a (130, 130) weight is past containers.SMALL_WEIGHT_BYTES: the large-chain step
    mt.manual_seed(0)
    head = [mt.ReLU()] if first == "relu" else []
    model = mt.Sequential(*head, mt.Linear(width, width), mt.ReLU(), mt.Linear(width, 10))
    loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
    x = np.random.default_rng(2).standard_normal((64, width)).astype(np.float32)
    kept, y = x.copy(), np.arange(64) % 10
    taken = []
    original = step_large.forward_backward

    def counting(*args):
        out = original(*args)
        taken.append(out is not NotImplemented)
        return out

    step_large.forward_backward = counting
    before = kernels_enabled()
    use_kernels(True)
    try:
        mt.fit(model, loss_fn, opt, [(x, y)], 3, verbose=0)
        model(x)
    finally:
        step_large.forward_backward = original
        use_kernels(before)
    assert any(taken) == (first == "linear") and x.tobytes() == kept.tobytes()
