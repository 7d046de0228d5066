"""Data sets larger than memory: ``.npy`` files opened as read-only memory maps (``data.name=npy``).

``data.path`` is a folder holding (the file names of the in-memory ``series_npy`` source):

* ``X_train.npy``: float32 series ``(n, C, T)`` or ``(n, T)``, or float32 images ``(n, C, H, W)``
  with values in [0, 1] (a 3-D array is series unless ``data.layout=NHW``; channels-last arrays
  are read with ``data.layout=NTC`` / ``NHWC`` as transposed views, still memory-mapped); NaN marks
  a missing series value;
* ``y_train.npy``: ``(n,)`` integer labels (any integers: their sorted unique values over both
  splits become classes ``0..K-1``, named by their value);
* ``X_test.npy``, ``y_test.npy``: the test split, required (an automatic split would copy rows).

Nothing is copied: the arrays stay on disk and training reads each batch's rows
(:func:`priormatch.training.loop.read_batch`), feature extraction one batch at a time. Only the
labels live in memory. Write a large ``X_train.npy`` without holding it in memory with
``np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, C, T))`` and fill it in
chunks.

Values are checked in chunks of about ``CHUNK_BYTES`` (memory stays flat) with the rules of
:func:`priormatch.data.arrays.validate_arrays`; that reads the files once, so a folder is checked
once per process and file version (cached by path, size and modification time).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from priormatch.data.arrays import DatasetSplits, Kind, LabeledArrays
from priormatch.data.layouts import LayoutRequest, check_plausible, resolve_layout, to_standard
from priormatch.errors import PriormatchError

FILES = ("X_train.npy", "y_train.npy", "X_test.npy", "y_test.npy")
CHUNK_BYTES = 64 * 2**20  # rows read at a time by the value checks
HOW_TO_GET = (
    "set data.path=FOLDER holding float32 X_train.npy (n, C, T) series or (n, C, H, W) images in [0, 1], "
    "integer y_train.npy, X_test.npy and y_test.npy; they are memory-mapped, never loaded whole"
)


def is_available(path: str | None) -> bool:
    """Whether ``path`` is a folder holding the four files."""
    return path is not None and all((Path(path) / name).is_file() for name in FILES)


def load_memmap_folder(path: str | None, layout: LayoutRequest | None = None) -> DatasetSplits:
    """The splits of a folder of ``.npy`` files, inputs memory-mapped read-only (see the module docstring);
    ``layout``: how the inputs are stored (default: (n, T) / (n, C, T) series, (n, C, H, W) images)."""
    if path is None:
        raise PriormatchError(f"data set 'npy' needs a folder: {HOW_TO_GET}")
    folder = Path(path).resolve()
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise PriormatchError(f"{folder}: missing {', '.join(missing)}; {HOW_TO_GET}")
    signature = tuple((name, (folder / name).stat().st_size, (folder / name).stat().st_mtime_ns) for name in FILES)
    return _load_checked(folder, signature, layout or LayoutRequest())


@functools.lru_cache(maxsize=8)
def _load_checked(folder: Path, signature: tuple, request: LayoutRequest) -> DatasetSplits:
    """Open, check and label the folder's arrays; ``signature`` (sizes, times) and the layout key the cache."""
    raw_train, raw_test = _open_inputs(folder / "X_train.npy"), _open_inputs(folder / "X_test.npy")
    kind: Kind = request.kind or ("image" if raw_train.ndim == 4 else "series")
    stored = resolve_layout(raw_train.shape, kind, request, str(folder / "X_train.npy"))
    resolve_layout(raw_test.shape, kind, request, str(folder / "X_test.npy"))
    x_train, x_test = to_standard(raw_train, stored), to_standard(raw_test, stored)  # views: still memory maps
    check_plausible(x_train.shape[1:], stored, request, f"{folder / 'X_train.npy'} {raw_train.shape}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise PriormatchError(
            f"{folder}: X_test.npy samples have shape {x_test.shape[1:]} but X_train.npy samples {x_train.shape[1:]}; "
            "make both splits the same size"
        )
    y_train, y_test, names = _encode_labels(folder, len(x_train), len(x_test))
    for name, x in (("X_train.npy", x_train), ("X_test.npy", x_test)):
        check_values_in_chunks(x, kind, str(folder / name))
    train, test = LabeledArrays(x_train, y_train, names), LabeledArrays(x_test, y_test, names)
    return DatasetSplits(folder.name, train, test, layout=stored)


def _open_inputs(path: Path) -> np.ndarray:
    """A read-only memory map of a float32 .npy file, as stored."""
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise PriormatchError(f"{path}: cannot memory-map ({error}); save a plain numeric array with np.save") from None
    if x.dtype != np.float32:
        raise PriormatchError(
            f"{path}: dtype {x.dtype}; memory-mapped inputs must be float32 (convert in chunks into "
            "np.lib.format.open_memmap(..., dtype=np.float32))"
        )
    if x.ndim not in (2, 3, 4) or len(x) == 0:
        raise PriormatchError(f"{path}: shape {x.shape}; expected series (n, T) / (n, C, T) or images (n, C, H, W) with n >= 1")
    return x


def _encode_labels(folder: Path, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Labels of both splits as codes 0..K-1 (read-only int64) and the class names."""
    labels = []
    for name, expected in (("y_train.npy", n_train), ("y_test.npy", n_test)):
        y = np.load(folder / name, allow_pickle=False)
        if y.shape != (expected,) or y.dtype.kind not in "iu":
            raise PriormatchError(
                f"{folder / name}: labels have shape {y.shape} and dtype {y.dtype}; expected ({expected},) integers, one per sample"
            )
        labels.append(y)
    values, codes = np.unique(np.concatenate(labels), return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    codes.setflags(write=False)
    names = tuple(str(v) for v in values.tolist())
    unseen = np.setdiff1d(codes[n_train:], codes[:n_train])
    if len(unseen):
        raise PriormatchError(
            f"{folder / 'y_test.npy'}: label {names[int(unseen[0])]} never occurs in y_train.npy; fix the labels or "
            "move samples of it into the train split"
        )
    return codes[:n_train], codes[n_train:], names


def check_values_in_chunks(x: np.ndarray, kind: Kind, source: str) -> None:
    """Raise on Inf anywhere, NaN in images, image values outside [0, 1] or an all-NaN series,
    reading ``x`` a chunk of rows at a time."""
    rows = max(1, CHUNK_BYTES // max(1, x[0].nbytes))
    for start in range(0, len(x), rows):
        chunk = np.asarray(x[start : start + rows])
        flat = chunk.reshape(len(chunk), -1)
        _raise_at(np.isinf(flat).any(axis=1), start, f"{source}: row {{row}} contains Inf; replace or drop it")
        if kind == "image":
            _raise_at(np.isnan(flat).any(axis=1), start, f"{source}: image {{row}} contains NaN; replace or drop it")
            outside = (flat < 0).any(axis=1) | (flat > 1).any(axis=1)
            _raise_at(outside, start, f"{source}: image {{row}} has values outside [0, 1]; store images scaled to [0, 1]")
        else:
            _raise_at(np.isnan(flat).all(axis=1), start, f"{source}: series {{row}} is entirely NaN; drop all-missing series")


def _raise_at(bad_rows: np.ndarray | np.bool_, start: int, message: str) -> None:
    if bad_rows.any():
        raise PriormatchError(message.format(row=start + int(np.flatnonzero(bad_rows)[0])))
