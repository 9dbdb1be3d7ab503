"""One time step of each recurrent layer: RNNCell, LSTMCell, GRUCell (torch.nn's signatures and names).

A cell runs the same time loop as its layer (``_recurrence.py``) with L = 1, so the step equations
and their backward are written once. The caller drives the loop over time; gradients flow back
through ``backward``'s dh (and dc) returned for the state that was passed in.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_choice, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.layers import _recurrence as rec
from minitorch.layers._initial_states import gradient_pair, initial_states
from minitorch.layers._redraw import redraw_uniform
from minitorch.module import Module, Parameter


class RNNCellBase(Module):
    """What the three cells share: parameters, checks, the step and its backward.

    Shapes:   x (N, in) or (in,)   h, c (N, H) or (H,)   weight_ih (G*H, in)   weight_hh (G*H, H)
              bias_ih, bias_hh (G*H,)    G = 1 (RNNCell), 4 (LSTMCell), 3 (GRUCell)
    Forward:  xw = x @ weight_ih.T + bias_ih (+ bias_hh for RNN/LSTM);  one step of the layer's loop
              h' (and c') never views of what backward reads: the caller may change them in place
    Backward: dxw, dhw, dh, dc = the loop's backward for one step
              dweight_ih = dxw.T @ x   dweight_hh = dhw.T @ h   dbias_ih = dxw.sum   dbias_hh = dhw.sum
              dx = dxw @ weight_ih (returned);  dh (and dc) returned too when hx was passed
    Both halves come from one step backward, so ``backward`` is defined directly (CONTRACT §3).
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))   (torch's default); ``reset_parameters()``
              redraws them in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    """

    GATES = 1
    BIAS_HH_IN_LOOP = False

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        self.input_size = check_positive_int(input_size, who, "input_size")
        self.hidden_size = check_positive_int(hidden_size, who, "hidden_size")
        self.bias = check_bool(bias, who, "bias")
        G, dtype = self.GATES * self.hidden_size, factory_dtype(self, device, dtype)
        self.weight_ih = Parameter(np.empty((G, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((G, self.hidden_size), dtype))
        self.bias_ih = Parameter(np.empty(G, dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(G, dtype)) if bias else None
        self.reset_parameters()
        self._x: np.ndarray | None = None

    def reset_parameters(self) -> None:
        """Redraw every Parameter ~ U(-k, k), k = 1/sqrt(hidden_size), in place, in ``parameters()`` order
        (as built: weight_ih, weight_hh, bias_ih, bias_hh), as torch's RNNCellBase.reset_parameters."""
        redraw_uniform(self, list(self._parameters), 1.0 / np.sqrt(self.hidden_size))

    def _loop(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def forward(self, input: np.ndarray, hx: Any = None) -> Any:
        x, h, c, batched = self._check_inputs(input, hx)
        xw = x @ self.weight_ih.data.T
        if self.bias:
            xw += self.bias_ih.data if self.BIAS_HH_IN_LOOP else self.bias_ih.data + self.bias_hh.data
        b_loop = self.bias_hh.data if self.bias and self.BIAS_HH_IN_LOOP else None
        hs, c_new, cache = self._loop()[0](xw[None], h, c, self.weight_hh.data, b_loop)
        self._x, self._h, self._cache, self._batched, self._hx_given = x, h, cache, batched, hx is not None
        # the caller's to change in place (an RNNCell's backward reads act' from h' in the cache)
        h_new = rec.unshared(hs[1] if batched else hs[1, 0], cache)
        if self.GATES != 4:
            return h_new
        return h_new, rec.unshared(c_new if batched else c_new[0], cache)

    def backward(self, grad: Any) -> Any:
        x = self._cached(self._x)
        dh, dc = self._split_grad(grad, x.shape[0])
        dxw, dhw, dh_prev, dc_prev = self._loop()[1](dh[None], np.zeros_like(dh), dc, self._cache,
                                                     self.weight_hh.data)
        same = dhw is dxw  # RNN, LSTM: the biases enter summed, so they get one gradient
        dxw, dhw = dxw[0], dhw[0]
        # w.r.t. parameters
        self.weight_ih.accumulate_grad(dxw.T @ x)
        self.weight_hh.accumulate_grad(dhw.T @ self._h)
        if self.bias:
            dbias_ih = dxw.sum(axis=0)
            self.bias_ih.accumulate_grad(dbias_ih)
            self.bias_hh.accumulate_grad(dbias_ih if same else dhw.sum(axis=0))
        # w.r.t. input (and the state passed in)
        dx = dxw @ self.weight_ih.data
        if not self._batched:
            dx, dh_prev = dx[0], dh_prev[0]
            dc_prev = None if dc_prev is None else dc_prev[0]
        if not self._hx_given:
            return dx
        return (dx, (dh_prev, dc_prev)) if self.GATES == 4 else (dx, dh_prev)

    def _split_grad(self, grad: Any, N: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(dh', dc') batched; zeros for None; a bare array is dh' (CONTRACT §4)."""
        dtype, H, who = self.weight_ih.data.dtype, self.hidden_size, type(self).__name__
        shape = (N, H) if self._batched else (H,)
        given = type(grad).__name__
        grad = gradient_pair(grad, shape, who, "dh' or (dh', dc')" if self.GATES == 4 else "dh', one array")
        if self.GATES == 4:
            if isinstance(grad, tuple) and len(grad) != 2:
                raise ValueError(f"{who}.backward: expected dh' or (dh', dc'), got a tuple of {len(grad)}")
            dh, dc = grad if isinstance(grad, tuple) else (grad, None)
        else:
            if isinstance(grad, tuple):
                raise ValueError(f"{who}.backward: expected dh', one array (an LSTMCell's pair (dh', dc') "
                                 f"is not {who}'s), got a {given} of {len(grad)}")
            dh, dc = grad, None
        dh, dc = (np.zeros(shape, dtype) if g is None else self._check_grad(g, shape, dtype)
                  for g in (dh, dc))
        if not self._batched:
            dh, dc = dh[None], dc[None]
        return dh, (dc if self.GATES == 4 else None)

    def _check_inputs(self, input: Any, hx: Any) -> tuple[np.ndarray, np.ndarray, Any, bool]:
        who, H = type(self).__name__, self.hidden_size
        dtype = parameter_dtype(self)  # TypeError if the weights' dtypes differ (as torch)
        x = as_floating(input, who)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{who}(input_size={self.input_size}): expected input (N, {self.input_size}) or "
                f"({self.input_size},), got {x.shape}"
            )
        batched = x.ndim == 2
        x = (x if batched else x[None]).astype(dtype, copy=False)
        shape = (x.shape[0], H) if batched else (H,)
        names = ("h", "c") if self.GATES == 4 else ("h",)
        states = initial_states(hx, names, shape, batched, batch_axis=0, dtype=dtype, who=who)
        return x, states[0], states[1] if len(states) == 2 else None, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One Elman step, as torch.nn.RNNCell: h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).

    Shapes:   x (N, in)  h, h' (N, H)  weight_ih (H, in)  weight_hh (H, H)  bias_ih, bias_hh (H,)
    Forward:  a = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh;   h' = tanh(a) or relu(a)
    Backward: da = dh' * (1 - h'**2)  (tanh)  or  dh' * (h' != 0)  (relu: torch's not (h' <= 0);
                                                    relu'(0) = 0, and a nan passes dh')
              dweight_ih = da.T @ x  (H, in)   dweight_hh = da.T @ h  (H, H)   dbias_ih = dbias_hh = da.sum
              dx = da @ weight_ih  (N, in)     dh = da @ weight_hh  (N, H), returned when h was passed
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        cell = RNNCell(10, 20)
        h = cell(np.random.randn(3, 10), h)                      # (3, 20)
        dx, dh = cell.backward(np.ones((3, 20)))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        check_choice(nonlinearity, "RNNCell", "nonlinearity", ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def _loop(self) -> tuple[Any, Any]:
        # read on every call, so checked on every call: the loop takes any other string for relu
        check_choice(self.nonlinearity, "RNNCell", "nonlinearity", ("tanh", "relu"))
        return functools.partial(rec.rnn_forward, nonlinearity=self.nonlinearity), rec.rnn_backward

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTMCell(RNNCellBase):
    """One LSTM step, as torch.nn.LSTMCell: (h', c') from x and (h, c).

    Shapes:   x (N, in)  h, c, h', c' (N, H)  weight_ih (4H, in)  weight_hh (4H, H)  biases (4H,)
              rows in torch's gate order i, f, g, o
    Forward:  a = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
              i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g);  c' = f * c + i * g;  h' = o * tanh(c')
    Backward: dc_t = dc' + dh' * o * (1 - tanh(c')**2)
              da = [dc_t*g * i(1-i), dc_t*c * f(1-f), dc_t*i * (1-g**2), dh'*tanh(c') * o(1-o)]   (N, 4H)
              dweight_ih = da.T @ x   dweight_hh = da.T @ h   dbias_ih = dbias_hh = da.sum
              dx = da @ weight_ih;   dh = da @ weight_hh;   dc = dc_t * f
              (dh, dc returned when hx was passed)
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        cell = LSTMCell(10, 20)
        h, c = cell(np.random.randn(3, 10), (h, c))
        dx, (dh, dc) = cell.backward((np.ones((3, 20)), None))
    """

    GATES = 4

    def _loop(self) -> tuple[Any, Any]:
        return rec.lstm_forward, rec.lstm_backward


class GRUCell(RNNCellBase):
    """One GRU step, as torch.nn.GRUCell (the reset gate multiplies the biased hidden projection).

    Shapes:   x (N, in)  h, h' (N, H)  weight_ih (3H, in)  weight_hh (3H, H)  biases (3H,); gates r, z, n
    Forward:  xw = x @ weight_ih.T + bias_ih;   hw = h @ weight_hh.T + bias_hh
              r = sigmoid(xw_r + hw_r);  z = sigmoid(xw_z + hw_z);  n = tanh(xw_n + r * hw_n)
              h' = (1 - z) * n + z * h
    Backward: dan = dh'*(1-z)*(1-n**2);  dar = dan*hw_n*r(1-r);  daz = dh'*(h-n)*z(1-z)
              dxw = [dar, daz, dan]   dhw = [dar, daz, dan * r]                               (N, 3H)
              dweight_ih = dxw.T @ x   dbias_ih = dxw.sum   dweight_hh = dhw.T @ h   dbias_hh = dhw.sum
              dx = dxw @ weight_ih;    dh = dh' * z + dhw @ weight_hh   (returned when h was passed)
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        cell = GRUCell(10, 20)
        h = cell(np.random.randn(3, 10), h)
        dx, dh = cell.backward(np.ones((3, 20)))
    """

    GATES = 3
    BIAS_HH_IN_LOOP = True

    def _loop(self) -> tuple[Any, Any]:
        return rec.gru_forward, rec.gru_backward
