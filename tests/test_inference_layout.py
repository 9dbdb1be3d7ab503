"""One-row inference in eval mode lays a large chain's cut weights out column-major in shared memory
(kernels/inference_plan.py); ``train()`` gives them back as private row-major arrays
(minitorch/lent_weights.py), so training after inference runs on row-major weights; files hold
the same bytes whatever a weight's layout in memory."""

from __future__ import annotations

import copy
import gc
import itertools
import time
import weakref

import numpy as np
import pytest
from test_kernels import INFER_CHAINS, INFER_TOL, _infer_model, _plain_infer

import minitorch as mt
from minitorch import lent_weights


@pytest.fixture(autouse=True)
def short_tally(monkeypatch):
    """A plan's splits and layout are looked at every 2 shared calls (``inference.TALLY``)."""
    from minitorch.kernels import inference

    monkeypatch.setattr(inference, "TALLY", 2)


def _stream(infer, model, x, calls=8):
    """A stream of shared calls, a few tallies long: an eval-mode chain's plan lays its cut weights
    out column-major after its first tally. The last call's output."""
    for _ in range(calls):
        y = infer.served(model, x)
    return y


def _layout(p):
    """'F' (column-major only) or 'C', and whether the array lies in memory shared with the twin."""
    from minitorch.kernels import twin

    a = p.data
    return ("F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"), twin.shares(a)


def _cut_weights(model):
    return [m.W for m in model if isinstance(m, mt.Linear) and m.W.data.nbytes >= 1 << 17][:2]


def _mlp():
    model, xs = _infer_model((784, 512, 256, 10))
    return model, xs[0]


def _train_step(model, x, y):
    opt = mt.SGD(model.parameters(), lr=0.05)
    loss_fn = mt.CrossEntropyLoss()
    opt.zero_grad()
    loss_fn(model(x), y)
    model.backward_params(loss_fn.backward())
    opt.step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chain", list(INFER_CHAINS))
def test_eval_inference_lays_the_cut_weights_out_column_major(infer_twin, chain, dtype):
    sizes, last_relu = INFER_CHAINS[chain]
    model, xs = _infer_model(sizes, last_relu, True, dtype)
    model.eval()
    before = _plain_infer(model, xs)
    got = [_stream(infer_twin, model, x) for x in xs]
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    after = _plain_infer(model, xs)  # the plain chain on the same (column-major) arrays
    for g, b, a in zip(got, before, after, strict=True):
        np.testing.assert_allclose(g, b, **INFER_TOL[dtype])  # within float rounding of row-major
        np.testing.assert_array_equal(g, a)


def test_train_after_eval_inference_trains_on_row_major_weights(infer_twin):
    model, x = _mlp()
    ref = copy.deepcopy(model)
    model.eval()
    _stream(infer_twin, model, x)
    _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    model.train()
    assert [_layout(W) for W in _cut_weights(model)] == [("C", False), ("C", False)]  # given back
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        assert _layout(p)[0] == "C"  # (a bias, row-major either way, may stay shared)
        np.testing.assert_array_equal(p.data, q.data)
    rng = np.random.default_rng(0)
    xb, yb = rng.standard_normal((32, 784)).astype(np.float32), rng.integers(0, 10, 32)
    for _ in range(2):
        _train_step(model, xb, yb)
        _train_step(ref, xb, yb)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):  # (two copies of one model
        assert _layout(p)[0] == "C"  # need not train bitwise alike: the BLAS's path may
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)  # follow the arrays' alignment)


def _held_at_train(infer):
    """The MLP after an eval-mode stream, put back in training mode while its first weight is held
    (which stays column-major and shared); a copy taken before the stream; a batch of 16."""
    model, x = _mlp()
    ref = copy.deepcopy(model)
    model.eval()
    _stream(infer, model, x)
    held = model[0].W.data
    model.train()
    assert model[0].W.data is held and _layout(model[0].W) == ("F", True)  # the user's name still works
    rng = np.random.default_rng(0)
    return model, ref, held, rng.standard_normal((16, 784)).astype(np.float32), rng.integers(0, 10, 16)


