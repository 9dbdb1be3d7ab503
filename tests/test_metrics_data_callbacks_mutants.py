"""Tests that kill mutants the suites of the metrics, the data utilities and the training loop let live
(mutants11's mutation run of minitorch/metrics/, minitorch/data.py, minitorch/callbacks.py and
minitorch/training/: one AST change at a time, the related tests rerun with MINITORCH_KERNELS=1 and,
for the training loop and the callbacks, =0; a mutant that passed them all is a test that could not fail).

Each test names the mutants it kills (file:line of the change, as the code stood). Where the function
has a reference (scikit-learn's metrics, torch.utils.data, Keras' callbacks), it is compared with it.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from training_helpers import Recorder, setup

import minitorch as mt
from minitorch.metrics import default_metrics


def test_the_base_callback_asks_for_every_batch():
    """callbacks.py:87 ``Callback.idle_batches`` returning 1 (its documented default is 0: a callback
    that does not override it rests through no batch)."""
    assert mt.Callback().idle_batches() == 0


def test_default_accuracy_of_2d_scores_leaves_ignored_targets_out():
    """registry.py:47 ``kept.all()`` -> ``kept.any()``: (N, C) scores with some targets equal to
    ignore_index went to the plain accuracy, which counts every ignored target as a wrong answer."""
    scores = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]])
    targets = np.array([0, -100, 2, 1])
    (accuracy,) = default_metrics(mt.CrossEntropyLoss())
    assert accuracy(targets, scores) == pytest.approx(2 / 3)  # rows 0 and 2 right, row 3 wrong
    (accuracy,) = default_metrics(mt.CrossEntropyLoss(ignore_index=1))
    assert accuracy(np.array([0, 1, 2, 1]), scores) == 1.0
    (accuracy,) = default_metrics(mt.NLLLoss(ignore_index=0))
    assert np.isnan(accuracy(np.array([0, 0]), scores[:2]))  # nothing counted: nan, as the loss


@pytest.fixture
def default_sigint():
    # a background job inherits SIGINT ignored, which fit leaves alone: give the test Python's default
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_a_first_ctrl_c_inside_the_step_lets_the_batch_finish(default_sigint):
    """loop.py:348 ``self.pressed and self._deferring`` -> ``or``: a FIRST Ctrl-C inside
    optimizer.step() was deferred as a second one, so the batch ended at the step without its loss
    counted or its on_batch_end called (the first press lets the batch finish)."""
    model, loss_fn, _, loader, *_ = setup()
    sgd = mt.SGD(model.parameters(), lr=0.1)

    class PressInSecondStep:
        param_groups = sgd.param_groups
        steps = 0

        def step(self):
            self.steps += 1
            sgd.step()
            if self.steps == 2:
                os.kill(os.getpid(), signal.SIGINT)

        def zero_grad(self):
            sgd.zero_grad()

    recorder = Recorder()
    history = mt.fit(model, loss_fn, PressInSecondStep(), loader, epochs=3, callbacks=[recorder], verbose=0)
    assert history.interrupted and len(history) == 1
    assert [c for c in recorder.calls if c[0] == "batch_end"] == [("batch_end", 0), ("batch_end", 1)]
    sizes = [logs["size"] for logs in recorder.batch_logs]
    losses = [logs["loss"] for logs in recorder.batch_logs]
    assert history["loss"][0] == pytest.approx(np.average(losses, weights=sizes), rel=1e-12)


class FirstColumn(mt.Module):
    """x[:, 0]: one output per sample of shape (N,), as a squeezed regression head."""

    def forward(self, x):
        return x[:, 0]


def test_evaluate_weights_batches_of_1d_outputs_by_their_size():
    """inference.py:97 ``return float(batch_size)`` of loss_weight dropped for losses other than
    CrossEntropyLoss / NLLLoss: (N,) outputs fell to the class-probability rule and weighed 1 per batch,
    so batches of 2, 2 and 1 samples gave the mean of batch means, not the full-data MSE."""
    X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    y = np.zeros(5)
    for loss_fn, full in ((mt.MSELoss(), np.mean(X[:, 0] ** 2)), (mt.L1Loss(), np.mean(X[:, 0]))):
        logs = mt.evaluate(FirstColumn(), loss_fn, X, y, metrics=(), batch_size=2)
        assert logs["loss"] == pytest.approx(full, rel=1e-6)


def test_binary_accuracy_keras_example_scalars_and_empty_input():
    """accuracies.py:72 binary_accuracy's ``return`` dropped (it returned None: no test called it);
    :66 ``t.ndim > 0 and`` dropped (a scalar pair raised a TypeError from len()); :67 ``or t.size == 0``
    dropped (empty input gave NumPy's nan and a warning instead of the ValueError)."""
    # Keras' documented example of keras.metrics.binary_accuracy: 0.75
    assert mt.metrics.binary_accuracy(np.array([[1], [1], [0], [0]]),
                                      np.array([[0.98], [1], [0], [0.6]])) == 0.75
    assert mt.metrics.binary_accuracy(np.array([1, 0, 1, 1]), np.array([2.0, -1.0, -0.5, 0.3]), 0.0) == 0.75
    assert mt.metrics.binary_accuracy(np.array([1, 0]), np.array([[0.7], [0.2]])) == 1.0  # (N,) vs (N, 1)
    assert mt.metrics.binary_accuracy(1.0, 0.7) == 1.0 and mt.metrics.binary_accuracy(0.0, 0.7) == 0.0
    with pytest.raises(ValueError, match="binary_accuracy"):
        mt.metrics.binary_accuracy(np.zeros(0), np.zeros(0))


def test_random_split_refuses_negative_bool_and_float_counts():
    """data.py:107 the per-length check dropped (only the sum was checked): [-1, 6] of 5 samples gave
    a Subset of 4 and one of 1 (torch.utils.data.random_split does so silently too; MiniTorch refuses),
    and [True, 4] or [2.0, 3.0] were taken as counts."""
    for lengths in ([-1, 6], [True, 4], [2.0, 3.0]):
        with pytest.raises(ValueError, match="random_split: lengths must be counts"):
            mt.random_split(list(range(5)), lengths)
    with pytest.warns(UserWarning, match="Length of split at index 2 is 0"):  # as torch
        assert [len(s) for s in mt.random_split(list(range(5)), [0.5, 0.5, 0.0])] == [3, 2, 0]


class DuckDataset:
    """A map-style dataset that does not subclass mt.Dataset (torch accepts any such object)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        if not -5 <= i < 5:
            raise IndexError(f"DuckDataset: index {i} out of range")
        return np.array([i, -i], dtype=np.float32), i


def test_dataloader_reads_duck_datasets_as_datasets_and_arrays_as_arrays():
    """data.py:269 ``not hasattr(X, '__array__')`` -> ``hasattr``: a duck-typed dataset was read as an
    array (np.asarray of the object) and an object with ``__array__`` (a torch tensor) as a dataset,
    which refused its y; data.py:271 ``len(X) in (1, 2)`` -> ``(0, 2)``: DataLoader((X,)) was stacked
    into one (1, N, F) sample instead of yielding X's batches."""
    import torch

    xb, yb = next(iter(mt.DataLoader(DuckDataset(), batch_size=3)))
    np.testing.assert_array_equal(xb, [[0, 0], [1, -1], [2, -2]])
    np.testing.assert_array_equal(yb, [0, 1, 2])
    X = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5)
    batches = list(mt.DataLoader(torch.tensor(X), torch.tensor(y), batch_size=2))
    np.testing.assert_array_equal(batches[0][0], X[:2])
    np.testing.assert_array_equal(batches[2][1], y[4:])
    alone = list(mt.DataLoader((X,), batch_size=2))
    assert [b.shape for b in alone] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate(alone), X)


