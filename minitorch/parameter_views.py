"""ParameterView: ``p[index]``, ``p.T``, ``p.mT``, ``p.reshape(shape)`` of a Parameter that requires grad.

torch's slices, transposes and reshapes of a leaf are differentiable: ``lin(p[:2])`` fills ``p.grad``
(zeros outside the slice). Here such a view is a ``Parameter`` subclass, so the leaf rule
(``minitorch.leaf_inputs``) takes it as any Parameter input: a module given it sees its ``data`` and
hands the gradient of that slot to its ``accumulate_grad``, which carries it back into ``p.grad``.
Anywhere else it acts as its data array (operators, ``float``, ``len``, printing, ``np.asarray``,
array methods): those give plain arrays, with no gradient, as ``p.data`` would; iterating gives the
rows as views (``v[i]``), as iterating p does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch import parameter
from minitorch.parameter import Parameter

# ndarray methods that would silently give a view without its gradient: refused on a view by name
_UNCARRIED = frozenset({"transpose", "swapaxes", "squeeze", "flatten", "ravel", "view", "permute",
                        "unsqueeze", "expand", "expand_as", "view_as", "flip", "narrow", "unflatten", "t"})


class ParameterView(Parameter):
    """A view of Parameter ``base`` taken while it requires grad and grad mode is on, as torch's.

    ``op`` is how ``data`` comes from ``base.data``, and says how a gradient g (``data``'s shape)
    goes back into ``base`` (``accumulate_grad``):

    - ("index", index): data = base.data[index] (a NumPy view for basic indexing, a copy for
      integer-array and boolean indexing, as torch); dbase = zeros; np.add.at(dbase, index, g)
      (repeated indices add up).
    - ("transpose", axes): data = base.data.transpose(axes) (``.T``: all axes reversed, ``.mT``:
      the last two swapped); dbase = g.transpose(argsort(axes)).
    - ("reshape", shape): data = base.data.reshape(shape); dbase = g.reshape(base.shape).
    - ("cast", dtype) (``v.to(dtype)``): data = base.data.astype(dtype); dbase = g cast to base's dtype.

    The index is kept as taken (its arrays and lists copied, as torch's index tensor): writing the
    array it came from afterwards changes neither data nor where the gradient goes. ``base_shape``
    is base's shape when the view was taken, the shape of dbase (as torch's view backward keeps
    it): a base whose ``data`` was replaced by another shape since refuses dbase by name.
    ``requires_grad`` is the base's; no backward fills ``grad`` (torch keeps no ``.grad`` on a view):
    it stays None, or what was assigned to it (``view.grad = g`` is checked against the view's shape
    and kept on the view, base.grad untouched, as torch's non-leaf); a view of a view passes dbase on
    to its own base. A view is not a Parameter of a model: registering
    one as a module attribute is refused.
    """

    __slots__ = ("base", "op", "base_shape")

    def __init__(self, base: Parameter, op: tuple[str, Any]) -> None:  # data and grad are base's
        kind, arg = op
        if kind == "index":
            arg = _kept_index(arg)
            op = (kind, arg)
        self.base, self.op, self.base_shape = base, op, base.data.shape
        if kind == "index":
            data = base.data[arg]
            if not isinstance(data, np.ndarray):  # every index an int: a 0-d view, as torch's p[i, j]
                data = base.data[(*(arg if isinstance(arg, tuple) else (arg,)), ...)]
        elif kind == "transpose":
            data = base.data.transpose(arg)
        elif kind == "cast":
            data = base.data.astype(arg)
        else:
            data = base.data.reshape(arg)
        self.data = data
        self._grad, self._product, self._folds = None, None, False

    @property  # type: ignore[override]
    def requires_grad(self) -> bool:
        return self.base.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        raise RuntimeError(
            "ParameterView.requires_grad: a view of a Parameter follows its base's requires_grad (as "
            "torch's non-leaf); set it on the Parameter itself, or use view.data for a plain array"
        )

    def accumulate_grad(self, g: np.ndarray) -> None:
        """base.accumulate_grad(dbase), dbase the gradient g carried back through ``op``."""
        if not self.requires_grad:
            return
        if np.shape(g) != self.data.shape:
            super().accumulate_grad(g)  # raises its error for a None or a wrongly shaped g
        self.check_bases()
        kind, arg = self.op
        if kind == "index":
            dbase = np.zeros(self.base_shape, self.base.data.dtype)
            np.add.at(dbase, arg, g)
        elif kind == "transpose":
            dbase = np.transpose(g, np.argsort(arg))
        elif kind == "cast":
            dbase = np.asarray(g).astype(self.base.data.dtype)
        else:
            dbase = np.reshape(g, self.base_shape)
        self.base.accumulate_grad(dbase)

    def check_bases(self) -> None:
        """ValueError, naming the fix, if a base along the chain of views has a ``data`` of another
        shape than when its view was taken (``p.data`` replaced since): dbase has no place in it."""
        view = self
        while isinstance(view, ParameterView):
            if view.base.data.shape != view.base_shape:
                raise ValueError(
                    f"ParameterView.accumulate_grad: the view was taken of a Parameter of shape "
                    f"{view.base_shape}, whose data has shape {view.base.data.shape} now (p.data "
                    "replaced since); its gradient has no place in p. Take the view again after "
                    "replacing p.data, then run forward and backward"
                )
            view = view.base

    def to(self, dtype: type | np.dtype | str) -> Parameter:
        """A view of this view cast to ``dtype`` (this view unchanged, as torch's ``v.to(dtype)``);
        the gradient goes back cast to the base's dtype. This view itself when the dtype is its own."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return ParameterView(self, ("cast", dtype))

    def __reduce_ex__(self, protocol: Any) -> tuple:  # copy, deepcopy, pickle: base and op, taken again
        return ParameterView, (self.base, self.op)

    def __getattr__(self, name: str) -> Any:  # only for names a Parameter does not define: data's
        if name.startswith("__") or name in ParameterView.__slots__:
            raise AttributeError(name)
        if name in _UNCARRIED:
            raise AttributeError(
                f"ParameterView.{name}: a view of a Parameter carries its gradient into the Parameter "
                f"only through indexing, .T, .mT and .reshape; use those (v.reshape(shape) for "
                f"squeeze/flatten/unsqueeze), or v.data.{name}(...) for a plain array without gradient"
            )
        return getattr(self.data, name)

    __hash__ = Parameter.__hash__  # identity, as a Parameter (== is elementwise, below)

    def __iter__(self) -> Any:  # the rows as views, as iterating a torch tensor (and a Parameter)
        return (self[i] for i in range(len(self)))

    def __str__(self) -> str:
        return str(self.data)

    def __repr__(self) -> str:
        return f"ParameterView({self.data!r}, of {self.base!r})"


def _kept_index(index: Any) -> Any:
    """``index`` with each list and array in it (at the top level or in a tuple) copied as an array."""
    if isinstance(index, tuple):
        return tuple(_kept_index(i) for i in index)
    if isinstance(index, (list, np.ndarray)):
        kept = np.array(index)
        return kept.astype(np.intp) if kept.size == 0 and isinstance(index, list) else kept  # p[[]]
    return index


def _array_operator(name: str) -> Any:
    def method(self: ParameterView, *args: Any) -> Any:
        return getattr(self.data, name)(*args)
    method.__name__ = name
    return method


# the operators of an array, answered by data (plain arrays, no gradient, as p.data's)
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "divmod",
              "and", "or", "xor", "lshift", "rshift"):
    for _form in ("__{}__", "__r{}__"):
        setattr(ParameterView, _form.format(_name), _array_operator(_form.format(_name)))
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "neg", "pos", "abs", "invert", "float", "int",
              "complex", "index", "bool", "len", "contains", "format", "round"):
    setattr(ParameterView, f"__{_name}__", _array_operator(f"__{_name}__"))
del _name, _form


parameter._view_class.append(ParameterView)  # what Parameter.__getitem__, T, mT and reshape make
