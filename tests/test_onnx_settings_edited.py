"""ONNX export of a model whose settings were edited after construction (``pool.kernel_size = 3``,
``conv.stride = 2``, ``norm.eps = 0.5``...): torch reads them at every forward, and so does each
layer, so the exported graph must compute what the edited layer's forward computes.

Every exportable module case (tests/cases.py, as tests/test_onnx.py runs them) is built, then each
public setting of each submodule that is a constructor parameter is edited, one at a time, to other
values (tests/test_model_files_edits.py's alternatives, plus an int where a pair of equal ints is
stored, as ``pool.kernel_size = 3``). For a value the edited model's forward takes, the graph
(onnxruntime in float32; in float64 onnxruntime or ONNX's reference evaluator, as tests/test_onnx.py)
must equal the forward, or export must refuse it by name ("onnx.export: ..."); for a value the
forward refuses, export must refuse it with the forward's own error.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from cases import UNBATCHED
from model_helpers import CASE_ARGS, CASE_IDS, randomize_state, sample_input
from test_model_files_edits import _alternatives, _constructor_accepts, _settings
from test_onnx import run, run_float64

import minitorch as mt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXPORTABLE = [(i, args) for i, args in zip(CASE_IDS, CASE_ARGS, strict=True) if i not in UNBATCHED]


def _values(name: str, value: object) -> list:
    """Other values of setting ``name``: the model-file test's alternatives, and for a stored pair of
    equal ints (kernel_size (2, 2)) the ints a torch user writes (2 and 3) and a list."""
    found = _alternatives(name, value)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        found += [value[0], value[0] + 1, list(value)]
    return [v for v in found if type(v) is not type(value) or v != value]


def _edits(model: mt.Module, every: bool) -> list[tuple[str, str, object]]:
    """(submodule path, setting, value) for every setting of every submodule and each of its values
    the class's constructor takes (a value it refuses is no edit a torch user makes); ``every``
    False: one value per setting, an int in place of a stored pair if there is one (the edit an
    emitter reading the attribute itself stumbles on), else the first."""
    found = []
    for path, sub in model.named_modules():
        for name in _settings(sub):
            values = [v for v in _values(name, getattr(sub, name)) if _constructor_accepts(sub, name, v)]
            if not every:
                values = sorted(values, key=lambda v: not isinstance(v, int))[:1]
            found += [(path, name, v) for v in values]
    return found


def _forward(model: mt.Module, x: np.ndarray) -> np.ndarray | Exception:
    try:
        return model(x)
    except Exception as err:  # the edited layer refuses the value (or this input): export must too
        return err


def _check_edit(tmp_path, model, shape, dtype, path, name, value) -> bool:
    """Edit, export and compare; True if a graph was compared."""
    model = copy.deepcopy(model)
    setattr(dict(model.named_modules())[path], name, copy.deepcopy(value))
    what = f"{path or 'model'}.{name} = {value!r}"
    x = sample_input(shape, dtype, seed=2)
    expected = _forward(copy.deepcopy(model), x)
    file = tmp_path / "m.onnx"
    try:
        mt.onnx.export(model, file, input_shape=shape, dtype=dtype)
    except Exception as err:
        named = isinstance(err, TypeError) and str(err).startswith("onnx.export:")
        if isinstance(expected, Exception):  # the forward's own refusal (or a named one), never a stumble
            assert named or (type(err), str(err)) == (type(expected), str(expected)), f"{what}: {err!r}"
            return False
        assert named, f"{what}: {err!r}"
        return False  # a named refusal (return_indices=True, an Unflatten of the batch dim...)
    assert not isinstance(expected, Exception), f"{what}: exported what the forward refuses ({expected!r})"
    for batch in (shape[0], shape[0] + 2):  # the batch stays free
        x = sample_input((batch, *shape[1:]), dtype, seed=batch)
        y = _forward(model, x)
        if isinstance(y, Exception):  # (another batch size the model refuses)
            continue
        got, tol = (run(file, x), 1e-5) if dtype == np.float32 else run_float64(file, x)
        np.testing.assert_allclose(got, y, rtol=tol, atol=tol, err_msg=what)
    return True


def _check_case(tmp_path, factory, shape, dtype, every: bool) -> None:
    mt.set_default_dtype(dtype)
    try:
        model = randomize_state(factory(), seed=6).eval()
    finally:
        mt.set_default_dtype(np.float32)
    if any(type(m) in mt.onnx.NOT_EXPORTABLE for m in model.modules()):
        pytest.skip("a layer with no ONNX form yet (mt.onnx.NOT_EXPORTABLE)")
    edits = _edits(model, every)
    if not edits:
        pytest.skip("no setting to edit")
    compared = [_check_edit(tmp_path, model, shape, dtype, *edit) for edit in edits]
    if not any(compared):
        pytest.skip("every edit is refused (by the forward, or by export by name)")


@pytest.mark.parametrize("factory, shape", [args for _, args in EXPORTABLE], ids=[i for i, _ in EXPORTABLE])
def test_each_setting_edited_after_construction_exports_the_edited_forward(tmp_path, factory, shape):
    _check_case(tmp_path, factory, shape, np.float32, every=False)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("factory, shape", [args for _, args in EXPORTABLE], ids=[i for i, _ in EXPORTABLE])
def test_every_value_of_every_setting_exports_the_edited_forward(tmp_path, factory, shape, dtype, kernels):
    _check_case(tmp_path, factory, shape, dtype, every=True)


def _emitted_alone(tmp_path, pool: mt.Module, shape: tuple[int, ...]):
    """The path of a graph of ``pool``'s emitter alone, called before any forward of the pool."""
    from minitorch.onnx.graph import IR_VERSION, OPSET, _Graph

    g = _Graph(onnx, np.dtype(np.float32))
    g.op("Identity", [mt.onnx.EMITTERS[type(pool)](g, pool, "input", shape)], "output", out="output")
    info = onnx.helper.make_tensor_value_info
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(g.nodes, "pool", [info("input", onnx.TensorProto.FLOAT, shape)],
                               [info("output", onnx.TensorProto.FLOAT, None)], g.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    onnx.save(proto, tmp_path / "pool.onnx")
    return tmp_path / "pool.onnx"


@pytest.mark.parametrize("make, edits", [
    (lambda: mt.MaxPool2d((2, 2)), {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2}),
    (lambda: mt.MaxPool2d(2, ceil_mode=True), {"stride": None, "kernel_size": [3, 2]}),
    (lambda: mt.AvgPool2d((2, 2)), {"kernel_size": 3, "stride": 2, "padding": 1}),
    (lambda: mt.AvgPool2d(3, 2, ceil_mode=True), {"padding": 1, "count_include_pad": False}),
], ids=["max-ints", "max-stride-None", "avg-ints", "avg-exclude-pad"])
def test_a_pool_emitter_reads_its_settings_as_its_forward_does_before_any_forward(tmp_path, make, edits):
    """MaxPool2d's and AvgPool2d's emitters read the settings through the layer's own reader (an int
    made a pair, stride None the kernel), not relying on a forward having run first (export runs it
    first)."""
    pool, fresh = make(), make()
    for name, value in edits.items():
        setattr(pool, name, value)
    path = _emitted_alone(tmp_path, pool, (2, 3, 7, 8))
    for name, value in edits.items():  # the forward's reading, on a pool no emitter has read
        setattr(fresh, name, value)
    x = sample_input((2, 3, 7, 8))
    np.testing.assert_allclose(run(path, x), fresh(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", [{}, {"affine": False, "track_running_stats": False}])
def test_batchnorm_with_num_features_edited_exports_its_forward(tmp_path, kind):
    """The forward reads the channel count from the input (as torch's F.batch_norm), so does the emitter:
    an edited num_features, never read, must not size the graph's scale and shift."""
    bn = mt.BatchNorm1d(3, dtype=np.float32, **kind).eval()
    if bn.running_mean is not None:
        bn.running_mean[...] = [1.0, -2.0, 0.5]
    bn.num_features = 7
    mt.onnx.export(bn, tmp_path / "bn.onnx", input_shape=(4, 3), dtype=np.float32)
    x = sample_input((4, 3))
    np.testing.assert_allclose(run(tmp_path / "bn.onnx", x), bn(x), rtol=1e-5, atol=1e-5)
