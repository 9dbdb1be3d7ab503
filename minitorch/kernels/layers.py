"""Layer kernels: the same results as the plain layer code, with fewer passes and allocations.

Each function takes the layer and the arguments of the method it replaces, sets the same caches,
and returns what that method returns. The layer calls it at one marked line when
``kernels_enabled()``; tests/test_kernels.py checks every kernel against the plain method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from minitorch.dtypes import as_floating
from minitorch.grad_mode import is_grad_enabled
from minitorch.kernels import gemm, parallel
from minitorch.kernels.pool import empty
from minitorch.kernels.relu import relu
from minitorch.random import generator


def linear_forward(layer: Any, x: np.ndarray) -> np.ndarray:
    """``Linear.forward``: y = x @ W + b, caching x.

    An ndarray already in W's dtype with ``in_features`` last, given to a layer whose b (if any)
    has W's dtype, is what ``_check_input`` would return unchanged, so the check's calls are
    skipped for it (anything else takes the check, which refuses a b of another dtype as the plain
    layer does: added in place, it would be cast to W's dtype here and promote y there).
    The bias is added into the fresh product in place: saves the (N, out) temporary of y + b.
    The product is ``gemm.matmul``: for an x of few rows against a large W, split along in_features so
    that each core reads the rows of W its own core last updated (equal to x @ W to float rounding).
    """
    W, b = layer.W.data, layer.b
    if not (type(x) is np.ndarray and x.dtype == W.dtype and x.ndim and x.shape[-1] == layer.in_features
            and (b is None or b.data.dtype == W.dtype)):
        x = layer._check_input(x)
    layer._x = x
    y = gemm.matmul(x, W)  # x @ W; for a short x, each core on its own rows of W (kernels/gemm.py)
    if b is not None:
        y += b.data
    return y


def relu_forward(layer: Any, x: np.ndarray) -> np.ndarray:
    """``ReLU.forward``: y = max(0, x), caching mask = (y != 0) only when a backward can use it.

    Under ``no_grad`` the frame's cache is dropped when forward returns, so the mask (two passes
    and an array) is not computed at all. Otherwise the comparison writes the mask straight into a
    pooled array of x's dtype (no bool temporary, one pass; its pages reused from step to step).
    """
    if type(x) is not np.ndarray or x.dtype.kind != "f":
        x = as_floating(x, "ReLU")
    y = relu(x)
    if is_grad_enabled():
        mask = empty(x.shape, x.dtype)
        np.not_equal(y, 0, out=mask)  # torch's not (y <= 0): a nan input passes its gradient
        layer._mask = mask
    return y


def dropout_forward(layer: Any, x: np.ndarray) -> np.ndarray:
    """``Dropout.forward``: keep = U(0, 1) >= p;  mask = keep / (1 - p) (cached);  y = x * mask.

    The uniforms (float64, as the plain draw: the generator fills a pooled array with ``out=``, the
    same numbers) and keep are pooled arrays of this call only, and the mask is divided straight
    from keep into a pooled array (no float copy of keep): three fresh arrays and a pass fewer, and
    the cached mask's pages are reused from step to step instead of faulted in again.
    """
    x = as_floating(x, "Dropout")
    layer._shape, layer._dtype = x.shape, x.dtype
    if not layer.training or layer.p == 0:
        layer._mask = None  # identity: backward passes dy through
        return x
    if layer.p == 1:  # as the plain form: zeros, nothing drawn (keep / (1 - p) would be 0 / 0 = nan)
        layer._mask = empty(x.shape, x.dtype)
        layer._mask.fill(0)
        return x * layer._mask
    uniform = empty(x.shape, np.float64)
    generator().random(out=uniform)
    keep = empty(x.shape, np.bool_)
    np.greater_equal(uniform, layer.p, out=keep)
    del uniform
    mask = empty(x.shape, x.dtype)
    np.divide(keep, x.dtype.type(1.0 - layer.p), out=mask)
    layer._mask = mask
    return x * mask


def linear_backward_params(layer: Any, dy: np.ndarray) -> None:
    """``Linear.backward_params``: dW = x.T @ dy, db = dy.sum(axis=0), accumulated.

    dW: ``Parameter.accumulate_matmul`` makes the first product after ``zero_grad()`` the gradient
    itself instead of copying it in: saves an (in, out) copy pass (1.6 MB for a 784x512 weight).
    db: the first sum after ``zero_grad()`` becomes ``grad`` itself (no copy), and a 2-D input
    skips the two reshapes (the small-step path: four calls fewer per layer).
    The order of the sums in db is NumPy's either way: the same numbers.
    """
    x = layer._cached(layer._x)
    dy = layer._check_grad(dy, x.shape[:-1] + (layer.out_features,), layer.W.data.dtype)
    if x.ndim != 2:
        x, dy = x.reshape(-1, layer.in_features), dy.reshape(-1, layer.out_features)
    layer.W.accumulate_matmul(x.T, dy)
    b = layer.b
    if b is not None:
        db = np.add.reduce(dy, axis=0)  # what dy.sum(axis=0) runs, without its Python wrapper
        if b.requires_grad and b.grad is None and db.dtype == b.data.dtype:
            b.grad = db  # a fresh array nobody else holds: adopted, as accumulate_matmul adopts dW
        else:
            b.accumulate_grad(db)


# ----------------------------------------------------------------------------------------- Conv2d
# Channels-last forms of ``Conv2d.forward`` / ``backward_params`` / ``backward_input``. The plain
# layer builds cols (C*kh*kw, N*OH*OW) from NCHW and transposes its output and dy between NCHW and
# (O, N*OH*OW); col2im then adds the (C*kh*kw, N*OH*OW) product dcols back, tap by tap, with short
# strided rows. Here the windows are rows: rows (N*OH*OW, kh*kw*C), row m = window m with its taps
# in (i, j, c) order, read from the input moved to NHWC (one small copy), so each tap is a
# contiguous run of C values. Then
#     Y   = rows @ Wk.T + bias          (M, O), Wk = weight in (O, kh, kw, C) order, (O, K)
#     dWk = dyh.T @ rows                (O, K), dyh = dy in NHWC as (M, O)
#     dxh[:, taps of (i, j), :] += dyh @ W[:, :, i, j].T     one (M, O) @ (O, C) product per tap
# The input gradient never forms dcols (K, M), the size of cols: each tap's (M, C) product stays
# in cache and is added as whole image rows (OW*C contiguous values). The same sums in another
# order: equal to the plain layer up to float rounding (tests/test_kernels.py, at float tolerance).


def _conv_geometry(layer: Any, xp_shape: tuple[int, ...]) -> tuple[int, int, int, int, int, int]:
    """(N, C, OH, OW, kh, kw) for a padded NCHW input shape."""
    (kh, kw), (sh, sw), (dh, dw) = layer.weight.shape[2:], layer.stride, layer.dilation
    N, C, Hp, Wp = xp_shape
    OH = (Hp - dh * (kh - 1) - 1) // sh + 1
    OW = (Wp - dw * (kw - 1) - 1) // sw + 1
    return N, C, OH, OW, kh, kw


def _conv_chunks(layer: Any, rows: np.ndarray, n: int) -> int:
    """How many chunks of samples each conv kernel cuts its batch into (``parallel.chunks``): its
    work is a product's multiply-adds plus its element-wise passes, about one over rows (im2col's
    copy, or the taps' additions) and two over the output's size (layout copies, bias)."""
    out_size = len(rows) * len(layer.weight.data)
    work = rows.size * len(layer.weight.data) + parallel.COPY_COST * (rows.size + 2 * out_size)
    return parallel.chunks(work, n)


def conv2d_forward(layer: Any, x: np.ndarray) -> np.ndarray:
    """``Conv2d.forward`` after its input check: y = weight (*) x + bias, channels last inside.

    Caches rows (N*OH*OW, kh*kw*C) and the padded NCHW shape for the two backward kernels.
    Saves: cols is built from contiguous runs of C values; the output leaves as one transpose.
    Large batches run as sample ranges on the kernels' pool (``parallel``): every row of every
    product is computed as in one whole-batch product, so the result does not depend on the split.
    """
    top, bottom, left, right = layer._pads
    N, C, H, W = x.shape
    xp_shape = (N, C, top + H + bottom, left + W + right)
    _, _, OH, OW, kh, kw = _conv_geometry(layer, xp_shape)
    out_c = len(layer.weight.data)
    rows = np.empty((N * OH * OW, kh * kw * C), dtype=x.dtype)
    y = np.empty((N, out_c, OH, OW), dtype=x.dtype)
    Wk = np.ascontiguousarray(layer.weight.data.transpose(2, 3, 1, 0).reshape(-1, out_c))
    parallel.split(_conv_forward_samples, N, _conv_chunks(layer, rows, N), layer, x, rows, Wk, y)
    layer._rows, layer._xp_shape = rows, xp_shape
    return y


def _conv_forward_samples(lo: int, hi: int, layer: Any, x: np.ndarray, rows: np.ndarray,
                          Wk: np.ndarray, y: np.ndarray) -> None:
    """conv2d_forward for samples lo:hi: their rows into ``rows``, their output into ``y``."""
    top, bottom, left, right = pads = layer._pads
    n, C, H, W = hi - lo, *x.shape[1:]
    if any(pads):
        xh = np.zeros((n, top + H + bottom, left + W + right, C), dtype=x.dtype)
        xh[:, top:top + H, left:left + W, :] = x[lo:hi].transpose(0, 2, 3, 1)
    else:
        xh = np.ascontiguousarray(x[lo:hi].transpose(0, 2, 3, 1))
    (kh, kw), (sh, sw), (dh, dw) = layer.weight.shape[2:], layer.stride, layer.dilation
    OH, OW = y.shape[2:]
    # windows[m, oh, ow, i, j, c] = xh[m, oh*sh + i*dh, ow*sw + j*dw, c]: a read-only strided view
    # (as sliding_window_view makes it, without its checks: OH, OW fit the padded image by construction)
    s0, s1, s2, s3 = xh.strides
    windows = as_strided(xh, (n, OH, OW, kh, kw, C), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                         writeable=False)
    mine = rows[lo * OH * OW:hi * OH * OW]
    mine.reshape(n, OH, OW, kh, kw, C)[...] = windows
    Y = mine @ Wk
    if layer.bias is not None:
        Y += layer.bias.data
    y[lo:hi] = Y.reshape(n, OH, OW, y.shape[1]).transpose(0, 3, 1, 2)


def _dy_rows(dy: np.ndarray) -> np.ndarray:
    """dy (n, O, OH, OW) as (n*OH*OW, O) channels-last rows (one copy)."""
    return np.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(-1, dy.shape[1])


def _check_dy(layer: Any, dy: np.ndarray) -> np.ndarray:
    """dy checked against the output's shape."""
    N, _, OH, OW, _, _ = _conv_geometry(layer, layer._xp_shape)
    return layer._check_grad(dy, (N, len(layer.weight.data), OH, OW), layer.weight.dtype)


