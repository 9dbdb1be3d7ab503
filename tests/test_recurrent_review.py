"""The recurrent and sequence layers against torch 2.13's exact semantics, option by option.

Each test pairs a MiniTorch module with its torch twin (the same weights through the state_dict,
torch's names both ways) and compares outputs, h_n, c_n, dx, dh0, dc0 and every Parameter's
gradient in float64; what MiniTorch does not do must raise an error naming the module and the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from recurrent_pairs import recurrent_pair

import minitorch as mt
from minitorch.kernels import use_kernels

KINDS = ["RNN-tanh", "RNN-relu", "LSTM", "LSTM-proj", "GRU"]




def _t(a: np.ndarray | None, grad: bool = True) -> torch.Tensor | None:
    return None if a is None else torch.tensor(a, requires_grad=grad)


def _close(ours, theirs, what: str) -> None:
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


@st.composite
def _cases(draw):
    kind = draw(st.sampled_from(KINDS))
    hidden = draw(st.integers(2, 4))
    sizes = dict(input_size=draw(st.integers(1, 3)), hidden_size=hidden,
                 proj_size=draw(st.integers(1, hidden - 1)) if kind == "LSTM-proj" else 0)
    num_layers = draw(st.integers(1, 3))
    options = dict(num_layers=num_layers, bias=draw(st.booleans()), batch_first=draw(st.booleans()),
                   bidirectional=draw(st.booleans()),
                   dropout=draw(st.sampled_from([0.0, 0.5])) if num_layers > 1 else 0.0)
    # with dropout > 0 the two libraries' masks differ: eval mode, where neither draws one
    training = draw(st.booleans()) if options["dropout"] == 0 else False
    run = dict(T=draw(st.integers(1, 4)), N=draw(st.integers(1, 3)), batched=draw(st.booleans()),
               hx=draw(st.sampled_from(["none", "given", "h0 only", "c0 only"])),
               upstream=draw(st.tuples(st.booleans(), st.booleans(), st.booleans())),
               seed=draw(st.integers(0, 2**31)))
    if not kind.startswith("LSTM") and run["hx"] in ("h0 only", "c0 only"):
        run["hx"] = "given"
    return kind, sizes, options, training, run


@settings(max_examples=150, deadline=None)
@given(case=_cases(), kernels=st.booleans())
def test_every_option_matches_torch_forward_and_backward(case, kernels):
    """Outputs, h_n (c_n), dx, dh0 (dc0) and every Parameter's gradient over the whole option grid:
    batch_first, unbatched, bidirectional, num_layers, bias, proj_size, dropout in eval mode, train
    mode without dropout, hx None / given / (h0, None) / (None, c0) (None: zeros, torch's default),
    and an upstream gradient for any subset of (output, h_n, c_n), None for the others."""
    kind, sizes, options, training, run = case
    use_kernels(kernels)
    ours, theirs = recurrent_pair(kind, **sizes, **options)
    ours.train(training), theirs.train(training)
    rng = np.random.default_rng(run["seed"])
    T, N, batched = run["T"], run["N"], run["batched"]
    lead = ((N, T) if options["batch_first"] else (T, N)) if batched else (T,)
    x = rng.standard_normal(lead + (sizes["input_size"],))
    D = 2 if options["bidirectional"] else 1
    state_lead = (D * options["num_layers"],) + ((N,) if batched else ())
    H, R = sizes["hidden_size"], sizes["proj_size"] or sizes["hidden_size"]
    h0, c0 = rng.standard_normal(state_lead + (R,)), rng.standard_normal(state_lead + (H,))
    is_lstm = kind.startswith("LSTM")
    if run["hx"] == "none":
        hx = None
    elif is_lstm:
        hx = (None if run["hx"] == "c0 only" else h0, None if run["hx"] == "h0 only" else c0)
    else:
        hx = h0
    out, hidden = ours(x, hx)
    h_n, c_n = hidden if is_lstm else (hidden, None)

    x_t = _t(x)
    if hx is None:
        hx_t = None
    elif is_lstm:  # torch has no None inside the pair: zeros, which is what None means to MiniTorch
        hx_t = tuple(_t(s if s is not None else np.zeros_like(z)) for s, z in zip(hx, (h0, c0), strict=True))
    else:
        hx_t = _t(hx)
    out_t, hidden_t = theirs(x_t, hx_t)
    h_n_t, c_n_t = hidden_t if is_lstm else (hidden_t, None)
    _close(out, out_t, "output")
    _close(h_n, h_n_t, "h_n")
    if is_lstm:
        _close(c_n, c_n_t, "c_n")

    wanted = run["upstream"]
    douts = [rng.standard_normal(a.shape) if want and a is not None else None
             for a, want in zip((out, h_n, c_n), wanted, strict=True)]
    grad = (douts[0], (douts[1], douts[2])) if is_lstm else (douts[0], douts[1])
    grads = ours.backward(grad)
    loss = sum(((o * torch.tensor(g)).sum() for o, g in zip((out_t, h_n_t, c_n_t), douts, strict=True)
                if g is not None), torch.zeros((), dtype=torch.float64, requires_grad=True))
    loss.backward()

    def torch_grad(t: torch.Tensor) -> np.ndarray:
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()

    dx = grads if hx is None else grads[0]
    _close(dx, torch_grad(x_t), "dx")
    if hx is not None:
        dstates = grads[1] if is_lstm else (grads[1],)
        leaves = hx_t if is_lstm else (hx_t,)
        for name, ours_d, t in zip(("dh0", "dc0")[:len(leaves)], dstates, leaves, strict=True):
            _close(ours_d, torch_grad(t), name)
    torch_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad if p.grad is not None else 0 * p.data, torch_grad(torch_params[name]), name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_train_mode_dropout_gradcheck_every_element(kind, bidirectional):
    """Training mode with inter-layer dropout (torch's masks cannot be matched, so central differences
    with the same draws stand in for the oracle): dx, dh0, dc0 and every Parameter, float64."""
    mt.set_default_dtype(np.float64)
    mt.manual_seed(3)
    ours, _ = recurrent_pair(kind, 2, 3, proj_size=2, num_layers=3, dropout=0.4, bidirectional=bidirectional)
    rng = np.random.default_rng(1)
    D, R = 2 if bidirectional else 1, 2 if kind == "LSTM-proj" else 3
    x = rng.standard_normal((3, 2, 2))
    h0 = rng.standard_normal((3 * D, 2, R))
    hx = (h0, rng.standard_normal((3 * D, 2, 3))) if kind.startswith("LSTM") else h0
    assert mt.gradcheck(ours, x, hx, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("kernels", [False, True])
def test_one_layer_called_on_two_sequences_gets_both_gradients(kind, kernels):
    """A siamese use (one layer, two calls, backward newest first) adds up as torch's autograd."""
    use_kernels(kernels)
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((5, 2, 3)), rng.standard_normal((4, 2, 3))]
    outs = [ours(x)[0] for x in xs]
    dys = [rng.standard_normal(o.shape) for o in outs]
    dxs = [ours.backward(dys[1]), ours.backward(dys[0])][::-1]
    xs_t = [_t(x) for x in xs]
    sum((theirs(x)[0] * torch.tensor(dy)).sum() for x, dy in zip(xs_t, dys, strict=True)).backward()
    for dx, x_t in zip(dxs, xs_t, strict=True):
        _close(dx, x_t.grad, "dx")
    torch_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, torch_params[name].grad, name)


