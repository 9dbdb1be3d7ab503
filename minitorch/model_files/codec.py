"""Python values <-> the JSON of a file's header, losslessly and without pickle.

JSON has no tuples, no int dict keys, no NaN and no arrays, so those become one-key objects::

    (3, 3)            {"__tuple__": [3, 3]}
    {0: {...}}        {"__dict__": [[0, {...}]]}          every dict, whatever its keys
    float("inf")      {"__float__": "inf"}
    np.ndarray        {"__array__": "optimizer/0"}         the array is its own archive entry
    np.float32(0.5)   {"__scalar__": "optimizer/1"}        a 0-d entry, read back as np.float32
    np.float64        {"__dtype__": "float64"}             a dtype (see below)
    Linear(4, 3)      {"__module__": {"class": "Linear", "args": {...}}}

Any other JSON object is rejected when read, so a header cannot smuggle in unexpected structure.

A dtype given as a type object (``dtype=np.float64`` among a Module's constructor arguments) is
stored by its name: NumPy's scalar types (``np.float32``), NumPy dtypes (``np.dtype("float32")``) and
torch's dtypes (``torch.float64``, read by name: torch is never imported), for the numeric dtypes in
``DTYPE_NAMES`` only. It is read back as NumPy's scalar type (``np.float64``, which equals
``np.dtype("float64")`` and is what ``torch.float64`` names); a name outside ``DTYPE_NAMES`` is a
ModelFileError, so a file never makes NumPy resolve an arbitrary type name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minitorch.model_files.format import MAX_DEPTH, MAX_INT_DIGITS, ModelFileError, expect
from minitorch.module import Module

TUPLE, DICT, FLOAT, ARRAY, SCALAR, MODULE, DTYPE = (
    "__tuple__", "__dict__", "__float__", "__array__", "__scalar__", "__module__", "__dtype__",
)
DTYPE_NAMES = {name: np.dtype(name).type for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_INT_BOUND = 10**MAX_INT_DIGITS  # |n| < this has at most MAX_INT_DIGITS digits: read_header reads it


class Encoder:
    """Turn values into JSON; arrays (if ``arrays`` is given) go into ``arrays`` as ``prefix<n>``.

    Without ``arrays``, numpy scalars become Python numbers and arrays are refused; without
    ``module``, Modules are refused; a value nested deeper than the Decoder reads (``check_depth``),
    or an integer longer than ``read_header`` reads (``MAX_INT_DIGITS``), is refused. Refusals are
    TypeErrors naming ``where``, raised before anything is written.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray] | None = None,
        prefix: str = "",
        module: Callable[[Module, str], Any] | None = None,
    ) -> None:
        self.arrays, self.prefix, self.module = arrays, prefix, module
        self._count = sum(key.startswith(prefix) for key in arrays) if arrays is not None else 0

    def __call__(self, value: Any, where: str, depth: int = 0) -> Any:
        check_depth(depth, where, TypeError)
        if isinstance(value, (np.ndarray, np.number, np.bool_)) and self.arrays is not None:
            return self._array(value, where)  # first: np.float64 is also a Python float
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            if not -_INT_BOUND < value < _INT_BOUND:
                raise TypeError(f"{where}: an integer of more than {MAX_INT_DIGITS} digits; a model file "
                                "holds no longer one (store it as a string, or as a float)")
            return int(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else {FLOAT: str(float(value))}
        if isinstance(value, (np.bool_, np.integer, np.floating)):
            return self(value.item(), where, depth)
        if isinstance(value, list):
            return [self(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
        if isinstance(value, tuple):  # its items one level below a list one level below: as read
            return {TUPLE: self(list(value), where, depth + 1)}
        if isinstance(value, dict):
            return {DICT: [[self._key(key, where), self(item, f"{where}[{key!r}]", depth + 1)]
                           for key, item in value.items()]}
        if isinstance(value, Module) and self.module is not None:
            return {MODULE: self.module(value, where)}
        name = _dtype_name(value)
        if name is not None:
            return {DTYPE: name}
        raise TypeError(
            f"{where}: cannot store a {type(value).__name__} in a model file; expected None, bool, int, "
            f"float, str, list, tuple, dict, a numeric dtype (np.float32, torch.float64)"
            f"{', arrays' if self.arrays is not None else ''}"
            f"{' or a Module' if self.module is not None else ''}"
        )

    def _array(self, value: np.ndarray | np.generic, where: str) -> dict[str, str]:
        array = np.array(value, copy=True)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected a numeric array, got dtype {array.dtype}")
        key = f"{self.prefix}{self._count}"
        self._count += 1
        self.arrays[key] = array
        return {SCALAR if isinstance(value, np.generic) else ARRAY: key}

    @staticmethod
    def _key(key: Any, where: str) -> Any:
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"{where}: dict keys must be str or int, got {type(key).__name__} {key!r}")
        return key if isinstance(key, str) else int(key)


class Decoder:
    """The inverse of ``Encoder``: checked JSON -> values; every problem is a ModelFileError.

    Array references must name an entry of ``arrays`` starting with ``prefix``, each used once;
    ``used`` collects them so the caller can reject entries nobody refers to.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray] | None = None,
        prefix: str = "",
        module: Callable[[Any, str], Module] | None = None,
    ) -> None:
        self.arrays, self.prefix, self.module = arrays, prefix, module
        self.used: set[str] = set()

    def __call__(self, obj: Any, where: str, depth: int = 0) -> Any:
        check_depth(depth, where, ModelFileError)
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(obj)]
        obj = expect(obj, dict, where)
        if len(obj) != 1 or next(iter(obj)) not in (TUPLE, DICT, FLOAT, ARRAY, SCALAR, MODULE, DTYPE):
            raise ModelFileError(f"{where}: unexpected JSON object with keys {sorted(obj)[:5]}")
        tag, body = next(iter(obj.items()))
        if tag == TUPLE:
            return tuple(self(expect(body, list, where), where, depth + 1))
        if tag == DICT:
            return self._dict(expect(body, list, where), where, depth)
        if tag == FLOAT:
            if body not in _NON_FINITE:
                raise ModelFileError(f"{where}: expected 'nan', 'inf' or '-inf', got {body!r}")
            return _NON_FINITE[body]
        if tag == DTYPE:
            if not isinstance(body, str) or body not in DTYPE_NAMES:
                raise ModelFileError(f"{where}: expected a dtype name among {sorted(DTYPE_NAMES)}, "
                                     f"got {body!r:.60}")
            return DTYPE_NAMES[body]
        if tag == MODULE:
            if self.module is None:
                raise ModelFileError(f"{where}: a module is not expected here")
            return self.module(body, where)
        return self._array(tag, expect(body, str, where), where)

    def _dict(self, pairs: list[Any], where: str, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ModelFileError(f"{where}: expected [key, value] pairs, got {pair!r:.60}")
            key = expect(pair[0], (str, int), f"{where} key")
            if key in result:
                raise ModelFileError(f"{where}: key {key!r} appears twice")
            result[key] = self(pair[1], f"{where}[{key!r}]", depth + 1)
        return result

    def _array(self, tag: str, key: str, where: str) -> np.ndarray | np.generic:
        if self.arrays is None or not key.startswith(self.prefix) or key not in self.arrays:
            raise ModelFileError(f"{where}: refers to a missing array entry '{key}'")
        if key in self.used:
            raise ModelFileError(f"{where}: array entry '{key}' is referred to twice")
        self.used.add(key)
        array = self.arrays[key]
        if tag == SCALAR:
            if array.ndim != 0:
                raise ModelFileError(f"{where}: scalar entry '{key}' has shape {array.shape}")
            return array[()]
        return array


def check_depth(depth: int, where: str, error: type[Exception]) -> None:
    """Raise ``error`` if a value sits ``depth`` levels down, past ``MAX_DEPTH``: the one nesting rule
    of both ``Encoder`` and ``Decoder``. The top value is level 0; the items of a list and the
    values of a dict are one level below it, the items of a tuple two (its JSON is a tagged list)."""
    if depth > MAX_DEPTH:
        raise error(f"{where}: nested deeper than {MAX_DEPTH} levels (a list or dict is one level, "
                    "a tuple two); a model file holds no deeper value")


def _dtype_name(value: Any) -> str | None:
    """The name of the numeric dtype ``value`` is (a NumPy scalar type or dtype, or a torch dtype,
    read by its name), if it is one of ``DTYPE_NAMES``; else None."""
    if isinstance(value, np.dtype):
        name = value.name
    elif isinstance(value, type) and issubclass(value, np.generic):
        name = np.dtype(value).name
    elif type(value).__name__ == "dtype" and type(value).__module__ == "torch":
        name = str(value).removeprefix("torch.")  # torch.float64, torch.int64, torch.bool...
    else:
        return None
    return name if name in DTYPE_NAMES else None
