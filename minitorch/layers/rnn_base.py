"""The machinery RNN, LSTM and GRU share (``rnn.py``): stacking layers and directions, inter-layer
dropout, the products outside the time loops, the shapes, the checks and the gradient's structure.

The time loops themselves (forward and backward through time, per kind) are in ``_recurrence.py``;
the stacking here is written once for a padded and a packed batch, and the layout (``_stretches.py``)
runs the loop once on a padded batch or once per stretch of a packed one (``rnn_packed.py``: the
packed call's checks and batch order).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_nonnegative_int, check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.layers import _recurrence as rec
from minitorch.layers._initial_states import gradient_pair, initial_states
from minitorch.layers._redraw import redraw_uniform
from minitorch.layers._stretches import PADDED
from minitorch.layers.dropout import dropout_mask
from minitorch.layers.rnn_packed import PackedRecurrence, is_packed
from minitorch.module import Module, Parameter


class RNNBase(PackedRecurrence, Module):
    """The machinery shared by RNN, LSTM and GRU: stacking, directions, dropout, shapes, checks.

    Shapes:   x (L, N, in), or (N, L, in) with batch_first, or (L, in) unbatched
              h0, c0, h_n, c_n (D * num_layers, N, H), or (D * num_layers, H) unbatched, whatever
              batch_first says; D = 2 if bidirectional else 1; index k * D + d is layer k, direction d
              output (L, N, D * H) (batch_first: (N, L, D * H)): the last layer's h_t, forward
              direction in [..., :H], reverse direction in [..., H:]; never a view of what backward
              reads, so the caller may change it in place (zero padded steps), as torch's
              LSTM with proj_size = P > 0: h0, h_n (D * num_layers, N, P), output (L, N, D * P),
              layers above the first read D * P features; c0, c_n keep H
    Packed:   input a PackedSequence (mt.pack_padded_sequence; data (sum(lengths), in)): output a
              PackedSequence, data (sum(lengths), D * R), the input's batch_sizes and indices;
              h_n, c_n each sequence's state after its own last step (a reverse direction starts at
              each sequence's own end); hx, h_n, c_n (D * num_layers, B, ·) in the caller's batch
              order; batch_first does not apply (torch's); padding is never computed (_stretches.py)
    Forward, per layer k and direction d (the reverse direction reads each sequence backwards):
              xw = x_k @ W_ih.T + b_ih (+ b_hh for RNN/LSTM)   (rows, G)  ONE product over every row
              h_t = the kind's step on xw_t, h_{t-1}          (rows, R)  RNN's, LSTM's, GRU's docstring;
                    its time loop (_recurrence.py) runs once on a padded batch, once per stretch
                    of a packed one (_stretches.py)
              x_{k+1} = concat(directions) * mask_k            (rows, D * R)  inter-layer dropout,
              training only: mask_k = (U(0, 1) >= dropout) / (1 - dropout), all 0 for dropout = 1
              (torch's zeros, nothing drawn from the generator, as torch draws nothing: Dropout's
              ``dropout_mask``);  rows = L * N padded, sum(lengths) packed; G = gates * H
    Backward (one pass through time per layer and direction, from the last layer down):
              dxw, dhw, dh0, dc0 = the time loop's backward   (dh, dc flow from step t to t-1)
              dW_ih = dxw.T @ x_k         (G, in_k)   dW_hh = dhw.T @ h_{t-1}   (G, R)
              db_ih = dxw.sum             (G,)        db_hh = dhw.sum           (G,)
              (LSTM with proj_size: the loop also gives dW_hr (P, H), one product after the loop)
              dx_k  = dxw @ W_ih          (rows, in_k), summed over directions, times mask_{k-1}
              each weight gradient one product over every row, after the loop
    The time loop gives dx and the weight gradients in one pass that cannot be split without doing it
    twice, so these layers define ``backward`` directly (both blocks labelled, CONTRACT §3).
    Truncated backprop through time: pass the previous batch's (h_n, c_n) as hx. It is a constant
    input here, so backward stops at the batch boundary by construction (its gradient is returned
    as dh0 and simply not used).
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), in torch's order; ``reset_parameters()``
              redraws them in place
    """

    GATES = 1
    BIAS_HH_IN_LOOP = False  # GRU: b_hh stays in the loop (its reset gate scales it)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        self.input_size = check_positive_int(input_size, who, "input_size")
        self.hidden_size = check_positive_int(hidden_size, who, "hidden_size")
        self.num_layers = check_positive_int(num_layers, who, "num_layers")
        self.bias = check_bool(bias, who, "bias")
        self.batch_first = check_bool(batch_first, who, "batch_first")
        self.dropout = check_number(dropout, who, "dropout", 0, 1)
        self.bidirectional = check_bool(bidirectional, who, "bidirectional")
        self.proj_size = self._check_proj_size(proj_size)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(  # as torch: the dropout is between layers, so one layer has none
                f"{who}: dropout adds dropout after all but the last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        D, H, G = self.num_directions, self.hidden_size, self.GATES * self.hidden_size
        R = self.real_hidden_size  # the size of h: P with projections, else H
        dtype = factory_dtype(self, device, dtype)
        for layer in range(self.num_layers):
            fan_in = self.input_size if layer == 0 else D * R
            for suffix in ("", "_reverse")[:D]:
                shapes = {"weight_ih": (G, fan_in), "weight_hh": (G, R)}
                if self.bias:
                    shapes |= {"bias_ih": (G,), "bias_hh": (G,)}
                if self.proj_size > 0:
                    shapes["weight_hr"] = (self.proj_size, H)
                for name, shape in shapes.items():  # torch's order
                    setattr(self, f"{name}_l{layer}{suffix}", Parameter(np.empty(shape, dtype)))
        self.reset_parameters()
        self._caches: list | None = None
        self._packed: tuple | None = None

    def reset_parameters(self) -> None:
        """Redraw every Parameter ~ U(-k, k), k = 1/sqrt(hidden_size), in place, in ``parameters()``
        order (as built: layer by layer, direction by direction, W_ih, W_hh, b_ih, b_hh, W_hr), as
        torch's RNNBase.reset_parameters (``for weight in self.parameters()``)."""
        redraw_uniform(self, list(self._parameters), 1.0 / np.sqrt(self.hidden_size))

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def real_hidden_size(self) -> int:
        """The size of h (h0, h_n, each direction's output): proj_size if > 0, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """torch's ``all_weights``: per layer and direction (index k * D + d), its Parameters in torch's
        order weight_ih, weight_hh, bias_ih, bias_hh, weight_hr (those it has)."""
        return [[p for p in self._weights(layer, d) if p is not None]
                for layer in range(self.num_layers) for d in range(self.num_directions)]

    def flatten_parameters(self) -> None:
        """Does nothing, as torch's on the CPU (there it packs the weights into one cuDNN buffer)."""

    def _check_proj_size(self, proj_size: Any) -> int:
        """proj_size as an int in [0, hidden_size), as torch (only LSTM has projections; others pass 0)."""
        who = type(self).__name__
        proj_size = check_nonnegative_int(proj_size, who, "proj_size")  # 0: no projection
        if proj_size >= self.hidden_size:
            raise ValueError(f"{who}: proj_size must be smaller than hidden_size={self.hidden_size}, "
                             f"got proj_size={proj_size}")
        return proj_size

    def _loop(self) -> tuple[Any, Any]:
        """(forward, backward) of this kind's time loop (see _recurrence.py)."""
        raise NotImplementedError

    def _weights(self, layer: int, direction: int) -> tuple[Any, ...]:
        """(W_ih, W_hh, b_ih, b_hh, W_hr) of one layer and direction; None for those it lacks."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        W_ih, W_hh = getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix)
        W_hr = getattr(self, "weight_hr" + suffix) if self.proj_size > 0 else None
        if not self.bias:
            return W_ih, W_hh, None, None, W_hr
        return W_ih, W_hh, getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix), W_hr

    # ------------------------------------------------------------------------- forward
    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        """(output, h_n) or, for an LSTM, (output, (h_n, c_n)); input an array (L, N, in), (N, L, in)
        with batch_first, (L, in), or a PackedSequence (output then packed too); shapes as the
        class docstring says."""
        self._packed = None  # a packed call's layout (rnn_packed.py), None for a padded one
        if is_packed(input):
            return self._forward_packed(input, hx)
        self._batch_first = self.batch_first  # read at every forward (torch's); its backward's layout
        x, (h0, c0), batched = self._check_inputs(input, hx)
        x, h_n, c_n = self._forward_layers(x, h0, c0, PADDED)
        self._batched, self._hx_given, self._out_shape = batched, hx is not None, x.shape
        last = [a for _, h_prev, cache in self._caches[-self.num_directions:] for a in (h_prev, *cache)]
        output = rec.unshared(self._from_time_major(x, batched), last)  # the caller's to change in place
        hidden = h_n if c_n is None else (h_n, c_n)
        if not batched:
            hidden = tuple(s[:, 0] for s in hidden) if isinstance(hidden, tuple) else hidden[:, 0]
        return output, hidden

    def _forward_layers(self, x: np.ndarray, h0: np.ndarray, c0: Any, rows: Any) -> tuple:
        """(the last layer's x, h_n, c_n or None): every layer and direction (the class docstring's
        Forward) on x's rows as ``rows`` lays them out (_stretches.PADDED or a Packed); caches what
        backward reads."""
        loop, D = self._loop()[0], self.num_directions
        h_n, c_n = np.empty_like(h0), None if c0 is None else np.empty_like(c0)
        caches, masks = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                W_ih, W_hh, b_ih, b_hh, W_hr = self._weights(layer, d)
                j, xs = layer * D + d, x if d == 0 else rows.flip(x)
                b = None if b_ih is None else b_ih.data if self.BIAS_HH_IN_LOOP else b_ih.data + b_hh.data
                xw = rec.project(xs.reshape(-1, xs.shape[-1]), W_ih.data, b)  # every row: one product
                xw = xw.reshape(*xs.shape[:-1], W_ih.shape[0])
                b_loop = b_hh.data if self.BIAS_HH_IN_LOOP and b_hh is not None else None
                args = (W_hh.data, b_loop) + (() if W_hr is None else (W_hr.data,))  # h_t = W_hr @ m_t
                out, h_prev, h_n[j], c_last, cache = rows.forward(
                    loop, xw, h0[j], None if c0 is None else c0[j], args)
                if c_last is not None:
                    c_n[j] = c_last
                outputs.append(out if d == 0 else rows.flip(out))  # reverse outputs back in time order
                caches.append((xs, h_prev, cache))
            x = np.concatenate(outputs, axis=-1) if D == 2 else outputs[0]
            masks.append(None)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                masks[-1] = dropout_mask(x.shape, self.dropout, x.dtype)  # p = 1: zeros, nothing drawn
                x = x * masks[-1]
        self._caches, self._masks = caches, masks
        return x, h_n, c_n

    # ------------------------------------------------------------------------ backward
    def backward(self, grad: Any) -> Any:
        """grad = doutput, (doutput, dh_n) or, for an LSTM, (doutput, (dh_n, dc_n)), None for no
        gradient; doutput has the output's shape, or for a packed call is a PackedSequence of the
        output's layout or its data (sum(lengths), D * R). Returns dinput (a PackedSequence of the
        input's layout for a packed call), or (dinput, dh0) / (dinput, (dh0, dc0)) when hx was given."""
        if self._packed is not None:
            return self._backward_packed(grad)
        self._cached(self._caches)  # RuntimeError if forward never ran
        dout, dh_n, dc_n = self._split_grad(grad)
        dx, dh0, dc0 = self._backward_layers(dout, dh_n, dc_n, PADDED)
        return self._input_grads(dx, dh0, dc0)

    def _backward_layers(self, dout: np.ndarray, dh_n: np.ndarray, dc_n: Any, rows: Any) -> tuple:
        """(dx, dh0, dc0 or None): the class docstring's Backward, from the last layer down, on the
        rows ``rows`` lays out; accumulates every Parameter's gradient."""
        caches, masks = self._cached(self._caches), self._masks
        loop, D, R = self._loop()[1], self.num_directions, self.real_hidden_size
        dh0, dc0 = np.zeros_like(dh_n), None if dc_n is None else np.zeros_like(dc_n)
        for layer in reversed(range(self.num_layers)):
            if masks[layer] is not None:
                dout = dout * masks[layer]
            dx = None
            for d in reversed(range(D)):
                W_ih, W_hh, b_ih, b_hh, W_hr = self._weights(layer, d)
                j, (xs, h_prev, cache) = layer * D + d, caches[layer * D + d]
                dhs = dout[..., d * R:(d + 1) * R]
                args = (W_hh.data,) + (() if W_hr is None else (W_hr.data,))
                dxw, dhw, dh0[j], dc_first, dW_hr = rows.backward(
                    loop, dhs if d == 0 else rows.flip(dhs), dh_n[j], None if dc_n is None else dc_n[j],
                    cache, args)
                if dc_first is not None:
                    dc0[j] = dc_first
                # w.r.t. parameters: one product each over every row
                dxw2, dhw2 = dxw.reshape(-1, dxw.shape[-1]), dhw.reshape(-1, dhw.shape[-1])
                W_ih.accumulate_grad(dxw2.T @ xs.reshape(-1, xs.shape[-1]))
                W_hh.accumulate_grad(dhw2.T @ h_prev.reshape(-1, R))
                if b_ih is not None:
                    db_ih = dxw2.sum(axis=0)
                    b_ih.accumulate_grad(db_ih)  # RNN, LSTM: dhw is dxw (the biases enter summed)
                    b_hh.accumulate_grad(db_ih if dhw is dxw else dhw2.sum(axis=0))
                if W_hr is not None:
                    W_hr.accumulate_grad(dW_hr)  # one product after the loop (_recurrence.py)
                # w.r.t. input
                dxs = (dxw2 @ W_ih.data).reshape(xs.shape)
                dxs = dxs if d == 0 else rows.flip(dxs)
                dx = dxs if dx is None else dx + dxs
            dout = dx
        return dout, dh0, dc0

    def _split_grad(self, grad: Any) -> tuple[np.ndarray, np.ndarray, Any]:
        """(dout, dh_n, dc_n) time-major and batched, zeros where the gradient is None (CONTRACT §4);
        dc_n None but for an LSTM."""
        who, batched = type(self).__name__, self._batched
        dtype = self.weight_ih_l0.data.dtype
        L, N, DH = self._out_shape
        shapes = [(self.num_directions * self.num_layers, N, size)
                  for size in (self.real_hidden_size, self.hidden_size)]  # h_n, c_n
        h_shape, c_shape = (s if batched else (s[0], s[2]) for s in shapes)
        out_shape = (L, DH) if not batched else (N, L, DH) if self._batch_first else (L, N, DH)
        expected = "(doutput, (dh_n, dc_n))" if self.GATES == 4 else "(doutput, dh_n)"
        grad = gradient_pair(grad, out_shape, who, f"doutput or {expected}")
        if isinstance(grad, tuple) and len(grad) != 2:
            raise ValueError(f"{who}.backward: expected doutput or {expected}, got a tuple of {len(grad)}")
        douts, dstate = (grad, None) if not isinstance(grad, tuple) else grad
        if isinstance(douts, tuple):
            raise ValueError(f"{who}.backward: expected {expected}, got a nested tuple first")
        if self.GATES == 4:
            if dstate is not None and not (isinstance(dstate, (tuple, list)) and len(dstate) == 2):
                raise ValueError(f"{who}.backward: expected {expected}, the state's gradients a pair "
                                 f"(each an array or None), got {type(dstate).__name__} for (dh_n, dc_n)")
            dh_n, dc_n = (None, None) if dstate is None else dstate
        else:
            if isinstance(dstate, tuple):
                raise ValueError(f"{who}.backward: expected {expected}, dh_n an array or None (an LSTM's "
                                 f"pair is not {who}'s), got a {type(dstate).__name__}")
            dh_n, dc_n = dstate, None
        dout = np.zeros(out_shape, dtype) if douts is None else self._check_grad(douts, out_shape, dtype)
        dh_n, dc_n = ((np.zeros(shape, dtype) if g is None else self._check_grad(g, shape, dtype))
                      for g, shape in ((dh_n, h_shape), (dc_n, c_shape)))
        if not batched:
            dh_n, dc_n = dh_n[:, None], dc_n[:, None]
        return self._to_time_major(dout, batched), dh_n, (dc_n if self.GATES == 4 else None)

    def _input_grads(self, dx: np.ndarray, dh0: np.ndarray, dc0: Any) -> Any:
        """dx alone, or (dx, dh0) / (dx, (dh0, dc0)) when hx was given: the inputs' structure."""
        dx = self._from_time_major(dx, self._batched)
        if not self._hx_given:
            return dx
        if not self._batched:
            dh0 = dh0[:, 0]
            dc0 = None if dc0 is None else dc0[:, 0]
        return (dx, (dh0, dc0)) if self.GATES == 4 else (dx, dh0)

    # -------------------------------------------------------------------------- checks
    def _to_time_major(self, x: np.ndarray, batched: bool) -> np.ndarray:
        if not batched:
            return x[:, None]
        return x.swapaxes(0, 1) if self._batch_first else x

    def _from_time_major(self, x: np.ndarray, batched: bool) -> np.ndarray:
        if not batched:
            return x[:, 0]
        return np.ascontiguousarray(x.swapaxes(0, 1)) if self._batch_first else x

    def _check_inputs(self, input: Any, hx: Any) -> tuple[np.ndarray, tuple, bool]:
        """x as (L, N, in) in the parameters' dtype, (h0, c0 or None) as (D * layers, N, H); batched."""
        who, H = type(self).__name__, self.hidden_size
        dtype = parameter_dtype(self)  # TypeError if the weights' dtypes differ (as torch)
        x = as_floating(input, who)
        layout = "(N, L, {})" if self._batch_first else "(L, N, {})"
        time_axis = 1 if x.ndim == 3 and self._batch_first else 0  # L, the axis that may not be empty
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or x.shape[time_axis] == 0:
            raise ValueError(
                f"{who}(input_size={self.input_size}): expected input {layout.format(self.input_size)} "
                f"or unbatched (L, {self.input_size}) with L >= 1, got {x.shape}"
            )
        batched = x.ndim == 3
        x = self._to_time_major(x.astype(dtype, copy=False), batched)
        shapes = {}
        for name, size in (("h0", self.real_hidden_size), ("c0", H))[:2 if self.GATES == 4 else 1]:
            shapes[name] = (self.num_directions * self.num_layers, x.shape[1], size)
            shapes[name] = shapes[name] if batched else (shapes[name][0], size)
        states = initial_states(hx, tuple(shapes), shapes, batched, batch_axis=1, dtype=dtype, who=who)
        return x, (states[0], states[1] if len(states) == 2 else None), batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}  # torch's order
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text
