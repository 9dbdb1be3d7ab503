"""The kernels' ReLU (``kernels/relu.py``) and the ReLUs that write into the product they follow
(``kernels/containers.py`` chain forward, ``kernels/step_large.py``).

``relu(x)`` and ``relu(x, out=x)`` must be ``np.maximum(0, x)``, the plain ReLU's, in every bit
(NaN kept, -0.0 kept as torch keeps it, infinities, subnormals), dtype, shape and C-contiguity, for
every dtype, shape and layout, on each of its paths (rows of ``FLAT_WIDTH``, rows of the last
dimension, the 0-d zero); a ReLU may write into a product only where nothing else holds it: never
the caller's input, never an output a walk keeps (``mt.Diagnostics``'s ``outputs``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import containers, kernels_enabled, use_kernels
from minitorch.kernels import relu as kernel
from minitorch.kernels.relu import relu, row_width

SPECIALS = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 5e-324, -5e-324, 1.0, -2.5, 3e38]
SETTINGS = {"as-is": {}, "rows-everywhere": {"ROW_ZERO_FROM": 1, "FLAT_WIDTH": 4, "MIN_WIDTH": 1},
            "last-dimension": {"ROW_ZERO_FROM": 1, "FLAT_WIDTH": 10**9, "MIN_WIDTH": 1}}


def _values(dtype, shape, layout, seed):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore", under="ignore"):
        values = np.array(SPECIALS + list(rng.standard_normal(16)), dtype)
    x = rng.choice(values, size=shape)
    if layout == "fortran":
        return np.asfortranarray(x)
    if layout == "strided":
        return np.repeat(x, 2, axis=-1)[..., ::2]
    if layout == "reversed":
        return x[..., ::-1]
    return x


@settings(max_examples=80, deadline=None)
@given(dtype=st.sampled_from([np.float16, np.float32, np.float64]),
       shape=st.lists(st.integers(1, 70), min_size=1, max_size=3).map(tuple),
       layout=st.sampled_from(["c", "fortran", "strided", "reversed"]),
       setting=st.sampled_from(sorted(SETTINGS)), into=st.booleans(), seed=st.integers(0, 2**16))
def test_relu_gives_the_plain_relu_bitwise(dtype, shape, layout, setting, into, seed):
    before = {name: getattr(kernel, name) for name in SETTINGS["rows-everywhere"]}
    for name, value in SETTINGS[setting].items():
        setattr(kernel, name, value)
    try:
        x = _values(dtype, shape, layout, seed)
        plain = np.maximum(0, x) if x.dtype.char in "fd" else np.maximum(x, 0)  # (ReLU.forward's)
        source = x.copy(order="K") if into else x
        got = relu(source, out=source) if into else relu(x)
        assert got.dtype == plain.dtype and got.shape == plain.shape
        assert got.flags.c_contiguous == plain.flags.c_contiguous
        assert got.tobytes() == plain.tobytes()
        assert np.signbit(got).tobytes() == np.signbit(plain).tobytes()
        if into:
            assert got is source
    finally:
        for name, value in before.items():
            setattr(kernel, name, value)


def test_relu_takes_rows_where_they_pay():
    """Rows of FLAT_WIDTH where the size allows (a conv activation's narrow last dimension as well),
    else rows of a wide last dimension; the 0-d zero for a small, narrow or non-C-contiguous x."""
    f32 = np.float32
    assert row_width(np.ones((32, 64, 7, 7), f32)) == kernel.FLAT_WIDTH
    assert row_width(np.ones((512, 512), f32)) == kernel.FLAT_WIDTH
    assert row_width(np.ones((33, 130), f32)) == 130
    assert row_width(np.ones((33, 100), f32)) == 0  # narrow rows: the 0-d zero is faster
    assert row_width(np.ones((1, kernel.ROW_ZERO_FROM - 1), f32)) == 0
    assert row_width(np.ones((4, 512), f32)) == kernel.FLAT_WIDTH  # from ROW_ZERO_FROM = 2048 on
    assert row_width(np.ones((17, 128), f32)) == 128 == kernel.MIN_WIDTH  # (2176: no multiple of 512)
    assert row_width(np.ones((512, 512), f32, order="F")) == 0
    assert row_width(np.ones((512, 1024), f32)[:, ::2]) == 0
    assert row_width(np.array(1.0, f32)) == 0


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


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_gives_torchs_bits_in_every_dtype(kernels, dtype):
    """-0.0 stays -0.0 and a NaN keeps its bits, as torch's relu, in the layer (training and one-row
    inference), F.relu and the kernels' relu, on small and large inputs: NumPy's float16 loop gives
    its first operand on a tie (0 first gave +0.0 there), the float32 and float64 loops their second."""
    x = np.array([-0.0, 0.0, np.nan, -np.nan, -1.0, 2.0, np.inf, -np.inf] * 300, dtype)
    expected = torch.relu(torch.from_numpy(x)).numpy()
    before = kernels_enabled()
    use_kernels(kernels)
    try:
        mt.manual_seed(0)
        got = [mt.ReLU()(x), mt.ReLU()(x[:8]), mt.functional.relu(x), relu(x), relu(x.copy(), out=None)]
        with mt.no_grad():
            got.append(mt.Sequential(mt.ReLU(), mt.ReLU())(x[None, :8])[0])
    finally:
        use_kernels(before)
    for y in got:
        assert y.dtype == dtype and y.tobytes() == expected[:len(y)].tobytes()



def test_a_relu_after_another_layer_never_writes_into_that_layers_output():
    """After a child the chain kernel calls as it is (here one that keeps the array it returns), the
    ReLU makes a new array: that child's array keeps its negative values."""
    returned = []

    class Keeps(mt.Module):
        def forward(self, x):
            returned.append(x - 1.0)
            return returned[-1]

    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(6, 5), Keeps(), mt.ReLU())
    x = np.random.default_rng(3).standard_normal((8, 6)).astype(np.float32)
    before = kernels_enabled()
    use_kernels(True)
    try:
        y = model(x)
    finally:
        use_kernels(before)
    assert (returned[0] < 0).any() and y is not returned[0]


def test_relu_into_an_array_of_another_layout_writes_it():
    """An ``out`` that is not C-contiguous (its rows would be a copy) takes the 0-d path: written."""
    x = np.random.default_rng(3).standard_normal((128, 256)).astype(np.float32)  # rows of 512: a reshape
    out = np.empty((256, 128), np.float32).T
    got = relu(x, out=out)
    assert got is out and out.tobytes() == np.maximum(0, x).tobytes()
