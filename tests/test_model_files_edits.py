"""A saved model loads as the model that was saved, whatever was edited after construction.

Every module case (tests/cases.py: ``MODULE_CASES`` and ``INPUT_CASES``) and every loss case
(tests/test_losses.py: ``LOSS_CASES``) is built, then each public setting that is a constructor
parameter (``conv.padding``, ``rnn.nonlinearity``, ``emb.padding_idx``, ``bn.momentum``,
``loss.reduction``, a Dropout's ``p``...), in every submodule, is edited to another valid value, and
each submodule's train/eval mode is flipped. A value is valid if the class's constructor takes it
without an error or a warning and the edited model still runs a training step on the case's inputs;
of those, one that changes what the step gives (outputs, input and Parameter gradients, the state
left behind such as running statistics) is preferred, so the file must carry it. The edited model is
saved, rebuilt by ``load_model(path)`` with no code, and both run the same step with the same random
seed: every result must be equal bit for bit, in float64 and float32.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from cases import INPUT_CASES, MODULE_CASES
from test_losses import LOSS_CASES, make_data

import minitorch as mt
from minitorch.gradcheck import _upstream
from minitorch.losses.base import Loss
from minitorch.model_files.architecture import constructor_args
from minitorch.model_files.attributes import public_attributes
from minitorch.model_files.rebuild import _call_args

# word-valued settings: the values each may take
_WORDS = {
    "nonlinearity": ["relu", "tanh"], "reduction": ["sum", "none", "mean"], "approximate": ["tanh", "none"],
    "mode": ["bilinear", "nearest"], "padding": ["same", "valid"], "activation": ["gelu", "relu"],
}
# settings whose default is None: values to try instead
_FROM_NONE = {"padding_idx": [3, 0, -1], "momentum": [0.5], "divisor_override": [2]}


def _alternatives(name: str, value: object) -> list:
    """Values other than ``value`` that the setting ``name`` may plausibly take."""
    if isinstance(value, bool):
        found = [not value]
    elif value is None:
        found = _FROM_NONE.get(name, [])
    elif isinstance(value, int):
        found = [value + 1, value - 1, value + 2, 1, 0, 2]
    elif isinstance(value, float):
        found = [value * 0.5, 0.3, 0.7, value * 2 + 0.25, 0.5, 0.0]
    elif isinstance(value, str):
        found = _WORDS.get(name, [])
    elif isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        found = [tuple(v + 1 for v in value), tuple(max(v - 1, 0) for v in value), value[:1] * len(value)]
    elif isinstance(value, tuple) and value and all(isinstance(v, float) for v in value):
        found = [tuple(v * 1.5 for v in value), tuple(v * 0.5 for v in value)]
    else:
        found = []
    return [v for v in found if type(v) is not type(value) or v != value]


def _settings(module: mt.Module) -> list[str]:
    """The public settings of ``module`` that are constructor parameters."""
    public = public_attributes(module)
    return [name for name in constructor_args(module) if name in public]


def _constructor_accepts(module: mt.Module, name: str, value: object) -> bool:
    """Whether ``module``'s class can be built with setting ``name`` = ``value`` (a valid value)."""
    values = {**constructor_args(module), name: value}
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            positional, keywords = _call_args(type(module), values, "edit")
            type(module)(*positional, **keywords)
        except Exception:  # the constructor's own validation: not a value this setting may take
            return False
    return not warned  # a value the constructor warns about (RNN dropout with one layer) is not taken


def _cast(value, dtype):
    if isinstance(value, tuple):
        return tuple(_cast(v, dtype) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    return value


def _flat(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _flat(item)]
    return [tree]


def _run(model: mt.Module, inputs: tuple) -> list[np.ndarray]:
    """What one training step's forward and backward give: the outputs, the input gradients, every
    Parameter's gradient and the model's state after them (running statistics)."""
    mt.manual_seed(5)  # the same dropout masks in every run compared
    out = model(*inputs)
    dx = model.backward(_upstream(out, np.random.default_rng(6), isinstance(model, Loss)))
    grads = [p.grad for p in model.parameters()]
    results = [np.asarray(v) for v in _flat((out, dx, grads)) if v is not None]
    return results + list(model.state_dict().values())


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
        for x, y in zip(a, b, strict=True))


def _outcome(model: mt.Module, inputs: tuple, consume: bool = False) -> list | None:
    """``_run`` on a copy (a step changes running statistics), or on ``model`` itself if ``consume``;
    None if the model cannot run."""
    try:
        return _run(model if consume else copy.deepcopy(model), inputs)
    except Exception:  # an invalid value: the edited model refuses the inputs
        return None


def _choices(module: mt.Module) -> list[tuple[str, list[tuple[str, Callable]]]]:
    """(setting, [(value, edit), ...]) for each setting of ``module``, and its train/eval mode."""
    found = []
    for name in _settings(module):
        values = [v for v in _alternatives(name, getattr(module, name))
                  if _constructor_accepts(module, name, v)]
        found.append((name, [(repr(v), lambda m, n=name, v=v: setattr(m, n, v)) for v in values]))
    found.append(("train", [(repr(not module.training), lambda m: m.train(not m.training))]))
    return found


