"""Every promise of the Module contract (CONTRACT §2-§4), checked on every case of every registry.

tests/test_contract.py shows each promise on one example; here each promise is a test over every
module case (tests/cases.py: ``MODULE_CASES`` and ``INPUT_CASES``) and every loss case
(tests/test_losses.py: ``LOSS_CASES``), so a layer added to a registry is checked for the whole
class of bug with no new line here:

1. one instance called twice before any backward gives each call's own gradients (newest first);
2. a second backward (or backward_params) for one forward raises RuntimeError naming the module;
3. a forward under ``mt.no_grad()`` keeps nothing, and a backward after it raises; one between a
   forward and its backward changes nothing; a dy of the wrong shape is refused (ValueError naming
   the module) before any gradient is added, and the forward call waits for the retry (CONTRACT §3);
4. forward + backward leaves no call waiting and no state lost: the next pair gives what a fresh
   module holding the same public state gives (catches state kept in ``_`` attributes, which the
   per-call machinery resets after backward);
5. ``backward_params`` gives the gradients ``backward`` gives;
6. one loss object called for two terms backpropagates both, newest first;
7. every exported Module subclass is in some case (or in the commented exclusions below);
8. arrays a caller holds (outputs, per-call caches) are never handed to a later call, also where
   reference counts read lower (CPython 3.14): the kernels' pool reuses an array by its count;
9. a module with Parameters or floating buffers (running statistics) computes in their dtype:
   float64 data into a float32 module gives, bit for bit and in float32, what the data cast to
   float32 gives (output, dx, every gradient); one without computes in the input's dtype;
10. a module whose Parameters are laid out otherwise in memory (each of ``LAYOUTS``: Fortran order,
   negative strides, a strided view; one-row inference lays a large Linear's weight out Fortran
   order in eval mode) gives the same output, dx and gradients, each gradient of its Parameter's
   shape and, for a column-major one, column-major too (torch's gradient layout contract: an
   optimizer's step then pairs the two arrays' elements in memory order), and an in-place change
   of ``p.data`` (an optimizer step) reaches the next forward;
11. a gradient does not change when the caller writes, in place and after backward returns, the
   forward's input or the dy it gave backward (a loader refilling its batch array, a loss reusing
   its dy): the gradients read then are, bit for bit, those of a run without the writes. Checked
   where the kernels may keep a weight gradient as its product, computed when read
   (``Parameter.defer_matmul``): every weight large (``SMALL_WEIGHT_BYTES``), after a plain-SGD
   step, each single-input case run inside a ``Sequential`` (the chain kernel's own case);
12. the output is the caller's own: writing into it in place between the forward and its backward
   (zeroing a sequence's padded steps, adding noise) changes neither dx nor any gradient, bit for
   bit (torch gives the same; where it cannot, it raises). A module returns a fresh array, or a view
   of its input (``Flatten``, ``Identity``), never an array its backward reads;
13. a setting edited after construction is read as torch reads it: every public setting torch's
   same-named class reads at forward (``SETTINGS``, ``LOSS_SETTINGS``: case, attribute, another
   valid value), set after a first forward + backward (a plan or cache keyed on the old value is
   made then), gives the output, input gradients, parameter gradients and buffers of a module
   constructed with that value holding the same state, kernels on and off; set between a forward
   and its backward, the backward is that forward's (torch's autograd keeps the values it read),
   or it raises naming the module and the setting. Every public attribute named as a constructor
   parameter of a registered class is in a table or in ``FIXED`` with its reason.
   tests/test_settings_edited.py runs the same tables against torch 2.13 itself;
14. a Parameter assigned to a twin by any name the module shows it under (registered, or an alias
   such as Linear's ``weight``, torch's tie ``b.weight = a.weight``) makes the twin hold that very
   Parameter, or raises: never a silent copy training apart, never a view registered beside its base.

Random layers (dropout) are seeded before each forward call, so the runs compared draw the same masks.
tests/test_contract_registry_mutants.py shows each test failing on a layer that breaks its promise.
"""

from __future__ import annotations

import copy
import inspect
import re
import sys

import numpy as np
import pytest
from cases import INPUT_CASES, LAYOUTS, MODULE_CASES
from test_losses import LOSS_CASES
from test_losses import make_data as _make_data

import minitorch as mt
from minitorch.gradcheck import _upstream
from minitorch.kernels import containers, flat, pool
from minitorch.kernels import optimizers as optimizer_kernels

# The per-call machinery's own slots (minitorch.call_frames) and the registries: not module state
_MACHINERY = {"_parameters", "_modules", "_buffers", "_frame", "_stack", "_shown", "_busy"}


def _single(shape):
    return lambda rng: (rng.standard_normal(shape),)


CASES = [(i, f, _single(s)) for i, f, s in MODULE_CASES] + list(INPUT_CASES)
IDS = [c[0] for c in CASES]
ARGS = [c[1:] for c in CASES]
# Losses whose per-element loss may be negative (LOSS_CASES' property tests assume l >= 0): their
# contract is checked here. (id, loss given a reduction, data kind of make_data)
DIVERGENCE_CASES = [
    ("KLDivLoss", lambda r: mt.KLDivLoss(reduction=r), "log-probs-probs"),
    ("KLDivLoss-log-target", lambda r: mt.KLDivLoss(reduction=r, log_target=True), "log-probs-log-probs"),
]
# More losses of (input, target) outside LOSS_CASES (a loss that may be negative, or a target
# make_data below builds); tests/test_losses_more.py has their torch grids
MORE_LOSS_CASES = [
    ("PoissonNLLLoss", lambda r: mt.PoissonNLLLoss(reduction=r), "rates-counts"),
    ("PoissonNLLLoss-rates-full", lambda r: mt.PoissonNLLLoss(False, True, r), "rates-counts"),
    ("HingeEmbeddingLoss", lambda r: mt.HingeEmbeddingLoss(reduction=r), "scores-signs"),
    ("MultiLabelMarginLoss", lambda r: mt.MultiLabelMarginLoss(reduction=r), "scores-label-lists"),
]
# Losses of three inputs: their contract (per-call frames, no_grad, a second backward) is checked in
# tests/test_losses_more.py, which calls them with three arrays
SEVERAL_INPUT_LOSSES = [mt.GaussianNLLLoss, mt.MarginRankingLoss, mt.CosineEmbeddingLoss,
                        mt.TripletMarginLoss]
DIVERGENCE_CASES += MORE_LOSS_CASES
LOSS_IDS = [c[0] for c in LOSS_CASES] + [c[0] for c in DIVERGENCE_CASES]
LOSS_ARGS = [(c[1], c[3]) for c in LOSS_CASES] + [(c[1], c[2]) for c in DIVERGENCE_CASES]


