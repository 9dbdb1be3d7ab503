"""Adversarial tests of four speed mechanisms (kernels/flat.py, zeros.py, twin.py, inference.py).

Each claims results bitwise those of the plain path and a fallback whenever its assumptions break.
Here a user does what PyTorch users do (weight tying, overlapping optimizers, param groups, freezing,
state-dict loads, deep copies, grad accumulation, clipping, held gradients, in-place edits, threads,
fork) and every step is compared bitwise with the same training where the mechanism is off.
"""

from __future__ import annotations

import copy
import gc
import os
import threading
import weakref

import numpy as np
import pytest

import minitorch as mt
from minitorch.kernels import flat, twin, zeros
from minitorch.kernels import sequences as fast_seq


@pytest.fixture
def kernels_on():
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(True)
    yield
    mt.kernels.use_kernels(before)


def _no_flat(monkeypatch):
    """The kernels as they are, but without the flat buffers (the per-Parameter SGD form)."""
    monkeypatch.setattr(flat, "update", lambda params, grads, a: False)
    monkeypatch.setattr("minitorch.kernels.containers.grad_home", lambda p: None)


def _mlp(dtype=np.float32, seed=0):
    mt.manual_seed(seed)
    model = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), mt.Linear(16, 3))
    if dtype != np.float32:
        model.to(dtype)
    return model


