"""Weight initialisation, as torch.nn.init: fill a Parameter (or array) in place, return it.

Every draw comes from ``minitorch.random.generator()``, so ``mt.manual_seed(s)`` makes it
reproducible (or from ``generator=``, a NumPy Generator, as torch's ``generator=`` argument);
values are drawn in the array's own dtype (float32 stays float32).

FAN CONVENTION (read this before initialising a Linear by hand)
    MiniTorch's ``Linear`` stores W as (in, out), the TRANSPOSE of torch's (out, in) weight. The fans
    here follow the layer, not the axis order, so every layer's weight gets the fans torch gives the
    same layer:
        Linear's W, a 2-D array or a 2-D Parameter of your own module (in, out):
                                         fan_in = shape[0]             fan_out = shape[1]
        a 2-D Parameter of a MiniTorch layer that keeps torch's layout (Embedding, RNN/LSTM/GRU and
        their cells, MultiheadAttention, LayerNorm...) (out, in):
                                         fan_in = shape[1]             fan_out = shape[0]
        3-D or more (out, in, *kernel):  fan_in = shape[1] * prod(kernel)   fan_out = shape[0] * prod(kernel)
    (the >= 3-D case is torch's own: convolution weights are stored as torch stores them).
    So ``kaiming_uniform_(linear.W)`` equals torch's ``kaiming_uniform_(linear.weight)`` in law, and
    ``kaiming_uniform_(lstm.weight_ih_l0)`` torch's for the same LSTM; with one rule for every 2-D
    array one of the two would have its fans swapped.

Example:
    layer = mt.Linear(784, 256)
    mt.init.kaiming_normal_(layer.W, nonlinearity="relu")   # std = sqrt(2 / 784)
    mt.init.zeros_(layer.b)
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from minitorch import module as module_registry
from minitorch.checks import check_choice, check_number
from minitorch.module import Parameter
from minitorch.parameter import TransposedView
from minitorch.random import generator

__all__ = [
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

T = TypeVar("T", Parameter, np.ndarray)

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, torch's table: the std scale that keeps activations' variance.

    Gains:  linear, conv*, sigmoid: 1     tanh: 5/3     relu: sqrt(2)     selu: 3/4
            leaky_relu: sqrt(2 / (1 + negative_slope**2)), negative_slope = param (default 0.01)
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_number(param, "calculate_gain", "negative_slope")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
        f"{[*_LINEAR, 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def calculate_fan_in_and_fan_out(tensor: Parameter | np.ndarray) -> tuple[int, int]:
    """(fan_in, fan_out) by MiniTorch's convention: 2-D is (in, out), >= 3-D is (out, in, *kernel)."""
    shape = _array(tensor, "calculate_fan_in_and_fan_out").shape
    if isinstance(tensor, TransposedView) or (len(shape) == 2 and _in_torchs_layout(tensor)):
        shape = shape[::-1]  # (out, in), as torch stores it: Linear.weight, an LSTM's weight_ih_l0...
    if len(shape) < 2:
        raise ValueError(
            f"calculate_fan_in_and_fan_out: expected an array of 2 or more dimensions, got shape {shape}"
        )
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _in_torchs_layout(tensor: Parameter | np.ndarray) -> bool:
    """Whether ``tensor`` is a Parameter of a MiniTorch layer that stores it in torch's layout.

    The layers and their transposed names are the interop table's (``module.TORCH_LAYOUT``: only
    Linear's W is stored transposed); a Parameter of no layer or of a module of your own is not.
    """
    if not isinstance(tensor, Parameter):
        return False
    for ref in module_registry._owners.get(tensor, ()):
        owner = ref()
        transposed = None if owner is None else module_registry.TORCH_LAYOUT.get(type(owner))
        if transposed is None:
            continue
        return not any(p is tensor and name in transposed for name, p in owner._parameters.items())
    return False


def uniform_(tensor: T, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Fill with U(a, b)."""
    check_number(a, "uniform_", "a")
    check_number(b, "uniform_", "b", a)
    x = _array(tensor, "uniform_")
    _fill_random(x, "uniform", _generator(generator, "uniform_"))
    x *= float(b) - float(a)
    x += float(a)
    return tensor


def normal_(
    tensor: T, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> T:
    """Fill with N(mean, std**2)."""
    check_number(mean, "normal_", "mean")
    check_number(std, "normal_", "std", 0)
    x = _array(tensor, "normal_")
    _fill_random(x, "normal", _generator(generator, "normal_"))
    x *= float(std)
    x += float(mean)
    return tensor


def constant_(tensor: T, val: float) -> T:
    """Fill with ``val``."""
    check_number(val, "constant_", "val")
    _array(tensor, "constant_").fill(float(val))
    return tensor


def zeros_(tensor: T) -> T:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: T) -> T:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: T, gain: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    Its std is gain * sqrt(2 / (fan_in + fan_out)), as xavier_normal_'s.
    """
    check_number(gain, "xavier_uniform_", "gain", 0)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: T, gain: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    check_number(gain, "xavier_normal_", "gain", 0)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: T, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> T:
    """He uniform: U(-bound, bound), bound = sqrt(3) * std, std = gain / sqrt(fan).

    gain = calculate_gain(nonlinearity, a); fan = fan_in or fan_out by ``mode``.

    ``mode="fan_in"`` keeps the forward activations' variance, ``"fan_out"`` the backward gradients'.
    The defaults (a=0, leaky_relu) give gain sqrt(2), as torch.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: T, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> T:
    """He normal: N(0, std**2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"), generator)


def _kaiming_std(tensor: Parameter | np.ndarray, a: float, mode: str, nonlinearity: str, who: str) -> float:
    check_choice(mode, who, "mode", ("fan_in", "fan_out"))
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def _array(tensor: Parameter | np.ndarray, who: str) -> np.ndarray:
    x = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{who}: expected a Parameter or a floating NumPy array, got {got}")
    return x


def _generator(given: object, who: str) -> np.random.Generator:
    """``given`` (a NumPy Generator, as torch's ``generator=`` takes a torch.Generator), or the library's."""
    if given is None:
        return generator()
    if not isinstance(given, np.random.Generator):
        raise TypeError(
            f"{who}: expected generator=None or a NumPy Generator (np.random.default_rng(seed)), "
            f"got {type(given).__module__}.{type(given).__name__}"
        )
    return given


def _fill_random(x: np.ndarray, law: str, rng: np.random.Generator) -> None:
    """x[...] = U[0, 1) or N(0, 1) draws from ``rng``, made in x's dtype and written straight into x
    when it is contiguous (saves a float64 array of x's size and a cast)."""
    draw = rng.random if law == "uniform" else rng.standard_normal
    if x.dtype in (np.float32, np.float64) and x.flags.c_contiguous:
        draw(dtype=x.dtype, out=x)
    else:
        x[...] = draw(x.shape)
