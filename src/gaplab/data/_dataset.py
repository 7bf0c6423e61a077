"""The paired dataset every loader returns, the dataset registry, and seeded splits.

Pure numpy: importing this module never loads torch or PIL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._registry import Registry
from .._split import seeded_split

__all__ = ["PairedDataset", "split_indices", "SPLITS", "DATASETS", "register_dataset"]

#: accepted ``split=`` values of every built-in loader
SPLITS = ("train", "test", "all")


@dataclass
class PairedDataset:
    """Image–caption pairs: N images, K >= N captions, caption k describes ``image_index[k]``.

    Attributes
    ----------
    name : str
        Dataset name (``"digits"``, ``"fashion-mnist"``, ``"folder"``, ...).
    images : ndarray or list of Path
        float32 pixels in [0, 1], shape (N, H, W) for grey or (N, C, H, W) for colour; or,
        for a user's folder, the N image files (decoded when encoded, so images of different
        sizes stay possible).
    labels : ndarray of int64, shape (N,), or None
        Class of each image (``None`` when the data has no classes).
    class_names : list of str
        ``class_names[c]`` names class c (empty when there are no classes).
    captions : list of str
        The K captions, image-major: all captions of image 0, then image 1, ...
    image_index : ndarray of int64, shape (K,)
        Caption k describes image ``image_index[k]``.
    ids : ndarray of str, shape (N,)
        A stable id per image (``"digits/train/00017"``, a file name, ...).
    split : str
        ``"train"``, ``"test"`` or ``"all"``.
    meta : dict
        Loader settings (seed, templates, source path, ...), for provenance.
    """

    name: str
    images: Any
    labels: np.ndarray | None
    class_names: list[str]
    captions: list[str]
    image_index: np.ndarray
    ids: np.ndarray
    split: str = "all"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_images(self) -> int:
        return len(self.ids)

    @property
    def n_captions(self) -> int:
        return len(self.captions)

    @property
    def caption_labels(self) -> np.ndarray | None:
        """Class of each caption (the class of the image it describes)."""
        return None if self.labels is None else self.labels[self.image_index]

    @property
    def image_paths(self) -> list[Path] | None:
        """The image files of a folder dataset, else ``None``."""
        if isinstance(self.images, np.ndarray):
            return None
        return list(self.images)

    def first_captions(self) -> np.ndarray:
        """Index of the first caption of every image (one caption per image, for 1:1 pairs)."""
        first = np.full(self.n_images, -1, dtype=np.int64)
        ks = np.arange(self.n_captions)[::-1]
        first[self.image_index[::-1]] = ks
        return first

    def pair_arrays(self) -> tuple[Any, list[str], np.ndarray | None]:
        """One row per caption, for training on (image, caption) pairs.

        Returns ``(images[image_index], captions, caption_labels)``.

        >>> from gaplab.data import load_digits_pairs
        >>> x, t, y = load_digits_pairs(split="test", limit=3, captions_per_image=2).pair_arrays()
        >>> x.shape, len(t), y.shape
        ((6, 8, 8), 6, (6,))
        """
        if isinstance(self.images, np.ndarray):
            images: Any = self.images[self.image_index]
        else:
            images = [self.images[i] for i in self.image_index]
        return images, list(self.captions), self.caption_labels

    def subset(self, indices: Sequence[int] | np.ndarray, *, split: str | None = None) -> PairedDataset:
        """The images at ``indices`` (in that order) with their captions, re-indexed."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.n_images)):
            raise InputError(
                f"{self.name}: subset indices must be 1-D in [0, {self.n_images}), got shape {idx.shape}"
            )
        new_pos = np.full(self.n_images, -1, dtype=np.int64)
        new_pos[idx] = np.arange(idx.size)
        # keep captions grouped by the new image order (image-major)
        keep = np.flatnonzero(new_pos[self.image_index] >= 0)
        keep = keep[np.argsort(new_pos[self.image_index[keep]], kind="stable")]
        if isinstance(self.images, np.ndarray):
            images: Any = self.images[idx]
        else:
            images = [self.images[i] for i in idx]
        return replace(
            self,
            images=images,
            labels=None if self.labels is None else self.labels[idx],
            captions=[self.captions[k] for k in keep],
            image_index=new_pos[self.image_index[keep]],
            ids=self.ids[idx],
            split=self.split if split is None else split,
            meta=dict(self.meta),
        )

    def train_test_split(self, *, test_size: float = 0.25, seed: int = 0) -> tuple[PairedDataset, PairedDataset]:
        """Seeded split of the images (stratified by label when there are labels)."""
        train, test = split_indices(self.n_images, test_size=test_size, seed=seed, labels=self.labels)
        return self.subset(train, split="train"), self.subset(test, split="test")

    def __repr__(self) -> str:
        shape = self.images.shape if isinstance(self.images, np.ndarray) else f"{len(self.images)} files"
        return (
            f"PairedDataset(name={self.name!r}, split={self.split!r}, images={shape}, "
            f"captions={self.n_captions}, classes={len(self.class_names)})"
        )


def split_indices(
    n: int, *, test_size: float = 0.25, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices of ``n`` items, deterministic in ``seed``.

    With ``labels`` the split is stratified: each class gives ``round(test_size * n_c)``
    items (at least one when the class has two or more) to the test side.

    >>> tr, te = split_indices(8, test_size=0.25, seed=0)
    >>> len(tr), len(te), sorted([*tr, *te]) == list(range(8))
    (6, 2, True)
    """
    test, train = seeded_split(n, float(test_size), seed, where="split", name="test_size", labels=labels)
    return train, test


def check_split(split: str, where: str) -> str:
    if split not in SPLITS:
        raise InputError(f"{where}: split must be one of {', '.join(SPLITS)}; got {split!r}")
    return split


def subsample(n: int, limit: int | None, seed: int, where: str) -> np.ndarray:
    """Sorted indices of a seeded subset of ``limit`` of ``n`` items (all when ``limit`` is None)."""
    if limit is None or limit >= n:
        return np.arange(n)
    if int(limit) < 1:
        raise InputError(f"{where}: limit must be a positive number of images, got {limit}")
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, size=int(limit), replace=False))


#: name → loader(**kwargs) -> PairedDataset
DATASETS: Registry[Callable[..., PairedDataset]] = Registry("dataset")


def register_dataset(name: str) -> Callable[[Callable[..., PairedDataset]], Callable[..., PairedDataset]]:
    """Decorator: ``@register_dataset("mad")`` makes ``create_dataset("mad", ...)`` call the loader."""
    return DATASETS.register(name)
