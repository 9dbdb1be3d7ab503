"""Upsample's kernels (minitorch/kernels/upsample.py) equal the plain tap sums bitwise, over a grid of
modes, align_corners, sizes and scale factors, both dtypes, with nan, inf, -inf and -0.0 in x and dy."""

from __future__ import annotations

import numpy as np
import pytest
from bitwise import assert_bitwise
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt
from minitorch.kernels import fast_or_plain
from minitorch.kernels import upsample as fast
from minitorch.layers import upsample as plain

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0]
SCALES = [2, 3, 1.5, 1.7, 0.5, (0.5, 1.5), (1.3, 2.2), (2.2, 1.2), (1.0, 2.0)]  # the tests', and more


@st.composite
def upsample_cases(draw):
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    align = None if mode == "nearest" else draw(st.sampled_from([None, False, True]))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if draw(st.booleans()):
        option = {"size": (draw(st.integers(1, 13)), draw(st.integers(1, 13)))}
    else:
        scale = draw(st.sampled_from(SCALES))
        pair = scale if isinstance(scale, tuple) else (scale, scale)
        if int(H * pair[0]) < 1 or int(W * pair[1]) < 1:
            option = {"size": (H, W)}
        else:
            option = {"scale_factor": scale}
    return mt.Upsample(mode=mode, align_corners=align, **option), (draw(st.integers(1, 2)), 2, H, W)


def _with_specials(rng, shape, dtype, count):
    a = rng.standard_normal(shape).astype(dtype)
    where = rng.integers(0, a.size, count)
    a.reshape(-1)[where] = rng.choice(SPECIALS, count)
    return a


@settings(max_examples=150, deadline=None)
@given(case=upsample_cases(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
       specials=st.integers(0, 6))
def test_upsample_kernels_equal_the_plain_tap_sums_bitwise(case, dtype, seed, specials):
    up, shape = case
    rng = np.random.default_rng(seed)
    x = _with_specials(rng, shape, dtype, specials)
    with np.errstate(all="ignore"):
        up(x)  # the taps of this case
        rows, cols = up._rows, up._cols
        H, W = shape[2:]
        t = plain.tap_sum(x, cols, axis=3)
        assert_bitwise(fast.tap_sum(x, cols, axis=3), t, "t")
        y = plain.tap_sum(t, rows, axis=2)
        assert_bitwise(fast.tap_sum(t, rows, axis=2), y, "y")
        dy = _with_specials(rng, y.shape, dtype, specials)
        dt = plain.tap_sum_transpose(dy, rows, H, axis=2)
        assert_bitwise(fast.tap_sum_transpose(dy, rows, H, axis=2), dt, "dt")
        dx = plain.tap_sum_transpose(dt, cols, W, axis=3)
        assert_bitwise(fast.tap_sum_transpose(dt, cols, W, axis=3), dx, "dx")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_switch_picks_the_upsample_kernels_or_the_plain_tap_sums(enabled, monkeypatch):
    monkeypatch.setattr(mt.kernels, "_enabled", enabled)
    for function in (plain.tap_sum, plain.tap_sum_transpose):
        expected = getattr(fast, function.__name__) if enabled else function
        assert fast_or_plain("upsample", function) is expected


@pytest.mark.parametrize("up", [mt.Upsample(scale_factor=2, mode="bilinear"), mt.Upsample(size=(5, 5))],
                         ids=["bilinear-x2", "nearest-3-to-5"])
def test_an_inf_in_dy_read_for_a_position_read_fewer_times_raises_nothing_under_errstate(up):
    """The transpose's readings of the appended zero are 0 * 0 in the kernel too (never inf * 0): an
    inf in dy's last row, which the clipped gather reads for them, raises no invalid operation, as
    in the plain form."""
    up(np.zeros((1, 1, 3, 3)))
    dy = np.ones((1, 1, 5 if up.size else 6, 3))
    dy[..., -1, :] = np.inf
    with np.errstate(invalid="raise"):
        dt = plain.tap_sum_transpose(dy, up._rows, 3, axis=2)
        assert_bitwise(fast.tap_sum_transpose(dy, up._rows, 3, axis=2), dt)
    assert np.isinf(dt).any() and not np.isnan(dt).any()
