"""Streamed readers of pair files: what the headers say, then row-paired blocks.

What :mod:`gaplab.scale` reads a shard with, one pair of functions per streamable format
(listed in :data:`gaplab.io.readers.FORMATS`):

* ``header(path, keys, error) -> [(n, d, dtype, path), (n, d, dtype, path)]``: rows,
  width and on-disk dtype of the image and text sides, from the headers only;
* ``blocks(path, keys, dim, block_rows, error)``: ``(image, text)`` blocks of at most
  ``block_rows`` rows in the file's dtype (views of reused buffers: copy what you keep).

Reading never loads a file: ``.npy`` data is read with positioned reads (``os.pread``) of
``block_rows`` rows at a time, ``.npz`` members are streamed, parquet is read in record
batches. ``error`` is the class raised (``InputError``, or ``BadShardError`` for shards);
every message starts with the file.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._errors import InputError
from ._formats import (
    KEY_HINT,
    check_list_type,
    list_column_to_array,
    no_arrays,
    no_key,
    open_npy,
    open_zip,
    read_npy_header,
)

__all__ = ["NpyLayout", "npy_layouts", "iter_npy", "npy_header", "npy_blocks", "npz_header", "npz_blocks",
           "parquet_header", "parquet_blocks"]

Side = tuple[int, int, np.dtype, Path]
Error = type[InputError]


@dataclass(frozen=True)
class NpyLayout:
    """Where a C-ordered (…, N, d) array sits in a file: rows are contiguous from ``offset``."""

    path: Path
    offset: int  # byte offset of row 0 of this modality
    n: int
    dim: int
    dtype: np.dtype


def _check_dtype(dtype: np.dtype, where: Path, error: Error) -> None:
    if dtype.kind != "f" or dtype.hasobject:
        raise error(f"{where}: embeddings must be float16/32/64, got dtype {dtype}")


def npy_layouts(path: Path, pairs: bool, error: Error = InputError) -> list[NpyLayout]:
    """Layouts of the modalities of a .npy file: ``(2, N, d)`` pairs, or one ``(N, d)`` array."""
    shape, fortran, dtype, start = open_npy(path, error=error)  # also checks the size
    _check_dtype(dtype, path, error)
    want = (2,) if pairs else ()
    if len(shape) != len(want) + 2 or shape[: len(want)] != want:
        expected = "(2, N, d)" if pairs else "(N, d)"
        raise error(f"{path}: expected an array of shape {expected}, got {shape}")
    if fortran and int(np.prod(shape[:-1])) > 1 and shape[-1] > 1:
        raise error(f"{path}: array is Fortran-ordered; rows must be contiguous (C order)")
    n, d = int(shape[-2]), int(shape[-1])
    per = n * d * dtype.itemsize
    return [NpyLayout(path, start + i * per, n, d, dtype) for i in range(2 if pairs else 1)]


def _side(lay: NpyLayout) -> Side:
    return lay.n, lay.dim, lay.dtype, lay.path


def _pread_rows(fd: int, layout: NpyLayout, lo: int, hi: int, buf: bytearray, error: Error) -> np.ndarray:
    """Rows [lo, hi) read into ``buf`` (reused from call to call: no fresh pages per chunk)."""
    row = layout.dim * layout.dtype.itemsize
    want = (hi - lo) * row
    view = memoryview(buf)[:want]
    got = os.preadv(fd, [view], layout.offset + lo * row)
    if got != want:  # the file shrank since its header was checked
        raise error(f"{layout.path}: truncated .npy: short read at row {lo}")
    return np.frombuffer(view, dtype=layout.dtype).reshape(hi - lo, layout.dim)


def iter_npy(
    layouts: tuple[NpyLayout, NpyLayout], block_rows: int, error: Error = InputError
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row-paired blocks of two ``.npy`` layouts (one file of pairs, or one file per modality)."""
    fds: dict[Path, int] = {}
    try:
        for lay in layouts:
            if lay.path not in fds:
                fds[lay.path] = os.open(lay.path, os.O_RDONLY)
        x, y = layouts
        rows = min(block_rows, x.n)
        bx = bytearray(rows * x.dim * x.dtype.itemsize)
        by = bytearray(rows * y.dim * y.dtype.itemsize)
        for lo in range(0, x.n, block_rows):
            hi = min(lo + block_rows, x.n)
            yield _pread_rows(fds[x.path], x, lo, hi, bx, error), _pread_rows(fds[y.path], y, lo, hi, by, error)
    finally:
        for fd in fds.values():
            os.close(fd)


# ---- .npy of shape (2, N, d) -------------------------------------------------------------


def npy_header(path: Path, keys: tuple[str, str], error: Error = InputError) -> list[Side]:
    """Both sides of a ``(2, N, d)`` ``.npy`` (``keys`` unused: index 0 is image, 1 text)."""
    x, y = npy_layouts(path, True, error)
    return [_side(x), _side(y)]


