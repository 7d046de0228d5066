"""Groups instead of labels for the mechanism of an experiment (``data.groups``).

Labels do two jobs in priormatch: they *drive* an experiment (which samples form the long-tailed
pretraining subset, which classes share a batch under the class-imbalanced sampler, the counts of
the ``class_counts`` prior) and they *score* it (probes, per-class and head/tail metrics). Users
with imbalanced data rarely have classes for the first job; they have metadata (subject, device,
site) or nothing. ``data.groups`` replaces the labels in the first job only:

* ``file``: the ``groups`` entry of the ``.npz`` (one value per sample, any hashable type; with
  ``X_test`` given, its groups are not needed);
* ``kmeans:C``: C clusters of k-means on the standardised raw training inputs (missing values
  0, reduced to at most 50 principal components first), seeded by ``data.class_order_seed``:
  label-free groups for data without metadata.

An ``.npz`` without ``y`` but with ``groups`` uses the groups as its labels too, so the whole
diagnosis (prototype usage, probes, head/tail) is then about the user's groups.
"""

from __future__ import annotations

import numpy as np

from priormatch.data.arrays import LabeledArrays
from priormatch.errors import PriormatchError

MAX_COMPONENTS = 50


def resolve_groups(spec: str | None, train: LabeledArrays, seed: int) -> np.ndarray | None:
    """(n,) int64 group codes 0..G-1 of the training split for ``data.groups=spec``; None for labels."""
    if spec is None:
        return None
    if spec == "file":
        if train.groups is None:
            raise PriormatchError(
                "data.groups=file needs a 'groups' entry in the .npz (one value per sample of X); save it with "
                "np.savez(..., groups=...) or use data.groups=kmeans:C"
            )
        return train.groups
    if spec.startswith("kmeans:"):
        return kmeans_groups(train.x, parse_cluster_count(spec, len(train)), seed)
    raise PriormatchError(f"data.groups={spec!r} is not one of: file, kmeans:C (e.g. kmeans:8); drop it to use the labels")


def mechanism_labels(train: LabeledArrays, groups: np.ndarray | None) -> tuple[np.ndarray, int]:
    """((n,) codes that drive the experiment, how many values they take): the ``groups`` when
    given, else the training labels and the number of classes."""
    if groups is None:
        return train.y, train.num_classes
    return groups, int(groups.max()) + 1


def parse_cluster_count(spec: str, num_samples: int) -> int:
    """C of ``kmeans:C``: an integer from 2 to the number of training samples."""
    text = spec.removeprefix("kmeans:")
    if not text.isdigit() or not 2 <= int(text) <= num_samples:
        raise PriormatchError(f"data.groups={spec!r}: C must be an integer from 2 to {num_samples} (the training samples), e.g. kmeans:8")
    return int(text)


def kmeans_groups(x: np.ndarray, num_clusters: int, seed: int) -> np.ndarray:
    """(n,) cluster codes of the (n, ...) inputs, clusters numbered by decreasing size."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    flat = np.nan_to_num(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
    flat = (flat - flat.mean(axis=0)) / np.where(flat.std(axis=0) > 1e-12, flat.std(axis=0), 1.0)
    components = min(MAX_COMPONENTS, flat.shape[1], len(flat))
    reduced = PCA(components, random_state=seed).fit_transform(flat) if components < flat.shape[1] else flat
    codes = KMeans(num_clusters, n_init=4, random_state=seed).fit_predict(reduced)
    by_size = np.argsort(-np.bincount(codes, minlength=num_clusters), kind="stable")
    return np.argsort(by_size)[codes].astype(np.int64)