def edited(model: mt.Module, inputs: tuple) -> tuple[mt.Module, list[str]]:
    """``model`` with each setting of each submodule edited to another valid value where one exists
    (one a training step shows, if any), and the edits made (``"path.setting = value"``)."""
    made, before = [], _outcome(model, inputs)  # ``before``: the outcome of ``model`` as it now is
    for path in [path for path, _ in model.named_modules()]:
        for name, values in _choices(dict(model.named_modules())[path]):
            fallback = None
            for value, edit in values:
                candidate = copy.deepcopy(model)
                try:
                    edit(dict(candidate.named_modules())[path])
                except (TypeError, ValueError):  # the setter refuses the value
                    continue
                after = _outcome(candidate, inputs, consume=True)
                if after is not None and not _same(after, before):
                    fallback = (edit, value, after)
                    break
                if after is not None and fallback is None:
                    fallback = (edit, value, after)
            if fallback is not None:  # the edit made again on a model no step has run
                edit, value, before = fallback
                model = copy.deepcopy(model)
                edit(dict(model.named_modules())[path])
                made.append(f"{path or 'model'}.{name} = {value}")
    return model, made


def _assert_round_trip(model: mt.Module, inputs: tuple, tmp_path) -> None:
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    for (path, a), (_, b) in zip(loaded.named_modules(), model.named_modules(), strict=True):
        assert public_attributes(a) == public_attributes(b), path
        assert a.training == b.training, path
    expected, got = _run(copy.deepcopy(model), inputs), _run(loaded, inputs)
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape, i
        np.testing.assert_array_equal(a, b, err_msg=f"result {i}")


def _single(shape):
    return lambda rng: (rng.standard_normal(shape),)


def _loss_data(kind):
    return lambda rng: make_data(kind, rng)


CASES = ([(i, f, _single(s)) for i, f, s in MODULE_CASES] + list(INPUT_CASES)
         + [(c[0], lambda f=c[1]: f("mean"), _loss_data(c[3])) for c in LOSS_CASES])


def _param(case_id: str, factory, make_inputs):
    """A case as a parameter; the stacks of transformer layers are slow (a few hundred edits, each a
    deep copy) and each of their layers' settings is edited in the layer's own case by default."""
    stack = case_id.startswith(("Transformer-", "TransformerEncoder-", "TransformerDecoder-"))
    return pytest.param(factory, make_inputs, id=case_id, marks=[pytest.mark.slow] if stack else [])


# float64 with the slow tests: an edited setting is saved and loaded by one path in either dtype, which
# float32 (the default dtype) checks by default; test_model_files_default_dtype loads every case in float64
@pytest.mark.parametrize("dtype", [pytest.param(np.float64, marks=pytest.mark.slow), np.float32],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("factory, make_inputs", [_param(*c) for c in CASES])
def test_every_case_edited_after_construction_loads_as_saved(tmp_path, factory, make_inputs, dtype):
    mt.set_default_dtype(dtype)
    try:
        mt.manual_seed(0)
        model = factory()
    finally:
        mt.set_default_dtype(np.float32)
    inputs = _cast(make_inputs(np.random.default_rng(1)), dtype)
    model, made = edited(model, inputs)
    assert made, "no setting could be edited"
    _assert_round_trip(model, inputs, tmp_path)


def test_a_module_under_one_in_the_other_mode_keeps_its_own(tmp_path):
    model = mt.Sequential(mt.Linear(3, 3), mt.Sequential(mt.Dropout(0.5), mt.BatchNorm1d(3)))
    model[1].eval()
    model[1][1].train()  # training inside an eval block inside a training model
    mt.save_model(model, tmp_path / "m.npz")
    loaded = mt.load_model(tmp_path / "m.npz")
    assert [m.training for m in loaded.modules()] == [True, True, False, False, True]
@pytest.fixture
def tagger(restore_registry):
    @mt.register_module
    class Tagger(mt.Module):
        """A user's model: ids -> embeddings -> RNN -> norm -> LeakyReLU -> dropout, times ``scale``
        if one was set."""

        def __init__(self, vocab: int = 7, dim: int = 4):
            super().__init__()
            self.emb = mt.Embedding(vocab, dim)
            self.rnn = mt.RNN(dim, dim)
            self.norm = mt.LayerNorm(dim)
            self.act = mt.LeakyReLU()
            self.drop = mt.Dropout(0.2)
            self.conv = mt.Conv1d(dim, 2, 3)

        def forward(self, ids):
            h, _ = self.rnn(self.emb(ids))
            y = self.conv(self.drop(self.act(self.norm(h))).transpose(1, 2, 0))
            return y * getattr(self, "scale", 1.0)

        def backward(self, dy):
            dh = self.conv.backward(dy * getattr(self, "scale", 1.0)).transpose(2, 0, 1)
            return self.emb.backward(self.rnn.backward(self.norm.backward(self.act.backward(
                self.drop.backward(dh)))))

    return Tagger


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_users_model_edited_after_construction_loads_as_saved(tmp_path, tagger, dtype):
    mt.set_default_dtype(dtype)
    try:
        mt.manual_seed(0)
        model = tagger()
    finally:
        mt.set_default_dtype(np.float32)
    model.emb.padding_idx = 3
    model.rnn.nonlinearity = "relu"
    model.norm.eps = 1e-3
    model.act.negative_slope = 0.3
    model.drop.p = 0.5
    model.conv.padding = 1
    model.scale = 2.0  # added after construction
    model.note = "fine-tuned on set B"
    model.emb.tag = ("a", 1)
    inputs = (np.random.default_rng(1).integers(0, 7, (5, 2)),)
    _assert_round_trip(model, inputs, tmp_path)
    loaded = mt.load_model(tmp_path / "m.npz")
    assert loaded.scale == 2.0 and loaded.note == "fine-tuned on set B" and loaded.emb.tag == ("a", 1)
    model.drop.eval()
    _assert_round_trip(model, inputs, tmp_path)
    model, made = edited(model, inputs)
    assert len(made) > 10
    _assert_round_trip(model, inputs, tmp_path)
