"""Parameter: a trainable array and its gradient (re-exported by ``minitorch.module``)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Parameter:
    """A trainable array ``data`` and its gradient ``grad``.

    ``grad`` is a plain attribute, as in PyTorch: ``None`` until a backward writes a gradient, and
    ``None`` again after ``zero_grad()`` (``zero_grad(set_to_none=False)`` fills a written grad with
    zeros instead, and leaves a None grad None, as torch).
    Once written it is an array of ``data``'s shape and dtype. Reading it never has a side effect.
    Assigning ``p.data`` an array of another dtype keeps a written grad's dtype, as torch does
    (later gradients are added into it, the optimizer steps the new data with it);
    ``p.to(dtype)`` (or ``model.to(dtype)``) casts both, ``zero_grad()`` starts afresh.
    Optimizers and clipping skip a Parameter whose ``grad is None`` (it received no gradient).

    Layers write gradients with ``accumulate_grad(g)``: the first gradient after ``zero_grad()``
    is stored (a copy), later ones are added, so gradients sum across backward calls.

    Freezing: ``p.requires_grad = False`` (or ``p.requires_grad_(False)``, or
    ``module.requires_grad_(False)``) makes ``accumulate_grad`` a no-op, lets a model's backward
    skip modules whose Parameters are all frozen, and makes optimizers leave p alone.

    Where a PyTorch user expects a tensor, a Parameter acts as its array: ``p.numel()``,
    ``p.item()`` (one element), ``p[i]`` (reads ``data[i]``), ``p.ndim``, ``np.asarray(p)``, and
    ``p -= lr * p.grad`` (``+=``, ``*=``, ``/=`` too) updates ``p.data`` in place.
    """

    __slots__ = ("data", "grad", "requires_grad", "__weakref__")

    def __init__(self, data: np.ndarray, requires_grad: bool = True) -> None:
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected a floating array, got dtype {data.dtype}")
        self.data = data
        self.grad: np.ndarray | None = None
        self.requires_grad = check_requires_grad(requires_grad, "Parameter(requires_grad=...)")

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
    def ndim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        """The number of elements (``data.size``), as ``torch.Tensor.numel``."""
        return self.data.size

    def item(self) -> float:
        """The one element as a Python float, as ``torch.Tensor.item``."""
        if self.data.size != 1:
            raise ValueError(
                f"Parameter.item: expected a Parameter with one element, got shape {self.data.shape} "
                f"({self.data.size} elements); index it first (p[i].item() is p.data[i].item())"
            )
        return self.data.item()

    def requires_grad_(self, requires_grad: bool = True) -> Parameter:
        """Set ``requires_grad`` (False freezes p) and return p, as ``torch.Tensor.requires_grad_``."""
        self.requires_grad = check_requires_grad(requires_grad, "Parameter.requires_grad_")
        return self

    def __getitem__(self, index: Any) -> Any:
        return self.data[index]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    # p -= lr * p.grad: the update of a hand-written training loop, in place in p.data
    def __isub__(self, other: Any) -> Parameter:
        self.data -= other
        return self

    def __iadd__(self, other: Any) -> Parameter:
        self.data += other
        return self

    def __imul__(self, other: Any) -> Parameter:
        self.data *= other
        return self

    def __itruediv__(self, other: Any) -> Parameter:
        self.data /= other
        return self

    @property
    def grad_is_zero(self) -> bool:
        """``grad is None`` (kept for layer and optimizer code written before ``grad`` could be None)."""
        return self.grad is None

    def accumulate_grad(self, g: np.ndarray) -> None:
        """grad = copy of g if grad is None, else grad += g (g must have data's shape).

        A frozen Parameter (``requires_grad`` False) keeps its grad as it is.
        """
        if not self.requires_grad:
            return
        if np.shape(g) != self.data.shape:
            raise ValueError(
                f"Parameter.accumulate_grad: expected shape {self.data.shape}, got {np.shape(g)}"
            )
        if self.grad is None:  # a copy (g may be an array someone else owns), laid out as data;
            grad = np.empty_like(self.data)  # grad only once the cast has succeeded (it may raise)
            grad[...] = g
            self.grad = grad
        else:
            self.grad += g

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """grad += a @ b; the first product after ``zero_grad()`` becomes ``grad`` itself (no copy),
        computed as (b.T @ a.T).T where data is column-major, so that grad is laid out as data."""
        if not self.requires_grad:
            return
        if self.grad is None:
            g = np.matmul(b.T, a.T).T if column_major(self.data) else np.matmul(a, b)
            dtype = self.data.dtype
            self.grad = g if g.dtype is dtype or g.dtype == dtype else g.astype(dtype)
        else:
            self.grad += a @ b

    def zero_grad(self, set_to_none: bool = True) -> None:
        """grad = None (PyTorch's default), or, with ``set_to_none=False``, a written grad filled
        with zeros in place and a None grad left None, as torch's ``zero_grad`` (an optimizer
        skips a None grad, so a Parameter no backward reached gets no weight decay or momentum)."""
        if set_to_none:
            self.grad = None
        elif self.grad is not None:
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
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{frozen})"


def column_major(a: np.ndarray) -> bool:
    """Whether ``a`` is a 2-D array laid out column-major (Fortran order) and not row-major."""
    return a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous


def laid_out_as(g: np.ndarray, data: np.ndarray) -> np.ndarray:
    """g, or its column-major copy where ``data`` is column-major and g is not (a fresh gradient
    laid out as its Parameter, torch's gradient layout contract)."""
    return np.asfortranarray(g) if column_major(data) and not g.flags.f_contiguous else g


def check_requires_grad(value: object, who: str) -> bool:
    """``value`` if it is a bool (a NumPy bool too), else TypeError: bool("False") would be True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: expected a bool, got {type(value).__name__} {value!r}")
    return bool(value)


class TransposedView(Parameter):
    """A Parameter stored transposed, seen in PyTorch's layout: ``Linear.weight`` is ``W.T``.

    ``data`` is ``base.data.T`` and ``grad`` is ``base.grad.T`` (or None), views: a write into
    either (``view.data[...] = w``, ``view -= lr * view.grad``, ``mt.init.*_(view)``) goes to the
    base Parameter; ``requires_grad`` is the base's. Assigning ``data`` or ``grad`` an array of the
    view's shape and dtype copies it into the base's array; another shape or dtype replaces it.
    The view is not registered anywhere: ``parameters()`` and ``state_dict()`` hold the base.
    """

    __slots__ = ("base",)

    def __init__(self, base: Parameter) -> None:  # no super().__init__: data and grad live in base
        self.base = base

    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        return self.base.data.T

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self.base.data = _written_through(self.base.data, np.asarray(value).T)

    @property  # type: ignore[override]
    def grad(self) -> np.ndarray | None:
        return None if self.base.grad is None else self.base.grad.T

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self.base.grad = None if value is None else _written_through(self.base.grad, np.asarray(value).T)

    @property  # type: ignore[override]
    def requires_grad(self) -> bool:
        return self.base.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.base.requires_grad = bool(value)

    def to(self, dtype: type | np.dtype | str) -> Parameter:
        self.base.to(dtype)
        return self

    def __repr__(self) -> str:
        return f"TransposedView(shape={self.data.shape}, dtype={self.data.dtype}) of {self.base!r}"


def _written_through(old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """``old`` with ``new`` copied in if they match in shape and dtype (same array object), else ``new``."""
    if old is not None and old.shape == new.shape and old.dtype == new.dtype:
        np.copyto(old, new)
        return old
    return np.array(new, copy=True)
