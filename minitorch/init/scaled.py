"""Variance-scaling inits: a gain per nonlinearity and the fans set the std (Glorot's xavier_*, He's
kaiming_*)."""

from __future__ import annotations

import math

import numpy as np

from minitorch.checks import check_choice, check_number
from minitorch.init._arrays import T, _array
from minitorch.init.fans import calculate_fan_in_and_fan_out
from minitorch.init.fills import normal_, uniform_
from minitorch.module import Parameter

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


def xavier_uniform_(tensor: T, gain: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    Its std is gain * sqrt(2 / (fan_in + fan_out)), as xavier_normal_'s. An empty array with
    fan_in + fan_out = 0 (shape (0, 0), a kernel of size 0) is returned as is (torch divides by 0).
    """
    check_number(gain, "xavier_uniform_", "gain", 0)
    _array(tensor, "xavier_uniform_")  # named as called (uniform_ checks it again)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: T, gain: float = 1.0, generator: np.random.Generator | None = None) -> T:
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    An empty array with fan_in + fan_out = 0 is returned as is (torch divides by 0).
    """
    check_number(gain, "xavier_normal_", "gain", 0)
    _array(tensor, "xavier_normal_")
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
    mode = check_choice(mode.lower() if isinstance(mode, str) else mode, who, "mode", ("fan_in", "fan_out"))
    _array(tensor, who)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
