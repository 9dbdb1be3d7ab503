"""Fast forms of the optimizers' functional updates (CONTRACT §8): the same signatures, tested equal.

``sgd`` replaces ``minitorch.optimizers.sgd.sgd``; ``adam`` replaces ``minitorch.optimizers.adam.adam``.
Both also apply the default thread policy (``minitorch.threads.apply_policy_for``) once per step.

Why it pays: an update is memory-bound. The plain ``p -= lr * g`` makes two single-threaded passes over
each array plus a temporary of its size. Here:
- SGD calls the BLAS that NumPy links against: ``p += a * g`` is one ``axpy`` (one pass, no temporary,
  on the BLAS's threads) and ``b *= mu`` one ``scal``. Weight decay and Nesterov are folded into those
  calls: p - lr * (g + wd * p) = (1 - lr * wd) * p - lr * g. Without a usable BLAS (another library, a
  non-contiguous array, float16) the same algebra runs in NumPy on cache-sized chunks.
- Adam runs its five passes (m, v, sqrt, divide, update) chunk by chunk, so each pass reads a chunk that
  the previous one left in cache, and needs two chunk-sized scratch arrays instead of full-size ones.
A Parameter outside the kernels' arithmetic (``plain_only``: a gradient that is not an ndarray of the
data's dtype, or data neither float32 nor float64) gets the plain function's lines, that Parameter
alone, in its turn: the plain products round each Python-float setting in the gradient's dtype and
start a momentum buffer in it, which the kernels' scalars in the data's dtype would not repeat.
Adam's chunks run over flat views in the data's memory order (column-major data too, as one-row
inference lends it); a Parameter whose data or state is not contiguous in that order (``in_order``:
a reshape would be a copy, the update lost) gets the plain lines too.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import math
from typing import Any

import numpy as np

from minitorch import threads
from minitorch.kernels import flat, openblas
from minitorch.parameter import column_major

CHUNK = 32768  # elements (128 kB float32): a chunk and its scratch stay in a core's L2 cache
BLAS_MIN = 16384  # elements: below this a ctypes call costs more than NumPy's own loop


class _Blas:
    """axpy and scal of the BLAS NumPy uses (found through threadpoolctl), for float32 and float64."""

    def __init__(self) -> None:
        self.routines: dict[np.dtype, tuple[Any, Any]] = {}
        blas = openblas.find()
        if blas is None:
            return
        index, address = blas.index, ctypes.c_void_p
        axpy = blas.typed("cblas_{}axpy", lambda real: [index, real, address, index, address, index])
        scal = blas.typed("cblas_{}scal", lambda real: [index, real, address, index])
        self.routines = {dtype: (axpy[dtype], scal[dtype]) for dtype in axpy if dtype in scal}

    def usable(self, *arrays: np.ndarray) -> bool:
        y = arrays[0]
        return (y.size >= BLAS_MIN and y.dtype in self.routines
                and all(a.dtype == y.dtype and a.size == y.size for a in arrays)
                and (all(a.flags.c_contiguous for a in arrays)  # (elements paired in memory order)
                     or all(a.flags.f_contiguous and a.shape == y.shape for a in arrays))
                and y.flags.writeable)


def plain_only(x: Any, grad: Any) -> bool:
    """Whether a Parameter of data ``x`` and gradient ``grad`` is left to the plain lines: either
    not an ndarray, the gradient not of x's dtype, or x neither float32 nor float64 (no BLAS
    routine; float16 rounds each scalar of the fused forms far from the plain products)."""
    return (type(x) is not np.ndarray or type(grad) is not np.ndarray or grad.dtype != x.dtype
            or x.dtype.char not in "fd")


def in_order(x: np.ndarray, *written: np.ndarray | None) -> bool:
    """Whether x and every array of ``written`` (None skipped) are contiguous in x's memory order
    (column-major if x is, else row-major): their flat views in that order (``reshape(-1, order)``)
    are then views, so a chunked update writes through them; else a reshape is a copy and the
    update would be lost (the caller runs the plain lines). The array only read (the gradient) may
    be laid out any way: its flat copy in that order pairs its elements with x's."""
    flag = "f_contiguous" if column_major(x) else "c_contiguous"
    return all(getattr(a.flags, flag) for a in (x, *written) if a is not None)


def _plain(name: str) -> Any:
    """The plain functional form ``minitorch.optimizers.<name>.<name>`` (imported at the first
    Parameter left to it: the optimizer modules import this one)."""
    return getattr(importlib.import_module(f"minitorch.optimizers.{name}"), name)


@functools.cache
def _get_blas() -> _Blas:
    """The routines, looked up once (at the first call, when NumPy's BLAS is loaded)."""
    return _Blas()


