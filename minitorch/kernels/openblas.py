"""The OpenBLAS that NumPy uses, found through threadpoolctl: its library, symbol names and release.

The kernels that call BLAS routines NumPy does not expose (``optimizers``: axpy and scal; ``gemm``:
the strided batch GEMM; ``gemm_update``: gemm) look them up here (``OpenBlas.typed``), each with its
own argument types.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minitorch import threads


@dataclass(frozen=True)
class OpenBlas:
    """One loaded OpenBLAS: ``symbol(name)`` is its routine ``name`` (None where it has none),
    ``index`` the C type of its integer arguments, ``release`` (major, minor, patch) or None,
    ``core`` the name of the CPU core its kernels were chosen for (``openblas_get_corename``, as
    threadpoolctl reports it: "SkylakeX", "Haswell", ...; a build for several CPUs picks one at load,
    or as the environment variable OPENBLAS_CORETYPE says) or None."""

    lib: Any
    prefix: str
    suffix: str
    index: type
    release: tuple[int, ...] | None
    core: str | None = None

    def symbol(self, name: str) -> Any:
        return getattr(self.lib, f"{self.prefix}{name}{self.suffix}", None)

    def typed(self, name: str, argtypes: Callable[[type], list[Any]]) -> dict[np.dtype, Any]:
        """The float32 and float64 forms of routine ``name`` ("{}" where BLAS puts the type's
        letter: "cblas_{}axpy"), those this library has, by dtype: each returning nothing, its
        argument types ``argtypes(real)`` (real: ``ctypes.c_float`` or ``ctypes.c_double``)."""
        found = {}
        for code, dtype, real in (("s", np.float32, ctypes.c_float), ("d", np.float64, ctypes.c_double)):
            full = name.format(code)
            routine = self.symbol(full) or getattr(self.lib, full, None)
            if routine is not None:
                routine.restype, routine.argtypes = None, argtypes(real)
                found[np.dtype(dtype)] = routine
        return found


def release_of(version: str | None) -> tuple[int, ...] | None:
    """(major, minor, patch) of an OpenBLAS version string such as "0.3.31" or "0.3.31.188.0"."""
    try:
        return tuple(int(part) for part in str(version).split(".")[:3])
    except ValueError:
        return None


def find() -> OpenBlas | None:
    """The OpenBLAS NumPy itself uses, or None (another BLAS, or no threadpoolctl).

    A process can hold several (SciPy brings its own): the one loaded from inside NumPy's package
    (``numpy.libs``, ``numpy/.dylibs``) is taken, else the first OpenBLAS found (a NumPy linked to
    the system's)."""
    try:
        controllers = threads._controllers()
    except ImportError:
        return None
    found = [c for c in controllers if getattr(c, "internal_api", None) == "openblas"]
    home = str(Path(np.__file__).resolve().parent)
    numpys = [c for c in found if str(Path(getattr(c, "filepath", None) or "/").resolve()).startswith(home)]
    if not found:
        return None
    controller = (numpys or found)[0]
    suffix = getattr(controller, "_symbol_suffix", "")
    return OpenBlas(controller.dynlib, getattr(controller, "_symbol_prefix", ""), suffix,
                    ctypes.c_int64 if suffix.startswith("64") else ctypes.c_int,
                    release_of(getattr(controller, "version", None)),
                    getattr(controller, "architecture", None))
