"""``reset_parameters()`` re-initialises a layer in place, with its constructor's law, as torch's.

Every layer with Parameters has it where torch's layer has it (MultiheadAttention has torch's
``_reset_parameters`` instead, BatchNorm ``reset_running_stats`` too); it redraws into the existing
arrays (same Parameter objects, same ``data`` arrays, dtype and memory layout, so an optimizer keeps
training them); a seeded reset repeats the constructor's draws bitwise; the law is torch's (a
two-sample Kolmogorov-Smirnov check against torch's own ``reset_parameters``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cases import INPUT_CASES, MODULE_CASES

import minitorch as mt
from minitorch.interop import from_torch, to_torch
from minitorch.layers.out_projection import OutProjection

# id -> factory: every layer with Parameters, with the options that change which Parameters it has
CASES = {
    "Linear": lambda: mt.Linear(5, 3),
    "Linear-nobias-f64": lambda: mt.Linear(4, 2, bias=False, dtype=np.float64),
    "Conv1d": lambda: mt.Conv1d(2, 3, 3),
    "Conv2d": lambda: mt.Conv2d(2, 3, (2, 3)),
    "Conv2d-nobias-f64": lambda: mt.Conv2d(1, 2, 2, bias=False, dtype=np.float64),
    "ConvTranspose2d": lambda: mt.ConvTranspose2d(2, 3, (3, 2)),
    "BatchNorm1d": lambda: mt.BatchNorm1d(3),
    "BatchNorm2d-untracked": lambda: mt.BatchNorm2d(3, track_running_stats=False),
    "BatchNorm2d-noaffine-f64": lambda: mt.BatchNorm2d(3, affine=False, dtype=np.float64),
    "LayerNorm": lambda: mt.LayerNorm((2, 3)),
    "LayerNorm-nobias": lambda: mt.LayerNorm(3, bias=False),
    "GroupNorm": lambda: mt.GroupNorm(2, 4),
    "PReLU": lambda: mt.PReLU(3, init=0.1),
    "Embedding-padding": lambda: mt.Embedding(6, 3, padding_idx=2),
    "Embedding-f64": lambda: mt.Embedding(5, 4, dtype=np.float64),
    "RNN": lambda: mt.RNN(3, 4, num_layers=2),
    "LSTM": lambda: mt.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2),
    "GRU-nobias": lambda: mt.GRU(3, 4, bias=False),
    "RNNCell": lambda: mt.RNNCell(3, 4, nonlinearity="relu"),
    "LSTMCell": lambda: mt.LSTMCell(3, 2),
    "GRUCell-nobias": lambda: mt.GRUCell(2, 3, bias=False),
    "OutProjection": lambda: OutProjection(4, 3),
    "MultiheadAttention": lambda: mt.MultiheadAttention(4, 2),
    "MultiheadAttention-kvdim": lambda: mt.MultiheadAttention(4, 2, kdim=3, vdim=5, bias=False),
}
CASES.update({
    "RMSNorm": lambda: mt.RMSNorm((2, 3)),
    "RMSNorm-f64": lambda: mt.RMSNorm(3, eps=1e-3, dtype=np.float64),
})
COVERED = {type(factory()) for factory in CASES.values()}
# The constructor draws exactly what reset_parameters draws, in the same order: all but
# MultiheadAttention, which draws out_proj.weight after the in-projection, and which torch's
# _reset_parameters keeps (only in_proj and the biases are reset), and OutProjection, whose
# constructor zeroes the bias that its reset_parameters (torch's Linear's) draws
SEEDED_EXACT = [name for name in CASES if not name.startswith(("MultiheadAttention", "OutProjection"))]


def reset(module):
    """torch's spelling: MultiheadAttention's is ``_reset_parameters``, every other layer's public."""
    return (module._reset_parameters if hasattr(module, "_reset_parameters") else module.reset_parameters)()


def state(module) -> dict[str, np.ndarray]:
    """Every Parameter's and buffer's array itself (not a copy), by name."""
    named = {name: p.data for name, p in module.named_parameters()}
    return named | {name: b for name, b in module.named_buffers() if b is not None}


def scramble(module) -> None:
    """Every Parameter and buffer overwritten in place (what training would do)."""
    rng = np.random.default_rng(99)
    for name, array in state(module).items():
        array[...] = 7 if name.endswith("num_batches_tracked") else rng.standard_normal(array.shape) * 5


def assert_bitwise(a: dict[str, np.ndarray], b: dict[str, np.ndarray], names=None) -> None:
    for name in names or a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name, strict=True)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("name", SEEDED_EXACT)
