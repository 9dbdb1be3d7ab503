"""Weight initialisation, as torch.nn.init: fill a Parameter (or array) in place, return it.

Every draw comes from ``minitorch.random.generator()``, so ``mt.manual_seed(s)`` makes it
reproducible (or from ``generator=``, a NumPy Generator, as torch's ``generator=`` argument);
values are written in the array's own dtype (float32 stays float32). Every function of
``torch.nn.init`` is here with its signature, but its deprecated names without the trailing ``_``.

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
    array one of the two would have its fans swapped. ``sparse_`` reads the layout the same way
    (it zeros within torch's columns: a row of a Linear's W); ``orthogonal_`` and ``eye_`` need no
    layout (the transpose of their result is their result on the transposed shape).

Example:
    layer = mt.Linear(784, 256)
    mt.init.kaiming_normal_(layer.W, nonlinearity="relu")   # std = sqrt(2 / 784)
    mt.init.zeros_(layer.b)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from minitorch import module as module_registry
from minitorch.checks import check_choice, check_number, check_positive_int
from minitorch.module import Parameter
from minitorch.parameter import TransposedView
from minitorch.random import generator

__all__ = [
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
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
    if len(shape) == 2 and _in_torchs_layout(tensor):
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
    """Whether ``tensor`` (2-D) is in torch's (out, in) layout: a view in torch's layout
    (``Linear.weight``) or a Parameter of a MiniTorch layer that stores it in torch's layout.

    The layers and their transposed names are the interop table's (``module.TORCH_LAYOUT``: only
    Linear's W is stored transposed); a Parameter of no layer or of a module of your own is not.
    """
    if isinstance(tensor, TransposedView):
        return True
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


def trunc_normal_(
    tensor: T, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
    generator: np.random.Generator | None = None,
) -> T:
    """Fill with N(mean, std**2) truncated to [a, b] (a, b may be -inf, inf): torch's law.

    Density:  proportional to exp(-((x - mean) / std)**2 / 2) on [a, b], 0 elsewhere
    Sampling: torch's two rejection samplers, chosen by p = Phi((b - mean)/std) - Phi((a - mean)/std):
              p > 0.3   x ~ N(mean, std**2), rounded to the array's dtype; redrawn while outside [a, b]
              p <= 0.3  x ~ U(a, b), kept with probability exp(-((x - mean)/std)**2 / 2) / peak
                        (peak: the same at the point of [a, b] nearest mean), else redrawn
    Every value lies in [dtype(a), dtype(b)], the bounds rounded to the array's dtype (as torch).
    Refused: std <= 0 (torch fails at 0, reads a negative std as |std|); a > b and p <= 0.3 with an
    infinite bound (torch fails on both). Where almost every proposal is rejected (mean far out of
    [a, b]) a RuntimeError comes after 2**28 + 1000 * size proposals; torch loops on. Torch's warning
    for a mean over 2 std from [a, b] is not given: both samplers are exact there. Not torch's law in
    float16 where [a, b] holds only a few representable values and p <= 0.3: the uniform proposals
    here are drawn in float64 and then rounded (so either bound can come out), torch's in float16 on
    [a, b).
    """
    mean = check_number(mean, "trunc_normal_", "mean")
    std = check_number(std, "trunc_normal_", "std", 0, low_open=True)
    a, b = _bound(a, "a"), _bound(b, "b")
    if a > b:
        raise ValueError(f"trunc_normal_: expected a <= b, got a={a}, b={b}")
    x = _array(tensor, "trunc_normal_")
    rng = _generator(generator, "trunc_normal_")
    p = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    lo, hi = x.dtype.type(a), x.dtype.type(b)
    if p > 0.3:
        def propose(n: int) -> tuple[np.ndarray, np.ndarray]:
            values = (mean + std * rng.standard_normal(n)).astype(x.dtype)
            return values, (values >= lo) & (values <= hi)
    elif math.isinf(b - a):
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] holds only p = {p:.3g} of N({mean}, {std}**2) and is "
            "unbounded, so neither sampler applies (torch raises too); give finite bounds"
        )
    else:
        log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

        def propose(n: int) -> tuple[np.ndarray, np.ndarray]:
            values = np.clip(a + (b - a) * rng.random(n), a, b)
            log_density = -0.5 * ((values - mean) / std) ** 2 - log_peak
            return values.astype(x.dtype), np.log(rng.random(n)) <= log_density

    _fill_by_rejection(x, propose, f"N({mean}, {std}**2) on [{a}, {b}] (p = {p:.3g})")
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


def eye_(tensor: T) -> T:
    """Fill a 2-D array with the identity: 1 at [i, i] for i < min(shape), 0 elsewhere (torch.eye).

    The transpose of an identity is the identity of the transposed shape, so a Linear's W (in, out)
    gets exactly the transpose of torch's ``eye_(weight)``: x @ W keeps the first min(in, out) features.
    """
    x = _array(tensor, "eye_")
    if x.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D array, got shape {x.shape}")
    x.fill(0)
    diagonal = np.arange(min(x.shape))
    x[diagonal, diagonal] = 1
    return tensor


def dirac_(tensor: T, groups: int = 1) -> T:
    """Fill a convolution weight (out, in, *kernel) of 3, 4 or 5 dimensions with the Dirac delta.

    Fill:     tensor[g * out_g + d, d, *centre] = 1  for g < groups, d < min(out_g, in), 0 elsewhere
              out_g = out // groups, centre = (k // 2 for each kernel size k)   (torch's)
    A convolution with it copies the first min(out_g, in) input channels of each group (the
    identity when out_g = in and the padding keeps the size).
    """
    x = _array(tensor, "dirac_")
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"dirac_: expected a weight of 3, 4 or 5 dimensions (out, in, *kernel), got shape {x.shape}"
        )
    groups = check_positive_int(groups, "dirac_", "groups")
    if x.shape[0] % groups:
        raise ValueError(
            f"dirac_: dim 0 (out channels) = {x.shape[0]} must be divisible by groups = {groups}"
        )
    out_g = x.shape[0] // groups
    x.fill(0)
    d = np.arange(min(out_g, x.shape[1]))
    centre = tuple(k // 2 for k in x.shape[2:])
    for g in range(groups):
        x[(g * out_g + d, d, *centre)] = 1
    return tensor


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


def orthogonal_(tensor: T, gain: float = 1, generator: np.random.Generator | None = None) -> T:
    """Fill with gain * Q, Q a (semi-)orthogonal matrix drawn uniformly (Haar), as torch.

    Shapes:   tensor (rows, *rest) holds Q (rows, cols), cols = prod(rest) (a conv weight flattened)
    Draw:     G ~ N(0, 1) (rows, cols), transposed when rows < cols; G = Q R (reduced QR);
              Q = Q * sign(diag(R)) (QR's own signs are not uniform); Q transposed back
    Result:   Q.T @ Q = gain**2 I (cols, cols)  if rows >= cols
              Q @ Q.T = gain**2 I (rows, rows)  if rows <= cols
    The QR is computed in float64 and rounded once to the array's dtype. The law of Q.T is the law of
    Q on the transposed shape, so a Linear's W (in, out) gets torch's law for its weight (out, in).
    """
    gain = check_number(gain, "orthogonal_", "gain")
    x = _array(tensor, "orthogonal_")
    if x.ndim < 2:
        raise ValueError(f"orthogonal_: expected an array of 2 or more dimensions, got shape {x.shape}")
    rng = _generator(generator, "orthogonal_")
    if x.size == 0:
        return tensor
    rows = x.shape[0]
    g = rng.standard_normal((rows, x.size // rows))
    wide = g.shape[0] < g.shape[1]
    q, r = np.linalg.qr(g.T if wide else g)
    q *= np.sign(np.diag(r))
    x[...] = (gain * (q.T if wide else q)).reshape(x.shape)
    return tensor


def sparse_(
    tensor: T, sparsity: float, std: float = 0.01, generator: np.random.Generator | None = None
) -> T:
    """Fill a 2-D weight with N(0, std**2), then zero ceil(sparsity * out) random entries of each
    input's weights (Martens 2010; torch zeros that many in each column of its (out, in) weight).

    Layout:   by the fan convention: each ROW of a Linear's W or of a 2-D array of your own (in, out)
              gets ceil(sparsity * shape[1]) zeros; each column of a weight in torch's layout (out, in)
              (``Linear.weight``, an LSTM's weight_ih_l0...) ceil(sparsity * shape[0]).
    The zeroed entries are a uniformly random subset of each row (column), all drawn from the generator.
    """
    x = _array(tensor, "sparse_")
    if x.ndim != 2:
        raise ValueError(f"sparse_: expected a 2-D array, got shape {x.shape}")
    sparsity = check_number(sparsity, "sparse_", "sparsity", 0, 1)
    rng = _generator(generator, "sparse_")
    normal_(x, 0.0, std, rng)
    w = x if _in_torchs_layout(tensor) else x.T  # (out, in), torch's layout
    rows, cols = w.shape
    zeros = math.ceil(sparsity * rows)
    if zeros:
        w[np.argsort(rng.random((rows, cols)), axis=0)[:zeros], np.arange(cols)] = 0
    return tensor


def _kaiming_std(tensor: Parameter | np.ndarray, a: float, mode: str, nonlinearity: str, who: str) -> float:
    mode = check_choice(mode.lower() if isinstance(mode, str) else mode, who, "mode", ("fan_in", "fan_out"))
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


_BATCH = 2**22  # the most proposals drawn at once beyond the array's size (32 MiB of float64)
_MAX_PROPOSALS = 2**28  # plus 1000 per element: past this the acceptance is hopeless, not unlucky


def _fill_by_rejection(
    x: np.ndarray, propose: Callable[[int], tuple[np.ndarray, np.ndarray]], law: str
) -> None:
    """x[...] = the first x.size accepted proposals, in order (i.i.d. draws of the accepted law).

    ``propose(n)`` gives n values (x's dtype) and which are accepted. Each round proposes 1.2 times
    what the last round's acceptance rate says the missing elements need, so a law that accepts
    1% of its proposals takes a few rounds, not hundreds.
    """
    flat = np.empty(x.size, x.dtype)
    filled, rate, proposed = 0, 1.0, 0
    while filled < x.size:
        if proposed > _MAX_PROPOSALS + 1000 * x.size:
            raise RuntimeError(
                f"trunc_normal_: {x.size - filled} values still missing after {proposed} proposals of "
                f"{law}: [a, b] lies too far out in the tail; bring mean nearer [a, b] or raise std"
            )
        need = x.size - filled
        n = min(math.ceil(1.2 * need / rate), max(_BATCH, need))
        values, accepted = propose(n)
        values = values[accepted][:need]
        flat[filled:filled + values.size] = values
        filled, proposed = filled + values.size, proposed + n
        rate = max(accepted.sum(), 1) / n
    x[...] = flat.reshape(x.shape)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _bound(value: object, name: str) -> float:
    """A truncation bound: a real number, -inf and inf included, not NaN."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(value):
        raise ValueError(f"trunc_normal_: {name} must be a number (-inf and inf allowed), got {value!r}")
    return float(value)
