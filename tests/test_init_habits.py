"""mt.init has every function of torch.nn.init, with its signature and law: trunc_normal_, orthogonal_,
sparse_, eye_, dirac_ (and kaiming's mode as torch reads it); torch's layouts decide which axis is which."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import minitorch as mt
from minitorch import init

TORCH_INITS = [name for name in torch.nn.init.__all__ if name.endswith("_")] + ["calculate_gain"]


@pytest.mark.parametrize("name", TORCH_INITS)
def test_every_torch_init_function_is_here_with_torchs_signature(name):
    """Same parameter names, order and defaults (torch's deprecated aliases without "_" are left out)."""
    ours, theirs = inspect.signature(getattr(init, name)), inspect.signature(getattr(torch.nn.init, name))
    assert [(p.name, p.default) for p in ours.parameters.values()] == \
        [(p.name, p.default) for p in theirs.parameters.values()]
    assert name in init.__all__


class InjectDraws(TorchFunctionMode):
    """Runs torch's own init function on OUR random draws: its ``normal_`` returns ``normal`` and its
    ``randperm`` calls the permutations ``perms`` in turn, so the result must equal ours exactly."""

    def __init__(self, normal: np.ndarray, perms: list[np.ndarray] | None = None) -> None:
        super().__init__()
        self.normal, self.perms = normal, list(perms or [])

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.Tensor.normal_:
            with torch.no_grad():
                return args[0].copy_(torch.from_numpy(self.normal))
        if func is torch.randperm:
            return torch.from_numpy(self.perms.pop(0))
        return func(*args, **(kwargs or {}))


# ---- trunc_normal_ -------------------------------------------------------------------------------


def _cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


def truncated_moments(mean, std, a, b):
    """Mean and std of N(mean, std**2) truncated to [a, b] (closed form; erfc keeps far tails exact)."""
    phi = lambda z: 0.0 if math.isinf(z) else math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    alpha, beta = (a - mean) / std, (b - mean) / std
    z = _cdf(-alpha) - _cdf(-beta) if alpha > 0 else _cdf(beta) - _cdf(alpha)
    shift = (phi(alpha) - phi(beta)) / z
    spread = ((alpha * phi(alpha) if math.isfinite(alpha) else 0.0)
              - (beta * phi(beta) if math.isfinite(beta) else 0.0)) / z
    return mean + std * shift, std * math.sqrt(1 + spread - shift * shift)


def truncated_cdf(x: np.ndarray, mean, std, a, b) -> np.ndarray:
    """P(X <= x) for N(mean, std**2) truncated to [a, b] (through the upper tail when a > mean)."""
    z = torch.from_numpy((x.astype(np.float64) - mean) / std)
    alpha, beta = (a - mean) / std, (b - mean) / std
    if alpha > 0:
        upper = lambda t: torch.special.ndtr(-t)  # noqa: E731
        return ((_cdf(-alpha) - upper(z)) / (_cdf(-alpha) - _cdf(-beta))).numpy()
    return ((torch.special.ndtr(z) - _cdf(alpha)) / (_cdf(beta) - _cdf(alpha))).numpy()


def ks_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance: the largest gap between the empirical CDFs."""
    x, y = np.sort(x.ravel()), np.sort(y.ravel())
    both = np.concatenate([x, y])
    return float(np.abs(np.searchsorted(x, both, side="right") / x.size
                        - np.searchsorted(y, both, side="right") / y.size).max())


def assert_truncated_normal(x: np.ndarray, mean, std, a, b, reference: np.ndarray | None = None) -> None:
    """In [a, b] (rounded to x's dtype); mean and std within 6 standard errors of the closed form;
    the empirical CDF within the Kolmogorov-Smirnov distance that chance exceeds with probability
    1e-6 of the exact CDF; and, given torch's draws ``reference``, the same checks on them and a
    two-sample KS distance between the two samples under that level."""
    lo, hi = x.dtype.type(a), x.dtype.type(b)
    assert x.min() >= lo and x.max() <= hi, (x.min(), x.max(), lo, hi)
    m, s = truncated_moments(mean, std, a, b)
    for sample in (x,) if reference is None else (x, reference):
        n = sample.size
        assert abs(sample.mean() - m) < 6 * s / math.sqrt(n), (sample.mean(), m)
        assert abs(sample.std() - s) < 6 * s / math.sqrt(n) * 1.5, (sample.std(), s)  # kurtosis <= 3
        ordered = np.sort(sample.ravel())
        cdf = truncated_cdf(ordered, mean, std, a, b)
        ks = max(np.abs(np.arange(1, n + 1) / n - cdf).max(), np.abs(np.arange(n) / n - cdf).max())
        assert ks < 2.8 / math.sqrt(n), ks
    if reference is not None:
        assert ks_distance(x, reference) < 2.8 * math.sqrt(1 / x.size + 1 / reference.size)


N_DRAWS = 100_000
N_TORCH = 20_000  # torch's sampler takes one full pass over the tensor per rejection round: fewer draws


@settings(max_examples=10, deadline=None)
@given(where=st.floats(0, 1), std=st.floats(0.1, 3), a=st.floats(-4, 3), width=st.floats(0.05, 6),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**31 - 1))
@example(where=0.5, std=1.0, a=-2.0, width=4.0, dtype=np.float32, seed=0)     # torch's defaults, p = 0.95
@example(where=1 / 6, std=1.0, a=1.0, width=2.0, dtype=np.float64, seed=1)    # mean 0, p = 0.16: uniform
@example(where=0.5, std=10.0, a=-10.0, width=0.2, dtype=np.float32, seed=2)   # p = 0.08, nearly flat
@example(where=0.0, std=0.5, a=-1.0, width=6.0, dtype=np.float64, seed=3)     # mean 2 std below a
@example(where=1.0, std=0.382, a=0.0, width=1.0, dtype=np.float32, seed=4)   # mean 2 std above b
def test_trunc_normal_draws_torchs_law(where, std, a, width, dtype, seed):
    """[a, b] up to 6 std wide, mean anywhere in [a - 2 std, b + 2 std] (torch warns beyond)."""
    b = a + width * std
    # (clamped as torch tests it: where = 1 can round a hair past b + 2 std, where torch warns)
    mean = min(max(a - 2 * std + where * (b - a + 4 * std), a - 2 * std), b + 2 * std)
    x = np.empty((N_DRAWS // 100, 100), dtype)
    out = init.trunc_normal_(x, mean, std, a, b, generator=np.random.default_rng(seed))
    assert out is x and x.dtype == dtype
    reference = torch.empty(N_TORCH, dtype=torch.float32 if dtype == np.float32 else torch.float64)
    torch.nn.init.trunc_normal_(reference, mean, std, a, b, generator=torch.Generator().manual_seed(seed))
    assert_truncated_normal(x, mean, std, a, b, reference.numpy())


def test_trunc_normal_far_from_its_bounds_is_exact_and_quick():
    """mean 2 std below a 60 std wide [a, b]: 0.7% of the uniform proposals are accepted (torch takes
    ~1700 passes over the tensor); the draws still follow the exact law."""
    x = init.trunc_normal_(np.empty(N_DRAWS), -1.2, 0.1, -1.0, 5.0, generator=np.random.default_rng(5))
    assert_truncated_normal(x, -1.2, 0.1, -1.0, 5.0)


@pytest.mark.parametrize("a, b", [(-math.inf, math.inf), (0.0, math.inf), (-math.inf, 1.0)], ids=str)
def test_trunc_normal_takes_infinite_bounds_where_torch_does(a, b):
    x = init.trunc_normal_(np.empty(N_DRAWS), 0.0, 1.0, a, b, generator=np.random.default_rng(4))
    reference = torch.nn.init.trunc_normal_(torch.empty(N_TORCH, dtype=torch.float64), 0.0, 1.0, a, b,
                                            generator=torch.Generator().manual_seed(4))
    assert_truncated_normal(x, 0.0, 1.0, a, b, reference.numpy())


@pytest.mark.parametrize("wrong", [
    lambda rng, n: np.clip(rng.standard_normal(n), -2, 2),                 # clipped, not redrawn
    lambda rng, n: rng.standard_normal(n) * 0.88,                          # right std, no bounds
    lambda rng, n: rng.uniform(-2, 2, n),                                  # in bounds, wrong law
    lambda rng, n: rng.standard_normal(3 * n)[np.abs(rng.standard_normal(3 * n)) <= 2][:n],  # mask of others
], ids=["clipped", "unbounded", "uniform", "other-mask"])
def test_the_law_check_catches_wrong_samplers(wrong):
    """The check above fails on plausible wrong formulas for N(0, 1) on [-2, 2]."""
    reference = torch.nn.init.trunc_normal_(torch.empty(N_TORCH, dtype=torch.float64),
                                            generator=torch.Generator().manual_seed(0)).numpy()
    with pytest.raises(AssertionError):
        assert_truncated_normal(wrong(np.random.default_rng(0), N_DRAWS), 0.0, 1.0, -2.0, 2.0, reference)


def test_trunc_normal_bounds_hold_in_the_arrays_dtype():
    """Values are rounded before the bounds test, as torch: never past float32(b) even for b = 0.1."""
    x = init.trunc_normal_(np.empty(200_000, np.float32), 0.1, 0.01, 0.0999, 0.1)
    assert x.min() >= np.float32(0.0999) and x.max() <= np.float32(0.1)
    assert np.all(init.trunc_normal_(np.empty(5), a=1.0, b=1.0) == 1.0)          # torch too
    assert np.all(torch.nn.init.trunc_normal_(torch.empty(5), a=1.0, b=1.0).numpy() == 1.0)


def test_trunc_normal_keeps_draws_that_round_onto_a_bound_as_torch():
    """N(1000, 1) on [999, 1001] in float16 (step 0.5 there): a draw rounding to 999 or 1001 is kept,
    so each of the five values comes as often as in torch's draws (within 6 standard errors)."""
    x = init.trunc_normal_(np.empty(N_TORCH, np.float16), 1000.0, 1.0, 999.0, 1001.0,
                           generator=np.random.default_rng(7))
    reference = torch.nn.init.trunc_normal_(torch.empty(N_TORCH, dtype=torch.float16), 1000.0, 1.0, 999.0,
                                            1001.0, generator=torch.Generator().manual_seed(7)).numpy()
    values = np.arange(999.0, 1001.5, 0.5)
    ours, theirs = [np.array([np.mean(s == v) for v in values]) for s in (x, reference)]
    assert ours.sum() == 1.0 and theirs.sum() == 1.0 and theirs.min() > 0.1
    np.testing.assert_allclose(ours, theirs, atol=6 * math.sqrt(0.25 * 2 / N_TORCH))


def test_trunc_normal_refuses_a_hopeless_law_instead_of_looping(monkeypatch):
    """[1e5, 2e5] sigmas out accepts 1e-10 of its uniform proposals: torch loops on; here a RuntimeError
    once the proposals pass a budget (2**28 + 1000 per element; made small here to keep the test quick)."""
    monkeypatch.setattr(init.truncated, "_MAX_PROPOSALS", 10**5)
    with pytest.raises(RuntimeError, match=r"trunc_normal_: 10 values still missing .* bring mean nearer"):
        init.trunc_normal_(np.empty(10), 0.0, 1.0, 1e5, 2e5)
    x = init.trunc_normal_(np.empty(10), 0.0, 1.0, 30.0, 31.0)      # far out, but 3% accepted: drawn
    assert np.all((x >= 30.0) & (x < 30.5))


class _RunawayError(Exception):
    """More draws than trunc_normal_'s proposal budget allows."""


class _BoundedGenerator(np.random.Generator):
    """A NumPy Generator that raises _RunawayError once more than ``limit`` values have been drawn (so a
    sampler that ignores its budget fails here instead of looping on)."""

    def __init__(self, seed, limit):
        super().__init__(np.random.PCG64(seed))
        self.drawn, self.limit = 0, limit

    def _count(self, size):
        self.drawn += int(np.prod(size))
        if self.drawn > self.limit:
            raise _RunawayError(f"{self.drawn} values drawn, past the budget's {self.limit}")

    def random(self, size=None, dtype=np.float64, out=None):
        self._count(size)
        return super().random(size, dtype, out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        self._count(size)
        return super().standard_normal(size, dtype, out)


@pytest.mark.parametrize("bounds", [(1e5, 2e5), (-2e5, -1e5)], ids=["right", "left"])
def test_trunc_normal_stops_within_its_budget_plus_one_round(monkeypatch, bounds):
    """The budget check (truncated.py, ``proposed > _MAX_PROPOSALS + 1000 * size``) runs before
    each round, so a hopeless law draws at most the budget plus one round (two values a proposal:
    the proposal and its acceptance draw) before its RuntimeError; a sampler without the check
    draws on, which the generator stops with _RunawayError. Budget and rounds made small: quick."""
    monkeypatch.setattr(init.truncated, "_MAX_PROPOSALS", 10**5)
    monkeypatch.setattr(init.truncated, "_BATCH", 2**12)
    size = 10
    limit = 2 * (10**5 + 1000 * size + 2**12)
    rng = _BoundedGenerator(0, limit)
    with pytest.raises(RuntimeError, match=r"trunc_normal_: 10 values still missing after \d+ proposals"):
        init.trunc_normal_(np.empty(size), 0.0, 1.0, *bounds, generator=rng)
    assert 10**5 + 1000 * size < rng.drawn / 2 <= limit / 2


def test_trunc_normal_draws_a_law_accepting_few_proposals_within_its_budget():
    """mean 2 std below [a, b] = [0, 1], std = 1e-5: about 4e-6 of the uniform proposals are accepted,
    so 10 values take millions of proposals, far inside the budget of 2**28 + 1000 per element."""
    x = init.trunc_normal_(np.empty(10), -2e-5, 1e-5, 0.0, 1.0, generator=np.random.default_rng(1))
    assert np.all((x >= 0.0) & (x < 1e-4))


@pytest.mark.parametrize("mean, std, a, b", [(1.0, 4.0, 3.0, math.inf), (1.0, 0.25, 1.2, math.inf),
                                             (1.0, 4.0, -math.inf, -1.0), (1.0, 0.25, -math.inf, 0.8)],
                         ids=["p=0.31", "p=0.21", "p=0.31-left", "p=0.21-left"])
def test_trunc_normal_on_a_half_line_draws_where_torch_does(mean, std, a, b):
    """Torch picks its sampler by p = Phi((b - mean) / std) - Phi((a - mean) / std) > 0.3: on a half
    line it draws for p = 0.31 and fails for p = 0.21 (mean != 0, std != 1: the standardisation
    is checked)."""
    try:
        torch.nn.init.trunc_normal_(torch.empty(5), mean, std, a, b)
    except RuntimeError:
        with pytest.raises(ValueError, match="neither sampler applies"):
            init.trunc_normal_(np.empty(5), mean, std, a, b)
    else:
        x = init.trunc_normal_(np.empty(N_TORCH), mean, std, a, b, generator=np.random.default_rng(2))
        assert_truncated_normal(x, mean, std, a, b)


# (ours, torch's, our error): torch fails on each as well (ZeroDivisionError, RuntimeError...)
TRUNC_ERRORS = [
    (lambda: init.trunc_normal_(np.empty(3), std=0.0), lambda: torch.nn.init.trunc_normal_(
        torch.empty(3), std=0.0), r"trunc_normal_: std must be a number in \(0"),
    (lambda: init.trunc_normal_(np.empty(3), a=2.0, b=1.0), lambda: torch.nn.init.trunc_normal_(
        torch.empty(3), a=2.0, b=1.0), r"trunc_normal_: expected a <= b, got a=2.0, b=1.0"),
    (lambda: init.trunc_normal_(np.empty(3), a=3.0, b=math.inf), lambda: torch.nn.init.trunc_normal_(
        torch.empty(3), a=3.0, b=math.inf), r"\[3.0, inf\] holds only p = 0.00135 .* give finite bounds"),
    (lambda: init.trunc_normal_(np.empty(3), a=math.nan), lambda: torch.nn.init.trunc_normal_(
        torch.empty(3), a=math.nan), r"trunc_normal_: a must be a number \(-inf and inf allowed\), got nan"),
]


@pytest.mark.parametrize("ours, theirs, message", TRUNC_ERRORS, ids=["std0", "a>b", "tail-to-inf", "nan"])
def test_trunc_normal_refuses_what_torch_cannot_draw(ours, theirs, message):
    with pytest.raises(Exception):  # noqa: B017 - torch's kinds differ: the point is that it fails too
        theirs()
    with pytest.raises(ValueError, match=message):
        ours()


# ---- orthogonal_ ---------------------------------------------------------------------------------

ORTHO_SHAPES = [(5, 3), (3, 5), (4, 4), (1, 6), (6, 1), (8, 2, 3), (2, 3, 2, 2), (16, 3, 3, 3), (1, 1)]


@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)], ids=["f64", "f32"])
@pytest.mark.parametrize("gain", [1, 0.5, -2.0], ids=str)
def test_orthogonal_is_gain_times_semi_orthogonal_as_torch_flattens_it(shape, dtype, tol, gain):
    x = init.orthogonal_(np.empty(shape, dtype), gain=gain)
    assert x.dtype == dtype and x.shape == shape
    q = x.reshape(shape[0], -1).astype(np.float64)          # torch's flattening: (rows, prod(rest))
    small = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=tol * gain**2 * 4)