def test_precision_with_every_class_undefined_is_nan_without_a_warning():
    """precision_recall_f1.py:142 ``if not defined.any(): return nan`` -> ``if False``: the average of
    no class gave the same nan through np.average of an empty array, with NumPy's RuntimeWarning
    (scikit-learn returns nan quietly)."""
    import warnings

    from sklearn.metrics import precision_score, recall_score

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for average in ("macro", "weighted"):
            got = mt.metrics.precision([0, 0], [1, 1], average=average, labels=[0], zero_division=np.nan)
            assert np.isnan(got)
            want = precision_score([0, 0], [1, 1], average=average, labels=[0], zero_division=np.nan)
            assert np.isnan(want)
            got = mt.metrics.recall([1, 1], [0, 0], average=average, labels=[0], zero_division=np.nan)
            assert np.isnan(got)
            assert np.isnan(recall_score([1, 1], [0, 0], average=average, labels=[0], zero_division=np.nan))


def test_checkpoint_called_without_logs_saves_under_its_epoch(tmp_path):
    """callbacks.py:328 ``logs = logs or {}`` -> ``logs = logs``: on_epoch_end(epoch) with its documented
    default logs=None raised a TypeError filling the path (``**None``) when saving every epoch."""
    model = mt.Linear(2, 1)
    checkpoint = mt.ModelCheckpoint(tmp_path / "m_{epoch}.npz", save_best_only=False)
    checkpoint.set_context(model, mt.History())
    checkpoint.on_epoch_end(0)
    assert checkpoint.last_saved == str(tmp_path / "m_1.npz") and os.path.exists(checkpoint.last_saved)


def test_confusion_matrix_refuses_an_unknown_normalize():
    """confusion.py:30 ``.get(normalize, -1)`` -> ``.get(normalize, -0)``: an unknown normalize was read
    as axis 0 ("pred") instead of refused (scikit-learn raises an InvalidParameterError, a ValueError)."""
    from sklearn.metrics import confusion_matrix

    for normalize in ("rows", "True", 1):
        with pytest.raises(ValueError, match="normalize"):
            mt.metrics.confusion_matrix([0, 1, 1], [0, 1, 0], normalize=normalize)
        with pytest.raises(ValueError):
            confusion_matrix([0, 1, 1], [0, 1, 0], normalize=normalize)


def test_accuracy_score_of_huge_integer_weights_and_one_sample_matches_scikit_learn():
    """accuracies.py:38 ``dtype=np.float64`` dropped from the sample weights: int64 weights of 2**62
    overflowed their sum (scikit-learn converts them to float64); :36 ``len(t) == 0`` -> ``== 1``: a
    single sample was refused."""
    from sklearn.metrics import accuracy_score

    t, p, w = [0, 1, 1, 0], [0, 1, 0, 0], [2**62] * 4
    assert mt.metrics.accuracy_score(t, p, sample_weight=w) == accuracy_score(t, p, sample_weight=w) == 0.75
    # the weighted count: scikit-learn 1.9 sums int64 weights as int64 here and overflows (it returns
    # -4.6e18), so the exact value is the reference
    assert mt.metrics.accuracy_score(t, p, sample_weight=w, normalize=False) == 3.0 * 2**62
    assert mt.metrics.accuracy_score([1], [1]) == accuracy_score([1], [1]) == 1.0
    assert mt.metrics.accuracy_score([1], [0], normalize=False) == accuracy_score([1], [0], normalize=False)


