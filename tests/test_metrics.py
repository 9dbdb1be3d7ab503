"""mt.metrics against hand-computed cases (scikit-learn's definitions) and a few properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

metrics = mt.metrics

# a hand-worked 3-class case:
#   true  0 1 1 2 2 2
#   pred  0 1 2 2 2 0
# per class: tp = [1, 1, 2], predicted = [2, 1, 3], true = [1, 2, 3]
T = np.array([0, 1, 1, 2, 2, 2])
P = np.array([0, 1, 2, 2, 2, 0])
PRECISION = np.array([1 / 2, 1 / 1, 2 / 3])
RECALL = np.array([1 / 1, 1 / 2, 2 / 3])
F1 = np.array([2 / 3, 2 / 3, 4 / 6])  # 2 tp / (predicted + true)


def logits_for(labels, classes=3):
    """Scores whose argmax is ``labels``, with distracting values elsewhere."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(len(labels), classes))
    z[np.arange(len(labels)), labels] = 10.0
    return z


def test_accuracy_reads_labels_logits_one_hot_and_probability_columns():
    assert metrics.accuracy(T, P) == pytest.approx(4 / 6)
    assert metrics.accuracy(T, logits_for(P)) == pytest.approx(4 / 6)
    assert metrics.accuracy(np.eye(3)[T], logits_for(P)) == pytest.approx(4 / 6)  # one-hot targets
    assert metrics.accuracy(T.astype(np.float32), P) == pytest.approx(4 / 6)  # whole-number floats are labels
    probs = np.array([[0.9], [0.2], [0.6], [0.4]])  # a sigmoid column: > 0.5 is class 1
    assert metrics.accuracy(np.array([[1.0], [0.0], [0.0], [0.0]]), probs) == pytest.approx(3 / 4)
    assert metrics.accuracy(np.array([1, 0, 0, 0]), probs[:, 0], threshold=0.1) == pytest.approx(1 / 4)


@pytest.mark.parametrize("fn", ["accuracy", "accuracy_score"])
@pytest.mark.parametrize("empty", [np.array([], dtype=int), np.zeros((0, 3)), np.zeros((0, 1))],
                         ids=["labels", "scores", "column"])
def test_empty_input_is_refused_by_the_shared_label_reading_naming_the_function(fn, empty):
    """label_pair (metrics/labels.py) refuses an empty pair for every metric that reads labels."""
    with pytest.raises(ValueError, match=rf"^{fn}: expected at least one sample, got 0$"):
        getattr(metrics, fn)(empty, empty)


