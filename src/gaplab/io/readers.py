"""Read paired embeddings from the layouts published feature dumps use.

Supported:

* ``.npy`` of shape (2, N, d): index 0 = image (non-text), 1 = text (e.g. the dumps of
  Liang et al.'s ``Modality-Gap`` repository); or one (N, d) ``.npy`` per modality.
* ``.npz`` with ``image``/``text`` keys (configurable); optional ``image_index``, ``ids``,
  ``labels``, ``model`` entries are carried along.
* ``.pt`` (``torch.load(weights_only=True)``): a dict of tensors or a (2, N, d) tensor.
* ``.safetensors``: a dict of tensors.
* ``.parquet``: one list-valued column per modality (``image``/``text``) or, for a single
  modality, an ``embedding`` column.

float16 stays float16 on disk and in memory (``.npy`` is memory-mapped); metrics upcast
blockwise. Every failure is an :class:`~gaplab.InputError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from .._validation import to_numpy
from . import blocks
from ._formats import (
    KEY_HINT,
    as_path,
    bf16_bits_to_float32,
    list_column_to_array,
    no_arrays,
    no_key,
    not_valid,
    open_npy,
    open_zip,
    read_npy_header,
    reason_of,
)

__all__ = [
    "Pairs", "FileFormat", "FORMATS", "SHARD_SUFFIXES", "is_shard_source",
    "load_pairs", "load_embeddings", "save_pairs", "make_example_pairs",
    "Metadata", "METADATA_COLUMNS", "load_metadata", "read_metadata_file",
]


@dataclass
class Pairs:
    """Paired embeddings read from disk: ``image`` (N, d), ``text`` (K, d), optional extras."""

    image: np.ndarray
    text: np.ndarray
    image_index: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _format(path: Path) -> FileFormat:
    s = path.suffix.lower()
    if s not in FORMATS:
        raise InputError(f"{path}: unknown file type {s!r}; readable: {', '.join(FORMATS)}")
    return FORMATS[s]


def _check_file(path: Any, what: str = "load_pairs: path") -> Path:
    p = as_path(path, what=what)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: file is empty")
    return p


def _as_array(v: Any, what: str) -> np.ndarray:
    """``v`` (array, tensor, nested list) as a numpy array, or an InputError naming ``what``."""
    try:
        a = to_numpy(v)
    except Exception as e:  # ragged lists (numpy 2 refuses them), odd objects
        if "inhomogeneous" in str(e) or "ragged" in str(e):
            raise InputError(
                f"{what}: rows of different lengths (a ragged nested list); expected a rectangular (N, d) array"
            ) from None
        raise InputError(f"{what}: cannot be read as an array ({reason_of(e)})") from None
    if a.dtype.hasobject:
        raise InputError(f"{what}: holds Python objects (dtype object), not numbers; expected a numeric (N, d) array")
    return a


def _read_npy(p: Path) -> np.ndarray:
    open_npy(p)  # magic, header, dtype and size, in our words
    try:
        return np.load(p, mmap_mode="r", allow_pickle=False)
    except Exception as e:
        raise InputError(not_valid(p, ".npy", e)) from None


def _read_npz(p: Path) -> dict[str, Any]:
    zf = open_zip(p)
    out: dict[str, Any] = {}
    with zf:
        for name in zf.namelist():
            if not name.endswith(".npy"):
                continue  # np.savez writes only .npy members; anything else is not ours
            key = name[:-4]
            try:
                with zf.open(name) as f:
                    read_npy_header(f, where=f"{p}: array {key!r}")
                with zf.open(name) as f:
                    out[key] = np.lib.format.read_array(f, allow_pickle=False)
            except InputError:
                raise
            except Exception as e:  # bad CRC, truncated member, bad deflate stream
                raise InputError(not_valid(p, ".npz", f"array {key!r}: {reason_of(e)}")) from None
    return out


def _tensor_to_numpy(v: Any, p: Path, key: str) -> Any:
    if not (hasattr(v, "detach") and hasattr(v, "dtype") and hasattr(v, "numpy")):
        return v  # plain numbers, strings, lists: left to the caller
    t = v.detach().cpu()
    if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16: exact upcast to float32
        import torch

        return bf16_bits_to_float32(t.contiguous().view(torch.int16).numpy())
    try:
        return t.numpy()
    except Exception:
        shown = str(t.dtype).replace("torch.", "")
        raise InputError(
            f"{p}: tensor {key!r} has dtype {shown} ({t.layout}), which gaplab cannot read; "
            "expected a dense float16, bfloat16, float32 or float64 tensor"
        ) from None


def _looks_like_zip(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"PK\x03\x04" or zipfile.is_zipfile(f)
    except Exception:  # is_zipfile lets some BadZipFile through ("span multiple disks")
        return False


def _read_pt(p: Path) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        raise InputError(f"{p}: reading .pt needs torch (pip install 'gaplab[torch]')") from None
    import pickle
    import warnings

    archive = _looks_like_zip(p)  # torch.save writes a zip archive
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of odd files
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if archive:
            raise InputError(
                not_valid(p, ".pt", "it stores Python objects other than tensors, numbers and plain containers")
                + "; gaplab reads tensors only: save a dict of tensors, e.g. torch.save({'image': x, 'text': y}, path)"
            ) from None
        raise InputError(not_valid(p, ".pt", "not a file written by torch.save")) from None
    except Exception as e:
        if not archive:  # a legacy (pre-zip) torch file fails here too, but is not worth a guess
            raise InputError(not_valid(p, ".pt", "not a file written by torch.save")) from None
        raise InputError(not_valid(p, ".pt", e)) from None
    if isinstance(obj, dict):
        return {str(k): _tensor_to_numpy(v, p, str(k)) for k, v in obj.items()}
    return {"": _tensor_to_numpy(obj, p, "")}


#: safetensors dtypes numpy holds as they are (BF16 is decoded by hand)
_ST_DTYPES = ("F16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL")


def _read_safetensors(p: Path) -> dict[str, Any]:
    try:
        from safetensors import safe_open
    except ImportError:
        raise InputError(f"{p}: reading .safetensors needs safetensors (pip install 'gaplab[io]')") from None
    out: dict[str, Any] = {}
    try:
        with safe_open(str(p), framework="numpy") as f:
            for k in f.keys():
                dt = f.get_slice(k).get_dtype()
                if dt == "BF16":
                    out[k] = _bf16_tensor(p, k)
                elif dt in _ST_DTYPES:
                    out[k] = f.get_tensor(k)
                else:
                    raise InputError(
                        f"{p}: tensor {k!r} has dtype {dt}, which gaplab cannot read; "
                        "expected F16, BF16, F32 or F64"
                    )
    except InputError:
        raise
    except Exception as e:
        raise InputError(not_valid(p, ".safetensors", e)) from None
    return out


def _bf16_tensor(p: Path, key: str) -> np.ndarray:
    """A BF16 tensor of a (validated) safetensors file as float32: its raw bits, shifted."""
    with open(p, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        info = json.loads(f.read(n))[key]
    start, end = (int(v) for v in info["data_offsets"])
    shape = tuple(int(s) for s in info["shape"])
    if end <= start:
        return np.zeros(shape, dtype=np.float32)
    bits = np.memmap(p, dtype="<u2", mode="r", offset=8 + n + start, shape=((end - start) // 2,))
    return bf16_bits_to_float32(bits).reshape(shape)


def _read_parquet(p: Path) -> dict[str, Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{p}: reading .parquet needs pyarrow (pip install 'gaplab[io]')") from None
    try:
        table = pq.read_table(p)
    except Exception as e:
        raise InputError(not_valid(p, ".parquet", e)) from None
    return {name: table.column(name) for name in table.column_names}


@dataclass(frozen=True)
class FileFormat:
    """One row of the format table: how a suffix is read whole and, for pair shards, streamed.

    ``read(path)`` gives every array by key (``{"": array}`` for a bare array) for
    :func:`load_pairs`; ``header`` and ``blocks`` (:mod:`gaplab.io.blocks`) read a file of
    row-paired image/text embeddings without loading it, for :mod:`gaplab.scale`. A format
    without them cannot be a shard.
    """

    suffix: str
    kind: str
    read: Callable[[Path], dict[str, Any]]
    header: Callable[..., list[Any]] | None = None
    blocks: Callable[..., Iterator[tuple[np.ndarray, np.ndarray]]] | None = None


#: the format table: suffix → reader (and shard streamer), for load_pairs and gaplab.scale alike
FORMATS: dict[str, FileFormat] = {
    f.suffix: f
    for f in (
        FileFormat(".npy", "npy", lambda p: {"": _read_npy(p)}, blocks.npy_header, blocks.npy_blocks),
        FileFormat(".npz", "npz", _read_npz, blocks.npz_header, blocks.npz_blocks),
        FileFormat(".pt", "pt", _read_pt),
        FileFormat(".pth", "pt", _read_pt),
        FileFormat(".safetensors", "safetensors", _read_safetensors),
        FileFormat(".parquet", "parquet", _read_parquet, blocks.parquet_header, blocks.parquet_blocks),
    )
}

#: suffixes a pair shard may have (formats that stream)
SHARD_SUFFIXES = tuple(s for s, f in FORMATS.items() if f.blocks is not None)


def is_shard_source(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names shards (:func:`gaplab.scale.measure_shards`) rather than one pairs file.

    A directory, or a glob pattern (``*``, ``?``, ``[``) that is not itself an existing file.

    >>> is_shard_source("dump/part-*.npz"), is_shard_source("pairs.npz")
    (True, False)
    """
    p = Path(path)
    if p.is_dir():
        return True
    return not p.exists() and any(c in str(p) for c in "*?[")