def test_a_weight_someone_holds_stays_lent_and_trains_right(infer_twin):
    model, ref, held, xb, yb = _held_at_train(infer_twin)
    assert _layout(model[2].W) == ("C", False)
    _train_step(model, xb, yb)
    _train_step(ref, xb, yb)
    assert model[0].W.data is held
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    del held
    model.eval()
    model.train()  # nothing else holds it now
    assert _layout(model[0].W) == ("C", False)


def test_training_mode_inference_then_eval_lays_the_weights_out_column_major(infer_twin):
    model, x = _mlp()
    _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("C", True), ("C", True)]
    model.eval()  # (row-major shared weights stay where they are)
    assert [_layout(W) for W in _cut_weights(model)] == [("C", True), ("C", True)]
    y = _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    np.testing.assert_array_equal(y, _plain_infer(model, [x])[0])


def test_eval_again_keeps_the_laid_out_weights(infer_twin):
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    arrays = [W.data for W in _cut_weights(model)]
    model.eval()
    model[0].eval()
    _stream(infer_twin, model, x)
    assert all(W.data is a for W, a in zip(_cut_weights(model), arrays, strict=True))


def test_a_child_put_in_training_mode_gives_its_weight_back(infer_twin):
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    model[2].train()
    assert _layout(model[0].W) == ("F", True) and _layout(model[2].W) == ("C", False)
    y = _stream(infer_twin, model, x)  # a child in training mode: the plan keeps row-major
    np.testing.assert_allclose(y, _plain_infer(model, [x])[0], **INFER_TOL[np.float32])
    assert _layout(model[2].W) == ("C", True)


def test_lent_arrays_are_forgotten_when_collected():
    a = np.ones((3, 4))
    calls = []
    lent_weights.lend(a, calls.append)
    key = id(a)
    assert key in lent_weights._lent
    del a
    gc.collect()
    assert key not in lent_weights._lent
    p = mt.Parameter(np.ones((3, 4)))
    lent_weights.give_back([p, None])  # not lent: nothing called
    assert calls == []
    lent_weights.lend(p.data, calls.append)
    lent_weights.give_back([p])
    assert calls == [p]


@pytest.mark.parametrize("layout", ["fortran", "negative-strides"])
def test_a_file_holds_the_same_bytes_whatever_the_weights_layout(tmp_path, layout):
    from cases import LAYOUTS

    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(5, 4), mt.ReLU(), mt.Linear(4, 3))
    mt.save_model(model, tmp_path / "c.npz")
    for p in model.parameters():
        p.data = LAYOUTS[layout](p.data)
    mt.save_model(model, tmp_path / "other.npz")
    assert (tmp_path / "c.npz").read_bytes() == (tmp_path / "other.npz").read_bytes()
    loaded = mt.load_model(tmp_path / "other.npz")
    assert all(p.data.flags.c_contiguous for p in loaded.parameters())


def test_a_column_major_weight_trains_with_a_column_major_gradient_and_one_blas_update(monkeypatch):
    """A weight left column-major (a copy of an eval-mode model, a weight held at ``train()``) gets
    its gradients laid out as itself, so the SGD kernel's update pairs them in memory order: one
    BLAS axpy, not a transposing NumPy pass."""
    from minitorch.kernels import optimizers as fast

    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(300, 200), mt.ReLU(), mt.Linear(200, 10))
    ref = copy.deepcopy(model)
    for p in model.parameters():
        p.data = np.asfortranarray(p.data)
    rng = np.random.default_rng(0)
    xb, yb = rng.standard_normal((16, 300)).astype(np.float32), rng.integers(0, 10, 16)
    for m in (model, ref):
        loss_fn = mt.CrossEntropyLoss()
        loss_fn(m(xb), yb)
        m.backward_params(loss_fn.backward())
    assert model[0].W.grad.flags.f_contiguous and model[2].W.grad.flags.f_contiguous
    blas = fast._get_blas()
    if not blas.routines:
        pytest.skip("no BLAS axpy found")
    assert blas.usable(model[0].W.data, model[0].W.grad)
    mt.SGD(model.parameters(), lr=0.1).step()
    mt.SGD(ref.parameters(), lr=0.1).step()
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)


