"""Named data sets: a plain dict of sources plus a dict of prefixed families (``ucr:ECG5000``).

:func:`load_dataset` is the one entry point the training and evaluation code use; ``path`` is
the ``data.path`` config value (a directory or file, meaning depends on the source).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from priormatch.data import digits, fashion_mnist, user_arrays
from priormatch.data.arrays import DatasetSplits
from priormatch.errors import PriormatchError

FAMILY_SEPARATOR = ":"


@dataclass(frozen=True)
class DatasetSource:
    """One named data set: how to load it, whether it is present, and how to get it.

    ``kind`` is "image" or "series", or "any" for a user file that may hold either.
    """

    name: str
    description: str
    kind: Literal["image", "series", "any"]
    load: Callable[[str | None], DatasetSplits]
    is_available: Callable[[str | None], bool]
    how_to_get: str


def _load_user_npz(path: str | None) -> DatasetSplits:
    if path is None:
        raise PriormatchError(f"data set 'npz' needs a file: {user_arrays.HOW_TO_GET}")
    return user_arrays.load_npz(path)


def _npz_available(path: str | None) -> bool:
    return path is not None and Path(path).is_file() and path.endswith(".npz")


DATASETS: dict[str, DatasetSource] = {
    "fashion_mnist": DatasetSource(
        name="fashion_mnist",
        description="Fashion-MNIST: 60k/10k 28x28 grey images, 10 balanced classes",
        kind="image",
        load=fashion_mnist.load_fashion_mnist,
        is_available=fashion_mnist.is_available,
        how_to_get=fashion_mnist.HOW_TO_GET,
    ),
    "digits": DatasetSource(
        name="digits",
        description="scikit-learn digits: 1,797 8x8 grey images, 10 classes, stratified 80/20 split",
        kind="image",
        load=digits.load_digits,
        is_available=lambda path: True,
        how_to_get=digits.HOW_TO_GET,
    ),
    "npz": DatasetSource(
        name="npz",
        description="your own .npz with X, y (optional X_test, y_test): images or series",
        kind="any",
        load=_load_user_npz,
        is_available=_npz_available,
        how_to_get=user_arrays.HOW_TO_GET,
    ),
}

# Prefix -> loader(member_name, path) for names "prefix:member"; filled by optional modules.
DATASET_FAMILIES: dict[str, Callable[[str, str | None], DatasetSplits]] = {}
# Prefix -> input kind of every member of the family ("image" or "series").
FAMILY_KINDS: dict[str, Literal["image", "series"]] = {}


def valid_names() -> str:
    """One line listing the data set names and the family patterns, for error messages."""
    families = [f"{prefix}{FAMILY_SEPARATOR}NAME" for prefix in sorted(DATASET_FAMILIES)]
    return ", ".join(sorted(DATASETS) + families)


def load_dataset(name: str, path: str | None = None) -> DatasetSplits:
    """Load the data set ``name`` (a key of :data:`DATASETS` or ``family:member``) from ``path``."""
    if FAMILY_SEPARATOR in name:
        prefix, member = name.split(FAMILY_SEPARATOR, 1)
        if prefix not in DATASET_FAMILIES or not member:
            raise PriormatchError(f"unknown data set {name!r} (data.name); valid: {valid_names()}")
        return DATASET_FAMILIES[prefix](member, path)
    if name not in DATASETS:
        raise PriormatchError(f"unknown data set {name!r} (data.name); valid: {valid_names()}")
    return DATASETS[name].load(path)


def dataset_status(path: str | None = None) -> list[tuple[str, bool, str]]:
    """(name, available, how to get it) for each entry of :data:`DATASETS`, checked at ``path``."""
    return [(name, source.is_available(path), source.how_to_get) for name, source in DATASETS.items()]


def dataset_kind(name: str, path: str | None = None) -> Literal["image", "series"]:
    """'image' or 'series' for a data set name, without loading it when the kind is known."""
    if FAMILY_SEPARATOR in name:
        prefix = name.split(FAMILY_SEPARATOR, 1)[0]
        if prefix in FAMILY_KINDS:
            return FAMILY_KINDS[prefix]
    elif name in DATASETS and DATASETS[name].kind != "any":
        return DATASETS[name].kind  # type: ignore[return-value]
    return load_dataset(name, path).kind
