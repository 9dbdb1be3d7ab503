"""mt.plot.graph (SVG without graphviz) and mt.plot.diagnostics / lr_curve (matplotlib PNGs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from tests_support_diag import small_problem_run

import minitorch as mt


def _model():
    mt.manual_seed(0)
    inner = mt.Sequential(mt.Linear(8, 8), mt.Tanh())
    return mt.Sequential(mt.Linear(4, 8), mt.ReLU(), inner, mt.Linear(8, 3))


def test_graph_is_valid_svg_with_forward_shapes_on_the_edges(tmp_path):
    model = _model()
    svg = mt.plot.graph(model, (5, 4), tmp_path / "g.svg")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg") and (tmp_path / "g.svg").read_text() == svg
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for label in ("input", "0", "1", "2.0", "2.1", "3", "output", "(5, 4)", "(5, 8)", "(5, 3)", "W (4, 8)"):
        assert label in texts, label
    assert texts.count("(5, 8)") == 4 and texts.count("(5, 3)") == 1  # one label per edge
    assert not any("|grad|" in t or "dL/d" in t for t in texts)  # no backward yet
    assert all(p.grad is None for p in model.parameters())
    assert all(not m.__dict__["_stack"] for m in model.modules())


def test_graph_shows_gradient_norms_after_a_backward_and_with_a_loss():
    model = _model()
    X, y = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32), np.array([0, 1, 2, 0, 1])
    loss_fn = mt.CrossEntropyLoss()
    loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    svg = mt.plot.graph(model, (5, 4))
    assert f"|grad| {np.linalg.norm(model[0].W.grad):.3g}" in svg
    with_loss = mt.plot.graph(model, (5, 4), x=X, y=y, loss_fn=mt.CrossEntropyLoss())
    assert with_loss.count("|dL/d.|") == 6 and with_loss.count("|grad|") == 6
    ET.fromstring(with_loss)


def test_plot_diagnostics_draws_a_report_and_a_callback_history(tmp_path):
    pytest.importorskip("matplotlib")
    diag, report = small_problem_run()
    assert mt.plot.diagnostics(report, tmp_path / "one.png").endswith("one.png")
    mt.plot.diagnostics(diag, tmp_path / "history.png")
    assert (tmp_path / "one.png").stat().st_size > 5000 and (tmp_path / "history.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="expected a Report"):
        mt.plot.diagnostics([1, 2], tmp_path / "bad.png")
