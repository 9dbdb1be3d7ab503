"""Optimizer settings other than lr given as 0-d arrays (``momentum=np.array(0.9)``), as torch takes tensors.

torch 2.13 takes a 0-d tensor for every number setting of its optimizers. With a 0-d float64 tensor
its results equal those of the same setting as a float, bit for bit, except where it computes with
the tensor in tensor arithmetic (betas: ``beta**step`` by its pow kernel and ``1 - beta1`` in the
parameter's dtype; NAdam's momentum_decay; Adagrad's lr_decay): there they differ in the last bits
(measured below). MiniTorch follows torch's float path. So: a 0-d float64 array is accepted where
torch's results with it are its float results (the group keeps its own copy, state_dict() and
checkpoints keep it, the update reads it as a float); every other array (those settings, float32,
other shapes, torch tensors) is refused when the optimizer is built, naming the setting and the fix.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from trajectories import OPTIMIZERS

import minitorch as mt
from minitorch.kernels import kernels_enabled, use_kernels

# optimizer -> (settings accepted as a 0-d float64 array, with a value to use; settings refused as arrays)
SETTINGS = {
    "SGD": ({"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, ()),
    "Adam": ({"eps": 1e-3, "weight_decay": 0.01}, ("betas",)),
    "AdamW": ({"eps": 1e-3, "weight_decay": 0.05}, ("betas",)),
    "RMSprop": ({"alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01, "momentum": 0.5}, ()),
    "Adagrad": ({"weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-3}, ("lr_decay",)),
    "NAdam": ({"eps": 1e-3, "weight_decay": 0.01}, ("betas", "momentum_decay")),
    "RAdam": ({"eps": 1e-3, "weight_decay": 0.01}, ("betas",)),
}
# the other settings each configuration runs with, so every accepted one is read by the update
BASE = {
    "SGD": [{"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05},
            {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}],
    "Adam": [{"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}, {"lr": 0.01, "amsgrad": True}],
    "AdamW": [{"lr": 0.01, "betas": (0.8, 0.9)}, {"lr": 0.01, "amsgrad": True}],
    "RMSprop": [{"lr": 0.01, "centered": True, "momentum": 0.3}, {"lr": 0.01}],
    "Adagrad": [{"lr": 0.05, "lr_decay": 0.01}],
    "NAdam": [{"lr": 0.01}, {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}],
    "RAdam": [{"lr": 0.01}, {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}],
}
ACCEPTED = [(name, option, value, i) for name, (accepted, _) in SETTINGS.items()
            for option, value in accepted.items() for i in range(len(BASE[name]))
            if not (option == "dampening" and BASE[name][i].get("nesterov"))]  # (needs dampening 0)
ACCEPTED_IDS = [f"{name}-{option}-{i}" for name, option, _, i in ACCEPTED]
REFUSED = [(name, option) for name, (_, refused) in SETTINGS.items() for option in refused]


def test_every_optimizer_and_number_setting_is_classified():
    assert set(SETTINGS) == {name for name in mt.optimizers.__all__ if name != "Optimizer"} == set(OPTIMIZERS)
    for name, (accepted, refused) in SETTINGS.items():
        signature = inspect.signature(getattr(mt, name)).parameters
        numbers = {key for key, p in signature.items() if key not in ("params", "lr")
                   and not isinstance(p.default, bool)}
        assert numbers == set(accepted) | set(refused), name


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
@pytest.mark.parametrize("name, option, value, i", ACCEPTED, ids=ACCEPTED_IDS)
def test_a_0d_float64_array_setting_steps_as_the_float_and_as_torch_tensor(name, option, value, i, dtype):
    config = {**BASE[name][i], option: value}
    with_array = {**config, option: np.array(value)}
    plain = _ours(name, config, dtype)
    _assert_same(_ours(name, with_array, dtype), plain, f"{name} {option}=array")
    # why it is accepted: torch's results with a 0-d float64 tensor are its float results, bit for bit
    _assert_same(_theirs(name, {**config, option: torch.tensor(value, dtype=torch.float64)}, dtype),
                 _theirs(name, config, dtype), f"torch {name} {option}=tensor")
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-5, "atol": 1e-6}
    for ours, theirs in zip(plain, _theirs(name, config, dtype), strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)  # and MiniTorch follows torch's float path


@pytest.mark.parametrize("name, option", REFUSED, ids=[f"{n}-{o}" for n, o in REFUSED])
def test_where_torch_tensor_results_differ_the_array_is_refused_and_the_difference_is_real(name, option):
    config = BASE[name][0]
    default = inspect.signature(getattr(mt, name)).parameters[option].default
    arrays = tuple(np.array(b) for b in default) if option == "betas" else np.array(default)
    with pytest.raises(ValueError, match=rf"^{name}: {option}(\[0\])? given as ndarray .*tensor arithmetic"
                                         rf".*pass float\({option}(\[0\])?\)"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **{**config, option: arrays})
    tensors = (tuple(torch.tensor(b, dtype=torch.float64) for b in default) if option == "betas"
               else torch.tensor(default, dtype=torch.float64))
    differs = any(not np.array_equal(a, b) for dtype in (np.float32, np.float64) for a, b in zip(
        _theirs(name, {**config, option: tensors}, dtype, steps=20), _theirs(name, config, dtype, steps=20),
        strict=True))
    assert differs  # torch's own float and tensor runs differ: MiniTorch could match only one


WRONG = [
    (np.array(0.01, dtype=np.float32), r"shape \(\), dtype float32"),
    (np.array([0.01]), r"shape \(1,\), dtype float64"),
    (np.array(0), r"shape \(\), dtype int64"),
    (torch.tensor(0.01, dtype=torch.float64), r"Tensor of shape \(\), dtype torch.float64.*NumPy"),
]


@pytest.mark.parametrize("value, problem", WRONG, ids=["float32", "1-d", "int", "torch"])
@pytest.mark.parametrize("name", SETTINGS)
def test_other_arrays_are_refused_at_construction_naming_the_setting_and_the_fix(name, value, problem):
    option = next(iter(SETTINGS[name][0]))  # weight_decay / momentum / eps ...
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


@pytest.mark.parametrize("name", SETTINGS)
def test_an_array_out_of_range_is_refused_as_the_number(name):
    option = next(iter(SETTINGS[name][0]))
    with pytest.raises(ValueError, match=rf"{name}: {option} must be a number in .* got -1\.0$"):
        getattr(mt, name)([mt.Parameter(np.zeros(2))], **{option: np.array(-1.0)})


# ------------------------------------------------------------------ groups, state_dict, files
@pytest.mark.parametrize("name", SETTINGS)
def test_each_group_keeps_its_own_copy_and_state_dict_round_trips_it(name):
    option, value = next(iter(SETTINGS[name][0].items()))
    given = np.array(value)
    opt = getattr(mt, name)([{"params": [mt.Parameter(np.zeros(2))]}, {"params": [mt.Parameter(np.ones(2))]}],
                            **{option: given})
    first, second = (group[option] for group in opt.param_groups)
    assert first is not second and first is not given and first.shape == () and first == value
    saved = opt.state_dict()
    assert isinstance(saved["param_groups"][0][option], np.ndarray)
    assert saved["param_groups"][0][option] is not first  # a copy, as torch's state_dict clones
    opt.load_state_dict(saved)
    loaded = opt.param_groups[0][option]
    assert isinstance(loaded, np.ndarray) and loaded.dtype == np.float64 and loaded == value
    assert loaded is not saved["param_groups"][0][option]


@pytest.mark.parametrize("name", SETTINGS)
def test_a_checkpoint_keeps_array_settings_and_training_goes_on_bit_for_bit(tmp_path, name):
    config = {**BASE[name][0], **{option: np.array(v) for option, v in SETTINGS[name][0].items()}}

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
    for option, value in SETTINGS[name][0].items():
        kept = again.param_groups[0][option]
        assert isinstance(kept, np.ndarray) and kept.shape == () and kept == value, option
    resumed, _ = run(range(5, 10), again, fresh)
    _assert_same([p.data for p in resumed], [p.data for p in straight], f"{name} resumed")


# ------------------------------------------------------------------ the fast room
@pytest.mark.parametrize("kernels", [False, True], ids=["MINITORCH_KERNELS=0", "MINITORCH_KERNELS=1"])
@pytest.mark.parametrize("name, config", [
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True}),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_optimizer_kernels_step_array_settings_as_float_settings(name, config, kernels, dtype):
    """The kernels read each setting as the plain step does (``float(group[...])``): arrays give
    the floats' results on either path (the kernels' own agreement with the plain step, to a
    tolerance, is tests/test_kernels_optimizers.py's)."""
    arrays = {k: np.array(v) if k != "lr" and isinstance(v, float) else v for k, v in config.items()}
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