def axpy_(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """y += a * x in place (y's dtype): one BLAS axpy, else NumPy on cache-sized chunks."""
    blas = _get_blas()
    if blas.usable(y, x):
        blas.routines[y.dtype][0](y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
        return
    a_t = np.asarray(a, dtype=y.dtype)  # a 0-d array of y's dtype: no promotion, no weak-scalar cost
    if y.size <= CHUNK or not (y.flags.c_contiguous and x.flags.c_contiguous and x.shape == y.shape):
        y += a_t * x
        return
    yf, xf = y.reshape(-1), x.reshape(-1)
    work = np.empty(CHUNK, dtype=y.dtype)
    for i in range(0, yf.size, CHUNK):
        w = work[: min(CHUNK, yf.size - i)]
        np.multiply(xf[i:i + CHUNK], a_t, out=w)
        yf[i:i + CHUNK] += w


def scal_(a: float, y: np.ndarray) -> None:
    """y *= a in place: one BLAS scal, else NumPy."""
    if a == 1.0:
        return
    blas = _get_blas()
    if blas.usable(y):
        blas.routines[y.dtype][1](y.size, a, y.ctypes.data, 1)
    else:
        y *= np.asarray(a, dtype=y.dtype)


def sgd(params: list[Any], grads: list[np.ndarray], momentum_buffers: list[np.ndarray | None], *,
        lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool,
        maximize: bool = False) -> None:
    """Fast ``minitorch.optimizers.sgd.sgd`` (same arguments, same result up to rounding).

    With s = -1 if maximize else 1, g = s * grad, mu = momentum, tau = dampening, wd = weight_decay:
        momentum == 0:  p = (1 - lr*wd) * p - lr*g                      scal + axpy
                        (wd == 0 and a small model's data and gradients in one flat buffer,
                        ``kernels/flat.py``: P = P - (s*lr)*G, two NumPy calls for all Parameters;
                        the thread policy is applied only if its small-model choice, 1 thread,
                        is not in force already: ``threads.one_thread_in_force``)
        first step:     b = g + wd*p                                    copy + axpy (new buffer)
        later steps:    b = mu*b + (1-tau)*g + (1-tau)*wd*p             scal + axpy (+ axpy)
        nesterov:       p = (1 - lr*wd) * p - lr*g - lr*mu*b            scal + axpy + axpy
        otherwise:      p = p - lr*b                                    axpy
    New momentum buffers are written into ``momentum_buffers`` (as torch's functional sgd does).
    maximize: s rides on the scalars (lr * s, (1-tau) * s) or negates a new buffer; the products are
    those of the descent on -grad, bit for bit (a negation is exact: s*a*g = a*(s*g)).
    Saves: the temporaries g + wd*p, lr*g and (1-tau)*g, and one pass per temporary.
    """
    # A small model in one flat buffer: one NumPy pass, whatever the BLAS threads (no local
    # reference to a data array: flat.adopt counts them). A flat group is a small model, so the
    # policy's choice for it, 1 thread, is applied only where it is not in force already.
    if (not momentum and not weight_decay and params
            and flat.update(params, grads, -float(lr) if maximize else float(lr))):
        if not threads.one_thread_in_force():
            threads.apply_policy_for(params)
        return
    threads.apply_policy_for(params)
    s = -1.0 if maximize else 1.0
    lr, mu, tau, wd = float(lr), float(momentum), float(dampening), float(weight_decay)
    step_t: dict[np.dtype, np.ndarray] = {}  # lr * s as a 0-d array of each dtype (no promotion)
    for i, (p, grad) in enumerate(zip(params, grads, strict=True)):
        x = p.data
        if plain_only(x, grad):
            buffers = momentum_buffers[i:i + 1] if mu else []
            _plain("sgd")([p], [grad], buffers, lr=lr, momentum=mu, dampening=tau, weight_decay=wd,
                          nesterov=nesterov, maximize=maximize)
            if mu:
                momentum_buffers[i] = buffers[0]
            continue
        if mu == 0 and wd == 0 and x.size < BLAS_MIN:  # small: the plain line is the fastest form
            a = step_t.get(x.dtype)
            if a is None:
                a = step_t[x.dtype] = np.asarray(lr * s, dtype=x.dtype)
            x -= a * grad
            continue
        if mu == 0:
            scal_(1.0 - lr * wd, x)
            axpy_(-lr * s, grad, x)
            continue
        b = momentum_buffers[i]
        if b is None:
            b = momentum_buffers[i] = np.array(grad, dtype=x.dtype, copy=True)
            if maximize:
                np.negative(b, out=b)
            if wd:
                axpy_(wd, x, b)
        else:
            scal_(mu, b)
            axpy_((1.0 - tau) * s, grad, b)
            if wd:
                axpy_((1.0 - tau) * wd, x, b)
        if nesterov:
            scal_(1.0 - lr * wd, x)
            axpy_(-lr * s, grad, x)
            axpy_(-lr * mu, b, x)
        else:
            axpy_(-lr, b, x)


def adam(params: list[Any], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
         exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[Any],
         *, amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
         maximize: bool = False) -> None:
    """Fast ``minitorch.optimizers.adam.adam`` (same arguments, same result up to rounding).

    Per Parameter, as torch's single-tensor Adam (step counted here, as torch counts it):
        step += 1;  g = -grad if maximize else grad;  g = g + wd*p if wd
        m = m + (1 - beta1) * (g - m)                  (torch's lerp_)
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_max, v) if amsgrad (kept in max_exp_avg_sqs) else v
        p = p - (lr / (1 - beta1**step)) * m / (sqrt(v_hat) / sqrt(1 - beta2**step) + eps)
    ``state_steps`` holds ints (replaced by step + 1) or 0-d arrays (incremented in place).
    Computed as p += m / d with d = -denom / step_size (the step size rides on the scalar passes that
    build the denominator, as the plain Adam does).
    Saves: the chunk loop keeps each pass in cache, and the full-size temporaries (g - m, g * g,
    sqrt(v), the quotient) become one chunk-sized scratch array (two with maximize or weight decay).
    """
    threads.apply_policy_for(params)
    for i, (p, grad) in enumerate(zip(params, grads, strict=True)):
        if plain_only(p.data, grad) or not in_order(p.data, exp_avgs[i], exp_avg_sqs[i],
                                                    max_exp_avg_sqs[i] if amsgrad else None):
            steps = state_steps[i:i + 1]
            vmax = max_exp_avg_sqs[i:i + 1]
            _plain("adam")([p], [grad], exp_avgs[i:i + 1], exp_avg_sqs[i:i + 1], vmax, steps,
                           amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
                           eps=eps, maximize=maximize)
            state_steps[i] = steps[0]
            continue
        if isinstance(state_steps[i], np.ndarray):
            state_steps[i] += 1
            step = int(state_steps[i])
        else:
            state_steps[i] = step = int(state_steps[i]) + 1
        x = p.data
        bc1, bc2_sqrt = 1.0 - beta1 ** step, math.sqrt(1.0 - beta2 ** step)
        vmax = max_exp_avg_sqs[i] if amsgrad else None
        if amsgrad and vmax is None:
            raise ValueError("adam: amsgrad=True expects max_exp_avg_sqs[i] arrays, got None")
        order = "F" if column_major(x) else "C"  # flat views in x's memory order (in_order)
        views = [a.reshape(-1, order=order) for a in (x, grad, exp_avgs[i], exp_avg_sqs[i])]
        vmax_flat = None if vmax is None else vmax.reshape(-1, order=order)
        dtype = x.dtype
        step_size = lr / bc1 if lr != 0 else 0.0
        safe = step_size or 1.0  # lr = 0: m and v still move, p does not (_adam_chunk stops early)
        consts = [np.asarray(c, dtype=dtype) for c in (1.0 - beta1, beta2, 1.0 - beta2,
                  -1.0 / (bc2_sqrt * safe), eps / safe, weight_decay)]
        size = min(CHUNK, x.size)
        work = (np.empty(size, dtype), np.empty(size, dtype))
        for start in range(0, x.size, CHUNK):
            chunk = slice(start, start + CHUNK)
            vm = None if vmax_flat is None else vmax_flat[chunk]
            _adam_chunk(*(v[chunk] for v in views), vm, consts, maximize, weight_decay != 0, work,
                        step_size != 0)


def _adam_chunk(x: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, vmax: np.ndarray | None,
                consts: list[np.ndarray], maximize: bool, decay: bool, work: tuple, move: bool) -> None:
    one_m_b1, b2, one_m_b2, inv_denom, eps_over, wd = consts
    t = work[1][: x.size]
    g = grad
    if maximize or decay:
        g = work[0][: x.size]
        if maximize:
            np.negative(grad, out=g)
        else:
            g[...] = grad
        if decay:
            np.multiply(x, wd, out=t)
            g += t
    np.subtract(g, m, out=t)            # m += (1 - beta1) * (g - m)
    t *= one_m_b1
    m += t
    v *= b2                              # v = beta2 * v + (1 - beta2) * g * g
    np.multiply(g, g, out=t)
    t *= one_m_b2
    v += t
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
    if not move:
        return
    np.sqrt(v if vmax is None else vmax, out=t)   # d = -denom / step_size, then p += m / d
    t *= inv_denom
    t -= eps_over
    np.divide(m, t, out=t)
    x += t