@pytest.mark.parametrize("kind", ["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kernels", [False, True])
def test_a_cell_driven_over_time_matches_torch(kind, batched, bias, kernels):
    """The cells' habit: h = cell(x_t, h) for t in 0..T-1, then backward step by step, newest first,
    passing each step's dh (dc) to the step before: dx_t, dh0 (dc0), every Parameter as torch's."""
    use_kernels(kernels)
    name, nonlinearity = kind.split("-") if "-" in kind else (kind, None)
    kwargs = {"bias": bias} | ({"nonlinearity": nonlinearity} if nonlinearity else {})
    ours = getattr(mt, name)(3, 4, **kwargs, dtype=np.float64)
    theirs = getattr(torch.nn, name)(3, 4, **kwargs, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(2)
    lead, T, lstm = ((2,) if batched else ()), 4, name == "LSTMCell"
    xs = [rng.standard_normal(lead + (3,)) for _ in range(T)]
    state = (rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (4,)))
    state = state if lstm else state[0]
    first = state
    dys = [rng.standard_normal(lead + (4,)) for _ in range(T)]  # on every step's h
    for x in xs:
        state = ours(x, state)
    dstate = (np.zeros(lead + (4,)), np.zeros(lead + (4,))) if lstm else np.zeros(lead + (4,))
    dxs = []
    for t in reversed(range(T)):
        grad = (dstate[0] + dys[t], dstate[1]) if lstm else dstate + dys[t]
        dx, dstate = ours.backward(grad)
        dxs.insert(0, dx)

    xs_t = [_t(x) for x in xs]
    first_t = tuple(_t(s) for s in first) if lstm else _t(first)
    state_t, loss = first_t, 0
    for x_t, dy in zip(xs_t, dys, strict=True):
        state_t = theirs(x_t, state_t)
        loss = loss + ((state_t[0] if lstm else state_t) * torch.tensor(dy)).sum()
    loss.backward()
    for t in range(T):
        _close(dxs[t], xs_t[t].grad, f"dx_{t}")
    for ours_d, t in zip(dstate if lstm else (dstate,), first_t if lstm else (first_t,), strict=True):
        _close(ours_d, t.grad, "d first state")
    torch_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        _close(p.grad, torch_params[pname].grad, pname)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [False, True])