def test_adam_trains_a_weight_left_column_major_after_eval_inference(infer_twin):
    """A weight held at ``train()`` stays column-major: Adam's kernel updates it in memory order
    (a row-major flat reshape of it would be a copy, and the step lost: every element off by about
    lr). Both models step from the same gradients: the forward's product on a column-major W is
    another BLAS call than on a row-major one, so the gradients agree to float32 rounding only, and
    Adam's first step, lr * g / (|g| + eps), turns a rounding of a g near eps (1e-8) into a change
    of up to lr in that element."""
    model, ref, held, xb, yb = _held_at_train(infer_twin)
    opts = []
    for m in (model, ref):
        opt, loss_fn = mt.Adam(m.parameters(), lr=0.01), mt.CrossEntropyLoss()
        loss_fn(m(xb), yb)
        m.backward_params(loss_fn.backward())
        opts.append(opt)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        scale = np.abs(q.grad).max()  # float32 sums: rounding relative to their largest terms
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-5 * scale)
        np.copyto(q.grad, p.grad)
    for opt in opts:
        opt.step()
    assert model[0].W.data is held
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", ["deepcopy", "train-copy"])
def test_a_copy_of_a_model_after_eval_inference_is_shared_with_the_twin_too(infer_twin, make):
    """copy.deepcopy (or pickle, Module.to) keeps a lent weight's column-major layout in a private
    array: the copy's plan moves it to shared memory as any other (it is not declined for good)."""
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    other = copy.deepcopy(model)
    assert _layout(other[0].W) == ("F", False)
    if make == "train-copy":
        other.train()  # not lent: stays as it is, column-major and private
        assert _layout(other[0].W) == ("F", False)
    y = _stream(infer_twin, other, x)
    layout = "F" if make == "deepcopy" else "C"
    assert [_layout(W) for W in _cut_weights(other)] == [(layout, True), (layout, True)]
    np.testing.assert_allclose(y, _plain_infer(model, [x])[0], **INFER_TOL[np.float32])


def test_a_lent_array_collected_at_shutdown_is_forgotten_quietly(monkeypatch):
    """The weak reference's callback may run while the interpreter shuts down, after the module's
    globals are gone (None): it uses the table it was made with, so nothing is reported."""
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    a = np.ones((3, 4))
    lent_weights.lend(a, lambda p: None)
    table, key = lent_weights._lent, id(a)
    monkeypatch.setattr(lent_weights, "_lent", None)  # as at shutdown
    del a
    gc.collect()
    assert reported == [] and key not in table


def test_predict_of_one_row_keeps_a_training_mode_model_s_plan(infer_twin, monkeypatch):
    """``mt.predict`` switches a model in training mode to eval mode and back for each call: the
    weights keep their layout through that switch (``lent_weights.kept``), so the one plan made
    serves every later call instead of each call moving the weights column-major and back."""
    plans = []  # (a count: a plan kept here would hold the weights)
    make = infer_twin._make_plan
    monkeypatch.setattr(infer_twin, "_make_plan", lambda *a: plans.append(1) or make(*a))
    model, x = _mlp()
    want = _plain_infer(model, [x])[0]
    served = infer_twin._state["served"]
    deadline = time.monotonic() + 10.0  # (a busy machine may keep the twin from the first calls)
    for k in itertools.count():
        np.testing.assert_allclose(mt.predict(model, x), want, **INFER_TOL[np.float32])
        if k >= 30 and (infer_twin._state["served"] > served or time.monotonic() > deadline):
            break
    assert len(plans) == 1 and infer_twin._state["served"] > served
    assert model.training and [_layout(W) for W in _cut_weights(model)] == [("C", True), ("C", True)]
    model.eval()  # a switch of the user's own: the next plan lays the weights out column-major
    _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    assert len(plans) == 2
    model.train()
    assert [_layout(W) for W in _cut_weights(model)] == [("C", False), ("C", False)]