def test_a_seeded_reset_redraws_the_constructors_parameters_bitwise(name, seed):
    mt.manual_seed(seed)
    fresh = CASES[name]()
    mt.manual_seed(seed)
    trained = CASES[name]()
    scramble(trained)
    mt.manual_seed(seed)
    assert trained.reset_parameters() is None
    assert_bitwise(state(fresh), state(trained))


def test_out_projection_reset_redraws_the_weight_bitwise_then_draws_the_bias_as_torchs_linear():
    mt.manual_seed(5)
    fresh = OutProjection(4, 3)
    mt.manual_seed(5)
    proj = OutProjection(4, 3)
    scramble(proj)
    mt.manual_seed(5)
    proj.reset_parameters()
    assert_bitwise(state(fresh), state(proj), ["weight"])
    assert np.all(fresh.bias.data == 0)
    assert np.all(np.abs(proj.bias.data) <= 1 / math.sqrt(4)) and np.all(proj.bias.data != 0)


def test_a_batchnorm_that_trained_is_reset_to_its_initial_statistics():
    """A real training step (not only scrambled arrays): the running statistics and count go back."""
    fresh, bn = mt.BatchNorm1d(3), mt.BatchNorm1d(3)
    opt = mt.SGD(bn.parameters(), lr=0.5)
    y = bn(np.random.default_rng(1).standard_normal((8, 3)) * 3 + 2)
    bn.backward(y)
    opt.step()
    assert bn.num_batches_tracked == 1 and not np.allclose(bn.running_mean, 0)
    bn.reset_running_stats()
    assert_bitwise(state(fresh), state(bn), ["running_mean", "running_var", "num_batches_tracked"])
    assert not np.array_equal(bn.weight.data, fresh.weight.data)  # reset_running_stats keeps the affine
    bn.reset_parameters()
    assert_bitwise(state(fresh), state(bn))


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("kvdim", [{}, {"kdim": 3, "vdim": 5}])
def test_multihead_attention_reset_is_torchs_reset_parameters(kvdim, seed):
    """_reset_parameters redraws the in-projection as the constructor drew it and zeroes both biases;
    out_proj.weight is kept (torch's does not touch it); out_proj.reset_parameters redraws it."""
    mt.manual_seed(seed)
    fresh = mt.MultiheadAttention(4, 2, **kvdim)
    mt.manual_seed(seed)
    mha = mt.MultiheadAttention(4, 2, **kvdim)
    scramble(mha)
    kept = mha.out_proj.weight.data.copy()
    mt.manual_seed(seed)
    assert mha._reset_parameters() is None
    assert not hasattr(mha, "reset_parameters")  # as torch's MultiheadAttention
    drawn = [name for name in state(fresh) if not name.startswith("out_proj")]
    assert_bitwise(state(fresh), state(mha), drawn + ["out_proj.bias"])
    np.testing.assert_array_equal(mha.out_proj.weight.data, kept)
    mt.manual_seed(seed)
    mha.out_proj.reset_parameters()  # torch's Linear.reset_parameters: the bias is drawn too
    k = 1 / math.sqrt(4)
    assert np.all(np.abs(mha.out_proj.bias.data) <= k) and np.any(mha.out_proj.bias.data != 0)


def test_a_from_pretrained_embedding_is_redrawn_into_the_given_array_as_torch():
    given = np.zeros((4, 3))
    emb = mt.Embedding.from_pretrained(given, padding_idx=1)
    emb.reset_parameters()
    assert emb.weight.data is given and np.all(given[1] == 0) and np.all(given[[0, 2, 3]] != 0)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("name", list(CASES))
def test_reset_is_in_place_keeping_objects_dtype_layout_and_grads(name, layout):
    module = CASES[name]()
    for p in module.parameters():
        if layout == "F":
            p.data = np.asfortranarray(p.data)
        elif layout == "strided":
            p.data = np.repeat(p.data, 2, axis=-1)[..., ::2]
        p.grad = np.full(p.data.shape, 3.0, p.data.dtype)
    params = dict(module.named_parameters())
    arrays = state(module)
    kept = {n: (a.dtype, a.strides, a.flags.f_contiguous, a.flags.c_contiguous) for n, a in arrays.items()}
    grads = {n: p.grad for n, p in params.items()}
    scramble(module)
    reset(module)
    assert dict(module.named_parameters()) == params and all(
        module.get_parameter(n) is p for n, p in params.items())
    after = state(module)
    assert after.keys() == arrays.keys()
    for n, a in after.items():
        assert a is arrays[n], n
        assert (a.dtype, a.strides, a.flags.f_contiguous, a.flags.c_contiguous) == kept[n], n
        assert np.all(np.isfinite(a)), n
    for n, p in params.items():
        assert p.grad is grads[n] and np.all(p.grad == 3), n  # torch's reset leaves .grad alone