@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
def test_orthogonal_is_torchs_algorithm_on_the_same_draws(shape):
    """torch's own orthogonal_ fed our Gaussian matrix gives our result: the transposes for wide
    shapes and the sign fix of QR's Q (without which the law is not Haar) are torch's."""
    rows = shape[0]
    g = np.random.default_rng(7).standard_normal((rows, math.prod(shape) // rows))
    theirs = torch.empty(shape, dtype=torch.float64)
    with InjectDraws(g):
        torch.nn.init.orthogonal_(theirs, gain=1.5)
    ours = init.orthogonal_(np.empty(shape), gain=1.5, generator=np.random.default_rng(7))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-13)


def test_orthogonal_is_haar_distributed():
    """Each entry of a Haar 3x3 orthogonal matrix has mean 0 and variance 1/3 (QR's Q without the
    sign fix has a first column of one sign: its mean would be about -0.5)."""
    draws = np.stack([init.orthogonal_(np.empty((3, 3))) for _ in range(4000)])
    assert np.abs(draws.mean(axis=0)).max() < 5 * math.sqrt(1 / 3 / 4000)
    np.testing.assert_allclose((draws**2).mean(axis=0), 1 / 3, atol=0.03)


def test_orthogonal_errors_and_empty_arrays_as_torch():
    for fill in (lambda t: torch.nn.init.orthogonal_(t), lambda t: init.orthogonal_(t.numpy())):
        with pytest.raises(ValueError, match="2 or more dimensions"):
            fill(torch.empty(5))
    assert init.orthogonal_(np.empty((0, 3))).shape == (0, 3)
    with pytest.raises(ValueError, match="orthogonal_: gain must be a number"):
        init.orthogonal_(np.empty((2, 2)), gain="1")


# ---- sparse_ -------------------------------------------------------------------------------------


def _sparse_oracle(x_shape, torch_view_t: bool, sparsity, std, seed, dtype=np.float64):
    """torch's sparse_ on OUR draws: the normal values, then the generator's uniforms argsorted per
    column of torch's (out, in) view as the permutations torch's randperm would give."""
    rng = np.random.default_rng(seed)
    normal = std * rng.standard_normal(x_shape, dtype=dtype)
    view = normal.T if torch_view_t else normal                 # torch's (out, in)
    perms = list(np.argsort(rng.random(view.shape), axis=0).T)
    theirs = torch.empty(view.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with InjectDraws(np.ascontiguousarray(view), perms):
        torch.nn.init.sparse_(theirs, sparsity, std)
    return theirs.numpy()


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9),
       sparsity=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]), std=st.sampled_from([0.01, 1.0]),
       seed=st.integers(0, 1000))