def test_zero_division_other_than_0_1_or_nan_is_refused_as_scikit_learn():
    """precision_recall_f1.py:110 the value check of zero_division dropped (only its type was checked):
    zero_division=0.5 was used as a score."""
    from sklearn.metrics import precision_score

    for fn in (mt.metrics.precision, mt.metrics.recall, mt.metrics.f1, mt.metrics.precision_score):
        with pytest.raises(ValueError, match="zero_division must be"):
            fn([0, 1, 1], [0, 0, 0], zero_division=0.5)
    with pytest.raises(ValueError):
        precision_score([0, 1, 1], [0, 0, 0], zero_division=0.5)


def test_as_dtype_of_a_dataset_loader_and_rounded_from():
    """data.py:233 ``source is not None and`` dropped: as_dtype of a loader over a dataset whose dtype is
    unknown (not a TensorDataset) raised an AttributeError; data.py:215 ``itemsize >`` -> ``>=``: a
    float32 TensorDataset under a float32 loader said it was rounded (``rounded_from`` float32)."""
    twin = mt.DataLoader(DuckDataset(), batch_size=5).as_dtype(np.float64)
    assert twin.rounded_from is None
    xb, _ = next(iter(twin))
    assert xb.dtype == np.float64
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert mt.DataLoader(mt.TensorDataset(X, np.arange(3))).rounded_from is None
    assert mt.DataLoader(mt.TensorDataset(X.astype(np.float64), np.arange(3))).rounded_from == np.float64


def test_negative_floats_are_not_read_as_probabilities():
    """labels.py:40 ``y.min() >= 0 and`` dropped: floats in [-0.5, 0.7] were thresholded as
    probabilities; they are continuous values, which scikit-learn's accuracy_score refuses. ``>= 0`` ->
    ``> 0``: probabilities holding an exact 0.0 were refused."""
    from sklearn.metrics import accuracy_score

    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        mt.metrics.accuracy([0, 1], np.array([-0.5, 0.7]))
    with pytest.raises(ValueError):
        accuracy_score([0, 1], np.array([-0.5, 0.7]))
    assert mt.metrics.accuracy([0, 1], np.array([0.2, 0.7])) == 1.0
    assert mt.metrics.accuracy([0, 1, 1], np.array([0.0, 0.7, 1.0])) == 1.0  # an exact 0.0


def test_bce_with_logits_default_accuracy_reads_logits_at_zero():
    """registry.py:32 ``return (_binary_accuracy_at(0.0),)`` dropped: BCEWithLogitsLoss got no default
    metric (fit logged no accuracy), or the probabilities' threshold 0.5."""
    (logits_accuracy,) = default_metrics(mt.BCEWithLogitsLoss())
    assert logits_accuracy(np.array([0.0, 1.0, 1.0]), np.array([-0.2, 0.3, 0.6])) == 1.0
    (probability_accuracy,) = default_metrics(mt.BCELoss())
    assert probability_accuracy(np.array([0.0, 1.0, 1.0]), np.array([0.2, 0.3, 0.6])) == pytest.approx(2 / 3)


def test_early_stopping_never_takes_a_nan_as_its_first_best():
    """callbacks.py:214 ``if math.isnan(value): return False`` dropped: a NaN first value beat the
    empty best (None) and nothing finite could beat NaN after it (Keras starts from best = inf: NaN
    never improves)."""
    stopper = mt.EarlyStopping(patience=5, restore_best=False)
    stopper.set_context(mt.Linear(1, 1), mt.History())
    stopper.on_train_begin()
    for epoch, value in enumerate([float("nan"), 2.0, 1.0, float("nan")]):
        stopper.on_epoch_end(epoch, {"val_loss": value})
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (1.0, 2, 1)


def test_stratified_split_needs_each_class_in_both_parts_and_has_scikit_learns_counts():
    """data.py:395 ``n_test < C or n_train < C`` -> ``and``: a test part smaller than the number of
    classes was accepted (scikit-learn refuses it); data.py:414 ``-(share - drawn)`` -> ``-(share +
    drawn)``: the leftover draws went to the largest classes, not the largest remainders."""
    from sklearn.model_selection import train_test_split

    X = np.arange(12)
    y = np.repeat([0, 1, 2], 4)
    for sizes in ({"test_size": 2}, {"train_size": 2}):
        with pytest.raises(ValueError, match="at least one sample of each of the 3 classes"):
            mt.train_test_split(X, y, stratify=y, random_state=0, **sizes)
        with pytest.raises(ValueError):
            train_test_split(X, y, stratify=y, random_state=0, **sizes)
    y = np.array([0] * 10 + [1] * 3)
    X = np.arange(13)
    _, _, _, y_test = mt.train_test_split(X, y, test_size=4, stratify=y, random_state=0)
    _, _, _, sk_test = train_test_split(X, y, test_size=4, stratify=y, random_state=0)
    assert np.bincount(y_test, minlength=2).tolist() == np.bincount(sk_test, minlength=2).tolist() == [3, 1]