def test_an_optimizer_built_before_the_reset_keeps_training_the_model():
    """model.apply(...) as users write it: the model is back at its seeded start (running statistics
    too), and the optimizer's Parameters are still the model's, so its next step moves them."""
    build = lambda: mt.Sequential(mt.Linear(3, 4), mt.BatchNorm1d(4), mt.ReLU(), mt.Linear(4, 2))  # noqa: E731
    mt.manual_seed(0)
    fresh = build()
    mt.manual_seed(0)
    model = build()
    opt = mt.SGD(model.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    model.backward(np.ones_like(model(x)))
    opt.step()
    mt.manual_seed(0)
    model.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
    assert_bitwise(fresh.state_dict(), model.state_dict())
    opt.zero_grad()
    model.backward(np.ones_like(model(x)))
    opt.step()
    assert all(not np.array_equal(p.data, q.data)
               for p, q in zip(model.parameters(), fresh.parameters(), strict=True))


# ---- the law: torch's, checked against torch's own reset on the same layer --------------------------


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, "right") / a.size
                               - np.searchsorted(b, grid, "right") / b.size)))


def same_law(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Whether the samples may come from one (zero-centred) law: KS distance under its 1e-6 critical
    value, and the same scale: for a bounded law (torch's max |x| under 1.8 std: a uniform's is
    sqrt(3) std, a normal sample's about 3.5 std) the same max |x| within 2% (a wrong bound shows at
    its edge), else the same std within 10%; both bounded or neither."""
    n, m = ours.size, theirs.size
    critical = math.sqrt(-math.log(1e-6 / 2) / 2) * math.sqrt((n + m) / (n * m))
    bounded = lambda x: np.abs(x).max() <= 1.8 * x.std()  # noqa: E731
    if bounded(ours) != bounded(theirs):
        return False
    if bounded(theirs):
        scale = np.abs(ours).max() / np.abs(theirs).max()
        tolerance = 0.02
    else:
        scale, tolerance = ours.std() / theirs.std(), 0.1
    return ks_distance(ours, theirs) < critical and abs(scale - 1) < tolerance


def torch_layout(module, twin) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Where each of our arrays' elements comes from in the twin: its tensors by name, and for each of
    our arrays the flat indices into those tensors joined (what ``from_torch`` maps, found once by
    converting a twin whose every element holds its own index)."""
    if isinstance(module, OutProjection):
        tensors = {"weight": twin.weight, "bias": twin.bias}
        back = OutProjection(module.in_features, module.out_features, dtype=np.float64)
        start = twin.weight.numel()
        back.weight.data[...] = np.arange(start).reshape(back.weight.shape)
        back.bias.data[...] = np.arange(start, start + twin.bias.numel())
        return tensors, {k: a.ravel().astype(np.int64) for k, a in state(back).items()}
    tensors = dict(twin.named_parameters()) | {k: b for k, b in twin.named_buffers() if b is not None}
    saved = {k: t.detach().clone() for k, t in tensors.items()}
    start = 0
    with torch.no_grad():
        for t in tensors.values():
            t.copy_(torch.arange(start, start + t.numel()).reshape(t.shape))
            start += t.numel()
    index = {k: a.ravel().astype(np.int64) for k, a in state(from_torch(twin)).items()}
    with torch.no_grad():
        for k, t in tensors.items():
            t.copy_(saved[k])
    return tensors, index


def samples(name: str, draws: int = 2000) -> tuple[dict, dict]:
    """name -> (our values, torch's values) over repeated resets of one layer and of its torch twin
    (torch's values in our layout: as ``from_torch`` of the twin gives them, see torch_layout)."""
    module = CASES[name]()
    twin = torch.nn.Linear(module.in_features, module.out_features) if name == "OutProjection" \
        else to_torch(module)
    tensors, index = torch_layout(module, twin)
    smallest = min(a.size for a in state(module).values())
    ours, theirs = {}, {}
    for seed in range(max(1, min(300, math.ceil(draws / smallest)))):
        mt.manual_seed(seed)
        reset(module)
        # torch's CPU generator, the one its CPU layers draw from (torch.manual_seed also queues a seed,
        # with a formatted stack, for each device it has not started: most of this loop's time)
        torch.default_generator.manual_seed(seed)
        with torch.no_grad():
            reset(twin)
        flat = np.concatenate([t.detach().numpy().ravel().astype(np.float64) for t in tensors.values()])
        for key, array in state(module).items():
            ours.setdefault(key, []).append(array.ravel().copy())
            theirs.setdefault(key, []).append(flat[index[key]].astype(array.dtype))
    joined = lambda drawn: {k: np.concatenate(v) for k, v in drawn.items()}  # noqa: E731
    return joined(ours), joined(theirs)


@pytest.mark.parametrize("name", list(CASES))
def test_reset_draws_torchs_law(name):
    ours, theirs = samples(name)
    for key in ours:
        if np.all(theirs[key] == theirs[key][0]):  # a constant (1, 0, init, a zeroed row): exactly it
            np.testing.assert_array_equal(ours[key], theirs[key].astype(ours[key].dtype), err_msg=key)
        elif name.startswith("Embedding") and key == "weight":  # only the padding row is constant
            assert same_law(ours[key][ours[key] != 0], theirs[key][theirs[key] != 0]), key
            assert np.count_nonzero(ours[key] == 0) == np.count_nonzero(theirs[key] == 0), key
        else:
            assert same_law(ours[key], theirs[key]), key


@pytest.mark.parametrize("wrong", [1.05, 0.95])
def test_the_law_check_catches_a_scale_a_few_percent_off(wrong):
    rng = np.random.default_rng(0)
    uniform, normal = rng.uniform(-0.5, 0.5, 2000), rng.standard_normal(2000)
    assert same_law(rng.uniform(-0.5, 0.5, 2000), uniform) and same_law(rng.standard_normal(2000), normal)
    assert not same_law(rng.uniform(-0.5 * wrong, 0.5 * wrong, 2000), uniform)
    assert not same_law(rng.standard_normal(2000) * (1 + 3 * (wrong - 1)), normal)
    assert not same_law(rng.standard_normal(2000) * math.sqrt(1 / 12), uniform)  # same std, not uniform
    assert not same_law(rng.uniform(-math.sqrt(3), math.sqrt(3), 2000), normal)


# ---- no layer can miss it ------------------------------------------------------------------------


EXPORTED = sorted(name for name in dir(mt) if isinstance(getattr(mt, name), type)
                  and issubclass(getattr(mt, name), mt.Module) and hasattr(torch.nn, name))


@pytest.mark.parametrize("name", EXPORTED)
def test_every_exported_layer_has_torchs_reset_methods(name):
    for method in ("reset_parameters", "_reset_parameters", "reset_running_stats"):
        assert hasattr(getattr(mt, name), method) == hasattr(getattr(torch.nn, name), method), method


def test_every_registered_module_with_parameters_can_be_reset_and_is_tested_here():
    """Every module (and submodule) the case registries build that owns Parameters: a layer added to
    them without reset_parameters, or without a case above, fails here."""
    owners = set()
    for _, factory, _ in MODULE_CASES + INPUT_CASES:
        for module in factory().modules():
            if any(p is not None for p in module._parameters.values()):
                owners.add(type(module))
    assert owners  # the registries were read
    for cls in owners:
        assert hasattr(cls, "reset_parameters") or hasattr(cls, "_reset_parameters"), cls.__name__
        assert cls in COVERED, f"{cls.__name__}: add a case to CASES"


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_a_recurrent_reset_draws_every_parameter_in_torchs_parameters_order(cls):
    """torch's RNNBase / RNNCellBase.reset_parameters: ``for weight in self.parameters()``, so a
    Parameter re-added after a ``del`` is drawn last, one added after construction is drawn too, and
    one held under two names (tied) is drawn once. MiniTorch's order is its own ``parameters()``'s,
    which is torch's (checked by name against torch's layer edited the same way)."""
    args = (3, 3)
    ours, theirs = getattr(mt, cls)(*args), getattr(torch.nn, cls)(*args)
    makers = (lambda a: mt.Parameter(a), lambda a: torch.nn.Parameter(torch.tensor(a)))
    for module, make in zip((ours, theirs), makers, strict=True):
        first = next(name for name, _ in module.named_parameters())
        replacement = make(np.zeros(tuple(getattr(module, first).shape)))
        delattr(module, first)
        setattr(module, first, replacement)  # re-added: now the last Parameter
        module.extra = make(np.zeros(2))  # added after construction
        second = [name for name, _ in module.named_parameters()][1]
        module.tied = getattr(module, second)  # one Parameter under two names
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == [
        n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    k = 1.0 / math.sqrt(3)
    mt.manual_seed(4)
    expected = [mt.random.generator().uniform(-k, k, p.data.shape) for p in ours.parameters()]
    mt.manual_seed(4)
    ours.reset_parameters()
    for p, want in zip(ours.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.data, want.astype(p.data.dtype))