def make_data(kind, rng, n=4, c=5):
    """tests/test_losses.py's data, and log-probabilities against probabilities for the divergences."""
    if kind in _MORE_KINDS:
        return _MORE_KINDS[kind](rng, n, c)
    if not kind.startswith("log-probs-") or kind == "log-probs-index":
        return _make_data(kind, rng, n, c)
    x, _ = _make_data("log-probs-index", rng, n, c)
    t = rng.dirichlet(np.ones(c), size=n)
    return x, (np.log(t) if kind == "log-probs-log-probs" else t)


def _label_lists(rng, n, c):
    """Rows of class indices ending at -1 (MultiLabelMarginLoss's targets)."""
    rows = [np.concatenate([rng.permutation(c)[:rng.integers(0, c + 1)], [-1] * c])[:c] for _ in range(n)]
    return np.array(rows, dtype=np.int64).reshape(n, c)


_MORE_KINDS = {
    "rates-counts": lambda rng, n, c: (rng.uniform(0.1, 3, (n, c)), rng.poisson(2.0, (n, c)).astype(float)),
    "scores-signs": lambda rng, n, c: (rng.standard_normal((n, c)), rng.choice([-1.0, 1.0], (n, c))),
    "scores-label-lists": lambda rng, n, c: (rng.standard_normal((n, c)), _label_lists(rng, n, c)),
}


@pytest.fixture(autouse=True)
def float64():
    mt.set_default_dtype(np.float64)
    yield
    mt.set_default_dtype(np.float32)


def _build(factory):
    mt.manual_seed(0)
    return factory()


def _call(module, inputs, seed):
    mt.manual_seed(seed)  # the same dropout masks in every run compared
    return module(*inputs)


def _flat(tree):
    """The leaves of a nested tuple, None kept (an integer input's gradient, an absent output)."""
    if isinstance(tree, tuple):
        return [leaf for item in tree for leaf in _flat(item)]
    return [tree]


def _assert_same(got, expected, what):
    got, expected = _flat(got), _flat(expected)
    assert len(got) == len(expected), what
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        if b is None or a is None:
            assert a is None and b is None, f"{what}[{i}]: {a!r} vs {b!r}"
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"{what}[{i}]")


def _grads(module):
    return tuple(None if p.grad is None else p.grad.copy() for p in module.parameters())


def _pair(module, inputs, upstream, seed):
    """One forward and its backward: (output, input gradients)."""
    out = _call(module, inputs, seed)
    return out, module.backward(upstream)


def _data(factory, make_inputs, count=2):
    """``count`` (inputs, upstream) pairs of the case's shapes, with different values."""
    rng = np.random.default_rng(1)
    pairs = []
    for k in range(count):
        inputs = make_inputs(rng)
        out = _call(_build(factory), inputs, 10 + k)
        pairs.append((inputs, _upstream(out, rng, False)))
    return pairs


def _holds_array(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_array(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_array(v) for v in value.values())
    return False


def _private(module):
    return {k: v for k, v in module.__dict__.items()
            if k.startswith("_") and k not in _MACHINERY and not isinstance(v, (mt.Parameter, mt.Module))}


def _public(module):
    """Every submodule's public non-registered attributes (training, options, counters), by dotted name."""
    found = {}
    for prefix, m in module.named_modules():
        for k, v in m.__dict__.items():
            if not k.startswith("_") and not isinstance(v, (mt.Parameter, mt.Module)) and k not in m._buffers:
                found[f"{prefix}.{k}"] = v
    return found


def _assert_same_public_state(got, expected):
    a, b = got.state_dict(), expected.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14, err_msg=name)
    pa, pb = _public(got), _public(expected)
    assert pa.keys() == pb.keys()
    for name in pa:
        if _holds_array(pb[name]) or hasattr(pb[name], "__array__"):  # arrays, views of Parameters
            _assert_same(pa[name], pb[name], name)
        else:
            assert pa[name] == pb[name], name


def _no_waiting_calls(module):
    waiting = [f"{name or type(m).__name__}: {len(m._stack)}" for name, m in module.named_modules()
               if m._stack]
    assert not waiting, f"forward calls still waiting: {waiting}"


# --- 1. one instance, two calls, backward newest first ---------------------------------------------
@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_two_calls_before_backward_give_each_calls_gradients(factory, make_inputs):
    (in1, up1), (in2, up2) = _data(factory, make_inputs)
    module = _build(factory)
    first, second = copy.deepcopy(module), copy.deepcopy(module)  # the separate runs
    y1, y2 = _call(module, in1, 10), _call(module, in2, 11)
    dx2 = module.backward(up2)
    dx1 = module.backward(up1)
    ya, dxa = _pair(first, in1, up1, 10)
    yb, dxb = _pair(second, in2, up2, 11)
    _assert_same(y1, ya, "first output")
    _assert_same(y2, yb, "second output")
    _assert_same(dx1, dxa, "first call's input gradient")
    _assert_same(dx2, dxb, "second call's input gradient")
    triples = zip(module.named_parameters(), first.parameters(), second.parameters(), strict=True)
    for (name, p), pa, pb in triples:
        if pa.grad is None and pb.grad is None:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad, pa.grad + pb.grad, rtol=1e-12, atol=1e-14, err_msg=name)
    _no_waiting_calls(module)


# --- 2. a second backward for one forward -----------------------------------------------------------
def _names_the_module(module, message):
    """The error names the module itself (or, for a container keeping no frame, one of its layers)."""
    own = type(module).__name__
    keeps_frames = type(module).__dict__.get("_per_call_frames", True)  # as Module.__init_subclass__ reads it
    names = [own] if keeps_frames else sorted({type(m).__name__ for m in module.modules()})
    return any(re.search(rf"\b{re.escape(n)}\.backward\w*\(\)", message) for n in names)


@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_second_backward_for_one_forward_raises_naming_the_module(factory, make_inputs, method):
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    module = _build(factory)
    _call(module, inputs, 10)
    getattr(module, method)(upstream)
    with pytest.raises(RuntimeError, match="called before forward") as info:
        getattr(module, method)(upstream)
    assert _names_the_module(module, str(info.value)), str(info.value)


@pytest.mark.parametrize("method", ["backward", "backward_params"])
@pytest.mark.parametrize("ours, kind", LOSS_ARGS, ids=LOSS_IDS)
def test_second_loss_backward_for_one_forward_raises_naming_the_loss(ours, kind, method):
    loss_fn = ours("mean")
    loss_fn(*make_data(kind, np.random.default_rng(0)))
    getattr(loss_fn, method)(1.0)
    with pytest.raises(RuntimeError, match=rf"{type(loss_fn).__name__}\.{method}\(\) called before forward"):
        getattr(loss_fn, method)(1.0)


