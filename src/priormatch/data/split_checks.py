"""Checks of a user's train / test split that warn rather than refuse: absent test classes, leaks.

* A class of the train split without test samples is allowed: the metrics cover the classes
  present (:func:`priormatch.evaluation.metrics.classification_metrics`), and one warning names
  the absent classes.
* Test rows that are exact copies (byte for byte, NaN included) of train rows inflate test
  accuracy; one warning gives their count. Rows are hashed a chunk at a time, so a memory-mapped
  split is read once and memory stays flat; splits larger than :data:`MAX_SCANNED_BYTES` together
  are not scanned (the warning says so).
"""

from __future__ import annotations

import warnings

import numpy as np

from priormatch.data.arrays import DatasetSplits, LabeledArrays

MAX_SCANNED_BYTES = 2 * 2**30  # train + test inputs scanned for duplicates (read once more at each start)
CHUNK_BYTES = 64 * 2**20  # rows read at a time


def missing_test_classes(splits: DatasetSplits) -> list[str]:
    """Names of the classes with train samples but no test sample."""
    train_counts, test_counts = splits.train.class_counts(), splits.test.class_counts()
    return [splits.train.class_names[c] for c in np.flatnonzero((train_counts > 0) & (test_counts == 0))]


def count_test_rows_in_train(splits: DatasetSplits) -> int | None:
    """Number of test rows equal to some train row, or None when the splits are too large to scan."""
    if splits.train.x.nbytes + splits.test.x.nbytes > MAX_SCANNED_BYTES:
        return None
    train_rows = set(_row_digests(splits.train))
    return sum(digest in train_rows for digest in _row_digests(splits.test))


def warn_about_splits(splits: DatasetSplits) -> None:
    """One warning per finding of :func:`missing_test_classes` and :func:`count_test_rows_in_train`."""
    absent = missing_test_classes(splits)
    if absent:
        shown = ", ".join(repr(name) for name in absent[:5]) + (", ..." if len(absent) > 5 else "")
        warnings.warn(
            f"{splits.name}: {len(absent)} of {splits.num_classes} classes have no test samples ({shown}); "
            "test metrics cover the classes present",
            stacklevel=2,
        )
    duplicates = count_test_rows_in_train(splits)
    if duplicates is None:
        warnings.warn(
            f"{splits.name}: splits larger than {MAX_SCANNED_BYTES // 2**30} GiB are not checked for test rows that copy train rows",
            stacklevel=2,
        )
    elif duplicates:
        warnings.warn(
            f"{splits.name}: {duplicates} of {len(splits.test)} test samples are exact copies of train samples; "
            "test accuracy is inflated unless you drop them from one split",
            stacklevel=2,
        )


def _row_digests(arrays: LabeledArrays) -> list[int]:
    """Python hash of the bytes of each row of ``arrays.x`` (n, ...), a chunk of rows at a time."""
    x = arrays.x
    rows = max(1, CHUNK_BYTES // max(1, x[0].nbytes)) if len(x) else 1
    digests: list[int] = []
    for start in range(0, len(x), rows):
        chunk = np.ascontiguousarray(x[start : start + rows]).reshape(min(rows, len(x) - start), -1)
        digests.extend(hash(row.tobytes()) for row in chunk)
    return digests
