"""mt.metrics' scikit-learn names give scikit-learn's numbers with scikit-learn's defaults (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch as mt

skm = pytest.importorskip("sklearn.metrics")
metrics = mt.metrics
# scikit-learn warns about undefined scores and single-label matrices; the values are what is compared
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:sklearn.*")
SCORES = [(metrics.precision_score, skm.precision_score), (metrics.recall_score, skm.recall_score),
          (metrics.f1_score, skm.f1_score)]

pairs_of_labels = st.integers(2, 40).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 1), min_size=n, max_size=n),
                        st.lists(st.integers(0, 1), min_size=n, max_size=n))
)


@settings(max_examples=40, deadline=None)
@given(pairs_of_labels)
def test_binary_scores_match_scikit_learn_defaults(pair):
    t, p = (np.array(v) for v in pair)
    assert metrics.accuracy_score(t, p) == pytest.approx(skm.accuracy_score(t, p), abs=1e-15)
    assert metrics.accuracy_score(t, p, normalize=False) == skm.accuracy_score(t, p, normalize=False)
    for ours, theirs in SCORES:
        assert ours(t, p) == pytest.approx(theirs(t, p, zero_division=0.0), abs=1e-15), ours.__name__
        expected = theirs(t, p, pos_label=0, zero_division=0.0)
        assert ours(t, p, pos_label=0) == pytest.approx(expected, abs=1e-15)
    np.testing.assert_array_equal(metrics.confusion_matrix(t, p), skm.confusion_matrix(t, p))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40),
       st.sampled_from(["macro", "micro", "weighted", None]))
def test_multiclass_averages_and_normalized_confusion_match_scikit_learn(pairs, average):
    t, p = np.array(pairs).T
    for ours, theirs in SCORES:
        expected = theirs(t, p, average=average, zero_division=0.0)
        np.testing.assert_allclose(ours(t, p, average=average), expected, rtol=1e-14, atol=1e-15)
    for normalize in ("true", "pred", "all"):
        np.testing.assert_allclose(metrics.confusion_matrix(t, p, normalize=normalize),
                                   skm.confusion_matrix(t, p, normalize=normalize), rtol=1e-15)


def test_binary_average_on_multiclass_data_is_an_error_as_in_scikit_learn():
    with pytest.raises(ValueError, match="average='binary'"):
        metrics.f1_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError):
        skm.f1_score([0, 1, 2], [0, 1, 1])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n),
    st.lists(st.sampled_from([-1.0, 0.0, 0.25, 0.5, 0.9, 3.0]), min_size=n, max_size=n))))
def test_binary_roc_auc_matches_scikit_learn_with_ties(data):
    t, s = np.array(data[0]), np.array(data[1])
    if len(np.unique(t)) < 2:
        with pytest.raises(ValueError, match="only one class"):
            metrics.roc_auc_score(t, s)
        return
    assert metrics.roc_auc_score(t, s) == pytest.approx(skm.roc_auc_score(t, s), rel=1e-12)
    assert metrics.roc_auc_score(t * 5 + 2, s[:, None]) == pytest.approx(skm.roc_auc_score(t, s), rel=1e-12)


@pytest.mark.parametrize("multi_class, average", [("ovr", "macro"), ("ovr", "weighted"), ("ovr", None),
                                                  ("ovo", "macro"), ("ovo", "weighted")])
def test_multiclass_roc_auc_matches_scikit_learn(multi_class, average):
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 60)
    z = rng.standard_normal((60, 4)) + 1.5 * np.eye(4)[t]
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = skm.roc_auc_score(t, probs, multi_class=multi_class, average=average)
    got = metrics.roc_auc_score(t, probs, multi_class=multi_class, average=average)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="multi_class='ovr' or 'ovo'"):
        metrics.roc_auc_score(t, probs)


def test_hand_worked_values():
    assert metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert metrics.f1_score([0, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(0.5)
    weighted = metrics.accuracy_score([0, 1, 1, 0], [0, 1, 0, 0], sample_weight=[1, 1, 2, 1])
    assert weighted == pytest.approx(3 / 5)


# Inputs scikit-learn refuses, which a metric must refuse too rather than read as something else
# (the class of bug: a layout or an empty input silently given a number). One line per input layout.
MULTI_HOT = np.array([[1, 1, 0], [0, 1, 1]])
NEAR = np.array([[1, 1, 0], [0, 1, 0]])
ZERO_ROW = np.array([[0, 0], [0, 1]])
REFUSED = [
    ("accuracy_score-multilabel", lambda: metrics.accuracy_score(MULTI_HOT, NEAR)),
    ("f1_score-multilabel", lambda: metrics.f1_score(MULTI_HOT, MULTI_HOT, average="macro")),
    ("accuracy-multilabel", lambda: metrics.accuracy(MULTI_HOT, np.array([0, 1]))),
    ("confusion_matrix-multilabel", lambda: metrics.confusion_matrix(MULTI_HOT, np.array([0, 1]))),
    ("accuracy-indicator-row-of-zeros", lambda: metrics.accuracy(ZERO_ROW, np.array([0, 1]))),
    ("precision_score-empty", lambda: metrics.precision_score([], [])),
    ("recall-empty", lambda: metrics.recall(np.array([], int), np.array([], int))),
    ("f1_score-empty", lambda: metrics.f1_score(np.array([], int), np.array([], int), average=None)),
    ("confusion_matrix-empty", lambda: metrics.confusion_matrix([], [])),
    ("confusion_matrix-labels-absent", lambda: metrics.confusion_matrix([0, 1], [0, 1], labels=[2, 3])),
    ("roc_auc_score-continuous-y_true", lambda: metrics.roc_auc_score([0.2, 0.7, 0.2], [0.1, 0.5, 0.3])),
]


@pytest.mark.parametrize("call", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_inputs_scikit_learn_refuses_are_refused(call):
    with pytest.raises(ValueError, match=r"expected|got"):
        call()


def test_one_hot_rows_still_read_as_their_class():
    one_hot = np.eye(3)[[0, 2, 1, 1]]
    assert metrics.accuracy_score(one_hot, np.array([0, 2, 2, 1])) == pytest.approx(0.75)
    assert metrics.accuracy(np.array([0, 1]), np.zeros((2, 3))) == pytest.approx(0.5)  # a model's zero scores