def _read_mapping(p: Path) -> dict[str, Any]:
    """All arrays of a file by key (``{"": array}`` for a bare array: .npy, a bare tensor)."""
    fmt = _format(p)
    m = fmt.read(p)
    if not m:
        raise InputError(no_arrays(p, fmt.suffix))
    return m


def _column_to_array(col: Any, p: Path, key: str) -> np.ndarray:
    """An Arrow list column (or anything array-like) as an array; Arrow rows are length-checked."""
    if hasattr(col, "combine_chunks"):  # a pyarrow ChunkedArray: one list of d numbers per row
        return list_column_to_array(col, where=p, key=key)
    return _as_array(col, f"{p}: {key!r}" if key else str(p))


def load_embeddings(path: str | os.PathLike[str], *, key: str | None = None) -> np.ndarray:
    """One modality's (N, d) embeddings from any supported file.

    ``key`` picks an entry of a multi-array file (default: ``embedding`` for parquet, else
    the only array in the file).
    """
    return _load_one(path, key, "load_embeddings: path")


def _load_one(path: Any, key: str | None, what: str) -> np.ndarray:
    p = _check_file(path, what)
    m = _read_mapping(p)
    if key is None:
        key = "embedding" if "embedding" in m else (next(iter(m)) if len(m) == 1 else None)
        if key is None:
            raise InputError(f"{p}: holds several arrays ({', '.join(m)}); choose one with key=")
    if key not in m:
        raise InputError(no_key(p, key, m))
    return _column_to_array(m[key], p, key)


