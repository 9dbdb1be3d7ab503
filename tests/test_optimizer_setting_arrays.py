"""Optimizer settings as 0-d arrays (``momentum=np.array(0.9)``), as torch takes tensors: one rule for all.

torch 2.13 takes a 0-d tensor for every number setting of its optimizers. MiniTorch takes a 0-d
float64 array for each, lr included (``optimizer.check_value``, the one rule): the group keeps its
own copy, state_dict() and checkpoints keep it, and the update reads it as a float, so the results
are those of the float, bit for bit. torch's results with a 0-d float64 tensor are its float results
bit for bit too, except for betas, NAdam's momentum_decay and Adagrad's lr_decay (tensor arithmetic:
``beta**step`` by its pow kernel, ``1 - beta1`` in the parameter's dtype), where they differ in the
last bits, as MiniTorch's float results do from torch's: measured below. Refused when the optimizer
is built, naming the setting, what came and the fix: float32 arrays (torch then computes parts of
the update in float32, ~1e-5 relative away from its float results for float64 parameters: measured
below, so reading the float would be silently different), other shapes, integer arrays, torch
tensors, NumPy float32 scalars (``np.float32(0.01)``: torch computes partly in float32 with them too,
~1e-7 relative from its float results, measured below), and one array beside one number in Adam's
and AdamW's betas (as torch). The lr's own habits
(schedulers writing it in place): tests/test_lr_array.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from trajectories import OPTIMIZERS

import minitorch as mt
from minitorch import lr_scheduler
from minitorch.kernels import kernels_enabled, use_kernels

# optimizer -> number settings with a value to use (betas: a pair)
SETTINGS = {
    "SGD": {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
    "Adam": {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.01},
    "AdamW": {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.05},
    "RMSprop": {"alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01, "momentum": 0.5},
    "Adagrad": {"lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-3},
    "NAdam": {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.01, "momentum_decay": 0.01},
    "RAdam": {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.01},
    "Adamax": {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.01},
    "Adadelta": {"rho": 0.8, "eps": 1e-3, "weight_decay": 0.01},
    "Rprop": {"etas": (0.4, 1.3), "step_sizes": (1e-4, 0.5)},
    "ASGD": {"lambd": 1e-3, "alpha": 0.6, "t0": 5.0, "weight_decay": 0.01},
}
PAIRS = ("betas", "etas", "step_sizes")  # settings that are pairs of numbers
# where torch's results with a 0-d float64 tensor are not its float results bit for bit
TORCH_TENSOR_DIFFERS = {("Adam", "betas"), ("AdamW", "betas"), ("NAdam", "betas"), ("RAdam", "betas"),
                        ("NAdam", "momentum_decay"), ("Adagrad", "lr_decay")}
TORCH_TENSOR_DIFFERS |= {("Adamax", "betas"), ("ASGD", "lambd"), ("ASGD", "alpha")}
# the other settings each configuration runs with, so every setting is read by the update
BASE = {
    "SGD": [{"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05},
            {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}],
    "Adam": [{"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}, {"lr": 0.01, "amsgrad": True}],
    "AdamW": [{"lr": 0.01, "betas": (0.8, 0.9)}, {"lr": 0.01, "amsgrad": True}],
    "RMSprop": [{"lr": 0.01, "centered": True, "momentum": 0.3}, {"lr": 0.01}],
    "Adagrad": [{"lr": 0.05, "lr_decay": 0.01}],
    "NAdam": [{"lr": 0.01}, {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}],
    "RAdam": [{"lr": 0.01}, {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}],
    "Adamax": [{"lr": 0.01, "weight_decay": 0.1}],
    "Adadelta": [{"lr": 0.5, "weight_decay": 0.1}],
    "Rprop": [{"lr": 0.01}],
    "ASGD": [{"lr": 0.05, "t0": 3.0, "lambd": 0.01}],
}
CASES = [(name, option, value, i) for name, settings in SETTINGS.items()
         for option, value in settings.items() for i in range(len(BASE[name]))
         if not (option == "dampening" and BASE[name][i].get("nesterov"))]  # (needs dampening 0)
CASE_IDS = [f"{name}-{option}-{i}" for name, option, _, i in CASES]


def _array(option: str, value):
    return tuple(np.array(v) for v in value) if option in PAIRS else np.array(value)


def _tensor(option: str, value):
    return (tuple(torch.tensor(v, dtype=torch.float64) for v in value) if option in PAIRS
            else torch.tensor(value, dtype=torch.float64))


def test_every_optimizer_and_number_setting_is_covered():
    assert set(SETTINGS) == {name for name in mt.optimizers.__all__ if name != "Optimizer"} == set(OPTIMIZERS)
    for name, settings in SETTINGS.items():
        signature = inspect.signature(getattr(mt, name)).parameters
        numbers = {key for key, p in signature.items() if key not in ("params", "lr")
                   and not isinstance(p.default, bool) and p.default is not None}  # (foreach, fused)
        assert numbers == set(settings), name


# ------------------------------------------------------------------ the runs compared
def _start(dtype, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((40, 30)).astype(dtype), rng.standard_normal(30).astype(dtype)]


def _grads(step: int, dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal((40, 30)).astype(dtype), rng.standard_normal(30).astype(dtype)]


def _ours(name: str, config: dict, dtype, steps: int = 12) -> list[np.ndarray]:
    params = [mt.Parameter(a) for a in _start(dtype)]
    opt = getattr(mt, name)(params, **config)
    for step in range(steps):
        for p, g in zip(params, _grads(step, dtype), strict=True):
            p.grad = g
        opt.step()
    return [p.data for p in params]


def _theirs(name: str, config: dict, dtype, steps: int = 12) -> list[np.ndarray]:
    params = [torch.nn.Parameter(torch.from_numpy(a)) for a in _start(dtype)]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)  # NAdam's mu_product
    try:
        opt = OPTIMIZERS[name][1](params, **config)
        for step in range(steps):
            for p, g in zip(params, _grads(step, dtype), strict=True):
                p.grad = torch.from_numpy(g)
            opt.step()
    finally:
        torch.set_default_dtype(previous)
    return [p.detach().numpy() for p in params]


def _assert_same(a: list[np.ndarray], b: list[np.ndarray], what: str) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype, what
        np.testing.assert_array_equal(x, y, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, option, value, i", CASES, ids=CASE_IDS)
def test_a_0d_float64_array_setting_steps_as_the_float_and_as_torch_with_a_tensor(
        name, option, value, i, dtype):
    config = {**BASE[name][i], option: value}
    plain = _ours(name, config, dtype, steps=20)
    _assert_same(_ours(name, {**config, option: _array(option, value)}, dtype, steps=20), plain,
                 f"{name} {option}=array")
    with_tensor = _theirs(name, {**config, option: _tensor(option, value)}, dtype, steps=20)
    torch_float = _theirs(name, config, dtype, steps=20)
    if (name, option) not in TORCH_TENSOR_DIFFERS:  # torch's tensor results are its float results
        _assert_same(with_tensor, torch_float, f"torch {name} {option}=tensor")
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for ours, theirs, float_path in zip(plain, with_tensor, torch_float, strict=True):
        np.testing.assert_allclose(ours, float_path, **tol)  # the trajectories' tolerances
        np.testing.assert_allclose(ours, theirs, **tol)


@pytest.mark.parametrize("name, option", sorted(TORCH_TENSOR_DIFFERS))
def test_where_torch_tensor_results_differ_from_its_float_results_the_difference_is_real(name, option):
    """Keeps the list honest: a torch that computes these as floats would fail here."""
    default = inspect.signature(getattr(mt, name)).parameters[option].default
    differs = [not np.array_equal(a, b) for value in (SETTINGS[name][option], default)
               for config in [{**BASE[name][0], option: value}] for dtype in (np.float32, np.float64)
               for a, b in zip(_theirs(name, {**config, option: _tensor(option, value)}, dtype, steps=20),
                               _theirs(name, config, dtype, steps=20), strict=True)]
    assert any(differs)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_refuses_one_array_beta_beside_a_number_as_torch(name):
    for betas in [(np.array(0.9), 0.999), (0.9, np.array(0.999))]:
        with pytest.raises(ValueError, match=rf"^{name}: betas must be both numbers or both 0-d arrays.*"
                                             r"pass \(float\(beta1\), float\(beta2\)\)"):
            getattr(mt, name)([mt.Parameter(np.zeros(2))], betas=betas)
        with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
            getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))],
                                       betas=tuple(torch.tensor(b) if isinstance(b, np.ndarray) else b
                                                   for b in betas))


@pytest.mark.parametrize("name", ["NAdam", "RAdam"])
def test_nadam_and_radam_take_one_array_beta_beside_a_number_as_torch(name):
    config = {**BASE[name][0], "betas": (np.array(0.8), 0.9)}
    _assert_same(_ours(name, config, np.float64), _ours(name, {**config, "betas": (0.8, 0.9)}, np.float64),
                 name)
    torch_config = {**BASE[name][0], "betas": (torch.tensor(0.8, dtype=torch.float64), 0.9)}
    for ours, theirs in zip(_ours(name, config, np.float64), _theirs(name, torch_config, np.float64),
                            strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_a_schedule_cycling_beta1_of_array_betas_round_trips():
    opt = mt.Adam([mt.Parameter(np.zeros(2))], lr=0.1, betas=(np.array(0.9), np.array(0.99)))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)  # writes beta1 as a float
    opt.load_state_dict(opt.state_dict())
    sched.step()
    assert isinstance(opt.param_groups[0]["betas"][1], np.ndarray)


WRONG = [
    (np.array(0.01, dtype=np.float32), r"shape \(\), dtype float32"),
    (np.array([0.01]), r"shape \(1,\), dtype float64"),
    (np.array(0), r"shape \(\), dtype int64"),
    (torch.tensor(0.01, dtype=torch.float64), r"Tensor of shape \(\), dtype torch.float64.*NumPy"),
    (np.float32(0.01), r"float32 of shape \(\), dtype float32 is not supported: torch computes partly in "
                       r"float32 with a float32 setting"),
    (np.float16(0.01), r"float16 of shape \(\), dtype float16"),
]


@pytest.mark.parametrize("value, problem", WRONG, ids=["float32", "1-d", "int", "torch", "np.float32",
                                                       "np.float16"])
@pytest.mark.parametrize("which", ["lr", "other"])
@pytest.mark.parametrize("name", SETTINGS)
def test_other_arrays_are_refused_at_construction_naming_the_setting_and_the_fix(name, which, value, problem):
    """The one rule: lr and every other number setting refuse the same arrays with the same message."""
    # lr, or momentum, eps, lr_decay...
    option = "lr" if which == "lr" else next((key for key in SETTINGS[name] if key not in PAIRS), None)
    if option is None:
        pytest.skip(f"{name} has no number setting but lr and pairs")
    message = rf"^{name}: {option} given as .*{problem}.*pass float\({option}\)"
    with pytest.raises(ValueError, match=message):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **{option: value})
    opt = getattr(mt, name)([mt.Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [mt.Parameter(np.zeros(2))], option: value})
    saved = opt.state_dict()
    saved["param_groups"][0][option] = value
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(saved)
    assert opt.state_dict()["param_groups"] == before["param_groups"]  # unchanged


# where torch's results with a float32 0-d tensor setting (float64 parameters) are not its results
# with the float of that float32 value: it computes parts of the update in float32
TORCH_FLOAT32_DIFFERS = [("SGD", "dampening"), ("Adam", "lr"), ("AdamW", "lr"), ("AdamW", "weight_decay"),
                         ("Adagrad", "lr"), ("Adagrad", "lr_decay"), ("NAdam", "lr"),
                         ("NAdam", "momentum_decay")]


@pytest.mark.parametrize("name, option", TORCH_FLOAT32_DIFFERS)
def test_torch_steps_partly_in_float32_with_a_float32_setting_hence_the_refusal(name, option):
    """Keeps the refusal of float32 arrays honest: with one, torch moves float64 parameters by far
    more than float64 rounding (> 1e-9 relative) from its float results, which MiniTorch, reading
    the float, would give: the difference would be silent."""
    value = float(np.float32({**SETTINGS[name], "lr": 0.01}[option]))
    config = {**BASE[name][0], option: value}
    with_tensor = _theirs(name, {**config, option: torch.tensor(value, dtype=torch.float32)}, np.float64)
    as_float = _theirs(name, config, np.float64)
    ours = _ours(name, config, np.float64)
    for t, f, o in zip(with_tensor, as_float, ours, strict=True):
        np.testing.assert_allclose(o, f, rtol=1e-12, atol=1e-13)  # MiniTorch is torch's float path
        assert np.max(np.abs(t - f) / np.maximum(np.abs(f), 1e-3)) > 1e-9


# where torch's results with a NumPy float32 scalar setting (float64 parameters) are not its results
# with the float of that value (measured with torch 2.13); its Adam and AdamW refuse np.float32 betas
TORCH_NP_FLOAT32_DIFFERS = [("SGD", "dampening", 0), ("Adam", "lr", 1), ("AdamW", "lr", 0),
                            ("Adagrad", "lr_decay", 0), ("NAdam", "lr", 0), ("NAdam", "betas", 0),
                            ("NAdam", "momentum_decay", 0), ("NAdam", "weight_decay", 1),
                            ("RAdam", "betas", 0), ("RAdam", "lr", 1), ("RAdam", "weight_decay", 1)]


@pytest.mark.parametrize("name, option, i", TORCH_NP_FLOAT32_DIFFERS)
def test_torch_steps_partly_in_float32_with_a_numpy_float32_scalar_hence_its_refusal(name, option, i):
    """Keeps the refusal of np.float32 scalars honest: torch does not read them as their float."""
    value = {**SETTINGS[name], **BASE[name][i], "lr": 0.01}[option]
    value = tuple(float(np.float32(v)) for v in value) if option == "betas" else float(np.float32(value))
    config = {**BASE[name][i], option: value}
    scalar = tuple(map(np.float32, value)) if option == "betas" else np.float32(value)
    with_scalar = _theirs(name, {**config, option: scalar}, np.float64)
    as_float = _theirs(name, config, np.float64)
    for t, f in zip(with_scalar, as_float, strict=True):
        assert np.max(np.abs(t - f) / np.maximum(np.abs(f), 1e-3)) > 1e-9
    message = rf"^{name}: {option}.* given as float32 of shape \(\), dtype float32"
    with pytest.raises(ValueError, match=message):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **{option: scalar})


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_torch_adam_refuses_numpy_float32_betas_and_so_does_minitorch(name):
    betas = (np.float32(0.8), np.float32(0.9))
    with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
        OPTIMIZERS[name][1]([torch.nn.Parameter(torch.zeros(2))], betas=betas).step()
    with pytest.raises(ValueError, match=rf"^{name}: betas\[0\] given as float32 of shape"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], betas=betas)


def test_a_schedule_giving_a_numpy_float32_lr_is_refused_at_its_step():
    """torch's LambdaLR writes the np.float32 into the group (then steps partly in float32, as
    measured above); MiniTorch's refuses it at the step that would write it, naming the fix."""
    def factor(epoch):
        return 1.0 if epoch == 0 else np.float32(0.5)

    t_param = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    t_opt = torch.optim.Adam([t_param], lr=0.01)
    t_sched = torch.optim.lr_scheduler.LambdaLR(t_opt, factor)
    t_param.grad = torch.ones(2, dtype=torch.float64)
    t_opt.step()
    t_sched.step()
    assert type(t_opt.param_groups[0]["lr"]) is np.float32
    opt = mt.Adam([mt.Parameter(np.zeros(2))], lr=0.01)
    sched = lr_scheduler.LambdaLR(opt, factor)
    with pytest.raises(ValueError, match=r"^LambdaLR\.step: lr given as float32 of shape \(\), dtype "
                                         r"float32 is not supported: torch computes partly in float32"):
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("name", SETTINGS)
def test_a_numpy_float64_scalar_is_a_python_float_and_steps_as_one(name):
    option = next(key for key in SETTINGS[name] if key != "betas")
    config = {**BASE[name][0], option: SETTINGS[name][option]}
    _assert_same(_ours(name, {**config, option: np.float64(config[option])}, np.float64),
                 _ours(name, config, np.float64), f"{name} {option}")


