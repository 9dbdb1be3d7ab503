"""Kernels of Embedding's lookup and scatter-add (``minitorch/layers/embedding.py``): same signatures,
same results (bitwise, the sign of every zero too), fewer passes.

With 2+ threads, while a stream of training steps runs, the kernels' twin groups each forward's ids
and zero-fills the next gradients ahead of the backward (``kernels/embedding_ahead.py``).
"""

from __future__ import annotations

import numpy as np

from minitorch.kernels import embedding_ahead as ahead
from minitorch.kernels.grouping import runs
from minitorch.kernels.zeros import zeros as _zeros


def lookup_rows(weight, ids):
    """Kernel of ``embedding.lookup_rows`` (same formula: y = weight[ids]).

    Saves: ``np.take(weight, ids, axis=0)`` copies whole rows in one loop; fancy indexing sets up
    NumPy's general advanced-indexing machinery for the same copy. (``out=`` into a reused buffer was
    tried and is slower: take then buffers its output.) Returns a fresh array, as the plain form does
    for array ids.
    """
    ahead.post(weight, ids)  # a live session's twin groups the ids meanwhile (embedding_ahead)
    return np.take(weight, ids, axis=0)


def _runs_in_range(ids: np.ndarray, num_rows: int,
                   rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``grouping.runs`` of 1-D integer ids (len >= 1) in [0, num_rows) for rows of ``rows``' width; None for
    other ids (np.add.at's own rules: negative ids wrap, booleans select) or very frequent repeats."""
    if ids.dtype.kind not in "iu":
        return None
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= num_rows:
        return None
    return runs(ids, high, rows[0].size if rows.ndim > 1 else 1)


def _rows_of(a):
    """a's rows as single items of row-size bytes (a view) when a is one C-contiguous block with 2+
    dims and elements, else a: fancy indexing then copies each row as one item instead of walking it
    element by element. Two C-contiguous arrays of one dtype and row shape, each with a row or more,
    get the same answer: both views with one item size, or both themselves."""
    if a.ndim < 2 or not a.flags.c_contiguous or a.size == 0:
        return a
    return a.reshape(len(a), -1).view(np.dtype((np.void, a[0].nbytes))).reshape(len(a))


def scatter_rows(num_rows: int, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Kernel of ``embedding.scatter_rows`` (same formula: zeros (num_rows, dim), then
    out[ids[k]] += rows[k] for every k, repeated ids adding up).

    Saves: the gather of zeros and the add for every row, and all but two passes over the large
    array. Each distinct id's sum is built first in a compact (distinct ids, dim) array that stays
    in cache (the ids most frequent first, see ``grouping.runs``): the first occurrences gathered, then one
    contiguous ``+=`` per rank of repeats (all second occurrences into a prefix of the sums, all
    third into a shorter prefix, ...). Then the zero fill (after the small work: the fill evicts the
    cache) and one scatter of the sums, each row moved as one item. Equal to the plain form to the
    bit, the sign of every zero too: each id's rows are added in the order of their positions, as
    ``np.add.at`` adds them, and the first occurrences get ``+ 0`` as the plain form adds the first
    row to its +0.0 (so a -0.0 comes out +0.0; the only case in which ``0 + r`` is not ``r``).
    Ids outside [0, num_rows) and ids repeated very often (see ``grouping.runs``) get the plain form.
    The gradient is always a fresh array of zeros: recycling the last one would save its zero
    fill, but rows written into it in place by other code since could not be ruled out without
    reading all of it. With 2+ threads it is made ahead on the other core, which keeps the fill's
    writes out of this core's cache: during a stream of training steps the twin fills it and
    groups the forward's ids (``embedding_ahead``: the same ``grouping.runs``, so the same bits),
    else a background thread fills it (``kernels/zeros.py``); with one, ``np.zeros`` here.
    """
    if not len(ids):
        return np.zeros((num_rows,) + rows.shape[1:], dtype=rows.dtype)
    grouped = ahead.grouping(num_rows, ids, rows) or _runs_in_range(ids, num_rows, rows)
    if grouped is None:  # ids repeated very often (a character-level text) or out of range: plain
        out = _fresh_zeros((num_rows,) + rows.shape[1:], rows.dtype)
        np.add.at(out, ids, rows)
        return out
    uniq, positions = grouped
    sums = np.take(rows, positions[0], axis=0)
    sums += 0  # the plain form's 0.0 + first row: -0.0 becomes +0.0, as there
    for pos in positions[1:]:  # rank r adds to the ids with more than r occurrences: a prefix
        sums[:len(pos)] += np.take(rows, pos, axis=0)
    out = _fresh_zeros((num_rows,) + rows.shape[1:], rows.dtype)
    # out and sums: fresh C-contiguous arrays of rows' dtype and row shape, each with a row or more
    # (grouped ids lie in [0, num_rows) and there is one at least), so _rows_of views both or neither
    _rows_of(out)[uniq] = _rows_of(sums)
    return out


def _fresh_zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.zeros(shape, dtype), fresh: filled ahead by the twin (embedding_ahead.zeros) or by the
    zero maker thread (kernels/zeros.py), else made here."""
    out = ahead.zeros(shape, dtype)
    return _zeros(shape, dtype) if out is None else out


def scatter_add_rows(target: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """Kernel of ``embedding.scatter_add_rows`` (same formula: target[ids[k]] += rows[k] for every k,
    repeated ids adding up; the plain form is ``np.add.at(target, ids, rows)``).

    Saves: ``np.add.at`` handles one row at a time. Here the occurrences are grouped by rank (one
    sort, see ``grouping.runs``): rank 0 is every id's first occurrence, rank 1 its second, ... Within a rank
    no id repeats, so ``target[ids_r] += rows_r`` is an ordinary buffered gather-add-scatter: one
    vectorised update per rank (a handful with 30 % repeated ids) instead of one small update per
    row. Equal to ``np.add.at`` bitwise (repeats are added in the order of their positions). Ids
    outside [0, len(target)) and ids repeated very often get ``np.add.at`` itself.
    """
    if not len(ids):
        return
    grouped = _runs_in_range(ids, len(target), rows)
    if grouped is None:  # ids repeated very often or out of range (negative ones wrap): plain
        np.add.at(target, ids, rows)
        return
    uniq, positions = grouped
    for pos in positions:  # within a rank no id repeats: a buffered += is exact
        target[uniq[:len(pos)]] += np.take(rows, pos, axis=0)