def load_pairs(
    path: str | os.PathLike[str] | None = None,
    *,
    image: str | os.PathLike[str] | None = None,
    text: str | os.PathLike[str] | None = None,
    image_key: str = "image",
    text_key: str = "text",
) -> Pairs:
    """Paired embeddings from one file (``path``) or one file per modality (``image``, ``text``).

    Shapes are checked here (2-D, same d, same N unless the file carries ``image_index``);
    values (NaN/inf, zero rows) are checked by the metrics, blockwise.
    """
    if path is not None and (image is not None or text is not None):
        raise InputError("load_pairs: give either one pairs file or image= and text=, not both")
    if path is None:
        if image is None or text is None:
            raise InputError("load_pairs: give a pairs file, or both image= and text= files")
        x = _load_one(image, None, "load_pairs: image")
        y = _load_one(text, None, "load_pairs: text")
        meta: dict[str, Any] = {}
        idx: np.ndarray | None = None
        src = f"{image} / {text}"
    else:
        p = _check_file(path, "load_pairs: path")
        m = _read_mapping(p)
        src = str(p)
        if "" in m:  # a bare array: (2, N, d)
            a = _as_array(m[""], str(p))
            if a.ndim != 3 or a.shape[0] != 2:
                raise InputError(
                    f"{p}: a single-array pairs file must have shape (2, N, d) "
                    f"(index 0 = image, 1 = text), got {a.shape}; for one modality per file use "
                    "--image A --text B"
                )
            x, y, meta, idx = a[0], a[1], {}, None
        else:
            missing = [k for k in (image_key, text_key) if k not in m]
            if missing:
                raise InputError(no_key(p, missing[0], m, hint=KEY_HINT))
            x = _column_to_array(m[image_key], p, image_key)
            y = _column_to_array(m[text_key], p, text_key)
            idx = _as_array(m["image_index"], f"{p}: 'image_index'") if "image_index" in m else None
            meta = {k: _meta_value(v) for k, v in m.items() if k not in (image_key, text_key, "image_index")}
    for name, a in (("image", x), ("text", y)):
        if a.ndim != 2:
            raise InputError(f"{src}: {name} embeddings must be 2-D (N, d), got shape {a.shape}")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"{src}: image and text differ in d: {x.shape} vs {y.shape}")
    if idx is None and x.shape[0] != y.shape[0]:
        raise InputError(f"{src}: image and text differ in N: {x.shape} vs {y.shape}")
    return Pairs(image=x, text=y, image_index=idx, meta=meta)


