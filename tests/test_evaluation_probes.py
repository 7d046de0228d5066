"""Probes (kNN / linear / SVM), the probe registry, and probe evaluation on frozen features."""

import json
import math

import numpy as np
import pytest

from priormatch.errors import PriormatchError
from priormatch.evaluation import (
    PROBES,
    KNNProbe,
    LinearProbe,
    SVMProbe,
    balanced_probe_indices,
    evaluate_features,
    format_results_table,
)
from priormatch.evaluation.probes import LINEAR_C_GRID, SVM_C_GRID


def blobs(n_per_class: int, num_classes: int = 4, dim: int = 10, spread: float = 1.0, seed: int = 0):
    """(n, dim) Gaussian blobs around random centres at distance ~3 and (n,) labels."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((num_classes, dim)) / math.sqrt(dim) * 2
    labels = np.repeat(np.arange(num_classes), n_per_class)
    features = centres[labels] + spread * rng.standard_normal((labels.size, dim))
    order = rng.permutation(labels.size)
    return features[order].astype(np.float32), labels[order]


# --- kNN -------------------------------------------------------------------------------------------


def test_knn_weighted_vote_matches_hand_computation():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = np.array([0, 1, 1])
    query = np.array([[3.0, 0.0]])  # cosine similarities: 1, 0, 0.6
    # T = 10: votes e^0.1 for class 0 vs e^0 + e^0.06 for class 1 -> the majority (class 1) wins
    probe = KNNProbe(k=3, temperature=10.0).fit(train, labels)
    p0 = math.exp(0.1) / (math.exp(0.1) + 1.0 + math.exp(0.06))
    np.testing.assert_allclose(probe.predict_proba(query), [[p0, 1 - p0]], rtol=1e-6)
    assert probe.predict(query).tolist() == [1]
    # T = 0.1: e^10 for class 0 dwarfs e^0 + e^6 -> the closest point wins
    probe = KNNProbe(k=3, temperature=0.1).fit(train, labels)
    p0 = math.exp(10) / (math.exp(10) + 1.0 + math.exp(6))
    np.testing.assert_allclose(probe.predict_proba(query), [[p0, 1 - p0]], rtol=1e-6)
    assert probe.predict(query).tolist() == [0]
    # k = 2 drops the orthogonal point: e^0.1 vs e^0.06 at T = 10
    assert KNNProbe(k=2, temperature=10.0).fit(train, labels).predict(query).tolist() == [0]


def test_knn_separable_clusters_are_perfect_and_chunking_is_invisible():
    x_train, y_train = blobs(50, num_classes=5, spread=0.05, seed=1)
    x_test, y_test = blobs(20, num_classes=5, spread=0.05, seed=1)
    probe = KNNProbe(k=20).fit(x_train, y_train + 10)  # arbitrary label values
    assert probe.score(x_test, y_test + 10) == 1.0
    small = KNNProbe(k=20, chunk_size=7).fit(x_train, y_train)
    np.testing.assert_allclose(small.predict_proba(x_test), KNNProbe(k=20).fit(x_train, y_train).predict_proba(x_test))


def test_knn_tiny_temperature_does_not_overflow():
    x, y = blobs(10, num_classes=3, seed=2)
    proba = KNNProbe(k=5, temperature=1e-4).fit(x, y).predict_proba(x)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# --- linear / SVM ----------------------------------------------------------------------------------


def test_linear_probe_beats_chance_and_picks_c_from_grid():
    x_train, y_train = blobs(40, spread=1.5, seed=3)
    x_test, y_test = blobs(40, spread=1.5, seed=3)
    probe = LinearProbe().fit(x_train, y_train)
    assert probe.C_ in LINEAR_C_GRID
    assert probe.score(x_test, y_test) > 0.6  # chance is 0.25
    assert probe.classes_.tolist() == [0, 1, 2, 3]
    assert probe.predict_proba(x_test).shape == (len(y_test), 4)


def test_linear_probe_fixed_c_and_tiny_classes_skip_cv():
    x, y = blobs(2, seed=4)
    assert LinearProbe().fit(x, y).C_ == 1.0  # 2 per class < 3 folds: fallback
    assert LinearProbe(C=0.5).fit(*blobs(10, seed=4)).C_ == 0.5


def test_svm_probe_searches_c():
    x_train, y_train = blobs(15, num_classes=3, seed=5)
    x_test, y_test = blobs(15, num_classes=3, seed=5)
    probe = SVMProbe().fit(x_train, y_train)
    assert probe.C_ in SVM_C_GRID
    assert probe.score(x_test, y_test) > 0.8


def test_svm_probe_small_and_large_training_sets():
    x, y = blobs(3, num_classes=3, seed=6)
    assert SVMProbe().fit(x, y).C_ == math.inf  # < 5 per class: TS2Vec's hard margin, no search
    x, y = blobs(20, num_classes=2, seed=6)
    assert SVMProbe().fit(x, y).C_ == math.inf  # 40 < 50 rows: no search either
    x, y = blobs(40, num_classes=2, seed=6)
    probe = SVMProbe(max_samples=60).fit(x, y)
    assert probe.svc_.shape_fit_[0] == 60  # searched and fitted on a stratified subsample of max_samples


def test_svm_probe_searches_c_on_a_subsample_and_refits_on_every_row(monkeypatch):
    x, y = blobs(50, num_classes=2, seed=7)
    searched = []
    original = SVMProbe._search_C
    monkeypatch.setattr(
        SVMProbe, "_search_C", lambda self, f, labels, grid: searched.append(len(labels)) or original(self, f, labels, grid)
    )
    probe = SVMProbe(max_search_samples=60).fit(x, y)
    assert searched == [60] and probe.svc_.shape_fit_[0] == 100
    assert math.isfinite(probe.C_) and probe.C_ in SVM_C_GRID and probe.score(x, y) > 0.8


def test_svm_probe_refitting_on_more_rows_than_searched_leaves_out_the_hard_margin():
    probe = SVMProbe()
    assert probe._grid(refit_rows=100, search_rows=100) == SVM_C_GRID
    assert probe._grid(refit_rows=7000, search_rows=2000) == SVM_C_GRID[:-1] and SVM_C_GRID[-1] == math.inf


def test_svm_probe_without_a_subsample_is_the_ts2vec_grid_search():
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    x, y = blobs(30, num_classes=3, seed=8)
    x = x + np.random.default_rng(0).normal(scale=2.0, size=x.shape)  # overlapping classes: C matters
    reference = GridSearchCV(SVC(gamma="scale"), {"C": list(SVM_C_GRID)}, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    reference.fit(x, y)
    probe = SVMProbe().fit(x, y)
    assert probe.C_ == reference.best_params_["C"]
    np.testing.assert_array_equal(probe.predict(x), reference.predict(x))


# --- registry contract -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROBES))
def test_every_probe_follows_the_contract(name):
    assert set(PROBES) == {"linear", "knn", "svm"}
    x, y = blobs(10, num_classes=3, spread=0.3, seed=7)
    probe = PROBES[name]()
    assert probe.fit(x, y) is probe
    assert probe.predict(x).shape == (len(y),)
    assert probe.score(x, y) > 0.9
    with pytest.raises(PriormatchError, match="D=9"):
        probe.predict(x[:, :9])
    with pytest.raises(PriormatchError, match="single class"):
        PROBES[name]().fit(x, np.zeros_like(y))
    bad = x.copy()
    bad[4, 0] = np.nan
    with pytest.raises(PriormatchError, match="row 4"):
        PROBES[name]().fit(bad, y)


# --- probe evaluation ------------------------------------------------------------------------------


def test_evaluate_features_and_table():
    x_train, y_train = blobs(20, num_classes=3, spread=0.3, seed=8)
    x_test, y_test = blobs(10, num_classes=3, spread=0.3, seed=8)
    results = evaluate_features(
        x_train, y_train, x_test, y_test, num_classes=3, class_rank=np.array([2, 0, 1]), probes=("linear", "knn", "svm")
    )
    assert list(results) == ["linear", "knn", "svm"]
    for metrics in results.values():
        assert metrics["accuracy"] == 1.0 and metrics["tail_accuracy"] == 1.0
    json.dumps(results)
    table = format_results_table(results, ["cat", "dog", "eel"])
    lines = table.splitlines()
    assert lines[0].split() == ["probe", "acc", "bal_acc", "macro_f1", "head", "medium", "tail"]
    assert lines[1].split() == ["linear"] + ["100.0"] * 6
    per_class = lines[lines.index("") + 2 :]
    assert [line.split()[:2] for line in per_class] == [["dog", "head"], ["eel", "medium"], ["cat", "tail"]]


def test_evaluate_features_rejects_unknown_probe():
    x, y = blobs(5, num_classes=2)
    with pytest.raises(PriormatchError, match="choose from \\['knn', 'linear', 'svm'\\]"):
        evaluate_features(x, y, x, y, num_classes=2, class_rank=np.arange(2), probes=("lineer",))


def test_balanced_probe_indices():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 5)
    idx = balanced_probe_indices(labels, per_class=3, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 2, 3]
    assert np.array_equal(idx, np.sort(idx)) and len(set(idx.tolist())) == len(idx)
    assert np.array_equal(idx, balanced_probe_indices(labels, per_class=3, seed=0))
    assert not np.array_equal(idx, balanced_probe_indices(labels, per_class=3, seed=1))
    with pytest.raises(PriormatchError, match="per_class"):
        balanced_probe_indices(labels, per_class=0, seed=0)
