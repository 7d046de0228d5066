"""Reader for the sktime/aeon ``.ts`` time-series format (UCR/UEA archives).

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

from priormatch.errors import PriormatchError

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