def _meta_value(v: Any) -> Any:
    """An extra entry as a numpy array (a scalar as itself); ragged ones stay Python lists."""
    try:
        a = np.asarray(v.to_pylist()) if hasattr(v, "to_pylist") else to_numpy(v)
    except Exception:  # a ragged list column, or a value numpy cannot hold
        return v.to_pylist() if hasattr(v, "to_pylist") else v
    if a.ndim == 0:
        return a.item()
    return a


def save_pairs(
    path: str | os.PathLike[str],
    image: Any,
    text: Any,
    *,
    image_index: Any = None,
    **extra: Any,
) -> Path:
    """Write a ``.npz`` pairs file atomically (temporary file, then rename).

    Every entry must be a rectangular array of numbers or strings: a ragged list or an
    object array raises :class:`~gaplab.InputError` (``load_pairs`` never unpickles, so it
    could not read such a file back).
    """
    p = as_path(path, what="save_pairs: path")
    if p.suffix.lower() != ".npz":
        raise InputError(f"save_pairs: {p} must end in .npz")
    arrays = {"image": _as_array(image, "save_pairs: image"), "text": _as_array(text, "save_pairs: text")}
    if image_index is not None:
        arrays["image_index"] = _as_array(image_index, "save_pairs: image_index")
    arrays.update({k: _as_array(v, f"save_pairs: {k}") for k, v in extra.items() if v is not None})
    # allow_pickle=False is savez's behaviour here anyway (object arrays were refused above);
    # naming it types the call: an extra entry can no longer be taken for that argument
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to "x.NPZ"
            np.savez(f, allow_pickle=False, **arrays)

    return atomic_write(p, write)


