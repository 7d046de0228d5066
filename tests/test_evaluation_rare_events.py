"""The rare-event suite: kNN-distance event detection (AUROC / AUPRC) and few-shot tail recall."""

import json

import numpy as np
import pytest

from priormatch.errors import PriormatchError
from priormatch.evaluation.rare_events import (
    event_detection,
    few_shot_recall,
    knn_distance_scores,
    nearest_mean_predictions,
    rare_event_metrics,
)


def clusters(counts, dim=8, spread=0.1, seed=0):
    """Tight clusters around orthogonal directions: (sum(counts), dim) features and labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    centres = np.eye(dim)[: len(counts)] * 3.0
    return centres[labels] + spread * rng.standard_normal((len(labels), dim)), labels


def test_knn_distance_is_the_mean_cosine_distance_to_the_k_nearest_reference_rows():
    rng = np.random.default_rng(1)
    reference, queries = rng.standard_normal((30, 5)), rng.standard_normal((7, 5))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    distance = 1 - unit(queries) @ unit(reference).T
    expected = np.sort(distance, axis=1)[:, :4].mean(axis=1)
    np.testing.assert_allclose(knn_distance_scores(reference, queries, k=4, chunk_size=3), expected, atol=1e-6)
    np.testing.assert_allclose(knn_distance_scores(reference, queries, k=100), distance.mean(axis=1), atol=1e-6)
    with pytest.raises(PriormatchError, match="at least one normal training sample"):
        knn_distance_scores(reference[:0], queries, k=1)


def test_separated_events_are_found_and_random_features_score_at_chance():
    train, train_y = clusters([50, 50, 5])
    test, test_y = clusters([40, 40, 20], seed=1)
    found = event_detection(train, train_y, test, test_y, event_classes=[2])
    assert found["auroc"] == 1.0 and found["auprc"] == pytest.approx(1.0) and found["event_rate"] == 0.2
    rng = np.random.default_rng(2)
    aurocs, auprcs = [], []
    for _ in range(40):  # features that carry no class information
        result = event_detection(rng.standard_normal((105, 8)), train_y, rng.standard_normal((100, 8)), test_y, [2])
        aurocs.append(result["auroc"])
        auprcs.append(result["auprc"])
    assert abs(np.mean(aurocs) - 0.5) < 0.03 and abs(np.mean(auprcs) - 0.2) < 0.04  # chance: 0.5 and the event rate


def test_detection_is_undefined_without_events_or_without_normal_test_samples():
    train, train_y = clusters([10, 10, 3])
    test, test_y = clusters([5, 5, 0], seed=1)
    assert event_detection(train, train_y, test, test_y, [2]) == {"auroc": None, "auprc": None, "event_rate": 0.0}
    only_events = event_detection(train, train_y, test[:5], np.full(5, 2), [2])
    assert only_events["auroc"] is None and only_events["event_rate"] == 1.0


def test_nearest_mean_and_few_shot_recall():
    train, train_y = clusters([30, 30, 4])
    test, test_y = clusters([10, 10, 10], seed=3)
    np.testing.assert_array_equal(nearest_mean_predictions(train, train_y, test), test_y)
    assert few_shot_recall(train, train_y, test, test_y, [2], shots=1) == 1.0
    assert few_shot_recall(train, train_y, test, test_y, [5], shots=1) is None  # class absent from the test split
    rng = np.random.default_rng(4)
    noise = [
        few_shot_recall(rng.standard_normal((64, 8)), train_y, rng.standard_normal((30, 8)), test_y, [2], 5, seed=s) for s in range(30)
    ]
    assert abs(np.mean(noise) - 1 / 3) < 0.08  # chance with 3 classes


def test_suite_uses_the_tail_classes_as_events_and_is_json():
    train, train_y = clusters([40, 20, 10, 5, 2])
    test, test_y = clusters([10, 10, 10, 10, 10], seed=5)
    class_rank = np.array([0, 1, 2, 3, 4])
    result = rare_event_metrics(train, train_y, test, test_y, class_rank=class_rank)
    assert result["event_classes"] == [3, 4]  # K=5: the 2 rarest classes form the tail
    assert set(result["tail_recall_at_k"]) == {"1", "5"} and result["auroc"] > 0.95
    json.dumps(result)
