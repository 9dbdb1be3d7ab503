"""fit / evaluate report the metrics that fit the loss (issue 15).

None for regression, accuracy at the right threshold for BCEWithLogitsLoss (logit 0) and BCELoss (0.5),
class accuracy for cross-entropy.
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch as mt


class Fixed(mt.Module):
    """Outputs the stored values whatever the input (a model whose predictions we choose)."""

    def __init__(self, out: np.ndarray) -> None:
        super().__init__()
        self.w = mt.Parameter(np.zeros(1, np.float32))
        self.out = out

    def forward(self, x):
        return self.out[: len(x)] + 0 * self.w.data

    def backward_params(self, dy):
        self.w.accumulate_grad(np.zeros(1, np.float32))

    def backward_input(self, dy):
        return np.zeros((len(dy), 1), np.float32)


def test_regression_fit_reports_no_accuracy_and_does_not_crash():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5], np.float32)[:, None] + 3.0
    model = mt.Linear(3, 1)
    history = mt.fit(model, mt.MSELoss(), mt.SGD(model.parameters(), lr=0.05),
                     mt.DataLoader(X, y, batch_size=8), epochs=3, val_data=(X, y), verbose=0)
    assert list(history.history) == ["loss", "val_loss", "lr"]
    assert mt.evaluate(model, mt.MSELoss(), X, y).keys() == {"loss"}


def test_bce_with_logits_accuracy_thresholds_logits_at_zero():
    logits = np.array([[2.0], [-1.0], [-0.5], [0.3]], np.float32)   # predicted 1, 0, 0, 1
    y = np.array([[1.0], [0.0], [1.0], [1.0]], np.float32)           # 3 of 4 right
    model = Fixed(logits)
    logs = mt.evaluate(model, mt.BCEWithLogitsLoss(), np.zeros((4, 1), np.float32), y)
    assert logs["accuracy"] == pytest.approx(0.75)
    history = mt.fit(model, mt.BCEWithLogitsLoss(), mt.SGD(model.parameters(), lr=0.0),
                     mt.DataLoader(np.zeros((4, 1)), y, batch_size=4), epochs=1, verbose=0)
    assert history.history["accuracy"] == [pytest.approx(0.75)]


def test_bce_accuracy_thresholds_probabilities_at_half_and_cross_entropy_uses_argmax():
    probs = np.array([[0.9], [0.2], [0.6], [0.4]], np.float32)
    y = np.array([[1.0], [0.0], [0.0], [0.0]], np.float32)
    assert mt.evaluate(Fixed(probs), mt.BCELoss(), np.zeros((4, 1)), y)["accuracy"] == pytest.approx(0.75)
    scores = np.array([[3.0, 1.0], [0.0, 2.0], [5.0, -1.0]], np.float32)
    logs = mt.evaluate(Fixed(scores), mt.CrossEntropyLoss(), np.zeros((3, 1)), np.array([0, 1, 1]))
    assert logs["accuracy"] == pytest.approx(2 / 3)


def test_named_metrics_still_win_over_the_default():
    scores = np.array([[3.0, 1.0], [0.0, 2.0]], np.float32)
    logs = mt.evaluate(Fixed(scores), mt.CrossEntropyLoss(), np.zeros((2, 1)), np.array([0, 1]),
                       metrics=("f1",))
    assert set(logs) == {"loss", "f1"}
    assert mt.metrics.default_metrics(mt.HuberLoss()) == ()


def test_model_checkpoint_makes_its_folder_at_creation(tmp_path):
    target = tmp_path / "nodir" / "deeper" / "ck_{epoch}.npz"
    checkpoint = mt.ModelCheckpoint(target, save_best_only=False)
    assert (tmp_path / "nodir" / "deeper").is_dir()
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    model = mt.Linear(2, 2)
    mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.1),
           mt.DataLoader(X, y, batch_size=4), epochs=2, callbacks=[checkpoint], verbose=0)
    assert checkpoint.last_saved.endswith("ck_2.npz")


def test_model_checkpoint_refuses_a_folder_it_cannot_create(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"ModelCheckpoint: cannot create the folder .*file"):
        mt.ModelCheckpoint(blocker / "ck.npz")


def test_summary_takes_torchinfos_input_size_with_the_batch_dimension():
    model = mt.Sequential(mt.Conv1d(2, 4, 3, padding=1), mt.Flatten(), mt.Linear(40, 3))
    ours = mt.summary(model, (2, 10))
    theirs = mt.summary(model, input_size=(5, 2, 10))
    assert [row.output_shape for row in theirs.rows] == [(5, 4, 10), (5, 40), (5, 3)]
    assert [row.output_shape[1:] for row in ours.rows] == [row.output_shape[1:] for row in theirs.rows]
    with pytest.raises(TypeError, match=r"without the batch dimension.*or torchinfo's input_size"):
        mt.summary(model)
    with pytest.raises(TypeError, match="give input_shape"):
        mt.summary(model, (2, 10), input_size=(1, 2, 10))
    with pytest.raises(ValueError, match="includes the batch dimension"):
        mt.summary(model, input_size=(10,))


def test_summary_refuses_an_input_shape_that_includes_the_batch():
    cnn = mt.Sequential(mt.Conv2d(3, 4, 3), mt.Flatten(), mt.Linear(4 * 6 * 6, 2))
    with pytest.raises(ValueError, match=r"input_shape=\(8, 3, 8, 8\) seems to include the batch dimension.*"
                                         r"pass \(3, 8, 8\), or torchinfo's input_size=\(8, 3, 8, 8\)"):
        mt.summary(cnn, (8, 3, 8, 8))
    assert mt.summary(cnn, (3, 8, 8)).rows[-1].output_shape == (1, 2)
    with pytest.raises(ValueError, match="failed on zeros"):
        mt.summary(cnn, (5, 8, 8))       # wrong, but not a batch mistake: the plain error
