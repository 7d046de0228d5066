"""scikit-learn's 8x8 handwritten digits (UCI; 1,797 images, 10 roughly balanced classes).

Ships inside scikit-learn, so it is always available offline. There is no official test split:
a deterministic stratified 80/20 split (seed 0) is used.
"""

from __future__ import annotations

import numpy as np
from sklearn import datasets

from priormatch.data.arrays import DatasetSplits, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.data.user_arrays import stratified_split
from priormatch.errors import PriormatchError

HOW_TO_GET = "ships with scikit-learn (always available)"
MAX_PIXEL = 16.0  # pixel values are counts 0..16 of a 4x4 block of the original 32x32 bitmaps
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits(path: str | None = None) -> DatasetSplits:
    """Images (n, 1, 8, 8) float32 in [0, 1] (pixel / 16) and labels 0..9, split 80/20 by class.

    ``path`` must be None: the data come from scikit-learn.
    """
    if path is not None:
        raise PriormatchError(f"digits ships with scikit-learn and takes no data.path (got {path!r}); remove data.path")
    bunch = datasets.load_digits()
    x = (bunch.images.astype(np.float32) / MAX_PIXEL)[:, None]
    y = bunch.target.astype(np.int64)
    names = tuple(str(name) for name in bunch.target_names)
    train_idx, test_idx = stratified_split(y, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
    train = validate_arrays(LabeledArrays(x[train_idx], y[train_idx], names), "digits (train)")
    test = validate_arrays(LabeledArrays(x[test_idx], y[test_idx], names), "digits (test)")
    check_no_empty_class(train, "digits (train)")
    check_no_empty_class(test, "digits (test)")
    return DatasetSplits("digits", train, test)
