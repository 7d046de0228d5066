"""Rare-event evaluation on frozen features: are the rarest classes detectable and learnable?

A prior that flattens rare clusters shows up first where users care: the rare regimes. Two views:

* **Detection** (label-free at test time): the rarest classes of the pretraining data (the tail group
  of :func:`~priormatch.evaluation.metrics.split_groups`) are the *events*, the other classes
  *normal*. Each test sample is scored by its mean cosine distance to its ``k`` nearest *normal*
  training samples (the kNN-distance anomaly score of Bergman, Cohen and Hoshen, "Deep Nearest
  Neighbor Anomaly Detection", 2020); AUROC and AUPRC (average precision) of that score for
  "is an event" on the test split. AUPRC's chance level is the events' share of the test split.
* **Few-shot tail recall**: ``shots`` labelled training samples per class (k in 1, 5), a
  nearest-class-mean classifier on L2-normalised features (the prototype classifier of few-shot
  learning, Snell et al., NeurIPS 2017), recall averaged over the tail classes of the test split,
  then over ``episodes`` seeded draws of the labelled samples.

Features are (n, D) float arrays and labels (n,) integers in [0, K). Every value is a float or
``None`` (undefined: no event or no normal sample in the test split), so the dict is JSON as is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from priormatch.errors import PriormatchError
from priormatch.evaluation.metrics import split_groups

SHOTS = (1, 5)


def knn_distance_scores(reference: np.ndarray, queries: np.ndarray, k: int, chunk_size: int = 1024) -> np.ndarray:
    """(m,) mean cosine distance (1 - cosine similarity) of each of the (m, D) ``queries`` to its
    ``k`` nearest rows of the (n, D) ``reference`` (k capped at n); larger = more anomalous."""
    if len(reference) == 0:
        raise PriormatchError("the kNN anomaly score needs at least one normal training sample; check the event classes")
    bank = torch.nn.functional.normalize(torch.as_tensor(reference, dtype=torch.float32), dim=1)
    k = min(k, len(bank))
    scores = []
    for chunk in torch.split(torch.as_tensor(queries, dtype=torch.float32), chunk_size):
        similarity = torch.nn.functional.normalize(chunk, dim=1) @ bank.T  # (B, n)
        scores.append(1.0 - similarity.topk(k, dim=1).values.mean(dim=1))
    return torch.cat(scores).double().numpy()


def event_detection(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    event_classes: Sequence[int],
    k: int = 10,
) -> dict[str, float | None]:
    """``auroc``, ``auprc`` of the kNN-distance score for "belongs to ``event_classes``" on the test
    split, and ``event_rate`` (the events' share of the test split, AUPRC's chance level)."""
    is_event_train = np.isin(train_labels, event_classes)
    is_event = np.isin(test_labels, event_classes)
    rate = float(is_event.mean())
    if is_event.all() or not is_event.any():
        return {"auroc": None, "auprc": None, "event_rate": rate}
    scores = knn_distance_scores(train_features[~is_event_train], test_features, k)
    return {
        "auroc": float(roc_auc_score(is_event, scores)),
        "auprc": float(average_precision_score(is_event, scores)),
        "event_rate": rate,
    }


def nearest_mean_predictions(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray) -> np.ndarray:
    """(m,) label of the nearest class mean (cosine, L2-normalised features and means)."""
    classes = np.unique(train_labels)
    train = torch.nn.functional.normalize(torch.as_tensor(train_features, dtype=torch.float32), dim=1)
    means = torch.stack([train[torch.as_tensor(train_labels == c)].mean(dim=0) for c in classes])
    test = torch.nn.functional.normalize(torch.as_tensor(test_features, dtype=torch.float32), dim=1)
    return classes[(test @ torch.nn.functional.normalize(means, dim=1).T).argmax(dim=1).numpy()]


def few_shot_recall(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    classes: Sequence[int],
    shots: int,
    episodes: int = 5,
    seed: int = 0,
) -> float | None:
    """Mean over ``episodes`` of the recall, averaged over ``classes`` present in the test split, of a
    nearest-class-mean classifier given ``shots`` training samples of every class (all of a class's
    samples when it has fewer); ``None`` when none of ``classes`` is in the test split."""
    present = [c for c in classes if np.any(test_labels == c)]
    if not present:
        return None
    rng = np.random.default_rng(seed)
    recalls = []
    for _ in range(episodes):
        rows = np.concatenate([rng.permutation(np.flatnonzero(train_labels == c))[:shots] for c in np.unique(train_labels)])
        predictions = nearest_mean_predictions(train_features[rows], train_labels[rows], test_features)
        recalls.append(np.mean([np.mean(predictions[test_labels == c] == c) for c in present]))
    return float(np.mean(recalls))


def rare_event_metrics(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    class_rank: np.ndarray,
    k: int = 10,
    shots: Sequence[int] = SHOTS,
    episodes: int = 5,
    seed: int = 0,
) -> dict:
    """The rare-event suite on one feature set: ``auroc``, ``auprc``, ``event_rate`` and
    ``tail_recall_at_k`` ({shots: recall}); the events are the tail classes of ``class_rank``
    ((K,) pretraining frequency rank, 0 = most frequent), listed under ``event_classes``."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    events = split_groups(class_rank)["tail"]
    detection = event_detection(train_features, train_labels, test_features, test_labels, events, k)
    recall = {str(n): few_shot_recall(train_features, train_labels, test_features, test_labels, events, n, episodes, seed) for n in shots}
    return {**detection, "tail_recall_at_k": recall, "event_classes": [int(c) for c in events]}


def protocol(k: int = 10, shots: Sequence[int] = SHOTS, episodes: int = 5) -> str:
    """One line naming the suite's settings (for eval.json and tables)."""
    return (
        f"events = tail classes of the pretraining data; score = mean cosine distance to the {k} nearest normal "
        f"training samples (AUROC, AUPRC); tail recall of a nearest-class-mean classifier at {list(shots)} shots "
        f"per class, mean of {episodes} draws"
    )