def test_accuracy_rejects_regression_values_mismatched_lengths_and_empty_input():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*regression"):
        metrics.accuracy(np.array([0.0, 1.0]), np.array([2.5, -1.3]))
    with pytest.raises(ValueError, match="same number of samples, got 3 and 2"):
        metrics.accuracy(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="at least one sample"):
        metrics.accuracy(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        metrics.accuracy(np.array([0, 1]), np.array([0.2, np.nan]))
    with pytest.raises(ValueError, match="got shape"):
        metrics.accuracy(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_confusion_matrix_counts_rows_true_columns_predicted():
    expected = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    np.testing.assert_array_equal(metrics.confusion_matrix(T, P), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(T, logits_for(P)), expected)
    assert metrics.confusion_matrix(T, P).dtype == np.int64
    # labels fix order and size; classes outside them are left out (scikit-learn's rule)
    np.testing.assert_array_equal(metrics.confusion_matrix(T, P, labels=[2, 0]), [[2, 1], [0, 1]])
    np.testing.assert_array_equal(metrics.confusion_matrix(T, P, labels=[0, 1, 2, 3])[3], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="distinct class indices"):
        metrics.confusion_matrix(T, P, labels=[1, 1])


@pytest.mark.parametrize(
    "fn, per_class", [(metrics.precision, PRECISION), (metrics.recall, RECALL), (metrics.f1, F1)]
)
def test_precision_recall_f1_per_class_and_averages(fn, per_class):
    support = np.array([1, 2, 3])
    np.testing.assert_allclose(fn(T, P, average=None), per_class)
    assert fn(T, P) == pytest.approx(per_class.mean())  # macro is the default
    assert fn(T, P, average="weighted") == pytest.approx((per_class * support).sum() / 6)
    assert fn(T, P, average="micro") == pytest.approx(4 / 6)  # every class counted: accuracy
    assert fn(T, logits_for(P)) == pytest.approx(per_class.mean())


def test_precision_counts_false_positives_from_classes_left_out_of_labels():
    # class 0 is not listed, but the class-0 sample predicted as 2 still is a false positive of 2
    assert metrics.precision(T, P, labels=[2], average=None)[0] == pytest.approx(2 / 3)
    assert metrics.recall(T, P, labels=[1, 2], average="micro") == pytest.approx(3 / 5)


def test_binary_average_scores_the_positive_class_only():
    t, p = np.array([0, 1, 1, 0, 1]), np.array([1, 1, 0, 0, 1])  # class 1: tp 2, predicted 3, true 3
    assert metrics.precision(t, p, average="binary") == pytest.approx(2 / 3)
    assert metrics.recall(t, p, average="binary", pos_label=0) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="at most two classes"):
        metrics.f1_score(T, P, average="binary")


def test_zero_division_value_is_used_and_nan_leaves_the_class_out():
    t, p = np.array([0, 0]), np.array([0, 0])  # class 1 is listed but never true nor predicted
    assert metrics.precision(t, p, labels=[0, 1]) == pytest.approx(0.5)
    assert metrics.precision(t, p, labels=[0, 1], zero_division=1.0) == pytest.approx(1.0)
    assert metrics.f1(t, p, labels=[0, 1], zero_division=np.nan) == pytest.approx(1.0)
    assert np.isnan(metrics.recall(t, p, labels=[0, 1], average=None, zero_division=np.nan)[1])
    # F1's denominator is 0 only when the class is neither true nor predicted: here it is predicted
    assert metrics.f1_score(np.array([0, 0]), np.array([1, 0]), average=None, zero_division=1.0)[1] == 0.0
    with pytest.raises(ValueError, match="zero_division"):
        metrics.precision(t, p, zero_division="warn")
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.recall(t, p, average="samples")


def test_regression_metrics_by_hand():
    t, p = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])
    assert metrics.mean_squared_error(t, p) == pytest.approx(1 / 3)
    assert metrics.mean_absolute_error(t, p) == pytest.approx(1 / 3)
    assert metrics.r2_score(t, p) == pytest.approx(1 - 1 / 2)  # ss_res 1, ss_tot 2
    # (N,) against (N, 1) is the same data; two columns average their R² (scikit-learn's uniform_average)
    assert metrics.mean_squared_error(t, p[:, None]) == pytest.approx(1 / 3)
    t2 = np.column_stack([t, [0.0, 0.0, 3.0]])
    p2 = np.column_stack([p, [1.0, 0.0, 3.0]])  # column 2: ss_res 1, ss_tot 6
    assert metrics.r2_score(t2, p2) == pytest.approx(((1 - 1 / 2) + (1 - 1 / 6)) / 2)
    assert metrics.mean_absolute_error(t2, p2) == pytest.approx(2 / 6)


def test_r2_of_constant_targets_and_single_samples_follow_scikit_learn():
    assert metrics.r2_score(np.array([2.0, 2.0]), np.array([2.0, 2.0])) == 1.0
    assert metrics.r2_score(np.array([2.0, 2.0]), np.array([2.0, 3.0])) == 0.0
    assert np.isnan(metrics.r2_score(np.array([1.0]), np.array([2.0])))
    with pytest.raises(ValueError, match="same shape"):
        metrics.mean_squared_error(np.zeros((3, 2)), np.zeros((3, 3)))


