"""How series files are read: the ``.ts`` reader, the CSV/TSV table reader, the ``.npy`` pair reader.

Reads:

* :func:`load_ts_file`: the sktime/aeon ``.ts`` format (UCR/UEA archives);
* :func:`load_series_table`: a UCR-style table, one series per row, label in column 0
  (``.csv``, or tab-separated ``.tsv``/``.tab``/``.txt``);
* :func:`load_series_npy`: an ``X.npy`` (n, T) or (n, C, T) array with a ``y.npy`` (n,) label array;

plus :func:`encode_labels`, the label encoding they share. Every reader returns ``x``
(n_cases, n_channels, n_timepoints) float32 with NaN for missing values and end padding, and the
original labels as strings; :func:`encode_labels` then maps a train and a test split onto one
integer coding ``0 .. K-1``. The registry loaders that call these readers live in
:mod:`priormatch.data.series_sources`.

A ``.ts`` file is a header of ``@tag value`` lines, then ``@data`` and one case per line::

    # comment
    @problemName BasicMotions
    @timeStamps false
    @missing true
    @univariate false
    @dimensions 2
    @equalLength false
    @classLabel true walking running
    @data
    1.0,2.0,?,4.0:0.5,0.25,0.125:walking

Channels are separated by ``:``, values by ``,``; ``?`` (or ``NaN``) marks a missing value; the
class label is the last ``:`` field. Channels and cases may have different lengths: every series is
padded at the end with NaN to the longest one in the file. The timestamped variant
(``@timeStamps true``, values like ``(2007-01-01 00:00:00,1.5)``) and regression targets are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from priormatch.data.layouts import LayoutRequest, check_plausible, resolve_layout, to_standard
from priormatch.errors import PriormatchError

# --- sktime/aeon .ts files ---------------------------------------------------------------

MISSING_TOKENS = ("?", "NaN", "nan")


@dataclass
class TsHeader:
    """The ``@`` tags of a ``.ts`` file that constrain its data lines (``None`` = not given)."""

    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    class_labels: tuple[str, ...] | None = None
    has_labels: bool = True


def load_ts_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.ts`` file: x (n_cases, n_channels, n_timepoints) float32 NaN-padded, labels (n_cases,) str."""
    path = Path(path)
    if not path.is_file():
        raise PriormatchError(f"{path}: .ts file not found; check the path")
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    header, first_data = _parse_header(lines, path)
    cases: list[list[np.ndarray]] = []
    labels: list[str] = []
    for number in range(first_data, len(lines)):
        text = lines[number].strip()
        if not text or text.startswith("#"):
            continue
        channels, label = _parse_data_line(text, header, f"{path}:{number + 1}")
        if header.dimensions is None:  # no @dimensions tag: the first case fixes the channel count
            header.dimensions = len(channels)
        cases.append(channels)
        labels.append(label)
    if not cases:
        raise PriormatchError(f"{path}: no data lines after @data; add one case per line")
    return _pad_cases(cases), np.asarray(labels, dtype=str)


def _parse_header(lines: list[str], path: Path) -> tuple[TsHeader, int]:
    """Parse the tags up to ``@data``; return the header and the index of the first data line."""
    header = TsHeader()
    for number, raw in enumerate(lines):
        text = raw.strip()
        where = f"{path}:{number + 1}"
        if not text or text.startswith("#"):
            continue
        if not text.startswith("@"):
            raise PriormatchError(f"{where}: data before the @data line; put '@data' after the header tags")
        tag, _, value = text[1:].partition(" ")
        tag, value = tag.lower(), value.strip()
        if tag == "data":
            if not header.has_labels:
                raise PriormatchError(f"{where}: file has '@classLabel false'; priormatch needs class labels (add them as the last field)")
            return header, number + 1
        _apply_tag(header, tag, value, where)
    raise PriormatchError(f"{path}: no '@data' line; a .ts file needs a header ending in '@data'")


def _apply_tag(header: TsHeader, tag: str, value: str, where: str) -> None:
    """Record one header tag; reject the variants this reader does not support."""
    if tag == "timestamps" and _parse_bool(value, tag, where):
        raise PriormatchError(f"{where}: '@timeStamps true' is not supported; export the series without timestamps")
    if tag == "targetlabel" and _parse_bool(value.split()[0] if value else "", tag, where):
        raise PriormatchError(f"{where}: regression targets (@targetLabel) are not supported; use class labels")
    if tag == "dimensions":
        header.dimensions = _parse_positive_int(value, tag, where)
    elif tag == "equallength":
        header.equal_length = _parse_bool(value, tag, where)
    elif tag == "serieslength":
        header.series_length = _parse_positive_int(value, tag, where)
    elif tag == "univariate" and _parse_bool(value, tag, where) and header.dimensions is None:
        header.dimensions = 1
    elif tag == "classlabel":
        flag, *names = value.split()
        header.has_labels = _parse_bool(flag, tag, where)
        header.class_labels = tuple(names) if header.has_labels and names else None