def test_a_few_calls_per_eval_phase_leave_the_weights_row_major(infer_twin, monkeypatch):
    """The layout changes only after a tally of shared calls in eval mode: a loop that switches to
    eval for a few one-row calls and back to train for a step (an agent acting, then learning)
    moves no weight back and forth."""
    monkeypatch.setattr(infer_twin, "TALLY", 32)
    model, x = _mlp()
    infer_twin.served(model, x)
    arrays = [W.data for W in _cut_weights(model)]
    for _ in range(5):
        model.eval()
        for _ in range(5):
            y = infer_twin.served(model, x)
        model.train()
        np.testing.assert_allclose(y, _plain_infer(model, [x])[0], **INFER_TOL[np.float32])
    assert all(W.data is a for W, a in zip(_cut_weights(model), arrays, strict=True))
    assert [_layout(W) for W in _cut_weights(model)] == [("C", True), ("C", True)]


def test_a_held_weight_is_asked_to_move_once(infer_twin, monkeypatch):
    """A weight someone holds stays row-major when the plan lays the others out column-major, and
    the plan does not ask again at every tally (each asking stops the session)."""
    from minitorch.kernels import inference

    made, make = [], inference._make_plan
    monkeypatch.setattr(inference, "_make_plan", lambda *a: made.append(a[-1]) or make(*a))
    model, x = _mlp()
    infer_twin.served(model, x)  # (training mode: shared, row-major)
    held = model[0].W.data
    model.eval()
    for _ in range(3):
        _stream(infer_twin, model, x)
    assert model[0].W.data is held and _layout(model[0].W) == ("C", True)
    assert _layout(model[2].W) == ("F", True)
    assert made == [False, True]  # the first plan, then the column-major one


# --- mutants6: mutants of lent_weights and switched_mode these tests kill ----------------------------
def test_kept_gives_nothing_back_in_its_own_thread_and_nests():
    """Survivor: ``give_back``'s ``not _lent or keeping()`` as ``and`` (inside ``kept()`` a lent
    array was then given back whenever anything was lent)."""
    import threading

    p = mt.Parameter(np.ones((3, 4)))
    calls = []
    lent_weights.lend(p.data, calls.append)
    with lent_weights.kept():
        with lent_weights.kept():
            lent_weights.give_back([p])
        assert lent_weights.keeping()
        lent_weights.give_back([p])
        assert calls == []
        other = threading.Thread(target=lent_weights.give_back, args=([p],))  # not inside kept()
        other.start()
        other.join()
        assert calls == [p]
    assert not lent_weights.keeping()
    lent_weights.give_back([p])
    assert calls == [p, p]


def test_a_module_with_a_parameter_set_to_none_changes_mode_while_weights_are_lent():
    """Survivor: ``give_back``'s ``if p is None: continue`` deleted (a module holding a None
    Parameter, ``register_parameter(name, None)`` as torch's, then raised AttributeError at
    ``train()``/``eval()`` while any weight was lent)."""

    class Gate(mt.Module):
        def __init__(self):
            super().__init__()
            self.W = mt.Parameter(np.ones((3, 4)))
            self.register_parameter("b", None)

        def forward(self, x):
            return x @ self.W.data

    lent = mt.Parameter(np.ones((2, 2)))
    calls = []
    lent_weights.lend(lent.data, calls.append)
    gate = mt.Sequential(Gate())
    gate.eval()
    gate.train()
    assert gate[0].training and calls == []
    lent_weights.give_back([None, lent])
    assert calls == [lent]


def _predict_until_served(infer, model, x, want, until=lambda: True):
    """``mt.predict`` of the one row, at least 30 times and until a call was shared with the twin
    and ``until()`` holds (up to 30 s: a busy machine may keep the twin from the first calls)."""
    served = infer._state["served"]
    deadline = time.monotonic() + 30.0
    for k in itertools.count():
        np.testing.assert_allclose(mt.predict(model, x), want, **INFER_TOL[np.float32])
        done = infer._state["served"] > served + 8 and until()
        if k >= 30 and (done or time.monotonic() > deadline):
            break
    assert infer._state["served"] > served


