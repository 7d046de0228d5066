"""Classification metrics that expose a mismatched cluster prior: head / medium / tail accuracy.

A uniform prior tends to flatten rare classes, so overall accuracy alone hides the effect (paper
notes, section on evaluation). Classes are grouped by how frequent they were in the *pretraining*
data (``class_rank[c]``: 0 = most frequent class), and each group reports a class-balanced accuracy.

Group rule (:func:`split_groups`): with K classes sorted by rank, head and tail each take
``h = floor(K / 3 + 1/2)`` classes (K/3 rounded to the nearest integer) and medium takes the
remaining ``K - 2h``. So K=10 gives 3/4/3, K=5 gives 2/1/2, K=8 gives 3/2/3, K=3 gives 1/1/1; every
group is non-empty for K >= 3. For K = 2 the groups are 1/0/1 (no medium); for K = 1 the single
class is head.

All returned values are plain floats, lists and ``None`` (for undefined values), so the dict can be
written with ``json.dump`` as is.
"""

from __future__ import annotations

import math

import numpy as np

from priormatch.errors import PriormatchError

GROUP_NAMES = ("head", "medium", "tail")


def split_groups(class_rank: np.ndarray) -> dict[str, list[int]]:
    """Class indices of the head / medium / tail groups, each listed from most to least frequent.

    class_rank: (K,) permutation of 0..K-1; ``class_rank[c]`` is the frequency rank of class c in
    the pretraining data (0 = most frequent). See the module docstring for the split rule.
    """
    rank = _check_class_rank(class_rank)
    num_classes = rank.size
    by_rank = np.argsort(rank).tolist()  # class indices, most frequent first
    if num_classes == 1:
        return {"head": by_rank, "medium": [], "tail": []}
    edge = max(1, math.floor(num_classes / 3 + 0.5))
    return {
        "head": by_rank[:edge],
        "medium": by_rank[edge : num_classes - edge],
        "tail": by_rank[num_classes - edge :],
    }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int, class_rank: np.ndarray) -> dict:
    """Accuracy, balanced accuracy, macro-F1, per-class and head/medium/tail accuracy.

    y_true, y_pred: (n,) integer labels in [0, num_classes).
    class_rank: (num_classes,) pretraining frequency rank of each class (0 = most frequent).

    Returns a JSON-serialisable dict:
      - ``accuracy``: fraction of correct predictions.
      - ``balanced_accuracy``: mean per-class accuracy (= recall) over classes present in y_true.
      - ``macro_f1``: mean F1 over classes present in y_true or y_pred (scikit-learn's default set).
      - ``per_class_accuracy``: list of length K, recall of each class; ``None`` if absent from y_true.
      - ``head_accuracy``, ``medium_accuracy``, ``tail_accuracy``: mean of the per-class accuracies
        of the group's classes present in y_true (class-balanced, so a frequent test class does
        not dominate); ``None`` when the group is empty or none of its classes is in y_true.
      - ``groups``: the class indices of each group, from :func:`split_groups`.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    if len(class_rank) != num_classes:
        raise PriormatchError(f"class_rank has {len(class_rank)} entries but num_classes={num_classes}; pass one rank per class")
    groups = split_groups(class_rank)
    confusion = confusion_matrix(y_true, y_pred, num_classes)
    per_class = _per_class_accuracy(confusion)
    present = ~np.isnan(per_class)
    result = {
        "accuracy": float(np.trace(confusion) / y_true.size),
        "balanced_accuracy": float(per_class[present].mean()),
        "macro_f1": _macro_f1(confusion),
        "per_class_accuracy": [None if np.isnan(a) else float(a) for a in per_class],
    }
    for name in GROUP_NAMES:
        result[f"{name}_accuracy"] = _group_accuracy(per_class, groups[name])
    result["groups"] = groups
    return result


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts; entry [t, p] = number of samples of true class t predicted as p."""
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """(K,) recall of each class, NaN for classes with no true samples."""
    support = confusion.sum(axis=1)
    correct = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, correct / support, np.nan)


def _macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 = 2TP / (2TP + FP + FN) over classes that occur in y_true or y_pred."""
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    seen = denominator > 0
    return float(np.mean(2 * tp[seen] / denominator[seen]))


def _group_accuracy(per_class: np.ndarray, classes: list[int]) -> float | None:
    """Class-balanced accuracy of a group; None if no class of the group has test samples."""
    values = per_class[classes] if classes else np.empty(0)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (n,) int64 copies of the label vectors."""
    if num_classes < 1:
        raise PriormatchError(f"num_classes={num_classes}; pass the number of classes (>= 1)")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or y_true.size == 0:
        raise PriormatchError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be non-empty 1-D arrays of equal length")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise PriormatchError(f"{name} has dtype {labels.dtype}; pass integer class labels")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise PriormatchError(
                f"{name} has labels in [{labels.min()}, {labels.max()}] outside [0, {num_classes}); check num_classes or remap the labels"
            )
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def _check_class_rank(class_rank: np.ndarray) -> np.ndarray:
    """Validate that class_rank is a permutation of 0..K-1 and return it as (K,) int64."""
    rank = np.asarray(class_rank)
    num_classes = rank.size
    if rank.ndim != 1 or num_classes == 0 or not np.array_equal(np.sort(rank), np.arange(num_classes)):
        raise PriormatchError(f"class_rank must be a permutation of 0..K-1 (rank 0 = most frequent class), got {rank.tolist()[:10]}")
    return rank.astype(np.int64)
