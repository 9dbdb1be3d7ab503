"""Recurrent layers over whole sequences: RNN, LSTM, GRU (torch.nn's signatures, names and layouts).

Each class names its kind's time loop (``_recurrence.py``) and states its equations; the stacking
into layers and directions, the products outside the loops and the checks are ``RNNBase``'s
(``rnn_base.py``, importable from here too).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from minitorch.checks import check_choice
from minitorch.layers import _recurrence as rec
from minitorch.layers.rnn_base import RNNBase

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]


_PROJ_SIZE_IS_LSTMS = ("is LSTM's alone (a projection of its hidden state), as in torch, which raises "
                       "ValueError too: drop proj_size, or use mt.LSTM(..., proj_size=P)")


class RNN(RNNBase):
    """Elman RNN, as torch.nn.RNN: h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh).

    Shapes:   see RNNBase; weight_ih_l{k}[_reverse] (H, in or D*H), weight_hh_l{k} (H, H),
              bias_ih_l{k}, bias_hh_l{k} (H,)
    Forward:  per step: a_t = xw_t + h_{t-1} @ W_hh.T;  h_t = tanh(a_t) or relu(a_t)
    Backward: through time: dh = dhs[t] + dh_next;  da = dh * act'(a_t);  dh_next = da @ W_hh
              dW_ih = da.T @ x   (H, in)   dW_hh = da.T @ h_{t-1}   (H, H)   db_ih = db_hh = da.sum
              dx = da @ W_ih     (L, N, in)     dh0 = dh_next after step 0   (returned if hx given)
              relu'(0) = 0, as torch
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))   (torch.nn.RNN's default)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        rnn = RNN(10, 20, num_layers=2)
        output, h_n = rnn(np.random.randn(5, 3, 10))           # (5, 3, 20), (2, 3, 20)
        dx = rnn.backward((np.ones((5, 3, 20)), None))          # (5, 3, 10)
    """

    # proj_size, any value (0 too): ValueError, as torch
    _torch_value_error_keywords: ClassVar[dict[str, str]] = {"proj_size": _PROJ_SIZE_IS_LSTMS}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        check_choice(nonlinearity, "RNN", "nonlinearity", ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _loop(self) -> tuple[Any, Any]:
        # read on every call, so checked on every call: the loop takes any other string for relu
        check_choice(self.nonlinearity, "RNN", "nonlinearity", ("tanh", "relu"))
        return functools.partial(rec.rnn_forward, nonlinearity=self.nonlinearity), rec.rnn_backward

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTM(RNNBase):
    """Long short-term memory, as torch.nn.LSTM; returns (output, (h_n, c_n)); with proj_size = P > 0
    an LSTM with projections (h_t = W_hr @ (o * tanh(c_t)), as torch).

    Shapes:   see RNNBase; weight_ih_l{k}[_reverse] (4H, in or D*R), weight_hh_l{k} (4H, R),
              bias_ih_l{k}, bias_hh_l{k} (4H,), rows in torch's gate order i, f, g, o;
              R = P if proj_size > 0 else H (the size of h, h0, h_n and each direction's output);
              with proj_size: weight_hr_l{k}[_reverse] (P, H), after the biases (torch's order);
              c0, c_n (D * num_layers, N, H) whatever proj_size says
    Forward:  per step:  a = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh     (N, 4H)
              i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
              c_t = f * c_{t-1} + i * g;     m_t = o * tanh(c_t)
              h_t = m_t   or, with proj_size, h_t = m_t @ W_hr.T   (N, P)
    Backward: through time, t = L-1 ... 0, (dh, dc) starting from (dh_n, dc_n):
              dh = dhs[t] + dh;   dm = dh   or, with proj_size, dm = dh @ W_hr   (N, H)
              dc = dc + dm * o * (1 - tanh(c_t)**2)
              da = [dc*g * i(1-i), dc*c_{t-1} * f(1-f), dc*i * (1-g**2), dm*tanh(c_t) * o(1-o)]
              dh = da @ W_hh  (to step t-1);    dc = dc * f  (to step t-1)
              dW_ih = da.T @ x   (4H, in)   dW_hh = da.T @ h_{t-1}   (4H, R)   db_ih = db_hh = da.sum (4H,)
              dW_hr = sum over t of dh_t.T @ m_t   (P, H)   (dh_t: the dh that reached h_t)
              dx = da @ W_ih   (L, N, in)    dh0, dc0 = the final dh, dc   (returned if hx given)
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), W_hr too   (torch.nn.LSTM's default)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        lstm = LSTM(10, 20, batch_first=True)
        output, (h_n, c_n) = lstm(np.random.randn(3, 5, 10), (h0, c0))   # (3, 5, 20), (1, 3, 20) x 2
        dx, (dh0, dc0) = lstm.backward((np.ones((3, 5, 20)), (None, None)))
        lstmp = LSTM(10, 20, proj_size=5)
        output, (h_n, c_n) = lstmp(np.random.randn(3, 5, 10))   # (3, 5, 5), (1, 5, 5), (1, 5, 20)
    """

    GATES = 4

    def _loop(self) -> tuple[Any, Any]:
        return rec.lstm_forward, rec.lstm_backward


class GRU(RNNBase):
    """Gated recurrent unit, as torch.nn.GRU (the reset gate multiplies the biased hidden projection).

    Shapes:   see RNNBase; weight_ih_l{k}[_reverse] (3H, in or D*H), weight_hh_l{k} (3H, H),
              bias_ih_l{k}, bias_hh_l{k} (3H,), rows in torch's gate order r, z, n
    Forward:  per step:  xw = x_t @ W_ih.T + b_ih;   hw = h_{t-1} @ W_hh.T + b_hh      (N, 3H)
              r = sigmoid(xw_r + hw_r);  z = sigmoid(xw_z + hw_z);  n = tanh(xw_n + r * hw_n)
              h_t = (1 - z) * n + z * h_{t-1}
    Backward: through time, t = L-1 ... 0, dh starting from dh_n:
              dh = dhs[t] + dh;  dan = dh*(1-z)*(1-n**2);  dar = dan*hw_n*r(1-r)
              daz = dh*(h_{t-1}-n)*z(1-z);  dxw = [dar, daz, dan];  dhw = [dar, daz, dan * r]
              dh = dh * z + dhw @ W_hh  (to step t-1)
              dW_ih = dxw.T @ x  (3H, in)   db_ih = dxw.sum  (3H,)
              dW_hh = dhw.T @ h_{t-1}  (3H, H)   db_hh = dhw.sum  (3H,)
              dx = dxw @ W_ih   (L, N, in)    dh0 = the final dh   (returned if hx given)
    Init:     every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))   (torch.nn.GRU's default)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    Example:
        gru = GRU(10, 20, bidirectional=True)
        output, h_n = gru(np.random.randn(5, 3, 10))            # (5, 3, 40), (2, 3, 20)
        dx = gru.backward(np.ones((5, 3, 40)))                   # a bare array: d output
    """

    GATES = 3
    BIAS_HH_IN_LOOP = True

    # proj_size, any value (0 too): ValueError, as torch
    _torch_value_error_keywords: ClassVar[dict[str, str]] = {"proj_size": _PROJ_SIZE_IS_LSTMS}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 device: Any = None, dtype: Any = None) -> None:
        # no proj_size: projections are LSTM's alone (torch's GRU refuses the keyword too)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _loop(self) -> tuple[Any, Any]:
        return rec.gru_forward, rec.gru_backward