def conv2d_backward_params(layer: Any, dy: np.ndarray) -> None:
    """``Conv2d.backward_params`` after ``conv2d_forward``: dW = dY @ cols.T, db = dY summed.

    Computed as dWk = dyh.T @ rows (O, kh*kw*C), put back in (O, C, kh, kw) order; on the pool,
    each sample range's product, added in range order (so the sum over samples is grouped by range).
    Saves: nothing on the product; dy moves to channels last in one copy, as the plain dY.
    """
    rows = layer._cached(layer._rows)
    dy = _check_dy(layer, dy)
    out_c, C, kh, kw = layer.weight.shape
    if layer.weight.requires_grad:  # frozen: no dW to compute
        dWk, *more = parallel.split(_conv_dW_samples, len(dy), _conv_chunks(layer, rows, len(dy)), dy, rows)
        for part in more:
            dWk += part
        dW = np.ascontiguousarray(dWk.reshape(out_c, kh, kw, C).transpose(0, 3, 1, 2))
        layer.weight.accumulate_grad(dW)
    if layer.bias is not None:
        # summed over NCHW's contiguous pixels (pairwise, as the plain dY.sum(axis=1)), not down
        # the rows of dyh, which NumPy would add one after another
        layer.bias.accumulate_grad(dy.sum(axis=(0, 2, 3)))