def test_sparse_is_torchs_on_the_same_draws_in_torchs_layout(rows, cols, sparsity, std, seed):
    """A Linear(rows, cols)'s W (in, out) = torch's weight.T; Linear.weight (out, in) is torch's own;
    an RNN's weight_ih_l0 is stored (out, in) as in torch."""
    layer = mt.Linear(rows, cols, dtype=np.float64)
    init.sparse_(layer.W, sparsity, std, generator=np.random.default_rng(seed))
    np.testing.assert_array_equal(layer.W.data.T, _sparse_oracle((rows, cols), True, sparsity, std, seed))
    init.sparse_(layer.weight, sparsity, std, generator=np.random.default_rng(seed))
    np.testing.assert_array_equal(layer.weight.data, _sparse_oracle((cols, rows), False, sparsity, std, seed))
    rnn = mt.RNN(rows, cols, dtype=np.float64)
    init.sparse_(rnn.weight_ih_l0, sparsity, std, generator=np.random.default_rng(seed))
    np.testing.assert_array_equal(rnn.weight_ih_l0.data,
                                  _sparse_oracle((cols, rows), False, sparsity, std, seed))


def test_sparse_zeros_each_inputs_weights_by_the_fan_convention():
    """Linear(5, 7): torch zeros ceil(0.5 * 7) = 4 of each input's 7 weights: a row of W here."""
    w = init.sparse_(mt.Linear(5, 7).W, 0.5).data
    assert list((w == 0).sum(axis=1)) == [4] * 5
    t = torch.nn.init.sparse_(torch.nn.Linear(5, 7).weight.detach(), 0.5)
    assert list((t == 0).sum(dim=0)) == [4] * 5
    x = init.sparse_(np.empty((5, 7), np.float32), 0.5)            # a 2-D array of your own: (in, out)
    assert list((x == 0).sum(axis=1)) == [4] * 5 and x.dtype == np.float32


