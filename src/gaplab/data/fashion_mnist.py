"""Image–caption pairs from Fashion-MNIST, read offline from IDX files.

Debian's ``dataset-fashion-mnist`` package puts the four files under
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``); any
folder holding the same files (gzipped or not) works through ``path=`` or the
``GAPLAB_FASHION_MNIST`` environment variable.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import InputError
from ._dataset import PairedDataset, check_split, register_dataset, subsample
from .captions import FASHION_TEMPLATES, make_captions

__all__ = [
    "FASHION_CLASSES",
    "DEFAULT_FASHION_MNIST_PATH",
    "fashion_mnist_path",
    "read_idx",
    "load_fashion_mnist_pairs",
]

DEFAULT_FASHION_MNIST_PATH = Path("/usr/share/datasets/fashion-mnist")

#: class names in label order, worded for captions ("a photo of a pullover.")
FASHION_CLASSES: list[str] = [
    "t-shirt", "pair of trousers", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES: dict[int, type[np.generic] | str] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX file (MNIST's format, optionally gzipped) as a numpy array.

    Layout: two zero bytes, a type byte (0x08 = uint8, ...), a byte giving the number of
    dimensions, one big-endian uint32 per dimension, then the data.
    """
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise InputError(f"{p}: cannot read IDX file ({type(e).__name__}: {e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InputError(f"{p}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(
            f"{p}: IDX header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes of data (truncated download?)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def fashion_mnist_path(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The folder holding the Fashion-MNIST files, or ``None`` when none is found.

    Tries ``path``, else ``$GAPLAB_FASHION_MNIST``, else Debian's location; returns
    ``None`` when none of them has the files.
    """
    candidates = [path] if path is not None else [os.environ.get("GAPLAB_FASHION_MNIST"), DEFAULT_FASHION_MNIST_PATH]
    for c in candidates:
        if c and _find(Path(c), _FILES["test"][0]) is not None:
            return Path(c)
    return None


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    files = []
    for stem in _FILES[split]:
        f = _find(folder, stem)
        if f is None:
            raise InputError(f"Fashion-MNIST: {folder} has no {stem}(.gz)")
        files.append(f)
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise InputError(
            f"Fashion-MNIST: {split} images {images.shape} and labels {labels.shape} do not match"
        )
    return images, labels.astype(np.int64)


@register_dataset("fashion-mnist")
def load_fashion_mnist_pairs(
    *,
    split: str = "train",
    path: str | os.PathLike[str] | None = None,
    captions_per_image: int = 1,
    templates: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> PairedDataset:
    """Fashion-MNIST as image–caption pairs ("a photo of a sandal.").

    Parameters
    ----------
    split : {"train", "test", "all"}
        The official 60,000 / 10,000 split, or both.
    path : path, optional
        Folder with the IDX files (default: ``$GAPLAB_FASHION_MNIST`` or
        ``/usr/share/datasets/fashion-mnist``).
    captions_per_image, templates, limit, seed
        As in :func:`~gaplab.data.load_digits_pairs` (default templates:
        :data:`~gaplab.data.captions.FASHION_TEMPLATES`). ``seed`` picks the ``limit`` subset
        and the templates.

    Returns
    -------
    PairedDataset
        ``images`` float32 (N, 28, 28) in [0, 1], ``labels`` 0–9.

    Raises
    ------
    InputError
        The files are not there (the message says how to install them) or are corrupt.
    """
    check_split(split, "load_fashion_mnist_pairs")
    folder = fashion_mnist_path(path)
    if folder is None:
        where = path if path is not None else DEFAULT_FASHION_MNIST_PATH
        raise InputError(
            f"Fashion-MNIST not found in {where}: install it offline with "
            "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass path= / set "
            "GAPLAB_FASHION_MNIST to a folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
        )
    parts = ["train", "test"] if split == "all" else [split]
    arrays = [_read_split(folder, s) for s in parts]
    ids = np.concatenate([[f"fashion-mnist/{s}/{i:05d}" for i in range(a[1].size)] for s, a in zip(parts, arrays, strict=True)])
    raw_images = np.concatenate([a[0] for a in arrays]) if len(arrays) > 1 else arrays[0][0]
    labels = np.concatenate([a[1] for a in arrays])
    if labels.size and (labels.min() < 0 or labels.max() >= len(FASHION_CLASSES)):
        raise InputError(f"Fashion-MNIST: labels outside 0..9 in {folder}")
    idx = subsample(labels.size, limit, seed, "load_fashion_mnist_pairs")
    templates = tuple(FASHION_TEMPLATES if templates is None else templates)
    captions, image_index = make_captions(
        labels[idx], FASHION_CLASSES, templates=templates, captions_per_image=captions_per_image, seed=seed
    )
    return PairedDataset(
        name="fashion-mnist",
        images=raw_images[idx].astype(np.float32) / 255.0,
        labels=labels[idx],
        class_names=list(FASHION_CLASSES),
        captions=captions,
        image_index=image_index,
        ids=ids[idx],
        split=split,
        meta={"seed": seed, "path": str(folder), "templates": list(templates), "limit": limit},
    )
