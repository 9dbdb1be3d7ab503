"""A reset or an init that writes in place, given a read-only array: a clear error, nothing changed.

torch's ``reset_parameters`` and ``nn.init`` fills write into the tensor's own storage (an optimizer
or a view holding it sees the new values); MiniTorch's do the same into the Parameter's array. A
read-only array (``np.broadcast_to``, a read-only memory map, ``flags.writeable = False``) cannot
be written: the error names the module (or function), the Parameter or buffer and the fix, before
anything is drawn or written, so the other arrays and the random generator are as they were.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import minitorch as mt
from minitorch.random import generator

LAYERS = [
    ("Linear", lambda: mt.Linear(3, 2)),
    ("Conv2d", lambda: mt.Conv2d(2, 3, 3)),
    ("Conv1d", lambda: mt.Conv1d(2, 3, 3)),
    ("ConvTranspose2d", lambda: mt.ConvTranspose2d(2, 3, 3)),
    ("BatchNorm1d", lambda: mt.BatchNorm1d(3)),
    ("BatchNorm2d", lambda: mt.BatchNorm2d(3)),
    ("LayerNorm", lambda: mt.LayerNorm(3)),
    ("GroupNorm", lambda: mt.GroupNorm(2, 4)),
    ("PReLU", lambda: mt.PReLU(3)),
    ("Embedding", lambda: mt.Embedding(5, 3, padding_idx=1)),
    ("RNN", lambda: mt.RNN(3, 4, num_layers=2, bidirectional=True)),
    ("LSTM", lambda: mt.LSTM(3, 4, proj_size=2)),
    ("GRU", lambda: mt.GRU(3, 4)),
    ("RNNCell", lambda: mt.RNNCell(3, 4)),
    ("LSTMCell", lambda: mt.LSTMCell(3, 4)),
    ("GRUCell", lambda: mt.GRUCell(3, 4)),
    ("OutProjection", lambda: mt.MultiheadAttention(4, 2).out_proj),
]
CASES = [(label, make, name) for label, make in LAYERS
         for name in [*make()._parameters, *make()._buffers]]


def _arrays(module):
    own = {name: p.data for name, p in module._parameters.items() if p is not None}
    return own | {name: b for name, b in module._buffers.items() if b is not None}


def _snapshot(module):
    return {name: a.copy() for name, a in _arrays(module).items()}, generator().bit_generator.state


def _unchanged(module, before):
    arrays, state = before
    assert generator().bit_generator.state == state  # nothing drawn
    for name, array in _arrays(module).items():
        np.testing.assert_array_equal(array, arrays[name])


@pytest.mark.parametrize("label, make, name", CASES, ids=[f"{c[0]}.{c[2]}" for c in CASES])
def test_reset_parameters_on_a_read_only_array_names_it_and_the_fix(label, make, name):
    module = make()
    kind = "Parameter" if name in module._parameters else "buffer"
    _arrays(module)[name].flags.writeable = False
    before = _snapshot(module)
    with pytest.raises(ValueError) as caught:
        module.reset_parameters()
    message = str(caught.value)
    cls = type(module).__name__
    assert re.match(rf"{cls}\.reset_parameters: {kind} '{name}' is a read-only array", message), message
    fix = f".{name}.data = .{name}.data.copy()" if kind == "Parameter" else f".{name} = .{name}.copy()"
    assert fix in message, message
    _unchanged(module, before)
    # the fix named works: the reset then draws what a writable twin draws
    if kind == "Parameter":
        module._parameters[name].data = module._parameters[name].data.copy()
    else:
        setattr(module, name, getattr(module, name).copy())
    twin = make()
    mt.manual_seed(3)
    module.reset_parameters()
    mt.manual_seed(3)
    twin.reset_parameters()
    for key, array in _arrays(twin).items():
        np.testing.assert_array_equal(_arrays(module)[key], array)


@pytest.mark.parametrize("name", ["in_proj_weight", "in_proj_bias", "out_proj.bias"])
def test_multihead_attentions_reset_names_the_read_only_array(name):
    mha = mt.MultiheadAttention(4, 2)
    owner, _, attr = name.rpartition(".")
    holder = mha.out_proj if owner else mha
    holder._parameters[attr].data.flags.writeable = False
    before = _snapshot(mha), _snapshot(mha.out_proj)
    with pytest.raises(ValueError, match=rf"^MultiheadAttention\._reset_parameters: Parameter '{name}' is a "
                                         r"read-only array"):
        mha._reset_parameters()
    _unchanged(mha, before[0])
    _unchanged(mha.out_proj, before[1])


def test_multihead_attentions_reset_leaves_a_read_only_out_proj_weight_alone():
    mha = mt.MultiheadAttention(4, 2)
    mha.out_proj.weight.data.flags.writeable = False  # torch's _reset_parameters keeps it: not written
    mha._reset_parameters()


INITS = [
    ("uniform_", lambda x: mt.init.uniform_(x)),
    ("normal_", lambda x: mt.init.normal_(x)),
    ("constant_", lambda x: mt.init.constant_(x, 0.5)),
    ("zeros_", lambda x: mt.init.zeros_(x)),
    ("ones_", lambda x: mt.init.ones_(x)),
    ("xavier_uniform_", lambda x: mt.init.xavier_uniform_(x)),
    ("xavier_normal_", lambda x: mt.init.xavier_normal_(x)),
    ("kaiming_uniform_", lambda x: mt.init.kaiming_uniform_(x)),
    ("kaiming_normal_", lambda x: mt.init.kaiming_normal_(x)),
    ("trunc_normal_", lambda x: mt.init.trunc_normal_(x)),
    ("orthogonal_", lambda x: mt.init.orthogonal_(x)),
    ("sparse_", lambda x: mt.init.sparse_(x, 0.5)),
    ("eye_", lambda x: mt.init.eye_(x)),
]


@pytest.mark.parametrize("as_parameter", [True, False], ids=["Parameter", "array"])
@pytest.mark.parametrize("who, fill", INITS, ids=[who for who, _ in INITS])
def test_an_init_on_a_read_only_array_names_the_function_and_the_fix(who, fill, as_parameter):
    x = np.arange(12.0).reshape(3, 4)
    x.flags.writeable = False
    target = mt.Parameter(x) if as_parameter else x
    state = generator().bit_generator.state
    kind, fix = (("Parameter", r"p\.data = p\.data\.copy\(\)") if as_parameter
                 else ("array", r"x = x\.copy\(\)"))
    # checks.read_only_error's message, as the resets' and the optimizers'
    message = (rf"^{who}: the {kind} given \(of shape \(3, 4\)\) is a read-only array "
               r"\(np\.broadcast_to, .*\), which an init function writes in place; "
               rf"give it a writable copy first: {fix}$")
    with pytest.raises(ValueError, match=message):
        fill(target)
    assert generator().bit_generator.state == state
    np.testing.assert_array_equal(x, np.arange(12.0).reshape(3, 4))


def test_dirac_on_a_read_only_array_names_the_fix():
    x = np.zeros((2, 2, 3))
    x.flags.writeable = False
    with pytest.raises(ValueError, match=r"^dirac_: the array given \(of shape \(2, 2, 3\)\) is a read-only"):
        mt.init.dirac_(x)


def test_reading_a_read_only_array_stays_allowed():
    x = np.zeros((3, 4))
    x.flags.writeable = False
    assert mt.init.calculate_fan_in_and_fan_out(x) == mt.init.calculate_fan_in_and_fan_out(np.zeros((3, 4)))
