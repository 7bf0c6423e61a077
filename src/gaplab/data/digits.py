"""Image–caption pairs from scikit-learn's handwritten digits (1,797 images, 8×8, offline)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._dataset import PairedDataset, check_split, register_dataset, split_indices, subsample
from .captions import DIGIT_TEMPLATES, make_captions

__all__ = ["DIGIT_NAMES", "load_digits_pairs"]

DIGIT_NAMES: list[str] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@register_dataset("digits")
def load_digits_pairs(
    *,
    split: str = "train",
    test_size: float = 0.25,
    captions_per_image: int = 1,
    templates: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> PairedDataset:
    """The scikit-learn digits as image–caption pairs ("a handwritten seven.").

    Parameters
    ----------
    split : {"train", "test", "all"}
        Side of a stratified split of the 1,797 images, seeded by ``seed``.
    test_size : float
        Fraction of each class in the test split.
    captions_per_image : int
        Distinct templates drawn per image (``1 .. len(templates)``).
    templates : sequence of str, optional
        Caption templates (default :data:`~gaplab.data.captions.DIGIT_TEMPLATES`).
    limit : int, optional
        Keep a seeded random subset of at most this many images of the split.
    seed : int
        Seeds the split, the subset and the template draw: same seed, same dataset.

    Returns
    -------
    PairedDataset
        ``images`` float32 (N, 8, 8) in [0, 1]; ``labels`` 0–9; class names "zero" … "nine".

    Examples
    --------
    >>> ds = load_digits_pairs(split="test", captions_per_image=2, seed=0)
    >>> ds.images.shape[1:], ds.n_captions == 2 * ds.n_images, ds.class_names[3]
    ((8, 8), True, 'three')
    """
    from sklearn.datasets import load_digits

    check_split(split, "load_digits_pairs")
    raw = load_digits()
    images = (raw.images / 16.0).astype(np.float32)
    labels = raw.target.astype(np.int64)
    idx = np.arange(labels.size)
    if split != "all":
        train, test = split_indices(labels.size, test_size=test_size, seed=seed, labels=labels)
        idx = train if split == "train" else test
    idx = idx[subsample(idx.size, limit, seed, "load_digits_pairs")]
    templates = tuple(DIGIT_TEMPLATES if templates is None else templates)
    captions, image_index = make_captions(
        labels[idx], DIGIT_NAMES, templates=templates, captions_per_image=captions_per_image, seed=seed
    )
    return PairedDataset(
        name="digits",
        images=images[idx],
        labels=labels[idx],
        class_names=list(DIGIT_NAMES),
        captions=captions,
        image_index=image_index,
        ids=np.array([f"digits/{i:04d}" for i in idx]),
        split=split,
        meta={"seed": seed, "test_size": test_size, "templates": list(templates), "limit": limit},
    )