@pytest.mark.parametrize("name", SETTINGS)
def test_an_array_out_of_range_is_refused_as_the_number(name):
    unbounded = ("lambd", "alpha", "t0")  # ASGD's: any number, as torch's
    option = next((key for key in SETTINGS[name] if key not in PAIRS + unbounded), None)
    if option is None:  # Rprop: a pair's first element
        with pytest.raises(ValueError, match=rf"{name}: etas\[0\] must be a number in .* got -1\.0$"):
            getattr(mt, name)([mt.Parameter(np.zeros(2))], etas=(np.array(-1.0), 1.2))
        return
    with pytest.raises(ValueError, match=rf"{name}: {option} must be a number in .* got -1\.0$"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **{option: np.array(-1.0)})


# ------------------------------------------------------------------ groups, state_dict, files
@pytest.mark.parametrize("name", SETTINGS)
def test_each_group_keeps_its_own_copy_and_state_dict_round_trips_it(name):
    for option, value in SETTINGS[name].items():
        _check_group_copies(name, option, value)


def _check_group_copies(name, option, value):
    given = _array(option, value)
    opt = getattr(mt, name)([{"params": [mt.Parameter(np.zeros(2))]}, {"params": [mt.Parameter(np.ones(2))]}],
                            **{option: given})
    def arrays(value):
        return list(value) if isinstance(value, tuple) else [value]

    first, second = (arrays(group[option]) for group in opt.param_groups)
    assert all(a is not b and a is not g for a, b, g in zip(first, second, arrays(given), strict=True))
    assert [a.shape for a in first] == [()] * len(first) and [float(a) for a in first] == arrays(value)
    saved = opt.state_dict()
    kept = arrays(saved["param_groups"][0][option])
    assert all(isinstance(a, np.ndarray) and a is not b for a, b in zip(kept, first, strict=True))  # copies
    opt.load_state_dict(saved)
    loaded = arrays(opt.param_groups[0][option])
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in loaded)
    assert [float(a) for a in loaded] == arrays(value)
    assert all(a is not b for a, b in zip(loaded, kept, strict=True))


