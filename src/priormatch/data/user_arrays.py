"""A user's own labelled arrays from one ``.npz`` file.

Entries of the file:

* ``X`` (required): images ``(n, H, W)`` (a channel axis is added) or ``(n, C, H, W)``, or series
  ``(n, T)`` (a channel axis is added) or ``(n, C, T)``; channels-last arrays ``(n, H, W, C)`` /
  ``(n, T, C)`` are read with the layout ``NHWC`` / ``NTC`` (``data.layout``, see
  :mod:`priormatch.data.layouts`), and every layout is checked for plausibility. A 3-D ``X`` is
  ambiguous, so the kind comes from the ``kind`` argument, a ``kind`` entry in the file
  (``np.savez(f, X=X, y=y, kind="image")``) or the layout; 2-D is always series and 4-D always images.
* ``y`` (required unless ``groups`` is given): one label per sample, any integers or strings. The
  sorted unique values of ``y`` and ``y_test`` together become classes ``0..K-1`` and their text the
  class names.
* ``groups`` (optional): one metadata value per sample of ``X`` (subject, device, site, ...), used
  by ``data.groups=file`` (:mod:`priormatch.data.groups`). Without ``y`` the groups are the labels
  too (then ``X_test`` needs ``groups_test``).
* ``X_test`` and ``y_test`` (optional, both or neither): the test split. Without them a
  deterministic stratified 80/20 split of ``X`` is used (:func:`stratified_split`, seed 0). A
  given test split may lack classes of the train split (metrics cover the classes present); a test
  label absent from ``y`` is an error.

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
from priormatch.data.layouts import LayoutRequest, check_plausible, resolve_layout, to_standard
from priormatch.errors import PriormatchError

ENTRIES = ("X", "y", "X_test", "y_test", "kind", "groups", "groups_test")
TEST_FRACTION = 0.2
SPLIT_SEED = 0
HOW_TO_GET = "save np.savez(FILE.npz, X=..., y=...[, X_test=..., y_test=..., kind='image'|'series']) and set data.path=FILE.npz"


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


def load_npz(path: str | Path, kind: Kind | None = None, layout: LayoutRequest | None = None) -> DatasetSplits:
    """Load a user ``.npz`` (see the module docstring) as validated splits named after the file.

    ``layout``: how ``X`` / ``X_test`` are stored (default: the standard layout, checked).
    """
    path = Path(path)
    request = layout or LayoutRequest()
    entries = _read_npz(path)
    kind = _resolve_kind(entries, kind, request, path)
    stored = resolve_layout(entries["X"].shape, kind, request, f"{path}: X")
    x_train, x_test = entries["X"], entries.get("X_test")
    y_train, y_test = entries["y"], entries.get("y_test")
    groups = encode_labels(entries["groups"], None, path)[0] if "groups" in entries else None
    if x_test is None:
        y_codes, names = encode_labels(y_train, None, path)
        _check_splittable(y_codes, names, path)
        train_idx, test_idx = stratified_split(y_codes, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
        x_train, x_test = x_train[train_idx], x_train[test_idx]
        y_train_codes, y_test_codes = y_codes[train_idx], y_codes[test_idx]
        groups = None if groups is None else groups[train_idx]
    else:
        assert y_test is not None  # _read_npz: X_test and y_test come together
        y_train_codes, y_test_codes, names = _encode_pair(y_train, y_test, path)
    x_train, x_test = _to_layout(x_train, kind, stored, path, "X"), _to_layout(x_test, kind, stored, path, "X_test")
    check_plausible(x_train.shape[1:], stored, request, f"{path}: X {entries['X'].shape}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise PriormatchError(
            f"{path}: X_test samples have shape {x_test.shape[1:]} but X samples {x_train.shape[1:]}; make both splits the same size"
        )
    if kind == "image":
        x_train, x_test = scale_images(x_train, x_test, path)
    train = _validated(LabeledArrays(x_train, y_train_codes, names, groups), f"{path} (train)")
    test = validate_arrays(LabeledArrays(x_test, y_test_codes, names), f"{path} (test)")  # classes may be absent
    return DatasetSplits(path.stem, train, test, layout=stored)


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
    if "y" not in entries and "groups" in entries:  # no labels: the groups are the labels
        entries["y"] = entries["groups"]
        if "groups_test" in entries:
            entries["y_test"] = entries["groups_test"]
    missing = [key for key in ("X", "y") if key not in entries]
    if missing:
        raise PriormatchError(f"{path}: missing {' and '.join(missing)} (found {sorted(entries)}); {HOW_TO_GET}")
    if ("X_test" in entries) != ("y_test" in entries):
        raise PriormatchError(f"{path}: X_test and y_test (or groups_test without y) must be given together or not at all")
    unknown = sorted(set(entries) - set(ENTRIES))
    if unknown:
        raise PriormatchError(f"{path}: unknown entries {unknown}; allowed: {', '.join(ENTRIES)}")
    for x_key, y_key in (("X", "y"), ("X_test", "y_test"), ("X", "groups")):
        if x_key in entries and y_key in entries:
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


def _resolve_kind(entries: dict[str, np.ndarray], kind: Kind | None, request: LayoutRequest, path: Path) -> Kind:
    """The kind from the argument, else the file's ``kind`` entry, else the layout, else from X's
    number of axes; a layout of the other kind is an error."""
    if kind is None and "kind" in entries:
        kind = str(entries["kind"])  # type: ignore[assignment]
    if kind is not None and kind not in get_args(Kind):
        raise PriormatchError(f"{path}: kind={kind!r} is not one of {get_args(Kind)}")
    if request.kind is not None:
        if kind is not None and kind != request.kind:
            raise PriormatchError(
                f"{path}: the file says kind={kind!r} but {request.layout_setting}={request.layout} is a "
                f"{request.kind} layout; set a {kind} layout or fix the file's kind"
            )
        return request.kind
    ndim = entries["X"].ndim
    allowed = {"image": (3, 4), "series": (2, 3)}
    if kind is None:
        if ndim == 3:
            raise PriormatchError(
                f"{path}: X has shape {entries['X'].shape}, which may be (n, H, W) images or (n, C, T) series; "
                "add kind='image' or kind='series' to the .npz (or set data.layout, e.g. NHW or NCT)"
            )
        kind = {4: "image", 2: "series"}.get(ndim)  # type: ignore[assignment]
    if kind is None or ndim not in allowed[kind]:
        raise PriormatchError(
            f"{path}: X has shape {entries['X'].shape}; expected images (n, H, W) / (n, C, H, W) or series (n, T) / (n, C, T)"
        )
    return kind


def _to_layout(x: np.ndarray, kind: Kind, stored: str, path: Path, name: str) -> np.ndarray:
    """Images (n, C, H, W) or series (n, C, T) float32, C-contiguous, from ``x`` stored in ``stored``."""
    if x.dtype.kind not in "biuf":
        raise PriormatchError(f"{path}: {name} has dtype {x.dtype}; save it as a numeric array")
    if x.ndim != len(stored):
        raise PriormatchError(f"{path}: {name} has shape {x.shape}, which does not match the {kind}s in X ({stored})")
    x = np.ascontiguousarray(to_standard(x, stored))
    return x if kind == "image" else x.astype(np.float32)


def _encode_pair(y: np.ndarray, y_test: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Codes for ``y`` and ``y_test`` over their joint classes, with the class names."""
    if y_test.ndim != 1:
        raise PriormatchError(f"{path}: y_test has shape {y_test.shape}; save it as a 1-D array")
    if (y.dtype.kind in "US") != (y_test.dtype.kind in "US"):
        raise PriormatchError(f"{path}: y is {y.dtype} but y_test {y_test.dtype}; use the same label type")
    codes, names = encode_labels(y, y_test, path)
    train_codes, test_codes = codes[: len(y)], codes[len(y) :]
    _check_test_labels_seen(train_codes, test_codes, names, str(path))
    return train_codes, test_codes, names


def _check_test_labels_seen(train_codes: np.ndarray, test_codes: np.ndarray, names: tuple[str, ...], source: str) -> None:
    """A test label without train samples could be neither learned nor probed: an error naming it."""
    unseen = np.setdiff1d(test_codes, train_codes)
    if len(unseen):
        raise PriormatchError(
            f"{source}: test label {names[int(unseen[0])]!r} never occurs in y (the train split); fix the labels or "
            "move samples of it into the train split"
        )


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
