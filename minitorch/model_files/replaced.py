"""Parameters and buffers replaced since construction by arrays of another shape, in a file.

A module's node in the architecture holds, only if not empty::

    "replaced": {"W": {"shape": [3, 2], "dtype": "float64"}}

one item per ``state_dict`` entry of the module itself whose array differs from the one its
constructor made (``array_kind``: in shape, or in dtype other than between floating dtypes, which
the reader casts anyway): ``lin.W = mt.Parameter(np.zeros((3, 2)))``, a conv weight of another
kernel size, a loss ``weight`` set into the empty slot its constructor made. The constructor's
arrays are those ``Module`` records when the outermost ``__init__`` returns (``_init_arrays``); a
module without that record has every entry listed. A buffer registered ``persistent=False`` is not
in the file, so it is never listed: the constructor makes it again.

The reader builds the module through its constructor, then puts into each listed slot a zero array
of the file's shape and dtype (a Parameter in a Parameter's slot), charged to the rebuild's budget
before it is allocated; the file's values are loaded into it as into any other entry
(``load_state_dict`` checks every name, shape and dtype), so the model comes back as it was saved,
as ``torch.load`` gives back a pickled model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minitorch.constructor_args import array_kind
from minitorch.model_files.budget import Budget
from minitorch.model_files.format import ModelFileError, expect, expect_keys
from minitorch.module import Module
from minitorch.parameter import Parameter

# the dtypes a file's entries may have (format.py reads only these kinds), looked up by name:
# a forged name never reaches np.dtype()
_DTYPES = {np.dtype(code).name: np.dtype(code)
           for code in "?" + np.typecodes["AllInteger"] + np.typecodes["Float"]}
_MAX_NDIM = 64  # NumPy's limit on an array's dimensions


def describe_replaced(module: Module, made: dict[str, Any] | None) -> dict[str, Any]:
    """The ``replaced`` section for ``module`` ({"replaced": {...}}, or {} if nothing differs).
    ``made``: its ``_init_arrays`` record; None (unknown): every entry is listed."""
    replaced = {}
    for name, array in _entries(module).items():
        if array is not None and (made is None or made.get(name) != array_kind(array)):
            replaced[name] = {"shape": list(array.shape), "dtype": array.dtype.name}
    return {"replaced": replaced} if replaced else {}


def remake_replaced(module: Module, node: dict[str, Any], where: str, budget: Budget) -> None:
    """Put a zero array of the listed shape and dtype into each slot ``node["replaced"]`` names."""
    listed = expect(node.get("replaced", {}), dict, f"{where}.replaced")
    slots = _entries(module)
    for name, spec in listed.items():
        if name not in slots:
            raise ModelFileError(f"{where}.replaced: {type(module).__name__} has no Parameter or buffer "
                                 f"{name!r:.80} the file holds")
        spec = expect(spec, dict, f"{where}.replaced.{name}")
        expect_keys(spec, {"shape", "dtype"}, f"{where}.replaced.{name}")
        shape, dtype = spec["shape"], spec["dtype"]
        if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(
                type(n) is int and n >= 0 for n in shape)):
            raise ModelFileError(f"{where}.replaced.{name}: expected a shape (a list of at most "
                                 f"{_MAX_NDIM} sizes >= 0), got {shape!r:.80}")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(f"{where}.replaced.{name}: expected a numeric dtype "
                                 f"({', '.join(_DTYPES)}), got {dtype!r:.80}")
        if name in module._parameters and _DTYPES[dtype].kind != "f":
            raise ModelFileError(f"{where}.replaced.{name}: a Parameter is floating, got dtype {dtype}")
        array = budget.new_array(tuple(shape), _DTYPES[dtype], f"{where}.replaced.{name}")
        setattr(module, name, Parameter(array) if name in module._parameters else array)


def _entries(module: Module) -> dict[str, Any]:
    """Name -> array (None: an empty slot) of the Parameters and buffers the file may hold for
    ``module`` itself: every Parameter slot and every persistent buffer slot."""
    transient = module.__dict__.get("_non_persistent", ())
    return {**{name: None if p is None else p.data for name, p in module._parameters.items()},
            **{name: b for name, b in module._buffers.items() if name not in transient}}
