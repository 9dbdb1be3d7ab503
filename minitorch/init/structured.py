"""Structured weights: the identity (eye_), the Dirac delta (dirac_), a random orthogonal matrix
(orthogonal_) and a sparse normal one (sparse_)."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_number, check_positive_int
from minitorch.init._arrays import T, _array, _generator
from minitorch.init.fans import _in_torchs_layout
from minitorch.init.fills import normal_


def eye_(tensor: T) -> T:
    """Fill a 2-D array with the identity: 1 at [i, i] for i < min(shape), 0 elsewhere (torch.eye).

    The transpose of an identity is the identity of the transposed shape, so a Linear's W (in, out)
    gets exactly the transpose of torch's ``eye_(weight)``: x @ W keeps the first min(in, out) features.
    """
    x = _array(tensor, "eye_")
    if x.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D array, got shape {x.shape}")
    x.fill(0)
    diagonal = np.arange(min(x.shape))
    x[diagonal, diagonal] = 1
    return tensor


def dirac_(tensor: T, groups: int = 1) -> T:
    """Fill a convolution weight (out, in, *kernel) of 3, 4 or 5 dimensions with the Dirac delta.

    Fill:     tensor[g * out_g + d, d, *centre] = 1  for g < groups, d < min(out_g, in), 0 elsewhere
              out_g = out // groups, centre = (k // 2 for each kernel size k)   (torch's)
    A convolution with it copies the first min(out_g, in) input channels of each group (the
    identity when out_g = in and the padding keeps the size).
    """
    x = _array(tensor, "dirac_")
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"dirac_: expected a weight of 3, 4 or 5 dimensions (out, in, *kernel), got shape {x.shape}"
        )
    groups = check_positive_int(groups, "dirac_", "groups")
    if x.shape[0] % groups:
        raise ValueError(
            f"dirac_: dim 0 (out channels) = {x.shape[0]} must be divisible by groups = {groups}"
        )
    out_g = x.shape[0] // groups
    x.fill(0)
    d = np.arange(min(out_g, x.shape[1]))
    centre = tuple(k // 2 for k in x.shape[2:])
    for g in range(groups):
        x[(g * out_g + d, d, *centre)] = 1
    return tensor


def orthogonal_(tensor: T, gain: float = 1, generator: np.random.Generator | None = None) -> T:
    """Fill with gain * Q, Q a (semi-)orthogonal matrix drawn uniformly (Haar), as torch.

    Shapes:   tensor (rows, *rest) holds Q (rows, cols), cols = prod(rest) (a conv weight flattened)
    Draw:     G ~ N(0, 1) (rows, cols), transposed when rows < cols; G = Q R (reduced QR);
              Q = Q * sign(diag(R)) (QR's own signs are not uniform); Q transposed back
    Result:   Q.T @ Q = gain**2 I (cols, cols)  if rows >= cols
              Q @ Q.T = gain**2 I (rows, rows)  if rows <= cols
    The QR is computed in float64 and rounded once to the array's dtype. The law of Q.T is the law of
    Q on the transposed shape, so a Linear's W (in, out) gets torch's law for its weight (out, in).
    """
    gain = check_number(gain, "orthogonal_", "gain")
    x = _array(tensor, "orthogonal_")
    if x.ndim < 2:
        raise ValueError(f"orthogonal_: expected an array of 2 or more dimensions, got shape {x.shape}")
    rng = _generator(generator, "orthogonal_")
    if x.size == 0:
        return tensor
    rows = x.shape[0]
    g = rng.standard_normal((rows, x.size // rows))
    wide = g.shape[0] < g.shape[1]
    q, r = np.linalg.qr(g.T if wide else g)
    q *= np.sign(np.diag(r))
    x[...] = (gain * (q.T if wide else q)).reshape(x.shape)
    return tensor


def sparse_(
    tensor: T, sparsity: float, std: float = 0.01, generator: np.random.Generator | None = None
) -> T:
    """Fill a 2-D weight with N(0, std**2), then zero ceil(sparsity * out) random entries of each
    input's weights (Martens 2010; torch zeros that many in each column of its (out, in) weight).

    Layout:   by the fan convention: each ROW of a Linear's W or of a 2-D array of your own (in, out)
              gets ceil(sparsity * shape[1]) zeros; each column of a weight in torch's layout (out, in)
              (``Linear.weight``, an LSTM's weight_ih_l0...) ceil(sparsity * shape[0]).
    The zeroed entries are a uniformly random subset of each row (column), all drawn from the generator.
    """
    x = _array(tensor, "sparse_")
    if x.ndim != 2:
        raise ValueError(f"sparse_: expected a 2-D array, got shape {x.shape}")
    sparsity = check_number(sparsity, "sparse_", "sparsity", 0, 1)
    rng = _generator(generator, "sparse_")
    normal_(x, 0.0, std, rng)
    w = x if _in_torchs_layout(tensor) else x.T  # (out, in), torch's layout
    rows, cols = w.shape
    zeros = math.ceil(sparsity * rows)
    if zeros:
        w[np.argsort(rng.random((rows, cols)), axis=0)[:zeros], np.arange(cols)] = 0
    return tensor