@pytest.mark.parametrize("fn", [metrics.mean_squared_error, metrics.mean_absolute_error, metrics.r2_score,
                                metrics.binary_accuracy])
@pytest.mark.parametrize("t_shape, p_shape", [((4, 2, 3), (4, 3, 2)), ((4, 6), (4, 2, 3)),
                                              ((4, 2), (4, 1, 2)), ((4,), (4, 1, 1)), ((4, 1), (1, 4))])
def test_regression_metrics_refuse_another_layout_of_as_many_numbers(fn, t_shape, p_shape):
    """(N, T, F) against (N, F, T) holds as many numbers: comparing them flattened would score a
    transposed prediction silently. Only (N,) against (N, 1) is the same data (scikit-learn's rule)."""
    t = np.arange(24.0)[: int(np.prod(t_shape))].reshape(t_shape)
    with pytest.raises(ValueError, match="same shape"):
        fn(t, np.ones(p_shape))
    column = t.reshape(len(t), -1)[:, 0] + np.arange(len(t)) ** 2  # (N,) and (N, 1): the same data
    assert fn(column[:, None], column[::-1].copy()) == fn(column, column[::-1, None])


def test_get_metric_by_name_or_function():
    assert metrics.get_metric("accuracy") == ("accuracy", metrics.accuracy)
    assert metrics.get_metric("f1") == ("f1", metrics.f1)

    def top(y_true, y_pred):
        return 1.0

    assert metrics.get_metric(top) == ("top", top)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        metrics.get_metric("acuracy")
    with pytest.raises(TypeError, match="metric name or a function"):
        metrics.get_metric(3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=30))
def test_properties_of_counts_and_averages(pairs):
    t, p = np.array(pairs).T
    cm = metrics.confusion_matrix(t, p)
    assert cm.sum() == len(t)
    assert np.trace(cm) / len(t) == pytest.approx(metrics.accuracy(t, p))
    assert metrics.f1_score(t, p, average="micro") == pytest.approx(metrics.accuracy(t, p))
    np.testing.assert_array_equal(cm.sum(axis=1), [np.sum(t == c) for c in np.union1d(t, p)])
    # swapping true and predicted swaps precision and recall
    np.testing.assert_allclose(metrics.precision(t, p, average=None), metrics.recall(p, t, average=None))


