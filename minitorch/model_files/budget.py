"""What a rebuild may allocate: one budget, charged before each constructor and each random draw."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import minitorch.random as library_random
from minitorch.model_files.format import ModelFileError
from minitorch.module import Module
from minitorch.random import generator

_SHAPE_ARGUMENTS = {"normalized_shape"}  # LayerNorm((a, b, c)) allocates a * b * c elements twice


class Budget:
    """One allocation budget (in array elements) for a whole rebuild.

    ``charge_estimate`` runs before every constructor (as ``module.constructor_check``): a
    MiniTorch layer is estimated at the product of its two largest integer arguments times its
    kernel area (``kernel_size`` counted once per spatial dimension: ``Conv2d`` -> k**2; a shape
    argument, ``normalized_shape``, counts as the product of its sizes), which is
    what Linear, Conv, the norms and Embedding-like layers allocate; a head count, a stride or a
    third dimension (kdim, vdim) does not multiply it. A layer it underrates is caught by the draw
    and built charges below. ``charge_built`` then counts what a built module really
    holds (every Parameter and buffer not counted before), so a class the estimate
    underrates costs at most one layer before the rebuild stops. ``new_array`` charges an array a
    file says replaced a constructor's to ``built`` too, before allocating it.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.estimated, self.drawn, self.built = limit, 0, 0, 0
        self._counted: set[int] = set()

    def charge_estimate(self, cls: type, arguments: dict[str, Any]) -> None:
        if not cls.__module__.startswith("minitorch."):
            return
        dims = int(cls.__name__[-2]) if cls.__name__[-2:-1].isdigit() and cls.__name__[-1] == "d" else 1
        kernel, sizes = 1, []
        for arg, value in arguments.items():
            numbers = [max(1, abs(number)) for number in _ints([value])]
            if arg == "kernel_size":
                kernel = math.prod(numbers) ** (dims if isinstance(value, int) else 1)  # k means (k,) * dims
            elif arg in _SHAPE_ARGUMENTS:  # the shape of one array: all its sizes multiply
                sizes.append(math.prod(numbers))
            else:
                sizes.extend(numbers)
        largest = sorted(sizes, reverse=True)[:2]
        self.estimated += math.prod(largest) * kernel
        if self.estimated > self.limit:
            raise ModelFileError(
                f"{cls.__name__}{tuple(arguments.values())!r:.80}: sizes implausibly large for the "
                f"weights in the file (the modules so far need ~{self.estimated} elements, the file "
                f"holds enough for {self.limit})"
            )

    def charge_draw(self, size: Any, method: str) -> None:
        count = 1
        for number in _ints([size]):
            count *= max(0, number)
        self.drawn += count
        if self.drawn > self.limit:
            raise ModelFileError(
                f"a constructor asks the random generator for {count} values ({method}), implausibly "
                f"many for the weights in the file ({self.limit} at most)"
            )

    def new_array(self, shape: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
        """A zero array for a Parameter or buffer the file says was replaced, charged before it is
        allocated (and counted as built, so ``charge_built`` does not count it again)."""
        count = math.prod(shape)
        self.built += count
        if self.built > self.limit:
            raise ModelFileError(
                f"{where}: an array of {count} elements, implausibly many for the weights in the "
                f"file ({self.limit} at most with the modules built so far)"
            )
        try:
            array = np.zeros(shape, dtype)
        except ValueError as err:  # NumPy's own limits: a size past 2**63 beside a zero size
            raise ModelFileError(f"{where}: shape {shape!r:.80}: {err}") from None
        self._counted.add(id(array))
        return array

    def charge_built(self, module: Module, where: str) -> None:
        for sub in module.modules():
            arrays = [p.data for p in sub._parameters.values() if p is not None]
            for array in [*arrays, *sub._buffers.values()]:
                if isinstance(array, np.ndarray) and id(array) not in self._counted:
                    self._counted.add(id(array))
                    self.built += array.size
        if self.built > self.limit:
            raise ModelFileError(
                f"{where}: the modules built so far hold {self.built} elements, implausibly many for "
                f"the weights in the file ({self.limit} at most)"
            )


def _ints(values: Any) -> Iterator[int]:
    for value in values:
        if isinstance(value, (tuple, list)):
            yield from _ints(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            yield int(value)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Initialising the rebuilt layers draws random numbers: put the generator back afterwards."""
    state = generator().bit_generator.state
    try:
        yield
    finally:
        generator().bit_generator.state = state


# where each of the generator's draws takes its ``size`` positionally
_DRAW_SIZE_AT = {"uniform": 2, "normal": 2, "standard_normal": 0, "random": 0, "integers": 2,
                 "permutation": 0}


class _BudgetedDraws:
    """Stands in for the library's generator during a rebuild: layers draw their initial weights
    from ``generator()``, so each draw's size is charged to the budget before anything is allocated
    (exact for any layer, however its size depends on its arguments: LSTM, attention...)."""

    def __init__(self, rng: np.random.Generator, budget: Budget) -> None:
        self._rng, self._budget = rng, budget

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._rng, name)
        if name not in _DRAW_SIZE_AT:
            return method

        def draw(*args: Any, **kwargs: Any) -> Any:
            at = _DRAW_SIZE_AT[name]
            size = kwargs.get("size", args[at] if len(args) > at else None)
            if size is None and kwargs.get("out") is not None:  # drawn into an array made before
                size = tuple(np.shape(kwargs["out"]))
            self._budget.charge_draw(size, name)
            return method(*args, **kwargs)

        return draw


@contextlib.contextmanager
def budgeted_draws(budget: Budget) -> Iterator[None]:
    """Route the library's random draws through ``_BudgetedDraws`` while a model is rebuilt."""
    real = library_random._generator
    library_random._generator = _BudgetedDraws(real, budget)  # type: ignore[assignment]
    try:
        yield
    finally:
        library_random._generator = real
