"""Low-level decoders shared by :mod:`gaplab.io.readers` and :mod:`gaplab.scale.sources`.

One place, one wording: the ``.npy`` header check, the parquet list-column decoder (with
its per-row length check) and the text of "this file is not valid". Each takes the error
class to raise (``InputError`` for :func:`gaplab.load_pairs`, ``BadShardError`` for shards),
so both callers say the same thing.

Nothing here ever suggests loading a file unsafely (the pickle-enabling flags of numpy and torch):
a reason copied from numpy, torch or pyarrow that does is replaced by a neutral one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError

#: serialises .npy header parsing across threads (see read_npy_header)
_HEADER_LOCK = threading.Lock()

__all__ = [
    "not_valid",
    "no_key",
    "no_arrays",
    "KEY_HINT",
    "reason_of",
    "read_npy_header",
    "open_npy",
    "open_zip",
    "as_path",
    "check_list_type",
    "list_column_to_array",
    "bf16_bits_to_float32",
]

NPY_MAGIC = b"\x93NUMPY"

#: advice we never repeat: each loads arbitrary code from an untrusted file
_UNSAFE = ("allow_pickle", "weights_only", "pickle", "arbitrary code", "trust")


def reason_of(e: BaseException) -> str:
    """A short, safe reason: ``Type: first sentence`` of an exception from a third-party reader."""
    text = str(e).strip()
    text = text.splitlines()[0].strip() if text else ""
    for stop in (". ", " This is an internal"):  # torch/pyarrow append paragraphs of advice
        if stop in text:
            text = text[: text.index(stop)]
    if any(u in text for u in _UNSAFE):
        text = "the file is not a plain array file"
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


NOT_A_ZIP = "not a zip archive, or a truncated one"


def open_zip(path: Path, suffix: str = ".npz", *, error: type[InputError] = InputError) -> Any:
    """``zipfile.ZipFile(path)``, or ``error`` saying the file is not a valid ``suffix`` file."""
    import zipfile

    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise error(not_valid(path, suffix, NOT_A_ZIP)) from None
    except OSError as e:
        raise error(f"{path}: cannot open ({e.strerror or e})") from None
    except Exception as e:  # a damaged directory: "zip file version 17.8", bad sizes, ...
        raise error(not_valid(path, suffix, e)) from None


def not_valid(where: Any, suffix: str, reason: str | BaseException) -> str:
    """``"<where>: not a valid .npy file (<reason>)"``: the one wording for unreadable files."""
    why = reason_of(reason) if isinstance(reason, BaseException) else reason
    return f"{where}: not a valid {suffix} file ({why})"


#: what a "no key" message adds where the key came from ``--image-key``/``--text-key``
KEY_HINT = " (choose with --image-key/--text-key)"


def no_key(where: Any, key: str, keys: Iterable[str], *, hint: str = "") -> str:
    """``"<where>: no key 'x'; keys: a, b"``: the one wording for a missing array, column or entry.

    >>> no_key("p.npz", "text", ["image", "caption"], hint=KEY_HINT)
    "p.npz: no key 'text'; keys: image, caption (choose with --image-key/--text-key)"
    """
    return f"{where}: no key {key!r}; keys: {', '.join(k for k in keys if k) or '(none)'}{hint}"


def no_arrays(where: Any, suffix: str) -> str:
    """``"<where>: holds no arrays (an empty .npz file); …"``: a file with nothing in it."""
    return f"{where}: holds no arrays (an empty {suffix} file); expected image and text embeddings"


# ---- .npy --------------------------------------------------------------------------------


def read_npy_header(
    f: Any,
    *,
    where: Any,
    size: int | None = None,
    error: type[InputError] = InputError,
) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, data_offset)`` of the ``.npy`` stream ``f`` at its start.

    Checks the magic string, the header, that the dtype is not a Python object (gaplab never
    unpickles) and, when ``size`` (bytes in the file) is given, that the data is all there.
    ``data_offset`` is relative to where ``f`` was when called.
    """
    fmt = np.lib.format
    start = f.tell() if hasattr(f, "tell") else 0
    head = f.read(8)
    if len(head) < 8 or head[:6] != NPY_MAGIC:
        shown = head[:6] if head else b""
        raise error(not_valid(where, ".npy", f"no NumPy header: the file starts with {shown!r}, not {NPY_MAGIC!r}"))
    version = (head[6], head[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise error(not_valid(where, ".npy", f"unsupported format version {version[0]}.{version[1]}"))
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    try:
        # numpy parses the header with ast.literal_eval, which CPython 3.11 does not make
        # thread-safe ("SystemError: AST constructor recursion depth mismatch" when shard
        # threads read headers at once): one header at a time
        with _HEADER_LOCK:
            shape, fortran, dtype = read(f)
    except Exception as e:
        raise error(not_valid(where, ".npy", f"corrupt header: {reason_of(e)}")) from None
    if dtype.hasobject:
        raise error(not_valid(where, ".npy", f"it holds Python objects (dtype {dtype}), not a numeric array"))
    offset = (f.tell() if hasattr(f, "tell") else 0) - start
    if size is not None:
        need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size < need:
            raise error(
                f"{where}: truncated .npy: header promises {shape} {dtype} ({need} bytes), file has {size}"
            )
    return tuple(int(s) for s in shape), bool(fortran), dtype, offset


def open_npy(path: Path, *, error: type[InputError] = InputError) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """:func:`read_npy_header` of a file on disk, with its size checked."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            return read_npy_header(f, where=path, size=size, error=error)
    except OSError as e:
        raise error(f"{path}: cannot open ({e.strerror or e})") from None


# ---- bfloat16 ----------------------------------------------------------------------------


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values given as their raw ``uint16`` bits, as float32 (exact).

    A bfloat16 is the high half of a float32, so the bits are shifted into the high half of
    a uint32 in place: one float32 output, no float64 or full-size temporaries.
    """
    bits = np.asarray(bits)
    if bits.dtype.itemsize == 2 and bits.dtype != np.uint16:
        bits = bits.view(np.uint16)  # int16 bits (from torch) would sign-extend
    out = np.empty(bits.shape, dtype=np.float32)
    view = out.view(np.uint32)
    np.copyto(view, bits, casting="unsafe")
    np.left_shift(view, 16, out=view)
    return out


# ---- parquet list columns ----------------------------------------------------------------


def _is_list(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def check_list_type(t: Any, *, where: Any, key: str, error: type[InputError] = InputError) -> int | None:
    """Check an Arrow type is a list of numbers; returns the width of a fixed-size list, else None."""
    import pyarrow as pa

    value = t.value_type if _is_list(t) else None
    if value is None or not (pa.types.is_floating(value) or pa.types.is_integer(value)):
        raise error(
            f"{where}: column {key!r} is not a list-of-floats embedding column ({t}); "
            "expected one list of d numbers per row"
        )
    return int(t.list_size) if pa.types.is_fixed_size_list(t) else None


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def list_column_to_array(
    col: Any,
    *,
    where: Any,
    key: str,
    dim: int | None = None,
    row_offset: int = 0,
    error: type[InputError] = InputError,
) -> np.ndarray:
    """An Arrow list column (``Array`` or ``ChunkedArray``) of embeddings as an (N, d) array.

    Every row must be non-null, hold ``dim`` values (default: as many as the column's first
    row; a caller reading a file batch by batch passes the length of the file's row 0) and
    no null value. Lengths are read off the list offsets, so the check costs O(N)
    integers, not a pass over the values. The values keep their dtype (float16 stays
    float16); the array is a zero-copy view where Arrow allows it. ``row_offset`` is added
    to row numbers in messages (for callers that read a file batch by batch).

    Raises ``error`` naming ``where``, the column and the first bad row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    check_list_type(col.type, where=where, key=key, error=error)
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    parts: list[np.ndarray] = []
    first = 0 if dim is not None else row_offset  # the row whose length sets d, for messages
    offset = row_offset
    for arr in chunks:
        n = len(arr)
        if n == 0:
            continue
        if arr.null_count:
            row = offset + _first(arr.is_null().to_numpy(zero_copy_only=False))
            raise error(f"{where}: column {key!r} row {row} is null; every row needs an embedding")
        if pa.types.is_fixed_size_list(arr.type):
            lengths = np.full(n, arr.type.list_size, dtype=np.int64)
        else:
            lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        if dim is None:
            dim = int(lengths[0])
        bad = lengths != dim
        if bad.any():
            i = _first(bad)
            raise error(
                f"{where}: column {key!r} has rows of different lengths: row {offset + i} has "
                f"{int(lengths[i])} values, row {first} has {dim}"
            )
        flat = arr.flatten()
        if flat.null_count:
            j = _first(flat.is_null().to_numpy(zero_copy_only=False))
            raise error(f"{where}: column {key!r} row {offset + j // max(dim, 1)} holds a null value")
        parts.append(flat.to_numpy(zero_copy_only=False).reshape(n, dim))
        offset += n
    if not parts:
        return np.empty((0, dim or 0), dtype=col.type.value_type.to_pandas_dtype())
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def as_path(value: Any, *, what: str) -> Path:
    """``value`` as a :class:`~pathlib.Path`, or an InputError saying a path was expected."""
    if isinstance(value, (str, os.PathLike)):
        try:
            return Path(value)
        except TypeError:  # an os.PathLike whose __fspath__ gives bytes
            pass
    got = type(value).__name__
    if isinstance(value, (int, float, bytes)) and len(repr(value)) <= 40:
        got = f"{got} {value!r}"
    hint = "; to measure arrays in memory call gaplab.measure(x, y)" if hasattr(value, "shape") or isinstance(
        value, (list, tuple)
    ) else ""
    raise InputError(f"{what} must be a file path (str or os.PathLike), got {got}{hint}")