@pytest.mark.parametrize("name", SETTINGS)
def test_a_checkpoint_keeps_array_settings_and_training_goes_on_bit_for_bit(tmp_path, name):
    config = {**BASE[name][0], **{option: _array(option, v) for option, v in SETTINGS[name].items()}}

    def run(steps, opt=None, params=None):
        if params is None:
            params = [mt.Parameter(a) for a in _start(np.float64)]
            opt = getattr(mt, name)(params, **config)
        for step in steps:
            for p, g in zip(params, _grads(step, np.float64), strict=True):
                p.grad = g
            opt.step()
        return params, opt

    straight, _ = run(range(10))
    params, opt = run(range(5))
    model = mt.Sequential(mt.Linear(2, 2))  # the checkpoint's model; the optimizer holds `params`
    mt.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt)
    fresh = [mt.Parameter(p.data.copy()) for p in params]
    again = getattr(mt, name)(fresh, **BASE[name][0])  # floats: the file's arrays come back
    mt.load_checkpoint(tmp_path / "c.npz", optimizer=again)
    for option, value in SETTINGS[name].items():
        kept = again.param_groups[0][option]
        pairs = zip(kept, value, strict=True) if option in PAIRS else [(kept, value)]
        for array, number in pairs:
            assert isinstance(array, np.ndarray) and array.shape == () and array == number, option
    resumed, _ = run(range(5, 10), again, fresh)
    _assert_same([p.data for p in resumed], [p.data for p in straight], f"{name} resumed")


