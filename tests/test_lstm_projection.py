"""LSTM with projections (proj_size > 0): PyTorch over hypothesis grids, gradcheck, files, interop, errors.

h_t = W_hr @ (o * tanh(c_t)): h0, h_n and the output have proj_size features, c0 and c_n hidden_size.
(tests/cases.py registers three such LSTMs, so the registry suites cover them too.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import compare_inputs

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels


@st.composite
def _cases(draw):
    hidden = draw(st.integers(2, 5))
    size = dict(input_size=draw(st.integers(1, 3)), hidden_size=hidden,
                proj_size=draw(st.integers(1, hidden - 1)))
    options = dict(num_layers=draw(st.integers(1, 3)), bias=draw(st.booleans()),
                   batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()))
    T, N = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batched, with_hx = draw(st.booleans()), draw(st.booleans())
    return size, options, T, N, batched, with_hx, draw(st.integers(0, 2**31))


def _inputs(size, options, T, N, batched, with_hx, seed, dtype):
    """x, and if with_hx the pair (h0 with proj_size features, c0 with hidden_size)."""
    rng = np.random.default_rng(seed)
    shape = ((N, T) if options["batch_first"] else (T, N)) if batched else (T,)
    x = rng.standard_normal(shape + (size["input_size"],)).astype(dtype)
    if not with_hx:
        return (x,)
    lead = ((2 if options["bidirectional"] else 1) * options["num_layers"],) + ((N,) if batched else ())
    h0 = rng.standard_normal(lead + (size["proj_size"],)).astype(dtype)
    c0 = rng.standard_normal(lead + (size["hidden_size"],)).astype(dtype)
    return (x, (h0, c0))


@settings(max_examples=60, deadline=None)
@given(case=_cases(), kernels=st.booleans())
def test_matches_torch_float64(case, kernels):
    """output, h_n, c_n, dx, dh0, dc0 and every Parameter's gradient (weight_hr too), kernels on or off."""
    size, options, *rest = case
    mt.set_default_dtype(np.float64)
    mt.manual_seed(rest[-1] % 1000)
    module = mt.LSTM(**size, **options)
    use_kernels(kernels)
    compare_inputs(module, _inputs(size, options, *rest, np.float64), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(case=_cases())
def test_matches_torch_float32_and_stays_float32(case):
    size, options, *rest = case
    module = mt.LSTM(**size, **options)
    compare_inputs(module, _inputs(size, options, *rest, np.float32), rtol=1e-4, atol=1e-5)


def test_weight_hr_gradient_is_nonzero_and_torchs():
    """The oracle above would pass a weight_hr that got no gradient only if torch's were zero too:
    here it is large, and equal to torch's."""
    mt.set_default_dtype(np.float64)
    lstm = mt.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    x = np.random.default_rng(0).standard_normal((4, 3, 3))
    compare_inputs(lstm, (x,), rtol=1e-10, atol=1e-12)
    for name in ("weight_hr_l0", "weight_hr_l0_reverse", "weight_hr_l1", "weight_hr_l1_reverse"):
        assert np.abs(getattr(lstm, name).grad).max() > 1e-3, name


@pytest.mark.parametrize("options, shapes", [
    (dict(num_layers=2, bidirectional=True, proj_size=1), [(3, 2, 2), (4, 2, 1), (4, 2, 3)]),
    (dict(num_layers=3, batch_first=True, proj_size=2), [(2, 3, 2)]),
    (dict(bias=False, proj_size=2), [(3, 2), (1, 2), (1, 3)]),  # unbatched
    (dict(num_layers=3, dropout=0.5, bidirectional=True, proj_size=1), [(3, 2, 2)]),  # training dropout
], ids=["2-layers-bidirectional-hx", "3-layers-batch-first", "unbatched-no-bias-hx", "dropout-train"])
def test_gradcheck_float64_with_tuple_outputs(float64, options, shapes):
    """Every element of x, h0, c0 and of every Parameter; a random upstream for output, h_n and c_n."""
    rng = np.random.default_rng(4)
    x, *hx = (rng.standard_normal(shape) for shape in shapes)
    mt.gradcheck(mt.LSTM(2, 3, **options), x, *([tuple(hx)] if hx else []))


def test_gradcheck_fails_when_the_projection_backward_is_wrong(float64, monkeypatch):
    """The tester tested: a dW_hr off by a factor must fail gradcheck, naming weight_hr."""
    from minitorch.layers import _recurrence as rec

    right = rec.lstm_backward

    def wrong(*args):
        *rest, dW_hr = right(*args)
        return (*rest, 1.01 * dW_hr) if len(args) == 6 else (*rest, dW_hr)

    monkeypatch.setattr(rec, "lstm_backward", wrong)
    lstm = mt.LSTM(2, 3, proj_size=2)
    with pytest.raises(AssertionError, match="weight_hr_l0"):  # gradcheck's GradcheckError
        mt.gradcheck(lstm, np.random.default_rng(0).standard_normal((3, 2, 2)))


# ------------------------------------------------------------------ parameters, init, shapes
@pytest.mark.parametrize("options", [{}, dict(num_layers=3, bidirectional=True),
                                     dict(num_layers=2, bias=False)])
def test_parameter_names_shapes_and_order_are_torchs(options):
    m = mt.LSTM(3, 5, proj_size=2, **options)
    t = torch.nn.LSTM(3, 5, proj_size=2, **options)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert m.weight_hr_l0.shape == (2, 5) and m.weight_hh_l0.shape == (20, 2)


def test_init_is_uniform_in_one_over_sqrt_hidden_weight_hr_too():
    mt.manual_seed(5)
    a = mt.LSTM(30, 64, num_layers=2, proj_size=48)
    k = 1 / np.sqrt(64)  # hidden_size's, not proj_size's (as torch)
    for name, p in a.named_parameters():
        assert p.dtype == np.float32 and np.all(np.abs(p.data) <= k), name
    w = a.weight_hr_l1.data
    assert w.max() > 0.9 * k and w.min() < -0.9 * k and abs(w.mean()) < 0.01


@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_h_has_proj_size_c_has_hidden_size(batch_first):
    lstm = mt.LSTM(4, 6, num_layers=3, bidirectional=True, batch_first=batch_first, proj_size=3)
    x = np.zeros((2, 5, 4), np.float32)  # (L=2, N=5) or (N=2, L=5)
    out, (h_n, c_n) = lstm(x)
    N = 2 if batch_first else 5
    assert out.shape == (2, 5, 6) and h_n.shape == (6, N, 3) and c_n.shape == (6, N, 6)
    assert lstm.weight_ih_l1.shape == (24, 6)  # layers above the first read D * proj_size features
    lstm(x, (h_n, c_n))
    dx, (dh0, dc0) = lstm.backward((np.ones_like(out), (None, np.ones_like(c_n))))
    assert dx.shape == x.shape and dh0.shape == h_n.shape and dc0.shape == c_n.shape
    out, (h_n, c_n) = lstm(x[0])  # unbatched
    assert out.shape == (5, 6) and h_n.shape == (6, 3) and c_n.shape == (6, 6)


def test_proj_size_zero_is_the_plain_lstm_and_keeps_its_kernels(monkeypatch):
    """proj_size=0 (the default) builds the same parameters from the same draws, and its loops still
    go to the fast room; with projections the fast room is declined (it has no projection)."""
    from minitorch.kernels import sequences as fast

    mt.manual_seed(3)
    a = mt.LSTM(3, 4, num_layers=2, proj_size=0)
    mt.manual_seed(3)
    b = mt.LSTM(3, 4, num_layers=2)
    for (n, p), (m, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert n == m
        np.testing.assert_array_equal(p.data, q.data)
    calls = []
    forward = fast.lstm_forward
    monkeypatch.setattr(fast, "lstm_forward", lambda *args: calls.append(len(args)) or forward(*args))
    before = kernels_enabled()
    use_kernels(True)
    try:
        a(np.ones((2, 1, 3)))
        assert calls == [5, 5]
        mt.LSTM(3, 4, proj_size=2)(np.ones((2, 1, 3)))
        assert calls == [5, 5]
    finally:
        use_kernels(before)


def test_repr_reads_like_torchs():
    lstm = mt.LSTM(10, 20, num_layers=2, batch_first=True, proj_size=5)
    assert repr(lstm) == repr(torch.nn.LSTM(10, 20, num_layers=2, batch_first=True, proj_size=5))
    assert repr(lstm) == "LSTM(10, 20, proj_size=5, num_layers=2, batch_first=True)"


# -------------------------------------------------------------------- files and interop
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_file_rebuilds_from_the_file_alone(tmp_path, dtype):
    mt.set_default_dtype(dtype)
    model = mt.Sequential(mt.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2))
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert repr(loaded) == repr(model) and loaded[0].proj_size == 2
    for (name, p), (name2, q) in zip(model.named_parameters(), loaded.named_parameters(), strict=True):
        assert name == name2 and q.dtype == dtype
        np.testing.assert_array_equal(p.data, q.data)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(dtype)
    for a, b in zip(model(x)[1], loaded(x)[1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_from_torch_and_back_is_bit_for_bit_and_gives_torchs_outputs(dtype):
    t = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=3, dtype=dtype)
    m = mt.interop.from_torch(t)
    assert m.proj_size == 3 and repr(m) == repr(t)
    theirs = dict(t.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(theirs)
    for name, p in m.named_parameters():
        np.testing.assert_array_equal(p.data, theirs[name].detach().numpy(), err_msg=name)
    back = mt.interop.to_torch(m)
    assert back.proj_size == 3
    for name, p in back.named_parameters():
        assert torch.equal(p, theirs[name]), name
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(t.weight_hr_l0.detach().numpy().dtype)
    ours, (h, c) = m(x)
    out_t, (h_t, c_t) = t(torch.from_numpy(x))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    for a, b in ((ours, out_t), (h, h_t), (c, c_t)):
        np.testing.assert_allclose(a, b.detach().numpy(), **tol)


# ------------------------------------------------------------------------------- errors
def test_backward_checks_the_state_gradients_shapes():
    lstm = mt.LSTM(3, 4, num_layers=2, proj_size=2)
    lstm(np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"expected .*\(2, 2, 2\).* got \(2, 2, 4\)"):
        lstm.backward((None, (np.ones((2, 2, 4)), None)))  # dh_n has proj_size features
    lstm(np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"expected .*\(2, 2, 4\).* got \(2, 2, 2\)"):
        lstm.backward((None, (None, np.ones((2, 2, 2)))))  # dc_n keeps hidden_size


@pytest.mark.parametrize("make, error, match", [
    (lambda: mt.LSTM(3, 4, proj_size=-1), ValueError,
     r"^LSTM: proj_size must be a non-negative integer, got -1$"),
    (lambda: mt.LSTM(3, 4, proj_size=4), ValueError,
     r"^LSTM: proj_size must be smaller than hidden_size=4, got proj_size=4$"),
    (lambda: mt.LSTM(3, 4, proj_size=7), ValueError, "smaller than hidden_size=4"),
    (lambda: mt.LSTM(3, 4, proj_size=1.5), ValueError, "non-negative integer"),
    (lambda: mt.LSTM(3, 4, proj_size=True), ValueError, "non-negative integer"),
    # torch raises ValueError for the keyword itself, any value (0 too): projections are LSTM's alone
    (lambda: mt.GRU(3, 4, proj_size=2), ValueError,
     r"^GRU: proj_size is LSTM's alone .*mt\.LSTM\(.*proj_size"),
    (lambda: mt.GRU(3, 4, proj_size=0), ValueError, r"^GRU: proj_size is LSTM's alone"),
    (lambda: mt.RNN(3, 4, 1, "relu", proj_size=2), ValueError, r"^RNN: proj_size is LSTM's alone"),
    (lambda: mt.RNN(3, 4, proj_size=0), ValueError, r"^RNN: proj_size is LSTM's alone"),
    (lambda: mt.GRU(3, 4, proj_size=2, foo=1), ValueError, r"^GRU: proj_size is LSTM's alone"),  # as torch
])
def test_constructor_checks_proj_size_as_torch(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_torch_refuses_what_we_refuse():
    """Our refusals are torch's (its messages differ: ours name the module and the value)."""
    for kwargs in (dict(proj_size=-1), dict(proj_size=4)):
        with pytest.raises(ValueError):
            torch.nn.LSTM(3, 4, **kwargs)
    for cls in (torch.nn.GRU, torch.nn.RNN):
        for proj_size in (0, 2):
            with pytest.raises(ValueError):
                cls(3, 4, proj_size=proj_size)
    torch.nn.LSTM(3, 4, proj_size=3)
    mt.LSTM(3, 4, proj_size=3)



def test_empty_batch_gives_torchs_shapes():
    m = mt.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    out, (h, c) = m(np.zeros((5, 0, 3)))
    out_t, (h_t, c_t) = t(torch.zeros(5, 0, 3))
    assert [out.shape, h.shape, c.shape] == [tuple(out_t.shape), tuple(h_t.shape), tuple(c_t.shape)]
    assert m.backward(np.zeros((5, 0, 4), np.float32)).shape == (5, 0, 3)


def test_onnx_export_declines_by_name(tmp_path):
    with pytest.raises(TypeError, match="no ONNX form for LSTM"):
        mt.onnx.export(mt.Sequential(mt.LSTM(3, 4, proj_size=2)), tmp_path / "m.onnx", input_shape=(5, 2, 3))


def test_never_writes_into_the_arrays_it_is_given(float64):
    lstm = mt.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    rng = np.random.default_rng(0)
    x, h0, c0, dout, dh_n, dc_n = (rng.standard_normal(shape) for shape in (
        (5, 2, 3), (4, 2, 2), (4, 2, 4), (5, 2, 4), (4, 2, 2), (4, 2, 4)))
    given = [a.copy() for a in (x, h0, c0, dout, dh_n, dc_n)]
    lstm(x, (h0, c0))
    lstm.backward((dout, (dh_n, dc_n)))
    for before, after in zip(given, (x, h0, c0, dout, dh_n, dc_n), strict=True):
        np.testing.assert_array_equal(before, after)


def test_a_file_written_before_proj_size_existed_still_loads(tmp_path):
    """An LSTM's file from before this option records no proj_size: it rebuilds as proj_size=0."""
    from model_helpers import read_header, weights, write_with_header

    model = mt.Sequential(mt.LSTM(2, 3))
    mt.save_model(model, tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    lstm = header["model"]["architecture"]["args"]["modules"]["__tuple__"][0]["__module__"]
    assert lstm["args"].pop("proj_size") == 0
    write_with_header(tmp_path / "m.npz", header, weights(tmp_path / "m.npz"))
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded[0].proj_size == 0 and repr(loaded) == repr(model)
