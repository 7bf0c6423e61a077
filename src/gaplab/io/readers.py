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

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from .._validation import to_numpy

__all__ = ["Pairs", "load_pairs", "load_embeddings", "save_pairs", "make_example_pairs"]

FORMATS = (".npy", ".npz", ".pt", ".pth", ".safetensors", ".parquet")


@dataclass
class Pairs:
    """Paired embeddings read from disk: ``image`` (N, d), ``text`` (K, d), optional extras."""

    image: np.ndarray
    text: np.ndarray
    image_index: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _suffix(path: Path) -> str:
    s = path.suffix.lower()
    if s not in FORMATS:
        raise InputError(f"{path}: unknown file type {s!r}; readable: {', '.join(FORMATS)}")
    return s


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: file is empty")
    return p


def _read_mapping(p: Path) -> dict[str, Any]:
    """All arrays of an .npz/.pt/.safetensors/.parquet file, by key (lazily for .npz)."""
    s = _suffix(p)
    try:
        if s == ".npz":
            z = np.load(p, allow_pickle=False)
            return {k: z[k] for k in z.files}
        if s in (".pt", ".pth"):
            try:
                import torch
            except ImportError:
                raise InputError(f"{p}: reading .pt needs torch (pip install 'gaplab[torch]')") from None
            obj = torch.load(p, map_location="cpu", weights_only=True)
            if isinstance(obj, dict):
                return {str(k): v for k, v in obj.items()}
            return {"": obj}
        if s == ".safetensors":
            try:
                from safetensors.numpy import load_file
            except ImportError:
                raise InputError(f"{p}: reading .safetensors needs safetensors (pip install 'gaplab[io]')") from None
            return dict(load_file(str(p)))
        if s == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise InputError(f"{p}: reading .parquet needs pyarrow (pip install 'gaplab[io]')") from None
            table = pq.read_table(p)
            return {name: table.column(name) for name in table.column_names}
        return {"": np.load(p, mmap_mode="r", allow_pickle=False)}
    except InputError:
        raise
    except Exception as e:  # corrupt / truncated files, wrong pickles, ...
        raise InputError(f"{p}: cannot read {s} file ({type(e).__name__}: {e})") from None


def _column_to_array(col: Any, p: Path, key: str) -> np.ndarray:
    """An Arrow list column (or anything array-like) as a 2-D float array."""
    if hasattr(col, "combine_chunks"):  # pyarrow ChunkedArray of lists
        import pyarrow as pa

        arr = col.combine_chunks()
        if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
            n = len(arr)
            flat = arr.flatten().to_numpy(zero_copy_only=False)
            if n == 0 or flat.size % n:
                raise InputError(f"{p}: column {key!r} has rows of different lengths")
            return flat.reshape(n, flat.size // n)
        raise InputError(f"{p}: column {key!r} is not a list-of-floats embedding column ({arr.type})")
    return to_numpy(col)


def load_embeddings(path: str | os.PathLike[str], *, key: str | None = None) -> np.ndarray:
    """One modality's (N, d) embeddings from any supported file.

    ``key`` picks an entry of a multi-array file (default: ``embedding`` for parquet, else
    the only array in the file).
    """
    p = _check_file(path)
    m = _read_mapping(p)
    if key is None:
        key = "embedding" if "embedding" in m else (next(iter(m)) if len(m) == 1 else None)
        if key is None:
            raise InputError(f"{p}: holds several arrays ({', '.join(m)}); choose one with key=")
    if key not in m:
        raise InputError(f"{p}: no key {key!r}; keys: {', '.join(k for k in m if k) or '(none)'}")
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
        x, y, meta, idx = load_embeddings(image), load_embeddings(text), {}, None
        src = f"{image} / {text}"
    else:
        p = _check_file(path)
        m = _read_mapping(p)
        src = str(p)
        if "" in m:  # a bare array: (2, N, d)
            a = to_numpy(m[""])
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
                raise InputError(
                    f"{p}: no key {missing[0]!r}; keys: {', '.join(m)} "
                    "(choose with --image-key/--text-key)"
                )
            x = _column_to_array(m[image_key], p, image_key)
            y = _column_to_array(m[text_key], p, text_key)
            idx = to_numpy(m["image_index"]) if "image_index" in m else None
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
    a = to_numpy(v) if not hasattr(v, "to_pylist") else np.asarray(v.to_pylist())
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
    """Write a ``.npz`` pairs file atomically (temporary file, then rename)."""
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise InputError(f"save_pairs: {p} must end in .npz")
    arrays = {"image": to_numpy(image), "text": to_numpy(text)}
    if image_index is not None:
        arrays["image_index"] = to_numpy(image_index)
    arrays.update({k: np.asarray(v) for k, v in extra.items() if v is not None})
    return atomic_write(p, lambda tmp: np.savez(tmp, **arrays))


def make_example_pairs(
    path: str | os.PathLike[str], *, n: int = 2000, dim: int = 64, gap: float = 0.8, seed: int = 0
) -> Path:
    """Write a synthetic pairs file with a modality gap: two cones around different centres.

    Each pair shares a latent point z; image = z + c_img + noise, text = z + c_txt + noise,
    with ‖c_img − c_txt‖ set by ``gap``. Used by the README quickstart and the tests.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, dim))
    c = rng.normal(size=dim)
    c *= gap * np.sqrt(dim) / np.linalg.norm(c)
    x = z + c + 0.3 * rng.normal(size=(n, dim))
    y = z - c + 0.3 * rng.normal(size=(n, dim))
    labels = (z[:, 0] > 0).astype(np.int64)
    return save_pairs(path, x.astype(np.float32), y.astype(np.float32), labels=labels, model="synthetic-cones")
