"""The affine layer y = x @ W + b."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.checks import check_bool, check_positive_int
from minitorch.dtypes import as_floating, factory_dtype, parameter_dtype
from minitorch.kernels import kernels_enabled
from minitorch.kernels import layers as fast
from minitorch.layers._redraw import redraw_uniform
from minitorch.module import Module, Parameter, owned
from minitorch.parameter import TransposedView


class Linear(Module):
    """Affine map: y = x @ W + b, with W stored (in, out) as in the original design.

    Shapes:   x (N, in)   W (in, out)   b (out,)   y (N, out)   (N may be any leading dims, as torch)
    Forward:  y  = x @ W + b
    Backward: dW = x.T @ dy         (in, out)  accumulated into W.grad  (alias grad_W)
              db = dy.sum(axis=0)   (out,)     accumulated into b.grad  (alias grad_b)
              dx = dy @ W.T         (N, in)    returned
              (leading dims of a (*, in) input are folded into N for dW and db)
              backward_params computes dW and db, backward_input dx; backward runs both.
    Init:     W, b ~ U(-k, k), k = 1/sqrt(in)   (torch.nn.Linear's default, seeded by manual_seed);
              ``reset_parameters()`` redraws them in place
              device=, dtype=: torch's factory keywords (CPU only; float32, float64): dtypes.factory_dtype
    PyTorch's names: ``weight`` is W.T (out, in), a view (writes go to W, its grad is W.grad.T);
              ``bias`` is b. Assigning ``layer.weight = Parameter(w)`` sets W to a copy of w.T;
              ``layer.weight = other_linear.weight`` ties them (W is the other's W), as torch;
              a Parameter registered in another module (an Embedding's table) is a ValueError;
              ``load_state_dict`` takes torch's ``"weight"``/``"bias"`` keys (see Module).
    Example:
        layer = Linear(4, 3)
        y = layer(np.ones((2, 4)))            # (2, 3), in the parameters' dtype
        dx = layer.backward(np.ones((2, 3)))  # (2, 4); layer.grad_W is (4, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = check_positive_int(in_features, "Linear", "in_features")
        self.out_features = check_positive_int(out_features, "Linear", "out_features")
        bias = check_bool(bias, "Linear", "bias")
        dtype = factory_dtype(self, device, dtype)
        self.W = Parameter(np.empty((self.in_features, self.out_features), dtype))
        self.b = Parameter(np.empty(self.out_features, dtype)) if bias else None
        self.reset_parameters()
        self._x: np.ndarray | None = None

    def reset_parameters(self) -> None:
        """Redraw W, then b, ~ U(-k, k), k = 1/sqrt(in), in place (as torch.nn.Linear's)."""
        redraw_uniform(self, ("W", "b"), 1.0 / np.sqrt(self.in_features))

    @property
    def weight(self) -> TransposedView:
        return TransposedView(self.W)

    @weight.setter
    def weight(self, value: Parameter) -> None:
        if not isinstance(value, Parameter) or value.data.shape != (self.out_features, self.in_features):
            raise TypeError(
                f"Linear: weight takes a Parameter of shape (out_features, in_features) = "
                f"({self.out_features}, {self.in_features}), got {type(value).__name__} "
                f"{getattr(value, 'shape', '')}; to write values, use layer.weight.data[...] = w"
            )
        if isinstance(value, TransposedView):  # another Linear's weight: torch's tie, one Parameter
            self.W = value.base
            return
        if owned(value):
            raise ValueError(
                f"Linear: weight = a Parameter of shape {value.data.shape} registered in another module "
                "(an Embedding's table, tied as torch ties GPT's head): Linear keeps its weight "
                "transposed as W (in, out), so one Parameter cannot be both and a copy would train "
                "apart. Drop the Linear and compute logits = h @ emb.weight.data.T in your module's "
                "forward, accumulating emb.weight.accumulate_grad(dlogits.T @ h) in its backward, as "
                "examples/gpt.py does"
            )
        self.W = Parameter(np.ascontiguousarray(value.data.T), requires_grad=value.requires_grad)

    @property
    def bias(self) -> Parameter | None:
        return self.b

    @bias.setter
    def bias(self, value: Parameter | None) -> None:
        self.b = value

    @property
    def grad_W(self) -> np.ndarray:
        return self.W.grad

    @property
    def grad_b(self) -> np.ndarray | None:
        return None if self.b is None else self.b.grad

    def forward(self, x: np.ndarray) -> np.ndarray:
        if kernels_enabled():  # fast room: the same y, no check of an input already right, no y + b temporary
            return fast.linear_forward(self, x)
        x = self._check_input(x)
        self._x = x
        y = x @ self.W.data
        if self.b is not None:
            y = y + self.b.data
        return y

    def backward_params(self, dy: np.ndarray) -> None:
        if kernels_enabled():  # fast room: the same gradients, no copy of dW
            return fast.linear_backward_params(self, dy)
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape[:-1] + (self.out_features,), self.W.data.dtype)
        # w.r.t. parameters (a (*, in) input: its leading dims are the batch)
        x, dy = x.reshape(-1, self.in_features), dy.reshape(-1, self.out_features)
        if self.W.requires_grad:  # frozen: no dW to compute
            self.W.accumulate_grad(x.T @ dy)
        if self.b is not None:
            self.b.accumulate_grad(dy.sum(axis=0))

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        x = self._cached(self._x)
        dy = self._check_grad(dy, x.shape[:-1] + (self.out_features,), self.W.data.dtype)
        # w.r.t. input
        return dy @ self.W.data.T

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        dtype = parameter_dtype(self)  # TypeError for a float64 b on a float32 W (as torch)
        x = as_floating(x, "Linear")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}): expected input (N, {self.in_features}), "
                f"got {x.shape}"
            )
        # compute in the parameters' dtype: a float64 batch must not turn a float32 model float64
        return x.astype(dtype, copy=False)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.b is not None}"
        )


class Identity(Module):
    """Pass-through placeholder, as torch.nn.Identity (e.g. to switch a layer off).

    Shapes:   x (*)   y (*)
    Forward:  y  = x
    Backward: dx = dy                (dy must have the output's shape)
    Example:
        skip = Identity()
        y = skip(x)                  # x itself
        dx = skip.backward(dy)       # dy itself
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = np.shape(x)  # backward checks dy against it (CONTRACT §3)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._cached(self._shape)
        if np.shape(dy) != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dy of the output's shape {shape}, "
                f"got {np.shape(dy)}"
            )
        return dy
