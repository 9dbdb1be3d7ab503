"""The occurrences of integer ids grouped by rank: the index work of Embedding's scatter-add.

``runs(ids, high, width)`` sorts the ids once (stably) and lists, rank by rank, the positions of
every id's first, second, ... occurrence, the most frequent ids first; within a rank no id repeats,
so one vectorised update per rank adds rows exactly as ``np.add.at`` does (``kernels/embedding.py``).
The kernels' twin runs the same function ahead of the backward (``kernels/embedding_twin.py``).
"""

from __future__ import annotations

import numpy as np

MAX_RANKS = 8  # up to this many occurrences of one id, a loop over ranks beats np.add.at; beyond,
# up to n * width / 512 of n ids of width elements (a rank's few NumPy calls against np.add.at's
# per-row cost, which grows with the row's width)


def stable_order(a: np.ndarray, high: int) -> np.ndarray:
    """np.argsort(a, kind="stable") for a 1-D array of integers in [0, high]: equal values keep their
    positions' order.

    Values below 2**8 or 2**16 are sorted as uint8 or uint16, for which NumPy's stable sort is a
    radix sort (one or two linear passes) instead of a merge sort; wider values sort the keys
    (a << b) | position, b = bits of len(a) (no two equal, so any sort is stable), and keys that
    could overflow int64 use argsort itself.
    """
    if high < 1 << 16:
        return np.argsort(a.astype(np.uint8 if high < 1 << 8 else np.uint16), kind="stable")
    n = len(a)
    bits = n.bit_length()
    if high >= 1 << (62 - bits):
        return np.argsort(a, kind="stable")
    key = a.astype(np.int64)
    key <<= bits
    key |= np.arange(n)
    key.sort()
    key &= (1 << bits) - 1
    return key


def runs(ids: np.ndarray, high: int, width: int) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """The occurrences of 1-D integer ids in [0, high] (len >= 1) grouped by rank, from one stable sort:
    (uniq, positions), or None if one id occurs more than ``MAX_RANKS`` times and more than
    n * width / 512 times, width = elements per row (the callers then use ``np.add.at``).

    uniq          the distinct ids, the most frequent first (ties: ascending id)
    positions[r]  the positions of the (r+1)-th occurrences of uniq[:len(positions[r])]: positions[0]
                  every id's first occurrence, positions[1] the second occurrences (of the ids that
                  have one: a prefix of uniq, since the most frequent come first), ...
    No id repeats within a rank, and an id's occurrences come rank by rank in the order of their
    positions, the order in which ``np.add.at`` adds them.
    """
    n = len(ids)
    order = stable_order(ids, high)
    sorted_ids = ids[order]
    first = np.empty(n, dtype=bool)  # where a run of equal sorted ids starts
    first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
    starts = first.nonzero()[0]
    if len(starts) == n:
        return sorted_ids, [order]
    lengths = np.empty(len(starts), dtype=starts.dtype)  # occurrences of each distinct id
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = n - starts[-1]
    longest = int(lengths.max())
    if longest > MAX_RANKS and longest * 512 > n * width:
        return None  # one vectorised update per rank would cost more than np.add.at's per-row ones
    starts = starts[stable_order(longest - lengths, longest)]  # the runs, the longest first
    at_least = np.bincount(lengths).tolist()  # ids with exactly L occurrences, L = 0 ... longest
    for length in range(longest - 1, 0, -1):  # ... with at least L occurrences
        at_least[length] += at_least[length + 1]
    positions = [order[starts]]
    for rank in range(1, longest):
        positions.append(order[starts[:at_least[rank + 1]] + rank])
    return sorted_ids[starts], positions
