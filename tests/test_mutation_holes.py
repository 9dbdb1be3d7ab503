"""Tests that kill mutants the registry suites let live (review22's mutation run of layers, losses and
optimizers: one AST change at a time in a forward/backward/step, the module's fast tests rerun with
MINITORCH_KERNELS=0 and =1; a mutant that passed them all is a test that could not fail).

Each test names the survivors it kills. The formulas are compared with PyTorch, as everywhere.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch.optimizers.adam import adam
from minitorch.optimizers.adamw import adamw
from minitorch.optimizers.nadam import nadam
from minitorch.optimizers.radam import radam
from minitorch.optimizers.rmsprop import rmsprop
from minitorch.optimizers.sgd import sgd

STEPS = 6


def _maximize(maximize: bool) -> dict:
    """maximize=True passed, False left to the default (maximize=False, as torch's functional forms):
    kills mutants of the signature's default."""
    return {"maximize": True} if maximize else {}


def _torch_step_and_compare(params, tparams, topt, grads, i):
    """torch's optimizer steps on the same gradients; MiniTorch's parameters (stepped already) must
    equal its own after step i + 1."""
    for tp, g in zip(tparams, grads, strict=True):
        tp.grad = torch.tensor(g)
    topt.step()
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13,
                                   err_msg=f"after step {i + 1}")


def _run_functional(step, torch_opt, shapes, seed=0):
    """``step(params, grads)`` (a MiniTorch functional form with its state closed over) against the
    torch optimizer, the same random gradients for STEPS steps; parameters compared after each."""
    rng = np.random.default_rng(seed)
    params = [mt.Parameter(rng.standard_normal(s)) for s in shapes]
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = torch_opt(tparams)
    for i in range(STEPS):
        grads = [rng.standard_normal(s) for s in shapes]
        step(params, grads)
        _torch_step_and_compare(params, tparams, topt, grads, i)


SHAPES = [(3, 2), (4,)]
SGD_GRID = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=w)
            for m, d, n, w in itertools.product([0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.05])
            if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("options", SGD_GRID, ids=str)
def test_functional_sgd_matches_torch_including_maximize(options, maximize):
    """Survivor: sgd's ``g = -g`` under maximize (SGD's class has no maximize: only the functional form
    reads it, and only the kernels' fuzz compared it, with a copy of the plain loop)."""
    buffers = [None] * len(SHAPES)

    def step(params, grads):
        sgd(params, grads, buffers, lr=0.1, **_maximize(maximize), **options)
    _run_functional(step, lambda ps: torch.optim.SGD(ps, lr=0.1, maximize=maximize, **options), SHAPES)


ADAM_GRID = list(itertools.product([False, True], [0.0, 0.1]))


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("amsgrad, weight_decay", ADAM_GRID)
@pytest.mark.parametrize("form, torch_cls", [(adam, torch.optim.Adam), (adamw, torch.optim.AdamW)],
                         ids=["adam", "adamw"])
def test_functional_adam_forms_match_torch_including_maximize(form, torch_cls, amsgrad, weight_decay,
                                                              maximize):
    """Survivor: adam's / adamw's ``g = -g`` under maximize."""
    m = [np.zeros(s) for s in SHAPES]
    v = [np.zeros(s) for s in SHAPES]
    v_max = [np.zeros(s) if amsgrad else None for s in SHAPES]
    steps = [0] * len(SHAPES)
    hyper = dict(lr=0.01, weight_decay=weight_decay, eps=1e-3, amsgrad=amsgrad)

    def step(params, grads):
        form(params, grads, m, v, v_max, steps, beta1=0.8, beta2=0.9, **hyper, **_maximize(maximize))
    _run_functional(step, lambda ps: torch_cls(ps, betas=(0.8, 0.9), maximize=maximize, **hyper), SHAPES)


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("centered, momentum, weight_decay",
                         list(itertools.product([False, True], [0.0, 0.5], [0.0, 0.05])))
def test_functional_rmsprop_matches_torch_including_maximize(centered, momentum, weight_decay, maximize):
    """Survivor: rmsprop's ``g = -g`` under maximize."""
    s = [np.zeros(sh) for sh in SHAPES]
    a = [np.zeros(sh) if centered else None for sh in SHAPES]
    b = [np.zeros(sh) if momentum else None for sh in SHAPES]
    steps = [0] * len(SHAPES)
    hyper = dict(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=weight_decay, momentum=momentum,
                 centered=centered)

    def step(params, grads):
        rmsprop(params, grads, s, a, b, steps, **_maximize(maximize), **hyper)
    _run_functional(step, lambda ps: torch.optim.RMSprop(ps, maximize=maximize, **hyper), SHAPES)


