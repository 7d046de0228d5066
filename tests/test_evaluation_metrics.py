"""Metrics: hand-computed values on tiny label vectors, and the head/medium/tail split rule."""

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from priormatch.errors import PriormatchError
from priormatch.evaluation import classification_metrics, split_groups

# Confusion (rows true, cols predicted):  [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2])
RANK = np.array([2, 0, 1])  # class 1 most frequent (head), class 2 medium, class 0 tail


def test_hand_computed_metrics():
    m = classification_metrics(Y_TRUE, Y_PRED, num_classes=3, class_rank=RANK)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_accuracy"] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert m["balanced_accuracy"] == pytest.approx(13 / 18)
    # F1 per class: 2TP/(2TP+FP+FN) = 4/5, 2/4, 2/3
    assert m["macro_f1"] == pytest.approx(59 / 90)
    assert m["macro_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    assert m["head_accuracy"] == pytest.approx(1 / 2)
    assert m["medium_accuracy"] == pytest.approx(1.0)
    assert m["tail_accuracy"] == pytest.approx(2 / 3)
    assert m["groups"] == {"head": [1], "medium": [2], "tail": [0]}


def test_group_accuracy_is_class_balanced():
    # K=5, identity rank: head = classes 0,1; class 0 has 9 test samples all right, class 1 one wrong.
    y_true = np.array([0] * 9 + [1, 2, 3, 4])
    y_pred = np.array([0] * 9 + [0, 2, 3, 4])
    m = classification_metrics(y_true, y_pred, num_classes=5, class_rank=np.arange(5))
    assert m["head_accuracy"] == pytest.approx(0.5)  # mean(1, 0), not 9/10
    assert m["medium_accuracy"] == pytest.approx(1.0)
    assert m["tail_accuracy"] == pytest.approx(1.0)


def test_absent_class_is_none_and_json_serialisable():
    y_true = np.array([0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 2])
    m = classification_metrics(y_true, y_pred, num_classes=4, class_rank=np.array([0, 1, 2, 3]))
    assert m["per_class_accuracy"] == [1.0, 0.5, 1.0, None]
    assert m["balanced_accuracy"] == pytest.approx(2.5 / 3)
    # class 3 is neither true nor predicted: excluded from macro-F1 (F1: 2/3, 2/3, 1)
    assert m["macro_f1"] == pytest.approx(7 / 9)
    # K=4 splits 1/2/1: head [0], medium [1, 2], tail [3] (absent from y_true)
    assert (m["head_accuracy"], m["medium_accuracy"], m["tail_accuracy"]) == (1.0, 0.75, None)
    json.loads(json.dumps(m))


def test_group_with_no_test_samples_is_none():
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), num_classes=3, class_rank=np.arange(3))
    assert m["head_accuracy"] == pytest.approx(0.5)
    assert m["medium_accuracy"] is None and m["tail_accuracy"] is None


def test_split_k10_is_3_4_3_in_rank_order():
    rank = np.array([9, 0, 8, 1, 7, 2, 6, 3, 5, 4])  # class 1 most frequent, class 0 least
    groups = split_groups(rank)
    assert groups == {"head": [1, 3, 5], "medium": [7, 9, 8, 6], "tail": [4, 2, 0]}


def test_split_k5_is_2_1_2():
    assert split_groups(np.arange(5)) == {"head": [0, 1], "medium": [2], "tail": [3, 4]}


@pytest.mark.parametrize("k", range(3, 40))
def test_split_partitions_by_rank_with_nonempty_groups(k):
    rank = np.random.default_rng(k).permutation(k)
    groups = split_groups(rank)
    assert all(groups[g] for g in ("head", "medium", "tail"))
    assert len(groups["head"]) == len(groups["tail"])
    assert sorted(sum(groups.values(), [])) == list(range(k))
    ranks = [rank[groups[g]] for g in ("head", "medium", "tail")]
    assert ranks[0].max() < ranks[1].min() and ranks[1].max() < ranks[2].min()


def test_split_small_k():
    assert split_groups(np.array([1, 0])) == {"head": [1], "medium": [], "tail": [0]}
    assert split_groups(np.array([0])) == {"head": [0], "medium": [], "tail": []}
    m = classification_metrics(np.array([0, 1]), np.array([0, 0]), num_classes=2, class_rank=np.array([0, 1]))
    assert (m["head_accuracy"], m["medium_accuracy"], m["tail_accuracy"]) == (1.0, None, 0.0)


@pytest.mark.parametrize(
    "y_true, y_pred, k, rank, culprit",
    [
        ([0, 3], [0, 1], 3, [0, 1, 2], "y_true"),
        ([0, 1], [0, -1], 3, [0, 1, 2], "y_pred"),
        ([0, 1], [0, 1, 1], 3, [0, 1, 2], "equal length"),
        ([0.0, 1.0], [0, 1], 3, [0, 1, 2], "integer"),
        ([0, 1], [0, 1], 3, [0, 1], "class_rank"),
        ([0, 1], [0, 1], 3, [0, 0, 2], "permutation"),
    ],
)
def test_bad_inputs_raise_one_line_error(y_true, y_pred, k, rank, culprit):
    with pytest.raises(PriormatchError, match=culprit) as info:
        classification_metrics(np.array(y_true), np.array(y_pred), num_classes=k, class_rank=np.array(rank))
    assert "\n" not in str(info.value)