def test_sparse_errors():
    for fill in (lambda t: torch.nn.init.sparse_(t, 0.5), lambda t: init.sparse_(t.numpy(), 0.5)):
        with pytest.raises(ValueError, match=r"2 dimensions|2-D"):
            fill(torch.empty(2, 3, 4))
    with pytest.raises(ValueError, match=r"sparse_: sparsity must be a number in \[0, 1\], got 1.5"):
        init.sparse_(np.empty((4, 3)), 1.5)    # torch zeros everything
    with pytest.raises(ValueError, match="normal_: std must be a number"):
        init.sparse_(np.empty((4, 3)), 0.5, std=-1.0)


# ---- eye_ and dirac_ -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 1), (0, 2)], ids=str)
def test_eye_equals_torchs(shape):
    ours = init.eye_(np.full(shape, 7.0, np.float32))
    np.testing.assert_array_equal(ours, torch.nn.init.eye_(torch.full(shape, 7.0)).numpy())


def test_eye_on_a_linear_is_torchs_for_the_same_layer():
    layer = mt.Linear(5, 3)
    init.eye_(layer.W)
    theirs = torch.nn.init.eye_(torch.nn.Linear(5, 3).weight.detach())
    np.testing.assert_array_equal(layer.W.data, theirs.numpy().T)
    np.testing.assert_array_equal(layer.weight.data, theirs.numpy())