def make_example_pairs(
    path: str | os.PathLike[str], *, n: int = 2000, dim: int = 64, gap: float = 0.8, seed: int = 0
) -> Path:
    """Write a synthetic pairs file with a modality gap: two cones around different centres.

    Each pair shares a latent point z; image = z + c_img + noise, text = z + c_txt + noise,
    with ‖c_img − c_txt‖ set by ``gap``. Used by the README quickstart and the tests.
    """
    for name, v, low in (("n", n, 2), ("dim", dim, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise InputError(f"make_example_pairs: {name} must be an integer >= {low}, got {v!r}")
    if not (isinstance(gap, (int, float)) and np.isfinite(gap) and gap >= 0):
        raise InputError(f"make_example_pairs: gap must be a finite number >= 0, got {gap!r}")
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, dim))
    c = rng.normal(size=dim)
    c *= gap * np.sqrt(dim) / np.linalg.norm(c)
    x = z + c + 0.3 * rng.normal(size=(n, dim))
    y = z - c + 0.3 * rng.normal(size=(n, dim))
    labels = (z[:, 0] > 0).astype(np.int64)
    return save_pairs(path, x.astype(np.float32), y.astype(np.float32), labels=labels, model="synthetic-cones")


#: the clip-retrieval metadata columns :func:`load_metadata` keeps by default (those present)
METADATA_COLUMNS = ("key", "caption", "url", "image_path")

_METADATA_FILE = re.compile(r"^metadata_(\d+)\.parquet$")
_IMG_EMB_FILE = re.compile(r"^img_emb_(\d+)\.npy$")
_TEXT_EMB_FILE = re.compile(r"^text_emb_(\d+)\.npy$")


