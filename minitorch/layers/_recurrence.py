"""The time loops of the recurrent layers, forward and backward through time (pure NumPy).

Shared by ``RNN``/``LSTM``/``GRU`` (T steps) and their cells (a loop of T = 1). Each kind has a
``*_forward`` and a ``*_backward`` with one interface, so the layers above them are kind-agnostic:

    forward(xw, h0, c0, W_hh, b_hh) -> (hs, c_n, cache)
        xw   (T, N, G)   input projection x_t @ W_ih.T + b_ih of every step, computed before the loop
                         as ONE product; for RNN and LSTM it also holds b_hh (the two biases only
                         ever appear summed), GRU adds b_hh inside the loop (its reset gate
                         multiplies the biased hidden projection)
        h0   (N, H)      c0 (N, H) for LSTM, None otherwise
        hs   (T+1, N, H) hs[0] = h0, hs[t+1] = h after step t: hs[1:] is the output, hs[:-1] the
                         h_{t-1} the hidden products saw
    backward(dhs, dh_n, dc_n, cache, W_hh) -> (dxw, dhw, dh0, dc0)
        dhs  (T, N, H)   dL/dh_t from the output;  dh_n, dc_n (N, H): from the final state
        dxw  (T, N, G)   dL/d(xw): gives dW_ih = dxw.T @ x, db_ih = dxw.sum, dx = dxw @ W_ih
        dhw  (T, N, G)   dL/d(h_{t-1} @ W_hh.T + b_hh): gives dW_hh = dhw.T @ hs[:-1], db_hh = dhw.sum
                         (the same array as dxw except for GRU)

An LSTM with projections (proj_size = P > 0) passes one more argument, W_hr (P, H), to both:
``lstm_forward(..., W_hr)`` gives hs (T+1, N, P), and ``lstm_backward(..., W_hr)`` returns a fifth
item, dW_hr (P, H). (The fast room has no kernel for the output projection: with W_hr the plain loops run.)

Only h_{t-1} @ W_hh.T, its transpose product in backward, and the gate arithmetic run inside the
Python loops; the weight gradients are one product each, after the loop (in the layers).
sigmoid(a) is written 0.5 * tanh(0.5 a) + 0.5: exact, and it cannot overflow for any |a|.
"""

from __future__ import annotations

import numpy as np

from minitorch.functional_activations import relu_maximum
from minitorch.kernels import kernels_enabled
from minitorch.kernels import sequences as fast


