"""Packed sequences, as torch.nn.utils.rnn: ``PackedSequence`` and the functions that make and undo it.

A batch of B sequences of lengths lengths[b] (longest first, after sorting) is packed time step by
time step: step t holds the batch_sizes[t] = #{b : lengths[b] > t} sequences still running, so

    data        (sum(lengths), *)   rows of step 0 (batch_sizes[0] of them), then step 1, ...
    batch_sizes (T,) int64          T = max(lengths); non-increasing, batch_sizes[0] = B
    sorted_indices   (B,) int64 or None: packed column j is the caller's sequence sorted_indices[j]
    unsorted_indices (B,) int64 or None: its inverse (the caller's sequence b is column unsorted_indices[b])

RNN, LSTM and GRU take a PackedSequence and return one (``layers/rnn_packed.py``). The names are
exported at the top level too (``mt.pack_padded_sequence``). Equal lengths with enforce_sorted=False
keep the caller's order (a stable sort); torch's sort keeps it for B <= 16 only, so above that
torch may pack tied sequences in another order (sorted_indices differ; everything padded back and
h_n agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from minitorch.checks import check_bool, check_nonnegative_int
from minitorch.parameter import Parameter

__all__ = ["PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence"]


class _PackedFields(NamedTuple):
    data: np.ndarray
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None
    unsorted_indices: np.ndarray | None


class PackedSequence(_PackedFields):
    """torch's PackedSequence: the named tuple (data, batch_sizes, sorted_indices, unsorted_indices).

    ``PackedSequence(data, batch_sizes, sorted_indices=None, unsorted_indices=None)``, or torch's
    ``PackedSequence((data, batch_sizes), sorted_indices=...)``; unsorted_indices defaults to the
    inverse of sorted_indices. Make one with ``pack_padded_sequence`` or ``pack_sequence``.
    """

    def __new__(cls, data: Any, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> PackedSequence:
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise ValueError("PackedSequence: expected (data, batch_sizes) or data and batch_sizes, "
                                 f"got {type(data).__name__} alone")
            data, batch_sizes = data
        if sorted_indices is not None:
            sorted_indices = np.asarray(sorted_indices, dtype=np.int64)
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        elif unsorted_indices is not None:
            unsorted_indices = np.asarray(unsorted_indices, dtype=np.int64)
        return super().__new__(cls, _data(data, "PackedSequence"), np.asarray(batch_sizes, dtype=np.int64),
                               sorted_indices, unsorted_indices)


def _data(value: Any, who: str) -> np.ndarray:
    """``value`` as an array; TypeError for a Parameter that requires grad: these functions have no
    backward, so it would get no gradient where torch's autograd gives it one."""
    if isinstance(value, Parameter) and value.requires_grad:
        raise TypeError(
            f"{who}: got a Parameter that requires grad; packing and padding have no backward, so it "
            "would get no gradient (torch's autograd gives it one). Pass p.data and add its gradient "
            "yourself (pad_packed_sequence of the gradient an RNN returns for a packed input is the "
            "gradient of the padded input), or a Parameter with requires_grad=False if it is data"
        )
    return np.asarray(value)


def invert_permutation(permutation: np.ndarray | None) -> np.ndarray | None:
    """The inverse permutation: out[permutation[i]] = i (None stays None), as torch's."""
    if permutation is None:
        return None
    out = np.empty_like(permutation)
    out[permutation] = np.arange(len(permutation))
    return out