def _parse_bool(value: str, tag: str, where: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise PriormatchError(f"{where}: @{tag} expects 'true' or 'false', got {value!r}")
    return value.lower() == "true"


def _parse_positive_int(value: str, tag: str, where: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise PriormatchError(f"{where}: @{tag} expects a positive integer, got {value!r}")
    return int(value)


def _parse_data_line(text: str, header: TsHeader, where: str) -> tuple[list[np.ndarray], str]:
    """One case: a list of (T_c,) float64 channels and its label."""
    if "(" in text:
        raise PriormatchError(f"{where}: timestamped values '(...)' are not supported; export plain values")
    *fields, label = text.split(":")
    label = label.strip()
    if not fields or not label:
        raise PriormatchError(f"{where}: expected 'values[:values...]:label'; the class label must be the last field")
    if header.class_labels is not None and label not in header.class_labels:
        raise PriormatchError(
            f"{where}: label {label!r} is not declared in @classLabel {' '.join(header.class_labels)}; fix the label or the header"
        )
    if header.dimensions is not None and len(fields) != header.dimensions:
        raise PriormatchError(
            f"{where}: {len(fields)} channels but expected {header.dimensions} (from @dimensions or the first case); "
            "separate channels with ':'"
        )
    channels = [_parse_channel(values, f"{where} (channel {c})") for c, values in enumerate(fields)]
    if header.equal_length and header.series_length is not None:
        lengths = {len(channel) for channel in channels}
        if lengths != {header.series_length}:
            raise PriormatchError(
                f"{where}: series length {sorted(lengths)} but @seriesLength is {header.series_length}; "
                "fix the data or set '@equalLength false'"
            )
    return channels, label


def _parse_channel(values: str, where: str) -> np.ndarray:
    """(T,) float64 values of one channel; missing tokens become NaN."""
    tokens = [token.strip() for token in values.split(",")]
    if tokens == [""]:
        raise PriormatchError(f"{where}: empty channel; give at least one value or '?'")
    tokens = ["nan" if token in MISSING_TOKENS else token for token in tokens]
    try:
        return np.asarray(tokens, dtype=np.float64)
    except ValueError:
        bad = next(token for token in tokens if not _is_float(token))
        raise PriormatchError(f"{where}: value {bad!r} is not a number; use '?' for missing values") from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _pad_cases(cases: list[list[np.ndarray]]) -> np.ndarray:
    """Stack cases into (n, C, T_max) float32, padding every channel at the end with NaN."""
    num_channels = max(len(channels) for channels in cases)
    length = max(len(channel) for channels in cases for channel in channels)
    x = np.full((len(cases), num_channels, length), np.nan, dtype=np.float32)
    for i, channels in enumerate(cases):
        for c, channel in enumerate(channels):
            x[i, c, : len(channel)] = channel
    return x


# --- UCR-style CSV/TSV tables, .npy pairs and the shared label encoding ---------------------

TAB_SUFFIXES = (".tsv", ".tab", ".txt")


def load_series_table(path: str | Path, *, header: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read a univariate table, one series per row, label in column 0 (UCR layout).

    Tab-separated for ``.tsv``/``.tab``/``.txt``, comma-separated otherwise. Blank cells and
    ``NaN`` are missing values; shorter rows are padded at the end with NaN. ``header=True`` skips
    a first line of column names. Returns x (n, 1, T) float32 and labels (n,) str.
    """
    path = Path(path)
    if not path.is_file():
        raise PriormatchError(f"{path}: series table not found; check the path")
    sep = "\t" if path.suffix.lower() in TAB_SUFFIXES else ","
    skip = 1 if header else 0
    line_numbers, width = _scan_lines(path, sep, skip)
    if width < 2:
        raise PriormatchError(f"{path}: rows need a label then values (label in column 0); found {width} column(s)")
    frame = pd.read_csv(
        path,
        sep=sep,
        header=None,
        names=range(width),
        skiprows=skip,
        dtype={0: str},
        skip_blank_lines=True,
        keep_default_na=False,
        na_values=["", "NaN", "nan", "?"],
    )
    labels = _label_column(frame[0], path, line_numbers)
    values = _numeric_values(frame.drop(columns=[0]), path, line_numbers)
    return values[:, None, :], labels


def _scan_lines(path: Path, sep: str, skip: int) -> tuple[list[int], int]:
    """1-based file line number of each data row, and the most fields on any row (rows may be ragged)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    # pandas skips whitespace-only lines but keeps a line of bare separators (a row of blanks)
    numbers = [n + 1 for n in range(skip, len(lines)) if lines[n].replace(sep, "x").strip()]
    if not numbers:
        raise PriormatchError(f"{path}: no rows; write one series per line, label first")
    return numbers, max(lines[n - 1].count(sep) + 1 for n in numbers)


def _label_column(column: pd.Series, path: Path, line_numbers: list[int]) -> np.ndarray:
    """(n,) str labels; a blank label is an error naming its line."""
    labels = column.fillna("").astype(str).str.strip().to_numpy()
    blank = np.flatnonzero(labels == "")
    if len(blank):
        line = line_numbers[blank[0]]
        raise PriormatchError(f"{path}:{line}: missing class label in column 0; put the label first on every row")
    return labels.astype(str)


def _numeric_values(frame: pd.DataFrame, path: Path, line_numbers: list[int]) -> np.ndarray:
    """(n, T) float32 values; a non-numeric cell is an error naming its line and column."""
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            parsed = pd.to_numeric(frame[column], errors="coerce")
            bad_rows = np.flatnonzero((parsed.isna() & frame[column].notna()).to_numpy())
            line, bad = line_numbers[bad_rows[0]], frame[column].iloc[bad_rows[0]]
            raise PriormatchError(
                f"{path}:{line}: column {column + 1} holds {bad!r}, not a number; "
                "leave missing values blank or write NaN (header=True skips a header line)"
            )
    return frame.to_numpy(dtype=np.float32)


def load_series_npy(x_path: str | Path, y_path: str | Path, layout: LayoutRequest | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X.npy`` (n, T) or (n, C, T) (or (n, T, C) with the layout ``NTC``) and ``y.npy`` (n,);
    return x (n, C, T) float32 and labels (n,) str. The layout is checked for plausibility."""
    request = layout or LayoutRequest()
    x = _load_npy(x_path)
    y = _load_npy(y_path)
    if request.layout is None and x.ndim not in (2, 3):
        raise PriormatchError(f"{x_path}: array has shape {x.shape}; expected (n, timepoints) or (n, channels, timepoints)")
    stored = resolve_layout(x.shape, "series", request, str(x_path))
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise PriormatchError(f"{x_path}: dtype {x.dtype} is not numeric; save the series as float32")
    stored_shape, x = x.shape, to_standard(x, stored)
    check_plausible(x.shape[1:], stored, request, f"{x_path} {stored_shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise PriormatchError(f"{y_path}: labels have shape {y.shape}; expected ({len(x)},), one label per series in {x_path}")
    return np.ascontiguousarray(x, dtype=np.float32), _labels_as_text(y, y_path)


def _load_npy(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise PriormatchError(f"{path}: .npy file not found; check the path")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise PriormatchError(f"{path}: not a plain .npy array ({error}); save with np.save and no object dtype") from None


def _labels_as_text(y: np.ndarray, path: str | Path) -> np.ndarray:
    """(n,) str labels from a numeric or string array; NaN labels are an error."""
    if np.issubdtype(y.dtype, np.floating) and np.isnan(y).any():
        raise PriormatchError(f"{path}: label {int(np.flatnonzero(np.isnan(y))[0])} is NaN; drop unlabelled series")
    return np.asarray([str(label) for label in y.tolist()], dtype=str)


def encode_labels(train_labels: np.ndarray, test_labels: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Map original labels onto 0..K-1, one coding for both splits.

    Numeric labels are compared as numbers (so ``"1"``, ``"1.0"`` and ``"1.0000000e+00"`` are one
    class, named ``"1"``) and sorted numerically; otherwise labels are sorted as strings. Returns
    y_train (n_train,) int64, y_test (n_test,) int64 and the K class names. A test label never seen
    in training is an error.
    """
    train = _canonical(np.asarray(train_labels, dtype=str))
    test = _canonical(np.asarray(test_labels, dtype=str))
    names = _sorted_names(np.unique(train))
    index = {name: k for k, name in enumerate(names)}
    unseen = sorted(set(test.tolist()) - set(names))
    if unseen:
        raise PriormatchError(
            f"{source}: test label {unseen[0]!r} never occurs in the training split "
            f"(train labels: {', '.join(names)}); "
            "fix the labels or the split"
        )
    y_train = np.asarray([index[label] for label in train.tolist()], dtype=np.int64)
    y_test = np.asarray([index[label] for label in test.tolist()], dtype=np.int64)
    return y_train, y_test, names


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Strip labels; write integral numbers as integers ("1.0" -> "1")."""
    out = []
    for label in labels.tolist():
        label = label.strip()
        number = _as_number(label)
        out.append(str(int(number)) if number is not None and number.is_integer() else label)
    return np.asarray(out, dtype=str)


def _sorted_names(unique: np.ndarray) -> tuple[str, ...]:
    names = unique.tolist()
    numbers = [_as_number(name) for name in names]
    if all(number is not None for number in numbers):
        return tuple(name for _, name in sorted(zip(numbers, names)))
    return tuple(sorted(names))


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None