def test_state_dicts_load_both_ways_with_torchs_names(kind, bias):
    """A torch state_dict loads into MiniTorch (strict) and gives torch's outputs; MiniTorch's
    state_dict has torch's keys in torch's order and loads into torch (strict)."""
    mt.set_default_dtype(np.float64)
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2, num_layers=2, bidirectional=True, bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    fresh = type(theirs)(**{k: getattr(theirs, k) for k in (
        "input_size", "hidden_size", "num_layers", "bias", "bidirectional")},
        **({"nonlinearity": theirs.nonlinearity} if kind.startswith("RNN") else {}),
        **({"proj_size": theirs.proj_size} if kind == "LSTM-proj" else {}), dtype=torch.float64)
    fresh.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=True)
    other = getattr(mt, kind.split("-")[0])(**{k: getattr(ours, k) for k in (
        "input_size", "hidden_size", "num_layers", "bias", "bidirectional")},
        **({"nonlinearity": ours.nonlinearity} if kind.startswith("RNN") else {}),
        **({"proj_size": ours.proj_size} if kind == "LSTM-proj" else {}))
    other.load_state_dict(fresh.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    _close(other(x)[0], fresh(torch.tensor(x))[0], "output after loading torch's state_dict")


# ------------------------------------------------------------------- torch calls a user makes
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [False, True])
def test_all_weights_and_flatten_parameters_are_torchs(kind, bias):
    """all_weights: per layer and direction, the Parameters in torch's order (the same names);
    flatten_parameters(): nothing changes, as torch's on the CPU."""
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2, num_layers=2, bidirectional=True, bias=bias)
    names = {id(p): n for n, p in ours.named_parameters()}
    torch_names = {id(p): n for n, p in theirs.named_parameters()}
    assert [[names[id(p)] for p in ps] for ps in ours.all_weights] == \
        [[torch_names[id(p)] for p in ps] for ps in theirs.all_weights]
    before = {n: p.data.copy() for n, p in ours.named_parameters()}
    params = list(ours.parameters())
    assert ours.flatten_parameters() is None
    assert all(a is b for a, b in zip(params, ours.parameters(), strict=True))
    for n, p in ours.named_parameters():
        np.testing.assert_array_equal(p.data, before[n])


@pytest.mark.parametrize("grad, match", [
    (lambda o: (o, np.zeros((2, 2, 4))), r"^LSTM.backward: expected \(doutput, \(dh_n, dc_n\)\), the st"),
    (lambda o: (o, np.zeros((1, 2, 4)), np.zeros((1, 2, 4))), r"^LSTM.backward: .* got a tuple of 3$"),
])
def test_lstm_backward_refuses_a_state_gradient_that_is_not_a_pair(grad, match):
    """(doutput, dh_n) for an LSTM: the array was unpacked along its first axis (two layers: dh_n's
    rows taken as dh_n and dc_n) and refused for a shape it never had, or 'not enough values'."""
    lstm = mt.LSTM(3, 4, num_layers=2)
    out, _ = lstm(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=match):
        lstm.backward(grad(out))


