"""The IDX file format of MNIST and Fashion-MNIST: read and write, plain or gzip-compressed."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from pbnn.datasets.base import PathLike


_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = ", ".join(f"0x{c:02X} ({d.name})" for c, d in _IDX_DTYPES.items())


def _read_maybe_gzip(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({e})") from e


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B
    int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, then each dimension as a big-endian uint32; the big-endian
    data follow. Gzip is detected from the content, not the file name.
    Returns a writable array in native byte order with the stored dtype.
    Raises ``ValueError`` naming the path for a wrong magic number or a
    size that does not match the header.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a-idx1-ubyte.gz")
    >>> write_idx(p, np.arange(5, dtype=np.uint8))
    >>> read_idx(p)
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise ValueError(
            f"{path}: truncated IDX file: expected a 4-byte magic number, found {len(data)} bytes"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{data[:4].hex().upper()}, expected "
            f"0x00 0x00, a type code ({_IDX_CODES}) and the number of dimensions"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(
            f"{path}: truncated IDX file: header needs {head} bytes for {ndim} dimensions, "
            f"found {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:head])
    count = math.prod(shape)
    expected = count * dtype.itemsize
    got = len(data) - head
    if got != expected:
        what = "truncated IDX file" if got < expected else "IDX file has trailing bytes"
        raise ValueError(
            f"{path}: {what}: header says shape {shape} of {dtype.name} "
            f"({expected} data bytes expected), found {got}"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: PathLike, array: ArrayLike) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the
    types IDX can hold); others raise ``ValueError``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte")
    >>> write_idx(p, np.zeros((2, 3, 3), dtype=np.uint8)); read_idx(p).shape
    (2, 3, 3)
    """
    arr = np.asarray(array)
    codes = {d.newbyteorder("=").str[1:]: (c, d) for c, d in _IDX_DTYPES.items()}
    key = arr.dtype.newbyteorder("=").str[1:]
    if key not in codes or arr.dtype.kind not in "uif":
        raise ValueError(
            f"IDX cannot store dtype {arr.dtype}; use one of uint8, int8, int16, int32, float32, float64"
        )
    if arr.ndim > 255:
        raise ValueError("IDX supports at most 255 dimensions")
    code, dtype = codes[key]
    payload = (
        bytes([0, 0, code, arr.ndim])
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + np.ascontiguousarray(arr, dtype=dtype).tobytes()
    )
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