def project(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """xw = x @ W.T + b: the input projection of all L * N steps, ONE product (no b: x @ W.T)."""
    if kernels_enabled():  # the fast room: the bias inside the product, no pass of its own
        return fast.project(x, W, b)
    xw = x @ W.T
    if b is not None:
        xw += b
    return xw


def unshared(out: np.ndarray, held: tuple | list) -> np.ndarray:
    """``out``, or a copy if it may share memory with an array in ``held`` (what a backward reads).

    A layer's output h_t is a view of the hs the backward reads (h_{t-1} for dW_hh, h_t for RNN's
    act'); returned as is, a caller's in-place change of the output (zeroing padded steps, as torch
    users do) would change the gradients. With the copy, the caller owns the output, as in torch.
    """
    if any(isinstance(a, np.ndarray) and np.may_share_memory(out, a) for a in held):
        return out.copy()
    return out


def sigmoid(a: np.ndarray) -> np.ndarray:
    """sigma(a) = 1 / (1 + exp(-a)) = 0.5 * tanh(0.5 a) + 0.5 (no exp, no overflow).

    Not ``functional.sigmoid`` (the exp(-|a|) form: full relative precision for tiny outputs, where
    this one is exact to about eps/2 absolute, 0 below ~3e-17 in float64; the two differ in the last
    bit on most inputs): this is the form the LSTM kernel fuses (one tanh over the whole (N, 4H) gate
    block, kernels/sequences.py), so the loops and the kernel agree.
    """
    return 0.5 * np.tanh(0.5 * a) + 0.5


# ---------------------------------------------------------------------------- Elman RNN
def rnn_forward(xw, h0, c0, W_hh, b_hh, nonlinearity="tanh"):
    """h_t = act(xw_t + h_{t-1} @ W_hh.T)   (b_ih + b_hh are inside xw);  act = tanh or relu.

    relu(a) = max(0, a) with torch's signed zero, relu(-0.0) = -0.0 (``relu_maximum``, F.relu's).
    """
    T = xw.shape[0]
    hs = np.empty((T + 1,) + h0.shape, dtype=xw.dtype)
    hs[0] = h0
    zero = xw.dtype.type(0)
    for t in range(T):
        a = xw[t] + hs[t] @ W_hh.T
        hs[t + 1] = np.tanh(a) if nonlinearity == "tanh" else relu_maximum(zero, a)
    return hs, None, (hs, nonlinearity)


def rnn_backward(dhs, dh_n, dc_n, cache, W_hh):
    """Through time, t = T-1 ... 0:
        dh    = dhs[t] + dh_next                  (the output's gradient plus the later step's)
        da    = dh * (1 - h_t**2)   (tanh)   or   dh * (h_t != 0)   (relu: torch's not (h_t <= 0);
                                              relu'(0) = 0, and a nan passes dh)
        dh_next = da @ W_hh                       (flows to step t-1; dh0 after step 0)
    """
    hs, nonlinearity = cache
    da_all = np.empty(dhs.shape[:2] + (W_hh.shape[0],), dtype=dhs.dtype)
    dh = dh_n.copy()
    for t in reversed(range(dhs.shape[0])):
        dh += dhs[t]
        h = hs[t + 1]
        da = dh * (1 - h * h) if nonlinearity == "tanh" else dh * (h != 0)
        da_all[t] = da
        dh = da @ W_hh
    return da_all, da_all, dh, None


# --------------------------------------------------------------------------------- LSTM
def lstm_forward(xw, h0, c0, W_hh, b_hh, W_hr=None):
    """Per step (gates in torch's order i, f, g, o, each H wide):
        a   = xw_t + h_{t-1} @ W_hh.T                        (N, 4H)
        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
        c_t = f * c_{t-1} + i * g
        m_t = o * tanh(c_t)                                  (N, H)
        h_t = m_t,  or with projections  h_t = m_t @ W_hr.T  (N, P)   (h0 and W_hh then have P columns)
    """
    if kernels_enabled() and W_hr is None:  # the fast room (it has no projection: the plain loop runs)
        return fast.lstm_forward(xw, h0, c0, W_hh, b_hh)
    T, N, G = xw.shape
    H = G // 4
    hs = np.empty((T + 1, N, h0.shape[-1]), dtype=xw.dtype)  # h0.shape[-1]: P with projections, else H
    cs = np.empty((T + 1, N, H), dtype=xw.dtype)
    gates = np.empty((T, N, G), dtype=xw.dtype)  # i, f, g, o after their nonlinearity
    tanh_cs = np.empty((T, N, H), dtype=xw.dtype)
    ms = None if W_hr is None else np.empty((T, N, H), dtype=xw.dtype)  # dW_hr needs m_t
    hs[0], cs[0] = h0, c0
    for t in range(T):
        a = xw[t] + hs[t] @ W_hh.T
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:] = i, f, g, o
        cs[t + 1] = f * cs[t] + i * g
        tanh_cs[t] = np.tanh(cs[t + 1])
        if W_hr is None:
            hs[t + 1] = o * tanh_cs[t]
        else:
            ms[t] = o * tanh_cs[t]
            hs[t + 1] = ms[t] @ W_hr.T
    cache = (cs, gates, tanh_cs) if W_hr is None else (cs, gates, tanh_cs, ms)
    return hs, cs[T], cache