# --- 3. no_grad keeps nothing -------------------------------------------------------------------------
def _assert_keeps_nothing(module, before):
    for (name, m), kept in zip(module.named_modules(), before, strict=True):
        assert not m._stack, f"{name or type(m).__name__}: a forward call waits after no_grad"
        for attr, value in _private(m).items():
            if attr in kept and kept[attr] is value:
                continue  # set in __init__, not by this forward
            assert not _holds_array(value), f"{name or type(m).__name__}.{attr} holds an array after no_grad"


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_no_grad_forward_keeps_no_frame_and_backward_after_it_raises(factory, make_inputs):
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    module = _build(factory)
    before = [_private(m) for m in module.modules()]
    with mt.no_grad():
        _call(module, inputs, 10)
    _assert_keeps_nothing(module, before)
    with pytest.raises(RuntimeError, match="called before forward"):
        module.backward(upstream)


@pytest.mark.parametrize("ours, kind", LOSS_ARGS, ids=LOSS_IDS)
def test_no_grad_loss_keeps_nothing(ours, kind):
    loss_fn = ours("none")
    before = [_private(loss_fn)]
    with mt.no_grad():
        losses = loss_fn(*make_data(kind, np.random.default_rng(0)))
    _assert_keeps_nothing(loss_fn, before)
    with pytest.raises(RuntimeError, match=rf"{type(loss_fn).__name__}\.backward"):
        loss_fn.backward(np.ones(np.shape(losses)))


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_no_grad_forward_between_a_forward_and_its_backward_changes_nothing(factory, make_inputs):
    (in1, up1), (in2, _) = _data(factory, make_inputs)
    module = _build(factory)
    clean = copy.deepcopy(module)
    y, dx = _call(module, in1, 10), None
    with mt.no_grad():
        _call(module, in2, 11)  # logging on another batch mid-step
    dx = module.backward(up1)
    y_clean, dx_clean = _pair(clean, in1, up1, 10)
    _assert_same(y, y_clean, "output")
    _assert_same(dx, dx_clean, "input gradient")
    _assert_same(_grads(module), _grads(clean), "parameter gradients")


def _wrong(upstream):
    """The upstream gradient with its first array one element longer on the last axis."""
    if isinstance(upstream, tuple):
        first = next(i for i, u in enumerate(upstream) if any(leaf is not None for leaf in _flat(u)))
        return upstream[:first] + (_wrong(upstream[first]),) + upstream[first + 1:]
    return np.zeros(upstream.shape[:-1] + (upstream.shape[-1] + 1,) if upstream.ndim else (2,))


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_a_refused_dy_names_the_module_and_leaves_the_forward_waiting(factory, make_inputs):
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    module = _build(factory)
    clean = copy.deepcopy(module)
    y = _call(module, inputs, 10)
    with pytest.raises(ValueError) as info:
        module.backward(_wrong(upstream))
    assert _names_the_layer(module, str(info.value)), str(info.value)
    assert all(p.grad is None for p in module.parameters()), "a refused dy accumulated a gradient"
    dx = module.backward(upstream)  # the retry consumes the call, once
    y_clean, dx_clean = _pair(clean, inputs, upstream, 10)
    _assert_same(y, y_clean, "output")
    _assert_same(dx, dx_clean, "input gradient")
    _assert_same(_grads(module), _grads(clean), "parameter gradients")
    _no_waiting_calls(module)


def _names_the_layer(module, message):
    return any(re.search(rf"\b{re.escape(type(m).__name__)}\b", message) for m in module.modules())


# --- 4. forward + backward leaves nothing waiting and loses no state ---------------------------------
@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_forward_backward_pair_leaves_no_frame_and_loses_no_state(factory, make_inputs):
    (in1, up1), (in2, up2) = _data(factory, make_inputs)
    module = _build(factory)
    pristine = copy.deepcopy(module)
    _pair(module, in1, up1, 10)
    _no_waiting_calls(module)
    # state set in __init__ under a "_" name and reassigned by forward would be reset to None here
    for (name, m), f in zip(module.named_modules(), pristine.modules(), strict=True):
        lost = [k for k, v in _private(f).items() if v is not None and m.__dict__.get(k) is None]
        who = name or type(m).__name__
        assert not lost, f"{who}: {lost}, set in __init__, are None after forward + backward"
    # a fresh module given the public state after the first pair answers the second pair the same
    fresh = copy.deepcopy(pristine)
    fresh.load_state_dict(module.state_dict())
    for m, f in zip(module.modules(), fresh.modules(), strict=True):
        for k, v in m.__dict__.items():
            if not k.startswith("_") and not isinstance(v, (mt.Parameter, mt.Module)) and k not in m._buffers:
                object.__setattr__(f, k, copy.deepcopy(v))
    module.zero_grad()
    y, dx = _pair(module, in2, up2, 11)
    y_fresh, dx_fresh = _pair(fresh, in2, up2, 11)
    _assert_same(y, y_fresh, "second output")
    _assert_same(dx, dx_fresh, "second input gradient")
    _assert_same(_grads(module), _grads(fresh), "second parameter gradients")
    _assert_same_public_state(module, fresh)
    _no_waiting_calls(module)


# --- 5. backward_params = backward's parameter half -------------------------------------------------
@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_backward_params_gives_the_gradients_of_backward(factory, make_inputs):
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    full = _build(factory)
    half = copy.deepcopy(full)
    _pair(full, inputs, upstream, 10)
    _call(half, inputs, 10)
    assert half.backward_params(upstream) is None
    _assert_same(_grads(half), _grads(full), "parameter gradients")
    _no_waiting_calls(half)


# --- 6. one loss object for two terms ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ours, kind", LOSS_ARGS, ids=LOSS_IDS)
def test_one_loss_for_two_terms_gives_both_gradients_newest_first(ours, kind, reduction):
    rng = np.random.default_rng(0)
    (x1, t1), (x2, t2) = make_data(kind, rng), make_data(kind, rng, n=3)  # the second batch smaller
    loss_fn = ours(reduction)
    l1, l2 = loss_fn(x1, t1), loss_fn(x2, t2)
    dl1, dl2 = (_upstream(np.asarray(loss), rng, True) for loss in (l1, l2))
    d2 = loss_fn.backward(dl2)
    d1 = loss_fn.backward(dl1)
    for x, t, dl, got in ((x1, t1, dl1, d1), (x2, t2, dl2, d2)):
        separate = ours(reduction)
        separate(x, t)
        np.testing.assert_allclose(got, separate.backward(dl), rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match=rf"{type(loss_fn).__name__}\.backward"):
        loss_fn.backward(dl1)


