"""Data set registry: a plain dict of named sources plus a dict of prefixed families (``ucr:ECG5000``).

:func:`load_dataset` is the one entry point the training and evaluation code use; ``path`` is
the ``data.path`` config value (a directory or file, meaning depends on the source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from priormatch.data import digits, fashion_mnist, memmap_arrays, overlay, series_sources, ucr, user_arrays
from priormatch.data.arrays import DatasetSplits
from priormatch.data.layouts import LayoutRequest
from priormatch.errors import PriormatchError

FAMILY_SEPARATOR = ":"


@dataclass(frozen=True)
class DatasetSource:
    """One named data set: how to load it, whether it is present, and how to get it.

    ``kind`` is "image" or "series", or "any" for a user file that may hold either. A source with
    ``reads_layout`` is loaded as ``load(path, layout)`` (a :class:`LayoutRequest`, ``data.layout``);
    the others fix their own layout and are loaded as ``load(path)``.
    """

    name: str
    description: str
    kind: Literal["image", "series", "any"]
    load: Callable[..., DatasetSplits]
    is_available: Callable[[str | None], bool]
    how_to_get: str
    user_file: bool = False  # the data are the user's own file(s), named by data.path
    reads_layout: bool = False  # arrays whose axes data.layout names (npz, series_npy, npy)


def _load_user_npz(path: str | None, layout: LayoutRequest | None = None) -> DatasetSplits:
    if path is None:
        raise PriormatchError(f"data set 'npz' needs a file: {user_arrays.HOW_TO_GET}")
    return user_arrays.load_npz(path, layout=layout)


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
    "overlay": DatasetSource(
        name="overlay",
        description="toy: Fashion-MNIST with a digit stamped on (clothing balanced, digit power-law); labels: clothing",
        kind="image",
        load=overlay.load_overlay,
        is_available=fashion_mnist.is_available,
        how_to_get=overlay.HOW_TO_GET,
    ),
    "npz": DatasetSource(
        name="npz",
        description="your own .npz with X, y (optional X_test, y_test): images or series",
        kind="any",
        load=_load_user_npz,
        is_available=_npz_available,
        how_to_get=user_arrays.HOW_TO_GET,
        user_file=True,
        reads_layout=True,
    ),
    "ts": DatasetSource(
        name="ts",
        description="your own sktime/aeon .ts file (data.path), univariate or multivariate",
        kind="series",
        load=series_sources.load_ts_source,
        is_available=series_sources.ts_available,
        how_to_get=series_sources.TS_HOW_TO_GET,
        user_file=True,
    ),
    "series_csv": DatasetSource(
        name="series_csv",
        description="your own CSV/TSV table (data.path): one univariate series per row, label first",
        kind="series",
        load=series_sources.load_table_source,
        is_available=series_sources.table_available,
        how_to_get=series_sources.TABLE_HOW_TO_GET,
        user_file=True,
    ),
    "series_npy": DatasetSource(
        name="series_npy",
        description="your own X_train.npy / y_train.npy (+ X_test.npy, y_test.npy) in a folder (data.path)",
        kind="series",
        load=series_sources.load_npy_source,
        is_available=series_sources.npy_available,
        how_to_get=series_sources.NPY_HOW_TO_GET,
        user_file=True,
        reads_layout=True,
    ),
    "npy": DatasetSource(
        name="npy",
        description="X_train.npy, y_train.npy, X_test.npy, y_test.npy in a folder (data.path), memory-mapped: larger than memory",
        kind="any",
        load=memmap_arrays.load_memmap_folder,
        is_available=memmap_arrays.is_available,
        how_to_get=memmap_arrays.HOW_TO_GET,
        user_file=True,
        reads_layout=True,
    ),
    "regimes": DatasetSource(
        name="regimes",
        description="synthetic regime-switching series, Zipf train split with rare regimes (regimes:KEY=VALUE,...)",
        kind="series",
        load=lambda path: series_sources.load_regimes("", path),
        is_available=lambda path: True,
        how_to_get="generated in memory; see priormatch.data.regimes",
    ),
}


@dataclass(frozen=True)
class FamilyStatus:
    """What ``priormatch datasets`` shows for a family: its name pattern and what is available.

    ``available(path)`` describes the members loadable from ``path`` in a few words, or is ``None``.
    """

    pattern: str
    available: Callable[[str | None], str | None]
    how_to_get: str


def _ucr_available(path: str | None) -> str | None:
    if not ucr.ucr_available(path):
        return None
    if path is not None:
        return f"local UCR archive at {path}"
    names = ucr.ucr_package_names()
    return f"{len(names)} sets in the '{ucr.PACKAGE}' package: {names[0]}, {names[1]}, ..., {names[-1]}"


# Prefix -> loader(member_name, path) for names "prefix:member".
DATASET_FAMILIES: dict[str, Callable[[str, str | None], DatasetSplits]] = {
    "ucr": ucr.load_ucr,
    "regimes": series_sources.load_regimes,
}
# Prefix -> input kind of every member of the family ("image" or "series").
FAMILY_KINDS: dict[str, Literal["image", "series"]] = {"ucr": "series", "regimes": "series"}
# Prefix -> how to list the family (families without an entry show as "prefix:NAME").
FAMILY_STATUS: dict[str, FamilyStatus] = {
    "ucr": FamilyStatus(
        pattern="ucr:NAME",
        available=_ucr_available,
        how_to_get=f"{ucr.INSTALL_HINT}, or set data.path=ROOT of a UCR archive (ROOT/<Name>/<Name>_TRAIN.tsv)",
    ),
    "regimes": FamilyStatus(
        pattern="regimes:KEY=VALUE,...",
        available=lambda path: "generated in memory",
        how_to_get="KEY is an argument of make_regime_splits, e.g. regimes:rare_count=5,seed=1",
    ),
}


def _family_pattern(prefix: str) -> str:
    status = FAMILY_STATUS.get(prefix)
    return status.pattern if status else f"{prefix}{FAMILY_SEPARATOR}NAME"


def valid_names() -> str:
    """One line listing the data set names and the family patterns, for error messages."""
    families = [_family_pattern(prefix) for prefix in sorted(DATASET_FAMILIES)]
    return ", ".join(sorted(DATASETS) + families)


def load_dataset(name: str, path: str | None = None, layout: LayoutRequest | None = None) -> DatasetSplits:
    """Load the data set ``name`` (a key of :data:`DATASETS` or ``family:member``) from ``path``;
    ``layout`` (``data.layout``) says how a user array file is stored."""
    if FAMILY_SEPARATOR in name:
        prefix, member = name.split(FAMILY_SEPARATOR, 1)
        if prefix not in DATASET_FAMILIES or not member:
            raise PriormatchError(f"unknown data set {name!r} (data.name); valid: {valid_names()}")
        _check_no_layout(name, layout)
        return DATASET_FAMILIES[prefix](member, path)
    if name not in DATASETS:
        raise PriormatchError(f"unknown data set {name!r} (data.name); valid: {valid_names()}")
    source = DATASETS[name]
    if source.reads_layout:
        return source.load(path, layout)
    _check_no_layout(name, layout)
    return source.load(path)


def _check_no_layout(name: str, layout: LayoutRequest | None) -> None:
    """A layout only applies to array files; other sources define their axes themselves."""
    if layout is not None and layout.layout is not None:
        readers = ", ".join(n for n, source in DATASETS.items() if source.reads_layout)
        raise PriormatchError(
            f"{layout.layout_setting}={layout.layout} applies to array files (data.name {readers}); data set {name!r} "
            f"defines its own layout: drop {layout.layout_setting}"
        )


def dataset_status(path: str | None = None) -> list[tuple[str, bool, str]]:
    """(name, available, how to get it) for each entry of :data:`DATASETS`, checked at ``path``."""
    return [(name, source.is_available(path), source.how_to_get) for name, source in DATASETS.items()]


def family_status(path: str | None = None) -> list[tuple[str, bool, str]]:
    """(pattern, available, detail) for each family: what is available at ``path``, else how to get it."""
    rows = []
    for prefix in sorted(FAMILY_STATUS):
        status = FAMILY_STATUS[prefix]
        found = status.available(path)
        rows.append((status.pattern, found is not None, found or status.how_to_get))
    return rows


def dataset_kind(name: str, path: str | None = None, layout: LayoutRequest | None = None) -> Literal["image", "series"]:
    """'image' or 'series' for a data set name, without loading it when the kind (or the layout) tells."""
    if FAMILY_SEPARATOR in name:
        prefix = name.split(FAMILY_SEPARATOR, 1)[0]
        if prefix in FAMILY_KINDS:
            return FAMILY_KINDS[prefix]
    elif name in DATASETS and DATASETS[name].kind != "any":
        return DATASETS[name].kind  # type: ignore[return-value]
    elif name in DATASETS and layout is not None and layout.kind is not None:
        return layout.kind
    return load_dataset(name, path, layout).kind
