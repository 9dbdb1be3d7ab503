"""Batch normalisation: standardise each channel with the batch's statistics, then scale and shift."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from minitorch.checks import check_bool, check_number, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.functional import standardize, standardize_backward
from minitorch.layers._redraw import check_writable
from minitorch.module import Module, Parameter


class _BatchNorm(Module):
    """BatchNorm over every dim but the channel dim 1; BatchNorm1d and BatchNorm2d fix the input rank.

    Shapes:   x (N, C, *)   weight, bias, running_mean, running_var (C,)   y (N, C, *)
              statistics run over axes = (0, 2, 3, ...): m = x.size / C values per channel
              C is the input's x.shape[1], as torch's F.batch_norm reads it (``num_features`` is the
              constructor's: edited later it changes nothing); each of weight, bias and the running
              statistics that a forward reads must have C entries (ValueError, as torch); with none of
              them (affine=False, track_running_stats=False) any C is taken
    Forward:  training:  mean = x.mean(axes);  var = ((x - mean)**2).mean(axes)    (biased: / m)
                         x_hat = (x - mean) / sqrt(var + eps)
                         y = weight * x_hat + bias          (per channel; y = x_hat if affine=False)
                         running_mean = (1 - momentum) * running_mean + momentum * mean
                         running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)
                         (unbiased for the running variance, as PyTorch; momentum=None: cumulative
                         average, factor 1 / num_batches_tracked)
              (an empty batch: an empty y, of any C, the running statistics untouched, num_batches_tracked
              + 1 while training, dweight = dbias = 0, as torch; eps = 0 is a ValueError while training,
              as torch)
              track_running_stats=False (as torch): running_mean, running_var and num_batches_tracked
                         are None (not in state_dict) and every forward, eval too, normalises with the
                         batch's statistics (so eval needs more than 1 value per channel and eps > 0);
                         so does eval with both running statistics set to None by hand; one None beside
                         an array is a ValueError (torch raises too). Statistics assigned by hand to a
                         layer that does not track are used in eval, never updated (torch's rule).
              eval:      inv_std = 1 / sqrt(running_var + eps);  x_hat = (x - running_mean) * inv_std
                         scale = weight * inv_std;  shift = bias - running_mean * scale
                         y = x * scale + shift              (weight = 1, bias = 0 if affine=False)
                         torch's eval form: its y up to rounding (it fuses the multiply-adds), and its
                         nan/inf where running_var + eps = 0 (eps = 0; nan where shift is, inf - inf)
    Backward: dweight = sum(dy * x_hat, axes)               (C,)   accumulated into weight.grad
              dbias   = sum(dy, axes)                       (C,)   accumulated into bias.grad
              dx_hat  = dy * weight
              batch statistics:   dx = inv_std * (dx_hat - mean(dx_hat, axes)
                                                 - x_hat * mean(dx_hat * x_hat, axes))
              running statistics: dx = dx_hat * inv_std   (eval: constants)
              (eval with running_var + eps = 0: x_hat is +-inf, so dweight is nan once an x equals
              running_mean (0 * inf) or signs mix (inf - inf), where torch's sum(dy * (x - running_mean))
              * inv_std is +-inf; dx and dbias are torch's)
              backward_params computes dweight and dbias, backward_input dx; backward runs both.
    Init:     weight = 1, bias = 0, running_mean = 0, running_var = 1, num_batches_tracked = 0;
              ``reset_parameters()`` sets them so again, in place (``reset_running_stats()`` the last three)
              (None, None, None with track_running_stats=False)
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    dtype:    weight, bias, running_mean and running_var share one (else TypeError, as torch: a
              running statistic assigned in another dtype; load_state_dict casts into the buffers);
              with none of them (affine=False, track_running_stats=False) the input's
    """

    _layouts: ClassVar[dict[int, str]] = {}  # input ndim -> layout, for the error message

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
        track_running_stats: bool = True, *, device: Any = None, dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(num_features, name, "num_features")
        self.eps = check_number(eps, name, "eps", 0)
        # momentum=None: cumulative average of all batches, as PyTorch
        self.momentum = None if momentum is None else check_number(momentum, name, "momentum", 0, 1)
        self.affine = check_bool(affine, name, "affine")
        self.track_running_stats = check_bool(track_running_stats, name, "track_running_stats")
        dtype = factory_dtype(self, device, dtype)  # the running statistics' too, as torch
        self.weight = Parameter(np.empty(self.num_features, dtype)) if affine else None
        self.bias = Parameter(np.empty(self.num_features, dtype)) if affine else None
        track = self.track_running_stats  # else None slots, as torch: in no state_dict
        self.register_buffer("running_mean", np.empty(self.num_features, dtype) if track else None)
        self.register_buffer("running_var", np.empty(self.num_features, dtype) if track else None)
        self.register_buffer("num_batches_tracked", np.empty((), dtype=np.int64) if track else None)
        self.reset_parameters()
        self._x_hat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._batch_stats: bool | None = None  # whether forward normalised with the batch's own statistics

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0, in place (as torch's; nothing
        without track_running_stats)."""
        check_writable(self, "reset_running_stats", ("running_mean", "running_var", "num_batches_tracked"))
        if self.running_mean is not None:
            self.running_mean[...] = 0
        if self.running_var is not None:
            self.running_var[...] = 1
        if self.num_batches_tracked is not None:
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """``reset_running_stats()``, then weight = 1, bias = 0 in place (as torch's; nothing drawn)."""
        check_writable(self)
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        tracking = self.training and self.track_running_stats
        if tracking and self.num_batches_tracked is not None:  # an empty batch too, as torch
            self.num_batches_tracked += 1
        if x.size == 0:  # as torch: an empty output (of any channel count), the statistics untouched
            self._x_hat, self._inv_std, self._batch_stats = x, None, False
            return x.copy()
        axes, shape = _axes_and_shape(x.ndim, x.shape[1])
        if not self._uses_batch_stats():
            return self._eval_forward(x, shape)
        x_hat, inv_std, mean, var = standardize(x, axes, self.eps)
        if tracking and self.running_mean is not None:
            self._update_running_stats(mean.reshape(-1), var.reshape(-1), _per_channel(x.shape))
        self._x_hat, self._inv_std, self._batch_stats = x_hat, inv_std, True
        if self.weight is None:
            return x_hat.copy()  # the caller's own array: its writes cannot reach the backward
        return x_hat * self.weight.data.reshape(shape) + self.bias.data.reshape(shape)

    def _eval_forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """y = x * scale + shift with the running statistics (torch's eval form); caches x_hat, inv_std."""
        inv_std = 1.0 / np.sqrt(self.running_var.reshape(shape) + self.eps)
        mean = self.running_mean.reshape(shape)
        self._x_hat, self._inv_std, self._batch_stats = (x - mean) * inv_std, inv_std, False
        scale = inv_std if self.weight is None else self.weight.data.reshape(shape) * inv_std
        bias = 0.0 if self.bias is None else self.bias.data.reshape(shape)
        return x * scale + (bias - mean * scale)  # (0.0 - ...: torch's signed zeros, not -mean * scale)

    def backward_params(self, dy: np.ndarray) -> None:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        axes, _ = _axes_and_shape(x_hat.ndim, x_hat.shape[1])
        # w.r.t. parameters (an empty batch: zeros of their own shape, as torch)
        if self.weight is not None and x_hat.size == 0:
            self.weight.accumulate_grad(np.zeros_like(self.weight.data))
            self.bias.accumulate_grad(np.zeros_like(self.bias.data))
        elif self.weight is not None:
            self.weight.accumulate_grad(np.sum(dy * x_hat, axis=axes))
            self.bias.accumulate_grad(dy.sum(axis=axes))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x_hat = self._cached(self._x_hat)
        dy = self._check_grad(dy, x_hat.shape, x_hat.dtype)
        axes, shape = _axes_and_shape(x_hat.ndim, x_hat.shape[1])
        # w.r.t. input
        if x_hat.size == 0:
            return dy.copy()
        dx_hat = dy if self.weight is None else dy * self.weight.data.reshape(shape)
        if self._batch_stats:
            return standardize_backward(dx_hat, x_hat, self._inv_std, axes)
        return dx_hat * self._inv_std

    def _uses_batch_stats(self) -> bool:
        """torch's rule: batch statistics while training, and in eval when both running ones are None."""
        return self.training or (self.running_mean is None and self.running_var is None)

    def _update_running_stats(self, mean: np.ndarray, var: np.ndarray, m: int) -> None:
        """The moving averages (num_batches_tracked is counted by forward; momentum=None without a
        count, num_batches_tracked set to None: factor 0, the statistics kept, as torch)."""
        if self.momentum is not None:
            factor = self.momentum
        else:
            count = self.num_batches_tracked
            factor = 0.0 if count is None else 1.0 / int(count)
        # in place: the buffers stay the arrays state_dict() and load_state_dict() refer to
        np.copyto(self.running_mean, (1.0 - factor) * self.running_mean + factor * mean)
        np.copyto(self.running_var, (1.0 - factor) * self.running_var + factor * var * (m / (m - 1)))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_floating(x, type(self).__name__)
        self._check_channels(x.shape)
        self._check_running_stats()
        # the settings read at every call: numbers (a value of another kind is a TypeError naming it)
        check_number(self.eps, type(self).__name__, "eps")
        if self.momentum is not None:
            check_number(self.momentum, type(self).__name__, "momentum")
        batch = "when training" if self.training else "with no running statistics (track_running_stats=False)"
        if self._uses_batch_stats() and _per_channel(x.shape) == 1:  # (an empty batch passes, as torch)
            raise ValueError(
                f"{type(self).__name__}: expected more than 1 value per channel {batch} "
                f"(the batch variance needs two), got input of shape {x.shape}"
            )
        if self._uses_batch_stats() and self.eps <= 0:  # (an empty batch too, as torch)
            raise ValueError(
                f"{type(self).__name__}: eps must be positive {batch.replace('when', 'while')}, got "
                f"eps={self.eps} (PyTorch "
                "raises too: a constant channel's batch variance is 0, and 0 / sqrt(0 + eps) needs eps > 0); "
                "give eps > 0, e.g. the default 1e-5 (eps=0 works in eval() with running statistics)"
            )
        dtype = self._check_dtypes()
        # compute in the layer's dtype: a float64 batch must not turn a float32 model float64
        return x if dtype is None else x.astype(dtype, copy=False)

    def _check_running_stats(self) -> None:
        """ValueError when the forward would read one running statistic that is None beside one that
        is not (torch raises too: ValueError while training, RuntimeError in eval)."""
        if self.training and not self.track_running_stats:
            return  # not read (torch passes None for both)
        nones = [name for name in ("running_mean", "running_var") if getattr(self, name) is None]
        if len(nones) == 1:
            other = ({"running_mean", "running_var"} - set(nones)).pop()
            raise ValueError(
                f"{type(self).__name__}: {nones[0]} is None but {other} is not (PyTorch raises too); "
                f"set both to None (batch statistics, in eval too) or give {nones[0]} an array of "
                f"shape {getattr(self, other).shape}"
            )

    def _per_channel_arrays(self) -> dict[str, np.ndarray]:
        """The (C,) arrays this forward reads: weight and bias (affine), and the running statistics
        unless it is training without tracking them (torch passes None for both then)."""
        names = ["weight", "bias"]
        if not (self.training and not self.track_running_stats):
            names += ["running_mean", "running_var"]
        arrays = {name: getattr(self, name) for name in names}
        return {name: a.data if isinstance(a, Parameter) else a
                for name, a in arrays.items() if a is not None}

    def _check_channels(self, shape: tuple[int, ...]) -> None:
        """ValueError unless the input has a layout of this class and each (C,) array it reads has one
        entry per input channel. The channel count is the input's, as torch's F.batch_norm reads it:
        ``num_features`` edited after construction changes nothing, and with neither weights nor
        running statistics any C is taken."""
        arrays = self._per_channel_arrays()
        sizes = {a.size for a in arrays.values()}
        who = type(self).__name__
        if len(shape) in self._layouts and (math.prod(shape) == 0  # torch's empty batch: no sizes read
                                            or all(a.size == shape[1] for a in arrays.values())):
            return
        if len(sizes) > 1:  # the arrays disagree among themselves: name each
            listed = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
            raise ValueError(
                f"{who}: expected one entry per input channel in each of {listed}, got input {shape} "
                f"(PyTorch raises too); give each array shape ({shape[1] if len(shape) > 1 else 'C'},)"
            )
        channels = str(sizes.pop()) if sizes else "C"
        layouts = " or ".join(self._layouts.values()).replace("C", channels)
        named = (f"(num_features={self.num_features})" if channels == str(self.num_features)
                 else f" (weights and running statistics of {channels} channels)")
        raise ValueError(f"{who}{named}: expected input {layouts}, got {shape}")

    def _check_dtypes(self) -> Any:
        """The one dtype of weight, bias and the running statistics that are not None (None if all
        are), else a TypeError (torch raises "mixed dtype"; float64 weights on float32 statistics
        made a float64 output of float32 math, and so did one float64 statistic without weights)."""
        dtype = parameter_dtype(self)  # TypeError if weight's and bias's dtypes differ (as torch)
        stats = {name: getattr(self, name).dtype for name in ("running_mean", "running_var")
                 if getattr(self, name) is not None}
        found = set(stats.values()) | ({dtype} if dtype is not None else set())
        if len(found) <= 1:
            return found.pop() if found else None
        who = type(self).__name__
        named = [(name, p.dtype) for name, p in self._parameters.items() if p is not None]
        listed = ", ".join(f"{name} {d}" for name, d in named + list(stats.items()))
        raise TypeError(
            f"{who}: expected one dtype for its parameters and running statistics, got {listed} "
            f"(PyTorch raises too); give them one dtype: call .to(np.float32) or .to(np.float64) on the "
            f"{who} (or on the model)"
        )

    def extra_repr(self) -> str:
        settings = f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        return settings if self.track_running_stats else settings + ", track_running_stats=False"


def _per_channel(shape: tuple[int, ...]) -> int:
    """The values per channel of an input (N, C, *): N * prod(*), as torch counts them (C may be 0)."""
    return shape[0] * math.prod(shape[2:])


def _axes_and_shape(ndim: int, channels: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes statistics run over (all but dim 1) and the broadcast shape (1, C, 1, ...) of a (C,) array."""
    return (0, *range(2, ndim)), (1, channels) + (1,) * (ndim - 2)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, as torch.nn.BatchNorm1d.

    The math (statistics over N, and L if present) is in ``_BatchNorm``'s docstring.
    Example:
        bn = BatchNorm1d(4)
        y = bn(np.random.randn(8, 4))          # each column: mean 0, variance ~1
        dx = bn.backward(np.ones((8, 4)))      # bn.eval() then uses running_mean / running_var
    """

    _layouts: ClassVar[dict[int, str]] = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images per channel, as torch.nn.BatchNorm2d.

    The math (statistics over N, H and W) is in ``_BatchNorm``'s docstring.
    Example:
        bn = BatchNorm2d(3)
        y = bn(np.random.randn(8, 3, 5, 5))    # each channel: mean 0, variance ~1
        dx = bn.backward(np.ones((8, 3, 5, 5)))
    """

    _layouts: ClassVar[dict[int, str]] = {4: "(N, C, H, W)"}
