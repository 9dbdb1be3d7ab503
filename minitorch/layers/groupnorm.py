"""Group normalisation: standardise each sample over groups of channels, then scale and shift per channel."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.functional import standardize, standardize_backward
from minitorch.layers._redraw import check_writable
from minitorch.module import Module, Parameter


class GroupNorm(Module):
    """Normalise each sample over G groups of C/G channels, as torch.nn.GroupNorm.

    Shapes:   x (N, C, *)   weight, bias (C,)   y (N, C, *)
              xg = x.reshape(N, G, -1): group g holds channels g*C/G .. (g+1)*C/G - 1 and all their
              positions, m = (C/G) * prod(*) values per (sample, group)
    Forward:  mean  = xg.mean(2);  var = ((xg - mean)**2).mean(2)       (biased: / m)
              x_hat = ((xg - mean) / sqrt(var + eps)).reshape(x.shape)
              y     = weight[c] * x_hat + bias[c]      (per channel; y = x_hat if affine=False)
    Backward: dweight = sum(dy * x_hat, every axis but 1)    (C,)   accumulated into weight.grad
              dbias   = sum(dy, every axis but 1)            (C,)   accumulated into bias.grad
              dx_hat  = dy * weight[c]
              dxg = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))   means over axis 2
              dx  = dxg.reshape(x.shape)                     (N, C, *)
    Init:     weight = 1, bias = 0   (no running statistics: training and eval compute the same);
              ``reset_parameters()`` sets them so again, in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    G = 1 is LayerNorm over (C, *) with per-channel affine; G = C is InstanceNorm with affine.
    N * m == 1 (one sample, one value per group) is a ValueError in either mode, as torch's.
    An empty batch or spatial axis gives an empty y and dx, and dbias = 0, as torch; dweight is 0 for an
    empty batch, nan for an empty spatial axis in a batch of one or more (torch's mean and 1 / std of no
    values are nan, and reach its dweight).
    Example:
        gn = GroupNorm(2, 4)
        y = gn(np.random.randn(3, 4, 5, 5))    # channels 0-1 and 2-3 standardised per sample
        dx = gn.backward(np.ones_like(y))
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_groups = check_positive_int(num_groups, "GroupNorm", "num_groups")
        self.num_channels = check_positive_int(num_channels, "GroupNorm", "num_channels")
        if self.num_channels % self.num_groups:
            raise ValueError(
                f"GroupNorm: num_channels must be divisible by num_groups, got num_channels={num_channels}, "
                f"num_groups={num_groups}"
            )
        self.eps = check_number(eps, "GroupNorm", "eps", 0)
        self.affine = bool(affine)
        dtype = factory_dtype(self, device, dtype)
        self.weight = Parameter(np.empty(self.num_channels, dtype)) if affine else None
        self.bias = Parameter(np.empty(self.num_channels, dtype)) if affine else None
        self.reset_parameters()
        self._x_hat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._groups: int | None = None  # the num_groups the forward call read

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0, in place (as torch.nn.GroupNorm's; nothing drawn)."""
        check_writable(self)
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._groups = self.num_groups
        eps = check_number(self.eps, "GroupNorm", "eps")  # read at every call: a number (TypeError if not)
        grouped = self._grouped(x.shape)
        if grouped[2] == 0:  # an empty spatial axis: an empty output (torch's); the statistics of no
            # values are nan, as torch's, which its dweight reads (backward_params)
            x_hat, inv_std = x.copy(), np.full(grouped[:2] + (1,), np.nan, x.dtype)
        else:
            xg_hat, inv_std, _, _ = standardize(x.reshape(grouped), (2,), eps)
            x_hat = xg_hat.reshape(x.shape)
        self._x_hat, self._inv_std = x_hat, inv_std
        if self.weight is None:
            return x_hat.copy()  # the caller's own array: its writes cannot reach the backward
        return x_hat * self._per_channel(self.weight.data, x.ndim) + self._per_channel(self.bias.data, x.ndim)

    def backward_params(self, dy: np.ndarray) -> None:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        if self.weight is None:
            return
        # w.r.t. parameters
        axes = tuple(i for i in range(x_hat.ndim) if i != 1)
        dweight = np.sum(dy * x_hat, axis=axes)
        if x_hat.size == 0 and x_hat.shape[0] > 0:  # an empty spatial axis (C >= 1), a batch of one or more
            dweight[...] = np.nan  # torch's: its nan statistics of no values times their sum 0 (0 * nan)
        self.weight.accumulate_grad(dweight)
        self.bias.accumulate_grad(dy.sum(axis=axes))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        # w.r.t. input
        dx_hat = dy if self.weight is None else dy * self._per_channel(self.weight.data, dy.ndim)
        if x_hat.size == 0:  # an empty batch or spatial axis: an empty dx (no means over no values)
            return np.zeros_like(x_hat)
        grouped = self._grouped(dy.shape)
        dxg = standardize_backward(dx_hat.reshape(grouped), x_hat.reshape(grouped), self._inv_std, (2,))
        return dxg.reshape(x_hat.shape)

    def _grouped(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(N, G, C / G * prod(spatial)): the group view, sizes by name (-1 cannot size an empty batch)."""
        return shape[0], self._groups, int(np.prod(shape[1:])) // self._groups

    @staticmethod
    def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
        return v.reshape((-1,) + (1,) * (ndim - 2))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, "GroupNorm")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm(num_channels={self.num_channels}): expected input (N, {self.num_channels}, *), "
                f"got {x.shape}"
            )
        # num_groups is read at every forward, as torch's (an edit counts), with torch's check
        groups = check_positive_int(self.num_groups, "GroupNorm", "num_groups")
        if x.shape[1] % groups:
            raise ValueError(
                f"GroupNorm: expected the number of channels in the input to be divisible by num_groups, "
                f"got input {x.shape} and num_groups={groups}"
            )
        if x.shape[0] * (self.num_channels // self.num_groups) * int(np.prod(x.shape[2:])) == 1:
            raise ValueError(  # torch's rule, in training and eval: N * C / G * prod(spatial) values
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected more than one value per group "
                f"in the batch (PyTorch raises too: one sample with one value in each group has nothing "
                f"to standardise), got input {x.shape}; give a batch of two or more, or fewer groups"
            )
        dtype = parameter_dtype(self)  # (TypeError if weight's and bias's differ, as torch)
        return x if dtype is None else x.astype(dtype, copy=False)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
