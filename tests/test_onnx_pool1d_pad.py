"""ONNX export of the 1-D pools and the padding layers: hypothesis grids over their options, float32 and
float64, each graph run by onnxruntime (ONNX's reference evaluator where onnxruntime has no float64
kernel) and equal to the layer's forward; what stays refused is refused by name."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, x: np.ndarray) -> np.ndarray:
    """The graph at ``path`` on x: onnxruntime, or ONNX's reference evaluator where onnxruntime has no
    kernel of x's dtype (float64 AveragePool)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session.run(None, {"input": x})[0]
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(onnx.load(str(path))).run(None, {"input": x})[0]


def _sample(shape: tuple[int, ...], dtype: type, seed: int, specials: tuple[float, ...]) -> np.ndarray:
    """Normal numbers, ``specials`` (inf, nan) spread over them."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if x.size >= len(specials):
        x.flat[np.linspace(0, x.size - 1, len(specials)).astype(int)] = specials
    return x


def _check_graph(model: mt.Module, shape: tuple[int, ...], dtype: type, seed: int, path, exact: bool,
                 specials: tuple[float, ...] = ()) -> None:
    """Export ``model`` for ``shape`` in ``dtype``; if the layer refuses the sample, so does export (its
    ValueError, no file); else the graph gives the layer's output at this batch size and a larger one
    (bit for bit if ``exact``); ``specials`` in the input stay where the layer puts them."""
    x = _sample(shape, dtype, seed, specials)
    try:
        with np.errstate(all="ignore"):
            model(x)
    except ValueError as err:
        with pytest.raises(ValueError, match=type(model).__name__) as caught:
            mt.onnx.export(model, path, shape, dtype=dtype)
        assert str(caught.value) == str(err)
        assert not path.exists()
        return
    mt.onnx.export(model, path, shape, dtype=dtype)
    for batch in (shape[0], shape[0] + 2):  # the first axis is free
        x = _sample((batch, *shape[1:]), dtype, seed + batch, specials)
        with np.errstate(all="ignore"):
            y_graph, y = _run(path, x), model(x)
        assert y_graph.dtype == y.dtype == dtype and y_graph.shape == y.shape
        if exact:
            np.testing.assert_array_equal(y_graph, y)
        else:
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(y_graph, y, rtol=tol, atol=tol)


DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def pools_1d(draw):
    """A MaxPool1d or AvgPool1d over its options, and a batched (N, C, L) input shape."""
    k = draw(st.integers(1, 5))
    common = {"kernel_size": draw(st.sampled_from([k, (k,)])),
              "stride": draw(st.sampled_from([None, 1, 2, 3])), "padding": draw(st.integers(0, k // 2)),
              "ceil_mode": draw(st.booleans())}
    if draw(st.booleans()):
        model = mt.MaxPool1d(**common, dilation=draw(st.integers(1, 3)))
    else:
        model = mt.AvgPool1d(**common, count_include_pad=draw(st.booleans()))
    return model, (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 12)))


@settings(max_examples=40, deadline=None)
@given(case=pools_1d(), dtype=DTYPES, seed=st.integers(0, 2**16))
def test_pools_1d_export_as_their_forward(tmp_path_factory, case, dtype, seed):
    """kernel, stride, padding, dilation, ceil_mode's overhang (past a dilated kernel too) and
    count_include_pad: the graph's numbers are the layer's (no window fitting: the layer's ValueError)."""
    model, shape = case
    path = tmp_path_factory.mktemp("pool") / "m.onnx"
    _check_graph(model, shape, dtype, seed, path, exact=isinstance(model, mt.MaxPool1d))


@settings(max_examples=30, deadline=None)
@given(L=st.integers(1, 12), out=st.integers(1, 14), max_pool=st.booleans(), dtype=DTYPES,
       seed=st.integers(0, 2**16))
def test_adaptive_pools_1d_export_as_their_forward(tmp_path_factory, L, out, max_pool, dtype, seed):
    """Every bin [floor(o*L/OL), ceil((o+1)*L/OL)), uneven, overlapping or of one element (OL > L)."""
    model = mt.AdaptiveMaxPool1d(out) if max_pool else mt.AdaptiveAvgPool1d((out,))
    path = tmp_path_factory.mktemp("adaptive") / "m.onnx"
    _check_graph(model, (2, 3, L), dtype, seed, path, exact=max_pool)


def test_non_finite_inputs_pool_as_the_layers(tmp_path):
    """inf and -inf stay where the layers put them (an AvgPool1d window of both: nan), every window
    count included or not. (A nan, and a max pool's window of -inf alone, are onnxruntime's known
    differences: mt.onnx's docstring; ONNX's reference evaluator's AveragePool skips a nan.)"""
    for i, model in enumerate([mt.AvgPool1d(3, stride=2, padding=1, ceil_mode=True),
                               mt.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                               mt.AdaptiveAvgPool1d(3)]):
        for dtype in (np.float32, np.float64):
            _check_graph(model, (2, 2, 8), dtype, i, tmp_path / f"m{i}{dtype.__name__}.onnx", exact=False,
                         specials=(np.inf, -np.inf, -np.inf, np.inf))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("model, shape", [
    (mt.MaxPool1d(2, stride=2, padding=1, dilation=2), (1, 2, 1)),
    (mt.MaxPool1d(2, stride=1, padding=1, dilation=2, ceil_mode=True), (2, 1, 1)),
    (mt.MaxPool2d(2, stride=1, padding=1, dilation=(2, 1)), (1, 2, 1, 3)),
    (mt.MaxPool2d(2, stride=1, padding=1, dilation=2), (1, 1, 1, 1)),
], ids=["1d", "1d-stride-1", "2d", "2d-every-window"])
def test_a_max_pool_window_of_padding_only_is_minus_inf(tmp_path, model, shape, dtype):
    """A dilated window can read padding only: the layer (as torch) gives -inf, onnxruntime's MaxPool
    float's lowest (-3.4e38), so the graph sets those windows to -inf."""
    assert np.isneginf(model(np.zeros(shape, dtype))).any()
    _check_graph(model, shape, dtype, 0, tmp_path / "m.onnx", exact=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("model, shape", [(mt.AdaptiveMaxPool1d(1), (2, 3, 9)),
                                          (mt.AdaptiveMaxPool2d(1), (2, 3, 2, 2))], ids=["1d", "2d"])
def test_a_global_max_pool_of_minus_inf_alone_is_minus_inf(tmp_path, model, shape, dtype):
    """A sequence masked with -inf throughout pools to -inf, as the layer's (a ReduceMax: onnxruntime's
    GlobalMaxPool gives float32's lowest there, and has no float64 kernel)."""
    mt.onnx.export(model, tmp_path / "m.onnx", shape, dtype=dtype)
    x = np.full(shape, -np.inf, dtype)
    x[0, 0].flat[0] = 1.5
    y = _run(tmp_path / "m.onnx", x)
    np.testing.assert_array_equal(y, model(x))
    assert np.isneginf(y).sum() == y.size - 1


PAD_CLASSES = ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]


@st.composite
def pads(draw):
    """A padding layer over every mode, side amounts from cropping past the axis to padding past it,
    value (inf and nan too) and input rank (unbatched and ConstantPad's any rank)."""
    name, dims = draw(st.sampled_from(PAD_CLASSES)), draw(st.sampled_from([1, 2]))
    sides = tuple(draw(st.integers(-4, 6)) for _ in range(2 * dims))
    padding = draw(st.sampled_from([sides, sides[0]]))
    if name == "ConstantPad" and dims == 2 and draw(st.booleans()):
        padding = sides[:2]  # (left, right): W alone, as torch
    constant = name in ("ZeroPad", "ConstantPad")
    lead = draw(st.sampled_from([(), (2,), (2, 3), (2, 1, 2)] if constant else [(3,), (2, 3)]))
    value = draw(st.sampled_from([0.0, -1.5, 2.0, float("-inf"), float("nan")]))
    cls = getattr(mt, f"{name}{dims}d")
    model = cls(padding, value) if name == "ConstantPad" else cls(padding)
    return model, (*lead, *(draw(st.integers(1, 6)) for _ in range(dims)))


@settings(max_examples=60, deadline=None)
@given(case=pads(), dtype=DTYPES, seed=st.integers(0, 2**16))
def test_padding_layers_export_as_their_forward(tmp_path_factory, case, dtype, seed):
    """Pad constant / reflect / edge, Slice for the crops (circular: before it wraps, by Concat): the
    graph's output is the layer's bit for bit, whatever the size of the first axis (padded or not)."""
    model, shape = case
    path = tmp_path_factory.mktemp("pad") / "m.onnx"
    _check_graph(model, shape, dtype, seed, path, exact=True, specials=(np.inf, -np.inf, np.nan))


@pytest.mark.parametrize("model, shape", [
    (mt.ConstantPad2d(1, 0.0), (4,)),
    (mt.ReflectionPad1d(1), (2, 3, 4, 5)),
    (mt.ReflectionPad1d(5), (2, 3, 4)),
    (mt.CircularPad2d((0, 0, 3, 0)), (1, 2, 2, 4)),
    (mt.MaxPool1d(2), (1, 2, 3, 4)),
    (mt.AvgPool1d(5, padding=1), (1, 2, 2)),
], ids=["rank-too-low", "rank-too-high", "reflect-past-the-edge", "wraps-twice", "pool-rank", "no-window"])
def test_an_input_the_layer_refuses_is_refused_by_export_with_its_error(tmp_path, model, shape):
    with pytest.raises(ValueError, match=type(model).__name__):
        model(np.zeros(shape, np.float32))
    _check_graph(model, shape, np.float32, 0, tmp_path / "m.onnx", exact=True)


@pytest.mark.parametrize("model, shape, ops", [
    (mt.ReflectionPad1d((2, -1)), (1, 2, 5), ["Pad:reflect", "Slice"]),
    (mt.ReplicationPad2d(1), (1, 2, 3, 4), ["Pad:edge"]),
    (mt.ConstantPad2d((1, 0, 0, 2), 3.0), (1, 2, 3, 4), ["Pad:constant"]),
    (mt.ZeroPad1d((-1, -2)), (1, 2, 5), ["Slice"]),
    (mt.CircularPad1d((-1, 2)), (1, 2, 5), ["Slice", "Slice", "Concat"]),
    (mt.CircularPad2d((1, 0, 0, 0)), (1, 2, 3, 4), ["Slice", "Concat"]),
    (mt.ZeroPad2d(0), (1, 2, 3, 4), []),
    (mt.MaxPool1d(3, stride=2, dilation=2), (1, 2, 9), ["Unsqueeze", "MaxPool", "Squeeze"]),
    (mt.AvgPool1d(2), (1, 2, 9), ["Unsqueeze", "AveragePool", "Squeeze"]),
    (mt.AdaptiveAvgPool1d(1), (1, 2, 9), ["Unsqueeze", "GlobalAveragePool", "Squeeze"]),
    (mt.AdaptiveMaxPool1d(1), (1, 2, 9), ["Unsqueeze", "ReduceMax", "Squeeze"]),
], ids=lambda v: type(v).__name__ if isinstance(v, mt.Module) else None)
def test_graph_uses_the_named_operators(tmp_path, model, shape, ops):
    """The pads are ONNX Pad in the layer's mode, a crop a Slice; opset 17's Pad has no wrap mode,
    so circular slices and concatenates; the 1-D pools are their 2-D twins on a height of one."""
    mt.onnx.export(model, tmp_path / "m.onnx", shape)
    nodes = onnx.load(str(tmp_path / "m.onnx")).graph.node
    got = [n.op_type + "".join(f":{a.s.decode()}" for a in n.attribute if a.name == "mode") for n in nodes]
    assert got == [*ops, "Identity"]


@pytest.mark.parametrize("factory, shape, match", [
    (lambda: mt.MaxUnpool1d(2), (1, 2, 4), r"no ONNX form for MaxUnpool1d: two inputs \(the pooled values"),
    (lambda: mt.MaxPool1d(2, return_indices=True), (1, 2, 4),
     r"MaxPool1d\(return_indices=True\) has no ONNX form here \(its output is a tuple\)"),
    (lambda: mt.AdaptiveMaxPool1d(2, return_indices=True), (1, 2, 4),
     r"AdaptiveMaxPool1d\(return_indices=True\) has no ONNX form here"),
    (lambda: mt.MaxPool1d(2), (2, 4), r"MaxPool1d gets an unbatched input \(2, 4\)"),
    (lambda: mt.AvgPool1d(2), (2, 4), "AvgPool1d gets an unbatched input"),
    (lambda: mt.AdaptiveMaxPool1d(2), (2, 4), "AdaptiveMaxPool1d gets an unbatched input"),
    (lambda: mt.AdaptiveAvgPool1d(2), (2, 4), "AdaptiveAvgPool1d gets an unbatched input"),
], ids=["MaxUnpool1d", "MaxPool1d-indices", "AdaptiveMaxPool1d-indices",
        "MaxPool1d-unbatched", "AvgPool1d-unbatched", "AdaptiveMaxPool1d-unbatched",
        "AdaptiveAvgPool1d-unbatched"])
def test_what_has_no_graph_is_refused_by_name(tmp_path, factory, shape, match):
    """MaxUnpool1d takes the indices as a second input (the graph has one), indices make a tuple output,
    and an unbatched (C, L) input lacks the batch axis a graph's first axis is: each a TypeError naming
    the layer, no file written."""
    with pytest.raises(TypeError, match=match):
        mt.onnx.export(factory(), tmp_path / "m.onnx", shape)
    assert not list(tmp_path.iterdir())


CIRCULAR_SIDES = [(left, right) for left in range(-2, 4) for right in range(-2, 4)]


@pytest.mark.parametrize("left, right", CIRCULAR_SIDES)
def test_circular_padding_exports_every_wrap_and_crop_of_an_axis(tmp_path, left, right):
    """Every pair of sides on an axis of 3 (a wrap of up to the whole axis, crops, both) and with
    the other axis wrapped too: the graph's output is the layer's bit for bit (or the layer's
    refusal), so a Slice of the wrong elements cannot pass unseen."""
    _check_graph(mt.CircularPad1d((left, right)), (1, 2, 3), np.float64, 7, tmp_path / "a.onnx", exact=True)
    _check_graph(mt.CircularPad2d((1, -1, left, right)), (1, 1, 3, 3), np.float32, 7, tmp_path / "b.onnx",
                 exact=True)


def test_circular_padding_of_nothing_exports_the_empty_output(tmp_path):
    """Where a circular pad's y has no elements (a crop leaves a padded axis empty, or y's length there
    is 0) the layer reads nothing and returns torch's empty y: the graph gives that shape too, where
    cropping then wrapping would wrap an axis the crops emptied (e.g. (0, -2, 1, -1) on (3, 1, 2))."""
    cases = [(p, (3, h, w)) for h, w in itertools.product((1, 2), repeat=2)
             for p in itertools.product(range(-2, 2), repeat=4)
             if 0 in (h + p[2] + p[3], w + p[0] + p[1]) and min(h + p[2] + p[3], w + p[0] + p[1]) >= 0]
    cases = [((0, -2, 1, -1), (3, 1, 2))] + cases[::5]  # (every fifth of the 273: each export takes ms)
    exported = 0
    for i, (pads, shape) in enumerate(cases):
        model = mt.CircularPad2d(pads)
        try:
            y = model(np.ones(shape, np.float32))
        except ValueError:
            continue  # torch refuses it too (tests/test_padding.py)
        assert y.size == 0
        _check_graph(model, shape, np.float32, i, tmp_path / f"m{i}.onnx", exact=True)
        exported += 1
    assert exported >= 50