@pytest.mark.parametrize("module, x, grad, match", [
    (lambda: mt.GRU(3, 4), np.zeros((5, 2, 3)), lambda o: (o, (np.zeros((1, 2, 4)), None)),
     r"^GRU.backward: expected \(doutput, dh_n\), dh_n an array or None \(an LSTM's pair"),
    (lambda: mt.GRUCell(3, 4), np.zeros((2, 3)), lambda o: (o, None),
     r"^GRUCell.backward: expected dh', one array \(an LSTMCell's pair"),
    (lambda: mt.LSTMCell(3, 4), np.zeros((2, 3)), lambda o: (o[0], o[1], o[1]),
     r"^LSTMCell.backward: expected dh' or \(dh', dc'\), got a tuple of 3$"),
])
def test_a_backward_given_another_kinds_gradients_says_what_it_expected(module, x, grad, match):
    m = module()
    with pytest.raises(ValueError, match=match):
        m.backward(grad(m(x)[0] if isinstance(m, mt.GRU) else m(x)))


# ------------------------------------------------------------------------------- Embedding
@settings(max_examples=40, deadline=None)
@given(num=st.integers(1, 6), dim=st.integers(1, 3), padding=st.one_of(st.none(), st.integers(-6, 5)),
       shape=st.sampled_from([(), (4,), (2, 3), (3, 1, 2)]), int32=st.booleans(), kernels=st.booleans(),
       seed=st.integers(0, 2**31))
def test_embedding_twice_with_padding_matches_torch(num, dim, padding, shape, int32, kernels, seed):
    """Any padding_idx (negative too), ids of any shape (a scalar too), int32 or int64, the layer
    called twice (tied use) with repeats and padding ids: outputs and the summed weight gradient."""
    if padding is not None and not -num <= padding < num:
        padding = None
    use_kernels(kernels)
    ours = mt.Embedding(num, dim, padding_idx=padding, dtype=np.float64)
    theirs = torch.nn.Embedding(num, dim, padding_idx=padding, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    assert ours.padding_idx == theirs.padding_idx
    rng = np.random.default_rng(seed)
    ids = [rng.integers(0, num, shape).astype(np.int32 if int32 else np.int64) for _ in range(2)]
    outs = [ours(i) for i in ids]
    dys = [rng.standard_normal(o.shape) for o in outs]
    assert ours.backward(dys[1]) is None and ours.backward(dys[0]) is None
    outs_t = [theirs(torch.tensor(i)) for i in ids]
    sum((o * torch.tensor(dy)).sum() for o, dy in zip(outs_t, dys, strict=True)).backward()
    for o, o_t in zip(outs, outs_t, strict=True):
        _close(o, o_t, "output")
    _close(ours.weight.grad, theirs.weight.grad, "weight.grad")


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("padding_idx", [None, 0, -2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_pretrained_is_torchs(freeze, padding_idx, dtype):
    """Embedding.from_pretrained: the array itself (shared, its dtype, the padding row kept as given),
    freeze -> requires_grad, nothing drawn; two SGD steps as torch's (frozen: none)."""
    pretrained = np.random.default_rng(0).standard_normal((5, 3)).astype(dtype)
    mine, torchs = pretrained.copy(), torch.tensor(pretrained.copy())
    state = mt.random.generator().bit_generator.state
    ours = mt.Embedding.from_pretrained(mine, freeze=freeze, padding_idx=padding_idx)
    theirs = torch.nn.Embedding.from_pretrained(torchs, freeze=freeze, padding_idx=padding_idx)
    assert mt.random.generator().bit_generator.state == state
    assert ours.weight.data is mine and ours.weight.dtype == dtype
    assert ours.padding_idx == theirs.padding_idx and ours.weight.requires_grad == theirs.weight.requires_grad
    ids = np.array([[0, 3, 3], [1, 4, 0]])
    opt, opt_t = mt.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(2):
        out = ours(ids)
        ours.backward(np.cos(out))
        opt.step()
        opt.zero_grad()
        out_t = theirs(torch.tensor(ids))
        if out_t.requires_grad:
            out_t.backward(torch.cos(out_t.detach()))
        opt_t.step()
        opt_t.zero_grad()
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(mine, torchs.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert np.array_equal(mine, pretrained) == freeze  # trained in place, as torch's shared tensor


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_norm=1.0), r"^Embedding.from_pretrained: max_norm=1.0 is not supported: torch rescales"),
    (dict(scale_grad_by_freq=True), r"^Embedding.from_pretrained: scale_grad_by_freq=True is not supported"),
    (dict(sparse=True), r"^Embedding.from_pretrained: sparse=True is not supported: MiniTorch's gradients"),
    (dict(freeze=1), r"^Embedding.from_pretrained: freeze must be True or False"),
    (dict(embeddings=np.ones(3)), r"expected a 2-D floating array .* got shape \(3,\) of dtype float64$"),
    (dict(embeddings=np.ones((2, 3), int)), r"expected a 2-D floating array .* shape \(2, 3\) of dtype int"),
])
def test_from_pretrained_refuses_what_it_cannot_do(kwargs, match):
    kwargs = {"embeddings": np.ones((4, 2))} | kwargs
    with pytest.raises(ValueError, match=match):
        mt.Embedding.from_pretrained(**kwargs)


