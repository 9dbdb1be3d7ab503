"""torch.nn.functional's smooth activations as array-in/array-out functions: sigmoid, tanh, elu, selu,
celu, softplus, silu, mish, softsign, tanhshrink, logsigmoid, glu (reached as
``minitorch.functional.<name>``; the layers of the same names call them for their forward).

Dtypes and ``inplace`` as ``functional_activations``' (its module docstring): a float32/float64
array keeps its dtype; sigmoid, tanh, softsign and tanhshrink turn an integer array into the
default dtype (torch's default float dtype there; sigmoid and tanh a bool one too), the others
refuse integer and bool arrays, as torch. Every exp is taken of values <= 0 only (softplus, elu,
logsigmoid) so no forward overflows for large |x|.
"""

from __future__ import annotations

import numpy as np

from minitorch.checks import check_int, check_number
from minitorch.functional_activations import checked_input, written

SELU_ALPHA = 1.6732632423543772848170429916717  # torch's (Klambauer et al., 2017)
SELU_SCALE = 1.0507009873554804934193349852946


# ------------------------------------------------------------------------- logistic
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), element-wise, without overflow, as torch.nn.functional.sigmoid.

    e = exp(-|x|) <= 1 never overflows;
    sigmoid(x) = 1 / (1 + e)  for x >= 0,   e / (1 + e)  for x < 0   (tiny outputs keep full precision)
    An integer or bool x is cast to the default dtype first, as torch's.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = checked_input(x, "sigmoid", ints="promote bool")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def softplus_of_neg_abs(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(-|x|)), element-wise: exp(-|x|) <= 1, and log1p keeps its tiny values exact."""
    return np.log1p(np.exp(-np.abs(x)))


def softplus_of(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows, no cancellation."""
    return np.maximum(z, 0) + softplus_of_neg_abs(z)


def tanh(input: np.ndarray) -> np.ndarray:
    """y = tanh(x), element-wise, as torch.nn.functional.tanh (integer or bool x: the default dtype)."""
    return np.tanh(checked_input(input, "tanh", ints="promote bool"))


def logsigmoid(input: np.ndarray) -> np.ndarray:
    """y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), element-wise, as
    torch.nn.functional.logsigmoid: never log(sigmoid(x)), so x = -1e4 gives -1e4 and x = 1e4 gives 0."""
    x = checked_input(input, "logsigmoid")
    return (np.minimum(x, 0) - softplus_of_neg_abs(x)).astype(x.dtype, copy=False)


def softplus(input: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """y = log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (torch's switch to
    the identity), element-wise, as torch.nn.functional.softplus.

    beta is any number, as torch's function (0 gives inf; the Softplus layer's constructor keeps it > 0).
    """
    x = checked_input(input, "softplus")
    b = x.dtype.type(check_number(beta, "softplus", "beta"))
    limit = check_number(threshold, "softplus", "threshold")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # beta = 0: inf; a huge x * beta:
        z = x * b                                                         # +-inf; as torch (no warning)
        return np.where(z > limit, x, softplus_of(z) / b).astype(x.dtype, copy=False)


def silu(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = x * sigmoid(x), element-wise, as torch.nn.functional.silu (swish)."""
    x = checked_input(input, "silu")
    with np.errstate(invalid="ignore"):  # -inf * 0: nan, as torch (no warning)
        return written(input, x * sigmoid(x), inplace, "silu")


