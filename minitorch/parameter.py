"""Parameter: a trainable array and its gradient (re-exported by ``minitorch.module``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.grad_mode import _state as _grad_state

# ParameterView, which subclasses Parameter: minitorch.parameter_views puts it here when imported
# (the package imports it), so this file does not import its own subclass
_view_class: list[type] = []


class Parameter:
    """A trainable array ``data`` and its gradient ``grad``.

    ``grad`` reads and assigns as a plain attribute, as in PyTorch: ``None`` until a backward writes
    a gradient, and ``None`` again after ``zero_grad()`` (``zero_grad(set_to_none=False)`` fills a
    written grad with zeros instead, and leaves a None grad None, as torch).
    Once written it is an array of ``data``'s shape and dtype. Assigning ``p.grad = g`` takes None or
    such an array and keeps g itself (``p.grad is g``, as torch); anything else (a list, another
    shape, another dtype, an ndarray subclass) is a TypeError or ValueError naming both, as torch
    refuses it (``checked_grad``). A large Linear's first weight gradient
    after ``zero_grad()`` may be kept by the chain kernels as the product it is, a @ b
    (``defer_matmul``): reading ``grad`` computes it then (the same ``np.matmul(a, b)``, the same
    numbers), and plain SGD's update kernel folds it into the weight's update as one BLAS product
    (``kernels/gemm_update.py``). Reading ``grad`` has no other effect.
    Assigning ``p.data`` an array of another dtype keeps a written grad's dtype, as torch does
    (later gradients are added into it, the optimizer steps the new data with it);
    ``p.to(dtype)`` (or ``model.to(dtype)``) casts both, ``zero_grad()`` starts afresh.
    Optimizers and clipping skip a Parameter whose ``grad is None`` (it received no gradient).

    Layers write gradients with ``accumulate_grad(g)``: the first gradient after ``zero_grad()``
    is stored (a copy), later ones are added, so gradients sum across backward calls.

    Freezing: ``p.requires_grad = False`` (or ``p.requires_grad_(False)``, or
    ``module.requires_grad_(False)``) makes ``accumulate_grad`` a no-op, lets a model's backward
    skip modules whose Parameters are all frozen; optimizers then leave p alone once its grad is
    None (as torch's, they step a grad p still holds, the zeros of ``zero_grad(set_to_none=False)`` too).

    Where a PyTorch user expects a tensor, a Parameter acts as its array: ``p.numel()``,
    ``p.item()`` (one element), ``p.ndim``, ``np.asarray(p)``, and ``p -= lr * p.grad`` (``+=``,
    ``*=``, ``/=`` too) updates ``p.data`` in place. ``p[index]``, ``p.T``, ``p.mT`` and
    ``p.reshape(shape)`` read ``data``'s; while p requires grad in grad mode they are
    ``ParameterView``s, which a module given one treats as p (its gradient goes into ``p.grad`` at
    the view's place, as torch's; ``minitorch.parameter_views``).
    """

    # _folds: set by plain SGD's update kernel (kernels/step_update.py) where it could fold this
    # gradient's product into the update, cleared when a deferred product is computed by a read; the
    # chain kernels defer a product only while it is set (a product another optimizer reads costs
    # more computed late than at the backward)
    __slots__ = ("data", "_grad", "_product", "_folds", "requires_grad", "__weakref__")

    def __init__(self, data: np.ndarray, requires_grad: bool = True) -> None:
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: expected a floating array, got dtype {data.dtype}")
        self.data = data
        self._grad: np.ndarray | None = None
        self._product: tuple[np.ndarray, np.ndarray] | None = None
        self._folds = False
        self.requires_grad = check_requires_grad(requires_grad, "Parameter(requires_grad=...)")

    @property
    def grad(self) -> np.ndarray | None:
        """The gradient (None: no backward wrote one since ``zero_grad()``); a deferred product
        (``defer_matmul``) is computed at this first read and kept as the gradient."""
        if self._product is not None:
            self._take_product()
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        # one type, shape and dtype look on the path every backward takes (checked_grad: the rest)
        if value is not None and not (type(value) is np.ndarray and value.shape == self.data.shape
                                      and value.dtype == self.data.dtype):
            value = checked_grad(self, value)
        self._product = None
        self._grad = value

    def _restore_grad(self, value: np.ndarray | None) -> None:
        """Put back a grad this Parameter held (a checkpoint's undo), unchecked: after ``p.data`` took
        another dtype the grad kept keeps its own, which ``grad = ...`` would refuse."""
        self._product = None
        self._grad = value

    @property
    def deferred_product(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(a, b) while the gradient is the product a @ b not yet computed (``defer_matmul``), else
        None. Reading this computes nothing."""
        return self._product

    def _take_product(self) -> None:
        a, b = self._product
        if np.geterr() == NUMPY_DEFAULT_ERR:
            g = np.matmul(a, b)
        else:  # under the error state the product was deferred in (NumPy's default), as if computed then
            with np.errstate(**NUMPY_DEFAULT_ERR):
                g = np.matmul(a, b)
        self._grad, self._product, self._folds = g, None, False

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
        """``data[index]``; while p requires grad and grad mode is on, as a ``ParameterView`` that
        carries a module's gradient for it into ``p.grad``, as torch's slices do."""
        if self.requires_grad and _grad_state.enabled:
            return _view_class[0](self, ("index", index))
        return self.data[index]

    @property
    def T(self) -> Any:
        """``data.T`` (all axes reversed, as torch's ``.T``), a ``ParameterView`` as ``p[index]``."""
        if self.requires_grad and _grad_state.enabled:
            return _view_class[0](self, ("transpose", tuple(range(self.data.ndim))[::-1]))
        return self.data.T

    @property
    def mT(self) -> Any:
        """``data.mT`` (the last two axes swapped), a ``ParameterView`` as ``p[index]``."""
        if self.data.ndim < 2:
            raise ValueError(f"Parameter.mT: expected at least 2 dimensions, got shape {self.data.shape}")
        if self.requires_grad and _grad_state.enabled:
            axes = (*range(self.data.ndim - 2), self.data.ndim - 1, self.data.ndim - 2)
            return _view_class[0](self, ("transpose", axes))
        return self.data.mT

    def reshape(self, *shape: Any) -> Any:
        """``data.reshape(shape)`` (``p.reshape(2, -1)`` or ``p.reshape((2, -1))``), a
        ``ParameterView`` as ``p[index]``."""
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
        if self.requires_grad and _grad_state.enabled:
            return _view_class[0](self, ("reshape", shape))
        return self.data.reshape(shape)

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
        return self._grad is None and self._product is None  # (nothing computed)

    def accumulate_grad(self, g: np.ndarray) -> None:
        """grad = copy of g if grad is None, else grad += g (g must have data's shape).

        A frozen Parameter (``requires_grad`` False) keeps its grad as it is.
        """
        if not self.requires_grad:
            return
        if np.shape(g) != self.data.shape:
            if g is None:  # a module's backward returns None in the slot of a Parameter input (a leaf)
                raise ValueError(
                    f"Parameter.accumulate_grad: expected a gradient of shape {self.data.shape}, got None. "
                    "A module's backward returns None for an input that was a Parameter: its gradient is "
                    "already in its grad (minitorch.leaf_inputs), so do not add it again"
                )
            raise ValueError(
                f"Parameter.accumulate_grad: expected shape {self.data.shape}, got {np.shape(g)}"
            )
        if self.grad is None:  # a copy (g may be an array someone else owns), laid out as data, a
            # plain ndarray where data is a subclass's view; grad only once the cast succeeded (it may raise)
            grad = np.empty_like(self.data, subok=False)
            grad[...] = g
            self.grad = grad
        else:  # (in place, not re-assigned: a grad kept through a p.data of another dtype stays)
            grad = self.grad
            grad += g

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """grad += a @ b; the first product after ``zero_grad()`` becomes ``grad`` itself (no copy),
        computed as (b.T @ a.T).T where data is column-major, so that grad is laid out as data."""
        if not self.requires_grad:
            return
        if self.grad is None:
            g = np.matmul(b.T, a.T).T if column_major(self.data) else np.matmul(a, b)
            dtype = self.data.dtype
            self.grad = g if g.dtype is dtype or g.dtype == dtype else g.astype(dtype)
        else:  # (in place, not re-assigned, as accumulate_grad)
            grad = self.grad
            grad += a @ b

    def defer_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """grad += a @ b, as ``accumulate_matmul``, except that a first product after ``zero_grad()``
        (a, b and data of one dtype, 2-D, data row-major, NumPy's default error state) is kept as
        the pair (a, b): ``grad`` computes ``np.matmul(a, b)`` when first read, and plain SGD's
        update kernel may instead fold it into ``data -= lr * a @ b`` (``deferred_product``).
        The caller promises that nobody writes a or b while the product waits (it passes arrays it
        made, or copies): the chain kernels' backward and ``kernels/step_large.py`` call it for a
        large weight, where it saves the gradient's (in, out) write and the update's pass over it."""
        if (self.requires_grad and self._grad is None and self._product is None and a.ndim == b.ndim == 2
                and a.dtype == b.dtype == self.data.dtype and self.data.flags.c_contiguous
                and np.geterr() == NUMPY_DEFAULT_ERR):
            self._product = (a, b)
        else:
            self.accumulate_matmul(a, b)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """grad = None (PyTorch's default), or, with ``set_to_none=False``, a written grad filled
        with zeros in place and a None grad left None, as torch's ``zero_grad`` (an optimizer
        skips a None grad, so a Parameter no backward reached gets no weight decay or momentum)."""
        if set_to_none:
            self.grad = None
        elif self.deferred_product is not None:  # a gradient is written: zeros, laid out as its product's
            a, b = self.deferred_product  # (unchecked: p.data may have taken another dtype or shape since)
            self._restore_grad(np.zeros((a.shape[0], b.shape[1]), a.dtype))
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


def checked_grad(p: Parameter, value: Any) -> np.ndarray:
    """``value`` as ``p``'s grad: an ``np.ndarray`` of ``p.data``'s shape and dtype, kept as it is (the
    same object, as torch keeps the tensor assigned to ``.grad``; non-contiguous or read-only too), or
    a TypeError / ValueError naming what was expected and what came, as torch 2.13 refuses a grad
    that is not a tensor, or of another size, dtype or device.

    Taken as torch takes their tensor: another Parameter (its ``data``, shared: torch keeps the
    Parameter itself, p itself is refused as torch refuses it) and a NumPy scalar for a 0-d
    Parameter (what ``p.grad / 2`` gives, where torch gives a 0-d tensor; as a 0-d array).
    Refused: an ndarray subclass (``np.matrix`` multiplies as matrices, a masked array hides
    entries; the updates compute with plain arrays), which ``np.asarray(value)`` makes plain.
    """
    want = f"None or an np.ndarray of the Parameter's shape {p.data.shape} and dtype {p.data.dtype}"
    if isinstance(value, Parameter):
        if value is p:
            raise ValueError("Parameter.grad: can't assign a Parameter as its own grad (as torch); assign "
                             "p.data.copy() for a gradient equal to the values")
        value = value.data
    elif isinstance(value, np.generic):
        value = np.array(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"Parameter.grad: expected {want}, got {type(value).__name__}; "
                        "assign np.asarray(value, dtype=p.dtype)")
    if type(value) is not np.ndarray:
        raise TypeError(
            f"Parameter.grad: expected {want}, got {type(value).__module__}.{type(value).__name__}, an "
            "ndarray subclass whose arithmetic the updates do not follow; assign np.asarray(value)"
        )
    if value.shape != p.data.shape:
        raise ValueError(f"Parameter.grad: expected {want}, got shape {value.shape} (as torch, a grad "
                         "is not broadcast)")
    if value.dtype != p.data.dtype:
        raise TypeError(f"Parameter.grad: expected {want}, got dtype {value.dtype}; assign "
                        "value.astype(p.dtype)")
    return value


def data_of(value: Any) -> Any:
    """``value``, a Parameter read as its ``data`` array (anything else as it is)."""
    return value.data if isinstance(value, Parameter) else value


def column_major(a: np.ndarray) -> bool:
    """Whether ``a`` is a 2-D array laid out column-major (Fortran order) and not row-major."""
    return a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous


# NumPy's error state at import (np.geterr()): the one a gradient product is deferred in
NUMPY_DEFAULT_ERR = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


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
    view's shape and dtype copies it into the base's array (a grad must be one, as a Parameter's:
    ``checked_grad``); ``data`` of another shape or dtype replaces it.
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
    def grad(self, value: np.ndarray | None) -> None:  # (checked as the view's: data.T's shape)
        self.base.grad = None if value is None else _written_through(self.base.grad,
                                                                      checked_grad(self, value).T)

    def _restore_grad(self, value: np.ndarray | None) -> None:
        grad = None if value is None else _written_through(self.base.grad, np.asarray(value).T)
        self.base._restore_grad(grad)

    @property
    def deferred_product(self) -> None:
        """None: a view's gradient is its base's, read (and computed) through ``grad``."""
        return None

    @property
    def grad_is_zero(self) -> bool:
        return self.base.grad_is_zero

    def defer_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """``accumulate_matmul``: a view keeps no product of its own."""
        self.accumulate_matmul(a, b)

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

