"""pad(input, pad, mode, value), as torch.nn.functional.pad, and the index maps the padding layers share.

Every mode is one index map per padded axis (``pad_source``): output position o of an axis of
length L + left + right reads input position src[o], with i = o - left:
  constant     src = i where 0 <= i < L, else the fill value (no source)
  reflect      src = |i|, then 2*(L - 1) - src where src >= L   (the edge not repeated)
  replicate    src = clip(i, 0, L - 1)
  circular     the crops first, then wrap: src = c0 + (o - max(left, 0)) mod n over the n = c1 - c0
               elements [c0, c1) left after cropping (torch crops before it wraps)
Each mode is separable: the maps are applied one axis after the other (``apply_pad_maps``). A
negative amount crops that side. Where x or y has no elements nothing is read: circular padding
returns the empty y wherever torch's checks pass (``circular_of_nothing``), which let crops and
wraps pass further than where y holds values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad_source(L: int, left: int, right: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(src, valid) of one axis (see the module docstring): src (L + left + right,) int64, valid
    False where the output is the constant fill."""
    i = np.arange(L + left + right) - left
    valid = np.ones(i.shape, dtype=bool)
    if mode == "constant":
        valid = (i >= 0) & (i < L)
        return np.where(valid, i, 0), valid
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= L, 2 * (L - 1) - i, i), valid
    if mode == "replicate":
        return np.clip(i, 0, L - 1), valid
    c0, c1 = max(-left, 0), L - max(-right, 0)
    return c0 + (np.arange(i.size) - max(left, 0)) % max(c1 - c0, 1), valid


def fill_value(value: object, dtype: np.dtype, who: str) -> object:
    """value, checked as torch's fill of an array of ``dtype``: any number for bool; for an integer
    dtype a number within its range (then truncated toward 0), for a floating one a number within
    its range, +-inf or nan. Else a ValueError naming ``who``, as torch's "value cannot be converted
    to type ... without overflow" (NumPy would wrap it or round it to inf silently).
    torch reads the value as a double first, so it wraps an int64 fill of 2**63 - 1 or 2.0**63 (the
    same double) to -2**63: here the integer is kept exactly and 2.0**63 is refused."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":
        return value
    if dtype.kind == "f":
        top = float(np.finfo(dtype).max)
        inside = value != value or value in (math.inf, -math.inf) or -top <= value <= top
    else:
        info = np.iinfo(dtype)
        inside = value == value and info.min <= value <= info.max  # (nan == nan is False)
    if not inside:
        raise ValueError(f"{who}: the fill value {value!r} cannot be converted to dtype {dtype} without "
                         "overflow (torch refuses it too)")
    return value


def apply_pad_maps(x: np.ndarray, maps: Sequence[tuple[int, np.ndarray, np.ndarray]],
                   value: object, who: str = "pad") -> np.ndarray:
    """y: x read through each (axis, src, valid) map in turn, ``value`` where valid is False (checked
    against x's dtype by ``fill_value`` when some position is filled)."""
    if any(not valid.all() for _, _, valid in maps):
        value = fill_value(value, x.dtype, who)
    y = x
    for axis, src, valid in maps:
        if y.shape[axis] == 0:  # nothing to read (constant mode): every output position is the fill
            y = np.full(y.shape[:axis] + (src.size,) + y.shape[axis + 1:], value, dtype=y.dtype)
            continue
        y = np.take(y, src, axis=axis)
        if not valid.all():  # constant mode: the fill where no input element is read
            y[(Ellipsis, ~valid) + (slice(None),) * (x.ndim - 1 - axis)] = value
    return y


def pad(input: np.ndarray, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> np.ndarray:
    """y: x padded (or cropped, for negative amounts) on its last len(pad) // 2 axes, as
    torch.nn.functional.pad.

    Shapes:  pad = (left_last, right_last, left_2nd_last, right_2nd_last, ...): pairs from the last
             axis back; each padded axis L becomes L + left + right; y keeps x's dtype
    mode "constant": any x with at least len(pad) // 2 axes (0-D with pad=()); fill ``value``
             (None: 0; cast to x's dtype, so an integer x truncates it, as torch; one outside the
             dtype's range is refused, as torch: ``fill_value``); each crop must leave >= 0 elements
    mode "reflect", "replicate", "circular": pad 1, 2 or 3 axes (len(pad) 2, 4 or 6) of an input
             with 1 or 2 more axes ((C, *S) or (N, C, *S)); ``value`` must be None or 0
      reflect:    left, right < L (the edge is not repeated)
      reflect, replicate: every axis but N non-empty, and not every padded axis of y empty
      circular:   left, right <= the elements the crops leave (wrapping at most once); where x
                  or y has no elements, what torch takes (``circular_of_nothing``), y empty
    Whatever torch refuses is a ValueError naming the rule (torch raises RuntimeError or
    NotImplementedError); a pad that is not a sequence of ints is a TypeError, as torch's.
    Example:
        pad(np.arange(3.0), (1, 2))                              # [0, 0, 1, 2, 0, 0]
        pad(np.arange(6.0).reshape(1, 2, 3), (1, 1), "reflect")  # [[[1, 0, 1, 2, 1], [4, 3, 4, 5, 4]]]
    """
    x = _pad_input(input, mode)
    pads = _pad_amounts(pad, x.ndim, mode)
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no fill value, got value={value!r} (as torch; "
                         "use mode='constant' to fill)")
    if value is not None and not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"pad: value must be a real number or None, got {value!r}")
    maps = pad_maps(x.shape, pads, mode, "pad")
    return apply_pad_maps(x, maps, 0 if value is None else value)


def _pad_input(input: object, mode: str) -> np.ndarray:
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, PAD_MODES))}, got {mode!r}")
    x = np.asarray(input)
    if x.dtype.kind not in "biuf" or (x.dtype.kind == "b" and mode != "constant"):
        raise TypeError(f"pad: expected a numeric array (bool for mode 'constant' only), got dtype {x.dtype}")
    return x