def test_from_pretrained_with_norm_type_alone_is_torchs_default_behaviour():
    """norm_type is read only with max_norm (torch): alone it changes nothing."""
    emb = mt.Embedding.from_pretrained(np.eye(3), norm_type=1.0)
    np.testing.assert_array_equal(emb(np.array([2])), np.eye(3)[[2]])


def test_from_pretrained_saves_and_loads_as_a_model_file(tmp_path):
    emb = mt.Embedding.from_pretrained(np.arange(12.0).reshape(4, 3), padding_idx=-1)
    mt.save_model(emb, tmp_path / "emb.mtm")
    back = mt.load_model(tmp_path / "emb.mtm")
    np.testing.assert_array_equal(back.weight.data, emb.weight.data)
    assert back.padding_idx == 3 and back.weight.data[3].sum() == 30  # the given row, not zeroed


@pytest.mark.parametrize("kind", ["RNN", "RNNCell"])
def test_relu_at_exactly_zero_has_torchs_subgradient_0(kind):
    """nonlinearity='relu' with pre-activations exactly 0 (zero inputs, no bias, zero state) next to
    positive ones: relu'(0) = 0, as torch's, for dx, dh0 and the weights."""
    make = getattr(mt, kind)
    ours = make(2, 3, bias=False, nonlinearity="relu", dtype=np.float64)
    theirs = getattr(torch.nn, kind)(2, 3, bias=False, nonlinearity="relu", dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.zeros((3, 2)) if kind == "RNN" else np.zeros((2, 2))
    x[-1] = [1.0, -2.0]
    h0 = np.zeros((1, 3)) if kind == "RNN" else np.zeros((2, 3))
    out = ours(x, h0)
    out = out[0] if kind == "RNN" else out
    assert (out == 0).any() and (out > 0).any()
    dy = np.arange(1.0, out.size + 1).reshape(out.shape)
    dx, dh0 = ours.backward((dy, None) if kind == "RNN" else dy)
    x_t, h0_t = _t(x), _t(h0)
    out_t = theirs(x_t, h0_t)
    ((out_t[0] if kind == "RNN" else out_t) * torch.tensor(dy)).sum().backward()
    _close(dx, x_t.grad, "dx")
    _close(dh0, h0_t.grad, "dh0")
    for name, p in ours.named_parameters():
        _close(p.grad, dict(theirs.named_parameters())[name].grad, name)


# ----------------------------------------------------- outputs the caller may change in place
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layout", ["time-major", "batch_first", "unbatched", "bidirectional", "2 layers"])
@pytest.mark.parametrize("kernels", [False, True])
def test_masking_the_output_in_place_keeps_torchs_gradients(kind, layout, kernels):
    """torch's habit of zeroing padded steps of the output in place (``out[:k] = 0``, masked_fill_)
    before the loss: torch's gradients stay right. The output was a view of the h_t the backward
    reads (dW_hh from h_{t-1}, RNN's act' from h_t, GRU's dz from h_{t-1}), so the zeros went into
    the gradients: dW_hh, dx and more silently wrong for RNN, LSTM and GRU."""
    use_kernels(kernels)
    options = {"batch_first": layout == "batch_first", "bidirectional": layout == "bidirectional",
               "num_layers": 2 if layout == "2 layers" else 1}
    ours, theirs = recurrent_pair(kind, 3, 4, proj_size=2, **options)
    rng = np.random.default_rng(4)
    shape = (6, 3) if layout == "unbatched" else (2, 6, 3) if layout == "batch_first" else (6, 2, 3)
    x = rng.standard_normal(shape)
    time_axis = 1 if layout == "batch_first" else 0
    keep = (np.arange(6) >= 3).reshape((-1,) + (1,) * (len(shape) - 1 - time_axis))  # steps 3.. kept
    out, _ = ours(x)
    dy = rng.standard_normal(out.shape) * keep
    index = (slice(None), slice(0, 3)) if time_axis else (slice(0, 3),)
    out[index] = 0  # the user's own array now
    dx = ours.backward(dy)
    x_t = _t(x)
    out_t, _ = theirs(x_t)
    with torch.no_grad():
        out_t[index] = 0
    (out_t * torch.tensor(dy)).sum().backward()
    _close(dx, x_t.grad, "dx")
    torch_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, torch_params[name].grad, name)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("kernels", [False, True])
