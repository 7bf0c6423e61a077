"""Shard sources: find paired embedding shards on disk and read them block by block.

Three layouts are recognised (:func:`discover_shards`):

* **clip-retrieval**: a directory with ``img_emb/img_emb_{k}.npy`` and
  ``text_emb/text_emb_{k}.npy`` (``k`` zero-padded or not) and optional
  ``metadata/metadata_{k}.parquet`` (captions, urls, keys: :func:`read_metadata`, never read
  by the metrics); shard ``k`` pairs row i of the image file with row i of the text file.
* **pair shards**: a directory of ``.npz`` files (``image``/``text`` arrays), ``.parquet``
  files (``image``/``text`` list columns) or ``.npy`` files of shape (2, N, d).
* **a glob** (``"dump/part-*.npz"``, ``"dump/img_emb/*.npy"``) matching either of the above.

Which suffixes are pair shards, and how each is read, is :data:`gaplab.io.readers.FORMATS`
(the readers themselves are :mod:`gaplab.io.blocks`): reading never loads a shard, ``.npy``
data is read with positioned reads of ``block_rows`` rows at a time, ``.npz`` members are
streamed, parquet is read in record batches. float16 stays float16 until
:func:`~gaplab.metrics.functional._stats.accumulate` upcasts a block to float64, so memory
is a few blocks per worker whatever the dump's size.

Every problem is a :class:`BadShardError` whose message starts with the offending file.
"""

from __future__ import annotations

import glob as _glob
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ..io._formats import not_valid
from ..io.blocks import iter_npy, npy_layouts
from ..io.readers import FORMATS, METADATA_COLUMNS, SHARD_SUFFIXES, FileFormat, read_metadata_file

__all__ = ["Shard", "ShardHeader", "BadShardError", "discover_shards", "read_header", "iter_blocks",
           "read_metadata"]

_CLIP_IMG = re.compile(r"^img_emb_(\d+)\.npy$")
_CLIP_TXT = re.compile(r"^text_emb_(\d+)\.npy$")
_CLIP_META = re.compile(r"^metadata_(\d+)\.parquet$")


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
            (f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SHARD_SUFFIXES),
            key=_natural_key,
        )
        if not files:
            raise InputError(
                f"{p}: no shards found: expected img_emb/ and text_emb/ (clip-retrieval) or "
                f"pair files ({', '.join(SHARD_SUFFIXES)})"
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
    metas = index("metadata", _CLIP_META)  # clip-retrieval zero-pads K: metadata_0003.parquet
    if not imgs and not txts:
        raise InputError(f"{root}: img_emb/ and text_emb/ hold no img_emb_K.npy / text_emb_K.npy files")
    shards = []
    for k in sorted(set(imgs) | set(txts)):
        img = imgs.get(k, root / "img_emb" / f"img_emb_{k}.npy")
        txt = txts.get(k, root / "text_emb" / f"text_emb_{k}.npy")
        meta = metas.get(k)
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
                metadata=meta if meta is not None and meta.is_file() else None,
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
        if suffix not in SHARD_SUFFIXES:
            raise InputError(f"{src}: {f} is not a shard file (expected {', '.join(SHARD_SUFFIXES)})")
        try:
            name = str(f.relative_to(root))
        except ValueError:
            name = str(f)
        out.append(Shard(name=name, kind=FORMATS[suffix].kind, image=f, text=f))
    return out


def _clip_layouts(shard: Shard) -> tuple[Any, Any]:
    """The image and text ``.npy`` layouts of a clip-retrieval shard (one file per modality)."""
    (x,), (y,) = npy_layouts(shard.image, False, BadShardError), npy_layouts(shard.text, False, BadShardError)
    return x, y


#: shard kind → its row of the format table (clip-retrieval shards are pairs of .npy files)
_SHARD_FORMATS = {FORMATS[s].kind: FORMATS[s] for s in SHARD_SUFFIXES}


def _format_of(shard: Shard) -> FileFormat:
    fmt = _SHARD_FORMATS.get("npy" if shard.kind == "clip-retrieval" else shard.kind)
    if fmt is None:  # pragma: no cover - discover_shards only makes the kinds above
        raise BadShardError(f"{shard.image}: unknown shard kind {shard.kind!r}")
    return fmt


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
        if shard.kind == "clip-retrieval":
            sides = [(lay.n, lay.dim, lay.dtype, lay.path) for lay in _clip_layouts(shard)]
        else:
            header = _format_of(shard).header
            assert header is not None  # a shard format streams
            sides = header(shard.image, (image_key, text_key), BadShardError)
    except InputError:
        raise
    except Exception as e:  # corrupt zip, bad parquet footer, ...
        raise BadShardError(not_valid(shard.image, _format_of(shard).suffix, e)) from None
    (nx, dx, tx, px), (ny, dy, _, py) = sides
    if nx != ny:
        where = f"{px} and {py}" if px != py else str(px)
        raise BadShardError(f"{where}: image and text differ in rows: {nx} image rows vs {ny} text rows")
    if dx != dy:
        where = f"{px} and {py}" if px != py else str(px)
        raise BadShardError(f"{where}: image and text differ in d: {dx} vs {dy}")
    return ShardHeader(n=nx, dim=dx, dtype=str(tx))


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
        if shard.kind == "clip-retrieval":
            yield from iter_npy(_clip_layouts(shard), block_rows, BadShardError)
        else:
            blocks = _format_of(shard).blocks
            assert blocks is not None  # a shard format streams
            yield from blocks(shard.image, (image_key, text_key), header.dim, block_rows, BadShardError)
    except InputError:
        raise
    except Exception as e:
        raise BadShardError(not_valid(shard.image, _format_of(shard).suffix, e)) from None


def read_metadata(
    shard: Shard,
    header: ShardHeader | None = None,
    *,
    columns: Sequence[str] | None = METADATA_COLUMNS,
) -> dict[str, list[Any]] | None:
    """The captions, urls and keys of a clip-retrieval shard (its ``metadata_K.parquet``), or ``None``.

    ``None`` when the shard has no metadata file (pair shards never do). With ``header``
    (:func:`read_header`) a metadata file whose rows do not match the shard's is a
    :class:`BadShardError` naming it. Only the ``columns`` present are returned
    (default :data:`gaplab.io.METADATA_COLUMNS`; ``None``: all). Needs pyarrow.
    For a whole dump aligned with its pairs use :func:`gaplab.io.load_metadata`.
    """
    if shard.metadata is None:
        return None
    try:
        return read_metadata_file(shard.metadata, columns=columns, n_rows=None if header is None else header.n)
    except BadShardError:
        raise
    except InputError as e:
        raise BadShardError(str(e)) from None
