"""mt.plot writes real PNG files; without matplotlib it says how to get it."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from training_helpers import blobs, mlp

import minitorch as mt

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=2000):
    with open(path, "rb") as file:
        data = file.read()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > min_bytes  # an empty figure is ~1-2 kB; curves, points and text make more


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib")


def test_loss_curves_from_a_history_a_dict_or_a_list(tmp_path, matplotlib):
    X, y = blobs(30)
    model = mlp()
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
                     mt.DataLoader(X, y, batch_size=8), 4, val_data=(X, y), verbose=0)
    path = mt.plot.loss_curves(history, tmp_path / "new" / "folder" / "curves.png", title="blobs")
    assert path == str(tmp_path / "new" / "folder" / "curves.png")
    assert_png(path)
    assert_png(mt.plot.loss_curves(history.history, tmp_path / "dict.png"))
    assert_png(mt.plot.loss_curves([1.0, 0.5, 0.3], tmp_path / "list.png"))
    with pytest.raises(ValueError, match="nothing to draw"):
        mt.plot.loss_curves({"lr": [0.1]}, tmp_path / "lr.png")
    with pytest.raises(ValueError, match="sequence of losses"):
        mt.plot.loss_curves(np.zeros((2, 2)), tmp_path / "bad.png")


def test_decision_boundary_of_a_2d_classifier(tmp_path, matplotlib):
    X, y = blobs(30)
    model = mlp().train()
    path = mt.plot.decision_boundary(model, X, y, tmp_path / "boundary.png", resolution=50)
    assert_png(path)
    assert model.training  # predicted in eval mode, mode restored
    sigmoid = mt.Sequential(mt.Linear(2, 1), mt.Sigmoid())  # one probability column
    y_column = (y == 1).astype(np.float32)[:, None]
    assert_png(mt.plot.decision_boundary(sigmoid, X, y_column, tmp_path / "b.png"))
    with pytest.raises(ValueError, match=r"expected 2-D points X \(N, 2\), got shape \(30, 3\)"):
        mt.plot.decision_boundary(model, np.zeros((30, 3)), y, tmp_path / "x.png")
    with pytest.raises(ValueError, match="resolution"):
        mt.plot.decision_boundary(model, X, y, tmp_path / "x.png", resolution=1)
    with pytest.raises(ValueError, match="30 points but y has 29 labels"):
        mt.plot.decision_boundary(model, X, y[:-1], tmp_path / "x.png")


def test_confusion_matrix_plot(tmp_path, matplotlib):
    cm = mt.metrics.confusion_matrix(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
    assert_png(mt.plot.confusion_matrix(cm, tmp_path / "cm.png", class_names=["a", "b", "c"]))
    assert_png(mt.plot.confusion_matrix(cm / cm.sum(axis=1, keepdims=True), tmp_path / "norm.png"))
    with pytest.raises(ValueError, match="square"):
        mt.plot.confusion_matrix(np.zeros((2, 3)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="expected 3 class names, got 2"):
        mt.plot.confusion_matrix(cm, tmp_path / "x.png", class_names=["a", "b"])


def test_without_matplotlib_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install minitorch\[plot\]"):
        mt.plot.loss_curves([1.0, 0.5], tmp_path / "loss.png")
    assert not (tmp_path / "loss.png").exists()


def test_decision_boundary_of_a_single_logit_column(tmp_path, matplotlib):
    """A BCEWithLogitsLoss model outputs one logit per point: class 1 above 0, not above 0.5."""
    X = np.random.default_rng(0).standard_normal((30, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)[:, None]
    model = mt.Linear(2, 1)
    assert_png(mt.plot.decision_boundary(model, X, y, tmp_path / "logits.png", resolution=20))
    np.testing.assert_array_equal(mt.plot._predicted_classes(np.array([[-3.0], [0.2], [0.7], [2.0]]), None),
                                  [0, 1, 1, 1])
    np.testing.assert_array_equal(mt.plot._predicted_classes(np.array([[0.2], [0.7]]), None), [0, 1])