def mish(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = x * tanh(softplus(x)), element-wise, as torch.nn.functional.mish (softplus without overflow)."""
    x = checked_input(input, "mish")
    with np.errstate(invalid="ignore"):  # -inf * 0: nan, as torch (no warning)
        return written(input, x * np.tanh(softplus_of(x)), inplace, "mish")


# ------------------------------------------------------------------------- exponential linear units
def elu_core(x: np.ndarray, alpha: float, scale: float, input_scale: float) -> np.ndarray:
    """torch's elu kernel: y = scale * x at or above 0, scale * alpha * expm1(input_scale * x) below
    (exp of min(x, 0) only: no overflow for input_scale > 0; celu's negative alpha overflows to
    +-inf, as torch), in x's dtype. Both branches are 0 at 0; the linear one keeps the sign of a
    zero x for every alpha, as torch (elu(-0.0) = -0.0; elu(+0.0, alpha < 0) = +0.0)."""
    t = x.dtype.type
    neg = np.minimum(x, 0)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.where(x < 0, t(scale * alpha) * np.expm1(neg * t(input_scale)), t(scale) * x)
    return y.astype(x.dtype, copy=False)


def elu(input: np.ndarray, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    """y = where(x > 0, x, alpha * expm1(x)), element-wise, as torch.nn.functional.elu."""
    x = checked_input(input, "elu")
    return written(input, elu_core(x, check_number(alpha, "elu", "alpha"), 1.0, 1.0), inplace, "elu")


def selu(input: np.ndarray, inplace: bool = False) -> np.ndarray:
    """y = scale * where(x > 0, x, alpha * expm1(x)), element-wise, as torch.nn.functional.selu
    (alpha = 1.6732632423543772, scale = 1.0507009873554805, torch's constants)."""
    x = checked_input(input, "selu")
    return written(input, elu_core(x, SELU_ALPHA, SELU_SCALE, 1.0), inplace, "selu")


def celu(input: np.ndarray, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    """y = where(x > 0, x, alpha * expm1(x / alpha)), element-wise, as torch.nn.functional.celu.

    alpha = 0 is a ValueError (torch's "alpha cannot be 0"); a negative alpha is allowed, as torch.
    """
    x = checked_input(input, "celu")
    a = check_celu_alpha(alpha, "celu")
    return written(input, elu_core(x, a, 1.0, 1.0 / a), inplace, "celu")


def check_celu_alpha(alpha: object, who: str) -> float:
    """alpha as a float, != 0 (it divides x), else a ValueError naming ``who``."""
    alpha = check_number(alpha, who, "alpha")
    if alpha == 0:
        raise ValueError(f"{who}: alpha cannot be 0 (it divides x), got 0")
    return alpha


# ------------------------------------------------------------------------- soft sign / shrink
def softsign(input: np.ndarray) -> np.ndarray:
    """y = x / (1 + |x|), element-wise, as torch.nn.functional.softsign (+-inf gives nan: inf / inf,
    as torch; an integer x: the default dtype)."""
    # an integer x is cast before |x|: torch takes |x| in the integer dtype first, so its int8 -128
    # wraps (|-128| = -128) and gives 1.0079 where this gives -128 / 129
    x = checked_input(input, "softsign", ints="promote")
    with np.errstate(invalid="ignore"):  # inf / inf: nan, as torch (no warning)
        return x / (1 + np.abs(x))


def tanhshrink(input: np.ndarray) -> np.ndarray:
    """y = x - tanh(x), element-wise, as torch.nn.functional.tanhshrink (an integer x: the default dtype)."""
    x = checked_input(input, "tanhshrink", ints="promote")
    return x - np.tanh(x)


# ------------------------------------------------------------------------- gated linear unit
def glu(input: np.ndarray, dim: int = -1) -> np.ndarray:
    """y = a * sigmoid(b), a and b the first and second halves of x along dim, as
    torch.nn.functional.glu: x (*, 2H, *) gives y (*, H, *). A 0-D x, a dim out of range or an odd
    size along it is a ValueError (torch refuses each)."""
    x = checked_input(input, "glu")
    a, b = np.split(x, 2, axis=glu_axis(x.shape, dim, "glu"))
    with np.errstate(invalid="ignore"):  # inf * 0: nan, as torch (no warning)
        return a * sigmoid(b).astype(x.dtype, copy=False)


def glu_axis(shape: tuple[int, ...], dim: object, who: str) -> int:
    """The axis (>= 0) of ``shape`` that dim names, checked as torch's glu: a ValueError naming ``who``."""
    dim = check_int(dim, who, "dim")
    if not shape:
        raise ValueError(f"{who}: expected an input of at least 1 dim (its halves), got a 0-D array")
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"{who}(dim={dim}): expected an input with a dim {dim}, got shape {shape}")
    axis = dim % len(shape)
    if shape[axis] % 2:
        raise ValueError(f"{who}(dim={dim}): expected an even size along dim {dim} (it is halved), "
                         f"got shape {shape}")
    return axis
