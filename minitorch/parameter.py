"""Parameter: a trainable array and its gradient (re-exported by ``minitorch.module``)."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape, same dtype).

    ``zero_grad()`` costs nothing: it marks the gradient as zero, and the next ``accumulate_grad``
    writes its value instead of adding it (no zero-fill pass, no read of the old buffer). Reading
    ``grad`` in between gives zeros, as it should.
    """

    __slots__ = ("data", "_grad", "_grad_is_zero")

    def __init__(self, data: np.ndarray) -> None:
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected a floating array, got dtype {data.dtype}")
        self.data = data
        self._grad = np.zeros_like(data)
        self._grad_is_zero = True

    @property
    def grad(self) -> np.ndarray:
        """dL/d(data), accumulated since the last ``zero_grad()``."""
        if self._grad_is_zero:
            self._grad.fill(0)
            self._grad_is_zero = False
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter.grad: expected shape {self.data.shape}, got {value.shape}")
        np.copyto(self._grad, value)
        self._grad_is_zero = False

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
        """True while no gradient was written since ``zero_grad()`` (torch's ``grad is None``)."""
        return self._grad_is_zero

    def accumulate_grad(self, g: np.ndarray) -> None:
        """grad += g; right after ``zero_grad()`` this is a plain copy."""
        if self._grad_is_zero:
            np.copyto(self._grad, g)
            self._grad_is_zero = False
        else:
            self._grad += g

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """grad += a @ b, for gradients that are a matrix product (Linear's dW = x.T @ dy).

        Fast path: right after ``zero_grad()`` the product is written straight into the grad
        buffer (``np.matmul(..., out=)``). That saves a temporary of the parameter's size and the
        pass that copies it in (for a 784x512 weight, 1.6 MB written and read once less per step).
        """
        if self._grad_is_zero:
            np.matmul(a, b, out=self._grad)
            self._grad_is_zero = False
        else:
            self._grad += a @ b

    def zero_grad(self) -> None:
        self._grad_is_zero = True

    def to(self, dtype: type | np.dtype | str) -> Parameter:
        """Cast ``data`` (and ``grad``) to ``dtype`` in place of the old arrays."""
        dtype = np.dtype(dtype)
        if dtype != self.data.dtype:
            self.data = self.data.astype(dtype)
            self._grad = self._grad.astype(dtype)
        return self

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
