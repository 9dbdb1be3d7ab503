"""RNN, LSTM and GRU over a PackedSequence (``minitorch.rnn_utils``): RNNBase's packed path, as torch's.

The layers and directions are RNNBase's (``rnn_base.py``), written once for both layouts; on a
packed batch the kind's time loop runs on its stretches of rows (``_stretches.Packed``): the loop
over each run of steps whose running batch keeps one size. Padding is never computed. This file
holds what only the packed call has: its checks, and the batch order. The packed rows are sorted
longest first; hx and dh0 are in the caller's order (torch's: permuted by sorted_indices; h_n, c_n,
dh0, dc0 back by unsorted_indices).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.dtypes import as_floating, parameter_dtype
from minitorch.layers._initial_states import gradient_pair, initial_states
from minitorch.layers._stretches import Packed
from minitorch.rnn_utils import PackedSequence, invert_permutation


def is_packed(value: Any) -> bool:
    """A PackedSequence, ours or torch's (a named tuple with batch_sizes)."""
    return isinstance(value, tuple) and hasattr(value, "batch_sizes") and hasattr(value, "data")


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
        rows = Packed(batch_sizes)
        x, h_n, c_n = self._forward_layers(x, h0, c0, rows)
        self._hx_given = hx is not None
        self._packed = (rows, sorted_indices, unsorted_indices, x.shape)
        back = np.arange(batch_sizes[0]) if unsorted_indices is None else unsorted_indices
        # x is a fresh array (concatenated or masked), never a view of what backward reads
        output = PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices)
        return output, (h_n[:, back] if c_n is None else (h_n[:, back], c_n[:, back]))

    def _backward_packed(self, grad: Any) -> Any:
        self._cached(self._caches)  # RuntimeError if forward never ran
        rows, sorted_indices, unsorted_indices, _ = self._packed
        dout, dh_n, dc_n = self._split_packed_grad(grad)
        dx, dh0, dc0 = self._backward_layers(dout, dh_n, dc_n, rows)
        dinput = PackedSequence(dx, rows.batch_sizes, sorted_indices, unsorted_indices)
        if not self._hx_given:
            return dinput
        back = np.arange(rows.batch_sizes[0]) if unsorted_indices is None else unsorted_indices
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
        rows, sorted_indices, _, out_shape = self._packed
        batch_sizes = rows.batch_sizes
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
