"""A user's own labelled arrays from one ``.npz`` file.

Entries of the file:

* ``X`` (required): images ``(n, H, W)`` (a channel axis is added) or ``(n, C, H, W)``, or series
  ``(n, T)`` (a channel axis is added) or ``(n, C, T)``. A 3-D ``X`` is ambiguous, so the kind comes
  from the ``kind`` argument or a ``kind`` entry in the file (``np.savez(f, X=X, y=y, kind="image")``);
  2-D is always series and 4-D always images.
* ``y`` (required): one label per sample, any integers or strings. The sorted unique values of
  ``y`` and ``y_test`` together become classes ``0..K-1`` and their text the class names.
* ``X_test`` and ``y_test`` (optional, both or neither): the test split. Without them a
  deterministic stratified 80/20 split of ``X`` is used (:func:`stratified_split`, seed 0).

Image values: uint8 images are divided by 255; other images whose maximum exceeds 1 are divided
by the maximum over train and test together (so 12-bit or 0..255 float images land in [0, 1]);
images already in [0, 1] are kept. Negative, NaN or Inf image values are errors. Series are kept
as float32 as they are (NaN marks missing values).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import get_args

import numpy as np

from priormatch.data.arrays import DatasetSplits, Kind, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.errors import PriormatchError

TEST_FRACTION = 0.2
SPLIT_SEED = 0
HOW_TO_GET = (
    "save np.savez(FILE.npz, X=..., y=...[, X_test=..., y_test=..., kind='image'|'series']) "
    "and set data.path=FILE.npz"
)


def stratified_split(y: np.ndarray, *, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices holding ``round(test_fraction * n_c)`` of each class c in test.

    Every class keeps at least one sample on each side, so each class needs >= 2 samples.
    Deterministic given ``seed``.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        if len(members) < 2:
            raise PriormatchError(
                f"class {label.item()!r} has {len(members)} sample; a stratified train/test split needs >= 2 per "
                "class: add samples or provide X_test and y_test"
            )
        n_test = min(max(round(test_fraction * len(members)), 1), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_npz(path: str | Path, kind: Kind | None = None) -> DatasetSplits:
    """Load a user ``.npz`` (see the module docstring) as validated splits named after the file."""
    path = Path(path)
    entries = _read_npz(path)
    kind = _resolve_kind(entries, kind, path)
    x_train, x_test = entries["X"], entries.get("X_test")
    y_train, y_test = entries["y"], entries.get("y_test")
    if x_test is None:
        y_codes, names = encode_labels(y_train, None, path)
        _check_splittable(y_codes, names, path)
        train_idx, test_idx = stratified_split(y_codes, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
        x_train, x_test = x_train[train_idx], x_train[test_idx]
        y_train_codes, y_test_codes = y_codes[train_idx], y_codes[test_idx]
    else:
        y_train_codes, y_test_codes, names = _encode_pair(y_train, y_test, path)
    x_train, x_test = _to_layout(x_train, kind, path, "X"), _to_layout(x_test, kind, path, "X_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise PriormatchError(
            f"{path}: X_test samples have shape {x_test.shape[1:]} but X samples {x_train.shape[1:]}; "
            "make both splits the same size"
        )
    if kind == "image":
        x_train, x_test = scale_images(x_train, x_test, path)
    train = _validated(LabeledArrays(x_train, y_train_codes, names), f"{path} (train)")
    test = _validated(LabeledArrays(x_test, y_test_codes, names), f"{path} (test)")
    return DatasetSplits(path.stem, train, test)


def encode_labels(y: np.ndarray, y_test: np.ndarray | None, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..K-1 for ``y`` from the sorted unique values of ``y`` (and ``y_test``), with their names."""
    values = y if y_test is None else np.concatenate([y, y_test])
    if values.ndim != 1:
        raise PriormatchError(f"{path}: labels have shape {values.shape}; save y (and y_test) as 1-D arrays")
    if values.dtype.kind == "f":
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            raise PriormatchError(f"{path}: labels are non-integer floats; save y as integers or strings")
        values = values.astype(np.int64)
    elif values.dtype.kind not in "biuUS":
        raise PriormatchError(f"{path}: labels have dtype {values.dtype}; save y as integers or strings")
    unique, codes = np.unique(values, return_inverse=True)
    names = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in unique.tolist())
    return codes.reshape(-1).astype(np.int64), names