def test_predict_keeps_one_plan_for_a_training_mode_model_with_a_held_lent_weight(infer_twin, monkeypatch):
    """A weight someone held at ``train()`` stays lent: ``mt.predict``'s switch to eval mode and back
    gives nothing back (``kept``), so the one plan serves every call. Survivor: ``give_back``'s
    ``not _lent or keeping()`` as ``and`` (each switch then dropped the plan holding the weight)."""
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    held = model[0].W.data
    model.train()
    assert _layout(model[0].W) == ("F", True)
    plans = []
    make = infer_twin._make_plan
    monkeypatch.setattr(infer_twin, "_make_plan", lambda *a: plans.append(1) or make(*a))
    _predict_until_served(infer_twin, model, x, _plain_infer(model, [x])[0])
    assert len(plans) == 1 and model.training and model[0].W.data is held


def test_predict_per_row_on_an_eval_mode_model_lays_the_weights_out_column_major(infer_twin):
    """A model the user put in eval mode: ``mt.predict`` changes no mode, so its stream of one-row
    calls lays the cut weights out column-major as any eval-mode stream. Survivor: switched_mode's
    ``keep = not training and any(...)`` as ``or`` (the switch then ran inside ``kept()``)."""
    model, x = _mlp()
    model.eval()
    cut = _cut_weights(model)
    _predict_until_served(infer_twin, model, x, _plain_infer(model, [x])[0],
                          lambda: [_layout(W) for W in cut] == [("F", True), ("F", True)])
    assert [_layout(W) for W in cut] == [("F", True), ("F", True)]


def test_fit_after_eval_inference_trains_row_major_weights(infer_twin):
    """``fit``'s switch to training mode gives the lent weights back (row-major, private) and
    trains as on a copy never laid out otherwise: only a switch to eval mode runs inside
    ``kept()`` (with switched_mode's test negated the weights stayed lent, column-major and shared,
    through the training and after)."""
    model, x = _mlp()
    ref = copy.deepcopy(model)
    model.eval()
    _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((16, 784)).astype(np.float32), rng.integers(0, 10, 16)) for _ in range(2)]
    for m in (model, ref):
        m.eval()
        mt.fit(m, mt.CrossEntropyLoss(), mt.SGD(m.parameters(), lr=0.05), batches, epochs=1, metrics=(),
               verbose=0)
        assert not m.training
    assert [_layout(W) for W in _cut_weights(model)] == [("C", False), ("C", False)]
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)


# --- mutants6: mutants of the plans' layout and of _give_back these tests kill ----------------------
def test_a_plan_whose_every_cut_weight_is_held_asks_once(infer_twin, monkeypatch):
    """Every cut weight held by a name: the column-major plan keeps them all row-major and is not
    made again at every tally. Survivor: chain_forward's ``plan.column_major = True`` deleted (a
    plan whose arrays all stayed row-major then asked again at each tally, stopping the session)."""
    made, make = [], infer_twin._make_plan
    monkeypatch.setattr(infer_twin, "_make_plan", lambda *a: made.append(a[-1]) or make(*a))
    model, x = _mlp()
    infer_twin.served(model, x)  # (training mode: shared, row-major)
    held = [W.data for W in _cut_weights(model)]
    model.eval()
    for _ in range(3):
        y = _stream(infer_twin, model, x)
    assert [W.data for W in _cut_weights(model)] == held
    assert [_layout(W) for W in _cut_weights(model)] == [("C", True), ("C", True)]
    assert made == [False, True]
    np.testing.assert_array_equal(y, _plain_infer(model, [x])[0])


def test_train_gives_back_a_lent_weight_a_declined_chain_holds(infer_twin):
    """A chain this module does not run, made of a planned model's layer, is remembered with its
    arrays (``_Declined``); ``train()`` forgets it with the plans holding the lent weight, so the
    weight comes back row-major. Survivor: ``_drop_plans_of``'s ``if ... declined.arrays`` deleted
    (the declined chain's reference then kept the weight lent, column-major, through training)."""
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    other = mt.Sequential(model[0], mt.Sigmoid())  # not a Linear/ReLU chain: declined
    with mt.no_grad():
        other(x)
    assert infer_twin._state["declined"].model() is other
    model.train()
    assert [_layout(W) for W in _cut_weights(model)] == [("C", False), ("C", False)]
    assert infer_twin._state["declined"] is None


