"""Shard sources: find paired embedding shards on disk and read them block by block.

Three layouts are recognised (:func:`discover_shards`):

* **clip-retrieval**: a directory with ``img_emb/img_emb_{k}.npy`` and
  ``text_emb/text_emb_{k}.npy`` (optional ``metadata/metadata_{k}.parquet``, not read);
  shard ``k`` pairs row i of the image file with row i of the text file.
* **pair shards**: a directory of ``.npz`` files (``image``/``text`` arrays), ``.parquet``
  files (``image``/``text`` list columns) or ``.npy`` files of shape (2, N, d).
* **a glob** (``"dump/part-*.npz"``, ``"dump/img_emb/*.npy"``) matching either of the above.

Reading never loads a shard: ``.npy`` data is read with positioned reads (``os.pread``) of
``block_rows`` rows at a time, ``.npz`` members are streamed, parquet is read in record
batches. float16 stays float16 until :func:`~gaplab.metrics.functional._stats.accumulate`
upcasts a block to float64, so memory is a few blocks per worker whatever the dump's size.

Every problem is a :class:`BadShardError` whose message starts with the offending file.
"""

from __future__ import annotations

import glob as _glob
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._errors import InputError
from ..io._formats import (
    check_list_type,
    list_column_to_array,
    not_valid,
    open_npy,
    open_zip,
    read_npy_header,
)

__all__ = ["Shard", "ShardHeader", "BadShardError", "discover_shards", "read_header", "iter_blocks"]

_CLIP_IMG = re.compile(r"^img_emb_(\d+)\.npy$")
_CLIP_TXT = re.compile(r"^text_emb_(\d+)\.npy$")
_PAIR_SUFFIXES = (".npz", ".parquet", ".npy")
_KIND_SUFFIX = {"clip-retrieval": ".npy", "npy": ".npy", "npz": ".npz", "parquet": ".parquet"}


class BadShardError(InputError):
    """One shard is unusable (shape, d, corrupt file, missing partner, NaN); names its file."""


@dataclass(frozen=True)
class Shard:
    """One paired shard: ``image`` and ``text`` files (the same file for single-file shards).

    ``name`` is the shard's path relative to the source (what reports and errors show),
    ``kind`` is ``"clip-retrieval"``, ``"npz"``, ``"parquet"`` or ``"npy"``. A shard found
    without its partner carries the reason in ``problem``.
    """

    name: str
    kind: str
    image: Path
    text: Path
    metadata: Path | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ShardHeader:
    """What a shard's headers say: rows, dimension and on-disk dtype (nothing else is read)."""

    n: int
    dim: int
    dtype: str


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p))]


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def discover_shards(
    source: str | os.PathLike[str] | list[str | os.PathLike[str]],
) -> list[Shard]:
    """The shards of a clip-retrieval directory, a directory of pair files, or a glob.

    Shards come in natural order (``img_emb_2`` before ``img_emb_10``). An image shard
    without its text shard (or the reverse) is returned with ``problem`` set, so the caller
    can stop or skip it; nothing else is opened here. Paths are made absolute, so the
    shards can be handed to workers of a remote Dask cluster that see the same filesystem.

    Raises
    ------
    InputError
        When the source does not exist or holds no shards.

    Examples
    --------
    >>> import tempfile, numpy as np, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for k in (0, 1):
    ...     _ = np.savez(d / f"part-{k}.npz", image=np.ones((3, 4)), text=np.ones((3, 4)))
    >>> [s.name for s in discover_shards(d)]
    ['part-0.npz', 'part-1.npz']
    """
    if isinstance(source, (list, tuple)):
        files = [Path(s).absolute() for s in source]
        root = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path(".")
        return _from_files(files, root, str(source))
    src = str(source)
    p = Path(src).absolute()  # workers of a remote cluster do not share our working directory
    if p.is_dir():
        if (p / "img_emb").is_dir() or (p / "text_emb").is_dir():
            return _clip_retrieval(p)
        files = sorted(
            (f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _PAIR_SUFFIXES),
            key=_natural_key,
        )
        if not files:
            raise InputError(
                f"{p}: no shards found: expected img_emb/ and text_emb/ (clip-retrieval) or "
                f"pair files ({', '.join(_PAIR_SUFFIXES)})"
            )
        return _from_files(files, p, src)
    if _has_magic(src):
        files = sorted((Path(f).absolute() for f in _glob.glob(src) if Path(f).is_file()), key=_natural_key)
        if not files:
            raise InputError(f"{src}: the glob matches no files")
        root = Path(os.path.commonpath([str(f.parent) for f in files]))
        return _from_files(files, root, src)
    if p.is_file():
        return _from_files([p], p.parent, src)
    raise InputError(f"{src}: no such file, directory or glob match")


