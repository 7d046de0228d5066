"""Series sources: the loaders the registry calls, for user ``.ts`` / CSV / ``.npy`` files and the synthetic regimes.

Each loader takes the ``data.path`` config value and returns validated train/test splits of
(n, C, T) float32 series; the files are read by :mod:`priormatch.data.series_formats` and the
loaders are named in :mod:`priormatch.data.registry`:

* ``ts``: ``data.path`` is a ``.ts`` file (sktime/aeon format);
* ``series_csv``: a table, one series per row, label in column 0 (``.csv``, or tab-separated
  ``.tsv``/``.tab``/``.txt``: the UCR layout);
* ``series_npy``: a folder holding ``X_train.npy`` (n, T) or (n, C, T) (or (n, T, C) with
  ``data.layout=NTC``) and ``y_train.npy`` (n,).

The test split comes from the matching file when it exists: ``*_TRAIN*`` -> ``*_TEST*`` for a
``.ts`` or table file (as in the UCR/UEA archives), ``X_test.npy`` + ``y_test.npy`` for a folder.
Without one, a deterministic stratified 80/20 split of the training file is used. Shorter series
and a shorter split are padded at the end with NaN (missing), as the UCR loader does.

``regimes`` builds :func:`priormatch.data.regimes.make_regime_splits` with :data:`REGIME_DEFAULTS`;
the family name ``regimes:KEY=VALUE,...`` overrides any of those arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from priormatch.data.arrays import DatasetSplits, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.data.layouts import LayoutRequest, resolve_layout
from priormatch.data.regimes import make_regime_splits
from priormatch.data.series_formats import encode_labels, load_series_npy, load_series_table, load_ts_file
from priormatch.data.user_arrays import SPLIT_SEED, TEST_FRACTION, stratified_split
from priormatch.errors import PriormatchError

SeriesReader = Callable[[Path], tuple[np.ndarray, np.ndarray]]  # file -> x (n, C, T), labels (n,) str

TS_HOW_TO_GET = "set data.path=FILE_TRAIN.ts (a FILE_TEST.ts beside it is the test split)"
TABLE_HOW_TO_GET = "set data.path=FILE_TRAIN.csv or .tsv, one series per row, label first (FILE_TEST beside it)"
NPY_HOW_TO_GET = "set data.path=FOLDER holding X_train.npy, y_train.npy (optional X_test.npy, y_test.npy)"
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")

# make_regime_splits arguments of `data.name=regimes` (2,000 long-tailed train series, 800 balanced test).
REGIME_DEFAULTS: dict[str, float | int] = {
    "n_train": 2000,
    "n_test_per_regime": 100,
    "length": 128,
    "num_regimes": 8,
    "zipf_exponent": 1.0,
    "rare_regimes": 2,
    "rare_count": 10,
    "noise_std": 0.3,
    "seed": 0,
}


@dataclass(frozen=True)
class _RawSplit:
    """Series and their original labels, before the shared label coding."""

    x: np.ndarray  # (n, C, T) float32
    labels: np.ndarray  # (n,) str
    source: str


def load_ts_source(path: str | None) -> DatasetSplits:
    """The ``ts`` source: a ``.ts`` file (and its ``_TEST`` twin) as splits."""
    file = _required_file(path, "ts", (".ts",), TS_HOW_TO_GET)
    return _file_splits(file, load_ts_file)


def load_table_source(path: str | None) -> DatasetSplits:
    """The ``series_csv`` source: a CSV/TSV table (and its ``_TEST`` twin) as splits."""
    file = _required_file(path, "series_csv", TABLE_SUFFIXES, TABLE_HOW_TO_GET)
    return _file_splits(file, load_series_table)


def load_npy_source(path: str | None, layout: LayoutRequest | None = None) -> DatasetSplits:
    """The ``series_npy`` source: ``X_train.npy``/``y_train.npy`` (+ ``X_test``/``y_test``) in a folder,
    stored in ``layout`` (default: (n, T) / (n, C, T), checked)."""
    if path is None or not Path(path).is_dir():
        raise PriormatchError(f"data set 'series_npy' needs a folder (got data.path={path!r}); {NPY_HOW_TO_GET}")
    folder = Path(path)
    train = _RawSplit(*load_series_npy(folder / "X_train.npy", folder / "y_train.npy", layout), str(folder))
    has_test = [(folder / name).is_file() for name in ("X_test.npy", "y_test.npy")]
    if any(has_test) and not all(has_test):
        raise PriormatchError(f"{folder}: X_test.npy and y_test.npy must be given together or not at all")
    test = _RawSplit(*load_series_npy(folder / "X_test.npy", folder / "y_test.npy", layout), str(folder)) if all(has_test) else None
    stored = resolve_layout(_npy_shape(folder / "X_train.npy"), "series", layout or LayoutRequest(), str(folder))
    return replace(_to_splits(folder.name, train, test), layout=stored)


def _npy_shape(path: Path) -> tuple[int, ...]:
    """The shape of a .npy file, read from its header (memory-mapped, nothing loaded)."""
    return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)


def ts_available(path: str | None) -> bool:
    return path is not None and Path(path).is_file() and Path(path).suffix.lower() == ".ts"


def table_available(path: str | None) -> bool:
    return path is not None and Path(path).is_file() and Path(path).suffix.lower() in TABLE_SUFFIXES


def npy_available(path: str | None) -> bool:
    return path is not None and (Path(path) / "X_train.npy").is_file() and (Path(path) / "y_train.npy").is_file()


def load_regimes(member: str, path: str | None = None) -> DatasetSplits:
    """``regimes:KEY=VALUE,...``: the rare-regime splits with :data:`REGIME_DEFAULTS` overridden.

    ``member`` "" (plain ``regimes``) keeps the defaults; ``path`` is unused (the data are generated).
    """
    arguments = dict(REGIME_DEFAULTS)
    arguments.update(_parse_regime_arguments(member))
    n_train, n_test = int(arguments.pop("n_train")), int(arguments.pop("n_test_per_regime"))
    length = int(arguments.pop("length"))
    splits = make_regime_splits(n_train, n_test, length, **arguments)  # type: ignore[arg-type]
    return DatasetSplits(f"regimes-{member}" if member else "regimes", splits.train, splits.test)


def _parse_regime_arguments(member: str) -> dict[str, float | int]:
    """'rare_count=5,seed=1' -> {'rare_count': 5, 'seed': 1}, typed like the defaults."""
    parsed: dict[str, float | int] = {}
    for item in filter(None, (part.strip() for part in member.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in REGIME_DEFAULTS:
            raise PriormatchError(f"data.name=regimes:{member}: {item!r} is not KEY=VALUE with KEY one of {', '.join(REGIME_DEFAULTS)}")
        kind = type(REGIME_DEFAULTS[key])
        try:
            parsed[key] = kind(value)
        except ValueError:
            raise PriormatchError(f"data.name=regimes:{member}: {key}={value!r} is not a {kind.__name__}") from None
    return parsed


def _required_file(path: str | None, source: str, suffixes: tuple[str, ...], how_to_get: str) -> Path:
    if path is None:
        raise PriormatchError(f"data set {source!r} needs a file: {how_to_get}")
    file = Path(path)
    if not file.is_file():
        raise PriormatchError(f"{file}: file not found for data set {source!r}; {how_to_get}")
    if file.suffix.lower() not in suffixes:
        raise PriormatchError(f"{file}: data set {source!r} reads {', '.join(suffixes)} files; {how_to_get}")
    return file


def _test_twin(file: Path) -> Path | None:
    """``Name_TRAIN.ext`` -> ``Name_TEST.ext`` when that file exists (either case of TRAIN)."""
    for train, test in (("_TRAIN", "_TEST"), ("_train", "_test")):
        if train in file.stem:
            twin = file.with_name(file.stem.replace(train, test) + file.suffix)
            return twin if twin.is_file() else None
    return None


def _file_splits(file: Path, read: SeriesReader) -> DatasetSplits:
    train = _RawSplit(*read(file), str(file))
    twin = _test_twin(file)
    test = _RawSplit(*read(twin), str(twin)) if twin is not None else None
    name = file.stem.replace("_TRAIN", "").replace("_train", "")
    return _to_splits(name, train, test)


def _to_splits(name: str, train: _RawSplit, test: _RawSplit | None) -> DatasetSplits:
    """One label coding, a stratified split when there is no test file, NaN padding, validation."""
    if test is None:
        y, _, class_names = encode_labels(train.labels, np.asarray([], dtype=str), train.source)
        train_rows, test_rows = stratified_split(y, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
        x_train, y_train, x_test, y_test = train.x[train_rows], y[train_rows], train.x[test_rows], y[test_rows]
    else:
        y_train, y_test, class_names = encode_labels(train.labels, test.labels, train.source)
        x_train, x_test = _pad_pair(train.x, test.x, train.source)
    train_arrays = validate_arrays(LabeledArrays(x_train, y_train, class_names), train.source)
    check_no_empty_class(train_arrays, train.source)
    test_source = test.source if test is not None else train.source
    test_arrays = validate_arrays(LabeledArrays(x_test, y_test, class_names), test_source)
    return DatasetSplits(name, train_arrays, test_arrays)


def _pad_pair(x_train: np.ndarray, x_test: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Both splits NaN-padded at the end to the longer length; channel counts must agree."""
    if x_train.shape[1] != x_test.shape[1]:
        raise PriormatchError(f"{source}: train has {x_train.shape[1]} channels but test has {x_test.shape[1]}; use matching files")
    length = max(x_train.shape[2], x_test.shape[2])

    def pad(x: np.ndarray) -> np.ndarray:  # (n, C, T) -> (n, C, length)
        return np.pad(x, ((0, 0), (0, 0), (0, length - x.shape[2])), constant_values=np.nan)

    return pad(x_train), pad(x_test)