@pytest.mark.parametrize("cls", ["NLLLoss", "CrossEntropyLoss"])
def test_class_index_targets_refuse_a_weight_of_another_dtype_as_torch(cls):
    """Survivor: NLLLoss passing indices=False to ``_along_class_axis`` (a float64 weight silently
    promoting float32 log-probabilities, where torch raises)."""
    x = np.log(np.full((2, 3), 1 / 3, dtype=np.float32))
    y = np.array([0, 2])
    weight = np.array([1.0, 2.0, 0.5])
    with pytest.raises(RuntimeError):
        getattr(torch.nn, cls)(weight=torch.tensor(weight))(torch.tensor(x), torch.tensor(y))
    loss_fn = getattr(mt, cls)(weight=weight)
    assert loss_fn.weight.dtype == np.float64
    with pytest.raises(TypeError, match=f"{cls}: weight is float64, the input is float32"):
        loss_fn(x, y)


def test_batchnorm_counts_an_empty_training_batch_and_keeps_its_statistics_as_torch():
    """Survivors: BatchNorm's ``num_batches_tracked += 1`` for an empty batch (deleted, -= 1, += 2)."""
    bn, twin = mt.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for n in (4, 0, 5):
        x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
        assert bn(x).shape == tuple(twin(torch.tensor(x)).shape) == (n, 3)
        assert int(bn.num_batches_tracked) == int(twin.num_batches_tracked)
        np.testing.assert_allclose(bn.running_mean, twin.running_mean.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(bn.running_var, twin.running_var.numpy(), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- mutants3: attention, RNN, functional, ...
@pytest.mark.parametrize("x, got", [(np.ones((2, 5)), r"\(2, 5\)"), (np.float64(1.0), r"\(\)")])
def test_attention_out_projection_refuses_a_wrong_width_naming_itself(x, got):
    """Survivor: OutProjection's ``x.ndim == 0 or x.shape[-1] != in`` as ``and`` (NumPy's matmul error,
    or an IndexError for a 0-d input, instead of the message naming the module and the shape)."""
    out_proj = mt.MultiheadAttention(4, 2).out_proj
    expected = r"OutProjection\(in_features=4\): expected input \(\*, 4\), got "
    with pytest.raises(ValueError, match=expected + got):
        out_proj(x)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5)])