def _clip_retrieval(root: Path) -> list[Shard]:
    def index(sub: str, pattern: re.Pattern[str]) -> dict[int, Path]:
        d = root / sub
        found: dict[int, Path] = {}
        if d.is_dir():
            for f in d.iterdir():
                m = pattern.match(f.name)
                if m:
                    found[int(m.group(1))] = f
        return found

    imgs, txts = index("img_emb", _CLIP_IMG), index("text_emb", _CLIP_TXT)
    if not imgs and not txts:
        raise InputError(f"{root}: img_emb/ and text_emb/ hold no img_emb_K.npy / text_emb_K.npy files")
    shards = []
    for k in sorted(set(imgs) | set(txts)):
        img = imgs.get(k, root / "img_emb" / f"img_emb_{k}.npy")
        txt = txts.get(k, root / "text_emb" / f"text_emb_{k}.npy")
        meta = root / "metadata" / f"metadata_{k}.parquet"
        problem = None
        if k not in txts:
            problem = f"{txt}: missing text shard for image shard {img}"
        elif k not in imgs:
            problem = f"{img}: missing image shard for text shard {txt}"
        shards.append(
            Shard(
                name=str(img.relative_to(root)) if k in imgs else str(txt.relative_to(root)),
                kind="clip-retrieval",
                image=img,
                text=txt,
                metadata=meta if meta.is_file() else None,
                problem=problem,
            )
        )
    return shards


def _from_files(files: list[Path], root: Path, src: str) -> list[Shard]:
    imgs = [f for f in files if _CLIP_IMG.match(f.name)]
    txts = [f for f in files if _CLIP_TXT.match(f.name)]
    if imgs or txts:  # a glob over img_emb/*.npy (or text_emb/*.npy): find the partners
        roots = {f.parent.parent for f in imgs + txts}
        out: list[Shard] = []
        for r in sorted(roots, key=_natural_key):
            keep = {f.name for f in imgs + txts if f.parent.parent == r}
            for s in _clip_retrieval(r):
                if s.image.name in keep or s.text.name in keep:
                    out.append(s)
        return out
    out = []
    for f in files:
        suffix = f.suffix.lower()
        if suffix not in _PAIR_SUFFIXES:
            raise InputError(f"{src}: {f} is not a shard file (expected {', '.join(_PAIR_SUFFIXES)})")
        try:
            name = str(f.relative_to(root))
        except ValueError:
            name = str(f)
        out.append(Shard(name=name, kind=suffix[1:], image=f, text=f))
    return out


# ---- readers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _NpyLayout:
    """Where a C-ordered (…, N, d) array sits in a file: rows are contiguous from ``offset``."""

    path: Path
    offset: int  # byte offset of row 0 of this modality
    n: int
    dim: int
    dtype: np.dtype


