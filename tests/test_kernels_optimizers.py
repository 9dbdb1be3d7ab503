"""The fast optimizer updates (minitorch/kernels/optimizers.py) equal the plain formulas and torch's."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest

from minitorch import threads
from minitorch.kernels import kernels_enabled, use_kernels
from minitorch.kernels import optimizers as fast
from minitorch.module import Parameter

# sizes below and above the BLAS and chunk thresholds, and a 2-D one spanning several chunks
SHAPES = [(3,), (7, 5), (fast.BLAS_MIN + 3,), (300, 250)]


def plain_sgd(params, grads, bufs, *, lr, momentum, dampening, weight_decay, nesterov, maximize=False):
    """The plain formula, one parameter at a time (torch's _single_tensor_sgd, in NumPy)."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p.data
        if momentum:
            if bufs[i] is None:
                bufs[i] = g.copy()
            else:
                bufs[i] *= momentum
                bufs[i] += (1 - dampening) * g
            g = g + momentum * bufs[i] if nesterov else bufs[i]
        p.data -= lr * g


def plain_adam(params, grads, ms, vs, vmaxs, steps, *, amsgrad, beta1, beta2, lr, weight_decay, eps,
               maximize=False):
    """The plain formula, one parameter at a time (torch's _single_tensor_adam, in NumPy)."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        steps[i] += 1
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p.data
        ms[i] += (1 - beta1) * (g - ms[i])
        vs[i] *= beta2
        vs[i] += (1 - beta2) * g * g
        v = vs[i]
        if amsgrad:
            np.maximum(vmaxs[i], vs[i], out=vmaxs[i])
            v = vmaxs[i]
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** steps[i]) + eps
        p.data += (-lr / (1 - beta1 ** steps[i])) * (ms[i] / denom)


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(4)]
    return params, grads


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


SGD_OPTIONS = [dict(momentum=m, dampening=d, weight_decay=w, nesterov=n, maximize=x)
               for m, d, w, n, x in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 0.01), (False, True),
                                                      (False, True))
               if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_fast_sgd_equals_the_plain_formula_over_steps(dtype, options):
    params, grads = _problem(dtype)
    twins = copy.deepcopy(params)
    bufs, twin_bufs = [None] * len(params), [None] * len(params)
    for g in grads:
        fast.sgd(params, g, bufs, lr=0.1, **options)
        plain_sgd(twins, g, twin_bufs, lr=0.1, **options)
    for p, q, b, c in zip(params, twins, bufs, twin_bufs, strict=True):
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, q.data, **_tol(dtype))
        if options["momentum"]:
            assert b.dtype == dtype
            np.testing.assert_allclose(b, c, **_tol(dtype))


ADAM_OPTIONS = [dict(amsgrad=a, weight_decay=w, maximize=x)
                for a, w, x in itertools.product((False, True), (0.0, 0.01), (False, True))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_fast_adam_equals_the_plain_formula_over_steps(dtype, options):
    params, grads = _problem(dtype, seed=1)
    twins = copy.deepcopy(params)
    state = [[np.zeros_like(p.data) for p in params] for _ in range(3)]
    twin_state = copy.deepcopy(state)
    steps, twin_steps = [0] * len(params), [0] * len(params)
    hyper = dict(beta1=0.9, beta2=0.999, lr=1e-2, eps=1e-8)
    for g in grads:
        fast.adam(params, g, *state, steps, **hyper, **options)
        plain_adam(twins, g, *twin_state, twin_steps, **hyper, **options)
    assert steps == twin_steps == [len(grads)] * len(params)
    for p, q in zip(params, twins, strict=True):
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, q.data, **_tol(dtype))
    for mine, theirs in zip(state, twin_state, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(a, b, **_tol(dtype))


def test_adam_counts_steps_kept_as_zero_d_arrays_in_place():
    params, grads = _problem(np.float64)
    steps = [np.zeros((), np.int64) for _ in params]
    held = steps[0]
    state = [[np.zeros_like(p.data) for p in params] for _ in range(2)]
    fast.adam(params, grads[0], *state, [None] * len(params), steps, amsgrad=False, beta1=0.9, beta2=0.99,
              lr=1e-3, weight_decay=0.0, eps=1e-8)
    assert held is steps[0] and int(held) == 1


def test_plain_references_match_torch_functional_forms():
    torch = pytest.importorskip("torch")
    from torch.optim.adam import adam as torch_adam
    from torch.optim.sgd import sgd as torch_sgd

    params, grads = _problem(np.float64, seed=2)
    t_params = [torch.tensor(p.data) for p in params]
    bufs, t_bufs = [None] * len(params), [None] * len(params)
    for g in grads[:3]:
        plain_sgd(params, g, bufs, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True)
        torch_sgd(t_params, [torch.tensor(a) for a in g], t_bufs, lr=0.1, momentum=0.9, dampening=0.0,
                  weight_decay=0.01, nesterov=True, maximize=False)
    for p, t in zip(params, t_params, strict=True):
        np.testing.assert_allclose(p.data, t.numpy(), rtol=1e-12, atol=1e-13)

    params, grads = _problem(np.float64, seed=3)
    t_params = [torch.tensor(p.data) for p in params]
    state = [[np.zeros_like(p.data) for p in params] for _ in range(3)]
    t_state = [[torch.zeros_like(t) for t in t_params] for _ in range(3)]
    steps, t_steps = [0] * len(params), [torch.tensor(0.0) for _ in params]
    hyper = dict(amsgrad=True, beta1=0.9, beta2=0.999, lr=1e-2, weight_decay=0.01, eps=1e-8, maximize=False)
    for g in grads:
        plain_adam(params, g, *state, steps, **hyper)
        torch_adam(t_params, [torch.tensor(a) for a in g], *t_state, t_steps, **hyper)
    for p, t in zip(params, t_params, strict=True):
        np.testing.assert_allclose(p.data, t.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_fast_form_has_the_plain_forms_signature_when_the_plain_form_exists(name):
    import importlib
    import inspect

    plain = getattr(importlib.import_module(f"minitorch.optimizers.{name}"), name, None)
    if plain is None:
        pytest.skip(f"minitorch.optimizers.{name}.{name} (the plain functional form) is not merged yet")
    ours, theirs = inspect.signature(getattr(fast, name)), inspect.signature(plain)
    assert list(ours.parameters) == list(theirs.parameters)


def test_fallback_without_blas_gives_the_same_update(monkeypatch):
    params, grads = _problem(np.float32)
    twins = copy.deepcopy(params)
    bufs, twin_bufs = [None] * len(params), [None] * len(params)
    options = dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False)
    fast.sgd(params, grads[0], bufs, **options)
    monkeypatch.setattr(fast._get_blas(), "routines", {})
    fast.sgd(twins, grads[0], twin_bufs, **options)
    for p, q in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)


def test_non_contiguous_arrays_take_the_numpy_path():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((400, 200)).astype(np.float32)
    y = base.T  # not C-contiguous
    x = rng.standard_normal((200, 400)).astype(np.float32)
    want = y + np.float32(0.5) * x
    fast.axpy_(0.5, x, y)
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_use_kernels_switch():
    use_kernels(True)
    assert kernels_enabled()
    use_kernels(False)
    assert not kernels_enabled()


def test_thread_policy_and_explicit_setting():
    pytest.importorskip("threadpoolctl")
    import minitorch as mt

    start = mt.get_num_threads()
    try:
        mt.set_num_threads(1)
        assert mt.get_num_threads() == 1 and threads.policy(10**9) == 1
        mt.set_num_threads(None)
        assert threads.policy(threads.SMALL_MODEL - 1) == 1
        assert threads.policy(threads.SMALL_MODEL) == threads._state["max"]
        threads.apply_policy(10)
        assert mt.get_num_threads() == 1
        threads.apply_policy(10**7)
        assert mt.get_num_threads() == threads._state["max"]
        for bad in (0, -1, True, 1.5, "2"):
            with pytest.raises(ValueError, match="set_num_threads"):
                mt.set_num_threads(bad)
    finally:
        mt.set_num_threads(None)
        threads._set(start)


def test_adam_with_lr_zero_moves_the_moments_but_not_the_parameters():
    params, grads = _problem(np.float64)
    before = [p.data.copy() for p in params]
    state = [[np.zeros_like(p.data) for p in params] for _ in range(2)]
    fast.adam(params, grads[0], *state, [None] * len(params), [0] * len(params), amsgrad=False, beta1=0.9,
              beta2=0.99, lr=0.0, weight_decay=0.0, eps=1e-8)
    for p, b, m, g in zip(params, before, state[0], grads[0], strict=True):
        np.testing.assert_array_equal(p.data, b)
        np.testing.assert_allclose(m, 0.1 * g, rtol=1e-12)


def test_the_dispatcher_finds_these_kernels_by_the_plain_functions_names():
    from minitorch.kernels import fast_or_plain

    def sgd() -> None: ...

    def adam() -> None: ...

    use_kernels(True)
    assert fast_or_plain("optimizers", sgd) is fast.sgd
    assert fast_or_plain("optimizers", adam) is fast.adam
    use_kernels(False)
    assert fast_or_plain("optimizers", sgd) is sgd


def test_apply_policy_for_keeps_its_decision_per_parameter_list() -> None:
    """The policy is decided once per parameter list and re-decided when the list changes."""
    pytest.importorskip("threadpoolctl")
    import minitorch as mt

    saved = threads._state["explicit"]
    try:
        mt.set_num_threads(None)
        small = [mt.Parameter(np.zeros(10, np.float32))]
        large = [mt.Parameter(np.zeros(threads.SMALL_MODEL, np.float32))]
        threads.apply_policy_for(small)
        assert mt.get_num_threads() == 1
        threads.apply_policy_for(large)
        assert threads._state["last_probe"] is not None  # a large model's count is measured (below)
        threads.apply_policy_for(small)
        assert threads._state["last_probe"] is None
        assert mt.get_num_threads() == 1
        mt.set_num_threads(threads._state["max"])  # an explicit setting wins over the kept decision
        threads.apply_policy_for(small)
        assert mt.get_num_threads() == threads._state["max"]
    finally:
        mt.set_num_threads(saved)


def test_the_thread_probe_keeps_the_count_whose_steps_took_less_time(monkeypatch) -> None:
    """A large model's steps are timed at the BLAS's thread count and at 1; the faster count is kept
    until the next probe, and a changed machine (the other count now faster) is followed."""
    pytest.importorskip("threadpoolctl")
    import minitorch as mt

    saved = threads._state["explicit"]
    most = threads._state["max"] or threads.get_num_threads()
    if most < 2:
        pytest.skip("one BLAS thread only: nothing to choose")
    now = [0.0]
    cost = {most: 1.0, 1: 3.0}  # seconds per step at each count: the second thread pays here
    monkeypatch.setattr(threads, "_clock", lambda: now[0])
    large = [mt.Parameter(np.zeros(threads.SMALL_MODEL, np.float32))]

    def steps(n: int) -> list[int]:
        seen = []
        for _ in range(n):
            threads.apply_policy_for(large)
            seen.append(mt.get_num_threads())
            now[0] += cost[seen[-1]]
        return seen

    try:
        mt.set_num_threads(None)
        threads._probes.clear()
        first = steps(2 * (threads.PROBE_STEPS + 1) + 1)
        assert first[0] == 1 and most in first and first[-1] == most
        assert set(steps(int(threads.REPROBE_S // cost[most]))) == {most}  # no probe before REPROBE_S
        cost[most], cost[1] = 5.0, 1.0  # the machine got busy: one thread is now faster
        later = steps(4 * (threads.PROBE_STEPS + 2))
        assert later[-1] == 1
        mt.set_num_threads(most)  # an explicit setting is never overruled by the probe
        assert set(steps(20)) == {most}
    finally:
        threads._probes.clear()
        mt.set_num_threads(saved)


def test_a_model_with_a_collected_models_parameter_ids_starts_afresh(monkeypatch) -> None:
    """CPython gives a collected object's id to a new one: a model whose Parameters get a dead model's
    ids inherits neither its probe nor its count. The ids are made equal here (``threads.id``), as a
    reused address makes them; each model's k-th Parameter gets id k."""
    import builtins
    import gc

    pytest.importorskip("threadpoolctl")
    import minitorch as mt

    if (threads._state["max"] or threads.get_num_threads()) < 2:
        pytest.skip("one BLAS thread only: no model is probed")
    fake: dict[int, int] = {}
    monkeypatch.setattr(threads, "id", lambda p: fake[builtins.id(p)], raising=False)

    def model(*sizes: int) -> list[Parameter]:
        params = [Parameter(np.zeros(n, np.float32)) for n in sizes]
        fake.update({builtins.id(p): k for k, p in enumerate(params)})
        return params

    saved = threads._state["explicit"]
    try:
        mt.set_num_threads(None)
        threads._probes.clear()
        old = model(threads.SMALL_MODEL, 3)
        for _ in range(3):
            threads.apply_policy_for(old)
        probe = threads._state["last_probe"]
        assert probe is not None and probe.times  # probing, with steps timed
        del old
        gc.collect()
        new = model(threads.SMALL_MODEL, 3)
        threads.apply_policy_for(new)
        assert threads._state["last_probe"] is not probe and not threads._state["last_probe"].times
        del new, probe
        gc.collect()
        small = model(10, 3)
        threads.apply_policy_for(small)
        assert threads._state["last_probe"] is None and mt.get_num_threads() == 1
        del small
        gc.collect()
        large = model(threads.SMALL_MODEL, 3)  # the small model's ids: it is measured, not kept at 1
        threads.apply_policy_for(large)
        assert threads._state["last_probe"] is not None
        assert threads._state["last_want"] == threads._state["max"]
    finally:
        threads._probes.clear()
        mt.set_num_threads(saved)


def test_the_probe_stops_timing_more_threads_once_they_have_lost() -> None:
    """One thread is timed first; more threads are left after the first timed step that takes longer
    than all the one-thread steps allow (on a busy machine, one such step costs dozens of others)."""
    probe, now, seen = threads._Probe(4), 0.0, []
    cost = {4: 10.0, 1: 1.0}
    for _ in range(60):
        seen.append(probe.tick(now))
        now += cost[seen[-1]]
    assert seen[:threads.PROBE_STEPS + 1] == [1] * (threads.PROBE_STEPS + 1)
    runs = "".join("m" if n == 4 else "1" for n in seen)
    assert "mm" in runs and "mmm" not in runs  # every probe: the untimed step and one timed, then stop


def test_sgd_kernel_maximize_over_a_flat_group_is_the_plain_ascent() -> None:
    """The functional SGD kernel with maximize=True once its Parameters are a flat group
    (kernels/flat.py): the step's sign rides on the group's cached step size, bitwise the plain form."""
    from minitorch.kernels import flat
    from minitorch.optimizers.sgd import sgd as plain_sgd

    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((4, 5), (5,), (5, 2), (2,))]
    mine, theirs = ([Parameter(a.copy()) for a in arrays] for _ in range(2))
    passes = []
    settings = [(0.1, False), (0.1, True), (0.1, True), (0.05, False), (0.05, True)]
    for step, (lr, maximize) in enumerate(settings):
        grads = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
        for p, g in zip(mine, grads, strict=True):
            home = flat.grad_home(p)  # the group's slot once adopted (after the first step)
            p.grad = g.copy() if home is None else home
            p.grad[...] = g
        passes.append(all(id(p) in flat._homes and p.grad is flat._homes[id(p)][2] for p in mine))
        fast.sgd(mine, [p.grad for p in mine], [], lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=maximize)
        plain_sgd(theirs, grads, [], lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                  maximize=maximize)
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a.data, b.data, err_msg=f"step {step}")
        for p in mine:
            p.grad = None
    assert passes == [False] + [True] * 4 or not flat._counts_trusted()