# --- 8. held arrays are never reused, whatever the interpreter's reference counts -------------------
def _counts_read_one_lower(monkeypatch):
    """Reference counts one lower than this interpreter's, as CPython 3.14's (a local passed as an
    argument is borrowed, not counted); the kernels' pool probes them again."""
    real = sys.getrefcount
    lower = lambda a: real(a) - 2  # noqa: E731 (real(a) here also counts this lambda's argument)
    monkeypatch.setattr(sys, "getrefcount", lower)
    monkeypatch.setattr(pool, "_getrefcount", lower)
    monkeypatch.setattr(pool, "_sole", [])


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_held_arrays_survive_later_calls_when_reference_counts_read_lower(factory, make_inputs, monkeypatch):
    _counts_read_one_lower(monkeypatch)
    mt.kernels.use_kernels(True)
    test_two_calls_before_backward_give_each_calls_gradients(factory, make_inputs)  # caches held
    (in1, _), (in2, _) = _data(factory, make_inputs)
    module = _build(factory)
    with mt.no_grad():  # no cache holds the outputs: only the caller
        y1 = _call(module, in1, 10)
        kept = [None if a is None else np.array(a) for a in _flat(y1)]
        _call(module, in2, 11)
    _assert_same(tuple(_flat(y1)), tuple(kept), "an output held across a later call")


# --- 7. every exported module is in a registry ----------------------------------------------------------
EXCLUDED = {
    mt.Module,  # the base class: nothing to call
    mt.Loss,  # the losses' base class: forward raises NotImplementedError
    mt.ModuleList,  # containers hold modules and are not called (tests/test_contract.py: Tower)
    mt.ModuleDict,
}


def test_every_exported_module_is_in_a_registry():
    covered = set()
    for _, factory, _ in CASES:
        covered |= {type(m) for m in _build(factory).modules()}
    covered |= {type(ours("mean")) for ours, _ in LOSS_ARGS} | set(SEVERAL_INPUT_LOSSES)
    exported = {getattr(mt, name) for name in mt.__all__}
    modules = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, mt.Module)}
    missing = sorted(cls.__name__ for cls in modules - covered - EXCLUDED)
    assert not missing, f"no case in tests/cases.py, LOSS_CASES or DIVERGENCE_CASES for {missing}"


# --- 9. data of another floating dtype: the module's dtype decides -----------------------------------
# except where torch takes the input's dtype with a weight of another (RMSNorm: y and dx in x's dtype,
# the weight's gradient in its own; tests/test_functional_more.py checks the values against torch)
INPUT_DTYPE_MODULES = {mt.RMSNorm}


@pytest.mark.parametrize("factory, shape", [(f, s) for _, f, s in MODULE_CASES],
                         ids=[i for i, _, _ in MODULE_CASES])
def test_float64_data_into_a_float32_module_computes_as_its_float32_cast(factory, shape):
    mt.set_default_dtype(np.float32)  # the module in float32 (the autouse fixture resets the default)
    module = _build(factory)
    x = np.random.default_rng(3).standard_normal(shape)
    state = [*(p.data for p in module.parameters()), *(b for b in module.buffers() if b.dtype.kind == "f")]
    if not state:  # the input's own dtype decides
        for data in (x, x.astype(np.float32)):
            out = _call(module, (data,), 5)
            dx = module.backward(np.ones_like(out))
            assert out.dtype == dx.dtype == data.dtype
        return
    if type(module) in INPUT_DTYPE_MODULES:  # torch computes these in the input's dtype
        for data in (x, x.astype(np.float32)):
            module.zero_grad()
            out = _call(module, (data,), 5)
            dx = module.backward(np.ones_like(out))
            assert out.dtype == dx.dtype == data.dtype
            assert all(g is None or g.dtype == np.float32 for g in _grads(module))
        return
    results = []
    for data in (x, x.astype(np.float32)):
        module.zero_grad()
        out = _call(module, (data,), 5)
        upstream = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
        dx = module.backward(upstream)
        results.append((out, dx, _grads(module)))
    (out, dx, grads), (out32, dx32, grads32) = results
    assert out.dtype == out32.dtype == np.float32 and dx.dtype == dx32.dtype == np.float32
    for got, expected in zip((out, dx, *grads), (out32, dx32, *grads32), strict=True):
        assert (got is None and expected is None) or got.tobytes() == expected.tobytes()


# --- 10. Parameters laid out otherwise in memory: the same numbers -----------------------------------
WITH_PARAMETERS = [(i, a) for i, a in zip(IDS, ARGS, strict=True) if next(_build(a[0]).parameters(), None)]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("factory, make_inputs", [a for _, a in WITH_PARAMETERS],
                         ids=[i for i, _ in WITH_PARAMETERS])
def test_parameters_in_another_memory_layout_give_the_same_numbers(factory, make_inputs, layout):
    module, relaid = _build(factory), _build(factory)
    params = list(relaid.parameters())
    for p in params:
        p.data = LAYOUTS[layout](p.data)
    (inputs, upstream), _ = _data(factory, make_inputs)
    results = []
    for m in (module, relaid):
        m.zero_grad()
        out, dx = _pair(m, inputs, upstream, 5)
        results.append((out, dx, _grads(m)))
    (out, dx, grads), (out2, dx2, grads2) = results
    _assert_same(out2, out, "output")
    _assert_same(dx2, dx, "dx")
    for p, g2 in zip(params, relaid.parameters(), strict=True):  # torch's gradient layout contract
        g, g2 = p.grad, g2.grad
        assert g is None or (g.shape == p.data.shape and (layout != "fortran" or g.flags.f_contiguous))
    _assert_same(grads2, grads, "gradients")
    for p, q in zip(module.parameters(), params, strict=True):  # an optimizer's in-place step
        p.data -= 0.5 * np.sign(p.data)
        q.data -= 0.5 * np.sign(q.data)
    _assert_same(_call(relaid, inputs, 6), _call(module, inputs, 6), "output after an in-place step")


# --- 11. the caller's arrays written after backward: the gradients stay -----------------------------
def _every_weight_deferrable(monkeypatch):
    """Every weight large for the chain kernels and every SGD group updated inline by plain SGD's
    update kernel (no flat group): the step marks each Parameter whose next product may wait."""
    monkeypatch.setattr(containers, "SMALL_WEIGHT_BYTES", 1)
    monkeypatch.setattr(optimizer_kernels, "BLAS_MIN", 1)
    monkeypatch.setattr(flat, "MAX_ELEMENTS", 0)


def _overwrite(tree):
    """Every writable array leaf of ``tree`` overwritten in place (floats, integers, booleans)."""
    for leaf in _flat(tree):
        if isinstance(leaf, np.ndarray) and leaf.flags.writeable:
            if leaf.dtype.kind == "b":
                np.logical_not(leaf, out=leaf)
            elif leaf.dtype.kind in "iu":
                leaf[...] = 0  # a valid index of any table
            else:
                leaf[...] = 7.0