def test_functional_softmax_log_softmax_and_one_hot_match_torch(shape):
    """Survivor: ``functional.log_softmax``'s default axis=-1 as 0 (log_softmax and one_hot are shared
    math of docs/api's functional.py that no layer calls, so no layer test read them; softmax is Softmax's
    forward, its default axis is read here)."""
    from minitorch import functional
    z = np.random.default_rng(0).standard_normal(shape) * 30
    zt = torch.tensor(z)
    if len(shape) == 2:  # no axis: the last one where torch's implicit choice agrees, else a ValueError
        np.testing.assert_allclose(functional.softmax(z), torch.softmax(zt, -1).numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(functional.log_softmax(z), torch.log_softmax(zt, -1).numpy(), rtol=1e-12)
    else:
        with pytest.raises(ValueError, match="no axis given"):
            functional.log_softmax(z)
    for axis in range(len(shape)):
        np.testing.assert_allclose(functional.softmax(z, axis), torch.softmax(zt, axis).numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(functional.log_softmax(z, axis=axis), torch.log_softmax(zt, axis).numpy(),
                                   rtol=1e-12)
    y = np.array([2, 0, 3, 3])
    onehot = functional.one_hot(y, 5, np.float32)
    assert onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot, torch.nn.functional.one_hot(torch.tensor(y), 5).numpy())


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("name", ["radam", "nadam"])
def test_functional_radam_nadam_match_torch_with_their_defaults(name, weight_decay, decoupled, maximize):
    """Survivor: nadam's ``decoupled_weight_decay=False`` default as True (RAdam / NAdam pass it always;
    no test called the functional forms, whose defaults are torch's). decoupled and maximize are passed
    only when True, so the defaults are what runs otherwise. RAdam over 10 steps with beta2 = 0.9 runs
    both of its branches (rho_t <= 5 for t <= 5, rectified after)."""
    rng = np.random.default_rng(1)
    params = [mt.Parameter(rng.standard_normal(s)) for s in SHAPES]
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    m, v = [np.zeros(s) for s in SHAPES], [np.zeros(s) for s in SHAPES]
    mu_products = [np.array(1.0) for _ in SHAPES]
    hyper = dict(lr=0.01, eps=1e-3, weight_decay=weight_decay)
    options = ({"decoupled_weight_decay": True} if decoupled else {}) | _maximize(maximize)
    extra = {"momentum_decay": 0.04} if name == "nadam" else {}
    torch_cls = torch.optim.NAdam if name == "nadam" else torch.optim.RAdam
    topt = torch_cls(tparams, betas=(0.8, 0.9), **hyper, **extra, **options)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch's NAdam keeps mu_product in it (MiniTorch: float64)
    try:
        _radam_nadam_steps(name, params, tparams, topt, m, v, mu_products, hyper | extra | options, rng)
    finally:
        torch.set_default_dtype(previous)


def _radam_nadam_steps(name, params, tparams, topt, m, v, mu_products, options, rng):
    steps = [0] * len(SHAPES)
    for i in range(10):
        grads = [rng.standard_normal(s) for s in SHAPES]
        steps = [t + 1 for t in steps]
        if name == "nadam":
            nadam(params, grads, m, v, mu_products, steps, beta1=0.8, beta2=0.9, **options)
        else:
            radam(params, grads, m, v, steps, beta1=0.8, beta2=0.9, **options)
        _torch_step_and_compare(params, tparams, topt, grads, i)


@pytest.mark.parametrize("name", ["radam", "nadam"])
def test_functional_radam_nadam_refuse_state_lists_of_another_length(name):
    """Survivor: nadam's ``zip(..., strict=True)`` as False (a state list one short would leave the last
    Parameter without its update, silently)."""
    params = [mt.Parameter(np.ones(2)), mt.Parameter(np.ones(3))]
    grads = [np.ones(2), np.ones(3)]
    m, v = [np.zeros(2)], [np.zeros(2)]  # one Parameter short
    before = [p.data.copy() for p in params]
    hyper = dict(beta1=0.9, beta2=0.999, lr=0.1, weight_decay=0.0, eps=1e-8)
    with pytest.raises(ValueError, match="zip"):
        if name == "nadam":
            nadam(params, grads, m, v, [np.array(1.0)], [1], momentum_decay=0.004, **hyper)
        else:
            radam(params, grads, m, v, [1], **hyper)
    np.testing.assert_array_equal(params[1].data, before[1])  # the short lists' missing entry: no update


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv1d_string_paddings_match_torch(padding):
    """Survivor: Conv1d's ``total = d * (k - 1) if padding == 'same' else 0`` as ``d * (k - 1)`` always
    (padding='valid' padded as 'same'; the registry had no Conv1d 'valid' case)."""
    rng = np.random.default_rng(2)
    conv = mt.Conv1d(2, 3, kernel_size=4, padding=padding, dilation=2, dtype=np.float64)
    twin = torch.nn.Conv1d(2, 3, kernel_size=4, padding=padding, dilation=2, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(conv.weight.data))
        twin.bias.copy_(torch.tensor(conv.bias.data))
    x = rng.standard_normal((2, 2, 9))
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    y = conv(x)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    dy = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(conv.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(conv.weight.grad, twin.weight.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_conv1d_refuses_an_unknown_padding_string_as_torch():
    """Survivor: Conv1d's ``raise`` for a padding string other than 'valid' / 'same' deleted (then
    padding='full' was taken silently as no padding)."""
    with pytest.raises(ValueError):
        torch.nn.Conv1d(2, 3, 3, padding="full")
    with pytest.raises(ValueError, match="Conv1d: padding must be an int, 'valid' or 'same', got 'full'"):
        mt.Conv1d(2, 3, 3, padding="full")


def test_nadam_with_beta1_0_reloads_its_own_state_as_torch():
    """Survivor: NAdam's load check ``0 < mu_product <= 1`` as ``0 <= ...``. It showed a bug: with
    betas=(0, .) torch's mu_product is 0 after a step (mu = beta1 * (...) = 0), and torch reloads that
    state; MiniTorch refused its own state_dict. A negative mu_product is still refused."""
    p, tp = mt.Parameter(np.ones(3)), torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt, topt = mt.NAdam([p], betas=(0.0, 0.999)), torch.optim.NAdam([tp], betas=(0.0, 0.999))
    for grad in (np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -1.0])):
        p.grad, tp.grad = grad, torch.tensor(grad)
        opt.step()
        topt.step()
        assert float(opt.state_dict()["state"][0]["mu_product"]) == float(topt.state[tp]["mu_product"]) == 0
        opt2, topt2 = mt.NAdam([p], betas=(0.0, 0.999)), torch.optim.NAdam([tp], betas=(0.0, 0.999))
        opt2.load_state_dict(opt.state_dict())
        topt2.load_state_dict(topt.state_dict())
        opt, topt = opt2, topt2
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
    state = opt.state_dict()
    state["state"][0]["mu_product"] = np.array(-0.5)
    with pytest.raises(ValueError, match=r"expected 'mu_product' a number in \[0, 1\], got array\(-0.5\)"):
        mt.NAdam([p], betas=(0.0, 0.999)).load_state_dict(state)


def test_conv1d_takes_one_element_tuples_as_torch():
    """Survivor: Conv1d's ``_int`` unwrapping (k,) deleted (torch takes kernel_size=(3,) and the like;
    MiniTorch then refused them)."""
    conv = mt.Conv1d(2, 3, kernel_size=(3,), stride=(2,), padding=(1,), dilation=[2], dtype=np.float64)
    twin = torch.nn.Conv1d(2, 3, kernel_size=(3,), stride=(2,), padding=(1,), dilation=[2],
                           dtype=torch.float64)
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation) == (3, 2, 1, 2)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(conv.weight.data))
        twin.bias.copy_(torch.tensor(conv.bias.data))
    x = np.random.default_rng(3).standard_normal((2, 2, 9))
    np.testing.assert_allclose(conv(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------- mutants5: maximize, check_value, empty batches, ...
def test_fit_weighs_one_dimensional_outputs_by_batch_size_and_an_empty_batch_by_0():
    """Survivor: ``loss_weight``'s ``return float(batch_size)`` for a loss other than the class losses
    deleted (a (N,) output then weighed 1.0 a batch: the epoch loss was the unweighted mean of uneven
    batches, and an empty batch's nan entered it). lr=0 keeps the weights, so the epoch loss is the
    full-data loss: torch's BCEWithLogitsLoss over the six samples."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6).astype(np.float64)
    batches = [(X[:4], y[:4]), (X[:0], y[:0]), (X[4:], y[4:])]
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(3, 1, dtype=np.float64), mt.Flatten(0))
    expected = torch.nn.BCEWithLogitsLoss()(torch.tensor(model(X)), torch.tensor(y)).item()
    model.discard_caches()
    history = mt.fit(model, mt.BCEWithLogitsLoss(), mt.SGD(model.parameters(), lr=0.0), batches, epochs=1,
                     metrics=(), verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-12)


def test_evaluate_on_unbatched_samples_with_class_probabilities_weighs_each_sample_1():
    """Survivor: ``loss_weight``'s 1.0 for an unbatched (C,) output with a (C,) probability target as
    0.0 (every sample then weighed nothing: the loss was nan). The loss is the mean of the samples'
    losses: torch's CrossEntropyLoss over them as one batch."""
    rng = np.random.default_rng(1)
    X, P = rng.standard_normal((5, 4)), rng.dirichlet(np.ones(3), 5)
    mt.manual_seed(0)
    model = mt.Linear(4, 3, dtype=np.float64)
    expected = torch.nn.CrossEntropyLoss()(torch.tensor(model(X)), torch.tensor(P)).item()
    model.discard_caches()
    logs = mt.evaluate(model, mt.CrossEntropyLoss(), list(zip(X, P, strict=True)), metrics=())
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-12)


@pytest.mark.parametrize("value, got", [(np.array([0.1]), r"ndarray of shape \(1,\), dtype float64"),
                                        (np.array(1), r"ndarray of shape \(\), dtype int64"),
                                        (np.float16(0.1), r"float16 of shape \(\), dtype float16")],
                         ids=["1-d", "int", "np.float16"])
def test_check_value_says_what_array_it_takes_for_any_other_numpy_value(value, got):
    """Survivor: ``_why_not``'s last reason deleted (the message then said "is not supported: None";
    the tests matched only what came). The optimizers and the schedulers give one message."""
    fix = r"is not supported: it must be a 0-d float64 array \(torch's 0-d tensor\), as np\.array\(0\.9\)"
    with pytest.raises(ValueError, match=rf"^SGD: lr given as {got} {fix}; pass float\(lr\)$"):
        mt.SGD([mt.Parameter(np.zeros(2))], lr=value)
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match=rf"^CosineAnnealingLR: eta_min given as {got} {fix}; "
                                         r"pass float\(eta_min\)$"):
        mt.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=value)


