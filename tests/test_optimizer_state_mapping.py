"""Optimizer.load_state_dict takes Mappings where torch 2.13 does: the outer dict and its 'state'.

torch 2.13 (measured here): a ``types.MappingProxyType`` as the whole state_dict loads (its
``.copy()`` is used; another Mapping without ``.copy()`` fails with an AttributeError, which
MiniTorch, as ``Module.load_state_dict``, accepts), any Mapping as ``state_dict['state']`` loads;
a Mapping other than a dict as one Parameter's state or as one param_group fails in torch
(a TypeError) and is refused by MiniTorch with a ValueError naming it. A refused load changes nothing.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
import torch

import minitorch as mt


class _Plain(Mapping):
    """A read-only Mapping with nothing but the abstract methods (no ``.copy()``)."""

    def __init__(self, data: dict) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _stepped(lib: Any, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(3)
    if lib is torch:
        p = torch.nn.Parameter(torch.tensor(values))
        opt = torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.9))
        p.grad = torch.tensor(rng.standard_normal(3))
    else:
        p = mt.Parameter(values.copy())
        opt = mt.Adam([p], lr=0.1, betas=(0.8, 0.9))
        p.grad = rng.standard_normal(3)
    opt.step()
    return p, opt


WRAPS = {
    "proxy outer": lambda sd: types.MappingProxyType(sd),
    "proxy state": lambda sd: {**sd, "state": types.MappingProxyType(sd["state"])},
    "plain state": lambda sd: {**sd, "state": _Plain(sd["state"])},
    "proxy outer and state": lambda sd: types.MappingProxyType({**sd, "state": _Plain(sd["state"])}),
}


@pytest.mark.parametrize("wrap", list(WRAPS), ids=list(WRAPS))
def test_mappings_torch_accepts_load_as_torch(wrap):
    results = []
    for lib in (torch, mt):
        _, source = _stepped(lib, 0)
        p, opt = _stepped(lib, 1)
        opt.load_state_dict(WRAPS[wrap](source.state_dict()))
        p.grad = torch.ones(3, dtype=torch.float64) if lib is torch else np.ones(3)
        opt.step()
        results.append(p.detach().numpy().copy() if lib is torch else p.data.copy())
        assert opt.state[p]["exp_avg"] is not None
    np.testing.assert_allclose(results[1], results[0], rtol=1e-13, atol=0)  # Adam: torch's beta**step


def test_a_mapping_without_copy_loads_as_a_dict():
    """torch fails here (AttributeError: no ``.copy()``); MiniTorch, as its Module, takes any Mapping."""
    _, source = _stepped(mt, 0)
    _, opt = _stepped(mt, 1)
    opt.load_state_dict(_Plain(source.state_dict()))
    expected = source.state_dict()
    after = opt.state_dict()
    assert after["param_groups"] == expected["param_groups"]
    for key, value in expected["state"][0].items():
        np.testing.assert_array_equal(after["state"][0][key], value)


INNER = {
    "proxy state entry": (lambda sd: {**sd, "state": {0: types.MappingProxyType(sd["state"][0])}},
                          r"parameter 0: expected a dict of state, got mappingproxy"),
    "plain state entry": (lambda sd: {**sd, "state": {0: _Plain(sd["state"][0])}},
                          r"parameter 0: expected a dict of state, got _Plain"),
    "proxy group": (lambda sd: {**sd, "param_groups": [types.MappingProxyType(sd["param_groups"][0])]},
                    r"param_groups\[0\] is not a dict with a 'params' key"),
    "plain group": (lambda sd: {**sd, "param_groups": [_Plain(sd["param_groups"][0])]},
                    r"param_groups\[0\] is not a dict with a 'params' key"),
}


@pytest.mark.parametrize("wrap", list(INNER), ids=list(INNER))
def test_inner_mappings_torch_refuses_are_refused_and_change_nothing(wrap):
    make, message = INNER[wrap]
    _, t_source = _stepped(torch, 0)
    _, t_opt = _stepped(torch, 1)
    with pytest.raises(TypeError):
        t_opt.load_state_dict(make(t_source.state_dict()))
    _, source = _stepped(mt, 0)
    _, opt = _stepped(mt, 1)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: " + message):
        opt.load_state_dict(types.MappingProxyType(make(source.state_dict())))
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for key, value in before["state"][0].items():
        np.testing.assert_array_equal(after["state"][0][key], value)


@pytest.mark.parametrize("bad", [[("state", {}), ("param_groups", [])], "state", None, 3],
                         ids=["pairs", "str", "None", "int"])
def test_a_state_dict_that_is_no_mapping_is_refused(bad):
    _, opt = _stepped(mt, 0)
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: state_dict must be a dict or another "
                                         r"Mapping with keys 'state' and 'param_groups', got"):
        opt.load_state_dict(bad)


def test_a_state_that_is_no_mapping_is_refused():
    _, opt = _stepped(mt, 0)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: state_dict\['state'\] must be a dict "
                                         r"or another Mapping, got list"):
        opt.load_state_dict({**sd, "state": [sd["state"][0]]})