@dataclass
class Metadata:
    """A small table of per-pair metadata (captions, urls, keys), row i = pair i of the dump.

    ``columns`` maps a column name to one value per row (``None`` where the file has none);
    ``shards`` names the metadata file of each run of rows, in order, with its row count.
    """

    columns: dict[str, list[Any]]
    shards: list[tuple[str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def row(self, i: int) -> dict[str, Any]:
        """The metadata of pair ``i`` as a dict (column → value)."""
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise InputError(f"Metadata.row: row {i!r} out of range for {n} rows")
        return {k: v[int(i)] for k, v in self.columns.items()}

    def describe(self, i: int, *, width: int = 60) -> str:
        """A short label of pair ``i`` for reports and warnings: ``#i key=… "caption…" url``.

        >>> Metadata({"key": ["000"], "caption": ["a dog"], "url": ["http://x/1.jpg"]}).describe(0)
        '#0 key=000 "a dog" <http://x/1.jpg>'
        """
        r = self.row(i)
        parts = [f"#{int(i)}"]
        if r.get("key") is not None:
            parts.append(f"key={r['key']}")
        cap = r.get("caption")
        if cap is not None:
            cap = str(cap).replace("\n", " ")
            parts.append('"' + (cap if len(cap) <= width else cap[: width - 1] + "…") + '"')
        src = r.get("url") if r.get("url") is not None else r.get("image_path")
        if src is not None:
            parts.append(f"<{src}>")
        return " ".join(parts)


def read_metadata_file(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = METADATA_COLUMNS,
    n_rows: int | None = None,
) -> dict[str, list[Any]]:
    """The chosen columns of one clip-retrieval ``metadata_K.parquet`` as lists (those present).

    ``columns=None`` reads every column. With ``n_rows`` (the rows of the shard's embedding
    files) a file of another length is an :class:`~gaplab.InputError`: its rows would not line
    up with the pairs. Needs pyarrow (the ``io`` extra).
    """
    p = _check_file(path, "read_metadata_file: path")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{p}: reading clip-retrieval metadata needs pyarrow (pip install 'gaplab[io]')") from None
    try:
        names = pq.read_schema(p).names
        keep = list(names) if columns is None else [c for c in columns if c in names]
        table = pq.read_table(p, columns=keep)
    except Exception as e:
        raise InputError(not_valid(p, ".parquet", e)) from None
    if n_rows is not None and table.num_rows != n_rows:
        raise InputError(f"{p}: {table.num_rows} metadata rows for a shard of {n_rows} pairs; "
                         "the metadata must have one row per embedding row")
    return {c: table.column(c).to_pylist() for c in keep}


def _numbered(d: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    out: dict[int, Path] = {}
    if d.is_dir():
        for f in d.iterdir():
            m = pattern.match(f.name)
            if m and f.is_file():
                out[int(m.group(1))] = f
    return out


def load_metadata(
    dump_dir: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = METADATA_COLUMNS,
) -> Metadata:
    """Captions, urls and keys of a clip-retrieval dump, aligned with its pairs.

    ``dump_dir`` holds ``img_emb/img_emb_K.npy``, ``text_emb/text_emb_K.npy`` and
    ``metadata/metadata_K.parquet`` (K zero-padded or not, as clip-retrieval writes them).
    Shards are taken in the order :func:`gaplab.scale.discover_shards` uses (by K), so row i
    of the result describes pair i of ``gaplab measure dump_dir``. Only the ``columns``
    present are kept (default :data:`METADATA_COLUMNS`; ``None``: all). ``Metadata.shards``
    gives each file's row count, to map rows back to shards (e.g. after ``--skip-bad-shards``).

    Raises
    ------
    InputError
        When the folder has no metadata, a shard has no metadata file, or a metadata file
        has another number of rows than its embedding files.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for sub in ("img_emb", "text_emb", "metadata"):
    ...     (d / sub).mkdir()
    >>> np.save(d / "img_emb/img_emb_0.npy", np.ones((2, 4), np.float16))
    >>> np.save(d / "text_emb/text_emb_0.npy", np.ones((2, 4), np.float16))
    >>> pq.write_table(pa.table({"caption": ["a cat", "a dog"], "url": ["u0", "u1"]}), d / "metadata/metadata_0.parquet")
    >>> m = load_metadata(d)
    >>> len(m), m.columns["caption"], m.describe(1)
    (2, ['a cat', 'a dog'], '#1 "a dog" <u1>')
    """
    root = as_path(dump_dir, what="load_metadata: dump_dir")
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (expected a clip-retrieval dump with metadata/)")
    metas = _numbered(root / "metadata", _METADATA_FILE)
    if not metas:
        raise InputError(f"{root}: no metadata/metadata_K.parquet files (clip-retrieval writes them beside img_emb/ and text_emb/)")
    imgs, txts = _numbered(root / "img_emb", _IMG_EMB_FILE), _numbered(root / "text_emb", _TEXT_EMB_FILE)
    shard_ids = sorted(set(imgs) | set(txts)) or sorted(metas)
    cols: dict[str, list[Any]] = {}
    shards: list[tuple[str, int]] = []
    total = 0
    for k in shard_ids:
        emb = imgs.get(k) or txts.get(k)
        if k not in metas:
            raise InputError(f"{root / 'metadata'}: no metadata file for shard {k} "
                             f"(expected metadata_{k}.parquet beside {emb.name if emb else 'its embeddings'})")
        shape = open_npy(emb)[0] if emb is not None else None
        n = None if shape is None else (int(shape[0]) if shape else 0)
        part = read_metadata_file(metas[k], columns=columns, n_rows=n)
        rows = n if n is not None else len(next(iter(part.values()), []))
        for c in part.keys() - cols.keys():  # a column first seen here is None in earlier shards
            cols[c] = [None] * total
        for c, values in cols.items():
            values.extend(part.get(c, [None] * rows))
        total += rows
        shards.append((str(metas[k].relative_to(root)), rows))
    order = [c for c in columns if c in cols] if columns is not None else sorted(cols)
    return Metadata(columns={c: cols[c] for c in order}, shards=shards)