# scikit-learn (not a dependency; its documented behaviour, sklearn.utils.validation): the regression
# metrics check_array every input with ensure_all_finite=True, so NaN or inf is "ValueError: Input
# contains NaN" / "... infinity"; type_of_target asserts float labels finite; accuracy_score's
# np.average-style weighted mean raises "Weights sum to zero, can't be normalized" (a
# ZeroDivisionError there, a ValueError here) and its sample_weight must be finite. MiniTorch
# returned nan, read NaN scores' argmax as the top class, or divided 0 / 0.
_NAN_SCORES = np.array([[0.1, 0.9], [np.nan, 0.2], [0.3, 0.4]])
SKLEARN_REFUSES = [
    ("mse-nan-y_pred", lambda: metrics.mean_squared_error([1.0, 2.0], [1.0, np.nan]),
     r"mean_squared_error: y_pred contains NaN or inf"),
    ("mse-inf-y_true", lambda: metrics.mean_squared_error([np.inf, 2.0], [1.0, 2.0]),
     r"mean_squared_error: y_true contains NaN or inf"),
    ("mae-nan-y_true", lambda: metrics.mean_absolute_error(np.array([[np.nan], [1.0]]), np.zeros((2, 1))),
     r"mean_absolute_error: y_true contains NaN or inf"),
    ("r2-nan-y_pred", lambda: metrics.r2_score([1.0, 2.0, 3.0], [1.0, np.nan, 3.0]),
     r"r2_score: y_pred contains NaN or inf"),
    ("r2-one-sample-nan", lambda: metrics.r2_score([np.nan], [1.0]), r"r2_score: y_true contains NaN"),
    ("accuracy-nan-scores", lambda: metrics.accuracy(np.array([1, 0, 1]), _NAN_SCORES),
     r"accuracy: scores \(3, 2\) contain NaN"),
    ("accuracy_score-nan-scores", lambda: metrics.accuracy_score(_NAN_SCORES, np.array([1, 0, 1])),
     r"accuracy_score: scores \(3, 2\) contain NaN"),
    ("f1_score-nan-scores", lambda: metrics.f1_score(np.array([1, 0, 1]), _NAN_SCORES),
     r"f1_score: scores \(3, 2\) contain NaN"),
    ("confusion_matrix-nan-scores", lambda: metrics.confusion_matrix(np.array([1, 0, 1]), _NAN_SCORES),
     r"confusion_matrix: scores \(3, 2\) contain NaN"),
    ("accuracy_score-weights-sum-to-0",
     lambda: metrics.accuracy_score([0, 1, 1], [0, 1, 0], sample_weight=[1.0, -1.0, 0.0]),
     r"accuracy_score: sample_weight sums to 0"),
    ("accuracy_score-zero-weights", lambda: metrics.accuracy_score([0, 1], [0, 0], sample_weight=[0, 0]),
     r"accuracy_score: sample_weight sums to 0"),
    ("accuracy_score-nan-weight",
     lambda: metrics.accuracy_score([0, 1], [0, 0], sample_weight=[1.0, np.nan], normalize=False),
     r"accuracy_score: sample_weight contains NaN or inf"),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in SKLEARN_REFUSES],
                         ids=[c[0] for c in SKLEARN_REFUSES])
def test_nan_inputs_and_zero_weights_scikit_learn_refuses_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_what_scikit_learn_and_torch_compute_still_computes():
    # zero weights unnormalised: scikit-learn's weighted count, 0
    assert metrics.accuracy_score([0, 1], [0, 0], sample_weight=[0, 0], normalize=False) == 0.0
    # +-inf scores have a well-defined argmax (torch's argmax, and the class a model gives)
    assert metrics.accuracy(np.array([1, 0]), np.array([[0.0, np.inf], [1.0, -np.inf]])) == 1.0


def test_fit_logs_nan_metrics_for_nan_outputs_when_it_trains_on_past_them():
    """stop_on_nan=False trains past a nan loss; a metric over outputs holding NaN is logged as nan
    (the metric functions themselves refuse NaN, as scikit-learn)."""

    class NanModel(mt.Module):
        def forward(self, x):
            return np.full((len(x), 1), np.nan, np.float32)

        def backward(self, dy):
            return np.zeros((len(dy), 2), np.float32)

    class LenientLoss(mt.Loss):
        def forward(self, input, target):
            self._shape = np.shape(input)
            return float(np.mean((input - target) ** 2))

        def backward(self, dloss=1.0):
            return np.zeros(self._shape, np.float32)

    model = NanModel()
    X = np.ones((4, 2), np.float32)
    history = mt.fit(model, LenientLoss(), mt.SGD([mt.Parameter(np.zeros(1, np.float32))]),
                     mt.DataLoader(X, X[:, :1], batch_size=2), 1, metrics=("mse", "r2"), verbose=0,
                     stop_on_nan=False)
    assert np.isnan(history["mse"]).all() and np.isnan(history["r2"]).all()


def test_the_default_class_accuracy_of_nd_scores_refuses_nan_as_the_plain_one():
    accuracy = metrics.default_metrics(mt.CrossEntropyLoss(ignore_index=2))[0]
    scores = np.zeros((2, 3, 4))
    t = np.zeros((2, 4), np.int64)
    assert accuracy(t, scores) == 1.0
    scores[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"accuracy: scores \(2, 3, 4\) contain NaN"):
        accuracy(t, scores)