def test_roc_auc_of_a_column_of_labels_matches_scikit_learn():
    """roc_auc.py:27 the (N, 1) y_true read as its column dropped: a column of labels was refused."""
    from sklearn.metrics import roc_auc_score

    y, s = np.array([0, 0, 1, 1, 0]), np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    assert mt.metrics.roc_auc_score(y[:, None], s) == mt.metrics.roc_auc_score(y, s)
    assert mt.metrics.roc_auc_score(y[:, None], s) == pytest.approx(roc_auc_score(y, s), rel=1e-15)


def test_evaluate_takes_an_array_of_metric_names():
    """inference.py:179 ``isinstance(metrics, str) and`` dropped: an array of two names was compared
    with "auto" element-wise and its truth value raised."""
    X = np.array([[0.0], [1.0], [3.0]])
    logs = mt.evaluate(FirstColumn(), None, X, np.zeros(3), metrics=np.array(["mse", "mae"]))
    assert logs == {"mse": pytest.approx(10 / 3), "mae": pytest.approx(4 / 3)}


def test_rounded_from_is_the_widest_float_of_a_tensor_dataset():
    """data.py:263 ``max(floats, key=itemsize)`` -> ``min``: float32 features with float64 targets (both
    cast to float32 by default_collate) said nothing was rounded."""
    X, y = np.zeros((3, 2), np.float32), np.zeros(3, np.float64)
    assert mt.DataLoader(mt.TensorDataset(X, y)).rounded_from == np.float64
    assert mt.DataLoader(mt.Subset(mt.TensorDataset(y, X), [0, 1])).rounded_from == np.float64


def test_binary_average_refuses_three_classes_or_a_missing_pos_label_as_scikit_learn():
    """precision_recall_f1.py:115 ``len(present) == 2`` -> ``== 3`` (two classes, neither pos_label, were
    scored as the absent class 1: zero_division) and ``len(present) > 2`` -> ``> 3`` (three classes,
    1 among them, were scored as class 1 alone under average='binary')."""
    from sklearn.metrics import precision_score

    t, p = [0, 1, 2, 1], [0, 1, 1, 2]
    for fn in (mt.metrics.precision_score, mt.metrics.recall_score, mt.metrics.f1_score):
        with pytest.raises(ValueError, match="average='binary' needs at most two classes"):
            fn(t, p)
    with pytest.raises(ValueError):
        precision_score(t, p)
    t, p = [0, 2, 2], [0, 2, 0]
    with pytest.raises(ValueError, match="one of them pos_label=1"):
        mt.metrics.precision_score(t, p)
    with pytest.raises(ValueError):
        precision_score(t, p)
    assert mt.metrics.precision_score(t, p, pos_label=2) == precision_score(t, p, pos_label=2) == 1.0