def npy_blocks(
    path: Path, keys: tuple[str, str], dim: int, block_rows: int, error: Error = InputError
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row-paired blocks of a ``(2, N, d)`` ``.npy``."""
    x, y = npy_layouts(path, True, error)
    yield from iter_npy((x, y), block_rows, error)


# ---- .npz --------------------------------------------------------------------------------


def _npz_member(zf: zipfile.ZipFile, key: str, path: Path, error: Error) -> str:
    names = [n for n in zf.namelist() if n.endswith(".npy")]
    if not names:
        raise error(no_arrays(path, ".npz"))
    if f"{key}.npy" not in names:
        raise error(no_key(path, key, [n[:-4] for n in names], hint=KEY_HINT))
    return f"{key}.npy"


def _parse_npy_header(f: Any, where: Any, error: Error) -> tuple[tuple[int, ...], bool, np.dtype]:
    shape, fortran, dtype, _ = read_npy_header(f, where=where, error=error)
    return shape, fortran, dtype


def _npz_side(zf: zipfile.ZipFile, member: str, path: Path, error: Error) -> Side:
    with zf.open(member) as f:
        shape, fortran, dtype = _parse_npy_header(f, f"{path}: array {member[:-4]!r}", error)
    _check_dtype(dtype, path, error)
    if len(shape) != 2:
        raise error(f"{path}: array {member[:-4]!r} must be 2-D (N, d), got shape {shape}")
    if fortran and shape[0] > 1 and shape[1] > 1:
        raise error(f"{path}: array {member[:-4]!r} is Fortran-ordered; rows must be contiguous")
    return int(shape[0]), int(shape[1]), dtype, path


def npz_header(path: Path, keys: tuple[str, str], error: Error = InputError) -> list[Side]:
    """Both sides of an ``.npz`` with row-paired ``keys`` arrays (an ``image_index`` is refused)."""
    with open_zip(path, error=error) as zf:
        if "image_index.npy" in zf.namelist():
            raise error(
                f"{path}: has an image_index (several captions per image); "
                "gaplab.scale needs row-paired shards"
            )
        return [_npz_side(zf, _npz_member(zf, k, path, error), path, error) for k in keys]


def npz_blocks(
    path: Path, keys: tuple[str, str], dim: int, block_rows: int, error: Error = InputError
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row-paired blocks of the ``keys`` members of an ``.npz``, streamed from the archive."""
    with zipfile.ZipFile(path) as zf:
        opened: list[IO[bytes]] = []
        members: list[tuple[IO[bytes], int, int, np.dtype]] = []
        try:
            for k in keys:
                f = zf.open(f"{k}.npy")
                opened.append(f)
                shape, _, dtype = _parse_npy_header(f, f"{path}: array {k!r}", error)
                members.append((f, int(shape[0]), int(shape[1]), dtype))
            (fx, n, d, tx), (fy, _, _, ty) = members
            for lo in range(0, n, block_rows):
                rows = min(block_rows, n - lo)
                out = []
                for f, t in ((fx, tx), (fy, ty)):
                    want = rows * d * t.itemsize
                    buf = f.read(want)
                    if len(buf) != want:
                        raise error(f"{path}: truncated member: short read at row {lo}")
                    out.append(np.frombuffer(buf, dtype=t).reshape(rows, d))
                yield out[0], out[1]
        finally:
            for f in opened:
                f.close()


# ---- .parquet ----------------------------------------------------------------------------


def _open_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading .parquet needs pyarrow (pip install 'gaplab[io]')") from None
    return pq.ParquetFile(path)


def _parquet_dim(pf: Any, key: str, path: Path, error: Error) -> tuple[int, np.dtype]:
    """The width d and dtype of a Parquet list column.

    A fixed-size list gives d from its type, else d is the first row's length (every row is
    checked as it is read); non-float value types read as float32.
    """
    import pyarrow as pa

    t = pf.schema_arrow.field(key).type
    width = check_list_type(t, where=path, key=key, error=error)
    value = t.value_type
    dtype = np.dtype(value.to_pandas_dtype()) if pa.types.is_floating(value) else np.dtype("float32")
    if width is not None:
        return width, dtype
    if pf.metadata.num_rows == 0:
        return 0, dtype
    batch = next(pf.iter_batches(batch_size=1, columns=[key]))
    return int(list_column_to_array(batch.column(0), where=path, key=key, error=error).shape[1]), dtype


def parquet_header(path: Path, keys: tuple[str, str], error: Error = InputError) -> list[Side]:
    """Both sides of a Parquet file with one list column per modality."""
    pf = _open_parquet(path)
    cols = pf.schema_arrow.names
    for k in keys:
        if k not in cols:
            raise error(no_key(path, k, cols, hint=KEY_HINT))
    n = int(pf.metadata.num_rows)
    return [(n, *_parquet_dim(pf, k, path, error), path) for k in keys]


def parquet_blocks(
    path: Path, keys: tuple[str, str], dim: int, block_rows: int, error: Error = InputError
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Record batches as row-paired blocks; every row's length is checked against ``dim``."""
    pf = _open_parquet(path)
    lo = 0
    for batch in pf.iter_batches(batch_size=block_rows, columns=list(keys)):
        x, y = (
            list_column_to_array(batch.column(k), where=path, key=k, dim=dim, row_offset=lo, error=error)
            for k in keys
        )
        lo += batch.num_rows
        yield x, y
