"""Data: labelled arrays, named data sets, long-tailed subsets, batch samplers and image views."""

from priormatch.data.arrays import DatasetSplits, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.data.digits import load_digits
from priormatch.data.fashion_mnist import load_fashion_mnist
from priormatch.data.idx import read_idx
from priormatch.data.image_views import ImageViews
from priormatch.data.long_tail import class_ranking, long_tail_counts, long_tail_indices
from priormatch.data.registry import (
    DATASET_FAMILIES,
    DATASETS,
    FAMILY_KINDS,
    DatasetSource,
    dataset_kind,
    dataset_status,
    load_dataset,
)
from priormatch.data.series_views import SeriesViews
from priormatch.data.samplers import (
    ClassImbalancedSampler,
    GlobalBatchSampler,
    ShuffleSampler,
    batch_indices,
    rank_slice,
)
from priormatch.data.user_arrays import load_npz, stratified_split

__all__ = [
    "DATASETS",
    "DATASET_FAMILIES",
    "ClassImbalancedSampler",
    "DatasetSource",
    "FAMILY_KINDS",
    "SeriesViews",
    "dataset_kind",
    "DatasetSplits",
    "GlobalBatchSampler",
    "ImageViews",
    "LabeledArrays",
    "ShuffleSampler",
    "batch_indices",
    "check_no_empty_class",
    "class_ranking",
    "dataset_status",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_npz",
    "long_tail_counts",
    "long_tail_indices",
    "rank_slice",
    "read_idx",
    "stratified_split",
    "validate_arrays",
]