def test_a_tuple_of_sample_tuples_is_a_list_of_samples():
    """data.py:272 ``isinstance(a, (np.ndarray, list)) and`` dropped: a tuple of two (x, y) samples was
    read as the arrays (X, y) = (sample 0, sample 1); data.py:275 ``isinstance(a, np.ndarray) and``
    dropped: a list of two feature lists raised an AttributeError (``list.ndim``) instead of being
    read as an array (2, F)."""
    samples = ((np.array([1.0, 2.0]), 0), (np.array([3.0, 4.0]), 1))
    (xb, yb), = list(mt.DataLoader(samples, batch_size=2))
    np.testing.assert_array_equal(xb, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(yb, [0, 1])
    (xb,) = list(mt.DataLoader([[1.0, 2.0], [3.0, 4.0]], batch_size=2))
    np.testing.assert_array_equal(xb, [[1.0, 2.0], [3.0, 4.0]])


def test_stratify_by_one_hot_rows_splits_as_stratify_by_class_indices():
    """data.py:388 ``axis=0 if labels.ndim > 1`` dropped from np.unique: (N, C) one-hot stratify labels
    were read element by element (two "classes", 0 and 1), not row by row (scikit-learn: a row is a
    class)."""
    from sklearn.model_selection import train_test_split

    y = np.array([0] * 6 + [1] * 3 + [2] * 3)
    one_hot = np.eye(3, dtype=np.int64)[y]
    X = np.arange(12)
    _, _, _, y_test = mt.train_test_split(X, y, test_size=4, stratify=one_hot, random_state=0)
    _, _, _, sk_test = train_test_split(X, y, test_size=4, stratify=one_hot, random_state=0)
    assert np.bincount(y_test, minlength=3).tolist() == np.bincount(sk_test, minlength=3).tolist()
    assert np.bincount(y_test, minlength=3).tolist() == [2, 1, 1]


def test_as_dtype_says_rounded_only_when_it_narrows():
    """data.py:233 ``source.itemsize > twin.dtype.itemsize`` -> ``<``: float32 data widened to float64
    said it was rounded from float32, and float64 data narrowed to float16 said nothing."""
    X = np.zeros((4, 2), np.float32)
    assert mt.DataLoader(X).as_dtype(np.float64).rounded_from is None
    assert mt.DataLoader(X.astype(np.float64)).as_dtype(np.float16).rounded_from == np.float64
    assert mt.DataLoader(X.astype(np.float64)).as_dtype(np.float64).rounded_from is None


def test_dataloader_reads_a_list_of_feature_rows_with_labels():
    """data.py:268 ``not isinstance(X, (np.ndarray, list, tuple)) and`` dropped: a list of rows was
    taken for a dataset, which refused y."""
    batches = list(mt.DataLoader([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 0], batch_size=2))
    np.testing.assert_array_equal(batches[0][0], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(batches[1][1], [0])


def test_binary_accuracy_is_a_mean_and_collate_reads_list_samples_as_fields():
    """accuracies.py:72 ``np.mean`` -> ``np.sum`` in binary_accuracy (the count of right elements);
    (data.py once read a list sample of numbers as one feature vector:) a list sample [x, label] is
    collated field by field, as torch's default_collate collates every list sample."""
    assert mt.metrics.binary_accuracy(np.array([1, 0, 1, 1, 0]), np.array([0.9, 0.6, 0.7, 0.2, 0.1])) == 0.6
    xb, yb = mt.data.default_collate([[np.array([1.0, 2.0]), 0], [np.array([3.0, 4.0]), 1]])
    np.testing.assert_array_equal(xb, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(yb, [0, 1])
    first, second = mt.data.default_collate([[0.5, 1.5], [2.5, 3.5]])  # numbers too, as torch's
    np.testing.assert_array_equal(first, [0.5, 2.5])
    np.testing.assert_array_equal(second, [1.5, 3.5])


class ReusedOutput(mt.Module):
    """Returns its input copied into one array it writes again at every forward (as a layer with a
    preallocated output buffer may)."""

    def forward(self, x):
        if getattr(self, "out", None) is None or self.out.shape != x.shape:
            self.out = np.empty_like(x)
        self.out[...] = x
        return self.out

    def backward(self, dy):
        return dy


def test_fit_metrics_keep_each_batchs_output_when_the_model_reuses_its_output_array():
    """loop.py:210 ``np.array(output, copy=True)`` -> ``copy=False``: the epoch's outputs were one array
    rewritten at every batch, so the accuracy paired every batch's targets with the last batch's
    outputs. With lr = 0 the epoch's accuracy is evaluate's."""
    X, y = setup()[4:]
    model = mt.Sequential(mt.Linear(2, 3), ReusedOutput())
    loader = mt.DataLoader(X, y, batch_size=20)
    history = mt.fit(model, mt.CrossEntropyLoss(), mt.SGD(model.parameters(), lr=0.0), loader, 1, verbose=0)
    assert history["accuracy"][0] == mt.evaluate(model, mt.CrossEntropyLoss(), X, y)["accuracy"]


# mutants13: the rest of the run (metrics/regression.py, training/history.py, training/progress.py)


def test_regression_metrics_of_float32_targets_are_computed_in_float64():
    """mutants13, regression.py:53 ``np.asarray(y_true, dtype=np.float64)`` without the dtype: float32
    targets kept float32, so R²'s mean and ss_tot rounded in float32 (scikit-learn's value is the
    float64 one of the same numbers)."""
    t32 = (np.float32(1000.0) + np.float32(0.001) * np.arange(1, 8, dtype=np.float32)).astype(np.float32)
    p = t32.astype(np.float64) + 0.0005 * np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0])
    t64 = t32.astype(np.float64)
    expected = 1 - np.sum((t64 - p) ** 2) / np.sum((t64 - t64.mean()) ** 2)
    assert mt.metrics.r2_score(t32, p) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert mt.metrics.r2_score(t32, p) == pytest.approx(mt.metrics.r2_score(t64, p), rel=1e-12, abs=1e-12)


class _FakeBar:
    """Records what Bars asks of a tqdm bar."""

    def __init__(self, log, **kwargs):
        self.log, self.closed = log, False
        log.append(("new", kwargs["desc"]))

    def set_postfix_str(self, text, refresh=True):
        self.log.append(("postfix", text, refresh))

    def update(self):
        self.log.append(("update",))

    def close(self):
        self.closed = True
        self.log.append(("close",))


def test_bars_close_each_bar_once_and_leave_the_redraw_to_update():
    """mutants13, progress.py:61 ``self.close()`` at epoch_begin -> pass (a bar left open by an unfinished
    epoch stayed open under the next one), progress.py:81 ``if self._bar is not None`` -> False (close
    never closed a bar), progress.py:67 ``refresh=False`` -> True (the running loss redrew the bar
    once more per batch: update() draws it)."""
    from minitorch.training.progress import Bars

    log: list = []
    bars = Bars(2, None, False, lambda **kw: _FakeBar(log, **kw))
    bars.epoch_begin(0, 3)
    first = bars._bar
    bars.batch_end(0.5)
    bars.epoch_begin(1, 3)  # epoch 0 never ended: its bar is closed before the next opens
    assert first.closed and bars._bar is not first
    second = bars._bar
    bars.epoch_end(1, {"loss": 0.25})
    assert second.closed and bars._bar is None
    bars.close()  # nothing open: nothing closed twice
    assert log == [("new", "Epoch 1/2"), ("postfix", "loss: 0.5000", False), ("update",), ("close",),
                   ("new", "Epoch 2/2"), ("postfix", "loss: 0.2500", False), ("close",)]


def test_plain_progress_lines_are_flushed_as_they_are_printed():
    """mutants13, progress.py:49 ``print(..., flush=True)`` -> ``flush=False``: a line sat in the file's
    buffer (a log file, a pipe) until something else flushed it, instead of showing at each epoch."""
    from minitorch.training.progress import Lines

    class Recording:
        def __init__(self):
            self.events = []

        def write(self, text):
            self.events.append(("write", text))

        def flush(self):
            self.events.append(("flush",))

    file = Recording()
    Lines(3, file, False).epoch_end(0, {"loss": 0.5})
    assert "".join(e[1] for e in file.events if e[0] == "write") == "Epoch 1/3 - loss: 0.5000\n"
    assert file.events[-1] == ("flush",)


def test_default_accuracy_of_2d_scores_with_every_target_counted_is_the_plain_accuracy():
    """mutants15, registry.py:47 ``p.ndim == 2 and kept.all()`` -> ``p.ndim == 1``: (N, C) scores with no
    ignored target skipped the plain accuracy, so a multi-hot 0/1 row (scikit-learn's multilabel) was read
    by argmax as its first 1, and an empty batch gave nan with a warning instead of the plain errors."""
    (default,) = default_metrics(mt.CrossEntropyLoss())
    multi_hot = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    for accuracy in (default, mt.metrics.accuracy):
        with pytest.raises(ValueError, match="one-hot rows"):
            accuracy(np.array([0, 1]), multi_hot)
        with pytest.raises(ValueError, match="at least one sample"):
            accuracy(np.zeros(0, dtype=np.int64), np.zeros((0, 3)))
    assert default(np.array([0, 2]), np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]])) == 1.0


