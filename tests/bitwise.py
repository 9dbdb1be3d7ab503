"""Bitwise equality of arrays: what a kernel's "fast == plain, bitwise" claim means.

``np.testing.assert_array_equal`` cannot see the sign of a zero (-0.0 == 0.0) and treats every NaN
as equal to every other; a claim of bitwise equality is checked on the bytes instead.
"""

from __future__ import annotations

import numpy as np


def assert_bitwise(got, expected, err_msg: str = "") -> None:
    """got and expected have the same dtype, shape and bytes (so the same sign of every zero and the
    same NaN payloads); the error names the first element that differs and both values."""
    name = err_msg or "array"
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    a, b = np.ascontiguousarray(got), np.ascontiguousarray(expected)
    if a.tobytes() == b.tobytes():
        return
    width = a.dtype.itemsize
    raw_a = np.frombuffer(a.tobytes(), dtype=np.uint8).reshape(-1, width)
    raw_b = np.frombuffer(b.tobytes(), dtype=np.uint8).reshape(-1, width)
    differs = np.flatnonzero((raw_a != raw_b).any(axis=1))
    index = np.unravel_index(int(differs[0]), a.shape) if a.shape else ()
    raise AssertionError(f"{name}: not bitwise equal at {tuple(int(i) for i in index)}: "
                         f"{a[index]!r} vs {b[index]!r} ({len(differs)} elements differ)")


def assert_same_outcome(got, expected, where: str = "outcome") -> None:
    """Two runs' outcomes the same: arrays bitwise (``assert_bitwise``), lists, tuples and dicts
    item by item, anything else by ``==``; the error names the path to the first difference."""
    if isinstance(got, np.ndarray) or isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray) and isinstance(expected, np.ndarray), where
        assert_bitwise(got, expected, where)
    elif isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), f"{where}: {got} vs {expected}"
        for i, (u, v) in enumerate(zip(got, expected, strict=True)):
            assert_same_outcome(u, v, f"{where}[{i}]")
    elif isinstance(got, dict) and isinstance(expected, dict):
        assert sorted(got) == sorted(expected), where
        for key in got:
            assert_same_outcome(got[key], expected[key], f"{where}[{key}]")
    else:
        assert got == expected, f"{where}: {got} vs {expected}"