# ------------------------------------------------------------------ the fast room
@pytest.mark.parametrize("kernels", [False, True], ids=["MINITORCH_KERNELS=0", "MINITORCH_KERNELS=1"])
@pytest.mark.parametrize("name, config", [
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True}),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_optimizer_kernels_step_array_settings_as_float_settings(name, config, kernels, dtype):
    """The kernels read each setting as the plain step does (``float(group[...])``): arrays give
    the floats' results on either path (the kernels' own agreement with the plain step, to a
    tolerance, is tests/test_kernels_optimizers.py's)."""
    arrays = {k: _array(k, v) if k != "lr" and isinstance(v, (float, tuple)) else v
              for k, v in config.items()}
    was = kernels_enabled()
    try:
        use_kernels(kernels)
        _assert_same(_ours(name, arrays, dtype), _ours(name, config, dtype), f"{name} kernels={kernels}")
    finally:
        use_kernels(was)


@pytest.mark.parametrize("kernels", [False, True])
def test_fit_with_array_momentum_trains_as_with_the_float(kernels):
    was = kernels_enabled()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)

    def train(momentum, weight_decay):
        mt.manual_seed(0)
        model = mt.Sequential(mt.Linear(4, 8), mt.ReLU(), mt.Linear(8, 3))
        opt = mt.SGD(model.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
        loader = mt.DataLoader(X, y, batch_size=16, shuffle=False)
        mt.fit(model, mt.CrossEntropyLoss(), opt, loader, epochs=3, verbose=0)
        return [p.data for p in model.parameters()]

    try:
        use_kernels(kernels)
        _assert_same(train(np.array(0.9), np.array(0.01)), train(0.9, 0.01), "fit")
    finally:
        use_kernels(was)
