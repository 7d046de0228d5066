"""Data: labelled arrays, named data sets (images, UCR and user series, synthetic regimes), long-tailed
subsets, batch samplers and image / series views."""

from priormatch.data.arrays import DatasetSplits, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.data.digits import load_digits
from priormatch.data.fashion_mnist import load_fashion_mnist
from priormatch.data.idx import read_idx
from priormatch.data.image_views import ImageViews
from priormatch.data.layouts import LAYOUTS, LayoutRequest
from priormatch.data.long_tail import class_ranking, long_tail_counts, long_tail_indices
from priormatch.data.regimes import REGIMES, make_regime_series, make_regime_splits
from priormatch.data.registry import (
    DATASET_FAMILIES,
    DATASETS,
    FAMILY_KINDS,
    FAMILY_STATUS,
    DatasetSource,
    FamilyStatus,
    dataset_kind,
    dataset_status,
    family_status,
    load_dataset,
)
from priormatch.data.samplers import (
    ClassImbalancedSampler,
    GlobalBatchSampler,
    ShuffleSampler,
    batch_indices,
    rank_slice,
)
from priormatch.data.series_formats import load_series_npy, load_series_table, load_ts_file
from priormatch.data.series_sources import REGIME_DEFAULTS, load_npy_source, load_regimes, load_table_source, load_ts_source
from priormatch.data.series_views import SeriesViews
from priormatch.data.ucr import load_ucr, ucr_available, ucr_package_names
from priormatch.data.user_arrays import load_npz, stratified_split

__all__ = [
    "DATASETS",
    "DATASET_FAMILIES",
    "ClassImbalancedSampler",
    "DatasetSource",
    "FAMILY_KINDS",
    "FAMILY_STATUS",
    "FamilyStatus",
    "REGIMES",
    "REGIME_DEFAULTS",
    "SeriesViews",
    "dataset_kind",
    "DatasetSplits",
    "GlobalBatchSampler",
    "ImageViews",
    "LAYOUTS",
    "LayoutRequest",
    "LabeledArrays",
    "ShuffleSampler",
    "batch_indices",
    "check_no_empty_class",
    "class_ranking",
    "dataset_status",
    "family_status",
    "load_npy_source",
    "load_regimes",
    "load_series_npy",
    "load_series_table",
    "load_table_source",
    "load_ts_file",
    "load_ts_source",
    "load_ucr",
    "make_regime_series",
    "make_regime_splits",
    "ucr_available",
    "ucr_package_names",
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
