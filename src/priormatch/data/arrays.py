"""In-memory labelled arrays: the one data container every loader returns.

Images are ``(n, channels, height, width)`` float32 in [0, 1]; series are
``(n_cases, n_channels, n_timepoints)`` float32 (the aeon/sktime layout), where NaN marks a
missing value or the padding of a shorter series. Labels are int64 in ``0 .. num_classes - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from priormatch.errors import PriormatchError

Kind = Literal["image", "series"]


@dataclass(frozen=True)
class LabeledArrays:
    """Inputs ``x`` (n, ...) with integer labels ``y`` (n,) and the names of the classes; ``groups``
    (n,) integer metadata codes where the source has them (:mod:`priormatch.data.groups`)."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    groups: np.ndarray | None = None

    @property
    def kind(self) -> Kind:
        return "image" if self.x.ndim == 4 else "series"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (C, T) for series."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, indices: np.ndarray) -> LabeledArrays:
        groups = None if self.groups is None else self.groups[indices]
        return LabeledArrays(self.x[indices], self.y[indices], self.class_names, groups)

    def class_counts(self) -> np.ndarray:
        """(num_classes,) number of samples per class."""
        return np.bincount(self.y, minlength=self.num_classes)


@dataclass(frozen=True)
class DatasetSplits:
    """A named data set: a training split (pretraining and probe fitting) and a test split.

    ``layout``: the layout the inputs were stored in (:mod:`priormatch.data.layouts`, e.g. "NTC"),
    None when they came in priormatch's own (n, C, T) / (n, C, H, W).
    """

    name: str
    train: LabeledArrays
    test: LabeledArrays
    layout: str | None = None

    @property
    def kind(self) -> Kind:
        return self.train.kind

    @property
    def num_classes(self) -> int:
        return self.train.num_classes


def validate_arrays(arrays: LabeledArrays, source: str) -> LabeledArrays:
    """Check shapes, dtypes, labels and values; raise a one-line :class:`PriormatchError`.

    ``source`` names where the arrays came from (a file path or data set name) in messages.
    NaN is allowed in series (missing values) but a series that is entirely NaN is not;
    images must be finite.
    """
    x, y = arrays.x, arrays.y
    if x.ndim not in (3, 4):
        raise PriormatchError(
            f"{source}: inputs have shape {x.shape}; expected (n, channels, timepoints) for series "
            "or (n, channels, height, width) for images"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise PriormatchError(f"{source}: labels have shape {y.shape}; expected ({len(x)},), one per sample")
    if len(y) == 0:
        raise PriormatchError(f"{source}: no samples; provide at least one labelled sample per class")
    if 0 in x.shape[1:]:
        raise PriormatchError(f"{source}: inputs have shape {x.shape}, with an empty axis; every sample needs values")
    if np.isinf(x).any():
        raise PriormatchError(f"{source}: inputs contain Inf; replace or drop those samples")
    if arrays.kind == "image" and np.isnan(x).any():
        raise PriormatchError(f"{source}: images contain NaN; replace or drop those samples")
    if arrays.kind == "series":
        empty = np.isnan(x).reshape(len(x), -1).all(axis=1)
        if empty.any():
            raise PriormatchError(f"{source}: series {int(np.flatnonzero(empty)[0])} is entirely NaN; drop all-missing series")
    if y.min() < 0 or y.max() >= arrays.num_classes:
        raise PriormatchError(f"{source}: labels must lie in 0..{arrays.num_classes - 1}; found {y.min()}..{y.max()}")
    return LabeledArrays(x.astype(np.float32, copy=False), y.astype(np.int64, copy=False), arrays.class_names, arrays.groups)


def check_no_empty_class(arrays: LabeledArrays, source: str) -> None:
    """Raise if a class has no sample (a class the model can never see or be evaluated on)."""
    counts = arrays.class_counts()
    if (counts == 0).any():
        empty = int(np.flatnonzero(counts == 0)[0])
        raise PriormatchError(
            f"{source}: class {empty} ({arrays.class_names[empty]!r}) has no samples; "
            "relabel classes to 0..K-1 without gaps or add samples of that class"
        )