def scale_images(x_train: np.ndarray, x_test: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Float32 images in [0, 1]: uint8 / 255, else / max(train, test) when that max exceeds 1."""
    for name, x in (("X", x_train), ("X_test", x_test)):
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise PriormatchError(f"{path}: {name} images contain NaN or Inf; replace or drop those samples")
        if x.size and x.min() < 0:
            raise PriormatchError(
                f"{path}: {name} images have negative values (min {x.min()}); store images in [0, 1] or "
                "0..255, or pass them as series (kind='series')"
            )
    if x_train.dtype == np.uint8 and x_test.dtype == np.uint8:
        scale = 255.0
    else:
        scale = max(float(x_train.max(initial=0)), float(x_test.max(initial=0)), 1.0)
    return (x_train / scale).astype(np.float32), (x_test / scale).astype(np.float32)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The file's entries; checks that ``X``/``y`` exist and ``X_test``/``y_test`` come together."""
    if not path.is_file():
        raise PriormatchError(f"{path}: file not found; {HOW_TO_GET}")
    if not zipfile.is_zipfile(path):
        raise PriormatchError(f"{path}: not a .npz (zip) archive; {HOW_TO_GET}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            entries = {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise PriormatchError(f"{path}: cannot read without pickle ({error}); save numeric or string arrays") from None
        raise PriormatchError(f"{path}: not a readable .npz file ({str(error).splitlines()[0]}); {HOW_TO_GET}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise PriormatchError(f"{path}: not a readable .npz file ({error}); {HOW_TO_GET}") from None
    missing = [key for key in ("X", "y") if key not in entries]
    if missing:
        raise PriormatchError(f"{path}: missing {' and '.join(missing)} (found {sorted(entries)}); {HOW_TO_GET}")
    if ("X_test" in entries) != ("y_test" in entries):
        raise PriormatchError(f"{path}: X_test and y_test must be given together or not at all")
    unknown = sorted(set(entries) - {"X", "y", "X_test", "y_test", "kind"})
    if unknown:
        raise PriormatchError(f"{path}: unknown entries {unknown}; allowed: X, y, X_test, y_test, kind")
    for x_key, y_key in (("X", "y"), ("X_test", "y_test")):
        if x_key in entries:
            _check_split_entries(entries[x_key], entries[y_key], x_key, y_key, path)
    return entries


def _check_split_entries(x: np.ndarray, y: np.ndarray, x_key: str, y_key: str, path: Path) -> None:
    """One 1-D label per sample, at least one sample, and no empty sample axis."""
    if y.ndim != 1:
        raise PriormatchError(f"{path}: {y_key} has shape {y.shape}; save it as a 1-D array, one label per sample")
    if x.ndim == 0 or y.shape[:1] != x.shape[:1]:
        raise PriormatchError(f"{path}: {y_key} has shape {y.shape} but {x_key} {x.shape}; give one label per sample")
    if len(x) == 0:
        raise PriormatchError(f"{path}: {x_key} holds no samples; save at least two labelled samples per class")
    if 0 in x.shape[1:]:
        raise PriormatchError(f"{path}: {x_key} has shape {x.shape}, with an empty axis; every sample needs values")


def _resolve_kind(entries: dict[str, np.ndarray], kind: Kind | None, path: Path) -> Kind:
    """The kind from the argument, else the file's ``kind`` entry, else from X's number of axes."""
    if kind is None and "kind" in entries:
        kind = str(entries["kind"])  # type: ignore[assignment]
    if kind is not None and kind not in get_args(Kind):
        raise PriormatchError(f"{path}: kind={kind!r} is not one of {get_args(Kind)}")
    ndim = entries["X"].ndim
    allowed = {"image": (3, 4), "series": (2, 3)}
    if kind is None:
        if ndim == 3:
            raise PriormatchError(
                f"{path}: X has shape {entries['X'].shape}, which may be (n, H, W) images or (n, C, T) series; "
                "add kind='image' or kind='series' to the .npz"
            )
        kind = {4: "image", 2: "series"}.get(ndim)  # type: ignore[assignment]
    if kind is None or ndim not in allowed[kind]:
        raise PriormatchError(
            f"{path}: X has shape {entries['X'].shape}; expected images (n, H, W) / (n, C, H, W) or "
            "series (n, T) / (n, C, T)"
        )
    return kind


def _to_layout(x: np.ndarray, kind: Kind, path: Path, name: str) -> np.ndarray:
    """Images (n, C, H, W) or series (n, C, T), adding a channel axis where it is missing."""
    if x.dtype.kind not in "biuf":
        raise PriormatchError(f"{path}: {name} has dtype {x.dtype}; save it as a numeric array")
    needs_channel = (kind == "image" and x.ndim == 3) or (kind == "series" and x.ndim == 2)
    x = x[:, None] if needs_channel else x
    expected_ndim = 4 if kind == "image" else 3
    if x.ndim != expected_ndim:
        raise PriormatchError(f"{path}: {name} has shape {x.shape}, which does not match the {kind}s in X")
    return x if kind == "image" else x.astype(np.float32)


def _encode_pair(y: np.ndarray, y_test: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Codes for ``y`` and ``y_test`` over their joint classes, with the class names."""
    if y_test.ndim != 1:
        raise PriormatchError(f"{path}: y_test has shape {y_test.shape}; save it as a 1-D array")
    if (y.dtype.kind in "US") != (y_test.dtype.kind in "US"):
        raise PriormatchError(f"{path}: y is {y.dtype} but y_test {y_test.dtype}; use the same label type")
    codes, names = encode_labels(y, y_test, path)
    return codes[: len(y)], codes[len(y) :], names


def _check_splittable(codes: np.ndarray, names: tuple[str, ...], path: Path) -> None:
    """Every class needs 2 samples for the automatic stratified train/test split."""
    counts = np.bincount(codes, minlength=len(names))
    if (counts < 2).any():
        c = int(np.argmin(counts))
        raise PriormatchError(
            f"{path}: class {names[c]!r} has {counts[c]} sample; the automatic stratified 80/20 split needs "
            ">= 2 per class: add samples of it or provide X_test and y_test"
        )


def _validated(arrays: LabeledArrays, source: str) -> LabeledArrays:
    arrays = validate_arrays(arrays, source)
    check_no_empty_class(arrays, source)
    return arrays