def _parse_npy_header(f: Any, where: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    shape, fortran, dtype, _ = read_npy_header(f, where=where, error=BadShardError)
    return shape, fortran, dtype


def _check_dtype(dtype: np.dtype, where: Path) -> None:
    if dtype.kind != "f" or dtype.hasobject:
        raise BadShardError(f"{where}: embeddings must be float16/32/64, got dtype {dtype}")


def _npy_layouts(path: Path, kind: str) -> list[_NpyLayout]:
    """Layouts of the modalities of a .npy file: one (N, d) array, or (2, N, d) pairs."""
    shape, fortran, dtype, start = open_npy(path, error=BadShardError)  # also checks the size
    _check_dtype(dtype, path)
    want = (2,) if kind == "npy" else ()
    if len(shape) != len(want) + 2 or shape[: len(want)] != want:
        expected = "(2, N, d)" if kind == "npy" else "(N, d)"
        raise BadShardError(f"{path}: expected an array of shape {expected}, got {shape}")
    if fortran and int(np.prod(shape[:-1])) > 1 and shape[-1] > 1:
        raise BadShardError(f"{path}: array is Fortran-ordered; rows must be contiguous (C order)")
    n, d = int(shape[-2]), int(shape[-1])
    per = n * d * dtype.itemsize
    count = 2 if kind == "npy" else 1
    return [_NpyLayout(path, start + i * per, n, d, dtype) for i in range(count)]


def _npz_member(zf: zipfile.ZipFile, key: str, path: Path) -> str:
    names = [n for n in zf.namelist() if n.endswith(".npy")]
    if not names:
        raise BadShardError(f"{path}: holds no arrays (an empty .npz file); expected image and text embeddings")
    member = f"{key}.npy"
    if member not in names:
        keys = ", ".join(n[:-4] for n in names) or "(none)"
        raise BadShardError(f"{path}: no array {key!r}; arrays: {keys} (choose with --image-key/--text-key)")
    return member


def _npz_header(zf: zipfile.ZipFile, member: str, path: Path) -> tuple[int, int, np.dtype]:
    with zf.open(member) as f:
        shape, fortran, dtype = _parse_npy_header(f, f"{path}: array {member[:-4]!r}")
    _check_dtype(dtype, path)
    if len(shape) != 2:
        raise BadShardError(f"{path}: array {member[:-4]!r} must be 2-D (N, d), got shape {shape}")
    if fortran and shape[0] > 1 and shape[1] > 1:
        raise BadShardError(f"{path}: array {member[:-4]!r} is Fortran-ordered; rows must be contiguous")
    return int(shape[0]), int(shape[1]), dtype


def _parquet_dim(pf: Any, key: str, path: Path) -> tuple[int, np.dtype]:
    """The width d and dtype of a Parquet list column.

    A fixed-size list gives d from its type, else d is the first row's length (every row is
    checked as it is read); non-float value types read as float32.
    """
    import pyarrow as pa

    t = pf.schema_arrow.field(key).type
    width = check_list_type(t, where=path, key=key, error=BadShardError)
    value = t.value_type
    dtype = np.dtype(value.to_pandas_dtype()) if pa.types.is_floating(value) else np.dtype("float32")
    if width is not None:
        return width, dtype
    if pf.metadata.num_rows == 0:
        return 0, dtype
    batch = next(pf.iter_batches(batch_size=1, columns=[key]))
    return int(list_column_to_array(batch.column(0), where=path, key=key, error=BadShardError).shape[1]), dtype


def _open_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading .parquet needs pyarrow (pip install 'gaplab[io]')") from None
    return pq.ParquetFile(path)


def read_header(shard: Shard, *, image_key: str = "image", text_key: str = "text") -> ShardHeader:
    """Rows, dimension and dtype of a shard from its headers, after checking both sides agree.

    Raises :class:`BadShardError` (naming the file) for a missing partner, an unreadable,
    corrupt or truncated file, non-float data, or image/text sides that differ in rows or d.
    """
    if shard.problem:
        raise BadShardError(shard.problem)
    for f in {shard.image, shard.text}:
        if not f.is_file():
            raise BadShardError(f"{f}: no such file")
    try:
        if shard.kind in ("clip-retrieval", "npy"):
            if shard.kind == "npy":
                x, y = _npy_layouts(shard.image, "npy")
            else:
                (x,), (y,) = _npy_layouts(shard.image, "clip"), _npy_layouts(shard.text, "clip")
            sides = [(x.n, x.dim, x.dtype, x.path), (y.n, y.dim, y.dtype, y.path)]
        elif shard.kind == "npz":
            with open_zip(shard.image, error=BadShardError) as zf:
                if "image_index.npy" in zf.namelist():
                    raise BadShardError(
                        f"{shard.image}: has an image_index (several captions per image); "
                        "gaplab.scale needs row-paired shards"
                    )
                sides = [
                    (*_npz_header(zf, _npz_member(zf, k, shard.image), shard.image), shard.image)
                    for k in (image_key, text_key)
                ]
        elif shard.kind == "parquet":
            pf = _open_parquet(shard.image)
            cols = pf.schema_arrow.names
            for k in (image_key, text_key):
                if k not in cols:
                    raise BadShardError(
                        f"{shard.image}: no column {k!r}; columns: {', '.join(cols)} "
                        "(choose with --image-key/--text-key)"
                    )
            n = int(pf.metadata.num_rows)
            sides = [(n, *_parquet_dim(pf, k, shard.image), shard.image) for k in (image_key, text_key)]
        else:  # pragma: no cover - discover_shards only makes the kinds above
            raise BadShardError(f"{shard.image}: unknown shard kind {shard.kind!r}")
    except InputError:
        raise
    except Exception as e:  # corrupt zip, bad parquet footer, ...
        raise BadShardError(not_valid(shard.image, _KIND_SUFFIX.get(shard.kind, ""), e)) from None
    (nx, dx, tx, px), (ny, dy, _, py) = sides
    if nx != ny:
        where = f"{px} and {py}" if px != py else str(px)
        raise BadShardError(f"{where}: image and text differ in rows: {nx} image rows vs {ny} text rows")
    if dx != dy:
        where = f"{px} and {py}" if px != py else str(px)
        raise BadShardError(f"{where}: image and text differ in d: {dx} vs {dy}")
    return ShardHeader(n=nx, dim=dx, dtype=str(tx))


def _pread_rows(fd: int, layout: _NpyLayout, lo: int, hi: int, buf: bytearray) -> np.ndarray:
    """Rows [lo, hi) read into ``buf`` (reused from call to call: no fresh pages per chunk)."""
    row = layout.dim * layout.dtype.itemsize
    want = (hi - lo) * row
    view = memoryview(buf)[:want]
    got = os.preadv(fd, [view], layout.offset + lo * row)
    if got != want:  # the file shrank since its header was checked
        raise BadShardError(f"{layout.path}: truncated .npy: short read at row {lo}")
    return np.frombuffer(view, dtype=layout.dtype).reshape(hi - lo, layout.dim)


def _iter_npy(layouts: tuple[_NpyLayout, _NpyLayout], block_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
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
            yield _pread_rows(fds[x.path], x, lo, hi, bx), _pread_rows(fds[y.path], y, lo, hi, by)
    finally:
        for fd in fds.values():
            os.close(fd)


def _iter_npz(path: Path, keys: tuple[str, str], block_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    with zipfile.ZipFile(path) as zf:
        opened: list[IO[bytes]] = []
        members: list[tuple[IO[bytes], int, int, np.dtype]] = []
        try:
            for k in keys:
                f = zf.open(f"{k}.npy")
                opened.append(f)
                shape, _, dtype = _parse_npy_header(f, f"{path}: array {k!r}")
                members.append((f, int(shape[0]), int(shape[1]), dtype))
            (fx, n, d, tx), (fy, _, _, ty) = members
            for lo in range(0, n, block_rows):
                rows = min(block_rows, n - lo)
                out = []
                for f, t in ((fx, tx), (fy, ty)):
                    want = rows * d * t.itemsize
                    buf = f.read(want)
                    if len(buf) != want:
                        raise BadShardError(f"{path}: truncated member: short read at row {lo}")
                    out.append(np.frombuffer(buf, dtype=t).reshape(rows, d))
                yield out[0], out[1]
        finally:
            for f in opened:
                f.close()


def _iter_parquet(path: Path, keys: tuple[str, str], dim: int, block_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Record batches as row-paired blocks; every row's length is checked against ``dim``."""
    pf = _open_parquet(path)
    lo = 0
    for batch in pf.iter_batches(batch_size=block_rows, columns=list(keys)):
        x, y = (
            list_column_to_array(batch.column(k), where=path, key=k, dim=dim, row_offset=lo, error=BadShardError)
            for k in keys
        )
        lo += batch.num_rows
        yield x, y


def iter_blocks(
    shard: Shard,
    header: ShardHeader,
    *,
    block_rows: int,
    image_key: str = "image",
    text_key: str = "text",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row-paired ``(image, text)`` blocks of at most ``block_rows`` rows, in the file's dtype.

    Blocks may be views of buffers reused by the next block: copy what you keep.
    """
    try:
        if shard.kind == "npy":
            x, y = _npy_layouts(shard.image, "npy")  # always two: image then text
            yield from _iter_npy((x, y), block_rows)
        elif shard.kind == "clip-retrieval":
            (x,), (y,) = _npy_layouts(shard.image, "clip"), _npy_layouts(shard.text, "clip")
            yield from _iter_npy((x, y), block_rows)
        elif shard.kind == "npz":
            yield from _iter_npz(shard.image, (image_key, text_key), block_rows)
        else:
            yield from _iter_parquet(shard.image, (image_key, text_key), header.dim, block_rows)
    except InputError:
        raise
    except Exception as e:
        raise BadShardError(not_valid(shard.image, _KIND_SUFFIX.get(shard.kind, ""), e)) from None