def test_dataloader_of_an_empty_list_is_empty_as_torch():
    """mutants15, data.py:282 ``len(X) and`` dropped from the list-of-samples test: DataLoader([]) and
    DataLoader(()) raised an IndexError from X[0] instead of being empty loaders, as torch's are."""
    import torch

    for X in ([], ()):
        loader = mt.DataLoader(X, batch_size=2)
        reference = torch.utils.data.DataLoader(X, batch_size=2)
        assert len(loader) == len(reference) == 0
        assert list(loader) == list(reference) == []


def test_checkpoint_saving_every_epoch_takes_any_monitor_name(tmp_path):
    """mutants15, callbacks.py:314 ``mode == "auto"`` -> ``mode != "auto"``: ModelCheckpoint saving every
    epoch (save_best_only=False, which reads no direction) refused a monitor name whose direction "auto"
    cannot tell; only save_best_only=True needs it (Keras' monitor is unused then too)."""
    model = mt.Linear(2, 1)
    checkpoint = mt.ModelCheckpoint(tmp_path / "m_{epoch}.npz", monitor="val_my_score", save_best_only=False)
    checkpoint.set_context(model, mt.History())
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert checkpoint.last_saved == str(tmp_path / "m_1.npz") and os.path.exists(checkpoint.last_saved)
    with pytest.raises(ValueError, match="mode='max' or mode='min'"):
        mt.ModelCheckpoint(tmp_path / "m.npz", monitor="val_my_score")


def test_integer_features_are_not_rounded_from_anything():
    """mutants15, data.py:200 ``wide.dtype.kind == "f" and ...`` -> ``or``: int64 features, which the
    loader never casts, were recorded as rounded from int64 (``rounded_from`` names the floating dtype
    the features lost digits from: None here)."""
    X = np.arange(6, dtype=np.int64).reshape(3, 2)
    loader = mt.DataLoader(X, np.arange(3))
    assert loader.rounded_from is None and loader.X.dtype == np.int64
    assert loader.as_dtype(np.float64).rounded_from is None
    assert mt.DataLoader(X.astype(np.float64), np.arange(3)).rounded_from == np.float64


def test_dataloader_of_one_sample_collates_it_as_torch():
    """mutants15, data.py:282 ``isinstance(X[0], (tuple, dict))`` -> ``X[1]``: a list of one (x, y) pair
    or one dict sample raised an IndexError instead of being read as samples; torch yields one batch."""
    import torch

    x = np.array([1.0, 2.0])
    (xb, yb), = mt.DataLoader([(x, 3)], batch_size=2)
    (txb, tyb), = torch.utils.data.DataLoader([(x, 3)], batch_size=2)
    np.testing.assert_array_equal(xb, txb.numpy())
    np.testing.assert_array_equal(yb, tyb.numpy())
    assert xb.shape == (1, 2) and yb.tolist() == [3]
    (batch,) = mt.DataLoader([{"x": x, "y": 3}], batch_size=2)
    assert batch["x"].shape == (1, 2) and batch["y"].tolist() == [3]


def test_fit_names_nan_in_targets_given_as_a_list():
    """mutants15, loop.py:386 ``values = np.asarray(values)`` dropped in ``_non_finite``: a batch whose
    targets are a Python list holding NaN, refused by the loss, became an AttributeError ('list' has no
    dtype) instead of the NonFiniteLossError naming the targets."""
    model = mt.Linear(2, 1)
    X = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(mt.NonFiniteLossError, match="the targets holds NaN"):
        mt.fit(model, mt.MSELoss(), mt.SGD(model.parameters(), lr=0.1), [(X, [[1.0], [float("nan")]])],
               epochs=1, verbose=0)


def test_default_accuracy_of_label_predictions_is_the_plain_accuracy():
    """mutants15, registry.py:45 ``return plain(t, p)`` dropped: predicted labels (N,) (no class axis)
    reached the class-axis argmax (an AxisError) instead of the plain accuracy."""
    (default,) = default_metrics(mt.CrossEntropyLoss())
    t, p = np.array([0, 1, 2]), np.array([0, 1, 1])
    assert default(t, p) == mt.metrics.accuracy(t, p) == pytest.approx(2 / 3)


