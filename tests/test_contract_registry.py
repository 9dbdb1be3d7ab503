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
   of its input (``Flatten``, ``Identity``), never an array its backward reads.

Random layers (dropout) are seeded before each forward call, so the runs compared draw the same masks.
tests/test_contract_registry_mutants.py shows each test failing on a layer that breaks its promise.
"""

from __future__ import annotations

import copy
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
LOSS_IDS = [c[0] for c in LOSS_CASES] + [c[0] for c in DIVERGENCE_CASES]
LOSS_ARGS = [(c[1], c[3]) for c in LOSS_CASES] + [(c[1], c[2]) for c in DIVERGENCE_CASES]


def make_data(kind, rng, n=4, c=5):
    """tests/test_losses.py's data, and log-probabilities against probabilities for the divergences."""
    if not kind.startswith("log-probs-") or kind == "log-probs-index":
        return _make_data(kind, rng, n, c)
    x, _ = _make_data("log-probs-index", rng, n, c)
    t = rng.dirichlet(np.ones(c), size=n)
    return x, (np.log(t) if kind == "log-probs-log-probs" else t)


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
    covered |= {type(ours("mean")) for ours, _ in LOSS_ARGS}
    exported = {getattr(mt, name) for name in mt.__all__}
    modules = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, mt.Module)}
    missing = sorted(cls.__name__ for cls in modules - covered - EXCLUDED)
    assert not missing, f"no case in tests/cases.py, LOSS_CASES or DIVERGENCE_CASES for {missing}"


# --- 9. data of another floating dtype: the module's dtype decides -----------------------------------
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