@pytest.mark.parametrize("factors", [{"div_factor": 0.5}, {"final_div_factor": 0.5},
                                     {"div_factor": 0.25, "final_div_factor": 0.8}], ids=str)
def test_one_cycle_takes_division_factors_below_1_as_torch(factors):
    """Survivor: OneCycleLR's div_factor checked > 1 instead of > 0 (torch takes 0.5: a start above
    max_lr). The schedule of lrs and momenta against torch's."""
    p, tp = mt.Parameter(np.zeros(2)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt, topt = mt.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    sched = mt.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, **factors)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=10, **factors)
    for _ in range(10):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-12)
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize("name", ["div_factor", "final_div_factor"])
def test_one_cycle_refuses_a_division_factor_of_0_where_torch_divides_by_it(name):
    """Survivor: final_div_factor's open lower end dropped (0 then passed; torch fails with a
    ZeroDivisionError at construction, MiniTorch names the setting)."""
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=rf"^OneCycleLR: {name} must be a number in \(0, inf\), got 0\.0$"):
        mt.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, **{name: 0.0})
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=10, **{name: 0.0})


# ------------------------------------------ mutants6: gradients laid out as their Parameter, lent weights
@pytest.mark.parametrize("method", ["accumulate_grad", "accumulate_matmul"])
def test_a_frozen_parameter_gets_no_gradient_from_either_accumulation(method):
    """Survivors: ``if not self.requires_grad: return`` deleted in ``accumulate_grad`` and in
    ``accumulate_matmul`` (a frozen Parameter then got a gradient, which an optimizer steps: torch
    leaves a requires_grad=False tensor's grad None). The layers' own checks hid both."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    p = mt.Parameter(np.zeros((3, 4)), requires_grad=False)
    args = (a @ b,) if method == "accumulate_grad" else (a, b)
    getattr(p, method)(*args)
    getattr(p, method)(*args)
    assert p.grad is None
    p.requires_grad_(True)
    getattr(p, method)(*args)
    np.testing.assert_allclose(p.grad, a @ b, rtol=1e-12)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_accumulate_matmul_casts_a_product_of_another_dtype_to_the_parameter_s(layout):
    """Survivors: the first product's cast ``g if g.dtype is dtype or g.dtype == dtype else
    g.astype(dtype)`` with its test negated, its branches swapped or ``==`` as ``!=`` (a float64
    product then became a float32 Parameter's grad as it came: the optimizer's float32 update got
    float64 numbers; torch keeps a gradient in its tensor's dtype). Laid out as the data either way."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))  # float64
    data = np.zeros((5, 4), np.float32)
    p = mt.Parameter(np.asfortranarray(data) if layout == "F" else data)
    p.accumulate_matmul(a, b)
    assert p.grad.dtype == np.float32 and p.grad.flags[f"{layout}_CONTIGUOUS"]
    np.testing.assert_allclose(p.grad, (a @ b).astype(np.float32), rtol=1e-6)
    p.accumulate_matmul(a, b)  # added in place, in the grad's dtype
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad, 2 * (a @ b), rtol=1e-6)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_embedding_s_fresh_gradient_is_laid_out_as_its_weight_as_torch(layout):
    """Survivor: ``laid_out_as``'s ``column_major(data) and not g.flags.f_contiguous`` as ``or`` (a
    row-major weight then got a column-major gradient: torch's gradient has its weight's strides, and
    an update pairing the two in memory order would leave the BLAS's path). Values and strides as
    torch's, a padding row's gradient 0."""
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((10, 4)).astype(np.float32)
    weight = np.asfortranarray(weight) if layout == "F" else weight
    ids, dy = np.array([[1, 2], [2, 9]]), rng.standard_normal((2, 2, 4)).astype(np.float32)
    emb = mt.Embedding(10, 4, padding_idx=9)
    emb.weight.data = weight
    emb(ids)
    emb.backward(dy)
    temb = torch.nn.Embedding(10, 4, padding_idx=9)
    temb.weight = torch.nn.Parameter(torch.from_numpy(weight.copy(order="K")))
    (temb(torch.tensor(ids)) * torch.tensor(dy)).sum().backward()
    tgrad = temb.weight.grad
    assert tuple(s // 4 for s in emb.weight.grad.strides) == tgrad.stride() == temb.weight.stride()
    np.testing.assert_allclose(emb.weight.grad, tgrad.numpy(), rtol=1e-6, atol=1e-7)