def _pad_amounts(pad: object, ndim: int, mode: str) -> tuple[int, ...]:
    """pad as a tuple of ints, its length checked against x's ndim and the mode, as torch's."""
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in pad):
        raise TypeError(f"pad: pad must be a tuple of ints (left, right, ...), got {pad!r}")
    pads = tuple(int(v) for v in pad)
    if len(pads) % 2:
        raise ValueError(f"pad: pad must hold pairs (left, right) per axis, got {len(pads)} values {pads}")
    k = len(pads) // 2
    if k > ndim:
        raise ValueError(f"pad: pad {pads} pads {k} axes, but the input has only {ndim}")
    if mode != "constant" and (k not in (1, 2, 3) or ndim not in (k + 1, k + 2)):
        raise ValueError(f"pad: mode {mode!r} pads the last 1, 2 or 3 axes of an input with 1 or 2 more "
                         f"(C, *S) or (N, C, *S); got pad of {len(pads)} values for a {ndim}-D input")
    return pads


def pad_maps(shape: tuple[int, ...], pads: tuple[int, ...], mode: str,
             who: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(axis, src, valid) for each padded axis, last axis first, after torch's checks (a ValueError
    naming ``who``)."""
    k = len(pads) // 2
    first = 1 if len(shape) == k + 2 else 0  # N, the batch axis, may be empty
    if mode in ("reflect", "replicate") and 0 in shape[first:]:
        empty = first + shape[first:].index(0)
        raise ValueError(f"{who}: axis {empty} of input {shape} is empty: mode {mode!r} needs every axis but "
                         "the batch axis non-empty (it reads the edge elements; torch refuses it too)")
    # x or y without elements: nothing is read, and circular padding takes what torch's checks take
    nothing = 0 in shape or any(shape[-1 - a] + pads[2 * a] + pads[2 * a + 1] == 0 for a in range(k))
    maps = []
    for a in range(k):
        axis, (left, right) = len(shape) - 1 - a, pads[2 * a: 2 * a + 2]
        L = shape[axis]
        kept = L - max(-left, 0) - max(-right, 0)  # what the crops leave
        if mode == "circular" and nothing and circular_of_nothing(L, left, right):
            size = L + left + right  # y is empty: any index in range (L > 0 where size > 0), none read
            maps.append((axis, np.zeros(size, dtype=np.int64), np.ones(size, dtype=bool)))
            continue
        if mode == "reflect" and (left >= L or right >= L):
            raise ValueError(f"{who}: padding {(left, right)} must be less than the input size {L} "
                             f"of axis {axis} (input {shape}), as torch")
        if (kept < 0 if mode in ("constant", "circular") else L + left + right < 0):
            raise ValueError(f"{who}: padding {(left, right)} crops more than axis {axis} of input "
                             f"{shape} holds")
        if mode == "circular" and L == 0 and (left or right):
            raise ValueError(f"{who}: axis {axis} of input {shape} is empty: circular padding "
                             f"{(left, right)} has no element to wrap (torch refuses it too)")
        # torch checks the wrap against the uncropped length L: a wrap past what the crops leave
        # (left 1, right -3 on 3 elements) passes its check and reads output memory it never wrote
        if mode == "circular" and max(left, right) > kept:
            raise ValueError(f"{who}: padding {(left, right)} wraps around axis {axis} of input "
                             f"{shape} more than once ({kept} elements after cropping); torch refuses a "
                             "wrap past the axis, and past a crop gives unwritten values")
        maps.append((axis, *pad_source(L, left, right, mode)))
    if mode in ("reflect", "replicate") and maps and all(src.size == 0 for _, src, _ in maps):
        raise ValueError(f"{who}: padding {pads} leaves input {shape} no element along the padded axes")
    return maps


def _torch_slice_size(size: int, start: int, end: int) -> int:
    """The length of torch's slice [start, end) of an axis of ``size``: a negative bound counts from
    the end, then both are clamped into [0, size] with end >= start (at::slice's bounds)."""
    start, end = start + size if start < 0 else start, end + size if end < 0 else end
    start = min(max(start, 0), size)
    return min(max(end, start), size) - start


def circular_of_nothing(L: int, left: int, right: int) -> bool:
    """Whether torch's circular pad takes (left, right) on an axis of length L where x or y has no
    elements (y is then empty): torch checks left, right <= L (not against what the crops leave) and
    L + left + right >= 0, then copies x's kept slice into y's middle, refused unless the source's
    length broadcasts to the target's (the same, or 1). Its slice bounds (``_torch_slice_size``) let
    crops past the axis and wraps past the crop through. (Torch's copies of the wrapped pads make
    the same check; on every such axis it passes wherever this one does.)"""
    size = L + left + right
    if max(left, right) > L or size < 0:
        return False
    source = _torch_slice_size(L, max(-left, 0), L - max(-right, 0))  # x's kept elements
    target = _torch_slice_size(size, max(left, 0), size - max(right, 0))  # y between its pads
    return source in (target, 1)