def test_the_flat_update_keeps_the_small_model_thread_policy_in_force() -> None:
    """The SGD kernel skips ``apply_policy_for`` before a flat update only while that policy's
    choice for a small model (1 thread, no explicit count) is in force: a flat group is always a
    small model. Another count in force, or an explicit one, is met as the policy says."""
    pytest.importorskip("threadpoolctl")
    import minitorch as mt
    from minitorch.kernels import flat

    assert flat.MAX_ELEMENTS < threads.SMALL_MODEL
    saved, was = threads._state["explicit"], kernels_enabled()
    rng = np.random.default_rng(4)
    try:
        use_kernels(True)  # (the plain SGD applies no thread policy)
        mt.set_num_threads(None)
        model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
        loss_fn, opt = mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1)
        most = threads._state["max"]
        for step in range(6):
            if step == 3:
                threads._set(most)  # another count in force (a large model's, say)
            if step == 5:
                mt.set_num_threads(most)  # an explicit count wins
            x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)
            loss_fn(model(x), y)
            model.backward_params(loss_fn.backward())
            opt.step()
            opt.zero_grad()
            assert mt.get_num_threads() == (most if step == 5 else 1), step
    finally:
        mt.set_num_threads(saved)
        use_kernels(was)


def _laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """a's numbers in another memory layout: C, F (column-major), F-view (a transposed row-major
    array), S (the first columns of a wider array), R (read-only)."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "F-view":
        return np.ascontiguousarray(a.T).T
    if layout == "S":
        wide = np.zeros((a.shape[0], a.shape[1] + 3), a.dtype)
        wide[:, :a.shape[1]] = a
        return wide[:, :a.shape[1]]
    a = np.array(a)
    a.flags.writeable = layout != "R"
    return a


EVERY_OPTIMIZER = [("SGD", {}), ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
                   ("Adam", {}), ("Adam", {"amsgrad": True, "weight_decay": 0.1, "maximize": True}),
                   ("AdamW", {}), ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}),
                   ("NAdam", {}), ("RAdam", {})]
#
EVERY_OPTIMIZER += [("Adamax", {}), ("Adadelta", {"eps": 0.1}), ("Rprop", {}), ("ASGD", {"t0": 2.0})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("data_layout", ["C", "F", "F-view", "S"])
@pytest.mark.parametrize("optimizer", EVERY_OPTIMIZER, ids=lambda o: f"{o[0]}-{len(o[1])}")
def test_every_optimizer_updates_parameters_of_any_layout_as_the_plain_formulas(optimizer, data_layout,
                                                                                 dtype):
    """A column-major weight (one-row inference in eval mode lends one, kernels/inference_plan.py),
    a transposed view or a strided one, with gradients set by hand in any layout: the kernels'
    steps equal the plain ones (an update written into a reshaped copy would be lost)."""
    import minitorch as mt

    name, options = optimizer
    got = []
    try:
        for kernels in (True, False):
            use_kernels(kernels)
            rng = np.random.default_rng(1)
            p = Parameter(np.zeros((150, 130), dtype))
            p.data = _laid_out(rng.standard_normal((150, 130)).astype(dtype), data_layout)
            opt = getattr(mt, name)([p], lr=0.01, **options)
            for grad_layout in ("C", "F", "S", "R"):
                p.grad = _laid_out(rng.standard_normal((150, 130)).astype(dtype), grad_layout)
                opt.step()
            got.append(np.array(p.data))
    finally:
        use_kernels(True)
    start = _laid_out(np.random.default_rng(1).standard_normal((150, 130)).astype(dtype), "C")
    assert np.abs(got[1] - start).max() > 1e-3  # (the plain steps moved it)
    np.testing.assert_allclose(got[0], got[1], **_tol(dtype))
