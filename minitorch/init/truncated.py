"""trunc_normal_: N(mean, std**2) on [a, b] by torch's two rejection samplers."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from minitorch.checks import check_number
from minitorch.init._arrays import T, _array, _generator


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
            f"trunc_normal_: [a, b] = [{a}, {b}] holds only p = {p:.3g} of N({mean}, {std}**2) and its "
            "width b - a is not finite (a bound is infinite, or the difference overflows), so neither "
            "sampler applies (torch raises too); give finite bounds closer together"
        )
    else:
        log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

        def propose(n: int) -> tuple[np.ndarray, np.ndarray]:
            values = np.clip(a + (b - a) * rng.random(n), a, b)
            log_density = -0.5 * ((values - mean) / std) ** 2 - log_peak
            return values.astype(x.dtype), np.log(rng.random(n)) <= log_density

    _fill_by_rejection(x, propose, f"N({mean}, {std}**2) on [{a}, {b}] (p = {p:.3g})")
    return tensor


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