def _grads_after_caller_writes(factory, data, write):
    """The gradients of one forward + backward (after a plain-SGD step on another batch), read
    after the caller has (``write``) or has not written that pair's input and dy in place."""
    (in1, up1), (in2, up2) = copy.deepcopy(data)
    module = _build(factory)
    if len(in1) == 1 and not isinstance(module, mt.Sequential):
        module = mt.Sequential(module)  # the chain kernel's case: a Sequential of the layer
    optimizer = mt.SGD(module.parameters(), lr=0.01)
    _pair(module, in1, up1, 10)
    optimizer.step()
    optimizer.zero_grad()
    _pair(module, in2, up2, 11)
    if write:
        _overwrite(in2)
        _overwrite(up2)
    return _grads(module)


@pytest.mark.parametrize("factory, make_inputs", [a for _, a in WITH_PARAMETERS],
                         ids=[i for i, _ in WITH_PARAMETERS])
def test_gradients_stay_when_the_caller_writes_its_input_and_dy_after_backward(factory, make_inputs,
                                                                                monkeypatch):
    _every_weight_deferrable(monkeypatch)
    kernels = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(True)
    try:
        data = _data(factory, make_inputs)
        kept = _grads_after_caller_writes(factory, data, write=False)
        written = _grads_after_caller_writes(factory, data, write=True)
    finally:
        mt.kernels.use_kernels(kernels)
    assert len(kept) == len(written)
    for (name, _), a, b in zip(_build(factory).named_parameters(), written, kept, strict=True):
        assert (a is None and b is None) or (a is not None and b is not None and a.dtype == b.dtype
                                             and a.tobytes() == b.tobytes()), f"{name}: the gradient changed"


# --- 12. the caller's output written before backward: the gradients stay ---------------------------
def _after_the_output_is_written(factory, inputs, upstream, write):
    """dx and the gradients of one forward + backward, the forward's output overwritten in place
    (``write``) or not between the two (a caller zeroing padded steps, adding noise)."""
    inputs, upstream = copy.deepcopy((inputs, upstream))
    module = _build(factory)
    out = _call(module, inputs, 10)
    if write:
        _overwrite(out)
    return module.backward(upstream), _grads(module)


@pytest.mark.parametrize("factory, make_inputs", ARGS, ids=IDS)
def test_writing_the_output_before_backward_changes_no_gradient(factory, make_inputs):
    (inputs, upstream), = _data(factory, make_inputs, count=1)
    written = _after_the_output_is_written(factory, inputs, upstream, write=True)
    kept = _after_the_output_is_written(factory, inputs, upstream, write=False)
    for i, (a, b) in enumerate(zip(_flat(written), _flat(kept), strict=True)):
        assert (a is None and b is None) or (a is not None and b is not None and a.dtype == b.dtype
                                             and a.tobytes() == b.tobytes()), f"result {i} changed"