def lstm_backward(dhs, dh_n, dc_n, cache, W_hh, W_hr=None):
    """Through time, t = T-1 ... 0 (dh, dc arrive from step t+1; at t = T-1 from h_n, c_n):
        dh  = dhs[t] + dh                         (the output's gradient plus the later step's)
        dm  = dh,  or with projections  dm = dh @ W_hr      (h_t = m_t @ W_hr.T;  dm (N, H))
        do  = dm * tanh(c_t)
        dc  = dc + dm * o * (1 - tanh(c_t)**2)    (c_t reaches the loss through h_t and c_{t+1})
        di, df, dg = dc * g, dc * c_{t-1}, dc * i
        da  = [di * i(1-i), df * f(1-f), dg * (1-g**2), do * o(1-o)]      (N, 4H)
        dh  = da @ W_hh                           (flows to step t-1)
        dc  = dc * f                              (flows to step t-1)
    With projections, after the loop, one product over all T * N rows (the dh of every step kept):
        dW_hr = dh_all.T @ m_all                  (P, H), returned as a fifth item
    """
    if kernels_enabled() and W_hr is None:  # the fast room (it has no projection: the plain loop runs)
        return fast.lstm_backward(dhs, dh_n, dc_n, cache, W_hh)
    cs, gates, tanh_cs = cache[:3]
    T, _, G = gates.shape
    H = G // 4
    da_all = np.empty_like(gates)
    dh_all = None if W_hr is None else np.empty_like(dhs)  # dL/dh_t, for dW_hr
    dh, dc = dh_n.copy(), dc_n.copy()
    for t in reversed(range(T)):
        dh += dhs[t]
        if W_hr is None:
            dm = dh
        else:
            dh_all[t] = dh
            dm = dh @ W_hr
        i, f, g, o = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:]
        tc = tanh_cs[t]
        do = dm * tc
        dc += dm * o * (1 - tc * tc)
        da = da_all[t]
        da[:, :H] = dc * g * i * (1 - i)
        da[:, H:2 * H] = dc * cs[t] * f * (1 - f)
        da[:, 2 * H:3 * H] = dc * i * (1 - g * g)
        da[:, 3 * H:] = do * o * (1 - o)
        dh = da @ W_hh
        dc = dc * f
    if W_hr is None:
        return da_all, da_all, dh, dc
    ms = cache[3]
    dW_hr = dh_all.reshape(-1, W_hr.shape[0]).T @ ms.reshape(-1, H)
    return da_all, da_all, dh, dc, dW_hr


# ---------------------------------------------------------------------------------- GRU
def gru_forward(xw, h0, c0, W_hh, b_hh):
    """Per step (gates in torch's order r, z, n, each H wide; xw holds b_ih only):
        hw  = h_{t-1} @ W_hh.T + b_hh                        (N, 3H)
        r   = sigmoid(xw_r + hw_r);   z = sigmoid(xw_z + hw_z)
        n   = tanh(xw_n + r * hw_n)                          (r multiplies the BIASED hw_n, as torch)
        h_t = (1 - z) * n + z * h_{t-1}
    """
    T, N, G = xw.shape
    H = G // 3
    hs = np.empty((T + 1, N, H), dtype=xw.dtype)
    gates = np.empty((T, N, G), dtype=xw.dtype)  # r, z, n after their nonlinearity
    hw_n = np.empty((T, N, H), dtype=xw.dtype)
    hs[0] = h0
    for t in range(T):
        hw = hs[t] @ W_hh.T
        if b_hh is not None:
            hw += b_hh
        r = sigmoid(xw[t, :, :H] + hw[:, :H])
        z = sigmoid(xw[t, :, H:2 * H] + hw[:, H:2 * H])
        n = np.tanh(xw[t, :, 2 * H:] + r * hw[:, 2 * H:])
        gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:], hw_n[t] = r, z, n, hw[:, 2 * H:]
        hs[t + 1] = (1 - z) * n + z * hs[t]
    return hs, None, (hs, gates, hw_n)


def gru_backward(dhs, dh_n, dc_n, cache, W_hh):
    """Through time, t = T-1 ... 0 (dh arrives from step t+1; at t = T-1 from h_n):
        dh   = dhs[t] + dh
        dn   = dh * (1 - z);   dz = dh * (h_{t-1} - n)
        dan  = dn * (1 - n**2)                    (pre-activation of n)
        dar  = dan * hw_n * r(1-r);   daz = dz * z(1-z)
        dxw  = [dar, daz, dan]                    (N, 3H)  the input side
        dhw  = [dar, daz, dan * r]                (N, 3H)  the hidden side (r scales hw_n)
        dh   = dh * z + dhw @ W_hh                (flows to step t-1)
    """
    hs, gates, hw_n = cache
    T, _, G = gates.shape
    H = G // 3
    dxw_all, dhw_all = np.empty_like(gates), np.empty_like(gates)
    dh = dh_n.copy()
    for t in reversed(range(T)):
        dh += dhs[t]
        r, z, n = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:]
        dan = dh * (1 - z) * (1 - n * n)
        dar = dan * hw_n[t] * r * (1 - r)
        daz = dh * (hs[t] - n) * z * (1 - z)
        dxw_all[t, :, :H], dxw_all[t, :, H:2 * H], dxw_all[t, :, 2 * H:] = dar, daz, dan
        dhw_all[t, :, :H], dhw_all[t, :, H:2 * H], dhw_all[t, :, 2 * H:] = dar, daz, dan * r
        dh = dh * z + dhw_all[t] @ W_hh
    return dxw_all, dhw_all, dh, None
