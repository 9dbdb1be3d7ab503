"""A scheduler's number settings (gamma, eta_min, factor, threshold, eps, start/end_factor, pct_start,
div_factor, final_div_factor) follow the optimizers' rule (``optimizer.check_value``): a number or a
0-d float64 array (torch's 0-d tensor), read as its float; float32, integer, other shapes and torch
tensors are refused with one message naming the setting and the fix.

torch with a 0-d float64 tensor setting gives its float results bit for bit (it turns a float lr
into a tensor of that value); where torch refuses a tensor (CosineAnnealingWarmRestarts' eta_min,
OneCycleLR's pct_start) the array is read as its float, torch's result for that float.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitorch as mt
from minitorch import lr_scheduler

# (scheduler, fixed kwargs, setting, value, torch takes a tensor for it, plateau)
CASES = [
    ("StepLR", {"step_size": 2}, "gamma", 0.3, True),
    ("MultiStepLR", {"milestones": [2, 5]}, "gamma", 0.3, True),
    ("ExponentialLR", {}, "gamma", 0.9, True),
    ("CosineAnnealingLR", {"T_max": 5}, "eta_min", 0.01, True),
    ("LinearLR", {"end_factor": 0.9, "total_iters": 4}, "start_factor", 0.2, True),
    ("LinearLR", {"start_factor": 0.2, "total_iters": 4}, "end_factor", 0.9, True),
    ("ReduceLROnPlateau", {"patience": 1}, "factor", 0.3, True),
    ("ReduceLROnPlateau", {"patience": 1, "threshold_mode": "abs"}, "threshold", 0.5, True),
    ("ReduceLROnPlateau", {"patience": 0, "factor": 0.5, "min_lr": 0.09}, "eps", 1e-3, True),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}, "eta_min", 0.01, False),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 13}, "pct_start", 0.4, False),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 13}, "div_factor", 7.0, True),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 13}, "final_div_factor", 11.0, True),
]
IDS = [f"{c[0]}-{c[2]}" for c in CASES]
STEPS = 12


def _lrs(lib, opt, name, kwargs):
    sched = getattr(lib, name)(opt, **kwargs)
    out = []
    for step in range(STEPS):
        opt.step()
        sched.step(float(step % 3 == 0)) if name == "ReduceLROnPlateau" else sched.step()
        out.append(float(sched.get_last_lr()[0]))
    return out


@pytest.mark.parametrize("name, fixed, setting, value, torch_takes_tensor", CASES, ids=IDS)
def test_a_0d_float64_array_setting_gives_torchs_schedule(name, fixed, setting, value, torch_takes_tensor):
    t_value = torch.tensor(value, dtype=torch.float64) if torch_takes_tensor else value
    t_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    theirs = _lrs(torch.optim.lr_scheduler, t_opt, name, {**fixed, setting: t_value})
    given = np.array(value)
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    ours = _lrs(lr_scheduler, opt, name, {**fixed, setting: given})
    assert ours == theirs
    assert float(given) == value  # read, never written


@pytest.mark.parametrize("name, fixed, setting, value, torch_takes_tensor", CASES, ids=IDS)
@pytest.mark.parametrize("bad, problem", [
    (lambda v: np.array([v]), r"shape \(1,\)"),
    (lambda v: np.array(v, dtype=np.float32), "dtype float32"),
    (lambda v: np.array(int(v)), "dtype int64"),
    (lambda v: torch.tensor(v, dtype=torch.float64), "Tensor .*MiniTorch takes NumPy settings"),
], ids=["shape", "float32", "int", "tensor"])
def test_other_arrays_are_refused_naming_the_setting_and_the_fix(name, fixed, setting, value,
                                                                 torch_takes_tensor, bad, problem):
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=rf"{name}: {setting} given as .*{problem}.*pass float\({setting}\)"):
        getattr(lr_scheduler, name)(opt, **fixed, **{setting: bad(value)})


def test_a_scheduler_with_an_array_setting_round_trips_its_state_dict_as_floats():
    opt = mt.SGD([mt.Parameter(np.zeros(2))], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=np.array(0.01))
    saved = sched.state_dict()
    assert saved["eta_min"] == 0.01 and type(saved["eta_min"]) is float
    sched.load_state_dict(saved)
    assert sched.eta_min == 0.01
