"""Pooling over (N, C, L) sequences: MaxPool1d, AvgPool1d, AdaptiveMaxPool1d, AdaptiveAvgPool1d,
MaxUnpool1d (no parameters), as torch's.

Each is its 2-D twin on a (N, C, 1, L) image with a (1, k) window: the forward checks the 1-D
arguments and input itself (its errors name the 1-D class and shapes), builds the 2-D pool of this
call's settings and runs it on x[..., None, :]; that pool travels in the call's cache, so the
backward is the 2-D backward of exactly that forward, its result read back as (N, C, L).
Every one also takes an unbatched sequence (C, L) and returns (C, OL), as torch. An empty batch
(N = 0) gives an empty output; an empty sequence (L = 0) is a ValueError naming the class (torch
refuses it too).

Window span (MaxPool1d's dilation d; 1 for AvgPool1d): span = d*(k - 1) + 1.
OL = (L + 2*p - span) // s + 1; ceil_mode: ceil((L + 2*p - span) / s) + 1, minus 1 if that last
window would start in the right padding ((OL - 1)*s >= L + p), as torch (see pooling.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minitorch.checks import check_bool
from minitorch.dtypes import as_floating
from minitorch.layers.adaptive_max_pool import AdaptiveMaxPool2d
from minitorch.layers.max_unpool import MaxUnpool2d
from minitorch.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, grad_of_y
from minitorch.module import Module


def _single(value: object, name: str, who: str, minimum: int) -> int:
    """``value`` as an int >= minimum: an int, or a 1-tuple / 1-list of one (torch's _single form)."""
    one = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if isinstance(one, bool) or not isinstance(one, (int, np.integer)) or one < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a 1-tuple of one, got {value!r}")
    return int(one)


def _sequences(x: object, who: str) -> np.ndarray:
    """x as a floating (N, C, L) or unbatched (C, L) array with L >= 1, else a ValueError naming both
    shapes."""
    x = as_floating(x, who)
    if x.ndim not in (2, 3):
        raise ValueError(f"{who}: expected input (N, C, L) or unbatched (C, L), got {x.shape}")
    if x.shape[-1] == 0:  # torch refuses it: a window would read padding only, a bin nothing
        raise ValueError(f"{who}: expected a non-empty length L, got input {x.shape} (torch refuses an "
                         "empty sequence)")
    return x


def _out_length(who: str, L: int, span: int, s: int, p: int, ceil_mode: bool) -> int:
    """OL of a window of ``span`` (see the module docstring); ValueError if no window fits."""
    room = L + 2 * p - span
    out = (-(-room // s) if ceil_mode else room // s) + 1
    if ceil_mode and (out - 1) * s >= L + p:  # torch: the last window starts in the input or left padding
        out -= 1
    if out < 1:  # (ceil_mode lets one window hang past an input shorter than the span, as torch)
        raise ValueError(f"{who}: input length {L} with padding {p} on each side leaves no window of span "
                         f"{span} (output length {out}, as torch refuses)")
    return out


class _Pool1d(Module):
    """Shared by MaxPool1d and AvgPool1d: the 1-D settings read at each forward, the 2-D pool's call."""

    _plane: tuple[Module] | None  # (the 2-D pool of the forward call whose backward comes next,)

    def _geometry(self) -> tuple[int, int, int, int]:
        """(k, s, p, d) as the attributes are now (torch reads them at each forward), checked as torch."""
        who = type(self).__name__
        k = _single(self.kernel_size, "kernel_size", who, 1)
        s = k if self.stride is None else _single(self.stride, "stride", who, 1)
        p = _single(self.padding, "padding", who, 0)
        d = _single(getattr(self, "dilation", 1), "dilation", who, 1)
        if 2 * p > k:
            raise ValueError(f"{who}: padding must be at most half the kernel size (as torch), got "
                             f"padding={p}, kernel_size={k}")
        return k, s, p, d

    def _run(self, x: object, pool: Module) -> object:
        """pool (the 2-D twin) on x as (N, C, 1, L); its output(s) read back as (N, C, OL)."""
        out = pool(x[..., None, :])
        self._plane = (pool,)
        self._dtype, self._y_shape = x.dtype, x.shape[:-1] + (self._out_len,)
        if isinstance(out, tuple):
            return tuple(o[..., 0, :] for o in out)
        return out[..., 0, :]

    def _plane_backward(self, dy: np.ndarray) -> np.ndarray:
        (pool,) = self._cached(self._plane)
        dy = self._check_grad(dy, self._y_shape, self._dtype)
        dx = pool.backward(dy[..., None, :])
        return dx[..., 0, :]


class MaxPool1d(_Pool1d):
    """Maximum over each window of k taps, d apart (dilation), as torch.nn.MaxPool1d.

    Shapes:   x (N, C, L) or (C, L)   y, indices (N, C, OL) or (C, OL)   (OL: the module docstring;
              padding at most k // 2, as torch)
    Forward:  xp = pad x with -inf on both sides by p (ceil_mode: and the overhang)
              y[n, c, o] = max_j xp[n, c, o*s + j*d]                  j = 0 .. k-1
              t = the first j reaching the maximum (ties: the leftmost tap, as torch)
              return_indices=True: returns (y, indices), indices int64 = o*s + t*d - p (the place in L;
              MaxUnpool1d's input)
    Backward: dx[n, c, o*s + t*d - p] += dy[n, c, o]                      (N, C, L)
              one element per window gets the gradient; overlapping windows add up. With
              return_indices=True it takes dy, or (dy, None). A window of padding only (possible with
              dilation) outputs -inf and takes no gradient: a nonzero dy there is a ValueError
              (torch writes it outside the window).
    Computed by MaxPool2d on (N, C, 1, L) with kernel (1, k) (its docstring has the NaN rule).
    Example:
        pool = MaxPool1d(2)
        y = pool(np.arange(6.0).reshape(1, 1, 6))     # [[[1, 3, 5]]]
        dx = pool.backward(np.ones_like(y))           # 1 at 1, 3, 5
    """

    def __init__(self, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
                 padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        # stored as given (torch's MaxPool1d keeps them so); stride None is the kernel size
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices = check_bool(return_indices, "MaxPool1d", "return_indices")
        self.ceil_mode = check_bool(ceil_mode, "MaxPool1d", "ceil_mode")
        self._geometry()
        self._plane = self._alone = None

    def forward(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        x = _sequences(x, "MaxPool1d")
        k, s, p, d = self._geometry()
        self._out_len = _out_length("MaxPool1d", x.shape[-1], d * (k - 1) + 1, s, p, self.ceil_mode)
        self._alone = _padding_only(x.shape[-1], self._out_len, k, s, p, d)
        self._with_indices = self.return_indices
        return self._run(x, MaxPool2d((1, k), (1, s), (0, p), (1, d), self._with_indices, self.ceil_mode))

    def backward(self, dy: np.ndarray | tuple[np.ndarray | None, None]) -> np.ndarray:
        self._cached(self._plane)
        dy = grad_of_y(dy, self._with_indices, "MaxPool1d", self._y_shape, self._dtype)
        dy = self._check_grad(dy, self._y_shape, self._dtype)
        alone = self._alone
        if alone is not None and (dy[..., alone] != 0).any():
            raise ValueError(
                f"MaxPool1d({self.extra_repr()}): {int(alone.sum())} of its windows read padding only "
                "(their output is -inf, as torch's) and got a nonzero gradient, which no input can take "
                "(torch's backward writes it outside the window); use less padding or dilation"
            )
        # w.r.t. input
        return self._plane_backward(dy)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(_Pool1d):
    """Mean over each window of k taps, as torch.nn.AvgPool1d (which has no divisor_override).

    Shapes:   x (N, C, L) or (C, L)   y (N, C, OL) or (C, OL)   (OL: the module docstring)
    Forward:  xp = pad x with 0 by p on both sides (ceil_mode: and the overhang, never counted)
              div[o] = k if count_include_pad (the default; the overhang still not counted), else
                       the number of input elements in window o
              y[n, c, o] = sum_j xp[n, c, o*s + j] / div[o]          j = 0 .. k-1
    Backward: dx[n, c, o*s + j - p] += dy[n, c, o] / div[o]  for every tap j inside the input  (N, C, L)
    Computed by AvgPool2d on (N, C, 1, L) with kernel (1, k).
    Example:
        pool = AvgPool1d(2)
        y = pool(np.arange(6.0).reshape(1, 1, 6))     # [[[0.5, 2.5, 4.5]]]
        dx = pool.backward(np.ones_like(y))           # 0.5 everywhere
    """

    def __init__(self, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
                 padding: int | tuple[int] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        # torch's AvgPool1d keeps 1-tuples; stride None is the kernel size
        self.kernel_size = (_single(kernel_size, "kernel_size", "AvgPool1d", 1),)
        self.stride = self.kernel_size if stride is None else (_single(stride, "stride", "AvgPool1d", 1),)
        self.padding = (_single(padding, "padding", "AvgPool1d", 0),)
        self.ceil_mode = check_bool(ceil_mode, "AvgPool1d", "ceil_mode")
        self.count_include_pad = check_bool(count_include_pad, "AvgPool1d", "count_include_pad")
        self._geometry()
        self._plane = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _sequences(x, "AvgPool1d")
        k, s, p, _ = self._geometry()
        self._out_len = _out_length("AvgPool1d", x.shape[-1], k, s, p, self.ceil_mode)
        return self._run(x, AvgPool2d((1, k), (1, s), (0, p), self.ceil_mode, self.count_include_pad))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # w.r.t. input
        return self._plane_backward(dy)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Adaptive1d(_Pool1d):
    """Shared by the adaptive 1-D pools: output_size an int >= 1 (or a 1-tuple), read at each forward."""

    def _size(self) -> int:
        return _single(self.output_size, "output_size", type(self).__name__, 1)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive1d):
    """Mean over adaptive bins giving OL outputs, as torch.nn.AdaptiveAvgPool1d.

    Shapes:   x (N, C, L) or (C, L)   y (N, C, OL) or (C, OL)   OL = output_size
    Forward:  bin o covers [l0, l1) = [floor(o*L/OL), ceil((o+1)*L/OL))  (torch's bins; neighbours may
              overlap by one)
              y[n, c, o] = x[n, c, l0:l1].mean()
    Backward: dx[n, c, l0:l1] += dy[n, c, o] / (l1 - l0)   for every bin o     (N, C, L)
    Computed by AdaptiveAvgPool2d on (N, C, 1, L) with output (1, OL).
    Example:
        gap = AdaptiveAvgPool1d(1)
        y = gap(np.ones((2, 3, 5)))                   # (2, 3, 1), all ones
        dx = gap.backward(np.ones_like(y))            # (2, 3, 5), 1/5 each
    """

    def __init__(self, output_size: int | tuple[int]) -> None:
        super().__init__()
        _single(output_size, "output_size", "AdaptiveAvgPool1d", 1)
        self.output_size = output_size
        self._plane = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _sequences(x, "AdaptiveAvgPool1d")
        self._out_len = out = self._size()
        return self._run(x, AdaptiveAvgPool2d((1, out)))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # w.r.t. input
        return self._plane_backward(dy)


class AdaptiveMaxPool1d(_Adaptive1d):
    """Maximum over adaptive bins giving OL outputs, as torch.nn.AdaptiveMaxPool1d.

    Shapes:   x (N, C, L) or (C, L)   y, indices (N, C, OL) or (C, OL)   OL = output_size
    Forward:  bins as AdaptiveAvgPool1d's: bin o covers [floor(o*L/OL), ceil((o+1)*L/OL))
              y[n, c, o] = max of x[n, c] over bin o; t = its first maximum (a bin holding NaN: its
              last NaN, as torch)
              return_indices=True: returns (y, indices), indices int64 = l0 + t (the place in L)
    Backward: dx[n, c, l0 + t[n, c, o]] += dy[n, c, o]                      (N, C, L)
              with return_indices=True it takes dy, or (dy, None).
    Computed by AdaptiveMaxPool2d on (N, C, 1, L) with output (1, OL).
    Example:
        pool = AdaptiveMaxPool1d(1)
        y = pool(np.arange(5.0).reshape(1, 1, 5))     # [[[4]]]
        dx = pool.backward(np.ones_like(y))           # 1 at the last element
    """

    def __init__(self, output_size: int | tuple[int], return_indices: bool = False) -> None:
        super().__init__()
        _single(output_size, "output_size", "AdaptiveMaxPool1d", 1)
        self.output_size = output_size
        self.return_indices = check_bool(return_indices, "AdaptiveMaxPool1d", "return_indices")
        self._plane = None

    def forward(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        x = _sequences(x, "AdaptiveMaxPool1d")
        self._out_len = out = self._size()
        self._with_indices = self.return_indices
        return self._run(x, AdaptiveMaxPool2d((1, out), self._with_indices))

    def backward(self, dy: np.ndarray | tuple[np.ndarray | None, None]) -> np.ndarray:
        self._cached(self._plane)
        dy = grad_of_y(dy, self._with_indices, "AdaptiveMaxPool1d", self._y_shape, self._dtype)
        # w.r.t. input
        return self._plane_backward(dy)


class MaxUnpool1d(Module):
    """The partial inverse of MaxPool1d(return_indices=True), as torch.nn.MaxUnpool1d.

    Shapes:   x, indices (N, C, L) or (C, L); indices int64 places in the output's length OL
              y (N, C, OL) or (C, OL):  OL = (L - 1)*s - 2*p + k, or output_size's last entry ((OL,)
              or (N, C, OL)), within s of that default, strictly, as torch
    Forward:  y = zeros;  y[n, c, indices[n, c, l]] = x[n, c, l]   (an index outside [0, OL): ValueError)
    Backward: dx[n, c, l] = dy[n, c, indices[n, c, l]]            (N, C, L)
              returns (dx, None): the indices are integers (no gradient).
    Computed by MaxUnpool2d on (N, C, 1, L) (its docstring has the repeated-index rule).
    Example:
        pool, unpool = MaxPool1d(2, return_indices=True), MaxUnpool1d(2)
        y, indices = pool(np.arange(6.0).reshape(1, 1, 6))
        z = unpool(y, indices)                        # [[[0, 1, 0, 3, 0, 5]]]
    """

    def __init__(self, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
                 padding: int | tuple[int] = 0) -> None:
        super().__init__()
        # torch's MaxUnpool1d keeps 1-tuples; stride None is the kernel size
        self.kernel_size = (_single(kernel_size, "kernel_size", "MaxUnpool1d", 1),)
        self.stride = self.kernel_size if stride is None else (_single(stride, "stride", "MaxUnpool1d", 1),)
        self.padding = (_single(padding, "padding", "MaxUnpool1d", 0),)
        self._plane: tuple[Module] | None = None

    def forward(self, x: np.ndarray, indices: np.ndarray,
                output_size: Sequence[int] | None = None) -> np.ndarray:
        x = _sequences(x, "MaxUnpool1d")
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"MaxUnpool1d: indices must be integers (MaxPool1d's int64), got {idx.dtype}")
        if idx.shape != x.shape:
            raise ValueError(f"MaxUnpool1d: indices must have the input's shape {x.shape}, got {idx.shape}")
        out = self._out_len(x.shape[-1], output_size)
        if idx.size and (idx.min() < 0 or idx.max() >= out):
            bad = idx[(idx < 0) | (idx >= out)][0]
            raise ValueError(f"MaxUnpool1d: index {bad} is outside the output length {out}")
        k, s, p = self._geometry()
        pool = MaxUnpool2d((1, k), (1, s), (0, p))
        y = pool(x[..., None, :], idx[..., None, :], (1, out))
        self._plane, self._dtype, self._y_shape = (pool,), x.dtype, x.shape[:-1] + (out,)
        return y[..., 0, :]

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, None]:
        (pool,) = self._cached(self._plane)
        dy = self._check_grad(dy, self._y_shape, self._dtype)
        # w.r.t. input
        dx, _ = pool.backward(dy[..., None, :])
        return dx[..., 0, :], None

    def _geometry(self) -> tuple[int, int, int]:
        """(k, s, p) as the attributes are now (read at every call, as torch's F.max_unpool1d)."""
        k = _single(self.kernel_size, "kernel_size", "MaxUnpool1d", 1)
        s = k if self.stride is None else _single(self.stride, "stride", "MaxUnpool1d", 1)
        return k, s, _single(self.padding, "padding", "MaxUnpool1d", 0)

    def _out_len(self, L: int, output_size: Sequence[int] | None) -> int:
        """OL: torch's default (L - 1)*s - 2*p + k, or output_size's last entry checked against it."""
        k, s, p = self._geometry()
        default = (L - 1) * s - 2 * p + k
        if output_size is None:
            if default < 1:
                raise ValueError(f"MaxUnpool1d: the output length would be {default} for input length {L} "
                                 "(empty): give output_size")
            return default
        size = [int(v) for v in output_size]
        if len(size) not in (1, 3):
            raise ValueError(f"MaxUnpool1d: output_size has 1 or 3 entries, got {tuple(output_size)}")
        if not default - s < size[-1] < default + s:
            raise ValueError(f"MaxUnpool1d: invalid output_size {tuple(output_size)} (its length must be "
                             f"between {default - s} and {default + s}, exclusive, as torch)")
        if size[-1] < 1:
            raise ValueError(f"MaxUnpool1d: output_size {tuple(output_size)} is empty (torch would drop the "
                             "values silently)")
        return size[-1]

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _padding_only(L: int, out: int, k: int, s: int, p: int, d: int) -> np.ndarray | None:
    """(OL,) True where every tap of window o (o*s - p + j*d) lies outside [0, L); None if none does."""
    taps = np.arange(out)[:, None] * s - p + np.arange(k) * d
    alone = ~((taps >= 0) & (taps < L)).any(axis=1)
    return alone if alone.any() else None
