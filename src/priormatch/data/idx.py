"""Read IDX files (the MNIST / Fashion-MNIST array format), gzipped or not, with NumPy.

Layout (all big-endian): two zero bytes, one dtype code byte, one byte with the number of
dimensions ``ndim``, then ``ndim`` uint32 sizes, then the values in C order. A gzipped file is
recognised by its content (the gzip magic bytes), not by its name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from priormatch.errors import PriormatchError

_GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code (byte 2 of the magic number) -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Return the array stored in the IDX file at ``path`` (native byte order, shape from the header).

    Raises :class:`PriormatchError` for a missing, truncated or corrupt file.
    """
    path = Path(path)
    data = _read_bytes(path)
    dtype, shape, offset = _parse_header(data, path)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual < expected:
        raise PriormatchError(
            f"{path}: IDX file is truncated ({actual} of {expected} data bytes for shape {shape}); download or reinstall the file"
        )
    if actual > expected:
        raise PriormatchError(
            f"{path}: IDX file has {actual - expected} bytes after the data for shape {shape}; "
            "the file is corrupt, download or reinstall it"
        )
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when the file is gzipped."""
    if not path.is_file():
        raise PriormatchError(f"{path}: IDX file not found; check the path")
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise PriormatchError(f"{path}: gzip data is truncated or corrupt ({error}); download or reinstall the file") from None


def _parse_header(data: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, offset of the first value) from the IDX header at the start of ``data``."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise PriormatchError(f"{path}: not an IDX file (the first two bytes must be zero); check that it is an *-ubyte file")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise PriormatchError(
            f"{path}: unknown IDX dtype code 0x{code:02X}; expected one of "
            f"{', '.join(f'0x{c:02X}' for c in IDX_DTYPES)} (the file is corrupt)"
        )
    if ndim == 0:
        raise PriormatchError(f"{path}: IDX header declares 0 dimensions; the file is corrupt")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise PriormatchError(
            f"{path}: IDX header is truncated ({len(data)} bytes, {offset} needed for {ndim} dimensions); download or reinstall the file"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return IDX_DTYPES[code], shape, offset
