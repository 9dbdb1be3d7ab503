"""Softmax, LogSoftmax and Softmin along one dimension (the formulas live in ``functional``: softmax and its
backward, and the shifted exponentials LogSoftmax reads both its output and its probabilities from)."""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_int
from minitorch.dtypes import as_floating
from minitorch.functional import log_of_sum, shifted_exp, softmax, softmax_backward
from minitorch.module import Module


class Softmax(Module):
    """Softmax along ``dim``: non-negative outputs that sum to 1 along it, as torch.nn.Softmax.

    Shapes:   x (*)   y (*)   (sums over dim)
    Forward:  s  = x - x.max(dim)                 (max shift: exp(s) <= 1)
              y  = exp(s) / sum(exp(s), dim)
    Backward: dx = y * (dy - sum(dy * y, dim))    (*)   the Jacobian diag(y) - y y.T applied to dy
              (y cached by forward; the caller gets a copy: its writes cannot reach the backward)
    dim=None (the default, as torch's): the last axis of a 1-D or 2-D input, where torch's implicit
    choice agrees; a ValueError for more dims, where torch's picks dim 0 (3-D) or 1 (4-D and up)
    with a deprecation warning: give dim there. ``dim`` is read at every call, as torch's: None
    (torch's attribute when not given) is the implicit choice, an int set later is a dim given
    A 0-D input is one entry along dim None, 0 or -1 (torch's range for it): y = 1, dx = 0 (nan
    for a non-finite x), as torch
    Example:
        act = Softmax(dim=-1)
        y = act(np.array([[1.0, 2.0, 3.0]]))   # [[0.090, 0.245, 0.665]]
        dx = act.backward(np.array([[1.0, 0.0, 0.0]]))
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _check_dim(dim, "Softmax")
        self._out: np.ndarray | None = None
        self._dim_axis: int | None = None  # the axis the forward call read from dim: its backward's

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Softmax")
        self._dim_axis = axis = _axis(*_dim_read(self), x.shape, "Softmax")
        self._out = softmax(x, axis)
        return self._out.copy()  # the caller's own array: its writes cannot reach the backward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return softmax_backward(y, dy, self._dim_axis)  # y * (dy - sum(dy * y, dim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log of the softmax along ``dim``, computed stably, as torch.nn.LogSoftmax.

    Shapes:   x (*)   y (*)
    Forward:  s  = x - x.max(dim)                  (max shift: sum(exp(s)) in [1, size], log finite)
              y  = s - log(sum(exp(s), dim))       (log-sum-exp, never log(softmax))
    Backward: p  = exp(y) = softmax(x)             (cached by forward)
              dx = dy - p * sum(dy, dim)           (*)
    dim=None (the default): as Softmax's, the last axis of a 1-D or 2-D input, else a ValueError
    (``dim`` read at every call, None or an int set later, as Softmax's);
    a 0-D input (dim None, 0 or -1): y = 0, dx = 0 (nan for a non-finite x), as torch
    An empty dim (size 0) gives an empty y and dx, as torch (log(0) of its sum of no terms meets no entry)
    Example:
        act = LogSoftmax(dim=1)
        y = act(np.array([[0.0, 1e4]]))   # [[-1e4, 0]]: finite, no overflow
        dx = act.backward(np.array([[1.0, 0.0]]))
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _check_dim(dim, "LogSoftmax")
        self._probs: np.ndarray | None = None
        self._dim_axis: int | None = None  # the axis the forward call read from dim: its backward's

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "LogSoftmax")
        self._dim_axis = axis = _axis(*_dim_read(self), x.shape, "LogSoftmax")
        s, exp_s, sum_exp = shifted_exp(x, axis)
        self._probs = exp_s / sum_exp
        return s - log_of_sum(sum_exp)  # (an empty dim: an empty output, as torch)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        p = self._cached(self._probs)
        dy = self._check_grad(dy, p.shape, p.dtype)
        # w.r.t. input
        return dy - p * np.sum(dy, axis=self._dim_axis, keepdims=True)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """Softmax of -x along ``dim``: weights that favour the smallest entries, as torch.nn.Softmin.

    Shapes:   x (*)   y (*)   (sums to 1 over dim)
    Forward:  s  = -x - (-x).max(dim)                   (max shift: exp(s) <= 1)
              y  = exp(s) / sum(exp(s), dim)           = softmax(-x, dim)
    Backward: dx = -(y * (dy - sum(dy * y, dim)))      (*)   softmax's backward, times d(-x)/dx = -1
              (y cached by forward; the caller gets a copy)
    dim=None (the default): as Softmax's, the last axis of a 1-D or 2-D input, else a ValueError
    (``dim`` read at every call, None or an int set later, as Softmax's); a 0-D input: y = 1, dx = 0
    Example:
        act = Softmin(dim=-1)
        y = act(np.array([[1.0, 2.0, 3.0]]))   # [[0.665, 0.245, 0.090]]
        dx = act.backward(np.array([[1.0, 0.0, 0.0]]))
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _check_dim(dim, "Softmin")
        self._out: np.ndarray | None = None
        self._dim_axis: int | None = None  # the axis the forward call read from dim: its backward's

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "Softmin")
        self._dim_axis = axis = _axis(*_dim_read(self), x.shape, "Softmin")
        self._out = softmax(-x, axis)
        return self._out.copy()  # the caller's own array: its writes cannot reach the backward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._cached(self._out)
        dy = self._check_grad(dy, y.shape, y.dtype)
        # w.r.t. input
        return -softmax_backward(y, dy, self._dim_axis)  # -(y * (dy - sum(dy * y, dim)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _check_dim(dim: int | None, who: str) -> int | None:
    """dim as an int, or None (not given: torch's implicit choice, which _axis allows for 1-D and
    2-D inputs only, where it is the last axis)."""
    return None if dim is None else check_int(dim, who, "dim")


def _dim_read(layer: Softmax | LogSoftmax | Softmin) -> tuple[int, bool]:
    """(dim, given) as a forward reads them: torch reads dim at every call, so any int set after
    construction is a dim given (-1 included), and None is torch's implicit choice (read as -1)."""
    dim = _check_dim(layer.dim, type(layer).__name__)
    return (-1, False) if dim is None else (dim, True)


def _axis(dim: int, given: bool, shape: tuple[int, ...], who: str) -> int | None:
    """``dim`` checked against the input's dims (negative dims count from the end); None for a 0-D
    input, which torch reads as one entry along dim 0 or -1 (its only dims there).

    Not given: torch's implicit dim (deprecated) is 0 for 0-D, 1-D and 3-D inputs and 1 otherwise;
    it is the last axis for 1-D and 2-D only, so other inputs need dim (a silent other axis else).
    """
    if not given and len(shape) > 2:
        torch_dim = 0 if len(shape) == 3 else 1
        raise ValueError(
            f"{who}: no dim given, and the input is {len(shape)}-D {shape}: torch's {who}() would take "
            f"dim={torch_dim} there (its deprecated implicit choice), not the last axis; pass dim "
            f"explicitly, e.g. {who}(dim=-1) or {who}(dim={torch_dim})"
        )
    if not -max(len(shape), 1) <= dim < max(len(shape), 1):
        raise ValueError(f"{who}(dim={dim}): expected an input with a dim {dim}, got shape {shape}")
    return _sum_axis(dim, len(shape))


def _sum_axis(dim: int, ndim: int) -> int | None:
    """The axis to reduce: ``dim``, or None (the whole) for a 0-D array, whose dims 0 and -1 torch allows."""
    return dim if ndim else None
