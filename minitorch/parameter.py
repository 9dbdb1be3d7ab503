"""Parameter: a trainable array and its gradient (re-exported by ``minitorch.module``)."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array ``data`` and its gradient ``grad``.

    ``grad`` is a plain attribute, as in PyTorch: ``None`` until a backward writes a gradient, and
    ``None`` again after ``zero_grad()`` (``zero_grad(set_to_none=False)`` fills zeros instead).
    Once written it is an array of ``data``'s shape and dtype. Reading it never has a side effect.
    Optimizers and clipping skip a Parameter whose ``grad is None`` (it received no gradient).

    Layers write gradients with ``accumulate_grad(g)``: the first gradient after ``zero_grad()``
    is stored (a copy), later ones are added, so gradients sum across backward calls.
    """

    __slots__ = ("data", "grad", "__weakref__")

    def __init__(self, data: np.ndarray) -> None:
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected a floating array, got dtype {data.dtype}")
        self.data = data
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def grad_is_zero(self) -> bool:
        """``grad is None`` (kept for layer and optimizer code written before ``grad`` could be None)."""
        return self.grad is None

    def accumulate_grad(self, g: np.ndarray) -> None:
        """grad = copy of g if grad is None, else grad += g (g must have data's shape)."""
        if np.shape(g) != self.data.shape:
            raise ValueError(
                f"Parameter.accumulate_grad: expected shape {self.data.shape}, got {np.shape(g)}"
            )
        if self.grad is None:
            self.grad = np.array(g, dtype=self.data.dtype)  # a copy: g may be an array someone else owns
        else:
            self.grad += g

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """grad += a @ b; the first product after ``zero_grad()`` becomes ``grad`` itself (no copy)."""
        if self.grad is None:
            g = np.matmul(a, b)
            dtype = self.data.dtype
            self.grad = g if g.dtype is dtype or g.dtype == dtype else g.astype(dtype)
        else:
            self.grad += a @ b

    def zero_grad(self, set_to_none: bool = True) -> None:
        """grad = None (PyTorch's default), or zeros of data's shape if ``set_to_none=False``."""
        if set_to_none:
            self.grad = None
        elif self.grad is None:
            self.grad = np.zeros_like(self.data)
        else:
            self.grad.fill(0)

    def to(self, dtype: type | np.dtype | str) -> Parameter:
        """Cast ``data`` (and ``grad``, if any) to ``dtype`` in place of the old arrays."""
        dtype = np.dtype(dtype)
        if dtype != self.data.dtype:
            self.data = self.data.astype(dtype)
            if self.grad is not None:
                self.grad = self.grad.astype(dtype)
        return self

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