DIRAC = [((4, 4, 3), 1), ((6, 4, 3), 2), ((3, 5, 4), 1), ((6, 2, 3, 3), 3), ((4, 6, 2, 4), 2),
         ((2, 2, 3, 3, 3), 1), ((4, 1, 2, 3, 4), 4), ((5, 3, 1), 5)]


@pytest.mark.parametrize("shape, groups", DIRAC, ids=str)
def test_dirac_equals_torchs(shape, groups):
    ours = init.dirac_(np.full(shape, 7.0), groups)
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.full(shape, 7.0), groups).numpy())


def test_dirac_is_an_identity_convolution():
    conv = mt.Conv2d(3, 3, 3, padding=1)
    init.dirac_(conv.weight)
    init.zeros_(conv.bias)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(conv(x), x)


# (our call, torch's call): both refuse
STRUCTURE_ERRORS = [
    (lambda: init.eye_(np.empty(3)), lambda: torch.nn.init.eye_(torch.empty(3)), "eye_: expected a 2-D"),
    (lambda: init.eye_(np.empty((2, 2, 2))), lambda: torch.nn.init.eye_(torch.empty(2, 2, 2)),
     "eye_: expected a 2-D"),
    (lambda: init.dirac_(np.empty((3, 3))), lambda: torch.nn.init.dirac_(torch.empty(3, 3)),
     r"dirac_: expected a weight of 3, 4 or 5 dimensions"),
    (lambda: init.dirac_(np.empty((6, 4, 3)), 4), lambda: torch.nn.init.dirac_(torch.empty(6, 4, 3), 4),
     r"dirac_: dim 0 \(out channels\) = 6 must be divisible by groups = 4"),
    (lambda: init.dirac_(np.empty((6, 4, 3)), 0), lambda: torch.nn.init.dirac_(torch.empty(6, 4, 3), 0),
     "dirac_: groups must be a positive integer, got 0"),
    (lambda: init.dirac_(np.empty((6, 4, 3)), 2.0), lambda: torch.nn.init.dirac_(torch.empty(6, 4, 3), 2.0),
     "dirac_: groups must be a positive integer, got 2.0"),
]


@pytest.mark.parametrize("ours, theirs, message", STRUCTURE_ERRORS,
                         ids=["eye-1d", "eye-3d", "dirac-2d", "dirac-groups", "dirac-groups0", "dirac-float"])
def test_structured_fills_refuse_what_torch_refuses(ours, theirs, message):
    with pytest.raises(Exception):  # noqa: B017 - ValueError, ZeroDivisionError or TypeError in torch
        theirs()
    with pytest.raises(ValueError, match=message):
        ours()


# ---- kaiming's mode (reproducibility: tests/test_init.py) ----------------------------------------


def test_kaiming_reads_mode_in_any_case_as_torch():
    for fill in (init.kaiming_uniform_, init.kaiming_normal_):
        a = fill(np.empty((40, 10)), mode="FAN_OUT", generator=np.random.default_rng(0))
        b = fill(np.empty((40, 10)), mode="fan_out", generator=np.random.default_rng(0))
        np.testing.assert_array_equal(a, b)
        getattr(torch.nn.init, fill.__name__)(torch.empty(40, 10), mode="FAN_OUT")    # accepted there too


