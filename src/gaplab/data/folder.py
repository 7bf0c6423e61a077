"""A user's own pairs: a folder of images plus a CSV or JSONL file of captions.

The caption file has one row per caption; an image may have several. Columns (CSV header
or JSONL keys):

* ``image`` (or ``file``, ``filename``, ``id``): the image's file name in the folder, with
  or without its extension;
* ``caption`` (or ``text``);
* optional ``label``: a class name, which makes zero-shot evaluation possible.

Every caption must name an image in the folder and every image must have a caption; a
mismatch is an :class:`~gaplab.InputError` listing the first offenders.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from ._dataset import PairedDataset, register_dataset
from .images import list_images, open_image

__all__ = ["read_captions_file", "load_image_folder"]

_IMAGE_KEYS = ("image", "file", "filename", "file_name", "id", "image_id", "path")
_CAPTION_KEYS = ("caption", "text", "sentence")
_LABEL_KEYS = ("label", "class", "class_name")


def _pick(keys: list[str], options: tuple[str, ...]) -> str | None:
    lower = {k.strip().lower(): k for k in keys}
    for o in options:
        if o in lower:
            return lower[o]
    return None


def read_captions_file(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows ``{"image": ..., "caption": ..., ["label": ...]}`` of a ``.csv``/``.tsv``/``.jsonl`` file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such caption file")
    suffix = p.suffix.lower()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read caption file ({type(e).__name__}: {e})") from None
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{p}:{n}: not a JSON object per line ({e.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{n}: each line must be a JSON object, got {type(obj).__name__}")
            rows.append({str(k): v for k, v in obj.items()})
    elif suffix in (".csv", ".tsv", ".txt"):
        delimiter = "\t" if suffix == ".tsv" else ","
        rows = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    else:
        raise InputError(f"{p}: caption file must be .csv, .tsv or .jsonl, got {suffix!r}")
    if not rows:
        raise InputError(f"{p}: caption file has no rows")
    keys = list(rows[0].keys())
    ik, ck, lk = _pick(keys, _IMAGE_KEYS), _pick(keys, _CAPTION_KEYS), _pick(keys, _LABEL_KEYS)
    if ik is None or ck is None:
        raise InputError(
            f"{p}: needs an image column ({'/'.join(_IMAGE_KEYS[:3])}) and a caption column "
            f"({'/'.join(_CAPTION_KEYS[:2])}); found {', '.join(map(str, keys))}"
        )
    out = []
    for n, r in enumerate(rows, 1):
        image, caption = r.get(ik), r.get(ck)
        if image in (None, "") or caption is None or str(caption).strip() == "":
            raise InputError(f"{p}: row {n} has an empty {ik!r} or {ck!r}")
        row = {"image": str(image).strip(), "caption": str(caption)}
        if lk is not None and r.get(lk) not in (None, ""):
            row["label"] = str(r[lk])
        out.append(row)
    return out


def _first(items: list[str], n: int = 3) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


@register_dataset("folder")
def load_image_folder(
    images: str | os.PathLike[str],
    captions: str | os.PathLike[str],
    *,
    verify: bool = True,
) -> PairedDataset:
    """A folder of images and a caption file as a :class:`PairedDataset`.

    Parameters
    ----------
    images : path
        Folder whose image files (png, jpg, bmp, gif, tiff, webp, ppm) are the images; sorted
        by name. Sub-folders are ignored.
    captions : path
        ``.csv``/``.tsv``/``.jsonl`` with ``image`` and ``caption`` columns (see module doc).
    verify : bool
        Decode every image now, so a broken file fails before any encoding starts.

    Returns
    -------
    PairedDataset
        ``images`` is the list of files (decoded when encoded); ``ids`` are the file names;
        ``labels``/``class_names`` come from a ``label`` column when every row has one.
    """
    folder = Path(images)
    if not folder.exists():
        raise InputError(f"{folder}: no such image folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: is not a folder (give --images a directory of image files)")
    files = list_images(folder)
    if not files:
        raise InputError(f"{folder}: folder has no image files (looked for .png, .jpg, .jpeg, .bmp, .gif, .tif, .webp, .ppm)")
    rows = read_captions_file(captions)
    by_name = {f.name: i for i, f in enumerate(files)}
    by_stem: dict[str, int] = {}
    for i, f in enumerate(files):
        by_stem.setdefault(f.stem, i)
    image_index: list[int] = []
    unknown: list[str] = []
    for r in rows:
        key = r["image"]
        key = Path(key).name if ("/" in key or "\\" in key) else key
        hit = by_name.get(key, by_stem.get(key))
        if hit is None:
            unknown.append(r["image"])
        image_index.append(-1 if hit is None else hit)
    if unknown:
        raise InputError(
            f"{captions}: {len(unknown)} caption(s) name images that are not in {folder}: {_first(unknown)}"
        )
    idx = np.asarray(image_index, dtype=np.int64)
    missing = np.flatnonzero(np.bincount(idx, minlength=len(files)) == 0)
    if missing.size:
        raise InputError(
            f"{captions}: {missing.size} image(s) in {folder} have no caption: "
            f"{_first([files[i].name for i in missing])}"
        )
    if verify:
        for f in files:
            open_image(f)
    order = np.argsort(idx, kind="stable")  # image-major caption order
    idx = idx[order]
    rows = [rows[k] for k in order]
    labels, class_names = None, []
    if all("label" in r for r in rows):
        per_image: dict[int, str] = {}
        for r, i in zip(rows, idx.tolist(), strict=True):
            if per_image.setdefault(i, r["label"]) != r["label"]:
                raise InputError(f"{captions}: image {files[i].name} has two labels: {per_image[i]!r} and {r['label']!r}")
        class_names = sorted(set(per_image.values()))
        pos = {c: k for k, c in enumerate(class_names)}
        labels = np.array([pos[per_image[i]] for i in range(len(files))], dtype=np.int64)
    return PairedDataset(
        name="folder",
        images=files,
        labels=labels,
        class_names=class_names,
        captions=[r["caption"] for r in rows],
        image_index=idx,
        ids=np.array([f.name for f in files]),
        split="all",
        meta={"images": str(folder), "captions": str(captions)},
    )