def _check_lengths(lengths: Any, batch: int, steps: int, enforce_sorted: bool) -> np.ndarray:
    """lengths as int64 (B,), each in [1, steps], non-increasing if enforce_sorted; else an error."""
    who = "pack_padded_sequence"
    values = np.asarray(lengths)
    if values.dtype.kind not in "iuf" or values.ndim != 1:
        raise TypeError(f"{who}: expected lengths a 1-D list or array of integers, got "
                        f"{values.ndim}-D {values.dtype}")
    if values.dtype.kind == "f" and not np.array_equal(values, np.floor(values)):
        raise ValueError(f"{who}: expected whole-number lengths, got {values.tolist()}")
    values = values.astype(np.int64)
    if batch == 0:
        raise ValueError(f"{who}: expected at least one sequence, got an input of batch size 0")
    if len(values) != batch:
        raise ValueError(f"{who}: expected len(lengths) equal to the batch size {batch}, got {len(values)}")
    if (values <= 0).any() or (values > steps).any():
        raise ValueError(f"{who}: expected every length in [1, {steps}] (1 <= length <= the padded "
                         f"input's {steps} steps), got {values.tolist()}")
    if enforce_sorted and (np.diff(values) > 0).any():
        raise ValueError(f"{who}: expected lengths sorted in decreasing order with enforce_sorted=True, "
                         f"got {values.tolist()}; pass enforce_sorted=False to sort them here")
    return values


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (batch_first: (B, T, *)) whose sequence b has lengths[b] steps.

    enforce_sorted: lengths must be non-increasing (sorted_indices None); False sorts them here
    (stable, longest first) and records sorted_indices. Steps past a length are never read.
    """
    check_bool(batch_first, "pack_padded_sequence", "batch_first")
    check_bool(enforce_sorted, "pack_padded_sequence", "enforce_sorted")
    x = _data(input, "pack_padded_sequence")
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected input (T, B, *) or batch_first (B, T, *), "
                         f"got shape {x.shape}")
    x = x.swapaxes(0, 1) if batch_first else x  # time-major (T, B, *)
    lengths = _check_lengths(lengths, x.shape[1], x.shape[0], enforce_sorted)
    sorted_indices = None
    if not enforce_sorted:
        sorted_indices = np.argsort(-lengths, kind="stable")
        lengths, x = lengths[sorted_indices], x[:, sorted_indices]
    running = np.arange(lengths[0])[:, None] < lengths[None, :]  # (T', B): lengths sorted, so a prefix
    return PackedSequence(x[:lengths[0]][running], running.sum(axis=1), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(padded (T, B, *) or batch_first (B, T, *), lengths (B,) int64), in the caller's original order;
    T = total_length if given (at least the longest length), else the longest length."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes, _, unsorted_indices = sequence
    check_bool(batch_first, "pad_packed_sequence", "batch_first")
    steps = len(batch_sizes)
    if total_length is not None:
        check_nonnegative_int(total_length, "pad_packed_sequence", "total_length")
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: expected total_length at least the longest sequence's "
                             f"length {steps}, got total_length={total_length}")
        steps = total_length
    batch = int(batch_sizes[0])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1).astype(np.int64)
    running = np.arange(steps)[:, None] < lengths[None, :]
    padded = np.full((steps, batch) + data.shape[1:], padding_value, dtype=data.dtype)
    padded[running] = data
    if unsorted_indices is not None:
        padded, lengths = padded[:, unsorted_indices], lengths[unsorted_indices]
    return (np.ascontiguousarray(padded.swapaxes(0, 1)) if batch_first else padded), lengths


def pad_sequence(sequences: Iterable[Any], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> np.ndarray:
    """Stack B sequences (L_b, *) into (T, B, *) (batch_first: (B, T, *)), T = max L_b, filled with
    padding_value after each sequence (padding_side "left": before it); the first sequence's dtype."""
    who = "pad_sequence"
    if not isinstance(sequences, Iterable) or isinstance(sequences, np.ndarray):
        raise TypeError(f"{who}: expected a list of arrays (L, *), got {type(sequences).__name__}")
    arrays = [_data(s, who) for s in sequences]
    check_bool(batch_first, who, "batch_first")
    if padding_side not in ("left", "right"):
        raise ValueError(f"{who}: expected padding_side 'left' or 'right', got {padding_side!r}")
    if not arrays:
        raise ValueError(f"{who}: expected at least one sequence, got an empty list")
    if any(a.ndim == 0 for a in arrays) or len({a.shape[1:] for a in arrays}) > 1:
        raise ValueError(f"{who}: expected sequences (L, *) with the same trailing shape, got shapes "
                         f"{[a.shape for a in arrays]}")
    steps = max(len(a) for a in arrays)
    out = np.full((steps, len(arrays)) + arrays[0].shape[1:], padding_value, dtype=arrays[0].dtype)
    for b, a in enumerate(arrays):
        if padding_side == "right":
            out[:len(a), b] = a
        else:
            out[steps - len(a):, b] = a
    return np.ascontiguousarray(out.swapaxes(0, 1)) if batch_first else out


def pack_sequence(sequences: Iterable[Any], enforce_sorted: bool = True) -> PackedSequence:
    """Pack B sequences (L_b, *): pack_padded_sequence(pad_sequence(sequences), [L_b ...], enforce_sorted)."""
    arrays = [_data(s, "pack_sequence") for s in sequences] if isinstance(sequences, Iterable) else sequences
    padded = pad_sequence(arrays)
    return pack_padded_sequence(padded, [len(a) for a in arrays], enforce_sorted=enforce_sorted)