def _data(dtype=np.float32, n=12, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(dtype), rng.integers(0, 3, n)


def _step(model, opt, x, y, loss_fn=None, zero=True):
    loss_fn = loss_fn or mt.CrossEntropyLoss()
    if zero:
        opt.zero_grad()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    opt.step()


def _snap(model):
    return [p.data.copy() for p in model.parameters()]


def _compare(monkeypatch, scenario):
    """scenario() -> list of arrays recorded along the way; run with flat buffers, without, and
    with kernels off; all three bitwise equal."""
    got = scenario()
    with monkeypatch.context() as m:
        _no_flat(m)
        reference = scenario()
    mt.kernels.use_kernels(False)
    try:
        plain = scenario()
    finally:
        mt.kernels.use_kernels(True)
    assert len(got) == len(reference) == len(plain)
    for k, (a, b, c) in enumerate(zip(got, reference, plain, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"record {k}: flat vs no flat")
        np.testing.assert_array_equal(a, c, err_msg=f"record {k}: kernels vs plain")
    return got


# ----------------------------------------------------------------------------------------------
# flat.py


def test_flat_is_used_at_all(kernels_on):
    """The mechanism under test is live: after a step, the Parameters are views of one buffer."""
    model, (x, y) = _mlp(), _data()
    opt = mt.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        _step(model, opt, x, y)
    bases = {id(p.data.base) for p in model.parameters()}
    assert len(bases) == 1 and None not in {p.data.base is not None for p in model.parameters()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_plain_training(kernels_on, monkeypatch, dtype):
    def run():
        model, (x, y) = _mlp(dtype), _data(dtype)
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for _ in range(6):
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_weight_tying(kernels_on, monkeypatch):
    def run():
        mt.manual_seed(0)
        a, b = mt.Linear(8, 8), mt.Linear(8, 8)
        b.W = a.W  # one Parameter in two modules
        model = mt.Sequential(a, mt.ReLU(), b)
        rng = np.random.default_rng(2)
        x, t = rng.standard_normal((5, 8)).astype(np.float32), rng.standard_normal((5, 8)).astype(np.float32)
        opt = mt.SGD(model.parameters(), lr=0.05)
        out = []
        for _ in range(5):
            _step(model, opt, x, t, mt.MSELoss())
            out += _snap(model) + [a.W.data.copy(), b.W.data.copy()]
        assert a.W is b.W
        return out
    _compare(monkeypatch, run)


def test_flat_two_optimizers_over_overlapping_parameters(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        params = list(model.parameters())
        opt1, opt2 = mt.SGD(params, lr=0.1), mt.SGD(params[2:], lr=0.03)
        out = []
        for _ in range(5):
            opt1.zero_grad()
            loss_fn = mt.CrossEntropyLoss()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            opt1.step()
            opt2.step()
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


@pytest.mark.parametrize("options", [dict(momentum=0.9), dict(weight_decay=0.01),
                                     dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
                                     dict(momentum=0.5, dampening=0.1)])
def test_flat_sgd_options_against_no_flat(kernels_on, monkeypatch, options):
    """Momentum and weight decay take the BLAS form (rounding may differ from plain): compared with
    the same kernels without flat buffers, bitwise, and with the plain form closely."""
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1, **options)
        out = []
        for _ in range(5):
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    got = run()
    with monkeypatch.context() as m:
        _no_flat(m)
        ref = run()
    mt.kernels.use_kernels(False)
    try:
        plain = run()
    finally:
        mt.kernels.use_kernels(True)
    for a, b, c in zip(got, ref, plain, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def test_flat_param_groups_and_add_param_group(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        p = list(model.parameters())
        opt = mt.SGD([{"params": p[:2], "lr": 0.2}], lr=0.05)
        out = []
        for k in range(6):
            if k == 3:
                opt.add_param_group({"params": p[2:]})
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_freezing_mid_training(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for k in range(6):
            if k == 2:
                model[0].W.requires_grad = False
            if k == 4:
                model[0].W.requires_grad = True
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_load_state_dict_and_model_file_mid_training(kernels_on, monkeypatch, tmp_path):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for _ in range(2):
            _step(model, opt, x, y)
        saved = {k: v.copy() for k, v in model.state_dict().items()}
        path = tmp_path / "m.mtz"
        mt.save_model(model, path)
        for _ in range(2):
            _step(model, opt, x, y)
        model.load_state_dict(saved)
        out += _snap(model)
        for _ in range(2):
            _step(model, opt, x, y)
            out += _snap(model)
        loaded = mt.load_model(path)
        model.load_state_dict(loaded.state_dict())
        out += _snap(model)
        for _ in range(2):
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_deepcopy_and_train_both(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        _step(model, opt, x, y)
        twin_model = copy.deepcopy(model)
        opt2 = mt.SGD(twin_model.parameters(), lr=0.07)
        out = []
        for _ in range(4):
            _step(model, opt, x, y)
            _step(twin_model, opt2, x[::-1].copy(), y[::-1].copy())
            out += _snap(model) + _snap(twin_model)
        return out
    _compare(monkeypatch, run)


def test_flat_grad_accumulation_and_clipping(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for _ in range(5):
            opt.zero_grad()
            for half in (slice(0, 6), slice(6, 12)):
                loss_fn = mt.CrossEntropyLoss()
                loss_fn(model(x[half]), y[half])
                model.backward(loss_fn.backward())
            mt.clip_grad_norm_(model.parameters(), 0.05)
            opt.step()
            out += _snap(model) + [p.grad.copy() for p in model.parameters()]
        return out
    _compare(monkeypatch, run)


def test_flat_zero_grad_to_zeros(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for _ in range(5):
            opt.zero_grad(set_to_none=False)
            _step(model, opt, x, y, zero=False)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_gradients_held_by_the_user_across_steps(kernels_on, monkeypatch):
    """p.grad kept from every step and read at the end: each must still be its own step's gradient."""
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        kept, copies = [], []
        for k in range(6):
            _step(model, opt, x[k % 3:], y[k % 3:])
            p = list(model.parameters())[k % 4]
            kept.append(p.grad)
            copies.append(p.grad.copy())
            if k == 3:
                kept.append(next(iter(model.parameters())).grad.reshape(-1)[:5])  # a view only
                copies.append(kept[-1].copy())
        for a, b in zip(kept, copies, strict=True):
            np.testing.assert_array_equal(a, b)
        return copies + _snap(model)
    _compare(monkeypatch, run)


def test_flat_in_place_edits_of_data_and_reassignment(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        held = None
        for k in range(7):
            _step(model, opt, x, y)
            p = list(model.parameters())
            if k == 1:
                p[0].data[0, :] = 0.25
                held = p[1].data  # the user's reference to a Parameter's array
            if k == 3:
                p[2].data = p[2].data * 0.5
            if k == 4:
                p[3].data[...] *= 2
            out += _snap(model) + ([] if held is None else [held.copy()])
        return out
    _compare(monkeypatch, run)


def test_flat_grad_assigned_by_the_user(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for k in range(5):
            opt.zero_grad()
            loss_fn = mt.CrossEntropyLoss()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            p = list(model.parameters())
            if k == 2:
                p[1].grad = p[1].grad * 3
            if k == 3:
                p[0].grad, p[2].grad = p[0].grad, None
            opt.step()
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_with_fit(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data(n=24)
        opt = mt.SGD(model.parameters(), lr=0.1)
        loader = mt.DataLoader(mt.TensorDataset(x, y), batch_size=8, shuffle=False)
        mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=3, verbose=0, metrics=[])
        return _snap(model)
    _compare(monkeypatch, run)


def test_flat_to_dtype_mid_training(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for k in range(5):
            if k == 2:
                model.to(np.float64)
                x = x.astype(np.float64)
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_many_models_evict_groups(kernels_on, monkeypatch):
    """More models than flat.KEEP, trained in turns: evicted groups must leave correct training."""
    def run():
        models = [_mlp(seed=s) for s in range(flat.KEEP + 3)]
        opts = [mt.SGD(m.parameters(), lr=0.1) for m in models]
        x, y = _data()
        out = []
        for _ in range(3):
            for m, o in zip(models, opts, strict=True):
                _step(m, o, x, y)
        for m in models:
            out += _snap(m)
        return out
    _compare(monkeypatch, run)


# ----------------------------------------------------------------------------------------------
# zeros.py


@pytest.fixture
def zeros_ahead(monkeypatch, kernels_on):
    """Every Embedding gradient goes through zeros.zeros, made ahead synchronously (no timing)."""
    monkeypatch.setattr(zeros, "MIN_BYTES", 1)
    monkeypatch.setattr(zeros, "_allowed", lambda: True)
    monkeypatch.setattr(zeros, "_request", zeros._top_up)
    zeros._ready.clear()
    yield
    zeros._ready.clear()


def _emb_grads(model_pair, steps=4, hold=True):
    rng = np.random.default_rng(3)
    kept, copies = [], []
    for _ in range(steps):
        for emb in model_pair:
            ids = rng.integers(0, emb.num_embeddings, (6, 5))
            out = emb(ids)
            emb.zero_grad()
            emb.backward(np.cos(out))
            if hold:
                kept.append(emb.weight.grad)
            copies.append(emb.weight.grad.copy())
    return kept, copies


def test_zeros_gradients_kept_across_steps_and_two_embeddings(zeros_ahead):
    mt.manual_seed(0)
    pair = (mt.Embedding(50, 8), mt.Embedding(50, 8))  # two Embeddings of one shape
    kept, copies = _emb_grads(pair)
    assert len({id(g) for g in kept}) == len(kept)
    for a, b in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    mt.kernels.use_kernels(False)
    mt.manual_seed(0)
    _, plain = _emb_grads((mt.Embedding(50, 8), mt.Embedding(50, 8)), hold=False)
    for a, b in zip(copies, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_zeros_never_hands_out_one_array_twice_across_threads(monkeypatch):
    monkeypatch.setattr(zeros, "MIN_BYTES", 1)
    monkeypatch.setattr(zeros, "_allowed", lambda: True)
    zeros._ready.clear()
    got: list[list[np.ndarray]] = [[] for _ in range(4)]

    def take(k):
        for _ in range(200):
            a = zeros.zeros((16, 8), np.float32)
            assert not a.any()
            a[...] = k + 1  # a second holder of the same array would see this
            got[k].append(a)

    workers = [threading.Thread(target=take, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    zeros._ready.clear()
    for k, arrays in enumerate(got):
        assert len(arrays) == 200
        assert all((a == k + 1).all() for a in arrays)
    assert len({id(a) for arrays in got for a in arrays}) == 800


def test_zeros_embedding_backward_from_threads(zeros_ahead):
    mt.manual_seed(0)
    embs = [mt.Embedding(40, 6) for _ in range(3)]
    ids = np.random.default_rng(4).integers(0, 40, (8, 7))
    expected = []
    for e in embs:
        out = e(ids)
        e.zero_grad()
        e.backward(np.sin(out))
        expected.append(e.weight.grad.copy())
    results: list = [None] * 3

    def work(k):
        e = embs[k]
        grads = []
        for _ in range(30):
            out = e(ids)
            e.zero_grad()
            e.backward(np.sin(out))
            grads.append(e.weight.grad)
        results[k] = grads

    workers = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for k in range(3):
        for g in results[k]:
            np.testing.assert_array_equal(g, expected[k])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_zeros_in_a_forked_child(zeros_ahead):
    mt.manual_seed(0)
    e = mt.Embedding(30, 4)
    ids = np.arange(12).reshape(3, 4) % 30
    out = e(ids)
    e.zero_grad()
    e.backward(np.ones_like(out))
    expected = e.weight.grad.copy()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = 0
        try:
            for _ in range(5):
                out = e(ids)
                e.zero_grad()
                e.backward(np.ones_like(out))
                ok += int(np.array_equal(e.weight.grad, expected))
        finally:
            os.write(w, bytes([ok]))
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == bytes([5])


# ----------------------------------------------------------------------------------------------
# twin.py


def _lstm_training(steps=3, **kw):
    kw = dict(kw)
    dtype = kw.pop("dtype", np.float32)
    mt.manual_seed(0)
    lstm = mt.LSTM(8, 128, **kw)
    head = mt.Linear(128 * (2 if kw.get("bidirectional") else 1), 1)
    if dtype != np.float32:
        lstm.to(dtype)
        head.to(dtype)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = mt.Adam(params, lr=0.01)
    rng = np.random.default_rng(5)
    N, T = 32, 3
    shape = (N, T, 8) if kw.get("batch_first") else (T, N, 8)
    x = rng.standard_normal(shape).astype(dtype)
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h0 = rng.standard_normal((layers, N, 128)).astype(dtype)
    out_records = []
    for _ in range(steps):
        opt.zero_grad()
        out, (h_n, c_n) = lstm(x, (h0, np.zeros_like(h0)))
        y = head(out)
        dx = lstm.backward(head.backward(np.cos(y)))
        opt.step()
        dx = dx[0] if isinstance(dx, tuple) else dx
        out_records += [out.copy(), h_n.copy(), c_n.copy(), dx.copy()]
        out_records += [p.data.copy() for p in params]
    return out_records


LSTM_CASES = [dict(), dict(bidirectional=True), dict(num_layers=2), dict(batch_first=True),
              dict(dtype=np.float64)]


@pytest.mark.parametrize("kw", LSTM_CASES, ids=["plain", "bidir", "layers2", "batch_first", "f64"])
def test_twin_lstm_training_bitwise(twin_jobs, monkeypatch, kw):
    got = _lstm_training(**kw)
    assert twin_jobs and (twin._state["dead"] or all(job.sent for job in twin_jobs))
    with monkeypatch.context() as m:
        m.setattr(twin, "available", lambda: False)
        ref = _lstm_training(**kw)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    mt.kernels.use_kernels(False)
    try:
        plain = _lstm_training(**kw)
    finally:
        mt.kernels.use_kernels(True)
    tol = 1e-10 if kw.get("dtype") == np.float64 else 2e-5
    for a, b in zip(got[:4], plain[:4], strict=True):  # the first step (Adam amplifies rounding later)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _lstm_case():
    mt.manual_seed(0)
    lstm = mt.LSTM(8, 128)
    rng = np.random.default_rng(6)
    x, x2 = (rng.standard_normal((3, 32, 8)).astype(np.float32) for _ in range(2))
    return lstm, x, x2


def _grads_after(lstm, x):
    lstm.zero_grad()
    out, _ = lstm(x)
    lstm.backward(np.cos(out))
    return [p.grad.copy() for p in lstm.parameters()]


def _in_child(check):
    """Run check() in a forked child (it waits for the parent's go); True if it returned True."""
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            os.read(go_r, 1)
            ok = bool(check())
        finally:
            os.write(res_w, b"1" if ok else b"0")
            os._exit(0)
    return pid, go_w, res_r


def _child_result(pid, go_w, res_r) -> bytes:
    os.write(go_w, b"g")
    got = os.read(res_r, 1)
    os.waitpid(pid, 0)
    os.close(go_w)
    os.close(res_r)
    return got


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_twin_a_forked_child_finishes_the_step_its_parent_began(kernels_on, monkeypatch):
    """Forward in the parent (its caches in shared memory), fork, the parent goes on training; the
    child's backward of that forward must see the caches as they were at the fork."""
    lstm, x, x2 = _lstm_case()
    with monkeypatch.context() as m:
        m.setattr(twin, "available", lambda: False)
        expected = _grads_after(lstm, x)
    monkeypatch.setattr(fast_seq, "TWIN_MIN_WORK", 0)  # (no recording of the jobs: they hold arrays)
    monkeypatch.setattr(twin, "available", lambda: True)
    lstm.zero_grad()
    out, _ = lstm(x)
    assert twin._state["dead"] or twin.shares(lstm._caches[0][2][0]), "the caches lie in shared memory"

    def child():
        lstm.backward(np.cos(out))
        return all(np.array_equal(p.grad, e) for p, e in zip(lstm.parameters(), expected, strict=True))

    pid, go_w, res_r = _in_child(child)
    lstm.backward(np.cos(out))  # the parent's own step goes on: its buffers are free again ...
    for _ in range(2):
        _grads_after(lstm, x2)  # ... and reused by these forwards
    assert _child_result(pid, go_w, res_r) == b"1"


def test_twin_two_lstms_in_two_threads_at_once(kernels_on, monkeypatch):
    """Two LSTMs trained from two Python threads at once (one holds the twin, the other runs alone,
    both make shared arrays): every step as when each trains alone, bitwise."""
    monkeypatch.setattr(fast_seq, "TWIN_MIN_WORK", 0)
    monkeypatch.setattr(twin, "available", lambda: True)

    building = threading.Lock()  # (the library's generator is one for the process, as torch's)

    def train(seed, results, k, barrier=None):
        with building:  # seeded and drawn by one thread at a time: the same weights as alone
            mt.manual_seed(seed)
            lstm = mt.LSTM(8, 128)
        opt = mt.Adam(lstm.parameters(), lr=0.01)
        x = np.random.default_rng(seed).standard_normal((3, 32, 8)).astype(np.float32)
        out_list = []
        for _ in range(4):
            if barrier is not None:
                barrier.wait()
            opt.zero_grad()
            out, _ = lstm(x)
            lstm.backward(np.cos(out))
            opt.step()
            out_list += [out.copy()] + [p.data.copy() for p in lstm.parameters()]
        results[k] = out_list

    alone: list = [None, None]
    train(1, alone, 0)
    train(2, alone, 1)
    together: list = [None, None]
    barrier = threading.Barrier(2)
    workers = [threading.Thread(target=train, args=(s, together, s - 1, barrier)) for s in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for a_list, b_list in zip(alone, together, strict=True):
        for a, b in zip(a_list, b_list, strict=True):
            np.testing.assert_array_equal(b, a)


def test_twin_user_input_modified_after_the_forward(kernels_on, monkeypatch):
    """The user's numpy input changed in place between forward and backward (and hx given): the
    gradients are those of the plain path with the same habit."""
    def run():
        mt.manual_seed(0)
        lstm = mt.LSTM(8, 128, batch_first=True)
        rng = np.random.default_rng(7)
        x = rng.standard_normal((32, 3, 8)).astype(np.float32)
        h0 = rng.standard_normal((1, 32, 128)).astype(np.float32)
        c0 = rng.standard_normal((1, 32, 128)).astype(np.float32)
        out, (h_n, c_n) = lstm(x, (h0, c0))
        x[...] = 0  # the user reuses their buffers
        h0[...] = 0
        c0[...] = 0
        dx, (dh0, dc0) = lstm.backward((np.cos(out), (np.sin(h_n), np.cos(c_n))))
        return [out, h_n, c_n, dx, dh0, dc0] + [p.grad.copy() for p in lstm.parameters()]
    monkeypatch.setattr(fast_seq, "TWIN_MIN_WORK", 0)
    monkeypatch.setattr(twin, "available", lambda: True)
    got = run()
    monkeypatch.setattr(twin, "available", lambda: False)
    ref = run()
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    mt.kernels.use_kernels(False)
    try:
        plain = run()
    finally:
        mt.kernels.use_kernels(True)
    for a, b in zip(got, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_flat_a_layer_shared_by_two_models(kernels_on, monkeypatch):
    """One Linear in two models, each with its own SGD (the shared layer's gradient slots belong to
    the first model's buffer)."""
    def run():
        mt.manual_seed(0)
        shared = mt.Linear(16, 3)
        a = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), shared)
        b = mt.Sequential(mt.Linear(4, 16), mt.ReLU(), shared)
        opt_a, opt_b = mt.SGD(a.parameters(), lr=0.1), mt.SGD(b.parameters(), lr=0.05)
        x, y = _data()
        out = []
        for k in range(6):
            if k % 3 != 2:
                _step(a, opt_a, x, y)
            _step(b, opt_b, x[::-1].copy(), y)
            out += _snap(a) + _snap(b)
        return out
    _compare(monkeypatch, run)


def test_flat_data_held_before_the_first_step_and_edited(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        w = model[0].W.data  # held from the start: the model's array, as in plain NumPy code
        opt = mt.SGD(model.parameters(), lr=0.1)
        out = []
        for k in range(6):
            _step(model, opt, x, y)
            if k == 2:
                w[:2] = 0.5
            if k == 3:
                del w
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_zero_grad_to_zeros_with_held_gradients(kernels_on, monkeypatch):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        out, kept = [], []
        for k in range(5):
            model.zero_grad(set_to_none=k % 2 == 0)
            _step(model, opt, x, y, zero=False)
            kept.append(model[2].b.grad)
            out += _snap(model) + [g.copy() for g in kept]
        return out
    _compare(monkeypatch, run)


def test_flat_checkpoint_resume_mid_training(kernels_on, monkeypatch, tmp_path):
    def run():
        model, (x, y) = _mlp(), _data()
        opt = mt.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            _step(model, opt, x, y)
        mt.save_checkpoint(tmp_path / "c.mtz", model=model, optimizer=opt, epoch=1)
        out = []
        for _ in range(2):
            _step(model, opt, x, y)
            out += _snap(model)
        mt.load_checkpoint(tmp_path / "c.mtz", model, opt)
        out += _snap(model)
        for _ in range(3):
            _step(model, opt, x, y)
            out += _snap(model)
        return out
    _compare(monkeypatch, run)


def test_flat_reference_counts_are_probed_and_a_failed_probe_turns_flat_off(kernels_on, monkeypatch):
    """The checks rest on reference counts (an interpreter detail: CPython 3.14 and free-threaded
    builds count otherwise); a probe verifies them once, and where it fails nothing is adopted."""
    assert flat._counts_trusted()  # this interpreter: the flat buffers are in use (see above)
    monkeypatch.setattr(flat, "_trusted", [False])
    model, (x, y) = _mlp(), _data()
    opt = mt.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        _step(model, opt, x, y)
    assert all(p.data.base is None for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# inference.py: one row through a large chain, half of each large layer in the twin. The twin reads
# the model's weights in shared memory; whatever happens to them (or to the twin), the answer is
# the plain chain's. Equal at the tolerance of tests/test_kernels.py's INFER_TOL: the BLAS may
# block a half's dot products otherwise than the whole's.

INFER_RTOL = dict(rtol=1e-5, atol=1e-6)


def _infer_mlp(dtype=np.float32):
    mt.manual_seed(4)
    model = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(), mt.Linear(256, 10))
    if dtype != np.float32:
        model.to(dtype)
    x = np.random.default_rng(9).standard_normal((1, 784)).astype(dtype)
    return model, x


def _infer_plain(model, x):
    before = mt.kernels.kernels_enabled()
    mt.kernels.use_kernels(False)
    try:
        with mt.no_grad():
            return model(x)
    finally:
        mt.kernels.use_kernels(before)


def _same(got, model, x):
    expected = _infer_plain(model, x)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **INFER_RTOL)


def test_infer_sees_an_in_place_change_of_the_weights(infer_twin):
    model, x = _infer_mlp()
    before = infer_twin.served(model, x).copy()
    model[0].W.data *= 0.5  # what an optimizer step does: the same arrays, new values
    model[2].b.data += 1.0
    got = infer_twin.served(model, x)
    _same(got, model, x)
    assert not np.allclose(got, before)
    opt = mt.SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    _same(infer_twin.served(model, x), model, x)


def test_infer_follows_a_replaced_data_array(infer_twin):
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    held = np.ascontiguousarray(model[0].W.data[::-1])  # the user keeps a name on the new array
    model[0].W.data = held
    served = infer_twin._state["served"]
    with mt.no_grad():
        got = model(x)
    _same(got, model, x)
    assert model[0].W.data is held and infer_twin._state["served"] == served  # not moved: alone
    model[2].W.data = model[2].W.data * 2.0  # held by the Parameter only: moved, shared again
    model[0].W.data = model[0].W.data.copy()
    del held
    _same(infer_twin.served(model, x), model, x)
    assert infer_twin.twin.shares(model[2].W.data)


def test_infer_reads_no_job_posted_before_a_failed_check(infer_twin, monkeypatch):
    """A call of a chain whose session runs posts its job before it checks the plan, so the twin
    computes while the caller checks. When a check fails (here: W replaced by an array the user
    holds, so the chain runs alone from then on), the twin's halves of that job, computed from the
    old weights, are never read: the answer is the new weights'."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    posted, post = [], infer_twin._post
    monkeypatch.setattr(infer_twin, "_post", lambda plan, row: posted.append(post(plan, row)) or posted[-1])
    held = model[0].W.data * -1.0
    model[0].W.data = held
    served = infer_twin._state["served"]
    for _ in range(3):
        with mt.no_grad():
            got = model(x)
        _same(got, model, x)
    assert posted and infer_twin._state["served"] == served and model[0].W.data is held


def test_infer_leaves_a_weight_someone_holds_where_it_is(infer_twin):
    model, x = _infer_mlp()
    w = model[0].W.data
    served = infer_twin._state["served"]
    for _ in range(3):
        with mt.no_grad():
            got = model(x)
        _same(got, model, x)
    assert model[0].W.data is w and not infer_twin.twin.shares(w) and infer_twin._state["served"] == served
    del w  # no one holds it now: looked at again after RETRY_S, moved, shared
    infer_twin._state["declined"].until = 0.0
    _same(infer_twin.served(model, x), model, x)
    assert infer_twin.twin.shares(model[0].W.data)


def test_infer_after_a_cast_to_float64(infer_twin):
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    model.to(np.float64)
    x64 = x.astype(np.float64)
    got = infer_twin.served(model, x64)
    assert got.dtype == np.float64
    _same(got, model, x64)


def test_infer_between_training_steps(infer_twin):
    """Inference, a training step (forward with caches, backward, SGD), inference: each the plain
    path's, and the training step itself is the plain step's bitwise."""
    model, x = _infer_mlp()
    ref = copy.deepcopy(model)
    opt, ref_opt = mt.SGD(model.parameters(), lr=0.05), mt.SGD(ref.parameters(), lr=0.05)
    xb = np.random.default_rng(2).standard_normal((8, 784)).astype(np.float32)
    for _ in range(2):
        _same(infer_twin.served(model, x), model, x)
        for m, o in ((model, opt), (ref, ref_opt)):
            o.zero_grad()
            y = m(xb)
            m.backward(np.cos(y))
            o.step()
        for p, q in zip(model.parameters(), ref.parameters(), strict=True):
            np.testing.assert_array_equal(p.data, q.data)
    _same(infer_twin.served(model, x), model, x)


def test_infer_twin_killed_in_a_session(infer_twin, kill_twin, monkeypatch):
    """The twin killed while its session spins: the caller does the twin's half itself (after
    TAKE_S), the answer is the plain one, and the chain runs alone from then on."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    monkeypatch.setattr(infer_twin, "WAIT_S", 0.01)
    monkeypatch.setattr(infer_twin, "TAKE_S", 0.01)
    kill_twin()
    for _ in range(3):
        with mt.no_grad():
            got = model(x)
        _same(got, model, x)
    assert twin._state["dead"] and infer_twin._state["job"] is None


def test_infer_twin_stopped_in_a_session(infer_twin, monkeypatch):
    """A twin that does not answer (SIGSTOP): every call is still the plain answer, the caller stops
    waiting after WAIT_S and, after MISSES misses, does not ask for COOLDOWN_S; once the twin runs
    again, calls are shared again."""
    import signal

    model, x = _infer_mlp()
    infer_twin.served(model, x)
    monkeypatch.setattr(infer_twin, "WAIT_S", 0.005)
    monkeypatch.setattr(infer_twin, "TAKE_S", 0.005)
    pid = twin._state["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(infer_twin.MISSES + 2):
            with mt.no_grad():
                got = model(x)
            _same(got, model, x)
        assert infer_twin._state["cool"] > 0
    finally:
        os.kill(pid, signal.SIGCONT)
    model[0].W.data[:5] = 0.0  # written while the stale twin may still be finishing an old job
    infer_twin._state["cool"] = 0.0
    monkeypatch.setattr(infer_twin, "WAIT_S", 5.0)
    monkeypatch.setattr(infer_twin, "TAKE_S", 5.0)
    _same(infer_twin.served(model, x), model, x)


def test_infer_gives_the_twin_back_to_another_task(infer_twin, monkeypatch):
    """A session spins in the twin; another task sent to the twin stops it at once and runs there."""
    import time

    # A session that is not stopped returns only after IDLE_S without a job: 60 s here, so the 10 s
    # bound below tells "stopped" from "waited out" with room for a loaded machine (milliseconds
    # when quiet; with the fixture's IDLE_S of 1 s the two were 1 s apart at most).
    monkeypatch.setattr(infer_twin, "IDLE_S", 60.0)
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    assert twin.acquire()
    try:
        start = time.monotonic()
        job = twin.run(twin.noop)
        job.wait()
        assert job.sent and time.monotonic() - start < 10.0
    finally:
        twin.release()
    _same(infer_twin.served(model, x), model, x)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_infer_a_forked_child_does_not_share_the_parents_weights(infer_twin):
    """Weights moved to shared memory, then fork: the child's in-place change stays in the child
    (the same addresses, its own pages), and each process infers from its own weights."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    W = model[0].W.data
    assert twin.shares(W)
    kept, address = W.copy(), W.ctypes.data

    def child():
        W[...] = 0.25  # the child's own training
        with mt.no_grad():
            got = model(x)
        expected = _infer_plain(model, x)
        return W.ctypes.data == address and np.allclose(got, expected, **INFER_RTOL)

    pid, go_w, res_r = _in_child(child)
    assert _child_result(pid, go_w, res_r) == b"1"
    np.testing.assert_array_equal(model[0].W.data, kept)
    _same(infer_twin.served(model, x), model, x)


def _infer_script(env_extra):
    import subprocess
    import sys

    code = (
        "import numpy as np, minitorch as mt\n"
        "from minitorch.kernels import inference\n"
        "mt.manual_seed(0)\n"
        "m = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(),\n"
        "                  mt.Linear(256, 10))\n"
        "x = np.random.default_rng(1).standard_normal((1, 784)).astype(np.float32)\n"
        "with mt.no_grad():\n"
        "    got = [m(x) for _ in range(50)]\n"
        "mt.kernels.use_kernels(False)\n"
        "with mt.no_grad():\n"
        "    ref = m(x)\n"
        "print(inference._state['served'], all(np.allclose(g, ref, rtol=1e-5, atol=1e-6) for g in got))\n"
    )
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_infer_runs_alone_with_minitorch_twin_0():
    assert _infer_script({"MINITORCH_TWIN": "0"}) == ["0", "True"]


def test_infer_runs_alone_with_one_thread():
    assert _infer_script({"MINITORCH_NUM_THREADS": "1"}) == ["0", "True"]
    saved = mt.threads._state["explicit"]
    model, x = _infer_mlp()
    from minitorch.kernels import inference

    served = inference._state["served"]
    try:
        mt.set_num_threads(1)
        for _ in range(5):
            with mt.no_grad():
                got = model(x)
            _same(got, model, x)
    finally:
        mt.set_num_threads(saved)
    assert inference._state["served"] == served


def test_infer_from_two_threads_at_once(infer_twin):
    """Two threads infer with two models at once (one holds the twin, the other runs alone or
    makes its plan when it gets the twin): every answer is its model's plain one."""
    models = [_infer_mlp(), _infer_mlp(np.float64)]
    expected = [_infer_plain(m, x) for m, x in models]
    errors: list = []
    barrier = threading.Barrier(2)

    def work(i):
        model, x = models[i]
        barrier.wait()
        try:
            for _ in range(60):
                with mt.no_grad():
                    got = model(x)
                np.testing.assert_allclose(got, expected[i], **INFER_RTOL)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors


def test_infer_session_leaves_the_core_when_the_calls_stop(infer_twin, monkeypatch):
    """A session spins only while calls come: IDLE_S after the last one it returns to the twin's
    idle loop (its reply is waiting), and the next stream starts another."""
    import select
    import time

    monkeypatch.setattr(infer_twin, "IDLE_S", 0.01)
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    plan = infer_twin._plans[id(model)]
    deadline = time.monotonic() + 10.0  # (0.01 s when quiet; a loaded machine may keep the twin
    while plan.ctrl[1] and time.monotonic() < deadline:  # off its core for longer than a fixed nap)
        time.sleep(0.01)
    assert plan.ctrl[1] == 0  # ALIVE: the session has left
    assert select.select([twin._state["sock"]], [], [], 0)[0]  # its reply waits in the socket
    _same(infer_twin.served(model, x), model, x)


def test_infer_kernels_off_runs_the_children(infer_twin):
    model, x = _infer_mlp()
    served = infer_twin._state["served"]
    mt.kernels.use_kernels(False)
    with mt.no_grad():
        got = model(x)
    mt.kernels.use_kernels(True)
    _same(got, model, x)
    assert infer_twin._state["served"] == served and not twin.shares(model[0].W.data)


def test_infer_two_chains_in_turn_keep_one_session(infer_twin, monkeypatch):
    """Two chains called in turn (a nested Sequential's two halves, or two models): each keeps its
    plan; the one whose session runs shares its calls, the other runs alone meanwhile; no call
    stops a session to start another. Once the first stops being called, the second gets one."""
    a, x = _infer_mlp()
    mt.manual_seed(5)
    b = mt.Sequential(mt.Linear(10, 4096), mt.ReLU(), mt.Linear(4096, 256), mt.ReLU(), mt.Linear(256, 10))
    nested = mt.Sequential(a, b)
    # a session that outlives any pause of a loaded machine: only a call could end it
    monkeypatch.setattr(infer_twin, "IDLE_S", 60.0)
    infer_twin.served(a, x)
    sessions, served = infer_twin._state["session"], infer_twin._state["served"]
    for _ in range(30):
        with mt.no_grad():
            got = nested(x)
        _same(got, nested, x)
    assert infer_twin._state["session"] == sessions  # the running session was never replaced
    assert infer_twin._state["served"] > served
    assert id(a) in infer_twin._plans and id(b) in infer_twin._plans
    monkeypatch.setattr(infer_twin, "IDLE_S", 0.01)  # a session of a started now leaves after 10 ms
    infer_twin._stop_session()
    with mt.no_grad():
        y = a(x)
    # b's session starts on the 8th of its calls in a row each within IDLE_S of the last: 10 ms
    # gaps are often passed on a busy machine (then no session came within served's 30 s)
    monkeypatch.setattr(infer_twin, "IDLE_S", 1.0)
    _same(infer_twin.served(b, y), b, y)
    assert infer_twin._state["owner"] is infer_twin._plans[id(b)]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity")
def test_infer_session_keeps_off_the_callers_cpu_and_gives_its_cpus_back(infer_twin):
    """While a session runs, the twin may not run on the CPU the caller ran on when it began (two
    spinning processes on one CPU wait for each other's time slices); when it ends, the twin may
    run anywhere again (an LSTM's half sent next is not pinned)."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    pid, mine = twin._state["pid"], os.sched_getaffinity(0)
    during = os.sched_getaffinity(pid)
    if len(mine) > 1:
        assert len(during) == len(mine) - 1 and during < mine
    infer_twin._stop_session()
    assert os.sched_getaffinity(pid) == mine


@pytest.mark.parametrize("layer", [0, 2, 4], ids=["cut", "cut2", "rest"])
def test_infer_follows_a_replaced_parameter(infer_twin, layer):
    """``model[i].W = Parameter(...)`` (a new Parameter, not a new array in the old one), a bias set
    to None, ``layer.weight = Parameter(...)`` as in PyTorch: the next call uses the new weights, in
    the cut layers and in the rest."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    m = model[layer]
    m.W = mt.Parameter(m.W.data * 2.0)
    with mt.no_grad():
        got = model(x)
    _same(got, model, x)
    _same(infer_twin.served(model, x), model, x)
    m.b = None
    with mt.no_grad():
        got = model(x)
    _same(got, model, x)
    _same(infer_twin.served(model, x), model, x)
    # PyTorch's spelling: layer.weight / layer.bias = Parameter(...) (new Parameters too)
    m.weight = mt.Parameter(np.ascontiguousarray(m.W.data.T) * 0.5)
    m.bias = mt.Parameter(np.ones(m.out_features, np.float32))
    with mt.no_grad():
        got = model(x)
    _same(got, model, x)
    _same(infer_twin.served(model, x), model, x)
    m.weight.data[...] = 0.0  # written in place through the transposed view
    _same(infer_twin.served(model, x), model, x)


def test_infer_between_a_forward_and_its_backward(infer_twin):
    """A training forward, then one-row inference calls (a user's progress check), then the
    backward: the gradients (or the error) are the plain path's."""
    model, x = _infer_mlp()
    ref = copy.deepcopy(model)
    xb = np.random.default_rng(2).standard_normal((8, 784)).astype(np.float32)
    outcomes = []
    for m, infer in ((ref, False), (model, True)):
        mt.kernels.use_kernels(True)
        y = m(xb)
        mt.kernels.use_kernels(infer)
        for _ in range(infer_twin.STREAK + 4):
            with mt.no_grad():
                m(x)
        mt.kernels.use_kernels(True)
        try:
            m.backward(np.cos(y))
            outcomes.append([p.grad.copy() for p in m.parameters()])
        except RuntimeError as error:
            outcomes.append(type(error))
    if isinstance(outcomes[0], list):
        for g, h in zip(*outcomes, strict=True):
            np.testing.assert_array_equal(g, h)
    else:
        assert outcomes[0] == outcomes[1]


def test_infer_interrupted_mid_call(infer_twin, monkeypatch):
    """A KeyboardInterrupt after a job is posted (while the caller waits for the twin's half): the
    twin is released, and the next calls, shared again, are the plain answer."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    wait = infer_twin._wait

    def interrupted(*args):
        monkeypatch.setattr(infer_twin, "_wait", wait)
        raise KeyboardInterrupt

    monkeypatch.setattr(infer_twin, "_wait", interrupted)
    monkeypatch.setattr(infer_twin.twin, "available", lambda: True)
    x2 = x[:, ::-1].copy()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(100):  # until a call waits (the twin's flag not there yet at the first look)
            with mt.no_grad():
                model(x2)
    assert twin.acquire()
    twin.release()
    _same(infer_twin.served(model, x), model, x)
    _same(infer_twin.served(model, x2), model, x2)


def test_infer_a_model_deleted_and_another_of_its_shapes(infer_twin):
    """A model with a live session deleted, another of the same shapes made (it may get the old
    one's id and its freed shared buffers): the new model's answers, shared, are its own."""
    import gc

    for seed in range(3):
        model, x = _infer_mlp()
        infer_twin.served(model, x)
        del model
        gc.collect()
        mt.manual_seed(10 + seed)
        other = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(),
                              mt.Linear(256, 10))
        _same(infer_twin.served(other, x), other, x)
        del other
        gc.collect()


@pytest.mark.parametrize("twin_on", [True, False], ids=["twin", "alone"])
def test_infer_a_weight_pruned_without_its_in_features(infer_twin, monkeypatch, twin_on):
    """A user prunes the first layer's input rows (W replaced by W[:700]) and forgets in_features:
    the plain chain raises Linear's ValueError for a 700-wide row, and so does inference (it must
    not answer where the plain chain refuses)."""
    model, x = _infer_mlp()
    if not twin_on:
        monkeypatch.setattr(infer_twin, "_threads_ok", lambda: False)
    infer_twin.served(model, x) if twin_on else _same(model(x), model, x)
    model[0].W.data = model[0].W.data[:700].copy()
    x700 = np.ascontiguousarray(x[:, :700])
    with pytest.raises(ValueError, match="in_features=784"):
        _infer_plain(model, x700)
    for _ in range(infer_twin.STREAK + 4):
        with pytest.raises(ValueError, match="in_features=784"), mt.no_grad():
            model(x700)


def test_infer_two_models_of_the_same_shapes_alternating(infer_twin):
    """Two models of the same shapes called in turn (one holds the session, the other runs alone),
    then swapped: every answer is its own model's."""
    a, x = _infer_mlp()
    mt.manual_seed(7)
    b = mt.Sequential(mt.Linear(784, 512), mt.ReLU(), mt.Linear(512, 256), mt.ReLU(), mt.Linear(256, 10))
    want = {id(a): _infer_plain(a, x), id(b): _infer_plain(b, x)}
    infer_twin.served(a, x)
    served = infer_twin._state["served"]
    for first in (a, b):
        for _ in range(3 * infer_twin.STREAK):
            for m in (first, b if first is a else a):
                with mt.no_grad():
                    got = m(x)
                np.testing.assert_allclose(got, want[id(m)], **INFER_RTOL)
        infer_twin._stop_session()
        infer_twin.served(b, x)
    assert infer_twin._state["served"] > served


def test_infer_a_floating_point_error_in_the_twins_half(infer_twin):
    """A weight that overflows float32 in one of the twin's columns only, under
    ``np.errstate(over="raise")``: the plain chain raises FloatingPointError, and so does every call
    here (the twin's NumPy cannot raise in the caller: it hands the half back, and the caller's
    NumPy computes it); the weights fixed, the calls are shared again."""
    model, x = _infer_mlp()
    x = np.abs(x)
    infer_twin.served(model, x)
    column = model[0].W.data.shape[1] - 5  # in the twin's half
    kept = model[0].W.data[:, column].copy()
    model[0].W.data[:, column] = 3e38
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            _infer_plain(model, x)
        for _ in range(infer_twin.STREAK + 4):
            with pytest.raises(FloatingPointError), mt.no_grad():
                model(x)
    model[0].W.data[:, column] = kept
    _same(infer_twin.served(model, x), model, x)


def test_infer_in_a_thread_while_an_lstm_trains_on_the_twin(infer_twin, twin_jobs, monkeypatch):
    """A user thread streams one-row inference while the main thread trains an LSTM whose loops go
    to the twin (each LSTM job stops the session; the inference calls run alone while the LSTM
    holds the twin, and the LSTM's loops while an inference call holds it): every answer is the
    plain one, the training is the twin-less training bitwise, and nothing hangs. The BLAS thread
    count is fixed for the test (``mt.set_num_threads``): under the default policy the first round's
    first step ran at the count the process had, the reference at the policy's 1 thread, and some
    OpenBLAS kernels (Haswell's) round a product differently at 1 thread than at 2."""
    saved = mt.threads._state["explicit"]
    mt.set_num_threads(mt.get_num_threads())
    try:
        _infer_while_an_lstm_trains(infer_twin, twin_jobs, monkeypatch)
    finally:
        mt.set_num_threads(saved)


def _infer_while_an_lstm_trains(infer_twin, twin_jobs, monkeypatch):
    import time

    model, x = _infer_mlp()
    expected = _infer_plain(model, x)
    errors: list = []
    done = threading.Event()

    def infer():
        try:
            while not done.is_set():
                with mt.no_grad():
                    got = model(x)
                np.testing.assert_allclose(got, expected, **INFER_RTOL)
                time.sleep(0.0002)  # the training thread gets the twin between two calls
        except Exception as error:  # reported by the main thread
            errors.append(error)

    def lstm_loops_sent() -> bool:
        return any(job.sent and job.task.__name__ != "serve" for job in twin_jobs)

    infer_twin.served(model, x)  # a session spins when the training begins
    worker = threading.Thread(target=infer)
    worker.start()
    rounds = []
    try:
        # an LSTM loop goes to the twin only if the inference thread is not holding it at that
        # moment (each of its calls holds the twin until the twin's half comes: up to the fixture's
        # 5 s, milliseconds when a busy machine deschedules the twin): on a busy machine all 8 loops
        # of a round of 4 steps could run alone, so rounds are trained until one loop went
        deadline = time.monotonic() + 60
        while not rounds or (not lstm_loops_sent() and time.monotonic() < deadline):
            rounds.append(_lstm_training(steps=4))
    finally:
        done.set()
        worker.join(30)
    assert not worker.is_alive() and not errors, errors
    sent = {job.task.__name__ for job in twin_jobs if job.sent}
    assert "serve" in sent and lstm_loops_sent()  # sessions and LSTM loops both went to the twin
    with monkeypatch.context() as m:
        m.setattr(twin, "available", lambda: False)
        ref = _lstm_training(steps=4)
    for got in rounds:
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    _same(infer_twin.served(model, x), model, x)


def _refs(model):
    """Weak references to a model, its layers and their Parameters."""
    return [weakref.ref(model), *map(weakref.ref, model), *map(weakref.ref, model.parameters())]


@pytest.mark.parametrize("owner", [True, False], ids=["session-owner", "kept-plan"])
def test_infer_keeps_no_deleted_model_alive(infer_twin, owner):
    """A plan holds its chain's layers and weights: once the model is collected its plan goes
    (its session stopped first), so a deleted model's weights are freed, not kept by the cache."""
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    refs = _refs(model)
    if not owner:  # another chain's session: the deleted model's plan is only kept
        other, y = _infer_mlp()
        infer_twin._stop_session()
        infer_twin.served(other, y)
        assert infer_twin._state["owner"] is infer_twin._plans[id(other)]
    assert infer_twin._plans[id(model)].model() is model
    del model
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    if not owner:
        _same(infer_twin.served(other, y), other, y)  # the other chain's session is untouched


def test_infer_keeps_no_deleted_declined_model_alive(infer_twin):
    """A chain declined (a weight held elsewhere) is remembered for RETRY_S: not its model."""
    model, x = _infer_mlp()
    held = model[0].W.data  # held by a name: the weight cannot move to shared memory
    with mt.no_grad():
        model(x)
    assert infer_twin._state["declined"].model() is model
    refs = _refs(model)
    del model, held
    gc.collect()
    assert [r for r in refs if r() is not None] == []


@pytest.mark.parametrize("then", ["new-plan", "new-session"])
def test_infer_drops_a_deleted_models_plan_later_when_the_twin_is_busy(infer_twin, monkeypatch, then):
    """Collected while another call holds the twin: its session cannot be stopped then, so its
    plan waits (the session keeps reading its arrays until stopped) until the next plan is made,
    or the next session starts (another chain, planned already, called once the session left)."""
    monkeypatch.setattr(infer_twin, "IDLE_S", 0.01)  # the deleted model's session leaves soon
    other, y = _infer_mlp()
    if then == "new-session":
        infer_twin.served(other, y)
        infer_twin._stop_session()
    model, x = _infer_mlp()
    infer_twin.served(model, x)
    refs = _refs(model)
    assert twin.acquire()  # another call holds the twin
    try:
        del model
        gc.collect()
        assert refs[1]() is not None and infer_twin._orphans  # kept: its session still runs
    finally:
        twin.release()
    sessions = infer_twin._state["session"]
    _same(infer_twin.served(other, y), other, y)
    assert infer_twin._state["session"] > sessions
    gc.collect()
    assert [r for r in refs if r() is not None] == [] and not infer_twin._orphans


def _force_split(inference, plan, choice):
    """Set each cut layer's split (as ``_balance`` does: between calls, the twin without a job)."""
    for i, s in enumerate(choice):
        plan.choice[i] = plan.ctrl[inference.SPLIT + i] = s


@pytest.mark.parametrize("chain", ["mlp784", "odd"])
def test_infer_every_split_equals_the_plain_chain(infer_twin, monkeypatch, chain):
    """Each cut layer's split moves between calls (``_balance``); the twin follows the control
    block's SPLIT words. Every split of every cut layer, the caller's columns first in the first
    layer and last in the second, gives the plain chain's answer: bitwise for the 784-512-256-10
    model (its splits are whole vector blocks), within float rounding for the odd widths."""
    from tests.test_kernels import INFER_CHAINS, _infer_model

    monkeypatch.setattr(infer_twin, "TALLY", 10**9)  # the splits stay where the test puts them
    sizes, last_relu = INFER_CHAINS[chain]
    model, xs = _infer_model(sizes, last_relu)
    x = xs[0]
    expected = _infer_plain(model, x)
    infer_twin.served(model, x)
    plan = infer_twin._plans[id(model)]
    counts = [len(layer[4]) for layer in plan.cut]
    assert len(counts) == 2 and min(counts) > 2
    first, last = plan.cut[0][4][0], plan.cut[1][4][0]
    W0, W1 = plan.cut[0][0], plan.cut[1][0]
    assert first[1].ctypes.data == W0.ctypes.data and first[6] == slice(first[0], W0.shape[1])  # first
    assert last[1].ctypes.data == W1[:, W1.shape[1] - last[0]:].ctypes.data and last[6] == slice(  # last
        0, W1.shape[1] - last[0])
    for s in range(max(counts)):
        _force_split(infer_twin, plan, [min(s, n - 1) for n in counts])
        got = infer_twin.served(model, x)
        assert plan.choice == [min(s, n - 1) for n in counts]
        if chain == "mlp784":
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, **INFER_RTOL)


def test_infer_split_moves_towards_the_later_half(infer_twin, monkeypatch):
    """After TALLY shared calls a layer whose twin's half was done first in most of them gives the
    twin a vector block more; one whose twin's half was mostly later gives the caller one more;
    neither leaves its range; the answers stay the plain chain's."""
    model, x = _infer_mlp()
    expected = _infer_plain(model, x)
    monkeypatch.setattr(infer_twin, "TALLY", 10**9)
    infer_twin.served(model, x)
    plan = infer_twin._plans[id(model)]
    last = [len(layer[4]) - 1 for layer in plan.cut]
    for start, early, want in (([3, 3], [10**9, 0], [2, 4]), ([3, 3], [0, 10**9], [4, 2]),
                               ([3, 3], [5 * 10**8, 5 * 10**8], [3, 3]),  # balanced: stays
                               ([0, last[1]], [10**9, 0], [0, last[1]]),  # at the ends: stays
                               ([last[0], 0], [0, 10**9], [last[0], 0])):
        _force_split(infer_twin, plan, start)
        plan.early[:] = early
        infer_twin._balance(plan)
        assert plan.choice == want and list(plan.ctrl[infer_twin.SPLIT:infer_twin.SPLIT + 2]) == want
        assert plan.early == [0, 0] and plan.tally == 0
        np.testing.assert_array_equal(infer_twin.served(model, x), expected)


def test_infer_split_stays_after_a_call_the_twin_missed(infer_twin, monkeypatch):
    """A call whose twin's half was not read (here the twin is stopped, SIGSTOP, perhaps inside a
    job) leaves the splits and the tally as they were: the twin may still write that job's half
    once it runs again, so the columns must not move. Once it runs, every answer is the plain
    chain's (bitwise) and the splits move again."""
    import signal

    model, x = _infer_mlp()
    expected = _infer_plain(model, x)
    infer_twin.served(model, x)
    plan = infer_twin._plans[id(model)]
    _force_split(infer_twin, plan, [3, 3])
    plan.tally, plan.early[:] = infer_twin.TALLY - 1, [infer_twin.TALLY, 0]  # the next shared call moves
    monkeypatch.setattr(infer_twin, "WAIT_S", 0.005)
    monkeypatch.setattr(infer_twin, "TAKE_S", 0.005)
    monkeypatch.setattr(infer_twin, "MISSES", 10**9)  # no spell alone: every call tries the twin
    pid = twin._state["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            with mt.no_grad():
                got = model(x)
            np.testing.assert_array_equal(got, expected)
        assert plan.choice == [3, 3] and plan.tally == infer_twin.TALLY - 1
    finally:
        os.kill(pid, signal.SIGCONT)
    monkeypatch.setattr(infer_twin, "WAIT_S", 5.0)
    monkeypatch.setattr(infer_twin, "TAKE_S", 5.0)
    np.testing.assert_array_equal(infer_twin.served(model, x), expected)
    assert plan.choice == [2, 4]
    for _ in range(3 * infer_twin.TALLY):
        np.testing.assert_array_equal(infer_twin.served(model, x), expected)


def test_infer_split_moves_again_after_a_ctrl_c_in_its_move(infer_twin, monkeypatch):
    """A Ctrl-C (KeyboardInterrupt) that lands as a call enters ``_balance`` (Python runs a
    signal's handler at a function's entry): the call raises it, and the calls after it, every one
    the plain chain's bitwise, move the splits again every TALLY shared calls (a tally left at
    TALLY must not count past it for good)."""
    model, x = _infer_mlp()
    expected = _infer_plain(model, x)
    infer_twin.served(model, x)
    plan = infer_twin._plans[id(model)]
    _force_split(infer_twin, plan, [3, 3])
    plan.tally, plan.early[:] = infer_twin.TALLY - 1, [0, 0]
    balance = infer_twin._balance

    def interrupted(plan):
        monkeypatch.setattr(infer_twin, "_balance", balance)
        raise KeyboardInterrupt

    monkeypatch.setattr(infer_twin, "_balance", interrupted)
    with pytest.raises(KeyboardInterrupt):
        infer_twin.served(model, x)
    assert twin.acquire()  # (released by the call's finally)
    twin.release()
    plan.early[:] = [10**9, 0]  # the twin's half of the first layer done first in every call
    np.testing.assert_array_equal(infer_twin.served(model, x), expected)
    assert plan.choice[0] == 2 and plan.tally == 0
    for _ in range(infer_twin.TALLY + 1):
        np.testing.assert_array_equal(infer_twin.served(model, x), expected)
    assert plan.tally < infer_twin.TALLY


def test_infer_ctrl_c_at_each_line_of_a_call(infer_twin, monkeypatch):
    """A Ctrl-C (KeyboardInterrupt) landing at each line of a shared call (raised there by a trace
    function, as Python raises a signal's exception between two lines), with the splits moving
    every second shared call: the calls after it are the plain chain's bitwise, each cut layer's
    split is the one the twin reads (the SPLIT words), and the tally goes on counting. Not at the
    ``try:`` lines (no signal lands on them) nor at ``twin.release()`` (the twin's own hand-off:
    its lock)."""
    import linecache
    import sys

    model, _ = _infer_mlp()
    xs = [np.random.default_rng(s).standard_normal((1, 784)).astype(np.float32) for s in range(3)]
    expected = [_infer_plain(model, x) for x in xs]
    monkeypatch.setattr(infer_twin, "TALLY", 2)
    infer_twin.served(model, xs[0])
    hit = []

    def at(code, line):
        def local(frame, event, arg):
            if event == "line" and frame.f_lineno == line and not hit:
                hit.append(line)
                raise KeyboardInterrupt
            return local
        return lambda frame, event, arg: local if frame.f_code is code else None

    tried = 0
    for f in (infer_twin._posted_first, infer_twin._run, infer_twin._post, infer_twin._finish,
              infer_twin._balance, infer_twin._wait):
        code = f.__code__
        for line in sorted({n for *_, n in code.co_lines() if n is not None and n > code.co_firstlineno}):
            text = linecache.getline(code.co_filename, line).strip()
            if text == "try:" or "twin.release()" in text:
                continue
            hit.clear()
            for attempt in range(4):  # (a line of the moving split: its early counts both ways)
                plan = infer_twin._plans[id(model)]
                plan.early[:] = [attempt % 2 * infer_twin.TALLY, infer_twin.TALLY // 2]
                before = sys.gettrace()
                sys.settrace(at(code, line))
                try:
                    with mt.no_grad():
                        model(xs[attempt % 3])
                except KeyboardInterrupt:
                    pass
                finally:
                    sys.settrace(before)
                if hit:
                    break
            tried += bool(hit)
            for k in range(6):
                np.testing.assert_array_equal(infer_twin.served(model, xs[k % 3]), expected[k % 3])
            plan = infer_twin._plans[id(model)]
            assert list(plan.ctrl[infer_twin.SPLIT:infer_twin.SPLIT + 2]) == plan.choice, (f.__name__, line)
            assert plan.tally < infer_twin.TALLY, (f.__name__, line)
    assert tried > 30