def _conv_dW_samples(lo: int, hi: int, dy: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """dWk's share of samples lo:hi: their dyh.T @ their rows."""
    per = dy.shape[2] * dy.shape[3]  # rows per sample
    return _dy_rows(dy[lo:hi]).T @ rows[lo * per:hi * per]


def conv2d_backward_input(layer: Any, dy: np.ndarray) -> np.ndarray:
    """``Conv2d.backward_input`` after ``conv2d_forward``: dx = col2im(weight.T @ dY), unpadded.

    One (M, O) @ (O, C) product per tap (i, j), added onto the pixels that tap read.
    Saves: the (K, M) dcols array (the size of cols) and col2im's short strided rows.
    On the pool, sample ranges: every pixel gets the same additions in the same order.
    """
    rows = layer._cached(layer._rows)
    dy = _check_dy(layer, dy)
    N, C, H, W = layer._xp_shape[0], layer.weight.shape[1], *layer._xp_shape[2:]
    top, bottom, left, right = layer._pads
    dx = np.empty((N, C, H - top - bottom, W - left - right), dtype=dy.dtype)
    taps = np.ascontiguousarray(layer.weight.data.transpose(2, 3, 0, 1))  # tap (i, j): an (O, C) matrix
    parallel.split(_conv_dx_samples, N, _conv_chunks(layer, rows, N), layer, dy, taps, dx)
    return dx


def _conv_dx_samples(lo: int, hi: int, layer: Any, dy: np.ndarray, taps: np.ndarray,
                     dx: np.ndarray) -> None:
    """conv2d_backward_input for samples lo:hi, written into dx[lo:hi]."""
    dyh = _dy_rows(dy[lo:hi])
    n, C, (OH, OW), (kh, kw) = hi - lo, dx.shape[1], dy.shape[2:], layer.weight.shape[2:]
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    Hp, Wp = layer._xp_shape[2:]
    dxh = np.zeros((n, Hp, Wp, C), dtype=dyh.dtype)
    part = np.empty((n * OH * OW, C), dtype=dyh.dtype)
    for i in range(kh):
        for j in range(kw):
            np.matmul(dyh, taps[i, j], out=part)
            dxh[:, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw, :] += (
                part.reshape(n, OH, OW, C))
    top, bottom, left, right = layer._pads
    dx[lo:hi] = dxh[:, top:Hp - bottom, left:Wp - right, :].transpose(0, 3, 1, 2)