def test_train_test_split_of_lists_has_scikit_learns_sizes():
    """mutants15, data.py:324 ``arrays = tuple(np.asarray(a) for a in arrays)`` dropped: Python lists
    raised an AttributeError (no ndim); scikit-learn splits lists (the parts here are arrays)."""
    from sklearn.model_selection import train_test_split

    X, y = [[float(i), 0.0] for i in range(10)], list(range(10))
    parts = mt.train_test_split(X, y, test_size=0.3, random_state=0)
    reference = train_test_split(X, y, test_size=0.3, random_state=0)
    assert [len(part) for part in parts] == [len(part) for part in reference] == [7, 3, 7, 3]
    X_train, X_test, y_train, y_test = parts
    np.testing.assert_array_equal(X_train[:, 0], y_train)
    np.testing.assert_array_equal(X_test[:, 0], y_test)
    assert sorted(y_train.tolist() + y_test.tolist()) == y


def test_floats_above_one_are_not_read_as_probabilities():
    """mutants15, labels.py:40 ``y.max() <= 1`` -> ``y.min() <= 1``: floats in [0.2, 1.5] were
    thresholded as probabilities; they are continuous values, which scikit-learn's accuracy_score refuses."""
    from sklearn.metrics import accuracy_score

    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        mt.metrics.accuracy([0, 1], np.array([0.2, 1.5]))
    with pytest.raises(ValueError):
        accuracy_score([0, 1], np.array([0.2, 1.5]))


def test_early_stopping_waits_three_epochs_by_default():
    """mutants15, callbacks.py:242 EarlyStopping's documented default ``patience=3`` -> 2: it stopped
    after two epochs without improvement."""
    stopper = mt.EarlyStopping(monitor="loss")
    stopper.set_context(mt.Linear(1, 1), mt.History())
    for epoch, loss in enumerate([1.0, 2.0, 2.0]):
        stopper.on_epoch_end(epoch, {"loss": loss})
    assert stopper.patience == 3 and stopper.stopped_epoch is None and not stopper.history.stop_training
    stopper.on_epoch_end(3, {"loss": 2.0})
    assert stopper.stopped_epoch == 3 and stopper.history.stop_training


class _RestsTwoBatches(mt.Callback):
    """Called for a batch, then rests through the next two (as mt.Diagnostics rests between its checks)."""

    def __init__(self):
        self.begins, self.ends = [], []

    def idle_batches(self):
        return 2

    def on_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_batch_end(self, batch, logs=None):
        self.ends.append(batch)


class _EndsOnly(mt.Callback):
    def __init__(self):
        self.ends = []

    def on_batch_end(self, batch, logs=None):
        self.ends.append(batch)


def test_a_resting_callback_leaves_the_others_batch_ends_called():
    """mutants15, callbacks.py:170 ``bool(lists[1])`` -> ``bool(lists[0])``: while the only callback
    with on_batch_begin rested, fit took on_batch_end as unheard too and skipped the others' batch ends."""
    model, loss_fn, optimizer, _, X, y = setup()
    resting, ends_only = _RestsTwoBatches(), _EndsOnly()
    mt.fit(model, loss_fn, optimizer, mt.DataLoader(X, y, batch_size=10), epochs=1, verbose=0,
           callbacks=[resting, ends_only])
    assert ends_only.ends == [0, 1, 2, 3, 4, 5]
    assert resting.begins == resting.ends == [0, 3]


def test_fit_logs_no_lr_for_an_optimizer_without_param_groups():
    """mutants15, loop.py:181 ``if lr is not None`` -> ``if True``: an optimizer without param_groups
    (no learning rate to read) logged ``lr: None``, which the History refused (a TypeError from float)."""
    model, loss_fn, sgd, loader, *_ = setup()

    class Bare:  # step and zero_grad: all fit needs
        def step(self):
            sgd.step()

        def zero_grad(self):
            sgd.zero_grad()

    history = mt.fit(model, loss_fn, Bare(), loader, epochs=2, verbose=0)
    assert len(history) == 2 and "lr" not in history and "loss" in history
    assert "lr" in mt.fit(model, loss_fn, sgd, loader, epochs=1, verbose=0).history


def test_accuracy_score_reads_a_column_of_probabilities_at_one_half():
    """mutants15, accuracies.py:35 accuracy_score's threshold 0.5 -> 0.0: a column of probabilities was
    read as class 1 whenever above 0 (the module's reading: class 1 when > 0.5, as ``accuracy``)."""
    y_true, probabilities = np.array([0, 1, 0, 1]), np.array([0.3, 0.8, 0.1, 0.6])
    assert mt.metrics.accuracy_score(y_true, probabilities) == 1.0
    assert mt.metrics.accuracy(y_true, probabilities) == 1.0
    assert mt.metrics.accuracy_score(y_true, probabilities, normalize=False) == 4.0


def test_nan_scores_error_names_the_row():
    """mutants15, labels.py:21 ``np.isnan(y).any(axis=1)`` -> ``axis=0``: the error named the first
    column holding NaN as the row."""
    scores = np.array([[0.1, 0.9, 0.0], [0.3, 0.3, 0.4], [np.nan, 0.5, 0.0], [0.2, 0.2, 0.6]])
    with pytest.raises(ValueError, match="contain NaN in row 2 "):
        mt.metrics.accuracy(np.array([1, 2, 1, 2]), scores)