def test_a_cells_output_changed_in_place_leaves_its_backward_right(kind, kernels):
    """h' = cell(x, h); h' += noise in place (noise injection) before the backward: RNNCell's
    backward read act'(a) from h' itself, so it used the changed h' and gave a silently wrong
    gradient (torch raises for RNNCell, and computes the other two right). Now every cell gives the
    gradient of the function it computed, torch's with the noise added out of place."""
    use_kernels(kernels)
    ours = getattr(mt, kind)(3, 4, dtype=np.float64)
    theirs = getattr(torch.nn, kind)(3, 4, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(5)
    x, h = rng.standard_normal((3, 3)), rng.standard_normal((3, 4))
    hx = (h, rng.standard_normal((3, 4))) if kind == "LSTMCell" else h
    out = ours(x, hx)
    h_new = out[0] if kind == "LSTMCell" else out
    dy = rng.standard_normal(h_new.shape)
    h_new += rng.standard_normal(h_new.shape)  # the caller's array
    dx, _ = ours.backward(dy)
    x_t = _t(x)
    out_t = theirs(x_t, tuple(_t(s, False) for s in hx) if kind == "LSTMCell" else _t(hx, False))
    ((out_t[0] if kind == "LSTMCell" else out_t) * torch.tensor(dy)).sum().backward()
    _close(dx, x_t.grad, "dx")
    for name, p in ours.named_parameters():
        _close(p.grad, dict(theirs.named_parameters())[name].grad, name)


@pytest.mark.parametrize("kind", ["RNN", "RNNCell"])
def test_a_nonlinearity_changed_after_construction_is_checked(kind):
    """nonlinearity is read on every forward; set to another string afterwards it ran as relu."""
    m = getattr(mt, kind)(2, 3)
    m.nonlinearity = "sigmoid"
    expected = rf"^{kind}: nonlinearity must be one of \('tanh', 'relu'\), got 'sigmoid'"
    with pytest.raises(ValueError, match=expected):
        m(np.zeros((4, 2)))


@pytest.mark.parametrize("padding_idx", [-1, 2, None])
def test_a_padding_idx_set_after_construction_is_torchs(padding_idx):
    """torch reads padding_idx at every call (a negative one from the end); set to -1 after
    construction, the last row got a gradient here (-1 never equals an id)."""
    ours = mt.Embedding(4, 2, dtype=np.float64)
    theirs = torch.nn.Embedding(4, 2, dtype=torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours.padding_idx = theirs.padding_idx = padding_idx
    ids = np.array([[3, 2, 0], [3, 1, 2]])
    ours(ids)
    ours.backward(np.ones((2, 3, 2)))
    theirs(torch.tensor(ids)).sum().backward()
    _close(ours.weight.grad, theirs.weight.grad, "weight.grad")


def test_a_padding_idx_set_out_of_range_is_refused_at_forward():
    """As torch's F.embedding (its assertion at the call): refused before any row is read."""
    emb = mt.Embedding(4, 2)
    emb.padding_idx = 4
    expected = r"^Embedding: padding_idx must be an integer in \[-4, 4\) or None, got 4$"
    with pytest.raises(ValueError, match=expected):
        emb(np.array([0, 3]))
