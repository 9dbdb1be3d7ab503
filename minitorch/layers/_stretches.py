"""The stretches of rows a recurrent layer's time loop runs on: a padded batch, or a packed one.

The kind's time loop (``_recurrence.py``, or its kernel) runs on a block (T, n, ·): T steps of the
same n sequences. RNNBase (``rnn_base.py``) stacks layers and directions once for both layouts and
asks its layout for three things: ``forward`` and ``backward`` (the loop over the layout's
stretches) and ``flip`` (each sequence reversed in time, for the reverse direction; its own inverse).

``Padded``: x (L, N, ·); every sequence runs all L steps, so the whole block is one stretch and the
loop runs once on it; flip(a) = a[::-1], a view.

``Packed``: data (sum(lengths), ·) (``minitorch.rnn_utils``), step t's batch_sizes[t] running
sequences as consecutive rows, longest first. Steps where the running batch keeps one size n form a
stretch: its rows are one (steps, n, ·) block, and it starts from the first n rows of the state the
previous stretch left; the rows that stop running at a stretch's end hold their last state, their
h_n (c_n). Padding is never computed.

    forward:   per stretch s (steps T_s, batch n_s):  hs_s = loop(xw_s, h[:n_s], c[:n_s]);  h[:n_s] = hs_s[-1]
               output rows = every stretch's hs_s[1:], in order;   h_n[b] = h after b's own last step
    backward:  the stretches in reverse; dh (dc) starts as dh_n (dc_n); a stretch's loop backward takes
               its rows' dh[:n_s] and leaves them dh at its first step, so a sequence's dh_n enters at
               its own last step;  dW_hr (with proj_size) = the stretches' sum
    flip(a):   a[perm], perm reversing each sequence within its own length (``_reversal``), so the
               reverse direction starts at each sequence's own end
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Padded:
    """x (L, N, ·): one stretch of L steps of N sequences (see the module docstring)."""

    @staticmethod
    def flip(a: np.ndarray) -> np.ndarray:
        return a[::-1]

    @staticmethod
    def forward(loop: Any, xw: np.ndarray, h0: np.ndarray, c0: Any, args: tuple) -> tuple:
        """(out, h_prev, h_n, c_n, cache): out (L, N, R) the h_t, h_prev the h_{t-1}, both views of hs."""
        hs, c_n, cache = loop(xw, h0, c0, *args)
        return hs[1:], hs[:-1], hs[-1], c_n, cache

    @staticmethod
    def backward(loop: Any, dhs: np.ndarray, dh_n: np.ndarray, dc_n: Any, cache: Any, args: tuple) -> tuple:
        """(dxw, dhw, dh0, dc0, dW_hr or None): the loop's backward on the one stretch."""
        back = loop(dhs, dh_n, dc_n, cache, *args)
        return back if len(back) == 5 else (*back, None)


PADDED = Padded()


def _stretches(batch_sizes: np.ndarray) -> list[tuple[int, int, int]]:
    """(first packed row, steps, batch) of each run of equal batch sizes, in time order."""
    starts = np.flatnonzero(np.diff(batch_sizes, prepend=-1))
    ends = np.append(starts[1:], len(batch_sizes))
    rows = np.concatenate(([0], np.cumsum(batch_sizes)))
    return [(int(rows[a]), int(b - a), int(batch_sizes[a])) for a, b in zip(starts, ends, strict=True)]


def _reversal(batch_sizes: np.ndarray) -> np.ndarray:
    """perm with data[perm] = each sequence reversed within its own length: row (t, b) <- (len_b-1-t, b)."""
    offsets = np.concatenate(([0], np.cumsum(batch_sizes)[:-1]))
    lengths = (batch_sizes[None, :] > np.arange(batch_sizes[0])[:, None]).sum(axis=1)
    t = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    b = np.arange(len(t)) - offsets[t]
    return offsets[lengths[b] - 1 - t] + b


class Packed:
    """data (sum(lengths), ·) of a PackedSequence: a stretch per run of equal batch sizes (see the
    module docstring); ``batch_sizes`` as the PackedSequence's, int64."""

    def __init__(self, batch_sizes: np.ndarray) -> None:
        self.batch_sizes = batch_sizes
        self.stretches = _stretches(batch_sizes)
        self.reverse = _reversal(batch_sizes)

    def flip(self, a: np.ndarray) -> np.ndarray:
        return a[self.reverse]

    def forward(self, loop: Any, xw: np.ndarray, h: np.ndarray, c: Any, args: tuple) -> tuple:
        """(out, h_prev, h_n, c_n, caches): out the h_t and h_prev the h_{t-1} of every packed row."""
        h_n, c_n = np.empty_like(h), None if c is None else np.empty_like(c)
        outs, prevs, caches = [], [], []
        for k, (start, steps, n) in enumerate(self.stretches):
            block = xw[start:start + steps * n].reshape(steps, n, xw.shape[-1])
            hs, c_last, cache = loop(block, h[:n], None if c is None else c[:n], *args)
            outs.append(hs[1:].reshape(steps * n, -1))
            prevs.append(hs[:-1].reshape(steps * n, -1))
            caches.append(cache)
            h, c = hs[-1], c_last
            done = self.stretches[k + 1][2] if k + 1 < len(self.stretches) else 0  # rows [done, n) end here
            h_n[done:n] = h[done:n]
            if c is not None:
                c_n[done:n] = c[done:n]
        return np.concatenate(outs), np.concatenate(prevs), h_n, c_n, caches

    def backward(self, loop: Any, dout: np.ndarray, dh_n: np.ndarray, dc_n: Any, caches: list,
                 args: tuple) -> tuple:
        """(dxw, dhw, dh0, dc0, dW_hr or None) over every packed row: the stretches in reverse."""
        dh, dc = dh_n.copy(), None if dc_n is None else dc_n.copy()
        dxws, dhws, dW_hr = [], [], None
        for (start, steps, n), cache in zip(reversed(self.stretches), reversed(caches), strict=True):
            dhs = dout[start:start + steps * n].reshape(steps, n, dout.shape[-1])
            back = loop(dhs, dh[:n], None if dc is None else dc[:n], cache, *args)
            dxw, dhw, dh[:n] = back[:3]
            if dc is not None:
                dc[:n] = back[3]
            if len(back) == 5:
                dW_hr = back[4] if dW_hr is None else dW_hr + back[4]
            dxws.append(dxw.reshape(steps * n, -1))
            dhws.append(dxws[-1] if dhw is dxw else dhw.reshape(steps * n, -1))
        same = all(a is b for a, b in zip(dxws, dhws, strict=True))  # RNN, LSTM: one array for both
        dxw = np.concatenate(dxws[::-1])
        return dxw, dxw if same else np.concatenate(dhws[::-1]), dh, dc, dW_hr