def test_fit_steps_a_scheduler_with_the_loss_only_when_step_requires_an_argument():
    """mutants15, loop.py:373 ``p.default is inspect.Parameter.empty`` -> ``is not``: a scheduler whose
    step takes an optional argument (torch's ``step(epoch=None)``) was handed the loss as that argument,
    and one whose step requires a value (a plateau rule of your own) got none. loop.py:371 ``return
    False`` -> ``True``: a step without a readable signature (a builtin) was handed the loss too."""
    import types

    model, loss_fn, optimizer, loader, X, y = setup()
    calls = []

    class Optional:
        def step(self, epoch=None):
            calls.append(("optional", epoch))

    class Required:
        def step(self, metric):
            calls.append(("required", metric))

    for scheduler in (Optional(), Required()):
        history = mt.fit(model, loss_fn, optimizer, loader, epochs=1, val_data=(X, y), scheduler=scheduler,
                         verbose=0)
    assert calls == [("optional", None), ("required", history["val_loss"][0])]
    flags = {1, 2}  # set.clear: a builtin method inspect cannot read a signature from
    mt.fit(model, loss_fn, optimizer, loader, epochs=1, scheduler=types.SimpleNamespace(step=flags.clear),
           verbose=0)
    assert flags == set()


def test_tensor_dataset_of_lists_holds_arrays():
    """mutants15, data.py:52 ``arrays = tuple(np.asarray(a) for a in arrays)`` dropped: TensorDataset of
    Python lists raised an AttributeError (no ndim) instead of holding them as arrays."""
    ds = mt.TensorDataset([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 0])
    assert len(ds) == 3 and all(isinstance(a, np.ndarray) for a in ds.tensors)
    x, label = ds[1]
    np.testing.assert_array_equal(x, [3.0, 4.0])
    assert label == 1
    (xb, yb), = mt.DataLoader(ds, batch_size=3)
    assert xb.shape == (3, 2) and yb.tolist() == [0, 1, 0]


def test_binary_accuracy_reads_a_score_at_the_threshold_as_class_0():
    """mutants15, accuracies.py:72 ``p > threshold`` -> ``>=``: a probability of exactly 0.5 (a logit of
    exactly 0 at threshold 0) was read as class 1; Keras' binary_accuracy compares ``y_pred > threshold``."""
    assert mt.metrics.binary_accuracy(np.array([0, 1]), np.array([0.5, 0.7])) == 1.0
    assert mt.metrics.binary_accuracy(np.array([0, 1]), np.array([0.0, 0.0]), threshold=0.0) == 0.5


def test_train_test_split_with_train_size_alone_has_scikit_learns_sizes():
    """mutants15, data.py:371 ``n - sizes.get("train_size", 0)`` -> ``sizes.get("train_size", 0)``: with
    train_size alone the test part took train_size samples too (an error: more than the data)."""
    from sklearn.model_selection import train_test_split

    X = np.arange(20.0).reshape(10, 2)
    for train_size in (0.6, 7):
        parts = mt.train_test_split(X, train_size=train_size, random_state=0)
        reference = train_test_split(X, train_size=train_size, random_state=0)
        assert [len(part) for part in parts] == [len(part) for part in reference]


def test_dataloader_tuple_of_feature_rows_with_y_keeps_the_given_y():
    """mutants15, data.py:271 ``y is None and`` dropped: DataLoader((row0, row1), y), a tuple of two
    feature rows with their labels, was read as DataLoader((X, y)): the second row became the labels and
    the y given was dropped without a word."""
    (xb, yb), = mt.DataLoader(([0.0, 1.0], [2.0, 3.0]), np.array([0, 1]), batch_size=2)
    np.testing.assert_array_equal(xb, [[0.0, 1.0], [2.0, 3.0]])
    assert yb.tolist() == [0, 1]


def test_fit_runs_in_a_worker_thread():
    """mutants15, loop.py:342 the main-thread and default-handler test -> ``True``: fit in another thread
    called signal.signal, which Python allows only in the main thread (a ValueError), and it would have
    replaced a custom SIGINT handler."""
    import threading

    model, loss_fn, optimizer, loader, *_ = setup()
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        mt.fit(model, loss_fn, optimizer, loader, epochs=1, verbose=0)))
    worker.start()
    worker.join()
    assert len(outcome) == 1 and len(outcome[0]) == 1


def test_f1_binary_average_scores_class_1_by_default_as_scikit_learn():
    """mutants15, precision_recall_f1.py:59 f1's default ``pos_label=1`` -> 2: f1(..., average="binary")
    of 0/1 labels was refused for a missing positive class instead of scoring class 1."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    t, p = np.array([0, 1, 1, 0, 1]), np.array([1, 1, 0, 0, 1])
    for short, reference in ((mt.metrics.f1, f1_score), (mt.metrics.precision, precision_score),
                             (mt.metrics.recall, recall_score)):
        assert short(t, p, average="binary") == pytest.approx(reference(t, p))


def test_checkpoint_saving_every_epoch_still_refuses_an_unknown_mode(tmp_path):
    """mutants15, callbacks.py:314 ``mode == "auto" and`` dropped: with save_best_only=False any mode,
    even a misspelt one, was replaced by "min" before it was checked."""
    with pytest.raises(ValueError, match="mode"):
        mt.ModelCheckpoint(tmp_path / "m.npz", save_best_only=False, mode="minimum")
