"""RNN, LSTM and GRU over a PackedSequence (``minitorch.rnn_utils``): RNNBase's packed path, as torch's.

The packed data holds step t's batch_sizes[t] running sequences (longest first) as consecutive rows.
Steps where the running batch keeps one size n form a *segment*: its rows are one (steps, n, ·)
block, so the kind's time loop (``_recurrence.py``, or its kernel) runs unchanged on it, starting
from the first n rows of the state the previous segment left. The rows that stop running at a
segment's end hold their last state: that is their h_n (c_n). Padding is never computed.

    xw = data @ W_ih.T + b      ONE product over all packed rows (as the padded path)
    per segment s (steps T_s, batch n_s):  hs_s = loop(xw_s, h[:n_s], c[:n_s]);  h[:n_s] = hs_s[-1]
    h_n[b] = h after sequence b's own last step;  output rows = every segment's hs_s[1:], in order
    reverse direction: the same on each sequence reversed within its own length, a permutation of
    the packed rows (``_reversal``, its own inverse), so it starts at each sequence's own end
Backward runs the segments in reverse: dh (dc) starts as dh_n (dc_n); a segment's loop backward
takes its rows' dh[:n_s] and leaves them dh at its first step, so a sequence's dh_n enters at its own
last step. dW_ih = dxw.T @ data, dW_hh = dhw.T @ h_prev over all packed rows, one product each.
hx and dh0 are in the caller's order (torch's: permuted by sorted_indices; h_n back by unsorted_indices).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.dtypes import as_floating, parameter_dtype
from minitorch.layers import _recurrence as rec
from minitorch.layers._initial_states import gradient_pair, initial_states
from minitorch.layers.dropout import dropout_mask
from minitorch.rnn_utils import PackedSequence, invert_permutation


def is_packed(value: Any) -> bool:
    """A PackedSequence, ours or torch's (a named tuple with batch_sizes)."""
    return isinstance(value, tuple) and hasattr(value, "batch_sizes") and hasattr(value, "data")


def _segments(batch_sizes: np.ndarray) -> list[tuple[int, int, int]]:
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


def _loop_segments(loop_forward: Any, xw: np.ndarray, segments: list, h: np.ndarray, c: Any,
                   args: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any, list]:
    """(out, h_prev, h_n, c_n, caches): the loop over every segment (see the module docstring)."""
    h_n, c_n = np.empty_like(h), None if c is None else np.empty_like(c)
    outs, prevs, caches = [], [], []
    for k, (start, steps, n) in enumerate(segments):
        block = xw[start:start + steps * n].reshape(steps, n, xw.shape[-1])
        hs, c_last, cache = loop_forward(block, h[:n], None if c is None else c[:n], *args)
        outs.append(hs[1:].reshape(steps * n, -1))
        prevs.append(hs[:-1].reshape(steps * n, -1))
        caches.append(cache)
        h, c = hs[-1], c_last
        done = segments[k + 1][2] if k + 1 < len(segments) else 0  # rows [done, n) end here
        h_n[done:n] = h[done:n]
        if c is not None:
            c_n[done:n] = c[done:n]
    return np.concatenate(outs), np.concatenate(prevs), h_n, c_n, caches


def _loop_segments_backward(loop_backward: Any, dout: np.ndarray, segments: list, dh_n: np.ndarray,
                            dc_n: Any, caches: list, args: tuple) -> tuple:
    """(dxw, dhw, dh0, dc0, dW_hr or None) over all packed rows: the segments in reverse."""
    dh, dc = dh_n.copy(), None if dc_n is None else dc_n.copy()
    dxws, dhws, dW_hr = [], [], None
    for (start, steps, n), cache in zip(reversed(segments), reversed(caches), strict=True):
        dhs = dout[start:start + steps * n].reshape(steps, n, dout.shape[-1])
        back = loop_backward(dhs, dh[:n], None if dc is None else dc[:n], cache, *args)
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


def _check_indices(packed: Any, batch: int, who: str) -> tuple[Any, Any]:
    """(sorted_indices, unsorted_indices) as int64: both None, or a permutation of range(batch) and
    its inverse; else a ValueError."""
    sorted_indices, unsorted_indices = (None if a is None else np.asarray(a)
                                        for a in (packed.sorted_indices, packed.unsorted_indices))
    if sorted_indices is None and unsorted_indices is None:
        return None, None
    arange = np.arange(batch)
    if (sorted_indices is None or unsorted_indices is None or sorted_indices.shape != arange.shape
            or not np.array_equal(np.sort(sorted_indices), arange)
            or not np.array_equal(unsorted_indices, invert_permutation(sorted_indices))):
        raise ValueError(f"{who}: expected a PackedSequence's sorted_indices a permutation of range({batch}) "
                         f"and unsorted_indices its inverse (or both None), got {sorted_indices!r} and "
                         f"{unsorted_indices!r}")
    return sorted_indices.astype(np.int64), unsorted_indices.astype(np.int64)