# --- 13. a setting edited after construction is read as torch reads it ----------------------------
# (case id, {attribute: another valid value}): each edit is made after a first forward + backward
# with the constructed value (a kernel's plan, a cache keyed on the setting, is made then)
_W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])
SETTINGS = [
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("ELU", {"alpha": 0.4}),
    ("GELU", {"approximate": "tanh"}),
    ("GELU-tanh", {"approximate": "none"}),
    ("Softplus", {"beta": 2.0}),
    ("Softplus-beta-threshold", {"threshold": 0.5}),
    ("Hardtanh", {"min_val": -0.3}),
    ("Hardtanh-range", {"max_val": 0.4}),
    ("Softmax", {"dim": 0}),
    ("Softmax-3d-dim1", {"dim": -1}),
    ("LogSoftmax", {"dim": 0}),
    ("LogSoftmax-3d-dim1", {"dim": 0}),
    ("Flatten", {"start_dim": 2}),
    ("Flatten-middle", {"end_dim": -1}),
    ("Unflatten", {"unflattened_size": (3, 2)}),
    ("Unflatten-minus-one", {"dim": 1, "unflattened_size": (3, 1)}),
    ("Dropout", {"p": 0.7}),
    ("Dropout-p1-train", {"p": 0.5}),
    ("Dropout-eval", {"p": 1.0}),
    ("Dropout2d", {"p": 0.2}),
    ("Dropout2d-p1-train", {"p": 0.0}),
    ("BatchNorm1d", {"eps": 0.5}),
    ("BatchNorm1d", {"momentum": 0.6}),
    ("BatchNorm1d", {"momentum": None}),
    ("BatchNorm1d-cumulative-average", {"momentum": 0.3}),
    ("BatchNorm1d-eval", {"eps": 0.5}),
    ("BatchNorm2d", {"eps": 0.5}),
    ("BatchNorm2d", {"momentum": 0.6}),
    ("BatchNorm2d-eval", {"eps": 0.3}),
    ("LayerNorm", {"eps": 0.5}),
    ("LayerNorm-no-affine", {"normalized_shape": (4, 5)}),
    ("GroupNorm", {"eps": 0.5}),
    ("GroupNorm", {"num_groups": 4}),
    ("GroupNorm-instance-no-affine", {"num_groups": 1}),
    ("Conv2d", {"stride": 2}),
    ("Conv2d", {"padding": 1}),
    ("Conv2d", {"dilation": 2}),
    ("Conv1d", {"stride": 2}),
    ("Conv1d", {"padding": 1}),
    ("Conv1d", {"dilation": 2}),
    ("ConvTranspose2d", {"stride": 2}),
    ("ConvTranspose2d", {"padding": (1, 1)}),  # torch 2.13 refuses an int here at forward
    ("ConvTranspose2d", {"dilation": 2}),
    ("ConvTranspose2d-stride-pad-outpad", {"output_padding": 0}),
    ("MaxPool2d", {"kernel_size": 3}),
    ("MaxPool2d", {"stride": 1}),
    ("MaxPool2d", {"padding": 1}),
    ("MaxPool2d", {"dilation": 2}),
    ("MaxPool2d", {"ceil_mode": True}),
    ("MaxPool2d", {"return_indices": True}),
    ("MaxPool2d-return-indices", {"return_indices": False}),
    ("AvgPool2d", {"kernel_size": 3}),
    ("AvgPool2d", {"stride": 1}),
    ("AvgPool2d", {"padding": 1}),
    ("AvgPool2d", {"ceil_mode": True}),
    ("AvgPool2d-overlap-pad", {"count_include_pad": False}),
    ("AvgPool2d", {"divisor_override": 3}),
    ("AdaptiveAvgPool2d-global", {"output_size": (2, 3)}),
    ("AdaptiveMaxPool2d-global", {"output_size": 2}),
    ("AdaptiveMaxPool2d-global", {"return_indices": True}),
    ("MaxUnpool2d", {"kernel_size": 3}),
    ("MaxUnpool2d", {"stride": 3}),
    ("MaxUnpool2d-pad-unbatched", {"padding": 0}),
    ("Upsample-nearest", {"scale_factor": 3}),
    ("Upsample-nearest-size", {"size": (4, 6)}),
    ("Upsample-nearest", {"mode": "bilinear"}),
    ("Upsample-bilinear", {"align_corners": True}),
    ("Embedding", {"padding_idx": 3}),
    ("Embedding-padding", {"padding_idx": None}),
    ("MultiheadAttention", {"num_heads": 4}),
    ("MultiheadAttention-T1", {"batch_first": True}),
    ("MultiheadAttention-dropout-1-train", {"dropout": 0.0}),
    ("MultiheadAttention-dropout-train", {"dropout": 0.2}),
    ("RNN", {"batch_first": True}),
    ("RNN-relu-2-layers-h0", {"dropout": 1.0}),
    ("LSTM", {"batch_first": True}),
    ("LSTM-dropout-train", {"dropout": 0.2}),
    ("GRU", {"batch_first": True}),
    ("GRU-dropout-1-train", {"dropout": 0.0}),
    ("RNNCell", {"nonlinearity": "relu"}),
    ("TransformerEncoderLayer-post-relu", {"norm_first": True}),
    ("TransformerEncoderLayer-pre-gelu-batch-first", {"norm_first": False}),
    ("TransformerEncoderLayer-post-relu", {"activation": mt.GELU(approximate="tanh")}),
    # the decoder (minitorch/layers/transformer_decoder.py)
    ("TransformerDecoderLayer-post-relu", {"norm_first": True}),
    ("TransformerDecoderLayer-pre-gelu-batch-first", {"norm_first": False}),
    ("TransformerDecoderLayer-post-relu", {"activation": mt.GELU(approximate="tanh")}),
]
SETTINGS += [  # more torch.nn activations and RMSNorm
    ("CELU-alpha-0.6", {"alpha": 1.5}),
    ("Threshold", {"threshold": 0.5}),
    ("Threshold", {"value": 3.0}),
    ("Softmin", {"dim": 0}),
    ("Softmin-3d-dim0", {"dim": -1}),
    ("Softshrink", {"lambd": 0.1}),
    ("Hardshrink", {"lambd": 1.0}),
    ("GLU-dim1-3d", {"dim": 0}),
    ("RMSNorm", {"eps": 0.5}),
    ("RMSNorm-2d-eps", {"eps": None}),
    ("RMSNorm-no-affine", {"normalized_shape": (3, 5)}),
]
SETTINGS += [  # 1-D pooling and padding layers: every setting read at forward, as torch's
    ("MaxPool1d", {"kernel_size": 3}),
    ("MaxPool1d", {"stride": 1}),
    ("MaxPool1d", {"padding": 1}),
    ("MaxPool1d", {"dilation": 2}),
    ("MaxPool1d", {"ceil_mode": True}),
    ("MaxPool1d", {"return_indices": True}),
    ("AvgPool1d", {"kernel_size": (2,)}),
    ("AvgPool1d", {"stride": 1}),
    ("AvgPool1d", {"padding": 0}),
    ("AvgPool1d", {"ceil_mode": True}),
    ("AvgPool1d", {"count_include_pad": False}),
    ("AdaptiveAvgPool1d", {"output_size": 5}),
    ("AdaptiveMaxPool1d-overlap", {"output_size": 2}),
    ("AdaptiveMaxPool1d-overlap", {"return_indices": True}),
    ("MaxUnpool1d", {"kernel_size": 3}),
    ("MaxUnpool1d", {"stride": 3}),
    ("MaxUnpool1d-pad-unbatched", {"padding": 0}),
    ("ZeroPad1d-crop", {"padding": (1, 2)}),
    ("ConstantPad1d", {"padding": (0, 3)}),
    ("ConstantPad1d", {"value": 2.0}),
    ("ConstantPad2d-crop", {"padding": (1, 1, 1, 1)}),
    ("ConstantPad2d-crop", {"value": -3.0}),
    ("ZeroPad2d", {"padding": (2, 2, 2, 2)}),
    ("ReflectionPad1d", {"padding": (1, 4)}),
    ("ReflectionPad2d-crop", {"padding": (1, 1, 1, 1)}),
    ("ReplicationPad1d-crop", {"padding": (2, 2)}),
    ("ReplicationPad2d", {"padding": (0, 1, 2, 0)}),
    ("CircularPad1d", {"padding": (1, 1)}),
    ("CircularPad2d-crop", {"padding": (1, 2, 0, 1)}),
]
LOSS_SETTINGS = [
    ("MSELoss", {"reduction": "sum"}),
    ("L1Loss", {"reduction": "none"}),
    ("HuberLoss", {"delta": 0.5}),
    ("HuberLoss-delta-0.5", {"reduction": "none"}),
    ("SmoothL1Loss", {"beta": 2.0}),
    ("SmoothL1Loss-beta-0", {"beta": 0.5}),
    ("SmoothL1Loss-beta-2", {"reduction": "sum"}),
    ("BCELoss", {"weight": _W5}),
    ("BCELoss", {"reduction": "none"}),
    ("BCEWithLogitsLoss", {"weight": _W5}),
    ("BCEWithLogitsLoss", {"pos_weight": _W5}),
    ("BCEWithLogitsLoss", {"reduction": "sum"}),
    ("NLLLoss", {"weight": _W5}),
    ("NLLLoss", {"ignore_index": 2}),
    ("NLLLoss", {"reduction": "none"}),
    ("CrossEntropyLoss", {"weight": _W5}),
    ("CrossEntropyLoss", {"ignore_index": 2}),
    ("CrossEntropyLoss", {"label_smoothing": 0.2}),
    ("CrossEntropyLoss", {"reduction": "sum"}),
    ("CrossEntropyLoss", {"reduction": "none"}),
    ("CrossEntropyLoss-smoothing", {"label_smoothing": 0.0}),
    ("CrossEntropyLoss-probs", {"label_smoothing": 0.3}),
    ("CrossEntropyLoss-probs", {"weight": _W5}),
    ("CrossEntropyLoss-probs-smoothing", {"reduction": "none"}),
    ("KLDivLoss", {"reduction": "batchmean"}),
    ("KLDivLoss", {"log_target": True}),
    ("KLDivLoss-log-target", {"reduction": "sum"}),
]
LOSS_SETTINGS += [  # more losses
    ("PoissonNLLLoss", {"log_input": False}),
    ("PoissonNLLLoss", {"full": True}),
    ("PoissonNLLLoss-rates-full", {"eps": 0.5}),
    ("HingeEmbeddingLoss", {"margin": 0.3}),
    ("SoftMarginLoss", {"reduction": "sum"}),
    ("MultiLabelSoftMarginLoss", {"weight": _W5}),
    ("MultiMarginLoss", {"p": 2}),
    ("MultiMarginLoss", {"margin": 0.2}),
    ("MultiMarginLoss", {"weight": _W5}),
    ("MultiMarginLoss-p-2", {"reduction": "none"}),
    ("MultiLabelMarginLoss", {"reduction": "sum"}),
    ("PoissonNLLLoss-rates-full", {"reduction": "none"}),
    ("HingeEmbeddingLoss", {"reduction": "sum"}),
    ("MultiLabelSoftMarginLoss", {"reduction": "none"}),
]
# (class, constructor parameter kept as a public attribute): why no edit of it is in the tables
FIXED = {
    **{(c, a): "shapes the Parameters (torch's forward reads the Parameters)" for c, a in [
        ("Linear", "in_features"), ("Linear", "out_features"), ("OutProjection", "in_features"),
        ("OutProjection", "out_features"), ("Conv2d", "in_channels"), ("Conv2d", "out_channels"),
        ("Conv2d", "kernel_size"), ("Conv1d", "in_channels"), ("Conv1d", "out_channels"),
        ("Conv1d", "kernel_size"), ("ConvTranspose2d", "in_channels"), ("ConvTranspose2d", "out_channels"),
        ("ConvTranspose2d", "kernel_size"), ("BatchNorm1d", "num_features"), ("BatchNorm2d", "num_features"),
        ("BatchNorm1d", "affine"), ("BatchNorm2d", "affine"), ("GroupNorm", "num_channels"),
        ("GroupNorm", "affine"), ("LayerNorm", "elementwise_affine"), ("PReLU", "num_parameters"),
        ("Embedding", "num_embeddings"), ("Embedding", "embedding_dim"), ("MultiheadAttention", "embed_dim"),
        ("MultiheadAttention", "kdim"), ("MultiheadAttention", "vdim"),
        *[(c, a) for c in ("RNN", "LSTM", "GRU") for a in
          ("input_size", "hidden_size", "num_layers", "bias", "bidirectional", "proj_size")],
        *[(c, a) for c in ("RNNCell", "LSTMCell", "GRUCell") for a in ("input_size", "hidden_size", "bias")],
    ]},
    ("Conv2d", "bias"): "a Parameter (or None), not a setting",
    ("Conv1d", "bias"): "a Parameter (or None), not a setting",
    ("ConvTranspose2d", "bias"): "a Parameter (or None), not a setting",
    ("OutProjection", "bias"): "a Parameter (or None), not a setting",
    ("LayerNorm", "bias"): "a Parameter (or None), not a setting",
    ("PReLU", "init"): "weight's initial value only: torch's forward reads weight",
    ("RNN", "nonlinearity"): "torch's RNN.forward reads self.mode, set at construction (RNNCell's reads it)",
    ("TransformerEncoderLayer", "d_model"): "no such attribute in torch: its children's shapes",
    ("TransformerEncoderLayer", "nhead"): "no such attribute in torch: self_attn.num_heads is read",
    ("TransformerEncoderLayer", "dim_feedforward"): "no such attribute in torch: linear1's shape",
    ("TransformerEncoderLayer", "layer_norm_eps"): "no such attribute in torch: norm1.eps, norm2.eps read",
    ("TransformerEncoderLayer", "batch_first"): "no such attribute in torch: self_attn.batch_first is read",
    ("TransformerEncoderLayer", "dropout"): "a child Dropout module (its p is in the table as Dropout's)",
    ("BatchNorm1d", "track_running_stats"): "torch keeps the edited module's running statistics, a fresh "
                                            "one has none: tests/test_settings_edited.py checks it",
    ("BatchNorm2d", "track_running_stats"): "as BatchNorm1d's (tests/test_settings_edited.py)",
    ("TransformerEncoder", "num_layers"): "torch's forward runs self.layers, not num_layers",
    ("TransformerEncoder", "norm"): "a child module (or None), not a setting",
    ("TransformerEncoder", "enable_nested_tensor"): "torch's fast path only: no number changes",
    ("TransformerEncoder", "mask_check"): "torch's fast path only: no number changes",
    ("RMSNorm", "elementwise_affine"): "shapes the Parameters (torch's forward reads the weight)",
    # the decoder (minitorch/layers/transformer_decoder.py): as the encoder's
    ("TransformerDecoderLayer", "d_model"): "no such attribute in torch: its children's shapes",
    ("TransformerDecoderLayer", "nhead"): "no such attribute in torch: the attentions' num_heads are read",
    ("TransformerDecoderLayer", "dim_feedforward"): "no such attribute in torch: linear1's shape",
    ("TransformerDecoderLayer", "layer_norm_eps"): "no such attribute in torch: norm1/2/3.eps are read",
    ("TransformerDecoderLayer", "batch_first"): "no such attribute in torch: the attentions' are read",
    ("TransformerDecoderLayer", "dropout"): "a child Dropout module (its p is in the table as Dropout's)",
    ("TransformerDecoder", "num_layers"): "torch's forward runs self.layers, not num_layers",
    ("TransformerDecoder", "norm"): "a child module (or None), not a setting",
    # the encoder-decoder model (minitorch/layers/transformer_model.py): torch's forward reads these only
    # to check its inputs' shapes; the encoder's and decoder's children read their own
    ("Transformer", "d_model"): "read only by the input check: the children's shapes compute",
    ("Transformer", "nhead"): "no number reads it in torch: the attentions' num_heads are read",
    ("Transformer", "batch_first"): "read only by the input check: the attentions' batch_first compute",
}
CASE_ARGS = dict(zip(IDS, ARGS, strict=True))
LOSS_CASE_ARGS = dict(zip(LOSS_IDS, LOSS_ARGS, strict=True))