def test_train_drops_only_the_plans_and_the_declined_chain_holding_its_weights(infer_twin, monkeypatch):
    """``train()`` of a model whose weights are lent drops its own plan, not another model's plan
    nor a declined chain that does not hold them: their next calls make no plan. Survivors:
    ``_drop_plans_of``'s ``held is a`` as ``is not`` (every plan, or the declined chain, dropped)."""
    from minitorch.kernels import inference_plan

    monkeypatch.setattr(inference_plan, "RETRY_S", 60.0)  # (a busy machine: the decline stays remembered)
    other, y = _mlp()
    infer_twin.served(other, y)  # planned in training mode
    model, x = _mlp()
    model.eval()
    _stream(infer_twin, model, x)
    declined = mt.Sequential(mt.Linear(784, 512), mt.Sigmoid())
    with mt.no_grad():
        declined(x)
    assert infer_twin._state["declined"].model() is declined
    made, make = [], infer_twin._make_plan
    monkeypatch.setattr(infer_twin, "_make_plan", lambda *a: made.append(1) or make(*a))
    model.train()
    assert [_layout(W) for W in _cut_weights(model)] == [("C", False), ("C", False)]
    with mt.no_grad():
        declined(x)
    got = infer_twin.served(other, y)
    np.testing.assert_allclose(got, _plain_infer(other, [y])[0], **INFER_TOL[np.float32])
    assert made == []


def test_train_gives_back_a_weight_of_a_collected_model_s_plan_left_for_later(infer_twin):
    """A model collected while another call holds the twin leaves its plan for later (``_orphans``:
    its session cannot be stopped then); its layers, still used, put in training mode get their
    lent weights back row-major. Survivor: ``_drop_plans_of``'s ``_orphans[:] = ...`` deleted (the
    orphan's reference then kept the weights lent, column-major, through training)."""
    from minitorch.kernels import twin

    model, x = _mlp()
    layers = list(model)
    model.eval()
    _stream(infer_twin, model, x)
    assert twin.acquire()  # another call holds the twin
    try:
        del model
        gc.collect()
        assert infer_twin._orphans
    finally:
        twin.release()
    for m in layers:
        m.train()
    assert [_layout(m.W) for m in (layers[0], layers[2])] == [("C", False), ("C", False)]
    assert not infer_twin._orphans


def test_a_weight_viewing_an_array_someone_holds_stays_a_view_of_it(infer_twin):
    """A weight that is a view of a larger array someone holds (a flat vector of all the weights)
    is not moved: the chain runs without the twin, on the view, and an in-place change of the
    held array is seen. Survivors: ``_shared``'s check of the view's base deleted, or its ``return
    a if shared else None`` negated or swapped (the weight was then moved, or handed to the twin as
    a copy: an in-place change of the flat vector was not seen, a silent wrong answer)."""
    model, x = _mlp()
    W = model[0].W.data
    flat = np.concatenate([W.ravel(), np.zeros(7, W.dtype)])
    model[0].W.data = flat[:W.size].reshape(W.shape)
    del W
    model.eval()
    for _ in range(12):
        with mt.no_grad():
            model(x)
    assert np.shares_memory(model[0].W.data, flat)
    flat *= 0.5  # in place: the weight changes with it
    with mt.no_grad():
        got = [model(x) for _ in range(12)]
    want = _plain_infer(model, [x])[0]
    for y in got:
        np.testing.assert_allclose(y, want, **INFER_TOL[np.float32])


def test_a_relayout_leaves_the_shared_biases_where_they_are(infer_twin):
    """A Parameter already in shared memory is used as it lies: the column-major plan moves the
    cut weights, not the biases (same arrays). Survivor: the ``or`` of ``_shared``'s ``shared and
    (not column_major or ...)`` as ``and`` (a shared bias was then copied again at each new plan)."""
    model, x = _mlp()
    infer_twin.served(model, x)  # (training mode: weights and biases shared, row-major)
    biases = [weakref.ref(m.b.data) for m in (model[0], model[2])]  # (a name would hold them)
    model.eval()
    _stream(infer_twin, model, x)
    assert [_layout(W) for W in _cut_weights(model)] == [("F", True), ("F", True)]
    assert all(m.b.data is b() for m, b in zip((model[0], model[2]), biases, strict=True))