class PackedRecurrence:
    """RNNBase's forward and backward over a PackedSequence (see the module docstring).

    Shapes:   input.data (sum(lengths), in)   output.data (sum(lengths), D * R), same batch_sizes and
              indices as the input;  h0, c0, h_n, c_n (D * num_layers, B, R or H) in the caller's order
    Backward: grad = doutput, (doutput, dh_n) or (doutput, (dh_n, dc_n)); doutput a PackedSequence
              with the output's batch_sizes or its data array (sum(lengths), D * R), or None;
              returns dinput as a PackedSequence like the input (and dh0 / (dh0, dc0) if hx was given)
    """

    def _forward_packed(self, packed: Any, hx: Any) -> tuple[PackedSequence, Any]:
        x, batch_sizes, sorted_indices, unsorted_indices = self._check_packed(packed)
        order = np.arange(batch_sizes[0]) if sorted_indices is None else sorted_indices
        states = self._packed_states(hx, int(batch_sizes[0]), x.dtype)
        h0, c0 = (None if s is None else s[:, order] for s in states)  # the packed (sorted) order
        segments, reverse = _segments(batch_sizes), _reversal(batch_sizes)
        loop_forward, D = self._loop()[0], self.num_directions
        h_n, c_n = np.empty_like(h0), None if c0 is None else np.empty_like(c0)
        caches, masks = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                W_ih, W_hh, b_ih, b_hh, W_hr = self._weights(layer, d)
                j, xs = layer * D + d, x if d == 0 else x[reverse]
                b = None if b_ih is None else b_ih.data if self.BIAS_HH_IN_LOOP else b_ih.data + b_hh.data
                b_loop = b_hh.data if self.BIAS_HH_IN_LOOP and b_hh is not None else None
                args = (W_hh.data, b_loop) + (() if W_hr is None else (W_hr.data,))
                out, h_prev, h_n[j], c_last, cache = _loop_segments(
                    loop_forward, rec.project(xs, W_ih.data, b), segments, h0[j],
                    None if c0 is None else c0[j], args)
                if c_last is not None:
                    c_n[j] = c_last
                outputs.append(out if d == 0 else out[reverse])
                caches.append((xs, h_prev, cache))
            x = np.concatenate(outputs, axis=-1) if D == 2 else outputs[0]
            masks.append(None)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                masks[-1] = dropout_mask(x.shape, self.dropout, x.dtype)  # on the packed rows, as torch
                x = x * masks[-1]
        self._caches, self._masks, self._hx_given = caches, masks, hx is not None
        self._packed = (batch_sizes, sorted_indices, unsorted_indices, segments, reverse, x.shape)
        back = np.arange(batch_sizes[0]) if unsorted_indices is None else unsorted_indices
        # x is a fresh array (concatenated or masked), never a view of what backward reads
        output = PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices)
        return output, (h_n[:, back] if c_n is None else (h_n[:, back], c_n[:, back]))

    def _backward_packed(self, grad: Any) -> Any:
        caches, masks = self._cached(self._caches), self._masks
        batch_sizes, sorted_indices, unsorted_indices, segments, reverse, _ = self._packed
        dout, dh_n, dc_n = self._split_packed_grad(grad)
        loop_backward, D, R = self._loop()[1], self.num_directions, self.real_hidden_size
        dh0, dc0 = np.zeros_like(dh_n), None if dc_n is None else np.zeros_like(dc_n)
        for layer in reversed(range(self.num_layers)):
            if masks[layer] is not None:
                dout = dout * masks[layer]
            dx = None
            for d in reversed(range(D)):
                W_ih, W_hh, b_ih, b_hh, W_hr = self._weights(layer, d)
                j, (xs, h_prev, cache) = layer * D + d, caches[layer * D + d]
                dhs = dout[:, d * R:(d + 1) * R]
                args = (W_hh.data,) + (() if W_hr is None else (W_hr.data,))
                dxw, dhw, dh0[j], dc_first, dW_hr = _loop_segments_backward(
                    loop_backward, dhs if d == 0 else dhs[reverse], segments, dh_n[j],
                    None if dc_n is None else dc_n[j], cache, args)
                if dc_first is not None:
                    dc0[j] = dc_first
                # w.r.t. parameters: one product each over all packed rows
                W_ih.accumulate_grad(dxw.T @ xs)
                W_hh.accumulate_grad(dhw.T @ h_prev)
                if b_ih is not None:
                    db_ih = dxw.sum(axis=0)
                    b_ih.accumulate_grad(db_ih)  # RNN, LSTM: dhw is dxw (the biases enter summed)
                    b_hh.accumulate_grad(db_ih if dhw is dxw else dhw.sum(axis=0))
                if W_hr is not None:
                    W_hr.accumulate_grad(dW_hr)
                # w.r.t. input
                dxs = dxw @ W_ih.data
                dxs = dxs if d == 0 else dxs[reverse]
                dx = dxs if dx is None else dx + dxs
            dout = dx
        dinput = PackedSequence(dout, batch_sizes, sorted_indices, unsorted_indices)
        if not self._hx_given:
            return dinput
        back = np.arange(batch_sizes[0]) if unsorted_indices is None else unsorted_indices
        return (dinput, (dh0[:, back], dc0[:, back])) if self.GATES == 4 else (dinput, dh0[:, back])

    # -------------------------------------------------------------------------- checks
    def _check_packed(self, packed: Any) -> tuple[np.ndarray, np.ndarray, Any, Any]:
        """(data in the parameters' dtype, batch_sizes, sorted_indices, unsorted_indices), checked."""
        who = type(self).__name__
        dtype = parameter_dtype(self)
        data = as_floating(np.asarray(packed.data), who)
        batch_sizes = np.asarray(packed.batch_sizes)
        if (batch_sizes.ndim != 1 or batch_sizes.dtype.kind not in "iu" or len(batch_sizes) == 0
                or batch_sizes[-1] < 1 or (np.diff(batch_sizes) > 0).any()):
            raise ValueError(f"{who}: expected a PackedSequence's batch_sizes non-increasing positive "
                             f"integers (pack_padded_sequence makes them), got {batch_sizes!r}")
        batch_sizes = batch_sizes.astype(np.int64)
        if data.ndim != 2 or data.shape != (batch_sizes.sum(), self.input_size):
            raise ValueError(f"{who}(input_size={self.input_size}): expected a PackedSequence's data "
                             f"({batch_sizes.sum()}, {self.input_size}) (sum(batch_sizes), input_size), "
                             f"got {data.shape}")
        sorted_indices, unsorted_indices = _check_indices(packed, int(batch_sizes[0]), who)
        return data.astype(dtype, copy=False), batch_sizes, sorted_indices, unsorted_indices

    def _packed_states(self, hx: Any, batch: int, dtype: np.dtype) -> tuple[np.ndarray, Any]:
        """(h0, c0 or None), each (D * num_layers, B, size), zeros when hx is None (caller's order)."""
        sizes = (("h0", self.real_hidden_size), ("c0", self.hidden_size))[:2 if self.GATES == 4 else 1]
        shapes = {name: (self.num_directions * self.num_layers, batch, size) for name, size in sizes}
        states = initial_states(hx, tuple(shapes), shapes, True, batch_axis=1, dtype=dtype,
                                who=type(self).__name__)
        return states[0], states[1] if len(states) == 2 else None

    def _split_packed_grad(self, grad: Any) -> tuple[np.ndarray, np.ndarray, Any]:
        """(doutput data, dh_n, dc_n or None), dh_n and dc_n in the packed (sorted) order."""
        who = type(self).__name__
        batch_sizes, sorted_indices, _, _, _, out_shape = self._packed
        dtype = self.weight_ih_l0.data.dtype
        expected = "(doutput, (dh_n, dc_n))" if self.GATES == 4 else "(doutput, dh_n)"
        if isinstance(grad, list):
            grad = gradient_pair(grad, out_shape, who, f"doutput or {expected}")
        if is_packed(grad) or not isinstance(grad, tuple):
            grad = (grad, None)
        if len(grad) != 2:
            raise ValueError(f"{who}.backward: expected doutput or {expected}, got a sequence of {len(grad)}")
        douts, dstate = grad
        if is_packed(douts):
            layout = [None if a is None else np.asarray(a).tolist() for a in (batch_sizes, sorted_indices)]
            given = [None if a is None else np.asarray(a).tolist()
                     for a in (douts.batch_sizes, douts.sorted_indices)]
            if given != layout:
                raise ValueError(f"{who}.backward: expected doutput packed as the output (batch_sizes "
                                 f"{layout[0]}, sorted_indices {layout[1]}), got batch_sizes {given[0]}, "
                                 f"sorted_indices {given[1]}")
            douts = douts.data
        shapes = [(self.num_directions * self.num_layers, int(batch_sizes[0]), size)
                  for size in (self.real_hidden_size, self.hidden_size)]
        dout = np.zeros(out_shape, dtype) if douts is None else self._check_grad(douts, out_shape, dtype)
        if self.GATES == 4:
            if dstate is not None and not (isinstance(dstate, (tuple, list)) and len(dstate) == 2):
                raise ValueError(f"{who}.backward: expected {expected}, got {type(dstate).__name__} for "
                                 "(dh_n, dc_n)")
            dh_n, dc_n = (None, None) if dstate is None else dstate
        else:
            if isinstance(dstate, (tuple, list)):
                raise ValueError(f"{who}.backward: expected {expected}, dh_n an array or None, got a "
                                 f"{type(dstate).__name__}")
            dh_n, dc_n = dstate, None
        order = np.arange(batch_sizes[0]) if sorted_indices is None else sorted_indices
        dh_n, dc_n = ((np.zeros(s, dtype) if g is None else self._check_grad(g, s, dtype))[:, order]
                      for g, s in ((dh_n, shapes[0]), (dc_n, shapes[1])))
        return dout, dh_n, (dc_n if self.GATES == 4 else None)