def _edit_id(case_id, edits):
    """The test id of a table entry: "LeakyReLU:negative_slope=0.2" (an array or a module by its type)."""
    shown = {k: type(v).__name__ if isinstance(v, (mt.Module, np.ndarray)) else v for k, v in edits.items()}
    return f"{case_id}:" + ",".join(f"{k}={v}" for k, v in shown.items())


def _edited(module, edits):
    for name, value in edits.items():
        setattr(module, name, copy.deepcopy(value))
    return module


def _rebuilt(module, edits):
    """A module of ``module``'s class constructed with the edited values, holding its state and mode."""
    args = dict(module._init_args)
    for name, value in args.items():  # a default the constructor worked out (MaxPool2d's stride)
        if value is None and getattr(module, name, None) is not None:
            args[name] = getattr(module, name)
    mt.manual_seed(0)
    fresh = type(module)(**{**args, **copy.deepcopy(edits)})
    fresh.load_state_dict(module.state_dict())
    return fresh.train(module.training)


@pytest.mark.parametrize("case_id, edits", SETTINGS, ids=[_edit_id(*s) for s in SETTINGS])
def test_a_setting_edited_after_construction_is_read_as_torch_reads_it(case_id, edits, kernels):
    factory, make_inputs = CASE_ARGS[case_id]
    rng = np.random.default_rng(1)
    inputs = make_inputs(rng)
    module = _build(factory)
    module.backward(_upstream(_call(module, inputs, 10), rng, False))  # a pair with the constructed value
    module.zero_grad()
    _edited(module, edits)
    fresh = _rebuilt(module, edits)
    y = _call(module, inputs, 11)
    upstream = _upstream(y, rng, False)
    dx = module.backward(upstream)
    y_fresh, dx_fresh = _pair(fresh, inputs, upstream, 11)
    _assert_same(y, y_fresh, "output")
    _assert_same(dx, dx_fresh, "input gradient")
    _assert_same(_grads(module), _grads(fresh), "parameter gradients")
    state, fresh_state = module.state_dict(), fresh.state_dict()  # running statistics: the edited momentum
    assert state.keys() == fresh_state.keys()
    for name in state:
        np.testing.assert_allclose(state[name], fresh_state[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("case_id, edits", SETTINGS, ids=[_edit_id(*s) for s in SETTINGS])
def test_a_setting_edited_between_forward_and_backward_gives_the_forwards_gradient_or_raises(
        case_id, edits, kernels):
    """torch's autograd differentiates the forward that ran, with the values it read; where a
    backward cannot, it raises naming the module and the setting."""
    factory, make_inputs = CASE_ARGS[case_id]
    ((inputs, upstream),) = _data(factory, make_inputs, 1)
    module = _build(factory)
    clean = copy.deepcopy(module)
    _call(module, inputs, 10)
    _edited(module, edits)
    try:
        dx = module.backward(upstream)
    except (ValueError, RuntimeError) as error:
        message = str(error)
        assert type(module).__name__ in message and all(name in message for name in edits), message
        return
    _, dx_clean = _pair(clean, inputs, upstream, 10)
    _assert_same(dx, dx_clean, "input gradient")
    _assert_same(_grads(module), _grads(clean), "parameter gradients")


@pytest.mark.parametrize("case_id, edits", LOSS_SETTINGS, ids=[_edit_id(*s) for s in LOSS_SETTINGS])
def test_a_loss_setting_edited_after_construction_is_read_as_torch_reads_it(case_id, edits, kernels):
    ours, kind = LOSS_CASE_ARGS[case_id]
    rng = np.random.default_rng(0)
    x, t = make_data(kind, rng)
    loss_fn = ours("mean")
    loss_fn(x, t)
    loss_fn.backward(1.0)  # a pair with the constructed value
    _edited(loss_fn, edits)
    fresh = _rebuilt(loss_fn, edits)
    loss = loss_fn(x, t)
    dloss = _upstream(np.asarray(loss), rng, True)
    dx = loss_fn.backward(dloss)
    loss_fresh = fresh(x, t)
    _assert_same(np.asarray(loss), np.asarray(loss_fresh), "loss")
    _assert_same(dx, fresh.backward(dloss), "input gradient")


@pytest.mark.parametrize("case_id, edits", LOSS_SETTINGS, ids=[_edit_id(*s) for s in LOSS_SETTINGS])
def test_a_loss_setting_edited_between_forward_and_backward_gives_the_forwards_gradient_or_raises(
        case_id, edits, kernels):
    ours, kind = LOSS_CASE_ARGS[case_id]
    x, t = make_data(kind, np.random.default_rng(0))
    loss_fn, clean = ours("mean"), ours("mean")
    loss_fn(x, t)
    _edited(loss_fn, edits)
    try:
        dx = loss_fn.backward(0.5)
    except (ValueError, RuntimeError) as error:
        message = str(error)
        assert type(loss_fn).__name__ in message and all(name in message for name in edits), message
        return
    clean(x, t)
    _assert_same(dx, clean.backward(0.5), "input gradient")


def _registered_instances():
    """One instance of every class in a registry (a module case's modules, every loss case's loss)."""
    found = {}
    for _, factory, _ in CASES:
        for m in _build(factory).modules():
            found.setdefault(type(m), m)
    for ours, _ in LOSS_ARGS:
        loss_fn = ours("mean")
        found.setdefault(type(loss_fn), loss_fn)
    return found


def test_every_setting_of_every_registered_class_is_edited_or_said_fixed():
    """Every public attribute named as a constructor parameter is in SETTINGS / LOSS_SETTINGS or in
    FIXED (with its reason); nothing is skipped silently."""
    edited = {(type(_build(CASE_ARGS[c][0])).__name__, a) for c, edits in SETTINGS for a in edits}
    edited |= {(type(LOSS_CASE_ARGS[c][0]("mean")).__name__, a) for c, edits in LOSS_SETTINGS for a in edits}
    missing = []
    for cls, instance in _registered_instances().items():
        parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
        for name in sorted(parameters & set(instance.__dict__)):
            if not name.startswith("_") and (cls.__name__, name) not in edited | FIXED.keys():
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, f"settings neither edited in SETTINGS / LOSS_SETTINGS nor listed in FIXED: {missing}"
    both = sorted(edited & FIXED.keys())
    assert not both, f"settings both edited and said fixed: {both}"


# --- 14. a Parameter assigned to a twin, by any name torch shows: tied, or refused --------------------
def _parameter_names(module):
    """The names under which ``module`` shows a Parameter: the registered ones and the aliases
    (properties, such as Linear's ``weight``, a transposed view of W)."""
    names = [name for name, p in module._parameters.items() if p is not None]
    for name in dir(type(module)):
        if isinstance(getattr(type(module), name, None), property) and name not in names:
            try:
                value = getattr(module, name)
            except Exception:  # an alias that needs a forward first (none today)
                continue
            if isinstance(value, mt.Parameter):
                names.append(name)
    return names


def _base(p):
    return getattr(p, "base", p)  # a TransposedView's Parameter


@pytest.mark.parametrize("factory, make_inputs", [a for _, a in WITH_PARAMETERS],
                         ids=[i for i, _ in WITH_PARAMETERS])
def test_a_parameter_assigned_to_a_twin_by_any_name_is_tied_or_refused(factory, make_inputs):
    """``twin.weight = module.weight`` ties the two in torch (one Parameter, its gradient the sum of
    both uses): the twin then holds the very Parameter (a view's own), or the assignment raises;
    never a silent copy that trains apart, and no view registered beside its base (stepped twice)."""
    module, twin = _build(factory), _build(factory)
    twins = dict(twin.named_modules())
    for path, sub in module.named_modules():
        for name in _parameter_names(sub):
            try:
                setattr(twins[path], name, getattr(sub, name))
            except (TypeError, ValueError):
                continue
            got = _base(getattr(twins[path], name))
            assert got is _base(getattr(sub, name)), f"{path or type(sub).__name__}.{name}: copied, not tied"
    views = [name for name, p in twin.named_parameters() if type(p) is not mt.Parameter]
    assert not views, f"registered views (stepped twice by an optimizer): {views}"
